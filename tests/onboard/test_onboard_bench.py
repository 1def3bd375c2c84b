"""``triage bench onboard --json`` on a real port scene under QEMU (-icount shift=0): the
per-stage instructions per megapixel add up to the whole, the host build gives the same
bytes, the budgets hold, and each stage stays within the bound the throughput issue reached
(<= 0.5 G instructions per megapixel end to end over the ten ports; marseille is a typical
port). Bounds on deterministic instruction counts, not timings."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from triage.cli import app

pytestmark = [pytest.mark.qemu, pytest.mark.realdata]

# Figures reached on marseille (2.34 MP, 3 frames): 440 M instructions per megapixel, of
# which preprocessing 72.6 M, inference 239.7 M, products 127.0 M.
BOUND_PER_MP = 0.5e9
STAGE_BOUNDS = {"preprocess": 0.08e9, "inference": 0.25e9, "products": 0.15e9}


def test_bench_onboard_stages_and_bounds(data_dir):
    res = CliRunner().invoke(app, ["bench", "onboard", "--json", "--port", "marseille"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["host_identical"] is True
    assert all(s == 0 for s in out["frame_status"])
    stages = out["stages"]
    assert set(stages) == {
        "checks", "preprocess", "inference", "decide", "regions", "products", "downlink"
    }  # fmt: skip
    total = sum(s["insns"] for s in stages.values())
    # every operation's instructions but the calls' entry and exit are in a stage; the
    # passes' downlink is outside the frames' total
    assert 0.99 * out["insns_total"] <= total - stages["downlink"]["insns"] <= out["insns_total"]
    mp = out["megapixels"]
    assert out["insns_per_megapixel"] == pytest.approx(out["insns_total"] / mp, rel=1e-3)
    assert out["insns_per_megapixel"] <= BOUND_PER_MP
    for stage, bound in STAGE_BOUNDS.items():
        assert stages[stage]["insns_per_megapixel"] <= bound, stage
    # times at the stated clock, one instruction per cycle
    assert out["time_per_megapixel_s"] == pytest.approx(
        out["insns_per_megapixel"] / (out["clock_mhz"] * 1e6), rel=1e-3
    )
    # the image's budgets as linked
    assert out["flash_bytes"] <= 128 * 1024 and out["ram_bytes"] <= 64 * 1024
    assert out["stack_peak_bytes"] < out["stack_reserved_bytes"]
