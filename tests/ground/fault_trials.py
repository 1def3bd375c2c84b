"""Seeded fault trials: the firmware's own products, passes planned by the ground, a
faulty link between them, and three counts that must stay zero.

A trial is one satellite (the firmware's host build, ``triage.onboard.Onboard``, test rule
classifier) that processes three seeded synthetic frames (sea, bright ships, a land block)
and a ground catalogue, over up to ``MAX_PASSES`` short passes: each pass the satellite
sends its STORE_DIRECTORY and what the ground's last DOWNLINK_REQUEST asked for within the
pass budget; the link spoils the packets with the trial's fault; the ground ingests what
arrives and plans the next pass. At the end the catalogue is exported and checked against
the satellite's own products (the same frames through a second, clean instance):

- ``corrupted``: a product the ground holds as complete whose bytes are not the
  satellite's; ``exported_corrupted``: an exported crop whose pixels are not the
  satellite's product's (or that is no product of this satellite);
- ``lost``: a product the satellite made that is neither complete on the ground nor still
  in the satellite's store (released on board, or given up, while its clean copy was
  there to send);
- ``tracebacks``: an exception out of ``ingest_bytes``, ``plan_next_pass`` or
  ``export_products``.

``pending`` counts products still on board and not yet complete on the ground when the
passes ran out (not lost: the next pass can bring them).

Faults (per pass, every pass, drawn from the trial's seed): ``loss`` (10-30 % of
packets), ``duplicates`` (10-30 % sent twice, anywhere), ``reorder`` (every packet
shuffled), ``bitflips`` (one bit flipped in 1-5 % of packets, which the CRC-16 catches),
``crc16_passing`` (one byte changed in 2-8 % of packets with the CRC-16 made right
again, in the segment data or the product fields), ``truncation`` (the pass stream cut
short at a random byte, every other pass on average), ``garbage`` (random bytes between
packets), ``foreign`` (the whole downlink of another satellite, spacecraft id
:data:`FOREIGN_ID`, of the same APIDs and frame ids, other scenes and capture times,
shuffled into every pass after the first), ``mixed`` (loss, duplicates, reordering
and CRC-16-passing corruption together). The uplinked request is lost in 20 % of
``mixed`` passes.

Run ``python -m tests.ground.fault_trials --trials 117`` (13 of each fault of the rotation;
a JSON summary on stdout, exit 1 when a count is not zero);
``tests/ground/test_fault_trials.py`` runs one trial of each fault.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np
import rasterio

from ground_station.catalogue import Catalogue
from ground_station.deframe import deframe
from ground_station.export import export_products
from ground_station.ingest import ingest_bytes
from ground_station.plan import plan_next_pass
from triage.contract.codec import decode_product
from triage.contract.enums import PRODUCT_BY_NAME
from triage.contract.packets import DEFAULT_SPACECRAFT_ID, PRIMARY_HEADER, SECONDARY_HEADER
from triage.contract.records import PRODUCT_HEADER

from .gs_streams import corrupt_keeping_crc, flip_bit

FAULTS = (
    "loss",
    "duplicates",
    "reorder",
    "bitflips",
    "crc16_passing",
    "truncation",
    "garbage",
    "mixed",
    "foreign",
)
"""The faults of the default rotation (since wire format 5 every packet names its
spacecraft, so ``foreign`` is in it)."""
FOREIGN_ID = 0x2A5
"""The other satellite's spacecraft id (this one's: DEFAULT_SPACECRAFT_ID, 0x1A7)."""
COUNTS = ("corrupted", "exported_corrupted", "lost", "pending", "tracebacks")
"""What a trial counts (all but ``pending`` must be zero)."""
MAX_PASSES = 40
BUDGET_BYTES = 12_000
ROWS, COLS = 160, 224
GT = (600000.0, 10.0, 0.0, 5000000.0, 0.0, -10.0)
BODY = PRIMARY_HEADER.size + SECONDARY_HEADER.size
DIRECTORY = PRODUCT_BY_NAME["STORE_DIRECTORY"].code


def scene(rng: np.random.Generator) -> np.ndarray:
    """[rows, cols, 4] uint16: sea, four bright ships at seeded places, a land block."""
    base = np.array([1500, 1200, 900, 600])
    pix = base + rng.integers(0, 200, size=(ROWS, COLS, 4))
    r = int(rng.integers(0, ROWS - 50))
    pix[r : r + 50, 0:70] = [2000, 2600, 2400, 20000]
    for _ in range(4):
        r, c = int(rng.integers(0, ROWS - 5)), int(rng.integers(80, COLS - 7))
        pix[r : r + 5, c : c + 7] = 50000
    return np.ascontiguousarray(pix.astype(np.uint16))


def satellite(seed: int, time_s: int, spacecraft_id: int = DEFAULT_SPACECRAFT_ID):
    """An Onboard instance that has processed three frames of ``seed`` (ids 1-3)."""
    from triage.onboard import FrameMeta, Onboard

    rng = np.random.default_rng(seed)
    ob = Onboard(4 << 20, classifier="rule", spacecraft_id=spacecraft_id)
    for fid in (1, 2, 3):
        frame = scene(rng)
        meta = FrameMeta.for_frame(
            frame,
            fid,
            nodata=0,
            time_s=time_s + 60 * fid,
            time_sub=0,
            crs_epsg=32631,
            geotransform=GT,
        )
        rep = ob.process_frame(frame, meta)
        assert rep.ok, rep.status_name
    return ob


def products_of(ob) -> dict[tuple[int, int], bytes]:
    from triage.onboard.products import parse_packets, reassemble

    return {
        k: v
        for k, v in reassemble(parse_packets(ob.downlink(1 << 30))).items()
        if PRODUCT_HEADER.unpack(v)["product_type"] != DIRECTORY
    }


def on_board(ob) -> set[tuple[int, int]]:
    """The keys in the satellite's store now (its own directory, read directly)."""
    from triage.onboard.products import parse_packets, reassemble

    (d,) = reassemble(parse_packets(ob.directory())).values()
    p = decode_product(d)
    return {(e["frame_id"], e["product_id"]) for e in p.records}


def spoil(packets: list[bytes], fault: str, rng: random.Random, foreign: list[bytes]) -> bytes:
    """The bytes that reach the ground."""
    out = list(packets)
    if fault in ("loss", "mixed"):
        rate = rng.uniform(0.10, 0.30)
        out = [p for p in out if rng.random() >= rate]
    if fault in ("duplicates", "mixed"):
        rate = rng.uniform(0.10, 0.30)
        for p in [p for p in out if rng.random() < rate]:
            out.insert(rng.randrange(len(out) + 1), p)
    if fault in ("crc16_passing", "mixed"):
        rate = rng.uniform(0.02, 0.08)
        for i, p in enumerate(out):
            if rng.random() < rate:
                # the product fields (after the APID word and counts) or the segment data
                at = rng.randrange(PRIMARY_HEADER.size + 2, len(p) - 2)
                out[i] = corrupt_keeping_crc(p, at, rng.randrange(1, 256))
    if fault == "bitflips":
        rate = rng.uniform(0.01, 0.05)
        out = [flip_bit(p, rng.randrange(8 * len(p))) if rng.random() < rate else p for p in out]
    if fault == "foreign":
        for p in foreign:
            out.insert(rng.randrange(len(out) + 1), p)
    if fault in ("reorder", "mixed", "foreign"):
        rng.shuffle(out)
    if fault == "garbage":
        out = [
            bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))) + p
            if rng.random() < 0.1
            else p
            for p in out
        ]
    data = b"".join(out)
    if fault == "truncation" and data and rng.random() < 0.5:
        data = data[: rng.randrange(len(data))]
    return data


def run_trial(seed: int, fault: str, workdir: Path) -> dict:
    rng = random.Random(seed)
    ob = satellite(seed, 1_780_000_000)
    reference = products_of(satellite(seed, 1_780_000_000))
    foreign: list[bytes] = []
    if fault == "foreign":
        other = satellite(seed + 1_000_003, 1_790_000_000, FOREIGN_ID)
        foreign = deframe(other.downlink(1 << 30))[0]
    db = workdir / f"trial-{seed}-{fault}.sqlite"
    res = {"seed": seed, "fault": fault, "products": len(reference), "tracebacks": []}
    request = None
    passes = 0
    for k in range(MAX_PASSES):
        passes = k + 1
        packets = deframe(ob.directory() + ob.downlink(BUDGET_BYTES, request))[0]
        data = spoil(packets, fault, rng, foreign if k > 0 else [])
        try:
            ingest_bytes(db, data, source=f"pass {k}")
            _, request = plan_next_pass(db, None, 0, budget_bytes=BUDGET_BYTES)
        except Exception:  # counted, and shown
            res["tracebacks"].append(traceback.format_exc())
            request = None
        if fault == "mixed" and rng.random() < 0.2:
            request = None  # the uplink lost it
        with Catalogue.open(db) as cat:
            complete = {
                (r["frame_id"], r["product_id"]) for r in cat.product_rows("status='complete'")
            }
        if not (on_board(ob) - complete) and set(reference) <= complete:
            break
    res["passes"] = passes
    store = on_board(ob)
    corrupted, lost, pending = [], [], []
    with Catalogue.open(db) as cat:
        rows = cat.product_rows("product_type != 'STORE_DIRECTORY'")
        complete = {(r["frame_id"], r["product_id"]) for r in rows if r["status"] == "complete"}
        for key in sorted(complete):
            if bytes(cat.load_product(*key).data) != reference.get(key):
                corrupted.append(f"{key}: stored bytes are not the satellite's")
        given_up = {(r["frame_id"], r["product_id"]): r.get("given_up") for r in rows}
    for key in sorted(reference):
        if key in complete:
            continue
        if key in store:
            pending.append(key)
        else:
            lost.append(f"{key}: {given_up.get(key) or 'not on the ground, not on board'}")
    try:
        rep = export_products(db, workdir / f"export-{seed}-{fault}")
    except Exception:  # counted, and shown
        res["tracebacks"].append(traceback.format_exc())
        rep = None
    exported = []  # exported crops that are not this satellite's pixels
    for f in rep.files if rep is not None else []:
        if f.kind != "crop":
            continue
        (ref,) = f.products
        key = (f.frame_id, ref.product_id)
        if key not in reference:
            exported.append(f"{f.path.name}: not a product of this satellite")
            continue
        with rasterio.open(f.path) as src:
            if not np.array_equal(src.read(), decode_product(reference[key]).pixels):
                exported.append(f"{f.path.name}: pixels differ from the product's")
    res |= {
        "corrupted": corrupted,
        "exported_corrupted": exported,
        "lost": lost,
        "pending": [list(k) for k in pending],
    }
    return res


def run_trials(n: int, first_seed: int = 1, faults=FAULTS, workdir: Path | None = None) -> dict:
    t0 = time.perf_counter()
    trials = []
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        for i in range(n):
            trials.append(run_trial(first_seed + i, faults[i % len(faults)], Path(tmp)))
    by_fault: dict[str, dict] = {}
    for t in trials:
        f = by_fault.setdefault(
            t["fault"],
            {"trials": 0, "products": 0, **dict.fromkeys(COUNTS, 0)},
        )
        f["trials"] += 1
        for k in COUNTS:
            f[k] += len(t[k])
        f["products"] += t["products"]
    total = {k: sum(f[k] for f in by_fault.values()) for k in ("trials", "products", *COUNTS)}
    return {
        "total": total,
        "by_fault": by_fault,
        "max_passes": MAX_PASSES,
        "budget_bytes": BUDGET_BYTES,
        "elapsed_s": round(time.perf_counter() - t0, 1),
        "problems": [
            {k: t[k] for k in ("seed", "fault", *COUNTS) if k != "pending"}
            for t in trials
            if any(t[k] for k in COUNTS if k != "pending")
        ],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument(
        "--faults",
        default=",".join(FAULTS),
        help=f"comma-separated, in rotation (default: {','.join(FAULTS)})",
    )
    args = ap.parse_args(argv)
    faults = tuple(args.faults.split(","))
    unknown = set(faults) - set(FAULTS)
    if unknown:
        ap.error(f"unknown faults {sorted(unknown)}")
    out = run_trials(args.trials, args.first_seed, faults)
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")
    t = out["total"]
    return 1 if any(t[k] for k in COUNTS if k != "pending") else 0


if __name__ == "__main__":
    sys.exit(main())
