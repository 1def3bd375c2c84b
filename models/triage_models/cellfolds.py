"""Leave-ports-out folds of the cell network: train per fold, score its frames under TFLM.

Each fold's model is trained on every frame outside the fold (ports, cloud images;
the coastal chips outside the fold as extra water scenes) and scores, whole frame
at a time with the static-shape flatbuffer of that frame's padded size (TFLM, the
firmware's oracle; float twin for the agreement): the fold's port scenes, the same
scenes hazed with the fold's own cloud images, its cloud images and coastal chips.
Outputs and fold models are cached under the model cache, keyed by the dataset,
the recipe and the code version.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import time

import numpy as np

from triage_models import harness as hn
from triage_models import paths
from triage_models.cellnet import float_frame, frame_cells, preprocess_frame, tflm_frame
from triage_models.celltrain import (
    CELL_TRAIN_CODE_VERSION,
    CellTrainConfig,
    recipe_key_json,
    train_cellnet,
)
from triage_models.dataset import TileDataset
from triage_models.folds import FOLDS, Fold

HAZE_SEED = 1000


def fold_key(ds: TileDataset, cfg: CellTrainConfig, k: int, folds=FOLDS) -> str:
    h = hashlib.sha256()
    h.update(ds.key.encode())
    h.update(recipe_key_json(cfg).encode())
    h.update(repr(folds[k]).encode())
    h.update(CELL_TRAIN_CODE_VERSION.encode())
    return h.hexdigest()[:16]


def score_fold(
    ds: TileDataset, fold: Fold, k: int, tflite: bytes, model, chips: dict, offset: int = 0
) -> dict:
    """int8 (TFLM) and float outputs of one fold's frames (see the module docstring), on the
    frames' cells (``offset``: the model's ``input_offset``)."""
    outs = {}
    rng = np.random.default_rng(HAZE_SEED + k)
    test = [ds.frame_index(n) for n in fold.frames]
    clouds = [(ds.frames[i], ds.cloud_masks[i]) for i in test if not ds.is_port[i]]

    def score(frame):
        q = preprocess_frame(frame, offset=offset)
        h, w = frame.shape[:2]
        return {
            "q": frame_cells(tflm_frame(tflite, q), h, w),
            "p": frame_cells(float_frame(model, q), h, w),
        }

    for i in test:
        name = ds.names[i]
        outs[name] = score(ds.frames[i])
        if ds.is_port[i] and clouds:
            hz, alpha = hn.haze_frame(ds.frames[i], clouds, rng)
            outs[name + "#haze"] = score(hz) | {"alpha": alpha}
    for c in fold.coastal:
        outs["coastal_" + c] = score(chips[c].frame)
    return outs


def run_fold(ds, cfg, k, chips, folds=FOLDS, log=None, use_cache=True) -> dict:
    key = fold_key(ds, cfg, k, folds)
    path = paths.cache_dir() / f"cellfold-{key}-{k + 1}.pkl"
    if use_cache and path.exists():
        with open(path, "rb") as fh:
            return pickle.load(fh)
    fold = folds[k]
    test = {ds.frame_index(n) for n in fold.frames}
    train = [i for i in range(len(ds.names)) if i not in test]
    water = [chips[c].frame for c in chips if c not in fold.coastal]
    if log:
        log(f"fold {k + 1}: held out {', '.join(fold.frames + fold.coastal)}")
    t0 = time.monotonic()
    res = train_cellnet(ds, train, cfg, water_scenes=water, log=log)
    outs = score_fold(ds, fold, k, res.tflite, res.model, chips, cfg.arch.input_offset)
    outs["_meta"] = {
        "train_seconds": res.seconds,
        "score_seconds": time.monotonic() - t0 - res.seconds,
        "loss": res.log,
    }
    outs["_tflite"] = res.tflite
    with open(path, "wb") as fh:
        pickle.dump(outs, fh)
    res.model.save(paths.cache_dir() / f"cellfold-{key}-{k + 1}.keras")
    return outs


def config_from_json(text: str) -> CellTrainConfig:
    return CellTrainConfig.model_validate(json.loads(text))
