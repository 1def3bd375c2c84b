"""The maritime product mix (``triage imageset maritime --products maritime``): discarding
uncropped sea and cloud must leave every crop decision as it was and send no
low-resolution product of sea or cloud; checked on the firmware against the same frame
decided with the classifier's own policy."""

from __future__ import annotations

import numpy as np
from typer.testing import CliRunner

from triage.cli import app
from triage.contract.enums import Action
from triage.contract.tile_spec import tile_spec
from triage.onboard.host import FrameMeta, Onboard
from triage.sim.classifiers import load_classifiers, thresholds
from triage.sim.manifest import CloudSpec, MaritimeSpec, Scenario
from triage.sim.scenarios import MARITIME_PRODUCTS, scenario_manifest


def _sea_frame(seed: int) -> np.ndarray:
    """Dim water with a bright patch, a hazy band and small bright objects: cells of every
    kind of decision."""
    rng = np.random.default_rng(seed)
    f = rng.integers(600, 1600, (128, 160, 4)).astype(np.uint16)
    f[8:40, 90:150] = rng.integers(30000, 60000, (32, 60, 4))  # cloud-like
    f[48:80, 0:160] += rng.integers(2000, 9000, (32, 160, 4)).astype(np.uint16)  # haze
    f[100:103, 20:26, 3] = 40000  # small bright objects on the water
    f[110:113, 120:125] = 25000
    return f


def test_maritime_mix_keeps_every_crop_and_discards_uncropped_sea_and_cloud():
    spec = tile_spec()
    cloud, sea = spec.class_id("cloud"), spec.class_id("sea")
    th = thresholds(load_classifiers().shipped, MARITIME_PRODUCTS)
    assert th is not None
    lowres_seen = 0
    for seed in range(4):
        f = _sea_frame(seed)
        meta = FrameMeta.for_frame(f, 1)
        ref = Onboard(4 << 20).process_frame(f, meta)
        ob = Onboard(4 << 20)
        ob.set_policy(th.discard_min_q, th.ship_crop_min_q, th.cloud_call_min_q)
        got = ob.process_frame(f, meta)
        assert ref.ok and got.ok
        assert np.array_equal(got.classes, ref.classes)
        # what the mix should do, cell by cell, from the classifier's own decisions
        want = ref.actions.copy()
        top_sea_cloud = np.isin(ref.classes, [cloud, sea])
        moved = (ref.actions == Action.LOWRES) & top_sea_cloud
        want[moved] = Action.DISCARD
        lowres_seen += int(moved.sum())
        assert np.array_equal(got.actions, want)
        assert got["cells_crop"] == ref["cells_crop"]
        assert not ((got.actions == Action.LOWRES) & top_sea_cloud).any()
    assert lowres_seen > 0, "no uncertain sea or cloud cell: the test is void"


def test_maritime_manifests_carry_the_mix():
    sc = Scenario(kind="maritime", maritime=MaritimeSpec(frames=1), clouds=CloudSpec())
    assert scenario_manifest(sc, policy=MARITIME_PRODUCTS).onboard.policy == MARITIME_PRODUCTS
    assert scenario_manifest(sc).onboard.policy is None


def test_an_unknown_product_mix_is_refused(tmp_path):
    res = CliRunner().invoke(
        app, ["imageset", "maritime", "--out", str(tmp_path / "x"), "--products", "most"]
    )
    assert res.exit_code != 0
    assert "unknown product mix 'most'" in res.output
    assert not (tmp_path / "x").exists()
