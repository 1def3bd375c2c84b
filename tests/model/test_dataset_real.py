"""The dataset built from the real imagery (skips without the data)."""

from __future__ import annotations

import numpy as np
import pytest
from triage_models import dataset, sources
from triage_models.evaluate import FOLDS, ship_tiles
from triage_models.tiles import tile_spec

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def ds(data_dir):
    built, _ = dataset.load_or_build(data_dir)
    return built


def test_counts(ds):
    assert len(ds.boxes) == 243  # the data README: 243 labelled vessels in the ten ports
    assert ds.names[: len(sources.PORTS)] == list(sources.PORTS)
    spec = tile_spec()
    for f, name in enumerate(ds.names):
        lab = ds.tile_label[ds.tile_frame == f]
        if ds.is_port[f]:
            assert (lab == spec.class_id("ship")).sum() > 0, name
            assert (lab == spec.class_id("sea")).sum() > 0, name
        else:
            assert (lab == spec.class_id("cloud")).sum() > 0, name


def test_every_ship_has_a_tile(ds):
    idx = np.flatnonzero(ds.is_port[ds.tile_frame])
    ships = ship_tiles(ds, idx)
    assert len(ships) == 243
    # two tiles of the stride grid per axis, three where the flush last tile adds one
    assert all(1 <= len(p) <= 9 for _, p in ships)


def test_folds_cover_every_frame_once(ds):
    names = [n for group in FOLDS for n in group]
    assert sorted(names) == sorted(ds.names)


def test_cache_is_reused(data_dir, ds):
    again, built = dataset.load_or_build(data_dir)
    assert not built and again.key == ds.key
    assert np.array_equal(again.tile_label, ds.tile_label)


def test_sen2ships_scale_is_reflectance_x_65535(data_dir):
    # Water reflectance in the NIR is a few percent at most: as reflectance x 65535 the
    # open-water median sits in 0.005-0.06; as DN x 10000 it would be 0.05-0.4.
    scene = sources.read_port(data_dir, "valencia")
    water = dataset.ndwi_water(scene.frame)
    nir = np.median(scene.frame[..., 3][water]) / 65535
    assert 0.003 < nir < 0.06
    assert scene.frame.max() <= 65535


def test_cloud_sources_on_the_canonical_scale(data_dir):
    # ukis-csmask and 38-Cloud (oncloudn's expert masks include thin cloud: next test)
    for img in [sources.read_ukis(data_dir, n) for n in sources.UKIS_IMAGES] + [
        sources.read_38cloud(data_dir)
    ]:
        cloud_blue = np.median(img.frame[..., 0][img.cloud]) / 65535
        clear_blue = np.median(img.frame[..., 0][~img.cloud]) / 65535
        assert 0.2 < cloud_blue < 1.0, img.name
        assert clear_blue < cloud_blue, img.name


def test_oncloudn_and_coastal_on_the_canonical_scale(data_dir):
    # oncloudn: DN = reflectance x 10000; its cloud pixels are bright (median reflectance
    # 0.15-0.6 in the visible), its clear land darker; the coastal chips' Sen2Cor water
    # (SCL 6) reads a low NIR reflectance once the L2A offset is taken off.
    for chip in sources.ONCLOUDN_CHIPS:
        img = sources.read_oncloudn(data_dir, chip)
        cloud = np.median(img.frame[img.cloud][:, :3]) / 65535
        clear = np.median(img.frame[~img.cloud][:, :3]) / 65535
        assert 0.15 < cloud < 0.6 and clear < cloud, chip
    for chip in sources.read_coastal_chips(data_dir):
        nir = np.median(chip.frame[..., 3][chip.scl == 6]) / 65535
        assert 0.0 < nir < 0.05, chip.name
