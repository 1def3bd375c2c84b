"""The cell recipe's leave-ports-out evaluation end to end on the synthetic frames: two
folds, each trained (a tiny network) without its own frames and scored under TFLM; the
report's counts are held to hand-derived ones."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from triage_models import cellship, lpo
from triage_models.cellnet import CellArchConfig
from triage_models.celltrain import CellTrainConfig
from triage_models.folds import Fold

from triage.contract.policy import Policy

pytestmark = pytest.mark.slow

TINY = CellTrainConfig(
    epochs=1,
    windows_per_epoch=32,
    batch_size=16,
    window_px=64,
    mine_start=5,
    representative_windows=8,
    arch=CellArchConfig(stem_channels=4, blocks=[(8, 2), (8, 2), (8, 2)], dropout=0.0),
)
# fold 1 holds out port0 and the cloud image (port0 is also scored hazed with it); fold 2
# holds out port1 (its model trains on port0 and the cloud image)
FOLDS2 = (Fold(("port0",), ("cloudimg",), ()), Fold(("port1",), (), ()))


@pytest.fixture(scope="module")
def ds(synthetic_ds):
    """The synthetic frames with the cloud image tiled 2 x 2 (128 px: the haze patches are
    96 px): cloud on columns 0-31 and 64-95 of every row."""
    c = synthetic_ds.names.index("cloudimg")

    def tiled(a):
        return np.tile(a, (2, 2, 1)) if a.ndim == 3 else np.tile(a, (2, 2))

    return dataclasses.replace(
        synthetic_ds,
        frames=[tiled(f) if i == c else f for i, f in enumerate(synthetic_ds.frames)],
        cloud_masks=[tiled(m) if i == c else m for i, m in enumerate(synthetic_ds.cloud_masks)],
        water_masks=[tiled(m) if i == c else m for i, m in enumerate(synthetic_ds.water_masks)],
    )


def test_cell_evaluation_end_to_end(ds, tmp_path, monkeypatch):
    # one test (one pair of fold trainings), not one per check: a module fixture would
    # train again in every pytest-xdist worker
    monkeypatch.setenv("TRIAGE_MODEL_CACHE", str(tmp_path))
    r = cellship.evaluate(ds, None, TINY, use_cache=True, folds=FOLDS2, chips={})
    again = cellship.evaluate(ds, None, TINY, use_cache=True, folds=FOLDS2, chips={})

    # counts
    assert r["ships"] == 8  # four boxes in each synthetic port
    assert r["per_port"]["port0"]["fold"] == 1 and r["per_port"]["port1"]["fold"] == 2
    assert r["per_port"]["port0"]["ships"] == r["per_port"]["port1"]["ships"] == 4
    # 96 x 128 px ports: 6 x 8 cells each; every pixel once in the crop-area denominator
    assert r["units"] == 2 * 6 * 8 and r["pixels"] == 2 * 96 * 128
    assert 0.0 <= r["ship_recall"] <= 1.0
    assert r["missed_ships"] == round(8 * (1 - r["ship_recall"]))
    assert r["haze"]["ships"] == 4  # port0, hazed with its fold's cloud image
    # the tiled cloud image: 8 x 8 cells, columns 0, 1, 4, 5 wholly cloud, the rest clear
    # and dry (land): every cell labelled, 32 of them cloud
    cl = r["cloud_on_cloud_images"]
    assert cl["labelled_units"] == 64 and cl["cloud_units"] == 32

    # the policies are the firmware's (the contract's Policy, no second opinion)
    assert len(r["per_fold_policy"]) == 2
    shipped = Policy.model_validate(r["shipped_policy"] | {"provisional": False})
    assert shipped.check_margin() == r["shipped_policy"]["crop_margin_px"]
    assert "second_opinion_min_prob" not in r["shipped_policy"]
    assert r["design"] == "cells" and r["recipe"]["arch"]["stem_channels"] == 4

    # the second run reads the folds from the cache and reports the same
    assert again["folds_from_cache"] == [True, True]
    for key in ("ship_recall", "crop_area_fraction", "discard_fraction", "per_port", "haze"):
        assert again[key] == r[key]

    text = lpo.headline(r)
    assert text.startswith("ship_recall ") and "port0" in text
