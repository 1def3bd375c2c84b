"""Training the cell network on random windows with dense per-cell labels.

A training sample is a ``window_px`` square window of a training frame with the
label of each of its 16x16 cells (the cell grid of the window; the frame's own
grid when the window touches the frame's edge, where it is placed flush with the
edge so that the padding the network sees there is the firmware's):

- **ship**: a vessel's box centre lies in the cell; **ignored**: a box cuts the
  cell but its centre lies elsewhere;
- **cloud** from half the cell clouded (ignored from 10 % on ports, 5 % on the
  cloud images), **sea** from 90 % water, else **land** (the dataset's rules);
- cells whose receptive field reaches past a window edge that is not a frame
  edge are not scored (``loss_inset_cells``): they would see zero padding where
  the frame has pixels.

Windows: centred on a vessel of a training port at a random sub-cell offset
(``frac_ship``), on the hard negatives the model being trained scores highest as
ship (``frac_hard``, mined every ``mine_every`` epochs over the whole training
frames), anywhere on the training ports (``frac_random``), on the cloud
images (``frac_cloud``) and, with ``seacloud_frac``, on open water of the training
ports and water scenes under broken cloud and its shadow (what the simulator's
``maritime`` frames hold most). Then, on the raw canonical scale: water colour
(turbid/other scenes' water), vessels pasted onto water, real cloud patches laid
over the window (haze to thick cloud; with ``composite_model="swap"`` the
simulator's cloud model: the cloud's own light over the window's ground),
optionally (``shadow_prob``) casting their shadow on the ground first (the
simulator's cloud layer does the same), quarter turns and flips,
brightness, a thin veil and sensor noise; then the integer preprocessing.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from triage.contract.tile_spec import preprocess_pixels, tile_spec
from triage_models import augment
from triage_models.cellnet import (
    CELL_PX,
    CellArchConfig,
    build_cellnet,
    convert_int8,
    float_frame,
    padded_size,
    preprocess_frame,
    to_float,
    validate_cellnet,
)
from triage_models.dataset import (
    CLOUDIMG_IGNORE_FRACTION,
    IGNORE,
    PORT_CLOUD_IGNORE_FRACTION,
    SEA_MIN_WATER_FRACTION,
    TileDataset,
)
from triage_models.harness import box_centres, rect_fractions
from triage_models.train import setup_tensorflow

CELL_TRAIN_CODE_VERSION = "cell-v2"


class CellTrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seed: int = 1
    epochs: int = 30
    windows_per_epoch: int = 2048
    batch_size: int = 32
    window_px: int = 128
    loss_inset_cells: int = 1
    learning_rate: float = 3e-3
    weight_decay: float = 0.0
    label_smoothing: float = 0.02
    focal_gamma: float = 0.0
    consistency: float = 0.0  # weight of the quarter-turn consistency term (0: off)
    # distillation: the loss is (1 - distill_weight) x the labels' cross-entropy plus
    # distill_weight x the cross-entropy against the teachers' mean output on the same
    # window (teachers: int8 cell networks passed to train_cellnet; 0: off, no teacher)
    distill_weight: float = 0.0
    class_weights: dict[str, float] = {"cloud": 1.0, "sea": 1.0, "ship": 6.0, "land": 1.0}
    frac_ship: float = 0.35
    frac_hard: float = 0.2
    frac_cloud: float = 0.15
    mine_start: int = 4
    mine_every: int = 3
    hard_top: int = 3000
    # hard negatives under haze: at each mining, a hazed copy of every training port (real
    # cloud patches of the training cloud images at haze_mine_opacity over about
    # haze_mine_cover of it; cloud where alpha > 0.5, the labels below elsewhere) is
    # scored too, and its haze_mine_top most ship-like sea and land cells join the hard
    # windows, hazed (0: off, no draw)
    haze_mine_top: int = 0
    haze_mine_opacity: tuple[float, float] = (0.1, 0.6)
    haze_mine_cover: float = 0.5
    sea_object_px: int = 0
    paste_prob: float = 0.0
    paste_max: int = 3
    # share of the pasted vessels moored alongside land (a quay, a pier, a breakwater:
    # hull on water, land within augment.QUAY_REACH_PX) instead of in open water (0: off)
    paste_quay: float = 0.0
    turbid_prob: float = 0.0
    water_swap_prob: float = 0.0
    composite_prob: float = 0.25
    composite_opacity: tuple[float, float] = (0.2, 1.0)
    composite_labels: str = "opaque"  # "opaque": cloud where alpha > 0.5; "mask": see below
    shadow_prob: float = 0.0  # share of composites that also cast their shadow (augment)
    # how a composite lays its cloud: "lay" the cloud image's pixels (its thin cloud with
    # the ground it lies on) at the patch's opacity; "swap" the simulator's cloud model
    # (augment.cloud_swapped): the cloud's own light over the window's ground, per pixel as
    # transparent as the cloud image says, the drawn opacity scaling it
    composite_model: Literal["lay", "swap"] = "lay"
    # broken cloud over open sea: this share of the windows is open water (at least
    # seacloud_water of the window) of a training port or water scene, always under a
    # real cloud patch of opacity drawn from seacloud_opacity that casts its shadow (the
    # gaps and shadows between clouds are sea to teach, the ships pasted there ships)
    seacloud_frac: float = 0.0
    seacloud_water: float = 0.8
    seacloud_opacity: tuple[float, float] = (0.6, 1.0)
    # "mask" rule under a faint patch (opacity < cloud_min_opacity): its non-ship cells
    # "ignore"d, or their labels "keep"t (thin haze over sea is still sea to teach)
    faint_labels: Literal["ignore", "keep"] = "ignore"
    cloud_min_opacity: float = 0.35
    ship_max_opacity: float = 0.6
    haze_prob: float = 0.2
    haze_max_alpha: float = 0.4
    haze_alpha_exp: float = 1.0  # veil opacity = haze_max_alpha * U ** this (< 1: thicker)
    gain_sigma: float = 0.15
    band_gain_sigma: float = 0.05
    noise_max_reflectance: float = 0.006
    representative_windows: int = 128
    arch: CellArchConfig = CellArchConfig()


# Trainer options whose off value leaves the recipe as it was before the option existed:
# main field -> (its off value, the companion fields that only matter when it is on). With
# the main field off and its companions at their defaults, none of them enters the fold
# cache's key (recipe_key_json), so adding such an option retrains no cached fold. A new
# option that is off by default belongs here; changing an entry's off value or a
# companion's default calls for a new CELL_TRAIN_CODE_VERSION.
OPTIONS_OFF: dict[str, tuple[object, tuple[str, ...]]] = {
    "haze_mine_top": (0, ("haze_mine_opacity", "haze_mine_cover")),
    "composite_model": ("lay", ()),
    "seacloud_frac": (0.0, ("seacloud_water", "seacloud_opacity")),
    "distill_weight": (0.0, ()),
    "paste_quay": (0.0, ()),
}


def recipe_key_json(cfg: CellTrainConfig) -> str:
    """The recipe as the fold cache's key sees it: the config's JSON without the options of
    ``OPTIONS_OFF`` that are off."""
    d = json.loads(cfg.model_dump_json())
    fields = CellTrainConfig.model_fields
    for name, (off, companions) in OPTIONS_OFF.items():
        if getattr(cfg, name) == off and all(
            getattr(cfg, c) == fields[c].default for c in companions
        ):
            for k in (name, *companions):
                d.pop(k)
    return json.dumps(d, separators=(",", ":"))


CELL_SMOKE_CONFIG = CellTrainConfig(
    epochs=2,
    windows_per_epoch=64,
    batch_size=32,
    window_px=64,
    mine_start=1,
    mine_every=1,
    hard_top=32,
    representative_windows=8,
)


@dataclass
class CellTrainResult:
    model: object
    tflite: bytes
    seconds: float
    config: CellTrainConfig
    log: list


def cell_label_grid(
    cloud: np.ndarray,
    water: np.ndarray,
    valid: np.ndarray,
    boxes: np.ndarray,
    is_port: bool,
    cell: int = CELL_PX,
    sea_object_px: int = 0,
) -> np.ndarray:
    """Labels ``[n, n]`` of the cells of a window from its masks (window coordinates) and
    its vessels' boxes ``[B, 4]`` (x, y, w, h, window coordinates). With ``sea_object_px``,
    sea cells holding at least that many non-water pixels are ignored (an unlabelled boat,
    a buoy: not something to teach as empty sea)."""
    spec = tile_spec()
    s = cloud.shape[0]
    n = s // cell

    def frac(m):
        v = m.reshape(n, cell, n, cell).sum(axis=(1, 3)).astype(np.float32)
        return v

    nv = frac(valid)
    safe = np.maximum(nv, 1)
    cf, wf = frac(cloud & valid) / safe, frac(water & valid) / safe
    lab = np.full((n, n), spec.class_id("land"), np.int8)
    lab[wf >= SEA_MIN_WATER_FRACTION] = spec.class_id("sea")
    if sea_object_px and is_port:
        dry = frac(~water & valid)
        lab[(lab == spec.class_id("sea")) & (dry >= sea_object_px)] = IGNORE
    lo = PORT_CLOUD_IGNORE_FRACTION if is_port else CLOUDIMG_IGNORE_FRACTION
    lab[cf > lo] = IGNORE
    lab[cf >= 0.5] = spec.class_id("cloud")
    if len(boxes):
        b = np.asarray(boxes, np.float64).reshape(-1, 4)
        r0 = np.arange(n) * cell
        # cut: a box overlaps the cell
        oy = (b[None, :, 1] < (r0 + cell)[:, None]) & (b[None, :, 1] + b[None, :, 3] > r0[:, None])
        ox = (b[None, :, 0] < (r0 + cell)[:, None]) & (b[None, :, 0] + b[None, :, 2] > r0[:, None])
        cut = (oy[:, None, :] & ox[None, :, :]).any(-1)
        lab[cut & (lab != spec.class_id("cloud"))] = IGNORE
        cen = box_centres(b)
        ok = (cen[:, 0] >= 0) & (cen[:, 0] < s) & (cen[:, 1] >= 0) & (cen[:, 1] < s)
        for r, c in cen[ok]:
            i, j = r // cell, c // cell
            if lab[i, j] != spec.class_id("cloud"):
                lab[i, j] = spec.class_id("ship")
    lab[nv == 0] = IGNORE
    return lab


class CellSampler:
    """Windows with dense cell labels from the training frames (and extra water scenes)."""

    def __init__(
        self,
        ds: TileDataset,
        frames: list[int],
        cfg: CellTrainConfig,
        seed: int,
        water_scenes: list[np.ndarray] | None = None,
    ):
        self.ds, self.cfg = ds, cfg
        self.rng = np.random.default_rng(seed)
        self.s = cfg.window_px
        if self.s % CELL_PX:
            raise ValueError("window_px must be a multiple of the cell size")
        self.ports = [f for f in frames if ds.is_port[f]]
        self.clouds = [f for f in frames if not ds.is_port[f]]
        if not self.ports:
            raise ValueError("no port frames to train on")
        self.boxes = {f: ds.boxes[ds.boxes[:, 0] == f][:, 1:] for f in frames}
        self.ship_list = [(f, i) for f in self.ports for i in range(len(self.boxes[f]))]
        area = np.array([ds.frames[f].shape[0] * ds.frames[f].shape[1] for f in self.ports])
        self.port_p = area / area.sum()
        self.hard: list[tuple[int, int, int, bool]] = []  # frame, centre, hazed
        self.hazed: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # frame, cloud mask
        self.bank = augment.VesselBank(ds, self.ports) if cfg.paste_prob > 0 else None
        # water colours of real scenes (training ports and extra scenes): medians of
        # 64-px blocks that are at least 90 % water
        self.water_colours = []
        scenes = [(ds.frames[f], ds.water_masks[f]) for f in self.ports]
        for fr in water_scenes or []:
            g, n_ = fr[..., 1].astype(np.int32), fr[..., 3].astype(np.int32)
            scenes.append((fr, g > n_))
        for fr, wm in scenes:
            h, w = wm.shape
            for y in range(0, h - 63, 64):
                for x in range(0, w - 63, 64):
                    m = wm[y : y + 64, x : x + 64]
                    if m.mean() >= 0.9:
                        self.water_colours.append(
                            np.median(fr[y : y + 64, x : x + 64][m].astype(np.float32), axis=0)
                        )
        self.water_colours = np.array(self.water_colours, np.float32).reshape(
            -1, tile_spec().n_bands
        )
        # extra water scenes take part as windows too (labels: NDWI water, no vessels known)
        self.extra = [(fr, (fr[..., 1] > fr[..., 3])) for fr in water_scenes or []]
        self.open_water = self._open_water() if cfg.seacloud_frac > 0 else []
        # the cloud images split into cloud and ground ("swap" composites)
        self.cloud_parts = {
            f: augment.separate_cloud(ds.frames[f].astype(np.float64), ds.cloud_masks[f])
            for f in (self.clouds if cfg.composite_model == "swap" else [])
        }

    def _open_water(self) -> list[tuple[int, int, int]]:
        """``(scene, row, col)`` origins of the windows (every 32 px) that are at least
        ``seacloud_water`` water: scene ``f`` >= 0 a training port, ``-1 - i`` extra water
        scene ``i``."""
        s, out = self.s, []
        masks = [(f, self.ds.water_masks[f]) for f in self.ports]
        masks += [(-1 - i, wm) for i, (_, wm) in enumerate(self.extra)]
        for f, wm in masks:
            h, w = wm.shape
            ys, xs = np.meshgrid(
                np.arange(0, h - s + 1, 32), np.arange(0, w - s + 1, 32), indexing="ij"
            )
            ys, xs = ys.ravel(), xs.ravel()
            water = rect_fractions(wm, np.stack([ys, ys + s, xs, xs + s], 1))
            keep = water >= self.cfg.seacloud_water
            out += [(f, int(y), int(x)) for y, x in zip(ys[keep], xs[keep], strict=True)]
        return out

    # -- windows ---------------------------------------------------------------------------

    def _origin(self, f_shape, cy, cx, inner=True):
        """Origin of the window's cell grid with point (cy, cx) in the scored part, at a
        random offset; flush with the extended frame's edge when it would reach past it.
        The window's pixels start ``input_offset`` rows and columns before it."""
        s, rng = self.s, self.rng
        ins = self.cfg.loss_inset_cells * CELL_PX if inner else 0
        hp, wp = self._extent(f_shape)
        out = []
        for c, size in ((cy, hp), (cx, wp)):
            u = int(rng.integers(ins, s - ins))
            o = int(np.floor(c)) - u
            o = min(max(o, 0), max(size - s, 0))
            out.append(o)
        return out

    def _extent(self, f_shape):
        """Rows and columns of the network input for a frame (:func:`padded_size`)."""
        off = self.cfg.arch.input_offset
        return padded_size(f_shape[0], off), padded_size(f_shape[1], off)

    def _cut(self, frame, y0, x0, masks):
        """The pixel window of the cell grid at ``(y0, x0)`` (it starts ``input_offset``
        before), zeros outside the frame, and the same window of the masks."""
        s, off = self.s, self.cfg.arch.input_offset
        h, w = frame.shape[:2]
        wy, wx = y0 - off, x0 - off
        fy0, fx0 = max(wy, 0), max(wx, 0)
        fy1, fx1 = min(wy + s, h), min(wx + s, w)
        dy, dx = fy0 - wy, fx0 - wx
        x = np.zeros((s, s, frame.shape[2]), np.float32)
        x[dy : dy + fy1 - fy0, dx : dx + fx1 - fx0] = frame[fy0:fy1, fx0:fx1]
        out = []
        for m in [*masks, np.ones((h, w), bool)]:
            mm = np.zeros((s, s), bool)
            mm[dy : dy + fy1 - fy0, dx : dx + fx1 - fx0] = m[fy0:fy1, fx0:fx1]
            out.append(mm)
        return x, out[:-1], out[-1]

    def _scored(self, f_shape, y0, x0):
        n, k = self.s // CELL_PX, self.cfg.loss_inset_cells
        hp, wp = self._extent(f_shape)
        m = np.zeros((n, n), bool)
        r = np.arange(n)
        rows = (r >= k) & (r < n - k)
        cols = rows.copy()
        if y0 == 0:
            rows[:k] = True
        if y0 + self.s >= hp:
            rows[n - k :] = True
        if x0 == 0:
            cols[:k] = True
        if x0 + self.s >= wp:
            cols[n - k :] = True
        m[np.ix_(rows, cols)] = True
        return m

    def _window(self, kind: str):
        rng, ds = self.rng, self.ds
        if kind == "ship":
            f, i = self.ship_list[rng.integers(0, len(self.ship_list))]
            b = self.boxes[f][i]
            y0, x0 = self._origin(ds.frames[f].shape, b[1] + b[3] / 2, b[0] + b[2] / 2)
        elif kind == "hard" and self.hard:
            f, cy, cx, hazed = self.hard[rng.integers(0, len(self.hard))]
            y0, x0 = self._origin(ds.frames[f].shape, cy, cx)
            if hazed:
                frame, cloud_mask = self.hazed[f]
                return self._port_window(f, frame, cloud_mask, y0, x0)
        elif kind == "cloud" and self.clouds:
            f = self.clouds[rng.integers(0, len(self.clouds))]
            h, w = ds.frames[f].shape[:2]
            y0, x0 = self._origin((h, w), rng.integers(0, h), rng.integers(0, w), inner=False)
        elif (kind == "extra" and self.extra) or (kind == "seacloud" and self.open_water):
            if kind == "seacloud":
                g, y0, x0 = self.open_water[rng.integers(0, len(self.open_water))]
                if g >= 0:
                    return self._port_window(g, ds.frames[g], ds.cloud_masks[g], y0, x0)
                fr, wm = self.extra[-1 - g]
                h, w = fr.shape[:2]
            else:
                fr, wm = self.extra[rng.integers(0, len(self.extra))]
                h, w = fr.shape[:2]
                y0, x0 = self._origin((h, w), rng.integers(0, h), rng.integers(0, w), inner=False)
            x, (water,), valid = self._cut(fr, y0, x0, [wm])
            cloud = np.zeros_like(water)
            return x, cloud, water, valid, np.zeros((0, 4)), True, self._scored((h, w), y0, x0)
        else:
            f = self.ports[rng.choice(len(self.ports), p=self.port_p)]
            h, w = ds.frames[f].shape[:2]
            y0, x0 = self._origin((h, w), rng.integers(0, h), rng.integers(0, w), inner=False)
        return self._port_window(f, ds.frames[f], ds.cloud_masks[f], y0, x0)

    def _port_window(self, f, frame, cloud_mask, y0, x0):
        """The window at ``(y0, x0)`` of frame ``f`` (``frame``: its pixels, or a hazed
        copy with its ``cloud_mask``)."""
        ds = self.ds
        x, (cloud, water), valid = self._cut(frame, y0, x0, [cloud_mask, ds.water_masks[f]])
        boxes = self.boxes[f].copy() if ds.is_port[f] else np.zeros((0, 4))
        if len(boxes):  # in the pixel window's coordinates
            boxes[:, 0] -= x0 - self.cfg.arch.input_offset
            boxes[:, 1] -= y0 - self.cfg.arch.input_offset
            s = self.s
            keep = (
                (boxes[:, 0] < s)
                & (boxes[:, 1] < s)
                & (boxes[:, 0] + boxes[:, 2] > 0)
                & (boxes[:, 1] + boxes[:, 3] > 0)
            )
            boxes = boxes[keep]
        return x, cloud, water, valid, boxes, bool(ds.is_port[f]), self._scored(frame.shape, y0, x0)

    def mine(self, model) -> None:
        """The ``hard_top`` sea and land cells of the training ports the model scores most
        ship-like (on the frames' own cell grids); with ``haze_mine_top``, as many of
        those cells again on hazed copies of the ports (:meth:`_hazed`)."""
        cand = []
        for f in self.ports:
            cand += self._ship_like(model, f, self.ds.frames[f], self.ds.cloud_masks[f], False)
        cand.sort(key=lambda t: -t[0])
        self.hard = [(f, y, x, hz) for _, f, y, x, hz in cand[: self.cfg.hard_top]]
        if self.cfg.haze_mine_top and self.clouds:
            cand = []
            for f in self.ports:
                self.hazed[f] = self._hazed(f)
                cand += self._ship_like(model, f, *self.hazed[f], True)
            cand.sort(key=lambda t: -t[0])
            self.hard += [(f, y, x, hz) for _, f, y, x, hz in cand[: self.cfg.haze_mine_top]]

    def _ship_like(self, model, f, fr, cloud_mask, hazed: bool) -> list:
        """(ship score, frame, centre row, centre column, hazed) of every sea and land cell
        of frame ``f`` (pixels ``fr``, cloud where ``cloud_mask``)."""
        spec = tile_spec()
        ship = spec.class_id("ship")
        off = self.cfg.arch.input_offset
        p = float_frame(model, preprocess_frame(fr, offset=off))[..., ship]
        hp, wp = padded_size(fr.shape[0]), padded_size(fr.shape[1])
        p = p[: hp // CELL_PX, : wp // CELL_PX]
        cloud = np.zeros((hp, wp), bool)
        water = np.zeros((hp, wp), bool)
        valid = np.zeros((hp, wp), bool)
        cloud[: fr.shape[0], : fr.shape[1]] = cloud_mask
        water[: fr.shape[0], : fr.shape[1]] = self.ds.water_masks[f]
        valid[: fr.shape[0], : fr.shape[1]] = True
        lab = _frame_cell_labels(
            cloud, water, valid, self.boxes[f], sea_object_px=self.cfg.sea_object_px
        )
        neg = (lab == spec.class_id("sea")) | (lab == spec.class_id("land"))
        return [
            # the cell's centre pixel
            (float(p[i, j]), f, i * CELL_PX + CELL_PX // 2, j * CELL_PX + CELL_PX // 2, hazed)
            for i, j in zip(*np.nonzero(neg), strict=True)
        ]

    def _hazed(self, f) -> tuple[np.ndarray, np.ndarray]:
        """Port frame ``f`` under real cloud: patches of the training cloud images laid at
        random places at an opacity drawn from ``haze_mine_opacity`` until about
        ``haze_mine_cover`` of the frame is covered; (pixels, cloud mask: the frame's own
        or alpha > 0.5)."""
        cfg, rng, s = self.cfg, self.rng, self.s
        src = self.ds.frames[f]
        h, w = src.shape[:2]
        out = src.astype(np.float32)
        alpha = np.zeros((h, w), np.float32)
        if h >= s and w >= s:
            for _ in range(max(1, round(cfg.haze_mine_cover * h * w / (s * s)))):
                px, cm, _ = self._cloud_patch()
                y, x = int(rng.integers(0, h - s + 1)), int(rng.integers(0, w - s + 1))
                opacity = rng.uniform(*cfg.haze_mine_opacity)
                sub, a = augment.cloud_over(out[y : y + s, x : x + s], px, cm, opacity)
                out[y : y + s, x : x + s] = sub
                alpha[y : y + s, x : x + s] = np.maximum(alpha[y : y + s, x : x + s], a)
        pixels = np.clip(np.rint(out), 0, 65535).astype(np.uint16)
        return pixels, self.ds.cloud_masks[f] | (alpha > 0.5)

    def batch(self, n: int):
        """``(raw uint16 windows [n,S,S,C], labels [n,k,k], loss mask [n,k,k])``."""
        xs, ys, scored = self.batch_scored(n)
        return xs, ys, scored & (ys != IGNORE)

    def batch_scored(self, n: int):
        """``(raw windows, labels, scored cells)``: the scored cells include ignored ones
        (they take part in the consistency term, not in the classification loss)."""
        cfg, rng = self.cfg, self.rng
        sea = cfg.seacloud_frac if self.open_water and self.clouds else 0.0
        kinds = rng.choice(
            # "seacloud" last: at share 0 the draws are those of the four kinds alone
            ["ship", "hard", "cloud", "random", "seacloud"],
            size=n,
            p=_norm(
                [
                    cfg.frac_ship,
                    cfg.frac_hard if self.hard else 0.0,
                    cfg.frac_cloud if self.clouds else 0.0,
                    1
                    - cfg.frac_ship
                    - cfg.frac_hard
                    - cfg.frac_cloud
                    + (0.0 if self.hard else cfg.frac_hard)
                    + (0.0 if self.clouds else cfg.frac_cloud)
                    - sea,
                    sea,
                ]
            ),
        )
        s, k = self.s, self.s // CELL_PX
        xs = np.empty((n, s, s, tile_spec().n_bands), np.uint16)
        ys = np.empty((n, k, k), np.int8)
        ms = np.empty((n, k, k), bool)
        for i, kind in enumerate(kinds):
            if kind == "random" and self.extra and rng.random() < 0.15:
                kind = "extra"
            x, cloud, water, valid, boxes, is_port, scored = self._window(str(kind))
            boxes = list(map(tuple, boxes))
            if is_port:
                vessels = _box_mask(boxes, s)
                if self.water_colours.size and rng.random() < cfg.water_swap_prob:
                    tgt = self.water_colours[rng.integers(0, len(self.water_colours))]
                    x = augment.water_colour(x, water & valid, vessels, tgt, rng)
                if rng.random() < cfg.turbid_prob:
                    clear = (
                        self.water_colours[rng.integers(0, len(self.water_colours))]
                        if self.water_colours.size
                        else np.full(4, 800, np.float32)
                    )
                    tgt = augment.turbid_target(rng, np.minimum(clear, 2000))
                    x = augment.water_colour(x, water & valid, vessels, tgt, rng)
                if self.bank is not None and len(self.bank) and rng.random() < cfg.paste_prob:
                    m = int(rng.integers(1, cfg.paste_max + 1))
                    w2 = water & valid
                    boxes += augment.paste_vessels(
                        x,
                        w2,
                        boxes,
                        self.bank,
                        rng,
                        m,
                        cfg.loss_inset_cells * CELL_PX,
                        quay=cfg.paste_quay,
                        land=valid & ~water if cfg.paste_quay > 0 else None,
                    )
            cover = None
            forced = kind == "seacloud"
            if self.clouds and (forced or rng.random() < cfg.composite_prob):
                px, cm, parts = self._cloud_patch()
                a_lo, a_hi = cfg.seacloud_opacity if forced else cfg.composite_opacity
                opacity = rng.uniform(a_lo, a_hi)
                # the shadow first (the cloud lies on it); no draw when off, so recipes
                # without shadows keep their random stream
                soft = augment.soften(cm)
                o_px = opacity if parts is None else np.clip(parts[1] * opacity, 0.0, 1.0)
                hides = soft * o_px  # what the cloud hides: its shadow's strength
                if forced or (cfg.shadow_prob and rng.random() < cfg.shadow_prob):
                    x = augment.shadow_under(np.asarray(x, np.float32), hides, rng)
                if parts is None:
                    x, alpha = augment.cloud_over(x, px, cm, opacity)
                else:
                    x, alpha = augment.cloud_swapped(
                        np.asarray(x, np.float32), px, *parts, soft, scale=opacity
                    )
                if cfg.composite_labels == "opaque":
                    cloud = cloud | (alpha > 0.5)  # thin haze leaves the labels as they are
                else:
                    cover = (alpha > 0.5 * opacity) & valid
            # labels on the window's cell grid: input_offset px into the pixel window
            off = cfg.arch.input_offset
            bx = np.array(boxes, np.float64).reshape(-1, 4) - [off, off, 0, 0]
            lab = cell_label_grid(
                _shift(cloud, off),
                _shift(water, off),
                _shift(valid, off),
                bx,
                is_port,
                sea_object_px=cfg.sea_object_px,
            )
            if cover is not None:
                lab = _composite_labels(lab, _shift(cover, off), opacity, cfg)
            x = self._photometric(x, valid)
            kk, flip = int(rng.integers(0, 4)), bool(rng.random() < 0.5)
            if flip:
                x, lab, scored = x[:, ::-1], lab[:, ::-1], scored[:, ::-1]
            x, lab, scored = np.rot90(x, kk), np.rot90(lab, kk), np.rot90(scored, kk)
            xs[i], ys[i], ms[i] = x, lab, scored
        return xs, ys, ms

    def _cloud_patch(self):
        """A window of a training cloud image at least 20 % cloud, turned: (pixels, mask,
        its (ground, opacity) with ``composite_model="swap"``, else None)."""
        rng, s, ds = self.rng, self.s, self.ds
        for _ in range(50):
            f = self.clouds[rng.integers(0, len(self.clouds))]
            h, w = ds.frames[f].shape[:2]
            y, x = int(rng.integers(0, h - s + 1)), int(rng.integers(0, w - s + 1))
            m = ds.cloud_masks[f][y : y + s, x : x + s]
            if m.mean() >= 0.2:
                break
        k = int(rng.integers(0, 4))
        parts = self.cloud_parts.get(f)
        if parts is not None:  # the cloud's ground and opacity, same window and turn
            parts = tuple(np.rot90(a[y : y + s, x : x + s], k) for a in parts)
        return np.rot90(ds.frames[f][y : y + s, x : x + s], k), np.rot90(m, k), parts

    def _photometric(self, x, valid):
        cfg, rng = self.cfg, self.rng
        g = np.exp(rng.normal(0, cfg.gain_sigma)) * np.exp(
            rng.normal(0, cfg.band_gain_sigma, x.shape[-1])
        )
        x = np.asarray(x, np.float32) * g.astype(np.float32)
        if rng.random() < cfg.haze_prob:
            # a veil: opacity up to haze_max_alpha with a gentle ramp across the window,
            # grey-blue at reflectance 0.08-0.25 (varied per band)
            s = x.shape[0]
            a0 = cfg.haze_max_alpha * rng.uniform() ** cfg.haze_alpha_exp
            ramp = np.linspace(-0.5, 0.5, s, dtype=np.float32)
            gy, gx = rng.uniform(-0.3, 0.3, 2) * a0
            a = np.clip(a0 + gy * ramp[:, None] + gx * ramp[None, :], 0, 0.95)[..., None]
            level = rng.uniform(0.08, 0.25) * 65535
            tint = np.array([1.1, 1.05, 1.0, 0.95]) * np.exp(rng.normal(0, 0.06, 4))
            x = x * (1 - a) + (level * tint).astype(np.float32) * a
        sigma = rng.uniform(0, cfg.noise_max_reflectance) * 65535
        x = x + rng.standard_normal(x.shape, dtype=np.float32) * np.float32(sigma)
        x = np.where(valid[..., None], x, 0)
        return np.clip(np.rint(x), 0, 65535).astype(np.uint16)


def _composite_labels(lab, cover, opacity, cfg):
    """Cell labels under a composited cloud patch ("mask" rule): a visible cloud (opacity at
    least ``cloud_min_opacity``) makes the cells it covers by half cloud and the cells it
    covers by 10-50 % ignored, like the cloud images' own masks (which include thin cloud);
    ship cells stay ship up to ``ship_max_opacity`` (the ship still shows: the crop test
    comes first on board); a fainter patch makes the non-ship cells it touches ignored, or
    (``faint_labels="keep"``) leaves every label as it is: haze over sea is still sea."""
    spec = tile_spec()
    n = lab.shape[0]
    c = cover.reshape(n, CELL_PX, n, CELL_PX).mean(axis=(1, 3))
    ship = lab == spec.class_id("ship")
    keep_ship = ship & (opacity <= cfg.ship_max_opacity)
    lab = lab.copy()
    if opacity >= cfg.cloud_min_opacity:
        lab[(c >= 0.1) & ~keep_ship] = IGNORE
        lab[(c >= 0.5) & ~keep_ship] = spec.class_id("cloud")
    elif cfg.faint_labels == "ignore":
        lab[(c >= 0.1) & ~ship] = IGNORE
    return lab


def _shift(m: np.ndarray, off: int) -> np.ndarray:
    """A window mask seen from its cell grid, ``off`` px in (nothing past the window)."""
    if not off:
        return m
    return np.pad(m[off:, off:], ((0, off), (0, off)))


def _norm(p):
    p = np.clip(np.asarray(p, np.float64), 0, None)
    return p / p.sum()


def _box_mask(boxes, s):
    m = np.zeros((s, s), bool)
    for bx, by, bw, bh in boxes:
        y0, y1 = max(int(np.floor(by)), 0), min(int(np.ceil(by + bh)), s)
        x0, x1 = max(int(np.floor(bx)), 0), min(int(np.ceil(bx + bw)), s)
        if y1 > y0 and x1 > x0:
            m[y0:y1, x0:x1] = True
    return m


def _frame_cell_labels(cloud, water, valid, boxes, is_port=True, sea_object_px=0):
    """Cell labels of a whole padded frame (rectangular version of the window labels)."""
    hp, wp = cloud.shape
    side = max(hp, wp)
    pad = [(0, side - hp), (0, side - wp)]
    lab = cell_label_grid(
        np.pad(cloud, pad),
        np.pad(water, pad),
        np.pad(valid, pad),
        boxes,
        is_port,
        sea_object_px=sea_object_px,
    )
    return lab[: hp // CELL_PX, : wp // CELL_PX]


def preprocess_windows(raw: np.ndarray) -> np.ndarray:
    """int8 inputs of raw uint16 windows: the contract's per-pixel preprocessing
    (:func:`triage.contract.tile_spec.preprocess_pixels`)."""
    return preprocess_pixels(raw)


def _loss_fn(cfg: CellTrainConfig):
    import tensorflow as tf

    spec = tile_spec()
    cw = tf.constant([cfg.class_weights.get(c, 1.0) for c in spec.classes], tf.float32)
    eps = cfg.label_smoothing
    k = spec.n_classes

    def loss(y_true, y_pred):
        onehot = y_true[..., :k]
        mask = y_true[..., k]
        target = onehot * (1 - eps) + eps / k
        p = tf.clip_by_value(y_pred, 1e-7, 1.0)
        ce = -tf.reduce_sum(target * tf.math.log(p), axis=-1)
        if cfg.focal_gamma:
            pt = tf.reduce_sum(onehot * p, axis=-1)
            ce = ce * tf.pow(1 - pt, cfg.focal_gamma)
        if cfg.distill_weight:
            # the teachers' mean output, after the label mask and the scored flag
            soft = -tf.reduce_sum(y_true[..., k + 2 : 2 * k + 2] * tf.math.log(p), axis=-1)
            ce = (1 - cfg.distill_weight) * ce + cfg.distill_weight * soft
        w = mask * tf.reduce_sum(onehot * cw, axis=-1)
        cells = tf.cast(tf.shape(mask)[1] ** 2, tf.float32)
        out = tf.reduce_sum(w * ce, axis=[1, 2]) / cells
        if cfg.consistency:
            # samples 2j and 2j+1 are one window and the same window turned by 90 degrees:
            # the outputs turned back must agree (squared difference, ship weighted)
            scored = y_true[0::2, ..., k + 1]
            back = tf.image.rot90(y_pred[1::2], k=3)
            d = tf.reduce_sum(tf.square(y_pred[0::2] - back) * cw, axis=-1)
            cons = cfg.consistency * tf.reduce_sum(scored * d, axis=[1, 2]) / cells
            out = out + tf.repeat(cons, 2)
        return out

    return loss


class Teachers:
    """The mean output of int8 cell networks (flatbuffers) on preprocessed windows: the
    soft targets of distillation. Runs them with TensorFlow Lite's interpreter on its
    builtin kernels without the XNNPACK delegate: within one output step (1/256) of TFLM,
    the oracle, and mostly the same integers (XNNPACK is up to seven steps off), a batch of
    256 windows in about 0.15 s (the reference kernels, exact, take six times as long)."""

    def __init__(self, tflites: list[bytes]):
        import tensorflow as tf

        if not tflites:
            raise ValueError("distillation needs at least one teacher network")
        self._its = []
        for b in tflites:
            validate_cellnet(b)
            self._its.append(
                tf.lite.Interpreter(
                    model_content=b,
                    num_threads=1,
                    experimental_op_resolver_type=(
                        tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
                    ),
                )
            )

    def __call__(self, q: np.ndarray, batch: int = 256) -> np.ndarray:
        """Mean probabilities ``[N, cells, cells, classes]`` of int8 windows ``q``."""
        out = []
        for k in range(0, len(q), batch):
            x = q[k : k + batch]
            probs = []
            for it in self._its:
                i, o = it.get_input_details()[0], it.get_output_details()[0]
                if tuple(i["shape"]) != x.shape:
                    it.resize_tensor_input(i["index"], list(x.shape))
                    it.allocate_tensors()
                    o = it.get_output_details()[0]
                it.set_tensor(i["index"], x)
                it.invoke()
                y = it.get_tensor(o["index"]).astype(np.float32)
                scale, zero = o["quantization"]
                probs.append((y - zero) * scale)
            out.append(np.mean(probs, 0))
        return np.concatenate(out).astype(np.float32)


def train_cellnet(
    ds: TileDataset,
    frames: list[int],
    cfg: CellTrainConfig | None = None,
    water_scenes: list[np.ndarray] | None = None,
    log=None,
    teachers: list[bytes] | None = None,
) -> CellTrainResult:
    """Train on the given frames (indices into ``ds``); float model and int8 flatbuffer.
    ``teachers``: int8 cell networks that never saw what the model will be scored on,
    whose mean output is the soft target when ``cfg.distill_weight`` is set."""
    import keras

    cfg = cfg or CellTrainConfig()
    if bool(cfg.distill_weight) != bool(teachers):
        raise ValueError("distill_weight and teachers go together: set both or neither")
    teach = Teachers(teachers) if teachers else None
    start = time.monotonic()
    setup_tensorflow(cfg.seed)
    spec = tile_spec()
    sampler = CellSampler(ds, frames, cfg, cfg.seed, water_scenes)
    model = build_cellnet(cfg.arch)
    steps = cfg.epochs * (cfg.windows_per_epoch // cfg.batch_size)
    sched = keras.optimizers.schedules.CosineDecay(cfg.learning_rate, max(steps, 1))
    opt = (
        keras.optimizers.AdamW(sched, weight_decay=cfg.weight_decay)
        if cfg.weight_decay
        else keras.optimizers.Adam(sched)
    )
    model.compile(optimizer=opt, loss=_loss_fn(cfg))
    history = []
    eye = np.eye(spec.n_classes, dtype=np.float32)
    for epoch in range(cfg.epochs):
        if epoch >= cfg.mine_start and (epoch - cfg.mine_start) % cfg.mine_every == 0:
            sampler.mine(model)
        if cfg.consistency:
            raw, lab, scored = sampler.batch_scored(cfg.windows_per_epoch // 2)
            raw = np.stack([raw, np.rot90(raw, 1, axes=(1, 2))], 1).reshape(-1, *raw.shape[1:])
            lab = np.stack([lab, np.rot90(lab, 1, axes=(1, 2))], 1).reshape(-1, *lab.shape[1:])
            scored = np.stack([scored, np.rot90(scored, 1, axes=(1, 2))], 1).reshape(
                -1, *scored.shape[1:]
            )
        else:
            raw, lab, scored = sampler.batch_scored(cfg.windows_per_epoch)
        mask = scored & (lab != IGNORE)
        q = preprocess_windows(raw)
        x = to_float(q)
        parts = [
            eye[np.maximum(lab, 0)],
            mask[..., None].astype(np.float32),
            scored[..., None].astype(np.float32),
        ]
        if teach is not None:
            parts.append(teach(q))
        y = np.concatenate(parts, -1)
        h = model.fit(x, y, batch_size=cfg.batch_size, epochs=1, shuffle=False, verbose=0)
        loss = float(h.history["loss"][-1])
        history.append(loss)
        if log:
            log(
                f"epoch {epoch + 1}/{cfg.epochs} loss {loss:.4f} ({time.monotonic() - start:.0f} s)"
            )
    rep_raw, _, _ = sampler.batch(cfg.representative_windows)
    tflite = convert_int8(model, preprocess_windows(rep_raw))
    validate_cellnet(tflite)
    return CellTrainResult(model, tflite, time.monotonic() - start, cfg, history)
