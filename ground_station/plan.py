"""Downlink planning: what to ask for in the next pass, within its byte budget.

What is on board comes from the latest STORE_DIRECTORY product in the
catalogue; what the ground already holds comes from the catalogue itself.
Every product on board becomes, at most, one of:

- **release**: complete on the ground — free it on board (no downlink cost);
- **send whole**: the ground has none of it;
- **send missing**: the ground has part of it — one request line per run of
  missing segments.

Candidates are ranked in tiers, and within a tier by value per byte:

1. ship crops, by confidence (p = confidence/256); the product's value is p;
2. quicklooks (value 1, or 2 for a frame with ship crops on board), then
   frame summaries and class maps (value 0.5);
3. retransmission of the missing segments of incomplete products (value of
   the product x the fraction of it still missing, per missing byte);
4. land context (value 0.1 per product).

The budget of a pass is :func:`ground_station.passes.pass_budget_bytes`,
less the STORE_DIRECTORY the satellite sends first (estimated from the
latest one). Candidates are taken greedily in rank order when they fit
whole; one that does not fit is deferred and smaller ones further down may
still fit. What budget is left then goes to a first part of the
highest-ranked deferred candidate (segments first..k), since reassembly
works across passes. The downlink cost of a run of segments is its bytes
plus ``PACKET_OVERHEAD`` per packet.

The plan is sent up as a DOWNLINK_REQUEST telecommand (one space packet,
APID 0x110, type TC, no secondary header, REQUEST_ENTRY records then a
CRC-16): releases first, then the sends in plan order, then a REST entry:
"and then every segment you never sent, in your priority order". The
directory a plan rests on can be older than the pass (the pass's own was
lost at low elevation); without REST the satellite would send only what that
directory listed and leave the rest of the pass empty, while products made
since wait. With ``then_rest=False`` (``groundstation plan --exact``) the
satellite sends the plan and nothing else.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ground_station.catalogue import Catalogue, catalogue_files
from ground_station.errors import InputError
from ground_station.passes import ContactWindow, pass_budget_bytes
from triage.contract.enums import (
    PLATFORM_PRODUCTS,
    PRODUCT_BY_APID,
    PRODUCT_BY_CODE,
    PRODUCT_BY_NAME,
    SEQ_COUNT_MODULO,
)
from triage.contract.packets import (
    MAX_REQUEST_ENTRIES,
    MAX_SEGMENT_BYTES,
    PACKET_OVERHEAD,
    encode_request,
    request_entry,
    request_size,
    segment_count,
    segments_bytes,
)
from triage.contract.records import directory_bytes
from triage.contract.tile_spec import tile_spec

TIER_SHIP, TIER_CONTEXT, TIER_MISSING, TIER_LAND = 1, 2, 3, 4
TIER_NAMES = {
    TIER_SHIP: "ship",
    TIER_CONTEXT: "context",
    TIER_MISSING: "missing segments",
    TIER_LAND: "land",
}
_OUTPUT = tile_spec().output_quantization
"""A ship crop's ``confidence`` is its ship output - zero point: times the scale, a
probability."""
_CONTEXT_VALUE = {"QUICKLOOK": 1.0, "FRAME_SUMMARY": 0.5, "CLASS_MAP": 0.5}
_LAND_VALUE = 0.1
MAX_REBUILDS = 3
"""Copies of a product asked for again, whole, and received, before the ground gives it
up and releases it."""
MAX_REQUESTS_FACTOR = 3
"""... and requests for it again (``max_rebuilds`` times this) when its packets do not
come (lost on the link, or the request lost on the uplink)."""


@dataclass
class PlanItem:
    """One line of the plan (and of the request, for the pass it is scheduled in)."""

    frame_id: int
    product_id: int
    product_type: str
    class_id: int
    confidence: int
    action: str  # "send" or "release"
    segment_first: int
    segment_last: int
    segment_count: int
    bytes: int
    tier: int
    value: float
    reason: str
    pass_index: int | None = None
    """Index of the window it is scheduled in (0 = next pass), None if it fits no pass."""
    partial: bool = False
    rebuild: int = 0
    """For a product the ground could not make right (its CRC-32 failed, or its packets
    disagreed with the store directory): which request for it again this is (1 ..
    ``max_rebuilds``); 0 otherwise."""
    gives_up: bool = False
    """A release of a product the ground does not hold right: given up, for ``reason``."""

    @property
    def value_per_byte(self) -> float:
        return self.value / self.bytes if self.bytes else float("inf")

    def to_json(self) -> dict:
        d = asdict(self)
        d["tier_name"] = TIER_NAMES.get(self.tier, "release")
        return d


@dataclass
class PassPlan:
    """The plan for one pass (and what is left for later ones)."""

    window: ContactWindow | None
    budget_bytes: int
    reserved_bytes: int
    """Budget kept for the STORE_DIRECTORY the satellite sends first."""
    items: list[PlanItem] = field(default_factory=list)
    """Sends scheduled in this pass, in order."""
    releases: list[PlanItem] = field(default_factory=list)
    deferred: list[PlanItem] = field(default_factory=list)
    """Candidates that did not fit (whole or in part) into this pass."""
    notes: list[str] = field(default_factory=list)
    directory: dict | None = None
    seq_count: int = 0
    then_rest: bool = True
    """The request ends with a REST entry: the rest of the store after the plan."""

    @property
    def request_entries(self) -> int:
        return len(self.releases) + len(self.items) + int(self.then_rest)

    @property
    def planned_bytes(self) -> int:
        return sum(i.bytes for i in self.items)

    def to_json(self) -> dict:
        return {
            "window": self.window.to_json() if self.window else None,
            "budget_bytes": self.budget_bytes,
            "reserved_bytes": self.reserved_bytes,
            "planned_bytes": self.planned_bytes,
            "budget_used": round(self.planned_bytes / self.budget_bytes, 6)
            if self.budget_bytes
            else 0.0,
            "directory": self.directory,
            "items": [i.to_json() for i in self.items],
            "releases": [i.to_json() for i in self.releases],
            "deferred": [i.to_json() for i in self.deferred],
            "notes": list(self.notes),
            "request": {
                "seq_count": self.seq_count,
                "entries": self.request_entries,
                "then_rest": self.then_rest,
                "bytes": request_size(self.request_entries),
            },
        }


# ---------------------------------------------------------------- the telecommand


def request_for(items: Sequence[PlanItem], seq_count: int, then_rest: bool = False) -> bytes:
    """The DOWNLINK_REQUEST telecommand packet for plan items (in that order), with
    ``then_rest`` followed by a REST entry (the rest of the store in priority order)."""
    n = len(items) + int(then_rest)
    if n > MAX_REQUEST_ENTRIES:
        raise InputError(f"{n} request entries, at most {MAX_REQUEST_ENTRIES}")
    records = [
        request_entry(i.frame_id, i.product_id, i.action, i.segment_first, i.segment_last)
        for i in items
    ]
    if then_rest:
        records.append(request_entry(0, 0, "rest"))
    return encode_request(records, seq_count)


# ---------------------------------------------------------------- candidates


NO_DIRECTORY_NOTE = (
    "no STORE_DIRECTORY in the catalogue yet: the plan lists retransmissions of incomplete "
    "products only, and there is no request to uplink (a request, even an empty one, is all "
    "the satellite sends; without one it sends its store in priority order)"
)


def _candidates(
    cat: Catalogue, max_rebuilds: int = MAX_REBUILDS
) -> tuple[list[PlanItem], list[PlanItem], list[str], dict | None]:
    """(sends, releases, notes, directory) from the latest directory and the catalogue."""
    notes: list[str] = []
    latest = cat.latest_directory()
    ground = {(r["frame_id"], r["product_id"]): r for r in cat.product_rows()}
    if latest is None:
        notes.append(NO_DIRECTORY_NOTE)
        on_board = []
        for r in ground.values():
            if r["status"] != "complete" and r["product_type"] not in PLATFORM_PRODUCTS:
                on_board.append(
                    {
                        "frame_id": r["frame_id"],
                        "product_id": r["product_id"],
                        "product_type": PRODUCT_BY_APID[r["apid"]].code,
                        "class_id": r["class_id"],
                        "confidence": r["confidence"],
                        "flags": 0,
                        "segment_count": r["segment_count"],
                        "product_bytes": r["product_bytes"] if r["status"] == "invalid" else None,
                    }
                )
        directory = None
    else:
        directory, on_board = latest
        when = datetime.fromtimestamp(directory["time_s"], UTC).isoformat()
        directory = {**directory, "time": when, "entries": len(on_board)}
    ships_by_frame: dict[int, int] = {}
    for e in on_board:
        if PRODUCT_BY_CODE.get(e["product_type"]) is PRODUCT_BY_NAME["SHIP_CROP"]:
            ships_by_frame[e["frame_id"]] = ships_by_frame.get(e["frame_id"], 0) + 1
    sends: list[PlanItem] = []
    releases: list[PlanItem] = []
    for e in on_board:
        ptype = PRODUCT_BY_CODE.get(e["product_type"])
        if ptype is None or ptype.name in PLATFORM_PRODUCTS:
            continue
        name = ptype.name
        key = (e["frame_id"], e["product_id"])
        row = ground.get(key)
        base = {
            "frame_id": e["frame_id"],
            "product_id": e["product_id"],
            "product_type": name,
            "class_id": e["class_id"],
            "confidence": e["confidence"],
            "segment_count": e["segment_count"],
        }
        if name == "SHIP_CROP":
            tier, value = TIER_SHIP, e["confidence"] * _OUTPUT.scale
        elif name in _CONTEXT_VALUE:
            tier, value = TIER_CONTEXT, _CONTEXT_VALUE[name]
            if name == "QUICKLOOK" and ships_by_frame.get(e["frame_id"]):
                value += 1.0
        else:
            tier, value = TIER_LAND, _LAND_VALUE
        if row is not None and row["status"] == "complete":
            releases.append(
                PlanItem(
                    **base,
                    action="release",
                    segment_first=0,
                    segment_last=0,
                    bytes=0,
                    tier=0,
                    value=0.0,
                    reason="complete on the ground",
                    pass_index=0,
                )
            )
            continue
        whole = {**base, "action": "send", "segment_first": 0, "tier": tier, "value": value}
        if row is not None and row["status"] == "invalid":
            item = _invalid(row, e, whole, max_rebuilds)
            if item is None:
                notes.append(
                    f"product {key[0]}/{key[1]} kept on board, not requested: {row['reason']}; "
                    "an operator decides (the ground keeps its bytes)"
                )
                continue
            (sends if item.action == "send" else releases).append(item)
            if item.gives_up:
                notes.append(f"product {key[0]}/{key[1]} released on board: {item.reason}")
            continue
        listed = e["product_bytes"]
        if listed is not None and (listed < 1 or segment_count(listed) != e["segment_count"]):
            notes.append(
                f"product {key[0]}/{key[1]}: the directory lists {e['product_bytes']} bytes in "
                f"{e['segment_count']} segments, which do not agree: not requested"
            )
            continue
        if row is not None and row["segment_count"] != e["segment_count"]:
            # the ground's first packet of it carried a wrong segment count (a corruption
            # its CRC-16 missed): its clean packets, asked for again, will say which is right
            item = _rebuild(
                row,
                whole,
                e,
                max_rebuilds,
                f"{row['segment_count']} segments on the ground, {e['segment_count']} in the "
                "store directory",
            )
            (sends if item.action == "send" else releases).append(item)
            if item.gives_up:
                notes.append(f"product {key[0]}/{key[1]} released on board: {item.reason}")
            continue
        total = e["product_bytes"]
        if row is None or row["segments_received"] == 0:
            sends.append(
                PlanItem(
                    **base,
                    action="send",
                    segment_first=0,
                    segment_last=e["segment_count"] - 1,
                    bytes=segments_bytes(total),
                    tier=tier,
                    value=value,
                    reason="sent before, none received" if e["flags"] & 1 else "new",
                )
            )
            continue
        # incomplete on the ground: its missing segments
        missing = cat.missing_ranges(row["id"], row["segment_count"])
        if total is None:  # no directory: the last segment's size is known if it arrived
            last_known = row["segment_count"] - 1 not in {b for _, b in missing}
            total = (
                row["bytes_received"] + sum(b - a + 1 for a, b in missing) * MAX_SEGMENT_BYTES
                if last_known
                else row["segment_count"] * MAX_SEGMENT_BYTES
            )
        n_missing = sum(b - a + 1 for a, b in missing)
        for a, b in missing:
            sends.append(
                PlanItem(
                    **base,
                    action="send",
                    segment_first=a,
                    segment_last=b,
                    bytes=segments_bytes(total, a, b),
                    tier=TIER_MISSING,
                    value=value * (b - a + 1) / max(1, n_missing),
                    reason=f"missing {n_missing} of {e['segment_count']} segments",
                )
            )
    sends.sort(key=_rank)
    return sends, releases, notes, directory


def _invalid(row: dict, e: dict, whole: dict, max_rebuilds: int) -> PlanItem | None:
    """The plan line of a product the ground holds whole but not right: asked for again
    (its CRC-32 failed: fresh copies of its segments mend it) until ``max_rebuilds``
    requests, then released; released at once when its CRC-32 passes but it does not
    decode (the satellite's own bytes: asking again brings the same ones); None (kept on
    board, for the operator) when it contradicts its catalogued frame."""
    if row.get("given_up"):
        return _release(whole, row["given_up"])
    failure = row.get("failure") or "crc"
    if failure == "frame":
        return None
    if failure == "decode":
        return _release(
            whole,
            f"its CRC-32 passes but it does not decode ({row['reason']}): the satellite's "
            "copy is the one on the ground, kept in the catalogue",
        )
    return _rebuild(row, whole, e, max_rebuilds, f"failed its check ({row['reason']})")


def _rebuild(row: dict, whole: dict, e: dict, max_rebuilds: int, why: str) -> PlanItem:
    """The whole product again, or once ``max_rebuilds`` requests are spent, its release.

    A request for it again that the pass budget cut short (its first segments only) is
    continued in the next pass from the first segment not asked for (``rebuild_next``),
    and counts once: a product larger than a pass is asked for again whole, over several
    passes. It is given up once ``max_rebuilds`` whole copies of it came again (its
    packets received since it failed, ``resent``, at least ``max_rebuilds`` times its
    segment count) and none made it right, or after ``max_rebuilds`` x
    :data:`MAX_REQUESTS_FACTOR` requests when its packets keep not coming."""
    done = row.get("rebuilds", 0)
    size = e["product_bytes"] or row["product_bytes"] or e["segment_count"] * MAX_SEGMENT_BYTES
    first = row.get("rebuild_next") or 0
    if first >= min(e["segment_count"], segment_count(size)):
        first = 0
    came = (row.get("resent") or 0) // max(1, e["segment_count"])
    if first == 0 and done >= max_rebuilds and came >= max_rebuilds:
        return _release(
            whole, f"given up after {done} requests for it again ({came} copies came): {why}"
        )
    if first == 0 and done >= max_rebuilds * MAX_REQUESTS_FACTOR:
        return _release(
            whole,
            f"given up after {done} requests for it again (its packets came {came} times "
            f"whole): {why}",
        )
    if first:
        how = f"segments {first}.. not yet asked for again ({done} of {max_rebuilds})"
    else:
        how = f"whole ({done + 1} of {max_rebuilds})"
    return PlanItem(
        **{**whole, "segment_first": first},
        segment_last=e["segment_count"] - 1,
        bytes=segments_bytes(size, first),
        reason=f"{why}: asked for again, {how}",
        rebuild=done if first else done + 1,
    )


def _release(whole: dict, reason: str) -> PlanItem:
    """A release on board of a product the ground gives up (``reason`` says why)."""
    fields = {**whole, "action": "release", "segment_first": 0, "tier": 0, "value": 0.0}
    return PlanItem(
        **fields,
        segment_last=0,
        bytes=0,
        reason=reason,
        pass_index=0,
        gives_up=True,
    )


def _rank(i: PlanItem) -> tuple:
    """Tier first; ships by confidence; then value per byte; ids for a stable order."""
    conf = -i.confidence if i.tier == TIER_SHIP else 0
    return (i.tier, conf, -i.value_per_byte, i.frame_id, i.product_id, i.segment_first)


def _directory_reserve(directory: dict | None) -> int:
    entries = directory["entries"] if directory else 0
    return segments_bytes(directory_bytes(entries))


def _fill(cands: list[PlanItem], budget: int, pass_index: int, room: int) -> tuple[list, list]:
    """Greedy fill of one pass; returns (scheduled, left over)."""
    taken: list[PlanItem] = []
    left: list[PlanItem] = []
    for c in cands:
        if c.bytes <= budget and len(taken) < room:
            c.pass_index = pass_index
            taken.append(c)
            budget -= c.bytes
        else:
            left.append(c)
    # the rest of the budget: a first part of the best deferred candidate
    if left and len(taken) < room:
        c = left[0]
        per = MAX_SEGMENT_BYTES + PACKET_OVERHEAD
        k = min(budget // per, c.segment_last - c.segment_first)  # whole segments before the last
        if k >= 1:
            head = PlanItem(**{**asdict(c), "segment_last": c.segment_first + k - 1})
            head.bytes = k * per
            head.value = c.value * k / (c.segment_last - c.segment_first + 1)
            head.pass_index, head.partial = pass_index, True
            rest = PlanItem(**{**asdict(c), "segment_first": c.segment_first + k})
            rest.bytes = c.bytes - head.bytes
            rest.value = c.value - head.value
            rest.partial = True
            taken.append(head)
            left[0] = rest
    return taken, left


def plan_passes(
    db: str | os.PathLike,
    windows: Sequence[ContactWindow],
    rate_bps: int,
    *,
    budget_bytes: Sequence[int] | None = None,
    create: bool = False,
    max_rebuilds: int = MAX_REBUILDS,
    then_rest: bool = True,
    **budget_kwargs,
) -> list[PassPlan]:
    """Plans for consecutive passes: each takes what the ones before it left.

    ``budget_bytes`` (one per window) overrides the computed budgets;
    ``budget_kwargs`` go to :func:`pass_budget_bytes`. With ``create`` a
    missing catalogue is created (empty: nothing known, nothing to ask for).
    ``then_rest``: each request ends with a REST entry (the module's docstring).
    """
    if budget_bytes is not None and len(budget_bytes) != len(windows):
        raise InputError("budget_bytes needs one value per window")
    if create and not os.path.exists(db):
        Catalogue.open(db, write=True, create=True).close()
    with Catalogue.open(db) as cat:
        cands, releases, notes, directory = _candidates(cat, max_rebuilds)
        seq = cat.con.execute("SELECT count(*) FROM uplinks").fetchone()[0]
    plans = []
    reserve = _directory_reserve(directory)
    for k, w in enumerate(windows):
        total = (
            budget_bytes[k]
            if budget_bytes is not None
            else pass_budget_bytes(w, rate_bps, **budget_kwargs)
        )
        usable = max(0, total - reserve)
        rel = releases if k == 0 else []
        room = MAX_REQUEST_ENTRIES - len(rel) - int(then_rest)
        taken, cands = _fill(cands, usable, k, room)
        plan = PassPlan(
            window=w,
            budget_bytes=total,
            reserved_bytes=min(reserve, total),
            items=taken,
            releases=rel,
            deferred=list(cands),
            notes=list(notes) if k == 0 else [],
            directory=directory,
            seq_count=(seq + k) % SEQ_COUNT_MODULO,
            then_rest=then_rest,
        )
        plans.append(plan)
    for c in cands:
        c.pass_index = None
    return plans


def plan_next_pass(
    db: str | os.PathLike,
    window: ContactWindow | None,
    rate_bps: int,
    *,
    budget_bytes: int | None = None,
    record: bool = True,
    max_rebuilds: int = MAX_REBUILDS,
    then_rest: bool = True,
    **budget_kwargs,
) -> tuple[PassPlan, bytes | None]:
    """The plan for the next pass and its DOWNLINK_REQUEST telecommand bytes (None: no
    request to uplink, see :func:`request_of`).

    ``budget_bytes`` overrides the budget computed from ``window`` and
    ``rate_bps``. With ``record`` the request is logged in the catalogue's
    ``uplinks`` table (which numbers the telecommands' sequence counts). A
    missing catalogue is created. ``then_rest``: see :func:`plan_passes`.
    """
    if window is None and budget_bytes is None:
        raise InputError("plan_next_pass needs a window or a budget_bytes")
    if window is None:
        aos = datetime.now(UTC)
        window = ContactWindow("(budget given)", aos, aos, 0.0)
    (plan,) = plan_passes(
        db,
        [window],
        rate_bps,
        budget_bytes=None if budget_bytes is None else [budget_bytes],
        create=True,
        max_rebuilds=max_rebuilds,
        then_rest=then_rest,
        **budget_kwargs,
    )
    request = request_of(plan)
    if record and request is not None:
        record_uplink(db, plan, request)
    return plan, request


def request_of(plan: PassPlan) -> bytes | None:
    """The DOWNLINK_REQUEST of ``plan``, or None while the catalogue holds no store directory.

    The satellite sends exactly what a request asks for (with its REST entry, then the rest
    of its store in priority order), and without a request its store in priority order
    (``triage/WIRE_FORMAT.md``, the pass protocol). Before the ground has seen the store it
    has nothing to ask for that the satellite would not send unasked.
    """
    if plan.directory is None:
        return None
    return request_for(plan.releases + plan.items, plan.seq_count, plan.then_rest)


def record_uplink(db: str | os.PathLike, plan: PassPlan, request: bytes) -> None:
    """Log a request as uplinked (the ``uplinks`` table numbers the telecommands'
    sequence counts), count the requests for products again, and keep the reason of
    each product the request gives up."""
    with Catalogue.open(db) as cat, cat.transaction() as con:
        con.execute(
            "INSERT INTO uplinks (created, seq_count, request, plan) VALUES (?, ?, ?, ?)",
            (
                datetime.now(UTC).isoformat(),
                plan.seq_count,
                request,
                json.dumps(plan.to_json()),
            ),
        )
        con.executemany(
            "UPDATE products SET rebuilds=?, rebuild_next=? WHERE frame_id=? AND product_id=?",
            [
                (
                    i.rebuild,
                    i.segment_last + 1 if i.segment_last + 1 < i.segment_count else 0,
                    i.frame_id,
                    i.product_id,
                )
                for i in plan.items
                if i.rebuild
            ],
        )
        con.executemany(
            "UPDATE products SET given_up=? WHERE frame_id=? AND product_id=? "
            "AND given_up IS NULL AND status != 'complete'",
            [(i.reason, i.frame_id, i.product_id) for i in plan.releases if i.gives_up],
        )


def check_request_path(path: str | os.PathLike, db: str | os.PathLike, overwrite: bool) -> Path:
    """Where a DOWNLINK_REQUEST may be written: :class:`InputError` for a file of the
    catalogue ``db`` (database, WAL, shared memory, pack, lock: by real path, so a
    symlink to one is refused too), any SQLite database (another catalogue), anything
    but a regular file (a FIFO, a device, a folder), a missing folder, or an existing
    file unless ``overwrite``."""
    path = Path(path)
    real = Path(os.path.realpath(path))
    what = f"--request-out {path}"
    if real in catalogue_files(db):
        raise InputError(f"{what} is a file of the catalogue {db}: refused")
    if not real.parent.is_dir():
        raise InputError(f"{what}: folder {real.parent} does not exist")
    if not os.path.lexists(path):
        return path
    try:
        mode = os.stat(real).st_mode
    except FileNotFoundError:
        raise InputError(f"{what} is a dangling symlink: refused") from None
    if not stat.S_ISREG(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file (a FIFO, a device?)"
        raise InputError(f"{what} is {kind}: refused")
    with open(real, "rb") as f:
        head = f.read(16)
    if head == b"SQLite format 3\0" or (
        real.suffix in (".segments", ".lock") and real.with_suffix("").exists()
    ):
        raise InputError(f"{what} is a database or a catalogue's file: refused")
    if not overwrite:
        raise InputError(f"{what} exists: give --overwrite to replace it")
    return path


def write_request(
    path: str | os.PathLike,
    db: str | os.PathLike,
    plan: PassPlan,
    request: bytes,
    *,
    overwrite: bool = False,
) -> None:
    """Write the request to ``path`` (checked by :func:`check_request_path`) and log it as
    uplinked: the bytes go to a temporary file beside it, the log is committed, then the
    file is renamed into place. A request that cannot be written is not logged."""
    path = check_request_path(path, db, overwrite)
    tmp = path.with_name(f".{path.name}.part-{os.getpid()}")
    try:
        with open(tmp, "xb") as f:
            f.write(request)
            f.flush()
            os.fsync(f.fileno())
        record_uplink(db, plan, request)
        os.replace(tmp, path)
    except OSError as exc:
        raise InputError(f"--request-out {path}: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
