"""``plan --request-out`` writes the DOWNLINK_REQUEST where it is told, and nowhere it should
not: never over the catalogue (or its pack, WAL or lock, or through a symlink to them),
another SQLite database, a FIFO or a device, nor over an existing file without
``--overwrite``. A refusal is one line and a non-zero exit, and nothing is logged in the
catalogue for a request that was not written."""

from __future__ import annotations

import os
import stat

import pytest

from ground_station.catalogue import Catalogue, pack_path
from ground_station.ingest import ingest_bytes
from triage.contract.packets import decode_request

from .cli_proc import groundstation
from .gs_streams import directory_product, frame_products, stream_of, synthetic_frame

SEED = 20261207
ISS_TLE = """ISS (ZARYA)
1 25544U 98067A   14020.93268519  .00009878  00000-0  18200-3 0  5082
2 25544  51.6498 109.4756 0003572  55.9686 274.8005 15.49815350868473
"""


@pytest.fixture
def cat(tmp_path):
    db = tmp_path / "c.sqlite"
    products = frame_products(synthetic_frame(SEED), 4)
    ingest_bytes(db, b"".join(stream_of([directory_product([], 1, 1_772_000_000), *products])))
    (tmp_path / "tle.txt").write_text(ISS_TLE)
    return db


def plan(db, out, *extra):
    return groundstation(
        "plan",
        "--db",
        db,
        "--tle",
        db.parent / "tle.txt",
        "--station",
        "zurich=47.37,8.54,408",
        "--rate-bps",
        "2000000",
        "--start",
        "2014-01-21T00:00Z",
        "--end",
        "2014-01-21T09:00Z",
        "--request-out",
        out,
        *extra,
    )


def uplinks(db) -> int:
    with Catalogue.open(db) as c:
        return c.con.execute("SELECT count(*) FROM uplinks").fetchone()[0]


def _device(path) -> None:
    """A character device like /dev/null (mknod: root only)."""
    os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))


@pytest.mark.parametrize("target", ["db", "pack", "wal", "symlink", "sqlite", "fifo", "device"])
def test_request_out_refuses_what_it_must_not_replace(cat, tmp_path, target):
    db = cat
    if target == "db":
        out = db
    elif target == "pack":
        out = pack_path(db)
    elif target == "wal":
        out = db.with_name(db.name + "-wal")
    elif target == "symlink":
        out = tmp_path / "request.bin"
        out.symlink_to(db)
    elif target == "sqlite":  # another catalogue
        out = tmp_path / "other.sqlite"
        ingest_bytes(out, b"")
    elif target == "fifo":
        out = tmp_path / "fifo"
        os.mkfifo(out)
    else:
        if os.geteuid() != 0:
            pytest.skip("making a device node needs root")
        out = tmp_path / "null"
        _device(out)
    before = {p: p.read_bytes() for p in (db, pack_path(db)) if p.exists()}

    def kind():
        return os.lstat(out).st_mode if os.path.lexists(out) else None

    was = kind()
    for extra in ((), ("--overwrite",)):
        r = plan(db, out, *extra)
        assert r.code != 0 and r.one_error_line, r.err
        assert "--request-out" in r.err
    assert {p: p.read_bytes() for p in before} == before
    assert kind() == was  # still what it was: nothing replaced it
    assert uplinks(db) == 0


def test_request_out_needs_overwrite_to_replace_a_file(cat, tmp_path):
    out = tmp_path / "request.bin"
    out.write_bytes(b"an earlier request")
    r = plan(cat, out)
    assert r.code == 1 and r.one_error_line and "--overwrite" in r.err
    assert out.read_bytes() == b"an earlier request" and uplinks(cat) == 0
    r = plan(cat, out, "--overwrite")
    assert r.code == 0, r.err
    seq, _ = decode_request(out.read_bytes())
    assert seq == 0 and uplinks(cat) == 1
    new = tmp_path / "next.bin"
    assert plan(cat, new).code == 0
    assert decode_request(new.read_bytes())[0] == 1 and uplinks(cat) == 2
    assert sorted(p.name for p in tmp_path.iterdir() if "part" in p.name) == []


def test_request_out_into_a_missing_folder_logs_nothing(cat, tmp_path):
    r = plan(cat, tmp_path / "no" / "such" / "request.bin")
    assert r.code == 1 and r.one_error_line, r.err
    assert uplinks(cat) == 0
