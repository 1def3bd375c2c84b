"""--target qemu: the run's firmware operations on the Cortex-M4 image give the host's bytes."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from triage.sim.build import build_synthetic_set
from triage.sim.manifest import PacketLoss
from triage.sim.runner import run_simulation


@pytest.mark.qemu
def test_qemu_target_matches_host(tmp_path, m4_image, make_passes):
    m4_image("triage_fw")  # fails clearly when the image is not built
    manifest = build_synthetic_set(
        tmp_path / "set",
        n_scenes=1,
        rows=96,
        cols=128,
        seed=41,
        ships_per_scene=2,
        explicit_passes=make_passes(n=3, minutes=3.0),
        sim_span=timedelta(hours=9),
        loss=PacketLoss(model="bernoulli", loss_probability=0.05, seed=2),
    )
    host = run_simulation(manifest, tmp_path / "host", target="host")
    qemu = run_simulation(manifest, tmp_path / "qemu", target="qemu")
    mh = json.loads((tmp_path / "host" / "metrics.json").read_text())
    mq = json.loads((tmp_path / "qemu" / "metrics.json").read_text())
    g = mq["onboard"]
    # 1 frame + a directory and a downlink per pass
    assert g["m4_operations"] == 1 + 2 * len(qemu.passes)
    assert g["m4_frame_instructions_total"] > 0
    assert qemu.frames[0].m4_insns == g["m4_frame_instructions_total"]
    for k in ("sent_bytes", "ships_delivered", "packets_sent", "packets_lost"):
        assert mq[k] == mh[k]
    assert [t.sent_bytes for t in qemu.modes["triage"].traffic] == [
        t.sent_bytes for t in host.modes["triage"].traffic
    ]
