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
    """A class map's transform: one pixel per tile, ``pixel_step`` (the tile stride) wide,
    centred on its tile's centre.

    Tile ``(i, j)`` starts at frame pixel ``(i * step, j * step)`` and covers
    ``pixel_extent`` (the tile size) pixels: tiles overlap when the stride is smaller
    than the tile, so no grid has one cell per tile footprint. The grid of tile centres
    is regular, so each class-map pixel is drawn as the ``step``-wide cell around its
    tile's centre, shifted by ``(extent - step) / 2`` from the product's own transform.
    (The last tile of an axis that the stride does not reach sits flush with the frame's
    far edge; its cell is then off by less than one stride.)
    """
    shift = (h["pixel_extent"] - h["pixel_step"]) / 2.0
    return product_transform(h) @ Affine.translation(
        shift / h["pixel_step"], shift / h["pixel_step"]
    )
