"""``triage bench engine --json``: one JSON object with every figure the
issues ask for (the default DSP kernel set, the reference set beside it,
per-layer instructions); the shipped-model budgets (arena <= 60 % of TFLM's,
engine code <= 8 KB, speed-up over the reference) are checked as
regressions."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from triage.cli import app

pytestmark = pytest.mark.qemu

# The shipped classifier's instructions per MAC with the DSP kernels: issue
# 8's target (1.48 reached within the 8 KB engine code budget; see the engine
# README).
INSNS_PER_MAC_BOUND = 1.5

KEYS = {
    "model_tflite_bytes",
    "weights_bytes",
    "arena_bytes",
    "tflm_arena_bytes",
    "macs_per_inference",
    "insns_per_inference",
    "insns_per_mac",
    "engine_text_bytes",
    "text_bytes",
    "data_bytes",
    "bss_bytes",
}


@pytest.mark.parametrize("model", ["repcnn", "auto"])
def test_bench_engine_json(model: str) -> None:
    res = CliRunner().invoke(
        app,
        [
            "bench",
            "engine",
            "--json",
            "--model",
            model,
            "--inputs",
            "2",
            "--clock-mhz",
            "80",
            "--no-stream",
        ],
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert set(out) >= KEYS
    assert out["m4_matches_tflm"] is True
    assert out["arena_bytes"] <= 0.6 * out["tflm_arena_bytes"]
    # engine code: 8 KB (issue 3) for the shipped model's firmware and for the
    # reference kernels; the representative CNN links more operators, and its
    # DSP kernels take more room (speed for code: engine README)
    text_bound = 10 * 1024 if model == "repcnn" else 8 * 1024
    assert 1000 < out["engine_text_bytes"] <= text_bound
    assert out["insns_per_inference"] > out["macs_per_inference"] > 0
    assert out["insns_per_mac"] == pytest.approx(
        out["insns_per_inference"] / out["macs_per_inference"], rel=1e-3
    )
    # the image holds the arena in .bss and fits the board's budgets
    assert out["bss_bytes"] >= out["arena_bytes"]
    assert out["text_bytes"] + out["data_bytes"] <= 128 * 1024
    assert out["data_bytes"] + out["bss_bytes"] <= 64 * 1024
    # times at the stated clock: instructions / 80e6, one instruction per cycle
    assert out["clock_mhz"] == 80.0 and "80 MHz" in out["clock_assumption"]
    assert out["time_per_inference_ms"] == pytest.approx(
        out["insns_per_inference"] / 80e6 * 1e3, rel=1e-3
    )
    assert out["time_per_1024x1024_frame_s"] == pytest.approx(
        63 * 63 * out["time_per_inference_ms"] / 1e3, rel=1e-3
    )
    # the default build is the DSP kernel set; the reference set beside it
    assert out["kernel_set"] == "dsp"
    ref = out["reference_kernels"]
    assert ref["m4_matches_tflm"] is True
    assert ref["insns_per_inference"] > out["insns_per_inference"]
    assert out["speedup_vs_reference"] == pytest.approx(
        ref["insns_per_inference"] / out["insns_per_inference"], rel=1e-2
    )
    assert 1000 < ref["engine_text_bytes"] <= 8 * 1024
    # per layer: every step, both kernel sets, the MACs adding up
    layers = out["layers"]
    assert [row["step"] for row in layers] == list(range(out["steps"]))
    assert sum(row["macs"] for row in layers) == out["macs_per_inference"]
    for row in layers:
        assert row["insns_ref"] > 0 and row["insns_dsp"] > 0, row
        if row["macs"]:
            assert row["insns_per_mac_dsp"] == pytest.approx(
                row["insns_dsp"] / row["macs"], rel=1e-2, abs=1e-3
            )
    # each step timed alone adds up to about the whole inference
    total = sum(row["insns_dsp"] for row in layers)
    assert abs(total - out["insns_per_inference"]) < 80 * out["steps"] + 0.01 * total


def test_bench_engine_shipped_meets_the_dsp_targets() -> None:
    """Issue 8's targets for the shipped classifier: at least 4x fewer instructions
    than the reference kernels (regression guard on the figure reached), within
    the engine code budget, the scratch inside the arena budget."""
    res = CliRunner().invoke(app, ["bench", "engine", "--json", "--model", "shipped",
                                   "--inputs", "2", "--no-stream"])  # fmt: skip
    if res.exit_code == 1 and "no shipped classifier" in res.output:
        pytest.skip("no shipped classifier")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["m4_matches_tflm"] is True
    assert out["speedup_vs_reference"] >= 4.0
    assert out["insns_per_mac"] <= INSNS_PER_MAC_BOUND
    assert out["engine_text_bytes"] <= 8 * 1024
    assert out["arena_bytes"] <= 0.6 * out["tflm_arena_bytes"]
    for row in out["layers"]:
        if row["kernel"] in ("conv2d_s8", "depthwise_conv2d_s8", "fully_connected_s8"):
            assert row["speedup"] > 2.0, row


def test_bench_engine_reports_a_missing_model() -> None:
    res = CliRunner().invoke(app, ["bench", "engine", "--model", "/nonexistent.tflite"])
    assert res.exit_code == 1
    assert "model not found" in res.output


# The streaming executor on the representative cell network, 1024 x 1024 frame, DSP
# kernels (issue 15: <= 1.2 instructions per MAC over the whole model, <= 0.5 G
# instructions per megapixel end to end; the bounds guard the figure reached).
STREAM_INSNS_PER_MAC_BOUND = 1.2
STREAM_INSNS_PER_MP_BOUND = 0.5e9


def test_bench_engine_stream() -> None:
    res = CliRunner().invoke(app, ["bench", "engine", "--json", "--model", "repcnn",
                                   "--inputs", "1"])  # fmt: skip
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert set(out) >= KEYS  # the tile model's figures stay
    st = out["stream"]
    assert st["frame"] == [1024, 1024]
    assert st["m4_matches_tflm"] is True
    assert st["macs"] == pytest.approx(st["macs_per_pixel"] * 1024 * 1024, rel=1e-3)
    assert st["insns_per_mac"] == pytest.approx(st["insns"] / st["macs"], rel=1e-3)
    assert st["insns_per_mac"] <= STREAM_INSNS_PER_MAC_BOUND
    assert st["insns_per_megapixel"] + st["insns_source"] <= STREAM_INSNS_PER_MP_BOUND
    assert st["stack_peak_bytes"] < 2048
    assert sum(row["macs"] for row in st["layers"]) == st["macs"]
    layer_total = sum(row["insns"] for row in st["layers"])
    # the executor's own bookkeeping (a few instructions a row) is outside every layer
    assert 0.97 * st["insns"] <= layer_total <= 1.02 * st["insns"]
    for row in st["layers"]:
        assert row["insns"] > 0 and row["ring_bytes"] > 0, row
    # rings for a 1024-px-wide frame: well under a megabyte of PSRAM
    assert sum(row["ring_bytes"] for row in st["layers"]) < st["scratch_bytes"] < 1 << 20
