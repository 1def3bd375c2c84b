"""The firmware's per-pixel preprocessing of frame rows against the reference
(triage.contract.tile_spec.preprocess_pixels, whose square root is a table of
math.isqrt), bit for bit, and its per-cell counts of no-data and saturated
pixels against a count by hand.

Plan (seed 20240122): random uint16 and uint8 frames, full range and narrow
ranges, random gains (0..65535, so that saturation at 65535 is reached),
widths that are and are not multiples of the cell, every row; plus real
Sentinel-2 rows from three ports with the shipped gains.
"""

from __future__ import annotations

import numpy as np
import pytest

from triage.contract import tile_spec as ts

from .helpers import c_preprocess_row, real_frame

SEED = 20240122


@pytest.mark.parametrize("dtype", [np.uint16, np.uint8])
def test_random_rows_match_reference(lib, dtype):
    spec = ts.tile_spec()
    rng = np.random.default_rng([SEED, np.dtype(dtype).itemsize])
    hi = np.iinfo(dtype).max
    for trial in range(40):
        rows, cols = int(rng.integers(1, 40)), int(rng.integers(1, 90))
        top = int(rng.choice([hi, 2000, 40, hi]))
        frame = rng.integers(0, top + 1, (rows, cols, spec.n_bands)).astype(dtype)
        if trial % 5 == 0:
            frame[..., 1] = hi
        gains = (
            spec.gains()
            if trial % 3 == 0
            else rng.integers(0, 65536, spec.n_bands).astype(np.uint32)
        )
        want = ts.preprocess_pixels(frame, gains)
        for y in range(rows):
            got, _, _ = c_preprocess_row(frame, y, gains)
            assert np.array_equal(got, want[y]), (trial, y)


@pytest.mark.parametrize("unit_gain", [True, False])  # the 16-bit unit-gain path, the general one
def test_counts_nodata_and_saturated_pixels_per_cell(lib, unit_gain):
    spec = ts.tile_spec()
    gains = spec.gains() if unit_gain else np.full(spec.n_bands, 300, np.uint32)
    c = spec.cell_px
    frame = np.full((1, 2 * c + 5, spec.n_bands), 1000, np.uint16)
    frame[0, :3] = 0  # 3 no-data pixels in cell 0
    frame[0, c + 1 : c + 3] = 65535  # 2 saturated pixels in cell 1
    frame[0, 2 * c + 1] = 0  # 1 no-data pixel in the clipped cell 2
    frame[0, 5, 0] = 0  # one band only: neither
    _, nodata, saturated = c_preprocess_row(frame, 0, gains)
    assert nodata.tolist() == [3, 0, 1]
    assert saturated.tolist() == [0, 2, 0]


@pytest.mark.realdata
@pytest.mark.parametrize("port", ["marseille", "busan", "hedland"])
def test_real_rows_match_reference(lib, data_dir, port):
    spec = ts.tile_spec()
    frame, _, _ = real_frame(data_dir, port, 0, 0, 64, 301)
    want = ts.preprocess_pixels(frame)
    for y in range(frame.shape[0]):
        got, _, _ = c_preprocess_row(frame, y, spec.gains())
        assert np.array_equal(got, want[y]), y
