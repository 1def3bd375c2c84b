"""The firmware's own downlink as stream files, for the ground station's bench.

The sen2ships port scenes are cut into frames of at most 1024 x 1024 pixels (as
``triage bench onboard`` does) and each goes through the host build of the firmware
with the shipped classifier: frame, directory, a pass sending every product, release -
the products and packets the satellite really makes (their sizes, types and mix). To
reach the requested volume the stream is repeated with every frame id moved on (image
products by 1000 a repetition, directories as if after another boot: only the
frame_id fields change, with the product CRC-32 and packet CRC-16 recomputed). Written:

- ``downlink.packets``: the bare space packets;
- ``downlink.cadu``: the same packets through the firmware's link layer
  (tri_link.c: transfer frames on virtual channel 0, Reed-Solomon, randomiser, CADUs);
- ``downlink.json``: what they hold.

``groundstation bench --link-streams DIR`` measures ingest on them.
"""

from __future__ import annotations

import binascii
import dataclasses
import json
import zlib
from pathlib import Path

from triage import paths
from triage.contract import sen2ships
from triage.contract.frames import CADU_BYTES
from triage.contract.packets import PRIMARY_HEADER, SECONDARY_HEADER, split_packets
from triage.contract.records import (
    CRC16_INIT,
    DIRECTORY_FRAME_ID,
    PRODUCT_CRC_OFFSET,
    PRODUCT_HEADER,
)
from triage.onboard.bench import scene_frames
from triage.onboard.errors import FirmwareError
from triage.onboard.host import DEFAULT_STORE_BYTES, Onboard, has_model, link_encode
from triage.onboard.products import decode_stream, parse_packets, reassemble

_FID = PRIMARY_HEADER.size + SECONDARY_HEADER.field("frame_id").offset
_SEG = PRIMARY_HEADER.size + SECONDARY_HEADER.field("segment_index").offset
_CNT = PRIMARY_HEADER.size + SECONDARY_HEADER.field("segment_count").offset
_BODY = PRIMARY_HEADER.size + SECONDARY_HEADER.size
_PFID = _BODY + PRODUCT_HEADER.field("frame_id").offset
_PCRC = _BODY + PRODUCT_CRC_OFFSET


def firmware_packets(ports: list[str] | None = None) -> tuple[bytes, dict]:
    """The firmware's packets for the port scenes (see the module docstring), and a summary."""
    if not has_model():
        raise FirmwareError("the host build has no classifier model")
    data_dir = paths.require_data_dir()
    ports = ports or sen2ships.ports(data_dir=data_dir)
    ob = Onboard(DEFAULT_STORE_BYTES, classifier="model")
    out = bytearray()
    fid = 0
    frames = 0
    for port in ports:
        _, scene = scene_frames(data_dir, port)
        for f, meta in scene:
            fid += 1
            ob.process_frame(f, dataclasses.replace(meta, frame_id=fid))
            frames += 1
            d = ob.directory()
            out += d + ob.downlink(0xFFFFFFFF)
            (entries,) = [p.records for p in decode_stream(d).values()]
            ob.downlink(0, [(e["frame_id"], e["product_id"], "release") for e in entries])
    return bytes(out), {"ports": list(ports), "frames": frames}


def renumber(stream: bytes, rep: int) -> bytes:
    """The packets with every frame id moved on for repetition ``rep`` (see above)."""
    pkts = [bytearray(p) for p in split_packets(stream)]
    for b in pkts:
        fid = int.from_bytes(b[_FID : _FID + 4], "big")
        fid = fid + rep if fid >= DIRECTORY_FRAME_ID else fid + 1000 * rep
        b[_FID : _FID + 4] = fid.to_bytes(4, "big")
        if b[_SEG : _SEG + 2] == b"\0\0":
            b[_PFID : _PFID + 4] = fid.to_bytes(4, "big")
    k = 0
    while k < len(pkts):  # a product: segment 0 and the next segment_count - 1 packets
        n = int.from_bytes(pkts[k][_CNT : _CNT + 2], "big")
        body = [bytes(p[_BODY:-2]) for p in pkts[k : k + n]]
        product = b"".join(body)
        crc = zlib.crc32(product[PRODUCT_HEADER.size :], zlib.crc32(product[:PRODUCT_CRC_OFFSET]))
        pkts[k][_PCRC : _PCRC + 4] = crc.to_bytes(4, "big")
        k += n
    for b in pkts:
        b[-2:] = binascii.crc_hqx(bytes(b[:-2]), CRC16_INIT).to_bytes(2, "big")
    return b"".join(bytes(b) for b in pkts)


def write_streams(
    out_dir: str | Path, megabytes: float = 64.0, ports: list[str] | None = None
) -> dict:
    """Write ``downlink.packets``, ``downlink.cadu`` and ``downlink.json`` to out_dir
    (``ports``: a subset of the sen2ships ports, all by default)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    base, info = firmware_packets(ports)
    reps = []
    size = 0
    rep = 0
    while size < megabytes * 1e6:
        s = base if rep == 0 else renumber(base, rep)
        reps.append(s)
        size += len(s)
        rep += 1
    packets = b"".join(reps)
    cadus = link_encode(packets, "cadu")
    (out / "downlink.packets").write_bytes(packets)
    (out / "downlink.cadu").write_bytes(cadus)
    prods = reassemble(parse_packets(base))
    sizes = sorted(len(p) for p in prods.values())
    doc = {
        **info,
        "source": "firmware host build, shipped classifier, sen2ships port scenes",
        "repetitions": rep,
        "packets_bytes": len(packets),
        "cadu_bytes": len(cadus),
        "cadus": len(cadus) // CADU_BYTES,
        "products_per_repetition": len(prods),
        "product_bytes_median": sizes[len(sizes) // 2] if sizes else 0,
        "product_bytes_mean": round(sum(sizes) / len(sizes)) if sizes else 0,
        "attribution": paths.COPERNICUS_ATTRIBUTION,
    }
    (out / "downlink.json").write_text(json.dumps(doc, indent=2) + "\n")
    return doc
