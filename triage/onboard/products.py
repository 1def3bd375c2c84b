"""Reading what the firmware sends: packets, reassembled products, decoded bands.

For tests and tools on the satellite side: a strict parser of the firmware's
packet stream (every defect raises; the ground station's deframer is the
tolerant one, for what a receiver hands over) and the reassembly of complete
products, which the contract's one codec (:mod:`triage.contract.codec`; libaec
decodes the CCSDS 121.0-B streams) then decodes.
"""

from __future__ import annotations

from dataclasses import dataclass

from triage.contract.codec import Product, decode_product
from triage.contract.enums import (
    PACKET_TYPE_TM,
    PACKET_VERSION,
)
from triage.contract.errors import ProductError
from triage.contract.packets import (
    MAX_SEGMENT_BYTES,
    PACKET_OVERHEAD,
    PRIMARY_HEADER,
    SECONDARY_HEADER,
)
from triage.contract.records import (
    FORMAT_VERSION,
    crc16,
)

_PH = PRIMARY_HEADER
_SH = SECONDARY_HEADER


@dataclass(frozen=True)
class Packet:
    """One telemetry packet, checked (CRC, lengths, header fields)."""

    apid: int
    seq_flags: int
    seq_count: int
    secondary: dict
    segment: bytes
    raw: bytes


def parse_packets(stream: bytes) -> list[Packet]:
    """Split a stream of back-to-back packets; any defect raises :class:`ProductError`."""
    out = []
    pos = 0
    while pos < len(stream):
        if len(stream) - pos < _PH.size:
            raise ProductError(f"truncated primary header at byte {pos}")
        ph = _PH.unpack(stream, pos)
        total = _PH.size + ph["data_length"] + 1
        if len(stream) - pos < total:
            raise ProductError(f"packet at byte {pos} needs {total} bytes")
        raw = bytes(stream[pos : pos + total])
        if crc16(raw[:-2]) != int.from_bytes(raw[-2:], "big"):
            raise ProductError(f"CRC mismatch in packet at byte {pos}")
        if ph["version"] != PACKET_VERSION or ph["type"] != PACKET_TYPE_TM:
            raise ProductError(f"packet at byte {pos}: version/type")
        if ph["sec_hdr_flag"] != 1 or total < PACKET_OVERHEAD + 1:
            raise ProductError(f"packet at byte {pos}: no secondary header or empty segment")
        sh = _SH.unpack(raw, _PH.size)
        if sh["version"] != FORMAT_VERSION:
            raise ProductError(f"packet at byte {pos}: format version {sh['version']}")
        seg = raw[_PH.size + _SH.size : -2]
        if len(seg) > MAX_SEGMENT_BYTES:
            raise ProductError(f"packet at byte {pos}: segment of {len(seg)} bytes")
        out.append(Packet(ph["apid"], ph["seq_flags"], ph["seq_count"], sh, seg, raw))
        pos += total
    return out


def reassemble(packets: list[Packet]) -> dict[tuple[int, int], bytes]:
    """Complete products keyed by (frame_id, product_id); incomplete ones are left out.

    Segments may come in any order and more than once (identical repeats).
    """
    parts: dict[tuple[int, int], dict[int, bytes]] = {}
    counts: dict[tuple[int, int], int] = {}
    for p in packets:
        key = (p.secondary["frame_id"], p.secondary["product_id"])
        n = p.secondary["segment_count"]
        if counts.setdefault(key, n) != n:
            raise ProductError(f"product {key}: segment counts disagree")
        seg = parts.setdefault(key, {})
        i = p.secondary["segment_index"]
        if i in seg and seg[i] != p.segment:
            raise ProductError(f"product {key}: segment {i} differs between copies")
        seg[i] = p.segment
    return {
        key: b"".join(seg[i] for i in range(counts[key]))
        for key, seg in parts.items()
        if len(seg) == counts[key]
    }


def decode_stream(stream: bytes) -> dict[tuple[int, int], Product]:
    """Parse, reassemble and decode every complete product of a packet stream (the
    contract's codec: :func:`triage.contract.codec.decode_product`)."""
    return {key: decode_product(d) for key, d in reassemble(parse_packets(stream)).items()}
