"""The model-update scenario (triage.sim.model_update) on a small real run: honolulu, a port
of leave-ports-out fold 4, imaged twice; the v0 fold 4 model flies at launch, the v2 fold 4
model goes up as a package between the visits.

Expected values come from outside the simulator: the SHA-256 of each .tflite and of the
package file (hashlib), the capture times against the uplink pass's acquisition of signal,
and the model of each frame as the ground station's catalogue decoded it from the frame's
FRAME_SUMMARY."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest

from triage.contract import paths as contract_paths
from triage.contract.model_package import parse_package, u16
from triage.contract.policy import prob_to_min_q
from triage.sim.errors import ManifestError
from triage.sim.manifest import dump_manifest, load_manifest
from triage.sim.model_update import build_manifest
from triage.sim.runner import run_simulation

pytestmark = pytest.mark.realdata

MODELS = contract_paths.repo_root() / "models"
LAUNCH = MODELS / "folds_v0" / "cellfold_4.tflite"
UPLINKED = MODELS / "folds" / "cellfold_4.tflite"


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def scenario(data_dir, tmp_path_factory) -> Path:
    """The scenario's manifest cut to the honolulu frames (one 316 x 424 frame per visit)."""
    folder = tmp_path_factory.mktemp("model-update")
    path = build_manifest(
        folder, fold=4, launch="v0fold4", uplinked_tflite=UPLINKED, data_dir=data_dir
    )
    m = load_manifest(path)
    frames = [f for f in m.frames if f.scene == "honolulu"]
    assert len(frames) == 2
    end = max(f.capture_time_utc for f in frames)
    m = m.model_copy(update={"frames": frames, "window_end_utc": end.replace(hour=23)})
    dump_manifest(m, path)
    return path


def _variant(scenario: Path, name: str, **changes) -> Path:
    m = load_manifest(scenario)
    mu = m.onboard.model_update.model_copy(update=changes)
    out = scenario.with_name(f"{name}.json")
    dump_manifest(
        m.model_copy(update={"onboard": m.onboard.model_copy(update={"model_update": mu})}), out
    )
    return out


def _frame_models(run: Path) -> dict[int, tuple[int, str]]:
    """Per frame, the model id and .tflite hash of its FRAME_SUMMARY in the ground's
    catalogue."""
    con = sqlite3.connect(run / "ground" / "catalogue.sqlite")
    try:
        rows = con.execute("SELECT frame_id, model_id, model_sha256 FROM frame_models").fetchall()
    finally:
        con.close()
    return {fid: (mid, h) for fid, mid, h in rows}


def _capture_times(scenario: Path) -> dict[int, datetime]:
    return {f.frame_id: f.capture_time_utc for f in load_manifest(scenario).frames}


def test_uplinked_model_classifies_the_frames_after_its_pass(scenario, tmp_path):
    run = tmp_path / "run"
    run_simulation(scenario, run, write_html=False)
    metrics = json.loads((run / "metrics.json").read_text())
    mu = metrics["model_update"]
    k = load_manifest(scenario).onboard.model_update.pass_index
    aos = datetime.fromisoformat(next(q["aos_utc"] for q in mu["passes"] if q["pass"] == k))
    times = _capture_times(scenario)
    before = [fid for fid, t in times.items() if t < aos]
    after = [fid for fid, t in times.items() if t >= aos]
    assert before and after
    # what the ground decoded from each frame's FRAME_SUMMARY
    got = _frame_models(run)
    assert {fid: got[fid][1] for fid in before} == {fid: sha(LAUNCH) for fid in before}
    assert {fid: got[fid][1] for fid in after} == {fid: sha(UPLINKED) for fid in after}
    # the ids are the registry's: 1 + the classifier's position in models/classifiers.json
    listed = [
        c["name"] for c in json.loads((MODELS / "classifiers.json").read_text())["classifiers"]
    ]
    assert {got[fid][0] for fid in before} == {1 + listed.index("v0fold4")}
    assert {got[fid][0] for fid in after} == {1 + listed.index("fold4")}
    # the package that went up is the file the manifest names; the switch came in its pass
    pkg = scenario.with_name("uplink.tpkg")
    # it decides with fold 4's own policy (chosen on the other folds: the scenario's ports
    # are fold 4's), read back from its MODEL_SPEC against the registry's policy file
    fold4 = json.loads((MODELS / "folds" / "policy_4.json").read_text())
    spec = parse_package(pkg.read_bytes()).spec
    assert spec["ship_crop_min_q"] == u16(prob_to_min_q(fold4["ship_crop_min_prob"]))
    assert mu["uplinked_model"]["package_sha256"] == sha(pkg)
    switch = [e for e in mu["events"] if e["event"] == "switch"]
    assert [e["pass"] for e in switch] == [k]
    # the upload's packets on the ground's packet file, and their seconds at 9.6 kbit/s
    upload = next(e for e in mu["events"] if e["event"] == "upload")
    schedule = json.loads((run / upload["packet_file"]).with_suffix(".tc.json").read_text())
    assert schedule["package_sha256"] == sha(pkg)
    assert mu["uplink"]["seconds"] == pytest.approx(8 * schedule["link_bytes"] / 9600, abs=0.01)
    assert mu["uplink"]["seconds"] < mu["uplink"]["pass_seconds"]
    # the MODEL_STATUS the ground received: the launch model before, the new one on trial
    # in the next pass, committed after that
    status = {q["pass"]: q["model_status_received"] for q in mu["passes"]}
    assert status[k]["active_model_sha256"] == sha(LAUNCH)
    assert (status[k + 1]["active_model_sha256"], status[k + 1]["trial"]) == (sha(UPLINKED), 1)
    assert (status[k + 2]["active_model_sha256"], status[k + 2]["trial"]) == (sha(UPLINKED), 0)
    assert mu["before"]["model"] == "v0fold4" and mu["after"]["model"] == "fold4"
    assert mu["before"]["ships_imaged"] == mu["after"]["ships_imaged"] > 0


def test_tampered_uplink_keeps_the_launch_model(scenario, tmp_path):
    bad = _variant(scenario, "tampered", tamper_byte=4000)
    run = tmp_path / "run"
    run_simulation(bad, run, write_html=False)
    mu = json.loads((run / "metrics.json").read_text())["model_update"]
    got = _frame_models(run)
    assert {h for _, h in got.values()} == {sha(LAUNCH)}  # every frame, after the pass too
    assert not mu["uplink"]["switched"]
    k = load_manifest(bad).onboard.model_update.pass_index
    after = next(q["model_status_received"] for q in mu["passes"] if q["pass"] == k + 1)
    assert after["active_model_sha256"] == sha(LAUNCH)
    assert sum(after["refusals"].values()) >= 1  # counted by reason on board
    assert not any(e["event"] == "commit" for e in mu["events"])


@pytest.mark.parametrize(
    ("item", "changes"),
    [
        ("package", {"package": "no-such.tpkg"}),
        ("key_file", {"key_file": "uplink.tpkg"}),  # not a key file
        ("launch_model", {"launch_model": "no_such_model"}),
    ],
)
def test_bad_model_update_is_refused_naming_the_item(scenario, tmp_path, item, changes):
    bad = _variant(scenario, f"bad-{item}", **changes)
    with pytest.raises(ManifestError, match=f"onboard.model_update.{item}"):
        run_simulation(bad, tmp_path / "run", write_html=False)
    assert not (tmp_path / "run").exists()
