"""The catalogue's files under adverse conditions, through the command line an operator uses:
creation interrupted (a full disk, kill -9), a catalogue reached through a symlink, a
damaged database page, a disk filling up inside the database, a read-only catalogue, a
--db that is not a regular file.

Each case ends in one of two ways only: the command works, or it prints one line
(``groundstation: error: ...``) and exits non-zero; never a traceback, never exit 0 on a
damaged file, and nothing committed is lost.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from ground_station.catalogue import Catalogue, lock_path, pack_path
from ground_station.errors import EXIT_CATALOGUE, CatalogueError
from ground_station.ingest import ingest_bytes
from triage.contract.packets import split_packets

from .cli_proc import groundstation, read_only_supported
from .gs_streams import directory_product, frame_products, stream_of, synthetic_frame

SEED = 20261206
ISS_TLE = """ISS (ZARYA)
1 25544U 98067A   14020.93268519  .00009878  00000-0  18200-3 0  5082
2 25544  51.6498 109.4756 0003572  55.9686 274.8005 15.49815350868473
"""


@pytest.fixture(scope="module")
def stream(tmp_path_factory):
    """Three frames' products and a store directory, as one pass file."""
    products = [p for fid in (1, 2, 3) for p in frame_products(synthetic_frame(SEED + fid), fid)]
    folder = tmp_path_factory.mktemp("stream")
    path = folder / "pass.bin"
    path.write_bytes(b"".join(stream_of([directory_product([], 1, 1_772_000_000), *products])))
    (folder / "tle.txt").write_text(ISS_TLE)
    return path


def _plan_args(stream, db) -> list:
    return [
        "plan",
        "--db",
        db,
        "--tle",
        stream.parent / "tle.txt",
        "--station",
        "zurich=47.37,8.54,408",
        "--rate-bps",
        "2000000",
        "--start",
        "2014-01-21T00:00Z",
        "--end",
        "2014-01-21T09:00Z",
    ]


def _products(db) -> dict:
    with Catalogue.open(db) as cat:
        return {(r["frame_id"], r["product_id"]): r["status"] for r in cat.product_rows()}


@pytest.fixture(scope="module")
def reference(stream, tmp_path_factory):
    db = tmp_path_factory.mktemp("ref") / "c.sqlite"
    ingest_bytes(db, stream.read_bytes())
    with Catalogue.open(db) as cat:
        return cat.dump()


# ---------------------------------------------------------------- creation


@pytest.mark.parametrize("limit", [0, 4096, 8192, 16384, 32768, 65536])
def test_a_full_disk_while_the_catalogue_is_created_leaves_nothing_unusable(
    stream, reference, tmp_path, limit
):
    """The first ingest runs out of disk (a file-size limit) somewhere in creating the
    catalogue or storing the pass: one error line; then, with room again, the same ingest
    gives exactly the catalogue of an ingest that never failed."""
    db = tmp_path / "c.sqlite"
    r = groundstation("ingest", stream, "--db", db, fsize=limit)
    assert r.code != 0 and r.one_error_line, r.err
    r = groundstation("status", "--db", db)
    assert r.code == 0 or (r.code == EXIT_CATALOGUE and "does not exist" in r.err), r.err
    r = groundstation("ingest", stream, "--db", db)
    assert r.code == 0, r.err
    with Catalogue.open(db) as cat:
        assert cat.dump() == reference


CREATE = """
import sys
from ground_station.catalogue import Catalogue
print("go", flush=True)
Catalogue.open(sys.argv[1], write=True, create=True).close()
print("done", flush=True)
"""


def _creation(db):
    return subprocess.Popen(
        [sys.executable, "-c", CREATE, str(db)], stdout=subprocess.PIPE, text=True
    )


@pytest.mark.slow
def test_kill9_while_the_catalogue_is_created(stream, reference, tmp_path):
    """kill -9 at moments spread over the creation (its duration measured first): the
    path then holds no catalogue or a whole one, and an ingest into it gives the
    reference catalogue."""
    proc = _creation(tmp_path / "timed.sqlite")
    assert proc.stdout.readline().strip() == "go"
    t0 = time.perf_counter()
    assert proc.stdout.readline().strip() == "done"
    duration = time.perf_counter() - t0
    proc.wait()
    outcomes = set()
    n = 24
    # spread over 1.5 times the measured creation; on a loaded machine a creation can take
    # longer than the one measured, so up to 8 later kills, each twice as late, follow
    # until one lands after the catalogue exists
    delays = [1.5 * duration * k / n for k in range(n)]
    delays += [1.5 * duration * 2**j for j in range(1, 9)]
    for k, delay in enumerate(delays):
        if k >= n and True in outcomes:
            break
        db = tmp_path / f"c{k}.sqlite"
        proc = _creation(db)
        assert proc.stdout.readline().strip() == "go"
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        outcomes.add(db.exists())
        r = groundstation("ingest", stream, "--db", db)
        assert r.code == 0, f"kill after {delay * 1e3:.1f} ms: {r.err}"
        with Catalogue.open(db) as cat:
            assert cat.dump() == reference
    assert outcomes == {False, True}, "no kill landed during the creation"


# ---------------------------------------------------------------- one lock per real file


def test_a_catalogue_through_a_symlink_is_locked_by_its_real_path(stream, tmp_path):
    real = tmp_path / "real" / "c.sqlite"
    real.parent.mkdir()
    ingest_bytes(real, b"")
    link = tmp_path / "link.sqlite"
    link.symlink_to(real)
    with Catalogue.open(real, write=True), pytest.raises(CatalogueError, match="busy"):
        Catalogue.open(link, write=True)
    with Catalogue.open(link, write=True), pytest.raises(CatalogueError, match="busy"):
        Catalogue.open(real, write=True)
    ingest_bytes(link, stream.read_bytes())
    assert not pack_path(link).exists() and not lock_path(link).exists()
    assert set(_products(real).values()) == {"complete"}


# ---------------------------------------------------------------- damaged database


def _damage(db, page: int) -> None:
    """Overwrite database page ``page`` (1-based) with a pattern: a bad sector."""
    with Catalogue.open(db) as cat:
        size = cat.con.execute("PRAGMA page_size").fetchone()[0]
    with open(db, "r+b") as f:
        f.seek((page - 1) * size + 100 * (page == 1))
        f.write(bytes([0xA5, 0x5A]) * (size // 2 - 50 * (page == 1)))


@pytest.mark.parametrize("page", [2, 3, 5, 8])
def test_a_damaged_database_page_gives_one_error_on_every_command(
    stream, tmp_path, reference, page
):
    db = tmp_path / "c.sqlite"
    ingest_bytes(db, stream.read_bytes())
    _damage(db, page)
    before = db.read_bytes()
    for args in (
        ["status", "--db", db],
        ["export", "--db", db, "--out", tmp_path / "out"],
        _plan_args(stream, db),
        [*_plan_args(stream, db), "--request-out", tmp_path / "req.bin"],
        ["ingest", stream, "--db", db],
    ):
        r = groundstation(*args)
        assert r.code == EXIT_CATALOGUE and r.one_error_line, (args[0], r.code, r.err)
        assert "damaged" in r.err, r.err
    assert db.read_bytes() == before  # nothing wrote into the damaged file


def test_a_disk_filling_up_inside_the_database(stream, tmp_path, reference):
    """A second pass runs out of room while the database grows: one error line, and the
    first pass is intact; with room again the second pass completes the catalogue."""
    data = stream.read_bytes()
    pkts = split_packets(data)
    cut = sum(len(p) for p in pkts[: len(pkts) // 3])  # at a packet boundary
    db = tmp_path / "c.sqlite"
    (tmp_path / "first.bin").write_bytes(data[:cut])
    (tmp_path / "second.bin").write_bytes(data[cut:])
    ingest_bytes(db, data[:cut])
    with Catalogue.open(db) as cat:
        first = cat.dump()
    limit = os.path.getsize(db) + 2048
    assert os.path.getsize(pack_path(db)) + len(data) - cut < limit + 64 * 1024
    r = groundstation("ingest", tmp_path / "second.bin", "--db", db, fsize=limit)
    assert r.code != 0 and r.one_error_line, r.err
    assert "disk" in r.err, r.err
    with Catalogue.open(db) as cat:  # the batches committed before the disk filled up
        got = cat.dump()
    assert set(first["segments"]) <= set(got["segments"]) <= set(reference["segments"])
    complete = {p for p in got["products"] if p[15] == "complete"}
    assert complete <= set(reference["products"])
    r = groundstation("ingest", tmp_path / "second.bin", "--db", db)
    assert r.code == 0, r.err
    with Catalogue.open(db) as cat:
        assert cat.dump() == reference


# ---------------------------------------------------------------- read-only, not a file


def test_a_read_only_catalogue_can_be_read_by_status_and_export(stream, tmp_path):
    why = read_only_supported()
    if why:
        pytest.skip(why)
    db = tmp_path / "cat" / "c.sqlite"
    db.parent.mkdir()
    ingest_bytes(db, stream.read_bytes())
    ro = db.parent
    r = groundstation("status", "--db", db, "--json", read_only=ro)
    assert r.code == 0, r.err
    assert json.loads(r.out)["products"]["complete"] == 16  # 15 and the store directory
    r = groundstation("export", "--db", db, "--out", tmp_path / "out", read_only=ro)
    assert r.code == 0, r.err
    assert len(list((tmp_path / "out" / "crops").glob("*.tif"))) == 9
    for args in (
        ["ingest", stream, "--db", db],
        [*_plan_args(stream, db), "--request-out", tmp_path / "r.bin"],
    ):
        r = groundstation(*args, read_only=ro)
        assert r.code == EXIT_CATALOGUE and r.one_error_line, r.err
        assert "read-only" in r.err


@pytest.mark.parametrize("target", ["/dev/null", "fifo", "folder"])
def test_a_db_that_is_not_a_regular_file_is_refused(stream, tmp_path, target):
    if target == "fifo":
        db = tmp_path / "fifo"
        os.mkfifo(db)
    elif target == "folder":
        db = tmp_path / "folder.sqlite"
        db.mkdir()
    else:
        db = target
    for args in (["ingest", stream, "--db", db], ["status", "--db", db]):
        r = groundstation(*args, timeout=60)
        if target == "folder":  # the option refuses a folder: a usage error
            assert r.code == 2 and "is a directory" in r.err and "Traceback" not in r.err
        else:
            assert r.code == EXIT_CATALOGUE and r.one_error_line, r.err
            assert "not a regular file" in r.err
