"""``triage bench engine --json``: one JSON object with every figure the
issue asks for; the shipped-model budgets (arena <= 60 % of TFLM's, engine
code <= 8 KB) are checked as memory-budget regressions."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from triage.cli import app

pytestmark = pytest.mark.qemu

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
    res = CliRunner().invoke(app, ["bench", "engine", "--json", "--model", model, "--inputs", "2"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert set(out) >= KEYS
    assert out["m4_matches_tflm"] is True
    assert out["arena_bytes"] <= 0.6 * out["tflm_arena_bytes"]
    assert 1000 < out["engine_text_bytes"] <= 8 * 1024
    assert out["insns_per_inference"] > out["macs_per_inference"] > 0
    assert out["insns_per_mac"] == pytest.approx(
        out["insns_per_inference"] / out["macs_per_inference"], rel=1e-3
    )
    # the image holds the arena in .bss and fits the board's budgets
    assert out["bss_bytes"] >= out["arena_bytes"]
    assert out["text_bytes"] + out["data_bytes"] <= 128 * 1024
    assert out["data_bytes"] + out["bss_bytes"] <= 64 * 1024


def test_bench_engine_reports_a_missing_model() -> None:
    res = CliRunner().invoke(app, ["bench", "engine", "--model", "/nonexistent.tflite"])
    assert res.exit_code == 1
    assert "model not found" in res.output
