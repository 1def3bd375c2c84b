"""The model package and the model manager of the host build (tri_package.c, tri_models.c,
tri_uplink.c): a package binds at run time bit-exact with TFLM; a good upload goes on trial
and is committed, rolled back or replaced; every bad one is refused with its reason and
counter while the previous model keeps running; a reset at every flash operation of staging
and switching (torn or completed) boots a valid model."""

from __future__ import annotations

import ctypes
import json
import zlib
from pathlib import Path

import numpy as np
import pytest

from ground_station.frames import Receiver
from tests.uplink.conftest import KEY_ID, tflm_on
from tests.uplink.tiny_net import tiny_cell_tflite
from triage.contract import model_package as mp
from triage.contract import paths as contract_paths
from triage.contract import uplink as ul
from triage.contract.enums import ModelAction, Refusal, Slot, Status
from triage.contract.errors import PackageError
from triage.contract.tile_spec import load_tile_spec
from triage.engine import package
from triage.onboard import _lib
from triage.onboard.host import Onboard
from triage.onboard.models import AFTER, TEAR, ModelFlash, ModelManager, _lib_models

SMALL_SCRATCH = 100_000
"""Holds the tiny networks' scratch at 1024 px, not the representative network's."""


class Ground:
    """Seals units with increasing sequence numbers, as the ground segment does."""

    def __init__(self, key: bytes, key_id: int = KEY_ID, arsn: int = 10) -> None:
        self.key, self.key_id, self.arsn = key, key_id, arsn

    def next_arsn(self) -> int:
        self.arsn += 1
        return self.arsn

    def upload(self, data: bytes, arsn: int | None = None) -> list[bytes]:
        unit = ul.seal_unit(data, key=self.key, key_id=self.key_id, arsn=arsn or self.next_arsn())
        return ul.upload_packets(unit)

    def other(self, key: bytes, key_id: int) -> list[bytes]:
        """The tiny2 package sealed with another key or key id."""
        return Ground(key, key_id, self.arsn + 5).upload(self.tiny2)

    def command(self, action, model_id: int, arsn: int | None = None) -> bytes:
        return ul.command_packet(action, model_id, key=self.key, key_id=self.key_id,
                                 arsn=arsn or self.next_arsn())  # fmt: skip


def refusals(mm: ModelManager) -> dict[str, int]:
    return {k: v for k, v in mm.status()["refusals"].items() if v}


def assert_runs(mm: ModelManager, model_id: int, probe_frame, probe_outputs) -> None:
    s = mm.status()
    assert s["active_model_id"] == model_id
    out = mm.run(probe_frame)
    assert np.array_equal(out, probe_outputs[model_id]), f"model {model_id} is not TFLM's"


# ---------------------------------------------------------------- the package


def test_package_sections_and_golden_vectors_are_tflm(packages, models):
    pkg = packages["cellref"]
    h = pkg.header
    assert h["package_bytes"] == len(pkg.data)
    assert int.from_bytes(pkg.data[-4:], "big") == zlib.crc32(pkg.data[:-4])
    for name in ("plan", "spec", "vectors"):
        assert h[f"{name}_offset"] % 8 == 0
    assert pkg.plan_info.header["abi"] == mp.ENGINE_ABI
    # the golden outputs are TFLM's on the golden frames (recomputed here)
    rows, cols = h["vector_rows"], h["vector_cols"]
    for v in pkg.vectors:
        frame = np.frombuffer(v.frame, np.int8).reshape(rows, cols, 4)
        assert (
            np.frombuffer(v.output, np.int8).tobytes()
            == tflm_on(models["cellref"], frame).tobytes()
        )
    assert len({v.output for v in pkg.vectors}) == len(pkg.vectors)


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda d: d[:-1], "says"),
        (lambda d: d[:200] + bytes([d[200] ^ 1]) + d[201:], "CRC-32"),
        (lambda d: b"XXXX" + d[4:], "magic"),
    ],
)
def test_python_parser_refuses(packages, damage, message):
    with pytest.raises(PackageError, match=message):
        mp.parse_package(damage(packages["tiny1"].data))


# ---------------------------------------------------------------- bind at run time


def test_factory_package_binds_bit_exact_with_tflm(packages, models, test_key, probe_frame,
                                                   probe_outputs):  # fmt: skip
    flash = ModelFlash.provisioned({KEY_ID: test_key})
    mm = ModelManager(flash, packages["cellref"].data)
    assert mm.boot_status == Status.OK
    s = mm.status()
    assert (s["active_slot"], s["trial"], s["boot_count"]) == ("FACTORY", 0, 1)
    assert s["active_model_sha256"] == packages["cellref"].model_sha256.hex()
    assert s["active_package_sha256"] == packages["cellref"].sha256.hex()
    assert_runs(mm, 1, probe_frame, probe_outputs)
    # a strip as wide as the widest frame the image streams
    strip = np.random.default_rng(5).integers(-128, 128, (32, 1024, 4)).astype(np.int8)
    assert np.array_equal(mm.run(strip), tflm_on(models["cellref"], strip))
    assert 0 < s["scratch_bytes"] <= s["scratch_capacity"] and s["frame_cols"] == 1024


# ---------------------------------------------------------------- switching


@pytest.fixture
def sat(packages, test_key):
    """A satellite with the factory default, booted once, and its ground."""
    flash = ModelFlash.provisioned({KEY_ID: test_key})
    return flash, ModelManager(flash, packages["cellref"].data), Ground(test_key)


def test_good_upload_trial_commit_rollback_factory(sat, packages, probe_frame, probe_outputs):
    flash, mm, gs = sat
    assert set(mm.send(gs.upload(packages["tiny1"].data))) == {Status.OK}
    s = mm.status()
    assert (s["active_slot"], s["previous"], s["trial"], s["accepted"]) == ("A", Slot.FACTORY, 1, 1)
    assert s["slot_model_id"] == {"FACTORY": 1, "A": 2, "B": 0}
    assert_runs(mm, 2, probe_frame, probe_outputs)
    assert mm.telecommand(gs.command(ModelAction.COMMIT, 2)) == Status.OK
    assert mm.status()["trial"] == 0
    # a reset: the committed model stays
    mm = ModelManager(flash, packages["cellref"].data)
    s = mm.status()
    assert (s["active_slot"], s["trial"], s["boot_count"], s["boot_fallback"]) == ("A", 0, 2, 0)
    assert_runs(mm, 2, probe_frame, probe_outputs)
    # the next model goes to the other slot; rolled back, model 2 runs again
    assert set(mm.send(gs.upload(packages["tiny2"].data))) == {Status.OK}
    s = mm.status()
    assert (s["active_slot"], s["previous"], s["trial"]) == ("B", Slot.A, 1)
    assert_runs(mm, 3, probe_frame, probe_outputs)
    assert mm.telecommand(gs.command(ModelAction.ROLLBACK, 3)) == Status.OK
    s = mm.status()
    assert (s["active_slot"], s["trial"], s["fallbacks"]) == ("A", 0, 1)
    assert_runs(mm, 2, probe_frame, probe_outputs)
    assert mm.telecommand(gs.command(ModelAction.FACTORY, 0)) == Status.OK
    assert_runs(mm, 1, probe_frame, probe_outputs)
    assert refusals(mm) == {}


def test_reset_during_trial_falls_back(sat, packages, probe_frame, probe_outputs):
    flash, mm, gs = sat
    assert set(mm.send(gs.upload(packages["tiny1"].data))) == {Status.OK}
    mm = ModelManager(flash, packages["cellref"].data)
    s = mm.status()
    assert (s["active_slot"], s["trial"], s["boot_fallback"]) == ("FACTORY", 0, Refusal.TRIAL_RESET)
    assert refusals(mm) == {"TRIAL_RESET": 1}
    assert_runs(mm, 1, probe_frame, probe_outputs)


def test_slot_corrupted_in_flash_falls_back_at_boot(sat, packages, probe_frame, probe_outputs):
    flash, mm, gs = sat
    mm.send(gs.upload(packages["tiny1"].data))
    mm.telecommand(gs.command(ModelAction.COMMIT, 2))
    flash.buf[ul.FLASH_AREA["slot_a"].offset + 500] ^= 0x10  # a bit flips in slot A
    mm = ModelManager(flash, packages["cellref"].data)
    assert mm.status()["boot_fallback"] == Refusal.CORRUPT
    assert refusals(mm) == {"CORRUPT": 1}
    assert_runs(mm, 1, probe_frame, probe_outputs)


# ---------------------------------------------------------------- refusals


def _tampered(gs):
    pk = gs.upload(gs.tiny2)
    p = bytearray(pk[3])
    p[400] ^= 0x01
    p[-2:] = ul.crc16(bytes(p[:-2])).to_bytes(2, "big")  # a valid packet: only the MAC tells
    return [*pk[:3], bytes(p), *pk[4:]]


def _signed_bad_crc(gs):
    d = bytearray(gs.tiny2)
    d[300] ^= 0x40
    return gs.upload(bytes(d))


def _bad_first_header(gs):
    """The first segment's sequence flags say 'continuation': refused, and the upload's
    later segments dropped without being counted again."""
    pk = gs.upload(gs.tiny2)
    p = bytearray(pk[0])
    p[2] &= 0x3F
    p[-2:] = ul.crc16(bytes(p[:-2])).to_bytes(2, "big")
    return [bytes(p), *pk[1:]]


def _needs_a_kernel(gs):
    """tiny2 repackaged with its plan naming a layer kind past this image's four (kernels bit
    4): a plan for a newer engine."""
    pkg = mp.parse_package(gs.tiny2)
    plan = bytearray(pkg.plan)
    at = mp.PLAN_HEADER.field("kernels").offset
    plan[at : at + 2] = (int.from_bytes(plan[at : at + 2], "big") | 0x10).to_bytes(2, "big")
    h = pkg.header
    data = mp.build_package(
        model_id=3, created_s=1, model_sha256=pkg.model_sha256, plan=bytes(plan),
        spec=mp.MODEL_SPEC.pack(pkg.spec), vectors=pkg.vectors,
        vector_hw=(h["vector_rows"], h["vector_cols"]), scratch_bytes=h["scratch_bytes"],
        scratch_cols=h["scratch_cols"],
    )  # fmt: skip
    return gs.upload(data)


OTHER_GAIN_BAND = 2


def other_gains_package(tflite: bytes, work: Path) -> bytes:
    """The package of a network trained with another gain for one band: the shipped tile
    spec with the default source's Q8 gain of band OTHER_GAIN_BAND raised by a quarter (256
    -> 320: a sensor whose DNs in that band are reflectance x 52428, not x 65535), packaged
    by the ground's packager from that file."""
    spec = json.loads(contract_paths.tile_spec_path().read_text())
    gains = spec["gain_q8"][spec["default_gain_source"]]
    gains[OTHER_GAIN_BAND] += gains[OTHER_GAIN_BAND] // 4
    path = Path(work) / "other-gains" / "tile_spec.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(spec, indent=2))
    pkg = package.package_model(tflite, model_id=3, created_s=1, spec=load_tile_spec(path),
                                spec_path=path)  # fmt: skip
    return pkg.data


def test_other_gains_package_differs_only_in_one_gain(packages, models, tmp_path):
    """The other-gains case below is what the issue describes: the same network, plan and
    golden vectors as tiny2 (the vectors would pass on board: they start from preprocessed
    inputs), its MODEL_SPEC another gain for one band, and nothing else but the tile spec's
    hash."""
    good = packages["tiny2"]
    other = mp.parse_package(other_gains_package(models["tiny2"], tmp_path))
    assert other.plan == good.plan and other.vectors == good.vectors
    diff = {k for k in good.spec if other.spec[k] != good.spec[k]}
    assert diff == {"gain_q8", "tile_spec_sha256"}
    g0, g1 = good.spec["gain_q8"], other.spec["gain_q8"]
    assert [b for b in range(len(g0)) if g0[b] != g1[b]] == [OTHER_GAIN_BAND]
    assert (g0[OTHER_GAIN_BAND], g1[OTHER_GAIN_BAND]) == (256, 320)


def _reordered(gs):
    p = gs.upload(gs.tiny2)
    return [p[0], p[2], p[1], *p[3:]]


ROLLBACK = ModelAction.ROLLBACK
BAD_CASES = {
    # name: (reason, the packets, end the pass after them)
    "tampered byte": (Refusal.MAC, _tampered, False),
    "wrong key": (Refusal.MAC, lambda gs: gs.other(gs.other_key, KEY_ID), False),
    "unknown key id": (Refusal.KEY, lambda gs: gs.other(gs.key, 99), False),
    "replayed unit": (Refusal.SEQUENCE, lambda gs: gs.replay, False),
    "older sequence": (Refusal.SEQUENCE, lambda gs: gs.upload(gs.tiny2, arsn=gs.arsn - 1), False),
    "truncated": (Refusal.TRUNCATED, lambda gs: gs.upload(gs.tiny2)[:-1], True),
    "reordered": (Refusal.ORDER, _reordered, False),
    "another engine ABI": (Refusal.ABI, lambda gs: gs.upload(gs.abi3), False),
    "needs a kernel this image lacks": (Refusal.KERNEL, _needs_a_kernel, False),
    "cell of another size": (Refusal.SPEC, lambda gs: gs.upload(gs.cell8), False),
    "another gain for one band": (Refusal.SPEC, lambda gs: gs.upload(gs.other_gains), False),
    "arena does not fit": (Refusal.ARENA, lambda gs: gs.upload(gs.cellref), False),
    "golden vectors fail": (Refusal.GOLDEN, lambda gs: gs.upload(gs.bad_golden), False),
    "CRC-32 of a signed package": (Refusal.CRC, _signed_bad_crc, False),
    "command for another model": (Refusal.COMMAND, lambda gs: [gs.command(ROLLBACK, 3)], False),
    "first segment's header": (Refusal.PACKET, _bad_first_header, False),
    "packet CRC-16": (Refusal.PACKET, lambda gs: [gs.upload(gs.tiny2)[0][:-1] + b"\x00"], False),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD_CASES))
def test_bad_upload_refused_previous_model_runs(case, packages, models, test_key, other_key,
                                                probe_frame, probe_outputs, tmp_path):  # fmt: skip
    reason, make, end_pass = BAD_CASES[case]
    # the small scratch: the representative network (the factory default) does not fit
    flash = ModelFlash.provisioned({KEY_ID: test_key})
    mm = ModelManager(flash, packages["cellref"].data, scratch_bytes=SMALL_SCRATCH)
    gs = Ground(test_key)
    gs.other_key, gs.tiny2, gs.cellref = other_key, packages["tiny2"].data, packages["cellref"].data
    gs.replay = gs.upload(packages["tiny1"].data)
    assert set(mm.send(gs.replay)) == {Status.OK}
    assert mm.telecommand(gs.command(ModelAction.COMMIT, 2)) == Status.OK
    assert mm.status()["slot_model_id"]["FACTORY"] == 0  # its scratch does not fit either
    gs.abi3 = package.package_model(models["tiny2"], model_id=3, created_s=1, abi=3).data
    gs.cell8 = package.package_model(tiny_cell_tflite(2, pool=4), model_id=3, created_s=1).data
    gs.other_gains = other_gains_package(models["tiny2"], tmp_path)
    good = packages["tiny2"]
    outs = [bytearray(v.output) for v in good.vectors]
    outs[1][2] ^= 0x01
    gs.bad_golden = package.package_model(
        models["tiny2"], model_id=3, created_s=1, golden_outputs=[bytes(o) for o in outs]
    ).data
    before = mm.status()
    statuses = mm.send(make(gs))
    if end_pass:
        mm.end_of_pass()
    after = mm.status()
    assert refusals(mm) == {reason.name: 1}, case
    assert after["last_refusal"] == reason
    assert statuses[-1] != Status.OK or end_pass
    assert (after["active_slot"], after["trial"]) == ("A", 0)
    assert after["accepted"] == before["accepted"]
    mm_out = mm.run(probe_frame)
    assert np.array_equal(mm_out, probe_outputs[2])
    # the satellite still takes a good upload (a sequence number above anything sent)
    gs.arsn += 100
    assert set(mm.send(gs.upload(good.data))) == {Status.OK}
    assert_runs(mm, 3, probe_frame, probe_outputs)


def test_upload_while_on_trial_is_busy(sat, packages):
    _, mm, gs = sat
    mm.send(gs.upload(packages["tiny1"].data))
    assert mm.send(gs.upload(packages["tiny2"].data))[0] == Status.ERR_STATE
    assert refusals(mm) == {"BUSY": 1}  # counted once, not once per segment
    assert mm.status()["active_model_id"] == 2


def test_no_key_store_refuses_everything(packages, test_key):
    mm = ModelManager(ModelFlash.provisioned(None), packages["cellref"].data)
    mm.send(Ground(test_key).upload(packages["tiny1"].data))
    assert refusals(mm) == {"KEY": 1}
    assert mm.status()["active_model_id"] == 1


# ---------------------------------------------------------------- resets


def _scenario(gs: Ground, packages) -> list[bytes]:
    """Staging and switching, every kind of flash write: an upload on trial, its commit, the
    next upload (the other slot), its rollback."""
    return [
        *gs.upload(packages["tiny1"].data),
        gs.command(ModelAction.COMMIT, 2),
        *gs.upload(packages["tiny2"].data),
        gs.command(ModelAction.ROLLBACK, 3),
    ]


def test_reset_at_every_flash_operation_boots_a_valid_model(packages, test_key, probe_frame,
                                                            probe_outputs):  # fmt: skip
    base = ModelFlash.provisioned({KEY_ID: test_key})
    factory = packages["cellref"].data
    ModelManager(base, factory)  # the first boot
    clean = base.copy()
    mm = ModelManager(clean, factory)
    ops0 = mm.fault_state().ops
    assert set(mm.send(_scenario(Ground(test_key), packages))) == {Status.OK}
    total = mm.fault_state().ops - ops0
    assert total > 60
    stages = set()
    for mode in (TEAR, AFTER):
        for k in range(1, total + 1):
            flash = base.copy()
            mm = ModelManager(flash, factory)
            mm.arm_fault(k, mode)
            mm.send(_scenario(Ground(test_key), packages))
            st = mm.fault_state()
            assert st.fired, (k, mode)
            stages.add(st.stage)
            # the reset: a new manager on the same flash
            mm = ModelManager(flash, factory)
            s = mm.status()
            assert s["active_model_id"] in (1, 2, 3), (k, mode, s)
            assert s["trial"] == 0 or s["active_model_id"] != 1
            assert_runs(mm, s["active_model_id"], probe_frame, probe_outputs)
            if mode == TEAR and k % 7 == 1:
                # and it still takes an upload (a fresh sequence number)
                gs = Ground(test_key, arsn=1000)
                if s["trial"]:
                    assert mm.telecommand(gs.command(ModelAction.COMMIT, s["active_model_id"])) == 0
                assert set(mm.send(gs.upload(packages["tiny2"].data))) == {Status.OK}, (k, s)
    assert {"invalidate", "erase", "program", "switch", "command"} <= stages


@pytest.mark.parametrize("mode", [TEAR, AFTER])
def test_reset_while_a_boot_writes_its_record(packages, test_key, probe_frame, probe_outputs,
                                              mode):  # fmt: skip
    """A reset while the boot record of a boot is written (a plain boot, and the boot that
    finds a trial), many boots in a row: the log wraps over its two sectors."""
    flash = ModelFlash.provisioned({KEY_ID: test_key})
    factory = packages["cellref"].data
    gs = Ground(test_key)
    mm = ModelManager(flash, factory)
    mm.send(gs.upload(packages["tiny1"].data))
    mm.telecommand(gs.command(ModelAction.COMMIT, 2))
    for n in range(70):  # 32 records a sector: the log wraps twice
        mm = ModelManager(flash, factory, boot=False)
        mm.arm_fault(1 + n % 2, mode)  # the record, or the erase and then the record
        mm.boot()
        mm = ModelManager(flash, factory)
        assert_runs(mm, 2, probe_frame, probe_outputs)
    s = mm.status()
    assert s["boot_count"] >= 36 and s["trial"] == 0
    # the boot that finds a trial
    mm.send(gs.upload(packages["tiny2"].data))
    for k in (1, 2):
        copy = flash.copy()
        mm = ModelManager(copy, factory, boot=False)
        mm.arm_fault(k, mode)
        mm.boot()
        mm = ModelManager(copy, factory)
        s = mm.status()
        assert (s["active_model_id"], s["trial"]) == (2, 0), (k, s)
        assert_runs(mm, 2, probe_frame, probe_outputs)


def test_model_status_product_through_the_link_layer(sat, packages):
    """In the CADU link mode the MODEL_STATUS product goes through the link layer (the
    directory's virtual channel): the ground's receiver gets back the very packet the
    packet mode sends."""
    _, mm, gs = sat
    mm.send(gs.upload(packages["tiny1"].data))
    lib = _lib_models()
    out = {}
    for link in ("packets", "cadu"):
        ob = Onboard(classifier="rule", link=link)
        buf = bytearray()

        def write(_ctx, data, n, buf=buf):
            buf.extend(ctypes.string_at(data, n))
            return 0

        fn = _lib.SINK(write)
        n = ctypes.c_size_t(0)
        st = lib.tri_host_model_status(ob._state.ctypes.data, mm.address, fn, None,
                                       ctypes.byref(n))  # fmt: skip
        assert st == 0 and n.value == len(buf)
        out[link] = bytes(buf)
    assert len(out["cadu"]) % 1279 == 0 and len(out["cadu"]) > len(out["packets"])
    rx = Receiver("cadu")
    got = b"".join(rx.packets([out["cadu"]]))
    assert out["packets"] in got
