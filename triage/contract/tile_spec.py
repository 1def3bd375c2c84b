"""The tile spec (``models/tile_spec.json``): what the on-board classifier sees and decides on,
and its integer-exact preprocessing.

This module is the Python definition of what the firmware computes from frame
memory before the classifier runs; the dataset builder, the training, the
simulator and the tests of the C version all call it. Every step is integer
arithmetic, so the C firmware reproduces it bit for bit:

1. per pixel and band, once per frame pixel, the canonical scale (reflectance x
   65535): ``c = min((dn * gain_q8[band]) >> 8, 65535)``;
2. ``q = isqrt(c) - 128`` as int8, with ``isqrt`` the exact floor square root;
3. the frame is extended to multiples of ``cell_px`` rows and columns with
   ``q = -128`` (raw value 0, the input's zero point).

The classifier (a fully-convolutional network run once per pixel over the frame)
outputs one vector of class probabilities per *cell*: ``cell_px`` x ``cell_px``
squares from the frame's origin, the last row and column of cells clipped by the
frame's edge. The float model's input is ``x = isqrt(c) / 255``; the int8 model's
input quantization is therefore exactly scale 1/255, zero point -128.
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
    cell_px: int = Field(gt=0)
    gain_q8: dict[str, list[int]]
    default_gain_source: str
    input_quantization: Quantization
    output_quantization: Quantization

    @model_validator(mode="after")
    def _consistent(self) -> TileSpec:
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


def cell_count(size: int, spec: TileSpec | None = None) -> int:
    """Cells along one axis of a frame of ``size`` pixels: ``ceil(size / cell_px)``."""
    spec = spec or tile_spec()
    return -(-int(size) // spec.cell_px)


def cell_bounds(index: int, size: int, spec: TileSpec | None = None) -> tuple[int, int]:
    """``(start, end)`` pixels of cell ``index`` along an axis of ``size`` pixels (the last
    cell clipped by the frame's edge)."""
    spec = spec or tile_spec()
    if not 0 <= index < cell_count(size, spec):
        raise InputDataError(f"cell {index} of an axis of {size} px")
    start = index * spec.cell_px
    return start, min(start + spec.cell_px, size)


def extended_size(size: int, spec: TileSpec | None = None) -> int:
    """A frame axis extended to a multiple of ``cell_px`` (step 3 of the preprocessing)."""
    spec = spec or tile_spec()
    return cell_count(size, spec) * spec.cell_px


def preprocess_pixels(
    dn: np.ndarray, gain_q8: np.ndarray | None = None, spec: TileSpec | None = None
) -> np.ndarray:
    """Steps 1 and 2 per pixel (the canonical scale and the square root): int8 ``[..., C]``
    from uint16/uint8 samples ``[..., C]``, what the firmware writes for each frame pixel."""
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
    return (isqrt_u16(c).astype(np.int16) + spec.input_quantization.zero_point).astype(np.int8)


def preprocess_frame(
    frame: np.ndarray, gain_q8: np.ndarray | None = None, spec: TileSpec | None = None
) -> np.ndarray:
    """The classifier's whole input for a frame ``[H, W, C]`` (uint16/uint8): every pixel
    preprocessed, the frame extended to ``[Hp, Wp, C]`` (multiples of ``cell_px``) with the
    input zero point (steps 1 to 3)."""
    spec = spec or tile_spec()
    frame = np.asarray(frame)
    if frame.ndim != 3:
        raise InputDataError(f"frame must be [H, W, {spec.n_bands}], got shape {frame.shape}")
    h, w = frame.shape[:2]
    out = np.full(
        (extended_size(h, spec), extended_size(w, spec), spec.n_bands),
        spec.input_quantization.zero_point,
        dtype=np.int8,
    )
    out[:h, :w] = preprocess_pixels(frame, gain_q8, spec)
    return out
