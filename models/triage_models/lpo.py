"""Leave-ports-out report over the ten ports (:mod:`triage_models.folds`), any design.

Input: for every fold, the int8 (TFLM) and float outputs of that fold's model on the
fold's frames: port scenes as they are and hazed (:func:`harness.haze_frame` with the
fold's own held-out cloud images), cloud images, coastal chips. Output: the metrics
of issue 14, with the policy of each fold chosen on the other folds' port outputs.
"""

from __future__ import annotations

import numpy as np

from triage.contract.enums import Action
from triage.contract.policy import called_class, decide
from triage.contract.tile_spec import tile_spec
from triage_models import harness as hn
from triage_models.dataset import TileDataset
from triage_models.folds import FOLDS, Fold
from triage_models.sources import SENTINEL2_CLOUD_IMAGES
from triage_models.tiles import TilePolicy as Policy

POLICY_KEYS = {
    "discard_min_prob",
    "ship_crop_min_prob",
    "crop_margin_px",
    "second_opinion_min_prob",
    "land_policy",
    "cloud_call_min_prob",
}


def design_units(design: str, shape: tuple[int, int]) -> hn.Units:
    if design == "tiles":
        return hn.tile_units(shape)
    if design == "cells":
        return hn.cell_units(shape)
    raise ValueError(f"unknown design {design!r}")


def _as_units(out: np.ndarray, n: int) -> np.ndarray:
    q = np.asarray(out)
    return q.reshape(-1, q.shape[-1])[:n] if q.ndim == 3 else q


def make_frames(ds: TileDataset, outputs: dict, design: str, fold: Fold, chips: dict) -> dict:
    """The harness frames of one fold from its outputs dict (``name`` -> ``{"q", "p",
    ["q_turned"]}``, hazed ports under ``name#haze``, chips under ``coastal_<name>``)."""
    res = {"ports": [], "haze": [], "clouds": [], "coastal": [], "agree": []}
    for name in fold.ports + fold.clouds:
        f = ds.frame_index(name)
        shape = ds.frames[f].shape[:2]
        u = design_units(design, shape)
        o = outputs[name]
        q = _as_units(o["q"], len(u))
        cen = (
            hn.box_centres(ds.boxes[ds.boxes[:, 0] == f][:, 1:])
            if ds.is_port[f]
            else (np.zeros((0, 2), np.int64))
        )
        turned = o.get("q_turned")
        if turned is not None:
            turned = np.stack([_as_units(t, len(u)) for t in turned])
        fr = hn.Frame(
            name,
            u,
            cen,
            q,
            turned,
            hn.unit_labels(ds, f, u),
            hn.ship_attributes(ds, f) if ds.is_port[f] else None,
        )
        res["ports" if ds.is_port[f] else "clouds"].append(fr)
        if "p" in o:
            p = _as_units(o["p"], len(u))
            res["agree"].append((q.argmax(1) == p.argmax(1), bool(ds.is_port[f])))
        if ds.is_port[f] and f"{name}#haze" in outputs:
            oh = outputs[f"{name}#haze"]
            th = oh.get("q_turned")
            if th is not None:
                th = np.stack([_as_units(t, len(u)) for t in th])
            frh = hn.Frame(name, u, cen, _as_units(oh["q"], len(u)), th, None, fr.ship_attrs)
            alpha = oh["alpha"]
            frh.ship_alpha = alpha[cen[:, 0], cen[:, 1]] if len(cen) else np.zeros(0)
            res["haze"].append(frh)
    for c in fold.coastal:
        chip = chips[c]
        u = design_units(design, chip.frame.shape[:2])
        o = outputs[f"coastal_{c}"]
        turned = o.get("q_turned")
        if turned is not None:
            turned = np.stack([_as_units(t, len(u)) for t in turned])
        res["coastal"].append(
            (
                hn.Frame(c, u, np.zeros((0, 2), np.int64), _as_units(o["q"], len(u)), turned),
                chip.scl,
            )
        )
    return res


def _policy_dump(p: Policy) -> dict:
    return p.model_dump(include=POLICY_KEYS)


RECALL_TARGETS = (hn.CROP_TARGET_RECALL, 0.975, 0.98, 0.985, 0.99)
"""The policy's recall target and higher ones, whose trade the report also measures."""


def _fold_calls(ds: TileDataset, per_fold: list[dict]) -> list[float | None]:
    """Each fold's cloud call, chosen on the other folds' cloud images."""
    return [
        hn.choose_cloud_call(
            ds, [fr for j, pf in enumerate(per_fold) if j != k for fr in pf["clouds"]]
        )
        for k in range(len(per_fold))
    ]


def _fold_policies(
    per_fold: list[dict], calls: list, target: float, margins: tuple[int, ...]
) -> list[Policy]:
    """Each fold's policy, chosen on the other folds' port outputs for ``target``, with one
    of ``margins``."""
    return [
        hn.choose_policy(
            [fr for j, pf in enumerate(per_fold) if j != k for fr in pf["ports"]],
            target=target,
            cloud_call_min_prob=calls[k],
            margins=margins,
        )
        for k in range(len(per_fold))
    ]


def recall_target_trade(
    per_fold: list[dict],
    calls: list,
    targets: tuple[float, ...] = RECALL_TARGETS,
    margins: tuple[int, ...] = hn.CROP_MARGINS,
) -> list[dict]:
    """Out-of-sample ship recall, lowest port recall, crop area and haze recall when every
    fold's crop threshold is chosen for each of ``targets`` instead of the policy's
    ``CROP_TARGET_RECALL``: the trade a designer may prefer (not a selection: the report's
    other figures keep the chosen target)."""
    rows = []
    for t in targets:
        pols = _fold_policies(per_fold, calls, t, margins)
        parts, haze, low = [], [], (None, 2.0)
        for k, pf in enumerate(per_fold):
            for fr in pf["ports"]:
                m = hn.frame_metrics(fr, pols[k])
                parts.append(m)
                r = hn.totals([m])["ship_recall"]
                if r is not None and r < low[1]:
                    low = (fr.name, r)
            haze += [hn.frame_metrics(fr, pols[k]) for fr in pf["haze"]]
        tot = hn.totals(parts)
        rows.append(
            {
                "target": t,
                "ship_recall": tot["ship_recall"],
                "ships": tot["ships"],
                "missed_ships": tot["missed_ships"],
                "lowest_port": low[0],
                "lowest_port_recall": low[1],
                "crop_area_fraction": tot["crop_area_fraction"],
                "haze_ship_recall": hn.totals(haze)["ship_recall"] if haze else None,
                "per_fold_ship_crop_min_prob": [p.ship_crop_min_prob for p in pols],
            }
        )
    return rows


def report(
    ds: TileDataset,
    per_fold: list[dict],
    macs_per_megapixel: float | None = None,
    folds: tuple[Fold, ...] = FOLDS,
    recall_targets: tuple[float, ...] = (),
    margins: tuple[int, ...] = hn.CROP_MARGINS,
) -> dict:
    """All the issue's metrics from the per-fold frames (:func:`make_frames`), each fold's
    policy keeping one of the crop ``margins``; with ``recall_targets``, also
    :func:`recall_target_trade` for them."""
    spec = tile_spec()
    calls = _fold_calls(ds, per_fold)
    policies = _fold_policies(per_fold, calls, hn.CROP_TARGET_RECALL, margins)
    parts, frames, per_port, haze_parts, haze_frames = [], [], {}, [], []
    haze_alpha, haze_ok = [], []
    for k, pf in enumerate(per_fold):
        for fr in pf["ports"]:
            m = hn.frame_metrics(fr, policies[k])
            parts.append(m)
            frames.append(fr)
            per_port[fr.name] = hn.totals([m]) | {"fold": k + 1}
        for fr in pf["haze"]:
            m = hn.frame_metrics(fr, policies[k])
            haze_parts.append(m)
            haze_frames.append(fr)
            haze_alpha.append(fr.ship_alpha)
            haze_ok.append(m["delivered_mask"])
    tot = hn.totals(parts)
    for m in per_port.values():
        m.pop("units", None)
    out = dict(tot)
    out["per_port"] = per_port
    out["per_fold_policy"] = [_policy_dump(p) for p in policies]
    out["slices"] = hn.slice_recall(frames, parts)
    # per-unit classes: port units and cloud-image units, the class the decision calls
    # (the top class of the int8 output, or cloud from the fold policy's cloud call)
    called = {
        (k, fr.name): called_class(fr.q, policies[k])
        for k, pf in enumerate(per_fold)
        for fr in pf["ports"] + pf["clouds"]
    }
    lab = np.concatenate([fr.labels for pf in per_fold for fr in pf["ports"] + pf["clouds"]])
    pred = np.concatenate(
        [called[k, fr.name] for k, pf in enumerate(per_fold) for fr in pf["ports"] + pf["clouds"]]
    )
    out |= hn.class_metrics(lab, pred)
    cl_lab = np.concatenate([fr.labels for pf in per_fold for fr in pf["clouds"]])
    cl_pred = np.concatenate(
        [called[k, fr.name] for k, pf in enumerate(per_fold) for fr in pf["clouds"]]
    )
    out["cloud_on_cloud_images"] = hn.cloud_scores(cl_lab, cl_pred)
    out["cloud_on_cloud_images"]["per_image"] = {
        fr.name: hn.cloud_scores(fr.labels, called[k, fr.name])
        for k, pf in enumerate(per_fold)
        for fr in pf["clouds"]
    }
    # the same at the tile level of the issue (32-px tiles every 16 px); for cell units a
    # tile is cloud when at least half of it lies in cells predicted cloud
    tl, tp, s2l, s2p = [], [], [], []
    for k, pf in enumerate(per_fold):
        for fr in pf["clouds"]:
            if np.array_equal(fr.units.foot, fr.units.cell):
                a, b = hn.tile_level_cloud(
                    ds, ds.frame_index(fr.name), fr.units, called[k, fr.name]
                )
            else:
                a, b = fr.labels, called[k, fr.name]
            tl.append(a)
            tp.append(b)
            if fr.name in SENTINEL2_CLOUD_IMAGES:
                s2l.append(a)
                s2p.append(b)
    out["cloud_on_cloud_images_32px_tiles"] = hn.cloud_scores(
        np.concatenate(tl), np.concatenate(tp)
    )
    if s2l:
        out["cloud_on_sentinel2_32px_tiles"] = hn.cloud_scores(
            np.concatenate(s2l), np.concatenate(s2p)
        )
    s2 = [
        (k, fr)
        for k, pf in enumerate(per_fold)
        for fr in pf["clouds"]
        if fr.name in SENTINEL2_CLOUD_IMAGES
    ]
    if s2:
        out["cloud_on_sentinel2_chips"] = hn.cloud_scores(
            np.concatenate([fr.labels for _, fr in s2]),
            np.concatenate([called[k, fr.name] for k, fr in s2]),
        )
    # the cloud decision: discarded as cloud (policy), not just top-1
    c = spec.class_id("cloud")
    dec_lab, dec_pred = [], []
    for k, pf in enumerate(per_fold):
        for fr in pf["clouds"]:
            a = decide(hn.seen_outputs(fr, policies[k]), policies[k])
            top = called[k, fr.name]
            dec_lab.append(fr.labels)
            dec_pred.append(np.where((a == Action.DISCARD) & (top == c), c, -9))
    if dec_lab:
        out["cloud_discard_on_cloud_images"] = hn.cloud_scores(
            np.concatenate(dec_lab), np.concatenate(dec_pred)
        )
    if haze_parts:
        ht = hn.totals(haze_parts)
        a = np.concatenate(haze_alpha)
        ok = np.concatenate(haze_ok)
        out["haze"] = {
            "ship_recall": ht["ship_recall"],
            "ships": ht["ships"],
            "crop_area_fraction": ht["crop_area_fraction"],
            "discard_ship_rate": ht["discard_ship_rate"],
            "ships_under_alpha_0.1": int((a >= 0.1).sum()),
            "ship_recall_under_alpha_0.1": float(ok[a >= 0.1].mean()) if (a >= 0.1).any() else None,
            "per_port": {
                fr.name: hn.totals([m])["ship_recall"]
                for fr, m in zip(haze_frames, haze_parts, strict=True)
            },
        }
    coastal = {}
    for k, pf in enumerate(per_fold):
        for fr, scl in pf["coastal"]:
            coastal[fr.name] = hn.coastal_shares(fr, policies[k], scl) | {"fold": k + 1}
    out["coastal"] = coastal
    ag = [a for pf in per_fold for a, is_port in pf["agree"] if is_port]
    ag_all = [a for pf in per_fold for a, _ in pf["agree"]]
    out["int8_float_agreement"] = float(np.concatenate(ag).mean()) if ag else None
    out["int8_float_agreement_all"] = float(np.concatenate(ag_all).mean()) if ag_all else None
    out["macs_per_megapixel"] = macs_per_megapixel
    out["folds"] = [dict(ports=f.ports, clouds=f.clouds, coastal=f.coastal) for f in folds]
    if recall_targets:
        out["recall_target_trade"] = recall_target_trade(per_fold, calls, recall_targets, margins)
    return out


def headline(r: dict) -> str:
    """A one-screen summary of a report."""
    cl = r.get("cloud_on_cloud_images", {})
    s2 = r.get("cloud_on_sentinel2_chips", {})
    hz = r.get("haze", {})
    lines = [
        f"ship_recall {r['ship_recall']:.4f} ({r['ships'] - r['missed_ships']}/{r['ships']})  "
        f"crop_area {r['crop_area_fraction']:.4f}  discard_ship_rate "
        f"{r['discard_ship_rate']:.4f}  discard {r['discard_fraction']:.3f}",
        f"crop precision cells {r['crop_cell_precision']:.3f} regions "
        f"{r['crop_region_precision']:.3f} ({r['crop_regions']} regions)  agreement "
        f"{r['int8_float_agreement']}",
        f"cloud (cloud images) P {cl.get('precision')} R {cl.get('recall')}; S2 chips P "
        f"{s2.get('precision')} R {s2.get('recall')}; 32-px tiles P "
        f"{r.get('cloud_on_cloud_images_32px_tiles', {}).get('precision')} R "
        f"{r.get('cloud_on_cloud_images_32px_tiles', {}).get('recall')}; S2 32-px tiles P "
        f"{r.get('cloud_on_sentinel2_32px_tiles', {}).get('precision')} R "
        f"{r.get('cloud_on_sentinel2_32px_tiles', {}).get('recall')}",
        f"haze recall {hz.get('ship_recall')} (alpha>=0.1: {hz.get('ship_recall_under_alpha_0.1')}"
        f", {hz.get('ships_under_alpha_0.1')} ships) haze crop area {hz.get('crop_area_fraction')}",
        "per port recall: "
        + ", ".join(
            f"{n} {m['ship_recall']:.2f}/{m['crop_area_fraction']:.3f}"
            for n, m in r["per_port"].items()
        ),
        "slices: "
        + ", ".join(
            f"{k} {v['recall']:.3f} ({v['ships']})"
            for k, v in r["slices"].items()
            if v["recall"] is not None
        ),
        "coastal: "
        + ", ".join(
            f"{n} crop {c['crop']:.3f} disc {c['discard']:.3f} drop {c['land_drop']:.3f} "
            f"area {c['crop_area_fraction']:.3f}"
            for n, c in r["coastal"].items()
        ),
    ]
    return "\n".join(lines)
