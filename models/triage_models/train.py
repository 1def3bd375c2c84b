"""Training: class-balanced sampling with augmentation on raw tiles, then int8 conversion.

Every sample is augmented on the raw uint16 tile (the frame-memory domain) and
then goes through the integer preprocessing of :mod:`triage.contract.tile_spec`,
so the network trains on exactly what the firmware computes.

Sampling per batch (fractions in :class:`TrainConfig`):

- ship: a labelled box of a training port, with the tile placed at random so
  that the box centre lies in the tile's central part, at least
  ``ship_inner_px`` from every border (sub-tile shifts). Tiles overlap by
  half: every point of a frame lies 8 px or more inside one of them, in its
  central cell, and the on-board crop of a ship tile is that cell - so the
  network learns "a ship centred here", not "a ship somewhere";
- border: a ship box with the tile placed so that the centre lies within
  ``border_px`` of the tile's edge (the neighbouring tile's business), labelled
  land (not ship, and never discarded as sea);
- sea, land: grid tiles of the training frames with those labels, half of the
  land from coast tiles (10-90 % water: quays, piers, breakwaters), where ships
  are easily confused with structures;
- hard: from ``mine_start`` on, every ``mine_every`` epochs, the sea and land
  grid tiles of the training ports that the model being trained scores highest
  as ship (``hard_top`` of them) are drawn with their own labels: quays, roofs,
  breakwaters, the false alarms that cost downlink bytes;
- cloud: grid tiles of the cloud images (real cloud masks), and composites of
  real cloud patches (their pixels and masks) over sea and land tiles of the
  training ports, labelled cloud when at least half is covered.

Augmentations: 90 degree rotations and flips, brightness (per tile and per
band), thin haze, sensor noise. Reproducible from the seed.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict

from triage_models.arch import ArchConfig, build_model
from triage_models.dataset import IGNORE, TileDataset
from triage_models.quantize import convert_int8, validate_tflite
from triage_models.tiles import preprocess_tiles, tile_spec

# Bump when sampling, augmentation, architecture or conversion code changes what a given
# TrainConfig produces: it is part of the cache key of the leave-ports-out folds.
TRAIN_CODE_VERSION = "train-v2"


class TrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seed: int = 1
    epochs: int = 40
    samples_per_epoch: int = 22016
    batch_size: int = 128
    learning_rate: float = 3e-3
    label_smoothing: float = 0.02
    frac_ship: float = 0.22
    frac_sea: float = 0.19
    frac_land: float = 0.19
    frac_cloud: float = 0.15
    frac_hard: float = 0.18
    frac_border: float = 0.07
    ship_inner_px: int = 6
    border_px: int = 3
    mine_start: int = 6
    mine_every: int = 4
    hard_top: int = 3000
    cloud_composite_share: float = 0.5
    coast_share: float = 0.5
    haze_prob: float = 0.3
    haze_max_alpha: float = 0.5
    gain_sigma: float = 0.15
    band_gain_sigma: float = 0.05
    noise_max_reflectance: float = 0.006
    representative_samples: int = 400
    arch: ArchConfig = ArchConfig()


SMOKE_CONFIG = TrainConfig(
    epochs=2,
    samples_per_epoch=256,
    batch_size=64,
    representative_samples=16,
    mine_start=1,
    mine_every=1,
    hard_top=32,
)


@dataclass
class TrainResult:
    model: object  # keras.Model
    tflite: bytes
    seconds: float
    config: TrainConfig


class Sampler:
    """Draws augmented, labelled raw tiles from the frames allowed for training."""

    def __init__(self, ds: TileDataset, frames: list[int], cfg: TrainConfig, seed: int):
        spec = tile_spec()
        self.ds, self.cfg, self.t = ds, cfg, spec.tile_px
        self.rng = np.random.default_rng(seed)
        allowed = np.isin(ds.tile_frame, frames)
        lab = ds.tile_label
        self.idx = {
            c: np.flatnonzero(allowed & (lab == spec.class_id(c))) for c in ("sea", "land", "cloud")
        }
        # coast: land tiles of the ports with 10-90 % water (quays, piers, breakwaters)
        self.coast = np.flatnonzero(
            allowed
            & ds.is_port[ds.tile_frame]
            & (lab == spec.class_id("land"))
            & (ds.tile_water >= 0.1)
        )
        port_frames = [f for f in frames if ds.is_port[f]]
        self.ships = ds.boxes[np.isin(ds.boxes[:, 0], port_frames)]
        is_port_tile = ds.is_port[ds.tile_frame]
        self.composite_base = np.flatnonzero(
            allowed
            & is_port_tile
            & ((lab == spec.class_id("sea")) | (lab == spec.class_id("land")))
        )
        cloud_frames = [f for f in frames if not ds.is_port[f]]
        self.cloud_patches = np.flatnonzero(
            np.isin(ds.tile_frame, cloud_frames) & (ds.tile_cloud >= 0.3)
        )
        if len(self.ships) == 0:
            raise ValueError("no ship boxes in the training frames")
        self.cls = {c: spec.class_id(c) for c in spec.classes}
        # candidates for hard negatives: sea and land grid tiles of the training ports
        self.negatives = np.flatnonzero(
            allowed
            & is_port_tile
            & ((lab == spec.class_id("sea")) | (lab == spec.class_id("land")))
        )
        self.hard = np.zeros(0, np.int64)

    def _crop(self, frame: int, y: int, x: int) -> np.ndarray:
        t = self.t
        return self.ds.frames[frame][y : y + t, x : x + t]

    def _ship_tiles(self, n: int) -> np.ndarray:
        """Tiles with a ship's box centre at least ``ship_inner_px`` inside every border
        (clamped where the frame ends first)."""
        t, rng, inner = self.t, self.rng, self.cfg.ship_inner_px
        out = np.empty((n, t, t, self.ds.frames[0].shape[2]), np.uint16)
        for i, b in enumerate(self.ships[rng.integers(0, len(self.ships), n)]):
            f = int(b[0])
            h, w = self.ds.frames[f].shape[:2]
            cx, cy = b[1] + b[3] / 2, b[2] + b[4] / 2
            x0 = int(np.clip(np.floor(cx) - rng.integers(inner, t - inner), 0, w - t))
            y0 = int(np.clip(np.floor(cy) - rng.integers(inner, t - inner), 0, h - t))
            out[i] = self._crop(f, y0, x0)
        return out

    def _border_tiles(self, n: int) -> np.ndarray:
        """Tiles with a ship's box centre within ``border_px`` of their edge and no box
        centre further than 4 px inside (the ship belongs to a neighbouring tile)."""
        t, rng, bd = self.t, self.rng, self.cfg.border_px
        out = np.empty((n, t, t, self.ds.frames[0].shape[2]), np.uint16)
        k = tries = 0
        while k < n:
            tries += 1
            if tries > 1000 * (n + 1):
                raise ValueError("no ship box can be placed at a tile's border in these frames")
            b = self.ships[rng.integers(0, len(self.ships))]
            f = int(b[0])
            h, w = self.ds.frames[f].shape[:2]
            ox, oy = int(rng.integers(0, t)), int(rng.integers(0, t))
            if bd <= ox < t - bd and bd <= oy < t - bd:
                continue
            x0 = int(np.floor(b[1] + b[3] / 2)) - ox
            y0 = int(np.floor(b[2] + b[4] / 2)) - oy
            if x0 < 0 or y0 < 0 or x0 > w - t or y0 > h - t:
                continue
            boxes = self.ds.boxes[self.ds.boxes[:, 0] == f]
            cx = boxes[:, 1] + boxes[:, 3] / 2 - x0
            cy = boxes[:, 2] + boxes[:, 4] / 2 - y0
            if np.any((cx >= 4) & (cx < t - 4) & (cy >= 4) & (cy < t - 4)):
                continue
            out[k] = self._crop(f, y0, x0)
            k += 1
        return out

    def mine(self, model) -> None:
        """Rank the sea and land tiles of the training ports by the model's ship output and
        keep the ``hard_top`` highest as the hard negatives."""
        if not len(self.negatives):
            return
        p = float_predict(model, preprocess_tiles(self.ds.tiles(self.negatives)))
        order = np.argsort(-p[:, self.cls["ship"]], kind="stable")[: self.cfg.hard_top]
        self.hard = self.negatives[order]

    def _grid(self, idx: np.ndarray) -> np.ndarray:
        return self.ds.tiles(idx)

    def _composites(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rng, t = self.rng, self.t
        base_idx = self.composite_base[rng.integers(0, len(self.composite_base), n)]
        base = self._grid(base_idx).astype(np.float32)
        labels = self.ds.tile_label[base_idx].astype(np.int64)
        weights = np.ones(n, np.float32)
        pidx = self.cloud_patches[rng.integers(0, len(self.cloud_patches), n)]
        for i, p in enumerate(pidx):
            f = self.ds.tile_frame[p]
            y, x = self.ds.tile_yx[p]
            px = self.ds.frames[f][y : y + t, x : x + t].astype(np.float32)
            m = self.ds.cloud_masks[f][y : y + t, x : x + t].astype(np.float32)
            k = rng.integers(0, 4)
            px, m = np.rot90(px, k), np.rot90(m, k)
            mp = np.pad(m, 1, mode="edge")
            soft = sum(mp[dy : dy + t, dx : dx + t] for dy in range(3) for dx in range(3)) / 9
            alpha = soft * rng.uniform(0.6, 1.0)
            base[i] = base[i] * (1 - alpha[..., None]) + px * alpha[..., None]
            covered = float((alpha > 0.5).mean())
            if covered >= 0.5:
                labels[i] = self.cls["cloud"]
            elif covered >= 0.1:
                weights[i] = 0.0
        return np.clip(np.rint(base), 0, 65535).astype(np.uint16), labels, weights

    def _augment(self, x: np.ndarray) -> np.ndarray:
        cfg, rng = self.cfg, self.rng
        n = len(x)
        k = rng.integers(0, 4, n)
        flip = rng.random(n) < 0.5
        x = np.stack(
            [np.rot90(np.flip(a, 1) if f else a, kk) for a, kk, f in zip(x, k, flip, strict=True)]
        ).astype(np.float32)
        gain = np.exp(rng.normal(0, cfg.gain_sigma, (n, 1, 1, 1)))
        gain = gain * np.exp(rng.normal(0, cfg.band_gain_sigma, (n, 1, 1, x.shape[-1])))
        x *= gain
        haze = rng.random(n) < cfg.haze_prob
        if haze.any():
            m = int(haze.sum())
            a = rng.uniform(0, cfg.haze_max_alpha, (m, 1, 1, 1))
            level = rng.uniform(0.08, 0.3, (m, 1, 1, 1)) * 65535
            tint = np.array([1.1, 1.05, 1.0, 0.95], np.float32)[: x.shape[-1]]
            x[haze] = x[haze] * (1 - a) + level * tint * a
        sigma = rng.uniform(0, cfg.noise_max_reflectance, (n, 1, 1, 1)) * 65535
        x += rng.normal(0, 1, x.shape).astype(np.float32) * sigma
        return np.clip(np.rint(x), 0, 65535).astype(np.uint16)

    def batch(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(raw uint16 tiles, labels, weights)`` for ``n`` samples, shuffled."""
        cfg, rng = self.cfg, self.rng
        n_ship = round(n * cfg.frac_ship)
        n_sea = round(n * cfg.frac_sea)
        n_cloud = round(n * cfg.frac_cloud) if len(self.idx["cloud"]) else 0
        n_comp = round(n_cloud * cfg.cloud_composite_share) if len(self.cloud_patches) else 0
        n_hard = round(n * cfg.frac_hard) if len(self.hard) else 0
        n_border = round(n * cfg.frac_border)
        n_land = n - n_ship - n_sea - n_cloud - n_hard - n_border
        parts, labels, weights = [], [], []
        parts.append(self._ship_tiles(n_ship))
        labels.append(np.full(n_ship, self.cls["ship"]))
        if n_border:
            parts.append(self._border_tiles(n_border))
            labels.append(np.full(n_border, self.cls["land"]))
        if n_hard:
            idx = self.hard[rng.integers(0, len(self.hard), n_hard)]
            parts.append(self._grid(idx))
            labels.append(self.ds.tile_label[idx].astype(np.int64))
        n_coast = round(n_land * cfg.coast_share) if len(self.coast) else 0
        for c, m, pool in (
            ("sea", n_sea, self.idx["sea"]),
            ("land", n_land - n_coast, self.idx["land"]),
            ("land", n_coast, self.coast),
            ("cloud", n_cloud - n_comp, self.idx["cloud"]),
        ):
            if m:
                idx = pool[rng.integers(0, len(pool), m)]
                parts.append(self._grid(idx))
                labels.append(np.full(m, self.cls[c]))
        w = [np.ones(sum(len(p) for p in parts), np.float32)]
        if n_comp:
            xc, lc, wc = self._composites(n_comp)
            parts.append(xc)
            labels.append(lc)
            w.append(wc)
        weights = np.concatenate(w)
        x = self._augment(np.concatenate(parts))
        y = np.concatenate(labels).astype(np.int64)
        order = rng.permutation(len(x))
        return x[order], y[order], weights[order]


def to_float_input(q: np.ndarray) -> np.ndarray:
    """The float model's input from the int8 preprocessing output, by the tile spec's input
    quantisation (``(q + 128) / 255``, in float32 as the converter sees it)."""
    iq = tile_spec().input_quantization
    return (q.astype(np.float32) - np.float32(iq.zero_point)) / np.float32(
        iq.scale_den / iq.scale_num
    )


def setup_tensorflow(seed: int) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(2)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        pass  # already initialised in this process
    tf.config.experimental.enable_op_determinism()
    keras.backend.clear_session()  # layer names (kept in the flatbuffer) restart from zero
    keras.utils.set_random_seed(seed)


def train(
    ds: TileDataset, frames: list[int], cfg: TrainConfig | None = None, log=None
) -> TrainResult:
    """Train on the given frames (indices into ``ds``), return the float model and int8 model."""
    import keras

    cfg = cfg or TrainConfig()
    start = time.monotonic()
    setup_tensorflow(cfg.seed)
    spec = tile_spec()
    sampler = Sampler(ds, frames, cfg, seed=cfg.seed)
    model = build_model(cfg.arch)
    steps = cfg.epochs * (cfg.samples_per_epoch // cfg.batch_size)
    sched = keras.optimizers.schedules.CosineDecay(cfg.learning_rate, max(steps, 1))
    model.compile(
        optimizer=keras.optimizers.Adam(sched),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=cfg.label_smoothing),
        weighted_metrics=["accuracy"],
    )
    for epoch in range(cfg.epochs):
        if epoch >= cfg.mine_start and (epoch - cfg.mine_start) % cfg.mine_every == 0:
            sampler.mine(model)
        raw, y, w = sampler.batch(cfg.samples_per_epoch)
        x = to_float_input(preprocess_tiles(raw))
        hist = model.fit(
            x,
            np.eye(spec.n_classes, dtype=np.float32)[y],
            sample_weight=w,
            batch_size=cfg.batch_size,
            epochs=1,
            shuffle=False,
            verbose=0,
        )
        if log:
            h = hist.history
            log(
                f"epoch {epoch + 1}/{cfg.epochs} loss {h['loss'][-1]:.4f} "
                f"acc {h['accuracy'][-1]:.4f} ({time.monotonic() - start:.0f} s)"
            )
    rep_raw, _, _ = sampler.batch(cfg.representative_samples)
    tflite = convert_int8(model, to_float_input(preprocess_tiles(rep_raw)))
    validate_tflite(tflite)
    return TrainResult(model, tflite, time.monotonic() - start, cfg)


def float_predict(model, q_inputs: np.ndarray, batch: int = 1024) -> np.ndarray:
    """Float probabilities ``[N, classes]`` for int8 preprocessed inputs."""
    out = []
    for i in range(0, len(q_inputs), batch):
        out.append(np.asarray(model(to_float_input(q_inputs[i : i + batch]), training=False)))
    if not out:
        return np.zeros((0, tile_spec().n_classes), np.float32)
    return np.concatenate(out)


__all__ = ["IGNORE", "SMOKE_CONFIG", "Sampler", "TrainConfig", "TrainResult", "train"]
