"""Design-independent leave-ports-out metrics: units, policy, crops, slices, haze, coastal.

Both on-board designs are scored by the same code. A design turns a frame into
*decision units*, each with

- a **cell**: the pixels a cropped unit sends at full resolution (before the
  policy's margin): the central cell of a 32-px tile (:mod:`triage_models.crops`),
  or a 16x16 cell of the frame's cell grid (:mod:`triage_models.cellnet`);
- a **footprint**: the pixels its label describes and where it "holds a ship"
  (the whole tile, or the cell itself);
- a **grid position**, for the 8-connected crop regions (as ``tri_regions.c``).

Definitions (per frame; totals sum numerators and denominators over frames):

- ``ship_recall``: ships whose box centre lies on a pixel the crops keep (the
  cells of cropped units widened by the margin);
- ``crop_area_fraction``: kept pixels / frame pixels;
- ``crop_cell_precision``: cropped units whose cell holds a box centre / cropped units;
- ``crop_region_precision``: crop regions (8-connected cropped units) whose kept
  pixels hold a box centre / crop regions;
- ``discard_ship_rate``: discarded units whose footprint holds a box centre /
  discarded units; ``ship_kept``: ships with a unit holding their centre not discarded;
- slices of the recall: ship length (Feret diameter of the COCO outline: < 10,
  10-20, > 20 px), the surrounding water (median red reflectance of the water
  pixels 3-12 px around the box: bright/turbid when >= ``TURBID_RED``), quay-side
  (>= ``QUAY_LAND`` non-water, non-vessel pixels in that ring) or open water.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from triage.contract.enums import Action
from triage.contract.policy import called_class, decide, prob_to_min_q
from triage.contract.tile_spec import tile_spec
from triage_models.crops import cell_bounds
from triage_models.dataset import (
    CLOUD_MIN_FRACTION,
    IGNORE,
    SHIP_MIN_BOX_FRACTION,
    TileDataset,
    label_cloud_tiles,
    label_port_tiles,
)
from triage_models.sources import SCL_WATER, SENTINEL2_CLOUD_IMAGES
from triage_models.tiles import TilePolicy as Policy
from triage_models.tiles import second_opinion, tile_origins
from triage_models.tiles import tile_spec as tile_recipe

CROP_TARGET_RECALL = 0.97
CROP_MAX_PROB = 0.5
CROP_MARGINS = (0, 2, 4, 6, 8)
DISCARD_TARGET_RATE = 0.0025
DISCARD_PROB_GRID = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98, 0.99)
CLOUD_CALL_TARGET_RECALL = 0.96
"""Cloud recall, on the 32-px tiles of the Sentinel-2 cloud images, that the cloud call
threshold is chosen for (:func:`choose_cloud_call`; the issue's target is 0.95)."""
# What becomes of land (neither cropped nor discarded): an end-to-end choice, not a
# validation one. The mission sends ships at full resolution with just enough context to
# place them, which the per-frame quicklook and class map carry; low-resolution land
# products cost 706 KB of the 6.0 MB a week of UHF passes brought down for the nine ports
# (triage simulate, 2026-12-05). The firmware's tri_onboard_set_land_policy switches it.
LAND_POLICY = "drop"
TURBID_RED = 0.04  # reflectance: 2x the clear training water's upper end (0.011-0.024)
QUAY_LAND = 0.1
RING_INNER, RING_OUTER = 3, 12
LENGTH_BINS = ((0, 10, "<10"), (10, 20, "10-20"), (20, 10_000, ">20"))
HAZE_OPACITY = (0.2, 0.5)
HAZE_PATCH_PX = 96
# the decisions a decided unit can get (the contract's codes; NODATA is not a decision)
DECISIONS = (Action.CROP, Action.DISCARD, Action.LAND_DROP, Action.LOWRES)


@dataclass
class Units:
    """The decision units of one frame."""

    shape: tuple[int, int]
    cell: np.ndarray  # [N, 4] int64 r0, r1, c0, c1 (crop unit before the margin)
    foot: np.ndarray  # [N, 4] int64 r0, r1, c0, c1 (label footprint)
    grid: np.ndarray  # [N, 2] int64 (row, col) on the unit grid

    def __len__(self) -> int:
        return len(self.cell)


def cell_units(shape: tuple[int, int], cell_px: int | None = None) -> Units:
    """The cell grid: cells ``cell_px`` (the tile spec's) square from the frame origin, the
    last row and column clipped at the frame's edge; cell = footprint."""
    cell_px = cell_px or tile_spec().cell_px
    h, w = shape
    gy, gx = np.meshgrid(np.arange(-(-h // cell_px)), np.arange(-(-w // cell_px)), indexing="ij")
    gy, gx = gy.ravel(), gx.ravel()
    r0, c0 = gy * cell_px, gx * cell_px
    rect = np.stack([r0, np.minimum(r0 + cell_px, h), c0, np.minimum(c0 + cell_px, w)], 1)
    return Units(tuple(shape), rect.astype(np.int64), rect.astype(np.int64), np.stack([gy, gx], 1))


def tile_units(shape: tuple[int, int]) -> Units:
    """The tile recipe's grid (the baseline, :mod:`triage_models.tiles`): footprint = the
    tile, cell = its central cell."""
    spec = tile_recipe()
    ys, xs = tile_origins(shape[0]), tile_origins(shape[1])
    gy, gx = np.meshgrid(np.arange(len(ys)), np.arange(len(xs)), indexing="ij")
    gy, gx = gy.ravel(), gx.ravel()
    oy, ox = np.asarray(ys)[gy], np.asarray(xs)[gx]
    t = spec.tile_px
    foot = np.stack([oy, oy + t, ox, ox + t], 1)
    r0, r1 = cell_bounds(oy, shape[0])
    c0, c1 = cell_bounds(ox, shape[1])
    return Units(tuple(shape), np.stack([r0, r1, c0, c1], 1), foot, np.stack([gy, gx], 1))


# ----------------------------------------------------------------------------- labels


def _integral(mask: np.ndarray) -> np.ndarray:
    s = np.zeros((mask.shape[0] + 1, mask.shape[1] + 1), np.int64)
    s[1:, 1:] = np.cumsum(np.cumsum(mask, axis=0), axis=1)
    return s


def rect_fractions(mask: np.ndarray, rect: np.ndarray) -> np.ndarray:
    s = _integral(mask)
    r0, r1, c0, c1 = rect.T
    tot = s[r1, c1] - s[r0, c1] - s[r1, c0] + s[r0, c0]
    return (tot / np.maximum((r1 - r0) * (c1 - c0), 1)).astype(np.float32)


def box_centres(boxes: np.ndarray) -> np.ndarray:
    """``[B, 2]`` (row, col) pixel of each COCO box's centre (as :mod:`triage_models.crops`)."""
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    return np.stack(
        [np.floor(b[:, 1] + b[:, 3] / 2), np.floor(b[:, 0] + b[:, 2] / 2)], axis=1
    ).astype(np.int64)


def _in_rect(rect: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """``[N, P]``: point ``p`` (row, col) inside rect ``n``."""
    r, c = pts[None, :, 0], pts[None, :, 1]
    return (r >= rect[:, 0:1]) & (r < rect[:, 1:2]) & (c >= rect[:, 2:3]) & (c < rect[:, 3:4])


def box_cover(rect: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """``[N]``: the largest fraction of a box's area inside each rect."""
    if not len(boxes):
        return np.zeros(len(rect), np.float32)
    bx, by, bw, bh = (boxes[:, k][None, :] for k in range(4))
    iw = np.clip(np.minimum(bx + bw, rect[:, 3:4]) - np.maximum(bx, rect[:, 2:3]), 0, None)
    ih = np.clip(np.minimum(by + bh, rect[:, 1:2]) - np.maximum(by, rect[:, 0:1]), 0, None)
    return (iw * ih / (bw * bh)).max(axis=1).astype(np.float32)


def unit_labels(ds: TileDataset, f: int, units: Units) -> np.ndarray:
    """Class of each unit (or ``IGNORE``), by the dataset's rules on its footprint; a ship
    unit counts as ship only when a box centre lies in its cell (what the network is asked
    to call ship), the other ship units are ignored."""
    cfrac = rect_fractions(ds.cloud_masks[f], units.foot)
    wfrac = rect_fractions(ds.water_masks[f], units.foot)
    if not ds.is_port[f]:
        return label_cloud_tiles(cfrac, wfrac)
    boxes = ds.boxes[ds.boxes[:, 0] == f][:, 1:]
    cen = box_centres(boxes)
    in_foot = _in_rect(units.foot, cen).sum(axis=1)
    lab = label_port_tiles(in_foot, box_cover(units.foot, boxes), cfrac, wfrac)
    ship = tile_spec().class_id("ship")
    in_cell = _in_rect(units.cell, cen).any(axis=1)
    lab[(lab == ship) & ~in_cell] = IGNORE
    return lab


# ----------------------------------------------------------------------------- crops


def best_map(units: Units, scores: np.ndarray, margin: int) -> np.ndarray:
    """Per pixel, the highest score of the units whose cell widened by ``margin`` holds it
    (int16, -129 where none)."""
    h, w = units.shape
    out = np.full((h, w), -129, np.int16)
    c = units.cell
    r0, r1 = np.maximum(c[:, 0] - margin, 0), np.minimum(c[:, 1] + margin, h)
    c0, c1 = np.maximum(c[:, 2] - margin, 0), np.minimum(c[:, 3] + margin, w)
    for i in np.flatnonzero(np.asarray(scores) > -129):
        v = out[r0[i] : r1[i], c0[i] : c1[i]]
        np.maximum(v, int(scores[i]), out=v)
    return out


def regions(units: Units, selected: np.ndarray) -> np.ndarray:
    """8-connected components of the selected units on the unit grid (label per unit, -1 off)."""
    lab = np.full(len(units), -1, np.int64)
    idx = np.flatnonzero(selected)
    if not len(idx):
        return lab
    pos = {(int(units.grid[i, 0]), int(units.grid[i, 1])): i for i in idx}
    n = 0
    for i in idx:
        if lab[i] >= 0:
            continue
        stack = [i]
        lab[i] = n
        while stack:
            j = stack.pop()
            gy, gx = units.grid[j]
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    k = pos.get((int(gy) + dy, int(gx) + dx))
                    if k is not None and lab[k] < 0:
                        lab[k] = n
                        stack.append(k)
        n += 1
    return lab


@dataclass
class Frame:
    """What the metrics need of one scored frame."""

    name: str
    units: Units
    centres: np.ndarray  # [B, 2] (row, col) of the ships' box centres
    q: np.ndarray  # [N, classes] int8: the first-pass outputs
    q_turned: np.ndarray | None = None  # [3, N, classes] int8 (tile design's second opinion)
    labels: np.ndarray | None = None  # [N] class or IGNORE
    ship_attrs: dict | None = None  # per ship: length, water_red, quay


def seen_outputs(fr: Frame, policy: Policy) -> np.ndarray:
    """The outputs the decision sees: with a second opinion, the floor of the mean of the
    four quarter turns where the ship output reaches its threshold (the firmware's rule)."""
    if fr.q_turned is None or getattr(policy, "second_opinion_min_prob", None) is None:
        return fr.q
    return second_opinion(fr.q, fr.q_turned, policy)


def frame_metrics(fr: Frame, policy: Policy) -> dict:
    """Counts for one frame under ``policy`` (sum them with :func:`totals`)."""
    q = seen_outputs(fr, policy)
    action = decide(q, policy)
    crop = action == Action.CROP
    disc = action == Action.DISCARD
    drop = action == Action.LAND_DROP
    margin = policy.crop_margin_px
    kept = best_map(fr.units, np.where(crop, 1, -129), margin) >= 1
    cen = fr.centres
    delivered = kept[cen[:, 0], cen[:, 1]] if len(cen) else np.zeros(0, bool)
    holds_foot = _in_rect(fr.units.foot, cen) if len(cen) else np.zeros((len(q), 0), bool)
    holds_cell = _in_rect(fr.units.cell, cen) if len(cen) else np.zeros((len(q), 0), bool)
    reg = regions(fr.units, crop)
    n_reg = int(reg.max() + 1)
    reg_hit = 0
    if n_reg and len(cen):
        # a region holds a ship when a centre lies on a kept pixel of one of its units
        c = fr.units.cell
        h, w = fr.units.shape
        r0, r1 = np.maximum(c[:, 0] - margin, 0), np.minimum(c[:, 1] + margin, h)
        c0, c1 = np.maximum(c[:, 2] - margin, 0), np.minimum(c[:, 3] + margin, w)
        wide = np.stack([r0, r1, c0, c1], 1)
        hit = _in_rect(wide[crop], cen).any(axis=1)
        reg_hit = len(np.unique(reg[crop][hit]))
    ship_units = holds_foot.T  # [B, N]
    n_ships = len(cen)
    so = 0
    if fr.q_turned is not None and getattr(policy, "second_opinion_min_prob", None) is not None:
        so = int((fr.q[:, tile_spec().class_id("ship")] >= policy.second_opinion_min_q).sum())
    return {
        "ships": n_ships,
        "delivered": int(delivered.sum()),
        "delivered_mask": delivered,
        "kept": int(sum(bool((~disc[u]).any()) for u in ship_units)),
        "sent": int(sum(bool((~(disc | drop)[u]).any()) for u in ship_units)),
        "units": len(q),
        "pixels": int(kept.size),
        "crop_pixels": int(kept.sum()),
        "crop_units": int(crop.sum()),
        "crop_units_hit": int((crop & holds_cell.any(axis=1)).sum()),
        "regions": n_reg,
        "regions_hit": reg_hit,
        "discarded": int(disc.sum()),
        "discarded_ship": int((disc & holds_foot.any(axis=1)).sum()),
        "dropped": int(drop.sum()),
        "dropped_ship": int((drop & holds_foot.any(axis=1)).sum()),
        "second_opinions": so,
    }


def totals(parts: list[dict]) -> dict:
    """The headline ratios from summed frame counts."""
    s = {k: sum(p[k] for p in parts) for k in parts[0] if k != "delivered_mask"} if parts else {}
    if not parts:
        return {}

    def r(a, b):
        return s[a] / s[b] if s[b] else None

    return {
        "ships": s["ships"],
        "ship_recall": r("delivered", "ships"),
        "missed_ships": s["ships"] - s["delivered"],
        "ship_kept": r("kept", "ships"),
        "ship_sent": r("sent", "ships"),
        "discard_ship_rate": s["discarded_ship"] / max(s["discarded"], 1),
        "discard_fraction": r("discarded", "units"),
        "crop_fraction": r("crop_units", "units"),
        "crop_area_fraction": r("crop_pixels", "pixels"),
        "crop_cell_precision": r("crop_units_hit", "crop_units"),
        "crop_region_precision": r("regions_hit", "regions"),
        "crop_regions": s["regions"],
        "land_drop_fraction": r("dropped", "units"),
        "land_dropped_ship_units": s["dropped_ship"],
        "second_opinion_fraction": r("second_opinions", "units"),
        "units": s["units"],
        "pixels": s["pixels"],
        "crop_pixels": s["crop_pixels"],
        "discarded_units": s["discarded"],
        "discarded_ship_units": s["discarded_ship"],
    }


def slice_recall(frames: list[Frame], parts: list[dict]) -> dict:
    """Recall per slice of the ships (length, water, quay-side)."""
    rows = []
    for fr, p in zip(frames, parts, strict=True):
        if not p["ships"]:
            continue
        a = fr.ship_attrs
        for i in range(p["ships"]):
            rows.append((a["length"][i], a["water_red"][i], a["quay"][i], p["delivered_mask"][i]))
    if not rows:
        return {}
    length, red, quay, ok = (np.array(c) for c in zip(*rows, strict=True))
    out = {}

    def put(name, m):
        out[name] = {"ships": int(m.sum()), "recall": float(ok[m].mean()) if m.any() else None}

    for lo, hi, name in LENGTH_BINS:
        put(f"length {name} px", (length >= lo) & (length < hi))
    put(f"bright/turbid water (red >= {TURBID_RED})", red >= TURBID_RED)
    put(f"clear water (red < {TURBID_RED})", red < TURBID_RED)
    put("quay-side", quay)
    put("open water", ~quay)
    return out


def _box_ring(h: int, w: int, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    """Pixels ``RING_INNER`` to ``RING_OUTER`` px out of a box (clipped to the frame)."""
    ring = np.zeros((h, w), bool)
    o, i = RING_OUTER, RING_INNER
    ring[max(y0 - o, 0) : y1 + o, max(x0 - o, 0) : x1 + o] = True
    ring[max(y0 - i, 0) : y1 + i, max(x0 - i, 0) : x1 + i] = False
    return ring


def ship_attributes(ds: TileDataset, f: int) -> dict:
    """Per ship of port frame ``f``: Feret length (px), median red reflectance of the water
    around it, and whether it lies quay-side."""
    import cv2

    frame = ds.frames[f]
    h, w = frame.shape[:2]
    rows = np.flatnonzero(ds.boxes[:, 0] == f)
    vessels = np.zeros((h, w), np.uint8)
    for b in rows:
        cv2.fillPoly(vessels, [np.round(ds.polygon(b)).astype(np.int32)], 1)
    water = ds.water_masks[f] & (vessels == 0)
    length, red, quay = [], [], []
    for b in rows:
        _, x, y, bw, bh = ds.boxes[b]
        p = ds.polygon(b)
        d = np.sqrt(((p[:, None, :] - p[None, :, :]) ** 2).sum(-1)).max() if len(p) > 1 else 0
        length.append(float(max(d, 1.0)))
        y0, y1 = int(np.floor(y)), int(np.ceil(y + bh))
        x0, x1 = int(np.floor(x)), int(np.ceil(x + bw))
        ring = _box_ring(h, w, y0, y1, x0, x1)
        wr = ring & water
        red.append(float(np.median(frame[..., 2][wr]) / 65535) if wr.any() else float("nan"))
        land = ring & ~ds.water_masks[f] & (vessels == 0)
        quay.append(bool(land.sum() >= QUAY_LAND * max(ring.sum(), 1)))
    return {"length": np.array(length), "water_red": np.array(red), "quay": np.array(quay)}


# ----------------------------------------------------------------------------- class metrics


def class_metrics(labels: np.ndarray, pred: np.ndarray) -> dict:
    spec = tile_spec()
    ok = labels != IGNORE
    lab, prd = labels[ok].astype(np.int64), pred[ok].astype(np.int64)
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


def cloud_scores(labels: np.ndarray, pred: np.ndarray) -> dict:
    """Cloud precision and recall (one class against the rest) on labelled units."""
    c = tile_spec().class_id("cloud")
    ok = labels != IGNORE
    t, p = labels[ok] == c, pred[ok] == c
    tp = int((t & p).sum())
    return {
        "precision": tp / int(p.sum()) if p.sum() else None,
        "recall": tp / int(t.sum()) if t.sum() else None,
        "cloud_units": int(t.sum()),
        "predicted_cloud": int(p.sum()),
        "labelled_units": int(ok.sum()),
    }


def tile_level_cloud(ds: TileDataset, f: int, units: Units, pred: np.ndarray) -> tuple:
    """Cloud labels and predictions on the tile recipe's grid (:func:`tile_units`) for a
    design whose units are cells: a tile is predicted cloud when at least half of its
    pixels lie in cells predicted cloud (its label: the dataset's rule on its footprint).
    Returns ``(labels, predicted classes with cloud or -9)``."""
    tiles = tile_units(units.shape)
    return unit_labels(ds, f, tiles), tile_cloud_prediction(units, tiles, pred)


def tile_cloud_prediction(units: Units, tiles: Units, pred: np.ndarray) -> np.ndarray:
    """The prediction half of :func:`tile_level_cloud`: cloud (or -9) for each of ``tiles``
    from the classes ``pred`` of the cell ``units``."""
    c = tile_spec().class_id("cloud")
    m = np.zeros(units.shape, bool)
    for r0, r1, c0, c1 in units.cell[np.asarray(pred) == c]:
        m[r0:r1, c0:c1] = True
    frac = rect_fractions(m, tiles.foot)
    return np.where(frac >= 0.5, c, -9)


# ----------------------------------------------------------------------------- policy


def choose_cloud_call(
    ds: TileDataset, frames: list[Frame], target: float = CLOUD_CALL_TARGET_RECALL
) -> float | None:
    """The cloud call threshold (``Policy.cloud_call_min_prob``) for cell outputs: the highest
    probability below one half from which calling a cell cloud, whatever its top class,
    finds ``target`` of the cloud tiles (32 px, :func:`tile_level_cloud`) of the Sentinel-2
    images among ``frames`` (validation outputs of cloud images). None (the top class) when
    there is no Sentinel-2 image, when the top class already finds them, or when no
    threshold does."""
    s2 = [fr for fr in frames if fr.name in SENTINEL2_CLOUD_IMAGES]
    if not s2:
        return None
    c = tile_spec().class_id("cloud")
    oq = tile_spec().output_quantization
    tiles = [tile_units(fr.units.shape) for fr in s2]
    cloudy = [
        unit_labels(ds, ds.frame_index(fr.name), t) == c for fr, t in zip(s2, tiles, strict=True)
    ]
    total = sum(int(t.sum()) for t in cloudy)
    probe = Policy(discard_min_prob={}, ship_crop_min_prob=1.0, land_policy=LAND_POLICY)

    def recall(q_min: int | None) -> float:
        """Recall of the cloud tiles with the cells' class called from ``q_min`` (None: the
        top class), as the decision calls it (:func:`triage.contract.policy.called_class`)."""
        pol = probe.model_copy(
            update={"cloud_call_min_prob": None if q_min is None else float(oq.real(q_min))}
        )
        hit = 0
        for fr, t, cl in zip(s2, tiles, cloudy, strict=True):
            pred = tile_cloud_prediction(fr.units, t, called_class(fr.q, pol))
            hit += int((cl & (pred == c)).sum())
        return hit / total if total else 1.0

    if recall(None) >= target:
        return None
    for q in range(prob_to_min_q(0.5) - 1, -129, -1):
        if recall(q) >= target:
            return float(oq.real(q))
    return None


def _crop_curves(frames: list[Frame], ship_q: list[np.ndarray], margin: int):
    best, hist = [], np.zeros(258, np.int64)
    for fr, s in zip(frames, ship_q, strict=True):
        m = best_map(fr.units, s, margin)
        hist += np.bincount(m.ravel().astype(np.int64) + 129, minlength=258)[:258]
        if len(fr.centres):
            best.append(m[fr.centres[:, 0], fr.centres[:, 1]].astype(np.int64))
    return (np.concatenate(best) if best else np.zeros(0, np.int64)), hist


def choose_policy(
    frames: list[Frame],
    target: float = CROP_TARGET_RECALL,
    cloud_call_min_prob: float | None = None,
    margins: tuple[int, ...] = CROP_MARGINS,
) -> Policy:
    """The policy for the fewest full-resolution pixels that deliver ``target`` of the ships
    of ``frames`` (validation outputs):

    1. crop threshold (at most ``CROP_MAX_PROB``) and margin (one of ``margins``; the cell
       design passes the one margin its flight software has), on the outputs the decision
       would see with the second opinion everywhere (when the design has one): the pair
       keeping the fewest pixels at the target recall;
    2. second opinion (tile design only): the highest threshold that loses none of the
       ships step 1 delivers;
    3. sea and cloud discard: the lowest probability of ``DISCARD_PROB_GRID`` whose discard
       set holds at most ``DISCARD_TARGET_RATE`` ship units and loses no ship; with a cloud
       call (``cloud_call_min_prob``, :func:`choose_cloud_call`), cloud is then discarded
       from the call's probability when that set keeps the same bounds.
    """
    ship = tile_spec().class_id("ship")
    has_so = any(fr.q_turned is not None for fr in frames)
    everywhere = Policy(
        discard_min_prob={},
        ship_crop_min_prob=1.0,
        land_policy="lowres",
        second_opinion_min_prob=0.0,
    )
    both = [
        (second_opinion(fr.q, fr.q_turned, everywhere) if fr.q_turned is not None else fr.q).astype(
            np.int16
        )[:, ship]
        for fr in frames
    ]
    cap = prob_to_min_q(CROP_MAX_PROB)
    qs = np.arange(-128, cap + 1)
    choice = None
    if not margins:
        raise ValueError("choose_policy needs at least one crop margin")
    for m in margins:
        best, hist = _crop_curves(frames, both, m)
        if not len(best):
            continue
        recall = (best[None, :] >= qs[:, None]).mean(axis=1)
        ok = np.flatnonzero(recall >= target)
        if not len(ok):
            continue
        t = int(qs[ok[-1]])
        key = (int(hist[t + 129 :].sum()), -t, m)
        if choice is None or key < choice[0]:
            choice = (key, m, t)
    if choice is None:
        choice = (None, max(margins), -128)
    _, margin, q_crop = choice
    q_cand = None
    if has_so:
        first = [
            np.where(b >= q_crop, fr.q[:, ship].astype(np.int16), -129).astype(np.int16)
            for fr, b in zip(frames, both, strict=True)
        ]
        got, _ = _crop_curves(frames, first, margin)
        got = got[got >= -128]
        q_cand = min(int(got.min()), q_crop) if len(got) else q_crop
    spec = tile_spec()
    oq = spec.output_quantization

    def discard(p):  # sea and cloud discarded from probability p, the other classes never
        return dict.fromkeys(spec.classes) | {"cloud": p, "sea": p}

    base = Policy(
        discard_min_prob=discard(None),
        ship_crop_min_prob=float(oq.real(q_crop)),
        land_policy=LAND_POLICY,
        crop_margin_px=margin,
        second_opinion_min_prob=None if q_cand is None else float(oq.real(q_cand)),
        cloud_call_min_prob=cloud_call_min_prob,
    )

    def safe(pol: Policy) -> bool:
        t = totals([frame_metrics(fr, pol) for fr in frames])
        return t["discard_ship_rate"] <= DISCARD_TARGET_RATE and t["ship_kept"] >= 1.0

    chosen = DISCARD_PROB_GRID[-1]
    for p in DISCARD_PROB_GRID:
        if safe(base.model_copy(update={"discard_min_prob": discard(p)})):
            chosen = p
            break
    pol = base.model_copy(update={"discard_min_prob": discard(chosen)})
    if cloud_call_min_prob is not None and cloud_call_min_prob < chosen:
        lower = pol.model_copy(
            update={"discard_min_prob": discard(chosen) | {"cloud": cloud_call_min_prob}}
        )
        if safe(lower):
            pol = lower
    return pol


# ----------------------------------------------------------------------------- haze


def soften(mask: np.ndarray) -> np.ndarray:
    """A cloud mask softened at its edge (3x3 box mean), as training composites it."""
    m = np.pad(mask.astype(np.float32), 1, mode="edge")
    h, w = mask.shape
    return sum(m[dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3)) / 9


def haze_frame(
    frame: np.ndarray,
    clouds: list[tuple[np.ndarray, np.ndarray]],
    rng: np.random.Generator,
    opacity: tuple[float, float] = HAZE_OPACITY,
    patch: int = HAZE_PATCH_PX,
) -> tuple[np.ndarray, np.ndarray]:
    """``frame`` with real cloud patches laid over it, block by block: for every
    ``patch``-px block, a window of a cloud image (pixels and mask) holding at least 30 %
    cloud, turned by a random quarter, its softened mask times an opacity drawn from
    ``opacity``; returns ``(hazed uint16 frame, alpha [H, W])``."""
    h, w = frame.shape[:2]
    out = frame.astype(np.float32)
    alpha = np.zeros((h, w), np.float32)
    for y in range(0, h, patch):
        for x in range(0, w, patch):
            ph, pw = min(patch, h - y), min(patch, w - x)
            for _ in range(50):
                px, m = clouds[rng.integers(0, len(clouds))]
                cy = int(rng.integers(0, px.shape[0] - patch + 1))
                cx = int(rng.integers(0, px.shape[1] - patch + 1))
                mm = m[cy : cy + patch, cx : cx + patch]
                if mm.mean() >= 0.3:
                    break
            k = int(rng.integers(0, 4))
            pp = np.rot90(px[cy : cy + patch, cx : cx + patch], k)[:ph, :pw]
            a = soften(np.rot90(mm, k)[:ph, :pw]) * rng.uniform(*opacity)
            blk = out[y : y + ph, x : x + pw]
            out[y : y + ph, x : x + pw] = blk * (1 - a[..., None]) + pp * a[..., None]
            alpha[y : y + ph, x : x + pw] = a
    return np.clip(np.rint(out), 0, 65535).astype(np.uint16), alpha


# ----------------------------------------------------------------------------- coastal


def coastal_shares(fr: Frame, policy: Policy, scl: np.ndarray) -> dict:
    """Share of units cropped, discarded, dropped, kept at low resolution on a chip; and the
    share of its Sen2Cor water units (SCL 6 on at least 90 % of the cell) cropped."""
    action = decide(seen_outputs(fr, policy), policy)
    water = rect_fractions(scl == SCL_WATER, fr.units.cell) >= 0.9
    crop = action == Action.CROP
    out = {a.name.lower(): float((action == a).mean()) for a in DECISIONS}
    out["crop_area_fraction"] = float(
        (best_map(fr.units, np.where(crop, 1, -129), policy.crop_margin_px) >= 1).mean()
    )
    out["water_units"] = int(water.sum())
    out["water_units_cropped"] = float(crop[water].mean()) if water.any() else None
    out["units"] = len(action)
    return out


__all__ = [
    "CLOUD_MIN_FRACTION",
    "SHIP_MIN_BOX_FRACTION",
    "Frame",
    "Units",
    "cell_units",
    "choose_policy",
    "frame_metrics",
    "tile_units",
    "totals",
]
