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
   ingests what arrived. Lost segments are asked for again in the next pass.
3. **The baselines** (every frame raw; every frame CCSDS 121-compressed) run over
   the same passes with the same loss model (:mod:`triage.sim.baselines`).
4. **The ground exports** its products (GeoTIFFs, mosaics, detections), and the
   run is **scored** against the labels and **reported** (``report.html``,
   ``metrics.json``).

Everything is written into a temporary folder beside ``DIR`` and renamed to
``DIR`` only when the run is complete, so a failed run never leaves a folder that
looks finished.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from triage.contract.enums import PRODUCT_BY_APID, PRODUCT_BY_NAME
from triage.contract.packets import PRIMARY_HEADER, SECONDARY_HEADER, split_packets
from triage.sim.baselines import (
    BASELINE_TITLES,
    COMPRESSED,
    RAW,
    BaselineDownlink,
    compressed_product_bytes,
    raw_product_bytes,
)
from triage.sim.errors import OutputError, SceneError
from triage.sim.frames import FrameGeo, check_frames, read_frame
from triage.sim.link import LossChannel, Pass, packet_time, plan_passes
from triage.sim.manifest import Frame, Manifest, load_manifest
from triage.sim.results import TRIAGE, FrameRecord, ModeRun, PassTraffic, SimResult
from triage.sim.scoring import Delivery, labelled_ships, score

TARGETS = ("host", "qemu")
SHIP_CROP_APID = PRODUCT_BY_NAME["SHIP_CROP"].apid


def _count_by_product(traffic, packets: list[bytes]) -> None:
    """Add packet bytes to ``traffic.bytes_by_product`` by product type (from the APID)."""

    for pk in packets:
        apid = PRIMARY_HEADER.unpack(pk)["apid"]
        pt = PRODUCT_BY_APID.get(apid)
        name = pt.name if pt is not None else f"APID {apid:#x}"
        traffic.bytes_by_product[name] = traffic.bytes_by_product.get(name, 0) + len(pk)


@dataclass
class _ProductTrack:
    """The ground's view of one product, rebuilt from the packets that arrived."""

    apid: int
    segment_count: int
    region: tuple[int, int, int, int]
    received: set[int] = field(default_factory=set)
    completed_at: datetime | None = None


class PacketTracker:
    """Which products are complete on the ground, and when (an independent check of
    the ground station's catalogue, and the timing the scoring needs)."""

    def __init__(self) -> None:
        self.products: dict[tuple[int, int], _ProductTrack] = {}

    def add(self, packet: bytes, when: datetime) -> bool:
        """Record a received packet; True when it completed its product."""
        prim = PRIMARY_HEADER.unpack(packet)
        if prim["type"] != 0 or not prim["sec_hdr_flag"]:
            return False
        sec = SECONDARY_HEADER.unpack(packet, PRIMARY_HEADER.size)
        key = (sec["frame_id"], sec["product_id"])
        tr = self.products.get(key)
        if tr is None:
            tr = _ProductTrack(
                prim["apid"],
                sec["segment_count"],
                (sec["region_row0"], sec["region_col0"], sec["region_rows"], sec["region_cols"]),
            )
            self.products[key] = tr
        if tr.completed_at is not None:
            return False
        tr.received.add(sec["segment_index"])
        if len(tr.received) == tr.segment_count:
            tr.completed_at = when
            return True
        return False

    def ship_deliveries(self, kept: dict[tuple[int, int], np.ndarray]) -> list[Delivery]:
        """Complete ship crops, each with its kept-pixel mask from ``kept`` (by frame and
        product id: the ground's decoded pixels); a crop without one keeps no pixel."""
        out = []
        for key, tr in self.products.items():
            if tr.apid != SHIP_CROP_APID or tr.completed_at is None:
                continue
            mask = kept.get(key)
            if mask is None or mask.shape != (tr.region[2], tr.region[3]):
                mask = np.zeros((tr.region[2], tr.region[3]), dtype=bool)
            out.append(Delivery(key[0], *tr.region, time=tr.completed_at, kept=mask))
        return out


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


class _Ground:
    """The ground station's library entry points, with the simulator's own counters."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.catalogue = folder / "catalogue.sqlite"
        self.tracker = PacketTracker()
        self.counters: dict[str, int] = {
            "packets_received": 0,
            "ingest_malformed": 0,
            "ingest_duplicates": 0,
            "ingest_products_invalid": 0,
            "requests_uplinked": 0,
            "request_entries": 0,
        }

    def receive(
        self, packets: list[bytes], lost: np.ndarray, ends: np.ndarray, p: Pass, rate: int
    ) -> int:
        """Ingest the packets that survived; returns the products they completed."""
        from ground_station.ingest import ingest_bytes

        kept = []
        completed = 0
        for pk, gone, end in zip(packets, lost, ends, strict=True):
            if gone:
                continue
            kept.append(pk)
            if self.tracker.add(pk, packet_time(p, int(end), rate)):
                completed += 1
        if kept:
            st = ingest_bytes(self.catalogue, b"".join(kept), source=f"pass-{p.index:04d}")
            self.counters["ingest_malformed"] += sum(st.malformed.values())
            self.counters["ingest_duplicates"] += st.duplicates
            self.counters["ingest_products_invalid"] += st.products_invalid
        self.counters["packets_received"] += len(kept)
        return completed

    def plan(self, p: Pass, rate_bps: int) -> tuple[bytes | None, int]:
        """The DOWNLINK_REQUEST for this pass (None before the ground knows the store)."""
        from ground_station.plan import plan_next_pass

        if not self.catalogue.exists():
            return None, 0
        plan, request = plan_next_pass(
            self.catalogue, p.window(), rate_bps, budget_bytes=p.budget_bytes
        )
        entries = len(plan.items) + len(plan.releases)
        self.counters["requests_uplinked"] += 1
        self.counters["request_entries"] += entries
        return request, entries

    def ship_crop_masks(self) -> dict[tuple[int, int], np.ndarray]:
        """Complete ship crops in the catalogue, decoded: ``[rows, cols]`` masks, True where
        a pixel is kept (some band differs from the frame's no-data value)."""
        from ground_station.catalogue import Catalogue

        if not self.catalogue.exists():
            return {}
        out = {}
        with Catalogue.open(self.catalogue) as cat:
            rows = cat.product_rows("status='complete' AND product_type='SHIP_CROP'")
            for r in rows:
                p = cat.load_product(r["frame_id"], r["product_id"])
                nodata = p.header["nodata"]
                out[(r["frame_id"], r["product_id"])] = (p.pixels != nodata).any(axis=0)
        return out


@dataclass
class _Op:
    """One firmware operation and the host build's output, kept for a QEMU replay."""

    op: tuple
    data: bytes
    frame_id: int | None = None


def run_simulation(
    manifest_path: Path,
    out_dir: Path,
    *,
    target: str = "host",
    overwrite: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
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
    manifest_path = Path(manifest_path)
    manifest = load_manifest(manifest_path)
    if rate_bps is not None:
        link = manifest.link.model_copy(
            update={"rate_bps": int(rate_bps), "name": f"{int(rate_bps):,} bit/s"}
        )
        manifest = manifest.model_copy(update={"link": link})
    mdir = manifest_path.resolve().parent
    geos = check_frames(manifest, mdir)
    _check_gain_sources(manifest)
    ships = labelled_ships(manifest, mdir)
    passes = plan_passes(manifest)
    if target == "qemu":
        from triage.onboard.qemu_runner import image_path

        image_path()  # a clear error now if the image is not built
    tmp = _prepare_out(out_dir, overwrite)
    try:
        result = _run(manifest, mdir, geos, ships, passes, tmp, target, progress)
        result.runtime_s = time.perf_counter() - t_start
        from triage.sim.report import write_report

        write_report(result, tmp)
        _finish_out(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return result


def _check_gain_sources(manifest: Manifest) -> None:
    from triage.contract.tile_spec import tile_spec

    built = tile_spec().default_gain_source
    for f in manifest.frames:
        if f.gain_source is not None and f.gain_source != built:
            raise SceneError(
                f"frame {f.frame_id} ({f.scene}): gain_source {f.gain_source!r}, but the "
                f"firmware is built with the gains of {built!r} (models/tile_spec.json)"
            )


def _frame_meta(frame: Frame, geo: FrameGeo):
    from triage.onboard import FrameMeta, time_fields

    time_s, time_sub = time_fields(frame.capture_time_utc)
    return FrameMeta(
        frame_id=frame.frame_id,
        rows=geo.rows,
        cols=geo.cols,
        bands=len(geo.band_paths),
        sample_bits=geo.sample_bits,
        nodata=frame.nodata,
        time_s=time_s,
        time_sub=time_sub,
        crs_epsg=geo.crs_epsg,
        geotransform=geo.geotransform,
        dn_scale=frame.dn_scale or (0, 0),
    )


def _run(
    manifest: Manifest,
    mdir: Path,
    geos: dict[int, FrameGeo],
    ships,
    passes: list[Pass],
    tmp: Path,
    target: str,
    progress,
) -> SimResult:
    from triage.contract.tile_spec import tile_spec
    from triage.errors import FirmwareError
    from triage.onboard import DEFAULT_STORE_BYTES, Onboard, config

    rate = manifest.link.rate_bps
    cfg = config()
    classes = list(tile_spec().classes)
    store_bytes = manifest.onboard.store_capacity_bytes or DEFAULT_STORE_BYTES
    ground = _Ground(tmp / "ground")
    ground.folder.mkdir()
    onboard = Onboard(store_bytes, classifier="model")
    ops: list[_Op] = []
    keep_ops = target == "qemu"
    # independent, seeded loss streams: one per mode
    loss = {m: LossChannel(manifest.packet_loss, m) for m in (TRIAGE, RAW, COMPRESSED)}
    uplink_loss = LossChannel(manifest.packet_loss, "uplink")
    baselines = {m: BaselineDownlink(m, loss[m], rate) for m in (RAW, COMPRESSED)}
    modes = {
        TRIAGE: ModeRun(TRIAGE, "on-board triage (firmware products, ground-planned passes)"),
        **{m: ModeRun(m, BASELINE_TITLES[m]) for m in (RAW, COMPRESSED)},
    }
    frames = manifest.frames_in_capture_order()
    records: list[FrameRecord] = []
    notes: list[str] = []
    crop_tiles: dict[int, list[tuple[int, int]]] = {}  # frame -> origins of crop tiles
    state = {"next": 0}

    def capture_until(t: datetime | None) -> None:
        while state["next"] < len(frames):
            f = frames[state["next"]]
            if t is not None and f.capture_time_utc >= t:
                return
            state["next"] += 1
            geo = geos[f.frame_id]
            label = f"frame {f.frame_id} ({f.scene})"
            if progress:
                progress(label, len(records), len(frames))
            px = read_frame(geo, f)
            meta = _frame_meta(f, geo)
            t0 = time.perf_counter()
            rep = onboard.process_frame(px, meta)
            dt = time.perf_counter() - t0
            if keep_ops:
                ops.append(_Op(("frame", px, meta), rep.record, f.frame_id))
            if rep.status != 0:
                if rep.status_name.upper().endswith("NODATA"):
                    notes.append(f"{label}: refused by the firmware, every tile is no-data")
                else:
                    raise FirmwareError(
                        f"{label}: the firmware refused the frame: {rep.status_name} "
                        f"(status {rep.status})"
                    )
            crop_tiles[f.frame_id] = _crop_tile_origins(rep, geo)
            c = rep.counts
            comp_b = compressed_product_bytes(
                px, cfg["aec_block_size"], cfg["aec_rsi"], dn_scale=f.dn_scale
            )
            baselines[RAW].capture(f.frame_id, f.capture_time_utc, raw_product_bytes(px))
            baselines[COMPRESSED].capture(f.frame_id, f.capture_time_utc, comp_b)
            if c["products_dropped"] or c["products_evicted"]:
                notes.append(
                    f"{label}: store full, {c['products_dropped']} products dropped and "
                    f"{c['products_evicted']} evicted"
                )
            records.append(
                FrameRecord(
                    frame_id=f.frame_id,
                    scene=f.scene,
                    row0=f.window.row0,
                    col0=f.window.col0,
                    rows=f.window.rows,
                    cols=f.window.cols,
                    capture_time=f.capture_time_utc,
                    raw_bytes=geo.raw_bytes,
                    compressed_bytes=comp_b,
                    tiles_total=c["tiles_total"],
                    tiles_nodata=c["tiles_nodata"],
                    tiles_by_class=[c[f"tiles_{k}"] for k in classes],
                    tiles_discarded_by_class=[c[f"discarded_{k}"] for k in classes],
                    ship_regions=c["ship_regions"],
                    products=c["products_added"],
                    product_bytes=c["bytes_added"],
                    process_s=dt,
                )
            )
            if progress:
                progress(label, len(records), len(frames))

    for p in passes:
        capture_until(p.aos)
        tr = PassTraffic()
        # 1. the satellite opens the pass with its store directory
        directory = onboard.directory()
        if keep_ops:
            ops.append(_Op(("directory",), directory))
        used = 0
        dpk = split_packets(directory)
        if dpk and len(directory) <= p.budget_bytes:
            ends = np.cumsum([len(x) for x in dpk])
            lost = loss[TRIAGE].lost(len(dpk))
            ground.receive(dpk, lost, ends, p, rate)
            used = int(ends[-1])
            tr.directory_bytes = used
            _count_by_product(tr, dpk)
            tr.packets_sent += len(dpk)
            tr.packets_lost += int(lost.sum())
        # 2. the ground plans the pass and uplinks its request; 3. the satellite sends
        request, tr.request_entries = ground.plan(p, rate)
        if request is not None and not manifest.link.uplink_reliable and uplink_loss.lost(1)[0]:
            ground.counters["requests_lost"] = ground.counters.get("requests_lost", 0) + 1
            request = None
        stream = onboard.downlink(p.budget_bytes - used, request)
        if keep_ops:
            ops.append(_Op(("downlink", p.budget_bytes - used, request), stream))
        pk = split_packets(stream)
        if pk:
            ends = used + np.cumsum([len(x) for x in pk])
            if int(ends[-1]) > p.budget_bytes:
                raise FirmwareError(
                    f"pass {p.index}: the firmware sent {int(ends[-1])} bytes, over the "
                    f"budget of {p.budget_bytes}"
                )
            lost = loss[TRIAGE].lost(len(pk))
            tr.products_completed = ground.receive(pk, lost, ends, p, rate)
            _count_by_product(tr, pk)
            used = int(ends[-1])
            tr.packets_sent += len(pk)
            tr.packets_lost += int(lost.sum())
        tr.sent_bytes = used
        modes[TRIAGE].traffic.append(tr)
        # the baselines, same pass
        for m in (RAW, COMPRESSED):
            r = baselines[m].run_pass(p)
            modes[m].traffic.append(
                PassTraffic(
                    sent_bytes=r.sent_bytes,
                    packets_sent=r.packets_sent,
                    packets_lost=r.packets_lost,
                    products_completed=len(r.completed),
                )
            )
    capture_until(None)  # frames after the last pass: captured, never sent
    if len(records) > sum(1 for f in frames if f.capture_time_utc < passes[-1].aos):
        notes.append(
            f"{len(records) - sum(1 for f in frames if f.capture_time_utc < passes[-1].aos)} "
            "frame(s) captured after the last pass of the window"
        )

    m4 = None
    if keep_ops:
        m4 = _replay_on_qemu(ops, store_bytes, records)
        notes.append(
            f"target qemu: {len(ops)} firmware operations replayed in one boot of the "
            "Cortex-M4 image; every frame record, directory and downlink identical to the "
            "host build's, byte for byte"
        )

    # ground products, checks and scoring
    from ground_station.export import export_products

    export = export_products(ground.catalogue, tmp / "ground" / "export")
    by_id = {f.frame_id: f for f in manifest.frames}
    tracked = {k for k, t in ground.tracker.products.items() if t.completed_at is not None}
    tracked_ships = {
        k
        for k, t in ground.tracker.products.items()
        if t.completed_at is not None and t.apid == SHIP_CROP_APID
    }
    masks = ground.ship_crop_masks()
    catalogued = set(masks)
    ground.counters["products_complete"] = len(tracked)
    ground.counters["ship_crops_complete"] = len(catalogued)
    if catalogued != tracked_ships:
        notes.append(
            f"ground catalogue and packet tracker disagree on complete ship crops: "
            f"{len(catalogued)} vs {len(tracked_ships)}"
        )
    checked, exact = _verify_crops(export, geos)
    ground.counters["crops_exported"] = len(export.crops)
    ground.counters["crops_bit_exact"] = exact
    if exact != checked:
        notes.append(f"only {exact} of {checked} exported crops equal the source where kept")
    ground.counters["detections"] = export.n_detections
    modes[TRIAGE].outcomes = score(ships, ground.tracker.ship_deliveries(masks), by_id)
    on_board = _cropped_on_board(ships, crop_tiles, by_id)
    ob: dict[str, int] = {}
    ob["tiles_total"] = sum(r.tiles_total for r in records)
    ob["tiles_crop"] = sum(len(v) for v in crop_tiles.values())
    ob["tiles_holding_a_labelled_ship"] = _tiles_holding_ships(ships, geos, by_id)
    ob["ships_cropped_on_board"] = sum(on_board)
    undelivered = [o.delivered_at is None for o in modes[TRIAGE].outcomes]
    ob["ships_missed_by_classifier"] = sum(
        1 for u, c in zip(undelivered, on_board, strict=True) if u and not c
    )
    ob["ships_cropped_not_delivered"] = sum(
        1 for u, c in zip(undelivered, on_board, strict=True) if u and c
    )
    for m in (RAW, COMPRESSED):
        deliveries = [
            Delivery(fid, 0, 0, by_id[fid].window.rows, by_id[fid].window.cols, when)
            for fid, when in baselines[m].delivered.items()
        ]
        modes[m].outcomes = score(ships, deliveries, by_id)
    counters = onboard.counters()
    ob["products_dropped"] = counters.get("products_dropped", 0)
    ob["products_evicted"] = counters.get("products_evicted", 0)
    ob["requests_rejected"] = counters.get("requests_rejected", 0)
    ob["store_bytes"] = store_bytes
    if m4 is not None:
        ob.update(m4)
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
        loss_model=manifest.packet_loss.model_dump(),
        notes=notes,
        mosaics=_scene_mosaics(export, manifest, geos, tmp / "ground" / "export"),
        ground=ground.counters,
        onboard=ob,
    )


def _crop_tile_origins(rep, geo: FrameGeo) -> list[tuple[int, int]]:
    """(row, col) origins of the tiles the firmware decided to crop at full resolution."""
    from triage.contract.enums import Action
    from triage.contract.tile_spec import tile_origins

    if rep.actions.size == 0:
        return []
    rows, cols = tile_origins(geo.rows), tile_origins(geo.cols)
    if rep.actions.shape != (len(rows), len(cols)):
        return []
    crop = Action.CROP
    return [(rows[i], cols[j]) for i, j in zip(*np.nonzero(rep.actions == crop), strict=True)]


def _tiles_holding_ships(ships, geos: dict[int, FrameGeo], frames: dict[int, Frame]) -> int:
    """Tiles (all frames) that hold a labelled ship's box centre: the tiles a perfect
    classifier would crop (the labelling rule of models/MODEL_CARD.md)."""
    from triage.contract.tile_spec import tile_origins, tile_spec

    t = tile_spec().tile_px
    n = 0
    for fid, geo in geos.items():
        f = frames[fid]
        rows, cols = tile_origins(geo.rows), tile_origins(geo.cols)
        mask = np.zeros((len(rows), len(cols)), dtype=bool)
        for s in ships:
            if s.scene != f.scene:
                continue
            r, c = s.centre
            fr, fc = r - f.window.row0, c - f.window.col0
            ri = [i for i, r0 in enumerate(rows) if r0 <= fr < r0 + t]
            ci = [j for j, c0 in enumerate(cols) if c0 <= fc < c0 + t]
            for i in ri:
                mask[i, ci] = True
        n += int(mask.sum())
    return n


def _cropped_on_board(ships, crop_tiles, frames: dict[int, Frame]) -> list[bool]:
    """Per labelled ship: did the firmware mark a tile holding its box centre for a crop?"""
    from triage.contract.tile_spec import tile_spec

    t = tile_spec().tile_px
    out = []
    for s in ships:
        r, c = s.centre
        hit = False
        for fid, origins in crop_tiles.items():
            f = frames[fid]
            if f.scene != s.scene:
                continue
            fr, fc = r - f.window.row0, c - f.window.col0
            if any(r0 <= fr < r0 + t and c0 <= fc < c0 + t for r0, c0 in origins):
                hit = True
                break
        out.append(hit)
    return out


def _replay_on_qemu(ops: list[_Op], store_bytes: int, records: list[FrameRecord]) -> dict:
    """Replay the run's firmware operations on the Cortex-M4 image; bytes must match."""
    from triage.errors import FirmwareError
    from triage.onboard import run_on_qemu

    run = run_on_qemu([o.op for o in ops], store_bytes=store_bytes, classifier="model")
    insns_by_frame: dict[int, int] = {}
    for i, (o, r) in enumerate(zip(ops, run.results, strict=True)):
        if r.data != o.data:
            first = next(
                (k for k, (a, b) in enumerate(zip(r.data, o.data, strict=False)) if a != b),
                min(len(r.data), len(o.data)),
            )
            what = f"frame {o.frame_id}" if o.frame_id is not None else o.op[0]
            raise FirmwareError(
                f"--target qemu: operation {i} ({what}) gives {len(r.data)} bytes on the "
                f"Cortex-M4 image and {len(o.data)} on the host build; first difference at "
                f"byte {first}"
            )
        if o.frame_id is not None and r.insns is not None:
            insns_by_frame[o.frame_id] = r.insns
    for rec in records:
        rec.m4_insns = insns_by_frame.get(rec.frame_id)
    total = sum(insns_by_frame.values())
    return {
        "m4_operations": len(ops),
        "m4_frame_instructions_total": total,
        "m4_stack_peak_bytes": run.stack_peak_bytes,
    }


def _verify_crops(export, geos: dict[int, FrameGeo]) -> tuple[int, int]:
    """Every exported crop against the source GeoTIFFs at its georeferenced place:
    (crops checked, crops with a kept pixel whose every kept pixel - one with a band
    other than no-data - equals the source's in every band)."""
    import rasterio
    from rasterio.windows import from_bounds

    checked = exact = 0
    for path in export.crops:
        fid = int(Path(path).stem.split("-")[1])
        geo = geos[fid]
        with rasterio.open(path) as ds:
            crop = ds.read()
            bounds = ds.bounds
            nodata = ds.nodata
        checked += 1
        bands = []
        for p, i in zip(geo.band_paths, geo.band_indexes, strict=True):
            with rasterio.open(p) as src:
                win = from_bounds(*bounds, transform=src.transform)
                win = win.round_offsets().round_lengths()
                bands.append(src.read(i, window=win))
        src_px = np.stack(bands)
        if src_px.shape != crop.shape:
            continue
        kept = (crop != nodata).any(axis=0)
        if kept.any() and np.array_equal(src_px[:, kept], crop[:, kept]):
            exact += 1
    return checked, exact


def _scene_mosaics(export, manifest: Manifest, geos: dict[int, FrameGeo], folder: Path):
    """Per scene, the ground's frame mosaics placed on the scene grid (one GeoTIFF)."""
    import rasterio
    from affine import Affine

    by_scene: dict[str, list] = {}
    for fe in export.frames:
        f = next((x for x in manifest.frames if x.frame_id == fe.frame_id), None)
        if f is not None:
            by_scene.setdefault(f.scene, []).append((f, fe))
    out = []
    for scene, items in by_scene.items():
        geo0 = geos[items[0][0].frame_id]
        rows, cols = geo0.scene_rows, geo0.scene_cols
        canvas = None
        for f, fe in items:
            with rasterio.open(fe.mosaic_tif) as ds:
                px = ds.read()
                nodata = ds.nodata
            if canvas is None:
                canvas = np.full((px.shape[0], rows, cols), nodata or 0, dtype=px.dtype)
            if px.shape[0] != canvas.shape[0]:
                continue
            w = f.window
            region = canvas[:, w.row0 : w.row0 + w.rows, w.col0 : w.col0 + w.cols]
            valid = px != (nodata if nodata is not None else -1)
            region[valid] = px[valid]
        if canvas is None:
            continue
        path = folder / f"scene-{scene}.tif"
        with rasterio.open(
            path,
            "w",
            driver="GTiff",
            width=cols,
            height=rows,
            count=canvas.shape[0],
            dtype=canvas.dtype,
            crs=f"EPSG:{geo0.crs_epsg}",
            transform=Affine.from_gdal(*geo0.scene_transform),
            nodata=0,
            compress="deflate",
        ) as ds:
            ds.write(canvas)
        attribution = items[0][0].attribution or ""
        out.append(
            {
                "scene": scene,
                "path": str(path),
                "scene_transform": None,
                "attribution": attribution,
                "rgb_bands": [3, 2, 1] if canvas.shape[0] >= 3 else [1, 1, 1],
            }
        )
    return out
