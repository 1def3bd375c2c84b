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
    assert len(ds.boxes) == 195  # the data README: 195 labelled vessels
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
    assert len(ships) == 195
    assert all(1 <= len(p) <= 4 for _, p in ships)


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
    for img in sources.read_cloud_images(data_dir):
        cloud_blue = np.median(img.frame[..., 0][img.cloud]) / 65535
        clear_blue = np.median(img.frame[..., 0][~img.cloud]) / 65535
        assert 0.2 < cloud_blue < 1.0, img.name
        assert clear_blue < cloud_blue, img.name
