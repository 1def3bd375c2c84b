"""Manifest schema: valid sets load, and every kind of bad input gets one clear error."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path

import pytest

from triage.sim.errors import ManifestError
from triage.sim.manifest import dump_manifest, load_manifest, parse_manifest, resolve_path

TLE1 = "1 99901U          24153.00000000  .00000000  00000-0  25000-3 0    06"
TLE2 = "2 99901  97.4969 226.9360 0001000  90.0000 270.0000 15.13676342    09"


def minimal() -> dict:
    band = {"path": "scene/B02.tif"}
    return {
        "name": "t",
        "frames": [
            {
                "frame_id": 1,
                "scene": "s",
                "bands": {"blue": band, "green": band, "red": band, "nir": band},
                "window": {"row0": 0, "col0": 0, "rows": 64, "cols": 64},
                "capture_time_utc": "2024-06-01T01:00:00Z",
            }
        ],
        "orbit": {"tle": {"name": "X", "line1": TLE1, "line2": TLE2}},
        "stations": [{"name": "a", "latitude_deg": 50.0, "longitude_deg": 4.0}],
        "link": {"rate_bps": 9600},
        "window_start_utc": "2024-06-01T00:00:00Z",
        "window_end_utc": "2024-06-02T00:00:00Z",
    }


def test_minimal_loads_and_round_trips(tmp_path):
    m = parse_manifest(minimal())
    assert m.frames[0].capture_time_utc == datetime(2024, 6, 1, 1, tzinfo=UTC)
    assert m.packet_loss.model == "none"
    dump_manifest(m, tmp_path / "m.json")
    assert load_manifest(tmp_path / "m.json") == m


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda d: d["frames"][0].pop("window"), "frames.0.window: Field required"),
        (lambda d: d["frames"][0]["window"].update(rows=0), "frames.0.window.rows"),
        (lambda d: d["frames"][0].update(frame_id=0xFFFF0000), "frames.0.frame_id"),
        (lambda d: d["frames"].append(copy.deepcopy(d["frames"][0])), "frame_id 1 appears twice"),
        (
            lambda d: d["frames"][0].update(capture_time_utc="2024-06-01T01:00:00"),
            "needs a UTC offset",
        ),
        (
            lambda d: d["frames"][0].update(capture_time_utc="2024-07-01T01:00:00Z"),
            "outside the simulated window",
        ),
        (lambda d: d["link"].update(rate_bps=0), "link.rate_bps"),
        (lambda d: d.update(window_end_utc="2024-05-01T00:00:00Z"), "not after"),
        (lambda d: d["orbit"].update(passes=[]), "exactly one of orbit.tle and orbit.passes"),
        (lambda d: d.update(stations=[]), "needs at least one ground station"),
        (lambda d: d["orbit"]["tle"].update(line1=TLE1[:60]), "orbit.tle.line1"),
        (lambda d: d.update(surprise=1), "surprise: Extra inputs are not permitted"),
        (lambda d: d.update(packet_loss={"model": "x"}), "packet_loss.model"),
        (lambda d: d["frames"][0].update(dn_scale=[10000, 65535]), "dn_scale [10000, 65535]"),
        (lambda d: d["frames"][0].update(dn_scale=[1, 2, 3]), "frames.0.dn_scale"),
    ],
)
def test_bad_manifest_names_the_item(mutate, needle):
    data = minimal()
    mutate(data)
    with pytest.raises(ManifestError) as exc:
        parse_manifest(data, "m.json")
    assert needle in str(exc.value)
    assert str(exc.value).startswith("manifest m.json does not validate")


def test_not_json_and_missing_file(tmp_path):
    p = tmp_path / "m.json"
    p.write_text("{not json")
    with pytest.raises(ManifestError, match=r"is not JSON: .* line 1"):
        load_manifest(p)
    with pytest.raises(ManifestError, match="manifest not found"):
        load_manifest(tmp_path / "nope.json")
    p.write_text("[1, 2]")
    with pytest.raises(ManifestError, match="must be a JSON object"):
        load_manifest(p)


def test_resolve_path(tmp_path):
    assert resolve_path("a/b.tif", tmp_path) == tmp_path / "a/b.tif"
    assert resolve_path("/x/y.tif", tmp_path) == Path("/x/y.tif")
    assert resolve_path("data:sen2ships/x.tif", tmp_path, tmp_path / "d") == (
        tmp_path / "d" / "sen2ships/x.tif"
    )
