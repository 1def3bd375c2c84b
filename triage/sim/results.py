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
- ``budget_utilization``: ``sent_bytes`` over the summed budgets of all passes of
  the window;
- ``first_pass``: index of the first pass after the first capture;
  ``first_pass_ships``: ships delivered in that pass.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime

from triage.contract.enums import PRODUCT_BY_APID
from triage.contract.packets import PRIMARY_HEADER
from triage.sim.channel import PassLink
from triage.sim.link import Pass, Transmission
from triage.sim.scoring import ShipOutcome

TRIAGE = "triage"


@dataclass
class PassTraffic:
    """One mode's use of one pass."""

    sent_bytes: int = 0
    packets_sent: int = 0
    packets_lost: int = 0
    directory_bytes: int = 0
    request_entries: int = 0
    products_completed: int = 0
    bytes_by_product: dict[str, int] = field(default_factory=dict)  # product type -> bytes
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
    tiles_total: int = 0
    tiles_nodata: int = 0
    tiles_by_class: list[int] = field(default_factory=list)
    tiles_discarded_by_class: list[int] = field(default_factory=list)
    ship_regions: int = 0
    products: int = 0
    product_bytes: int = 0
    process_s: float = 0.0
    m4_insns: int | None = None  # Cortex-M4 instructions (--target qemu)


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

    @property
    def raw_bytes(self) -> int:
        return sum(f.raw_bytes for f in self.frames)

    @property
    def budget_bytes(self) -> int:
        return sum(p.budget_bytes for p in self.passes)

    def first_pass(self) -> int | None:
        if not self.frames:
            return None
        first_capture = min(f.capture_time for f in self.frames)
        for p in self.passes:
            if p.aos >= first_capture:
                return p.index
        return None

    def mode_metrics(self, mode: ModeRun) -> dict:
        delivered = [o for o in mode.outcomes if o.delivered_at is not None]
        lat = [o.latency_s for o in delivered if o.latency_s is not None]
        sent = mode.sent_bytes
        labelled = len(mode.outcomes)
        fp = self.first_pass()
        by_pass = mode.ships_by_pass(self.passes)
        packets = sum(t.packets_sent for t in mode.traffic)
        lost = sum(t.packets_lost for t in mode.traffic)
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
        return {
            "title": mode.title,
            "frames": len(self.frames),
            "raw_bytes": self.raw_bytes,
            "sent_bytes": sent,
            "reduction_factor": round(self.raw_bytes / sent, 3) if sent else None,
            "ships_labelled": labelled,
            "ships_delivered": len(delivered),
            "ship_recall": round(len(delivered) / labelled, 4) if labelled else None,
            "latency_s_mean": round(statistics.fmean(lat), 1) if lat else None,
            "latency_s_max": round(max(lat), 1) if lat else None,
            "budget_utilization": round(sent / self.budget_bytes, 4) if self.budget_bytes else None,
            "first_pass": fp,
            "first_pass_ships": by_pass[fp] if fp is not None else 0,
            "packets_sent": packets,
            "packets_lost": lost,
            "packet_loss_rate": round(lost / packets, 4) if packets else None,
            **physical,
            "sent_bytes_by_product": _sum_dicts(t.bytes_by_product for t in mode.traffic),
        }

    def link_by_pass(self) -> dict[str, list[dict]]:
        """The physical channel per pass and mode (Eb/N0, bit errors, symbols corrected,
        frames lost); empty without it."""
        return {
            name: [t.link.as_dict() | {"pass": i} for i, t in enumerate(m.traffic) if t.link]
            for name, m in self.modes.items()
            if any(t.link for t in m.traffic)
        }

    def targets(self) -> dict:
        """The issue's targets, checked on this run (met: true/false)."""
        tri = self.mode_metrics(self.modes[TRIAGE])
        others = [self.mode_metrics(m) for n, m in self.modes.items() if n != TRIAGE]
        rf, rec = tri["reduction_factor"], tri["ship_recall"]
        fp = tri["first_pass_ships"]
        return {
            "reduction_factor_at_least_20": {"value": rf, "met": rf is not None and rf >= 20},
            "ship_recall_at_least_0.95": {"value": rec, "met": rec is not None and rec >= 0.95},
            "more_first_pass_ships_than_every_baseline": {
                "value": [fp, *(o["first_pass_ships"] for o in others)],
                "met": all(fp > o["first_pass_ships"] for o in others),
            },
        }

    def metrics(self) -> dict:
        tri = self.modes[TRIAGE]
        out = {
            "manifest": self.manifest_name,
            "target": self.target,
            "link": {"name": self.link_name, "rate_bps": self.rate_bps},
            "window_start_utc": self.window_start.isoformat(),
            "window_end_utc": self.window_end.isoformat(),
            "passes": len(self.passes),
            "budget_bytes": self.budget_bytes,
            "packet_loss": self.loss_model,
            **({"link_by_pass": self.link_by_pass()} if self.link_by_pass() else {}),
            **self.mode_metrics(tri),
            "baselines": {
                name: self.mode_metrics(m) for name, m in self.modes.items() if name != TRIAGE
            },
            "tiles_by_class": dict(
                zip(self.classes, _sum_lists(f.tiles_by_class for f in self.frames), strict=False)
            ),
            "tiles_discarded_by_class": dict(
                zip(
                    self.classes,
                    _sum_lists(f.tiles_discarded_by_class for f in self.frames),
                    strict=False,
                )
            ),
            "targets": self.targets(),
            "onboard": self.onboard,
            "ground": self.ground,
            "notes": self.notes,
            "runtime_s": round(self.runtime_s, 1),
            "attribution": self.attribution,
        }
        return out


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
