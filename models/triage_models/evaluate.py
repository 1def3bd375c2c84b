"""Leave-ports-out evaluation, policy selection, and the non-learned baseline.

Ports are split into :data:`FOLDS` (three groups of three, balanced by ship
count); each cloud image is held out with one group. For each fold a model is
trained with the shipped recipe on everything else and scores the held-out
frames under TFLM (the int8 oracle) and as float. Every tile of the nine
scenes is thus scored by a model that never saw its port.

Definitions (per port scene, on the on-board tile grid):

- a ship's tiles are the tiles that contain its box centre (up to four,
  since tiles overlap);
- ``ship_recall``: ships with at least one of their tiles cropped;
- ``ship_kept``: ships with at least one of their tiles not discarded;
- ``discard_ship_rate``: discarded tiles that hold a ship centre / discarded tiles;
- ``discard_fraction``: discarded tiles / all tiles of the nine scenes;
- ``int8_float_agreement``: top-1 agreement of int8 (TFLM) and float outputs;
- per-class precision/recall and the confusion matrix on labelled tiles
  (ignored tiles excluded) of the port scenes and the cloud images.

The policy thresholds are chosen from validation outputs (:func:`choose_policy`).
Headline numbers are cross-validated at the policy level too: the thresholds
applied to a fold are chosen from the other two folds' outputs.
"""

from __future__ import annotations

import hashlib
import json
import time

import numpy as np

from triage_models import paths
from triage_models.dataset import IGNORE, TileDataset
from triage_models.policy import ACTIONS, Policy, decide, prob_to_min_q
from triage_models.tile_spec import preprocess_tiles, tile_spec

FOLDS: list[list[str]] = [
    ["busan", "valencia", "honolulu", "ukis_sentinel2"],
    ["algiers", "gdynia", "casablanca", "ukis_landsat7"],
    ["cartagena", "hedland", "marseille", "ukis_landsat5", "38cloud"],
]
CROP_TARGET_RECALL = 0.99
CROP_MAX_PROB = 0.5
DISCARD_TARGET_RATE = 0.0025
DISCARD_PROB_GRID = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98, 0.99)


# ----------------------------------------------------------------------------- baseline


BASELINE_RULE = {
    "cloud": "at least half of the pixels have blue, green and red all >= 0.25 reflectance",
    "sea": "else at least 95 % water pixels (green > NIR, i.e. NDWI > 0): discarded",
    "ship": "else 50 % to 95 % water pixels (something in the water): cropped",
    "land": "else (less than 50 % water): low-resolution product",
}
_BRIGHT_Q = 128 - 128  # isqrt(0.25 * 65535) = 128 -> q = 0


def baseline_outputs(q_inputs: np.ndarray) -> np.ndarray:
    """Pseudo int8 outputs of the rule (127 for the chosen class, -128 elsewhere)."""
    spec = tile_spec()
    q = q_inputs.astype(np.int16)
    water = (q[..., 1] > q[..., 3]).mean(axis=(1, 2))
    bright = (q[..., :3].min(axis=-1) >= _BRIGHT_Q).mean(axis=(1, 2))
    cls = np.full(len(q), spec.class_id("land"))
    cls[water >= 0.5] = spec.class_id("ship")
    cls[water >= 0.95] = spec.class_id("sea")
    cls[bright >= 0.5] = spec.class_id("cloud")
    out = np.full((len(q), spec.n_classes), -128, np.int8)
    out[np.arange(len(q)), cls] = 127
    return out


BASELINE_POLICY = Policy(
    discard_min_prob={"cloud": 0.5, "sea": 0.5, "ship": None, "land": None},
    ship_crop_min_prob=0.5,
    land_policy="lowres",
)


# ----------------------------------------------------------------------------- metrics


def ship_tiles(ds: TileDataset, tile_idx: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """For each ship box of the frames of ``tile_idx``: positions (into tile_idx) of its tiles."""
    t = tile_spec().tile_px
    frames = np.unique(ds.tile_frame[tile_idx])
    out = []
    for f in frames:
        pos = np.flatnonzero(ds.tile_frame[tile_idx] == f)
        yx = ds.tile_yx[tile_idx[pos]]
        for b in ds.boxes[ds.boxes[:, 0] == f]:
            cx, cy = b[1] + b[3] / 2, b[2] + b[4] / 2
            inside = (cx >= yx[:, 1]) & (cx < yx[:, 1] + t) & (cy >= yx[:, 0]) & (cy < yx[:, 0] + t)
            out.append((int(f), pos[inside]))
    return out


def policy_metrics(
    ds: TileDataset, tile_idx: np.ndarray, q_out: np.ndarray, policy: Policy
) -> dict:
    """Ship recall, ship kept, discard rates for port tiles ``tile_idx`` with outputs ``q_out``."""
    action = decide(q_out, policy)
    crop = action == ACTIONS.index("crop")
    disc = action == ACTIONS.index("discard")
    ships = ship_tiles(ds, tile_idx)
    recall = sum(bool(crop[p].any()) for _, p in ships)
    kept = sum(bool((~disc[p]).any()) for _, p in ships)
    holds = ds.tile_centres[tile_idx] > 0
    n_disc = int(disc.sum())
    return {
        "ships": len(ships),
        "ship_recall": recall / max(len(ships), 1),
        "ship_kept": kept / max(len(ships), 1),
        "discard_ship_rate": float((disc & holds).sum() / max(n_disc, 1)),
        "discard_fraction": n_disc / max(len(tile_idx), 1),
        "crop_fraction": float(crop.mean()) if len(crop) else 0.0,
        "tiles": len(tile_idx),
        "discarded_tiles": n_disc,
        "discarded_ship_tiles": int((disc & holds).sum()),
        "missed_ships": len(ships) - recall,
    }


def class_metrics(labels: np.ndarray, pred: np.ndarray) -> dict:
    spec = tile_spec()
    ok = labels != IGNORE
    lab, prd = labels[ok], pred[ok]
    k = spec.n_classes
    cm = np.zeros((k, k), np.int64)
    np.add.at(cm, (lab, prd), 1)
    per = {}
    for i, c in enumerate(spec.classes):
        tp = cm[i, i]
        per[c] = {
            "precision": float(tp / cm[:, i].sum()) if cm[:, i].sum() else None,
            "recall": float(tp / cm[i].sum()) if cm[i].sum() else None,
            "support": int(cm[i].sum()),
        }
    return {
        "per_class": per,
        "confusion": {"rows_true_cols_pred": spec.classes, "matrix": cm.tolist()},
        "accuracy": float(np.trace(cm) / max(cm.sum(), 1)),
    }


# ----------------------------------------------------------------------------- policy


def _q(p: float) -> int:
    return prob_to_min_q(p)


def choose_policy(ds: TileDataset, tile_idx: np.ndarray, q_out: np.ndarray) -> Policy:
    """Thresholds from validation outputs, protecting ship recall first.

    Crop: the largest ship probability (at most ``CROP_MAX_PROB``) that still
    crops ``CROP_TARGET_RECALL`` of the ships. Discard (sea and cloud, same
    threshold): the lowest probability on ``DISCARD_PROB_GRID`` whose discard
    set holds at most ``DISCARD_TARGET_RATE`` ship tiles and loses no ship.
    """
    ship = tile_spec().class_id("ship")
    ships = ship_tiles(ds, tile_idx)
    best = np.array(
        [int(q_out[p, ship].max()) if len(p) else -128 for _, p in ships], dtype=np.int64
    )
    # keep the CROP_TARGET_RECALL quantile of each ship's best tile output
    k = int(np.floor((1 - CROP_TARGET_RECALL) * len(best)))
    q_crop = int(np.sort(best)[k]) if len(best) else -128
    q_crop = min(q_crop, _q(CROP_MAX_PROB))
    crop_p = (q_crop + 128) / 256
    chosen = DISCARD_PROB_GRID[-1]
    for p in DISCARD_PROB_GRID:
        pol = Policy(
            discard_min_prob={"cloud": p, "sea": p, "ship": None, "land": None},
            ship_crop_min_prob=crop_p,
            land_policy="lowres",
        )
        m = policy_metrics(ds, tile_idx, q_out, pol)
        if m["discard_ship_rate"] <= DISCARD_TARGET_RATE and m["ship_kept"] >= 1.0:
            chosen = p
            break
    return Policy(
        discard_min_prob={"cloud": chosen, "sea": chosen, "ship": None, "land": None},
        ship_crop_min_prob=crop_p,
        land_policy="lowres",
    )


# ----------------------------------------------------------------------------- folds


def fold_frames(ds: TileDataset) -> list[tuple[list[int], list[int]]]:
    """``(train frames, test frames)`` per fold."""
    out = []
    for group in FOLDS:
        test = [ds.frame_index(n) for n in group]
        train = [i for i in range(len(ds.names)) if i not in test]
        out.append((train, test))
    return out


def eval_key(ds: TileDataset, train_cfg) -> str:
    """Cache key of the fold results: dataset, recipe (configuration and code version), folds."""
    import tensorflow as tf

    from triage_models.train import TRAIN_CODE_VERSION

    h = hashlib.sha256()
    h.update(ds.key.encode())
    h.update(train_cfg.model_dump_json().encode())
    h.update(json.dumps(FOLDS).encode())
    h.update(f"{TRAIN_CODE_VERSION} tf {tf.__version__}".encode())
    return h.hexdigest()[:16]


def run_folds(ds: TileDataset, train_cfg, log=None, use_cache: bool = True) -> dict:
    """Train one model per fold and score its held-out frames; cached on disk."""
    from triage_models.quantize import tflm_predict
    from triage_models.train import float_predict, train

    key = eval_key(ds, train_cfg)
    path = paths.cache_dir() / f"folds-{key}.npz"
    if use_cache and path.exists():
        with np.load(path) as z:
            return {k: z[k] for k in z.files} | {"cached": True}
    t0 = time.monotonic()
    n = len(ds.tile_label)
    q_int8 = np.zeros((n, tile_spec().n_classes), np.int8)
    p_float = np.zeros((n, tile_spec().n_classes), np.float32)
    fold_of = np.full(n, -1, np.int8)
    seconds = []
    for k, (train_frames, test_frames) in enumerate(fold_frames(ds)):
        if log:
            log(f"fold {k + 1}/{len(FOLDS)}: held out {', '.join(FOLDS[k])}")
        res = train(ds, train_frames, train_cfg, log=log)
        seconds.append(res.seconds)
        idx = np.flatnonzero(np.isin(ds.tile_frame, test_frames))
        q = preprocess_tiles(ds.tiles(idx))
        q_int8[idx] = tflm_predict(res.tflite, q)
        p_float[idx] = float_predict(res.model, q)
        fold_of[idx] = k
    out = {
        "q_int8": q_int8,
        "p_float": p_float,
        "fold_of": fold_of,
        "train_seconds": np.array(seconds),
        "run_seconds": np.array(time.monotonic() - t0),
    }
    np.savez(path, **out)
    return out | {"cached": False}


def _round(obj):
    if isinstance(obj, float):
        return round(obj, 8)  # exact for the k/256 policy probabilities
    if isinstance(obj, dict):
        return {k: _round(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_round(v) for v in obj]
    return obj


def evaluate(ds: TileDataset, train_cfg, tflite: bytes | None, log=None, use_cache=True) -> dict:
    """All metrics of the issue in one dict (see the module docstring)."""
    from triage_models.quantize import macs_per_tile, tflm_arena_bytes

    start = time.monotonic()
    folds = run_folds(ds, train_cfg, log=log, use_cache=use_cache)
    q_int8, p_float, fold_of = folds["q_int8"], folds["p_float"], folds["fold_of"]
    is_port = ds.is_port[ds.tile_frame]
    port_idx = np.flatnonzero(is_port)
    all_idx = np.arange(len(ds.tile_label))

    # thresholds for fold k chosen on the other folds (cross-validated policy)
    q_by_fold = []
    cv_policies = []
    for k in range(len(FOLDS)):
        other = port_idx[fold_of[port_idx] != k]
        pol = choose_policy(ds, other, q_int8[other])
        cv_policies.append(pol.model_dump(include={"discard_min_prob", "ship_crop_min_prob"}))
        q_by_fold.append(pol)
    action_metrics = {"per_fold": []}
    tot = {"ships": 0, "recall": 0, "kept": 0, "disc": 0, "disc_ship": 0, "tiles": 0}
    for k, pol in enumerate(q_by_fold):
        idx = port_idx[fold_of[port_idx] == k]
        m = policy_metrics(ds, idx, q_int8[idx], pol)
        m["ports"] = [n for n in FOLDS[k] if ds.is_port[ds.frame_index(n)]]
        action_metrics["per_fold"].append(m)
        tot["ships"] += m["ships"]
        tot["recall"] += round(m["ship_recall"] * m["ships"])
        tot["kept"] += round(m["ship_kept"] * m["ships"])
        tot["disc"] += m["discarded_tiles"]
        tot["disc_ship"] += m["discarded_ship_tiles"]
        tot["tiles"] += m["tiles"]

    shipped_policy = choose_policy(ds, port_idx, q_int8[port_idx])
    in_sample = policy_metrics(ds, port_idx, q_int8[port_idx], shipped_policy)
    per_port = {}
    for f in np.flatnonzero(ds.is_port):
        idx = np.flatnonzero(ds.tile_frame == f)
        k = int(fold_of[idx[0]])
        per_port[ds.names[f]] = policy_metrics(ds, idx, q_int8[idx], q_by_fold[k])

    cls = class_metrics(ds.tile_label[all_idx], q_int8[all_idx].argmax(axis=1))
    agree = float((q_int8[port_idx].argmax(1) == p_float[port_idx].argmax(1)).mean())
    agree_all = float((q_int8.argmax(1) == p_float.argmax(1)).mean())

    q_base = baseline_outputs(preprocess_tiles(ds.tiles(all_idx)))
    base = policy_metrics(ds, port_idx, q_base[port_idx], BASELINE_POLICY)
    base |= class_metrics(ds.tile_label, q_base.argmax(axis=1))
    base["rule"] = BASELINE_RULE

    result = {
        "ship_recall": tot["recall"] / max(tot["ships"], 1),
        "ship_kept": tot["kept"] / max(tot["ships"], 1),
        "discard_ship_rate": tot["disc_ship"] / max(tot["disc"], 1),
        "discard_fraction": tot["disc"] / max(tot["tiles"], 1),
        "int8_float_agreement": agree,
        "int8_float_agreement_all_tiles": agree_all,
        "model_tflite_bytes": len(tflite) if tflite is not None else None,
        "tflm_arena_bytes": tflm_arena_bytes(tflite) if tflite is not None else None,
        "macs_per_tile": macs_per_tile(tflite) if tflite is not None else None,
        "ships": tot["ships"],
        "tiles": tot["tiles"],
        **cls,
        "per_port": per_port,
        "per_fold": action_metrics["per_fold"],
        "cv_policies": cv_policies,
        "shipped_policy": shipped_policy.model_dump(
            include={"discard_min_prob", "ship_crop_min_prob", "land_policy"}
        ),
        "shipped_policy_on_all_folds": in_sample,
        "baseline": base,
        "folds": FOLDS,
        "fold_train_seconds": [float(s) for s in folds["train_seconds"]],
        "folds_run_seconds": float(folds["run_seconds"]) if "run_seconds" in folds else None,
        "evaluation_seconds": time.monotonic() - start,
        "from_cache": bool(folds.get("cached", False)),
    }
    return _round(result)
