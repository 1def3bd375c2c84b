"""The host simulator: an image set through the firmware, the passes and the ground station.

``run_simulation`` is what ``triage simulate MANIFEST --out DIR`` calls:

1. **Check everything first** (nothing is written before): the manifest, every
   frame's GeoTIFF headers (bands, grid, CRS), the labels, the orbit and the
   passes (the ground station's contact windows and byte budgets).
2. **Replay the timeline**. Frames are captured in time order and go through the
   firmware (``Onboard.process_frame``), whose products wait in its on-board store.
   At each pass the satellite sends its STORE_DIRECTORY; the ground ingests it,
   plans the pass within its budget and uplinks a DOWNLINK_REQUEST (new products,
   missing segments of incomplete ones, releases); the satellite sends what was
   asked; the channel loses packets (the manifest's seeded model); the ground
   ingests what arrived. Lost segments are asked for again in the next pass. With
   ``packet_loss.model = "link_budget"`` the packets travel as the firmware's CADUs
   with the bit errors of the link budget along the pass, and the ground decodes them
   with its receiver (:mod:`triage.sim.channel`).
3. **The baselines** (every frame raw; every frame CCSDS 121-compressed) run over
   the same passes with the same loss model (:mod:`triage.sim.baselines`).
4. **The ground exports** its products (GeoTIFFs, mosaics, detections), and the
   run is **checked**, **scored** against the labels and **reported**
   (``report.html``, ``metrics.json``).

Everything is written into a temporary folder beside ``DIR`` and renamed to
``DIR`` only when the run is complete, so a failed run never leaves a folder that
looks finished.

This module only orchestrates; each side has its own module:
:mod:`~triage.sim.satellite` (the firmware and its store),
:mod:`~triage.sim.link` (passes, packet timing, the loss channel),
:mod:`~triage.sim.ground` (the ground station library: ingest, plan, catalogue,
export), :mod:`~triage.sim.tracker` (the independent packet tracker),
:mod:`~triage.sim.verification` (crops against the sources, on-board
diagnostics), :mod:`~triage.sim.scoring`, :mod:`~triage.sim.mosaics` and
:mod:`~triage.sim.report`.
"""

from __future__ import annotations

import os
import shutil
import time
from bisect import bisect_left
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import numpy as np
from pydantic import ValidationError

from triage.contract.frames import CADU_BYTES, VC_DIRECTORY, VC_PRODUCTS, packet_budget
from triage.contract.packets import split_packets
from triage.contract.tile_spec import tile_spec
from triage.errors import FirmwareError
from triage.onboard import DEFAULT_STORE_BYTES, link_encode
from triage.sim.baselines import (
    BASELINE_TITLES,
    BASELINES,
    COMPRESSED,
    RAW,
    BaselineDownlink,
    compressed_product_bytes,
    raw_product_bytes,
)
from triage.sim.channel import PassLink, PhysicalChannel, packet_frames, packets_survived
from triage.sim.errors import ManifestError, OutputError
from triage.sim.frames import FrameGeo, check_frames, read_frame
from triage.sim.ground import CADU_DATA_BYTES, ExportReport, Ground
from triage.sim.link import LossChannel, Pass, Transmission, plan_passes, transmit
from triage.sim.manifest import Frame, Link, Manifest, load_manifest
from triage.sim.mosaics import scene_mosaics
from triage.sim.report import write_report
from triage.sim.results import TRIAGE, FrameRecord, ModeRun, PassTraffic, SimResult
from triage.sim.satellite import (
    Capture,
    M4Replay,
    Satellite,
    check_gain_sources,
    check_image,
)
from triage.sim.scoring import Delivery, LabelledShip, labelled_ships, score
from triage.sim.tracker import PacketTracker
from triage.sim.verification import onboard_diagnostics, ship_crops_disagree, verify_crops

TARGETS = ("host", "qemu")

Progress = Callable[[str, int, int], None]
"""``progress(what, frames done, frames in all)``, called before and after each frame."""


def run_simulation(
    manifest_path: Path,
    out_dir: Path,
    *,
    target: str = "host",
    overwrite: bool = False,
    progress: Progress | None = None,
    rate_bps: int | None = None,
) -> SimResult:
    """Run a manifest; write ``report.html``, ``metrics.json`` and the ground's products.

    ``target="qemu"``: the firmware operations of the run (every frame, every
    directory, every downlink with its request) are replayed in one boot of the
    Cortex-M4 image under QEMU and must give the host build's bytes exactly
    (:class:`~triage.errors.FirmwareError` naming the first operation that differs);
    the report then carries the image's instruction count per frame.
    """
    t_start = time.perf_counter()
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
    # 1. check everything first
    manifest_path = Path(manifest_path)
    manifest = _with_rate(load_manifest(manifest_path), rate_bps)
    mdir = manifest_path.resolve().parent
    geos = check_frames(manifest, mdir)
    check_gain_sources(manifest)
    ships = labelled_ships(manifest, mdir)
    passes = plan_passes(manifest)
    if target == "qemu":
        check_image()
    tmp = _prepare_out(out_dir, overwrite)
    try:
        result = _run(manifest, geos, ships, passes, tmp, target, progress)
        result.runtime_s = time.perf_counter() - t_start
        write_report(result, tmp)
        _finish_out(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return result


def _with_rate(manifest: Manifest, rate_bps: int | None) -> Manifest:
    """The manifest with its downlink rate overridden (``--rate-bps``)."""
    if rate_bps is None:
        return manifest
    fields = {"rate_bps": int(rate_bps), "name": f"{int(rate_bps):,} bit/s"}
    try:  # the manifest's own bounds, checked before any pass is computed
        link = Link.model_validate({**manifest.link.model_dump(), **fields})
    except ValidationError as exc:
        raise ManifestError(f"--rate-bps {rate_bps}: {exc.errors()[0]['msg']}") from None
    return manifest.model_copy(update={"link": link})


def _run(
    manifest: Manifest,
    geos: dict[int, FrameGeo],
    ships: list[LabelledShip],
    passes: list[Pass],
    tmp: Path,
    target: str,
    progress: Progress | None,
) -> SimResult:
    rate = manifest.link.rate_bps
    classes = list(tile_spec().classes)
    store_bytes = manifest.onboard.store_capacity_bytes or DEFAULT_STORE_BYTES
    satellite = Satellite(store_bytes, record_ops=target == "qemu")
    ground = Ground(tmp / "ground")
    tracker = PacketTracker()
    # independent, seeded loss streams: one per mode, one for the uplink
    loss = {m: LossChannel(manifest.packet_loss, m) for m in (TRIAGE, *BASELINES)}
    uplink_loss = LossChannel(manifest.packet_loss, "uplink")
    physical = manifest.packet_loss.model == "link_budget"
    phys = {m: PhysicalChannel(manifest, m) for m in (TRIAGE, *BASELINES)} if physical else {}
    baselines = {m: BaselineDownlink(m, loss[m], rate, phys.get(m)) for m in BASELINES}
    modes = {
        TRIAGE: ModeRun(TRIAGE, "on-board triage (firmware products, ground-planned passes)"),
        **{m: ModeRun(m, BASELINE_TITLES[m]) for m in BASELINES},
    }
    frames = manifest.frames_in_capture_order()
    camera = _Camera(frames, geos, satellite, baselines, classes, progress)

    # 2. replay the timeline, and 3. the baselines over the same passes
    for p in passes:
        camera.capture_before(p.aos)
        if physical:
            tr = _triage_pass_physical(p, satellite, ground, tracker, phys[TRIAGE])
        else:
            tr = _triage_pass(
                p, satellite, ground, tracker, loss[TRIAGE], uplink_loss, manifest.link
            )
        modes[TRIAGE].traffic.append(tr)
        for m in BASELINES:
            modes[m].traffic.append(_baseline_pass(baselines[m], p))
    camera.capture_before(None)  # frames after the last pass: captured, never sent
    records, notes = camera.records, camera.notes
    if physical:
        notes += _physical_notes(modes[TRIAGE].traffic)
    late = sum(1 for f in frames if f.capture_time_utc >= passes[-1].aos)
    if late:
        notes.append(f"{late} frame(s) captured after the last pass of the window")
    m4 = _replay_on_qemu(satellite, records, notes) if satellite.record_ops else None

    # 4. the ground exports its products; the run is checked and scored
    export = ground.export()
    masks = ground.ship_crop_masks()
    notes += _check(ground, tracker, masks, export, geos)
    by_id = {f.frame_id: f for f in manifest.frames}
    modes[TRIAGE].outcomes = score(ships, tracker.ship_deliveries(masks), by_id)
    for m in BASELINES:
        modes[m].outcomes = score(ships, _whole_frames(baselines[m], by_id), by_id)
    onboard = {
        **onboard_diagnostics(
            ships,
            modes[TRIAGE].outcomes,
            camera.crop_tiles,
            sum(r.tiles_total for r in records),
            geos,
            by_id,
        ),
        **_store_counters(satellite),
        **(m4.counters() if m4 is not None else {}),
    }
    return SimResult(
        manifest_name=manifest.name,
        link_name=manifest.link.name,
        rate_bps=rate,
        target=target,
        window_start=manifest.window_start_utc,
        window_end=manifest.window_end_utc,
        classes=classes,
        passes=passes,
        frames=records,
        modes=modes,
        attribution=list(manifest.attribution),
        loss_model={
            **manifest.packet_loss.model_dump(),
            **({"link_budget": manifest.link.budget.model_dump()} if physical else {}),
        },
        notes=notes,
        mosaics=scene_mosaics(export, manifest, geos, ground.folder / "export"),
        ground=ground.counters,
        onboard=onboard,
    )


def _replay_on_qemu(satellite: Satellite, records: list[FrameRecord], notes: list[str]) -> M4Replay:
    """The run's firmware operations on the Cortex-M4 image: instructions per frame."""
    m4 = satellite.replay_on_qemu()
    for rec in records:
        rec.m4_insns = m4.insns_by_frame.get(rec.frame_id)
    notes.append(
        f"target qemu: {m4.operations} firmware operations replayed in one boot of the "
        "Cortex-M4 image; every frame record, directory and downlink identical to the "
        "host build's, byte for byte"
    )
    return m4


def _check(
    ground: Ground,
    tracker: PacketTracker,
    masks: dict,
    export: ExportReport,
    geos: dict[int, FrameGeo],
) -> list[str]:
    """The ground's products against the tracker and the sources: counters, and notes
    on what disagrees."""
    notes = []
    ground.counters["products_complete"] = len(tracker.complete())
    ground.counters["ship_crops_complete"] = len(masks)
    disagree = ship_crops_disagree(set(masks), tracker.complete_ship_crops())
    if disagree:
        notes.append(disagree)
    checked, exact = verify_crops(export, geos)
    ground.counters["crops_exported"] = len(export.crops)
    ground.counters["crops_bit_exact"] = exact
    if exact != checked:
        notes.append(f"only {exact} of {checked} exported crops equal the source where kept")
    ground.counters["detections"] = export.n_detections
    return notes


def _store_counters(satellite: Satellite) -> dict[str, int]:
    fw = satellite.counters()
    return {
        "products_dropped": fw.get("products_dropped", 0),
        "products_evicted": fw.get("products_evicted", 0),
        "requests_rejected": fw.get("requests_rejected", 0),
        "store_bytes": satellite.store_bytes,
    }


class _Camera:
    """Frames captured in time order: read, through the firmware, held by the baselines."""

    def __init__(
        self,
        frames: list[Frame],
        geos: dict[int, FrameGeo],
        satellite: Satellite,
        baselines: dict[str, BaselineDownlink],
        classes: list[str],
        progress: Progress | None,
    ):
        self.frames = frames
        self.times = [f.capture_time_utc for f in frames]
        self.geos = geos
        self.satellite = satellite
        self.baselines = baselines
        self.classes = classes
        self.progress = progress
        self.records: list[FrameRecord] = []
        self.crop_tiles: dict[int, list[tuple[int, int]]] = {}  # frame -> cropped tiles
        self.notes: list[str] = []

    def capture_before(self, t: datetime | None) -> None:
        """Capture every frame not captured yet and taken before ``t`` (None: all)."""
        end = len(self.frames) if t is None else bisect_left(self.times, t)
        for f in self.frames[len(self.records) : end]:
            self._capture(f)

    def _capture(self, f: Frame) -> None:
        geo = self.geos[f.frame_id]
        label = f"frame {f.frame_id} ({f.scene})"
        if self.progress:
            self.progress(label, len(self.records), len(self.frames))
        px = read_frame(geo, f)
        cap = self.satellite.capture(f, geo, px)
        self.notes += cap.notes
        self.crop_tiles[f.frame_id] = cap.crop_tiles
        cfg = self.satellite.config
        compressed = compressed_product_bytes(
            px, cfg["aec_block_size"], cfg["aec_rsi"], dn_scale=f.dn_scale
        )
        self.baselines[RAW].capture(f.frame_id, f.capture_time_utc, raw_product_bytes(px))
        self.baselines[COMPRESSED].capture(f.frame_id, f.capture_time_utc, compressed)
        self.records.append(_frame_record(f, geo, cap, compressed, self.classes))
        if self.progress:
            self.progress(label, len(self.records), len(self.frames))


def _frame_record(
    f: Frame, geo: FrameGeo, cap: Capture, compressed_bytes: int, classes: list[str]
) -> FrameRecord:
    c = cap.counts
    return FrameRecord(
        frame_id=f.frame_id,
        scene=f.scene,
        row0=f.window.row0,
        col0=f.window.col0,
        rows=f.window.rows,
        cols=f.window.cols,
        capture_time=f.capture_time_utc,
        raw_bytes=geo.raw_bytes,
        compressed_bytes=compressed_bytes,
        tiles_total=c["tiles_total"],
        tiles_nodata=c["tiles_nodata"],
        tiles_by_class=cap.tiles_by_class(classes),
        tiles_discarded_by_class=cap.discarded_by_class(classes),
        ship_regions=c["ship_regions"],
        products=c["products_added"],
        product_bytes=c["bytes_added"],
        process_s=cap.process_s,
    )


def _triage_pass(
    p: Pass,
    satellite: Satellite,
    ground: Ground,
    tracker: PacketTracker,
    channel: LossChannel,
    uplink: LossChannel,
    link: Link,
) -> PassTraffic:
    """One pass of on-board triage: directory, plan and request, downlink, ingest."""
    tr = PassTraffic()
    used = 0
    # a. the satellite opens the pass with its store directory
    directory = satellite.directory()
    packets = split_packets(directory)
    if packets and len(directory) <= p.budget_bytes:
        tx = transmit(packets, 0, channel)
        _arrive(tx, p, link.rate_bps, ground, tracker)
        used = tr.directory_bytes = tx.end
        tr.add(tx)
    # b. the ground plans the pass over its contact window and uplinks its request
    request, tr.request_entries = ground.plan(p.window, link.rate_bps, p.budget_bytes)
    if request is not None and not link.uplink_reliable and uplink.lost(1)[0]:
        ground.request_lost()
        request = None
    # c. the satellite sends what was asked, within the rest of the budget
    packets = split_packets(satellite.downlink(p.budget_bytes - used, request))
    if packets:
        tx = transmit(packets, used, channel)
        if tx.end > p.budget_bytes:
            raise FirmwareError(
                f"pass {p.index}: the firmware sent {tx.end} bytes, over the budget of "
                f"{p.budget_bytes}"
            )
        tr.products_completed = _arrive(tx, p, link.rate_bps, ground, tracker)
        used = tx.end
        tr.add(tx)
    tr.sent_bytes = used
    return tr


def _triage_pass_physical(
    p: Pass, satellite: Satellite, ground: Ground, tracker: PacketTracker, ch: PhysicalChannel
) -> PassTraffic:
    """One pass of on-board triage on the physical channel: the directory and the
    downlink go through the firmware's link layer as CADUs, take the bit errors of their
    moment in the pass, and the ground's receiver decodes them (:mod:`triage.sim.channel`).
    As the firmware does, the directory travels on its virtual channel and the products on
    theirs; each transmission is encoded on its own (frame counts from 0; the ground
    ingests it as one stream).
    The pass carries ``budget_bytes / DATA_FIELD_BYTES`` CADUs; each transmission sends
    whole frames (its last one filled with idle packets), within what is left."""
    tr = PassTraffic(link=PassLink())
    n_cadus = p.budget_bytes // CADU_DATA_BYTES
    used = 0  # CADUs of the pass sent so far
    source = f"pass-{p.index:04d}"

    def send(stream: bytes, vcid: int) -> int:
        nonlocal used
        packets = split_packets(stream)
        if not packets:
            return 0
        cadus = link_encode(stream, "cadu", vcid=vcid)
        first, n = used, len(cadus) // CADU_BYTES
        received, outcome = ch.send_cadus(p, first, cadus, tr.link)
        k = ground.receive_cadus(received, source)
        lk = tr.link
        lk.symbols_corrected = (lk.symbols_corrected or 0) + k.get("symbols_corrected", 0)
        lk.codeblocks_uncorrectable = (lk.codeblocks_uncorrectable or 0) + k.get(
            "codeblocks_uncorrectable", 0
        )
        lk.frames_received = (lk.frames_received or 0) + k.get("frames", 0)
        sizes = np.array([len(x) for x in packets])
        lost = ~packets_survived(sizes, outcome.survived)
        _, last = packet_frames(sizes)
        tx = Transmission(
            packets,
            lost,
            first * CADU_DATA_BYTES + np.cumsum(sizes),
            arrival_s=ch.cadu_times(first, n)[last],
        )
        tr.add(tx)
        used += n
        completed = 0
        for pk, when in tx.arrived(p, ch.rate_bps):
            completed += tracker.add(pk, when)
        return completed

    directory = satellite.directory()
    if directory and len(directory) <= packet_budget(n_cadus * CADU_BYTES, CADU_BYTES):
        send(directory, VC_DIRECTORY)
        tr.directory_bytes = len(directory)
    request, tr.request_entries = ground.plan(p.window, ch.rate_bps, p.budget_bytes)
    budget = packet_budget((n_cadus - used) * CADU_BYTES, CADU_BYTES)
    stream = satellite.downlink(budget, request)
    if len(stream) > budget:
        raise FirmwareError(
            f"pass {p.index}: the firmware sent {len(stream)} bytes, over the budget of {budget}"
        )
    tr.products_completed = send(stream, VC_PRODUCTS)
    tr.sent_bytes = tr.directory_bytes + len(stream)
    return tr


def _physical_notes(traffic: list[PassTraffic]) -> list[str]:
    """The ground's receiver against what the error pattern says it must do."""
    links = [t.link for t in traffic if t.link is not None]
    sent = sum(k.cadus_sent for k in links)
    lost, expected = sum(k.frames_lost for k in links), sum(k.frames_lost_expected for k in links)
    fixed = sum(k.symbols_corrected or 0 for k in links)
    fixed_expected = sum(k.symbols_corrected_expected for k in links)
    notes = [
        f"physical channel: {sent} CADUs sent, {sum(k.bit_errors for k in links)} bit errors, "
        f"{fixed} symbols corrected by the ground's Reed-Solomon decoder, {lost} frames lost"
    ]
    if (lost, fixed) != (expected, fixed_expected):
        notes.append(
            f"the ground's receiver lost {lost} frames and corrected {fixed} symbols; the error "
            f"pattern says {expected} and {fixed_expected} (a sync loss or a miscorrection)"
        )
    return notes


def _arrive(
    tx: Transmission, p: Pass, rate_bps: int, ground: Ground, tracker: PacketTracker
) -> int:
    """The packets that survived the channel reach the ground station and the tracker;
    returns the products they completed."""
    arrived = tx.arrived(p, rate_bps)
    completed = sum(tracker.add(pk, when) for pk, when in arrived)
    ground.receive([pk for pk, _ in arrived], source=f"pass-{p.index:04d}")
    return completed


def _baseline_pass(baseline: BaselineDownlink, p: Pass) -> PassTraffic:
    r = baseline.run_pass(p)
    return PassTraffic(
        sent_bytes=r.sent_bytes,
        packets_sent=r.packets_sent,
        packets_lost=r.packets_lost,
        products_completed=len(r.completed),
        link=r.link,
    )


def _whole_frames(baseline: BaselineDownlink, frames: dict[int, Frame]) -> list[Delivery]:
    """A baseline's deliveries: whole frames, complete on the ground."""
    return [
        Delivery(fid, 0, 0, frames[fid].window.rows, frames[fid].window.cols, when)
        for fid, when in baseline.delivered.items()
    ]


def _prepare_out(out_dir: Path, overwrite: bool) -> Path:
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"output {out_dir} exists and is not a folder")
    if out_dir.exists() and any(out_dir.iterdir()) and not overwrite:
        raise OutputError(
            f"output folder {out_dir} exists and is not empty (choose another, or --overwrite)"
        )
    parent = out_dir.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = parent / f".{out_dir.name}.partial-{os.getpid()}"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
    except OSError as exc:
        raise OutputError(f"cannot write in {parent}: {exc}") from None
    return tmp


def _finish_out(tmp: Path, out_dir: Path) -> None:
    out_dir = Path(out_dir)
    if out_dir.exists():
        old = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"
        out_dir.rename(old)
        tmp.rename(out_dir)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(out_dir)
