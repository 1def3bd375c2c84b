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


FRAME_FIELDS = ("frame_rows", "frame_cols", "crs_epsg", "geotransform", "time_s", "time_sub")
"""What every image product of a frame repeats about it: size, grid, capture time."""


def frame_mismatch(h: dict, frame: dict) -> str | None:
    """Why an image product's header contradicts the catalogued frame of its frame id (a
    product of another spacecraft, or of another frame that had the same id), or None.
    ``frame`` is a row of the catalogue's ``frames`` table."""
    diffs = []
    for name in FRAME_FIELDS:
        mine, theirs = h[name], frame[name]
        if name == "geotransform":
            mine, theirs = tuple(mine), tuple(theirs)
        if mine != theirs:
            diffs.append(f"{name} {_show(mine)} (frame {frame['frame_id']} has {_show(theirs)})")
    if not diffs:
        return None
    return f"contradicts frame {frame['frame_id']} as catalogued: " + ", ".join(diffs)


def _show(v) -> str:
    if isinstance(v, tuple):
        return "(" + ", ".join(f"{x:g}" for x in v) + ")"
    return str(v)
