"""The neighbour predictor (aec_flags bit 1, triage/WIRE_FORMAT.md): a case worked by
hand, the numpy sender and restorer against the pixel-by-pixel reference, the mapping's
bijection, and the ground refusing a header that claims both predictors."""

from __future__ import annotations

import numpy as np
import pytest

from triage.contract.enums import AEC_FLAG_NEIGHBOUR, AEC_FLAG_PREPROCESS, COMPRESSION_CCSDS121
from triage.contract.errors import LayoutError
from triage.contract.predictor import (
    map_residual,
    neighbour_residuals,
    neighbour_restore,
    unmap_residual,
)

from .helpers import neighbour_reference


def test_hand_worked_two_bands():
    """2x2, two 8-bit bands, every pixel kept. Band 0: (0,0) is the seed (zhat 0, p 0,
    theta 0: m = 10); (0,1) from W: p 10, +2 -> 4; (1,0) from N: p 10, +1 -> 2; (1,1)
    med(W 11, N 12, NW 10) = 12 (NW below both), +3 -> 6. Band 1 predicts z = band1 -
    band0 = [[10, 8], [9, 15]]: (0,0) p = 10 + 0, +10 -> 20; (0,1) p = 12 + 10 = 22, -2 ->
    3; (1,0) p = 11 + 10 = 21, -1 -> 1; (1,1) med(9, 8, 10) = 8 (NW above both), p = 23,
    +7 -> 14."""
    v = np.array([[[10, 12], [11, 15]], [[20, 20], [20, 30]]])
    kept = np.ones((2, 2), bool)
    want = [[10, 4, 2, 6], [20, 3, 1, 14]]
    assert neighbour_reference(v, kept, 8) == want
    assert [m.tolist() for m in neighbour_residuals(v, kept, 8)] == want
    assert np.array_equal(neighbour_restore(want, kept, 8), v)


def test_mapping_is_a_bijection():
    xmax = 255
    for p in (0, 1, 17, 127, 128, 200, 254, 255):
        m = map_residual(np.arange(xmax + 1), p, xmax)
        assert sorted(m.tolist()) == list(range(xmax + 1))
        assert np.array_equal(unmap_residual(m, p, xmax), np.arange(xmax + 1))


@pytest.mark.parametrize("seed", range(40))
def test_numpy_matches_reference_and_restores(seed):
    rng = np.random.default_rng(seed)
    rows, cols = rng.integers(1, 24, 2)
    bands = int(rng.integers(1, 5))
    bits = int(rng.choice([8, 16]))
    xmax = (1 << bits) - 1
    kind = seed % 4
    if kind == 0:  # every pixel
        kept = np.ones((rows, cols), bool)
    elif kind == 1:  # scattered
        kept = rng.random((rows, cols)) < 0.6
    else:  # a union of cells, as crops keep them
        kept = np.zeros((rows, cols), bool)
        for _ in range(int(rng.integers(1, 5))):
            r0, c0 = rng.integers(0, rows), rng.integers(0, cols)
            kept[r0 : r0 + int(rng.integers(1, 9)), c0 : c0 + int(rng.integers(1, 9))] = True
    if kind == 3:  # samples at both ends of the range: the clamp and the far mapping
        v = rng.choice([0, 1, xmax - 1, xmax], size=(bands, rows, cols))
    else:
        base = rng.integers(0, xmax + 1, size=(bands, 1, 1))
        v = np.clip(base + rng.integers(-40, 41, size=(bands, rows, cols)), 0, xmax)
    want = neighbour_reference(v, kept, bits)
    got = neighbour_residuals(v, kept, bits)
    assert [g.tolist() for g in got] == want
    back = neighbour_restore(want, kept, bits)
    assert np.array_equal(back[:, kept], v[:, kept])


def test_restore_refuses_a_wrong_count():
    kept = np.ones((3, 3), bool)
    with pytest.raises(LayoutError, match="8 coded values, 9 kept"):
        neighbour_restore([np.zeros(8, np.int64)], kept, 8)


def test_ground_refuses_both_predictors():
    from triage.contract.codec import _check_image_header
    from triage.contract.errors import ProductError

    h = {
        "bands": 1,
        "sample_bits": 16,
        "rows": 2,
        "cols": 2,
        "pixel_step": 1,
        "pixel_extent": 1,
        "region_row0": 0,
        "region_col0": 0,
        "region_rows": 2,
        "region_cols": 2,
        "frame_rows": 2,
        "frame_cols": 2,
        "geotransform": (0.0, 10.0, 0.0, 0.0, 0.0, -10.0),
        "dn_num": 0,
        "dn_den": 0,
        "compression": COMPRESSION_CCSDS121,
        "aec_block_size": 16,
        "aec_rsi": 64,
        "aec_flags": AEC_FLAG_PREPROCESS | AEC_FLAG_NEIGHBOUR,
        "band_bytes": [0] * 8,
    }
    with pytest.raises(ProductError, match="both predictors"):
        _check_image_header(h, 0, 4)
