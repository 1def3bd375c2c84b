"""Scenarios made of real pixels: cloud geometry against a hand-derived case, the COCO
mask decoder against hand-made masks, and small realized maritime and cloudy-port sets
checked for the properties their truth claims (out of sample by construction, laid
cloud fraction and under-cloud flags as the alpha says, samples on the sen2ships
lattice)."""

from __future__ import annotations

import json
import math
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import rasterio

from triage.contract.predictor import dn_from_samples, samples_from_dn
from triage.sim.classifiers import frame_sources, load_classifiers
from triage.sim.errors import ManifestError
from triage.sim.manifest import CloudSpec, MaritimeSpec, Scenario, dump_manifest, load_manifest
from triage.sim.runner import run_simulation
from triage.sim.scenarios import lay_clouds, realize, scenario_manifest
from triage.sim.sources import CloudSource, decode_mask

from .testmodels import write_registry


def test_decode_mask_rle_and_polygon():
    # 3 x 4 scene; column-major RLE: 4 background, 2 set (rows 1-2 of column 1), rest clear
    m = decode_mask({"counts": [4, 2, 6], "size": [3, 4]}, 3, 4)
    want = np.zeros((3, 4), bool)
    want[1:3, 1] = True
    assert np.array_equal(m, want)
    poly = decode_mask([[1, 1, 3, 1, 3, 2, 1, 2]], 4, 5)
    want = np.zeros((4, 5), bool)
    want[1:3, 1:4] = True
    assert np.array_equal(poly, want)
    with pytest.raises(ValueError, match="covers 5 pixels"):
        decode_mask({"counts": [4, 1], "size": [3, 4]}, 3, 4)


def test_cloud_shadow_falls_away_from_the_sun():
    # one source: a 40 x 40 cloud (6000) in the middle of a clear (500) 256 x 256 chip, 10 m
    cloud = np.zeros((256, 256), bool)
    cloud[108:148, 108:148] = True
    d = np.full((256, 256, 4), 500, np.int32)
    d[cloud] = 6000
    src = CloudSource("test", d, cloud, 10.0)
    rng = np.random.default_rng(1)
    # Sun in the east at 45 degrees, cloud top 1 km: the shadow lies 1000 m x tan 45 = 100 px
    # west of the cloud
    layer = lay_clouds((256, 256), 10.0, 1.0, [src], rng, height_m=1000.0, sun_elevation=45.0,
                       sun_azimuth=90.0)  # fmt: skip
    ys, xs = np.nonzero(layer.alpha >= 0.5)
    sy, sx = np.nonzero(layer.shadow >= 0.5)
    assert len(xs) and len(sx)
    assert abs((sx.mean() - xs.mean()) - (-100.0)) < 1.0
    assert abs(sy.mean() - ys.mean()) < 1.0
    # ground under the shadow keeps the stated share of its light, band by band
    ground = np.full((256, 256, 4), 1000.0)
    out = layer.apply(ground)
    r, c = int(sy.mean()), int(sx.mean())
    assert layer.alpha[r, c] < 0.01 and layer.shadow[r, c] > 0.99
    assert np.allclose(out[r, c], [400, 350, 300, 250], atol=5)
    # the middle of the cloud is opaque: the cloud image's own pixel
    cy, cx = int(ys.mean()), int(xs.mean())
    assert layer.alpha[cy, cx] > 0.99 and np.allclose(out[cy, cx], 6000, atol=1)


# The shipped cell network was trained on all ten ports and both coastal chips
# (models/shipped/training.json), so no maritime frame can be out of sample for it and
# the real registry refuses the scenario (test_maritime_refuses_...). The scenario's
# mechanism is tested with a registry that also lists a test cell model declared trained
# on everything the shipped one saw except athens, the coastal chips and the oncloudn
# cloud chips: the frames (water, coast, vessels, clouds) must then come from those
# sources only, and be classified by that model.
UNSEEN_BY_FOLD = (
    "sen2ships/athens",
    "coastal/accra",
    "coastal/limassol",
    *(f"clouds/oncloudn/chip_{k}" for k in (1, 2, 3)),
)


def _fold_registry(folder):
    seen = [s for s in load_classifiers().shipped.training_sources if s not in UNSEEN_BY_FOLD]
    return write_registry(folder, [{"name": "fold_t", "training_sources": seen}])


@pytest.fixture(scope="module")
def maritime(data_dir, tmp_path_factory):
    sc = Scenario(
        kind="maritime",
        maritime=MaritimeSpec(frames=3, frame_px=256, vessels_per_100km2=60.0, seed=2),
        clouds=CloudSpec(mean=0.5, concentration=1000.0, seed=3),
    )
    reg = _fold_registry(tmp_path_factory.mktemp("reg"))
    path = realize(scenario_manifest(sc), tmp_path_factory.mktemp("mar") / "set", registry=reg)
    return path, load_manifest(path), reg


@pytest.mark.realdata
def test_maritime_frames_are_out_of_sample_by_construction(maritime):
    path, m, reg = maritime
    cs = load_classifiers(reg)
    assert {f.model for f in m.frames} == {"fold_t"}  # the shipped one saw every source
    vessels = 0
    for f in m.frames:
        c = cs.get(f.model)
        srcs = frame_sources(f)
        assert srcs and not set(srcs) & set(c.training_sources), (f.scene, srcs)
        coco = json.loads((path.parent / f.labels.path).read_text())
        for a in coco["annotations"]:
            assert a["source"] in srcs and a["source"] not in c.training_sources
            vessels += 1
    assert vessels > 0, "no vessel pasted: the density test is void"


@pytest.mark.realdata
def test_laid_cloud_and_flags_follow_the_masks(maritime):
    path, m, _ = maritime
    for f in m.frames:
        folder = path.parent / f.scene
        with rasterio.open(folder / "cloud_alpha.tif") as ds:
            alpha = ds.read(1)  # what the cloud hides
        with rasterio.open(folder / "cloud_mask.tif") as ds:
            mask = ds.read(1)  # where the cloud masks are
        assert f.cloud_fraction == round(float((mask >= 128).mean()), 4)
        assert (alpha <= mask).all()  # a cloud hides at most what its mask covers
        truth = json.loads((folder / "truth.json").read_text())["frames"][0]
        assert abs(truth["cloud_laid"] - truth["cloud_target"]) < 0.2
        assert abs(truth["cloud_target"] - 0.5) < 0.1  # concentration 1000: about the mean
        for a in json.loads((folder / "ships.coco.json").read_text())["annotations"]:
            x, y, w, h = a["bbox"]
            centre = alpha[min(255, int(y + h / 2)), min(255, int(x + w / 2))]
            assert a["under_cloud"] == bool(centre >= 128)
            assert abs(a["cloud_alpha"] - centre / 255) <= 0.5 / 255 + 1e-4
        # every sample on the lattice of reflectance x 10000 (dn_scale 65535/10000)
        with rasterio.open(folder / "B08.tif") as ds:
            s = ds.read(1)
        assert np.array_equal(samples_from_dn(dn_from_samples(s, 65535, 10000), 65535, 10000), s)
        assert s.min() > 0  # 0 is the no-data value


@pytest.mark.realdata
def test_maritime_leaves_out_classifiers_marked_not_auto(data_dir, tmp_path):
    # two test models that saw the same sources: the round robin alternates them, unless
    # the first is marked auto: false (a launch model kept for the model-update scenario)
    seen = [s for s in load_classifiers().shipped.training_sources if s not in UNSEEN_BY_FOLD]
    sc = Scenario(kind="maritime", maritime=MaritimeSpec(frames=2, frame_px=128, seed=2))
    models = {}
    for auto in (True, False):
        reg = write_registry(
            tmp_path / f"reg{auto}",
            [
                {"name": "launch_t", "training_sources": seen, "auto": auto},
                {"name": "fold_t", "training_sources": seen},
            ],
        )
        path = realize(scenario_manifest(sc), tmp_path / f"set{auto}", registry=reg)
        models[auto] = sorted(f.model for f in load_manifest(path).frames)
    assert models[True] == ["fold_t", "launch_t"]
    assert models[False] == ["fold_t", "fold_t"]


@pytest.mark.realdata
def test_maritime_refuses_when_no_classifier_is_unseen(data_dir, tmp_path):
    ports = sorted(p.name for p in (data_dir / "sen2ships").iterdir() if p.is_dir())
    reg = write_registry(tmp_path / "reg", [], shipped_sources=[f"sen2ships/{p}" for p in ports])
    sc = Scenario(kind="maritime", maritime=MaritimeSpec(frames=1, frame_px=128))
    with pytest.raises(ManifestError, match="could not be out of sample"):
        realize(scenario_manifest(sc), tmp_path / "x", registry=reg)
    assert not (tmp_path / "x").exists()


@pytest.mark.realdata
def test_missing_port_is_named(data_dir, tmp_path):
    sc = Scenario(kind="ports", ports=["atlantis"])
    with pytest.raises(ManifestError, match="atlantis"):
        realize(scenario_manifest(sc), tmp_path / "x")
    assert not (tmp_path / "x").exists()


@pytest.mark.realdata
@pytest.mark.slow
def test_simulate_a_scenario_manifest_without_frames(data_dir, tmp_path):
    sc = Scenario(
        kind="maritime",
        maritime=MaritimeSpec(frames=1, frame_px=256, vessels_per_100km2=40.0, seed=5),
        clouds=CloudSpec(mean=0.67, seed=1),
    )
    mpath = tmp_path / "scenario.json"
    dump_manifest(scenario_manifest(sc), mpath)
    reg = _fold_registry(tmp_path / "reg")  # no maritime frame is unseen by the shipped model
    res = run_simulation(mpath, tmp_path / "run", classifiers=reg)
    m = res.metrics()
    assert m["scenario"]["kind"] == "maritime" and m["scenario"]["cloud_mean"] == 0.67
    assert "reduction_factor_at_least_100" in m["targets"]
    assert "ship_recall_visible_at_least_0.95" in m["targets"]
    assert m["classifiers"]["sample"] == "out-of-sample"
    assert math.isclose(m["per_frame"][0]["cloud_fraction"], res.frames[0].cloud_fraction)


SWEEP_BASE = Path(__file__).resolve().parents[2] / "samples" / "sweep" / "base.json"


@pytest.mark.realdata
def test_sample_sweep_base_captures_every_frame_inside_its_window(data_dir, tmp_path):
    """The committed sweep's base (the README's 64-point trade study) must realize with
    the registry as committed: every maritime frame's first daylight opportunity at its
    water donor's place lies inside the simulated window."""
    base = load_manifest(SWEEP_BASE)
    path = realize(base, tmp_path / "set")
    m = load_manifest(path)
    assert len(m.frames) == base.scenario.maritime.frames
    for f in m.frames:
        assert base.window_start_utc <= f.capture_time_utc <= base.window_end_utc


@pytest.mark.realdata
def test_a_frame_captured_after_the_window_is_named(data_dir, tmp_path):
    base = load_manifest(SWEEP_BASE)
    short = base.model_copy(update={"window_end_utc": base.window_start_utc + timedelta(hours=1)})
    with pytest.raises(ManifestError, match=r"maritime-00\d .*lengthen the simulated window"):
        realize(short, tmp_path / "x")
    assert not (tmp_path / "x").exists()
