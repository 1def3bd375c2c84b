"""The runner's seams: a pass's contact window is the object the ground plans with, the
ground's export report names each crop's frame and bands (checked against the packets and
the GeoTIFFs' own tags), packets arrive when the link's arithmetic says, a frame that
vanishes mid-run is a clear error that leaves no folder, and the module layout of
``triage.sim`` (one ground_station importer, no function-local in-repo imports)."""

from __future__ import annotations

import ast
import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import rasterio

import triage.sim.ground as ground_mod
import triage.sim.link as link_mod
import triage.sim.runner as runner
from ground_station.export import BandRole, ExportedFile, ExportReport, FrameExport, ProductRef
from ground_station.passes import ContactWindow
from triage.sim.errors import SceneError, VerificationError
from triage.sim.frames import FrameGeo
from triage.sim.link import LossChannel, Pass, transmit
from triage.sim.manifest import PacketLoss, load_manifest
from triage.sim.orbit import sun_synchronous_tle
from triage.sim.verification import verify_crops

SIM = Path(runner.__file__).parent
IN_REPO = ("triage", "ground_station", "triage_models")


@pytest.fixture(scope="module")
def spied_run(tiny_set, tmp_path_factory):
    """A run of the tiny set with spies on the ground's planner, the crop check and the
    catalogue-vs-tracker comparison (each spy calls the real function)."""
    seen: dict[str, list] = {"windows": [], "exports": [], "tracked": []}
    mp = pytest.MonkeyPatch()
    real_plan, real_verify, real_cmp = (
        ground_mod.plan_next_pass,
        runner.verify_crops,
        runner.ship_crops_disagree,
    )

    def plan(db, window, rate_bps, **kw):
        seen["windows"].append(window)
        return real_plan(db, window, rate_bps, **kw)

    def verify(export, geos):
        seen["exports"].append(export)
        return real_verify(export, geos)

    def compare(catalogued, tracked):
        seen["tracked"].append(set(tracked))
        return real_cmp(catalogued, tracked)

    mp.setattr(ground_mod, "plan_next_pass", plan)
    mp.setattr(runner, "verify_crops", verify)
    mp.setattr(runner, "ship_crops_disagree", compare)
    try:
        out = tmp_path_factory.mktemp("orchestration") / "run"
        res = runner.run_simulation(tiny_set, out)
    finally:
        mp.undo()
    return res, out, seen


def test_each_pass_plans_with_its_own_window_object(spied_run):
    res, _, seen = spied_run
    planned = seen["windows"]
    # the ground plans every pass once it knows the store: the last len(planned) passes
    assert 0 < len(planned) <= len(res.passes)
    held = [p.window for p in res.passes][len(res.passes) - len(planned) :]
    assert all(a is b for a, b in zip(planned, held, strict=True))
    # explicit passes: no orbit, so no elevation to report
    assert all(
        p.max_elevation_deg is None and p.window.max_elevation_deg == 0.0 for p in res.passes
    )


def test_passes_hold_the_ground_stations_windows(tiny_set, monkeypatch):
    """From a TLE, each Pass holds the very ContactWindow the ground station computed."""
    base = json.loads(tiny_set.read_text())
    start = datetime.fromisoformat(base["window_start_utc"].replace("Z", "+00:00"))
    tle = sun_synchronous_tle(start)
    base["orbit"] = {"tle": {"name": "SSO", "line1": tle.line1, "line2": tle.line2}}
    path = tiny_set.parent / "tle-orbit.json"
    path.write_text(json.dumps(base))
    computed = []
    real = link_mod.contact_windows

    def spy(*args, **kw):
        computed.extend(real(*args, **kw))
        return computed

    monkeypatch.setattr(link_mod, "contact_windows", spy)
    passes = link_mod.plan_passes(load_manifest(path))
    assert passes and all(any(p.window is w for w in computed) for p in passes)
    assert all(p.max_elevation_deg == p.window.max_elevation_deg > 0 for p in passes)
    assert [p.index for p in passes] == list(range(len(passes)))


def test_export_report_names_frames_and_bands_of_the_crops(spied_run):
    """The report's (frame id, product id) of every crop are those the packet tracker read
    from the packets' secondary headers, and the GeoTIFF's own tags; its bands are the
    Sentinel-2 bands in frame-memory order."""
    res, out, seen = spied_run
    (export,) = seen["exports"]
    (tracked,) = seen["tracked"]
    crops = export.crop_files
    assert crops and len(crops) == res.metrics()["ground"]["crops_exported"]
    ids = [(f.frame_id, f.products[0].product_id) for f in crops]
    assert len(set(ids)) == len(ids) and set(ids) == tracked
    for f in crops:
        # the report was written in the run's temporary folder, renamed when complete
        assert f.path.parent.name == "crops"
        with rasterio.open(out / "ground" / "export" / "crops" / f.path.name) as ds:
            tags = ds.tags()
        assert (int(tags["frame_id"]), int(tags["product_id"])) == (
            f.frame_id,
            f.products[0].product_id,
        )
        assert [p.product_type for p in f.products] == ["SHIP_CROP"]
        assert [str(b) for b in f.bands] == ["B02 blue", "B03 green", "B04 red", "B08 nir"]


def _geo(frame_id: int) -> FrameGeo:
    return FrameGeo(
        frame_id=frame_id,
        scene="s",
        rows=8,
        cols=8,
        dtype="uint16",
        crs_epsg=32631,
        crs_wkt="",
        geotransform=(0.0, 10.0, 0.0, 0.0, 0.0, -10.0),
        scene_transform=(0.0, 10.0, 0.0, 0.0, 0.0, -10.0),
        scene_rows=8,
        scene_cols=8,
        band_names=("blue",),
        band_paths=(Path("nowhere.tif"),),
        band_indexes=(1,),
    )


def test_crop_of_a_frame_not_in_the_set_is_a_clear_error(tmp_path):
    crop = ExportedFile(
        tmp_path / "c.tif", "crop", 99, (ProductRef(3, "SHIP_CROP"),), (BandRole(1, "B02", "blue"),)
    )
    report = ExportReport(out_dir=tmp_path, frames=[FrameExport(99, [crop])])
    with pytest.raises(VerificationError, match=r"c\.tif for frame 99, which is not a frame"):
        verify_crops(report, {1: _geo(1), 2: _geo(2)})


def test_frame_vanishing_mid_run_is_a_clear_error_and_leaves_nothing(tiny_set, tmp_path):
    """Every check passes, then a band file of the second frame disappears before it is
    read: the run stops naming the frame and the file, and no output folder, finished or
    partial, is left."""
    src = tmp_path / "set"
    shutil.copytree(tiny_set.parent, src)
    manifest = src / tiny_set.name
    frame2 = json.loads(manifest.read_text())["frames"][1]
    victim = src / frame2["bands"]["red"]["path"]
    out = tmp_path / "out"
    mp = pytest.MonkeyPatch()
    real = runner.constellation_passes

    def then_delete(m):
        passes = real(m)  # among the last checks before the output folder is made
        victim.unlink()
        return passes

    mp.setattr(runner, "constellation_passes", then_delete)
    try:
        with pytest.raises(SceneError) as err:
            runner.run_simulation(manifest, out)
    finally:
        mp.undo()
    msg = str(err.value)
    assert msg.startswith(f"frame {frame2['frame_id']} ({frame2['scene']}): cannot read pixels")
    assert str(victim) in msg
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]


def test_transmission_times_and_losses():
    """Two packets sent from byte 50 of a 9600 bit/s pass: each arrives 10 s (acquisition)
    after AOS plus its last byte's air time, 8 x 1279 / 1107 / 9600 s per packet byte
    (a 1279-byte CADU carries 1107 packet bytes); the lost one does not arrive."""
    aos = datetime(2024, 6, 1, 3, tzinfo=UTC)
    p = Pass(0, ContactWindow("svalbard", aos, aos + timedelta(minutes=8), 30.0), 100_000)
    pk = [b"a" * 100, b"b" * 200]
    tx = transmit(pk, 50, LossChannel(PacketLoss(), "t"))
    assert tx.ends.tolist() == [150, 350] and tx.end == 350 and tx.packets_lost == 0
    got = tx.arrived(p, 9600)
    want = [aos + timedelta(seconds=10 + end * 8 * 1279 / 1107 / 9600) for end in (150, 350)]
    assert [w for _, w in got] == want and [x for x, _ in got] == pk
    lossy = type(tx)(pk, np.array([True, False]), tx.ends)
    assert [x for x, _ in lossy.arrived(p, 9600)] == [pk[1]] and lossy.packets_lost == 1


def _imports(path: Path):
    """(node, is at module level) for every import in a module."""
    tree = ast.parse(path.read_text())
    top = {id(n) for n in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, id(node) in top
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module, id(node) in top


def test_module_layout_of_the_simulator():
    """ground.py is the one module of triage.sim that imports ground_station; no module of
    triage.sim imports a module of the repository inside a function (such an import hides
    a dependency, and so a cycle)."""
    modules = sorted(SIM.glob("*.py"))
    assert len(modules) > 10
    importers, local = [], []
    for path in modules:
        for name, at_top in _imports(path):
            root = name.split(".")[0]
            if root == "ground_station":
                importers.append(path.name)
            if root in IN_REPO and not at_top:
                local.append(f"{path.name}: {name}")
    assert sorted(set(importers)) == ["ground.py"]
    assert local == []
