"""kill -9 during ingest, then rerun: the same catalogue as an uninterrupted run.

An ingest runs in a child process over a ~16 MB stream in 64 KiB batches
(one transaction each); the test sends SIGKILL once the segment pack has
grown past a threshold (so the kill lands mid-ingest, at a moment the test
does not choose), checks that what was committed is intact, kills a rerun
the same way, and lets a final rerun finish.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from ground_station.catalogue import Catalogue, pack_path
from ground_station.ingest import ingest_files
from triage.contract.records import PRODUCT_HEADER, seal_product

from .gs_streams import frame_products, packets_of, synthetic_frame

SEED = 20261128
CHILD = """
import sys
from ground_station.ingest import ingest_files
ingest_files(sys.argv[1], [sys.argv[2]], chunk_bytes=64 << 10)
"""


def _renumbered(product: bytes, frame_id: int) -> bytes:
    h = PRODUCT_HEADER.unpack(product)
    h["frame_id"] = frame_id
    return seal_product(PRODUCT_HEADER.pack(h) + product[PRODUCT_HEADER.size :])


@pytest.fixture(scope="module")
def big_stream(tmp_path_factory):
    """~16 MB: one frame's products repeated under 700 frame ids."""
    frame = synthetic_frame(SEED, shape=(4, 96, 128))
    products = frame_products(frame, 1)
    pkts: list[bytes] = []
    for fid in range(1000, 1700):
        for p in products:
            pkts += packets_of(_renumbered(p, fid), len(pkts))
    path = tmp_path_factory.mktemp("stream") / "pass.bin"
    path.write_bytes(b"".join(pkts))
    return path


def _kill_when_pack_reaches(db, stream, fraction: float) -> bool:
    """Start an ingest; SIGKILL it once the pack holds ``fraction`` of the stream.

    Returns whether the child was still running when killed.
    """
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(db), str(stream)])
    target = fraction * stream.stat().st_size
    pack = pack_path(db)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if pack.exists() and pack.stat().st_size >= target:
            break
        time.sleep(0.002)
    alive = proc.poll() is None
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return alive


@pytest.mark.slow
def test_kill9_then_rerun_gives_the_uninterrupted_catalogue(big_stream, tmp_path):
    ref = tmp_path / "ref.sqlite"
    ingest_files(ref, [big_stream], chunk_bytes=64 << 10)
    with Catalogue.open(ref) as cat:
        want = cat.dump()
    assert len(want["products"]) == 700 * 5

    db = tmp_path / "c.sqlite"
    killed_mid_run = 0
    for fraction in (0.2, 0.6):
        killed_mid_run += _kill_when_pack_reaches(db, big_stream, fraction)
        # what was committed before the kill is intact and is part of the final result
        with Catalogue.open(db) as cat:
            got = cat.dump()
        assert set(got["segments"]) <= set(want["segments"])
        complete = [p for p in got["products"] if p[15] == "complete"]
        assert set(complete) <= set(want["products"])
        assert 0 < len(got["segments"]) < len(want["segments"])
    assert killed_mid_run == 2, "the ingest finished before it could be killed"

    ingest_files(db, [big_stream], chunk_bytes=64 << 10)
    with Catalogue.open(db) as cat:
        assert cat.dump() == want
        # the pack holds no bytes that no segment points to
        assert (
            os.path.getsize(pack_path(db))
            == cat.pack_bytes()
            == sum(len(s[3]) for s in want["segments"])
        )
