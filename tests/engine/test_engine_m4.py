"""The Cortex-M4 image under QEMU gives the same outputs as the host build
(and TFLM) for the same inputs: whole models on real tiles, and cases of the
kernel plan. The runner image links within the 64 KB RAM / 128 KB flash
budgets (enforced by link.ld)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from triage import qemu
from triage.engine import build, export, inputs, oracle

from .conftest import BuiltModel, assert_same_int8, locked

pytestmark = pytest.mark.qemu

SUMMARY_RE = re.compile(r"engine_run:((?: \w+ \d+)+)")


def run_m4(elf: Path, x: np.ndarray, out_bytes: int, tmp: Path) -> tuple[np.ndarray, dict]:
    src, dst = tmp / "in.bin", tmp / "out.bin"
    src.write_bytes(np.ascontiguousarray(x, dtype=np.int8).tobytes())
    res = qemu.run_image(elf, [str(src), str(dst)], timeout_s=600)
    assert res.returncode == 0, res
    m = SUMMARY_RE.search(res.stdout)
    assert m, res.stdout
    words = m.group(1).split()
    summary = {words[i]: int(words[i + 1]) for i in range(0, len(words), 2)}
    out = np.frombuffer(dst.read_bytes(), dtype=np.int8).reshape(len(x), out_bytes)
    return out, summary


def test_m4_image_matches_host_on_real_tiles(whole_model: BuiltModel, data_dir, tmp_path):
    """1000 inputs, 700 of them real tiles: the same proof as the host's."""
    with locked(whole_model.root / "build.lock"):
        elf = build.engine_m4(whole_model.models, whole_model.build, whole_model.name,
                              kernel_set=whole_model.kernel_set)  # fmt: skip
    tiles, _ = inputs.real_tiles(data_dir, 700, stride=48)
    synth = inputs.synthetic_inputs(300, 77, whole_model.input_shape[1:])
    x = np.concatenate([tiles.reshape(len(tiles), -1), synth])
    m4, summary = run_m4(elf, x, whole_model.host.output_bytes, tmp_path)
    host = whole_model.host.run(x)
    assert_same_int8(m4, host, f"{whole_model.name}: Cortex-M4 vs host")
    assert_same_int8(m4, whole_model.tflm(x), f"{whole_model.name}: Cortex-M4 vs TFLM")
    assert summary["inputs"] == len(x)
    assert summary["arena"] == whole_model.report.arena_bytes
    assert 0 < summary["insns_min"] <= summary["insns_max"]
    assert summary["stack_peak"] < 2048


def test_m4_image_matches_host_on_synthetic_inputs(whole_model: BuiltModel, tmp_path):
    with locked(whole_model.root / "build.lock"):
        elf = build.engine_m4(whole_model.models, whole_model.build, whole_model.name,
                              kernel_set=whole_model.kernel_set)  # fmt: skip
    x = inputs.synthetic_inputs(64, 78, whole_model.input_shape[1:])
    m4, _ = run_m4(elf, x, whole_model.host.output_bytes, tmp_path)
    assert_same_int8(m4, whole_model.host.run(x), f"{whole_model.name}: Cortex-M4 vs host")


def _m4_cases(cases, per_group: int | None = 2):
    """per_group cases of each group (all of them for None) whose model fits the
    image's flash."""
    picked, count = [], {}
    for c in cases:
        if (per_group is None or count.get(c.group, 0) < per_group) and len(c.tflite) < 60_000:
            picked.append(c)
            count[c.group] = count.get(c.group, 0) + 1
    return picked


def test_m4_kernel_cases_match_host(engine_root, kernel_models_dir, kernel_cases, kernel_lib,
                                    kernel_set, tmp_path):  # fmt: skip
    """The whole plan on the image with the DSP kernels (the firmware's), two
    cases of each group with the reference kernels."""
    cases = _m4_cases(kernel_cases, None if kernel_set == "dsp" else 2)
    assert len(cases) >= (0.95 * len(kernel_cases) if kernel_set == "dsp" else 20)
    # only these cases in their own folder: the image build compiles every model there
    m4_dir = kernel_models_dir / "m4"
    with locked(engine_root / "kernels.lock"):
        for c in cases:
            export.export_model(c.tflite, m4_dir / "models", name=c.name,
                                alias_reshape=c.alias_reshape)  # fmt: skip
    for c in cases:
        with locked(engine_root / "kernels.lock"):
            elf = build.engine_m4(m4_dir / "models", m4_dir / f"build-{kernel_set}", c.name,
                                  kernel_set=kernel_set)  # fmt: skip
        host_model = kernel_lib.model(c.name)
        m4, _ = run_m4(elf, c.inputs, host_model.output_bytes, tmp_path)
        assert_same_int8(m4, host_model.run(c.inputs), f"{c.name}: Cortex-M4 vs host")
        ref = oracle.tflm_run(c.tflite, c.inputs, c.input_shape)
        assert_same_int8(m4, ref, f"{c.name}: Cortex-M4 vs TFLM")
