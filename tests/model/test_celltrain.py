"""Dense cell labels, the window sampler and augmentations, and a smoke training of the cell net."""

from __future__ import annotations

import numpy as np
import pytest
from triage_models import augment
from triage_models.cellnet import CELL_PX, CellArchConfig
from triage_models.celltrain import (
    CellSampler,
    CellTrainConfig,
    _composite_labels,
    cell_label_grid,
    preprocess_windows,
    train_cellnet,
)
from triage_models.dataset import IGNORE
from triage_models.tiles import preprocess_tiles

from triage.contract.tile_spec import tile_spec
from triage.engine.stream import compile_stream

SPEC = tile_spec()
CLOUD, SEA, SHIP, LAND = (SPEC.class_id(c) for c in ("cloud", "sea", "ship", "land"))


def test_cell_labels_hand_case():
    s = 32  # 2 x 2 cells
    water = np.ones((s, s), bool)
    water[16:, 16:] = False  # cell (1, 1) is land
    cloud = np.zeros((s, s), bool)
    valid = np.ones((s, s), bool)
    # a 6x4 box with its centre (row 6, col 18) in cell (0, 1), cutting cell (0, 0)
    boxes = np.array([[14.0, 4.0, 9.0, 4.0]])
    lab = cell_label_grid(cloud, water, valid, boxes, True)
    assert lab.tolist() == [[IGNORE, SHIP], [SEA, LAND]]


def test_cell_labels_cloud_and_invalid():
    s = 32
    water = np.zeros((s, s), bool)
    cloud = np.zeros((s, s), bool)
    cloud[:16, :8] = True  # cell (0, 0): 50 % cloud -> cloud
    cloud[16:, :2] = True  # cell (1, 0): 12.5 % -> ignored on a port (over 10 %)
    valid = np.ones((s, s), bool)
    valid[:, 16:] = False  # column 1 past the frame's edge
    lab = cell_label_grid(cloud, water, valid, np.zeros((0, 4)), True)
    assert lab.tolist() == [[CLOUD, IGNORE], [IGNORE, IGNORE]]


def test_sea_cells_holding_objects_are_ignored_when_asked():
    s = 32
    water = np.ones((s, s), bool)
    water[3:5, 3:5] = False  # 4 dry pixels in cell (0, 0): a boat nobody labelled?
    args = (np.zeros((s, s), bool), water, np.ones((s, s), bool), np.zeros((0, 4)), True)
    assert cell_label_grid(*args)[0, 0] == SEA
    assert cell_label_grid(*args, sea_object_px=4)[0, 0] == IGNORE
    assert cell_label_grid(*args, sea_object_px=5)[0, 0] == SEA


def test_composite_labels_rule():
    cfg = CellTrainConfig(composite_labels="mask")
    lab = np.array([[SEA, SHIP], [LAND, SEA]], np.int8)
    cover = np.zeros((32, 32), bool)
    cover[:, :16] = True  # column 0 fully covered
    cover[:, 16:18] = True  # column 1 covered 12.5 %
    got = _composite_labels(lab, cover, 0.5, cfg)  # visible cloud; the ship still shows
    assert got.tolist() == [[CLOUD, SHIP], [CLOUD, IGNORE]]
    got = _composite_labels(lab, cover, 0.8, cfg)  # opaque: the ship is hidden
    assert got.tolist() == [[CLOUD, IGNORE], [CLOUD, IGNORE]]
    got = _composite_labels(lab, cover, 0.25, cfg)  # faint: ambiguous, not cloud
    assert got.tolist() == [[IGNORE, SHIP], [IGNORE, IGNORE]]
    keep = CellTrainConfig(composite_labels="mask", faint_labels="keep")
    got = _composite_labels(lab, cover, 0.25, keep)  # faint haze over sea is still sea
    assert got.tolist() == lab.tolist()
    assert _composite_labels(lab, cover, 0.5, keep).tolist() == [[CLOUD, SHIP], [CLOUD, IGNORE]]
    with pytest.raises(ValueError):
        CellTrainConfig(faint_labels="drop")


def test_cloud_shadow_darkens_only_where_the_moved_cloud_lies():
    rng = np.random.default_rng(7)
    x = np.empty((64, 64, 4), np.float32)
    x[:] = [1000.0, 1200.0, 900.0, 3000.0]
    alpha = np.zeros((64, 64), np.float32)
    alpha[24:40, 24:40] = 1.0  # a 16 px opaque cloud in the middle
    corners = set()
    for _ in range(20):
        y = augment.shadow_under(x, alpha, rng, max_shift=12)
        dark = (y < x).any(-1)
        assert (y <= x).all()  # a shadow never brightens
        assert dark.sum() == 16 * 16  # the cloud's footprint, moved (it stays inside)
        ys, xs = np.nonzero(dark)
        assert ys.max() - ys.min() == xs.max() - xs.min() == 15
        assert abs(ys.min() - 24) <= 12 and abs(xs.min() - 24) <= 12
        inside = y[dark] / x[dark]  # kept share of each band, the same over the shadow
        assert np.ptp(inside, axis=0).max() < 1e-6
        assert ((inside > 0.05) & (inside < 0.96)).all()
        assert (y[~dark] == x[~dark]).all()
        corners.add((ys.min(), xs.min()))
    assert len(corners) > 10  # the shadow falls away from the cloud, in varied directions


def test_window_preprocessing_is_the_tile_spec_one():
    rng = np.random.default_rng(0)
    raw = rng.integers(0, 65536, (2, 32, 32, 4), dtype=np.uint16)
    assert (preprocess_windows(raw) == preprocess_tiles(raw)).all()


class _Bank:
    """A stand-in for VesselBank holding hand-made vessels."""

    def __init__(self, *items: augment.Vessel):
        self.items = list(items)

    def __len__(self):
        return len(self.items)


def test_pasted_vessel_keeps_its_contrast_over_new_water():
    # a vessel bank of one hand-made vessel: +3000 over its water in every band
    one = augment.Vessel(
        signal=np.full((6, 4, 4), 3000.0, np.float32),
        mask=np.ones((6, 4), np.float32),
        cy=3.0,
        cx=2.0,
        bh=6.0,
        bw=4.0,
    )

    x = np.full((64, 64, 4), 9000.0, np.float32)  # bright (turbid) water
    water = np.ones((64, 64), bool)
    new = augment.paste_vessels(x, water, [], _Bank(one), np.random.default_rng(1), 1, 16)
    assert len(new) == 1
    bx, by, bw, bh = new[0]
    assert {bw, bh} == {4.0, 6.0}
    cy, cx = by + bh / 2, bx + bw / 2
    assert 16 <= cy < 48 and 16 <= cx < 48
    lo = x.min(axis=(0, 1))
    hi = x.max(axis=(0, 1))
    assert (lo == 9000).all()
    # the vessel's 3000 over its own water, times a gain of 0.8-1.2, over the new water
    assert ((hi - lo) >= 2400).all() and ((hi - lo) <= 3600).all()
    assert np.allclose(hi - lo, (hi - lo)[0])  # the same gain in every band


def _long_bank() -> _Bank:
    """One hand-made hull 12 x 4 px, +3000 in every band, in a chip with the bank's 3-px
    margin around its box."""
    mask = np.zeros((18, 10), np.float32)
    mask[3:15, 3:7] = 1.0
    signal = mask[..., None] * np.full(4, 3000.0, np.float32)
    return _Bank(augment.Vessel(signal, mask, cy=9.0, cx=5.0, bh=12.0, bw=4.0))


def test_moored_vessels_lie_alongside_land_on_water():
    # a quay: columns 0-19 land, the rest water; every vessel moored (quay 1)
    land = np.zeros((64, 64), bool)
    land[:, :20] = True
    reach = augment.QUAY_REACH_PX
    for seed in range(30):
        x = np.full((64, 64, 4), 800.0, np.float32)
        water = ~land
        new = augment.paste_vessels(
            x, water.copy(), [], _long_bank(), np.random.default_rng(seed), 2, 16, 1.0, land
        )
        assert new
        for bx, *_ in new:
            # the hull on water, not touching the quay (column 19 is its last land column)
            assert bx >= 21
            # and moored: its chip (the box and 3 px) within reach of the quay's last column
            assert bx - 3 - 19 <= reach
    # with quay 0 the draws are those of the open-water paste, which keeps 95 % water
    # under the vessel: the same boxes and the same random stream as without the option
    for seed in range(10):
        a, b = np.random.default_rng(seed), np.random.default_rng(seed)
        x = np.full((64, 64, 4), 800.0, np.float32)
        one = augment.paste_vessels(x.copy(), ~land, [], _long_bank(), a, 2, 16)
        two = augment.paste_vessels(x.copy(), ~land, [], _long_bank(), b, 2, 16, 0.0, land)
        assert one == two and a.random() == b.random()
        assert all(bx >= 20 for bx, _, _, _ in one)


def test_water_colour_moves_the_water_not_the_land():
    rng = np.random.default_rng(2)
    x = np.full((32, 32, 4), 800.0, np.float32)
    x[:, 24:] = 20000.0
    water = np.zeros((32, 32), bool)
    water[:, :20] = True
    target = np.array([5000, 6000, 7000, 2000], np.float32)
    y = augment.water_colour(x, water, np.zeros_like(water), target, rng)
    # the middle of the water moves to the target (within the +-15 % texture ramp)
    assert np.allclose(y[16, 5], target, rtol=0.2)
    assert (y[:, 28:] == 20000.0).all()  # land untouched


def test_sampler_labels_follow_the_windows(synthetic_ds):
    cfg = CellTrainConfig(
        window_px=64,
        frac_ship=1.0,
        frac_hard=0.0,
        frac_cloud=0.0,
        composite_prob=0.0,
        haze_prob=0.0,
    )
    s = CellSampler(synthetic_ds, [0, 1, 2], cfg, seed=3)
    x, lab, scored = s.batch(8)
    assert x.shape == (8, 64, 64, 4) and lab.shape == (8, 4, 4)
    # every window is centred on a ship: each holds a scored ship cell
    assert all(((lab[i] == SHIP) & scored[i]).any() for i in range(8))
    assert not (scored & (lab == IGNORE)).any()


@pytest.mark.slow
def test_smoke_cell_training_is_reproducible(synthetic_ds):
    # a small network (few layers: TensorFlow's tracing dominates a smoke run)
    arch = CellArchConfig(stem_channels=4, blocks=[(8, 2), (8, 2), (8, 2)], dropout=0.0)
    cfg = CellTrainConfig(
        epochs=2,
        windows_per_epoch=32,
        batch_size=16,
        window_px=64,
        mine_start=1,
        mine_every=1,
        hard_top=8,
        representative_windows=8,
        paste_prob=0.5,
        arch=arch,
    )
    a = train_cellnet(synthetic_ds, [0, 1, 2], cfg)
    b = train_cellnet(synthetic_ds, [0, 1, 2], cfg)
    assert a.tflite == b.tflite, "same seed, same data: the int8 model must be identical"
    # what the firmware runs: the streaming exporter takes it, one output per cell
    c = compile_stream(a.tflite)
    assert c.multiple == (CELL_PX, CELL_PX)
    assert c.output_shape(4 * CELL_PX, 5 * CELL_PX) == (4, 5, SPEC.n_classes)


def test_consistency_term_is_zero_for_turned_outputs():
    import tensorflow as tf
    from triage_models.celltrain import _loss_fn

    rng = np.random.default_rng(5)
    p = rng.dirichlet(np.ones(4), size=(2, 4, 4)).astype(np.float32)  # [2 windows, 4, 4, 4]
    pairs = np.stack([p, np.rot90(p, 1, axes=(1, 2))], 1).reshape(4, 4, 4, 4)
    y = np.zeros((4, 4, 4, 6), np.float32)
    y[..., 1] = 1.0  # label sea
    y[..., 4] = 1.0  # scored, not ignored
    y[..., 5] = 1.0
    plain = _loss_fn(CellTrainConfig())(tf.constant(y), tf.constant(pairs)).numpy()
    cons = _loss_fn(CellTrainConfig(consistency=1.0))(tf.constant(y), tf.constant(pairs)).numpy()
    assert np.allclose(plain, cons, atol=1e-6)
    # turned the wrong way: the term is positive
    wrong = np.stack([p, np.rot90(p, -1, axes=(1, 2))], 1).reshape(4, 4, 4, 4)
    cons_w = _loss_fn(CellTrainConfig(consistency=1.0))(tf.constant(y), tf.constant(wrong))
    assert (cons_w.numpy() > plain + 1e-4).all()


def test_options_that_are_off_stay_out_of_the_fold_cache_key():
    import json

    from triage_models.celltrain import OPTIONS_OFF, recipe_key_json

    base = CellTrainConfig()
    key = json.loads(recipe_key_json(base))
    # the options that are off, and their companions, are not in it; everything else is
    assert not {"distill_weight", "seacloud_frac", "seacloud_water", "composite_model"} & set(key)
    dropped = {n for n, (_, comp) in OPTIONS_OFF.items() for n in (n, *comp)}
    assert set(key) == set(CellTrainConfig.model_fields) - dropped
    assert key["seed"] == 1 and key["class_weights"]["ship"] == 6.0
    # an option turned on enters the key, with its companions
    on = json.loads(recipe_key_json(CellTrainConfig(seacloud_frac=0.15)))
    assert on["seacloud_frac"] == 0.15 and on["seacloud_water"] == 0.8
    assert recipe_key_json(CellTrainConfig(distill_weight=0.5)) != recipe_key_json(base)
    # a companion moved from its default while its option is off still counts
    assert "seacloud_water" in json.loads(recipe_key_json(CellTrainConfig(seacloud_water=0.9)))
    assert recipe_key_json(CellTrainConfig(seed=2)) != recipe_key_json(base)


def test_distillation_loss_hand_case():
    import tensorflow as tf
    from triage_models.celltrain import _loss_fn

    # one cell labelled ship (weight 6), scored; the teachers say 0.1 / 0.2 / 0.6 / 0.1 and the
    # network 0.1 / 0.1 / 0.7 / 0.1. By hand, with label smoothing 0.02 (target 0.985 ship,
    # 0.005 each other class): labels' cross-entropy 0.015 ln 10 + 0.985 ln(1/0.7) = 0.385864,
    # teachers' 0.4 ln 10 + 0.6 ln(1/0.7) = 1.135039; half of each, times 6: 4.562709
    y = np.array([[[[0, 0, 1, 0, 1, 1, 0.1, 0.2, 0.6, 0.1]]]], np.float32)
    p = tf.constant([[[[0.1, 0.1, 0.7, 0.1]]]], tf.float32)
    kd = _loss_fn(CellTrainConfig(distill_weight=0.5))(tf.constant(y), p).numpy()
    assert kd[0] == pytest.approx(4.562709, abs=1e-5)
    plain = _loss_fn(CellTrainConfig())(tf.constant(y[..., :6]), p).numpy()
    assert plain[0] == pytest.approx(6 * 0.385864, abs=1e-5)


def test_teachers_give_the_tflm_outputs_of_the_fold_networks():
    from triage_models.cellnet import frame_cells, tflm_frame
    from triage_models.celltrain import Teachers

    from triage.contract.paths import repo_root

    folds = repo_root() / "models" / "folds"
    a, b = [(folds / f"cellfold_{k}.tflite").read_bytes() for k in (1, 2)]
    q = np.random.default_rng(3).integers(-128, 128, (2, 128, 128, 4)).astype(np.int8)
    # TFLM, the oracle, on each window: the teachers' interpreter (builtin kernels, no
    # XNNPACK) rounds at most one output in a hundred one step (1/256) the other way
    oracle = [
        [(frame_cells(tflm_frame(t, w), 128, 128).astype(np.float64) + 128) / 256 for w in q]
        for t in (a, b)
    ]
    one = Teachers([a])(q)
    assert one.shape == (2, 8, 8, SPEC.n_classes)
    both = Teachers([a, b])(q, batch=1)
    for got, want in (
        (one, np.stack(oracle[0])),
        (both, (np.stack(oracle[0]) + np.stack(oracle[1])) / 2),
    ):
        off = np.abs(got - want)
        assert off.max() <= 1 / 256 and (off > 0).mean() < 0.01
    with pytest.raises(ValueError, match="teachers go together"):
        train_cellnet(None, [], CellTrainConfig(distill_weight=0.5))


@pytest.mark.slow
@pytest.mark.realdata
def test_cli_smoke_cell_training_and_export_on_real_frames(tmp_path, data_dir):
    """`triage model train --smoke` trains the cell network on the real frames (a handful of
    windows) into a folder of its own; `triage model export` turns it into streaming C."""
    import hashlib
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    from triage_models.cellnet import validate_cellnet
    from triage_models.celltrain import CELL_SMOKE_CONFIG

    triage = str(Path(sys.executable).parent / "triage")
    env = {**os.environ, "TRIAGE_DATA_DIR": str(data_dir)}
    res = subprocess.run(
        [triage, "model", "train", "--smoke", "--out-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env=env,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    info = json.loads(res.stdout[res.stdout.index("{") :])
    tfl = (tmp_path / "classifier.tflite").read_bytes()
    assert info["design"] == "cells" and info["model_tflite_bytes"] == len(tfl)
    validate_cellnet(tfl)
    # MACs from the model's own shapes = the architecture's count by layer (hand-checked in
    # test_cellnet for the default architecture)
    assert info["macs_per_megapixel"] == pytest.approx(
        CELL_SMOKE_CONFIG.arch.macs_per_pixel() * 1e6
    )
    assert not (tmp_path / "triage_config.h").exists()  # no policy there: nothing exported
    res = subprocess.run(
        [triage, "model", "export", "--out-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    src = (tmp_path / "classifier_stream.c").read_text()
    assert (tmp_path / "classifier_stream.h").exists() and (tmp_path / "triage_config.h").exists()
    assert hashlib.sha256(tfl).hexdigest() in src  # the C names the model it came from


def test_haze_mining_scores_hazed_ports_and_keeps_their_windows(synthetic_ds):
    """``haze_mine_top``: each mining also scores a hazed copy of every training port (real
    cloud of the training cloud images laid over it) and adds that many hazed hard cells;
    cloud labels only where a patch was laid thick (alpha > 0.5), none under thin haze."""
    from triage_models.cellnet import build_cellnet

    arch = CellArchConfig(stem_channels=4, blocks=[(8, 2), (8, 2), (8, 2)], dropout=0.0)
    model = build_cellnet(arch)
    for opacity, thick in ((0.9, True), (0.3, False)):
        cfg = CellTrainConfig(
            window_px=64, hard_top=5, haze_mine_top=3, haze_mine_opacity=(opacity, opacity),
            frac_ship=0.0, frac_hard=1.0, frac_cloud=0.0, arch=arch,
        )  # fmt: skip
        s = CellSampler(synthetic_ds, [0, 1, 2], cfg, seed=4)
        s.mine(model)
        assert [h[3] for h in s.hard] == [False] * 5 + [True] * 3
        assert sorted(s.hazed) == [0, 1]  # the ports, not the cloud image
        for f, (px, cloud) in s.hazed.items():
            src = synthetic_ds.frames[f]
            assert px.dtype == src.dtype and px.shape == src.shape
            moved = (px != src).any(-1)
            assert moved.mean() > 0.1  # patches over about half of it, cloud over part of them
            assert not (cloud & ~moved).any()  # cloud labelled only where cloud lies
            assert cloud.any() == thick
        x, lab, _ = s.batch(16)
        assert x.shape == (16, 64, 64, 4) and lab.shape == (16, 4, 4)
    off = CellSampler(synthetic_ds, [0, 1, 2], cfg.model_copy(update={"haze_mine_top": 0}), 4)
    off.mine(model)
    assert len(off.hard) == 5 and not off.hazed


def test_seacloud_windows_are_open_sea_under_cloud_and_its_shadow(synthetic_ds, monkeypatch):
    """``seacloud_frac``: windows of open water (the synthetic ports' water is their left 64
    columns, so the only 64-px windows at least 80 % water start at column 0, rows 0 and
    32), always under a cloud patch that casts its shadow; at share 0 no such window is
    drawn and no shadow is cast."""
    shadows = []
    real = augment.shadow_under

    def counted(x, alpha, rng, **kw):
        shadows.append(float(alpha.max()))
        return real(x, alpha, rng, **kw)

    monkeypatch.setattr(augment, "shadow_under", counted)
    cfg = CellTrainConfig(
        window_px=64, seacloud_frac=1.0, frac_ship=0.0, frac_hard=0.0, frac_cloud=0.0,
        composite_prob=0.0, paste_prob=0.0, haze_prob=0.0,
    )  # fmt: skip
    s = CellSampler(synthetic_ds, [0, 1, 2], cfg, seed=5)
    assert sorted(s.open_water) == [(0, 0, 0), (0, 32, 0), (1, 0, 0), (1, 32, 0)]
    x, lab, _ = s.batch(8)
    assert x.shape == (8, 64, 64, 4)
    assert len(shadows) == 8 and min(shadows) >= 0.6 * 0.9  # every window, opacity >= 0.6
    land, cloud, sea = (SPEC.class_id(c) for c in ("land", "cloud", "sea"))
    assert not (lab == land).any()  # open water only
    assert (lab == cloud).any() and (lab == sea).any()  # the patch's cloud and the gaps
    shadows.clear()
    off = CellSampler(synthetic_ds, [0, 1, 2], cfg.model_copy(update={"seacloud_frac": 0.0}), 5)
    off.batch(8)
    assert off.open_water == [] and shadows == []


def test_cloud_swapped_lays_the_clouds_own_light_over_the_new_ground():
    # hand case: a cloud pixel of 20000 over its own ground of 4000 at opacity 0.5 holds
    # 20000 - 0.5 * 4000 = 18000 of its own light; over a ground of 1000 it shows
    # 18000 + 0.5 * 1000 = 18500 and hides half; at half the thickness (scale 0.5)
    # 9000 + 0.75 * 1000 = 9750, hiding a quarter; outside the mask nothing moves
    x = np.full((2, 2, 4), 1000.0, np.float32)
    d = np.full((2, 2, 4), 20000.0, np.float32)
    ground = np.full((2, 2, 4), 4000.0, np.float32)
    opacity = np.full((2, 2), 0.5, np.float32)
    mask = np.array([[1.0, 1.0], [0.0, 0.0]], np.float32)
    y, a = augment.cloud_swapped(x, d, ground, opacity, mask)
    assert np.allclose(y[0], 18500.0) and np.allclose(y[1], 1000.0)
    assert np.allclose(a, [[0.5, 0.5], [0.0, 0.0]])
    y, a = augment.cloud_swapped(x, d, ground, opacity, mask, scale=0.5)
    assert np.allclose(y[0], 9750.0) and np.allclose(a[0], 0.25)
    # laid back on its own ground, the cloud image is what it was
    y, _ = augment.cloud_swapped(ground, d, ground, opacity, np.ones((2, 2), np.float32))
    assert np.allclose(y, d)


def test_separate_cloud_finds_the_ground_and_how_much_the_cloud_hides():
    # clear ground 3000 around a cloud block of 30000 (the thick cloud) with a thin column
    # of 9750: the ground under the cloud is the clear 3000; opacity (brightness - ground)
    # / (0.5 x (thick - ground)) = 1 on the block, 6750 / 13500 = 0.5 on the thin column
    d = np.full((96, 96, 4), 3000.0)
    cloud = np.zeros((96, 96), bool)
    cloud[32:64, 32:64] = True
    d[32:64, 32:64] = 30000.0
    d[32:64, 40] = 9750.0
    ground, opacity = augment.separate_cloud(d, cloud)
    assert np.allclose(ground, 3000.0, rtol=1e-3)
    assert np.allclose(opacity[40:50, 50], 1.0) and np.allclose(opacity[40:50, 40], 0.5, atol=1e-3)
    assert np.allclose(opacity[~cloud], 0.0, atol=1e-4)  # clear ground hides nothing


def test_swap_composites_split_only_the_cloud_images(synthetic_ds):
    cfg = CellTrainConfig(
        window_px=64, composite_model="swap", composite_prob=1.0, frac_ship=0.0,
        frac_hard=0.0, frac_cloud=0.0, paste_prob=0.0, haze_prob=0.0,
    )  # fmt: skip
    s = CellSampler(synthetic_ds, [0, 1, 2], cfg, seed=6)
    assert sorted(s.cloud_parts) == [2]  # the cloud image, not the ports
    x, lab, _ = s.batch(8)
    assert x.shape == (8, 64, 64, 4) and (lab == SPEC.class_id("cloud")).any()
    lay = CellSampler(synthetic_ds, [0, 1, 2], cfg.model_copy(update={"composite_model": "lay"}), 6)
    assert lay.cloud_parts == {}
