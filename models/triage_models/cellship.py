"""The shipped cell network: train it, evaluate its recipe leave-ports-out, write the policy.

Files (in ``models/shipped`` by default; the firmware compiles the streaming C the
``triage`` layer generates from them, ``triage model export`` / ``make generate``):

- ``classifier.tflite``: the int8 cell network, spatial size open (TFLM needs the
  static-shape copy :func:`triage_models.cellnet.static_shape` makes per frame size);
- ``training.json``: recipe, seed, dataset key, time, measurements;
- ``evaluation.json``: the leave-ports-out report (:mod:`triage_models.lpo`);
- ``policy.json``: the decision policy chosen on every fold's outputs (the contract's
  :class:`triage.contract.policy.Policy`).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np

from triage.contract.policy import Policy, load_policy
from triage.contract.tile_spec import tile_spec
from triage_models import harness as hn
from triage_models import lpo, paths, sources
from triage_models.cellfolds import run_fold
from triage_models.cellnet import (
    CELL_PX,
    float_frame,
    frame_cells,
    macs,
    preprocess_frame,
    static_shape,
    tflm_frame,
)
from triage_models.celltrain import CellTrainConfig, train_cellnet
from triage_models.dataset import TileDataset
from triage_models.errors import ArtifactMissingError, RecipeError
from triage_models.folds import FOLDS, check_folds
from triage_models.quantize import tflm_arena_bytes

CELL_TFLITE = "classifier.tflite"
CELL_TRAINING = "training.json"
CELL_EVALUATION = "evaluation.json"
CELL_POLICY = "policy.json"
# what policy.json holds of a chosen policy (the cell design has no second opinion)
CELL_POLICY_KEYS = lpo.POLICY_KEYS - {"second_opinion_min_prob"}
REFERENCE_FRAME = (1024, 1024)  # frame size of the per-frame figures (MACs, arena)

# The recipe (see the model card): chosen on the leave-ports-out screens.
RECIPE = CellTrainConfig(
    paste_prob=0.5,
    turbid_prob=0.3,
    water_swap_prob=0.2,
    frac_cloud=0.2,
    frac_hard=0.25,
    haze_prob=0.4,
    haze_max_alpha=0.6,
)

POLICY_ABOUT = (
    "Decision policy of the cell network, chosen from the leave-ports-out int8 outputs of "
    "all five folds (every port held out once, each fold's model trained on the other ports) "
    "by triage_models.harness.choose_policy: the crop threshold (at most 0.5) and margin that "
    "keep the fewest full-resolution pixels while delivering 97 % of the ships; the cloud "
    "call (cloud_call_min_prob), the highest probability from which calling a cell cloud "
    "finds 96 % of the cloud tiles of the Sentinel-2 cloud images (triage_models.harness."
    "choose_cloud_call); sea and cloud discarded from the lowest probability on the grid "
    "whose discard set holds at most 0.25 % ship cells and loses no ship, cloud from the "
    "call's probability when that keeps the same bounds; land dropped. No second opinion."
)
DECISION_ORDER = [
    "0. the cell's class c: cloud when p_cloud >= cloud_call_min_prob, else the top class",
    "1. cell's ship output p_ship >= ship_crop_min_prob: crop at full resolution (whatever "
    "the class): the cell widened by crop_margin_px, clipped to the frame",
    "2. else discard_min_prob[c] set and p_c >= it: discard (counted)",
    "3. else class land: land_policy (drop or low-resolution product)",
    "4. else: keep as a low-resolution product",
]


def _write_json(path: Path, obj: dict) -> None:
    path.write_text(json.dumps(obj, indent=2, default=float) + "\n")


def _chips(data_dir: Path) -> dict:
    return {c.name: c for c in sources.read_coastal_chips(data_dir)}


def model_figures(tflite: bytes) -> dict:
    """Size and cost of the int8 model on the reference frame (1024 x 1024)."""
    h, w = REFERENCE_FRAME
    m = macs(tflite, h, w)
    return {
        "model_tflite_bytes": len(tflite),
        "macs_per_megapixel": m * 1e6 / (h * w),
        "macs_per_cell": m / ((h // CELL_PX) * (w // CELL_PX)),
        "reference_frame": [h, w],
    }


def train_and_write(
    ds: TileDataset,
    data_dir: Path,
    cfg: CellTrainConfig | None = None,
    out_dir: Path | None = None,
    log=None,
    save_float: bool = True,
    check=None,
) -> dict:
    """Train on every frame (and both coastal chips as water scenes); write the model and
    ``training.json`` (the C export is the ``triage`` layer's). ``check`` (int8 model bytes
    -> None, raising when it refuses them) runs before anything is written: the ``triage``
    layer passes its streaming exporter's compiler. With ``save_float`` the float twin goes
    to the cache folder (for analysis)."""
    cfg = cfg or RECIPE
    if cfg.arch.input_offset:
        raise RecipeError(
            "input_offset must be 0 for a model to ship: the firmware extends the frame "
            "after its last row and column only (models/tile_spec.json)"
        )
    out_dir = Path(out_dir or paths.shipped_dir())
    out_dir.mkdir(parents=True, exist_ok=True)
    chips = _chips(data_dir)
    res = train_cellnet(
        ds,
        list(range(len(ds.names))),
        cfg,
        water_scenes=[c.frame for c in chips.values()],
        log=log,
    )
    if check is not None:
        check(res.tflite)
    (out_dir / CELL_TFLITE).write_bytes(res.tflite)
    if save_float:  # the float twin, for analysis only (stays out of the repository)
        res.model.save(paths.cache_dir() / f"cellnet-float-{out_dir.name}-seed{cfg.seed}.keras")
    # agreement int8 (TFLM) / float on the ten ports' cells (in sample: trained on them)
    agree = []
    for f in np.flatnonzero(ds.is_port):
        q = preprocess_frame(ds.frames[f], offset=cfg.arch.input_offset)
        h, w = ds.frames[f].shape[:2]
        a = frame_cells(tflm_frame(res.tflite, q), h, w).argmax(-1)
        agree.append((a == frame_cells(float_frame(res.model, q), h, w).argmax(-1)).ravel())
    info = {
        "design": "cells",
        "seed": cfg.seed,
        "train_seconds": round(res.seconds, 1),
        "cpu_count": os.cpu_count(),
        "dataset_key": ds.key,
        **model_figures(res.tflite),
        "int8_float_agreement_training_cells_in_sample": float(np.concatenate(agree).mean()),
        "config": json.loads(cfg.model_dump_json()),
    }
    _write_json(out_dir / CELL_TRAINING, info)
    return info


def flight_crop_margin() -> int:
    """The crop margin the flight software has: ``TRI_CFG_CROP_MARGIN_PX``, generated from the
    shipped policy. The firmware refuses a model package with another margin, so every policy
    the evaluation chooses (each fold's, the shipped one) keeps this one: its figures are
    what the satellite would deliver. Changing it is a firmware change (edit the shipped
    policy, ``make generate``), not a choice made on validation outputs."""
    return load_policy().crop_margin_px


def evaluate(
    ds: TileDataset,
    data_dir: Path,
    cfg: CellTrainConfig | None = None,
    use_cache=True,
    log=None,
    folds=FOLDS,
    chips: dict | None = None,
) -> dict:
    """The folds (five over the ten ports by default; trained or from the cache) and the
    leave-ports-out report. ``chips``: the coastal chips by name (read from ``data_dir``
    when None)."""
    cfg = cfg or RECIPE
    chips = _chips(data_dir) if chips is None else chips
    check_folds(ds.names, folds, coastal=tuple(chips))
    start = time.monotonic()
    per, seconds, cached, shas = [], [], [], []
    for k in range(len(folds)):
        t0 = time.monotonic()
        outs = run_fold(ds, cfg, k, chips, folds=folds, log=log, use_cache=use_cache)
        shas.append(hashlib.sha256(outs["_tflite"]).hexdigest())
        cached.append(time.monotonic() - t0 < outs["_meta"]["train_seconds"])
        seconds.append(outs["_meta"]["train_seconds"])
        per.append(lpo.make_frames(ds, outs, "cells", folds[k], chips))
    fig = model_figures(outs["_tflite"])
    margins = (flight_crop_margin(),)
    r = lpo.report(
        ds,
        per,
        fig["macs_per_megapixel"],
        folds=folds,
        recall_targets=lpo.RECALL_TARGETS,
        margins=margins,
    )
    all_ports = [fr for pf in per for fr in pf["ports"]]
    all_clouds = [fr for pf in per for fr in pf["clouds"]]
    shipped = hn.choose_policy(
        all_ports, cloud_call_min_prob=hn.choose_cloud_call(ds, all_clouds), margins=margins
    )
    r["shipped_policy"] = shipped.model_dump(include=CELL_POLICY_KEYS)
    r["shipped_policy_on_all_folds_in_sample"] = hn.totals(
        [hn.frame_metrics(fr, shipped) for fr in all_ports]
    )
    r["fold_train_seconds"] = seconds
    r["folds_from_cache"] = cached
    # the fold models that were scored (models/folds/cellfold_<k>.tflite must be these)
    r["fold_model_sha256"] = shas
    r["evaluation_seconds"] = time.monotonic() - start
    r["recipe"] = json.loads(cfg.model_dump_json())
    r["design"] = "cells"
    return r


def evaluate_and_write(
    ds: TileDataset, data_dir: Path, write: bool = False, use_cache: bool = True, log=None
) -> dict:
    """The leave-ports-out evaluation of the shipped model's recipe (its ``training.json``);
    with ``write``, ``evaluation.json`` and the chosen ``policy.json`` in ``models/shipped``."""
    shipped = paths.shipped_dir()
    tfl = shipped / CELL_TFLITE
    rec = shipped / CELL_TRAINING
    if not tfl.exists() or not rec.exists():
        missing = tfl if not tfl.exists() else rec
        raise ArtifactMissingError(f"model not found: {missing} (run `triage model train` first)")
    cfg = CellTrainConfig.model_validate(json.loads(rec.read_text())["config"])
    r = evaluate(ds, data_dir, cfg, use_cache=use_cache, log=log)
    model = tfl.read_bytes()
    r["model_tflite_bytes"] = len(model)
    r |= {f"shipped_{k}": v for k, v in model_figures(model).items()}
    r["shipped_tflm_arena_bytes_64x64"] = tflm_arena_bytes(static_shape(model, 64, 64))
    if write:
        cl = r["cloud_on_sentinel2_32px_tiles"]
        about = (
            f"{POLICY_ABOUT} Out of sample, with each fold's policy chosen on the other four "
            f"folds: ship recall {r['ship_recall']:.3f} ({r['ships'] - r['missed_ships']}/"
            f"{r['ships']}), crop area fraction {r['crop_area_fraction']:.4f}, cloud on the "
            f"Sentinel-2 cloud images' 32-px tiles precision {cl['precision']:.3f} recall "
            f"{cl['recall']:.3f} (models/MODEL_CARD.md)."
        )
        policy = {
            "provisional": False,
            "about": about,
            "chosen_on_folds": list(range(1, len(FOLDS) + 1)),
            "chosen_on_ports": [p for f in FOLDS for p in f.ports],
            **r["shipped_policy"],
            "decision_order": DECISION_ORDER,
        }
        Policy.model_validate(policy).check_margin(tile_spec())  # the contract's checks first
        fold_policies = [
            fold_policy(k, p, r["ship_recall"]) for k, p in enumerate(r["per_fold_policy"])
        ]
        _write_json(shipped / CELL_EVALUATION, r)
        _write_json(shipped / CELL_POLICY, policy)
        for k, fp in enumerate(fold_policies):
            _write_json(fold_policy_path(k), fp)
    return r


def fold_policy_path(k: int) -> Path:
    """``models/folds/policy_<k+1>.json``: fold k's policy, chosen on the other folds."""
    return paths.models_dir() / "folds" / f"policy_{k + 1}.json"


def fold_policy(k: int, chosen: dict, recall: float) -> dict:
    """Fold k's decision policy as the contract's policy file: the thresholds
    ``evaluate`` chose for it on the other folds' outputs (``per_fold_policy``), so that a
    simulator frame of one of its ports is decided, like the evaluation scored it, by a
    model and thresholds that never saw that port."""
    others = [j for j in range(len(FOLDS)) if j != k]
    policy = {
        "provisional": False,
        "about": (
            f"Decision policy of leave-ports-out fold {k + 1}'s model (models/folds/"
            f"cellfold_{k + 1}.tflite), chosen by triage_models.harness.choose_policy on the "
            f"held-out outputs of the other four folds only, as triage model evaluate scored "
            f"fold {k + 1} (ship recall of all five folds so scored {recall:.3f}; "
            "models/shipped/evaluation.json, per_fold_policy)."
        ),
        "chosen_on_folds": [j + 1 for j in others],
        "chosen_on_ports": [p for j in others for p in FOLDS[j].ports],
        **{key: v for key, v in chosen.items() if key in CELL_POLICY_KEYS},
        "decision_order": DECISION_ORDER,
    }
    Policy.model_validate(policy).check_margin(tile_spec())
    return policy
