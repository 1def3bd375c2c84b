"""The firmware's tile preprocessing against the training pipeline's reference
(triage_models.tile_spec.preprocess_tile), bit for bit.

Plan (seed 20240122): random uint16 and uint8 frames, full range and narrow
ranges, random gains (0..65535, so that saturation at 65535 is reached),
tiles at every corner, flush edge tiles; plus real Sentinel-2 tiles from
three ports with the shipped gains.
"""

from __future__ import annotations

import numpy as np
import pytest
from triage_models import tile_spec as ts

from .helpers import c_preprocess, real_frame

SEED = 20240122


@pytest.mark.parametrize("dtype", [np.uint16, np.uint8])
def test_random_tiles_match_reference(lib, dtype):
    spec = ts.tile_spec()
    rng = np.random.default_rng([SEED, np.dtype(dtype).itemsize])
    hi = np.iinfo(dtype).max
    t = spec.tile_px
    for trial in range(40):
        rows, cols = int(rng.integers(t, 3 * t)), int(rng.integers(t, 3 * t))
        top = int(rng.choice([hi, 2000, 40, hi]))
        frame = rng.integers(0, top + 1, (rows, cols, spec.n_bands)).astype(dtype)
        if trial % 5 == 0:
            frame[..., 1] = hi
        gains = (
            spec.gains()
            if trial % 3 == 0
            else rng.integers(0, 65536, spec.n_bands).astype(np.uint32)
        )
        for r0, c0 in ((0, 0), (rows - t, cols - t), (rows - t, 0), (0, cols - t)):
            got, _ = c_preprocess(frame, r0, c0, gains)
            want = ts.preprocess_tile(frame[r0 : r0 + t, c0 : c0 + t], gains)
            assert np.array_equal(got, want), (trial, r0, c0)


def test_stats_count_nodata_and_saturated_pixels(lib):
    spec = ts.tile_spec()
    t = spec.tile_px
    frame = np.full((t, t, spec.n_bands), 1000, np.uint16)
    frame[:5, :, :] = 0  # 5 rows no-data
    frame[5:7, :, :] = 65535  # 2 rows saturated
    frame[7, :3, 0] = 0  # one band only: neither
    _, (nodata, sat) = c_preprocess(frame, 0, 0, spec.gains())
    assert nodata == 5 * t
    assert sat == 2 * t


@pytest.mark.realdata
@pytest.mark.parametrize("port", ["marseille", "busan", "hedland"])
def test_real_tiles_match_reference(lib, data_dir, port):
    spec = ts.tile_spec()
    frame, _, _ = real_frame(data_dir, port, 0, 0, 256, 256)
    origins, tiles = ts.frame_tiles(frame, spec)
    want = ts.preprocess_tiles(tiles)
    for k, (y, x) in enumerate(origins):
        got, _ = c_preprocess(frame, int(y), int(x), spec.gains())
        assert np.array_equal(got, want[k]), (y, x)
