"""The tile recipe's preprocessing (classifier v1, the cell network's baseline): hand cases
and the batch path against the scalar reference."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from triage_models.tiles import (
    TileRecipe,
    preprocess_tile,
    preprocess_tiles,
    tile_origins,
    tile_spec,
)

from triage.contract.errors import InputDataError

SEED = 20240604


def _spec_with(**changes) -> TileRecipe:
    spec = tile_spec()
    for k, v in changes.items():
        setattr(spec, k, v)
    spec.factor = spec.tile_px // spec.thumb_px
    return spec


def test_preprocess_hand_cases_factor_one():
    spec = tile_spec()
    assert spec.factor == 1
    t = spec.tile_px
    tile = np.zeros((t, t, spec.n_bands), dtype=np.uint16)
    # Hand-derived: isqrt(0)=0 -> -128; isqrt(65535)=255 -> 127; isqrt(1023)=31 -> -97;
    # isqrt(1024)=32 -> -96; isqrt(3)=1 -> -127.
    tile[0, 0] = [0, 65535, 1023, 1024]
    tile[1, 0] = [3, 4, 8, 9]
    out = preprocess_tile(tile)
    assert out[0, 0].tolist() == [-128, 127, -97, -96]
    assert out[1, 0].tolist() == [-127, -126, -126, -125]


def test_preprocess_hand_cases_averaging_and_gain():
    spec = _spec_with(tile_px=4, stride_px=4, thumb_px=2)
    tile = np.zeros((4, 4, 4), dtype=np.uint16)
    # Top-left 2x2 block, band 0: 1,2,2,2 -> sum 7, (7 + 2) // 4 = 2 -> isqrt 1 -> -127.
    tile[0:2, 0:2, 0] = [[1, 2], [2, 2]]
    # Band 1: 100,100,100,101 -> (401 + 2) // 4 = 100 -> gain 512 -> 200 -> isqrt 14 -> -114.
    tile[0:2, 0:2, 1] = [[100, 100], [100, 101]]
    # Band 2: all 65535, gain 512 -> saturates at 65535 -> 127.
    tile[0:2, 0:2, 2] = 65535
    # Band 3: 10,10,11,11 -> (42 + 2) // 4 = 11, gain 128 -> 5 -> isqrt 2 -> -126.
    tile[0:2, 0:2, 3] = [[10, 10], [11, 11]]
    gain = np.array([256, 512, 512, 128])
    out = preprocess_tile(tile, gain, spec)
    assert out.shape == (2, 2, 4)
    assert out[0, 0].tolist() == [-127, -114, 127, -126]
    assert (out[1, 1] == -128).all()
    assert np.array_equal(preprocess_tiles(tile[None], gain, spec)[0], out)


def test_batch_matches_scalar_reference():
    rng = np.random.default_rng(SEED)
    for spec in (tile_spec(), _spec_with(tile_px=32, stride_px=16, thumb_px=16)):
        tiles = rng.integers(0, 65536, (4, spec.tile_px, spec.tile_px, 4), dtype=np.uint16)
        gain = rng.integers(0, 65536, 4)
        ref = np.stack([preprocess_tile(t, gain, spec) for t in tiles])
        assert np.array_equal(preprocess_tiles(tiles, gain, spec), ref)


def test_preprocess_rejects_bad_input():
    spec = tile_spec()
    with pytest.raises(InputDataError, match="uint16 or uint8"):
        preprocess_tiles(np.zeros((1, spec.tile_px, spec.tile_px, 4), np.float32))
    with pytest.raises(InputDataError, match="shape"):
        preprocess_tiles(np.zeros((1, spec.tile_px, spec.tile_px, 3), np.uint16))


def test_tile_origins_cover_the_frame():
    spec = tile_spec()
    t, s = spec.tile_px, spec.stride_px
    assert tile_origins(t - 1) == []
    assert tile_origins(t) == [0]
    o = tile_origins(1980)
    assert o[0] == 0 and o[-1] == 1980 - t
    assert all(b - a <= s for a, b in itertools.pairwise(o))
