"""Packet headers of a whole batch at once (numpy columns, no per-packet objects).

The field offsets, widths and bit positions come from the wire format's
layouts (:data:`triage.contract.packets.PRIMARY_HEADER` and
:data:`~triage.contract.packets.SECONDARY_HEADER`); nothing is retyped here.
:func:`check_packets` applies the rules a CRC-valid packet must still obey
(secondary-header version, segment numbering, segment sizes, sequence
flags, directory frame id) and says how many packets broke each, and which
packets another spacecraft made (their secondary header's spacecraft id).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from ground_station.deframe import Batch
from triage.contract.enums import (
    PLATFORM_PRODUCTS,
    PRODUCT_BY_NAME,
    SEQ_CONTINUATION,
    SEQ_FIRST,
    SEQ_LAST,
    SEQ_UNSEGMENTED,
)
from triage.contract.layout import Layout
from triage.contract.packets import (
    DEFAULT_SPACECRAFT_ID,
    MAX_SEGMENT_BYTES,
    PACKET_OVERHEAD,
    PRIMARY_HEADER,
    SECONDARY_HEADER,
)
from triage.contract.records import DIRECTORY_FRAME_ID, FORMAT_VERSION

HEADER_BYTES = PRIMARY_HEADER.size + SECONDARY_HEADER.size
_SPAN = np.arange(HEADER_BYTES, dtype=np.int64)


def columns(layout: Layout, rows: np.ndarray, base: int = 0) -> dict[str, np.ndarray]:
    """Decode every scalar integer field of ``layout`` from ``rows`` ([N, bytes] uint8).

    The record starts at column ``base``; fields are big-endian, bit fields
    are shifted and masked as the layout says. Returns int64 columns.
    """
    out: dict[str, np.ndarray] = {}
    for f in layout.fields:
        if f.count != 1 or f.kind == "f64":
            continue
        start = base + f.offset
        value = np.zeros(len(rows), dtype=np.int64)
        for k in range(f.size):
            value = (value << 8) | rows[:, start + k].astype(np.int64)
        if f.bits is not None:
            value = (value >> f.shift) & f.mask
        out[f.name] = value
    return out


@dataclass
class PacketColumns:
    """Header fields of a batch of packets (one int64 array per field) and their place."""

    buf: bytes
    offsets: np.ndarray
    sizes: np.ndarray
    primary: dict[str, np.ndarray]
    secondary: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.offsets)

    @property
    def segment_bytes(self) -> np.ndarray:
        return self.sizes - PACKET_OVERHEAD

    def take(self, index: np.ndarray) -> PacketColumns:
        return PacketColumns(
            self.buf,
            self.offsets[index],
            self.sizes[index],
            {k: v[index] for k, v in self.primary.items()},
            {k: v[index] for k, v in self.secondary.items()},
        )


def parse_batch(batch: Batch) -> PacketColumns:
    """Primary and secondary header columns of every packet of a deframed batch."""
    if len(batch) == 0:
        rows = np.zeros((0, HEADER_BYTES), dtype=np.uint8)
    else:
        data = np.frombuffer(batch.buf, dtype=np.uint8)
        rows = data[batch.offsets[:, None] + _SPAN]
    return PacketColumns(
        buf=batch.buf,
        offsets=batch.offsets,
        sizes=batch.sizes,
        primary=columns(PRIMARY_HEADER, rows),
        secondary=columns(SECONDARY_HEADER, rows, PRIMARY_HEADER.size),
    )


def expected_seq_flags(index: np.ndarray, count: np.ndarray) -> np.ndarray:
    """The sequence flags a segment must carry (CCSDS 133.0-B segmentation)."""
    flags = np.full(len(index), SEQ_CONTINUATION, dtype=np.int64)
    flags[index == 0] = SEQ_FIRST
    flags[index == count - 1] = SEQ_LAST
    flags[count == 1] = SEQ_UNSEGMENTED
    return flags


def check_packets(
    cols: PacketColumns, spacecraft_id: int = DEFAULT_SPACECRAFT_ID
) -> tuple[np.ndarray, dict[str, int], dict[int, int]]:
    """Which packets obey the wire format beyond their CRC and come from ``spacecraft_id``;
    counts of each violation, and of the packets of other spacecraft by their id (packets
    of this wire format version that break no rule: refused, not malformed)."""
    s, p = cols.secondary, cols.primary
    idx, count = s["segment_index"], s["segment_count"]
    seg = cols.segment_bytes
    platform_apids = [PRODUCT_BY_NAME[n].apid for n in sorted(PLATFORM_PRODUCTS)]
    rules = {
        "secondary header version": s["version"] == FORMAT_VERSION,
        "segment count 0": count >= 1,
        "segment index past count": idx < count,
        "segment size": np.where(idx < count - 1, seg == MAX_SEGMENT_BYTES, seg >= 1),
        "sequence flags": p["seq_flags"] == expected_seq_flags(idx, count),
        "directory frame id": np.isin(p["apid"], platform_apids)
        == (s["frame_id"] >= DIRECTORY_FRAME_ID),
    }
    ok = np.ones(len(cols), dtype=bool)
    broken: dict[str, int] = {}
    for name, good in rules.items():
        bad = int(np.count_nonzero(ok & ~good))
        if bad:
            broken[name] = bad
        ok &= good
    scid = s["spacecraft_id"]
    other = ok & (scid != spacecraft_id)
    ids, counts = np.unique(scid[other], return_counts=True)
    return ok & ~other, broken, dict(zip(ids.tolist(), counts.tolist(), strict=True))


@numba.njit(cache=True, nogil=True)
def _gather_nb(buf, offsets, lengths, out):
    k = 0
    for i in range(offsets.shape[0]):
        o = offsets[i]
        n = lengths[i]
        out[k : k + n] = buf[o : o + n]
        k += n


def gather(buf: bytes, offsets: np.ndarray, lengths: np.ndarray) -> bytes:
    """The byte ranges ``buf[offsets[i] : offsets[i] + lengths[i]]`` back to back (the
    segments of a batch's packets into one payload, without a Python object per range)."""
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    lengths = np.ascontiguousarray(lengths, dtype=np.int64)
    if len(offsets) and (
        int(offsets.min()) < 0 or int((offsets + lengths).max()) > len(buf) or lengths.min() < 0
    ):
        raise ValueError("a range lies outside the buffer")
    out = np.empty(int(lengths.sum()), dtype=np.uint8)
    _gather_nb(np.frombuffer(buf, dtype=np.uint8), offsets, lengths, out)
    return out.tobytes()
