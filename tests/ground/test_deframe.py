"""The deframer: three outcomes, every failure mode of STYLE #11, and properties.

Packets come from the wire format's reference encoder; the fast streaming
:class:`Deframer` is held to the slow one-byte-at-a-time reference loop and
to the list of intact packets the test put in.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from ground_station.deframe import (
    Complete,
    Deframer,
    Invalid,
    NeedMore,
    deframe,
    examine,
    reference_deframe,
)
from triage.contract.packets import MAX_PACKET_BYTES

from .gs_streams import chunked, flip_bit, idle_packet, random_packet

SEED = 20261126


@pytest.fixture
def rng() -> random.Random:
    return random.Random(SEED)


def feed_all(pieces: list[bytes]) -> tuple[list[bytes], dict]:
    d = Deframer()
    out: list[bytes] = []
    for p in pieces:
        out += d.feed(p).packets()
    out += d.finish().packets()
    return out, d.stats.as_dict()


# ---------------------------------------------------------------- examine()


def test_examine_complete_packet(rng):
    pkt = random_packet(rng)
    assert examine(pkt) == Complete(len(pkt), idle=False)
    assert examine(b"xx" + pkt, 2) == Complete(len(pkt), idle=False)
    assert examine(idle_packet(10)) == Complete(6 + 12, idle=True)


def test_examine_incomplete_header_needs_the_rest_of_it(rng):
    pkt = random_packet(rng)
    assert examine(b"") == NeedMore(6)
    assert examine(pkt[:4]) == NeedMore(2)


def test_examine_incomplete_packet_says_how_many_bytes_are_missing(rng):
    pkt = random_packet(rng)
    assert examine(pkt[:-5]) == NeedMore(5)
    assert examine(pkt[:6]) == NeedMore(len(pkt) - 6)


def test_examine_bad_sync(rng):
    pkt = bytearray(random_packet(rng))
    pkt[0] |= 0x20  # version 1: not CCSDS version-1 packet
    res = examine(bytes(pkt))
    assert isinstance(res, Invalid) and "not a packet header" in res.reason
    pkt = bytearray(random_packet(rng))
    pkt[1] = 0x99  # APID 0x199 is not one of ours
    assert isinstance(examine(bytes(pkt)), Invalid)


def test_examine_length_overflow_is_invalid_without_waiting(rng):
    pkt = bytearray(random_packet(rng))
    pkt[4:6] = b"\xff\xff"  # claims 65,542 bytes
    res = examine(bytes(pkt[:10]))
    assert res == Invalid(f"length: header claims 65542 bytes, max {MAX_PACKET_BYTES}")


def test_examine_larger_than_any_packet_and_zero_length(rng):
    pkt = bytearray(random_packet(rng))
    pkt[4:6] = (MAX_PACKET_BYTES - 6).to_bytes(2, "big")  # one byte too many
    assert isinstance(examine(bytes(pkt)), Invalid)
    pkt[4:6] = b"\x00\x00"  # a data field of one byte cannot hold secondary header + CRC
    res = examine(bytes(pkt))
    assert isinstance(res, Invalid) and "min" in res.reason


def test_examine_crc(rng):
    pkt = random_packet(rng)
    for bit in (0 + 20, 8 * 6, 8 * len(pkt) - 1):  # header, secondary header, CRC itself
        res = examine(flip_bit(pkt, bit))
        assert res == Invalid("CRC mismatch") or "header" in res.reason


# ---------------------------------------------------------------- streams


def test_back_to_back_with_garbage_before_and_after(rng):
    pkts = [random_packet(rng) for _ in range(20)]
    data = rng.randbytes(333) + b"".join(pkts) + rng.randbytes(77)
    got, stats = deframe(data)
    assert got == pkts
    assert stats.skipped_bytes == 333 + 77
    assert stats.resyncs == 2
    assert stats.bytes_in == stats.packet_bytes + stats.idle_bytes + stats.skipped_bytes


def test_idle_packets_are_skipped(rng):
    pkts = [random_packet(rng) for _ in range(3)]
    data = idle_packet(100) + pkts[0] + idle_packet(5, sec_hdr_flag=1) + pkts[1] + pkts[2]
    got, stats = deframe(data)
    assert got == pkts
    assert stats.idle_packets == 2
    assert stats.skipped_bytes == 0


def test_garbage_only(rng):
    data = rng.randbytes(200_000)
    got, stats = deframe(data)
    assert got == []
    assert stats.skipped_bytes == len(data)


def test_header_claiming_65535_bytes_at_the_end(rng):
    pkts = [random_packet(rng) for _ in range(5)]
    evil = bytearray(pkts[0][:6])
    evil[4:6] = b"\xff\xff"
    got, stats = deframe(b"".join(pkts) + bytes(evil) + b"\x00" * 20)
    assert got == pkts
    assert stats.skipped_bytes == 26
    # a plausible header claiming more bytes than the stream has left
    cut = pkts[1][:-3]
    got, stats = deframe(b"".join(pkts) + cut)
    assert got == pkts
    assert stats.skipped_bytes == len(cut)


def test_truncated_packet_in_the_middle_loses_only_itself(rng):
    pkts = [random_packet(rng, max_segment=1024) for _ in range(30)]
    cut = pkts[10][: len(pkts[10]) // 2]
    data = b"".join(pkts[:10]) + cut + b"".join(pkts[11:])
    got, stats = deframe(data)
    assert got == pkts[:10] + pkts[11:]
    assert stats.skipped_bytes == len(cut)


def test_single_bit_flips_are_rejected_and_counted(rng):
    pkts = [random_packet(rng, max_segment=1024) for _ in range(200)]
    flipped = set(rng.sample(range(200), 25))
    data = b"".join(
        flip_bit(p, rng.randrange(8 * len(p))) if i in flipped else p for i, p in enumerate(pkts)
    )
    got, stats = deframe(data)
    assert got == [p for i, p in enumerate(pkts) if i not in flipped]
    assert 0 < stats.resyncs <= 25  # adjacent corrupted packets share one resync
    # a flip in the header may make it no header at all (then there is no CRC to fail)
    assert 0 < stats.crc_errors <= 25 + 2
    ref, ref_stats = reference_deframe(data)
    assert ref == got and ref_stats == stats


def test_one_byte_at_a_time_and_random_chunks(rng):
    pkts = [random_packet(rng, max_segment=300) for _ in range(40)]
    data = rng.randbytes(50) + b"".join(pkts[:20]) + rng.randbytes(9) + b"".join(pkts[20:])
    whole, whole_stats = feed_all([data])
    assert whole == pkts
    assert feed_all(chunked(data, [1])) == (whole, whole_stats)
    sizes = [rng.randrange(1, 2000) for _ in range(50)]
    assert feed_all(chunked(data, sizes)) == (whole, whole_stats)


def test_pending_bytes_wait_for_the_rest(rng):
    pkt = random_packet(rng)
    d = Deframer()
    assert len(d.feed(pkt[:-1])) == 0
    assert d.pending == len(pkt) - 1
    batch = d.feed(pkt[-1:])
    assert batch.packets() == [pkt] and d.pending == 0


# ---------------------------------------------------------------- properties

_piece = hs.one_of(
    hs.tuples(hs.just("packet"), hs.integers(0, 2**32 - 1)),
    hs.tuples(hs.just("garbage"), hs.binary(min_size=1, max_size=80)),
    hs.tuples(hs.just("idle"), hs.integers(0, 40)),
    hs.tuples(hs.just("flip"), hs.integers(0, 2**32 - 1)),
    hs.tuples(hs.just("truncate"), hs.integers(0, 2**32 - 1)),
)


def _build(pieces) -> tuple[bytes, list[bytes]]:
    data, intact = [], []
    for kind, arg in pieces:
        if kind == "garbage":
            data.append(arg)
            continue
        if kind == "idle":
            data.append(idle_packet(arg))
            continue
        r = random.Random(arg)
        pkt = random_packet(r, max_segment=48)
        if kind == "packet":
            data.append(pkt)
            intact.append(pkt)
        elif kind == "flip":
            data.append(flip_bit(pkt, r.randrange(8 * len(pkt))))
        else:
            data.append(pkt[: r.randrange(1, len(pkt))])
    return b"".join(data), intact


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pieces=hs.lists(_piece, max_size=12), cuts=hs.lists(hs.integers(1, 700), min_size=1))
def test_property_fast_equals_reference_for_any_chunking(pieces, cuts):
    data, _ = _build(pieces)
    ref, ref_stats = reference_deframe(data)
    got, stats = feed_all(chunked(data, cuts))
    assert got == ref
    assert stats == ref_stats.as_dict()
    assert stats["bytes_in"] == stats["packet_bytes"] + stats["idle_bytes"] + stats["skipped_bytes"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pieces=hs.lists(_piece, max_size=12))
def test_property_every_intact_packet_and_nothing_else(pieces):
    data, intact = _build(pieces)
    got, _ = deframe(data)
    assert got == intact
    for pkt in got:
        assert isinstance(examine(pkt), Complete)


@settings(max_examples=100, deadline=None)
@given(data=hs.binary(max_size=3000))
def test_property_arbitrary_bytes_never_crash(data):
    got, stats = deframe(data)
    ref, ref_stats = reference_deframe(data)
    assert got == ref and stats == ref_stats
    assert stats.bytes_in == len(data)
