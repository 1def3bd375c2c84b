"""Labelling rules, decision policy and metric definitions on hand-derived cases."""

from __future__ import annotations

import numpy as np
from triage_models.crops import best_score_map, cell_bounds, widened_cells
from triage_models.dataset import (
    IGNORE,
    box_stats,
    label_cloud_tiles,
    label_port_tiles,
    ndwi_water,
    port_cloud_pixels,
)
from triage_models.evaluate import baseline_outputs, choose_policy, policy_metrics
from triage_models.tiles import TilePolicy as Policy
from triage_models.tiles import second_opinion, tile_spec, turn

from triage.contract.enums import Action
from triage.contract.policy import decide

CLOUD, SEA, SHIP, LAND = 0, 1, 2, 3


def test_box_stats_hand_cases():
    t = 32
    yx = np.array([[0, 0], [0, 16], [0, 32], [16, 0]], np.int32)
    # One 10x10 box at x=20..30, y=4..14: centre (25, 9).
    boxes = np.array([[20.0, 4.0, 10.0, 10.0]])
    centres, frac = box_stats(yx, boxes, t)
    # Tile (0,0): centre inside, fully covered. Tile (0,16): centre inside (25 in 16..48),
    # fully covered. Tile (0,32): no overlap. Tile (16,0): y 16..48 misses y 4..14.
    assert centres.tolist() == [1, 1, 0, 0]
    assert frac.tolist() == [1.0, 1.0, 0.0, 0.0]
    # A box cut by the border: x=28..38 over tile x 0..32 covers 4/10 of its width.
    centres, frac = box_stats(yx[:1], np.array([[28.0, 4.0, 10.0, 10.0]]), t)
    assert centres.tolist() == [0]
    assert np.isclose(frac[0], 0.4)


def test_port_label_precedence():
    centres = np.array([1, 0, 0, 0, 0, 0, 0, 0], np.int16)
    box = np.array([0.3, 0.6, 0.2, 0, 0, 0, 0, 0], np.float32)
    cloud = np.array([0.9, 0, 0, 0.6, 0.3, 0, 0, 0], np.float32)
    water = np.array([1, 1, 1, 0, 0, 0.95, 0.5, 0.0], np.float32)
    lab = label_port_tiles(centres, box, cloud, water)
    # ship (centre) beats cloud; >= half a box is ship; a sliver is ignored; cloud >= 50 %;
    # 10-50 % cloud is ignored; >= 90 % water is sea; else land.
    assert lab.tolist() == [SHIP, SHIP, IGNORE, CLOUD, IGNORE, SEA, LAND, LAND]


def test_cloud_image_labels():
    cloud = np.array([0.7, 0.2, 0.0, 0.0, 0.04], np.float32)
    water = np.array([0.0, 0.0, 0.95, 0.1, 0.0], np.float32)
    assert label_cloud_tiles(cloud, water).tolist() == [CLOUD, IGNORE, SEA, LAND, LAND]


def test_pixel_rules():
    px = np.array(
        [
            [[30000, 31000, 32000, 30000]],  # white, bright: cloud
            [[30000, 31000, 32000, 30000]],  # same but SWIR low (snow-like): not cloud
            [[5000, 30000, 40000, 30000]],  # bright but coloured: not cloud
            [[3000, 2500, 1500, 800]],  # water: green > NIR
        ],
        np.uint16,
    )
    swir = np.array([[20000], [5000], [20000], [100]], np.uint16)
    assert port_cloud_pixels(px, swir)[:, 0].tolist() == [True, False, False, False]
    assert ndwi_water(px)[:, 0].tolist() == [True, True, False, True]


def _policy(crop: float, disc: float | None, land: str = "lowres") -> Policy:
    return Policy(
        discard_min_prob={"cloud": disc, "sea": disc, "ship": None, "land": None},
        ship_crop_min_prob=crop,
        land_policy=land,
    )


def test_decide_order():
    q = np.array(
        [
            [-128, 100, -60, -128],  # sea 0.89 but ship q -60 >= -76 (0.2): crop
            [-128, 110, -100, -128],  # sea q 110 >= 103 (0.9): discard
            [-128, 90, -100, -128],  # sea below threshold: lowres
            [-128, -128, -100, 120],  # land: land policy
            [120, -128, -128, -128],  # cloud >= 0.9: discard
        ],
        np.int8,
    )
    act = decide(q, _policy(0.2, 0.9))
    names = [Action(a).label for a in act]
    assert names == ["crop", "discard", "lowres", "lowres", "discard"]
    names = [Action(a).label for a in decide(q, _policy(0.2, 0.9, "drop"))]
    assert names[3] == "land_drop"


def test_policy_metrics_hand_case(synthetic_ds):
    ds = synthetic_ds
    spec = tile_spec()
    idx = np.flatnonzero(ds.tile_frame == 0)
    # Outputs: every tile confidently sea, except the tiles that hold the first ship's centre,
    # which are cropped. So: 1 of 4 ships cropped; the other 3 ships' tiles are all discarded.
    q = np.full((len(idx), spec.n_classes), -128, np.int8)
    q[:, SEA] = 127
    first = ds.boxes[ds.boxes[:, 0] == 0][0]
    cx, cy = first[1] + first[3] / 2, first[2] + first[4] / 2
    yx = ds.tile_yx[idx]
    t = spec.tile_px
    mine = (cx >= yx[:, 1]) & (cx < yx[:, 1] + t) & (cy >= yx[:, 0]) & (cy < yx[:, 0] + t)
    q[mine, SHIP] = 127
    m = policy_metrics(ds, idx, q, _policy(0.5, 0.9))
    assert m["ships"] == 4
    assert m["ship_recall"] == 0.25
    assert m["ship_kept"] == 0.25
    holds = ds.tile_centres[idx] > 0
    n_disc = int((~mine).sum())
    assert m["discarded_tiles"] == n_disc
    assert m["discard_ship_rate"] == (holds & ~mine).sum() / n_disc
    assert m["discard_fraction"] == n_disc / len(idx)


def test_choose_policy_protects_every_ship(synthetic_ds):
    ds = synthetic_ds
    spec = tile_spec()
    idx = np.flatnonzero(ds.tile_frame < 2)
    holds = ds.tile_centres[idx] > 0
    q = np.full((len(idx), spec.n_classes), -128, np.int8)
    q[:, SEA] = 127
    q[holds, SHIP] = -30  # p_ship = 98/256 on every ship tile
    q[holds, SEA] = 0
    turned = np.stack([q, q, q])  # the turned tiles score the same
    pol = choose_policy(ds, idx, q, turned)
    # The crop threshold must keep every ship: p <= 98/256, and not above 0.5.
    assert pol.ship_crop_min_prob <= 98 / 256
    m = policy_metrics(ds, idx, second_opinion(q, turned, pol), pol)
    assert m["ship_recall"] == 1.0
    assert m["discard_ship_rate"] == 0.0
    # every tile holding a centre scores the same: the centre's own cell is enough (margin 0)
    assert pol.crop_margin_px == 0
    assert m["crop_pixels"] < m["pixels"]


def test_second_opinion_hand_case():
    pol = _policy(0.5, 0.9).model_copy(update={"second_opinion_min_prob": 0.25})  # q >= -64
    q1 = np.array([[0, 0, -64, 0], [0, 0, -65, 0], [-128, 127, 127, -128]], np.int8)
    q90 = np.array([[1, -3, 127, 5], [100, 100, 100, 100], [-128, 126, 0, -127]], np.int8)
    q180 = np.array([[0, 0, 0, 0], [0, 0, 0, 0], [-128, 127, 1, -128]], np.int8)
    q270 = np.array([[2, -1, 0, 0], [0, 0, 0, 0], [-128, 127, 0, -128]], np.int8)
    out = second_opinion(q1, np.stack([q90, q180, q270]), pol)
    # candidates (ship >= -64): floor of the means of four; the second row keeps its own
    # (0+1+0+2)/4 = 0.75 -> 0; (0-3+0-1)/4 = -1; (-64+127+0+0)/4 = 15.75 -> 15; 5/4 -> 1;
    # (127+126+127+127)/4 = 126.75 -> 126; (127+0+1+0)/4 = 32; (-128-127-128-128)/4 -> -128
    assert out.tolist() == [[0, -1, 15, 1], [0, 0, -65, 0], [-128, 126, 32, -128]]
    x = np.arange(2 * 2 * 2).reshape(1, 2, 2, 2)  # pixels (r, c): [2 (2r + c), 2 (2r + c) + 1]
    # a quarter turn counterclockwise: the top-left pixel is the old top-right one
    assert turn(x, 1)[0, 0, 0].tolist() == [2, 3]
    assert turn(x, 2)[0, 0, 0].tolist() == [6, 7]
    assert turn(x, 3)[0, 0, 0].tolist() == [4, 5]


def test_crop_cells_cover_the_frame_once():
    # 100 px: tile origins 0, 16, 32, 48, 64 and the flush 68 (tile 32, stride 16)
    lo, hi = cell_bounds([0, 16, 32, 48, 64, 68], 100)
    assert lo.tolist() == [0, 24, 40, 56, 72, 76]
    assert hi.tolist() == [24, 40, 56, 72, 88, 100]
    cells = widened_cells(np.array([[0, 68], [16, 16]]), (100, 100), 4)
    assert cells.tolist() == [[0, 28, 72, 100], [20, 44, 20, 44]]
    m = best_score_map(np.array([[0, 0], [16, 16]]), (64, 64), np.array([5, 9]), 0)
    assert m[0, 0] == 5 and m[23, 23] == 5 and m[24, 24] == 9 and m[40, 40] == -129


def test_baseline_rule():
    s, c = tile_spec().thumb_px, 4
    sea = np.zeros((s, s, c), np.int8)
    sea[..., 1], sea[..., 3] = -70, -100  # green > NIR everywhere
    land = sea.copy()
    land[..., 3] = 0  # NIR > green
    cloud = np.full((s, s, c), 60, np.int8)
    boat = sea.copy()
    boat[: s // 2, :, 3] = 0  # half the tile not water
    out = baseline_outputs(np.stack([sea, land, cloud, boat]))
    assert out.argmax(1).tolist() == [SEA, LAND, CLOUD, SHIP]
