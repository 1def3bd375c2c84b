"""Reading what the firmware sends: packets, products, decoded bands.

For tests and tools on the satellite side (the ground station has its own,
independent deframer and reassembly). Layouts come from
:mod:`triage.wire_format`; compressed bands are decoded with libaec
(``imagecodecs.aec_decode``), an independent implementation of CCSDS 121.0-B.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from triage import wire_format as wf
from triage.onboard.errors import ProductError

_PH = wf.PRIMARY_HEADER
_SH = wf.SECONDARY_HEADER


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
        if wf.crc16(raw[:-2]) != int.from_bytes(raw[-2:], "big"):
            raise ProductError(f"CRC mismatch in packet at byte {pos}")
        if ph["version"] != wf.PACKET_VERSION or ph["type"] != wf.PACKET_TYPE_TM:
            raise ProductError(f"packet at byte {pos}: version/type")
        if ph["sec_hdr_flag"] != 1 or total < wf.PACKET_OVERHEAD + 1:
            raise ProductError(f"packet at byte {pos}: no secondary header or empty segment")
        sh = _SH.unpack(raw, _PH.size)
        if sh["version"] != wf.FORMAT_VERSION:
            raise ProductError(f"packet at byte {pos}: format version {sh['version']}")
        seg = raw[_PH.size + _SH.size : -2]
        if len(seg) > wf.MAX_SEGMENT_BYTES:
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


def aec_decode_band(stream: bytes, rows: int, cols: int, header: dict) -> np.ndarray:
    """One CCSDS 121.0-B band stream to ``[rows, cols]`` with libaec.

    libaec returns whole blocks, and imagecodecs needs the output size for
    highly compressed streams: pass ``out`` as the whole-block byte count.
    """
    import imagecodecs

    bits = header["sample_bits"]
    block = header["aec_block_size"]
    n = rows * cols
    itemsize = 1 if bits <= 8 else 2
    whole = -(-n // block) * block
    raw = imagecodecs.aec_decode(
        stream,
        bitspersample=bits,
        blocksize=block,
        rsi=header["aec_rsi"],
        flags=wf.aec_decode_flags(header["aec_flags"]),
        out=whole * itemsize,
    )
    arr = np.frombuffer(raw, dtype=np.uint8 if itemsize == 1 else np.uint16)
    if len(arr) < n:
        raise ProductError(f"band decodes to {len(arr)} samples, need {n}")
    return arr[:n].reshape(rows, cols)


@dataclass
class Product:
    """A decoded product: its header, and per type its bands (``[bands, rows, cols]``),
    frame summary or directory entries."""

    header: dict
    data: bytes
    bands: np.ndarray | None = None
    rects: list[dict] = field(default_factory=list)  # KEPT_RECT records (masked crops)
    summary: dict | None = None
    entries: list[dict] = field(default_factory=list)

    @property
    def type_name(self) -> str:
        return wf.PRODUCT_BY_CODE[self.header["product_type"]].name


def decode_product(data: bytes) -> Product:
    """Decode a reassembled product (header, then bands or records)."""
    hs = wf.PRODUCT_HEADER.size
    if len(data) < hs:
        raise ProductError(f"product of {len(data)} bytes is shorter than its header")
    h = wf.PRODUCT_HEADER.unpack(data)
    if h["version"] != wf.FORMAT_VERSION or h["product_type"] not in wf.PRODUCT_BY_CODE:
        raise ProductError(f"product header: version {h['version']}, type {h['product_type']}")
    if h["product_crc32"] != wf.product_crc32(data):
        raise ProductError(f"product CRC-32 0x{h['product_crc32']:08X} does not match its bytes")
    prod = Product(header=h, data=data)
    name = prod.type_name
    body = data[hs:]
    if name == "FRAME_SUMMARY":
        if len(body) != wf.FRAME_SUMMARY.size:
            raise ProductError(f"FRAME_SUMMARY body of {len(body)} bytes")
        prod.summary = wf.FRAME_SUMMARY.unpack(body)
        return prod
    if name == "STORE_DIRECTORY":
        if len(body) % wf.STORE_ENTRY.size:
            raise ProductError(f"STORE_DIRECTORY body of {len(body)} bytes")
        prod.entries = [
            wf.STORE_ENTRY.unpack(body, i) for i in range(0, len(body), wf.STORE_ENTRY.size)
        ]
        return prod
    nb, rows, cols = h["bands"], h["rows"], h["cols"]
    nr = h["kept_rects"]
    rb = nr * wf.KEPT_RECT.size
    if len(body) < rb:
        raise ProductError(f"body of {len(body)} bytes is shorter than its {nr} kept rectangles")
    rects = [wf.KEPT_RECT.unpack(body, k) for k in range(0, rb, wf.KEPT_RECT.size)]
    try:
        kept = wf.kept_mask(rects, rows, cols)
    except wf.LayoutError as exc:
        raise ProductError(str(exc)) from None
    prod.rects = rects
    body = body[rb:]
    sizes = h["band_bytes"][:nb]
    if sum(sizes) != len(body) or any(h["band_bytes"][nb:]):
        raise ProductError(f"band sizes {h['band_bytes']} do not add up to {len(body)} bytes")
    n = int(kept.sum())
    coded = []
    pos = 0
    for size in sizes:
        stream = body[pos : pos + size]
        pos += size
        if h["compression"] == wf.COMPRESSION_CCSDS121:
            samples = aec_decode_band(stream, 1, n, h)[0]
        elif h["compression"] == wf.COMPRESSION_NONE:
            dt = np.dtype(">u2") if h["sample_bits"] == 16 else np.dtype("u1")
            samples = np.frombuffer(stream, dtype=dt).astype(dt.newbyteorder("="))
            if len(samples) != n:
                raise ProductError(f"raw band of {len(samples)} samples, {n} expected")
        else:
            raise ProductError(f"compression {h['compression']}")
        coded.append(samples)
    if wf.neighbour_coded(h):
        # mapped residuals of the neighbour predictor: back to the coded values
        dtype = coded[0].dtype if coded else np.uint16
        coded = [
            band[kept].astype(dtype) for band in wf.neighbour_restore(coded, kept, h["sample_bits"])
        ]
    bands = []
    for samples in coded:
        if h["dn_den"]:  # instrument numbers (FRAME_META's dn scale): restore the samples
            samples = wf.samples_from_dn(samples, h["dn_num"], h["dn_den"]).astype(samples.dtype)
        band = np.full((rows, cols), h["nodata"], dtype=samples.dtype)
        band[kept] = samples  # row-major order of the kept pixels
        bands.append(band)
    prod.bands = np.stack(bands) if bands else np.zeros((0, rows, cols), np.uint16)
    return prod


def decode_stream(stream: bytes) -> dict[tuple[int, int], Product]:
    """Parse, reassemble and decode every complete product of a packet stream."""
    return {key: decode_product(d) for key, d in reassemble(parse_packets(stream)).items()}
