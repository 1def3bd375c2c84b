"""The contract's tile spec, integer preprocessing, policy in the int8 domain, and the
generated triage_config.h."""

from __future__ import annotations

import itertools
import json
import re
import shutil
import subprocess

import numpy as np
import pytest

from triage.contract import paths
from triage.contract.errors import InputDataError, SpecError
from triage.contract.policy import NEVER_Q, Policy, load_policy, prob_to_min_q
from triage.contract.tile_spec import (
    TileSpec,
    file_sha256,
    load_tile_spec,
    preprocess_tile,
    preprocess_tiles,
    tile_origins,
    tile_spec,
)

SEED = 20240604


def test_spec_classes_and_quantization():
    spec = tile_spec()
    assert spec.classes == ["cloud", "sea", "ship", "land"]
    assert [b.sentinel2 for b in spec.bands] == ["B02", "B03", "B04", "B08"]
    assert spec.tile_px % spec.thumb_px == 0
    assert spec.input_quantization.zero_point == -128
    assert spec.input_quantization.scale_den == 255


def _spec_with(**changes) -> TileSpec:
    raw = json.loads(paths.tile_spec_path().read_text())
    raw.update(changes)
    return TileSpec.model_validate(raw)


def test_preprocess_hand_cases_factor_one():
    spec = tile_spec()
    t = spec.tile_px
    tile = np.zeros((t, t, spec.n_bands), dtype=np.uint16)
    # Hand-derived: isqrt(0)=0 -> -128; isqrt(65535)=255 -> 127; isqrt(1023)=31 -> -97;
    # isqrt(1024)=32 -> -96; isqrt(3)=1 -> -127.
    tile[0, 0] = [0, 65535, 1023, 1024]
    tile[1, 0] = [3, 4, 8, 9]
    if spec.factor == 1:
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
    with pytest.raises(ValueError, match="multiple of thumb_px"):
        _spec_with(tile_px=30, thumb_px=16)
    with pytest.raises(SpecError):
        load_tile_spec(paths.models_dir() / "no_such_spec.json")


def test_tile_origins_cover_the_frame():
    spec = tile_spec()
    t, s = spec.tile_px, spec.stride_px
    assert tile_origins(t - 1) == []
    assert tile_origins(t) == [0]
    o = tile_origins(1980)
    assert o[0] == 0 and o[-1] == 1980 - t
    assert all(b - a <= s for a, b in itertools.pairwise(o))


@pytest.mark.parametrize(
    ("p", "q"),
    [
        (None, NEVER_Q),
        (0.0, -128),
        (0.5, 0),
        (0.2, -76),
        (0.9, 103),
        (255 / 256, 127),
        (0.999, NEVER_Q),
        (1.0, NEVER_Q),
        (1 / 256, -127),
    ],
)
def test_prob_to_min_q(p, q):
    # Hand-derived: smallest q with (q + 128) / 256 >= p; e.g. 0.2 * 256 = 51.2 -> 52 - 128.
    assert prob_to_min_q(p) == q


def test_shipped_header_names_its_inputs_and_holds_the_policy():
    shipped = paths.shipped_dir()
    text = (shipped / "triage_config.h").read_text()
    assert f"tile_spec.json sha256={file_sha256(paths.tile_spec_path())}" in text
    assert f"policy.json sha256={file_sha256(shipped / 'policy.json')}" in text
    tfl = shipped / "classifier.tflite"
    if tfl.exists():
        assert f"classifier.tflite sha256={file_sha256(tfl)}" in text
    spec, policy = tile_spec(), load_policy()
    assert f"#define TRI_CFG_TILE_PX {spec.tile_px}\n" in text
    assert f"#define TRI_CFG_CLASS_SHIP {spec.classes.index('ship')}\n" in text
    d = re.search(r"#define TRI_CFG_DISCARD_MIN_Q_INIT \{([^}]*)\}", text)
    assert [int(v) for v in d[1].split(",")] == policy.discard_min_q()


def test_header_compiles_with_firmware_warnings(tmp_path):
    cc = shutil.which("gcc")
    if cc is None:
        pytest.skip("gcc not installed")
    src = tmp_path / "use.c"
    src.write_text(
        '#include <stdint.h>\n#include "triage_config.h"\n'
        "static const uint16_t g[TRI_CFG_BANDS] = TRI_CFG_GAIN_Q8_INIT;\n"
        "static const int16_t d[TRI_CFG_NUM_CLASSES] = TRI_CFG_DISCARD_MIN_Q_INIT;\n"
        "int use(int8_t q);\n"
        "int use(int8_t q) { return (int)q >= TRI_CFG_SHIP_CROP_MIN_Q ? (int)g[0] :\n"
        "  (int)d[TRI_CFG_CLASS_SHIP] + TRI_CFG_LAND_POLICY + TRI_CFG_INPUT_ZERO_POINT; }\n"
    )
    flags = "-std=c99 -Wall -Wextra -Werror -Wpedantic -Wconversion -Wshadow -Wstrict-prototypes"
    res = subprocess.run(
        [cc, *flags.split(), f"-I{paths.shipped_dir()}", "-c", str(src), "-o", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stderr


def test_policy_rejects_bad_values():
    with pytest.raises(ValueError):
        Policy.model_validate(
            {"discard_min_prob": {"sea": 1.5}, "ship_crop_min_prob": 0.2, "land_policy": "lowres"}
        )
    with pytest.raises(ValueError):
        Policy.model_validate(
            {"discard_min_prob": {}, "ship_crop_min_prob": 0.2, "land_policy": "keep"}
        )
