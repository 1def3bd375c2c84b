"""Input tensors for the engine's whole-model tests and benchmark.

Real tiles: 32x32 windows of the blue, green, red and near-infrared bands
(B02, B03, B04, B08) of the sen2ships port scenes, mapped to int8 with the
fixed rule q = floor(sqrt(v)) - 128 (v the uint16 value; the same mapping as
the tile spec's canonical path with gain 1). Only the inputs matter for
bit-exactness, so any fixed rule would do; this one spreads water, land and
cloud over the int8 range. Contains modified Copernicus Sentinel data
2022-2023.

Synthetic inputs cover what real tiles rarely show: constant extremes,
uniform noise, gradients and checkerboards.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from triage.contract import sen2ships
from triage.contract.tile_spec import isqrt_u16, preprocess_pixels, tile_spec

BANDS = ("B02", "B03", "B04", "B08")
TILE = 32


def to_int8(values: np.ndarray) -> np.ndarray:
    """q = floor(sqrt(v)) - 128 for uint16 v, exactly (the tile spec's integer square root)."""
    return (isqrt_u16(values).astype(np.int16) - 128).astype(np.int8)


def real_tiles(data_dir: Path, limit: int, stride: int = TILE) -> tuple[np.ndarray, list[str]]:
    """Up to ``limit`` int8 tiles [N, 32, 32, 4] taken round-robin over the ports.

    Returns the tiles and a label per tile (``port:row:col``).
    """
    per_port = []
    for port in sen2ships.ports(data_dir):
        img, _ = sen2ships.read_bands(port, list(BANDS), data_dir)
        q = to_int8(img)
        h, w = q.shape[:2]
        tiles = []
        for r in range(0, h - TILE + 1, stride):
            for c in range(0, w - TILE + 1, stride):
                tiles.append((q[r : r + TILE, c : c + TILE], f"{port}:{r}:{c}"))
        per_port.append(tiles)
    out, labels = [], []
    i = 0
    while len(out) < limit and any(i < len(t) for t in per_port):
        for tiles in per_port:
            if i < len(tiles) and len(out) < limit:
                out.append(tiles[i][0])
                labels.append(tiles[i][1])
        i += 1
    return np.stack(out).astype(np.int8), labels


def synthetic_inputs(n: int, seed: int, shape: tuple[int, ...]) -> np.ndarray:
    """``n`` int8 inputs of ``shape`` (without the batch dim): extremes, noise, patterns."""
    rng = np.random.default_rng(seed)
    numel = int(np.prod(shape))
    out = np.empty((n, numel), dtype=np.int8)
    for i in range(n):
        kind = i % 5
        if i == 0:
            x = np.full(numel, -128)
        elif i == 1:
            x = np.full(numel, 127)
        elif kind == 0:
            x = rng.integers(-128, 128, numel)
        elif kind == 1:
            x = np.full(numel, rng.integers(-128, 128))
        elif kind == 2:
            x = np.linspace(rng.integers(-128, 0), rng.integers(0, 128), numel)
        elif kind == 3:
            x = np.where((np.arange(numel) // max(1, shape[-1]) + i) % 2, 127, -128)
        else:
            x = rng.normal(rng.uniform(-80, 80), rng.uniform(1, 60), numel)
        out[i] = np.clip(np.round(x), -128, 127).astype(np.int8)
    return out


def real_frames(
    data_dir: Path, sizes: list[tuple[int, int]], seed: int = 0
) -> list[tuple[np.ndarray, str]]:
    """Windows of the sen2ships port scenes, one per size ``(h, w)`` (ports in turn, the
    window's place drawn from ``seed``), preprocessed per pixel as the tile spec says (its
    bands, gains, square root): the int8 frames a cell network reads. Returns (frame,
    ``port:row:col``) pairs; a size larger than a scene is cut to the scene."""
    spec = tile_spec()
    bands = [b.sentinel2 for b in spec.bands]
    ports = sen2ships.ports(data_dir)
    rng = np.random.default_rng(seed)
    scenes: dict[str, np.ndarray] = {}
    out = []
    for i, (h, w) in enumerate(sizes):
        port = ports[i % len(ports)]
        if port not in scenes:
            img, _ = sen2ships.read_bands(port, bands, data_dir)
            scenes[port] = preprocess_pixels(np.asarray(img))
        q = scenes[port]
        h, w = min(h, q.shape[0]), min(w, q.shape[1])
        r = int(rng.integers(0, q.shape[0] - h + 1))
        c = int(rng.integers(0, q.shape[1] - w + 1))
        out.append((np.ascontiguousarray(q[r : r + h, c : c + w]), f"{port}:{r}:{c}"))
    return out
