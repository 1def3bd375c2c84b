"""Metrics and the HTML report, on a hand-made run whose numbers are derived by hand."""

from __future__ import annotations

import json
import re
import warnings
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
    frames[0].sample, frames[1].sample = "out-of-sample", "in-sample"
    frames[0].cloud_fraction, frames[1].cloud_fraction = 0.5, 0.1
    frames[0].product_bytes, frames[1].product_bytes = 4_000, 1_000
    frames[0].crops_delivered, frames[0].crops_with_ship = 4, 2
    # the last ship lies under laid cloud
    ships = [LabelledShip("s", i, 10 * i, 10, 4, 4, under_cloud=i == 4) for i in range(1, 5)]

    def out(i, hours):
        if hours is None:
            return ShipOutcome(ships[i], None, None, None)
        return ShipOutcome(ships[i], T0 + timedelta(hours=hours), 1, hours * 3600)

    tri = ModeRun(TRIAGE, "triage", [PassTraffic(4_000), PassTraffic(2_000)])
    tri.outcomes = [out(0, 1.05), out(1, 1.1), out(2, 3.05), out(3, None)]
    tri.crop_hits = [1, 0, 2, 0]  # four ship crops on the ground, two hold a ship
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
        ship_samples=["out-of-sample", "out-of-sample", "in-sample", "in-sample"],
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
    # clouds laid: the fourth ship is under cloud, the three visible ones were delivered
    assert (m["ships_visible"], m["ships_visible_delivered"], m["ship_recall_visible"]) == (
        3,
        3,
        1.0,
    )
    assert (m["ships_out_of_sample"], m["ship_recall_out_of_sample"]) == (2, 1.0)
    assert (m["ships_in_sample"], m["ship_recall_in_sample"]) == (2, 0.5)
    assert (m["ship_crops_delivered"], m["crop_precision"]) == (4, 0.5)
    assert raw["crop_precision"] is None  # whole frames, not crops
    t = m["targets"]
    assert t["reduction_factor_at_least_20"]["met"] is True  # 26.7
    assert t["ship_recall_visible_at_least_0.95"]["met"] is True  # 3 / 3 visible
    assert t["measured_out_of_sample"]["met"] is False  # one frame is in-sample
    assert m["classifiers"]["sample"] == "mixed"
    (scene,) = m["per_scene"]
    assert scene["onboard_reduction"] == round(160_000 / 5_000, 2)
    assert scene["crop_precision"] == 0.5 and scene["cloud_fraction_mean"] == 0.3
    fp = t["more_first_pass_ships_than_every_baseline"]
    assert (fp["value"], fp["met"]) == ([2, 0], True)
    assert "every segment" in fp["rule"]  # the baselines' first-pass rule, stated
    assert m["cells_discarded_by_class"] == {"cloud": 4, "sea": 8, "ship": 0, "land": 0}
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


def test_report_marks_targets_and_samples(tmp_path):
    res = _run()
    _, hpath = write_report(res, tmp_path)
    doc = hpath.read_text()
    assert 'class="banner mixed"' in doc and "1 of 2 frames in-sample" in doc
    # the missed target is red, the met ones green, each with its rule
    assert doc.count('class="missed"') == len(res.targets_missed()) == 1
    assert doc.count('class="met"') == len(res.targets()) - 1
    assert "every segment" in doc  # the baselines' first-pass rule beside their numbers
    assert "p_good_to_bad" not in doc or "gilbert_elliott:" in doc
    assert "<th>parameter</th><th>value</th><th>meaning</th>" in doc  # the loss model table


def test_comparison_of_two_runs(tmp_path):
    from triage.sim.compare import write_comparison

    a, b = _run(), _run()
    b.link_name = "other link"
    for name, res in (("a", a), ("b", b)):
        (tmp_path / name).mkdir()
        write_report(res, tmp_path / name)
    out = write_comparison([tmp_path / "a", tmp_path / "b"], tmp_path / "c.html")
    doc = out.read_text()
    assert "test link vs other link" in doc and ATTR in doc
    assert "http://" not in doc and "https://" not in doc
    srcs = re.findall(r'src="([^"]*)"', doc)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)


def test_report_draws_without_warnings_when_the_store_is_not_recorded(tmp_path):
    # the hand-made run holds no store fill or size: the timeline's store panel says so
    # instead of drawing an empty legend (matplotlib warns on a legend with no entries)
    res = _run()
    assert all(t.store_bytes_before is None for t in res.modes[TRIAGE].traffic)
    assert not res.onboard.get("store_bytes")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        write_report(res, tmp_path)
