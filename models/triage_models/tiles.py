"""The tile recipe (classifier v1): overlapping 32-px tiles every 16 px, one class vector per
tile, and the second opinion (the tile classified again turned by 90, 180 and 270 degrees).

The firmware no longer runs it: it decides per 16-px cell with a streaming network (see
``models/tile_spec.json``). The recipe stays here as the baseline the cell network's
figures are compared with, and its training and leave-ports-out evaluation still run
(``triage_models.train``, ``triage_models.evaluate``). Its geometry is defined here and only
here; bands, classes, gains and quantisation come from the contract's tile spec.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import Field

from triage.contract.errors import InputDataError, SpecError
from triage.contract.policy import Policy, prob_to_min_q
from triage.contract.tile_spec import CANONICAL_MAX, TileSpec, file_sha256, preprocess_pixels
from triage.contract.tile_spec import tile_spec as contract_spec

__all__ = [
    "SECOND_OPINION_TURNS",
    "TilePolicy",
    "TileRecipe",
    "file_sha256",
    "frame_tiles",
    "preprocess_tile",
    "preprocess_tiles",
    "second_opinion",
    "tile_origins",
    "tile_spec",
    "turn",
    "turned_outputs",
]

TILE_PX = 32
STRIDE_PX = 16
THUMB_PX = 32


class TileRecipe:
    """The contract's tile spec plus the tile recipe's geometry (``tile_px``, ``stride_px``,
    ``thumb_px``, ``factor``); every other attribute is the contract's."""

    def __init__(self, spec: TileSpec) -> None:
        self._spec = spec
        self.tile_px, self.stride_px, self.thumb_px = TILE_PX, STRIDE_PX, THUMB_PX
        self.factor = TILE_PX // THUMB_PX

    def __getattr__(self, name: str):
        return getattr(self._spec, name)


def tile_spec() -> TileRecipe:
    """The tile recipe over the shipped contract spec."""
    return TileRecipe(contract_spec())


def _recipe(spec) -> TileRecipe:
    if spec is None:
        return tile_spec()
    return spec if isinstance(spec, TileRecipe) else TileRecipe(spec)


class TilePolicy(Policy):
    """The contract's policy plus the tile recipe's second opinion; a crop keeps the tile's
    central ``stride_px`` cell widened by ``crop_margin_px`` (at most to the tile's edge)."""

    crop_margin_px: int = Field(default=8, ge=0, le=255)
    second_opinion_min_prob: float | None = Field(default=None, ge=0.0, le=1.0)

    @property
    def second_opinion_min_q(self) -> int:
        return prob_to_min_q(self.second_opinion_min_prob)

    def check_margin(self, spec=None) -> int:
        most = (TILE_PX - STRIDE_PX) // 2
        if self.crop_margin_px > most:
            raise SpecError(
                f"policy crop_margin_px {self.crop_margin_px} is over (tile_px - stride_px) / 2 "
                f"= {most}"
            )
        return self.crop_margin_px


def tile_origins(size: int, spec=None) -> list[int]:
    """Tile origins along one axis of a frame of ``size`` pixels: ``0, stride, 2 stride, ...``
    while the tile fits, plus one last tile flush with the far edge; none when the frame is
    smaller than a tile."""
    spec = _recipe(spec)
    if size < spec.tile_px:
        return []
    origins = list(range(0, size - spec.tile_px + 1, spec.stride_px))
    if origins[-1] != size - spec.tile_px:
        origins.append(size - spec.tile_px)
    return origins


def _check_tiles(tiles: np.ndarray, spec: TileRecipe) -> np.ndarray:
    if tiles.dtype not in (np.uint16, np.uint8):
        raise InputDataError(f"tiles must be uint16 or uint8, got {tiles.dtype}")
    t, c = spec.tile_px, spec.n_bands
    if tiles.shape[-3:] != (t, t, c):
        raise InputDataError(f"tiles must have shape [..., {t}, {t}, {c}], got {tiles.shape}")
    return tiles


def preprocess_tiles(tiles: np.ndarray, gain_q8: np.ndarray | None = None, spec=None) -> np.ndarray:
    """Preprocess a batch of tiles ``[N, T, T, C]`` (uint16/uint8) to int8 ``[N, S, S, C]``:
    integer area averaging to the thumbnail (rounded), then the contract's per-pixel steps."""
    spec = _recipe(spec)
    tiles = _check_tiles(np.asarray(tiles), spec)
    f, s = spec.factor, spec.thumb_px
    lead = tiles.shape[:-3]
    x = tiles.astype(np.uint32).reshape(*lead, s, f, s, f, spec.n_bands)
    area = f * f
    t = (x.sum(axis=(-4, -2), dtype=np.uint32) + area // 2) // area
    return preprocess_pixels(t, gain_q8, spec._spec)


def preprocess_tile(tile: np.ndarray, gain_q8: np.ndarray | None = None, spec=None) -> np.ndarray:
    """One tile ``[T, T, C]`` to ``[S, S, C]`` int8 with scalar loops: the reference
    :func:`preprocess_tiles` is held to."""
    spec = _recipe(spec)
    tile = _check_tiles(np.asarray(tile), spec)
    if tile.ndim != 3:
        raise InputDataError(f"one tile has 3 dimensions, got shape {tile.shape}")
    gain = spec.gains() if gain_q8 is None else [int(g) for g in gain_q8]
    f, s, nb = spec.factor, spec.thumb_px, spec.n_bands
    area = f * f
    out = np.empty((s, s, nb), dtype=np.int8)
    for r in range(s):
        for col in range(s):
            for b in range(nb):
                total = 0
                for dy in range(f):
                    for dx in range(f):
                        total += int(tile[r * f + dy, col * f + dx, b])
                t = (total + area // 2) // area
                c = min((t * int(gain[b])) >> 8, CANONICAL_MAX)
                out[r, col, b] = math.isqrt(c) - 128
    return out


def frame_tiles(frame: np.ndarray, spec=None):
    """All tiles of a frame ``[H, W, C]`` in raster order: ``(origins [N,2] (y,x), tiles)``."""
    spec = _recipe(spec)
    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[2] != spec.n_bands:
        raise InputDataError(f"frame must be [H, W, {spec.n_bands}], got shape {frame.shape}")
    ys, xs = tile_origins(frame.shape[0], spec), tile_origins(frame.shape[1], spec)
    t = spec.tile_px
    origins = np.array([(y, x) for y in ys for x in xs], dtype=np.int32).reshape(-1, 2)
    tiles = np.empty((len(origins), t, t, spec.n_bands), dtype=frame.dtype)
    for i, (y, x) in enumerate(origins):
        tiles[i] = frame[y : y + t, x : x + t]
    return origins, tiles


SECOND_OPINION_TURNS = (1, 2, 3)


def turn(q_inputs: np.ndarray, quarters: int) -> np.ndarray:
    """Preprocessed tiles ``[N, S, S, C]`` turned by ``quarters`` x 90 degrees
    counterclockwise (``np.rot90`` on the pixel axes): the second opinion's views."""
    return np.ascontiguousarray(np.rot90(np.asarray(q_inputs), quarters, axes=(1, 2)))


def second_opinion(q_out: np.ndarray, q_turned: np.ndarray, policy: TilePolicy) -> np.ndarray:
    """The outputs the decision sees: where the ship output reaches the policy's
    ``second_opinion_min_prob``, the floor of the mean of the outputs on the tile and on the
    tile turned by 90, 180 and 270 degrees (``q_turned``: ``[3, N, classes]`` in the order of
    :data:`SECOND_OPINION_TURNS`), elsewhere the tile's own.

    ``q_turned`` may hold anything on the rows that are not candidates.
    """
    ship = contract_spec().class_id("ship")
    q = np.asarray(q_out).astype(np.int32)
    turned = np.asarray(q_turned).astype(np.int32)
    if turned.shape != (len(SECOND_OPINION_TURNS), *q.shape):
        raise ValueError(f"q_turned must be [{len(SECOND_OPINION_TURNS)}, N, classes]")
    cand = q[:, ship] >= policy.second_opinion_min_q
    mean = (q + turned.sum(axis=0)) // (1 + len(SECOND_OPINION_TURNS))
    return np.where(cand[:, None], mean, q).astype(np.int8)


def turned_outputs(predict, q_inputs: np.ndarray) -> np.ndarray:
    """``[3, N, classes]``: ``predict`` (int8 inputs -> int8 outputs) on every turned view."""
    return np.stack([predict(turn(q_inputs, k)) for k in SECOND_OPINION_TURNS])
