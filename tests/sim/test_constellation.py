"""Several satellites: their TLEs, which satellite images each scene, and a run over
the passes of all of them."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from ground_station.passes import parse_tle
from triage.sim.build import DEFAULT_EPOCH, build_synthetic_set
from triage.sim.constellation import constellation_passes, constellation_tles
from triage.sim.frames import check_frames, footprint_lonlat
from triage.sim.manifest import load_manifest, parse_manifest
from triage.sim.orbit import access_times, sun_synchronous_tle
from triage.sim.runner import run_simulation


def test_constellation_tles_differ_only_in_phase_and_number():
    tle = sun_synchronous_tle(DEFAULT_EPOCH)
    tles = constellation_tles(tle, 4)
    assert tles[0] == tle
    ma0 = float(tle.line2[43:51])
    for k, t in enumerate(tles):
        parse_tle(t.text)  # checksums and fields valid for the ground station's parser
        assert int(t.line1[2:7]) == int(tle.line1[2:7]) + k
        assert float(t.line2[43:51]) == pytest.approx((ma0 + 90.0 * k) % 360.0, abs=1e-4)
        # everything else of the orbit is the same
        assert t.line2[8:43] == tle.line2[8:43] and t.line2[51:63] == tle.line2[51:63]


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    return build_synthetic_set(
        tmp_path_factory.mktemp("const"), n_scenes=2, rows=256, cols=256, seed=41,
        ships_per_scene=4, sim_span=timedelta(days=2),
    )  # fmt: skip


def test_two_satellites_image_each_scene_with_the_first_over_it(small_set, tmp_path):
    data = json.loads(small_set.read_text())
    data["orbit"]["satellites"] = 2
    path = small_set.parent / "two-sats.json"
    path.write_text(json.dumps(data))
    m = parse_manifest(data)
    geos = check_frames(m, small_set.parent)
    res = run_simulation(path, tmp_path / "run")
    tles = constellation_tles(m.orbit.tle, 2)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    per_frame = metrics["per_frame"]
    # per satellite: its id, and its shares add up to the run's totals
    sats = metrics["per_satellite"]
    assert [(r["satellite"], r["spacecraft_id"]) for r in sats] == [(0, 0x1A7), (1, 0x1A8)]
    for key, total in (
        ("frames", len(m.frames)),
        ("raw_bytes", metrics["raw_bytes"]),
        ("sent_bytes", metrics["sent_bytes"]),
        ("ships_labelled", metrics["ships_labelled"]),
        ("ships_delivered", metrics["ships_delivered"]),
        ("passes", len(res.passes)),
    ):
        assert sum(r[key] for r in sats) == total, key
    assert "<h2>Per satellite</h2>" in (tmp_path / "run" / "report.html").read_text()
    for f in m.frames:
        pts = footprint_lonlat(geos[f.frame_id])
        lon = sum(p[0] for p in pts) / len(pts)
        lat = sum(p[1] for p in pts) / len(pts)
        first = [
            access_times(t, lat, lon, m.window_start_utc, m.window_start_utc + timedelta(days=5))
            for t in tles
        ]
        k = min(range(2), key=lambda i: first[i][0].time_utc)
        rec = next(r for r in res.frames if r.frame_id == f.frame_id)
        assert rec.satellite == k
        row = next(r for r in per_frame if r["frame_id"] == f.frame_id)
        assert row["satellite"] == k  # metrics.json says which satellite imaged it
        assert rec.capture_time == f.capture_time_utc + (
            first[k][0].time_utc - first[0][0].time_utc
        )
    passes = constellation_passes(m)
    assert {p.satellite for p in passes} == {0, 1}
    assert [p.aos for p in passes] == sorted(p.aos for p in passes)
    assert len(res.passes) == len(passes)
    one = run_simulation(small_set, tmp_path / "one")
    assert json.loads((tmp_path / "one" / "metrics.json").read_text())["per_satellite"] == []
    # each satellite has every contact window of its own
    assert len(passes) == 2 * len(one.passes) or abs(len(passes) - 2 * len(one.passes)) <= 2
    assert (tmp_path / "run" / "ground-2" / "catalogue.sqlite").exists() == (
        any(p.satellite == 1 for p in res.passes)
    )
    assert load_manifest(small_set).orbit.satellites == 1
