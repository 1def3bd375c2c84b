"""Space packets (CCSDS 133.0-B) in both directions: headers, segmentation, the reference
encoder, a strict splitter, and the DOWNLINK_REQUEST telecommand.

A product of n bytes travels in ``segment_count(n)`` telemetry packets, every
segment but the last exactly :data:`MAX_SEGMENT_BYTES` long; each packet carries a
secondary header saying which product and segment it holds, and a CRC-16. The
ground's plan goes up as one DOWNLINK_REQUEST telecommand (no secondary header,
REQUEST_ENTRY records, CRC-16). The firmware has its own packetiser in C; this is
the reference the tools and tests use.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from triage.contract.enums import (
    APID_DOWNLINK_REQUEST,
    PACKET_TYPE_TC,
    PACKET_TYPE_TM,
    PACKET_VERSION,
    SEQ_CONTINUATION,
    SEQ_COUNT_MODULO,
    SEQ_FIRST,
    SEQ_LAST,
    SEQ_UNSEGMENTED,
    RequestAction,
)
from triage.contract.errors import LayoutError
from triage.contract.layout import Field, Layout
from triage.contract.records import FORMAT_VERSION, REQUEST_ENTRY, crc16

DEFAULT_SPACECRAFT_ID = 0x1A7
"""The spacecraft id the firmware and the ground use unless told otherwise (SCIDs are
assigned per mission; this one is ours for the simulator and the tests). Every packet's
secondary header carries it, as every transfer frame's primary header does."""
MAX_SPACECRAFT_ID = (1 << 10) - 1
"""SCIDs are 10 bits (CCSDS 132.0-B transfer frame primary header)."""

MAX_SEGMENT_BYTES = 1024
"""Largest product segment carried by one packet (the user data after the
secondary header). A product of n bytes travels in ceil(n / MAX_SEGMENT_BYTES)
packets; every segment but the last is exactly this long."""

PRIMARY_HEADER = Layout(
    "PRIMARY_HEADER",
    6,
    "CCSDS 133.0-B Space Packet primary header.",
    (
        Field(
            "version",
            0,
            "u16",
            "packet version number, always 0 (CCSDS version 1)",
            bits=3,
            shift=13,
        ),
        Field("type", 0, "u16", "packet type: 0 telemetry", bits=1, shift=12),
        Field("sec_hdr_flag", 0, "u16", "secondary header flag: always 1 here", bits=1, shift=11),
        Field("apid", 0, "u16", "application process id: one per product type", bits=11, shift=0),
        Field(
            "seq_flags",
            2,
            "u16",
            "sequence flags: 01 first, 00 continuation, 10 last, 11 unsegmented",
            bits=2,
            shift=14,
        ),
        Field(
            "seq_count", 2, "u16", "packet sequence count, per APID, modulo 16384", bits=14, shift=0
        ),
        Field(
            "data_length",
            4,
            "u16",
            "octets in the packet data field minus 1 (secondary header + segment + CRC)",
        ),
    ),
)

SECONDARY_HEADER = Layout(
    "SECONDARY_HEADER",
    30,
    "Secondary header: which product this packet carries a segment of.",
    (
        Field("version", 0, "u8", "format version (FORMAT_VERSION)"),
        Field("reserved", 1, "u8", "0"),
        Field("frame_id", 2, "u32", "frame the product comes from"),
        Field("product_id", 6, "u16", "product number within the frame (unique per frame)"),
        Field("segment_index", 8, "u16", "0-based index of this segment within the product"),
        Field("segment_count", 10, "u16", "number of segments of the product (>= 1)"),
        Field("region_row0", 12, "u16", "region in frame pixels: first row"),
        Field("region_col0", 14, "u16", "region in frame pixels: first column"),
        Field("region_rows", 16, "u16", "region in frame pixels: rows"),
        Field("region_cols", 18, "u16", "region in frame pixels: columns"),
        Field(
            "class_id", 20, "u8", "class id (models/tile_spec.json order), 255 for frame products"
        ),
        Field(
            "confidence",
            21,
            "u8",
            "classifier confidence: int8 softmax output + 128 (p = value/256)",
        ),
        Field("time_s", 22, "u32", "capture time, seconds since TIME_EPOCH"),
        Field("time_sub", 26, "u16", "capture time, 1/65536 s"),
        Field(
            "spacecraft_id",
            28,
            "u16",
            "spacecraft that made the packet (0..1023, its transfer frames' SCID): a bare "
            "packet stream says whose it is",
            default=DEFAULT_SPACECRAFT_ID,
        ),
    ),
)

CRC_SIZE = 2
PACKET_OVERHEAD = PRIMARY_HEADER.size + SECONDARY_HEADER.size + CRC_SIZE
"""Bytes of a telemetry packet besides its segment."""
MAX_PACKET_BYTES = PACKET_OVERHEAD + MAX_SEGMENT_BYTES

HEADERS: tuple[Layout, ...] = (PRIMARY_HEADER, SECONDARY_HEADER)


# ---------------------------------------------------------------- segmentation


def segment_count(product_bytes: int) -> int:
    """Segments (packets) of a product of ``product_bytes`` bytes (>= 1)."""
    if product_bytes < 1:
        raise LayoutError(f"a product of {product_bytes} bytes has no segments")
    return -(-product_bytes // MAX_SEGMENT_BYTES)


def segment_span(product_bytes: int, index: int) -> tuple[int, int]:
    """``(start, end)`` byte offsets of segment ``index`` in the product."""
    n = segment_count(product_bytes)
    if not 0 <= index < n:
        raise LayoutError(f"segment {index} of a {n}-segment product")
    start = index * MAX_SEGMENT_BYTES
    return start, min(start + MAX_SEGMENT_BYTES, product_bytes)


def segments_bytes(product_bytes: int, first: int = 0, last: int | None = None) -> int:
    """Link bytes (packet overhead included) of segments ``first..last`` (inclusive; the
    whole product by default)."""
    n = segment_count(product_bytes)
    last = n - 1 if last is None else last
    if not 0 <= first <= last < n:
        raise LayoutError(f"segments {first}..{last} of a {n}-segment product")
    payload = segment_span(product_bytes, last)[1] - first * MAX_SEGMENT_BYTES
    return payload + (last - first + 1) * PACKET_OVERHEAD


def segment_flags(index: int, count: int) -> int:
    """The sequence flags of segment ``index`` of ``count``."""
    if count == 1:
        return SEQ_UNSEGMENTED
    if index == 0:
        return SEQ_FIRST
    return SEQ_LAST if index == count - 1 else SEQ_CONTINUATION


def encode_packet(
    apid: int, seq_flags: int, seq_count: int, secondary: Mapping[str, object], segment: bytes
) -> bytes:
    """One complete packet: primary header, secondary header, segment, CRC.

    The reference encoder for tools and tests; the firmware has its own.
    """
    if not 1 <= len(segment) <= MAX_SEGMENT_BYTES:
        raise LayoutError(f"segment of {len(segment)} bytes (1..{MAX_SEGMENT_BYTES})")
    body = SECONDARY_HEADER.pack({"version": FORMAT_VERSION, **secondary}) + segment
    primary = PRIMARY_HEADER.pack(
        {
            "version": PACKET_VERSION,
            "type": PACKET_TYPE_TM,
            "sec_hdr_flag": 1,
            "apid": apid,
            "seq_flags": seq_flags,
            "seq_count": seq_count % SEQ_COUNT_MODULO,
            "data_length": len(body) + CRC_SIZE - 1,
        }
    )
    packet = primary + body
    return packet + crc16(packet).to_bytes(2, "big")


def packetize_product(
    product: bytes, apid: int, secondary: Mapping[str, object], first_seq_count: int
) -> list[bytes]:
    """Split a product into packets; ``secondary`` lacks the segment fields.

    Returns the packets in order; their sequence counts run on from
    ``first_seq_count`` (modulo 16384).
    """
    if not product:
        raise LayoutError("empty product")
    n = segment_count(len(product))
    if n > 0xFFFF:
        raise LayoutError(f"product of {len(product)} bytes needs more than 65535 segments")
    packets = []
    for i in range(n):
        start, end = segment_span(len(product), i)
        fields = {**secondary, "segment_index": i, "segment_count": n}
        packets.append(
            encode_packet(
                apid, segment_flags(i, n), first_seq_count + i, fields, product[start:end]
            )
        )
    return packets


def packet_length(stream: bytes | bytearray | memoryview, pos: int = 0) -> int:
    """Total bytes of the packet starting at ``pos``, from its primary header."""
    if len(stream) - pos < PRIMARY_HEADER.size:
        raise LayoutError(f"packet stream ends inside a primary header at byte {pos}")
    return PRIMARY_HEADER.unpack(stream, pos)["data_length"] + 1 + PRIMARY_HEADER.size


def split_packets(stream: bytes | bytearray | memoryview) -> list[bytes]:
    """Cut a concatenation of space packets into packets (lengths from the primary
    headers, nothing else checked); :class:`LayoutError` when the stream is cut short.

    For streams made by the firmware or the reference encoder; a receiver's stream
    (garbage, losses, resynchronisation) is the ground station's deframer's job."""
    out = []
    pos = 0
    n = len(stream)
    while pos < n:
        length = packet_length(stream, pos)
        if pos + length > n:
            raise LayoutError(f"packet at byte {pos} runs past the end of the stream")
        out.append(bytes(stream[pos : pos + length]))
        pos += length
    return out


# ---------------------------------------------------------------- DOWNLINK_REQUEST


MAX_REQUEST_ENTRIES = (0xFFFF + 1 - CRC_SIZE) // REQUEST_ENTRY.size
"""A DOWNLINK_REQUEST is one packet: its data field holds at most 65,536 bytes."""


def request_size(entries: int) -> int:
    """Bytes of a DOWNLINK_REQUEST with ``entries`` records."""
    return PRIMARY_HEADER.size + entries * REQUEST_ENTRY.size + CRC_SIZE


def request_entry(
    frame_id: int, product_id: int, action: RequestAction | int | str, first: int = 0, last: int = 0
) -> dict:
    """A REQUEST_ENTRY record (``action`` a :class:`RequestAction`, its name in any case, or
    any code the field holds: a receiver must refuse the unknown ones; segments only for
    SEND)."""
    code = RequestAction[action.upper()] if isinstance(action, str) else int(action)
    send = code == RequestAction.SEND
    return {
        "frame_id": frame_id,
        "product_id": product_id,
        "action": code,
        "segment_first": first if send else 0,
        "segment_last": last if send else 0,
    }


def encode_request(entries: Iterable[Mapping[str, int]], seq_count: int = 0) -> bytes:
    """The DOWNLINK_REQUEST telecommand packet for REQUEST_ENTRY records (in that order)."""
    records = b"".join(REQUEST_ENTRY.pack(e) for e in entries)
    if len(records) // REQUEST_ENTRY.size > MAX_REQUEST_ENTRIES:
        raise LayoutError(
            f"{len(records) // REQUEST_ENTRY.size} request entries, at most {MAX_REQUEST_ENTRIES}"
        )
    head = PRIMARY_HEADER.pack(
        {
            "version": PACKET_VERSION,
            "type": PACKET_TYPE_TC,
            "sec_hdr_flag": 0,
            "apid": APID_DOWNLINK_REQUEST,
            "seq_flags": SEQ_UNSEGMENTED,
            "seq_count": seq_count % SEQ_COUNT_MODULO,
            "data_length": len(records) + CRC_SIZE - 1,
        }
    )
    packet = head + records
    return packet + crc16(packet).to_bytes(CRC_SIZE, "big")


def decode_request(packet: bytes | bytearray | memoryview) -> tuple[int, list[dict]]:
    """(sequence count, REQUEST_ENTRY dicts) of a DOWNLINK_REQUEST; :class:`LayoutError`
    naming the defect when it is malformed."""
    n = len(packet)
    if n < request_size(0):
        raise LayoutError(f"DOWNLINK_REQUEST of {n} bytes is shorter than {request_size(0)}")
    h = PRIMARY_HEADER.unpack(packet)
    if h["data_length"] + 1 + PRIMARY_HEADER.size != n:
        raise LayoutError(
            f"DOWNLINK_REQUEST length field says {h['data_length'] + 1 + PRIMARY_HEADER.size}, "
            f"have {n}"
        )
    if crc16(packet) != 0:
        raise LayoutError("DOWNLINK_REQUEST CRC mismatch")
    want = (PACKET_VERSION, PACKET_TYPE_TC, 0, APID_DOWNLINK_REQUEST, SEQ_UNSEGMENTED)
    got = (h["version"], h["type"], h["sec_hdr_flag"], h["apid"], h["seq_flags"])
    if got != want:
        raise LayoutError(f"not a DOWNLINK_REQUEST header: {got}")
    body = packet[PRIMARY_HEADER.size : n - CRC_SIZE]
    if len(body) % REQUEST_ENTRY.size:
        raise LayoutError("DOWNLINK_REQUEST body is not whole REQUEST_ENTRY records")
    size = REQUEST_ENTRY.size
    return h["seq_count"], [REQUEST_ENTRY.unpack(body, k) for k in range(0, len(body), size)]
