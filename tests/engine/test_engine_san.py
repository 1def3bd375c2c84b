"""The engine's host build under AddressSanitizer and UndefinedBehaviorSanitizer,
with each kernel set (the DSP kernels run their portable emulation).

The whole kernel plan and the whole models run in a sanitized shared
library (make engine-san: -fsanitize=address,undefined, no recovery) loaded
into a child Python with libasan/libubsan preloaded. Each model's arena is
a heap block of exactly its planned size, so any access outside the plan is
reported. Outputs must still equal TFLM's.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from triage.engine import build, inputs, oracle

from .conftest import BuiltModel, assert_same_int8, locked

HERE = Path(__file__).parent


def _sanitizer_preload() -> str:
    libs = []
    for name in ("libasan.so", "libubsan.so"):
        out = subprocess.run(
            ["gcc", f"-print-file-name={name}"], capture_output=True, text=True, check=True
        ).stdout.strip()
        if not os.path.isabs(out) or not os.path.exists(out):
            pytest.skip(f"{name} not found by gcc")
        libs.append(out)
    return ":".join(libs)


def _run_sanitized(lib: Path, batches: dict[str, np.ndarray], tmp: Path) -> dict[str, np.ndarray]:
    np.savez(tmp / "in.npz", **batches)
    env = dict(os.environ)
    env["LD_PRELOAD"] = _sanitizer_preload()
    env["ASAN_OPTIONS"] = "detect_leaks=0:abort_on_error=0"
    env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
    proc = subprocess.run(
        [sys.executable, str(HERE / "san_runner.py"), str(lib), str(tmp / "in.npz"),
         str(tmp / "out.npz")],
        capture_output=True, text=True, env=env, timeout=600, check=False,
    )  # fmt: skip
    report = proc.stdout + proc.stderr
    assert "AddressSanitizer" not in report, report[-4000:]
    assert "runtime error" not in report, report[-4000:]
    assert proc.returncode == 0, report[-4000:]
    out = np.load(tmp / "out.npz")
    return {k: out[k] for k in out.files}


def test_kernel_plan_under_asan_ubsan(engine_root, kernel_models_dir, kernel_cases, kernel_set,
                                      tmp_path):  # fmt: skip
    with locked(engine_root / "kernels.lock"):
        lib = build.engine_lib(
            kernel_models_dir / "models", kernel_models_dir / f"build-{kernel_set}",
            sanitized=True, kernel_set=kernel_set,
        )  # fmt: skip
    outs = _run_sanitized(lib, {c.name: c.inputs for c in kernel_cases}, tmp_path)
    for c in kernel_cases:
        ref = oracle.tflm_run(c.tflite, c.inputs, c.input_shape)
        assert_same_int8(outs[c.name], ref, f"{c.name} (ASan/UBSan build)")


def test_whole_model_under_asan_ubsan(whole_model: BuiltModel, tmp_path):
    with locked(whole_model.root / "build.lock"):
        lib = build.engine_lib(whole_model.models, whole_model.build, sanitized=True,
                               kernel_set=whole_model.kernel_set)  # fmt: skip
    x = inputs.synthetic_inputs(100, 5, whole_model.input_shape[1:])
    outs = _run_sanitized(lib, {whole_model.name: x}, tmp_path)
    assert_same_int8(outs[whole_model.name], whole_model.tflm(x), "ASan/UBSan build")
