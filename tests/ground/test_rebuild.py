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

from ground_station.catalogue import Catalogue
from ground_station.ingest import ingest_bytes
from ground_station.passes import ContactWindow
from ground_station.plan import plan_next_pass, plan_passes
from triage.contract.enums import RequestAction
from triage.contract.packets import PRIMARY_HEADER, SECONDARY_HEADER, decode_request
from triage.contract.records import PRODUCT_HEADER, seal_product

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
    assert st.products_mended == 1 and st.products_completed == 1
    np.testing.assert_array_equal(crop_pixels(db, 5, 2), want)


def test_two_corrupted_copies_combine_into_a_right_one(tmp_path):
    """Copy 1 has segment 2 corrupted, copy 2 (the rebuild) segment 6: together they hold a
    clean copy of every segment, and the CRC-32 finds it."""
    want, _, _, pk = setup()
    db = tmp_path / "c.sqlite"
    one = [corrupt_keeping_crc(p, BODY + 50) if k == 2 else p for k, p in enumerate(pk)]
    two = [corrupt_keeping_crc(p, BODY + 60) if k == 6 else p for k, p in enumerate(pk)]
    assert ingest_bytes(db, b"".join(one)).products_invalid == 1
    st = ingest_bytes(db, b"".join(two))
    assert st.products_mended == 1
    np.testing.assert_array_equal(crop_pixels(db, 5, 2), want)


def test_a_corrupted_product_field_in_the_first_packet_does_not_lock_out_the_rest(tmp_path):
    """Packet 0 arrives first with another confidence (its CRC-16 passes): the clean packets
    contradict it. The product header says which is right."""
    want, _, _, pk = setup()
    db = tmp_path / "c.sqlite"
    st = ingest_bytes(db, b"".join([corrupt_keeping_crc(pk[0], CONF, 0x01), *pk[1:]]))
    assert st.conflicts == 7 and st.products_mended == 1
    r = row(db, 5, 2)
    assert (
        r["status"] == "complete"
        and r["confidence"] == PRODUCT_HEADER.unpack(pk[0], BODY)["confidence"]
    )
    np.testing.assert_array_equal(crop_pixels(db, 5, 2), want)


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
    assert st.products_mended == 1 and row(db, 5, 2)["segment_count"] == 8
    np.testing.assert_array_equal(crop_pixels(db, 5, 2), want)


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
