"""Test-stream builders for the ground-station tests.

Packets are made with the wire format's reference encoder
(``triage.contract.packets.encode_packet`` / ``packetize_product``) and products
are compressed with libaec's encoder (``imagecodecs.aec_encode``): both are
independent of the ground station's decoder side.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np

from triage.contract.codec import encode_image_product
from triage.contract.enums import (
    APID_IDLE,
    CLASS_NONE,
    COMPRESSION_CCSDS121,
    COMPRESSION_NONE,
    PACKET_TYPE_TM,
    PACKET_VERSION,
    PRODUCT_BY_CODE,
    PRODUCT_BY_NAME,
    PRODUCT_TYPES,
    SEQ_CONTINUATION,
    SEQ_FIRST,
    SEQ_LAST,
    SEQ_UNSEGMENTED,
)
from triage.contract.packets import (
    CRC_SIZE,
    DEFAULT_SPACECRAFT_ID,
    MAX_SEGMENT_BYTES,
    PRIMARY_HEADER,
    encode_packet,
    packetize_product,
)
from triage.contract.records import (
    DIRECTORY_FRAME_ID,
    DIRECTORY_HEADER,
    FORMAT_VERSION,
    FRAME_SUMMARY,
    MAX_BANDS,
    PRODUCT_HEADER,
    STORE_ENTRY,
    crc16,
    seal_product,
)

MODEL_SHA256 = bytes(range(32))
"""The model a test stream's summaries and directories name (a made-up hash)."""


def idle_packet(n_fill: int, seq_count: int = 0, sec_hdr_flag: int = 0) -> bytes:
    """A CCSDS idle packet (APID 0x7FF) with ``n_fill`` fill bytes and a CRC."""
    head = PRIMARY_HEADER.pack(
        {
            "version": PACKET_VERSION,
            "type": PACKET_TYPE_TM,
            "sec_hdr_flag": sec_hdr_flag,
            "apid": APID_IDLE,
            "seq_flags": SEQ_UNSEGMENTED,
            "seq_count": seq_count,
            "data_length": n_fill + CRC_SIZE - 1,
        }
    )
    body = head + bytes([0x55]) * n_fill
    return body + crc16(body).to_bytes(2, "big")


def random_packet(rng: random.Random, max_segment: int = 64) -> bytes:
    """A valid packet of some product type with random secondary fields and segment."""
    pt = rng.choice(PRODUCT_TYPES)
    count = rng.randrange(1, 5)
    index = rng.randrange(count)
    seg_len = MAX_SEGMENT_BYTES if index < count - 1 else rng.randrange(1, max_segment + 1)
    if index == count - 1 and count == 1:
        flags = SEQ_UNSEGMENTED
    elif index == 0:
        flags = SEQ_FIRST
    elif index == count - 1:
        flags = SEQ_LAST
    else:
        flags = SEQ_CONTINUATION
    secondary = {
        "frame_id": DIRECTORY_FRAME_ID if pt.name == "STORE_DIRECTORY" else rng.randrange(0, 2**31),
        "product_id": rng.randrange(0, 2**16),
        "segment_index": index,
        "segment_count": count,
        "region_row0": rng.randrange(0, 2**16),
        "region_col0": rng.randrange(0, 2**16),
        "region_rows": rng.randrange(0, 2**16),
        "region_cols": rng.randrange(0, 2**16),
        "class_id": rng.randrange(0, 256),
        "confidence": rng.randrange(0, 256),
        "time_s": rng.randrange(0, 2**32),
        "time_sub": rng.randrange(0, 2**16),
    }
    segment = rng.randbytes(seg_len)
    return encode_packet(pt.apid, flags, rng.randrange(0, 2**14), secondary, segment)


def flip_bit(packet: bytes, bit: int) -> bytes:
    b = bytearray(packet)
    b[bit // 8] ^= 1 << (bit % 8)
    return bytes(b)


def chunked(data: bytes, sizes: Sequence[int]) -> list[bytes]:
    """``data`` cut into pieces of the given sizes (cycled), covering all of it."""
    out, pos, k = [], 0, 0
    while pos < len(data):
        step = max(1, sizes[k % len(sizes)])
        out.append(data[pos : pos + step])
        pos += step
        k += 1
    return out


# --------------------------------------------------------------------------
# Products (product header + band streams): the contract's encoder (libaec codes the streams)
# --------------------------------------------------------------------------


def make_product(
    pixels: np.ndarray,
    *,
    product_type: str,
    frame_id: int,
    product_id: int,
    region: tuple[int, int, int, int],
    pixel_step: int = 1,
    pixel_extent: int | None = None,
    class_id: int = CLASS_NONE,
    confidence: int = 0,
    frame_shape: tuple[int, int] = (64, 64),
    crs_epsg: int = 32633,
    geotransform: Sequence[float] = (500000.0, 10.0, 0.0, 4600000.0, 0.0, -10.0),
    time_s: int = 1_700_000_000,
    time_sub: int = 0,
    compression: int = COMPRESSION_CCSDS121,
    block_size: int = 16,
    rsi: int = 64,
    preprocess: bool = True,
    nodata: int = 0,
    dn_scale: tuple[int, int] = (0, 0),
) -> bytes:
    """A whole product: PRODUCT_HEADER then band streams; ``pixels`` is [bands, rows, cols]
    (the contract's encoder; libaec codes the streams). With ``dn_scale`` (num, den) the
    streams code d = round(v * den / num) of every sample."""
    if compression == COMPRESSION_CCSDS121:
        predictor = "unit-delay" if preprocess else "plain"
    else:
        predictor = "none"
    return encode_image_product(
        np.asarray(pixels),
        product_type=product_type,
        frame_id=frame_id,
        product_id=product_id,
        region=region,
        frame_shape=frame_shape,
        geotransform=tuple(geotransform),
        crs_epsg=crs_epsg,
        time_s=time_s,
        time_sub=time_sub,
        pixel_step=pixel_step,
        pixel_extent=pixel_extent,
        class_id=class_id,
        confidence=confidence,
        nodata=nodata,
        predictor=predictor,
        dn_scale=dn_scale,
        block_size=block_size,
        rsi=rsi,
    )


def record_product(
    records: bytes,
    *,
    product_type: str,
    frame_id: int,
    product_id: int,
    time_s: int = 1_700_000_000,
    frame_shape: tuple[int, int] = (0, 0),
    crs_epsg: int = 0,
    geotransform: Sequence[float] = (0.0,) * 6,
) -> bytes:
    """A FRAME_SUMMARY or STORE_DIRECTORY product: header (bands 0) then records."""
    header = PRODUCT_HEADER.pack(
        {
            "version": FORMAT_VERSION,
            "product_type": PRODUCT_BY_NAME[product_type].code,
            "sample_bits": 8,
            "bands": 0,
            "rows": 0,
            "cols": 0,
            "region_row0": 0,
            "region_col0": 0,
            "region_rows": frame_shape[0],
            "region_cols": frame_shape[1],
            "pixel_step": 1,
            "pixel_extent": 1,
            "class_id": CLASS_NONE,
            "confidence": 0,
            "compression": COMPRESSION_NONE,
            "aec_flags": 0,
            "aec_block_size": 8,
            "aec_rsi": 1,
            "nodata": 0,
            "product_id": product_id,
            "frame_id": frame_id,
            "time_s": time_s,
            "time_sub": 0,
            "frame_rows": frame_shape[0],
            "frame_cols": frame_shape[1],
            "crs_epsg": crs_epsg,
            "geotransform": tuple(geotransform),
            "band_bytes": (0,) * MAX_BANDS,
        }
    )
    return seal_product(header + records)


def packets_of(
    product: bytes, first_seq: int = 0, spacecraft_id: int = DEFAULT_SPACECRAFT_ID
) -> list[bytes]:
    """Packetise a product with the reference encoder, secondary fields from its header
    (and the spacecraft id, ours unless told)."""
    h = PRODUCT_HEADER.unpack(product)
    apid = PRODUCT_BY_CODE[h["product_type"]].apid
    secondary = {
        "frame_id": h["frame_id"],
        "product_id": h["product_id"],
        "region_row0": h["region_row0"],
        "region_col0": h["region_col0"],
        "region_rows": h["region_rows"],
        "region_cols": h["region_cols"],
        "class_id": h["class_id"],
        "confidence": h["confidence"],
        "time_s": h["time_s"],
        "time_sub": h["time_sub"],
        "spacecraft_id": spacecraft_id,
    }
    return packetize_product(product, apid, secondary, first_seq)


# --------------------------------------------------------------------------
# A synthetic frame and the products the satellite would send for it
# --------------------------------------------------------------------------

GEOTRANSFORM = (500000.0, 10.0, 0.0, 4600000.0, 0.0, -10.0)
EPSG = 32633


def synthetic_frame(seed: int, shape: tuple[int, int, int] = (4, 96, 128)) -> np.ndarray:
    """A [bands, rows, cols] uint16 frame: smooth ramps plus noise (compresses ~2:1)."""
    rng = np.random.default_rng(seed)
    bands, rows, cols = shape
    yy, xx = np.mgrid[0:rows, 0:cols]
    base = 800 + 3 * yy + 2 * xx
    out = np.stack([base + 100 * b + rng.integers(0, 400, size=(rows, cols)) for b in range(bands)])
    return out.astype(np.uint16)


def crop_regions() -> list[tuple[int, int, int, int]]:
    """Ship regions (row0, col0, rows, cols) in the synthetic frame."""
    return [(8, 16, 32, 48), (40, 64, 33, 47), (70, 0, 26, 30)]


def frame_products(
    frame: np.ndarray,
    frame_id: int,
    *,
    time_s: int = 1_700_000_000,
    step: int = 4,
    model_id: int = 0,
    model_sha256: bytes = MODEL_SHA256,
) -> list[bytes]:
    """Quicklook, ship crops (multi-segment) and a frame summary for ``frame`` (naming the
    model that classified it)."""
    _, rows, cols = frame.shape
    geo = {
        "frame_shape": (rows, cols),
        "crs_epsg": EPSG,
        "geotransform": GEOTRANSFORM,
        "time_s": time_s,
    }
    ql = frame[:, ::step, ::step]
    out = [
        make_product(
            ql,
            product_type="QUICKLOOK",
            frame_id=frame_id,
            product_id=0,
            region=(0, 0, rows, cols),
            pixel_step=step,
            **geo,
        )
    ]
    for k, (r0, c0, nr, nc) in enumerate(crop_regions()):
        out.append(
            make_product(
                frame[:, r0 : r0 + nr, c0 : c0 + nc],
                product_type="SHIP_CROP",
                frame_id=frame_id,
                product_id=1 + k,
                region=(r0, c0, nr, nc),
                class_id=2,
                confidence=250 - 30 * k,
                block_size=(16, 32, 8)[k],
                rsi=(64, 128, 1)[k],
                preprocess=k != 2,
                **geo,
            )
        )
    summary = FRAME_SUMMARY.pack(
        {
            "cells_total": 40,
            "cells_nodata": 0,
            "cells_by_class": (10, 20, 3, 7),
            "cells_discarded_by_class": (10, 20, 0, 7),
            "ship_regions": 3,
            "products": 5,
            "model_id": model_id,
            "model_sha256": tuple(model_sha256),
        }
    )
    out.append(
        record_product(
            summary,
            product_type="FRAME_SUMMARY",
            frame_id=frame_id,
            product_id=4,
            time_s=time_s,
            frame_shape=(rows, cols),
            crs_epsg=EPSG,
            geotransform=GEOTRANSFORM,
        )
    )
    return out


def stream_of(products: Sequence[bytes], spacecraft_id: int = DEFAULT_SPACECRAFT_ID) -> list[bytes]:
    """All packets of the products, in order, with running sequence counts."""
    pkts: list[bytes] = []
    for p in products:
        pkts += packets_of(p, len(pkts), spacecraft_id)
    return pkts


def directory_product(entries: Sequence[dict], product_id: int, time_s: int) -> bytes:
    """A STORE_DIRECTORY product listing ``entries`` (STORE_ENTRY field dicts)."""
    records = DIRECTORY_HEADER.pack(
        {"model_id": 0, "model_sha256": tuple(MODEL_SHA256), "entries": len(entries)}
    ) + b"".join(STORE_ENTRY.pack(e) for e in entries)
    return record_product(
        records,
        product_type="STORE_DIRECTORY",
        frame_id=DIRECTORY_FRAME_ID,
        product_id=product_id,
        time_s=time_s,
    )


def corrupt_keeping_crc(packet: bytes, offset: int, xor: int = 0x20) -> bytes:
    """``packet`` with byte ``offset`` changed and its CRC-16 made right again: a
    corruption the packet CRC does not see (the bytes changed before the CRC was computed,
    or an error pattern the CRC-16 misses)."""
    b = bytearray(packet)
    b[offset] ^= xor
    b[-2:] = crc16(bytes(b[:-2])).to_bytes(2, "big")
    return bytes(b)
