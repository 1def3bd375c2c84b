"""Deframing: find CCSDS space packets in a byte stream and check their CRC.

A packet at a position of the stream is, per :func:`examine`, one of three
outcomes:

- :class:`Complete` — a whole packet with a valid header and CRC is there
  (its size in bytes, and whether it is an idle packet);
- :class:`NeedMore` — it may be a packet but the stream stops short (how many
  more bytes are needed to decide);
- :class:`Invalid` — it is not a packet (the reason: header, length, CRC).

The header is checked before its length is trusted: version, type and
secondary-header flag must be those of the wire format, the APID one of its
product APIDs (or idle), and the length within the packet sizes the wire
format allows (at most ``MAX_PACKET_BYTES``; a header claiming 65,535 bytes
is invalid at once, it does not stall the stream). On an invalid packet the
deframer drops one byte and tries again (resynchronisation); the fast path
jumps straight to the next position where a valid header word starts,
which is the same as dropping bytes one at a time.

:class:`Deframer` is the streaming, fast implementation: feed it chunks of
any size; each :meth:`Deframer.feed` returns a :class:`Batch` of the
complete, CRC-valid, non-idle packets (offsets into one buffer: no per-packet
objects). Its output does not depend on how the stream is chunked. Its scan over a
chunk is compiled (numba), with the CRC of :mod:`ground_station.crc16`.
:func:`reference_deframe` is the slow, obvious loop over :func:`examine` (with
binascii's CRC); tests hold the two to the same result.

Idle packets (APID 0x7FF, secondary-header flag 0 or 1) are held to the same
rules as the others (header, length, CRC) and then skipped.

CRC: the wire format's CRC-16-CCITT has no final XOR, so the CRC of a whole
packet (its CRC field included) is zero exactly when the CRC field is right.
"""

from __future__ import annotations

import binascii
import struct
from dataclasses import dataclass, field
from functools import cache
from typing import NamedTuple

import numba
import numpy as np

from ground_station import crc16
from ground_station.crc16 import crc16_span
from triage.contract.enums import APID_IDLE, PACKET_TYPE_TM, PACKET_VERSION, PRODUCT_TYPES
from triage.contract.packets import CRC_SIZE, MAX_PACKET_BYTES, PACKET_OVERHEAD, PRIMARY_HEADER
from triage.contract.records import CRC16_INIT

_HEADER = struct.Struct(">HHH")
_PRIMARY = PRIMARY_HEADER.size


class Complete(NamedTuple):
    """A whole, CRC-valid packet of ``size`` bytes."""

    size: int
    idle: bool


class NeedMore(NamedTuple):
    """The stream stops ``needed`` bytes short of deciding."""

    needed: int


class Invalid(NamedTuple):
    """Not a packet at this position; ``reason`` says why."""

    reason: str


def _first_word(apid: int, sec_hdr_flag: int) -> int:
    head = PRIMARY_HEADER.pack(
        {
            "version": PACKET_VERSION,
            "type": PACKET_TYPE_TM,
            "sec_hdr_flag": sec_hdr_flag,
            "apid": apid,
            "seq_flags": 0,
            "seq_count": 0,
            "data_length": 0,
        }
    )
    return int.from_bytes(head[:2], "big")


# First 16-bit word of every acceptable header -> (smallest, largest) packet size.
_PRODUCT_SIZES = (PACKET_OVERHEAD + 1, MAX_PACKET_BYTES)
_IDLE_SIZES = (_PRIMARY + CRC_SIZE, MAX_PACKET_BYTES)
LIMITS: dict[int, tuple[int, int]] = {_first_word(p.apid, 1): _PRODUCT_SIZES for p in PRODUCT_TYPES}
IDLE_WORDS = frozenset({_first_word(APID_IDLE, 0), _first_word(APID_IDLE, 1)})
for _w in IDLE_WORDS:
    LIMITS[_w] = _IDLE_SIZES


def examine(buf: bytes | bytearray | memoryview, pos: int = 0) -> Complete | NeedMore | Invalid:
    """What is at ``buf[pos:]``: a complete packet, not enough bytes, or no packet."""
    avail = len(buf) - pos
    if avail < _PRIMARY:
        return NeedMore(_PRIMARY - avail)
    word, _, data_length = _HEADER.unpack_from(buf, pos)
    limits = LIMITS.get(word)
    if limits is None:
        return Invalid(
            f"not a packet header: first word 0x{word:04X} (version, type, "
            "secondary-header flag or APID not of this wire format)"
        )
    lo, hi = limits
    # data_length is at most 65535, so this sum cannot overflow any integer type;
    # it is compared with the limit before anything is read past the header.
    if data_length > hi - _PRIMARY - 1:
        return Invalid(f"length: header claims {data_length + _PRIMARY + 1} bytes, max {hi}")
    size = data_length + _PRIMARY + 1
    if size < lo:
        return Invalid(f"length: header claims {size} bytes, min {lo}")
    if avail < size:
        return NeedMore(size - avail)
    if binascii.crc_hqx(memoryview(buf)[pos : pos + size], CRC16_INIT) != 0:
        return Invalid("CRC mismatch")
    return Complete(size, word in IDLE_WORDS)


@dataclass
class DeframeStats:
    """What the deframer saw. ``bytes_in`` = packet bytes + idle bytes + skipped bytes."""

    bytes_in: int = 0
    packets: int = 0
    packet_bytes: int = 0
    idle_packets: int = 0
    idle_bytes: int = 0
    crc_errors: int = 0
    """Positions with a plausible header whose CRC did not match (corrupted packets)."""
    resyncs: int = 0
    """Times the stream was out of step and the deframer searched for the next header."""
    skipped_bytes: int = 0
    """Bytes in no valid packet: garbage, corrupted packets, a truncated tail."""

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class Batch:
    """Packets found by one :meth:`Deframer.feed`: ``buf[offsets[i] : offsets[i] + sizes[i]]``."""

    buf: bytes
    offsets: np.ndarray
    sizes: np.ndarray

    def __len__(self) -> int:
        return len(self.offsets)

    def packets(self) -> list[bytes]:
        return [
            self.buf[o : o + s]
            for o, s in zip(self.offsets.tolist(), self.sizes.tolist(), strict=True)
        ]


@dataclass
class Deframer:
    """Streaming deframer (the fast path); see the module docstring."""

    stats: DeframeStats = field(default_factory=DeframeStats)
    _tail: bytes = b""
    _in_sync: bool = True

    def feed(self, chunk: bytes | bytearray | memoryview) -> Batch:
        """Add bytes; return the packets now complete. Leftover bytes wait for more."""
        self.stats.bytes_in += len(chunk)
        buf = self._tail + bytes(chunk) if self._tail else bytes(chunk)
        batch, pos = self._scan(buf, final=False)
        self._tail = buf[pos:]
        return batch

    def finish(self) -> Batch:
        """End of stream: what is left is resolved (a truncated packet is skipped)."""
        buf, self._tail = self._tail, b""
        batch, _ = self._scan(buf, final=True)
        return batch

    @property
    def pending(self) -> int:
        """Bytes held back waiting for more input."""
        return len(self._tail)

    def _scan(self, buf: bytes, final: bool) -> tuple[Batch, int]:
        st = self.stats
        a = np.frombuffer(buf, dtype=np.uint8)
        cap = len(buf) // _SMALLEST + 1
        offsets = np.empty(cap, dtype=np.int64)
        sizes = np.empty(cap, dtype=np.int64)
        counts = np.zeros(_NCOUNTS, dtype=np.int64)
        counts[_IN_SYNC] = self._in_sync
        lo, hi, kind, first = _word_tables()
        crc16.ready()
        _scan_nb(a, final, lo, hi, kind, first, crc16.tables(), offsets, sizes, counts)
        k = int(counts[_FOUND])
        self._in_sync = bool(counts[_IN_SYNC])
        st.crc_errors += int(counts[_CRC_ERRORS])
        st.idle_packets += int(counts[_IDLE_PACKETS])
        st.idle_bytes += int(counts[_IDLE_BYTES])
        st.resyncs += int(counts[_RESYNCS])
        st.skipped_bytes += int(counts[_SKIPPED])
        st.packets += k
        st.packet_bytes += int(sizes[:k].sum())
        batch = Batch(buf, offsets[:k].copy(), sizes[:k].copy())
        return batch, int(counts[_POS])


# The kernel's counters (in and out): where it stopped, packets found, the statistics.
_POS, _FOUND, _IN_SYNC, _CRC_ERRORS, _IDLE_PACKETS, _IDLE_BYTES, _RESYNCS, _SKIPPED = range(8)
_NCOUNTS = 8
_SMALLEST = min(lo for lo, _ in LIMITS.values())
_NOT_A_WORD, _PRODUCT_WORD, _IDLE_WORD = 0, 1, 2


@cache
def _word_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:data:`LIMITS` and :data:`IDLE_WORDS` as arrays indexed by a header's first word:
    smallest and largest packet size, and the kind of word (not one, product, idle);
    and by a byte: whether a header word starts with it."""
    lo = np.zeros(1 << 16, dtype=np.int64)
    hi = np.zeros(1 << 16, dtype=np.int64)
    kind = np.zeros(1 << 16, dtype=np.uint8)
    first = np.zeros(256, dtype=np.bool_)
    for w, (a, b) in LIMITS.items():
        lo[w], hi[w] = a, b
        kind[w] = _IDLE_WORD if w in IDLE_WORDS else _PRODUCT_WORD
        first[w >> 8] = True
    return lo, hi, kind, first


@numba.njit(cache=True, nogil=True)
def _scan_nb(buf, final, lo, hi, kind, first, tables, offsets, sizes, counts):
    """The deframer's rules (see :func:`examine`) over ``buf``: whole valid packets into
    ``offsets``/``sizes``, statistics into ``counts``. An invalid position drops a byte and
    jumps to the next position where a header word starts (the same as dropping bytes one
    at a time); a header word that may straddle the end waits for more (unless ``final``)."""
    n = buf.shape[0]
    pos = 0
    found = 0
    in_sync = counts[_IN_SYNC] != 0
    while True:
        if n - pos < _PRIMARY:
            if not final or pos >= n:
                break
            # a truncated header at the end of the stream: invalid
        else:
            word = (np.int64(buf[pos]) << 8) | np.int64(buf[pos + 1])
            data_length = (np.int64(buf[pos + 4]) << 8) | np.int64(buf[pos + 5])
            k = kind[word]
            if k != _NOT_A_WORD and data_length <= hi[word] - _PRIMARY - 1:
                size = data_length + _PRIMARY + 1
                end = pos + size
                if size < lo[word]:
                    pass  # too short: invalid
                elif end > n:
                    if not final:
                        break
                    # a truncated packet at the end of the stream: invalid
                elif crc16_span(buf, pos, end, CRC16_INIT, tables) != 0:
                    counts[_CRC_ERRORS] += 1
                else:
                    if k == _IDLE_WORD:
                        counts[_IDLE_PACKETS] += 1
                        counts[_IDLE_BYTES] += size
                    else:
                        offsets[found] = pos
                        sizes[found] = size
                        found += 1
                    in_sync = True
                    pos = end
                    continue
        # invalid here: drop a byte, then skip to the next possible header word
        if in_sync:
            counts[_RESYNCS] += 1
            in_sync = False
        best = pos + 1
        while best + 1 < n:
            if kind[(np.int64(buf[best]) << 8) | np.int64(buf[best + 1])] != _NOT_A_WORD:
                break
            best += 1
        if best + 1 >= n:
            best = n
            if not final and n > pos + 1 and first[buf[n - 1]]:
                best = n - 1  # a header word may straddle the chunk boundary
        counts[_SKIPPED] += best - pos
        pos = best
    counts[_POS] = pos
    counts[_FOUND] = found
    counts[_IN_SYNC] = in_sync


def reference_deframe(data: bytes) -> tuple[list[bytes], DeframeStats]:
    """The obvious loop over :func:`examine`, one byte dropped per invalid position.

    Slow; tests hold :class:`Deframer` to exactly its result.
    """
    st = DeframeStats(bytes_in=len(data))
    out: list[bytes] = []
    pos = 0
    in_sync = True
    while pos < len(data):
        res = examine(data, pos)
        if isinstance(res, Complete):
            if res.idle:
                st.idle_packets += 1
                st.idle_bytes += res.size
            else:
                out.append(data[pos : pos + res.size])
                st.packets += 1
                st.packet_bytes += res.size
            pos += res.size
            in_sync = True
            continue
        if isinstance(res, Invalid) and res.reason == "CRC mismatch":
            st.crc_errors += 1
        if in_sync:
            st.resyncs += 1
            in_sync = False
        st.skipped_bytes += 1  # invalid, or NeedMore at the end of the stream: drop a byte
        pos += 1
    return out, st


def deframe(data: bytes | bytearray | memoryview) -> tuple[list[bytes], DeframeStats]:
    """All packets of a whole stream (fast path), with the statistics."""
    d = Deframer()
    batch = d.feed(data)
    tail = d.finish()
    return batch.packets() + tail.packets(), d.stats
