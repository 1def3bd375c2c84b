"""The firmware's link layer (tri_link.c, tri_rs.c) in the host build: in the frame and
CADU modes a directory and passes give exactly the frames and CADUs the contract's
reference encoder makes of the same packets (which carry what packet mode sends for the
same budget); budgets count link bytes; frame counts run on across operations; bad
settings are refused. The Cortex-M4 image gives the same bytes
(test_onboard_qemu.py)."""

from __future__ import annotations

import numpy as np
import pytest

from triage.contract import frames as fr
from triage.contract.packets import split_packets
from triage.onboard import FrameMeta, Onboard
from triage.onboard.errors import OnboardInputError

from .helpers import synthetic_frame

SCID = 0x2C5


def _frames():
    return [
        synthetic_frame(160, 224, seed=60, ships=[(20, 30), (100, 150)], land=(120, 0, 160, 80)),
        synthetic_frame(128, 256, seed=62, ships=[(20, 20), (80, 200)], land=(0, 100, 128, 256)),
    ]


def _loaded(link: str, scid: int = SCID) -> Onboard:
    ob = Onboard(2_000_000, classifier="rule", link=link, spacecraft_id=scid)
    for k, f in enumerate(_frames()):
        assert ob.process_frame(f, FrameMeta.for_frame(f, k + 1)).ok
    return ob


OPS = [("directory",), ("downlink", 3 * fr.CADU_BYTES + 700), ("directory",), ("downlink", 1 << 24)]


def _play(ob: Onboard, budget_of) -> list[bytes]:
    out = []
    for op in OPS:
        out.append(ob.directory() if op[0] == "directory" else ob.downlink(budget_of(op[1])))
    return out


@pytest.mark.parametrize("mode", ["frames", "cadu"])
def test_frames_and_cadus_are_the_reference_encoders(lib, mode):
    unit = fr.CADU_BYTES if mode == "cadu" else fr.FRAME_BYTES

    # packet mode with the packet budget the link mode allows: the same packets
    def link_budget(b):
        return b // fr.CADU_BYTES * unit if b < 1 << 24 else b

    packets = _play(
        _loaded("packets"), lambda b: fr.packet_budget(link_budget(b), unit) if b < 1 << 24 else b
    )
    got = _play(_loaded(mode), link_budget)
    enc = fr.FrameEncoder(SCID)
    for op, pk, link_bytes in zip(OPS, packets, got, strict=True):
        vc = fr.VC_DIRECTORY if op[0] == "directory" else fr.VC_PRODUCTS
        frames = enc.frames(vc, split_packets(pk))
        want = b"".join(fr.encode_cadu(f) if mode == "cadu" else f for f in frames)
        assert link_bytes == want, op
        assert len(link_bytes) % unit == 0
        if op[0] == "downlink" and op[1] < 1 << 24:
            assert len(link_bytes) <= op[1] // fr.CADU_BYTES * unit
    assert len(packets[1]) > 0 and len(packets[3]) > 0


def test_budget_is_link_bytes_and_never_exceeded(lib):
    rng = np.random.default_rng(5)
    edges = [0, 1, fr.CADU_BYTES - 1, fr.CADU_BYTES]
    for budget in [*edges, *rng.integers(1, 40 * fr.CADU_BYTES, 12)]:
        ob = _loaded("cadu")
        out = ob.downlink(int(budget))
        assert len(out) % fr.CADU_BYTES == 0
        assert len(out) <= int(budget), budget
        ref = _loaded("packets").downlink(fr.packet_budget(int(budget), fr.CADU_BYTES))
        assert -(-len(ref) // fr.DATA_FIELD_BYTES) <= len(out) // fr.CADU_BYTES
        c = ob.counters()
        assert c["frames_sent"] == len(out) // fr.CADU_BYTES
        assert c["bytes_sent"] == len(out)


def test_frame_counts_run_on_and_vcs_are_separate(lib):
    ob = _loaded("frames")
    d = ob.directory()
    p = ob.downlink(1 << 24)
    d2 = ob.directory()
    heads = [
        fr.TM_FRAME_HEADER.unpack(x[k : k + fr.FRAME_BYTES])
        for x in (d, p, d2)
        for k in range(0, len(x), fr.FRAME_BYTES)
    ]
    assert [h["mc_count"] for h in heads] == [k % 256 for k in range(len(heads))]
    vc1 = [h["vc_count"] for h in heads if h["vcid"] == fr.VC_DIRECTORY]
    vc0 = [h["vc_count"] for h in heads if h["vcid"] == fr.VC_PRODUCTS]
    assert vc1 == list(range(len(vc1))) and vc0 == [k % 256 for k in range(len(vc0))]
    assert {h["spacecraft_id"] for h in heads} == {SCID}
    assert heads[0]["vcid"] == heads[-1]["vcid"] == fr.VC_DIRECTORY


def test_bad_link_settings_are_refused(lib):
    ob = Onboard(100_000, classifier="rule")
    with pytest.raises(OnboardInputError):
        ob.set_link("cadu", fr.MAX_SPACECRAFT_ID + 1)
    with pytest.raises(OnboardInputError):
        ob.set_link("turbo", 1)
    lib_status = lib.tri_host_set_link(ob._state.ctypes.data, 3, 1)
    assert lib_status == -1
    assert ob.directory()[:2] != bytes.fromhex("1ACF")  # still packet mode


def test_packet_mode_is_unchanged_by_the_link_layer(lib):
    a = _loaded("packets")
    b = _loaded("cadu")
    b.set_link("packets", SCID)
    assert a.directory() == b.directory()
    down = a.downlink(50_000)
    assert down == b.downlink(50_000)
    # wire format 5: every packet's secondary header ends with the spacecraft id (bytes
    # 34-35 of the packet: 6-byte primary header, spacecraft id at 28 in the secondary)
    pos, ids = 0, set()
    while pos < len(down):
        ids.add(down[pos + 34 : pos + 36])
        pos += 6 + int.from_bytes(down[pos + 4 : pos + 6], "big") + 1
    assert pos == len(down) and ids == {SCID.to_bytes(2, "big")}
