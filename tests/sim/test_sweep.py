"""Sweeps: spec validation (one clear error, nothing written), the Pareto front and its
knee on a hand-derived case, points applied to the manifest, and small sweeps on a
2-worker local Dask cluster: every point's metrics equal to the same point run alone and
serially, a worker killed mid-point retried, a failing point named while the others
finish, an unreachable scheduler."""

from __future__ import annotations

import csv
import json
from datetime import timedelta
from pathlib import Path

import pytest

from triage.sim.manifest import load_manifest
from triage.sim.sweep import (
    AXES,
    COLUMN_TYPES,
    COLUMNS,
    FAULT_ENV,
    SweepError,
    load_spec,
    point_manifest,
    row_of,
    run_point,
    run_sweep,
    write_table,
)
from triage.sim.sweep_report import knee, pareto_front


def _spec(tmp_path: Path, base: Path, axes: dict, name: str = "spec.json", **extra) -> Path:
    p = tmp_path / name
    doc = {"format": "triage-sweep", "version": 1, "name": "t", "base": str(base), "axes": axes}
    p.write_text(json.dumps({**doc, **extra}))
    return p


@pytest.mark.parametrize(
    ("axes", "extra", "match"),
    [
        ({"link_rate_bps": [0]}, {}, r"link_rate_bps.*0 bit/s is not in"),
        ({"ship_crop_min_prob": [1.5]}, {}, r"ship_crop_min_prob.*1.5 is not a probability"),
        ({"link_rate_bps": [9600, 9600]}, {}, "values repeat"),
        ({"warp_speed": [9]}, {}, r"axes.warp_speed: Extra inputs"),
        ({}, {}, "give at least one axis"),
        ({"stations": [["atlantis"]]}, {}, "unknown station atlantis"),
        ({"cloud_mean": [0.5]}, {}, "needs a scenario"),
        ({"satellites": [0]}, {}, r"0 satellites is not in 1 .. 16"),
        ({"min_elevation_deg": [90.0]}, {}, r"elevation mask 90.0 deg is not in 0 .. 90"),
        ({"min_elevation_deg": [10.0]}, {}, r"min_elevation_deg needs a base manifest with a TLE"),
        ({"store_bytes": [1000]}, {}, r"1000 bytes is not in"),
        ({"link_rate_bps": [9600]}, {"format": "other"}, "format"),
        ({"link_rate_bps": list(range(1, 65)), "ship_crop_min_prob": [i / 100 for i in range(65)]},
         {}, "more than 4096"),
    ],
)  # fmt: skip
def test_bad_specs_are_one_clear_error(tiny_set, tmp_path, axes, extra, match):
    spec = _spec(tmp_path, tiny_set, axes, **extra)
    with pytest.raises(SweepError, match=match):
        run_sweep(spec, tmp_path / "out", serial=True)
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_spec_that_is_not_json_or_missing(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(SweepError, match="is not JSON"):
        load_spec(bad)
    with pytest.raises(SweepError, match="not found"):
        load_spec(tmp_path / "none.json")


def test_an_unknown_table_format_is_refused_before_anything_runs(tiny_set, tmp_path):
    spec = _spec(tmp_path, tiny_set, {"link_rate_bps": [9600]})
    with pytest.raises(SweepError, match=r"unknown table format 'xlsx' \(known: csv, parquet\)"):
        run_sweep(spec, tmp_path / "out", serial=True, table_format="xlsx")
    assert not (tmp_path / "out").exists()


def test_every_results_column_has_a_type():
    assert set(COLUMN_TYPES) == {"point", "status", "error", *AXES, *COLUMNS}


def _metrics_by_hand() -> dict:
    """A metrics.json as a point returns it (only what a row reads), written by hand."""
    return {
        "frames": 8, "raw_bytes": 67108864, "sent_bytes": 5268667, "reduction_factor": 12.737,
        "ships_labelled": 35, "ships_delivered": 21, "ship_recall": 0.6, "ships_visible": 27,
        "ship_recall_visible": 0.7778, "crop_precision": 0.0109, "first_pass_ships": 11,
        "latency_s_mean": 12876.0, "latency_s_max": 27831.9, "budget_utilization": 0.0949,
        "runtime_s": 116.3, "classifiers": {"sample": "out-of-sample"},
        "baselines": {"raw": {"first_pass_ships": 0}, "compressed": {"first_pass_ships": 2.0}},
        "per_frame": [{"cloud_fraction": 0.5}, {"cloud_fraction": 0.25}],
        "targets": {"a": {"met": False}, "b": {"met": True}, "c": {"met": False}},
    }  # fmt: skip


def test_parquet_table_reads_back_identical_to_the_csv(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    points = [
        {"link_rate_bps": 9600, "stations": ["svalbard", "delft"], "ship_crop_min_prob": None,
         "cloud_mean": 0.67},
        {"link_rate_bps": 1_000_000, "stations": ["delft"], "ship_crop_min_prob": 0.25,
         "cloud_mean": 0},
    ]  # fmt: skip
    rows = [
        row_of(0, points[0], _metrics_by_hand(), None),
        row_of(1, points[1], None, "boom: the point failed"),
    ]
    fields = ["point", "status", *points[0], *COLUMNS, "error"]
    (tmp_path / "c").mkdir()
    (tmp_path / "p").mkdir()
    assert write_table(rows, fields, tmp_path / "c", "csv").name == "results.csv"
    assert write_table(rows, fields, tmp_path / "p", "parquet").name == "results.parquet"
    with open(tmp_path / "c" / "results.csv", newline="") as fh:
        text = list(csv.DictReader(fh))
    table = pq.read_table(tmp_path / "p" / "results.parquet")
    assert table.column_names == fields
    # types, declared here by hand
    want = {"point": pa.string(), "stations": pa.string(), "link_rate_bps": pa.int64(),
            "ship_crop_min_prob": pa.float64(), "cloud_mean": pa.float64(),
            "sent_bytes": pa.int64(), "reduction_factor": pa.float64(),
            "compressed_first_pass_ships": pa.int64(), "targets_missed": pa.string()}  # fmt: skip
    for name, t in want.items():
        assert table.schema.field(name).type == t, name
    got = table.to_pylist()
    assert len(got) == len(text) == 2
    for csv_row, pq_row in zip(text, got, strict=True):
        for f in fields:
            v, s = pq_row[f], csv_row[f]
            if v is None:
                assert s == "", (f, s)
            elif isinstance(v, str):
                assert v == s, f
            else:
                assert type(v)(float(s)) == v, (f, s, v)
    assert got[0]["stations"] == "svalbard+delft" and got[0]["ship_crop_min_prob"] is None
    assert got[0]["cloud_fraction_mean"] == 0.375 and got[0]["targets_missed"] == "a+c"
    assert got[0]["compressed_first_pass_ships"] == 2
    assert got[1]["cloud_mean"] == 0.0 and got[1]["sent_bytes"] is None
    assert got[1]["error"] == "boom: the point failed"


def test_pareto_front_and_knee_by_hand():
    # (bytes, ships): D is dominated by B (fewer bytes, more ships), E duplicates A
    pts = [(1.0, 1.0), (2.0, 8.0), (4.0, 9.0), (3.0, 5.0), (1.0, 1.0), (8.0, 10.0)]
    front = pareto_front(pts)
    assert front == [0, 1, 2, 5]
    # scaled: A (0,0), B (1/7, 7/9), C (3/7, 8/9), F (1,1): B lies farthest from the chord
    assert knee(pts, front) == 1


def test_points_are_applied_to_the_manifest(tiny_set):
    base = load_manifest(tiny_set)
    m = point_manifest(
        base,
        {"link_rate_bps": 1_000_000, "stations": ["delft", "svalbard"], "ship_crop_min_prob": 0.25,
         "discard_sea_min_prob": None, "store_bytes": 1 << 20},
    )  # fmt: skip
    assert m.link.rate_bps == 1_000_000 and m.link.name == "S-band 1 Mbit/s"
    assert [s.name for s in m.stations] == ["delft", "svalbard"]
    assert m.onboard.policy.ship_crop_min_prob == 0.25
    assert m.onboard.policy.discard_min_prob == {"sea": None}
    assert m.onboard.store_capacity_bytes == 1 << 20
    assert m.frames == base.frames


def test_an_elevation_mask_point_masks_every_station(tmp_path):
    """``min_elevation_deg`` sets every station's mask (after ``stations``): the contact
    windows of the point's manifest are those of that mask, fewer and shorter as it rises."""
    from triage.sim.build import build_synthetic_set
    from triage.sim.link import plan_passes

    base = load_manifest(
        build_synthetic_set(tmp_path / "set", n_scenes=1, rows=64, cols=64, seed=5,
                            ships_per_scene=1, sim_span=timedelta(days=2))
    )  # fmt: skip
    low = point_manifest(base, {"stations": ["svalbard", "delft"], "min_elevation_deg": 0.0})
    high = point_manifest(base, {"stations": ["svalbard", "delft"], "min_elevation_deg": 20.0})
    assert [(s.name, s.min_elevation_deg) for s in high.stations] == [
        ("svalbard", 20.0),
        ("delft", 20.0),
    ]
    lo, hi = plan_passes(low), plan_passes(high)
    assert 0 < len(hi) < len(lo)
    assert sum(p.duration_s for p in hi) < sum(p.duration_s for p in lo)
    assert min(p.max_elevation_deg for p in hi) >= 20.0


def test_the_report_plots_the_mask_and_satellite_axes_when_they_vary(tmp_path):
    """Ships, reduction and latency against the elevation mask and the number of
    satellites, when the spec varies them (hand-made rows: the plots only read them)."""
    from triage.sim.sweep import SweepSpec
    from triage.sim.sweep_report import write_sweep_report

    spec = SweepSpec.model_validate(
        {"name": "t", "base": "b.json",
         "axes": {"min_elevation_deg": [5.0, 10.0], "satellites": [1, 2]}}
    )  # fmt: skip
    rows = [
        {"point": f"p{i}", "status": "ok", "min_elevation_deg": e, "satellites": n,
         "ships_delivered": 100 + i, "reduction_factor": 15.0 + i, "latency_s_mean": 9000.0 - i,
         "sent_bytes": 10**6 + i, "first_pass_ships": i}
        for i, (e, n) in enumerate([(5.0, 1), (5.0, 2), (10.0, 1), (10.0, 2)])
    ]  # fmt: skip
    summary = {"points": 4, "failed": [], "wall_s": 1.0, "points_per_minute": 240.0,
               "mode": "serial"}  # fmt: skip
    write_sweep_report(tmp_path / "r.html", spec, rows, summary)
    doc = (tmp_path / "r.html").read_text()
    for what in ("Elevation mask", "Satellites"):
        for short in ("ships delivered", "reduction", "latency"):
            assert f"<h2>{what} against {short}</h2>" in doc
    one = SweepSpec.model_validate({"name": "t", "base": "b.json", "axes": {"satellites": [1]}})
    write_sweep_report(tmp_path / "s.html", one, rows[:1], {**summary, "points": 1})
    assert "against ships delivered" not in (tmp_path / "s.html").read_text()


def _rows(folder: Path) -> list[dict]:
    with open(folder / "results.csv") as fh:
        return list(csv.DictReader(fh))


def _points(folder: Path) -> dict[str, dict]:
    out = {}
    for f in sorted((folder / "points").glob("p*.json")):
        m = json.loads(f.read_text())
        m.pop("runtime_s")
        out[f.stem] = m
    return out


@pytest.mark.slow
def test_cluster_gives_the_one_by_one_metrics_and_retries_a_lost_worker(
    tiny_set, tmp_path, monkeypatch
):
    from triage.sim.sweep import absolute_paths

    axes = {"link_rate_bps": [9600, 1_000_000], "ship_crop_min_prob": [0.0703125, 0.5]}
    spec = _spec(tmp_path, tiny_set, axes)
    # the same points, each run alone in this process, one after the other
    base_json = absolute_paths(load_manifest(tiny_set), tiny_set.parent).model_dump_json()
    alone = {}
    for i, point in enumerate(
        {"link_rate_bps": r, "ship_crop_min_prob": t} for r in axes["link_rate_bps"]
        for t in axes["ship_crop_min_prob"]
    ):  # fmt: skip
        m = run_point(base_json, point, "auto", None)
        m.pop("runtime_s")
        alone[f"p{i:04d}"] = m
    # the axes change what the points measure, so equal metrics are not a coincidence
    assert alone["p0000"]["latency_s_mean"] > alone["p0002"]["latency_s_mean"]
    assert alone["p0000"]["sent_bytes"] != alone["p0001"]["sent_bytes"]
    serial = run_sweep(spec, tmp_path / "serial", serial=True)
    assert serial["failed"] == []
    # the first point to start kills its worker once: Dask runs it again elsewhere
    marker = tmp_path / "kill-once"
    marker.write_text("")
    monkeypatch.setenv(FAULT_ENV, str(marker))
    cluster = run_sweep(spec, tmp_path / "cluster", workers=2)
    assert not marker.exists(), "no worker was killed: the retry test is void"
    assert cluster["failed"] == [] and cluster["mode"] == "local cluster, 2 workers"
    assert cluster["frames"] == serial["frames"] == 4 * 2  # 4 points of the 2-scene set
    # every point's whole metrics.json: alone == serial sweep == cluster sweep
    assert _points(tmp_path / "serial") == alone
    assert _points(tmp_path / "cluster") == alone
    a, b = _rows(tmp_path / "serial"), _rows(tmp_path / "cluster")
    assert [(r["link_rate_bps"], r["ship_crop_min_prob"]) for r in b] == [
        ("9600", "0.0703125"), ("9600", "0.5"), ("1000000", "0.0703125"), ("1000000", "0.5"),
    ]  # fmt: skip
    for ra, rb in zip(a, b, strict=True):
        ra.pop("runtime_s"), rb.pop("runtime_s")
        assert ra == rb
    doc = (tmp_path / "cluster" / "report.html").read_text()
    assert "Pareto front" in doc and "knee" in doc.lower()
    assert "http://" not in doc and "https://" not in doc


@pytest.mark.slow
def test_a_failing_point_is_named_and_the_others_finish(tiny_set, tmp_path):
    # 1 bit/s: no pass carries a byte, the point fails with the orbit error
    spec = _spec(tmp_path, tiny_set, {"link_rate_bps": [1, 9600]})
    s = run_sweep(spec, tmp_path / "out", workers=2)
    assert [f["point"] for f in s["failed"]] == ["p0000"]
    assert "carries any byte" in s["failed"][0]["error"]
    rows = _rows(tmp_path / "out")
    assert [r["status"] for r in rows] == ["failed", "ok"]
    assert "p0000" in (tmp_path / "out" / "report.html").read_text()


def test_an_unreachable_scheduler_is_one_error_and_writes_nothing(tiny_set, tmp_path):
    spec = _spec(tmp_path, tiny_set, {"link_rate_bps": [9600]})
    with pytest.raises(SweepError, match=r"scheduler at tcp://127\.0\.0\.1:9 does not answer"):
        run_sweep(spec, tmp_path / "out", scheduler="tcp://127.0.0.1:9")
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]
