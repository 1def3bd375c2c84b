"""The firmware's tile preprocessing against the training pipeline's reference
(triage.contract.tile_spec.preprocess_tile), bit for bit.

Plan (seed 20240122): random uint16 and uint8 frames, full range and narrow
ranges, random gains (0..65535, so that saturation at 65535 is reached),
tiles at every corner, flush edge tiles; plus real Sentinel-2 tiles from
three ports with the shipped gains.
"""

from __future__ import annotations

import numpy as np
import pytest

from triage.contract import tile_spec as ts

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


WRAPPER = r"""
#include "tri_tiling.h"
int pp(const uint8_t *frame, uint32_t rows, uint32_t cols, uint32_t bps, uint32_t r0,
       uint32_t c0, const uint16_t *gains, int8_t *out, uint32_t *stats);
int pp(const uint8_t *frame, uint32_t rows, uint32_t cols, uint32_t bps, uint32_t r0,
       uint32_t c0, const uint16_t *gains, int8_t *out, uint32_t *stats)
{
    tri_frame_t f = {frame, rows, cols, TRI_CFG_BANDS, bps, 0u, bps == 1u ? 255u : 65535u};
    tri_tile_stats_t s;
    tri_preprocess_tile(&f, r0, c0, gains, out, &s);
    stats[0] = s.nodata_px;
    stats[1] = s.saturated_px;
    return 0;
}
"""


@pytest.mark.parametrize("thumb", [16, 8])
def test_area_averaging_path_matches_reference(tmp_path, thumb):
    """The shipped spec has thumb = tile (no averaging); the averaging path is
    built here with a thumbnail of `thumb` px and held to the reference with
    the same spec."""
    import ctypes
    import re
    import subprocess

    from triage import paths

    root = paths.repo_root()
    spec = ts.tile_spec().model_copy(update={"thumb_px": thumb})
    cfg = (root / "models" / "shipped" / "triage_config.h").read_text()
    cfg, n = re.subn(r"#define TRI_CFG_THUMB_PX \d+", f"#define TRI_CFG_THUMB_PX {thumb}", cfg)
    assert n == 1
    (tmp_path / "triage_config.h").write_text(cfg)
    (tmp_path / "wrap.c").write_text(WRAPPER)
    fw = root / "mcu_firmware"
    lib = tmp_path / "libpp.so"
    subprocess.run(
        ["gcc", "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC",
         f"-I{tmp_path}", f"-I{fw / 'app' / 'include'}", f"-I{fw / 'common' / 'include'}",
         str(fw / "app" / "src" / "tri_tiling.c"), str(tmp_path / "wrap.c"), "-o", str(lib)],
        check=True,
    )  # fmt: skip
    pp = ctypes.CDLL(str(lib)).pp
    rng = np.random.default_rng([SEED, thumb])
    t = spec.tile_px
    for trial in range(30):
        dtype = np.uint16 if trial % 2 else np.uint8
        hi = np.iinfo(dtype).max
        frame = rng.integers(0, hi + 1, (t + 7, t + 3, spec.n_bands)).astype(dtype)
        gains = rng.integers(0, 65536, spec.n_bands).astype(np.uint16)
        out = np.zeros((thumb, thumb, spec.n_bands), np.int8)
        stats = np.zeros(2, np.uint32)
        r0, c0 = int(rng.integers(0, 8)), int(rng.integers(0, 4))
        f = np.ascontiguousarray(frame.astype(frame.dtype.newbyteorder("<")))
        pp(
            ctypes.c_void_p(f.ctypes.data), f.shape[0], f.shape[1], f.dtype.itemsize, r0, c0,
            ctypes.c_void_p(gains.ctypes.data), ctypes.c_void_p(out.ctypes.data),
            ctypes.c_void_p(stats.ctypes.data),
        )  # fmt: skip
        want = ts.preprocess_tile(frame[r0 : r0 + t, c0 : c0 + t], gains, spec)
        assert np.array_equal(out, want), trial
