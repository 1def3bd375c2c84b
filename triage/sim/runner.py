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
from triage.onboard import DEFAULT_STORE_BYTES, link_encode, model_sha256
from triage.sim import model_update
from triage.sim.baselines import (
    BASELINE_TITLES,
    BASELINES,
    COMPRESSED,
    RAW,
    BaselineDownlink,
    compressed_product_bytes,
    raw_product_bytes,
)
from triage.sim.build import LINKS
from triage.sim.channel import PassLink, PhysicalChannel, packet_frames, packets_survived
from triage.sim.classifiers import (
    AUTO,
    Assignment,
    ClassifierSet,
    Thresholds,
    assign,
    check_compiled_in,
    frame_sources,
    load_classifiers,
    model_package,
    packaged,
    resolve_choice,
    thresholds,
)
from triage.sim.classifiers import label as sample_label
from triage.sim.constellation import (
    assign_satellites,
    constellation_passes,
    constellation_tles,
    spacecraft_ids,
)
from triage.sim.errors import ClassifierError, ManifestError, OutputError
from triage.sim.frames import (
    FrameGeo,
    box_lonlat,
    check_frames,
    footprint_lonlat,
    read_frame,
    to_lonlat,
)
from triage.sim.ground import CADU_DATA_BYTES, ExportReport, Ground
from triage.sim.link import LossChannel, Pass, Transmission, transmit
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
from triage.sim.scenarios import realized
from triage.sim.scoring import Delivery, LabelledShip, crop_hits, labelled_ships, score
from triage.sim.streams import StreamKeeper, prepare_streams_dir, write_streams
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
    model: str = AUTO,
    classifiers: Path | None = None,
    keep_streams: Path | None = None,
    write_html: bool = True,
) -> SimResult:
    """Run a manifest; write ``report.html``, ``metrics.json`` and the ground's products.

    ``model``: ``auto`` (each frame classified by a model that never saw its imagery
    where the registry has one, :mod:`triage.sim.classifiers`) or a classifier name
    (``shipped``: the compiled-in model for every frame); either way every frame and
    the totals are labelled in-sample or out-of-sample. ``classifiers``: the registry
    (default ``$TRIAGE_CLASSIFIERS``, else ``models/classifiers.json``).

    ``target="qemu"``: the firmware operations of the run (every frame, every
    directory, every downlink with its request) are replayed in one boot of the
    Cortex-M4 image under QEMU per satellite (a satellite's own spacecraft id set first
    by the image's ``link`` step) and must give the host build's bytes exactly
    (:class:`~triage.errors.FirmwareError` naming the first operation that differs);
    the report then carries the image's instruction count per frame. The image boots
    with the model of the run's first frames: the compiled-in one, or a fold model's
    package preloaded in its model flash (:func:`triage.sim.classifiers.preloaded_flash`);
    where the next frames need another model, the replay programs the model flash again
    between frames (the image's ``load`` step, a simulation's device, not a flight
    operation), so a run over several models takes one boot.
    """
    t_start = time.perf_counter()
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
    # 1. check everything first
    given_dir = Path(manifest_path).resolve().parent  # the model update's files are beside it
    manifest_path = realized(Path(manifest_path), registry=classifiers)  # a scenario's frames
    manifest = _with_rate(load_manifest(manifest_path), rate_bps)
    mdir = manifest_path.resolve().parent
    geos = check_frames(manifest, mdir)
    check_gain_sources(manifest)
    ships = labelled_ships(manifest, mdir)
    manifest, sat_of = assign_satellites(manifest, geos)
    passes = constellation_passes(manifest)
    onboard_plan = plan_classifiers(manifest, model, target, classifiers)
    onboard_plan.update = model_update.prepare(
        manifest, given_dir, passes, onboard_plan.cset, target=target, choice=model
    )
    if target == "qemu":
        check_image()
    if keep_streams is not None:
        prepare_streams_dir(keep_streams, overwrite)
    keeper = StreamKeeper() if keep_streams is not None else None
    tmp = _prepare_out(out_dir, overwrite)
    try:
        result = _run(
            manifest, geos, ships, passes, tmp, target, progress, onboard_plan, keeper, sat_of
        )
        result.runtime_s = time.perf_counter() - t_start
        write_report(result, tmp, with_html=write_html)
        if keeper is not None:
            sent = [(t.packets_sent, t.sent_bytes) for t in result.modes[TRIAGE].traffic]
            write_streams(
                keeper,
                manifest,
                passes,
                sent,
                [tmp / _ground_folder(k) for k in range(manifest.orbit.satellites)],
                Path(keep_streams),
            )
        _finish_out(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return result


class OnboardPlan:
    """The classifier and decision thresholds of every frame, checked before the run."""

    def __init__(
        self,
        cset: ClassifierSet,
        choice: str,
        assignments: dict[int, Assignment],
        thresholds: dict[str, Thresholds | None],
        override: bool = False,
    ):
        self.override = override  # onboard.policy overrides the models' own policies
        self.cset = cset
        self.choice = choice
        self.assignments = assignments
        self.thresholds = thresholds
        self.update: model_update.UplinkPlan | None = None  # onboard.model_update


def plan_classifiers(
    manifest: Manifest, choice: str, target: str, registry: Path | None = None
) -> OnboardPlan:
    """Assign a classifier to every frame and compile the ones not built in (a clear
    error before anything is written when one cannot be used)."""
    cset = load_classifiers(registry)
    check_compiled_in(cset, model_sha256())
    choice = resolve_choice(choice, cset)
    assignments = {f.frame_id: assign(f, cset, choice) for f in manifest.frames}
    used = sorted({a.model for a in assignments.values()})
    th = {name: thresholds(cset.get(name), manifest.onboard.policy) for name in used}
    override = manifest.onboard.policy is not None and not manifest.onboard.policy.is_empty()
    if manifest.onboard.model_update is None:
        for name in used:
            c = cset.get(name)
            if not c.compiled_in and not packaged(cset, c) and target == "qemu":
                raise ClassifierError(
                    f"--target qemu: frames {_ids(assignments, name)} use {name!r}, which "
                    f"the Cortex-M4 image cannot hold: {_no_package(cset, c)} (run them on "
                    "the host, or with --model shipped)"
                )
            if target == "qemu" and (override or (c.compiled_in and th[name] is not None)):
                raise ClassifierError(
                    "--target qemu: the Cortex-M4 image decides with the bound model's "
                    f"policy (its package's, or the build's); the run asks for other "
                    f"thresholds for {name!r} (onboard.policy or its policy.json)"
                )
    return OnboardPlan(cset, choice, assignments, th, override)


def _no_package(cset: ClassifierSet, c) -> str:
    try:
        model_package(cset, c)
    except ClassifierError as exc:
        return str(exc)
    return "it has a package"


def _ids(assignments: dict[int, Assignment], name: str) -> str:
    ids = [fid for fid, a in sorted(assignments.items()) if a.model == name]
    return ", ".join(map(str, ids[:8])) + (" ..." if len(ids) > 8 else "")


def _with_rate(manifest: Manifest, rate_bps: int | None) -> Manifest:
    """The manifest with its downlink rate overridden (``--rate-bps``)."""
    if rate_bps is None:
        return manifest
    known = [k.name for k in LINKS.values() if k.rate_bps == int(rate_bps)]
    fields = {"rate_bps": int(rate_bps), "name": known[0] if known else f"{int(rate_bps):,} bit/s"}
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
    plan: OnboardPlan,
    keeper: StreamKeeper | None = None,
    sat_of: dict[int, int] | None = None,
) -> SimResult:
    rate = manifest.link.rate_bps
    classes = list(tile_spec().classes)
    store_bytes = manifest.onboard.store_capacity_bytes or DEFAULT_STORE_BYTES
    n_sat = manifest.orbit.satellites
    sat_of = sat_of or {f.frame_id: 0 for f in manifest.frames}
    # one firmware, store, ground link and packet tracker per satellite, each with its id
    ids = spacecraft_ids(n_sat)
    sats = [
        Satellite(store_bytes, record_ops=target == "qemu", spacecraft_id=ids[k])
        for k in range(n_sat)
    ]
    update = plan.update
    if update is not None:  # one satellite (checked): the launch model in its model manager
        sats[0].fly_models(update.launch_package, update.satellite_keys)
    else:  # each satellite starts with its first frame's model bound (as the image boots)
        order = manifest.frames_in_capture_order()
        for k, sat in enumerate(sats):
            first = next((f for f in order if sat_of[f.frame_id] == k), None)
            if first is not None:
                _use(sat, plan, plan.assignments[first.frame_id].model)
    grounds = [Ground(tmp / _ground_folder(k), ids[k]) for k in range(n_sat)]
    trackers = [PacketTracker() for _ in range(n_sat)]

    # independent, seeded loss streams: one per mode and satellite, one per uplink
    def stream(name: str, k: int) -> str:
        return name if k == 0 else f"{name}/sat{k + 1}"

    loss = {
        (m, k): LossChannel(manifest.packet_loss, stream(m, k))
        for m in (TRIAGE, *BASELINES)
        for k in range(n_sat)
    }
    uplink = [LossChannel(manifest.packet_loss, stream("uplink", k)) for k in range(n_sat)]
    # the physical channel (packet_loss.model link_budget): each satellite's link budget
    # along its own passes, from its own orbit
    physical = manifest.packet_loss.model == "link_budget"
    phys = {}
    if physical:
        tles = constellation_tles(manifest.orbit.tle, n_sat)
        phys = {
            (m, k): PhysicalChannel(manifest, stream(m, k), tles[k])
            for m in (TRIAGE, *BASELINES)
            for k in range(n_sat)
        }
    baselines = {
        (m, k): BaselineDownlink(m, loss[(m, k)], rate, phys.get((m, k)))
        for m in BASELINES
        for k in range(n_sat)
    }
    modes = {
        TRIAGE: ModeRun(TRIAGE, "on-board triage (firmware products, ground-planned passes)"),
        **{m: ModeRun(m, BASELINE_TITLES[m]) for m in BASELINES},
    }
    frames = manifest.frames_in_capture_order()
    camera = _Camera(frames, geos, sats, sat_of, baselines, classes, progress, plan)

    # 2. replay the timeline, and 3. the baselines over the same passes
    for p in passes:
        k = p.satellite
        camera.capture_before(p.aos)
        if physical:
            tr = _triage_pass_physical(
                p, sats[k], grounds[k], trackers[k], phys[(TRIAGE, k)], keeper
            )
        else:
            tr = _triage_pass(
                model_update.pass_budget(update, p),
                sats[k],
                grounds[k],
                trackers[k],
                loss[(TRIAGE, k)],
                uplink[k],
                manifest.link,
                keeper,
                update,
            )
        modes[TRIAGE].traffic.append(tr)
        for m in BASELINES:
            modes[m].traffic.append(_baseline_pass(baselines[(m, k)], p))
    camera.capture_before(None)  # frames after the last pass: captured, never sent
    records, notes = camera.records, camera.notes
    if physical:
        notes += _physical_notes(modes[TRIAGE].traffic)
    late = sum(1 for f in frames if f.capture_time_utc >= passes[-1].aos)
    if late:
        notes.append(f"{late} frame(s) captured after the last pass of the window")
    m4 = _replay_on_qemu(sats, records, notes) if target == "qemu" else None

    # 4. the grounds export their products; the run is checked and scored
    by_id = {f.frame_id: f for f in manifest.frames}
    deliveries: list[Delivery] = []
    mosaics: list[dict] = []
    ground_counters: dict[str, int] = {}
    for k in range(n_sat):
        export = grounds[k].export()
        masks = grounds[k].ship_crop_masks()
        notes += _check(grounds[k], trackers[k], masks, export, geos)
        deliveries += trackers[k].ship_deliveries(masks)
        mosaics += scene_mosaics(export, manifest, geos, grounds[k].folder / "export")
        for key, v in grounds[k].counters.items():
            ground_counters[key] = ground_counters.get(key, 0) + v
    modes[TRIAGE].outcomes = score(ships, deliveries, by_id)
    update_deliveries = list(deliveries)
    modes[TRIAGE].crop_hits = crop_hits(ships, deliveries, by_id)
    modes[TRIAGE].crop_outlines = [
        box_lonlat(geos[d.frame_id], d.row0, d.col0, d.rows, d.cols) for d in deliveries
    ]
    modes[TRIAGE].crop_frames = [d.frame_id for d in deliveries]
    _frame_crops(records, deliveries, modes[TRIAGE].crop_hits, ships, by_id)
    for m in BASELINES:
        whole = [d for k in range(n_sat) for d in _whole_frames(baselines[(m, k)], by_id)]
        modes[m].outcomes = score(ships, whole, by_id)
    onboard = {
        **onboard_diagnostics(
            ships,
            modes[TRIAGE].outcomes,
            camera.crop_cells,
            sum(r.cells_total for r in records),
            geos,
            by_id,
        ),
        **_store_counters(sats),
        **(m4.counters() if m4 is not None else {}),
    }
    if n_sat > 1:
        onboard["satellites"] = n_sat
    res = SimResult(
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
        mosaics=mosaics,
        ground=ground_counters,
        onboard=onboard,
        model_choice=plan.choice,
        scenario=_scenario_record(manifest),
        ship_samples=_ship_samples(ships, records, by_id),
        stations=[
            {"name": s.name, "lat": s.latitude_deg, "lon": s.longitude_deg}
            for s in manifest.stations
        ],
        frame_footprints={fid: footprint_lonlat(g) for fid, g in geos.items()},
        ship_lonlat=_ships_lonlat(ships, manifest.frames, geos),
        uplink_reliable=manifest.link.uplink_reliable,
        policy=(
            manifest.onboard.policy.model_dump(exclude_none=True)
            if manifest.onboard.policy is not None
            else None
        ),
    )
    if update is not None:
        res.model_update = model_update.summarize(
            update, res, ships, update_deliveries, by_id, _holds
        )
        res.model_update["ground_frame_models"] = grounds[0].frame_models()
    return res


def _scenario_record(manifest: Manifest) -> dict:
    """The scenario the report and the targets speak of."""
    if manifest.scenario is not None:
        sc = manifest.scenario
        out: dict = {"kind": sc.kind}
        if sc.kind == "maritime":
            out.update(sc.maritime_spec.model_dump())
        elif sc.ports:
            out["ports"] = ", ".join(sc.ports)
        if sc.clouds is not None:
            out["cloud_mean"] = sc.clouds.mean
            out["cloud_concentration"] = sc.clouds.concentration
        return out
    ports = all(f.sources and f.sources[0].startswith("sen2ships/") for f in manifest.frames)
    return {"kind": "ports" if ports else "custom"}


def _frame_crops(
    records: list[FrameRecord],
    deliveries: list[Delivery],
    hits: list[int],
    ships: list[LabelledShip],
    frames: dict[int, Frame],
) -> None:
    """Per frame: ship crops on the ground, those holding a labelled ship, ships labelled."""
    by_id = {r.frame_id: r for r in records}
    for d, h in zip(deliveries, hits, strict=True):
        rec = by_id.get(d.frame_id)
        if rec is not None:
            rec.crops_delivered += 1
            rec.crops_with_ship += 1 if h else 0
    for rec in records:
        f = frames[rec.frame_id]
        rec.ships_labelled = sum(1 for s in ships if s.scene == f.scene and _holds(f, s))


def _ships_lonlat(
    ships: list[LabelledShip], frames: list[Frame], geos: dict[int, FrameGeo]
) -> list[tuple[float, float] | None]:
    """WGS84 position of every labelled ship's box centre (through a frame holding it)."""
    out: list[tuple[float, float] | None] = []
    for s in ships:
        f = next((f for f in frames if f.scene == s.scene and _holds(f, s)), None)
        if f is None:
            out.append(None)
            continue
        r, c = s.centre
        lon, lat = to_lonlat(geos[f.frame_id], [r - f.window.row0], [c - f.window.col0])
        out.append((lon[0], lat[0]))
    return out


def _holds(f: Frame, s: LabelledShip) -> bool:
    r, c = s.centre
    w = f.window
    return w.row0 <= r < w.row0 + w.rows and w.col0 <= c < w.col0 + w.cols


def _ship_samples(
    ships: list[LabelledShip], records: list[FrameRecord], frames: dict[int, Frame]
) -> list[str]:
    """Per ship: in-sample when a frame holding it is, unknown when one is, else
    out-of-sample."""
    out = []
    for s in ships:
        kinds = {r.sample for r in records if r.scene == s.scene and _holds(frames[r.frame_id], s)}
        if "in-sample" in kinds:
            out.append("in-sample")
        elif "unknown" in kinds or not kinds:
            out.append("unknown")
        else:
            out.append("out-of-sample")
    return out


def _replay_on_qemu(
    sats: list[Satellite], records: list[FrameRecord], notes: list[str]
) -> M4Replay:
    """The run's firmware operations on the Cortex-M4 image, one boot per satellite:
    instructions per frame."""
    runs = [sat.replay_on_qemu() for sat in sats if sat.ops]
    m4 = M4Replay(
        sum(r.operations for r in runs),
        {f: n for r in runs for f, n in r.insns_by_frame.items()},
        max((r.stack_peak_bytes for r in runs), default=0),
    )
    for rec in records:
        rec.m4_insns = m4.insns_by_frame.get(rec.frame_id)
    boots = "one boot" if len(runs) == 1 else f"{len(runs)} boots (one per satellite)"
    notes.append(
        f"target qemu: {m4.operations} firmware operations replayed in {boots} of the "
        "Cortex-M4 image; every frame record, directory and downlink identical to the "
        "host build's, byte for byte"
    )
    return m4


def _ground_folder(k: int) -> str:
    """The folder of satellite ``k``'s ground catalogue in the run's output."""
    return "ground" if k == 0 else f"ground-{k + 1}"


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


def _store_counters(sats: list[Satellite]) -> dict[str, int]:
    fws = [s.counters() for s in sats]
    return {
        "products_dropped": sum(fw.get("products_dropped", 0) for fw in fws),
        "products_evicted": sum(fw.get("products_evicted", 0) for fw in fws),
        "requests_rejected": sum(fw.get("requests_rejected", 0) for fw in fws),
        "store_bytes": sats[0].store_bytes,
    }


class _Camera:
    """Frames captured in time order: read, through the firmware, held by the baselines."""

    def __init__(
        self,
        frames: list[Frame],
        geos: dict[int, FrameGeo],
        sats: list[Satellite],
        sat_of: dict[int, int],
        baselines: dict[tuple[str, int], BaselineDownlink],
        classes: list[str],
        progress: Progress | None,
        plan: OnboardPlan,
    ):
        self.plan = plan
        self.frames = frames
        self.times = [f.capture_time_utc for f in frames]
        self.geos = geos
        self.sats = sats
        self.sat_of = sat_of
        self.baselines = baselines
        self.classes = classes
        self.progress = progress
        self.records: list[FrameRecord] = []
        self.crop_cells: dict[int, list[tuple[int, int]]] = {}  # frame -> cropped cells
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
        a = self.plan.assignments[f.frame_id]
        k = self.sat_of.get(f.frame_id, 0)
        sat = self.sats[k]
        if self.plan.update is not None:  # the model manager's active model
            name = self.plan.update.name_of(*sat.active_model())
            a = Assignment(name, *sample_label(self.plan.cset.get(name), frame_sources(f)))
        else:
            _use(sat, self.plan, a.model)
        cap = sat.capture(f, geo, px)
        self.notes += cap.notes
        self.crop_cells[f.frame_id] = cap.crop_cells
        cfg = sat.config
        compressed = compressed_product_bytes(
            px, cfg["aec_block_size"], cfg["aec_rsi"], dn_scale=f.dn_scale
        )
        self.baselines[(RAW, k)].capture(f.frame_id, f.capture_time_utc, raw_product_bytes(px))
        self.baselines[(COMPRESSED, k)].capture(f.frame_id, f.capture_time_utc, compressed)
        rec = _frame_record(f, geo, cap, compressed, self.classes)
        rec.model, rec.sample, rec.sample_reason = a.model, a.sample, a.reason
        if self.plan.update is not None:
            rec.model_id, rec.model_sha256 = sat.active_model()
        else:
            rec.model_id, rec.model_sha256 = sat.identity
        rec.sources = frame_sources(f)
        rec.cloud_fraction = f.cloud_fraction
        rec.satellite = k
        self.records.append(rec)
        if self.progress:
            self.progress(label, len(self.records), len(self.frames))


def _use(sat: Satellite, plan: OnboardPlan, name: str) -> None:
    sat.use(plan.cset, plan.cset.get(name), plan.thresholds[name], plan.override)


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
        cells_total=c["cells_total"],
        cells_nodata=c["cells_nodata"],
        cells_by_class=cap.cells_by_class(classes),
        cells_discarded_by_class=cap.discarded_by_class(classes),
        ship_regions=c["ship_regions"],
        products=c["products_added"],
        product_bytes=c["bytes_added"],
        process_s=cap.process_s,
        ship_crops_made=c["ship_crops"],
    )


def _triage_pass(
    p: Pass,
    satellite: Satellite,
    ground: Ground,
    tracker: PacketTracker,
    channel: LossChannel,
    uplink: LossChannel,
    link: Link,
    keeper: StreamKeeper | None = None,
    update: model_update.UplinkPlan | None = None,
) -> PassTraffic:
    """One pass of on-board triage: directory, plan and request, downlink, ingest; with a
    model update (:mod:`triage.sim.model_update`) the MODEL_STATUS after the directory and
    the model telecommands with the request."""
    tr = PassTraffic()
    tr.store_bytes_before = satellite.onboard.store_use()["bytes_used"]
    used = 0
    # a. the satellite opens the pass with its store directory
    directory = satellite.directory()
    packets = split_packets(directory)
    if packets and len(directory) <= p.budget_bytes:
        tx = transmit(packets, 0, channel)
        _arrive(tx, p, link.rate_bps, ground, tracker, keeper)
        used = tr.directory_bytes = tx.end
        tr.add(tx)
    if update is not None:
        used = _model_status(p, satellite, ground, tracker, channel, link, keeper, tr, used, update)

    def uplinked(budget: int) -> bytes | None:
        """b. the ground plans (the pass, or what is left of it) and uplinks its request"""
        request, tr.request_entries = ground.plan(p.window, link.rate_bps, budget)
        lost = request is not None and not link.uplink_reliable and bool(uplink.lost(1)[0])
        if keeper is not None and request is not None:
            keeper.uplinked(p.index, request, lost)
        if lost:
            ground.request_lost()
            request = None
        return request

    def downlink(end: int, request: bytes | None) -> int:
        """c. the satellite sends what was asked (or its store), up to byte ``end``"""
        packets = split_packets(satellite.downlink(max(0, end - used), request))
        if not packets:
            return used
        tx = transmit(packets, used, channel)
        if tx.end > end:
            raise FirmwareError(
                f"pass {p.index}: the firmware sent {tx.end} bytes, over the budget of {end}"
            )
        tr.products_completed += _arrive(tx, p, link.rate_bps, ground, tracker, keeper)
        tr.add(tx)
        return tx.end

    request = uplinked(p.budget_bytes)
    if update is not None:
        _model_telecommands(p, satellite, ground, update)
    if request is None:
        # no request by the middle of the pass: the directory again, and the ground plans
        # the rest of the pass from it (the pass protocol, triage/WIRE_FORMAT.md)
        used = downlink(p.budget_bytes // 2, None)
        again = split_packets(satellite.directory())
        if again and used + sum(len(x) for x in again) <= p.budget_bytes:
            tx = transmit(again, used, channel)
            _arrive(tx, p, link.rate_bps, ground, tracker, keeper)
            tr.directory_bytes += tx.end - used
            tr.directory_again = True
            used = tx.end
            tr.add(tx)
            request = uplinked(p.budget_bytes - used)
    used = downlink(p.budget_bytes, request)
    tr.sent_bytes = used
    fill = satellite.onboard.store_use()
    tr.store_bytes_after, tr.store_products_after = fill["bytes_used"], fill["products"]
    return tr


def _model_status(
    p: Pass,
    satellite: Satellite,
    ground: Ground,
    tracker: PacketTracker,
    channel: LossChannel,
    link: Link,
    keeper: StreamKeeper | None,
    tr: PassTraffic,
    used: int,
    update: model_update.UplinkPlan,
) -> int:
    """The MODEL_STATUS product after the directory, within the budget; what the ground's
    catalogue then shows of it is the pass's status as received (None: lost or no room)."""
    log = update.pass_log.setdefault(p.index, {})
    log["active_model"] = update.name_of(*satellite.active_model())
    packets = split_packets(satellite.model_status())
    received = None
    if packets and used + sum(len(x) for x in packets) <= p.budget_bytes:
        tx = transmit(packets, used, channel)
        _arrive(tx, p, link.rate_bps, ground, tracker, keeper)
        used = tx.end
        tr.add(tx)
        if not tx.packets_lost:
            received = ground.model_status()
    log["model_status_received"] = received
    return used


def _model_telecommands(
    p: Pass, satellite: Satellite, ground: Ground, update: model_update.UplinkPlan
) -> None:
    """The model telecommands of pass ``p``: the upload in its pass; the commit in the first
    pass after it whose MODEL_STATUS, as the ground received it, shows the new model on
    trial. The satellite's frame pipeline then follows the model manager."""
    cfg = update.cfg
    log = update.pass_log.setdefault(p.index, {})
    done = {e["event"] for e in update.events}
    if p.index == cfg.pass_index:
        packets = model_update.ground_uplink(update, p, ground)
        statuses = satellite.telecommand(packets)
        satellite.end_of_pass()  # an upload the pass cut short is refused
        log["uplink_seconds"] = round(update.uplink_seconds, 2)
        update.events.append(
            {"event": "received", "pass": p.index, "telecommands": model_update.refusals(statuses)}
        )
    elif cfg.commit and p.index > cfg.pass_index and "switch" in done and "commit" not in done:
        seen = log.get("model_status_received")
        if seen and seen["trial"] and seen["active_model_id"] == update.package.model_id:
            pkt = model_update.ground_commit(update, p, ground)
            statuses = satellite.telecommand([pkt])
            update.events[-1]["telecommands"] = model_update.refusals(statuses)
    if satellite.follow_models():
        update.events.append(
            {
                "event": "switch",
                "pass": p.index,
                "active_model": update.name_of(*satellite.active_model()),
            }
        )


def _triage_pass_physical(
    p: Pass,
    satellite: Satellite,
    ground: Ground,
    tracker: PacketTracker,
    ch: PhysicalChannel,
    keeper: StreamKeeper | None = None,
) -> PassTraffic:
    """One pass of on-board triage on the physical channel: the directory and the
    downlink go through the firmware's link layer as CADUs, take the bit errors of their
    moment in the pass, and the ground's receiver decodes them (:mod:`triage.sim.channel`).
    As the firmware does, the directory travels on its virtual channel and the products on
    theirs; each transmission is encoded on its own (frame counts from 0; the ground
    ingests it as one stream).
    The pass carries ``budget_bytes / DATA_FIELD_BYTES`` CADUs; each transmission sends
    whole frames (its last one filled with idle packets), within what is left. The kept
    streams (``keeper``) get each transmission's CADUs as the ground received them."""
    tr = PassTraffic(link=PassLink())
    tr.store_bytes_before = satellite.onboard.store_use()["bytes_used"]
    n_cadus = p.budget_bytes // CADU_DATA_BYTES
    used = 0  # CADUs of the pass sent so far
    source = f"pass-{p.index:04d}"

    def send(stream: bytes, vcid: int) -> int:
        nonlocal used
        packets = split_packets(stream)
        if not packets:
            return 0
        cadus = link_encode(stream, "cadu", spacecraft_id=satellite.spacecraft_id, vcid=vcid)
        first, n = used, len(cadus) // CADU_BYTES
        received, outcome = ch.send_cadus(p, first, cadus, tr.link)
        k = ground.receive_cadus(received, source)
        if keeper is not None:
            keeper.arrived_cadus(p.index, vcid, received)
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
        if vcid == VC_DIRECTORY and not tr.directory_again:  # the opening directory
            tr.directory_lost = bool(lost.any())
        return completed

    def downlink(cadus: int, request: bytes | None) -> int:
        budget = packet_budget(max(0, cadus) * CADU_BYTES, CADU_BYTES)
        stream = satellite.downlink(budget, request)
        if len(stream) > budget:
            raise FirmwareError(
                f"pass {p.index}: the firmware sent {len(stream)} bytes, over the budget of "
                f"{budget}"
            )
        tr.products_completed += send(stream, VC_PRODUCTS)
        return len(stream)

    directory = satellite.directory()
    if directory and len(directory) <= packet_budget(n_cadus * CADU_BYTES, CADU_BYTES):
        send(directory, VC_DIRECTORY)
        tr.directory_bytes = len(directory)

    def uplinked(budget: int) -> bytes | None:
        request, tr.request_entries = ground.plan(p.window, ch.rate_bps, budget)
        if keeper is not None and request is not None:
            keeper.uplinked(p.index, request)
        return request

    request = uplinked(p.budget_bytes)
    sent = 0
    if request is None:
        # no request by the middle of the pass: the directory again, higher in the sky, and
        # the ground plans the rest of the pass from it (the pass protocol)
        sent += downlink(n_cadus // 2 - used, None)
        again = satellite.directory()
        if again and len(again) <= packet_budget((n_cadus - used) * CADU_BYTES, CADU_BYTES):
            tr.directory_again = True
            send(again, VC_DIRECTORY)
            tr.directory_bytes += len(again)
            request = uplinked((n_cadus - used) * CADU_DATA_BYTES)
    sent += downlink(n_cadus - used, request)
    tr.sent_bytes = tr.directory_bytes + sent
    fill = satellite.onboard.store_use()
    tr.store_bytes_after, tr.store_products_after = fill["bytes_used"], fill["products"]
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
    opened = [t for t in traffic if t.directory_bytes]
    dir_lost = [t for t in opened if t.directory_lost]
    if dir_lost:
        worst = [t.link.ebn0_min_db for t in dir_lost if t.link.ebn0_min_db is not None]
        at = f" (Eb/N0 down to {min(worst):.1f} dB in those passes)" if worst else ""
        again = sum(t.directory_again for t in traffic)
        notes.append(
            f"the STORE_DIRECTORY that opens a pass, at its lowest elevation, was lost in "
            f"{len(dir_lost)} of {len(opened)} passes{at}: the ground then plans from the last "
            "directory it got (its request ends with REST, so the satellite also sends what "
            "was made since), and while it has none it uplinks no request, and the satellite "
            f"sends its directory again half way through the pass ({again} passes); a higher "
            "elevation mask would open the passes where the link closes"
        )
    return notes


def _arrive(
    tx: Transmission,
    p: Pass,
    rate_bps: int,
    ground: Ground,
    tracker: PacketTracker,
    keeper: StreamKeeper | None = None,
) -> int:
    """The packets that survived the channel reach the ground station and the tracker
    (and the kept streams); returns the products they completed."""
    arrived = tx.arrived(p, rate_bps)
    completed = sum(tracker.add(pk, when) for pk, when in arrived)
    packets = [pk for pk, _ in arrived]
    ground.receive(packets, source=f"pass-{p.index:04d}")
    if keeper is not None:
        keeper.arrived(p.index, packets)
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
