"""Pass planning: candidates from the store directory and the catalogue, ranking,
budget filling, and the DOWNLINK_REQUEST telecommand (checked by the firmware's
own C parser through the host library when it is built).

Expected costs are derived by hand from the wire format: a product of B bytes
costs B + 38 * ceil(B / 1024) bytes of packets (6-byte primary header, 30-byte
secondary header, 2-byte CRC per packet).
"""

from __future__ import annotations

import ctypes
from datetime import UTC, datetime, timedelta

import pytest

from ground_station.ingest import ingest_bytes
from ground_station.passes import ContactWindow
from ground_station.plan import plan_next_pass, plan_passes, request_for
from triage.contract.enums import APID_DOWNLINK_REQUEST, PRODUCT_BY_NAME, RequestAction
from triage.contract.errors import LayoutError
from triage.contract.packets import decode_request

from .gs_streams import directory_product, frame_products, packets_of, stream_of, synthetic_frame

SEED = 20261130
AOS = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
WINDOW = ContactWindow("test", AOS, AOS + timedelta(seconds=300), 40.0)


def cost(n_bytes: int) -> int:
    return n_bytes + 38 * -(-n_bytes // 1024)


def entry(frame_id, product_id, ptype, nbytes, conf=0, class_id=255):
    return {
        "frame_id": frame_id,
        "product_id": product_id,
        "product_type": PRODUCT_BY_NAME[ptype].code,
        "class_id": class_id,
        "confidence": conf,
        "flags": 1,
        "segment_count": -(-nbytes // 1024),
        "product_bytes": nbytes,
    }


@pytest.fixture
def catalogue(tmp_path):
    """Frame 1 partly on the ground; frame 2 only on board; a directory of both."""
    frame = synthetic_frame(SEED)
    ql, crop1, crop2, crop3, summary = frame_products(frame, 1)
    pk2 = packets_of(crop2)
    assert len(pk2) == 8
    db = tmp_path / "c.sqlite"
    entries = [
        entry(1, 1, "SHIP_CROP", len(crop1), 250, 2),
        entry(1, 2, "SHIP_CROP", len(crop2), 220, 2),
        entry(1, 3, "SHIP_CROP", len(crop3), 190, 2),
        entry(2, 1, "SHIP_CROP", 5000, 240, 2),
        entry(1, 0, "QUICKLOOK", len(ql)),
        entry(2, 0, "QUICKLOOK", 4000),
        entry(1, 4, "FRAME_SUMMARY", len(summary)),
        entry(2, 9, "LAND", 20000, 200, 3),
    ]
    directory = directory_product(entries, product_id=7, time_s=1_772_000_000)
    older = directory_product(entries[:1], product_id=6, time_s=1_771_000_000)
    stream = stream_of([older, directory, ql, crop1]) + pk2[:2] + pk2[4:]
    ingest_bytes(db, b"".join(stream))
    sizes = {
        "crop2": len(crop2),
        "crop3": len(crop3),
        "summary": len(summary),
        "directory_entries": len(entries),
    }
    return db, sizes


def test_candidates_ranked_and_released(catalogue):
    db, sizes = catalogue
    (plan,) = plan_passes(db, [WINDOW], 1, budget_bytes=[10**9])
    assert [(r.frame_id, r.product_id) for r in plan.releases] == [(1, 1), (1, 0)]
    got = [(i.frame_id, i.product_id, i.segment_first, i.segment_last) for i in plan.items]
    assert got == [
        (2, 1, 0, 4),  # ship, confidence 240
        (1, 3, 0, 4),  # ship, confidence 190
        (1, 4, 0, 0),  # frame summary: 0.5 value for 220 bytes
        (2, 0, 0, 3),  # quicklook of a frame with a ship: value 2 for 4144 bytes
        (1, 2, 2, 3),  # the missing segments of the incomplete crop
        (2, 9, 0, 19),  # land
    ]
    bytes_ = [i.bytes for i in plan.items]
    assert bytes_ == [
        cost(5000),
        cost(sizes["crop3"]),
        cost(sizes["summary"]),
        cost(4000),
        2 * (1024 + 38),
        cost(20000),
    ]
    assert plan.reserved_bytes == cost(140 + 40 + 16 * sizes["directory_entries"])
    assert plan.directory["product_id"] == 7  # the latest directory, not the older one
    assert plan.deferred == []


def test_budget_is_filled_greedily_then_with_a_part(catalogue):
    db, sizes = catalogue
    reserve = cost(140 + 40 + 16 * sizes["directory_entries"])
    # room for the first ship and the summary, not for the second ship
    budget = reserve + cost(5000) + cost(sizes["summary"]) + 100
    (plan,) = plan_passes(db, [WINDOW], 1, budget_bytes=[budget])
    assert [(i.frame_id, i.product_id) for i in plan.items] == [(2, 1), (1, 4)]
    assert plan.planned_bytes <= budget - reserve
    assert [(i.frame_id, i.product_id) for i in plan.deferred][:2] == [(1, 3), (2, 0)]
    # two more segments of room: the incomplete crop's two missing segments fit whole
    (plan,) = plan_passes(db, [WINDOW], 1, budget_bytes=[budget + 2 * 1062])
    assert [(i.frame_id, i.product_id) for i in plan.items] == [(2, 1), (1, 4), (1, 2)]
    # one segment more: the best deferred candidate (the second ship) starts with segment 0
    (plan,) = plan_passes(db, [WINDOW], 1, budget_bytes=[budget + 3 * 1062])
    last = plan.items[-1]
    assert (last.frame_id, last.product_id, last.segment_first, last.segment_last) == (1, 3, 0, 0)
    assert last.partial and last.bytes == 1062
    rest = plan.deferred[0]
    assert (rest.frame_id, rest.product_id, rest.segment_first, rest.segment_last) == (1, 3, 1, 4)
    assert rest.bytes == cost(sizes["crop3"]) - 1062


def test_later_passes_take_what_earlier_ones_left(catalogue):
    db, sizes = catalogue
    reserve = cost(140 + 40 + 16 * sizes["directory_entries"])
    plans = plan_passes(db, [WINDOW, WINDOW, WINDOW], 1, budget_bytes=[reserve + 6000] * 3)
    scheduled = [(i.frame_id, i.product_id, i.segment_first) for p in plans for i in p.items]
    assert len(scheduled) == len(set(scheduled))
    assert plans[0].items[0].product_id == 1 and plans[0].items[0].frame_id == 2
    assert all(i.pass_index == k for k, p in enumerate(plans) for i in p.items)
    assert plans[1].releases == []  # released once, in the first pass


def test_request_bytes_round_trip_and_log(catalogue):
    db, _ = catalogue
    plan, request = plan_next_pass(db, WINDOW, rate_bps=1_000_000)
    seq, entries = decode_request(request)
    assert seq == 0
    assert len(request) == 6 + 12 * len(entries) + 2
    assert [e["action"] for e in entries[:2]] == [RequestAction.RELEASE] * 2
    sends = [
        (e["frame_id"], e["product_id"], e["segment_first"], e["segment_last"])
        for e in entries[2:-1]
    ]
    assert sends == [
        (i.frame_id, i.product_id, i.segment_first, i.segment_last) for i in plan.items
    ]
    # the last entry asks for the rest of the store: ids and segments 0
    assert entries[-1] == dict(
        frame_id=0, product_id=0, action=3, reserved=0, segment_first=0, segment_last=0
    )
    assert plan.request_entries == len(entries)
    exact, request = plan_next_pass(db, WINDOW, rate_bps=1_000_000, then_rest=False)
    assert [e["action"] for e in decode_request(request)[1]] == [RequestAction.RELEASE] * 2 + [
        RequestAction.SEND
    ] * len(exact.items)
    _, again = plan_next_pass(db, WINDOW, rate_bps=1_000_000)
    assert decode_request(again)[0] == 2  # the uplinks log numbers the telecommands


def test_request_header_is_ccsds_telecommand():
    from spacepackets.ccsds.spacepacket import PacketType, SequenceFlags, SpacePacketHeader

    req = request_for([], 5)
    hdr = SpacePacketHeader.unpack(req)
    assert hdr.packet_type == PacketType.TC
    assert hdr.apid == APID_DOWNLINK_REQUEST
    assert hdr.seq_flags == SequenceFlags.UNSEGMENTED
    assert not hdr.sec_header_flag
    assert hdr.seq_count == 5 and hdr.data_len == 1
    with pytest.raises(LayoutError, match="CRC"):
        decode_request(req[:-1] + bytes([req[-1] ^ 1]))


def test_firmware_accepts_the_request(catalogue, build_dir):
    lib_path = build_dir / "host" / "libtrifw.so"
    if not lib_path.exists():
        pytest.skip(f"{lib_path} not built (make firmware)")
    lib = ctypes.CDLL(str(lib_path))
    if not hasattr(lib, "tri_request_check"):
        pytest.skip("host library has no tri_request_check")
    lib.tri_request_check.restype = ctypes.c_int
    lib.tri_request_check.argtypes = [
        ctypes.c_char_p,
        ctypes.c_size_t,
        ctypes.POINTER(ctypes.c_void_p),
        ctypes.POINTER(ctypes.c_size_t),
    ]
    db, _ = catalogue
    plan, request = plan_next_pass(db, WINDOW, rate_bps=1_000_000)
    records, count = ctypes.c_void_p(), ctypes.c_size_t()
    assert (
        lib.tri_request_check(request, len(request), ctypes.byref(records), ctypes.byref(count))
        == 0
    )
    assert count.value == len(plan.releases) + len(plan.items) + 1  # and REST
    bad = request[:-1] + bytes([request[-1] ^ 0x10])
    assert lib.tri_request_check(bad, len(bad), ctypes.byref(records), ctypes.byref(count)) != 0


def test_without_a_directory_only_retransmissions(tmp_path):
    frame = synthetic_frame(SEED)
    crop = frame_products(frame, 3)[1]
    pk = packets_of(crop)
    db = tmp_path / "c.sqlite"
    ingest_bytes(db, b"".join(pk[:3] + pk[5:]))
    (plan,) = plan_passes(db, [WINDOW], 1, budget_bytes=[10**6])
    assert "no STORE_DIRECTORY" in plan.notes[0]
    assert [(i.product_id, i.segment_first, i.segment_last) for i in plan.items] == [(1, 3, 4)]
    assert plan.items[0].bytes == 2 * 1062


def test_before_the_first_directory_there_is_no_request(tmp_path):
    """Nothing to uplink before the ground has seen the store: the satellite then sends its
    store in priority order (a request, even an empty one, is all it would send)."""
    db = tmp_path / "new.sqlite"
    plan, request = plan_next_pass(db, WINDOW, rate_bps=1_000_000)
    assert plan.items == [] and plan.releases == [] and request is None
    assert any("no request to uplink" in n for n in plan.notes)
    assert db.exists()
    # known gaps of a product, but still no directory: no request either
    crop = frame_products(synthetic_frame(SEED), 3)[1]
    pk = packets_of(crop)
    ingest_bytes(db, b"".join(pk[:3] + pk[5:]))
    plan, request = plan_next_pass(db, WINDOW, rate_bps=1_000_000)
    assert len(plan.items) == 1 and request is None


def test_a_first_directory_lost_on_the_link_still_brings_the_store(tmp_path):
    """The first pass's STORE_DIRECTORY is lost (a catalogue exists, created by what did
    arrive, but holds no directory): the ground uplinks nothing and the firmware (host
    build) sends its store in priority order, which the ground then completes. An empty
    request would have kept the satellite silent: the firmware sends exactly what a
    request asks for."""
    import numpy as np

    from triage.onboard import FrameMeta, Onboard

    def satellite() -> Onboard:
        ob = Onboard(4 << 20, classifier="rule")
        frame = np.random.default_rng(SEED).integers(500, 3000, (128, 128, 4), dtype=np.uint16)
        ob.process_frame(frame, FrameMeta.for_frame(frame, frame_id=1))
        return ob

    ob = satellite()
    directory = ob.directory()
    db = tmp_path / "c.sqlite"
    ingest_bytes(db, directory[: len(directory) // 2])  # cut: its CRC fails, it is not stored
    assert db.exists()
    plan, request = plan_next_pass(db, WINDOW, rate_bps=1_000_000)
    assert plan.directory is None and request is None
    st = ingest_bytes(db, ob.downlink(10**6, request))
    assert st.products_completed > 0
    assert satellite().downlink(10**6, request_for([], 0)) == b""  # what an empty one does
