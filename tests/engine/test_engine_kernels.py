"""Every kernel against TensorFlow Lite Micro, bit for bit, on the declared
single-operator plan (kernel_plan.py: 252 cases, recorded seed)."""

from __future__ import annotations

import numpy as np
import pytest

from triage.engine import oracle
from triage.engine import tflite as tfl

from . import kernel_plan
from .conftest import assert_same_int8

CASES = kernel_plan.build_plan()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_kernel_case_matches_tflm(case: kernel_plan.Case, kernel_lib) -> None:
    ref = oracle.tflm_run(case.tflite, case.inputs, case.input_shape)
    ours = kernel_lib.model(case.name).run(case.inputs)
    assert_same_int8(ours, ref, f"{case.name} {case.params}")


def test_plan_is_large_and_declared() -> None:
    assert len(CASES) >= 200
    assert kernel_plan.SEED == 20261125
    # the plan is a pure function of the seed
    again = kernel_plan.build_plan()
    assert kernel_plan.plan_digest(again) == kernel_plan.plan_digest(CASES)
    other = kernel_plan.build_plan(seed=kernel_plan.SEED + 1)
    assert kernel_plan.plan_digest(other) != kernel_plan.plan_digest(CASES)


def test_plan_covers_the_parameter_space() -> None:
    conv = [c.params for c in CASES if c.group in ("conv2d", "depthwise")]
    assert {p["stride"][0] for p in conv} >= {1, 2, 3}
    assert {p["padding"] for p in conv} == {"SAME", "VALID"}
    assert any(p["dil"] != (1, 1) for p in conv)
    assert {p["act"] for p in conv} == {"NONE", "RELU", "RELU6", "RELU_N1_TO_1"}
    chans = {p["cin"] for p in conv} | {p["cout"] for p in conv}
    assert 1 in chans and 64 in chans
    assert {p["dm"] for p in conv if p["dm"]} >= {1, 2, 3, 4}
    assert any(p["hw"][0] == 1 or p["hw"][1] == 1 for p in conv)
    assert any(p["hw"][0] % 2 and p["hw"][1] % 2 for p in conv)
    assert any(p["in_zp"] in (-128, 127) for p in conv)
    assert any(p["out_zp"] in (-128, 127) for p in conv)
    fc = [c.params for c in CASES if c.group == "fully_connected"]
    assert {p["per_channel"] for p in fc} == {True, False}
    assert {c.group for c in CASES} == set(kernel_plan.GROUPS)
    # per-channel weight scales spanning several orders of magnitude
    spans = []
    for c in CASES:
        if c.group not in ("conv2d", "depthwise"):
            continue
        model = tfl.read_model(c.tflite)
        filt = model.tensors[model.operators[0].inputs[1]]
        s = np.asarray(filt.quant.scale)
        spans.append(s.max() / s.min())
    assert max(spans) > 300.0


def test_plan_outputs_are_not_degenerate() -> None:
    """A test can fail only if outputs vary: most cases must give TFLM
    outputs with several distinct values on the random inputs."""
    dull = []
    for c in CASES:
        ref = oracle.tflm_run(c.tflite, c.inputs[2:], c.input_shape)
        if len(np.unique(ref)) < 3:
            dull.append(c.name)
    assert len(dull) <= 0.1 * len(CASES), dull


def test_arena_size_reported_by_the_exporter_is_the_firmwares(kernel_lib, kernel_cases) -> None:
    from triage.engine import export

    for c in kernel_cases[::7]:
        rep = export.compile_model(c.tflite, alias_reshape=c.alias_reshape)
        assert kernel_lib.model(c.name).arena_bytes == rep.plan.arena_bytes, c.name
