"""The store seen from the ground: the directory, passes within a budget in
priority order, DOWNLINK_REQUEST handling (segments in request order,
releases, unknown and invalid entries, damaged requests), sequence counts."""

from __future__ import annotations

import numpy as np
import pytest

from triage.contract.packets import MAX_SEGMENT_BYTES
from triage.contract.records import DIRECTORY_FRAME_ID, PRODUCT_HEADER, crc16
from triage.onboard import FrameMeta, Onboard, OnboardInputError, request_packet
from triage.onboard.products import decode_product, decode_stream, parse_packets, reassemble

from .helpers import synthetic_frame

SHIP, QL, CM, LAND, SUMMARY = 1, 2, 3, 4, 5


@pytest.fixture
def loaded(lib):
    """Two frames: ships, land, frame products."""
    return _two_frames()


def _two_frames():
    ob = Onboard(4 << 20, classifier="rule", land_policy="lowres")
    for k, fid in enumerate((7, 8)):
        f = synthetic_frame(
            160, 224, seed=40 + k, ships=[(20, 30), (100, 150 + 10 * k)], land=(120, 0, 160, 80)
        )
        assert ob.process_frame(f, FrameMeta.for_frame(f, fid, time_s=1000 + k)).ok
    return ob


def _directory(ob):
    d = decode_stream(ob.directory())
    (key,) = d
    assert key[0] == DIRECTORY_FRAME_ID
    return d[key].records


def _rank(e):
    return {SHIP: 0, QL: 1, CM: 1, SUMMARY: 1, LAND: 2}[e["product_type"]]


def test_directory_lists_store_in_priority_order(loaded):
    entries = _directory(loaded)
    assert len(entries) == 2 * (2 + 2 + 1 + 1)
    keys = [(_rank(e), -e["confidence"] if _rank(e) == 0 else 0) for e in entries]
    assert keys == sorted(keys)
    # sizes and segment counts agree with what is then sent
    prods = reassemble(parse_packets(loaded.downlink(1 << 30)))
    for e in entries:
        data = prods[(e["frame_id"], e["product_id"])]
        assert e["product_bytes"] == len(data)
        assert e["segment_count"] == -(-len(data) // MAX_SEGMENT_BYTES)
        assert e["flags"] == 0
    assert all(e["flags"] == 1 for e in _directory(loaded))


def test_passes_within_budget_send_each_segment_once_in_priority_order(loaded):
    entries = _directory(loaded)
    order = [(e["frame_id"], e["product_id"]) for e in entries]
    sent = []
    for budget in (5000, 1, 20000, 3000, 1 << 30):
        s = loaded.downlink(budget)
        assert len(s) <= budget
        sent += parse_packets(s)
    assert loaded.downlink(1 << 30) == b""  # nothing left unsent
    keys = [(p.secondary["frame_id"], p.secondary["product_id"]) for p in sent]
    segs = [(k, p.secondary["segment_index"]) for k, p in zip(keys, sent, strict=True)]
    assert len(set(segs)) == len(segs)
    firsts = list(dict.fromkeys(keys))
    assert firsts == order
    assert len(decode_stream(b"".join(p.raw for p in sent))) == len(entries)


def test_budget_stops_at_first_packet_that_does_not_fit(loaded):
    first = parse_packets(loaded.downlink(1 << 30))[0]
    ob2_budget = len(first.raw) - 1
    ob = Onboard(4 << 20, classifier="rule")
    f = synthetic_frame(160, 224, seed=40, ships=[(20, 30), (100, 150)], land=(120, 0, 160, 80))
    ob.process_frame(f, FrameMeta.for_frame(f, 7, time_s=1000))
    assert ob.downlink(ob2_budget) == b""
    assert ob.downlink(len(first.raw)) == first.raw


def test_request_sends_segments_in_request_order_and_releases(loaded):
    entries = _directory(loaded)
    big = next(e for e in entries if e["segment_count"] >= 3)
    small = next(e for e in entries if e["segment_count"] == 1)
    req = [
        (big["frame_id"], big["product_id"], "send", 1, 2),
        (small["frame_id"], small["product_id"], "send", 0, 0),
        (big["frame_id"], big["product_id"], "send", 0, 0),
        (small["frame_id"], small["product_id"], "release"),
        (small["frame_id"], small["product_id"], "send", 0, 0),  # released: unknown now
        (999, 0, "send", 0, 3),  # unknown
        (big["frame_id"], big["product_id"], "send", 5, 4),  # first > last
        (big["frame_id"], big["product_id"], 7, 0, 0),  # unknown action
    ]
    c0 = loaded.counters()
    got = parse_packets(loaded.downlink(1 << 30, req))
    assert [
        (p.secondary["frame_id"], p.secondary["product_id"], p.secondary["segment_index"])
        for p in got
    ] == [
        (big["frame_id"], big["product_id"], 1),
        (big["frame_id"], big["product_id"], 2),
        (small["frame_id"], small["product_id"], 0),
        (big["frame_id"], big["product_id"], 0),
    ]
    c = loaded.counters()
    assert c["request_entries_unknown"] - c0["request_entries_unknown"] == 2
    assert c["request_entries_invalid"] - c0["request_entries_invalid"] == 2
    assert c["products_released"] - c0["products_released"] == 1
    after = _directory(loaded)
    assert len(after) == len(entries) - 1
    assert (small["frame_id"], small["product_id"]) not in {
        (e["frame_id"], e["product_id"]) for e in after
    }
    # a request past the last segment is clamped to the product
    got = parse_packets(
        loaded.downlink(
            1 << 30, [(big["frame_id"], big["product_id"], "send", big["segment_count"] - 1, 60000)]
        )
    )
    assert [p.secondary["segment_index"] for p in got] == [big["segment_count"] - 1]


def test_rest_entry_sends_the_rest_of_the_store_after_the_entries_before_it(loaded):
    """A ground planning from a directory older than the pass: it asks for what that
    directory listed and then, with REST, for everything never sent, which includes the
    frame captured since the directory."""
    stale = _directory(loaded)
    f = synthetic_frame(160, 224, seed=49, ships=[(60, 60)], land=(120, 0, 160, 80))
    assert loaded.process_frame(f, FrameMeta.for_frame(f, 9, time_s=1010)).ok
    now = _directory(loaded)
    assert {e["frame_id"] for e in now} == {7, 8, 9}
    last = stale[-1]  # the lowest priority product, asked for first
    bad_rest = {"frame_id": 5, "product_id": 0, "action": 3, "segment_first": 0, "segment_last": 0}
    req = [
        bad_rest,
        (last["frame_id"], last["product_id"], "send", 0, 0),
        (0, 0, "rest"),
        (0, 0, "rest"),
    ]
    c0 = loaded.counters()
    got = parse_packets(loaded.downlink(1 << 30, req))
    keys = [
        (p.secondary["frame_id"], p.secondary["product_id"], p.secondary["segment_index"])
        for p in got
    ]
    first = (last["frame_id"], last["product_id"], 0)
    # the request's entry, then every other segment of the store in the priority order the
    # directory lists (test_directory_lists_store_in_priority_order); the second REST finds
    # nothing left, the one with ids set is refused
    rest = [(e["frame_id"], e["product_id"], k) for e in now for k in range(e["segment_count"])]
    assert keys == [first] + [k for k in rest if k != first]
    assert loaded.counters()["request_entries_invalid"] == c0["request_entries_invalid"] + 1
    assert loaded.downlink(1 << 30, [(0, 0, "rest")]) == b""
    # within a budget, REST stops at the first packet that does not fit
    ob = _two_frames()
    whole = ob.downlink(1 << 30)
    ob = _two_frames()
    cut = parse_packets(whole)[3].raw
    budget = whole.index(cut) + len(cut) - 1
    assert ob.downlink(budget, [(0, 0, "rest")]) == whole[: whole.index(cut)]


def test_releases_apply_after_the_budget_is_spent(loaded):
    e = _directory(loaded)
    a, b = e[0], e[-1]
    out = loaded.downlink(
        10,
        [
            (a["frame_id"], a["product_id"], "send", 0, 0),
            (b["frame_id"], b["product_id"], "release"),
        ],
    )
    assert out == b""
    assert len(_directory(loaded)) == len(e) - 1


@pytest.mark.parametrize("damage", ["crc", "length", "apid", "type", "records", "empty"])
def test_damaged_request_is_refused_whole(loaded, damage):
    e = _directory(loaded)[0]
    req = bytearray(request_packet([(e["frame_id"], e["product_id"], "release")]))
    if damage == "crc":
        req[8] ^= 0x10
    elif damage == "length":
        req = req[:-1]
    elif damage == "apid":
        req[1] ^= 0x01
        req[-2:] = crc16(bytes(req[:-2])).to_bytes(2, "big")
    elif damage == "type":
        req[0] &= 0xEF
        req[-2:] = crc16(bytes(req[:-2])).to_bytes(2, "big")
    elif damage == "records":
        req = req[:-3] + req[-2:]
        req[5] -= 1
        req[-2:] = crc16(bytes(req[:-2])).to_bytes(2, "big")
    else:
        req = bytearray()
    c0 = loaded.counters()
    d0 = _directory(loaded)
    with pytest.raises(OnboardInputError):
        loaded.downlink(1 << 30, bytes(req))
    assert loaded.counters()["requests_rejected"] == c0["requests_rejected"] + 1
    assert _directory(loaded) == d0
    assert loaded.store_ok()


def test_directories_carry_the_boot_count(lib):
    """A directory's frame_id is DIRECTORY_FRAME_ID + the platform's boot count; its
    product_id counts the directories since init."""
    for boot in (0, 1, 65535):
        ob = Onboard(1 << 20, classifier="rule", boot_count=boot)
        keys = [next(iter(decode_stream(ob.directory()))) for _ in range(3)]
        assert keys == [(DIRECTORY_FRAME_ID + boot, k) for k in range(3)]


def test_sequence_counts_run_per_apid_and_wrap(lib):
    ob = Onboard(1 << 20, classifier="rule")
    first = parse_packets(ob.directory())[0].seq_count
    for _ in range(16382 - first):
        ob.directory()
    last = parse_packets(ob.directory())[0]
    assert last.seq_count == 16383
    assert parse_packets(ob.directory())[0].seq_count == 0
    d = decode_product(reassemble([last])[(DIRECTORY_FRAME_ID, 16383)])
    assert d.header["product_id"] == 16383 and d.records == []


def test_a_product_corrupted_in_the_store_is_discarded_not_sent(lib):
    """An upset in the store (a bit of a stored ship crop flipped behind the firmware's back):
    the pass checks each product's CRC-32 before sending it, discards the corrupted one and
    counts it, and sends the others intact; the next directory no longer lists it. A twin
    instance fed the same frames gives the bytes to look for."""
    ob, twin = _two_frames(), _two_frames()
    products = reassemble(parse_packets(twin.downlink(1 << 30)))
    key, victim = next(
        (k, d)
        for k, d in sorted(products.items())
        if decode_product(d).type_name == "SHIP_CROP" and len(d) > 400
    )
    store = ob._store.view(np.uint8)
    at = bytes(store).find(victim)
    assert at >= 0 and bytes(store).find(victim, at + 1) < 0
    store[at + len(victim) - 3] ^= 0x04  # in the last band's stream
    c0 = ob.counters()
    got = decode_stream(ob.downlink(1 << 30))
    assert ob.counters()["products_corrupted"] == c0["products_corrupted"] + 1
    assert sorted(got) == sorted(k for k in products if k != key)
    for k, p in got.items():
        assert p.data == products[k]  # the rest arrives as the twin made it
    assert all((e["frame_id"], e["product_id"]) != key for e in _directory(ob))
    # asked for by name, it is gone: an unknown entry
    ob.downlink(1 << 30, request_packet([(*key, "send", 0, 0)]))
    assert ob.counters()["request_entries_unknown"] == c0["request_entries_unknown"] + 1


def test_a_requested_product_is_checked_before_it_is_sent(lib):
    ob, twin = _two_frames(), _two_frames()
    products = reassemble(parse_packets(twin.downlink(1 << 30)))
    key = min(products)
    store = ob._store.view(np.uint8)
    at = bytes(store).find(products[key])
    store[at + PRODUCT_HEADER.size] ^= 0x80
    before = ob.counters()["products_corrupted"]
    assert ob.downlink(1 << 30, request_packet([(*key, "send", 0, 0)])) == b""
    assert ob.counters()["products_corrupted"] == before + 1
