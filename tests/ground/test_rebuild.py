"""A product is never given up while a clean copy of it is on board.

A corruption that every packet CRC-16 misses (the bytes changed before packetising, or an
error pattern the CRC-16 cannot see) is caught by the product's CRC-32. Then:

- other copies of the product's segments (duplicates on the link, re-sent segments) are
  kept, and the copies that make the product pass its CRC-32 (and decode, and match its
  packets' fields) replace the corrupted ones, whichever came first;
- a packet whose product fields were corrupted does not lock the clean ones out: the
  product check says which fields are right;
- the planner asks for a product that failed its CRC-32 again, whole, at most once per
  pass, and after ``max_rebuilds`` requests releases it on board with the reason; a
  product whose CRC-32 passes but that does not decode (the satellite's own bytes) is
  released at once with the reason, its bytes kept on the ground.

Expected pixels are the frames the products were cut from (``gs_streams``); the
requests are read back with the contract's decoder.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from ground_station.catalogue import Catalogue
from ground_station.export import export_products
from ground_station.ingest import ingest_bytes
from ground_station.passes import ContactWindow
from ground_station.plan import plan_next_pass, plan_passes
from triage.contract.codec import decode_product
from triage.contract.enums import RequestAction
from triage.contract.errors import ProductError
from triage.contract.packets import PRIMARY_HEADER, SECONDARY_HEADER, decode_request
from triage.contract.records import KEPT_RECT, PRODUCT_HEADER, seal_product

from .gs_streams import (
    corrupt_keeping_crc,
    crop_regions,
    directory_product,
    frame_products,
    packets_of,
    synthetic_frame,
)

SEED = 20261209
AOS = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
BODY = PRIMARY_HEADER.size + SECONDARY_HEADER.size  # where a packet's segment starts
CONF = PRIMARY_HEADER.size + SECONDARY_HEADER.field("confidence").offset
COUNT = PRIMARY_HEADER.size + SECONDARY_HEADER.field("segment_count").offset


def window(k: int) -> ContactWindow:
    aos = AOS + timedelta(hours=2 * k)
    return ContactWindow("test", aos, aos + timedelta(seconds=600), 40.0)


def entry(product: bytes) -> dict:
    h = PRODUCT_HEADER.unpack(product)
    return {
        "frame_id": h["frame_id"],
        "product_id": h["product_id"],
        "product_type": h["product_type"],
        "class_id": h["class_id"],
        "confidence": h["confidence"],
        "flags": 1,
        "segment_count": -(-len(product) // 1024),
        "product_bytes": len(product),
    }


def directory(products, k: int = 1) -> bytes:
    return b"".join(packets_of(directory_product([entry(p) for p in products], k, 1_772_000_000)))


def row(db, frame_id, product_id) -> dict:
    with Catalogue.open(db) as cat:
        return cat.product_rows("frame_id=? AND product_id=?", (frame_id, product_id))[0]


def crop_pixels(db, frame_id, product_id) -> np.ndarray:
    with Catalogue.open(db) as cat:
        return cat.load_product(frame_id, product_id).pixels


def setup():
    frame = synthetic_frame(SEED)
    products = frame_products(frame, 5)
    crop = products[2]  # 8 segments
    pk = packets_of(crop)
    assert len(pk) == 8
    r0, c0, nr, nc = crop_regions()[1]
    return frame[:, r0 : r0 + nr, c0 : c0 + nc], products, crop, pk


def test_resent_segments_mend_a_product_whose_crc32_failed(tmp_path):
    want, products, _, pk = setup()
    db = tmp_path / "c.sqlite"
    bad = [*pk[:3], corrupt_keeping_crc(pk[3], BODY + 100), *pk[4:]]
    st = ingest_bytes(db, directory(products) + b"".join(bad))
    assert st.products_invalid == 1 and st.deframe.crc_errors == 0
    assert row(db, 5, 2)["status"] == "invalid" and "CRC-32" in row(db, 5, 2)["reason"]
    plan, request = plan_next_pass(db, window(0), 1, budget_bytes=10**6)
    (item,) = [i for i in plan.items if (i.frame_id, i.product_id) == (5, 2)]
    assert (item.segment_first, item.segment_last) == (0, 7)  # the whole product again
    _, entries = decode_request(request)
    assert [
        (e["frame_id"], e["product_id"], e["segment_first"], e["segment_last"])
        for e in entries
        if e["product_id"] == 2
    ] == [(5, 2, 0, 7)]
    st = ingest_bytes(db, b"".join(pk))  # the satellite sends it again, clean
    assert st.products_mended == 1
    assert row(db, 5, 2)["status"] == "complete"
    np.testing.assert_array_equal(crop_pixels(db, 5, 2), want)
    plan, _ = plan_next_pass(db, window(1), 1, budget_bytes=10**6)
    assert (5, 2) in {(r.frame_id, r.product_id) for r in plan.releases}


def test_a_clean_duplicate_in_the_same_pass_mends_it_at_once(tmp_path):
    want, _, _, pk = setup()
    db = tmp_path / "c.sqlite"
    # the corrupted copy first, the clean duplicate later in the same stream
    st = ingest_bytes(db, b"".join([corrupt_keeping_crc(pk[5], BODY + 7), *pk, pk[5]]))
    assert row(db, 5, 2)["status"] == "complete"
    np.testing.assert_array_equal(crop_pixels(db, 5, 2), want)
    assert st.products_mended == 1 and st.products_completed == 1


def test_two_corrupted_copies_combine_into_a_right_one(tmp_path):
    """Copy 1 has segment 2 corrupted, copy 2 (the rebuild) segment 6: together they hold a
    clean copy of every segment, and the CRC-32 finds it."""
    want, _, _, pk = setup()
    db = tmp_path / "c.sqlite"
    one = [corrupt_keeping_crc(p, BODY + 50) if k == 2 else p for k, p in enumerate(pk)]
    two = [corrupt_keeping_crc(p, BODY + 60) if k == 6 else p for k, p in enumerate(pk)]
    assert ingest_bytes(db, b"".join(one)).products_invalid == 1
    st = ingest_bytes(db, b"".join(two))
    assert row(db, 5, 2)["status"] == "complete"
    np.testing.assert_array_equal(crop_pixels(db, 5, 2), want)
    assert st.products_mended == 1


def test_a_corrupted_product_field_in_the_first_packet_does_not_lock_out_the_rest(tmp_path):
    """Packet 0 arrives first with another confidence (its CRC-16 passes): the clean packets
    contradict it. The product header says which is right."""
    want, _, _, pk = setup()
    db = tmp_path / "c.sqlite"
    st = ingest_bytes(db, b"".join([corrupt_keeping_crc(pk[0], CONF, 0x01), *pk[1:]]))
    r = row(db, 5, 2)
    assert (
        r["status"] == "complete"
        and r["confidence"] == PRODUCT_HEADER.unpack(pk[0], BODY)["confidence"]
    )
    np.testing.assert_array_equal(crop_pixels(db, 5, 2), want)
    assert st.conflicts == 7 and st.products_mended == 1


def test_a_corrupted_segment_count_is_mended_by_the_directory_and_a_rebuild(tmp_path):
    """Packet 0 says 9 segments: the ground waits for a ninth that never comes. The
    directory says 8: the planner asks for the product again, whole, and the clean packets
    make it."""
    want, products, _, pk = setup()
    db = tmp_path / "c.sqlite"
    first = corrupt_keeping_crc(pk[0], COUNT + 1, 0x08 ^ 0x09)
    assert first[COUNT : COUNT + 2] == (9).to_bytes(2, "big")
    ingest_bytes(db, directory(products) + first)  # the rest lost
    plan, _ = plan_next_pass(db, window(0), 1, budget_bytes=10**6)
    (item,) = [i for i in plan.items if (i.frame_id, i.product_id) == (5, 2)]
    assert (item.segment_first, item.segment_last, item.segment_count) == (0, 7, 8)
    st = ingest_bytes(db, b"".join(pk))
    assert row(db, 5, 2)["status"] == "complete" and row(db, 5, 2)["segment_count"] == 8
    np.testing.assert_array_equal(crop_pixels(db, 5, 2), want)
    assert st.products_mended == 1


def test_rebuilds_at_most_once_per_pass_then_release_with_the_reason(tmp_path):
    """The same corrupted copy comes down at every pass (the satellite's store holds it so,
    past its own check): asked for again once per pass, at most max_rebuilds times, then
    released on board with the reason, which the catalogue keeps."""
    _, products, _, pk = setup()
    db = tmp_path / "c.sqlite"
    bad = [*pk[:3], corrupt_keeping_crc(pk[3], BODY + 100), *pk[4:]]
    ingest_bytes(db, directory(products) + b"".join(bad))
    # several passes planned at once: the product is in one of them only
    plans = plan_passes(db, [window(0), window(1), window(2)], 1, budget_bytes=[10**6] * 3)
    assert sum((i.frame_id, i.product_id) == (5, 2) for p in plans for i in p.items) == 1
    asked = []
    for k in range(5):
        plan, _ = plan_next_pass(db, window(k), 1, budget_bytes=10**6, max_rebuilds=3)
        sends = [i for i in plan.items if (i.frame_id, i.product_id) == (5, 2)]
        released = [r for r in plan.releases if (r.frame_id, r.product_id) == (5, 2)]
        asked.append((len(sends), len(released)))
        if sends:
            ingest_bytes(db, b"".join(bad))  # the same corrupted copy again
    assert asked[:4] == [(1, 0), (1, 0), (1, 0), (0, 1)]
    (rel,) = [
        r
        for r in plan_next_pass(db, window(5), 1, budget_bytes=10**6)[0].releases
        if (r.frame_id, r.product_id) == (5, 2)
    ]
    assert "3" in rel.reason and "CRC-32" in rel.reason
    r = row(db, 5, 2)
    assert r["status"] == "invalid" and r["given_up"] and "CRC-32" in r["given_up"]


def test_a_product_whose_crc32_passes_but_does_not_decode_is_released_at_once(tmp_path):
    """The satellite's own bytes are wrong (a band length that does not add up, sealed on
    board): asking again would bring the same bytes. Released, with the reason; the bytes
    stay in the catalogue."""
    _, products, crop, _ = setup()
    h = PRODUCT_HEADER.unpack(crop)
    h["band_bytes"] = (h["band_bytes"][0] + 1, *h["band_bytes"][1:])
    broken = seal_product(PRODUCT_HEADER.pack(h) + crop[PRODUCT_HEADER.size :])
    db = tmp_path / "c.sqlite"
    rest = [p for p in products if p is not crop]
    ingest_bytes(
        db, directory(products) + b"".join(b"".join(packets_of(p)) for p in [*rest, broken])
    )
    plan, request = plan_next_pass(db, window(0), 1, budget_bytes=10**6)
    assert (5, 2) not in {(i.frame_id, i.product_id) for i in plan.items}
    (rel,) = [r for r in plan.releases if (r.frame_id, r.product_id) == (5, 2)]
    assert "add up" in rel.reason
    _, entries = decode_request(request)
    release = RequestAction.RELEASE
    assert (5, 2, release) in {(e["frame_id"], e["product_id"], e["action"]) for e in entries}


def _undecodable(crop: bytes) -> bytes:
    """The crop with its first band stream zeroed and the product sealed again: its CRC-32
    passes and its structure holds, but libaec decodes the stream to 1 sample of the 1,551
    its kept pixels need (checked against libaec itself below)."""
    h = PRODUCT_HEADER.unpack(crop)
    start = PRODUCT_HEADER.size + h["kept_rects"] * KEPT_RECT.size
    body = bytearray(crop)
    body[start : start + h["band_bytes"][0]] = bytes(h["band_bytes"][0])
    broken = seal_product(bytes(body))
    with pytest.raises(ProductError, match="decodes to 1 samples, 1551 expected"):
        decode_product(broken)
    return broken


@pytest.mark.parametrize("decode_streams", [False, True])
def test_a_product_whose_streams_do_not_decode(tmp_path, decode_streams):
    """By default ingest proves a product by its CRC-32 and structure and leaves the
    decoding to export (the level-0 / level-1 split of a ground segment): the product is
    complete, released on board like any other, and export skips it by name and exports the
    rest. With ``decode_streams`` ingest decodes every band too: invalid at once, with
    libaec's reason, and released on board at once (asking again brings the same bytes)."""
    _, products, crop, _ = setup()
    broken = _undecodable(crop)
    db = tmp_path / "c.sqlite"
    rest = [p for p in products if p is not crop]
    data = directory(products) + b"".join(b"".join(packets_of(p)) for p in [*rest, broken])
    st = ingest_bytes(db, data, decode_streams=decode_streams)
    plan, request = plan_next_pass(db, window(0), 1, budget_bytes=10**6)
    assert (5, 2) not in {(i.frame_id, i.product_id) for i in plan.items}
    _, entries = decode_request(request)
    release = RequestAction.RELEASE
    assert (5, 2, release) in {(e["frame_id"], e["product_id"], e["action"]) for e in entries}
    rep = export_products(db, tmp_path / "out")
    assert len(rep.crops) == 2  # the frame's other two crops
    if decode_streams:  # invalid: export never takes it up
        assert st.products_invalid == 1 and row(db, 5, 2)["status"] == "invalid"
        assert "decodes to 1 samples" in row(db, 5, 2)["reason"]
    else:
        assert st.products_invalid == 0 and row(db, 5, 2)["status"] == "complete"
        skipped = [s for s in rep.skipped if "product 2" in s]
        assert len(skipped) == 1 and "decodes to 1 samples" in skipped[0], rep.skipped


def test_a_packet_whose_key_was_corrupted_makes_no_second_product(tmp_path):
    """The frame summary is one packet; a copy of it whose product id was changed past the
    CRC-16 (to 54) would be a whole, CRC-32-clean product under another key: found by the
    fault trials (tests/ground/fault_trials.py). The product header names its own key."""
    _, products, _, _ = setup()
    summary = products[-1]
    assert PRODUCT_HEADER.unpack(summary)["product_id"] == 4
    (ql,) = packets_of(summary)
    pid = PRIMARY_HEADER.size + SECONDARY_HEADER.field("product_id").offset
    width = SECONDARY_HEADER.field("product_id").size
    moved = corrupt_keeping_crc(ql, pid + width - 1, 4 ^ 54)
    assert int.from_bytes(moved[pid : pid + width], "big") == 54
    db = tmp_path / "c.sqlite"
    st = ingest_bytes(db, moved + ql)
    assert row(db, 5, 4)["status"] == "complete"
    bad = row(db, 5, 54)
    assert bad["status"] == "invalid" and "packets say frame 5 product 54" in bad["reason"]
    assert st.products_completed == 1


def test_a_rebuild_larger_than_the_pass_goes_on_where_the_last_one_stopped(tmp_path):
    """Segment 6 of 8 corrupted past its CRC-16; a pass carries three segments. The request
    for it again is cut short by the budget: the next passes ask for the segments not yet
    asked for (3-5, then 6-7), as one request for it again, and the clean segment 6 mends
    it. (Found by the fault trials: asked for from segment 0 at every pass, the last
    segments never came again and the product was given up.)"""
    from triage.contract.packets import PACKET_OVERHEAD, segments_bytes
    from triage.contract.records import DIRECTORY_HEADER, STORE_ENTRY

    want, _, crop, pk = setup()
    db = tmp_path / "c.sqlite"
    bad = [*pk[:6], corrupt_keeping_crc(pk[6], BODY + 100), pk[7]]
    ingest_bytes(db, directory([crop]) + b"".join(bad))
    assert row(db, 5, 2)["status"] == "invalid"
    # the directory the satellite sends first: its header, DIRECTORY_HEADER, one entry
    reserve = segments_bytes(PRODUCT_HEADER.size + DIRECTORY_HEADER.size + STORE_ENTRY.size)
    budget = reserve + 3 * (1024 + PACKET_OVERHEAD) + 10
    asked = []
    for k in range(3):
        plan, request = plan_next_pass(db, window(k), 1, budget_bytes=budget)
        (item,) = [i for i in plan.items if (i.frame_id, i.product_id) == (5, 2)]
        asked.append((item.segment_first, item.segment_last, item.rebuild))
        _, entries = decode_request(request)
        (e,) = [e for e in entries if e["product_id"] == 2]
        ingest_bytes(db, b"".join(pk[e["segment_first"] : e["segment_last"] + 1]))
    assert asked == [(0, 2, 1), (3, 5, 1), (6, 7, 1)]
    assert row(db, 5, 2)["status"] == "complete" and row(db, 5, 2)["rebuilds"] == 1
    np.testing.assert_array_equal(crop_pixels(db, 5, 2), want)


def test_a_one_packet_product_whose_fields_were_corrupted_is_asked_for_again(tmp_path):
    """The frame summary is one packet; its confidence field was changed past the CRC-16.
    Its CRC-32 passes (the bytes are right), its header contradicts its packet: the packet
    is the corrupted one, so the product is asked for again (not released as the
    satellite's own bad bytes), and the clean packet mends it. (Found by the fault
    trials.)"""
    _, products, _, _ = setup()
    summary = products[-1]
    (pkt,) = packets_of(summary)
    db = tmp_path / "c.sqlite"
    ingest_bytes(db, directory([summary]) + corrupt_keeping_crc(pkt, CONF, 0x01))
    r = row(db, 5, 4)
    assert r["status"] == "invalid" and "packets say" in r["reason"], r["reason"]
    plan, _ = plan_next_pass(db, window(0), 1, budget_bytes=10**6)
    assert (5, 4) not in {(i.frame_id, i.product_id) for i in plan.releases}
    (item,) = [i for i in plan.items if (i.frame_id, i.product_id) == (5, 4)]
    assert item.rebuild == 1
    ingest_bytes(db, pkt)
    assert row(db, 5, 4)["status"] == "complete"


def test_requests_whose_packets_do_not_come_do_not_give_the_product_up(tmp_path):
    """Asked for again three times, its packets lost each time (or the requests lost on the
    uplink): not given up, since no copy of it came to prove the satellite's wrong; asked
    for again until copies come (at most max_rebuilds x 3 requests), and the clean copy
    mends it. (Found by the fault trials, under loss and lost requests.)"""
    want, _, crop, pk = setup()
    db = tmp_path / "c.sqlite"
    bad = [*pk[:3], corrupt_keeping_crc(pk[3], BODY + 100), *pk[4:]]
    ingest_bytes(db, directory([crop]) + b"".join(bad))
    for k in range(4):  # nothing of it arrives in these passes
        plan, _ = plan_next_pass(db, window(k), 1, budget_bytes=10**6, max_rebuilds=3)
        assert [(i.frame_id, i.product_id) for i in plan.items] == [(5, 2)]
        assert plan.releases == []
    ingest_bytes(db, b"".join(pk))
    assert row(db, 5, 2)["status"] == "complete"
    np.testing.assert_array_equal(crop_pixels(db, 5, 2), want)


def test_requests_for_a_product_whose_packets_never_come_end(tmp_path):
    _, _, crop, pk = setup()
    db = tmp_path / "c.sqlite"
    bad = [*pk[:3], corrupt_keeping_crc(pk[3], BODY + 100), *pk[4:]]
    ingest_bytes(db, directory([crop]) + b"".join(bad))
    sends = 0
    for k in range(12):
        plan, _ = plan_next_pass(db, window(k), 1, budget_bytes=10**6, max_rebuilds=3)
        sends += len(plan.items)
        if plan.releases:
            break
    assert sends == 9
    assert "came 0 times" in plan.releases[0].reason
