"""A seconds-long smoke training on a synthetic handful of tiles; reproducibility; conversion."""

from __future__ import annotations

import numpy as np
import pytest
from triage_models.quantize import (
    ALLOWED_OPS,
    litert_predict,
    model_ops,
    tflm_predict,
    validate_tflite,
)
from triage_models.tiles import preprocess_tiles
from triage_models.train import SMOKE_CONFIG, Sampler, train

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smoke_runs(synthetic_ds):
    frames = list(range(len(synthetic_ds.names)))
    a = train(synthetic_ds, frames, SMOKE_CONFIG)
    b = train(synthetic_ds, frames, SMOKE_CONFIG)
    return a, b


def test_smoke_training_is_reproducible(smoke_runs):
    a, b = smoke_runs
    assert a.tflite == b.tflite, "same seed, same data: the int8 model must be identical"


def test_smoke_model_meets_the_engine_contract(smoke_runs):
    tfl = smoke_runs[0].tflite
    validate_tflite(tfl)  # raises on any breach
    assert set(model_ops(tfl)) <= ALLOWED_OPS


def test_tflm_matches_litert_reference(smoke_runs, synthetic_ds):
    # Two independent int8 interpreters must agree exactly on the model's outputs.
    tfl = smoke_runs[0].tflite
    rng = np.random.default_rng(11)
    q = preprocess_tiles(synthetic_ds.tiles(np.arange(len(synthetic_ds.tile_label))))
    q = np.concatenate([q, rng.integers(-128, 128, (16, *q.shape[1:]), dtype=np.int8)])
    tflm = tflm_predict(tfl, q)
    ref = litert_predict(tfl, q)
    assert np.array_equal(tflm, ref), np.argwhere(tflm != ref)[:5]


def test_sampler_labels_ship_tiles_by_centre(synthetic_ds):
    # Every sampled ship tile must hold the sampled box's centre: check with the raw tiles by
    # the planted ship value (14000 in all bands, far above water and land).
    sampler = Sampler(synthetic_ds, [0, 1, 2], SMOKE_CONFIG, seed=3)
    tiles = sampler._ship_tiles(64)
    assert (tiles.max(axis=(1, 2, 3)) >= 12000).all()
    x, y, w = sampler.batch(128)
    assert x.dtype == np.uint16 and len(x) == len(y) == len(w) == 128
    assert set(np.unique(y)) <= {0, 1, 2, 3}


@pytest.mark.realdata
def test_cli_smoke_training_on_real_tiles(tmp_path, data_dir):
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    res = subprocess.run(
        [
            str(Path(sys.executable).parent / "triage"),
            "model",
            "train",
            "--recipe",
            "tiles",
            "--smoke",
            "--out-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "TRIAGE_DATA_DIR": str(data_dir)},
    )
    assert res.returncode == 0, res.stderr[-2000:]
    info = json.loads(res.stdout)
    tfl = (tmp_path / "classifier.tflite").read_bytes()
    assert info["model_tflite_bytes"] == len(tfl)
    validate_tflite(tfl)
    assert not (tmp_path / "triage_config.h").exists()  # no policy there: nothing exported
