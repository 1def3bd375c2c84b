"""The catalogue: an SQLite database and, next to it, the segment pack file.

Files (``catalogue.sqlite`` as an example):

- ``catalogue.sqlite`` (+ ``-wal``/``-shm`` while open): products, frames,
  segment index, store directories, frame summaries, ingest runs, uplinks.
  Journal mode WAL; every ingest batch is one transaction.
- ``catalogue.sqlite.segments``: the segment pack, the product bytes as they
  arrived, appended batch after batch. The ``segments`` table maps each
  (product, segment) to its offset and length in the pack.

Why the segment bytes live in a pack file and not in SQLite blobs: measured
on this machine (see the report), inserting 1 KiB blobs in segment order
runs at about 120 MB/s, out of order at 25-70 MB/s (B-tree page splits, and
WAL writes everything twice), while the index rows alone insert at ~275k
rows/s and appending to a file costs a memcpy. The ingest target is
50 MB/s with decoding included, so the blobs would eat most of the budget.
A segment is written once, read when its product completes and at export.

Crash safety (kill -9 at any moment): a batch appends its new segments to
the pack at the offset recorded in the database (``meta.pack_bytes``),
fsyncs the pack, then commits, in one SQLite transaction, the index rows,
the product updates and the new ``pack_bytes``. A crash before the commit
leaves bytes past ``pack_bytes`` that no row points to: the next writer
truncates them. A crash after it loses nothing. Only one ingest may write at
a time (an exclusive lock on ``catalogue.sqlite.lock``); readers (export,
plan, status) read committed state while an ingest runs.

The catalogue is known by its real path: a ``--db`` reached through a symlink
takes the lock, and uses the pack, of the file it points to. Creating a
catalogue is atomic: the database is built under a temporary name beside it
and renamed into place once it and its empty pack are durable, so a kill or a
full disk leaves no catalogue or a whole one. Every open checks the database
(``PRAGMA quick_check``): a damaged one is refused with one error, and nothing
writes into it. A read-only catalogue (file, folder or mount) is read
read-only (immutable when SQLite cannot share its WAL index there); writing
to it is refused. Every SQLite failure surfaces as one
:class:`~ground_station.errors.CatalogueError` that says what is wrong
(damaged, disk full, read-only, busy), from whichever module ran the query.

Schema version 2 adds, per product, what kind of check an invalid product failed
(``failure``: ``crc``, its CRC-32, which fresh copies of its segments can mend;
``decode``, the satellite's own bytes do not decode; ``frame``, it contradicts
its catalogued frame), how many times it was asked for again (``rebuilds``;
``rebuild_next``: where a request the pass budget cut short goes on; ``resent``:
its packets received since it failed) and why the
ground gave it up (``given_up``), and the table ``segment_copies``: other copies
of a segment, kept until the product check proves which is right. A writer
upgrades a version-1 catalogue in place; readers read both.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import numpy as np

from ground_station.errors import CatalogueError
from triage.contract.codec import decode_product, parse_header

APPLICATION_ID = 0x47534354  # "GSCT"
SCHEMA_VERSION = 3

SEGMENT_COPIES_DDL = """
CREATE TABLE IF NOT EXISTS segment_copies (
    product INTEGER NOT NULL REFERENCES products(id),
    segment INTEGER NOT NULL,
    pack_offset INTEGER NOT NULL,
    length INTEGER NOT NULL,
    meta TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS segment_copies_product ON segment_copies (product, segment);
"""
"""Other copies of a segment, kept until the product CRC-32 decides (schema 1 -> 2)."""

MODEL_UPLINKS_DDL = """
CREATE TABLE IF NOT EXISTS model_uplinks (
    id INTEGER PRIMARY KEY,
    created TEXT NOT NULL,
    kind TEXT NOT NULL,
    key_id INTEGER NOT NULL,
    arsn INTEGER NOT NULL,
    model_id INTEGER NOT NULL,
    package_sha256 TEXT,
    model_sha256 TEXT,
    first_seq_count INTEGER NOT NULL,
    packets INTEGER NOT NULL,
    link_bytes INTEGER NOT NULL,
    UNIQUE (key_id, arsn)
);
CREATE VIEW IF NOT EXISTS frame_models AS
    SELECT frame_id,
           json_extract(summary, '$.model_id') AS model_id,
           json_extract(summary, '$.model_sha256') AS model_sha256
    FROM frame_summaries;
"""
"""The model uplink log and the view of which model classified each frame (schema 2 -> 3)."""

SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS products (
    id INTEGER PRIMARY KEY,
    frame_id INTEGER NOT NULL,
    product_id INTEGER NOT NULL,
    apid INTEGER NOT NULL,
    product_type TEXT NOT NULL,
    segment_count INTEGER NOT NULL,
    segments_received INTEGER NOT NULL DEFAULT 0,
    bytes_received INTEGER NOT NULL DEFAULT 0,
    region_row0 INTEGER NOT NULL,
    region_col0 INTEGER NOT NULL,
    region_rows INTEGER NOT NULL,
    region_cols INTEGER NOT NULL,
    class_id INTEGER NOT NULL,
    confidence INTEGER NOT NULL,
    time_s INTEGER NOT NULL,
    time_sub INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'incomplete'
        CHECK (status IN ('incomplete', 'complete', 'invalid')),
    reason TEXT,
    product_bytes INTEGER,
    header BLOB,
    failure TEXT CHECK (failure IN ('crc', 'decode', 'frame')),
    rebuilds INTEGER NOT NULL DEFAULT 0,
    rebuild_next INTEGER NOT NULL DEFAULT 0,
    resent INTEGER NOT NULL DEFAULT 0,
    given_up TEXT,
    UNIQUE (frame_id, product_id)
);
CREATE TABLE IF NOT EXISTS segments (
    product INTEGER NOT NULL REFERENCES products(id),
    segment INTEGER NOT NULL,
    pack_offset INTEGER NOT NULL,
    length INTEGER NOT NULL,
    PRIMARY KEY (product, segment)
) WITHOUT ROWID;
"""
    + SEGMENT_COPIES_DDL
    + """CREATE TABLE IF NOT EXISTS frames (
    frame_id INTEGER PRIMARY KEY,
    frame_rows INTEGER NOT NULL,
    frame_cols INTEGER NOT NULL,
    crs_epsg INTEGER NOT NULL,
    geotransform TEXT NOT NULL,
    time_s INTEGER NOT NULL,
    time_sub INTEGER NOT NULL,
    nodata INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS frame_summaries (
    frame_id INTEGER PRIMARY KEY,
    product INTEGER NOT NULL REFERENCES products(id),
    summary TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS directory_entries (
    directory INTEGER NOT NULL REFERENCES products(id),
    position INTEGER NOT NULL,
    frame_id INTEGER NOT NULL,
    product_id INTEGER NOT NULL,
    product_type INTEGER NOT NULL,
    class_id INTEGER NOT NULL,
    confidence INTEGER NOT NULL,
    flags INTEGER NOT NULL,
    segment_count INTEGER NOT NULL,
    product_bytes INTEGER NOT NULL,
    PRIMARY KEY (directory, position)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ingest_runs (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    started TEXT NOT NULL,
    finished TEXT,
    stats TEXT
);
CREATE TABLE IF NOT EXISTS uplinks (
    id INTEGER PRIMARY KEY,
    created TEXT NOT NULL,
    seq_count INTEGER NOT NULL,
    request BLOB NOT NULL,
    plan TEXT NOT NULL
);
"""
    + MODEL_UPLINKS_DDL
)

SCHEMA_TABLES = (
    "meta",
    "products",
    "segments",
    "segment_copies",
    "frames",
    "frame_summaries",
    "directory_entries",
    "ingest_runs",
    "uplinks",
)
DATA_TABLES = ("products", "segments", "frames", "frame_summaries", "directory_entries")
"""Tables whose content an ingest defines (ingest_runs, uplinks and model_uplinks are logs;
the view frame_models names the model that classified each frame, from its FRAME_SUMMARY)."""

MIGRATIONS = {
    1: """
ALTER TABLE products ADD COLUMN failure TEXT CHECK (failure IN ('crc', 'decode', 'frame'));
ALTER TABLE products ADD COLUMN rebuilds INTEGER NOT NULL DEFAULT 0;
ALTER TABLE products ADD COLUMN rebuild_next INTEGER NOT NULL DEFAULT 0;
ALTER TABLE products ADD COLUMN resent INTEGER NOT NULL DEFAULT 0;
ALTER TABLE products ADD COLUMN given_up TEXT;
"""
    + SEGMENT_COPIES_DDL,
    2: MODEL_UPLINKS_DDL,
}
"""Schema version -> the statements that bring a catalogue of that version to the next."""

READABLE_VERSIONS = (1, 2, SCHEMA_VERSION)
"""Schema versions a reader opens as they are (a writer upgrades them first)."""


def pack_path(db: Path) -> Path:
    return db.with_name(db.name + ".segments")


def lock_path(db: Path) -> Path:
    return db.with_name(db.name + ".lock")


def catalogue_files(db: str | os.PathLike) -> list[Path]:
    """Every file of the catalogue ``db`` (by its real path): the database, its WAL and
    shared-memory files, the segment pack and the lock."""
    real = Path(os.path.realpath(db))
    return [
        real,
        real.with_name(real.name + "-wal"),
        real.with_name(real.name + "-shm"),
        pack_path(real),
        lock_path(real),
    ]


# ---------------------------------------------------------------- SQLite errors


def sqlite_error(path: Path | str, exc: BaseException) -> CatalogueError:
    """The one-line :class:`CatalogueError` for an SQLite (or file system) failure on the
    catalogue ``path``: damaged, full, read-only, busy, or the plain message."""
    msg = str(exc)
    low = msg.lower()
    if (isinstance(exc, OSError) and exc.errno == errno.ENOSPC) or "disk is full" in low:
        return CatalogueError(
            f"catalogue {path}: the disk is full ({msg}); nothing of the batch in progress "
            "was committed: make room and run the command again"
        )
    if "disk i/o error" in low or (
        isinstance(exc, OSError) and exc.errno in (errno.EIO, errno.EFBIG)
    ):
        return CatalogueError(
            f"catalogue {path}: the disk refused a write or a read ({msg}: a full disk or a "
            "failing one); nothing of the batch in progress was committed"
        )
    if (
        "readonly" in low
        or "read-only" in low
        or (
            isinstance(exc, OSError)
            and exc.errno
            in (
                errno.EROFS,
                errno.EACCES,
                errno.EPERM,
            )
        )
    ):
        return CatalogueError(f"catalogue {path} is read-only ({msg}): it can only be read")
    if "locked" in low or "busy" in low:
        return CatalogueError(f"catalogue {path} is locked by another process ({msg})")
    if (
        isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError)
    ) or ("malformed" in low or "not a database" in low or "corrupt" in low):
        return CatalogueError(
            f"catalogue {path} is damaged ({msg}): restore it from a backup, or ingest the "
            "passes again into a new catalogue"
        )
    return CatalogueError(f"catalogue {path}: {msg}")


class _Cursor(sqlite3.Cursor):
    """A cursor whose SQLite errors are :class:`CatalogueError` naming the catalogue."""

    def _fail(self, exc: sqlite3.Error) -> CatalogueError:
        return sqlite_error(self.connection.catalogue_path, exc)

    def execute(self, *args):
        try:
            return super().execute(*args)
        except sqlite3.Error as exc:
            raise self._fail(exc) from None

    def executemany(self, *args):
        try:
            return super().executemany(*args)
        except sqlite3.Error as exc:
            raise self._fail(exc) from None

    def fetchone(self):
        try:
            return super().fetchone()
        except sqlite3.Error as exc:
            raise self._fail(exc) from None

    def fetchmany(self, *args):
        try:
            return super().fetchmany(*args)
        except sqlite3.Error as exc:
            raise self._fail(exc) from None

    def fetchall(self):
        try:
            return super().fetchall()
        except sqlite3.Error as exc:
            raise self._fail(exc) from None

    def __next__(self):
        try:
            return super().__next__()
        except sqlite3.Error as exc:
            raise self._fail(exc) from None


class _Connection(sqlite3.Connection):
    """The catalogue's SQLite connection: every SQLite error becomes one
    :class:`CatalogueError` naming the catalogue and what is wrong (damaged, full,
    read-only), whichever module runs the query."""

    catalogue_path: str = ""

    def cursor(self, factory=_Cursor):
        return super().cursor(factory)

    def execute(self, *args):
        return self.cursor().execute(*args)

    def executemany(self, *args):
        return self.cursor().executemany(*args)

    def executescript(self, *args):
        try:
            return super().executescript(*args)
        except sqlite3.Error as exc:
            raise sqlite_error(self.catalogue_path, exc) from None


def _connect(path: Path, shown: Path, *, uri: str | None = None) -> _Connection:
    try:
        con = sqlite3.connect(
            uri or path,
            isolation_level=None,
            timeout=30.0,
            factory=_Connection,
            uri=uri is not None,
        )
    except sqlite3.Error as exc:
        raise sqlite_error(shown, exc) from None
    con.catalogue_path = str(shown)
    return con


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _is_blank(path: Path) -> bool:
    """An empty file, or an SQLite file whose catalogue creation never finished (a tool
    before creation was atomic, killed half-way): nothing was ever stored in it."""
    if path.stat().st_size == 0:
        return True
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        if con.execute("PRAGMA application_id").fetchone()[0] not in (0, APPLICATION_ID):
            return False
        names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "meta" not in names:
            return not (names - set(SCHEMA_TABLES))
        return con.execute("SELECT count(*) FROM meta WHERE key='pack_bytes'").fetchone()[0] == 0
    except sqlite3.Error:
        return False
    finally:
        con.close()


def _create(path: Path, shown: Path) -> None:
    """Create the catalogue ``path`` at once: the database is built under a temporary name
    beside it (schema, identity, pack length 0), made durable, and renamed over ``path``
    once the empty segment pack exists; a kill or a full disk at any moment leaves either
    no catalogue or a whole one. The caller holds the writer lock."""
    pack = pack_path(path)
    if pack.exists() and pack.stat().st_size > 0:
        raise CatalogueError(
            f"segment pack {pack} exists without its catalogue {shown}: it holds another "
            "catalogue's data; move it away first"
        )
    tmp = path.with_name(f".{path.name}.creating-{os.getpid()}")
    for f in (tmp, tmp.with_name(tmp.name + "-wal"), tmp.with_name(tmp.name + "-shm")):
        f.unlink(missing_ok=True)
    try:
        con = _connect(tmp, shown)
        try:
            con.execute("PRAGMA journal_mode=WAL")
            con.executescript(
                f"BEGIN; {SCHEMA}; PRAGMA application_id={APPLICATION_ID}; "
                f"PRAGMA user_version={SCHEMA_VERSION}; "
                "INSERT INTO meta VALUES ('pack_bytes', 0); COMMIT;"
            )
        finally:
            con.close()
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        fd = os.open(pack, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except OSError as exc:
        raise sqlite_error(shown, exc) from None
    finally:
        for f in (tmp, tmp.with_name(tmp.name + "-wal"), tmp.with_name(tmp.name + "-shm")):
            f.unlink(missing_ok=True)


def _lock(real: Path, shown: Path) -> int:
    """The writer lock (``<db>.lock`` beside the real file), or :class:`CatalogueError`
    when another writer holds it."""
    try:
        fd = os.open(lock_path(real), os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise sqlite_error(shown, exc) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise CatalogueError(
            f"catalogue {shown} is busy: another ingest is writing to it"
        ) from None
    return fd


def _rollback(con: sqlite3.Connection) -> None:
    """Roll back the open transaction; a failure here (the disk that failed the
    transaction) is not the error to report: SQLite rolls back on its own at the next
    open."""
    with suppress(sqlite3.Error, CatalogueError):
        con.execute("ROLLBACK")


@dataclass
class Catalogue:
    """An open catalogue: the SQLite connection and the pack file."""

    path: Path
    con: sqlite3.Connection
    pack_fd: int
    writable: bool
    _lock_fd: int | None = None

    # ------------------------------------------------------------ lifecycle

    @classmethod
    def open(
        cls, path: str | os.PathLike, *, write: bool = False, create: bool = False
    ) -> Catalogue:
        """Open (or with ``create``, create) a catalogue; ``write`` takes the writer lock.

        The catalogue is known by its real path (a symlink to it shares its lock and
        pack). Every failure is a :class:`CatalogueError` that says what is wrong: missing,
        not a regular file, not a catalogue, damaged (``PRAGMA quick_check``), read-only
        (a reader still reads it), busy, or a full disk.
        """
        shown = Path(path)
        real = Path(os.path.realpath(shown))
        if real.exists() and not real.is_file():
            what = "a folder" if real.is_dir() else "not a regular file"
            raise CatalogueError(f"catalogue {shown} is {what}: a catalogue is a regular file")
        if create and not write:
            raise ValueError("create needs write")
        lock_fd = None
        try:
            if write:
                if create and not real.exists():
                    try:
                        real.parent.mkdir(parents=True, exist_ok=True)
                    except OSError as exc:
                        raise sqlite_error(shown, exc) from None
                folder_ok = os.access(real.parent, os.W_OK | os.X_OK)
                if not folder_ok or (real.exists() and not os.access(real, os.W_OK)):
                    raise CatalogueError(
                        f"catalogue {shown} is read-only: it can be read (status, export, "
                        "plan without --request-out) but not written"
                    )
                lock_fd = _lock(real, shown)
            if not real.exists() or (write and create and _is_blank(real)):
                if not create:
                    raise CatalogueError(f"catalogue {shown} does not exist")
                _create(real, shown)
            elif _is_blank(real):
                raise CatalogueError(
                    f"{shown} holds no catalogue (an empty file, or a creation that was "
                    "interrupted): ingest a pass into it to create one"
                )
            con = cls._connect(real, shown, write)
            try:
                cls._check(con, shown, write)
                pack_fd = cls._open_pack(real, shown, write)
            except BaseException:
                con.close()
                raise
            cat = cls(path=real, con=con, pack_fd=pack_fd, writable=write, _lock_fd=lock_fd)
            if write:
                cat._repair_pack()
            return cat
        except BaseException:
            if lock_fd is not None:
                os.close(lock_fd)
            raise

    @staticmethod
    def _connect(real: Path, shown: Path, write: bool) -> _Connection:
        """The connection: read-write, or for a reader of a read-only catalogue (a
        read-only file, folder or mount) read-only, then immutable when SQLite cannot even
        share its WAL index there (nothing can be writing it)."""
        with open(real, "rb") as f:
            if f.read(16) != b"SQLite format 3\0":
                raise CatalogueError(
                    f"{shown} is not a ground-station catalogue (not an SQLite database)"
                )
        if write or (os.access(real, os.W_OK) and os.access(real.parent, os.W_OK | os.X_OK)):
            con = _connect(real, shown)
            if write:
                con.execute("PRAGMA journal_mode=WAL")
                con.execute("PRAGMA synchronous=NORMAL")
            return con
        name = quote(str(real))
        con = _connect(real, shown, uri=f"file:{name}?mode=ro")
        try:
            con.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return con
        except CatalogueError:
            con.close()
        wal = real.with_name(real.name + "-wal")
        if wal.exists() and wal.stat().st_size > 0:
            raise CatalogueError(
                f"catalogue {shown} is read-only and its write-ahead log {wal.name} holds "
                "transactions not yet merged into it: open it once where it can be written "
                "(any command) to merge them"
            )
        return _connect(real, shown, uri=f"file:{name}?mode=ro&immutable=1")

    @staticmethod
    def _check(con: _Connection, shown: Path, write: bool) -> None:
        """Identity, schema version (a writer upgrades an older one), integrity."""
        app_id = con.execute("PRAGMA application_id").fetchone()[0]
        if app_id != APPLICATION_ID:
            raise CatalogueError(
                f"{shown} is an SQLite database but not a ground-station catalogue"
            )
        version = con.execute("PRAGMA user_version").fetchone()[0]
        if version not in READABLE_VERSIONS:
            raise CatalogueError(
                f"{shown}: catalogue schema {version}, this tool reads "
                f"{', '.join(map(str, READABLE_VERSIONS))}"
            )
        problems = [r[0] for r in con.execute("PRAGMA quick_check(3)").fetchall()]
        if problems != ["ok"]:
            raise CatalogueError(
                f"catalogue {shown} is damaged ({'; '.join(problems)}): restore it from a "
                "backup, or ingest the passes again into a new catalogue"
            )
        if con.execute("SELECT value FROM meta WHERE key='pack_bytes'").fetchone() is None:
            raise CatalogueError(
                f"catalogue {shown} is damaged (no segment pack length): restore it from a "
                "backup, or ingest the passes again into a new catalogue"
            )
        if write:
            while version < SCHEMA_VERSION:
                con.execute("BEGIN IMMEDIATE")
                try:
                    con.executescript(MIGRATIONS[version])
                    con.execute(f"PRAGMA user_version={version + 1}")
                except BaseException:
                    _rollback(con)
                    raise
                con.execute("COMMIT")
                version += 1

    @staticmethod
    def _open_pack(real: Path, shown: Path, write: bool) -> int:
        try:
            return os.open(pack_path(real), os.O_RDWR if write else os.O_RDONLY)
        except FileNotFoundError:
            raise CatalogueError(
                f"segment pack {pack_path(shown)} of catalogue {shown} is missing"
            ) from None
        except OSError as exc:
            raise sqlite_error(shown, exc) from None

    def close(self) -> None:
        self.con.close()
        os.close(self.pack_fd)
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> Catalogue:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _repair_pack(self) -> None:
        """Drop pack bytes past the last commit (a batch killed before its commit)."""
        committed = self.pack_bytes()
        size = os.fstat(self.pack_fd).st_size
        if size < committed:
            raise CatalogueError(
                f"segment pack {pack_path(self.path)} holds {size} bytes but the catalogue "
                f"committed {committed}: it was truncated or replaced"
            )
        if size > committed:
            try:
                os.ftruncate(self.pack_fd, committed)
            except OSError as exc:
                raise sqlite_error(self.path, exc) from None

    # ------------------------------------------------------------ transactions

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.con.execute("BEGIN IMMEDIATE")
        try:
            yield self.con
        except BaseException:
            _rollback(self.con)
            raise
        self.con.execute("COMMIT")

    def pack_bytes(self) -> int:
        return int(self.con.execute("SELECT value FROM meta WHERE key='pack_bytes'").fetchone()[0])

    def append_pack(self, offset: int, data: bytes) -> None:
        """Write ``data`` at ``offset`` of the pack and make it durable (before the commit)."""
        view = memoryview(data)
        try:
            while view:
                n = os.pwrite(self.pack_fd, view, offset)
                view = view[n:]
                offset += n
            os.fdatasync(self.pack_fd)
        except OSError as exc:
            raise sqlite_error(self.path, exc) from None

    def read_pack(self, offsets: np.ndarray, lengths: np.ndarray) -> bytes:
        """The bytes of the given pack ranges, in order (adjacent ranges read at once)."""
        if len(offsets) == 0:
            return b""
        ends = offsets + lengths
        breaks = (np.flatnonzero(offsets[1:] != ends[:-1]) + 1).tolist()
        parts = []
        for a, b in zip([0, *breaks], [*breaks, len(offsets)], strict=True):
            off = int(offsets[a])
            size = int(ends[b - 1]) - off
            got = os.pread(self.pack_fd, size, off)
            if len(got) != size:
                raise CatalogueError(f"segment pack is short at offset {off}")
            parts.append(got)
        return b"".join(parts)

    # ------------------------------------------------------------ queries

    def product_bytes(self, product_rowid: int) -> bytes:
        """The reassembled bytes of a product (its segments, in order)."""
        rows = self.con.execute(
            "SELECT pack_offset, length FROM segments WHERE product=? ORDER BY segment",
            (product_rowid,),
        ).fetchall()
        arr = np.asarray(rows, dtype=np.int64).reshape(-1, 2)
        return self.read_pack(arr[:, 0], arr[:, 1])

    def products_bytes(self, product_rowids: list[int]) -> dict[int, bytes]:
        """:meth:`product_bytes` of several products, with one query for their segments."""
        if not product_rowids:
            return {}
        rows = self.con.execute(
            "SELECT s.product, s.pack_offset, s.length FROM json_each(?) AS j "
            "JOIN segments AS s ON s.product = j.value ORDER BY s.product, s.segment",
            (json.dumps(product_rowids),),
        ).fetchall()
        arr = np.asarray(rows, dtype=np.int64).reshape(-1, 3)
        starts = np.flatnonzero(np.r_[True, arr[1:, 0] != arr[:-1, 0]]) if len(arr) else []
        stops = [*starts[1:], len(arr)]
        out = {rowid: b"" for rowid in product_rowids}
        for a, b in zip(starts, stops, strict=True):
            out[int(arr[a, 0])] = self.read_pack(arr[a:b, 1], arr[a:b, 2])
        return out

    def product_rows(self, where: str = "1", params: tuple = ()) -> list[dict]:
        """Rows of the products table as dicts (``header`` parsed), by frame and product id."""

        cur = self.con.execute(
            f"SELECT * FROM products WHERE {where} ORDER BY frame_id, product_id", params
        )
        names = [d[0] for d in cur.description]
        out = []
        for row in cur.fetchall():
            d = dict(zip(names, row, strict=True))
            d["header"] = parse_header(d["header"]) if d["header"] else None
            out.append(d)
        return out

    def load_product(self, frame_id: int, product_id: int):
        """A complete product, decoded (:class:`ground_station.products.Product`)."""

        row = self.con.execute(
            "SELECT id, status FROM products WHERE frame_id=? AND product_id=?",
            (frame_id, product_id),
        ).fetchone()
        if row is None:
            raise CatalogueError(f"no product {frame_id}/{product_id} in the catalogue")
        if row[1] != "complete":
            raise CatalogueError(f"product {frame_id}/{product_id} is {row[1]}")
        return decode_product(self.product_bytes(row[0]))

    def received_segments(self, product_rowid: int) -> np.ndarray:
        rows = self.con.execute(
            "SELECT segment FROM segments WHERE product=? ORDER BY segment", (product_rowid,)
        ).fetchall()
        return np.asarray([r[0] for r in rows], dtype=np.int64)

    def missing_ranges(self, product_rowid: int, segment_count: int) -> list[tuple[int, int]]:
        """Missing segments as inclusive (first, last) ranges."""
        have = np.zeros(segment_count, dtype=bool)
        have[self.received_segments(product_rowid)] = True
        return ranges_of(np.flatnonzero(~have))

    def latest_directory(self) -> tuple[dict, list[dict]] | None:
        """The most recent complete STORE_DIRECTORY product and its entries: the latest
        boot's (``frame_id`` - DIRECTORY_FRAME_ID), then the latest time and count. A
        directory's time is that of the last frame processed, 0 after a reset until the
        next frame: the boot count orders across resets, not the time."""
        row = self.con.execute(
            "SELECT id, product_id, time_s, time_sub FROM products "
            "WHERE product_type='STORE_DIRECTORY' AND status='complete' "
            "ORDER BY frame_id DESC, time_s DESC, time_sub DESC, product_id DESC, id DESC "
            "LIMIT 1"
        ).fetchone()
        if row is None:
            return None
        cur = self.con.execute(
            "SELECT frame_id, product_id, product_type, class_id, confidence, flags, "
            "segment_count, product_bytes FROM directory_entries WHERE directory=? "
            "ORDER BY position",
            (row[0],),
        )
        names = [d[0] for d in cur.description]
        entries = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        return {"id": row[0], "product_id": row[1], "time_s": row[2], "time_sub": row[3]}, entries

    def frame(self, frame_id: int) -> dict | None:
        cur = self.con.execute("SELECT * FROM frames WHERE frame_id=?", (frame_id,))
        row = cur.fetchone()
        if row is None:
            return None
        out = dict(zip([d[0] for d in cur.description], row, strict=True))
        out["geotransform"] = tuple(json.loads(out["geotransform"]))
        return out

    def dump(self) -> dict[str, list[tuple]]:
        """The catalogue's content, independent of arrival order (for comparisons).

        Row ids and pack offsets are left out (they depend on the order
        segments arrived in); segments are given with their bytes.
        """
        q = {
            "products": "SELECT frame_id, product_id, apid, product_type, segment_count, "
            "segments_received, bytes_received, region_row0, region_col0, region_rows, "
            "region_cols, class_id, confidence, time_s, time_sub, status, reason, "
            "product_bytes, header FROM products",
            "frames": "SELECT * FROM frames",
            "frame_summaries": "SELECT frame_id, summary FROM frame_summaries",
            "directory_entries": "SELECT p.frame_id, p.product_id, d.position, d.frame_id, "
            "d.product_id, d.product_type, d.class_id, d.confidence, d.flags, "
            "d.segment_count, d.product_bytes FROM directory_entries d "
            "JOIN products p ON p.id = d.directory",
        }
        out = {name: sorted(self.con.execute(sql).fetchall()) for name, sql in q.items()}
        seg = self.con.execute(
            "SELECT p.frame_id, p.product_id, s.segment, s.pack_offset, s.length "
            "FROM segments s JOIN products p ON p.id = s.product"
        ).fetchall()
        out["segments"] = sorted(
            (f, p, s, os.pread(self.pack_fd, n, off)) for f, p, s, off, n in seg
        )
        return out


def ranges_of(indices: np.ndarray) -> list[tuple[int, int]]:
    """Sorted integer indices as inclusive (first, last) runs."""
    if len(indices) == 0:
        return []
    idx = np.asarray(indices, dtype=np.int64)
    breaks = np.flatnonzero(np.diff(idx) != 1) + 1
    firsts = idx[np.r_[0, breaks]]
    lasts = idx[np.r_[breaks - 1, len(idx) - 1]]
    return list(zip(firsts.tolist(), lasts.tolist(), strict=True))
