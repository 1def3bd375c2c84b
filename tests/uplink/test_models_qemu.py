"""The model manager on the Cortex-M4 flight image under QEMU (triage_fw.elf): the same
telecommands as on the host give the same model flash byte for byte and the same
MODEL_STATUS; a good package switches and runs bit-exact with TFLM; each bad upload is
refused with its reason and counter while the previous model keeps running; a reset
injected in every stage of staging and switching (QEMU restarted from the flash and PSRAM
the reset left) boots a valid model."""

from __future__ import annotations

import numpy as np
import pytest

from tests.uplink.conftest import KEY_ID, tflm_on
from tests.uplink.test_models_host import BAD_CASES, Ground, other_gains_package
from tests.uplink.tiny_net import tiny_cell_tflite
from triage.contract import uplink as ul
from triage.contract.enums import ModelAction, Refusal, Status
from triage.engine import package
from triage.onboard.models import AFTER, TEAR, ModelFlash, ModelManager, run_models_on_qemu

pytestmark = pytest.mark.qemu

COMPARED = ("active", "previous", "trial", "active_model_id", "arsn", "accepted", "commits",
            "fallbacks", "commands", "slot_model_id", "refusals", "active_package_sha256",
            "boot_count", "scratch_capacity", "frame_cols")  # fmt: skip
"""scratch_bytes differs: the executor's per-layer states hold pointers (8 bytes on the host)."""


@pytest.fixture(scope="module")
def elf(m4_image):
    return m4_image("triage_fw")


def _same(host: dict, m4: dict) -> None:
    for k in COMPARED:
        assert host[k] == m4[k], (k, host[k], m4[k])


def test_upload_commit_reset_same_as_host(elf, tmp_path, packages, test_key, probe_frame,
                                          probe_outputs):  # fmt: skip
    gs = Ground(test_key)
    flash0 = ul.model_flash_image({KEY_ID: test_key})
    up = gs.upload(packages["tiny1"].data)
    commit = gs.command(ModelAction.COMMIT, 2)
    q = run_models_on_qemu(
        [("status",), ("tc", up), ("status",), ("run", probe_frame), ("tc", [commit]),
         ("status",)],
        flash0, workdir=tmp_path / "a", elf=elf,
    )  # fmt: skip
    assert q.boot["status"] == Status.OK and q.results[0]["active_slot"] == "NONE"
    assert set(q.results[1]) == {Status.OK}
    assert (q.results[2]["active_slot"], q.results[2]["trial"]) == ("A", 1)
    run = q.results[3]
    assert run["status"] == Status.OK
    assert np.array_equal(run["output"], probe_outputs[2].reshape(-1)), "M4 is not TFLM"
    assert q.results[4] == [Status.OK] and q.results[5]["trial"] == 0
    # the host manager, the same telecommands
    flash = ModelFlash(flash0)
    mm = ModelManager(flash)
    mm.send(up)
    mm.telecommand(commit)
    assert flash.image() == q.flash, "host and M4 model flash differ"
    _same(mm.status(), q.results[5])
    # the ground ingests the MODEL_STATUS product and reports it
    from ground_station.ingest import ingest_bytes
    from ground_station.status import catalogue_status

    ingest_bytes(tmp_path / "cat.sqlite", q.results[5]["packet"])
    ms = catalogue_status(tmp_path / "cat.sqlite")["model_status"]
    assert (ms["active_model_id"], ms["trial"], ms["commits"], ms["refusals"]) == (2, 0, 1, {})
    assert ms["active_model_sha256"] == packages["tiny1"].model_sha256.hex()
    # a reset: the next boot from that flash
    q2 = run_models_on_qemu([("status",), ("run", probe_frame)], q.flash, workdir=tmp_path / "b",
                            elf=elf)  # fmt: skip
    s = q2.results[0]
    assert (s["active_slot"], s["trial"], s["boot_count"], s["boot_fallback"]) == ("A", 0, 2, 0)
    assert np.array_equal(q2.results[1]["output"], probe_outputs[2].reshape(-1))


def test_each_bad_upload_refused_on_m4(elf, tmp_path, packages, models, test_key, other_key,
                                       probe_frame, probe_outputs):  # fmt: skip
    """Every bad case in one boot, each followed by a MODEL_STATUS: one more of its reason's
    counter and nothing else, model 2 still active and bit-exact."""
    gs = Ground(test_key)
    gs.other_key, gs.tiny2 = other_key, packages["tiny2"].data
    gs.replay = gs.upload(packages["tiny1"].data)
    # on the image the representative network fits; a wide tiny network does not
    wide = package.package_model(tiny_cell_tflite(5, 64), model_id=9, created_s=1)
    gs.cellref = wide.data
    gs.abi3 = package.package_model(models["tiny2"], model_id=3, created_s=1, abi=3).data
    gs.cell8 = package.package_model(tiny_cell_tflite(2, pool=4), model_id=3, created_s=1).data
    gs.other_gains = other_gains_package(models["tiny2"], tmp_path)
    outs = [bytearray(v.output) for v in packages["tiny2"].vectors]
    outs[2][5] ^= 0x01
    gs.bad_golden = package.package_model(
        models["tiny2"], model_id=3, created_s=1, golden_outputs=[bytes(o) for o in outs]
    ).data
    ops = [("tc", gs.replay), ("tc", [gs.command(ModelAction.COMMIT, 2)]), ("status",)]
    for name, (_, make, end_pass) in BAD_CASES.items():
        ops.append(("tc", make(gs)))
        if end_pass:
            ops.append(("endpass",))
        ops.append(("status",))
        del name
    ops.append(("run", probe_frame))
    q = run_models_on_qemu(ops, ul.model_flash_image({KEY_ID: test_key}), workdir=tmp_path,
                           elf=elf)  # fmt: skip
    statuses = [r for op, r in zip(ops, q.results, strict=True) if op[0] == "status"]
    prev = statuses[0]
    assert (prev["active_slot"], prev["trial"], sum(prev["refusals"].values())) == ("A", 0, 0)
    for (name, (reason, _, _)), s in zip(BAD_CASES.items(), statuses[1:], strict=True):
        diff = {k: s["refusals"][k] - prev["refusals"][k] for k in s["refusals"]}
        assert {k: v for k, v in diff.items() if v} == {reason.name: 1}, name
        assert s["last_refusal"] == reason, name
        assert (s["active_slot"], s["active_model_id"], s["trial"]) == ("A", 2, 0), name
        prev = s
    assert np.array_equal(q.results[-1]["output"], probe_outputs[2].reshape(-1))
    # the host refuses the same way and ends with the same flash
    flash = ModelFlash(ul.model_flash_image({KEY_ID: test_key}))
    mm = ModelManager(flash)
    for op in ops:
        if op[0] == "tc":
            mm.send(op[1])
        elif op[0] == "endpass":
            mm.end_of_pass()
    assert flash.image() == q.flash
    _same(mm.status(), statuses[-1])


def _stage_points(gs_key: bytes, packets: list[bytes], factory: bytes | None):
    """The scenario's flash operations on the host, by stage: {stage: [first, last]} counted
    from the first of the boot (as the image counts)."""
    flash = ModelFlash.provisioned({KEY_ID: gs_key})
    ModelManager(flash, factory)  # the first boot, as on the image before the drill
    mm = ModelManager(flash.copy(), factory, boot=False)
    mm.boot()
    boot_ops = mm.fault_state().ops
    total = None
    seen: dict[str, list[int]] = {}
    k = 1
    while total is None or k <= total:
        copy = flash.copy()
        m = ModelManager(copy, factory, boot=False)
        m.arm_fault(boot_ops + k, TEAR)
        m.boot()
        m.send(packets)
        st = m.fault_state()
        if not st.fired:
            total = k - 1
            break
        seen.setdefault(st.stage, []).append(boot_ops + k)
        k += 1
    return flash, {s: sorted({v[0], v[-1]}) for s, v in seen.items()}, boot_ops


def test_reset_in_every_stage_boots_a_valid_model_on_m4(elf, tmp_path, packages, test_key,
                                                        probe_frame, probe_outputs):  # fmt: skip
    gs = Ground(test_key)
    packets = [
        *gs.upload(packages["tiny1"].data),
        gs.command(ModelAction.COMMIT, 2),
        *gs.upload(packages["tiny2"].data),
        gs.command(ModelAction.ROLLBACK, 3),
    ]
    flash, points, boot_ops = _stage_points(test_key, packets, None)
    assert {"invalidate", "erase", "program", "switch", "command"} <= set(points)
    drills = [(1, TEAR), (boot_ops, AFTER)]  # the boot record itself
    drills += [(k, mode) for ks in points.values() for k in ks for mode in (TEAR, AFTER)]
    for n, (k, mode) in enumerate(drills):
        work = tmp_path / f"d{n}"
        q = run_models_on_qemu([("tc", packets)], flash.image(), workdir=work, fault=(k, mode),
                               elf=elf)  # fmt: skip
        assert q.reset is not None and q.reset[0] == k, (k, mode, q.stdout[-500:])
        # the host, the same fault: the same flash
        hf = flash.copy()
        hm = ModelManager(hf, None, boot=False)
        hm.arm_fault(k, mode)
        hm.boot()
        if not hm.fault_state().fired:
            hm.send(packets)
        assert hf.image() == q.flash, (k, mode, q.reset)
        # QEMU restarted from the memories the reset left
        q2 = run_models_on_qemu([("status",), ("run", probe_frame)], q.flash,
                                psram=q.dump, workdir=work / "after", elf=elf)  # fmt: skip
        s = q2.results[0]
        assert s["trial"] == 0 and s["boot_count"] in (2, 3), (k, mode, s)
        if s["active_model_id"] == 0:
            # no factory default in this image: no model runs only when the reset came
            # before the first commit was written (a trial found at boot falls back)
            assert s["active_slot"] == "NONE" and s["slot_model_id"]["A"] in (0, 2), (k, mode)
            first_commit = points["command"][0]
            assert k < first_commit or (k == first_commit and mode == TEAR), (k, mode)
            continue
        assert s["active_model_id"] in (2, 3), (k, mode, s)
        want = probe_outputs[s["active_model_id"]].reshape(-1)
        assert np.array_equal(q2.results[1]["output"], want), (k, mode)
        if s["boot_fallback"]:
            assert s["boot_fallback"] in (Refusal.TRIAL_RESET, Refusal.CORRUPT)


def test_bound_package_costs_what_the_compiled_in_model_costs():
    """The benchmark's comparison on a small frame: the package bound from its slot on the
    flight image and the same network compiled into the stream_run image, both bit-exact
    with TFLM, within 2 % of each other (the instruction counts are deterministic)."""
    from triage.onboard.package_bench import run_package_bench

    res = run_package_bench(frame_hw=(64, 96))
    assert res["compiled_in_matches_tflm"] and res["bound_matches_tflm"]
    assert abs(res["bound_vs_compiled_in"] - 1) <= 0.02, res


FACTORY_SEED = 7


@pytest.fixture(scope="module")
def factory_pkg():
    """A tiny cell network as the factory default package (model id 1; 15 KB, beside the
    compiled-in classifier in the 128 KB of code flash)."""
    return package.package_model(tiny_cell_tflite(FACTORY_SEED), model_id=1, created_s=1)


@pytest.fixture(scope="module")
def factory_image(build_dir, factory_pkg):
    """The flight image built with a factory default package compiled in (``triage model
    package --factory-c``) beside the shipped model."""
    import fcntl
    import shutil

    from triage.engine import build
    from triage.engine.package import write_factory_c

    pkg = factory_pkg
    root = build_dir / "uplink-tests" / f"factory-{pkg.sha256.hex()[:12]}"
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        models = root / "models"
        models.mkdir(exist_ok=True)
        shipped = build.firmware_dir().parent / "models" / "shipped"
        for f in shipped.glob("*.[ch]"):
            shutil.copy(f, models / f.name)
        write_factory_c(pkg, models)
        elf = root / "build" / "m4" / "triage_fw.elf"
        build.make(str(elf), root / "build", models)
    return elf


def test_reset_in_every_stage_with_a_factory_default_always_runs_a_model(
    factory_image, factory_pkg, tmp_path, packages, test_key, probe_frame, probe_outputs
):
    """With the factory default compiled in, no reset ever leaves the satellite without a
    model: after each one the model that runs is the factory's or model 2 (committed), and
    its outputs are TFLM's."""
    factory = factory_pkg.data
    probe_outputs = {**probe_outputs, 1: tflm_on(tiny_cell_tflite(FACTORY_SEED), probe_frame)}
    gs = Ground(test_key)
    packets = [
        *gs.upload(packages["tiny1"].data),
        gs.command(ModelAction.COMMIT, 2),
        *gs.upload(packages["tiny2"].data),
        gs.command(ModelAction.ROLLBACK, 3),
    ]
    flash, points, boot_ops = _stage_points(test_key, packets, factory)
    q0 = run_models_on_qemu([("status",)], flash.image(), workdir=tmp_path / "q0",
                            elf=factory_image)  # fmt: skip
    assert q0.results[0]["active_slot"] == "FACTORY" and q0.results[0]["active_model_id"] == 1
    drills = [(k, mode) for ks in points.values() for k in ks for mode in (TEAR, AFTER)]
    seen = set()
    for n, (k, mode) in enumerate(drills):
        work = tmp_path / f"d{n}"
        q = run_models_on_qemu([("tc", packets)], flash.image(), workdir=work, fault=(k, mode),
                               elf=factory_image)  # fmt: skip
        assert q.reset is not None and q.reset[0] == k, (k, mode)
        q2 = run_models_on_qemu([("status",), ("run", probe_frame)], q.flash, psram=q.dump,
                                workdir=work / "after", elf=factory_image)  # fmt: skip
        s = q2.results[0]
        assert s["active_model_id"] in (1, 2, 3) and s["trial"] == 0, (k, mode, s)
        want = probe_outputs[s["active_model_id"]].reshape(-1)
        assert np.array_equal(q2.results[1]["output"], want), (k, mode)
        seen.add(s["active_model_id"])
    # model 3 is only ever on trial (then rolled back): a reset during a trial falls back
    assert seen == {1, 2}
    del boot_ops


def test_frames_are_classified_by_the_uplinked_model(elf, tmp_path, packages, test_key):
    """The frame pipeline follows the model manager: a frame before the upload is classified
    by the compiled-in cell network (model 0), the same frame after it by the uplinked
    package (model 2); the ground's catalogue records which model classified each frame's
    products (FRAME_SUMMARY), and the two models' per-cell decisions differ."""
    from ground_station.ingest import ingest_bytes
    from ground_station.status import catalogue_status
    from triage.onboard.meta import FrameMeta

    rng = np.random.default_rng(3)
    frame = rng.integers(0, 4000, (64, 96, 4)).astype(np.uint16)
    gs = Ground(test_key)
    q = run_models_on_qemu(
        [
            ("frame", frame, FrameMeta.for_frame(frame, frame_id=1)),
            ("tc", gs.upload(packages["tiny1"].data)),
            ("frame", frame, FrameMeta.for_frame(frame, frame_id=2)),
            ("downlink", 4_000_000),
        ],
        ul.model_flash_image({KEY_ID: test_key}),
        workdir=tmp_path,
        elf=elf,
    )
    assert q.results[0]["status"] == 0 and q.results[2]["status"] == 0
    assert set(q.results[1]) == {Status.OK}
    ingest_bytes(tmp_path / "cat.sqlite", q.results[3]["data"])
    models = {m["model_id"]: m for m in catalogue_status(tmp_path / "cat.sqlite")["models"]}
    assert set(models) == {0, 2}
    assert models[2]["model_sha256"] == packages["tiny1"].model_sha256.hex()
    assert models[0]["frames"] == models[2]["frames"] == 1
    # the frame records (report and cell grid) differ: another model decided
    assert q.results[0]["data"] != q.results[2]["data"]
