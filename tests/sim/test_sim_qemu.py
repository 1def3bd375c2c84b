"""--target qemu: the run's firmware operations on the Cortex-M4 image give the host's bytes."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from ground_station.status import catalogue_status
from triage.contract import paths
from triage.contract.packets import split_packets
from triage.sim.build import build_real_manifest, build_synthetic_set
from triage.sim.classifiers import load_classifiers
from triage.sim.manifest import PacketLoss, dump_manifest
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


def _toolchain_or_skip() -> None:
    missing = [t for t in ("qemu-system-arm", "arm-none-eabi-gcc") if shutil.which(t) is None]
    if missing:
        pytest.skip(f"{' and '.join(missing)} not installed: no Cortex-M4 image to run")


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*.bin"))}


@pytest.mark.qemu
@pytest.mark.realdata
def test_qemu_runs_the_fold_model_of_a_port_frame(data_dir, tmp_path, m4_image):
    """A marseille frame on the fold model that never saw marseille (the leave-ports-out
    folds of the evaluation, triage_models.folds.FOLDS): the Cortex-M4 image boots that
    model's package from its model flash and gives the host target's bytes; the ground
    reads the fold model's id and .tflite hash in the frame's FRAME_SUMMARY."""
    _toolchain_or_skip()
    m4_image("triage_fw")
    sys.path.insert(0, str(paths.models_dir()))
    from triage_models.folds import FOLDS

    fold = next(f"fold{k + 1}" for k, f in enumerate(FOLDS) if "marseille" in f.frames)
    tflite = Path(load_classifiers().get(fold).tflite)
    want_sha = hashlib.sha256(tflite.read_bytes()).hexdigest()

    manifest, _ = build_real_manifest(data_dir, ports=("marseille",))
    frame = min(manifest.frames, key=lambda f: f.window.rows * f.window.cols)
    end = frame.capture_time_utc + timedelta(hours=12)
    manifest = manifest.model_copy(update={"frames": [frame], "window_end_utc": end})
    path = tmp_path / "marseille.json"
    dump_manifest(manifest, path)

    runs = {}
    for target in ("host", "qemu"):
        out, streams = tmp_path / target, tmp_path / f"{target}-streams"
        runs[target] = run_simulation(path, out, target=target, keep_streams=streams)
        met = json.loads((out / "metrics.json").read_text())
        (f,) = met["per_frame"]
        assert (f["model"], f["sample"], f["model_sha256"]) == (fold, "out-of-sample", want_sha)
        # the ground's catalogue, from the FRAME_SUMMARY the satellite sent
        (model,) = catalogue_status(out / "ground" / "catalogue.sqlite")["models"]
        assert (model["model_id"], model["model_sha256"]) == (f["model_id"], want_sha)
        assert model["model_id"] != 0  # not the compiled-in model
    q = runs["qemu"]
    assert q.onboard["m4_operations"] == 1 + 2 * len(q.passes)
    assert q.frames[0].m4_insns > 0
    # the frame record and every pass's stream, byte for byte
    host_streams, qemu_streams = (
        _files(tmp_path / "host-streams"),
        _files(tmp_path / "qemu-streams"),
    )
    assert host_streams and host_streams == qemu_streams
    h, m = runs["host"].frames[0], q.frames[0]
    assert (h.cells_by_class, h.cells_discarded_by_class, h.product_bytes) == (
        m.cells_by_class,
        m.cells_discarded_by_class,
        m.product_bytes,
    )


def _small_set(tmp_path: Path, make_passes, *, n_scenes: int, seed: int) -> Path:
    """``n_scenes`` synthetic 96 x 128 frames, two ships each, two 3-minute passes."""
    return build_synthetic_set(
        tmp_path / "set",
        n_scenes=n_scenes,
        rows=96,
        cols=128,
        seed=seed,
        ships_per_scene=2,
        explicit_passes=make_passes(n=2, minutes=3.0),
        sim_span=timedelta(hours=6),
    )


@pytest.mark.qemu
def test_qemu_target_with_a_fold_model_matches_host(tmp_path, m4_image, make_passes):
    """Synthetic frames (no data folder needed) on a fold model's package: the same streams
    on both targets, and every FRAME_SUMMARY names that model, not the compiled-in one."""
    m4_image("triage_fw")
    manifest = _small_set(tmp_path, make_passes, n_scenes=1, seed=43)
    want_sha = hashlib.sha256(Path(load_classifiers().get("fold2").tflite).read_bytes())
    for target in ("host", "qemu"):
        run_simulation(
            manifest,
            tmp_path / target,
            target=target,
            model="fold2",
            keep_streams=tmp_path / f"{target}-streams",
        )
        (model,) = catalogue_status(tmp_path / target / "ground" / "catalogue.sqlite")["models"]
        assert model["model_sha256"] == want_sha.hexdigest() and model["model_id"] != 0
    host_streams = _files(tmp_path / "host-streams")
    assert host_streams and host_streams == _files(tmp_path / "qemu-streams")


@pytest.mark.qemu
def test_qemu_runs_frames_of_several_models_in_one_boot(tmp_path, m4_image, make_passes):
    """Three synthetic frames on fold2's package, fold5's and the compiled-in model, in
    that order: one boot of the Cortex-M4 image, the model flash programmed again between
    frames (the image's ``load`` step); the same streams on both targets, and the ground
    catalogues each frame under the model that classified it."""
    m4_image("triage_fw")
    manifest = _small_set(tmp_path, make_passes, n_scenes=3, seed=47)
    doc = json.loads(manifest.read_text())
    frames = sorted(doc["frames"], key=lambda f: f["capture_time_utc"])
    for f, name in zip(frames, ("fold2", "fold5", "shipped"), strict=True):
        f["model"] = name
    path = manifest.parent / "three_models.json"
    path.write_text(json.dumps(doc))
    reg = load_classifiers()
    want = {
        name: hashlib.sha256(Path(reg.get(name).tflite).read_bytes()).hexdigest()
        for name in ("fold2", "fold5")
    }
    runs = {}
    for target in ("host", "qemu"):
        runs[target] = run_simulation(
            path, tmp_path / target, target=target, keep_streams=tmp_path / f"{target}-streams"
        )
        met = json.loads((tmp_path / target / "metrics.json").read_text())
        by_frame = {f["frame_id"]: f["model"] for f in met["per_frame"]}
        assert [by_frame[f["frame_id"]] for f in frames] == ["fold2", "fold5", "shipped"]
        models = catalogue_status(tmp_path / target / "ground" / "catalogue.sqlite")["models"]
        got = {m["model_sha256"]: m["model_id"] for m in models}
        assert set(want.values()) <= set(got) and 0 in got.values(), models
    q = runs["qemu"]
    # the frames, two loads (fold5, then the compiled-in model), a directory and a
    # downlink per pass
    assert q.onboard["m4_operations"] == 3 + 2 + 2 * len(q.passes)
    assert all(f.m4_insns > 0 for f in q.frames)
    host_streams = _files(tmp_path / "host-streams")
    assert host_streams and host_streams == _files(tmp_path / "qemu-streams")


@pytest.mark.qemu
def test_qemu_target_runs_a_constellation_one_boot_per_satellite(tmp_path, m4_image):
    """Two satellites on the Cortex-M4 image: one boot each, the second setting its own
    spacecraft id first (the image's ``link`` step); every kept stream of both identical to
    the host run's, and each satellite's packets name its own id."""
    m4_image("triage_fw")
    manifest = build_synthetic_set(
        tmp_path / "set", n_scenes=2, rows=96, cols=128, seed=53, ships_per_scene=2,
        sim_span=timedelta(days=2),
    )  # fmt: skip
    doc = json.loads(manifest.read_text())
    doc["orbit"]["satellites"] = 2
    path = manifest.parent / "two.json"
    path.write_text(json.dumps(doc))
    runs = {}
    for target in ("host", "qemu"):
        runs[target] = run_simulation(
            path, tmp_path / target, target=target, keep_streams=tmp_path / f"{target}-streams"
        )
    q = runs["qemu"]
    assert {p.satellite for p in q.passes} == {0, 1}
    # the frames, the second satellite's link step, a directory and a downlink per pass
    assert q.onboard["m4_operations"] == len(q.frames) + 1 + 2 * len(q.passes)
    assert any("2 boots (one per satellite)" in n for n in q.notes)
    host_streams = _files(tmp_path / "host-streams")
    assert host_streams == _files(tmp_path / "qemu-streams")
    for name, data in host_streams.items():
        if name.startswith(("sat-1/pass-", "sat-2/pass-")):
            want = 0x1A7 if name.startswith("sat-1") else 0x1A8
            # the secondary header's last field: the spacecraft id (big-endian u16)
            assert {int.from_bytes(p[34:36], "big") for p in split_packets(data)} == {want}
