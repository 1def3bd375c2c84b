"""Reassembled products on the ground: the contract's codec, and where a product sits.

Checking and decoding a product is the contract's one reference codec
(:func:`triage.contract.codec.decode_product`, which raises
:class:`~triage.contract.errors.ProductError` with the reason); this module adds
what only the ground needs: a product's own georeferencing.
"""

from __future__ import annotations

from affine import Affine


def product_transform(h: dict) -> Affine:
    """The product's own affine transform: the frame's composed with offset and scale."""
    frame = Affine.from_gdal(*h["geotransform"])
    step = h["pixel_step"]
    return frame @ Affine.translation(h["region_col0"], h["region_row0"]) @ Affine.scale(step)


def class_map_transform(h: dict) -> Affine:
    """A class map's transform: one pixel per classified unit, ``pixel_step`` wide, centred
    on the unit's centre.

    Unit ``(i, j)`` starts at frame pixel ``(i * step, j * step)`` and covers
    ``pixel_extent`` pixels. For the cells of today's firmware the extent is the step and
    the map is the product's own grid; a product whose units overlap (extent larger than
    the step, as earlier firmware's tiles) is drawn as the ``step``-wide square around
    each unit's centre, shifted by ``(extent - step) / 2`` from the product's transform.
    """
    shift = (h["pixel_extent"] - h["pixel_step"]) / 2.0
    return product_transform(h) @ Affine.translation(
        shift / h["pixel_step"], shift / h["pixel_step"]
    )
