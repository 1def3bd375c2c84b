"""The fixed records of the wire format: product header, frame metadata, frame summary,
store directory entries, downlink-request entries, kept rectangles.

Every multi-byte field is big-endian (network order), as CCSDS requires for the
packet headers; the records follow it. Frame memory (the pixels the MCU reads) is
not a record: it is the camera's native little-endian buffer, described by
:data:`FRAME_META`. The packet headers are in :mod:`triage.contract.packets`.
"""

from __future__ import annotations

import binascii
import zlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

import numpy as np

from triage.contract.enums import Refusal
from triage.contract.errors import LayoutError
from triage.contract.layout import Field, Layout
from triage.contract.tile_spec import tile_spec

FORMAT_VERSION = 5
"""Version of the secondary header, product header and frame metadata layouts and of the
record products' bodies (3: the frame is decided per cell, FRAME_SUMMARY counts cells; 4: and
FRAME_SUMMARY names the model that classified the frame, a STORE_DIRECTORY opens with a
DIRECTORY_HEADER; 5: every packet's secondary header carries the spacecraft id)."""

MAX_BANDS = 8

CRC16_POLY = 0x1021
CRC16_INIT = 0xFFFF
CRC16_CHECK = 0x29B1
"""CRC-16-CCITT (ECSS-E-ST-70-41 packet error control): polynomial 0x1021,
initial value 0xFFFF, no reflection, no final XOR. CRC of b"123456789"."""

TIME_EPOCH = "1970-01-01T00:00:00Z"
"""Epoch of the CUC-style time fields (4 bytes of seconds, 2 bytes of 1/65536 s);
UTC, leap seconds not counted (POSIX time)."""

FRAME_META_MAGIC = 0x54524647  # "TRFG"

DIRECTORY_FRAME_ID = 0xFFFF0000
"""First ``frame_id`` of STORE_DIRECTORY products: a directory's ``frame_id`` is
``DIRECTORY_FRAME_ID`` + the platform's boot count (0..65535) and its ``product_id``
counts the directories sent since that boot, so that the directories after a reset
have keys of their own. Frames use the ids below."""
MAX_FRAME_ID = DIRECTORY_FRAME_ID - 1
"""Largest ``frame_id`` of a frame (FRAME_META); the firmware refuses larger ones."""


def crc16(data: bytes | bytearray | memoryview, init: int = CRC16_INIT) -> int:
    """CRC-16-CCITT as defined above (binascii's C implementation)."""
    return binascii.crc_hqx(data, init)


def capture_time(time_s: int, time_sub: int) -> datetime:
    """CUC-style time fields to a UTC datetime (TIME_EPOCH, leap seconds not counted)."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=time_s + time_sub / 65536.0)


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
            "frame pixels one product pixel covers (= pixel_step)",
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

_SPEC = tile_spec()
_NC = _SPEC.n_classes

MODEL_HASH_BYTES = 32
"""A model's identity in telemetry is its id and the SHA-256 of the ``.tflite`` it was built
from (a package's ``model_sha256``; the compiled-in cell classifier has id 0)."""

FRAME_SUMMARY = Layout(
    "FRAME_SUMMARY",
    48 + 8 * _NC,
    "Payload of a FRAME_SUMMARY product (no band streams; compression 0): "
    "what triage did with the frame.",
    (
        Field("cells_total", 0, "u32", "cells decided"),
        Field("cells_nodata", 4, "u32", "cells skipped as (mostly) no-data"),
        Field(
            "cells_by_class",
            8,
            "u32",
            "cells per class (the class the decision calls), in class-id order "
            f"({', '.join(_SPEC.classes)})",
            count=_NC,
        ),
        Field(
            "cells_discarded_by_class",
            8 + 4 * _NC,
            "u32",
            "of those, discarded on board",
            count=_NC,
        ),
        Field("ship_regions", 8 + 8 * _NC, "u16", "merged ship regions cropped"),
        Field("products", 10 + 8 * _NC, "u16", "products emitted for the frame"),
        Field(
            "model_id",
            12 + 8 * _NC,
            "u32",
            "id of the model that classified the frame (0: the compiled-in cell classifier)",
        ),
        Field(
            "model_sha256",
            16 + 8 * _NC,
            "u8",
            "SHA-256 of the .tflite that model was built from (all 0: a test rule)",
            count=MODEL_HASH_BYTES,
        ),
    ),
)

DIRECTORY_HEADER = Layout(
    "DIRECTORY_HEADER",
    40,
    "The first record of a STORE_DIRECTORY product's body; `entries` STORE_ENTRY records "
    "follow it.",
    (
        Field("model_id", 0, "u32", "id of the model classifying frames now (as FRAME_SUMMARY)"),
        Field(
            "model_sha256",
            4,
            "u8",
            "SHA-256 of that model's .tflite (as FRAME_SUMMARY)",
            count=MODEL_HASH_BYTES,
        ),
        Field("entries", 36, "u32", "STORE_ENTRY records that follow"),
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
        Field(
            "action",
            6,
            "u8",
            "1 send segments first..last, 2 release the product, 3 then the rest of the store",
        ),
        Field("reserved", 7, "u8", "0"),
        Field("segment_first", 8, "u16", "first segment to send (action 1)"),
        Field("segment_last", 10, "u16", "last segment to send, inclusive (action 1)"),
    ),
)

KEPT_RECT = Layout(
    "KEPT_RECT",
    8,
    "A rectangle of a product's pixels that the product keeps (a ship crop's cells, "
    "widened by the crop margin); `kept_rects` of them follow the product "
    "header. Rectangles may overlap; pixels in none are not coded.",
    (
        Field("row0", 0, "u16", "first product row"),
        Field("col0", 2, "u16", "first product column"),
        Field("rows", 4, "u16", "rows (>= 1)"),
        Field("cols", 6, "u16", "columns (>= 1)"),
    ),
)


SLOT_COUNT = 3
"""Model slots the MODEL_STATUS lists, by Slot code: factory, A, B."""

MODEL_STATUS = Layout(
    "MODEL_STATUS",
    152 + 4 * len(Refusal),
    "Payload of a MODEL_STATUS product (no band streams; compression 0; `frame_id` and "
    "`product_id` as a STORE_DIRECTORY's, from the same counter): the model manager's "
    "state and every refusal since boot, counted by reason.",
    (
        Field("boot_count", 0, "u32", "boots since the model flash was provisioned"),
        Field("active", 4, "u8", "slot of the active model (Slot: 0 factory, 1 A, 2 B, 255 none)"),
        Field("previous", 5, "u8", "slot it falls back to (Slot)"),
        Field("trial", 6, "u8", "1: the active model is on trial (a reset falls back)"),
        Field("receiving", 7, "u8", "1: an upload is being received"),
        Field("active_model_id", 8, "u32", "id of the active model (0: none)"),
        Field(
            "active_model_sha256",
            12,
            "u8",
            "SHA-256 of the active model's .tflite",
            count=MODEL_HASH_BYTES,
        ),
        Field("arsn", 44, "u32", "last anti-replay sequence number accepted"),
        Field("upload_arsn", 48, "u32", "sequence number of the upload in progress (0: none)"),
        Field("upload_received", 52, "u32", "bytes of it received so far"),
        Field(
            "slot_model_id",
            56,
            "u32",
            "model id held by each slot, by Slot code (factory, A, B; 0: empty or invalid)",
            count=SLOT_COUNT,
        ),
        Field("uploads", 68, "u32", "uploads received whole since boot"),
        Field("accepted", 72, "u32", "packages that passed every check and went on trial"),
        Field("commits", 76, "u32", "trials committed"),
        Field("fallbacks", 80, "u32", "falls back to a previous model (rollbacks included)"),
        Field("commands", 84, "u32", "MODEL_COMMANDs carried out"),
        Field("last_refusal", 88, "u8", "the reason of the latest refusal (Refusal; 0: none)"),
        Field("reserved", 89, "u8", "0"),
        Field("reserved2", 90, "u16", "0"),
        Field(
            "scratch_bytes",
            92,
            "u32",
            "scratch the active model needs at the image's widest frame (0: no model)",
        ),
        Field("scratch_capacity", 96, "u32", "scratch the image has for the streaming model"),
        Field("frame_cols", 100, "u32", "widest frame the image streams (the scratch's width)"),
        Field(
            "active_package_sha256",
            104,
            "u8",
            "SHA-256 of the active package's bytes (its integrity, checked at every boot)",
            count=MODEL_HASH_BYTES,
        ),
        Field("last_refusal_arsn", 136, "u32", "the sequence number of that unit (0: none)"),
        Field("boot_fallback", 140, "u8", "Refusal code of a fallback made at the last boot"),
        Field("reserved3", 141, "u8", "0"),
        Field("reserved4", 142, "u16", "0"),
        Field("reserved5", 144, "u32", "0"),
        Field("reserved6", 148, "u32", "0"),
        Field(
            "refusals",
            152,
            "u32",
            "refusals since boot by reason: word k counts Refusal code k + 1",
            count=len(Refusal),
        ),
    ),
)


RECORDS: tuple[Layout, ...] = (
    PRODUCT_HEADER,
    KEPT_RECT,
    FRAME_META,
    FRAME_SUMMARY,
    DIRECTORY_HEADER,
    STORE_ENTRY,
    REQUEST_ENTRY,
    MODEL_STATUS,
)


def directory_bytes(entries: int) -> int:
    """Bytes of a STORE_DIRECTORY product listing ``entries`` products."""
    return PRODUCT_HEADER.size + DIRECTORY_HEADER.size + entries * STORE_ENTRY.size


def kept_mask(rects: Sequence[Mapping[str, int]], rows: int, cols: int):
    """``[rows, cols]`` bool: the pixels of a product its KEPT_RECT records keep (every pixel
    when there are none). Raises :class:`LayoutError` for an empty rectangle or one that
    leaves the product."""
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
