"""The tile specification (``models/tile_spec.json``) and the integer-exact preprocessing.

This module is the Python definition of what the firmware computes from a tile
of frame memory before the classifier runs; the dataset builder, the training,
the simulator and the tests of the C version all call it. Every step is integer
arithmetic, so the C firmware reproduces it bit for bit:

1. thumbnail by area averaging with rounding, ``f = tile_px / thumb_px``:
   ``t = (sum of the f*f samples + (f*f)//2) // (f*f)``;
2. canonical scale (reflectance x 65535): ``c = min((t * gain_q8[band]) >> 8, 65535)``;
3. ``q = isqrt(c) - 128`` as int8, with ``isqrt`` the exact floor square root.

The float model's input is ``x = isqrt(c) / 255``; the int8 model's input
quantization is therefore exactly scale 1/255, zero point -128.
"""

from __future__ import annotations

import hashlib
import json
import math
from functools import cache
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from triage.contract import paths
from triage.contract.errors import InputDataError, SpecError

CANONICAL_MAX = 65535


class Band(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    sentinel2: str


class Quantization(BaseModel):
    model_config = ConfigDict(extra="allow")
    scale_num: int
    scale_den: int = Field(gt=0)
    zero_point: int
    dtype: str

    @property
    def scale(self) -> float:
        return self.scale_num / self.scale_den

    def real(self, q):
        """The real value of quantised ``q``: ``(q - zero_point) * scale`` (float64)."""
        return (np.asarray(q, dtype=np.float64) - self.zero_point) * self.scale

    def offset(self, q):
        """``q - zero_point``: the unsigned form in which the wire carries an output (a
        product's ``confidence``, 0..255 for int8)."""
        return np.asarray(q, dtype=np.int64) - self.zero_point


class TileSpec(BaseModel):
    """The validated content of ``tile_spec.json``."""

    model_config = ConfigDict(extra="allow")
    version: int
    classes: list[str]
    bands: list[Band]
    frame_layout: str
    tile_px: int = Field(gt=0)
    stride_px: int = Field(gt=0)
    thumb_px: int = Field(gt=0)
    gain_q8: dict[str, list[int]]
    default_gain_source: str
    input_quantization: Quantization
    output_quantization: Quantization

    @model_validator(mode="after")
    def _consistent(self) -> TileSpec:
        if self.tile_px % self.thumb_px:
            raise ValueError(
                f"tile_px {self.tile_px} is not a multiple of thumb_px {self.thumb_px}"
            )
        if self.stride_px > self.tile_px:
            raise ValueError("stride_px larger than tile_px would leave gaps between tiles")
        if self.default_gain_source not in self.gain_q8:
            raise ValueError(f"default_gain_source {self.default_gain_source!r} not in gain_q8")
        for src, gains in self.gain_q8.items():
            if len(gains) != len(self.bands) or not all(0 <= g <= 65535 for g in gains):
                raise ValueError(f"gain_q8[{src!r}] needs {len(self.bands)} values in 0..65535")
        if len(set(self.classes)) != len(self.classes):
            raise ValueError("duplicate class names")
        iq = self.input_quantization
        if (iq.scale_num, iq.scale_den, iq.zero_point, iq.dtype) != (1, 255, -128, "int8"):
            raise ValueError("input_quantization must be int8, scale 1/255, zero point -128")
        return self

    @property
    def factor(self) -> int:
        """Area-averaging factor from the tile to the thumbnail."""
        return self.tile_px // self.thumb_px

    @property
    def n_bands(self) -> int:
        return len(self.bands)

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def class_id(self, name: str) -> int:
        return self.classes.index(name)

    def gains(self, source: str | None = None) -> np.ndarray:
        """Per-band Q8 gains of a source (the default source when None)."""
        src = source or self.default_gain_source
        if src not in self.gain_q8:
            raise SpecError(f"no gain_q8 for source {src!r} in tile_spec.json")
        return np.asarray(self.gain_q8[src], dtype=np.uint32)


def load_tile_spec(path: Path | None = None) -> TileSpec:
    """Read and validate ``tile_spec.json`` (the shipped one by default)."""
    path = path or paths.tile_spec_path()
    try:
        return TileSpec.model_validate(json.loads(Path(path).read_text()))
    except FileNotFoundError as exc:
        raise SpecError(f"tile spec not found: {path}") from exc
    except (json.JSONDecodeError, ValidationError) as exc:
        raise SpecError(f"{path}: {exc}") from exc


@cache
def tile_spec() -> TileSpec:
    """The shipped tile spec, read once."""
    return load_tile_spec()


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@cache
def _isqrt_lut() -> np.ndarray:
    return np.array([math.isqrt(i) for i in range(CANONICAL_MAX + 1)], dtype=np.uint8)


def isqrt_u16(c: np.ndarray) -> np.ndarray:
    """Exact floor square root of integers in 0..65535 (uint8 result)."""
    c = np.asarray(c)
    if c.size and (c.min() < 0 or c.max() > CANONICAL_MAX):
        raise InputDataError("isqrt_u16: values outside 0..65535")
    return _isqrt_lut()[c.astype(np.int64)]


def tile_origins(size: int, spec: TileSpec | None = None) -> list[int]:
    """Tile origins along one axis of a frame of ``size`` pixels (see ``tiling`` in the spec)."""
    spec = spec or tile_spec()
    if size < spec.tile_px:
        return []
    origins = list(range(0, size - spec.tile_px + 1, spec.stride_px))
    if origins[-1] != size - spec.tile_px:
        origins.append(size - spec.tile_px)
    return origins


def _check_tiles(tiles: np.ndarray, spec: TileSpec) -> np.ndarray:
    if tiles.dtype not in (np.uint16, np.uint8):
        raise InputDataError(f"tiles must be uint16 or uint8, got {tiles.dtype}")
    t, c = spec.tile_px, spec.n_bands
    if tiles.shape[-3:] != (t, t, c):
        raise InputDataError(f"tiles must have shape [..., {t}, {t}, {c}], got {tiles.shape}")
    return tiles


def preprocess_pixels(
    dn: np.ndarray, gain_q8: np.ndarray | None = None, spec: TileSpec | None = None
) -> np.ndarray:
    """Steps 2 and 3 per pixel (the canonical scale and the square root), int8 ``[..., C]``
    from uint16/uint8 samples ``[..., C]``: what the firmware writes for each frame pixel
    when the network reads full-resolution pixels (the cell network; the thumbnail step is
    the identity)."""
    spec = spec or tile_spec()
    dn = np.asarray(dn)
    if dn.dtype not in (np.uint16, np.uint8, np.uint32) or dn.shape[-1:] != (spec.n_bands,):
        raise InputDataError(
            f"pixels must be uint16 or uint8 [..., {spec.n_bands}], got {dn.dtype} {dn.shape}"
        )
    gain = spec.gains() if gain_q8 is None else np.asarray(gain_q8, dtype=np.uint32)
    if gain.shape != (spec.n_bands,) or gain.max(initial=0) > 65535:
        raise InputDataError(f"gain_q8 must be {spec.n_bands} values in 0..65535")
    c = np.minimum((dn.astype(np.uint32) * gain) >> 8, CANONICAL_MAX)
    return (isqrt_u16(c).astype(np.int16) - 128).astype(np.int8)


def preprocess_tiles(
    tiles: np.ndarray, gain_q8: np.ndarray | None = None, spec: TileSpec | None = None
) -> np.ndarray:
    """Preprocess a batch of tiles ``[N, T, T, C]`` (uint16/uint8) to int8 ``[N, S, S, C]``."""
    spec = spec or tile_spec()
    tiles = _check_tiles(np.asarray(tiles), spec)
    gain = spec.gains() if gain_q8 is None else np.asarray(gain_q8, dtype=np.uint32)
    if gain.shape != (spec.n_bands,) or gain.max(initial=0) > 65535:
        raise InputDataError(f"gain_q8 must be {spec.n_bands} values in 0..65535")
    f, s = spec.factor, spec.thumb_px
    lead = tiles.shape[:-3]
    x = tiles.astype(np.uint32).reshape(*lead, s, f, s, f, spec.n_bands)
    area = f * f
    t = (x.sum(axis=(-4, -2), dtype=np.uint32) + area // 2) // area
    return preprocess_pixels(t, gain, spec)


def preprocess_tile(
    tile: np.ndarray, gain_q8: np.ndarray | None = None, spec: TileSpec | None = None
) -> np.ndarray:
    """Preprocess one tile ``[T, T, C]`` (uint16/uint8) to the int8 network input ``[S, S, C]``.

    The reference for the firmware: scalar loops, no vectorisation tricks.
    """
    spec = spec or tile_spec()
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


def frame_tiles(frame: np.ndarray, spec: TileSpec | None = None):
    """All tiles of a frame ``[H, W, C]`` in raster order: ``(origins [N,2] (y,x), tiles)``."""
    spec = spec or tile_spec()
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
