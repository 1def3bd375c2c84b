"""The design-independent metrics of the leave-ports-out harness, on hand-worked cases."""

from __future__ import annotations

import numpy as np
import pytest
from triage_models import harness as hn
from triage_models.crops import cell_bounds
from triage_models.dataset import IGNORE
from triage_models.folds import FOLDS, check_folds
from triage_models.tiles import TilePolicy as Policy
from triage_models.tiles import tile_spec as tile_recipe

from triage.contract.policy import Policy as CellPolicy
from triage.contract.policy import called_class
from triage.contract.tile_spec import tile_spec

SPEC = tile_spec()
CLOUD, SEA, SHIP, LAND = (SPEC.class_id(c) for c in ("cloud", "sea", "ship", "land"))


def _q(cls: list[int]) -> np.ndarray:
    """int8 outputs with all the probability on the given class per unit."""
    q = np.full((len(cls), 4), -128, np.int8)
    q[np.arange(len(cls)), cls] = 127
    return q


def test_cell_units_cover_a_frame_once():
    u = hn.cell_units((40, 50))
    assert len(u) == 3 * 4
    cover = np.zeros((40, 50), int)
    for r0, r1, c0, c1 in u.cell:
        cover[r0:r1, c0:c1] += 1
    assert (cover == 1).all()
    # the last row and column are clipped: rows 32..40, columns 48..50
    assert u.cell[-1].tolist() == [32, 40, 48, 50]
    assert u.grid[-1].tolist() == [2, 3]


def test_tile_units_use_the_firmware_cells():
    u = hn.tile_units((80, 64))
    r0, r1 = cell_bounds(u.foot[:, 0], 80)
    c0, c1 = cell_bounds(u.foot[:, 2], 64)
    assert (u.cell == np.stack([r0, r1, c0, c1], 1)).all()
    assert (u.foot[:, 1] - u.foot[:, 0] == tile_recipe().tile_px).all()


def _frame():
    """64x64 frame, 4x4 cells; ships centred at (5, 5) in cell (0, 0) and (40, 40) in
    cell (2, 2). Outputs: ship on cells (0, 0), (0, 1) and (3, 3), sea elsewhere."""
    u = hn.cell_units((64, 64))
    cls = [SEA] * 16
    cls[0] = cls[1] = cls[15] = SHIP
    return hn.Frame("hand", u, np.array([[5, 5], [40, 40]]), _q(cls))


POLICY = Policy(
    discard_min_prob={"cloud": 0.9, "sea": 0.9, "ship": None, "land": None},
    ship_crop_min_prob=0.5,
    land_policy="drop",
    crop_margin_px=0,
)


def test_frame_metrics_hand_case():
    m = hn.frame_metrics(_frame(), POLICY)
    assert m["ships"] == 2 and m["delivered"] == 1  # (40, 40) lies in a sea cell
    assert m["crop_pixels"] == 3 * 256 and m["pixels"] == 4096
    assert m["crop_units"] == 3 and m["crop_units_hit"] == 1
    assert m["regions"] == 2 and m["regions_hit"] == 1  # {(0,0),(0,1)} and {(3,3)}
    assert m["discarded"] == 13 and m["discarded_ship"] == 1
    assert m["kept"] == 1
    t = hn.totals([m])
    assert t["ship_recall"] == 0.5
    assert t["crop_cell_precision"] == pytest.approx(1 / 3)
    assert t["crop_region_precision"] == 0.5
    assert t["discard_ship_rate"] == pytest.approx(1 / 13)


def test_cell_frames_take_the_contract_policy():
    """A cell design has no second opinion: the firmware's own policy (the contract's, no
    second_opinion_min_prob) scores a frame as the tile recipe's policy without one."""
    cell = CellPolicy.model_validate(POLICY.model_dump(exclude={"second_opinion_min_prob"}))
    m, t = hn.frame_metrics(_frame(), cell), hn.frame_metrics(_frame(), POLICY)
    assert {k: v for k, v in m.items() if k != "delivered_mask"} == {
        k: v for k, v in t.items() if k != "delivered_mask"
    }
    assert m["second_opinions"] == 0


def test_margin_widens_the_crop():
    pol = POLICY.model_copy(update={"crop_margin_px": 4})
    m = hn.frame_metrics(_frame(), pol)
    # cells (0,0)+(0,1) widened by 4 inside the frame: rows 0..20, cols 0..36 -> 20*36;
    # cell (3,3) widened: rows 44..64, cols 44..64 -> 20*20
    assert m["crop_pixels"] == 20 * 36 + 20 * 20


def test_choose_policy_delivers_the_target():
    u = hn.cell_units((64, 64))
    q = _q([SEA] * 16)
    q[0, SHIP] = 10  # ship cell (0, 0) weakly ship
    q[10, SHIP] = 60  # ship cell (2, 2)
    q[5, SHIP] = 30  # a false alarm between them
    fr = hn.Frame("a", u, np.array([[5, 5], [40, 40]]), q)
    pol = hn.choose_policy([fr], target=1.0)
    m = hn.frame_metrics(fr, pol)
    assert m["delivered"] == 2
    # every ship kept: the sea discard cannot take the two ship cells
    assert m["kept"] == 2


def test_choose_policy_keeps_the_margin_it_is_given():
    u = hn.cell_units((64, 64))
    q = _q([SEA] * 16)
    # the ship's centre (15, 8) lies in cell (0, 0), weakly ship, one pixel from cell (1, 0),
    # strongly ship; cell (1, 1) is a false alarm
    q[0, SHIP], q[4, SHIP], q[5, SHIP] = -100, -10, -50
    fr = hn.Frame("a", u, np.array([[15, 8]]), q)
    # free to choose: cell (1, 0) widened by 2 px (rows 14-34, cols 0-18: 360 pixels) reaches
    # the centre, fewer pixels than the three cells (768) a threshold of -100 crops
    free = hn.choose_policy([fr], target=1.0)
    assert free.crop_margin_px == 2
    assert hn.frame_metrics(fr, free)["crop_pixels"] == 20 * 18
    # the flight software's margin only (the cell design passes it): 0 px, threshold -100
    fixed = hn.choose_policy([fr], target=1.0, margins=(0,))
    assert fixed.crop_margin_px == 0
    m = hn.frame_metrics(fr, fixed)
    assert m["delivered"] == 1 and m["crop_pixels"] == 3 * 256
    with pytest.raises(ValueError, match="at least one crop margin"):
        hn.choose_policy([fr], target=1.0, margins=())


def test_unit_labels_ship_only_in_its_cell(synthetic_ds):
    f = 0
    u = hn.cell_units(synthetic_ds.frames[f].shape[:2])
    lab = hn.unit_labels(synthetic_ds, f, u)
    cen = hn.box_centres(synthetic_ds.boxes[synthetic_ds.boxes[:, 0] == f][:, 1:])
    for i in np.flatnonzero(lab == SHIP):
        r0, r1, c0, c1 = u.cell[i]
        assert ((cen[:, 0] >= r0) & (cen[:, 0] < r1) & (cen[:, 1] >= c0) & (cen[:, 1] < c1)).any()
    # every centre's cell is ship (or ignored by cloud rules: none here)
    for r, c in cen:
        i = (r // 16) * (u.grid[:, 1].max() + 1) + c // 16
        assert lab[i] == SHIP
    # land on the right half, sea somewhere left
    assert (lab == LAND).any() and (lab == SEA).any()
    assert set(np.unique(lab)) <= {IGNORE, SEA, SHIP, LAND}


def test_haze_stays_within_opacity():
    rng = np.random.default_rng(0)
    frame = np.full((100, 130, 4), 1000, np.uint16)
    cloud_px = np.full((200, 200, 4), 41000, np.uint16)
    mask = np.ones((200, 200), bool)
    hz, alpha = hn.haze_frame(frame, [(cloud_px, mask)], rng, opacity=(0.2, 0.5), patch=40)
    assert alpha.min() >= 0.2 - 1e-6 and alpha.max() <= 0.5 + 1e-6
    expect = np.rint(1000 * (1 - alpha) + 41000 * alpha)
    assert np.abs(hz[..., 0].astype(float) - expect).max() <= 1
    # reproducible from the seed
    hz2, _ = hn.haze_frame(frame, [(cloud_px, mask)], np.random.default_rng(0), patch=40)
    assert (hz == hz2).all()


def test_folds_partition_the_real_frames():
    names = [n for f in FOLDS for n in f.frames]
    check_folds(names)
    with pytest.raises(ValueError, match="missing"):
        check_folds([*names, "elsewhere"])
    ports = [p for f in FOLDS for p in f.ports]
    assert len(ports) == 10 and len(set(ports)) == 10


class _CloudImages:
    """The few fields of a dataset that the cloud call reads: 64 x 64 cloud images with the
    left half cloud (masks), no water."""

    def __init__(self, names: list[str]):
        self.names = names
        m = np.zeros((64, 64), bool)
        m[:, :32] = True
        self.cloud_masks = [m] * len(names)
        self.water_masks = [np.zeros((64, 64), bool)] * len(names)
        self.is_port = np.zeros(len(names), bool)

    def frame_index(self, name: str) -> int:
        return self.names.index(name)


def _cloud_outputs(name: str) -> hn.Frame:
    """Land on top everywhere; the cloud output -40 (p 0.344) in the first column of cells,
    -80 (p 0.1875) in the second, -128 in the others."""
    u = hn.cell_units((64, 64))
    q = _q([LAND] * 16)
    q[:, CLOUD] = np.where(u.grid[:, 1] == 0, -40, np.where(u.grid[:, 1] == 1, -80, -128))
    return hn.Frame(name, u, np.zeros((0, 2), np.int64), q)


def test_cloud_call_is_the_highest_threshold_reaching_the_recall():
    """Hand-derived: the 32-px tiles at columns 0 and 16 are cloud (half of them or more in
    the mask), 6 of the 9. Calling cloud from -40 covers half of the tiles at column 0 (cloud
    predicted) and none at 16: recall 3/6; from -80 also the second column: tiles at 0 and 16
    both half or more, recall 6/6. The top class (land) finds none."""
    ds = _CloudImages(["ukis_sentinel2"])
    fr = _cloud_outputs("ukis_sentinel2")
    assert hn.choose_cloud_call(ds, [fr], target=1.0) == 48 / 256
    assert hn.choose_cloud_call(ds, [fr], target=0.5) == 88 / 256
    # the call is chosen on Sentinel-2 images only: a Landsat image gives none
    landsat = _CloudImages(["ukis_landsat5"])
    assert hn.choose_cloud_call(landsat, [_cloud_outputs("ukis_landsat5")], target=1.0) is None


def test_cloud_is_discarded_from_the_call_when_no_ship_is_lost():
    u = hn.cell_units((64, 64))
    q = _q([SEA] * 16)
    q[10, SHIP] = 60  # a ship at cell (2, 2)
    q[3, CLOUD] = -60  # a cell of thin cloud over sea (p 0.27), sea on top
    fr = hn.Frame("a", u, np.array([[40, 40]]), q)
    pol = hn.choose_policy([fr], target=1.0, cloud_call_min_prob=0.25)
    assert pol.cloud_call_min_prob == 0.25
    assert pol.discard_min_prob["cloud"] == 0.25
    assert called_class(q, pol)[3] == CLOUD
    assert hn.frame_metrics(fr, pol)["delivered"] == 1
