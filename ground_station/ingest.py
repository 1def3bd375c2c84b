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
loops run per product and per pack range, not per byte. The statements are per
batch, not per product: one query for which of its products the catalogue
holds, one statement for the rows of the new ones (written at the batch's end,
as they stand), one for the segment rows, one for the other products it
completed.

Library entry points: :func:`ingest_bytes` (one stream held in memory, as
the simulator has it after a pass), :func:`ingest_files` and :func:`ingest_chunks`
(a live input). Streams of the link formats (CADUs, transfer frames, KISS) go
through :mod:`ground_station.receive` first, which hands over whole packets.
"""

from __future__ import annotations

import itertools
import json
import math
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from ground_station.catalogue import Catalogue
from ground_station.deframe import Batch, Deframer, DeframeStats
from ground_station.errors import InputFileError
from ground_station.packets import (
    HEADER_BYTES,
    PacketColumns,
    check_packets,
    gather,
    parse_batch,
)
from ground_station.products import frame_mismatch
from ground_station.receive import link_chunks
from triage.contract.codec import Product, decode_product
from triage.contract.enums import IMAGE_PRODUCTS as IMAGE_TYPES
from triage.contract.enums import PRODUCT_BY_APID, PRODUCT_BY_CODE, SEQ_COUNT_MODULO
from triage.contract.errors import ProductError
from triage.contract.frames import DEFAULT_SPACECRAFT_ID
from triage.contract.packets import MAX_SEGMENT_BYTES, PACKET_OVERHEAD, SECONDARY_HEADER
from triage.contract.records import (
    PRODUCT_CRC_OFFSET,
    PRODUCT_HEADER,
    STORE_ENTRY,
    product_crc32,
)

CHUNK_BYTES = 8 << 20
"""Bytes read per batch (one transaction each)."""
MAX_COPIES = 4
"""Distinct copies of one segment a product not yet proven keeps (its first included)."""
MAX_COMBINATIONS = 256
"""Combinations of segment copies checked in full when a product is resolved."""

PRODUCT_FIELDS = tuple(
    f.name
    for f in SECONDARY_HEADER.fields
    if f.name
    not in {"version", "reserved", "frame_id", "product_id", "segment_index", "spacecraft_id"}
)
"""Secondary-header fields that are the same in every packet of a product (the spacecraft
id too, but only this spacecraft's packets get this far)."""

_SEGMENT_COUNT = PRODUCT_FIELDS.index("segment_count")

# Fields of the product header that must repeat the secondary header's.
_REPEATED = ("frame_id", "product_id", "class_id", "confidence", "time_s", "time_sub")
_REGION = ("region_row0", "region_col0", "region_rows", "region_cols")
_CHECKED = tuple((name, 1 + PRODUCT_FIELDS.index(name)) for name in _REPEATED[2:] + _REGION)
"""The fields :func:`_check_against_packets` compares, with their column in a product's
fields (APID first, then PRODUCT_FIELDS)."""


@dataclass
class IngestStats:
    """What an ingest did; ``deframe`` holds the byte-level counters."""

    deframe: DeframeStats = field(default_factory=DeframeStats)
    malformed: dict[str, int] = field(default_factory=dict)
    """CRC-valid packets that break a wire-format rule, by rule."""
    foreign_packets: dict[int, int] = field(default_factory=dict)
    """Well-formed packets whose secondary header names another spacecraft, by its id:
    refused (whatever carried them: a bare packet stream, or frames of this spacecraft)."""
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
    segment_copies: int = 0
    """Copies of segments kept besides the first (other bytes or other product fields)
    until a product check says which is right."""
    copies_dropped: int = 0
    """Further copies of a segment past :data:`MAX_COPIES` (dropped)."""
    products_mended: int = 0
    """Products made whole and right from other copies of their segments than the first
    (re-sent segments replacing corrupted ones, clean packets replacing one whose product
    fields were corrupted)."""
    products_damaged: int = 0
    """Complete products whose copy in the catalogue no longer passed its CRC-32 when
    their segments came again (damaged on the ground)."""
    products_repaired: int = 0
    """Damaged products whose copy was replaced by the segments that came again."""
    products_contradicting: int = 0
    """Products refused because they contradict their catalogued frame (size, grid,
    capture time): a frame id used twice on board, or a stream of another spacecraft
    using this one's spacecraft id, APIDs and frame ids (packets naming another
    spacecraft id are refused before: ``foreign_packets``)."""
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
        d["foreign_packets"] = dict(self.foreign_packets)
        d["invalid_reasons"] = list(self.invalid_reasons)
        return d

    @property
    def valid_packets(self) -> int:
        return (
            self.deframe.packets - sum(self.malformed.values()) - sum(self.foreign_packets.values())
        )


@dataclass
class _State:
    """What the ingest knows of one product while it runs."""

    rowid: int
    meta: np.ndarray  # apid then PRODUCT_FIELDS, as in the catalogue
    segment_count: int
    received: np.ndarray | None  # bool per segment; None once complete
    n_received: int
    n_bytes: int
    status: str
    key: tuple[int, int]  # (frame_id, product_id) of its packets
    failure: str | None = None  # invalid: "crc" (fresh copies may mend it), "decode", "frame"
    copies: int = 0  # segment copies held besides its segments (segment_copies rows)
    verified: bool = False  # complete, and its stored copy checked in this ingest
    repairing: bool = False  # its stored copy was found damaged on the ground
    resolve: bool = False  # new copies in the current batch: look for the right ones
    touched: bool = False
    batch_fresh: int = 0  # segments new in the current batch
    batch_start: int = 0  # where they start in the batch's payload (contiguous, in order)
    batch_rows: range | list[int] | None = None  # the batch rows of those segments
    done: tuple[int, bytes] | None = None  # (product_bytes, header) once complete, for its
    # row when that is written after (a product first seen in the batch)


class Ingestor:
    """Feeds streams into an open, writable catalogue."""

    def __init__(
        self,
        cat: Catalogue,
        spacecraft_id: int = DEFAULT_SPACECRAFT_ID,
        decode_streams: bool = False,
    ) -> None:
        if not cat.writable:
            raise ValueError("the catalogue must be opened for writing")
        self.cat = cat
        self.spacecraft_id = spacecraft_id
        self.decode_streams = decode_streams
        """Also decode every band stream of a complete product (libaec), as ``export``
        does: a product whose CRC-32 passes but that does not decode is then found at
        ingest (invalid, released on board at once) instead of at export (skipped and
        named). Off by default: the CRC-32 proves the bytes are the satellite's."""
        self.stats = IngestStats()
        self._states: dict[int, _State] = {}
        self._last_seq: dict[int, int] = {}
        self._frames: dict[int, dict | None] = {}
        # per batch (one transaction): products first seen in it, whose rows are written
        # in one statement at its end (or before anything else writes one of them), with
        # what the batch brought; and the rows of other products it completed
        self._next_rowid = 0
        self._created: list[_State] = []
        self._unwritten: set[int] = set()
        self._completed: list[tuple] = []

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
        ok, broken, foreign = check_packets(cols, self.spacecraft_id)
        for name, n in broken.items():
            st.malformed[name] = st.malformed.get(name, 0) + n
        for scid, n in foreign.items():
            st.foreign_packets[scid] = st.foreign_packets.get(scid, 0) + n
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
            self._frames.clear()
            self._created.clear()
            self._unwritten.clear()
            self._completed.clear()
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
        others: list[tuple[_State, np.ndarray]] = []  # rows that may be other copies
        resent: dict[int, int] = {}  # packets of invalid products, by product row
        cursor = 0  # bytes of new segments so far: where the next ones start in the payload
        # Which products of the batch the catalogue already holds (one query for the batch;
        # the others are created here without a query each), and which groups are plain:
        # every packet with the product fields of the first, no segment twice (rows are
        # sorted by segment within a group, so a repeat is an equal neighbour).
        n_groups = len(starts)
        fids = sec["frame_id"][starts].tolist()
        pids = sec["product_id"][starts].tolist()
        keys = [(f << 16) | p for f, p in zip(fids, pids, strict=True)]
        stored = self._stored_keys(con, [k for k in keys if k not in self._states])
        self._next_rowid = con.execute("SELECT coalesce(max(id), 0) FROM products").fetchone()[0]
        group = np.repeat(np.arange(n_groups), stops - starts)
        uniform = (meta == meta[starts][group]).all(axis=1)
        repeat = np.r_[False, (seg_index[1:] == seg_index[:-1]) & (group[1:] == group[:-1])]
        plain = np.logical_and.reduceat(uniform & ~repeat, starts).tolist()
        group_bytes = np.add.reduceat(seg_bytes, starts).tolist()

        def take_whole(state: _State, g: int, a: int, b: int, cursor: int) -> int:
            """Rows a:b (group g) all new segments of ``state``; returns the new cursor."""
            state.received[seg_index[a:b]] = True
            state.n_received += b - a
            state.n_bytes += group_bytes[g]
            fresh_all[a:b] = True
            rowid_of_row[a:b] = state.rowid
            state.touched = True
            state.batch_fresh, state.batch_start = b - a, cursor
            state.batch_rows = range(a, b)
            touched.append(state)
            return cursor + group_bytes[g]

        for g, a, b in zip(range(n_groups), starts.tolist(), stops.tolist(), strict=True):
            k = keys[g]
            state = self._states.get(k)
            if state is None and k not in stored and plain[g]:
                # a product new to the catalogue, every packet of it consistent and new:
                # all its rows are new segments (what the general path below finds too)
                state = self._create(fids[g], pids[g], meta[a])
                cursor = take_whole(state, g, a, b, cursor)
                continue
            if state is None:
                state = self._state(con, fids[g], pids[g], meta[a], k in stored)
            else:
                state.batch_rows = None
            if plain[g] and state.status == "incomplete" and (meta[a] == state.meta).all():
                segs = seg_index[a:b]
                if not state.received[segs].any():
                    # more of a product in progress, every packet consistent with it and
                    # new: all its rows are new segments (what the general path finds too)
                    cursor = take_whole(state, g, a, b, cursor)
                    continue
            same = (meta[a:b] == state.meta).all(axis=1)
            st.conflicts += int(np.count_nonzero(~same))
            if state.status == "complete" and not state.verified:
                self._verify(con, state)
            if state.status == "complete":
                st.duplicates += int(np.count_nonzero(same))
                continue
            if state.status == "invalid":
                resent[state.rowid] = resent.get(state.rowid, 0) + (b - a)
            segs = seg_index[a:b]
            # new segments: consistent, not yet received, first copy in this batch
            cand = np.flatnonzero(same & ~state.received[np.where(same, segs, 0)])
            fresh = np.zeros(b - a, dtype=bool)
            fresh[cand[np.unique(segs[cand], return_index=True)[1]]] = True
            if not fresh.all():
                others.append((state, a + np.flatnonzero(~fresh)))
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
            state.batch_rows = (a + np.flatnonzero(fresh)).tolist()
            cursor += fresh_bytes
            touched.append(state)
        if resent:
            con.executemany(
                "UPDATE products SET resent = resent + ? WHERE id=?",
                [(n, rowid) for rowid, n in resent.items()],
            )
        new = np.flatnonzero(fresh_all)
        copies = self._new_copies(cols, meta, seg_index, others) if others else []
        if len(new) == 0 and not copies:
            self._write_rows(con)
            return
        # append the new segments to the pack, in key order (products stay contiguous), then
        # the other copies
        lens = seg_bytes[new]
        copy_rows = np.asarray([r for _, r in copies], dtype=np.int64)
        copy_lens = seg_bytes[copy_rows].tolist()
        rows = np.concatenate([new, copy_rows])
        payload = gather(cols.buf, cols.offsets[rows] + HEADER_BYTES, seg_bytes[rows])
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
        if copies:
            at = base + int(lens.sum())
            rows = []
            for (state, r), n in zip(copies, copy_lens, strict=True):
                rows.append((state.rowid, int(seg_index[r]), at, n, _meta_text(meta[r])))
                at += n
                state.copies += 1
                state.resolve = True
            con.executemany(
                "INSERT INTO segment_copies (product, segment, pack_offset, length, meta) "
                "VALUES (?, ?, ?, ?, ?)",
                rows,
            )
            st.segment_copies += len(copies)
        con.execute("UPDATE meta SET value=? WHERE key='pack_bytes'", (base + len(payload),))
        st.new_segments += len(new)
        st.new_segment_bytes += int(lens.sum())
        con.executemany(
            "UPDATE products SET segments_received=?, bytes_received=? WHERE id=?",
            [(s.n_received, s.n_bytes, s.rowid) for s in touched if s.rowid not in self._unwritten],
        )
        view = memoryview(payload)
        done = [s for s in touched if s.n_received == s.segment_count and s.status == "incomplete"]
        # the products completed with segments of earlier batches: read back from the pack
        # (their segment rows with one query); each product's rows change only when it is
        # completed itself, so reading them all first reads what reading each one would
        spread = self.cat.products_bytes(
            [s.rowid for s in done if s.batch_fresh != s.segment_count]
        )
        for state in touched:
            state.touched = False
        for state in done:
            if state.batch_fresh == state.segment_count:  # all of it came in this batch
                data = view[state.batch_start : state.batch_start + state.n_bytes]
            else:
                data = spread[state.rowid]
            self._complete(con, state, data)
        for state, _ in others:
            if state.resolve and state.status != "complete":
                self._resolve(con, state)
            state.resolve = False
        self._write_rows(con)

    # ------------------------------------------------------------ other copies

    def _new_copies(
        self,
        cols: PacketColumns,
        meta: np.ndarray,
        seg_index: np.ndarray,
        others: list[tuple[_State, np.ndarray]],
    ) -> list[tuple[_State, int]]:
        """Rows of products not yet proven that carry a copy of a segment not seen before
        (other bytes, or other product fields): kept, up to :data:`MAX_COPIES` per segment,
        until the product check says which copy is right. The rest are duplicates."""
        st = self.stats
        mv = memoryview(cols.buf)
        out: list[tuple[_State, int]] = []
        for state, rows in others:
            known = self._known_copies(state, cols, seg_index)
            for r in rows.tolist():
                seg = int(seg_index[r])
                o = int(cols.offsets[r]) + HEADER_BYTES
                data = bytes(mv[o : o + int(cols.sizes[r]) - PACKET_OVERHEAD])
                key = (data, _meta_text(meta[r]))
                have = known.setdefault(seg, [])
                if key in have:
                    st.duplicates += 1
                elif len(have) >= MAX_COPIES:
                    st.copies_dropped += 1
                else:
                    have.append(key)
                    out.append((state, r))
        return out

    def _known_copies(
        self, state: _State, cols: PacketColumns, seg_index: np.ndarray
    ) -> dict[int, list[tuple[bytes, str]]]:
        """Every copy of the product's segments held so far, as (bytes, product fields):
        the stored ones and, for segments first received in this batch, those rows."""
        out: dict[int, list[tuple[bytes, str]]] = {}
        row_meta = _meta_text(state.meta)
        stored = self.cat.con.execute(
            "SELECT segment, pack_offset, length, NULL FROM segments WHERE product=? "
            "UNION ALL SELECT segment, pack_offset, length, meta FROM segment_copies "
            "WHERE product=?",
            (state.rowid, state.rowid),
        ).fetchall()
        for seg, off, n, m in stored:
            data = os.pread(self.cat.pack_fd, n, off)
            out.setdefault(seg, []).append((data, m or row_meta))
        if state.batch_rows is not None:
            mv = memoryview(cols.buf)
            for r in state.batch_rows:
                o = int(cols.offsets[r]) + HEADER_BYTES
                data = bytes(mv[o : o + int(cols.sizes[r]) - PACKET_OVERHEAD])
                out.setdefault(int(seg_index[r]), []).append((data, row_meta))
        return out

    # ------------------------------------------------------------ products

    def _stored_keys(self, con, keys: list[int]) -> set[int]:
        """Which of ``keys`` (frame id << 16 | product id) the catalogue holds a product of
        (one query, by the products' unique index)."""
        if not keys:
            return set()
        rows = con.execute(
            "SELECT p.frame_id, p.product_id FROM json_each(?) AS j JOIN products AS p "
            "ON p.frame_id = (j.value >> 16) AND p.product_id = (j.value & 65535)",
            (json.dumps(keys),),
        ).fetchall()
        return {(f << 16) | p for f, p in rows}

    def _create(self, frame_id: int, product_id: int, meta_row: np.ndarray) -> _State:
        """A product the catalogue does not hold: its row id is the next one (this ingest is
        the only writer, in its transaction); the row itself is written with the batch's
        other new products (:meth:`_write_created`), in the batch's transaction."""
        count = int(meta_row[1 + _SEGMENT_COUNT])
        self._next_rowid += 1
        state = _State(
            rowid=self._next_rowid,
            meta=meta_row.copy(),
            segment_count=count,
            received=np.zeros(count, dtype=bool),
            n_received=0,
            n_bytes=0,
            status="incomplete",
            key=(frame_id, product_id),
        )
        self.stats.products_new += 1
        self._created.append(state)
        self._unwritten.add(state.rowid)
        self._states[(frame_id << 16) | product_id] = state
        return state

    def _write_created(self, con) -> None:
        """Write the rows of the products first seen in this batch as they stand: what the
        batch brought of them, and complete (header, size) when it completed them. Called
        at the batch's end, and before any statement that updates one of those rows."""
        if not self._created:
            return
        names = ["id", "frame_id", "product_id", "product_type", "apid", *PRODUCT_FIELDS]
        names += ["segments_received", "bytes_received", "status", "product_bytes", "header"]
        con.executemany(
            f"INSERT INTO products ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
            [
                (
                    s.rowid,
                    *s.key,
                    PRODUCT_BY_APID[int(s.meta[0])].name,
                    *s.meta.tolist(),
                    s.n_received,
                    s.n_bytes,
                    *(("complete", *s.done) if s.done else (s.status, None, None)),
                )
                for s in self._created
            ],
        )
        for s in self._created:
            s.done = None
        self._created.clear()
        self._unwritten.clear()

    def _write_rows(self, con) -> None:
        """The batch's deferred product rows: the new ones, then the completed others (one
        statement each, in its transaction)."""
        self._write_created(con)
        if self._completed:
            con.executemany(
                "UPDATE products SET status='complete', reason=NULL, failure=NULL, "
                "product_bytes=?, header=? WHERE id=?",
                self._completed,
            )
            self._completed.clear()

    def _state(
        self, con, frame_id: int, product_id: int, meta_row: np.ndarray, stored: bool = True
    ) -> _State:
        pk = (frame_id << 16) | product_id
        state = self._states.get(pk)
        if state is not None:
            state.batch_rows = None
            return state
        if not stored:
            return self._create(frame_id, product_id, meta_row)
        cols = ", ".join(("apid", *PRODUCT_FIELDS))
        row = con.execute(
            f"SELECT id, status, segments_received, bytes_received, failure, {cols} FROM products "
            "WHERE frame_id=? AND product_id=?",
            (frame_id, product_id),
        ).fetchone()
        if row is None:
            return self._create(frame_id, product_id, meta_row)
        rowid, status, n_rec, n_bytes, failure, *meta = row
        count = meta[1 + PRODUCT_FIELDS.index("segment_count")]
        received = None
        if status != "complete":
            received = np.zeros(count, dtype=bool)
            have = self.cat.received_segments(rowid)
            received[have[have < count]] = True
        n_copies = 0
        if status != "complete":
            n_copies = con.execute(
                "SELECT count(*) FROM segment_copies WHERE product=?", (rowid,)
            ).fetchone()[0]
        state = _State(
            rowid=rowid,
            meta=np.asarray(meta, dtype=np.int64),
            segment_count=count,
            received=received,
            n_received=n_rec,
            n_bytes=n_bytes,
            status=status,
            key=(frame_id, product_id),
            failure=failure,
            copies=n_copies,
        )
        self._states[pk] = state
        return state

    def _verify(self, con, state: _State) -> None:
        """Check a complete product's stored copy against its CRC-32, once per ingest, when
        copies of it arrive again: a copy damaged on the ground since (a bad sector in the
        pack) is reopened, and the copies arriving now replace it."""
        state.verified = True
        data = self.cat.product_bytes(state.rowid)
        if crc_ok(data):
            return
        self.stats.products_damaged += 1
        reason = (
            "its copy in the catalogue no longer passes its CRC-32: damaged on the ground "
            "after it was checked; fresh copies of its segments will replace it"
        )
        con.execute(
            "UPDATE products SET status='invalid', reason=?, failure='crc' WHERE id=?",
            (reason, state.rowid),
        )
        state.status = "invalid"
        state.failure = "crc"
        state.repairing = True
        state.received = np.ones(state.segment_count, dtype=bool)

    def _complete(self, con, state: _State, data: bytes | memoryview) -> None:
        """A product whose segments are all in: proven and recorded, or invalid."""
        problem, product = self._check(con, state.key, state.meta, data)
        if problem is None:
            self._finish(con, state, data, product)
            return
        if state.copies and self._resolve(con, state):
            return
        self._fail(con, state, problem, len(data))

    def _check(
        self, con, key: tuple[int, int], meta: np.ndarray, data
    ) -> tuple[tuple[str, str] | None, Product | None]:
        """(None, the decoded product) when ``data`` is a good product for packets of
        ``key`` (frame id, product id) with product fields ``meta``; else
        ((reason, kind), None), ``kind`` one of ``"crc"`` (its CRC-32 fails: a segment
        changed where no packet CRC saw it, and fresh copies can mend it), ``"decode"``
        (the satellite's own bytes do not decode, or their header contradicts their
        packets), ``"frame"`` (it contradicts its catalogued frame: another spacecraft's
        product, or a frame id used twice)."""
        return self._against_frame(con, _check_bytes(key, meta, data, self.decode_streams))

    def _against_frame(
        self, con, checked: tuple[tuple[str, str] | None, Product | None]
    ) -> tuple[tuple[str, str] | None, Product | None]:
        """:func:`_check_bytes`'s verdict, then an image product against its catalogued frame
        (committed, or defined by a product before it in this batch)."""
        problem, product = checked
        if problem is None and product.type_name in IMAGE_TYPES:
            frame = self._frame(con, product.header["frame_id"])
            mismatch = frame_mismatch(product.header, frame) if frame else None
            if mismatch:
                return (f"it {mismatch} (another spacecraft's product?)", "frame"), None
        return problem, product

    def _fail(self, con, state: _State, problem: tuple[str, str], size: int) -> None:
        if state.rowid in self._unwritten:
            self._write_created(con)
        reason, kind = problem
        first = state.status != "invalid"
        state.status = "invalid"
        state.failure = kind
        if first:
            self.stats.products_invalid += 1
            self.stats.invalid_reasons.append(reason)
            if kind == "frame":
                self.stats.products_contradicting += 1
        con.execute(
            "UPDATE products SET status='invalid', reason=?, failure=?, product_bytes=? WHERE id=?",
            (reason, kind, size, state.rowid),
        )

    def _resolve(self, con, state: _State) -> bool:
        """Find the copies that make the product whole and right, whatever copy arrived
        first: for each set of product fields seen (the product's first, then the others
        by how many packets carried them), the combinations of the segment copies held are
        checked (CRC-32, decoding, header against the fields) until one passes. The one
        that passes becomes the product; its other copies are dropped. False when none
        does (the product stays as it was)."""
        rows = con.execute(
            "SELECT segment, pack_offset, length, NULL FROM segments WHERE product=? "
            "UNION ALL SELECT segment, pack_offset, length, meta FROM segment_copies "
            "WHERE product=?",
            (state.rowid, state.rowid),
        ).fetchall()
        by_seg: dict[int, list[tuple[bytes, int, int]]] = {}
        metas: dict[str, int] = {}
        for seg, off, n, m in rows:
            data = os.pread(self.cat.pack_fd, n, off)
            have = by_seg.setdefault(seg, [])
            if all(data != d for d, _, _ in have):
                have.append((data, off, n))
            if m is not None:
                metas[m] = metas.get(m, 0) + 1
        first = _meta_text(state.meta)
        candidates = [first, *sorted((m for m in metas if m != first), key=lambda m: -metas[m])]
        problem = None
        for text in candidates:
            m = np.asarray(json.loads(text), dtype=np.int64)
            count = int(m[1 + PRODUCT_FIELDS.index("segment_count")])
            choices = []
            for k in range(count):
                opts = [
                    c
                    for c in by_seg.get(k, [])
                    if (len(c[0]) == MAX_SEGMENT_BYTES if k < count - 1 else len(c[0]) >= 1)
                ]
                if not opts:
                    break
                choices.append(opts)
            if len(choices) < count:
                continue  # these fields' product is not whole yet
            for combo in _combinations(choices):
                data = b"".join(c[0] for c in combo)
                bad, product = self._check(con, state.key, m, data)
                if bad is None:
                    self._adopt(con, state, m, combo)
                    self.stats.products_mended += 1
                    self._finish(con, state, data, product)
                    return True
                if problem is None or problem[1] != "crc":
                    problem = bad
        if problem is not None and state.n_received == state.segment_count:
            self._fail(con, state, problem, state.n_bytes)
        return False

    def _adopt(self, con, state: _State, m: np.ndarray, combo) -> None:
        """Make ``combo`` (one copy per segment, in order) the product's segments and ``m``
        its product fields; the other copies are dropped."""
        if state.rowid in self._unwritten:
            self._write_created(con)
        if not np.array_equal(m, state.meta):
            values = dict(zip(("apid", *PRODUCT_FIELDS), m.tolist(), strict=True))
            names = ["product_type", *values]
            con.execute(
                f"UPDATE products SET {', '.join(f'{n}=?' for n in names)} WHERE id=?",
                (PRODUCT_BY_APID[values["apid"]].name, *values.values(), state.rowid),
            )
            state.meta = m.copy()
            state.segment_count = int(values["segment_count"])
        con.execute("DELETE FROM segments WHERE product=?", (state.rowid,))
        con.execute("DELETE FROM segment_copies WHERE product=?", (state.rowid,))
        con.executemany(
            "INSERT INTO segments (product, segment, pack_offset, length) VALUES (?, ?, ?, ?)",
            [(state.rowid, k, off, n) for k, (_, off, n) in enumerate(combo)],
        )
        state.copies = 0
        state.n_received = len(combo)
        state.n_bytes = sum(n for _, _, n in combo)
        con.execute(
            "UPDATE products SET segments_received=?, bytes_received=? WHERE id=?",
            (state.n_received, state.n_bytes, state.rowid),
        )

    def _finish(self, con, state: _State, data: bytes | memoryview, product: Product) -> None:
        """Record a product that passed every check: complete, its frame, its records."""
        if state.repairing:
            self.stats.products_repaired += 1
        state.status = "complete"
        state.received = None
        state.verified = True
        state.repairing = False
        self.stats.products_completed += 1
        if state.copies:
            con.execute("DELETE FROM segment_copies WHERE product=?", (state.rowid,))
            state.copies = 0
        h = product.header
        # written with the batch's other product rows at its end (_write_rows): nothing
        # else writes this row in the batch once it is complete
        done = (len(data), bytes(data[: PRODUCT_HEADER.size]))
        if state.rowid in self._unwritten:
            state.done = done
        else:
            self._completed.append((*done, state.rowid))
        if product.type_name in IMAGE_TYPES:
            self._define_frame(con, product)
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

    # ------------------------------------------------------------ frames

    def _frame(self, con, frame_id: int) -> dict | None:
        """The catalogued frame of ``frame_id`` (committed, or defined in this batch)."""
        if frame_id not in self._frames:
            frame = self.cat.frame(frame_id)
            if frame is not None:
                frame["pixels"] = False  # as committed: a later pixel product may redefine it
            self._frames[frame_id] = frame
        return self._frames[frame_id]

    def _define_frame(self, con, product: Product) -> None:
        """A frame is defined by its first pixel product; a class map (whose no-data value
        is a class code, not a sample) only stands in until one arrives."""
        h = product.header
        fid = h["frame_id"]
        frame = self._frame(con, fid)
        pixels = product.type_name != "CLASS_MAP"
        if frame is not None and (frame["pixels"] or not pixels):
            return
        row = {
            "frame_id": fid,
            "frame_rows": h["frame_rows"],
            "frame_cols": h["frame_cols"],
            "crs_epsg": h["crs_epsg"],
            "geotransform": tuple(h["geotransform"]),
            "time_s": h["time_s"],
            "time_sub": h["time_sub"],
            "nodata": h["nodata"],
            "pixels": pixels,
        }
        con.execute(
            "INSERT OR REPLACE INTO frames VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                fid,
                h["frame_rows"],
                h["frame_cols"],
                h["crs_epsg"],
                json.dumps(list(h["geotransform"])),
                h["time_s"],
                h["time_sub"],
                h["nodata"],
            ),
        )
        self._frames[fid] = row


def _check_bytes(
    key: tuple[int, int], meta: np.ndarray, data: bytes | memoryview, streams: bool = False
) -> tuple[tuple[str, str] | None, Product | None]:
    """The checks of :meth:`Ingestor._check` that need nothing but the product's bytes and
    its packets' key and fields (CRC-32, the product's structure, header against the
    packets; with ``streams``, the band streams decoded too)."""
    crc = _matching_crc32(data)
    if crc is None:
        return (
            "its CRC-32 does not match its bytes: a segment was corrupted where no packet "
            "CRC-16 could see it (on board before packetising, or on the link)",
            "crc",
        ), None
    try:
        product = decode_product(data, pixels=False, crc32=crc, streams=streams)
    except ProductError as exc:
        return (str(exc), "decode"), None
    h = product.header
    if (h["frame_id"], h["product_id"]) != key:
        return (
            f"product header says frame {h['frame_id']} product {h['product_id']} but its "
            f"packets say frame {key[0]} product {key[1]} (a packet's key corrupted on the "
            "way)",
            "decode",
        ), None
    try:
        _check_against_packets(h, meta)
    except ProductError as exc:
        # its CRC-32 vouches for its header: the packets' fields were corrupted where
        # their CRC-16 could not see it, and fresh packets carry the right ones
        return (f"{exc} (a packet's fields corrupted on the way)", "crc"), None
    return None, product


def crc_ok(data: bytes | memoryview) -> bool:
    """Does the product's ``product_crc32`` field match its bytes?"""
    return _matching_crc32(data) is not None


def _matching_crc32(data: bytes | memoryview) -> int | None:
    """The product's CRC-32 when its ``product_crc32`` field matches it, else None."""
    if len(data) < PRODUCT_HEADER.size:
        return None
    crc = product_crc32(data)
    stored = int.from_bytes(data[PRODUCT_CRC_OFFSET : PRODUCT_CRC_OFFSET + 4], "big")
    return crc if crc == stored else None


def _meta_text(m: np.ndarray) -> str:
    """A packet's product fields (APID then ``PRODUCT_FIELDS``) as stored with a copy."""
    return json.dumps([int(v) for v in m])


def _combinations(choices: list[list]) -> Iterator[tuple]:
    """One copy per segment: every combination when there are at most
    :data:`MAX_COMBINATIONS`, else the first copies, each other copy in turn among
    them, and the last copies (a product with so many disagreeing segments is asked for
    again rather than searched)."""
    total = math.prod(len(c) for c in choices)
    if total <= MAX_COMBINATIONS:
        yield from itertools.product(*choices)
        return
    base = [c[0] for c in choices]
    yield tuple(base)
    for k, c in enumerate(choices):
        for alt in c[1:]:
            yield (*base[:k], alt, *base[k + 1 :])
    yield tuple(c[-1] for c in choices)


def _check_against_packets(h: dict, meta: np.ndarray) -> None:
    """The product header must repeat what its packets' secondary headers said (the key,
    frame id and product id, is checked by the caller)."""
    values = meta.tolist()  # apid, then PRODUCT_FIELDS
    if PRODUCT_BY_CODE[h["product_type"]].apid != values[0]:
        raise ProductError(f"product type {h['product_type']} travelled on APID 0x{values[0]:03X}")
    for name, k in _CHECKED:
        if h[name] != values[k]:
            raise ProductError(f"product header {name}={h[name]} but its packets say {values[k]}")


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
    decode_streams: bool = False,
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
        ing = Ingestor(cat, spacecraft_id, decode_streams)
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
    decode_streams: bool = False,
) -> IngestStats:
    """Ingest one stream held in memory (e.g. one pass) into the catalogue ``db``.

    Creates the catalogue if needed. Returns the statistics; never raises for
    bad packets (they are counted), only for an unusable catalogue.
    ``input_format``: see :mod:`ground_station.receive` (``packets`` by default);
    ``decode_streams``: see :class:`Ingestor`.
    """
    return _run(
        db,
        [(source, lambda: _chunks_of(data, chunk_bytes))],
        None,
        input_format,
        spacecraft_id,
        decode_streams,
    )


def ingest_chunks(
    db: str | os.PathLike,
    source: str,
    chunks: Iterable[bytes],
    *,
    input_format: str = "packets",
    spacecraft_id: int = DEFAULT_SPACECRAFT_ID,
    progress: Callable[[int], None] | None = None,
    decode_streams: bool = False,
) -> IngestStats:
    """Ingest one stream given as chunks as they come (a live input): each chunk's whole
    packets are committed before the next chunk is read."""
    return _run(
        db, [(source, lambda: chunks)], progress, input_format, spacecraft_id, decode_streams
    )


def ingest_files(
    db: str | os.PathLike,
    paths: Sequence[str | os.PathLike],
    *,
    chunk_bytes: int = CHUNK_BYTES,
    progress: Callable[[int], None] | None = None,
    input_format: str = "packets",
    spacecraft_id: int = DEFAULT_SPACECRAFT_ID,
    decode_streams: bool = False,
) -> IngestStats:
    """Ingest stream files, each an independent stream; ``progress(n)`` per chunk.
    ``input_format``: see :mod:`ground_station.receive` (``packets`` by default);
    ``decode_streams``: see :class:`Ingestor`."""
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
        decode_streams,
    )
