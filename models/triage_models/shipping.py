"""The tile recipe's artifacts (the baseline): train its model, evaluate it, write its policy.

The firmware runs the cell network (:mod:`triage_models.cellship` writes
``models/shipped``); the tile recipe (:mod:`triage_models.tiles`) is kept as the
baseline its figures are compared with, and its files go to their own folder
(:func:`baseline_dir` by default, never ``models/shipped``):

- ``classifier.tflite``: the int8 tile model;
- ``training.json``: the recipe (seed, configuration), the dataset key, the
  training time and the measurements of the model;
- ``evaluation.json``: what ``triage model evaluate --recipe tiles --json --write``
  printed;
- ``policy.json``: the tile policy (with its second opinion) chosen from the
  leave-ports-out outputs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from triage_models import paths
from triage_models.dataset import TileDataset
from triage_models.errors import ArtifactMissingError, RecipeError
from triage_models.evaluate import evaluate
from triage_models.quantize import macs_per_tile, tflm_arena_bytes, tflm_predict
from triage_models.tiles import preprocess_tiles
from triage_models.train import TrainConfig, float_predict, train

TFLITE_NAME = "classifier.tflite"
TRAINING_JSON = "training.json"
EVALUATION_JSON = "evaluation.json"
POLICY_JSON = "policy.json"


def baseline_dir() -> Path:
    """Where the tile recipe's model and records go by default (under the model cache)."""
    return paths.cache_dir() / "tiles"


def _folder(folder: Path | None) -> Path:
    folder = Path(folder or baseline_dir())
    if folder.resolve() == paths.shipped_dir().resolve():
        raise RecipeError(
            f"{folder} holds the shipped cell network: the tile recipe (the baseline) writes "
            "elsewhere"
        )
    return folder


def _write_json(path: Path, obj: dict) -> None:
    path.write_text(json.dumps(obj, indent=2) + "\n")


def train_and_write(
    ds: TileDataset,
    cfg: TrainConfig,
    out_dir: Path | None = None,
    log=None,
    save_float: bool = True,
) -> dict:
    """Train on every frame, write the ``.tflite`` and ``training.json``.

    With ``save_float`` the float twin goes to the cache folder (for analysis).
    """

    out_dir = _folder(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    res = train(ds, list(range(len(ds.names))), cfg, log=log)
    (out_dir / TFLITE_NAME).write_bytes(res.tflite)
    if save_float:  # the float twin, for analysis only (stays out of the repository)
        res.model.save(paths.cache_dir() / f"float-{out_dir.name}-seed{cfg.seed}.keras")
    port_tiles = np.flatnonzero(ds.is_port[ds.tile_frame])
    if len(port_tiles) > 4096:  # agreement on a fixed, seeded sample of the scenes' tiles
        port_tiles = np.sort(np.random.default_rng(cfg.seed).choice(port_tiles, 4096, False))
    q = preprocess_tiles(ds.tiles(port_tiles))
    agree = float(
        (tflm_predict(res.tflite, q).argmax(1) == float_predict(res.model, q).argmax(1)).mean()
    )
    info = {
        "seed": cfg.seed,
        "train_seconds": round(res.seconds, 1),
        "cpu_count": os.cpu_count(),
        "dataset_key": ds.key,
        "model_tflite_bytes": len(res.tflite),
        "macs_per_tile": macs_per_tile(res.tflite),
        "tflm_arena_bytes": tflm_arena_bytes(res.tflite),
        "int8_float_agreement_training_tiles": round(agree, 6),
        "config": json.loads(cfg.model_dump_json()),
    }
    _write_json(out_dir / TRAINING_JSON, info)
    return info


def shipped_train_config(folder: Path | None = None) -> TrainConfig:
    """The recipe the tile model of ``folder`` was trained with (the default when none is
    recorded)."""
    path = Path(folder or baseline_dir()) / TRAINING_JSON
    if path.exists():
        return TrainConfig.model_validate(json.loads(path.read_text())["config"])
    return TrainConfig()


POLICY_ABOUT = (
    "Decision policy chosen from the leave-ports-out outputs of the int8 model by "
    "triage_models.evaluate.choose_policy (see models/MODEL_CARD.md): the crop threshold and "
    "margin are the pair (threshold at most 0.5) that keeps the fewest full-resolution pixels "
    "while delivering CROP_TARGET_RECALL of the ships on the second-opinion outputs; the "
    "second-opinion threshold is the highest that loses none of those ships; sea and cloud are "
    "discarded from the lowest probability on the grid whose discard set holds at most 0.25 % "
    "ship tiles and loses no ship."
)
DECISION_ORDER = [
    "0. ship output p_ship >= second_opinion_min_prob: classify the tile again turned by 90, "
    "180 and 270 degrees; every output becomes the floor of the mean of the four (int8)",
    "1. ship output p_ship >= ship_crop_min_prob: crop at full resolution (whatever the top "
    "class); the crop keeps the tile's central stride_px cell widened by crop_margin_px",
    "2. else top class c has discard_min_prob[c] set and p_top >= it: discard (counted)",
    "3. else top class land: land_policy (drop or low-resolution product)",
    "4. else: keep as a low-resolution product",
]


def evaluate_and_write(
    ds: TileDataset,
    tflite_path: Path | None = None,
    write: bool = False,
    use_cache: bool = True,
    log=None,
    folder: Path | None = None,
) -> dict:
    """Run the tile recipe's leave-ports-out evaluation; with ``write``, store it and the
    chosen policy in ``folder`` (:func:`baseline_dir` by default)."""

    folder = _folder(folder)
    tflite_path = Path(tflite_path or folder / TFLITE_NAME)
    if not tflite_path.exists():
        raise ArtifactMissingError(
            f"model not found: {tflite_path} (run `triage model train --recipe tiles` first)"
        )
    cfg = shipped_train_config(folder)
    result = evaluate(ds, cfg, tflite_path.read_bytes(), log=log, use_cache=use_cache)
    if write:
        folder.mkdir(parents=True, exist_ok=True)
        _write_json(folder / EVALUATION_JSON, result)
        policy = {
            "provisional": False,
            "about": POLICY_ABOUT,
            **result["shipped_policy"],
            "decision_order": DECISION_ORDER,
        }
        _write_json(folder / POLICY_JSON, policy)
    return result
