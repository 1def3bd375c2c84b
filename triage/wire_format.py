"""The wire format between the satellite and the ground: its single definition.

Everything the firmware writes for the ground, and the frame metadata it
reads, is laid out here once. The C header the firmware compiles
(``mcu_firmware/app/include/wire_format.h``) and the human-readable
specification with byte diagrams (``triage/WIRE_FORMAT.md``) are generated
from this module::

    python -m triage.wire_format --write     # regenerate both
    python -m triage.wire_format --check     # exit 1 if either is stale

and a test fails when they drift. Python tools (the ground station, the
simulator, tests) import the layouts from here.

All multi-byte fields are big-endian (network order), as CCSDS requires for
the primary header; the rest of the format follows it. Frame memory (the
pixels the MCU reads) is not part of the wire format: it is the camera's
native little-endian buffer, described by :data:`FRAME_META`.
"""

from __future__ import annotations

import argparse
import binascii
import struct
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

# --------------------------------------------------------------------------
# Layout machinery
# --------------------------------------------------------------------------

_KINDS = {"u8": ("B", 1), "u16": ("H", 2), "u32": ("I", 4), "f64": ("d", 8)}


@dataclass(frozen=True)
class Field:
    """One field of a layout.

    ``kind`` is the storage type (``u8``, ``u16``, ``u32``, ``f64``); ``count``
    makes it an array. A bit field (``bits`` set) occupies ``bits`` bits of the
    ``kind`` word at ``offset``, ``shift`` bits up from its least significant
    bit; several bit fields share one word. ``default``: the value :meth:`Layout.pack`
    writes when none is given (None: the field must be given).
    """

    name: str
    offset: int
    kind: str
    doc: str
    count: int = 1
    bits: int | None = None
    shift: int = 0
    default: int | None = None

    @property
    def size(self) -> int:
        return _KINDS[self.kind][1] * self.count

    @property
    def mask(self) -> int:
        width = self.bits if self.bits is not None else 8 * _KINDS[self.kind][1]
        return (1 << width) - 1


class LayoutError(ValueError):
    """A value does not fit its field, or a buffer is too short for a layout."""


@dataclass(frozen=True)
class Layout:
    """A fixed-size, big-endian record."""

    name: str
    size: int
    doc: str
    fields: tuple[Field, ...]

    def __post_init__(self) -> None:
        covered = [False] * self.size
        words: dict[int, Field] = {}
        for f in self.fields:
            if f.offset + f.size > self.size:
                raise AssertionError(f"{self.name}.{f.name} runs past the end")
            if f.bits is not None:
                prev = words.setdefault(f.offset, f)
                if prev.kind != f.kind:
                    raise AssertionError(f"{self.name}.{f.name}: bit fields disagree on word type")
            for i in range(f.offset, f.offset + f.size):
                if covered[i] and f.bits is None:
                    raise AssertionError(f"{self.name}.{f.name} overlaps byte {i}")
                covered[i] = True
        if not all(covered):
            raise AssertionError(f"{self.name}: bytes {covered.index(False)}.. not described")

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name} has no field {name!r}")

    def unpack(self, buf: bytes | bytearray | memoryview, offset: int = 0) -> dict:
        """Decode a record; raises :class:`LayoutError` when ``buf`` is too short."""
        if len(buf) - offset < self.size:
            raise LayoutError(
                f"{self.name}: need {self.size} bytes at offset {offset}, "
                f"have {max(0, len(buf) - offset)}"
            )
        out: dict = {}
        for f in self.fields:
            code, _ = _KINDS[f.kind]
            if f.count > 1:
                out[f.name] = struct.unpack_from(f">{f.count}{code}", buf, offset + f.offset)
                continue
            (word,) = struct.unpack_from(">" + code, buf, offset + f.offset)
            if f.bits is not None:
                word = (word >> f.shift) & f.mask
            out[f.name] = word
        return out

    def pack(self, values: Mapping[str, object]) -> bytes:
        """Encode a record; every field must be given (reserved fields default to 0, fields
        with a ``default`` to it)."""
        unknown = set(values) - {f.name for f in self.fields}
        if unknown:
            raise LayoutError(f"{self.name}: unknown fields {sorted(unknown)}")
        buf = bytearray(self.size)
        for f in self.fields:
            if f.name not in values:
                if f.name.startswith("reserved") or f.name == "spare":
                    continue
                if f.default is None:
                    raise LayoutError(f"{self.name}: field {f.name!r} missing")
            value = values.get(f.name, f.default)
            code, _ = _KINDS[f.kind]
            if f.count > 1:
                seq = tuple(value)  # type: ignore[arg-type]
                if len(seq) != f.count:
                    raise LayoutError(f"{self.name}.{f.name}: need {f.count} values")
                struct.pack_into(f">{f.count}{code}", buf, f.offset, *seq)
                continue
            if f.kind == "f64":
                struct.pack_into(">d", buf, f.offset, float(value))  # type: ignore[arg-type]
                continue
            ivalue = int(value)  # type: ignore[call-overload]
            if not 0 <= ivalue <= f.mask:
                raise LayoutError(
                    f"{self.name}.{f.name}={ivalue} does not fit {f.mask.bit_length()} bits"
                )
            if f.bits is not None:
                (word,) = struct.unpack_from(">" + code, buf, f.offset)
                word |= ivalue << f.shift
                struct.pack_into(">" + code, buf, f.offset, word)
            else:
                struct.pack_into(">" + code, buf, f.offset, ivalue)
        return bytes(buf)


# --------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------

FORMAT_VERSION = 2
"""Version of the secondary header, product header and frame metadata layouts."""

PACKET_VERSION = 0  # CCSDS 133.0-B: version 1 is encoded as 0b000
PACKET_TYPE_TM = 0

SEQ_CONTINUATION = 0b00
SEQ_FIRST = 0b01
SEQ_LAST = 0b10
SEQ_UNSEGMENTED = 0b11
SEQ_COUNT_MODULO = 1 << 14

APID_IDLE = 0x7FF  # CCSDS idle packets: skipped by the ground

MAX_SEGMENT_BYTES = 1024
"""Largest product segment carried by one packet (the user data after the
secondary header). A product of n bytes travels in ceil(n / MAX_SEGMENT_BYTES)
packets; every segment but the last is exactly this long."""

MAX_BANDS = 8
CLASS_NONE = 0xFF
"""Class id of products that describe a whole frame (quicklook, class map)."""

CRC16_POLY = 0x1021
CRC16_INIT = 0xFFFF
CRC16_CHECK = 0x29B1
"""CRC-16-CCITT (ECSS-E-ST-70-41 packet error control): polynomial 0x1021,
initial value 0xFFFF, no reflection, no final XOR. CRC of b"123456789"."""

TIME_EPOCH = "1970-01-01T00:00:00Z"
"""Epoch of the CUC-style time fields (4 bytes of seconds, 2 bytes of 1/65536 s);
UTC, leap seconds not counted (POSIX time)."""

FRAME_META_MAGIC = 0x54524647  # "TRFG"

COMPRESSION_NONE = 0
COMPRESSION_CCSDS121 = 1

AEC_BLOCK_SIZES = (8, 16, 32, 64)
AEC_FLAG_PREPROCESS = 0x01
"""aec_flags bit: unit-delay predictor with the standard's mapping (CCSDS 121
preprocessor) applied before the adaptive entropy coder."""
AEC_FLAG_NEIGHBOUR = 0x02
"""aec_flags bit: the neighbour predictor (:func:`neighbour_residuals`) with the
standard's mapping, applied by the sender; the adaptive entropy coder then runs
without its own preprocessor (libaec decodes the mapped residuals with flags 0).
CCSDS 121.0-B leaves the predictor to the application; this one predicts a
pixel from its west, north and north-west neighbours (median edge detector,
as in JPEG-LS) on the difference to the previous band. Never with bit 0."""
AEC_FLAGS_KNOWN = (0, AEC_FLAG_PREPROCESS, AEC_FLAG_NEIGHBOUR)


@dataclass(frozen=True)
class ProductType:
    """A kind of downlink product, with the APID its packets carry."""

    code: int
    apid: int
    name: str
    doc: str


PRODUCT_TYPES: tuple[ProductType, ...] = (
    ProductType(
        1,
        0x101,
        "SHIP_CROP",
        "full-resolution pixels of every band of merged ship tiles (the kept rectangles: "
        "KEPT_RECT)",
    ),
    ProductType(2, 0x102, "QUICKLOOK", "the whole frame, area-averaged down by an integer factor"),
    ProductType(
        3, 0x103, "CLASS_MAP", "per-tile class and confidence on the tile grid (2 bands, u8)"
    ),
    ProductType(4, 0x104, "LAND", "land regions kept at reduced resolution (policy-dependent)"),
    ProductType(5, 0x105, "FRAME_SUMMARY", "per-frame triage counters (layout FRAME_SUMMARY)"),
    ProductType(
        6,
        0x106,
        "STORE_DIRECTORY",
        "what the on-board product store holds (STORE_ENTRY records); sent first in every pass",
    ),
)

DIRECTORY_FRAME_ID = 0xFFFF0000
"""First ``frame_id`` of STORE_DIRECTORY products: a directory's ``frame_id`` is
``DIRECTORY_FRAME_ID`` + the platform's boot count (0..65535) and its ``product_id``
counts the directories sent since that boot, so that the directories after a reset
have keys of their own. Frames use the ids below."""
MAX_FRAME_ID = DIRECTORY_FRAME_ID - 1
"""Largest ``frame_id`` of a frame (FRAME_META); the firmware refuses larger ones."""

APID_DOWNLINK_REQUEST = 0x110
"""Telecommand (packet type 1) from the ground: DOWNLINK_REQUEST records."""
PACKET_TYPE_TC = 1
REQUEST_SEND = 1
"""DOWNLINK_REQUEST action: send segments first..last of the product, in request order."""
REQUEST_RELEASE = 2
"""DOWNLINK_REQUEST action: the ground holds the whole product; free it on board."""
PRODUCT_BY_CODE = {p.code: p for p in PRODUCT_TYPES}
PRODUCT_BY_APID = {p.apid: p for p in PRODUCT_TYPES}
PRODUCT_BY_NAME = {p.name: p for p in PRODUCT_TYPES}


def aec_decode_flags(aec_flags: int) -> int:
    """libaec flag bits for a header's ``aec_flags``.

    libaec's values: AEC_DATA_SIGNED 1, AEC_DATA_3BYTE 2, AEC_DATA_MSB 4,
    AEC_DATA_PREPROCESS 8, AEC_RESTRICTED 16, AEC_PAD_RSI 32. Samples are
    unsigned and the stream is not padded at reference sample intervals. The
    coded stream does not depend on how samples sit in memory: decoders
    return them in their own byte order. A stream holds whole blocks: give
    the decoder an output buffer of whole blocks (imagecodecs' size guess can
    be too small for highly compressible streams) and drop the samples past
    ``rows * cols``.
    """
    return 8 if aec_flags & AEC_FLAG_PREPROCESS else 0


# --------------------------------------------------------------------------
# The neighbour predictor (aec_flags AEC_FLAG_NEIGHBOUR)
# --------------------------------------------------------------------------

NEIGHBOUR_MED, NEIGHBOUR_WEST, NEIGHBOUR_NORTH, NEIGHBOUR_SEED = 0, 1, 2, 3


def neighbour_coded(header: Mapping[str, int]) -> bool:
    """Do a product header's band streams hold the neighbour predictor's mapped residuals
    (to undo with :func:`neighbour_restore` after libaec)?"""
    return header["compression"] == COMPRESSION_CCSDS121 and bool(
        header["aec_flags"] & AEC_FLAG_NEIGHBOUR
    )


def map_residual(x, p, xmax: int):
    """CCSDS 121.0-B's mapping of samples ``x`` predicted by ``p`` (both in 0..xmax) to
    0..xmax: with theta = min(p, xmax - p), |x - p| <= theta maps to 2(x - p) or
    2(p - x) - 1, a larger one to theta + |x - p|."""
    import numpy as np

    x = np.asarray(x, dtype=np.int64)
    p = np.asarray(p, dtype=np.int64)
    theta = np.minimum(p, xmax - p)
    d = x - p
    return np.where(np.abs(d) <= theta, np.where(d >= 0, 2 * d, -2 * d - 1), theta + np.abs(d))


def unmap_residual(m, p, xmax: int):
    """Inverse of :func:`map_residual`: every m in 0..xmax gives an x in 0..xmax."""
    import numpy as np

    m = np.asarray(m, dtype=np.int64)
    p = np.asarray(p, dtype=np.int64)
    theta = np.minimum(p, xmax - p)
    near = np.where(m & 1, p - (m + 1) // 2, p + m // 2)
    far = np.where(theta == p, m, xmax - m)
    return np.where(m <= 2 * theta, near, far)


def neighbour_cases(kept):
    """``[rows, cols]`` int8: how the neighbour predictor predicts each kept pixel from
    its kept neighbours W (r, c-1), N (r-1, c), NW (r-1, c-1):

    - NEIGHBOUR_MED: W, N and NW kept: the median edge detector
      ``med(a=W, b=N, c=NW) = min(a, b) if c >= max(a, b), max(a, b) if c <= min(a, b),
      else a + b - c``;
    - NEIGHBOUR_WEST: W kept (but not all three): W;
    - NEIGHBOUR_NORTH: N kept, W not: N;
    - NEIGHBOUR_SEED: neither: the previous seed pixel of the band (raster order), 0 for
      the band's first.

    Pixels not kept get -1."""
    import numpy as np

    k = np.asarray(kept, dtype=bool)
    kw, kn, knw = _neighbours(k)
    cases = np.full(k.shape, NEIGHBOUR_SEED, dtype=np.int8)
    cases[kn] = NEIGHBOUR_NORTH
    cases[kw] = NEIGHBOUR_WEST
    cases[kw & kn & knw] = NEIGHBOUR_MED
    cases[~k] = -1
    return cases


def _neighbours(a):
    """Each pixel's W, N and NW neighbour values (0 / False outside the array)."""
    import numpy as np

    w = np.zeros_like(a)
    w[:, 1:] = a[:, :-1]
    n = np.zeros_like(a)
    n[1:, :] = a[:-1, :]
    nw = np.zeros_like(a)
    nw[1:, 1:] = a[:-1, :-1]
    return w, n, nw


def _med(a, b, c):
    import numpy as np

    lo = np.minimum(a, b)
    hi = np.maximum(a, b)
    return np.where(c >= hi, lo, np.where(c <= lo, hi, a + b - c))


def neighbour_residuals(values, kept, bits: int):
    """The mapped residuals a sender codes under AEC_FLAG_NEIGHBOUR: one array per band of
    the kept pixels in row-major order.

    ``values`` is ``[bands, rows, cols]`` of coded samples (instrument numbers when the
    product has a dn scale), each in 0..2^bits - 1. For band b the predictor works on
    ``z = v_b - v_(b-1)`` (``z = v_0`` for band 0) and predicts ``zhat`` from the kept
    neighbours as :func:`neighbour_cases` says; the prediction of the sample is
    ``p = clamp(v_(b-1) + zhat, 0, xmax)`` (``clamp(zhat, ...)`` for band 0) and the
    coded value is ``map_residual(v_b, p, xmax)``."""
    import numpy as np

    v = np.asarray(values, dtype=np.int64)
    xmax = (1 << bits) - 1
    cases = neighbour_cases(kept)
    seeds = cases == NEIGHBOUR_SEED
    kept = cases >= 0
    out = []
    for b in range(v.shape[0]):
        y = v[b - 1] if b else np.zeros_like(v[0])
        z = np.where(kept, v[b] - y, 0)
        zw, zn, znw = _neighbours(z)
        zhat = np.select(
            [cases == NEIGHBOUR_MED, cases == NEIGHBOUR_WEST, cases == NEIGHBOUR_NORTH],
            [_med(zw, zn, znw), zw, zn],
            0,
        )
        zs = z[seeds]
        zhat[seeds] = np.concatenate([[0], zs[:-1]]) if zs.size else zs
        p = np.clip(y + zhat, 0, xmax)
        out.append(map_residual(v[b], p, xmax)[kept])
    return out


def neighbour_restore(mapped, kept, bits: int):
    """Inverse of :func:`neighbour_residuals`: ``mapped`` is one array per band (the kept
    pixels' coded values, row-major); returns ``[bands, rows, cols]`` int64, 0 where not
    kept. Works along anti-diagonals (a pixel's W, N and NW lie on the one before), all
    bands together, band b one diagonal behind band b - 1."""
    import itertools

    import numpy as np

    cases = neighbour_cases(kept)
    rows, cols = cases.shape
    nb = len(mapped)
    xmax = (1 << bits) - 1
    flat_cases = cases.ravel()
    kept_idx = np.flatnonzero(flat_cases >= 0)
    m = np.zeros((nb, rows * cols), dtype=np.int64)
    for b in range(nb):
        if len(mapped[b]) != kept_idx.size:
            raise LayoutError(f"band {b}: {len(mapped[b])} coded values, {kept_idx.size} kept")
        m[b, kept_idx] = mapped[b]
    n_px = rows * cols
    # band b's pixel i sits at b * n_px + i; the extra last slot stays 0 (band 0's "previous band")
    v = np.zeros(nb * n_px + 1, dtype=np.int64)
    z = np.zeros(nb * n_px + 1, dtype=np.int64)
    # seeds: a chain of their own, in raster order
    seed_idx = np.flatnonzero(flat_cases == NEIGHBOUR_SEED)
    for b in range(nb):
        prev = 0
        for i in seed_idx.tolist():
            y = int(v[(b - 1) * n_px + i]) if b else 0
            p = min(max(y + prev, 0), xmax)
            x = int(unmap_residual(m[b, i], p, xmax))
            v[b * n_px + i] = x
            prev = z[b * n_px + i] = x - y
    # the rest along anti-diagonals t = r + c, band b at step t + b; every index below is
    # worked out once, then each step is a few vectorised gathers
    rest = kept_idx[flat_cases[kept_idx] != NEIGHBOUR_SEED]
    band = np.repeat(np.arange(nb), rest.size)
    pix = np.tile(rest, nb)
    step = pix // cols + pix % cols + band
    order = np.argsort(step, kind="stable")
    band, pix, step = band[order], pix[order], step[order]
    at = band * n_px + pix
    case = flat_cases[pix]
    is_med = case == NEIGHBOUR_MED
    is_west = case == NEIGHBOUR_WEST
    at_w = np.maximum(at - 1, 0)  # used only where the neighbour is kept
    at_n = np.maximum(at - cols, 0)
    at_nw = np.maximum(at - cols - 1, 0)
    at_y = np.where(band > 0, at - n_px, nb * n_px)
    coded = m.ravel()[at]
    bounds = np.searchsorted(step, np.arange(int(step[-1]) + 2)) if step.size else [0]
    for a, e in itertools.pairwise(bounds):
        if a == e:
            continue
        zw, zn, znw = z[at_w[a:e]], z[at_n[a:e]], z[at_nw[a:e]]
        zhat = np.where(is_med[a:e], _med(zw, zn, znw), np.where(is_west[a:e], zw, zn))
        y = v[at_y[a:e]]
        x = unmap_residual(coded[a:e], np.clip(y + zhat, 0, xmax), xmax)
        v[at[a:e]] = x
        z[at[a:e]] = x - y
    return v[: nb * n_px].reshape(nb, rows, cols)


# --------------------------------------------------------------------------
# Layouts
# --------------------------------------------------------------------------

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
    28,
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
    ),
)

CRC_SIZE = 2
PACKET_OVERHEAD = PRIMARY_HEADER.size + SECONDARY_HEADER.size + CRC_SIZE
MAX_PACKET_BYTES = PACKET_OVERHEAD + MAX_SEGMENT_BYTES

PRODUCT_HEADER = Layout(
    "PRODUCT_HEADER",
    140,
    "Product header: the first bytes of every reassembled product; the "
    "band streams follow it, band after band.",
    (
        Field("version", 0, "u8", "format version (FORMAT_VERSION)"),
        Field("product_type", 1, "u8", "product type code (PRODUCT_TYPES)"),
        Field("sample_bits", 2, "u8", "bits per sample: 8 or 16 (unsigned)"),
        Field("bands", 3, "u8", "number of bands (1..MAX_BANDS)"),
        Field("rows", 4, "u16", "product rows"),
        Field("cols", 6, "u16", "product columns"),
        Field("region_row0", 8, "u16", "frame row of the product's first pixel"),
        Field("region_col0", 10, "u16", "frame column of the product's first pixel"),
        Field("region_rows", 12, "u16", "frame rows the product covers"),
        Field("region_cols", 14, "u16", "frame columns the product covers"),
        Field(
            "pixel_step",
            16,
            "u16",
            "frame pixels between adjacent product pixels (1: full resolution)",
        ),
        Field(
            "pixel_extent",
            18,
            "u16",
            "frame pixels one product pixel covers (= step, or the tile size for CLASS_MAP)",
        ),
        Field("class_id", 20, "u8", "class id, 255 for frame products"),
        Field("confidence", 21, "u8", "int8 softmax output + 128"),
        Field("compression", 22, "u8", "0 none, 1 CCSDS 121.0-B adaptive Rice coding"),
        Field(
            "aec_flags",
            23,
            "u8",
            "bit 0: unit-delay predictor preprocessor; bit 1: neighbour predictor "
            "(never both); other bits 0",
        ),
        Field("aec_block_size", 24, "u8", "samples per block J: 8, 16, 32 or 64"),
        Field("reserved", 25, "u8", "0"),
        Field("aec_rsi", 26, "u16", "reference sample interval, in blocks"),
        Field("nodata", 28, "u16", "no-data sample value of the frame"),
        Field("product_id", 30, "u16", "as in the secondary header"),
        Field("frame_id", 32, "u32", "as in the secondary header"),
        Field("time_s", 36, "u32", "capture time, seconds since TIME_EPOCH"),
        Field("time_sub", 40, "u16", "capture time, 1/65536 s"),
        Field(
            "kept_rects",
            42,
            "u16",
            "KEPT_RECT records between the header and the band streams (0: every pixel kept)",
            default=0,
        ),
        Field("frame_rows", 44, "u16", "rows of the whole frame"),
        Field("frame_cols", 46, "u16", "columns of the whole frame"),
        Field("crs_epsg", 48, "u32", "EPSG code of the frame's CRS"),
        Field(
            "dn_num",
            52,
            "u16",
            "0: samples coded as they are; else the band streams code instrument numbers d, "
            "and the ground restores each sample v = floor((d * dn_num + floor(dn_den / 2)) "
            "/ dn_den) (see FRAME_META); pixel copies use it only when exact for every sample, "
            "block means (QUICKLOOK, LAND) are then rounded to the nearest d",
            default=0,
        ),
        Field(
            "dn_den", 54, "u16", "0, or the denominator of the scale above (1..dn_num)", default=0
        ),
        Field(
            "geotransform",
            56,
            "f64",
            "frame's affine transform, GDAL order (x0, dx, rx, y0, ry, dy), IEEE 754",
            count=6,
        ),
        Field(
            "band_bytes",
            104,
            "u32",
            "bytes of each band's stream (unused slots 0)",
            count=MAX_BANDS,
        ),
        Field(
            "product_crc32",
            136,
            "u32",
            "CRC-32 (ISO-HDLC: zlib's) of the whole product but these four bytes: header "
            "bytes 0..135, then everything after the header; set on board when the product "
            "is made, so that it also covers the days it spends in the store",
            default=0,
        ),
    ),
)

PRODUCT_CRC_OFFSET = PRODUCT_HEADER.field("product_crc32").offset


def product_crc32(product: bytes | bytearray | memoryview) -> int:
    """The CRC-32 a product's ``product_crc32`` field must hold (see PRODUCT_HEADER)."""
    import zlib

    mv = memoryview(product)
    return zlib.crc32(mv[PRODUCT_HEADER.size :], zlib.crc32(mv[:PRODUCT_CRC_OFFSET]))


def seal_product(product: bytes | bytearray | memoryview) -> bytes:
    """The product with its ``product_crc32`` field set."""
    out = bytearray(product)
    out[PRODUCT_CRC_OFFSET : PRODUCT_CRC_OFFSET + 4] = product_crc32(out).to_bytes(4, "big")
    return bytes(out)


FRAME_META = Layout(
    "FRAME_META",
    88,
    "Frame metadata: the record that comes with each frame into the "
    "firmware (from the payload computer, or the simulator). The frame's "
    "pixels sit in frame memory, band-interleaved by pixel "
    "([row][col][band]), little-endian.",
    (
        Field("magic", 0, "u32", "FRAME_META_MAGIC"),
        Field("version", 4, "u8", "format version (FORMAT_VERSION)"),
        Field("sample_bits", 5, "u8", "bits per sample: 8 or 16"),
        Field("bands", 6, "u8", "bands per pixel"),
        Field("reserved", 7, "u8", "0"),
        Field("rows", 8, "u16", "frame rows"),
        Field("cols", 10, "u16", "frame columns"),
        Field("nodata", 12, "u16", "no-data sample value"),
        Field("reserved2", 14, "u16", "0"),
        Field("frame_id", 16, "u32", "frame id"),
        Field("time_s", 20, "u32", "capture time, seconds since TIME_EPOCH"),
        Field("time_sub", 24, "u16", "capture time, 1/65536 s"),
        Field("reserved3", 26, "u16", "0"),
        Field("crs_epsg", 28, "u32", "EPSG code of the frame's CRS"),
        Field("geotransform", 32, "f64", "affine transform, GDAL order, IEEE 754", count=6),
        Field(
            "dn_num",
            80,
            "u16",
            "0, or the frame's quantisation lattice: every sample v is "
            "floor((d * dn_num + floor(dn_den / 2)) / dn_den) of an integer d, the instrument's "
            "own number (sen2ships: 65535 / 10000, reflectance x 10000 exported as x 65535); "
            "the firmware then codes d (checked per product, losslessly, else v)",
            default=0,
        ),
        Field("dn_den", 82, "u16", "0, or the denominator of the lattice (1..dn_num)", default=0),
        Field("reserved5", 84, "u16", "0"),
        Field("crc", 86, "u16", "CRC-16-CCITT of bytes 0..85"),
    ),
)

FRAME_SUMMARY = Layout(
    "FRAME_SUMMARY",
    48,
    "Payload of a FRAME_SUMMARY product (no band streams; compression 0): "
    "what triage did with the frame.",
    (
        Field("tiles_total", 0, "u32", "tiles classified"),
        Field("tiles_nodata", 4, "u32", "tiles skipped as (mostly) no-data"),
        Field(
            "tiles_by_class",
            8,
            "u32",
            "tiles per top class, in class-id order (cloud, sea, ship, land)",
            count=4,
        ),
        Field("tiles_discarded_by_class", 24, "u32", "of those, discarded on board", count=4),
        Field("ship_regions", 40, "u16", "merged ship regions cropped"),
        Field("products", 42, "u16", "products emitted for the frame"),
        Field("reserved", 44, "u32", "0"),
    ),
)

STORE_ENTRY = Layout(
    "STORE_ENTRY",
    16,
    "One product held on board, as listed by a STORE_DIRECTORY product (whose body is "
    "these records back to back, highest priority first; `bands` 0, `compression` 0).",
    (
        Field("frame_id", 0, "u32", "frame of the product"),
        Field("product_id", 4, "u16", "product within the frame"),
        Field("product_type", 6, "u8", "product type code"),
        Field("class_id", 7, "u8", "class id, 255 for frame products"),
        Field("confidence", 8, "u8", "int8 softmax output + 128"),
        Field("flags", 9, "u8", "bit 0: every segment sent at least once"),
        Field("segment_count", 10, "u16", "segments of the product"),
        Field("product_bytes", 12, "u32", "bytes of the whole product (header included)"),
    ),
)

REQUEST_ENTRY = Layout(
    "REQUEST_ENTRY",
    12,
    "One line of a DOWNLINK_REQUEST telecommand (APID 0x110, packet type 1, no secondary "
    "header, records back to back, then a CRC-16 like telemetry packets): the ground's plan "
    "for the next pass, in the order to send.",
    (
        Field("frame_id", 0, "u32", "frame of the product"),
        Field("product_id", 4, "u16", "product within the frame"),
        Field("action", 6, "u8", "1 send segments first..last, 2 release the product"),
        Field("reserved", 7, "u8", "0"),
        Field("segment_first", 8, "u16", "first segment to send (action 1)"),
        Field("segment_last", 10, "u16", "last segment to send, inclusive (action 1)"),
    ),
)

KEPT_RECT = Layout(
    "KEPT_RECT",
    8,
    "A rectangle of a product's pixels that the product keeps (the central cells of a ship "
    "crop's tiles, widened by the crop margin); `kept_rects` of them follow the product "
    "header. Rectangles may overlap; pixels in none are not coded.",
    (
        Field("row0", 0, "u16", "first product row"),
        Field("col0", 2, "u16", "first product column"),
        Field("rows", 4, "u16", "rows (>= 1)"),
        Field("cols", 6, "u16", "columns (>= 1)"),
    ),
)

LAYOUTS: tuple[Layout, ...] = (
    PRIMARY_HEADER,
    SECONDARY_HEADER,
    PRODUCT_HEADER,
    KEPT_RECT,
    FRAME_META,
    FRAME_SUMMARY,
    STORE_ENTRY,
    REQUEST_ENTRY,
)


def check_dn_scale(num: int, den: int) -> None:
    """A ``dn_num`` / ``dn_den`` pair as FRAME_META and PRODUCT_HEADER allow it: both 0 (no
    lattice), or ``1 <= dn_den <= dn_num <= 65535``."""
    if (num, den) != (0, 0) and not 1 <= den <= num <= 0xFFFF:
        raise LayoutError(f"dn scale {num}/{den}: need both 0, or 1 <= dn_den <= dn_num <= 65535")


def dn_from_samples(samples, num: int, den: int):
    """Instrument numbers ``d = floor((v * den + floor(num / 2)) / num)`` of samples ``v``
    (any integer array), as the firmware computes them before coding."""
    import numpy as np

    v = np.asarray(samples, dtype=np.int64)
    return (v * den + num // 2) // num


def samples_from_dn(dn, num: int, den: int):
    """Samples ``v = floor((d * num + floor(den / 2)) / den)`` restored from instrument numbers
    (any integer array): the inverse the ground applies to a product coded with a dn scale."""
    import numpy as np

    d = np.asarray(dn, dtype=np.int64)
    return (d * num + den // 2) // den


def kept_mask(rects: Sequence[Mapping[str, int]], rows: int, cols: int):
    """``[rows, cols]`` bool: the pixels of a product its KEPT_RECT records keep (every pixel
    when there are none). Raises :class:`LayoutError` for an empty rectangle or one that
    leaves the product."""
    import numpy as np

    if not rects:
        return np.ones((rows, cols), dtype=bool)
    mask = np.zeros((rows, cols), dtype=bool)
    for r in rects:
        r0, c0, nr, nc = r["row0"], r["col0"], r["rows"], r["cols"]
        if nr < 1 or nc < 1 or r0 + nr > rows or c0 + nc > cols:
            raise LayoutError(
                f"kept rectangle {r0},{c0} +{nr}x{nc} is empty or leaves the {rows}x{cols} product"
            )
        mask[r0 : r0 + nr, c0 : c0 + nc] = True
    return mask


def crc16(data: bytes | bytearray | memoryview, init: int = CRC16_INIT) -> int:
    """CRC-16-CCITT as defined above (binascii's C implementation)."""
    return binascii.crc_hqx(data, init)


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
    n = (len(product) + MAX_SEGMENT_BYTES - 1) // MAX_SEGMENT_BYTES
    if n > 0xFFFF:
        raise LayoutError(f"product of {len(product)} bytes needs more than 65535 segments")
    packets = []
    for i in range(n):
        if n == 1:
            flags = SEQ_UNSEGMENTED
        elif i == 0:
            flags = SEQ_FIRST
        elif i == n - 1:
            flags = SEQ_LAST
        else:
            flags = SEQ_CONTINUATION
        seg = product[i * MAX_SEGMENT_BYTES : (i + 1) * MAX_SEGMENT_BYTES]
        fields = {**secondary, "segment_index": i, "segment_count": n}
        packets.append(encode_packet(apid, flags, first_seq_count + i, fields, seg))
    return packets


# --------------------------------------------------------------------------
# Generation of the C header and the specification
# --------------------------------------------------------------------------

_ROOT = Path(__file__).resolve().parent.parent
C_HEADER = _ROOT / "mcu_firmware" / "app" / "include" / "wire_format.h"
SPEC_DOC = _ROOT / "triage" / "WIRE_FORMAT.md"
_GENERATED_BY = "generated by `python -m triage.wire_format --write` from triage/wire_format.py"


def render_c_header() -> str:
    lines = [
        "/*",
        f" * wire_format.h - {_GENERATED_BY}.",
        " * Do not edit: change triage/wire_format.py and regenerate.",
        " * The specification with byte diagrams is triage/WIRE_FORMAT.md.",
        " * All fields are big-endian; pack and unpack them with explicit shifts.",
        " */",
        "#ifndef WIRE_FORMAT_H",
        "#define WIRE_FORMAT_H",
        "",
        f"#define WF_FORMAT_VERSION {FORMAT_VERSION}u",
        f"#define WF_PACKET_VERSION {PACKET_VERSION}u",
        f"#define WF_PACKET_TYPE_TM {PACKET_TYPE_TM}u",
        f"#define WF_SEQ_CONTINUATION {SEQ_CONTINUATION}u",
        f"#define WF_SEQ_FIRST {SEQ_FIRST}u",
        f"#define WF_SEQ_LAST {SEQ_LAST}u",
        f"#define WF_SEQ_UNSEGMENTED {SEQ_UNSEGMENTED}u",
        f"#define WF_SEQ_COUNT_MODULO {SEQ_COUNT_MODULO}u",
        f"#define WF_APID_IDLE 0x{APID_IDLE:03X}u",
        f"#define WF_MAX_SEGMENT_BYTES {MAX_SEGMENT_BYTES}u",
        f"#define WF_CRC_SIZE {CRC_SIZE}u",
        f"#define WF_PACKET_OVERHEAD {PACKET_OVERHEAD}u",
        f"#define WF_MAX_PACKET_BYTES {MAX_PACKET_BYTES}u",
        f"#define WF_MAX_BANDS {MAX_BANDS}u",
        f"#define WF_CLASS_NONE {CLASS_NONE}u",
        f"#define WF_CRC16_POLY 0x{CRC16_POLY:04X}u",
        f"#define WF_CRC16_INIT 0x{CRC16_INIT:04X}u",
        f'#define WF_CRC16_CHECK 0x{CRC16_CHECK:04X}u /* CRC of "123456789" */',
        f"#define WF_FRAME_META_MAGIC 0x{FRAME_META_MAGIC:08X}u",
        f"#define WF_COMPRESSION_NONE {COMPRESSION_NONE}u",
        f"#define WF_COMPRESSION_CCSDS121 {COMPRESSION_CCSDS121}u",
        f"#define WF_AEC_FLAG_PREPROCESS 0x{AEC_FLAG_PREPROCESS:02X}u",
        f"#define WF_AEC_FLAG_NEIGHBOUR 0x{AEC_FLAG_NEIGHBOUR:02X}u",
        f"#define WF_DIRECTORY_FRAME_ID 0x{DIRECTORY_FRAME_ID:08X}u",
        f"#define WF_APID_DOWNLINK_REQUEST 0x{APID_DOWNLINK_REQUEST:03X}u",
        f"#define WF_PACKET_TYPE_TC {PACKET_TYPE_TC}u",
        f"#define WF_REQUEST_SEND {REQUEST_SEND}u",
        f"#define WF_REQUEST_RELEASE {REQUEST_RELEASE}u",
        "",
        "/* Product types and their APIDs */",
    ]
    for p in PRODUCT_TYPES:
        lines.append(f"#define WF_PRODUCT_{p.name} {p.code}u /* {p.doc} */")
        lines.append(f"#define WF_APID_{p.name} 0x{p.apid:03X}u")
    for layout in LAYOUTS:
        lines += ["", f"/* {layout.name}: {layout.doc} */"]
        lines.append(f"#define WF_{layout.name}_SIZE {layout.size}u")
        for f in layout.fields:
            stem = f"WF_{layout.name}_{f.name.upper()}"
            lines.append(
                f"#define {stem}_OFFSET {f.offset}u /* {f.kind}"
                f"{f'[{f.count}]' if f.count > 1 else ''}: {f.doc} */"
            )
            if f.bits is not None:
                lines.append(f"#define {stem}_SHIFT {f.shift}u")
                lines.append(f"#define {stem}_MASK 0x{f.mask:X}u")
    lines += ["", "#endif /* WIRE_FORMAT_H */", ""]
    return "\n".join(lines)


def _diagram(layout: Layout) -> str:
    """An RFC-style diagram, 32 bits a row, two characters a bit."""
    segments: list[tuple[int, int, str]] = []  # (start bit, end bit, label)
    for f in layout.fields:
        if f.bits is not None:
            word_bits = 8 * _KINDS[f.kind][1]
            start = 8 * f.offset + (word_bits - f.shift - f.bits)
            segments.append((start, start + f.bits, f.name))
        else:
            label = f.name if f.count == 1 else f"{f.name}[{f.count}] ({f.kind})"
            segments.append((8 * f.offset, 8 * (f.offset + f.size), label))
    segments.sort()
    total_bits = 8 * layout.size
    rows = (total_bits + 31) // 32
    header = (
        "  0                   1                   2                   3\n"
        "  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1\n"
    )
    rule = " +" + "-+" * 32
    out = [header + rule]
    for r in range(rows):
        lo, hi = 32 * r, min(32 * r + 32, total_bits)
        cells = []
        for start, end, label in segments:
            s, e = max(start, lo), min(end, hi)
            if s >= e:
                continue
            width = 2 * (e - s) - 1
            text = label if s == start else "(cont.)" if e - s >= 4 else ""
            if len(text) > width:
                text = text[: max(0, width)]
            cells.append(text.center(width))
        line = " |" + "|".join(cells) + "|"
        out.append(f"{line}  {r * 4:3d}")
        out.append(rule[: 2 + 2 * (hi - lo)])
    return "\n".join(out)


def _field_table(layout: Layout) -> str:
    rows = ["| offset | bits | type | field | meaning |", "| --- | --- | --- | --- | --- |"]
    for f in layout.fields:
        kind = f"{f.kind}[{f.count}]" if f.count > 1 else f.kind
        bits = f"{f.shift + f.bits - 1}..{f.shift}" if f.bits is not None else "all"
        rows.append(f"| {f.offset} | {bits} | {kind} | `{f.name}` | {f.doc} |")
    return "\n".join(rows)


def render_spec() -> str:
    p = [
        "# Wire format: satellite to ground",
        "",
        f"<!-- {_GENERATED_BY}; do not edit by hand. -->",
        "",
        "The on-board application sends every product (a ship crop, a frame's quicklook, its",
        "class map, land context, a frame summary) as a sequence of CCSDS Space Packets",
        "(CCSDS 133.0-B). This page is generated from `triage/wire_format.py`, the single",
        "definition that the firmware (through the generated",
        "`mcu_firmware/app/include/wire_format.h`) and the ground station both read. All fields",
        "are big-endian.",
        "",
        "## Packet",
        "",
        "```",
        "+----------------+------------------+-------------------------+--------+",
        "| primary header | secondary header | product segment         | CRC-16 |",
        f"| {PRIMARY_HEADER.size} bytes        | {SECONDARY_HEADER.size} bytes         "
        f"| 1..{MAX_SEGMENT_BYTES} bytes           | 2 bytes|",
        "+----------------+------------------+-------------------------+--------+",
        "```",
        "",
        f"- A packet is {PACKET_OVERHEAD} bytes of overhead plus its segment: at most",
        f"  {MAX_PACKET_BYTES} bytes. `data_length` counts the secondary header, the segment and",
        "  the CRC, minus one, as CCSDS defines it.",
        "- **CRC**: CRC-16-CCITT (polynomial 0x1021, initial value 0xFFFF, no reflection, no final",
        "  XOR; ECSS-E-ST-70-41 packet error control) over every byte before it, primary header",
        f'  included; transmitted big-endian. Check value: CRC("123456789") = 0x{CRC16_CHECK:04X}.',
        "- **Segmentation**: a product of n bytes travels in ceil(n / "
        f"{MAX_SEGMENT_BYTES}) packets. Every",
        f"  segment but the last carries exactly {MAX_SEGMENT_BYTES} bytes. A single-packet",
        "  product has sequence flags 11 (unsegmented); otherwise the first packet has 01, the",
        "  middle ones 00, the last 10. The sequence count runs per APID modulo 16384 and only",
        "  helps spot losses: reassembly uses `frame_id`, `product_id`, `segment_index` and",
        "  `segment_count` from the secondary header, so segments may arrive in any order, in",
        "  different passes, and more than once.",
        f"- **Idle packets** (APID 0x{APID_IDLE:03X}) are skipped.",
        "",
        "## APIDs and product types",
        "",
        "| APID | type code | name | content |",
        "| --- | --- | --- | --- |",
    ]
    for pt in PRODUCT_TYPES:
        p.append(f"| 0x{pt.apid:03X} | {pt.code} | `{pt.name}` | {pt.doc} |")
    for layout in LAYOUTS:
        p += [
            "",
            f"## {layout.name} ({layout.size} bytes)",
            "",
            layout.doc,
            "",
            "```",
            _diagram(layout),
            "```",
            "",
            _field_table(layout),
        ]
    p += [
        "",
        "## Product body",
        "",
        "After the product header come `kept_rects` `KEPT_RECT` records, then the band streams,",
        "band after band (band-sequential), `band_bytes[b]` bytes each. A band is `rows` x",
        "`cols` samples in row-major order, of `sample_bits` bits, unsigned - or, when",
        "`kept_rects` > 0 (a ship crop: the central cells of its tiles widened by the crop",
        "margin), only the samples of the pixels inside at least one rectangle, still in",
        "row-major order: the other pixels of the product's box are not coded and read as",
        "no-data (`nodata` in every band). The ground puts the coded samples back in place",
        "(`triage.wire_format.kept_mask`).",
        "",
        "- `compression` 0: raw samples, 16-bit ones big-endian.",
        "- `compression` 1: each band is an independent CCSDS 121.0-B stream (adaptive Rice",
        "  coding), with the parameters of the header: `aec_block_size` samples per block,",
        "  `aec_rsi` blocks per reference sample interval, bit 0 of `aec_flags` the unit-delay",
        "  predictor preprocessor. Decoding with libaec:",
        "  `imagecodecs.aec_decode(stream, bitspersample=sample_bits, blocksize=aec_block_size,",
        "  rsi=aec_rsi, flags=AEC_DATA_PREPROCESS, out=buffer)` (see",
        "  `triage.wire_format.aec_decode_flags`). The stream holds whole blocks: give the",
        "  decoder a buffer of `ceil(n / aec_block_size) * aec_block_size` samples, n the",
        "  band's coded samples (without `out=`, imagecodecs guesses the size and can fail on",
        "  highly compressible streams), then drop the samples past n.",
        "- `aec_flags` bit 1 (never with bit 0; ship crops): the sender's own predictor, which",
        "  CCSDS 121.0-B leaves to the application. libaec decodes the stream with flags 0 to",
        "  *mapped residuals*, one per kept pixel; `triage.wire_format.neighbour_restore` turns",
        "  them back into samples. With v_b the coded samples of band b (instrument numbers",
        "  under a dn scale) and z = v_b - v_(b-1) (z = v_0 for band 0), each kept pixel's z is",
        "  predicted from its kept neighbours: W, N and NW kept: the median edge detector",
        "  med(W, N, NW) (min(W, N) if NW >= max(W, N), max(W, N) if NW <= min(W, N), else",
        "  W + N - NW); else W if kept; else N if kept; else (a *seed*) the z of the band's",
        "  previous seed in raster order, 0 for the first. The sample's prediction is",
        "  p = clamp(v_(b-1) + zhat, 0, 2^sample_bits - 1) (clamp(zhat, ...) for band 0), and the",
        "  coded value is the standard's mapping of v_b around p: with",
        "  theta = min(p, 2^sample_bits - 1 - p), 2(v - p) or 2(p - v) - 1 when |v - p| <= theta,",
        "  else theta + |v - p|.",
        "",
        "Pixel (r, c) of a product covers frame rows `region_row0 + r * pixel_step` to",
        "`+ pixel_extent` (and likewise for columns). With the frame's `geotransform`",
        "(x0, dx, rx, y0, ry, dy) and `crs_epsg`, a product's own transform is the frame's",
        "composed with that offset and scale. Time fields are CUC-style: 4 bytes of seconds and",
        f"2 bytes of 1/65536 s since {TIME_EPOCH} (UTC, leap seconds not counted).",
        "",
        "A `FRAME_SUMMARY` product carries one `FRAME_SUMMARY` record after its header",
        "(`bands` 0, `compression` 0).",
        "",
        "## A pass",
        "",
        "1. At the start of every contact the satellite sends a `STORE_DIRECTORY` product:",
        "   what it holds, highest priority first (ships by confidence, then quicklooks and",
        "   class maps, then land). Its `frame_id` is `DIRECTORY_FRAME_ID` (0x"
        f"{DIRECTORY_FRAME_ID:08X}) + the",
        "   platform's boot count and its `product_id` counts the directories since that boot,",
        "   so that after a reset (count back at 0, store empty, time 0 until the next frame)",
        "   the new directories have keys of their own; the ground plans from the latest boot's",
        "   latest directory. Frames use ids up to `MAX_FRAME_ID` = `DIRECTORY_FRAME_ID` - 1.",
        "2. The ground ingests it, plans the pass within its byte budget and may uplink a",
        "   `DOWNLINK_REQUEST`: segments to send (new products, or the missing segments of",
        "   incomplete ones), in order, and products to release because they are complete on",
        "   the ground.",
        "3. The satellite sends what was requested, in order; without a request it sends its",
        "   store in priority order. A product stays on board until released or evicted (when",
        "   the store is full, the lowest priority goes first).",
        "",
    ]
    return "\n".join(p)


def _generated() -> dict[Path, str]:
    return {C_HEADER: render_c_header(), SPEC_DOC: render_spec()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", action="store_true", help="regenerate the C header and the spec")
    group.add_argument("--check", action="store_true", help="exit 1 if either is stale")
    args = parser.parse_args(argv)
    stale = []
    for path, text in _generated().items():
        current = path.read_text() if path.exists() else None
        if current != text:
            stale.append(path)
            if args.write:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
    if args.check and stale:
        for path in stale:
            print(f"stale: {path} (run python -m triage.wire_format --write)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
