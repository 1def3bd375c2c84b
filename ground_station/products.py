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
