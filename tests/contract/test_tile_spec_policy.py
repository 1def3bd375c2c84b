"""The contract's tile spec, integer preprocessing, policy in the int8 domain, and the
generated triage_config.h."""

from __future__ import annotations

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
    cell_bounds,
    cell_count,
    extended_size,
    file_sha256,
    load_tile_spec,
    preprocess_frame,
    preprocess_pixels,
    tile_spec,
)

SEED = 20240604


def test_spec_classes_and_quantization():
    spec = tile_spec()
    assert spec.classes == ["cloud", "sea", "ship", "land"]
    assert [b.sentinel2 for b in spec.bands] == ["B02", "B03", "B04", "B08"]
    assert spec.cell_px == 16
    assert spec.input_quantization.zero_point == -128
    assert spec.input_quantization.scale_den == 255


def test_preprocess_pixels_hand_cases():
    # Hand-derived: isqrt(0)=0 -> -128; isqrt(65535)=255 -> 127; isqrt(1023)=31 -> -97;
    # isqrt(1024)=32 -> -96; isqrt(3)=1 -> -127; with gains: 100*512>>8 = 200 -> isqrt 14
    # -> -114; 65535*512>>8 saturates at 65535 -> 127; 11*128>>8 = 5 -> isqrt 2 -> -126.
    px = np.array([[0, 65535, 1023, 1024], [3, 4, 8, 9]], dtype=np.uint16)
    assert preprocess_pixels(px).tolist() == [[-128, 127, -97, -96], [-127, -126, -126, -125]]
    gain = np.array([256, 512, 512, 128])
    one = np.array([[1, 100, 65535, 11]], dtype=np.uint16)
    assert preprocess_pixels(one, gain).tolist() == [[-127, -114, 127, -126]]


def test_preprocess_frame_extends_to_whole_cells():
    spec = tile_spec()
    c = spec.cell_px
    frame = np.full((c + 3, 2 * c - 1, spec.n_bands), 1024, dtype=np.uint16)
    out = preprocess_frame(frame)
    assert out.shape == (2 * c, 2 * c, spec.n_bands)
    assert (out[: c + 3, : 2 * c - 1] == -96).all()  # isqrt(1024) = 32 -> -96
    assert (out[c + 3 :] == -128).all() and (out[:, 2 * c - 1 :] == -128).all()


def test_cells_cover_the_frame():
    spec = tile_spec()
    c = spec.cell_px
    assert cell_count(1, spec) == 1 and cell_count(c, spec) == 1 and cell_count(c + 1, spec) == 2
    assert cell_bounds(0, c + 1) == (0, c)
    assert cell_bounds(1, c + 1) == (c, c + 1)
    assert extended_size(1980) == 124 * c  # ceil(1980 / 16) = 124
    with pytest.raises(InputDataError):
        cell_bounds(2, c + 1)


def test_preprocess_rejects_bad_input():
    spec = tile_spec()
    with pytest.raises(InputDataError, match="uint16 or uint8"):
        preprocess_pixels(np.zeros((2, spec.n_bands), np.float32))
    with pytest.raises(InputDataError, match="uint16 or uint8"):
        preprocess_pixels(np.zeros((2, 3), np.uint16))
    with pytest.raises(InputDataError, match="gain_q8"):
        preprocess_pixels(np.zeros((2, 4), np.uint16), np.array([1, 2, 3]))
    with pytest.raises(InputDataError, match="frame"):
        preprocess_frame(np.zeros((4, 4), np.uint16))
    with pytest.raises(SpecError):
        load_tile_spec(paths.models_dir() / "no_such_spec.json")
    raw = json.loads(paths.tile_spec_path().read_text())
    with pytest.raises(ValueError):
        TileSpec.model_validate({**raw, "cell_px": 0})


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
    assert f"#define TRI_CFG_CELL_PX {spec.cell_px}\n" in text
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
