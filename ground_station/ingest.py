"""Ingest: packet streams into the catalogue.

For each chunk of a stream (8 MiB by default), as one SQLite transaction:
deframe (CRC per packet), check the headers, drop duplicates (within the
batch and against the catalogue), drop packets that contradict what the
catalogue knows of their product, append the new segments to the pack,
index them, and decode every product that has just become complete
(libaec for CCSDS 121 streams). Products stay ``incomplete`` with their
missing segments until the rest arrives, in this stream, another stream or
a later pass; segments may arrive in any order and any number of times.

Everything per packet is done on numpy columns of the batch; the Python
loops run per product and per pack range, not per byte.

Library entry points: :func:`ingest_bytes` (one stream held in memory, as
the simulator has it after a pass), :func:`ingest_files` and :func:`ingest_chunks`
(a live input). Streams of the link formats (CADUs, transfer frames, KISS) go
through :mod:`ground_station.receive` first, which hands over whole packets.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from ground_station.catalogue import Catalogue
from ground_station.deframe import Batch, Deframer, DeframeStats
from ground_station.errors import InputFileError
from ground_station.packets import HEADER_BYTES, PacketColumns, check_packets, parse_batch
from ground_station.receive import link_chunks
from triage.contract.codec import decode_product
from triage.contract.enums import IMAGE_PRODUCTS as IMAGE_TYPES
from triage.contract.enums import PRODUCT_BY_APID, PRODUCT_BY_CODE, SEQ_COUNT_MODULO
from triage.contract.errors import ProductError
from triage.contract.frames import DEFAULT_SPACECRAFT_ID
from triage.contract.packets import SECONDARY_HEADER
from triage.contract.records import PRODUCT_HEADER, STORE_ENTRY

CHUNK_BYTES = 8 << 20
"""Bytes read per batch (one transaction each)."""

PRODUCT_FIELDS = tuple(
    f.name
    for f in SECONDARY_HEADER.fields
    if f.name not in {"version", "reserved", "frame_id", "product_id", "segment_index"}
)
"""Secondary-header fields that are the same in every packet of a product."""

# Fields of the product header that must repeat the secondary header's.
_REPEATED = ("frame_id", "product_id", "class_id", "confidence", "time_s", "time_sub")
_REGION = ("region_row0", "region_col0", "region_rows", "region_cols")


@dataclass
class IngestStats:
    """What an ingest did; ``deframe`` holds the byte-level counters."""

    deframe: DeframeStats = field(default_factory=DeframeStats)
    malformed: dict[str, int] = field(default_factory=dict)
    """CRC-valid packets that break a wire-format rule, by rule."""
    duplicates: int = 0
    sequence_gaps: int = 0
    """Breaks in a per-APID packet sequence count within a stream (lost packets, or garbage)."""
    packets_lost_estimate: int = 0
    """Packets the sequence counts say were skipped (forward jumps of less than half the
    14-bit range); an estimate of the link's losses, not used for reassembly."""
    conflicts: int = 0
    """Packets whose product fields contradict earlier packets of the same product."""
    new_segments: int = 0
    new_segment_bytes: int = 0
    products_new: int = 0
    products_completed: int = 0
    products_invalid: int = 0
    invalid_reasons: list[str] = field(default_factory=list)
    batches: int = 0
    elapsed_s: float = 0.0
    input_bytes: int = 0
    """Bytes read from the inputs (whatever their format)."""
    formats: dict[str, str] = field(default_factory=dict)
    """The input format of every stream (``packets``, ``cadu``, ``frames``, ``kiss``)."""
    link: dict = field(default_factory=dict)
    """The link layer's counts over the streams of link formats (LinkStats, added up)."""

    def add_link(self, stats: dict) -> None:
        for k, v in stats.items():
            if isinstance(v, dict):
                into = self.link.setdefault(k, {})
                for a, b in v.items():
                    into[a] = into.get(a, 0) + b
            else:
                self.link[k] = self.link.get(k, 0) + v

    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        d["deframe"] = self.deframe.as_dict()
        d["formats"] = dict(self.formats)
        d["link"] = {k: dict(v) if isinstance(v, dict) else v for k, v in self.link.items()}
        d["malformed"] = dict(self.malformed)
        d["invalid_reasons"] = list(self.invalid_reasons)
        return d

    @property
    def valid_packets(self) -> int:
        return self.deframe.packets - sum(self.malformed.values())


@dataclass
class _State:
    """What the ingest knows of one product while it runs."""

    rowid: int
    meta: np.ndarray  # apid then PRODUCT_FIELDS, as in the catalogue
    segment_count: int
    received: np.ndarray | None  # bool per segment; None once complete or invalid
    n_received: int
    n_bytes: int
    status: str
    touched: bool = False
    batch_fresh: int = 0  # segments new in the current batch
    batch_start: int = 0  # where they start in the batch's payload (contiguous, in order)


class Ingestor:
    """Feeds streams into an open, writable catalogue."""

    def __init__(self, cat: Catalogue) -> None:
        if not cat.writable:
            raise ValueError("the catalogue must be opened for writing")
        self.cat = cat
        self.stats = IngestStats()
        self._states: dict[int, _State] = {}
        self._last_seq: dict[int, int] = {}
        self._frames_seen: set[int] = set()

    # ------------------------------------------------------------ streams

    def ingest_stream(
        self, chunks: Iterable[bytes], progress: Callable[[int], None] | None = None
    ) -> None:
        """One stream (a pass, a file): packets never span two streams."""
        d = Deframer()
        self._last_seq: dict[int, int] = {}
        for chunk in chunks:
            self._process(d.feed(chunk))
            if progress is not None:
                progress(len(chunk))
        self._process(d.finish())
        total, part = self.stats.deframe, d.stats
        for name, value in part.as_dict().items():
            setattr(total, name, getattr(total, name) + value)

    # ------------------------------------------------------------ one batch

    def _process(self, batch: Batch) -> None:
        if len(batch) == 0:
            return
        st = self.stats
        st.batches += 1
        cols = parse_batch(batch)
        self._count_sequence(cols.primary["apid"], cols.primary["seq_count"])
        ok, broken = check_packets(cols)
        for name, n in broken.items():
            st.malformed[name] = st.malformed.get(name, 0) + n
        cols = cols.take(np.flatnonzero(ok))
        if len(cols) == 0:
            return
        sec = cols.secondary
        key = (
            (sec["frame_id"].astype(np.uint64) << np.uint64(32))
            | (sec["product_id"].astype(np.uint64) << np.uint64(16))
            | sec["segment_index"].astype(np.uint64)
        )
        order = np.argsort(key, kind="stable")  # arrival order kept among equal keys
        key = key[order]
        cols = cols.take(order)
        sec = cols.secondary
        pkey = key >> np.uint64(16)
        starts = np.flatnonzero(np.r_[True, pkey[1:] != pkey[:-1]])
        stops = np.r_[starts[1:], len(pkey)]
        meta = np.stack([cols.primary["apid"]] + [sec[name] for name in PRODUCT_FIELDS], axis=1)
        seg_index = sec["segment_index"]
        seg_bytes = cols.segment_bytes
        try:
            with self.cat.transaction() as con:
                self._store(con, cols, meta, seg_index, seg_bytes, starts, stops)
        except BaseException:
            self._states.clear()  # the transaction rolled back: forget what it changed
            self._frames_seen.clear()
            raise

    def _count_sequence(self, apid: np.ndarray, seq: np.ndarray) -> None:
        """Sequence-count breaks per APID, in arrival order (whole packets only)."""
        half = SEQ_COUNT_MODULO // 2
        for a in np.unique(apid).tolist():
            counts = seq[apid == a]
            last = self._last_seq.get(a)
            prev = np.r_[last if last is not None else counts[0] - 1, counts[:-1]]
            step = (counts - prev) % SEQ_COUNT_MODULO
            breaks = step != 1
            self.stats.sequence_gaps += int(np.count_nonzero(breaks))
            forward = breaks & (step < half) & (step > 0)
            self.stats.packets_lost_estimate += int((step[forward] - 1).sum())
            self._last_seq[a] = int(counts[-1])

    def _store(
        self,
        con,
        cols: PacketColumns,
        meta: np.ndarray,
        seg_index: np.ndarray,
        seg_bytes: np.ndarray,
        starts: np.ndarray,
        stops: np.ndarray,
    ) -> None:
        st = self.stats
        sec = cols.secondary
        fresh_all = np.zeros(len(cols), dtype=bool)
        rowid_of_row = np.zeros(len(cols), dtype=np.int64)
        touched: list[_State] = []
        cursor = 0  # bytes of new segments so far: where the next ones start in the payload
        for a, b in zip(starts.tolist(), stops.tolist(), strict=True):
            state = self._state(con, int(sec["frame_id"][a]), int(sec["product_id"][a]), meta[a])
            same = (meta[a:b] == state.meta).all(axis=1)
            st.conflicts += int(np.count_nonzero(~same))
            if state.received is None:
                st.duplicates += int(np.count_nonzero(same))
                continue
            segs = seg_index[a:b]
            # new segments: consistent, not yet received, first copy in this batch
            cand = np.flatnonzero(same & ~state.received[np.where(same, segs, 0)])
            fresh = np.zeros(b - a, dtype=bool)
            fresh[cand[np.unique(segs[cand], return_index=True)[1]]] = True
            st.duplicates += int(np.count_nonzero(same)) - int(np.count_nonzero(fresh))
            if not fresh.any():
                continue
            n_fresh = int(np.count_nonzero(fresh))
            fresh_bytes = int(seg_bytes[a:b][fresh].sum())
            state.received[segs[fresh]] = True
            state.n_received += n_fresh
            state.n_bytes += fresh_bytes
            fresh_all[a:b] = fresh
            rowid_of_row[a:b] = state.rowid
            # one group per product per batch (rows sorted by key): its new segments are
            # contiguous in the payload, in segment order
            state.touched = True
            state.batch_fresh, state.batch_start = n_fresh, cursor
            cursor += fresh_bytes
            touched.append(state)
        new = np.flatnonzero(fresh_all)
        if len(new) == 0:
            return
        # append the new segments to the pack, in key order (products stay contiguous)
        mv = memoryview(cols.buf)
        offs = (cols.offsets[new] + HEADER_BYTES).tolist()
        lens = seg_bytes[new]
        payload = b"".join([mv[o : o + n] for o, n in zip(offs, lens.tolist(), strict=True)])
        base = self.cat.pack_bytes()
        self.cat.append_pack(base, payload)
        pack_off = base + np.cumsum(lens) - lens
        con.executemany(
            "INSERT INTO segments (product, segment, pack_offset, length) VALUES (?, ?, ?, ?)",
            zip(
                rowid_of_row[new].tolist(),
                seg_index[new].tolist(),
                pack_off.tolist(),
                lens.tolist(),
                strict=True,
            ),
        )
        con.execute("UPDATE meta SET value=? WHERE key='pack_bytes'", (base + len(payload),))
        st.new_segments += len(new)
        st.new_segment_bytes += len(payload)
        con.executemany(
            "UPDATE products SET segments_received=?, bytes_received=? WHERE id=?",
            [(s.n_received, s.n_bytes, s.rowid) for s in touched],
        )
        done = []
        for state in touched:
            state.touched = False
            if state.n_received == state.segment_count:
                if state.batch_fresh == state.segment_count:  # all of it came in this batch
                    data = memoryview(payload)[
                        state.batch_start : state.batch_start + state.n_bytes
                    ]
                else:
                    data = self.cat.product_bytes(state.rowid)
                done.append(self._complete(con, state, data))
        con.executemany(
            "UPDATE products SET status=?, reason=?, product_bytes=?, header=? WHERE id=?",
            [d[0] for d in done],
        )
        # a frame is defined by its first pixel product; a class map (whose no-data
        # value is a class code, not a sample) only stands in until one arrives
        rows = [d[1] for d in done if d[1] is not None]
        con.executemany(
            "INSERT OR IGNORE INTO frames VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [r[1] for r in rows if not r[0]],
        )
        con.executemany(
            "INSERT OR REPLACE INTO frames VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [r[1] for r in rows if r[0]],
        )

    # ------------------------------------------------------------ products

    def _state(self, con, frame_id: int, product_id: int, meta_row: np.ndarray) -> _State:
        pk = (frame_id << 16) | product_id
        state = self._states.get(pk)
        if state is not None:
            return state
        cols = ", ".join(("apid", *PRODUCT_FIELDS))
        row = con.execute(
            f"SELECT id, status, segments_received, bytes_received, {cols} FROM products "
            "WHERE frame_id=? AND product_id=?",
            (frame_id, product_id),
        ).fetchone()
        if row is None:
            values = dict(zip(("apid", *PRODUCT_FIELDS), meta_row.tolist(), strict=True))
            ptype = PRODUCT_BY_APID[values["apid"]].name
            names = ["frame_id", "product_id", "product_type", *values]
            cur = con.execute(
                f"INSERT INTO products ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                (frame_id, product_id, ptype, *values.values()),
            )
            self.stats.products_new += 1
            count = values["segment_count"]
            state = _State(
                rowid=int(cur.lastrowid),
                meta=meta_row.copy(),
                segment_count=count,
                received=np.zeros(count, dtype=bool),
                n_received=0,
                n_bytes=0,
                status="incomplete",
            )
        else:
            rowid, status, n_rec, n_bytes, *meta = row
            count = meta[1 + PRODUCT_FIELDS.index("segment_count")]
            received = None
            if status == "incomplete":
                received = np.zeros(count, dtype=bool)
                received[self.cat.received_segments(rowid)] = True
            state = _State(
                rowid=rowid,
                meta=np.asarray(meta, dtype=np.int64),
                segment_count=count,
                received=received,
                n_received=n_rec,
                n_bytes=n_bytes,
                status=status,
            )
        self._states[pk] = state
        return state

    def _complete(self, con, state: _State, data: bytes | memoryview) -> tuple:
        """Decode a product whose segments are all in; (products update row, frames row)."""
        state.received = None
        try:
            product = decode_product(data, pixels=False)
            _check_against_packets(product.header, state.meta)
        except ProductError as exc:
            state.status = "invalid"
            self.stats.products_invalid += 1
            self.stats.invalid_reasons.append(str(exc))
            return ("invalid", str(exc), len(data), None, state.rowid), None
        h = product.header
        state.status = "complete"
        self.stats.products_completed += 1
        frame_row = None
        if product.type_name in IMAGE_TYPES and h["frame_id"] not in self._frames_seen:
            pixels = product.type_name != "CLASS_MAP"
            if pixels:
                self._frames_seen.add(h["frame_id"])  # the first pixel product defines it
            frame_row = (
                pixels,
                (
                    h["frame_id"],
                    h["frame_rows"],
                    h["frame_cols"],
                    h["crs_epsg"],
                    json.dumps(list(h["geotransform"])),
                    h["time_s"],
                    h["time_sub"],
                    h["nodata"],
                ),
            )
        elif product.type_name == "FRAME_SUMMARY":
            con.execute(
                "INSERT OR REPLACE INTO frame_summaries VALUES (?, ?, ?)",
                (h["frame_id"], state.rowid, json.dumps(product.records[0])),
            )
        elif product.type_name == "STORE_DIRECTORY":
            names = [f.name for f in STORE_ENTRY.fields]
            con.executemany(
                f"INSERT INTO directory_entries (directory, position, {', '.join(names)}) "
                f"VALUES ({', '.join('?' * (len(names) + 2))})",
                [
                    (state.rowid, k, *(rec[n] for n in names))
                    for k, rec in enumerate(product.records)
                ],
            )
        header = bytes(data[: PRODUCT_HEADER.size])
        return ("complete", None, len(data), header, state.rowid), frame_row


def _check_against_packets(h: dict, meta: np.ndarray) -> None:
    """The product header must repeat what its packets' secondary headers said."""
    values = dict(zip(("apid", *PRODUCT_FIELDS), meta.tolist(), strict=True))
    if PRODUCT_BY_CODE[h["product_type"]].apid != values["apid"]:
        raise ProductError(
            f"product type {h['product_type']} travelled on APID 0x{values['apid']:03X}"
        )
    for name in _REPEATED[2:] + _REGION:
        if h[name] != values[name]:
            raise ProductError(
                f"product header {name}={h[name]} but its packets say {values[name]}"
            )


# ---------------------------------------------------------------- entry points


def _chunks_of(data: bytes | bytearray | memoryview, size: int) -> Iterable[bytes]:
    mv = memoryview(data)
    for pos in range(0, len(mv), size):
        yield mv[pos : pos + size]


def _file_chunks(path: Path, size: int) -> Iterable[bytes]:
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below, generator
    except FileNotFoundError:
        raise InputFileError(f"stream {path} does not exist") from None
    except IsADirectoryError:
        raise InputFileError(f"stream {path} is a directory, not a file") from None
    except PermissionError:
        raise InputFileError(f"stream {path} is not readable") from None
    with f:
        while chunk := f.read(size):
            yield chunk


def _counted(
    chunks: Iterable[bytes], stats: IngestStats, progress: Callable[[int], None] | None
) -> Iterable[bytes]:
    for chunk in chunks:
        stats.input_bytes += len(chunk)
        if progress is not None:
            progress(len(chunk))
        yield chunk


def _run(
    db: str | os.PathLike,
    streams: Sequence[tuple[str, Callable[[], Iterable[bytes]]]],
    progress: Callable[[int], None] | None,
    input_format: str = "packets",
    spacecraft_id: int = DEFAULT_SPACECRAFT_ID,
) -> IngestStats:
    import time

    t0 = time.perf_counter()
    with Catalogue.open(db, write=True, create=True) as cat:
        started = datetime.now(UTC).isoformat()
        with cat.transaction() as con:
            run_id = con.execute(
                "INSERT INTO ingest_runs (source, started) VALUES (?, ?)",
                (json.dumps([name for name, _ in streams]), started),
            ).lastrowid
        ing = Ingestor(cat)
        for name, chunks in streams:
            fmt, packets, link = link_chunks(
                input_format, _counted(chunks(), ing.stats, progress), spacecraft_id
            )
            ing.stats.formats[name] = fmt
            ing.ingest_stream(packets)
            if link is not None:
                ing.stats.add_link(link.as_dict())
        ing.stats.elapsed_s = time.perf_counter() - t0
        with cat.transaction() as con:
            con.execute(
                "UPDATE ingest_runs SET finished=?, stats=? WHERE id=?",
                (datetime.now(UTC).isoformat(), json.dumps(ing.stats.as_dict()), run_id),
            )
        return ing.stats


def ingest_bytes(
    db: str | os.PathLike,
    data: bytes | bytearray | memoryview,
    *,
    source: str = "<bytes>",
    chunk_bytes: int = CHUNK_BYTES,
    input_format: str = "packets",
    spacecraft_id: int = DEFAULT_SPACECRAFT_ID,
) -> IngestStats:
    """Ingest one stream held in memory (e.g. one pass) into the catalogue ``db``.

    Creates the catalogue if needed. Returns the statistics; never raises for
    bad packets (they are counted), only for an unusable catalogue.
    ``input_format``: see :mod:`ground_station.receive` (``packets`` by default).
    """
    return _run(
        db,
        [(source, lambda: _chunks_of(data, chunk_bytes))],
        None,
        input_format,
        spacecraft_id,
    )


def ingest_chunks(
    db: str | os.PathLike,
    source: str,
    chunks: Iterable[bytes],
    *,
    input_format: str = "packets",
    spacecraft_id: int = DEFAULT_SPACECRAFT_ID,
    progress: Callable[[int], None] | None = None,
) -> IngestStats:
    """Ingest one stream given as chunks as they come (a live input): each chunk's whole
    packets are committed before the next chunk is read."""
    return _run(db, [(source, lambda: chunks)], progress, input_format, spacecraft_id)


def ingest_files(
    db: str | os.PathLike,
    paths: Sequence[str | os.PathLike],
    *,
    chunk_bytes: int = CHUNK_BYTES,
    progress: Callable[[int], None] | None = None,
    input_format: str = "packets",
    spacecraft_id: int = DEFAULT_SPACECRAFT_ID,
) -> IngestStats:
    """Ingest stream files, each an independent stream; ``progress(n)`` per chunk.
    ``input_format``: see :mod:`ground_station.receive` (``packets`` by default)."""
    files = [Path(p) for p in paths]
    for p in files:
        if not p.exists():
            raise InputFileError(f"stream {p} does not exist")
        if p.is_dir():
            raise InputFileError(f"stream {p} is a directory, not a file")
    return _run(
        db,
        [(str(p), lambda p=p: _file_chunks(p, chunk_bytes)) for p in files],
        progress,
        input_format,
        spacecraft_id,
    )
