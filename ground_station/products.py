"""Reassembled products: check the header, decode the band streams.

A product is a PRODUCT_HEADER followed by its body (see WIRE_FORMAT.md):
band streams for image products (CCSDS 121.0-B decoded with libaec through
``imagecodecs.aec_decode``, or raw samples), FRAME_SUMMARY or STORE_ENTRY
records for the others. :func:`decode_product` checks everything it reads
against the header before using it and raises :class:`ProductError` with
the reason; nothing half-decoded is ever returned.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from ground_station.errors import ProductError
from triage import wire_format as wf

IMAGE_TYPES = frozenset({"SHIP_CROP", "QUICKLOOK", "CLASS_MAP", "LAND"})
RECORD_TYPES = {"FRAME_SUMMARY": wf.FRAME_SUMMARY, "STORE_DIRECTORY": wf.STORE_ENTRY}


@dataclass
class Product:
    """A decoded product: its header, and pixels [bands, rows, cols] or records."""

    header: dict
    type_name: str
    pixels: np.ndarray | None = None
    records: list[dict] = field(default_factory=list)

    @property
    def frame_id(self) -> int:
        return self.header["frame_id"]

    @property
    def product_id(self) -> int:
        return self.header["product_id"]


def capture_time(time_s: int, time_sub: int) -> datetime:
    """CUC-style time fields to a UTC datetime (TIME_EPOCH, leap seconds not counted)."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=time_s + time_sub / 65536.0)


_CODES = {"u8": "B", "u16": "H", "u32": "I", "f64": "d"}


def _compile(layout: wf.Layout):
    """A one-call unpacker for a layout without bit fields (same result as layout.unpack)."""
    import struct

    fields = sorted(layout.fields, key=lambda f: f.offset)
    assert all(f.bits is None for f in fields)
    fmt = struct.Struct(">" + "".join(f"{f.count}{_CODES[f.kind]}" for f in fields))
    assert fmt.size == layout.size
    spans = []
    k = 0
    for f in fields:
        spans.append((f.name, k, f.count))
        k += f.count

    def unpack(buf) -> dict:
        values = fmt.unpack_from(buf, 0)
        return {name: values[i] if n == 1 else tuple(values[i : i + n]) for name, i, n in spans}

    return unpack


_unpack_header = _compile(wf.PRODUCT_HEADER)


def parse_header(data: bytes | memoryview) -> dict:
    """The product header, checked on its own (not against the body)."""
    if len(data) < wf.PRODUCT_HEADER.size:
        raise ProductError(
            f"product of {len(data)} bytes is shorter than its {wf.PRODUCT_HEADER.size}-byte header"
        )
    h = _unpack_header(data)
    if h["version"] != wf.FORMAT_VERSION:
        raise ProductError(f"product header version {h['version']}, expected {wf.FORMAT_VERSION}")
    pt = wf.PRODUCT_BY_CODE.get(h["product_type"])
    if pt is None:
        raise ProductError(f"unknown product type {h['product_type']}")
    if h["bands"] > wf.MAX_BANDS:
        raise ProductError(f"{h['bands']} bands, at most {wf.MAX_BANDS}")
    if any(h["band_bytes"][h["bands"] :]):
        raise ProductError("band_bytes set for bands past the band count")
    return h


def _check_image_header(h: dict, length: int, kept: int) -> None:
    if h["bands"] < 1:
        raise ProductError("image product with 0 bands")
    if h["sample_bits"] not in (8, 16):
        raise ProductError(f"sample_bits {h['sample_bits']}, expected 8 or 16")
    if h["rows"] < 1 or h["cols"] < 1:
        raise ProductError(f"empty image {h['rows']}x{h['cols']}")
    if h["pixel_step"] < 1 or h["pixel_extent"] < 1:
        raise ProductError("pixel_step and pixel_extent must be >= 1")
    if h["region_row0"] + h["region_rows"] > h["frame_rows"] or (
        h["region_col0"] + h["region_cols"] > h["frame_cols"]
    ):
        raise ProductError(
            f"region {h['region_row0']},{h['region_col0']} +{h['region_rows']}x"
            f"{h['region_cols']} outside the {h['frame_rows']}x{h['frame_cols']} frame"
        )
    gt = h["geotransform"]
    if not all(math.isfinite(v) for v in gt) or gt[1] * gt[5] - gt[2] * gt[4] == 0:
        raise ProductError(f"geotransform {gt} is not invertible")
    try:
        wf.check_dn_scale(h["dn_num"], h["dn_den"])
    except wf.LayoutError as exc:
        raise ProductError(str(exc)) from None
    if h["compression"] == wf.COMPRESSION_CCSDS121:
        if h["aec_block_size"] not in wf.AEC_BLOCK_SIZES:
            raise ProductError(f"aec_block_size {h['aec_block_size']} not in {wf.AEC_BLOCK_SIZES}")
        if not 1 <= h["aec_rsi"] <= 4096:
            raise ProductError(f"aec_rsi {h['aec_rsi']} not in 1..4096")
        if h["aec_flags"] not in wf.AEC_FLAGS_KNOWN:
            raise ProductError(
                f"aec_flags 0x{h['aec_flags']:02X} (unknown bits or both predictors)"
            )
    elif h["compression"] == wf.COMPRESSION_NONE:
        need = kept * h["sample_bits"] // 8
        for b in range(h["bands"]):
            if h["band_bytes"][b] != need:
                raise ProductError(
                    f"band {b}: {h['band_bytes'][b]} raw bytes, {need} expected for "
                    f"{kept} {h['sample_bits']}-bit samples"
                )
    else:
        raise ProductError(f"unknown compression {h['compression']}")
    total = (
        wf.PRODUCT_HEADER.size
        + h["kept_rects"] * wf.KEPT_RECT.size
        + sum(h["band_bytes"][: h["bands"]])
    )
    if total != length:
        raise ProductError(
            f"product is {length} bytes but its header, kept rectangles and band_bytes add up "
            f"to {total}"
        )
    if any(n == 0 for n in h["band_bytes"][: h["bands"]]):
        raise ProductError("a band stream of 0 bytes")


def _decode_band(h: dict, stream: memoryview, n: int) -> np.ndarray:
    bits = h["sample_bits"]
    if h["compression"] == wf.COMPRESSION_NONE:
        dtype = ">u2" if bits == 16 else "u1"
        return np.frombuffer(stream, dtype=dtype).astype(np.uint16 if bits == 16 else np.uint8)
    import imagecodecs

    block = h["aec_block_size"]
    width = bits // 8
    capacity = -(-n // block) * block  # whole blocks: the stream may not hold more
    out = bytearray(capacity * width)
    try:
        got = imagecodecs.aec_decode(
            stream,
            bitspersample=bits,
            blocksize=block,
            rsi=h["aec_rsi"],
            flags=wf.aec_decode_flags(h["aec_flags"]),
            out=out,
        )
    except (ValueError, RuntimeError) as exc:
        raise ProductError(f"CCSDS 121 stream does not decode: {exc}") from None
    decoded = len(got) // width
    if decoded < n:
        raise ProductError(f"CCSDS 121 stream decodes to {decoded} samples, {n} expected")
    # libaec returns samples in the machine's byte order
    # libaec returns samples in the machine's byte order; under the neighbour
    # predictor these are its mapped residuals (_from_coded restores them)
    return np.frombuffer(out, dtype=np.uint16 if bits == 16 else np.uint8, count=n)


def _from_coded(h: dict, coded: list[np.ndarray], kept: np.ndarray | None) -> list[np.ndarray]:
    """The bands' coded values to the frame's samples: undo the neighbour predictor, then the
    dn scale. Each band comes back as its kept samples, row-major."""
    bits = h["sample_bits"]
    dtype = np.uint16 if bits == 16 else np.uint8
    if wf.neighbour_coded(h):
        mask = np.ones((h["rows"], h["cols"]), bool) if kept is None else kept
        full = wf.neighbour_restore(coded, mask, bits)
        coded = [band[mask] for band in full]
    out = []
    for samples in coded:
        if h["dn_den"]:  # instrument numbers: restore the frame's samples
            samples = wf.samples_from_dn(samples, h["dn_num"], h["dn_den"])
            if samples.size and int(samples.max()) >= 1 << bits:
                raise ProductError(
                    f"dn scale {h['dn_num']}/{h['dn_den']} restores a sample above {bits} bits"
                )
        out.append(np.asarray(samples).astype(dtype))
    return out


def decode_product(data: bytes | memoryview, *, pixels: bool = True) -> Product:
    """Check and decode a whole product; ``pixels=False`` checks without keeping pixels."""
    mv = memoryview(data)
    h = parse_header(mv)
    crc = wf.product_crc32(mv)
    if h["product_crc32"] != crc:
        # every packet passed its CRC-16: the bytes changed before they were packetised
        raise ProductError(
            f"product CRC-32 0x{h['product_crc32']:08X}, its bytes give 0x{crc:08X} "
            "(corrupted on board, in the store or before it)"
        )
    name = wf.PRODUCT_BY_CODE[h["product_type"]].name
    body = mv[wf.PRODUCT_HEADER.size :]
    if name in RECORD_TYPES:
        layout = RECORD_TYPES[name]
        if h["bands"] != 0 or h["compression"] != wf.COMPRESSION_NONE:
            raise ProductError(f"{name} must have 0 bands and no compression")
        if len(body) % layout.size or (name == "FRAME_SUMMARY" and len(body) != layout.size):
            raise ProductError(
                f"{name} body of {len(body)} bytes is not a whole number of "
                f"{layout.size}-byte {layout.name} records"
            )
        records = [layout.unpack(body, k) for k in range(0, len(body), layout.size)]
        return Product(header=h, type_name=name, records=records)
    rows, cols = h["rows"], h["cols"]
    pos = wf.PRODUCT_HEADER.size
    nr = h["kept_rects"]
    if len(body) < nr * wf.KEPT_RECT.size:
        raise ProductError(f"product too short for its {nr} kept rectangles")
    rects = [wf.KEPT_RECT.unpack(mv, pos + k * wf.KEPT_RECT.size) for k in range(nr)]
    try:
        kept = wf.kept_mask(rects, rows, cols) if nr else None
    except wf.LayoutError as exc:
        raise ProductError(str(exc)) from None
    n = rows * cols if kept is None else int(kept.sum())
    _check_image_header(h, len(mv), n)
    pos += nr * wf.KEPT_RECT.size
    coded = []
    for b in range(h["bands"]):
        size = h["band_bytes"][b]
        try:
            coded.append(_decode_band(h, mv[pos : pos + size], n))
        except ProductError as exc:
            raise ProductError(f"band {b}: {exc}") from None
        pos += size
    if not pixels and wf.neighbour_coded(h):
        # Every mapped residual restores to a sample in range, so the streams' decoding is
        # the whole check here; undoing the predictor (and the dn range check) waits for
        # the pixels (export), where a bad product still raises before anything is written.
        return Product(header=h, type_name=name)
    samples = _from_coded(h, coded, kept)
    if not pixels:
        return Product(header=h, type_name=name)
    bands = []
    for band in samples:
        if kept is None:
            bands.append(band.reshape(rows, cols))
        else:  # the coded samples are the kept pixels, in row-major order
            full = np.full((rows, cols), h["nodata"], dtype=band.dtype)
            full[kept] = band
            bands.append(full)
    return Product(header=h, type_name=name, pixels=np.stack(bands))


def product_transform(h: dict):
    """The product's own affine transform: the frame's composed with offset and scale."""
    from affine import Affine

    frame = Affine.from_gdal(*h["geotransform"])
    step = h["pixel_step"]
    return frame @ Affine.translation(h["region_col0"], h["region_row0"]) @ Affine.scale(step)
