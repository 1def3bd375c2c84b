"""The on-board crop geometry, in Python: what a cropped tile sends at full resolution.

A tile the policy crops contributes its *central cell*: the ``stride_px`` pixels in the
middle of the tile along each axis, ``[origin + (tile_px - stride_px) / 2, origin +
(tile_px + stride_px) / 2)``, stretched to the frame's edge for the first tile (from 0) and
the last one (to the frame size). The cells of a frame's tiles cover it without gaps, and
a point of a cell lies ``(tile_px - stride_px) / 2`` px or more inside its tile unless the
frame's edge is nearer. The cell is widened by the policy's ``crop_margin_px`` on every
side (at most ``(tile_px - stride_px) / 2``, so it stays inside the tile); the ship crops
carry the union of the widened cells of their tiles, and the other pixels of a crop's box
hold the frame's no-data value. The firmware does the same (``tri_tile_cell`` in
``mcu_firmware/app``).

A labelled ship is delivered when its box centre lies on a kept pixel.
"""

from __future__ import annotations

import numpy as np

from triage_models.tiles import TileRecipe as TileSpec
from triage_models.tiles import tile_spec


def cell_bounds(origins, size: int, spec: TileSpec | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(lo, hi)`` of the central cells of tiles at ``origins`` along an axis of ``size`` px."""
    spec = spec or tile_spec()
    o = np.asarray(origins, dtype=np.int64)
    inset = (spec.tile_px - spec.stride_px) // 2
    lo = np.where(o == 0, 0, o + inset)
    hi = np.where(o == size - spec.tile_px, size, o + inset + spec.stride_px)
    return lo, hi


def widened_cells(
    yx: np.ndarray, shape: tuple[int, int], margin: int, spec: TileSpec | None = None
) -> np.ndarray:
    """``[N, 4]`` (row0, row1, col0, col1) of the tiles' cells widened by ``margin``."""
    spec = spec or tile_spec()
    if margin > (spec.tile_px - spec.stride_px) // 2 or margin < 0:
        raise ValueError(f"crop margin {margin} outside 0..{(spec.tile_px - spec.stride_px) // 2}")
    yx = np.asarray(yx).reshape(-1, 2)
    r0, r1 = cell_bounds(yx[:, 0], shape[0], spec)
    c0, c1 = cell_bounds(yx[:, 1], shape[1], spec)
    return np.stack(
        [
            np.maximum(r0 - margin, 0),
            np.minimum(r1 + margin, shape[0]),
            np.maximum(c0 - margin, 0),
            np.minimum(c1 + margin, shape[1]),
        ],
        axis=1,
    )


def best_score_map(
    yx: np.ndarray, shape: tuple[int, int], scores: np.ndarray, margin: int
) -> np.ndarray:
    """Per frame pixel, the highest score of the tiles whose widened cell holds it (int16;
    -129 where none: only off the frame's tiles). A pixel is kept by a crop threshold
    ``t`` exactly when its value is ``>= t``."""
    out = np.full(shape, -129, np.int16)
    for (r0, r1, c0, c1), s in zip(widened_cells(yx, shape, margin), scores, strict=True):
        v = out[r0:r1, c0:c1]
        np.maximum(v, int(s), out=v)
    return out


def box_centres(boxes: np.ndarray) -> np.ndarray:
    """``[B, 2]`` (row, col) pixel indices of COCO boxes' centres (``boxes``: x, y, w, h)."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.stack(
        [np.floor(b[:, 1] + b[:, 3] / 2), np.floor(b[:, 0] + b[:, 2] / 2)], axis=1
    ).astype(np.int64)
