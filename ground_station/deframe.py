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
objects). Its output does not depend on how the stream is chunked.
:func:`reference_deframe` is the slow, obvious loop over :func:`examine`;
tests hold the two to the same result.

Idle packets (APID 0x7FF, secondary-header flag 0 or 1) are held to the same
rules as the others (header, length, CRC) and then skipped.

CRC: the wire format's CRC-16-CCITT has no final XOR, so the CRC of a whole
packet (its CRC field included) is zero exactly when the CRC field is right.
"""

from __future__ import annotations

import binascii
import struct
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

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
_PATTERNS = tuple(w.to_bytes(2, "big") for w in sorted(LIMITS))
_FIRST_BYTES = frozenset(p[0] for p in _PATTERNS)


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

    def _lost_sync(self) -> None:
        if self._in_sync:
            self.stats.resyncs += 1
            self._in_sync = False

    def _scan(self, buf: bytes, final: bool) -> tuple[Batch, int]:
        st = self.stats
        n = len(buf)
        mv = memoryview(buf)
        unpack = _HEADER.unpack_from
        limits = LIMITS
        idle_words = IDLE_WORDS
        crc = binascii.crc_hqx
        init = CRC16_INIT
        offsets: list[int] = []
        sizes: list[int] = []
        # next occurrence of each header pattern at or after a position (resync cache)
        nxt: dict[bytes, int] = {}
        pos = 0
        while True:
            if n - pos < _PRIMARY:
                if not final or pos >= n:
                    break
                bad = True  # a truncated header at the end of the stream
            else:
                word, _, data_length = unpack(buf, pos)
                lim = limits.get(word)
                bad = lim is None or data_length > lim[1] - _PRIMARY - 1
                if not bad:
                    size = data_length + _PRIMARY + 1
                    end = pos + size
                    if size < lim[0]:
                        bad = True
                    elif end > n:
                        if not final:
                            break
                        bad = True  # truncated packet at the end of the stream
                    elif crc(mv[pos:end], init) != 0:
                        st.crc_errors += 1
                        bad = True
                    else:
                        if word in idle_words:
                            st.idle_packets += 1
                            st.idle_bytes += size
                        else:
                            offsets.append(pos)
                            sizes.append(size)
                        self._in_sync = True
                        pos = end
                        continue
            # invalid here: drop a byte, then skip to the next possible header word
            self._lost_sync()
            start = pos + 1
            best = n
            for pat in _PATTERNS:
                at = nxt.get(pat, -1)
                if at < start:
                    at = buf.find(pat, start)
                    if at < 0:
                        at = n
                    nxt[pat] = at
                best = min(best, at)
            if best == n and not final and n > start and buf[n - 1] in _FIRST_BYTES:
                best = n - 1  # a header word may straddle the chunk boundary
            st.skipped_bytes += best - pos
            pos = best
        st.packets += len(offsets)
        st.packet_bytes += sum(sizes)
        batch = Batch(buf, np.asarray(offsets, dtype=np.int64), np.asarray(sizes, dtype=np.int64))
        return batch, pos


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
