"""The link layer on the ground: CADUs to transfer frames, transfer frames to packets.

What a receiver hands over, in the order it is undone (triage/WIRE_FORMAT.md, "The
link"; :mod:`triage.contract.frames` defines every constant):

1. :class:`CaduSync` finds the CADUs in a byte stream. **Search**: the attached sync
   marker at any byte offset with at most :data:`ASM_MAX_BIT_ERRORS` of its 32 bits
   wrong, or its complement (a receiver's 180-degree phase ambiguity: the CADU is then
   inverted back); a candidate is taken when the marker one CADU later agrees too (or
   the stream ends there, or its codeblock decodes). **Lock**: CADUs follow each other
   every :data:`CADU_BYTES`; a marker worse than the threshold is forgiven once when
   the next one is right (flywheel), else the lock is lost and the search starts again
   one byte further. Byte-aligned streams only (the CADU files and sockets of this
   project; a bit-level synchroniser would precede this one).
2. The codeblock is derandomised and Reed-Solomon decoded (:mod:`ground_station.rs`):
   symbols corrected are counted; a codeblock with an uncorrectable codeword is counted
   and dropped.
3. :class:`FrameReader` checks each transfer frame: FECF, version, spacecraft id (frames
   of another spacecraft are refused and counted by id), and counts gaps in the master
   channel and per-virtual-channel frame counts (the frames lost). Frames of idle data
   only are skipped.
4. It extracts the packets per virtual channel: packets run back to back across frames;
   after a lost frame (a count gap) the partial packet is dropped and extraction starts
   again at the frame's first header pointer; the pointer is checked against where the
   packets of a continuing channel say the next one starts (a mismatch resynchronises
   the same way). Idle packets are counted and skipped. Every packet handed on is whole;
   its CRC, like every packet check, is the packet deframer's
   (:mod:`ground_station.deframe`), which receives them.

:class:`Receiver` chains these for the input formats of ``groundstation ingest``: CADU
streams, bare transfer frames, KISS files of transfer frames; it turns chunks of input
into chunks of whole packets.
"""

from __future__ import annotations

import binascii
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from ground_station.crc16 import crc16_rows
from ground_station.rs import UNCORRECTABLE, decode_codeblocks
from triage.contract.enums import APID_IDLE
from triage.contract.frames import (
    ASM,
    ASM_BYTES,
    CADU_BYTES,
    CODEBLOCK_BYTES,
    DATA_FIELD_BYTES,
    DEFAULT_SPACECRAFT_ID,
    FHP_IDLE,
    FHP_NO_PACKET,
    FRAME_BYTES,
    FRAME_VERSION,
    RANDOMISER_PERIOD,
    TM_FRAME_HEADER,
    VC_COUNT,
    randomiser,
)
from triage.contract.packets import MAX_PACKET_BYTES, PRIMARY_HEADER
from triage.contract.records import CRC16_INIT

ASM_MAX_BIT_ERRORS = 4
"""Bit errors tolerated in the 32-bit sync marker: a random 32-bit word passes with
probability 41,449 / 2^32 (about 1e-5), which the next marker or the Reed-Solomon
decoding then rules out; a true marker at a channel bit error rate of 1e-2 passes
with probability 0.9999."""
HEADER = PRIMARY_HEADER.size
_HDR = TM_FRAME_HEADER.size
_FIELD_END = _HDR + DATA_FIELD_BYTES
_ASM_BYTES = np.frombuffer(ASM.to_bytes(ASM_BYTES, "big"), dtype=np.uint8)
_POP = np.array([bin(i).count("1") for i in range(256)], dtype=np.int64)
_PN = np.resize(np.frombuffer(randomiser(), dtype=np.uint8), CODEBLOCK_BYTES)
_IDLE_APID = APID_IDLE
_SEARCH_WINDOW = 1 << 16


@dataclass
class LinkStats:
    """What the link layer saw (all counts cumulative)."""

    input_bytes: int = 0
    cadus: int = 0
    """CADUs found (including those whose codeblock was then dropped)."""
    inverted_cadus: int = 0
    """CADUs found with a complemented sync marker (and inverted back)."""
    asm_bit_errors: int = 0
    flywheel_cadus: int = 0
    """CADUs taken in lock although their marker had too many bit errors."""
    sync_losses: int = 0
    bytes_skipped: int = 0
    """Input bytes in no CADU (or no frame): garbage, noise, a truncated tail."""
    codewords_corrected: int = 0
    symbols_corrected: int = 0
    codeblocks_uncorrectable: int = 0
    frames: int = 0
    """Transfer frames that passed every check."""
    fecf_errors: int = 0
    bad_version: int = 0
    foreign_frames: dict[int, int] = field(default_factory=dict)
    """Frames refused because another spacecraft sent them, by spacecraft id."""
    idle_frames: int = 0
    frames_by_vc: dict[int, int] = field(default_factory=dict)
    mc_gaps: int = 0
    mc_frames_lost: int = 0
    vc_gaps: dict[int, int] = field(default_factory=dict)
    vc_frames_lost: dict[int, int] = field(default_factory=dict)
    """Frames missing per virtual channel, from the gaps in its frame count (mod 256)."""
    duplicate_frames: int = 0
    """Frames identical to the last frame of their virtual channel (a repeat), skipped."""
    fhp_mismatches: int = 0
    partial_packets_dropped: int = 0
    packets: int = 0
    packet_bytes: int = 0
    idle_packets: int = 0
    idle_bytes: int = 0
    kiss_frames: int = 0
    kiss_bad: int = 0
    """KISS frames that are not a data frame holding one transfer frame."""

    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        for k in ("foreign_frames", "frames_by_vc", "vc_gaps", "vc_frames_lost"):
            d[k] = {str(a): b for a, b in sorted(getattr(self, k).items())}
        return d


# ---------------------------------------------------------------- CADUs


def _asm_errors(heads: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bit errors of 4-byte rows against the marker and against its complement."""
    x = heads ^ _ASM_BYTES
    e = _POP[x].sum(axis=1)
    return e, 32 - e


class CaduSync:
    """CADUs out of a byte stream, decoded to transfer frames (see the module docstring)."""

    def __init__(self, stats: LinkStats | None = None) -> None:
        self.stats = stats if stats is not None else LinkStats()
        self._tail = np.zeros(0, dtype=np.uint8)
        self._locked = False
        self._inverted = False

    def feed(self, chunk: bytes | bytearray | memoryview) -> np.ndarray:
        """Add bytes; the transfer frames ``[n, 1115]`` now complete."""
        self.stats.input_bytes += len(chunk)
        data = np.frombuffer(chunk, dtype=np.uint8)
        buf = np.concatenate([self._tail, data]) if len(self._tail) else data
        frames, pos = self._scan(buf, final=False)
        self._tail = buf[pos:].copy()
        return frames

    def finish(self) -> np.ndarray:
        """End of stream: a last whole CADU is decoded, a partial one skipped."""
        buf, self._tail = self._tail, np.zeros(0, dtype=np.uint8)
        frames, pos = self._scan(buf, final=True)
        self.stats.bytes_skipped += len(buf) - pos
        return frames

    def _decode(self, blocks: np.ndarray, inverted: bool) -> np.ndarray:
        st = self.stats
        if inverted:
            blocks = blocks ^ np.uint8(0xFF)
        blocks = blocks ^ _PN
        frames, corrected, words = decode_codeblocks(blocks)
        good = corrected != UNCORRECTABLE
        st.cadus += len(blocks)
        st.codewords_corrected += words
        st.symbols_corrected += int(corrected[good].sum())
        st.codeblocks_uncorrectable += int(np.count_nonzero(~good))
        return frames[good]

    def _search(self, buf: np.ndarray, pos: int) -> tuple[int, bool] | None:
        """The first position >= pos whose 4 bytes are the marker or its complement within
        the tolerance: (position, inverted); None when there is none."""
        n = len(buf)
        while pos + ASM_BYTES <= n:
            end = min(n, pos + _SEARCH_WINDOW + ASM_BYTES - 1)
            w = buf[pos:end]
            m = len(w) - ASM_BYTES + 1
            heads = np.stack([w[k : k + m] for k in range(ASM_BYTES)], axis=1)
            e, ei = _asm_errors(heads)
            hits = np.flatnonzero((e <= ASM_MAX_BIT_ERRORS) | (ei <= ASM_MAX_BIT_ERRORS))
            if len(hits):
                k = int(hits[0])
                return pos + k, bool(ei[k] <= ASM_MAX_BIT_ERRORS and e[k] > ASM_MAX_BIT_ERRORS)
            pos += m
        return None

    def _scan(self, buf: np.ndarray, final: bool) -> tuple[np.ndarray, int]:
        st = self.stats
        out: list[np.ndarray] = []
        pos = 0
        n = len(buf)
        while True:
            if self._locked:
                count = (n - pos) // CADU_BYTES
                if count == 0:
                    break
                rows = buf[pos : pos + count * CADU_BYTES].reshape(count, CADU_BYTES)
                e, ei = _asm_errors(rows[:, :ASM_BYTES])
                err = ei if self._inverted else e
                bad = err > ASM_MAX_BIT_ERRORS
                # flywheel: a bad marker followed by a good one is still in step
                forgiven = bad & np.r_[~bad[1:], False]
                reject = np.flatnonzero(bad & ~forgiven)
                k = int(reject[0]) if len(reject) else count
                if k:
                    st.asm_bit_errors += int(err[:k][~bad[:k]].sum())
                    st.flywheel_cadus += int(np.count_nonzero(forgiven[:k]))
                    if self._inverted:
                        st.inverted_cadus += k
                    out.append(self._decode(rows[:k, ASM_BYTES:], self._inverted))
                    pos += k * CADU_BYTES
                if k == count:
                    continue
                if k == count - 1 and not final:
                    break  # its successor has not arrived: it may still be forgiven
                self._locked = False  # lost: search again one byte further
                st.sync_losses += 1
                st.bytes_skipped += 1
                pos += 1
                continue
            hit = self._search(buf, pos)
            if hit is None:
                keep = 0 if final else min(n - pos, ASM_BYTES - 1)
                st.bytes_skipped += n - keep - pos
                pos = n - keep
                break
            at, inverted = hit
            if at + CADU_BYTES + ASM_BYTES > n and not final:
                st.bytes_skipped += at - pos
                pos = at  # wait for the next marker before deciding
                break
            confirmed = False
            if at + CADU_BYTES + ASM_BYTES <= n:
                e, ei = _asm_errors(buf[None, at + CADU_BYTES : at + CADU_BYTES + ASM_BYTES])
                confirmed = int((ei if inverted else e)[0]) <= ASM_MAX_BIT_ERRORS
            st.bytes_skipped += at - pos
            pos = at
            if confirmed:
                self._locked, self._inverted = True, inverted
                continue
            if pos + CADU_BYTES <= n:  # a lone CADU: taken when its codeblock decodes
                block = buf[None, pos + ASM_BYTES : pos + CADU_BYTES]
                blk = block ^ np.uint8(0xFF) if inverted else block
                frames, corrected, _ = decode_codeblocks(blk ^ _PN)
                if corrected[0] != UNCORRECTABLE:
                    out.append(self._decode(block, inverted))
                    st.inverted_cadus += int(inverted)
                    pos += CADU_BYTES
                    continue
            st.bytes_skipped += 1  # a false marker
            pos += 1
        frames = np.concatenate(out) if out else np.zeros((0, FRAME_BYTES), dtype=np.uint8)
        return frames, pos


# ---------------------------------------------------------------- frames to packets


@dataclass
class _Channel:
    partial: bytearray = field(default_factory=bytearray)
    synced: bool = False
    next_count: int | None = None
    last: bytes = b""


class FrameReader:
    """Checks transfer frames and extracts their packets (see the module docstring).

    ``spacecraft_id``: the only spacecraft whose frames are accepted."""

    def __init__(self, spacecraft_id: int = DEFAULT_SPACECRAFT_ID, stats: LinkStats | None = None):
        self.spacecraft_id = spacecraft_id
        self.stats = stats if stats is not None else LinkStats()
        self._vc = [_Channel() for _ in range(VC_COUNT)]
        self._next_mc: int | None = None

    def frames(self, frames: np.ndarray | Iterable[bytes]) -> bytes:
        """Whole packets (concatenated) of a batch of frames, in the order they completed."""
        out: list[bytes] = []
        if isinstance(frames, np.ndarray):
            # the FECFs of the whole batch at once (compiled CRC), then frame by frame
            good = (crc16_rows(frames) == 0).tolist()
            flat, size = frames.tobytes(), frames.shape[1] if frames.ndim == 2 else 0
            for k, ok in enumerate(good):
                self._frame(flat[k * size : (k + 1) * size], out, ok)
        else:
            for frame in frames:
                frame = bytes(frame)
                self._frame(frame, out, binascii.crc_hqx(frame, CRC16_INIT) == 0)
        return b"".join(out)

    def _frame(self, frame: bytes, out: list[bytes], fecf_ok: bool) -> None:
        st = self.stats
        if not fecf_ok:
            st.fecf_errors += 1
            return
        w0, mc, vcc, w2 = frame[0] << 8 | frame[1], frame[2], frame[3], frame[4] << 8 | frame[5]
        if w0 >> 14 != FRAME_VERSION:
            st.bad_version += 1
            return
        scid = (w0 >> 4) & 0x3FF
        if scid != self.spacecraft_id:
            st.foreign_frames[scid] = st.foreign_frames.get(scid, 0) + 1
            return
        vcid = (w0 >> 1) & 7
        fhp = w2 & 0x7FF
        ch = self._vc[vcid]
        if frame == ch.last:
            st.duplicate_frames += 1
            return
        ch.last = frame
        st.frames += 1
        st.frames_by_vc[vcid] = st.frames_by_vc.get(vcid, 0) + 1
        if self._next_mc is not None and mc != self._next_mc:
            st.mc_gaps += 1
            st.mc_frames_lost += (mc - self._next_mc) % 256
        self._next_mc = (mc + 1) % 256
        if ch.next_count is not None and vcc != ch.next_count:
            st.vc_gaps[vcid] = st.vc_gaps.get(vcid, 0) + 1
            st.vc_frames_lost[vcid] = st.vc_frames_lost.get(vcid, 0) + (vcc - ch.next_count) % 256
            self._drop(ch)
        ch.next_count = (vcc + 1) % 256
        if fhp == FHP_IDLE:
            st.idle_frames += 1
            return
        self._extract(ch, frame, fhp, out)

    def _drop(self, ch: _Channel) -> None:
        if ch.partial:
            self.stats.partial_packets_dropped += 1
        ch.partial = bytearray()
        ch.synced = False

    def _extract(self, ch: _Channel, frame: bytes, fhp: int, out: list[bytes]) -> None:
        st = self.stats
        off = _HDR
        if ch.synced:
            part = ch.partial
            if len(part) < HEADER:  # the header itself continues here
                head = bytes(part) + frame[_HDR : _HDR + HEADER - len(part)]
                size = (head[4] << 8 | head[5]) + HEADER + 1
            else:
                size = (part[4] << 8 | part[5]) + HEADER + 1
            need = size - len(part)
            expect = need if need < DATA_FIELD_BYTES else FHP_NO_PACKET
            if not part:
                expect = 0
            if fhp != expect or size > MAX_PACKET_BYTES:
                st.fhp_mismatches += 1
                self._drop(ch)
            elif part:
                take = min(need, DATA_FIELD_BYTES)
                part += frame[_HDR : _HDR + take]
                off += take
                if len(part) == size:
                    self._emit(bytes(part), out)
                    ch.partial = bytearray()
                else:
                    return  # the packet goes on in the next frame
        if not ch.synced:
            if fhp >= DATA_FIELD_BYTES:
                return  # no packet starts here: wait for one that does
            off = _HDR + fhp
            ch.synced = True
        while off < _FIELD_END:
            left = _FIELD_END - off
            if left < HEADER:
                ch.partial = bytearray(frame[off:_FIELD_END])
                return
            size = (frame[off + 4] << 8 | frame[off + 5]) + HEADER + 1
            if size > MAX_PACKET_BYTES:
                st.fhp_mismatches += 1
                self._drop(ch)
                return
            if size > left:
                ch.partial = bytearray(frame[off:_FIELD_END])
                return
            self._emit(frame[off : off + size], out)
            off += size
        ch.partial = bytearray()

    def _emit(self, packet: bytes, out: list[bytes]) -> None:
        st = self.stats
        if ((packet[0] << 8 | packet[1]) & 0x7FF) == _IDLE_APID:
            st.idle_packets += 1
            st.idle_bytes += len(packet)
            return
        st.packets += 1
        st.packet_bytes += len(packet)
        out.append(packet)


# ---------------------------------------------------------------- bare frames, KISS


class FrameSync:
    """Transfer frames back to back in a byte stream (no marker): each candidate must
    have version 0 and a valid FECF; after a bad one the next such position is searched
    byte by byte."""

    def __init__(self, stats: LinkStats | None = None) -> None:
        self.stats = stats if stats is not None else LinkStats()
        self._tail = b""

    def feed(self, chunk: bytes | bytearray | memoryview, final: bool = False) -> list[bytes]:
        self.stats.input_bytes += len(chunk)
        buf = self._tail + bytes(chunk)
        out = []
        pos = 0
        n = len(buf)
        crc = binascii.crc_hqx
        while pos + FRAME_BYTES <= n:
            cand = buf[pos : pos + FRAME_BYTES]
            if cand[0] >> 6 == FRAME_VERSION and crc(cand, CRC16_INIT) == 0:
                out.append(cand)
                pos += FRAME_BYTES
                continue
            self.stats.bytes_skipped += 1
            pos += 1
        if final:
            self.stats.bytes_skipped += n - pos
            pos = n
        self._tail = buf[pos:]
        return out

    def finish(self) -> list[bytes]:
        return self.feed(b"", final=True)


FEND, FESC, TFEND, TFESC = 0xC0, 0xDB, 0xDC, 0xDD


class KissReader:
    """KISS (the TNC framing: FEND-delimited, FESC escapes) data frames on port 0, each
    holding one transfer frame (what gr-satellites writes with its KISS output)."""

    def __init__(self, stats: LinkStats | None = None) -> None:
        self.stats = stats if stats is not None else LinkStats()
        self._tail = b""

    def feed(self, chunk: bytes | bytearray | memoryview, final: bool = False) -> list[bytes]:
        self.stats.input_bytes += len(chunk)
        buf = self._tail + bytes(chunk)
        parts = buf.split(bytes([FEND]))
        self._tail = b"" if final else parts.pop()
        out = []
        for raw in parts:
            if not raw:
                continue
            self.stats.kiss_frames += 1
            body = raw.replace(bytes([FESC, TFEND]), bytes([FEND]))
            body = body.replace(bytes([FESC, TFESC]), bytes([FESC]))
            if body[0] & 0x0F != 0 or len(body) - 1 != FRAME_BYTES:
                self.stats.kiss_bad += 1
                self.stats.bytes_skipped += len(raw)
                continue
            out.append(body[1:])
        return out

    def finish(self) -> list[bytes]:
        return self.feed(b"", final=True)


def kiss_encode(frames: Iterable[bytes]) -> bytes:
    """KISS data frames (port 0) of transfer frames."""
    out = bytearray()
    for f in frames:
        body = bytes(f).replace(bytes([FESC]), bytes([FESC, TFESC]))
        body = body.replace(bytes([FEND]), bytes([FESC, TFEND]))
        out += bytes([FEND, 0]) + body + bytes([FEND])
    return bytes(out)


# ---------------------------------------------------------------- receiver


FORMATS = ("cadu", "frames", "kiss")


class Receiver:
    """Chunks of a CADU stream, a bare-frame stream or a KISS file in, chunks of whole
    space packets out (for the packet deframer and ingest)."""

    def __init__(self, fmt: str, spacecraft_id: int = DEFAULT_SPACECRAFT_ID) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"link format must be one of {FORMATS}, not {fmt!r}")
        self.format = fmt
        self.stats = LinkStats()
        self.reader = FrameReader(spacecraft_id, self.stats)
        if fmt == "cadu":
            self._src = CaduSync(self.stats)
        elif fmt == "frames":
            self._src = FrameSync(self.stats)
        else:
            self._src = KissReader(self.stats)

    def feed(self, chunk: bytes | bytearray | memoryview) -> bytes:
        return self.reader.frames(self._src.feed(chunk))

    def finish(self) -> bytes:
        return self.reader.frames(self._src.finish())

    def packets(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """The packet chunks of a whole stream."""
        for chunk in chunks:
            data = self.feed(chunk)
            if data:
                yield data
        data = self.finish()
        if data:
            yield data


if RANDOMISER_PERIOD != 255 or CADU_BYTES != ASM_BYTES + CODEBLOCK_BYTES:
    raise AssertionError("link constants changed: review the receiver")
