"""Metrics and the HTML report, on a hand-made run whose numbers are derived by hand."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from ground_station.passes import ContactWindow
from triage.sim.link import Pass
from triage.sim.report import write_report
from triage.sim.results import TRIAGE, FrameRecord, ModeRun, PassTraffic, SimResult
from triage.sim.scoring import LabelledShip, ShipOutcome

T0 = datetime(2024, 6, 1, tzinfo=UTC)
ATTR = "contains modified Copernicus Sentinel data 2022–2023"


def _window(aos: datetime, max_elevation_deg: float) -> ContactWindow:
    return ContactWindow("a", aos, aos + timedelta(minutes=10), max_elevation_deg)


def _run() -> SimResult:
    passes = [
        Pass(0, _window(T0 + timedelta(hours=1), 40.0), 10_000),
        Pass(1, _window(T0 + timedelta(hours=3), 60.0), 30_000),
    ]
    frames = [
        FrameRecord(1, "s", 0, 0, 100, 100, T0, 80_000, 50_000, 16, 0, [4, 8, 2, 2], [4, 8, 0, 0]),
        FrameRecord(2, "s", 0, 68, 100, 100, T0 + timedelta(hours=2), 80_000, 40_000),
    ]
    ships = [LabelledShip("s", i, 10 * i, 10, 4, 4) for i in range(1, 5)]

    def out(i, hours):
        if hours is None:
            return ShipOutcome(ships[i], None, None, None)
        return ShipOutcome(ships[i], T0 + timedelta(hours=hours), 1, hours * 3600)

    tri = ModeRun(TRIAGE, "triage", [PassTraffic(4_000), PassTraffic(2_000)])
    tri.outcomes = [out(0, 1.05), out(1, 1.1), out(2, 3.05), out(3, None)]
    raw = ModeRun("raw", "raw", [PassTraffic(10_000), PassTraffic(30_000)])
    raw.outcomes = [out(0, None), out(1, None), out(2, None), out(3, None)]
    return SimResult(
        manifest_name="hand-made",
        link_name="test link",
        rate_bps=9600,
        target="host",
        window_start=T0,
        window_end=T0 + timedelta(hours=4),
        classes=["cloud", "sea", "ship", "land"],
        passes=passes,
        frames=frames,
        modes={TRIAGE: tri, "raw": raw},
        attribution=[ATTR],
        loss_model={"model": "none"},
    )


def test_metrics_by_hand():
    m = _run().metrics()
    assert m["frames"] == 2 and m["raw_bytes"] == 160_000 and m["sent_bytes"] == 6_000
    assert m["reduction_factor"] == round(160_000 / 6_000, 3)  # 26.667
    assert (m["ships_labelled"], m["ships_delivered"], m["ship_recall"]) == (4, 3, 0.75)
    assert m["latency_s_mean"] == round((1.05 + 1.1 + 3.05) / 3 * 3600, 1)  # 6240.0
    assert m["latency_s_max"] == 3.05 * 3600
    assert m["budget_utilization"] == round(6_000 / 40_000, 4)
    assert m["first_pass"] == 0 and m["first_pass_ships"] == 2
    raw = m["baselines"]["raw"]
    assert raw["reduction_factor"] == 4.0 and raw["ship_recall"] == 0.0
    assert raw["latency_s_mean"] is None and raw["budget_utilization"] == 1.0
    t = m["targets"]
    assert t["reduction_factor_at_least_20"]["met"] is True  # 26.7
    assert t["ship_recall_at_least_0.95"]["met"] is False  # 0.75
    fp = t["more_first_pass_ships_than_every_baseline"]
    assert (fp["value"], fp["met"]) == ([2, 0], True)
    assert "every segment" in fp["rule"]  # the baselines' first-pass rule, stated
    # no frame says where its pixels come from: not measured out of sample
    assert t["measured_out_of_sample"]["met"] is False
    assert m["tiles_discarded_by_class"] == {"cloud": 4, "sea": 8, "ship": 0, "land": 0}
    for key in (
        "frames",
        "raw_bytes",
        "sent_bytes",
        "reduction_factor",
        "ships_labelled",
        "ships_delivered",
        "ship_recall",
        "latency_s_mean",
        "latency_s_max",
        "budget_utilization",
    ):
        assert key in m and key in raw


def test_report_is_self_contained(tmp_path):
    mpath, hpath = write_report(_run(), tmp_path)
    assert json.loads(mpath.read_text())["ships_delivered"] == 3
    doc = hpath.read_text()
    assert ATTR in doc
    srcs = re.findall(r'src="([^"]*)"', doc)
    assert len(srcs) >= 5 and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert "http://" not in doc and "https://" not in doc
