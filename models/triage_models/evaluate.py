"""Leave-ports-out evaluation, policy selection, and the non-learned baseline.

Ports are split into :data:`FOLDS` (five groups over the ten ports, balanced by
ship count, :mod:`triage_models.folds`); each cloud image is held out with one
group. For each fold a model is trained with the shipped recipe on everything
else and scores the held-out frames under TFLM (the int8 oracle) and as float. Every tile of the ten
scenes is thus scored by a model that never saw its port.

Definitions (per port scene, on the on-board tile grid):

- a ship's tiles are the tiles that contain its box centre (up to four,
  since tiles overlap);
- ``ship_recall``: ships whose box centre lies on a pixel the crops keep: in
  the central cell, widened by the policy's margin, of a cropped tile
  (:mod:`triage_models.crops`, as the firmware cuts its crops);
- ``crop_area_fraction``: the pixels the crops keep / the scenes' pixels (the
  full-resolution bytes the policy spends);
- ``ship_kept``: ships with at least one of their tiles not discarded;
- ``discard_ship_rate``: discarded tiles that hold a ship centre / discarded tiles;
- ``discard_fraction``: discarded tiles / all tiles of the ten scenes;
- ``int8_float_agreement``: top-1 agreement of int8 (TFLM) and float outputs;
- per-class precision/recall and the confusion matrix on labelled tiles
  (ignored tiles excluded) of the port scenes and the cloud images.

The decision sees each tile's int8 outputs, replaced for candidate tiles by
the mean with the outputs on the tile turned by 180 degrees (the second
opinion, :func:`triage.contract.policy.second_opinion`); the folds score every
held-out port tile both ways.

The policy (crop threshold, crop margin, second-opinion threshold, discard
thresholds) is chosen from validation outputs (:func:`choose_policy`) for the
end-to-end objective: the fewest full-resolution pixels that still deliver
``CROP_TARGET_RECALL`` of the ships. Headline numbers are cross-validated at
the policy level too: the policy applied to a fold is chosen from the other
two folds' outputs.
"""

from __future__ import annotations

import hashlib
import json
import time
from functools import partial

import numpy as np

from triage.contract.enums import Action
from triage.contract.policy import decide, prob_to_min_q
from triage_models import folds as folds_mod
from triage_models import paths
from triage_models.crops import best_score_map, box_centres, cell_bounds
from triage_models.dataset import IGNORE, TileDataset
from triage_models.harness import (
    CROP_MARGINS,
    CROP_MAX_PROB,
    CROP_TARGET_RECALL,
    LAND_POLICY,
    class_metrics,
)
from triage_models.quantize import macs_per_tile, tflm_arena_bytes, tflm_predict
from triage_models.tiles import TilePolicy as Policy
from triage_models.tiles import preprocess_tiles, second_opinion, tile_spec, turned_outputs
from triage_models.train import TRAIN_CODE_VERSION, float_predict, train

# The frames of each leave-ports-out fold: one definition, in triage_models.folds.
FOLDS: list[list[str]] = [list(f.frames) for f in folds_mod.FOLDS]
FOLDS_CACHE_FORMAT = "q_int8 + q_turned[3] (quarter turns)"
POLICY_KEYS = {
    "discard_min_prob",
    "ship_crop_min_prob",
    "crop_margin_px",
    "second_opinion_min_prob",
}
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
    crop_margin_px=8,  # the whole tile
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


def _port_frames(ds: TileDataset, tile_idx: np.ndarray):
    """Per port frame among ``tile_idx``: (positions into tile_idx, shape, box centres)."""
    out = []
    for f in np.unique(ds.tile_frame[tile_idx]):
        if not ds.is_port[f]:
            continue
        pos = np.flatnonzero(ds.tile_frame[tile_idx] == f)
        b = ds.boxes[ds.boxes[:, 0] == f][:, 1:]
        out.append((pos, ds.frames[f].shape[:2], box_centres(b)))
    return out


def crop_curves(
    ds: TileDataset, tile_idx: np.ndarray, ship_q: np.ndarray, margin: int
) -> tuple[np.ndarray, np.ndarray]:
    """For every crop threshold at once: ``(ship_best, pixel_hist)`` over the port frames of
    ``tile_idx``, with ship outputs ``ship_q`` (one per position of tile_idx) and crop margin
    ``margin``. A ship is delivered by threshold ``t`` exactly when ``ship_best >= t``;
    ``pixel_hist[t + 129]`` counts the pixels whose best covering output is ``t``, so the
    pixels kept by ``t`` are ``pixel_hist[t + 129:].sum()``."""
    best, hist = [], np.zeros(257, np.int64)
    for pos, shape, centres in _port_frames(ds, tile_idx):
        m = best_score_map(ds.tile_yx[tile_idx[pos]], shape, ship_q[pos], margin)
        hist += np.bincount((m.ravel().astype(np.int64) + 129), minlength=257)
        best.append(m[centres[:, 0], centres[:, 1]].astype(np.int64))
    return (np.concatenate(best) if best else np.zeros(0, np.int64)), hist


def policy_metrics(
    ds: TileDataset, tile_idx: np.ndarray, q_out: np.ndarray, policy: Policy
) -> dict:
    """Ship recall, ship kept, discard rates for port tiles ``tile_idx`` with outputs ``q_out``
    (the outputs the decision sees: second opinion applied)."""
    action = decide(q_out, policy)
    crop = action == Action.CROP
    disc = action == Action.DISCARD
    drop = action == Action.LAND_DROP
    ships = ship_tiles(ds, tile_idx)
    best, hist = crop_curves(
        ds, tile_idx, np.where(crop, 1, -128).astype(np.int16), policy.check_margin()
    )
    recall = int((best >= 1).sum())
    kept = sum(bool((~disc[p]).any()) for _, p in ships)
    sent = sum(bool((~(disc | drop)[p]).any()) for _, p in ships)
    holds = ds.tile_centres[tile_idx] > 0
    n_disc = int(disc.sum())
    return {
        "ships": len(ships),
        "ship_recall": recall / max(len(ships), 1),
        "ship_kept": kept / max(len(ships), 1),
        "discard_ship_rate": float((disc & holds).sum() / max(n_disc, 1)),
        "discard_fraction": n_disc / max(len(tile_idx), 1),
        "crop_fraction": float(crop.mean()) if len(crop) else 0.0,
        "crop_area_fraction": float(hist[130:].sum() / max(hist.sum(), 1)),
        "tiles": len(tile_idx),
        "pixels": int(hist.sum()),
        "crop_pixels": int(hist[130:].sum()),
        "discarded_tiles": n_disc,
        "discarded_ship_tiles": int((disc & holds).sum()),
        "land_dropped_tiles": int(drop.sum()),
        "land_dropped_ship_tiles": int((drop & holds).sum()),
        "land_drop_fraction": float(drop.mean()) if len(drop) else 0.0,
        "ship_sent": sent / max(len(ships), 1),
        "missed_ships": len(ships) - recall,
    }


def scored_labels(ds: TileDataset) -> np.ndarray:
    """Tile labels for the per-class scores: a ship tile counts as ship only when a box centre
    lies in its central cell (what the network is trained to call ship; the crop's unit);
    the other ship tiles (a ship at the border, the neighbouring cell's) are ignored."""
    lab = ds.tile_label.copy()
    ship = tile_spec().class_id("ship")
    for f in np.flatnonzero(ds.is_port):
        idx = np.flatnonzero((ds.tile_frame == f) & (lab == ship))
        if not len(idx):
            continue
        h, w = ds.frames[f].shape[:2]
        r0, r1 = cell_bounds(ds.tile_yx[idx, 0], h)
        c0, c1 = cell_bounds(ds.tile_yx[idx, 1], w)
        cen = box_centres(ds.boxes[ds.boxes[:, 0] == f][:, 1:])
        inside = (
            (cen[None, :, 0] >= r0[:, None])
            & (cen[None, :, 0] < r1[:, None])
            & (cen[None, :, 1] >= c0[:, None])
            & (cen[None, :, 1] < c1[:, None])
        ).any(axis=1)
        lab[idx[~inside]] = IGNORE
    return lab


# ----------------------------------------------------------------------------- policy


def _q(p: float) -> int:
    return prob_to_min_q(p)


ALL_CANDIDATES = {  # a policy whose second opinion covers every tile
    "discard_min_prob": {},
    "ship_crop_min_prob": 1.0,
    "land_policy": "lowres",
    "second_opinion_min_prob": 0.0,
}


def choose_policy(
    ds: TileDataset, tile_idx: np.ndarray, q_out: np.ndarray, q_turned: np.ndarray
) -> Policy:
    """The policy from validation outputs (``q_out`` on the tiles, ``q_turned`` ``[3, N,
    classes]`` on the tiles turned by 90, 180, 270 degrees), for the fewest full-resolution
    pixels at the target recall.

    1. Crop threshold and margin, on the second-opinion outputs of every tile: of the
       margins in ``CROP_MARGINS`` and the thresholds up to ``CROP_MAX_PROB``, the pair
       that keeps the fewest pixels while delivering ``CROP_TARGET_RECALL`` of the ships.
    2. Second opinion only where it matters: the highest candidate threshold (at most the
       crop threshold) that still delivers every ship step 1 delivers. Tiles below it keep
       their own outputs, which are below the crop threshold.
    3. Discard (sea and cloud, same threshold), on the outputs the decision then sees:
       the lowest probability on ``DISCARD_PROB_GRID`` whose discard set holds at most
       ``DISCARD_TARGET_RATE`` ship tiles and loses no ship.
    """
    spec = tile_spec()
    ship = spec.class_id("ship")
    both = second_opinion(q_out, q_turned, Policy(**ALL_CANDIDATES)).astype(np.int32)
    cap = _q(CROP_MAX_PROB)
    best_choice = None  # (pixels, -threshold, margin, threshold)
    qs = np.arange(-128, cap + 1)
    for m in CROP_MARGINS:
        best, hist = crop_curves(ds, tile_idx, both[:, ship], m)
        if not len(best):
            continue
        recall = (best[None, :] >= qs[:, None]).mean(axis=1)
        ok = np.flatnonzero(recall >= CROP_TARGET_RECALL)
        if not len(ok):
            continue
        t = int(qs[ok[-1]])  # highest threshold meeting the target: fewest pixels
        pixels = int(hist[t + 129 :].sum())
        key = (pixels, -t, m)
        if best_choice is None or key < best_choice[0]:
            best_choice = (key, m, t)
    if best_choice is None:  # the target is out of reach: crop everything the cap allows
        best_choice = ((0, 0, 0), max(CROP_MARGINS), -128)
    _, margin, q_crop = best_choice
    # a tile is cropped when its first opinion reaches the candidate threshold and the mean
    # reaches the crop threshold: the highest candidate threshold that loses no ship
    first = np.where(both[:, ship] >= q_crop, q_out[:, ship].astype(np.int16), -129)
    ship_first, _ = crop_curves(ds, tile_idx, first.astype(np.int16), margin)
    delivered = ship_first[ship_first >= -128]
    q_cand = min(int(delivered.min()), q_crop) if len(delivered) else q_crop
    oq = tile_spec().output_quantization
    base = Policy(
        discard_min_prob=dict.fromkeys(tile_spec().classes),
        ship_crop_min_prob=float(oq.real(q_crop)),
        land_policy=LAND_POLICY,
        crop_margin_px=margin,
        second_opinion_min_prob=float(oq.real(q_cand)),
    )
    final = second_opinion(q_out, q_turned, base)
    chosen = DISCARD_PROB_GRID[-1]
    for p in DISCARD_PROB_GRID:
        pol = base.model_copy(
            update={"discard_min_prob": {"cloud": p, "sea": p, "ship": None, "land": None}}
        )
        m = policy_metrics(ds, tile_idx, final, pol)
        if m["discard_ship_rate"] <= DISCARD_TARGET_RATE and m["ship_kept"] >= 1.0:
            chosen = p
            break
    return base.model_copy(
        update={"discard_min_prob": {"cloud": chosen, "sea": chosen, "ship": None, "land": None}}
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

    h = hashlib.sha256()
    h.update(ds.key.encode())
    h.update(train_cfg.model_dump_json().encode())
    h.update(json.dumps(FOLDS).encode())
    h.update(f"{TRAIN_CODE_VERSION} tf {tf.__version__} {FOLDS_CACHE_FORMAT}".encode())
    return h.hexdigest()[:16]


def run_folds(ds: TileDataset, train_cfg, log=None, use_cache: bool = True) -> dict:
    """Train one model per fold and score its held-out frames (the port tiles also turned by
    90, 180 and 270 degrees, for the second opinion); cached on disk, the fold models too."""

    key = eval_key(ds, train_cfg)
    path = paths.cache_dir() / f"folds-{key}.npz"
    if use_cache and path.exists():
        with np.load(path) as z:
            return {k: z[k] for k in z.files} | {"cached": True}
    t0 = time.monotonic()
    n = len(ds.tile_label)
    q_int8 = np.zeros((n, tile_spec().n_classes), np.int8)
    q_turned = np.zeros((3, n, tile_spec().n_classes), np.int8)
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
        port = ds.is_port[ds.tile_frame[idx]]
        q_turned[:, idx[port]] = turned_outputs(partial(tflm_predict, res.tflite), q[port])
        (paths.cache_dir() / f"folds-{key}-fold{k + 1}.tflite").write_bytes(res.tflite)
        fold_of[idx] = k
    out = {
        "q_int8": q_int8,
        "q_turned": q_turned,
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

    start = time.monotonic()
    folds = run_folds(ds, train_cfg, log=log, use_cache=use_cache)
    q_int8, p_float, fold_of = folds["q_int8"], folds["p_float"], folds["fold_of"]
    q_turned = folds["q_turned"]
    ship = tile_spec().class_id("ship")
    is_port = ds.is_port[ds.tile_frame]
    port_idx = np.flatnonzero(is_port)
    all_idx = np.arange(len(ds.tile_label))

    # the policy of fold k chosen on the other folds (cross-validated policy)
    policies = []
    cv_policies = []
    for k in range(len(FOLDS)):
        other = port_idx[fold_of[port_idx] != k]
        pol = choose_policy(ds, other, q_int8[other], q_turned[:, other])
        cv_policies.append(pol.model_dump(include=POLICY_KEYS))
        policies.append(pol)
    action_metrics = {"per_fold": []}
    tot = {"ships": 0, "recall": 0, "kept": 0, "disc": 0, "disc_ship": 0, "tiles": 0}
    tot |= {"second": 0, "px": 0, "crop_px": 0, "crop_tiles": 0, "sent": 0, "drop": 0}
    tot |= {"drop_ship": 0}
    q_seen = np.zeros_like(q_int8)  # the outputs the decision sees, per fold's policy
    for k, pol in enumerate(policies):
        idx = port_idx[fold_of[port_idx] == k]
        q_seen[idx] = second_opinion(q_int8[idx], q_turned[:, idx], pol)
        m = policy_metrics(ds, idx, q_seen[idx], pol)
        m["ports"] = [n for n in FOLDS[k] if ds.is_port[ds.frame_index(n)]]
        m["second_opinion_fraction"] = float((q_int8[idx, ship] >= pol.second_opinion_min_q).mean())
        action_metrics["per_fold"].append(m)
        tot["ships"] += m["ships"]
        tot["recall"] += round(m["ship_recall"] * m["ships"])
        tot["kept"] += round(m["ship_kept"] * m["ships"])
        tot["disc"] += m["discarded_tiles"]
        tot["disc_ship"] += m["discarded_ship_tiles"]
        tot["tiles"] += m["tiles"]
        tot["px"] += m["pixels"]
        tot["crop_px"] += m["crop_pixels"]
        tot["crop_tiles"] += round(m["crop_fraction"] * m["tiles"])
        tot["second"] += round(m["second_opinion_fraction"] * m["tiles"])
        tot["sent"] += round(m["ship_sent"] * m["ships"])
        tot["drop"] += m["land_dropped_tiles"]
        tot["drop_ship"] += m["land_dropped_ship_tiles"]

    shipped_policy = choose_policy(ds, port_idx, q_int8[port_idx], q_turned[:, port_idx])
    in_sample = policy_metrics(
        ds,
        port_idx,
        second_opinion(q_int8[port_idx], q_turned[:, port_idx], shipped_policy),
        shipped_policy,
    )
    per_port = {}
    for f in np.flatnonzero(ds.is_port):
        idx = np.flatnonzero(ds.tile_frame == f)
        k = int(fold_of[idx[0]])
        per_port[ds.names[f]] = policy_metrics(ds, idx, q_seen[idx], policies[k])

    cls = class_metrics(scored_labels(ds)[all_idx], q_int8[all_idx].argmax(axis=1))
    agree = float((q_int8[port_idx].argmax(1) == p_float[port_idx].argmax(1)).mean())
    agree_all = float((q_int8.argmax(1) == p_float.argmax(1)).mean())

    q_base = baseline_outputs(preprocess_tiles(ds.tiles(all_idx)))
    base = policy_metrics(ds, port_idx, q_base[port_idx], BASELINE_POLICY)
    base |= class_metrics(scored_labels(ds), q_base.argmax(axis=1))
    base["rule"] = BASELINE_RULE

    result = {
        "ship_recall": tot["recall"] / max(tot["ships"], 1),
        "ship_kept": tot["kept"] / max(tot["ships"], 1),
        "discard_ship_rate": tot["disc_ship"] / max(tot["disc"], 1),
        "discard_fraction": tot["disc"] / max(tot["tiles"], 1),
        "crop_fraction": tot["crop_tiles"] / max(tot["tiles"], 1),
        "crop_area_fraction": tot["crop_px"] / max(tot["px"], 1),
        "second_opinion_fraction": tot["second"] / max(tot["tiles"], 1),
        "land_drop_fraction": tot["drop"] / max(tot["tiles"], 1),
        "land_dropped_ship_tiles": tot["drop_ship"],
        "ship_sent": tot["sent"] / max(tot["ships"], 1),
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
        "shipped_policy": shipped_policy.model_dump(include=POLICY_KEYS | {"land_policy"}),
        "crop_target_recall": CROP_TARGET_RECALL,
        "shipped_policy_on_all_folds": in_sample,
        "baseline": base,
        "folds": FOLDS,
        "fold_train_seconds": [float(s) for s in folds["train_seconds"]],
        "folds_run_seconds": float(folds["run_seconds"]) if "run_seconds" in folds else None,
        "evaluation_seconds": time.monotonic() - start,
        "from_cache": bool(folds.get("cached", False)),
    }
    return _round(result)
