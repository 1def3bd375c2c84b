"""What a simulation run produced, per mode (triage and the baselines), and its metrics.

A *mode* is one way of using the same passes: ``triage`` (the firmware's products,
planned by the ground station), ``raw`` and ``compressed`` (the baselines). Every
mode sees the same frames, passes, budgets and loss model.

Metric definitions (``metrics.json``; the same keys for every mode):

- ``frames``: frames captured in the window; ``raw_bytes``: their bytes in frame
  memory (rows x cols x bands x bytes per sample), the "send everything raw" cost;
- ``sent_bytes``: space-packet bytes the mode put on the air (lost ones included:
  they used the budget), directories and retransmissions included;
- ``reduction_factor``: ``raw_bytes / sent_bytes``;
- ``ships_labelled``: labelled ships whose box centre lies in a frame;
  ``ships_delivered``: of those, ships whose box centre a full-resolution product
  complete on the ground covers with a kept (not masked) pixel (see
  :mod:`triage.sim.scoring`);
  ``ship_recall``: their ratio;
- ``latency_s_mean`` / ``latency_s_max``: capture to ground of the delivered ships
  (time the last needed packet reached the ground);
- ``ships_visible`` / ``ships_visible_delivered`` / ``ship_recall_visible``: the same
  over the ships not under laid cloud (the ships a camera could see; all ships
  when no cloud is laid);
- ``ships_by_cloud``: ``{clear, thin_cloud, under_cloud}`` each ``{"ships", "delivered",
  "recall"}``, by how much of a ship's box centre laid cloud hides
  (:data:`triage.sim.scoring.THIN_CLOUD_FROM`; None when the truth does not say);
- ``ship_recall_out_of_sample`` / ``ship_recall_in_sample``: recall over the ships
  whose frames were classified by a model that never saw their scene, and over
  the others (see :mod:`triage.sim.classifiers`; a ship is in-sample when any
  frame holding it is);
- ``crop_precision`` (triage): share of the ship crops complete on the ground
  that hold a labelled ship's box centre on a kept pixel;
- ``latency_s_mean`` / ``latency_s_max``: capture to ground of the delivered ships
  (time the last needed packet reached the ground);
- ``budget_utilization``: ``sent_bytes`` over the summed budgets of all passes of
  the window;
- ``first_pass``: index of the first pass after the first capture;
  ``first_pass_ships``: ships delivered in that pass (with several satellites: in each
  satellite's first pass after its own first capture, summed). A baseline's ship counts
  only when its whole frame is on the ground (every segment arrived), so a
  frame larger than what is left of a pass is not delivered in that pass.
- ``per_satellite`` (triage, several satellites; empty with one): per satellite its
  spacecraft id, the frames and scenes it imaged, its passes (and those that carried
  bytes), ``raw_bytes`` of its frames, ``sent_bytes`` in its passes, their ratio, and the
  ships of its scenes labelled and delivered.
- ``model_update`` (the model-update scenario only, :mod:`triage.sim.model_update`):
  the launch and uplinked models (id, .tflite and package SHA-256), the uplink (pass,
  telecommands, link bytes, ``seconds`` at the uplink rate, ``share_of_pass``,
  ``downlink_bytes_displaced`` under half duplex, whether it switched), the events
  (upload, telecommand statuses on board, switch, commit), per pass the active model,
  the frames captured since the pass before with their ships imaged and delivered
  (distinct visible labelled ships, delivered by the end of the run), the bytes sent
  and the MODEL_STATUS the ground received; ``before`` / ``after``: per side of the
  switch, the model's frames, recall, product bytes, and bytes sent per pass that
  carried products; ``ground_frame_models``: the frames and products per model in the
  ground's catalogue (from each frame's FRAME_SUMMARY).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime

from triage.contract.enums import PRODUCT_BY_APID
from triage.contract.packets import PRIMARY_HEADER
from triage.sim.channel import PassLink
from triage.sim.constellation import spacecraft_ids
from triage.sim.link import Pass, Transmission
from triage.sim.scoring import CLOUD_CLASSES, ShipOutcome

TRIAGE = "triage"


@dataclass
class PassTraffic:
    """One mode's use of one pass."""

    sent_bytes: int = 0
    packets_sent: int = 0
    packets_lost: int = 0
    directory_bytes: int = 0
    directory_lost: bool = False  # some packet of the pass's STORE_DIRECTORY never arrived
    directory_again: bool = False  # no request by mid-pass: the directory sent again
    request_entries: int = 0
    products_completed: int = 0
    bytes_by_product: dict[str, int] = field(default_factory=dict)  # product type -> bytes
    store_bytes_before: int | None = None  # on-board store fill as the pass opens (triage)
    store_bytes_after: int | None = None  # and once it closed (releases applied)
    store_products_after: int | None = None
    link: PassLink | None = None  # the physical channel (packet_loss.model link_budget)

    def add(self, tx: Transmission) -> None:
        """Count a transmission's packets, lost ones included, and their bytes by product
        type (from the APID)."""
        self.packets_sent += len(tx.packets)
        self.packets_lost += tx.packets_lost
        for pk in tx.packets:
            apid = PRIMARY_HEADER.unpack(pk)["apid"]
            pt = PRODUCT_BY_APID.get(apid)
            name = pt.name if pt is not None else f"APID {apid:#x}"
            self.bytes_by_product[name] = self.bytes_by_product.get(name, 0) + len(pk)


@dataclass
class ModeRun:
    name: str
    title: str
    traffic: list[PassTraffic] = field(default_factory=list)  # one per pass
    outcomes: list[ShipOutcome] = field(default_factory=list)
    crop_hits: list[int] | None = None  # per ship crop on the ground: ships it holds
    crop_outlines: list[list[tuple[float, float]]] | None = None  # lon/lat, same order
    crop_frames: list[int] | None = None  # frame id of each, same order

    @property
    def sent_bytes(self) -> int:
        return sum(t.sent_bytes for t in self.traffic)

    def ships_by_pass(self, passes: list[Pass]) -> list[int]:
        """Ships first delivered during each pass."""
        counts = [0] * len(passes)
        for o in self.outcomes:
            if o.delivered_at is None:
                continue
            for p in passes:
                if p.aos <= o.delivered_at <= p.los:
                    counts[p.index] += 1
                    break
        return counts


@dataclass
class FrameRecord:
    """One frame: where it came from, and what the firmware did with it."""

    frame_id: int
    scene: str
    row0: int
    col0: int
    rows: int
    cols: int
    capture_time: datetime
    raw_bytes: int
    compressed_bytes: int
    cells_total: int = 0
    cells_nodata: int = 0
    cells_by_class: list[int] = field(default_factory=list)
    cells_discarded_by_class: list[int] = field(default_factory=list)
    ship_regions: int = 0
    products: int = 0
    product_bytes: int = 0
    process_s: float = 0.0
    m4_insns: int | None = None  # Cortex-M4 instructions (--target qemu)
    model: str = "shipped"  # the classifier of the frame (models/classifiers.json)
    model_id: int | None = 0  # its id in FRAME_SUMMARY (0: the compiled-in model; None: a
    # classifier bound from its engine library, which the summaries do not name)
    model_sha256: str = ""  # SHA-256 of its .tflite (models/classifiers.json)
    sample: str = "unknown"  # in-sample, out-of-sample, unknown (triage.sim.classifiers)
    sample_reason: str = ""
    sources: list[str] | None = None  # real imagery in the frame (data source ids)
    cloud_fraction: float | None = None  # share under laid cloud (truth)
    ship_crops_made: int = 0  # on board
    crops_delivered: int = 0  # ship crops complete on the ground
    crops_with_ship: int = 0  # of those, holding a labelled ship's centre
    ships_labelled: int = 0  # labelled ships whose box centre lies in the frame
    satellite: int = 0  # which satellite captured it (triage.sim.constellation)


# The targets per scenario: reduction factor at least this, with ship recall (over
# visible ships) at least RECALL_TARGET, measured out of sample.
REDUCTION_TARGETS = {"ports": 20.0, "maritime": 100.0}
RECALL_TARGET = 0.95


def _ship_counts(mode: ModeRun, idx: list[int]) -> dict:
    """Ships labelled, delivered and their ratio, over the outcomes ``idx`` of ``mode``."""
    got = sum(1 for i in idx if mode.outcomes[i].delivered_at is not None)
    return {
        "ships_labelled": len(idx),
        "ships_delivered": got,
        "ship_recall": _ratio(got, len(idx)),
    }


@dataclass
class SimResult:
    manifest_name: str
    link_name: str
    rate_bps: int
    target: str
    window_start: datetime
    window_end: datetime
    classes: list[str]
    passes: list[Pass]
    frames: list[FrameRecord]
    modes: dict[str, ModeRun]
    attribution: list[str]
    loss_model: dict
    notes: list[str] = field(default_factory=list)
    mosaics: list[dict] = field(default_factory=list)  # {"scene", "path", ...}
    ground: dict = field(default_factory=dict)  # counters of the ground side
    onboard: dict = field(default_factory=dict)  # counters and diagnostics of the satellite
    runtime_s: float = 0.0
    model_choice: str = "auto"  # --model: auto or a classifier name
    ship_samples: list[str] = field(default_factory=list)  # per labelled ship (outcome order)
    scenario: dict = field(default_factory=lambda: {"kind": "ports"})  # the manifest's scenario
    stations: list[dict] = field(default_factory=list)  # name, lat, lon (for the map)
    frame_footprints: dict[int, list[tuple[float, float]]] = field(default_factory=dict)
    policy: dict | None = None  # threshold overrides (the manifest's onboard.policy)
    ship_lonlat: list[tuple[float, float] | None] = field(default_factory=list)  # per ship
    uplink_reliable: bool = True
    model_update: dict | None = None  # the model-update scenario (triage.sim.model_update)

    @property
    def raw_bytes(self) -> int:
        return sum(f.raw_bytes for f in self.frames)

    @property
    def budget_bytes(self) -> int:
        return sum(p.budget_bytes for p in self.passes)

    @property
    def scenario_kind(self) -> str:
        return str(self.scenario.get("kind", "ports"))

    @property
    def clouds_laid(self) -> bool:
        return any(f.cloud_fraction is not None for f in self.frames)

    def first_passes(self) -> list[int]:
        """Per satellite that captured a frame, its first pass after its first capture."""
        out = []
        for k in sorted({f.satellite for f in self.frames}):
            first_capture = min(f.capture_time for f in self.frames if f.satellite == k)
            nxt = next(
                (p.index for p in self.passes if p.satellite == k and p.aos >= first_capture),
                None,
            )
            if nxt is not None:
                out.append(nxt)
        return out

    def first_pass(self) -> int | None:
        """The first pass after the first capture (of the capturing satellite)."""
        fps = self.first_passes()
        return min(fps) if fps else None

    def sample(self) -> str:
        """``out-of-sample`` when every frame is, ``in-sample`` when every frame is, else
        ``mixed`` (or ``unknown``)."""
        kinds = {f.sample for f in self.frames}
        if len(kinds) == 1:
            return next(iter(kinds))
        return "mixed" if kinds else "unknown"

    def mode_metrics(self, mode: ModeRun) -> dict:
        delivered = [o for o in mode.outcomes if o.delivered_at is not None]
        lat = [o.latency_s for o in delivered if o.latency_s is not None]
        sent = mode.sent_bytes
        labelled = len(mode.outcomes)
        fp = self.first_pass()
        fps = self.first_passes()
        by_pass = mode.ships_by_pass(self.passes)
        packets = sum(t.packets_sent for t in mode.traffic)
        lost = sum(t.packets_lost for t in mode.traffic)
        visible = [o for o in mode.outcomes if o.ship.visible]
        vis_del = sum(1 for o in visible if o.delivered_at is not None)
        links = [t.link for t in mode.traffic if t.link is not None]
        physical = {}
        if links:
            physical = {
                "cadus_sent": sum(k.cadus_sent for k in links),
                "frames_lost": sum(k.frames_lost for k in links),
                "symbols_corrected": (
                    sum(k.symbols_corrected or 0 for k in links)
                    if any(k.symbols_corrected is not None for k in links)
                    else None
                ),
            }
        out = {
            "title": mode.title,
            "frames": len(self.frames),
            "raw_bytes": self.raw_bytes,
            "sent_bytes": sent,
            "reduction_factor": round(self.raw_bytes / sent, 3) if sent else None,
            "ships_labelled": labelled,
            "ships_delivered": len(delivered),
            "ship_recall": _ratio(len(delivered), labelled),
            "ships_visible": len(visible),
            "ships_visible_delivered": vis_del,
            "ship_recall_visible": _ratio(vis_del, len(visible)),
            "ships_by_cloud": _by_cloud(mode.outcomes),
        }
        for kind in ("out-of-sample", "in-sample"):
            idx = [i for i, k in enumerate(self.ship_samples) if k == kind]
            got = sum(1 for i in idx if mode.outcomes[i].delivered_at is not None)
            key = kind.replace("-", "_")
            out[f"ships_{key}"] = len(idx)
            out[f"ship_recall_{key}"] = _ratio(got, len(idx))
        out.update(
            {
                "crop_precision": (
                    _ratio(sum(1 for h in mode.crop_hits if h), len(mode.crop_hits))
                    if mode.crop_hits is not None
                    else None
                ),
                "ship_crops_delivered": (
                    len(mode.crop_hits) if mode.crop_hits is not None else None
                ),
                "latency_s_mean": round(statistics.fmean(lat), 1) if lat else None,
                "latency_s_max": round(max(lat), 1) if lat else None,
                "budget_utilization": (
                    round(sent / self.budget_bytes, 4) if self.budget_bytes else None
                ),
                "first_pass": fp,
                "first_pass_ships": sum(by_pass[i] for i in fps),
                "packets_sent": packets,
                "packets_lost": lost,
                "packet_loss_rate": round(lost / packets, 4) if packets else None,
                **physical,
                "sent_bytes_by_product": _sum_dicts(t.bytes_by_product for t in mode.traffic),
            }
        )
        return out

    def link_by_pass(self) -> dict[str, list[dict]]:
        """The physical channel per pass and mode (Eb/N0, bit errors, symbols corrected,
        frames lost); empty without it."""
        return {
            name: [t.link.as_dict() | {"pass": i} for i, t in enumerate(m.traffic) if t.link]
            for name, m in self.modes.items()
            if any(t.link for t in m.traffic)
        }

    def targets(self) -> dict:
        """The issue's targets, checked on this run: each ``{"value", "met", "rule"}``."""
        tri = self.mode_metrics(self.modes[TRIAGE])
        others = [self.mode_metrics(m) for n, m in self.modes.items() if n != TRIAGE]
        kind = self.scenario_kind
        want_rf = REDUCTION_TARGETS.get(kind, REDUCTION_TARGETS["ports"])
        rf = tri["reduction_factor"]
        rec_key = "ship_recall_visible" if self.clouds_laid else "ship_recall"
        rec = tri[rec_key]
        fp = tri["first_pass_ships"]
        n_oos = sum(1 for f in self.frames if f.sample == "out-of-sample")
        over = "visible ships (not under laid cloud)" if self.clouds_laid else "all labelled ships"
        return {
            f"reduction_factor_at_least_{want_rf:g}": {
                "value": rf,
                "met": rf is not None and rf >= want_rf,
                "rule": f"raw bytes of every frame / bytes triage sent ({kind} scenario)",
            },
            f"{rec_key}_at_least_{RECALL_TARGET:g}": {
                "value": rec,
                "met": rec is not None and rec >= RECALL_TARGET,
                "rule": f"ships delivered at full resolution / {over}",
            },
            "measured_out_of_sample": {
                "value": f"{n_oos} of {len(self.frames)} frames",
                "met": bool(self.frames) and n_oos == len(self.frames),
                "rule": "every frame classified by a model that never saw its imagery",
            },
            "more_first_pass_ships_than_every_baseline": {
                "value": [fp, *(o["first_pass_ships"] for o in others)],
                "met": all(fp > o["first_pass_ships"] for o in others),
                "rule": "ships delivered in the first pass after the first capture (triage, "
                "raw, compressed); a baseline frame counts only when every segment arrived",
            },
        }

    def targets_missed(self) -> list[str]:
        return [name for name, t in self.targets().items() if not t["met"]]

    def per_scene(self) -> list[dict]:
        """One row per scene: frames, sample, classifiers, bytes, reduction on board, ships,
        recall (triage), crop precision."""
        tri = self.modes[TRIAGE]
        rows = []
        scenes = list(dict.fromkeys(f.scene for f in self.frames))
        for scene in scenes:
            fr = [f for f in self.frames if f.scene == scene]
            idx = [i for i, o in enumerate(tri.outcomes) if o.ship.scene == scene]
            vis = [i for i in idx if tri.outcomes[i].ship.visible]
            vis_got = sum(1 for i in vis if tri.outcomes[i].delivered_at is not None)
            raw = sum(f.raw_bytes for f in fr)
            prod = sum(f.product_bytes for f in fr)
            crops = sum(f.crops_delivered for f in fr)
            hits = sum(f.crops_with_ship for f in fr)
            clouds = [f.cloud_fraction for f in fr if f.cloud_fraction is not None]
            rows.append(
                {
                    "scene": scene,
                    "frames": len(fr),
                    "sample": _one({f.sample for f in fr}),
                    "models": sorted({f.model for f in fr}),
                    "sources": sorted({s for f in fr for s in (f.sources or [])}),
                    "cloud_fraction_mean": (round(statistics.fmean(clouds), 3) if clouds else None),
                    "raw_bytes": raw,
                    "product_bytes": prod,
                    "onboard_reduction": round(raw / prod, 2) if prod else None,
                    **_ship_counts(tri, idx),
                    "ships_visible": len(vis),
                    "ship_recall_visible": _ratio(vis_got, len(vis)),
                    "ship_crops_made": sum(f.ship_crops_made for f in fr),
                    "ship_crops_delivered": crops,
                    "crop_precision": _ratio(hits, crops),
                }
            )
        return rows

    def per_satellite(self) -> list[dict]:
        """With several satellites, one row per satellite: its spacecraft id, the frames it
        imaged, its passes, what triage sent in them, its reduction and ships (empty with
        one satellite)."""
        n = 1 + max([p.satellite for p in self.passes] + [f.satellite for f in self.frames])
        if n == 1:
            return []
        tri = self.modes[TRIAGE]
        scene_sat = {f.scene: f.satellite for f in self.frames}
        rows = []
        for k, scid in enumerate(spacecraft_ids(n)):
            fr = [f for f in self.frames if f.satellite == k]
            mine = [p for p in self.passes if p.satellite == k]
            sent = sum(tri.traffic[p.index].sent_bytes for p in mine)
            idx = [i for i, o in enumerate(tri.outcomes) if scene_sat.get(o.ship.scene) == k]
            raw = sum(f.raw_bytes for f in fr)
            rows.append(
                {
                    "satellite": k,
                    "spacecraft_id": scid,
                    "frames": len(fr),
                    "scenes": len({f.scene for f in fr}),
                    "passes": len(mine),
                    "passes_with_data": sum(1 for p in mine if tri.traffic[p.index].sent_bytes),
                    "raw_bytes": raw,
                    "sent_bytes": sent,
                    "reduction_factor": round(raw / sent, 3) if sent else None,
                    **_ship_counts(tri, idx),
                }
            )
        return rows

    def per_frame(self) -> list[dict]:
        return [
            {
                "frame_id": f.frame_id,
                "scene": f.scene,
                "satellite": f.satellite,
                "model": f.model,
                "model_id": f.model_id,
                "model_sha256": f.model_sha256,
                "sample": f.sample,
                "sample_reason": f.sample_reason,
                "sources": f.sources,
                "cloud_fraction": f.cloud_fraction,
                "capture_time_utc": f.capture_time.isoformat(),
                "raw_bytes": f.raw_bytes,
                "compressed_bytes": f.compressed_bytes,
                "product_bytes": f.product_bytes,
                "cells_by_class": dict(zip(self.classes, f.cells_by_class, strict=False)),
                "ships_labelled": f.ships_labelled,
                "ship_crops_made": f.ship_crops_made,
                "ship_crops_delivered": f.crops_delivered,
                "crop_precision": _ratio(f.crops_with_ship, f.crops_delivered),
                "m4_instructions": f.m4_insns,
            }
            for f in self.frames
        ]

    def classifier_summary(self) -> dict:
        by_model: dict[str, dict[str, int]] = {}
        for f in self.frames:
            d = by_model.setdefault(f.model, {})
            d[f.sample] = d.get(f.sample, 0) + 1
        count = {k: sum(1 for f in self.frames if f.sample == k) for k in SAMPLES}
        return {
            "choice": self.model_choice,
            "sample": self.sample(),
            "frames_by_model": by_model,
            **{f"frames_{k.replace('-', '_')}": v for k, v in count.items()},
            **{
                f"ships_{k.replace('-', '_')}": sum(1 for s in self.ship_samples if s == k)
                for k in SAMPLES
            },
        }

    def pass_timeline(self) -> list[dict]:
        """Per pass: window, budget, what triage sent by product type, the entries of the
        ground's last request for it (0: none uplinked; a request lost on the uplink still
        counts), whether the satellite sent its directory again at mid-pass (no request by
        then), store fill."""
        out = []
        tri = self.modes[TRIAGE]
        ships = {n: m.ships_by_pass(self.passes) for n, m in self.modes.items()}
        for p in self.passes:
            t = tri.traffic[p.index]
            out.append(
                {
                    "pass": p.index,
                    "satellite": p.satellite,
                    "station": p.station,
                    "aos_utc": p.aos.isoformat(),
                    "duration_s": round(p.duration_s, 1),
                    "budget_bytes": p.budget_bytes,
                    "sent_bytes": t.sent_bytes,
                    "request_entries": t.request_entries,
                    "directory_again": t.directory_again,
                    "bytes_by_product": dict(t.bytes_by_product),
                    "store_bytes_before": t.store_bytes_before,
                    "store_bytes_after": t.store_bytes_after,
                    "store_products_after": t.store_products_after,
                    "baseline_sent_bytes": {
                        n: m.traffic[p.index].sent_bytes
                        for n, m in self.modes.items()
                        if n != TRIAGE
                    },
                    "ships_delivered": {n: v[p.index] for n, v in ships.items()},
                }
            )
        return out

    def metrics(self) -> dict:
        tri = self.modes[TRIAGE]
        out = {
            "manifest": self.manifest_name,
            "scenario": self.scenario,
            "target": self.target,
            "link": {"name": self.link_name, "rate_bps": self.rate_bps},
            "window_start_utc": self.window_start.isoformat(),
            "window_end_utc": self.window_end.isoformat(),
            "passes": len(self.passes),
            "budget_bytes": self.budget_bytes,
            "packet_loss": self.loss_model,
            **({"link_by_pass": self.link_by_pass()} if self.link_by_pass() else {}),
            "policy_override": self.policy,
            "classifiers": self.classifier_summary(),
            **self.mode_metrics(tri),
            "baselines": {
                name: self.mode_metrics(m) for name, m in self.modes.items() if name != TRIAGE
            },
            "cells_by_class": dict(
                zip(self.classes, _sum_lists(f.cells_by_class for f in self.frames), strict=False)
            ),
            "cells_discarded_by_class": dict(
                zip(
                    self.classes,
                    _sum_lists(f.cells_discarded_by_class for f in self.frames),
                    strict=False,
                )
            ),
            "targets": self.targets(),
            "per_scene": self.per_scene(),
            "per_satellite": self.per_satellite(),
            "per_frame": self.per_frame(),
            "pass_timeline": self.pass_timeline(),
            "onboard": self.onboard,
            "ground": self.ground,
            "notes": self.notes,
            "runtime_s": round(self.runtime_s, 1),
            "attribution": self.attribution,
        }
        if self.model_update is not None:
            out["model_update"] = self.model_update
        return out


SAMPLES = ("out-of-sample", "in-sample", "unknown")


def _by_cloud(outcomes: list[ShipOutcome]) -> dict | None:
    """Ships, ships delivered and recall by the cloud over them (see ``ships_by_cloud``);
    None when a ship's truth does not say how much cloud lies over it."""
    classes = [o.ship.cloud_class for o in outcomes]
    if not outcomes or any(c is None for c in classes):
        return None
    out = {}
    for k in CLOUD_CLASSES:
        got = [o for o, c in zip(outcomes, classes, strict=True) if c == k]
        n = sum(1 for o in got if o.delivered_at is not None)
        out[k] = {"ships": len(got), "delivered": n, "recall": _ratio(n, len(got))}
    return out


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def _one(kinds: set[str]) -> str:
    return next(iter(kinds)) if len(kinds) == 1 else "mixed"


def _sum_dicts(dicts) -> dict[str, int]:
    total: dict[str, int] = {}
    for d in dicts:
        for k, v in d.items():
            total[k] = total.get(k, 0) + int(v)
    return dict(sorted(total.items(), key=lambda kv: -kv[1]))


def _sum_lists(lists) -> list[int]:
    total: list[int] = []
    for lst in lists:
        if len(total) < len(lst):
            total += [0] * (len(lst) - len(total))
        for i, v in enumerate(lst):
            total[i] += int(v)
    return total
