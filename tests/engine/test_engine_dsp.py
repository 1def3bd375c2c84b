"""The optimised (DSP) kernels' own claims, beyond bit-exactness (which the
kernel plan, the whole models and the Cortex-M4 tests check for both kernel
sets):

* the scratch the firmware's kernels ask for is what the exporter planned in
  the arena (one truth: the firmware's own sizing code, asked through the
  host library);
* the one-rounding requantisation equals TFLM's two roundings wherever the
  exporter uses it (a property test against gemmlowp's arithmetic written
  here from its definition, on draws from a recorded seed);
* the exporter's per-layer choices for a tile model (the representative CNN).
"""

from __future__ import annotations

import numpy as np
import pytest

from triage.engine import export, pack

from .conftest import BuiltModel

SEED = 20261126


def test_planned_scratch_is_what_the_kernel_set_needs(kernel_lib, kernel_cases, kernel_set):
    checked = 0
    for c in kernel_cases:
        comp = export.compile_model(c.tflite, alias_reshape=c.alias_reshape)
        host = kernel_lib.model(c.name)
        for i, s in enumerate(comp.lowered.steps):
            need = host.scratch_need(i)
            if kernel_set == "ref":
                assert need == 0, (c.name, i)
            else:
                assert need == s.scratch_bytes, (c.name, i, s.packed and s.packed.describe())
                checked += need > 0
    assert kernel_set == "ref" or checked > 100


def test_whole_model_scratch_is_what_the_kernel_set_needs(whole_model: BuiltModel):
    comp = export.compile_model(whole_model.tflite)
    for i, s in enumerate(comp.lowered.steps):
        need = whole_model.host.scratch_need(i)
        assert need == (s.scratch_bytes if whole_model.kernel_set == "dsp" else 0), i


# ---- TFLM's requantisation, from gemmlowp's definitions (vectorised) ----------


def _srdhm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """SaturatingRoundingDoublingHighMul: (a*b + nudge) / 2^31 truncated toward
    zero, nudge = 2^30 for a*b >= 0 else 1 - 2^30 (no saturation case here:
    a is never INT32_MIN)."""
    ab = a * b
    n = ab + np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    return np.where(n >= 0, n >> 31, -((-n) >> 31))


def _rdbpot(x: np.ndarray, e: np.ndarray) -> np.ndarray:
    """RoundingDivideByPOT: halves away from zero."""
    mask = (np.int64(1) << e) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> e) + (remainder > threshold)


def _one_rounding(acc, mult, c, r):
    """dsp_s8.h: SSAT8((SMMLAR(2 acc, mult, c) + (2 acc >> 31)) >> r) before the clamp."""
    acc2 = 2 * acc
    t = c + ((acc2 * mult + (1 << 31)) >> 32) + np.where(acc2 < 0, -1, 0)
    return np.clip(t >> r, -128, 127)


def _draws(rng, n):
    mult = rng.integers(1 << 30, 1 << 31, n, dtype=np.int64)
    mult[: n // 50] = 1 << 30  # exact powers of two
    r = rng.integers(1, 32, n, dtype=np.int64)
    r[: n // 3] = rng.integers(1, 5, n // 3)  # small shifts hit exact halves often
    out_offset = rng.integers(-128, 128, n, dtype=np.int64)
    bound = rng.choice([2**8, 2**16, 2**24, 2**30 - 1], n)
    acc = (rng.random(n) * 2 - 1) * bound
    acc = np.round(acc).astype(np.int64)
    acc[:200] = np.arange(-100, 100)  # around zero, -1 included
    return acc, mult, r, out_offset, bound


def test_one_rounding_equals_tflm_where_the_exporter_uses_it():
    rng = np.random.default_rng(SEED)
    acc, mult, r, off, bound = _draws(rng, 100_000)
    used = 0
    for lo in range(0, len(acc), 4000):
        sl = slice(lo, lo + 4000)
        a, m, rr, o, b = acc[sl], mult[sl], r[sl], off[sl], bound[sl]
        # the exporter's own decision, channel by channel (FAST or not)
        fast = np.array(
            [pack._records(np.zeros(1), np.array([mi]), np.array([-ri]), int(oi), int(bi))[2]
             for mi, ri, oi, bi in zip(m, rr, o, b, strict=True)]
        )  # fmt: skip
        ok = fast & (np.abs(a) <= b)
        c = (np.int64(1) << (rr - 1)) + o * (np.int64(1) << rr)
        tflm = np.clip(_rdbpot(_srdhm(a, m), rr) + o, -128, 127)
        ours = _one_rounding(a, m, c, rr)
        bad = np.flatnonzero(ok & (ours != tflm))
        assert bad.size == 0, (
            f"acc {a[bad[0]]} mult {m[bad[0]]} r {rr[bad[0]]} offset {o[bad[0]]}:"
            f" ours {ours[bad[0]]} TFLM {tflm[bad[0]]}"
        )
        used += int(ok.sum())
    assert used > 70_000


def test_one_rounding_is_refused_where_it_could_wrap():
    """The exporter falls back to two roundings when |acc| may reach 2^30, when
    a shift is not a right shift, or when c + y could leave int32."""
    m = np.array([(1 << 31) - 1])
    assert not pack._records(np.zeros(1), m, np.array([-8]), 0, 2**30)[2]
    assert not pack._records(np.zeros(1), m, np.array([0]), 0, 100)[2]
    assert not pack._records(np.zeros(1), m, np.array([3]), 0, 100)[2]
    assert not pack._records(np.zeros(1), m, np.array([-24]), 127, 2**29)[2]
    assert pack._records(np.zeros(1), m, np.array([-8]), 127, 2**29)[2]


def test_a_tile_model_runs_every_layer_on_the_optimised_path(repcnn_tflite):
    comp = export.compile_model(repcnn_tflite)
    kinds = {"conv2d_s8", "depthwise_conv2d_s8", "fully_connected_s8"}
    for s in comp.lowered.steps:
        if s.kernel in kinds:
            assert s.packed.method == pack.METHOD_ROWS, s.op.describe()
            assert s.packed.flags & pack.FLAG_FAST, s.op.describe()
            assert s.scratch_bytes > 0
        else:
            assert s.packed is None
    # the scratch lives in the arena plan (no tensor overlaps it: planner.verify)
    assert comp.plan.arena_bytes >= max(s.scratch_bytes for s in comp.lowered.steps)


@pytest.mark.parametrize("dm", [2, 3])
def test_depth_multipliers_other_than_one_take_the_portable_path(dm):
    from triage.engine import tflite as tfl
    from triage.engine.tflite_write import ModelBuilder

    rng = np.random.default_rng(dm)
    mb = ModelBuilder()
    x = mb.tensor((1, 5, 5, 3), scale=0.05, zero_point=3, name="input")
    wt = mb.tensor((1, 3, 3, 3 * dm), data=rng.integers(-9, 9, (1, 3, 3, 3 * dm), dtype=np.int8),
                   scale=[0.01] * (3 * dm), zero_point=[0] * (3 * dm), qdim=3)  # fmt: skip
    y = mb.tensor((1, 5, 5, 3 * dm), scale=0.1, zero_point=0, name="output")
    mb.op(tfl.DEPTHWISE_CONV_2D, [x, wt], [y], padding=0, stride_w=1, stride_h=1,
          depth_multiplier=dm)  # fmt: skip
    s = export.compile_model(mb.build([x], [y])).lowered.steps[0]
    assert s.packed.method == pack.METHOD_PLAIN and s.scratch_bytes == 0
    assert f"depth multiplier {dm}" in s.packed.describe()


def test_a_ringed_layer_holds_the_rotations_that_occur(kernel_cases):
    """Output row oy's ring rotation is (oy * stride) mod k_h, so the packed data hold the
    multiples of gcd(stride, k_h): a 4x4 stride-2 depthwise layer two rotations, a 4x4
    stride-1 one four. Hand count of a depthwise block: 4 biases, 2 words per tap, 12
    records."""
    from triage.engine import stream

    seen = set()
    for c in kernel_cases:
        if not c.name.startswith("dsp_dw4x4_") or "valid" in c.name:
            continue
        step = stream.compile_stream(c.tflite).layers[0].step
        k_h, k_w = c.params["k"]
        s_h = c.params["stride"][0]
        blocks = (c.params["cout"] + 3) // 4
        rotations = {2: 2, 1: 4}[s_h]
        assert step.packed.flags & pack.FLAG_RING
        assert len(step.packed.data) == rotations * blocks * (4 + 2 * k_h * k_w + 12), c.name
        seen.add(s_h)
    assert seen == {1, 2}
