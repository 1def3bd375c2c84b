"""The one reference codec of products: check and decode what the satellite sends, and
encode image products the way the firmware does (for benches and tests).

A product is a PRODUCT_HEADER followed by its body (see ``WIRE_FORMAT.md``):
band streams for image products (CCSDS 121.0-B decoded with libaec through
``imagecodecs.aec_decode``, or raw samples), FRAME_SUMMARY or STORE_ENTRY
records for the others. :func:`decode_product` checks everything it reads
against the header before using it and raises :class:`ProductError` with the
reason; nothing half-decoded is ever returned. The independent oracles are
libaec (the entropy coder) and the specification (a pixel-by-pixel reference of
the neighbour predictor in the tests); the firmware is the other encoder.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache, partial

import numpy as np

from triage.contract import coding
from triage.contract.enums import (
    AEC_BLOCK_SIZES,
    AEC_FLAG_NEIGHBOUR,
    AEC_FLAG_PREPROCESS,
    AEC_FLAGS_KNOWN,
    COMPRESSION_CCSDS121,
    COMPRESSION_NONE,
    PRODUCT_BY_CODE,
    PRODUCT_BY_NAME,
    aec_decode_flags,
)
from triage.contract.errors import LayoutError, ProductError
from triage.contract.predictor import (
    check_dn_scale,
    dn_from_samples,
    neighbour_coded,
    neighbour_residuals,
    neighbour_restore,
    samples_from_dn,
)
from triage.contract.records import (
    DIRECTORY_HEADER,
    FORMAT_VERSION,
    FRAME_SUMMARY,
    KEPT_RECT,
    MAX_BANDS,
    MODEL_STATUS,
    PRODUCT_HEADER,
    STORE_ENTRY,
    kept_mask,
    product_crc32,
    seal_product,
)

RECORD_TYPES = {
    "FRAME_SUMMARY": FRAME_SUMMARY,
    "STORE_DIRECTORY": STORE_ENTRY,
    "MODEL_STATUS": MODEL_STATUS,
}
"""Product types whose body is records, with their layout (a STORE_DIRECTORY's entries follow
its DIRECTORY_HEADER; FRAME_SUMMARY and MODEL_STATUS hold exactly one)."""
SINGLE_RECORD_TYPES = frozenset({"FRAME_SUMMARY", "MODEL_STATUS"})


@dataclass
class Product:
    """A decoded product: its header, the bytes it was decoded from, and pixels
    ``[bands, rows, cols]`` (image products; pixels outside its kept rectangles hold
    ``nodata``) or records (FRAME_SUMMARY, MODEL_STATUS: one; STORE_DIRECTORY: its entries,
    its DIRECTORY_HEADER in ``directory``). Hashes (``model_sha256`` fields) are hex."""

    header: dict
    type_name: str
    data: bytes | memoryview = b""
    pixels: np.ndarray | None = None
    records: list[dict] = field(default_factory=list)
    rects: list[dict] = field(default_factory=list)
    directory: dict | None = None

    @property
    def frame_id(self) -> int:
        return self.header["frame_id"]

    @property
    def product_id(self) -> int:
        return self.header["product_id"]

    @property
    def summary(self) -> dict | None:
        """The FRAME_SUMMARY record of a frame summary (None for other types)."""
        return self.records[0] if self.type_name == "FRAME_SUMMARY" else None


def parse_header(data: bytes | memoryview) -> dict:
    """The product header, checked on its own (not against the body)."""
    if len(data) < PRODUCT_HEADER.size:
        raise ProductError(
            f"product of {len(data)} bytes is shorter than its {PRODUCT_HEADER.size}-byte header"
        )
    h = PRODUCT_HEADER.unpack_fast(data)
    if h["version"] != FORMAT_VERSION:
        raise ProductError(f"product header version {h['version']}, expected {FORMAT_VERSION}")
    pt = PRODUCT_BY_CODE.get(h["product_type"])
    if pt is None:
        raise ProductError(f"unknown product type {h['product_type']}")
    if h["bands"] > MAX_BANDS:
        raise ProductError(f"{h['bands']} bands, at most {MAX_BANDS}")
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
    if not all(map(math.isfinite, gt)) or gt[1] * gt[5] - gt[2] * gt[4] == 0:
        raise ProductError(f"geotransform {gt} is not invertible")
    try:
        check_dn_scale(h["dn_num"], h["dn_den"])
    except LayoutError as exc:
        raise ProductError(str(exc)) from None
    if h["compression"] == COMPRESSION_CCSDS121:
        if h["aec_block_size"] not in AEC_BLOCK_SIZES:
            raise ProductError(f"aec_block_size {h['aec_block_size']} not in {AEC_BLOCK_SIZES}")
        if not 1 <= h["aec_rsi"] <= 4096:
            raise ProductError(f"aec_rsi {h['aec_rsi']} not in 1..4096")
        if h["aec_flags"] not in AEC_FLAGS_KNOWN:
            raise ProductError(
                f"aec_flags 0x{h['aec_flags']:02X} (unknown bits or both predictors)"
            )
    elif h["compression"] == COMPRESSION_NONE:
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
        PRODUCT_HEADER.size + h["kept_rects"] * KEPT_RECT.size + sum(h["band_bytes"][: h["bands"]])
    )
    if total != length:
        raise ProductError(
            f"product is {length} bytes but its header, kept rectangles and band_bytes add up "
            f"to {total}"
        )
    if any(n == 0 for n in h["band_bytes"][: h["bands"]]):
        raise ProductError("a band stream of 0 bytes")


def _raw_band(stream: memoryview, bits: int) -> np.ndarray:
    """One uncompressed band stream (big-endian 16-bit or 8-bit samples)."""
    dtype = ">u2" if bits == 16 else "u1"
    return np.frombuffer(stream, dtype=dtype).astype(np.uint16 if bits == 16 else np.uint8)


def _aec_band(
    stream: memoryview, n: int, bits: int, block: int, rsi: int, flags: int, keep: bool = True
):
    """``n`` coded values of one CCSDS 121 band stream (libaec), or ProductError; None
    when the stream decodes and the values are not wanted (``keep`` false)."""
    width = bits // 8
    capacity = -(-n // block) * block  # whole blocks: the stream may not hold more
    out = bytearray(capacity * width)
    try:
        got = _aec_decode()(
            stream,
            bitspersample=bits,
            blocksize=block,
            rsi=rsi,
            flags=aec_decode_flags(flags),
            out=out,
        )
    except (ValueError, RuntimeError) as exc:
        raise ProductError(f"CCSDS 121 stream does not decode: {exc}") from None
    decoded = len(got) // width
    if decoded < n:
        raise ProductError(f"CCSDS 121 stream decodes to {decoded} samples, {n} expected")
    if not keep:
        return None
    # libaec returns samples in the machine's byte order; under the neighbour
    # predictor these are its mapped residuals (_from_coded restores them)
    return np.frombuffer(out, dtype=np.uint16 if bits == 16 else np.uint8, count=n)


@cache
def _aec_decode():
    """libaec's decoder (imagecodecs), imported on first use."""
    import imagecodecs

    return imagecodecs.aec_decode


def _from_coded(h: dict, coded: list[np.ndarray], kept: np.ndarray | None) -> list[np.ndarray]:
    """The bands' coded values to the frame's samples: undo the neighbour predictor, then the
    dn scale. Each band comes back as its kept samples, row-major."""
    bits = h["sample_bits"]
    dtype = np.uint16 if bits == 16 else np.uint8
    if neighbour_coded(h):
        mask = np.ones((h["rows"], h["cols"]), bool) if kept is None else kept
        full = neighbour_restore(coded, mask, bits)
        coded = [band[mask] for band in full]
    out = []
    for samples in coded:
        if h["dn_den"]:  # instrument numbers: restore the frame's samples
            samples = samples_from_dn(samples, h["dn_num"], h["dn_den"])
            if samples.size and int(samples.max()) >= 1 << bits:
                raise ProductError(
                    f"dn scale {h['dn_num']}/{h['dn_den']} restores a sample above {bits} bits"
                )
        out.append(np.asarray(samples).astype(dtype))
    return out


def _hex_hashes(record: dict, names: tuple[str, ...] | None = None) -> dict:
    """A record with its SHA-256 fields (``*_sha256``; ``names`` when the caller knows
    them) as hex strings."""
    for k in names if names is not None else [k for k in record if k.endswith("_sha256")]:
        record[k] = bytes(record[k]).hex()
    return record


_HASH_FIELDS = {
    layout.name: tuple(f.name for f in layout.fields if f.name.endswith("_sha256"))
    for layout in RECORD_TYPES.values()
}
"""The SHA-256 fields of each record layout, by name."""


def decode_product(
    data: bytes | memoryview,
    *,
    pixels: bool = True,
    crc32: int | None = None,
    streams: bool = True,
) -> Product:
    """Check and decode a whole product; ``pixels=False`` checks without keeping pixels.
    ``crc32``: :func:`~triage.contract.records.product_crc32` of ``data`` when the caller
    has computed it already (it is checked against the header all the same).
    ``streams=False`` (only with ``pixels=False``): every check but the band streams'
    entropy decoding and what follows it (the CRC-32, the header, the records, the kept
    rectangles, the band sizes against the header): the level-0 check of a ground
    station, whose decoding waits for the pixels."""
    if not streams and pixels:
        raise ValueError("pixels need the streams decoded")
    mv = memoryview(data)
    h = parse_header(mv)
    crc = product_crc32(mv) if crc32 is None else crc32
    if h["product_crc32"] != crc:
        # every packet passed its CRC-16: the bytes changed before they were packetised
        raise ProductError(
            f"product CRC-32 0x{h['product_crc32']:08X}, its bytes give 0x{crc:08X} "
            "(corrupted on board, in the store or before it)"
        )
    name = PRODUCT_BY_CODE[h["product_type"]].name
    body = mv[PRODUCT_HEADER.size :]
    if name in RECORD_TYPES:
        layout = RECORD_TYPES[name]
        if h["bands"] != 0 or h["compression"] != COMPRESSION_NONE:
            raise ProductError(f"{name} must have 0 bands and no compression")
        directory = None
        if name == "STORE_DIRECTORY":
            if len(body) < DIRECTORY_HEADER.size:
                raise ProductError(f"STORE_DIRECTORY body of {len(body)} bytes has no header")
            directory = _hex_hashes(DIRECTORY_HEADER.unpack_fast(body))
            body = body[DIRECTORY_HEADER.size :]
        if len(body) % layout.size or (name in SINGLE_RECORD_TYPES and len(body) != layout.size):
            raise ProductError(
                f"{name} body of {len(body)} bytes is not a whole number of "
                f"{layout.size}-byte {layout.name} records"
            )
        # lengths checked above: the one-call unpacker (same dicts as Layout.unpack)
        unpack = layout.unpack_fast
        names = _HASH_FIELDS[layout.name]
        records = [_hex_hashes(unpack(body, k), names) for k in range(0, len(body), layout.size)]
        if directory is not None and directory["entries"] != len(records):
            raise ProductError(
                f"STORE_DIRECTORY says {directory['entries']} entries, holds {len(records)}"
            )
        return Product(header=h, type_name=name, data=data, records=records, directory=directory)
    rows, cols = h["rows"], h["cols"]
    pos = PRODUCT_HEADER.size
    nr = h["kept_rects"]
    if len(body) < nr * KEPT_RECT.size:
        raise ProductError(f"product too short for its {nr} kept rectangles")
    unpack = KEPT_RECT.unpack_fast  # the length was checked just above
    rects = [unpack(mv, pos + k * KEPT_RECT.size) for k in range(nr)]
    try:
        kept = kept_mask(rects, rows, cols) if nr else None
    except LayoutError as exc:
        raise ProductError(str(exc)) from None
    n = rows * cols if kept is None else int(kept.sum())
    _check_image_header(h, len(mv), n)
    if not streams:
        return Product(header=h, type_name=name, data=data, rects=rects)
    pos += nr * KEPT_RECT.size
    coded = []
    # checking without pixels under the neighbour predictor needs only that every stream
    # decodes (see below): the decoded values are not kept
    keep = pixels or not neighbour_coded(h)
    bits = h["sample_bits"]
    # the band decoder with the header's parameters bound once a product
    if h["compression"] == COMPRESSION_CCSDS121:
        aec = {"block": h["aec_block_size"], "rsi": h["aec_rsi"], "flags": h["aec_flags"]}
        band = partial(_aec_band, n=n, bits=bits, keep=keep, **aec)
    else:
        band = partial(_raw_band, bits=bits)
    for b, size in enumerate(h["band_bytes"][: h["bands"]]):
        try:
            coded.append(band(mv[pos : pos + size]))
        except ProductError as exc:
            raise ProductError(f"band {b}: {exc}") from None
        pos += size
    if not keep:
        # Every mapped residual restores to a sample in range, so the streams' decoding is
        # the whole check here; undoing the predictor (and the dn range check) waits for
        # the pixels (export), where a bad product still raises before anything is written.
        return Product(header=h, type_name=name, data=data, rects=rects)
    samples = _from_coded(h, coded, kept)
    if not pixels:
        return Product(header=h, type_name=name, data=data, rects=rects)
    bands = []
    for band in samples:
        if kept is None:
            bands.append(band.reshape(rows, cols))
        else:  # the coded samples are the kept pixels, in row-major order
            full = np.full((rows, cols), h["nodata"], dtype=band.dtype)
            full[kept] = band
            bands.append(full)
    return Product(header=h, type_name=name, data=data, pixels=np.stack(bands), rects=rects)


def encode_image_product(
    pixels: np.ndarray,
    *,
    product_type: str,
    frame_id: int,
    product_id: int,
    region: tuple[int, int, int, int],
    frame_shape: tuple[int, int],
    geotransform: tuple[float, ...],
    crs_epsg: int,
    time_s: int = 0,
    time_sub: int = 0,
    pixel_step: int = 1,
    pixel_extent: int | None = None,
    class_id: int = 0xFF,
    confidence: int = 0,
    nodata: int = 0,
    predictor: str = "neighbour",
    dn_scale: tuple[int, int] = (0, 0),
    block_size: int = coding.AEC_BLOCK_SIZE,
    rsi: int = coding.AEC_RSI,
) -> bytes:
    """A sealed image product of ``pixels`` ``[bands, rows, cols]`` (uint8/uint16), every
    pixel kept, each band a CCSDS 121.0-B stream (libaec's encoder) with the on-board
    parameters (:mod:`triage.contract.coding`) unless ``block_size``/``rsi`` say
    otherwise: ``predictor`` ``"neighbour"`` (the firmware's, aec_flags bit 1),
    ``"unit-delay"`` (the standard's preprocessor), ``"plain"`` (the entropy coder on the
    samples as they are) or ``"none"`` (raw samples, no compression). With a ``dn_scale``
    the streams code instrument numbers, as on board when every sample lies on the lattice
    (checked here)."""
    import imagecodecs

    pix = np.asarray(pixels)
    if pix.ndim != 3 or not 1 <= pix.shape[0] <= MAX_BANDS:
        raise ProductError(f"pixels must be [1..{MAX_BANDS} bands, rows, cols], got {pix.shape}")
    bits = {np.dtype(np.uint8): 8, np.dtype(np.uint16): 16}.get(pix.dtype)
    if bits is None:
        raise ProductError(f"pixels must be uint8 or uint16, got {pix.dtype}")
    num, den = dn_scale
    values = pix.astype(np.int64)
    if den:
        values = dn_from_samples(values, num, den)
        if not np.array_equal(samples_from_dn(values, num, den), pix):
            raise ProductError(f"samples off the dn lattice {num}/{den}")
    dtype = np.uint16 if bits == 16 else np.uint8
    if predictor == "none":
        compression, flags = COMPRESSION_NONE, 0
        big = ">u2" if bits == 16 else "u1"
        streams = [np.ascontiguousarray(b, dtype=big).tobytes() for b in values]
    elif predictor in ("neighbour", "unit-delay", "plain"):
        compression = COMPRESSION_CCSDS121
        if predictor == "neighbour":
            flags = AEC_FLAG_NEIGHBOUR
            kept = np.ones(pix.shape[1:], dtype=bool)
            coded = neighbour_residuals(values, kept, bits)
        else:
            flags = AEC_FLAG_PREPROCESS if predictor == "unit-delay" else 0
            coded = [b.ravel() for b in values]
        streams = [
            imagecodecs.aec_encode(
                np.ascontiguousarray(c, dtype=dtype),
                bitspersample=bits,
                blocksize=block_size,
                rsi=rsi,
                flags=aec_decode_flags(flags),
            )
            for c in coded
        ]
    else:
        raise ProductError(f"unknown predictor {predictor!r}")
    bands, rows, cols = pix.shape
    header = PRODUCT_HEADER.pack(
        {
            "version": FORMAT_VERSION,
            "product_type": PRODUCT_BY_NAME[product_type].code,
            "sample_bits": bits,
            "bands": bands,
            "rows": rows,
            "cols": cols,
            "region_row0": region[0],
            "region_col0": region[1],
            "region_rows": region[2],
            "region_cols": region[3],
            "pixel_step": pixel_step,
            "pixel_extent": pixel_extent or pixel_step,
            "class_id": class_id,
            "confidence": confidence,
            "compression": compression,
            "aec_flags": flags,
            "aec_block_size": block_size if compression else 0,
            "aec_rsi": rsi if compression else 0,
            "nodata": nodata,
            "product_id": product_id,
            "frame_id": frame_id,
            "time_s": time_s,
            "time_sub": time_sub,
            "frame_rows": frame_shape[0],
            "frame_cols": frame_shape[1],
            "crs_epsg": crs_epsg,
            "dn_num": num,
            "dn_den": den,
            "geotransform": tuple(geotransform),
            "band_bytes": tuple(len(s) for s in streams) + (0,) * (MAX_BANDS - bands),
        }
    )
    return seal_product(header + b"".join(streams))


def product_secondary(header: Mapping[str, int]) -> dict:
    """The secondary-header fields (all but the segment ones) of a product's packets."""
    keys = ("frame_id", "product_id", "region_row0", "region_col0", "region_rows")
    keys += ("region_cols", "class_id", "confidence", "time_s", "time_sub")
    return {k: header[k] for k in keys}
