"""``groundstation bench``: ingest throughput and export time on this machine.

The stream: products the way the satellite sends them — per frame a
quicklook (16x area average), ship crops at full resolution and a frame
summary — compressed with CCSDS 121 (the neighbour predictor's residuals, then
libaec's encoder, J=16, RSI=64: the firmware's settings) and packetised with
the wire format's reference encoder. Pixels are real Sentinel-2 scenes
(sen2ships, 4 bands, 16-bit) when the imagery is present, else a synthetic
texture; the JSON says which, and the compression ratio. A pool of distinct
products is built once and repeated under new frame ids (frame ids patched
in the packets and product headers, CRCs recomputed) up to the requested size.

Measured: the ingest of the stream file into a fresh catalogue
(deframe, CRC, checks, pack + SQLite, reassembly, libaec decoding of every
product; the predictor is undone at export), then a second ingest of the same
file (all duplicates), then the export of every frame. One process, one thread.

With ``--link-streams DIR`` (made by ``triage bench downlink``: the firmware's own
products, as packets and as CADUs from its link layer), :func:`run_link_bench` adds the
ingest of those: bare packets, CADUs clean and at stated channel bit error rates
(Reed-Solomon decoding included).
"""

from __future__ import annotations

import binascii
import json
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from ground_station import crc16, rs
from ground_station.deframe import Deframer
from ground_station.errors import InputFileError
from ground_station.export import export_products
from ground_station.ingest import ingest_files
from ground_station.packets import HEADER_BYTES, gather
from triage.contract import sen2ships
from triage.contract.codec import encode_image_product, product_secondary
from triage.contract.coding import QUICKLOOK_FACTOR
from triage.contract.enums import (
    CLASS_NONE,
    PRODUCT_BY_NAME,
)
from triage.contract.errors import DataMissingError
from triage.contract.frames import CADU_BYTES
from triage.contract.packets import (
    PACKET_OVERHEAD,
    PRIMARY_HEADER,
    SECONDARY_HEADER,
    packetize_product,
)
from triage.contract.records import (
    CRC16_INIT,
    PRODUCT_CRC_OFFSET,
    PRODUCT_HEADER,
    product_crc32,
)
from triage.contract.tile_spec import tile_spec

_SEED = 20261125
_FID_SEC = PRIMARY_HEADER.size + SECONDARY_HEADER.field("frame_id").offset
_SEG_SEC = PRIMARY_HEADER.size + SECONDARY_HEADER.field("segment_index").offset
_CNT_SEC = PRIMARY_HEADER.size + SECONDARY_HEADER.field("segment_count").offset
_FID_PROD = HEADER_BYTES + PRODUCT_HEADER.field("frame_id").offset
_CRC_PROD = HEADER_BYTES + PRODUCT_CRC_OFFSET


def _scenes(max_scenes: int = 9) -> tuple[str, list[tuple[np.ndarray, list, tuple, int]]]:
    """(source name, [(pixels [4, rows, cols], ship boxes (r0, c0, rows, cols), gt, epsg)])."""
    try:
        ports = sen2ships.ports()
    except DataMissingError:
        ports = []
    if ports:
        out = []
        for port in ports[:max_scenes]:
            frame, grid = sen2ships.read_bands(port)
            pix = np.moveaxis(frame, -1, 0)
            boxes = []
            for x, y, w, h in sen2ships.read_port_boxes(port, (grid.rows, grid.cols)):
                r0, c0 = max(0, int(y) - 24), max(0, int(x) - 24)
                nr = min(pix.shape[1] - r0, int(h) + 48)
                nc = min(pix.shape[2] - c0, int(w) + 48)
                boxes.append((r0, c0, nr, nc))
            out.append((pix, boxes, grid.geotransform, grid.epsg or 3857))
        return "sen2ships (real Sentinel-2 L2A, 4 bands, uint16)", out
    rng = np.random.default_rng(_SEED)
    out = []
    for _ in range(4):
        yy, xx = np.mgrid[0:768, 0:1024]
        base = 1000 + 300 * np.sin(yy / 37.0) + 200 * np.cos(xx / 23.0)
        pix = np.stack([base + rng.normal(0, 80, size=base.shape) for _ in range(4)])
        pix = np.clip(pix, 0, 65535).astype(np.uint16)
        boxes = [(int(r), int(c), 64, 64) for r, c in rng.integers(0, 700, size=(12, 2))]
        out.append((pix, boxes, (500000.0, 10.0, 0.0, 4600000.0, 0.0, -10.0), 32633))
    return "synthetic texture (no imagery found)", out


def _product(pix, *, ptype, frame_id, product_id, region, step, gt, epsg, frame_shape, conf):
    product = encode_image_product(
        pix,
        product_type=ptype,
        frame_id=frame_id,
        product_id=product_id,
        region=region,
        frame_shape=frame_shape,
        geotransform=gt,
        crs_epsg=epsg,
        time_s=1_780_000_000 + frame_id,
        pixel_step=step,
        class_id=tile_spec().class_id("ship") if ptype == "SHIP_CROP" else CLASS_NONE,
        confidence=conf,
    )
    header = PRODUCT_HEADER.unpack(product)
    packets = packetize_product(product, PRODUCT_BY_NAME[ptype].apid, product_secondary(header), 0)
    return packets, pix.nbytes


def _pool() -> tuple[str, list[list[bytes]], int, int]:
    """(source, packets per frame, raw pixel bytes, product bytes) of the distinct pool."""
    source, scenes = _scenes()
    frames, raw, coded = [], 0, 0
    for k, (pix, boxes, gt, epsg) in enumerate(scenes):
        fid = k
        rows, cols = pix.shape[1:]
        f = QUICKLOOK_FACTOR
        qr, qc = rows // f, cols // f
        ql = pix[:, : qr * f, : qc * f].reshape(4, qr, f, qc, f).mean(axis=(2, 4)).astype(np.uint16)
        geo = {"gt": gt, "epsg": epsg, "frame_shape": (rows, cols)}
        pkts, n = _product(
            ql,
            ptype="QUICKLOOK",
            frame_id=fid,
            product_id=0,
            region=(0, 0, qr * f, qc * f),
            step=f,
            conf=0,
            **geo,
        )
        frame_pkts = list(pkts)
        raw += n
        for j, (r0, c0, nr, nc) in enumerate(boxes[:200]):
            pkts, n = _product(
                pix[:, r0 : r0 + nr, c0 : c0 + nc],
                ptype="SHIP_CROP",
                frame_id=fid,
                product_id=1 + j,
                region=(r0, c0, nr, nc),
                step=1,
                conf=200,
                **geo,
            )
            frame_pkts += pkts
            raw += n
        coded += sum(len(p) - PACKET_OVERHEAD for p in frame_pkts)
        frames.append(frame_pkts)
    return source, frames, raw, coded


def _renumber(pkts: list[bytes], frame_id: int) -> bytes:
    """The packets with ``frame_id`` patched in (and in the product headers), CRCs redone:
    each product's CRC-32 (its header is in its first segment), each packet's CRC-16."""
    fid = frame_id.to_bytes(4, "big")
    out = [bytearray(p) for p in pkts]
    for b in out:
        b[_FID_SEC : _FID_SEC + 4] = fid
        if b[_SEG_SEC] == 0 and b[_SEG_SEC + 1] == 0:  # the product header is in segment 0
            b[_FID_PROD : _FID_PROD + 4] = fid
    k = 0
    while k < len(out):  # a product: segment 0 and the segment_count - 1 packets after it
        n = int.from_bytes(out[k][_CNT_SEC : _CNT_SEC + 2], "big")
        product = b"".join(bytes(b[HEADER_BYTES:-2]) for b in out[k : k + n])
        out[k][_CRC_PROD : _CRC_PROD + 4] = product_crc32(product).to_bytes(4, "big")
        k += n
    for b in out:
        b[-2:] = binascii.crc_hqx(memoryview(b)[:-2], CRC16_INIT).to_bytes(2, "big")
    return b"".join(bytes(b) for b in out)


def build_stream(path: Path, megabytes: float) -> dict:
    """Write a bench stream of about ``megabytes`` MB to ``path``; what it holds."""
    source, frames, raw, coded = _pool()
    target = int(megabytes * 1e6)
    size = packets = 0
    fid = 1000
    with open(path, "wb") as f:
        while size < target:
            for pk in frames:
                data = _renumber(pk, fid)
                f.write(data)
                size += len(data)
                packets += len(pk)
                fid += 1
                if size >= target:
                    break
    return {
        "imagery": source,
        "stream_bytes": size,
        "packets": packets,
        "frames": fid - 1000,
        "compression_ratio": round(raw / coded, 3),
    }


def run_bench(megabytes: float = 256.0, workdir: str | os.PathLike | None = None) -> dict:
    """Build a stream, ingest it (twice), export it; the figures as a dict."""

    with tempfile.TemporaryDirectory(dir=workdir, prefix="gs-bench-") as tmp:
        tmp = Path(tmp)
        stream = tmp / "pass.bin"
        t0 = time.perf_counter()
        info = build_stream(stream, megabytes)
        build_s = time.perf_counter() - t0
        db = tmp / "catalogue.sqlite"
        _load_kernels()
        c0, t0 = time.process_time(), time.perf_counter()
        st = ingest_files(db, [stream])
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        t0 = time.perf_counter()
        st2 = ingest_files(db, [stream])
        wall2 = time.perf_counter() - t0
        # export a sample of frames (export is per frame; all frames of a big stream
        # would write thousands of files)
        n_frames = min(info["frames"], 9)
        ids = list(range(1000, 1000 + n_frames))
        t0 = time.perf_counter()
        rep = export_products(db, tmp / "export", frame_ids=ids)
        exp_s = time.perf_counter() - t0
        mb = info["stream_bytes"] / 1e6
        rate = mb / wall
        return {
            "stream": info,
            "ingest": {
                "seconds": round(wall, 3),
                "cpu_seconds": round(cpu, 3),
                "mb_per_s": round(rate, 2),
                "cpu_mb_per_s": round(mb / cpu, 2),
                "packets_per_s": round(info["packets"] / wall, 1),
                "products_completed": st.products_completed,
                "products_invalid": st.products_invalid,
                "crc_errors": st.deframe.crc_errors,
                "target_mb_per_s": 50.0,
                "meets_target": rate >= 50.0,
                "projected_15gb_pass_s": round(15e9 / (rate * 1e6), 1),
            },
            "reingest_duplicates": {
                "seconds": round(wall2, 3),
                "mb_per_s": round(mb / wall2, 2),
                "duplicates": st2.duplicates,
                "new_segments": st2.new_segments,
            },
            "export": {
                "frames": len(rep.frames),
                "crops": len(rep.crops),
                "megapixels": round(rep.megapixels, 3),
                "seconds": round(exp_s, 3),
                "seconds_per_megapixel": round(exp_s / rep.megapixels, 4)
                if rep.megapixels
                else None,
            },
            "stream_build_seconds": round(build_s, 2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "cpu_count": os.cpu_count(),
        }


# ---------------------------------------------------------------- the link formats

LINK_BERS = (1e-5, 1e-4, 1e-3)
"""Channel bit error rates of the CADU figures (a binary symmetric channel, seeded)."""
LINK_LOSS = 0.01
"""Share of packets (bare packets) or of CADUs lost at random in the loss figures (seeded)."""


def _packet_spans(data: bytes) -> np.ndarray:
    """Offsets of the packets back to back in ``data`` (by their data length fields), and
    its length last."""
    n = len(data)
    offs = [0]
    k = 0
    while k + 6 <= n:
        k += 7 + (data[k + 4] << 8 | data[k + 5])
        offs.append(min(k, n))
    return np.array(offs, dtype=np.int64)


def _packets_faulted(src: Path, dst: Path, kind: str, seed: int) -> int:
    """The bare packets of src with every packet in a seeded random order (``shuffled``) or
    :data:`LINK_LOSS` of them dropped (``lost``); the packets written."""
    data = src.read_bytes()
    offs = _packet_spans(data)
    rng = np.random.default_rng(seed)
    n = len(offs) - 1
    order = rng.permutation(n) if kind == "shuffled" else np.flatnonzero(rng.random(n) >= LINK_LOSS)
    with open(dst, "wb") as f:
        for i in order:
            f.write(data[offs[i] : offs[i + 1]])
    return len(order)


def _cadus_lost(src: Path, dst: Path, seed: int, cadu_bytes: int) -> int:
    """The CADUs of src with :data:`LINK_LOSS` of them dropped; the CADUs dropped."""
    data = np.fromfile(src, dtype=np.uint8).reshape(-1, cadu_bytes)
    keep = np.random.default_rng(seed).random(len(data)) >= LINK_LOSS
    data[keep].tofile(dst)
    return int(np.count_nonzero(~keep))


def _flip_bits(src: Path, dst: Path, ber: float, seed: int) -> int:
    """Copy src to dst with every bit flipped with probability ``ber``; the flips made."""
    data = np.fromfile(src, dtype=np.uint8)
    rng = np.random.default_rng(seed)
    nbits = data.size * 8
    pos = np.unique(rng.integers(0, nbits, rng.binomial(nbits, ber)))
    np.bitwise_xor.at(data, pos // 8, (0x80 >> (pos % 8)).astype(np.uint8))
    data.tofile(dst)
    return len(pos)


def _load_kernels() -> None:
    """The compiled kernels (CRC-16, deframer scan, Reed-Solomon, segment gather) loaded
    and self-checked before a clock starts: a cost per process, not per megabyte."""
    crc16.ready()
    rs.ready()
    Deframer().feed(b"\0" * 16)
    gather(b"\0\1", np.array([1]), np.array([1]))


def _timed_ingest(db: Path, stream: Path, fmt: str, decode_streams: bool = False) -> dict:
    _load_kernels()
    load = os.getloadavg()[0]
    c0, t0 = time.process_time(), time.perf_counter()
    st = ingest_files(db, [stream], input_format=fmt, decode_streams=decode_streams)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    mb = st.input_bytes / 1e6
    out = {
        "input_bytes": st.input_bytes,
        "seconds": round(wall, 3),
        "cpu_seconds": round(cpu, 3),
        "mb_per_s": round(mb / wall, 2),
        "cpu_mb_per_s": round(mb / cpu, 2),
        "packets": st.deframe.packets,
        "products_completed": st.products_completed,
        "products_invalid": st.products_invalid,
        "decode_streams": decode_streams,
        "load_average_1min": round(load, 2),
    }
    if st.link:
        k = st.link
        out |= {
            "cadus": k.get("cadus", 0),
            "symbols_corrected": k.get("symbols_corrected", 0),
            "codewords_corrected": k.get("codewords_corrected", 0),
            "codeblocks_uncorrectable": k.get("codeblocks_uncorrectable", 0),
            "frames_lost": sum(k.get("vc_frames_lost", {}).values()),
        }
    return out


def run_link_bench(streams: str | os.PathLike, workdir: str | os.PathLike | None = None) -> dict:
    """Ingest of the firmware's own downlink (``triage bench downlink --out DIR``: its real
    products as bare packets and as CADUs) into fresh catalogues: bare packets clean, every
    packet shuffled, and :data:`LINK_LOSS` of them lost; CADUs clean, at each of
    :data:`LINK_BERS` (Reed-Solomon decoding included) and with :data:`LINK_LOSS` of them
    lost; and bare packets clean again with every band stream decoded at ingest
    (``--decode-streams``, ``packets_decoded``: what ingest cost before decoding moved to
    export). Each figure gives MB/s of the input bytes by the wall clock (``mb_per_s``) and by
    the process's CPU time (``cpu_mb_per_s``, every thread of it: the link layer's and the
    product checks' included), and the load average before it (the machine's other work);
    the faulted files are made before the clock starts."""
    d = Path(streams)
    packets, cadus, info = d / "downlink.packets", d / "downlink.cadu", d / "downlink.json"
    for p in (packets, cadus, info):
        if not p.is_file():
            raise InputFileError(f"{p} missing: make the streams with `triage bench downlink`")
    out: dict = {
        "streams": json.loads(info.read_text()),
        "channel_bers": list(LINK_BERS),
        "loss_share": LINK_LOSS,
    }
    with tempfile.TemporaryDirectory(dir=workdir, prefix="gs-link-bench-") as tmp:
        tmp = Path(tmp)
        out["packets"] = _timed_ingest(tmp / "p.sqlite", packets, "packets")
        out["packets_decoded"] = _timed_ingest(tmp / "pd.sqlite", packets, "packets", True)
        for k, kind in enumerate(("shuffled", "lost")):
            faulty = tmp / f"{kind}.packets"
            n = _packets_faulted(packets, faulty, kind, seed=_SEED + 10 + k)
            r = _timed_ingest(tmp / f"p{kind}.sqlite", faulty, "packets")
            out[f"packets_{kind}"] = {"packets_written": n, **r}
            faulty.unlink()
        out["cadu_clean"] = _timed_ingest(tmp / "c.sqlite", cadus, "cadu")
        for k, ber in enumerate(LINK_BERS):
            noisy = tmp / f"noisy{k}.cadu"
            flips = _flip_bits(cadus, noisy, ber, seed=_SEED + k)
            r = _timed_ingest(tmp / f"n{k}.sqlite", noisy, "cadu")
            out[f"cadu_ber_{ber:g}"] = {"bit_flips": flips, **r}
            noisy.unlink()
        faulty = tmp / "lost.cadu"
        dropped = _cadus_lost(cadus, faulty, _SEED + 20, CADU_BYTES)
        out["cadu_lost"] = {
            "cadus_dropped": dropped,
            **_timed_ingest(tmp / "clost.sqlite", faulty, "cadu"),
        }
        faulty.unlink()
    out["targets_mb_per_s"] = {"cadu": 25.0, "packets": 60.0}
    out["load_average_1min"] = round(os.getloadavg()[0], 2)  # other work on the machine
    out["cpu_count"] = os.cpu_count()
    return out
