"""Scenarios: realistic orbital image sets made of real pixels, with exact truth.

A manifest's ``scenario`` (:class:`~triage.sim.manifest.Scenario`) says what its
frames are made of; :func:`realize` writes them (GeoTIFFs, truth) and returns the
manifest with its frames listed. Every pixel is real imagery from the data folder
(:mod:`triage.sim.sources`, each source on its own scale); what is composed is
recorded, so the truth is exact.

**ports**: the Sentinel-2 port scenes as they are (frames of at most
``max_frame_px``), the COCO labels as truth.

**maritime**: mostly open sea and coast. Per frame (one frame per scene, a square of
``frame_px``):

1. a classifier is chosen for it (round robin over the registry's classifiers that
   have never seen at least one port holding labelled vessels, leaving out those
   marked ``auto: false``; the shipped one first) and the frame's water, coast and
   vessels come only from sources that classifier never saw, so the frame is out of
   sample by construction;
2. open water: 128-px windows of open water of one donor scene (a port or a coastal
   chip; :func:`~triage.sim.sources.water_windows`), the quarter closest in colour to a
   first one drawn (one sea state), turned and mirrored at random, feathered into each
   other over 32 px;
3. coast, in ``coast_share`` of the frames: a real window of a donor scene holding
   20-70 % water (half the frame's side; the water donor's own when it has coast, so
   that the water matches), along one edge; the labelled vessels it holds come with it;
4. vessels: Poisson(``vessels_per_100km2`` x frame area / 100 km²) real vessels,
   their mask's pixels (COCO RLE or polygons) cut from a donor port, resampled to the
   frame's ground pixel, turned and mirrored, pasted on water away from each other;
   their box in the frame is the truth.

The frame is placed (EPSG:3857, the port scenes' grid convention) where its water
donor is, with the donor's ground pixel size; every other donor is resampled to it.

**clouds** (any scenario): per frame a cloud fraction is drawn from
Beta(mean x k, (1 - mean) x k) (``CloudSpec``); real cloud pixels and masks
(:data:`~triage.sim.sources.CLOUD_SOURCES`, those the frame's classifier never saw
where there are any; resampled to the frame's ground pixel) are laid over it in
256-px windows whose cloud share follows a smooth random field around the target,
feathered over 64 px, the mask's edge softened. A cloud image's pixel holds its own
ground too (thin cloud over the land of its scene): that ground, estimated from the
image's clear pixels around, is swapped for the frame's, in proportion to the pixel's
transparency (opacity: how far its brightness goes from that ground towards the image's
thick cloud, opaque from half way).
Shadows: what the cloud hides (mask x opacity), moved away from the Sun by height x
tan(solar zenith) (cloud top height drawn from ``cloud_top_m``; the Sun's position at
the frame's capture time and place), darkens the ground it falls on, keeping
40 / 35 / 30 / 25 % of blue, green, red and NIR (the diffuse skylight, bluer). The
truth records per frame the cloud cover (pixels under the masks, mask >= 0.5;
``cloud_mask.tif``), what the cloud hides (``cloud_alpha.tif``) and, per ship,
``under_cloud`` (the cloud hides at least half of its box centre's pixel), ``in_shadow``
and ``cloud_alpha`` (how much of that pixel the cloud hides); recall is reported over all
ships and over the visible ones, and by cloud over the ship (clear, thin, under cloud).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

import numpy as np
from triage_models.augment import gaussian, separate_cloud

from triage import paths
from triage.contract import sen2ships
from triage.contract.paths import COPERNICUS_ATTRIBUTION
from triage.contract.predictor import samples_from_dn
from triage.contract.tile_spec import tile_spec
from triage.sim.build import (
    CAPTURE_SPAN,
    DEFAULT_EPOCH,
    DEFAULT_LOSS,
    LINKS,
    SEN2SHIPS_CREDIT,
    SIM_SPAN,
    STATIONS,
    _number,
    build_real_manifest,
    sentinel2_band_sources,
)
from triage.sim.classifiers import (
    AUTO,
    Classifier,
    ClassifierSet,
    assign,
    load_classifiers,
    resolve_choice,
)
from triage.sim.errors import ManifestError
from triage.sim.manifest import (
    CloudSpec,
    Frame,
    Labels,
    Manifest,
    Onboard,
    Orbit,
    PacketLoss,
    PixelWindow,
    PolicyThresholds,
    Scenario,
    Tle,
    dump_manifest,
    load_manifest,
)
from triage.sim.orbit import (
    Access,
    access_times,
    sun_azimuth_deg,
    sun_elevation_deg,
    sun_synchronous_tle,
)
from triage.sim.sources import (
    CLOUD_SOURCES,
    COASTAL_CHIPS,
    DN_DEN,
    DN_NUM,
    CloudSource,
    Vessel,
    WaterScene,
    credit_for,
    read_cloud,
    read_coastal,
    read_port,
    resample,
    water_windows,
)

WATER_BLOCK = 128
WATER_FEATHER = 32
WATER_SIMILAR = 0.25  # a frame's water windows: the quarter closest in colour to its first
CLOUD_BLOCK = 256
CLOUD_FEATHER = 64
CLOUD_CANDIDATES = 32
CLOUD_SPREAD = 0.35  # standard deviation of the block targets around the frame's fraction
SHADOW_KEEP = np.array([0.40, 0.35, 0.30, 0.25])  # blue, green, red, NIR
ALPHA_CLOUD = 0.5  # a pixel (or a ship's centre) is under cloud from this alpha on
COAST_WATER = (0.2, 0.7)
MANIFEST_NAME = "manifest.json"

MARITIME_PRODUCTS = PolicyThresholds(discard_min_prob={"cloud": 0.0, "sea": 0.0})
"""The product mix of a maritime-surveillance mission (``triage imageset maritime``'s
default, ``--products maritime``): a cell the ship rule does not crop and whose top class
is sea or cloud is discarded whatever its confidence, so uncertain sea and cloud are not
sent as low-resolution products. What is sent per frame: the ship crops, the quicklook,
the class map and the summary. It changes no crop decision (the crop rule comes first in
the decision order), so ship recall is the same and only the bytes change; land keeps the
classifier's land policy. ``--products all`` keeps the classifier's own thresholds."""


# ---------------------------------------------------------------------------------------
# clouds


@dataclass
class CloudLayer:
    """Cloud laid over a frame (all [H, W] maps in 0..1): ``mask`` the cloud masks'
    (softened), ``opacity`` the cloud's own opacity, ``d`` the cloud images' pixels and
    ``src_ground`` their ground under the cloud (estimated from their clear pixels around),
    ``shadow`` the shadow's strength; the sources used and the geometry."""

    mask: np.ndarray
    opacity: np.ndarray
    d: np.ndarray
    src_ground: np.ndarray
    shadow: np.ndarray
    sources: list[str]
    target: float
    height_m: float
    sun_elevation_deg: float
    sun_azimuth_deg: float

    @property
    def alpha(self) -> np.ndarray:
        """How much of the ground the cloud hides: mask x opacity."""
        return self.mask * self.opacity

    @property
    def fraction(self) -> float:
        """Cloud cover: the share of pixels under the cloud masks (mask >= 0.5)."""
        return float((self.mask >= ALPHA_CLOUD).mean())

    def apply(self, ground: np.ndarray) -> np.ndarray:
        """Ground instrument numbers [H, W, 4] with shadow and cloud laid over: the cloud
        image's pixel with its own ground swapped for this frame's, where the mask says
        cloud (a thin cloud over land in its image must not bring that land to sea)."""
        shade = 1.0 - self.shadow[..., None] * (1.0 - SHADOW_KEEP[None, None, :])
        g = ground.astype(np.float64) * shade
        o = self.opacity[..., None]
        cloud = self.d - (1.0 - o) * self.src_ground + (1.0 - o) * g
        m = self.mask[..., None]
        return m * cloud + (1.0 - m) * g


def _feather(size: int, feather: int) -> np.ndarray:
    ramp = np.minimum(1.0, (np.arange(size) + 1.0) / (feather + 1.0))
    ramp = np.minimum(ramp, ramp[::-1])
    return np.outer(ramp, ramp)


def _edge_feather(h: int, w: int, feather: int, *, top, bottom, left, right) -> np.ndarray:
    """Weights of a window pasted into a frame: ramps on the sides inside the frame, 1 on
    the sides along the frame's edge."""

    def ramp(n: int, lo: bool, hi: bool) -> np.ndarray:
        r = np.ones(n)
        up = np.minimum(1.0, (np.arange(n) + 1.0) / (feather + 1.0))
        if lo:
            r = np.minimum(r, up)
        if hi:
            r = np.minimum(r, up[::-1])
        return r

    return np.outer(ramp(h, top, bottom), ramp(w, left, right))


def _positions(length: int, block: int, overlap: int) -> list[int]:
    if length <= block:
        return [0]
    step = block - overlap
    n = math.ceil((length - block) / step) + 1
    return sorted({min(i * step, length - block) for i in range(n)})


def _orient(a: np.ndarray, k: int, flip: bool) -> np.ndarray:
    a = np.rot90(a, k, axes=(0, 1))
    return a[:, ::-1] if flip else a


def _shifted(a: np.ndarray, d_row: float, d_col: float) -> np.ndarray:
    """``a`` moved by (d_row, d_col) pixels (bilinear, zero where nothing moved in)."""
    import cv2

    m = np.float64([[1, 0, d_col], [0, 1, d_row]])
    h, w = a.shape
    return cv2.warpAffine(
        a.astype(np.float64),
        m,
        (w, h),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0.0,
    )


def _block_targets(shape: tuple[int, int], target: float, rng) -> np.ndarray:
    """Per-block cloud targets: a smooth random field around ``target`` with mean
    ``target`` (clipped to 0..1)."""
    z = gaussian(rng.standard_normal(shape), 1.0)
    z = (z - z.mean()) / (z.std() or 1.0)
    lo, hi = -1.0, 1.0
    for _ in range(40):  # the shift that keeps the clipped mean at the target
        mid = (lo + hi) / 2
        if np.clip(target + CLOUD_SPREAD * z + mid, 0, 1).mean() < target:
            lo = mid
        else:
            hi = mid
    return np.clip(target + CLOUD_SPREAD * z + (lo + hi) / 2, 0, 1)


@dataclass
class _Resampled:
    source: str
    d: np.ndarray  # float32 [H, W, 4]
    cloud: np.ndarray  # bool
    ground: np.ndarray  # float32 [H, W, 4]: the clear ground around, smoothed
    opacity: np.ndarray  # float32 [H, W]
    sat: np.ndarray  # summed-area table of cloud


_RESAMPLED: dict[tuple[str, float], _Resampled] = {}


def _resampled(src: CloudSource, factor: float) -> _Resampled:
    """A cloud source at the frame's ground pixel, with its cloud separated from its ground
    (:func:`triage_models.augment.separate_cloud`, the training composites' cloud model)."""
    key = (src.source, round(factor, 3))
    got = _RESAMPLED.get(key)
    if got is None:
        d = resample(src.d, factor).astype(np.float64)
        cloud = resample(src.cloud, factor, nearest=True).astype(bool)
        ground, opacity = separate_cloud(d, cloud)
        sat = np.pad(cloud.astype(np.int64).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
        got = _RESAMPLED[key] = _Resampled(
            src.source, d.astype(np.float32), cloud, ground, opacity, sat
        )
    return got


def lay_clouds(
    shape: tuple[int, int],
    ground_px_m: float,
    target: float,
    sources: list[CloudSource],
    rng: np.random.Generator,
    *,
    height_m: float,
    sun_elevation: float,
    sun_azimuth: float,
) -> CloudLayer:
    """A cloud layer of about ``target`` cover over a frame of ``shape`` (see the module
    docstring)."""
    H, W = shape
    zero = CloudLayer(
        np.zeros(shape),
        np.zeros(shape),
        np.zeros((H, W, 4)),
        np.zeros((H, W, 4)),
        np.zeros(shape),
        [],
        target,
        height_m,
        sun_elevation,
        sun_azimuth,
    )
    if target < 0.005 or not sources:
        return zero
    bank = [_resampled(s, s.ground_px_m / ground_px_m) for s in sources]
    block = min(CLOUD_BLOCK, H, W, *(min(b.cloud.shape) for b in bank))
    rows, cols = _positions(H, block, CLOUD_FEATHER), _positions(W, block, CLOUD_FEATHER)
    targets = _block_targets((len(rows), len(cols)), target, rng)
    weight = _feather(block, CLOUD_FEATHER)
    acc_d = np.zeros((H, W, 4))
    acc_g = np.zeros((H, W, 4))
    acc_o = np.zeros((H, W))
    acc_m = np.zeros((H, W))
    acc_w = np.zeros((H, W))
    used: set[str] = set()
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            best = None
            for _ in range(CLOUD_CANDIDATES):
                b = bank[int(rng.integers(len(bank)))]
                h, w = b.cloud.shape
                r0, c0 = int(rng.integers(h - block + 1)), int(rng.integers(w - block + 1))
                s = b.sat
                n = s[r0 + block, c0 + block] - s[r0, c0 + block] - s[r0 + block, c0] + s[r0, c0]
                err = abs(n / block**2 - targets[i, j])
                if best is None or err < best[0]:
                    best = (err, b, r0, c0)
            _, b, r0, c0 = best  # type: ignore[misc]
            k, flip = int(rng.integers(4)), bool(rng.integers(2))
            win = (slice(r0, r0 + block), slice(c0, c0 + block))
            out = (slice(r, r + block), slice(c, c + block))
            acc_d[out] += weight[..., None] * _orient(b.d[win], k, flip)
            acc_g[out] += weight[..., None] * _orient(b.ground[win], k, flip)
            acc_o[out] += weight * _orient(b.opacity[win], k, flip)
            acc_m[out] += weight * _orient(b.cloud[win], k, flip)
            acc_w[r : r + block, c : c + block] += weight
            used.add(b.source)
    cloud_d = acc_d / acc_w[..., None]
    src_ground = acc_g / acc_w[..., None]
    opacity = acc_o / acc_w
    mask = np.clip(gaussian(acc_m / acc_w, 1.2), 0.0, 1.0)
    alpha = mask * opacity
    # the shadow: what the cloud hides, moved away from the Sun by height x tan(zenith)
    zenith = math.radians(90.0 - max(sun_elevation, 5.0))
    length_px = height_m * math.tan(zenith) / ground_px_m
    az = math.radians(sun_azimuth)
    d_row, d_col = length_px * math.cos(az), -length_px * math.sin(az)
    shadow = np.clip(_shifted(alpha, d_row, d_col), 0.0, 1.0)
    return CloudLayer(
        mask,
        opacity,
        cloud_d,
        src_ground,
        shadow,
        sorted(used),
        target,
        height_m,
        sun_elevation,
        sun_azimuth,
    )


def _cloud_candidates(
    spec: CloudSpec, c: Classifier, available: list[str]
) -> tuple[list[str], bool]:
    """The cloud sources a frame of classifier ``c`` gets: those it never saw, else all
    (then the frame is in-sample for its clouds). Returns (sources, unseen)."""
    pool = list(spec.sources) if spec.sources is not None else available
    unseen = [s for s in pool if s not in set(c.training_sources)]
    return (unseen, True) if unseen else (pool, False)


def _draw_fraction(spec: CloudSpec, rng: np.random.Generator) -> float:
    if spec.mean <= 0.0:
        return 0.0
    if spec.mean >= 1.0:
        return 1.0
    return float(rng.beta(spec.mean * spec.concentration, (1.0 - spec.mean) * spec.concentration))


def _cloud_layer_for(
    frame: Frame,
    spec: CloudSpec,
    c: Classifier,
    available: list[str],
    data_dir: Path,
    shape: tuple[int, int],
    ground_px_m: float,
    lonlat: tuple[float, float],
    rng: np.random.Generator,
) -> CloudLayer:
    target = _draw_fraction(spec, rng)
    height = float(rng.uniform(*spec.cloud_top_m))
    names, _ = _cloud_candidates(spec, c, available)
    srcs = [read_cloud(str(data_dir), n) for n in names]
    when = frame.capture_time_utc
    lon, lat = lonlat
    return lay_clouds(
        shape,
        ground_px_m,
        target,
        srcs,
        rng,
        height_m=height,
        sun_elevation=sun_elevation_deg(when, lat, lon),
        sun_azimuth=sun_azimuth_deg(when, lat, lon),
    )


def available_cloud_sources(data_dir: Path) -> list[str]:
    """The cloud sources present in the data folder."""
    out = []
    root = Path(data_dir) / "clouds"
    for s in CLOUD_SOURCES:
        parts = s.split("/")
        if parts[1] == "oncloudn":
            ok = (root / "oncloudn" / parts[2] / "label.tif").exists()
        elif parts[1] == "ukis_csmask":
            ok = (root / "ukis_csmask" / f"{parts[2]}.npz").exists()
        else:
            ok = (root / "38cloud" / "gt.tif").exists()
        if ok:
            out.append(s)
    return out


# ---------------------------------------------------------------------------------------
# writing scenes


def _write_scene(
    folder: Path,
    d: np.ndarray,
    transform,
    crs,
    ships: list[dict],
    alpha: np.ndarray | None,
    description: str,
    truth: dict | None = None,
    mask: np.ndarray | None = None,
) -> None:
    """Bands (samples on the sen2ships lattice), COCO truth, the cloud alpha and
    ``truth.json`` (how the scene was made)."""
    import rasterio

    folder.mkdir(parents=True, exist_ok=True)
    # d in 1..10000: 0 is the frames' no-data value, 10000 (reflectance 1) the saturation
    dn = np.clip(np.rint(d), 1, DN_DEN).astype(np.int64)
    samples = samples_from_dn(dn, DN_NUM, DN_DEN).astype(np.uint16)
    H, W = samples.shape[:2]
    profile = {
        "driver": "GTiff",
        "width": W,
        "height": H,
        "count": 1,
        "crs": crs,
        "transform": transform,
        "compress": "deflate",
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
    }
    for k, b in enumerate(tile_spec().bands):
        with rasterio.open(folder / f"{b.sentinel2}.tif", "w", dtype="uint16", **profile) as ds:
            ds.write(samples[..., k], 1)
            ds.set_band_description(1, f"{b.sentinel2} {b.name} (reflectance x 65535)")
    if alpha is not None:
        with rasterio.open(folder / "cloud_alpha.tif", "w", dtype="uint8", **profile) as ds:
            ds.write(np.rint(alpha * 255).astype(np.uint8), 1)
            ds.set_band_description(
                1, "share of the ground the laid cloud hides x 255 (a ship under cloud from 128)"
            )
    if mask is not None:
        with rasterio.open(folder / "cloud_mask.tif", "w", dtype="uint8", **profile) as ds:
            ds.write(np.rint(mask * 255).astype(np.uint8), 1)
            ds.set_band_description(1, "laid cloud mask x 255 (cloud cover counts from 128)")
    coco = {
        "info": {"description": description},
        "images": [{"id": 1, "width": W, "height": H, "file_name": folder.name}],
        "categories": [{"id": 1, "name": "vessel", "supercategory": ""}],
        "annotations": [{"image_id": 1, "category_id": 1, "iscrowd": 0, **s} for s in ships],
    }
    (folder / "ships.coco.json").write_text(json.dumps(coco, indent=1))
    (folder / "truth.json").write_text(
        json.dumps({"description": description, **(truth or {})}, indent=1, default=str) + "\n"
    )


def _layer_truth(layer: CloudLayer, window, when) -> dict:
    return {
        "window": window,
        "capture_time_utc": when,
        "cloud_target": round(layer.target, 4),
        "cloud_laid": round(layer.fraction, 4),
        "cloud_top_m": round(layer.height_m, 1),
        "sun_elevation_deg": round(layer.sun_elevation_deg, 2),
        "sun_azimuth_deg": round(layer.sun_azimuth_deg, 2),
        "cloud_sources": layer.sources,
    }


def _ship_flags(box, alpha: np.ndarray | None, shadow: np.ndarray | None) -> dict:
    if alpha is None:
        return {"under_cloud": False, "in_shadow": False}
    x, y, w, h = box
    r = min(alpha.shape[0] - 1, int(y + h / 2))
    c = min(alpha.shape[1] - 1, int(x + w / 2))
    return {
        "under_cloud": bool(alpha[r, c] >= ALPHA_CLOUD),
        "in_shadow": bool(shadow is not None and shadow[r, c] >= ALPHA_CLOUD),
        "cloud_alpha": round(float(alpha[r, c]), 4),
    }


# ---------------------------------------------------------------------------------------
# ports


def _ports_with_clouds(
    base: Manifest,
    scenario: Scenario,
    cset: ClassifierSet,
    choice: str,
    data_dir: Path,
    out_dir: Path,
) -> tuple[list[Frame], list[str]]:
    """The port frames with cloud laid over them: one cloudy copy of each scene."""
    import rasterio

    spec = scenario.clouds
    assert spec is not None
    available = available_cloud_sources(data_dir)
    if not available:
        raise ManifestError(f"scenario.clouds: no cloud imagery in {data_dir / 'clouds'}")
    rng = np.random.default_rng([spec.seed, 7])
    frames: list[Frame] = []
    credits: list[str] = []
    by_scene: dict[str, list[Frame]] = {}
    for f in base.frames_in_capture_order():
        by_scene.setdefault(f.scene, []).append(f)
    for scene, fl in by_scene.items():
        port = read_port(str(data_dir), scene)
        src_b02 = sen2ships.band_path(scene, "B02", data_dir)
        with rasterio.open(src_b02) as ds:
            transform, crs = ds.transform, ds.crs
        d = port.d.astype(np.float64)
        alpha = np.zeros(d.shape[:2])
        mask = np.zeros(d.shape[:2])
        shadow = np.zeros(d.shape[:2])
        layers = {}
        for f in fl:
            a = assign(f, cset, choice)
            c = cset.get(a.model)
            w = f.window
            win = (slice(w.row0, w.row0 + w.rows), slice(w.col0, w.col0 + w.cols))
            layer = _cloud_layer_for(
                f,
                spec,
                c,
                available,
                data_dir,
                (w.rows, w.cols),
                port.ground_px_m,
                (port.lon, port.lat),
                rng,
            )
            d[win] = layer.apply(d[win])
            alpha[win] = np.maximum(alpha[win], layer.alpha)  # overlaps: both clouds
            mask[win] = np.maximum(mask[win], layer.mask)
            shadow[win] = np.maximum(shadow[win], layer.shadow)
            layers[f.frame_id] = (layer, a.model)
        folder = out_dir / scene
        ships = []
        for vid, box in zip(port.label_ids, port.boxes, strict=True):
            x, y, bw, bh = (float(v) for v in box)
            ships.append(
                {
                    "id": vid,
                    "bbox": [x, y, bw, bh],
                    "area": bw * bh,
                    "source": port.source,
                    "source_label_id": vid,
                    **_ship_flags(box, alpha, shadow),
                }
            )
        _write_scene(
            folder,
            d,
            transform,
            crs,
            ships,
            alpha,
            f"{scene} with laid cloud (scenario ports, clouds mean {spec.mean})",
            mask=mask,
            truth={
                "frames": [
                    _layer_truth(
                        layers[f.frame_id][0],
                        [f.window.row0, f.window.col0, f.window.rows, f.window.cols],
                        f.capture_time_utc,
                    )
                    for f in fl
                ]
            },
        )
        for f in fl:
            layer, model = layers[f.frame_id]
            w = f.window
            frac = float(
                (mask[w.row0 : w.row0 + w.rows, w.col0 : w.col0 + w.cols] >= ALPHA_CLOUD).mean()
            )
            frames.append(
                f.model_copy(
                    update={
                        "bands": sentinel2_band_sources(scene),
                        "labels": Labels(path=f"{scene}/ships.coco.json"),
                        "sources": [port.source, *layer.sources],
                        "model": model,
                        "cloud_fraction": round(frac, 4),
                        "attribution": _credits([port.source, *layer.sources]),
                    }
                )
            )
            credits += [credit_for(s) for s in layer.sources]
    return frames, credits


# ---------------------------------------------------------------------------------------
# maritime


@dataclass
class _Donors:
    water: list[WaterScene]  # with open-water windows
    coast: list[tuple[WaterScene, list[tuple[int, int]]]]
    vessels: list[Vessel]


def _unseen_donors(c: Classifier, data_dir: Path, ports: list[str]) -> _Donors:
    seen = set(c.training_sources)
    water, coast, vessels = [], [], []
    scenes = [read_port(str(data_dir), p) for p in ports if f"sen2ships/{p}" not in seen]
    vessels = [v for s in scenes for v in s.vessels]
    for chip in COASTAL_CHIPS:
        if f"coastal/{chip}" not in seen and (data_dir / "coastal" / f"{chip}.tif").exists():
            scenes.append(read_coastal(str(data_dir), chip))
    for s in scenes:
        if _water_windows(s):
            water.append(s)
        cw = _coast_windows(s)
        if cw:
            coast.append((s, cw))
    return _Donors(water, coast, vessels)


_WINDOWS: dict[tuple[str, int], list] = {}


def _water_windows(s: WaterScene) -> list[tuple[int, int]]:
    key = (s.source, WATER_BLOCK)
    if key not in _WINDOWS:
        _WINDOWS[key] = water_windows(s, WATER_BLOCK)
    return _WINDOWS[key]


def _similar_windows(s: WaterScene, wins: list[tuple[int, int]], rng) -> list[tuple[int, int]]:
    """A random window and those closest to it in mean colour (the quarter of them, at least
    four): the water of one sea state, so that the frame's blocks match."""
    B = WATER_BLOCK
    means = np.array([s.d[r : r + B, c : c + B].reshape(-1, 4).mean(0) for r, c in wins])
    anchor = means[int(rng.integers(len(wins)))]
    dist = np.abs(np.log((means + 1.0) / (anchor + 1.0))).sum(1)
    keep = max(4, math.ceil(WATER_SIMILAR * len(wins)))
    return [wins[i] for i in np.argsort(dist, kind="stable")[:keep]]


def _coast_windows(s: WaterScene, size: int = 256) -> list[tuple[int, int]]:
    key = (s.source, -size)
    if key not in _WINDOWS:
        H, W = s.water.shape
        out = []
        for r in range(0, H - size + 1, size // 2):
            for c in range(0, W - size + 1, size // 2):
                share = s.water[r : r + size, c : c + size].mean()
                clear = s.cloudy is None or s.cloudy[r : r + size, c : c + size].mean() < 0.01
                if COAST_WATER[0] <= share <= COAST_WATER[1] and clear:
                    out.append((r, c))
        _WINDOWS[key] = out
    return _WINDOWS[key]


def _maritime_frame(
    size: int,
    donors: _Donors,
    spec,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, list[dict], WaterScene, list[str]]:
    """(d [size, size, 4], water mask, ships, water donor, sources) of one frame."""
    wd = donors.water[int(rng.integers(len(donors.water)))]
    px = wd.ground_px_m
    wins = _similar_windows(wd, _water_windows(wd), rng)
    B = WATER_BLOCK
    acc = np.zeros((size, size, 4))
    accw = np.zeros((size, size))
    weight = _feather(B, WATER_FEATHER)
    for r in _positions(size, B, WATER_FEATHER):
        for c in _positions(size, B, WATER_FEATHER):
            r0, c0 = wins[int(rng.integers(len(wins)))]
            blk = _orient(
                wd.d[r0 : r0 + B, c0 : c0 + B], int(rng.integers(4)), bool(rng.integers(2))
            )
            acc[r : r + B, c : c + B] += weight[..., None] * blk
            accw[r : r + B, c : c + B] += weight
    d = acc / accw[..., None]
    water = np.ones((size, size), dtype=bool)
    sources = [wd.source]
    ships: list[dict] = []
    # coast along one edge, with the labelled vessels it holds
    if donors.coast and rng.random() < spec.coast_share:
        same = [x for x in donors.coast if x[0].source == wd.source]  # water that matches
        pool = same or donors.coast
        cs, cwins = pool[int(rng.integers(len(pool)))]
        f = cs.ground_px_m / px
        src_size = max(8, round((size // 2) / f))
        src_size = min(src_size, 256)
        r0, c0 = cwins[int(rng.integers(len(cwins)))]
        win_d = resample(cs.d[r0 : r0 + src_size, c0 : c0 + src_size], f).astype(np.float64)
        win_w = resample(cs.water[r0 : r0 + src_size, c0 : c0 + src_size], f, nearest=True)
        h, w = win_w.shape
        edge = int(rng.integers(4))
        rr = {
            0: 0,
            1: size - h,
            2: int(rng.integers(size - h + 1)),
            3: int(rng.integers(size - h + 1)),
        }[edge]
        cc = {
            0: int(rng.integers(size - w + 1)),
            1: int(rng.integers(size - w + 1)),
            2: 0,
            3: size - w,
        }[edge]
        fw = _edge_feather(
            h, w, WATER_FEATHER, top=rr > 0, bottom=rr + h < size, left=cc > 0, right=cc + w < size
        )
        d[rr : rr + h, cc : cc + w] = (
            fw[..., None] * win_d + (1 - fw[..., None]) * d[rr : rr + h, cc : cc + w]
        )
        water[rr : rr + h, cc : cc + w] = win_w.astype(bool)
        sources.append(cs.source)
        for vid, (x, y, bw, bh) in zip(cs.label_ids, cs.boxes, strict=False):
            if c0 <= x and x + bw <= c0 + src_size and r0 <= y and y + bh <= r0 + src_size:
                box = [cc + (x - c0) * f, rr + (y - r0) * f, bw * f, bh * f]
                ships.append({"bbox": box, "source": cs.source, "source_label_id": vid})
    # vessels on the water
    area_km2 = (size * px / 1000.0) ** 2
    n = int(rng.poisson(spec.vessels_per_100km2 * area_km2 / 100.0)) if donors.vessels else 0
    taken = np.zeros((size, size), dtype=bool)
    for s in ships:
        x, y, bw, bh = s["bbox"]
        taken[max(0, int(y) - 4) : int(y + bh) + 5, max(0, int(x) - 4) : int(x + bw) + 5] = True
    for _ in range(n):
        v = donors.vessels[int(rng.integers(len(donors.vessels)))]
        f = v.ground_px_m / px
        k, flip = int(rng.integers(4)), bool(rng.integers(2))
        vd = _orient(resample(v.d, f).astype(np.float64), k, flip)
        vm = _orient(resample(v.mask, f, nearest=True).astype(bool), k, flip)
        h, w = vm.shape
        if not vm.any() or h >= size or w >= size:
            continue
        for _try in range(60):
            r, c = int(rng.integers(size - h)), int(rng.integers(size - w))
            box = (slice(max(0, r - 4), r + h + 4), slice(max(0, c - 4), c + w + 4))
            if water[box].all() and not taken[box].any():
                d[r : r + h, c : c + w][vm] = vd[vm]
                taken[box] = True
                rows, cols = np.nonzero(vm)
                bx = [
                    c + int(cols.min()),
                    r + int(rows.min()),
                    int(cols.max() - cols.min() + 1),
                    int(rows.max() - rows.min() + 1),
                ]
                ships.append({"bbox": bx, "source": v.source, "source_label_id": v.label_id})
                if v.source not in sources:
                    sources.append(v.source)
                break
    return d, water, ships, wd, sources


@cache
def _access(tle_text: str, lat_r: float, lon_r: float, start: datetime) -> Access:
    accesses = access_times(parse_tle_model(tle_text), lat_r, lon_r, start, start + CAPTURE_SPAN)
    if not accesses:
        raise ManifestError(
            f"no daylight imaging opportunity at ({lat_r:.2f}, {lon_r:.2f}) within "
            f"{CAPTURE_SPAN} of {start.isoformat()}"
        )
    return accesses[0]


def _capture_time(tle, lat: float, lon: float, start: datetime, k: int) -> datetime:
    """When frame ``k`` at (lat, lon) is captured: the first daylight opportunity of its
    place (searched once per half degree), plus 2 s per frame so that times are unique."""
    acc = _access(tle.text, round(lat * 2) / 2, round(lon * 2) / 2, start)
    t = acc.time_utc + timedelta(seconds=2 * k)
    return t.replace(microsecond=0)


def _maritime(
    base: Manifest,
    scenario: Scenario,
    cset: ClassifierSet,
    choice: str,
    data_dir: Path,
    out_dir: Path,
) -> tuple[list[Frame], list[str]]:
    from rasterio.crs import CRS
    from rasterio.transform import from_origin
    from rasterio.warp import transform as warp_transform

    spec = scenario.maritime_spec
    ports = sen2ships.ports(data_dir)
    candidates = [cset.get(choice)] if choice != AUTO else [cset.shipped, *cset.auto_choices]
    donors = {}
    for c in candidates:
        dn = _unseen_donors(c, data_dir, ports)
        if dn.vessels and dn.water:
            donors[c.name] = dn
    if not donors:
        names = ", ".join(c.name for c in candidates)
        raise ManifestError(
            f"scenario maritime: every classifier ({names}) was trained on every port holding "
            "labelled vessels (or no unseen scene has open water): the frames could not be "
            "out of sample"
        )
    order = [c for c in candidates if c.name in donors]
    rng = np.random.default_rng([spec.seed, 11])
    cloud_rng = np.random.default_rng([scenario.clouds.seed if scenario.clouds else 0, 13])
    available = available_cloud_sources(data_dir) if scenario.clouds else []
    if scenario.clouds and not available:
        raise ManifestError(f"scenario.clouds: no cloud imagery in {data_dir / 'clouds'}")
    tle = base.orbit.tle
    assert tle is not None
    frames: list[Frame] = []
    credits: list[str] = []
    size = spec.frame_px
    for k in range(spec.frames):
        c = order[k % len(order)]
        d, _water, ships, wd, sources = _maritime_frame(size, donors[c.name], spec, rng)
        # where: on the water donor's meridian, frame k (k + 1) x 1.2 frame sides south of it
        lat = wd.lat - (k + 1) * 1.2 * size * wd.ground_px_m / 111_000.0
        lon = wd.lon
        merc_px = wd.ground_px_m / math.cos(math.radians(lat))
        xs, ys = warp_transform(CRS.from_epsg(4326), CRS.from_epsg(3857), [lon], [lat])
        transform = from_origin(
            xs[0] - size * merc_px / 2, ys[0] + size * merc_px / 2, merc_px, merc_px
        )
        name = f"maritime-{k + 1:03d}"
        when = _capture_time(tle, lat, lon, base.window_start_utc, k)
        if when > base.window_end_utc:
            raise ManifestError(
                f"scenario maritime: frame {name} (water of {wd.source}, classified by "
                f"{c.name}) has its first daylight imaging opportunity at "
                f"{when.isoformat()}, after window_end_utc "
                f"{base.window_end_utc.isoformat()}: lengthen the simulated window"
            )
        f = Frame(
            frame_id=0,
            scene=name,
            bands=sentinel2_band_sources(name),
            window=PixelWindow(row0=0, col0=0, rows=size, cols=size),
            capture_time_utc=when,
            gain_source=sen2ships.GAIN_SOURCE,
            nodata=0,
            dn_scale=sen2ships.DN_SCALE,
            labels=Labels(path=f"{name}/ships.coco.json"),
        )
        alpha = shadow = mask = None
        frac = None
        truth_extra: dict = {"water": wd.source, "sources": sources}
        if scenario.clouds is not None:
            layer = _cloud_layer_for(
                f,
                scenario.clouds,
                c,
                available,
                data_dir,
                (size, size),
                wd.ground_px_m,
                (lon, lat),
                cloud_rng,
            )
            d = layer.apply(d)
            alpha, shadow, mask = layer.alpha, layer.shadow, layer.mask
            frac = round(layer.fraction, 4)
            sources += [s for s in layer.sources if s not in sources]
            truth_extra["frames"] = [_layer_truth(layer, [0, 0, size, size], f.capture_time_utc)]
        truth = []
        for i, s in enumerate(ships):
            x, y, bw, bh = (float(v) for v in s["bbox"])
            truth.append(
                {
                    "id": i + 1,
                    "bbox": [x, y, bw, bh],
                    "area": bw * bh,
                    **s,
                    **_ship_flags((x, y, bw, bh), alpha, shadow),
                }
            )
            truth[-1]["bbox"] = [x, y, bw, bh]
        _write_scene(
            out_dir / name,
            d,
            transform,
            CRS.from_epsg(3857),
            truth,
            alpha,
            f"maritime frame {k + 1} (seed {spec.seed}), exact truth",
            {"classifier": c.name, **truth_extra},
            mask=mask,
        )
        frames.append(
            f.model_copy(
                update={
                    "sources": sources,
                    "model": c.name,
                    "cloud_fraction": frac,
                    "attribution": _credits(sources),
                }
            )
        )
        credits += [credit_for(s) for s in sources]
    return frames, credits


def _credits(sources: list[str]) -> str:
    """The imagery credits of a frame's sources, in one line."""
    return "; ".join(dict.fromkeys(credit_for(s) for s in sources))


def parse_tle_model(text: str) -> Tle:
    name, l1, l2 = text.strip().splitlines()
    return Tle(name=name, line1=l1, line2=l2)


# ---------------------------------------------------------------------------------------
# realize


def realize(
    manifest: Manifest,
    out_dir: Path,
    *,
    data_dir: Path | None = None,
    registry: Path | None = None,
) -> Path:
    """Build a scenario manifest's frames into ``out_dir`` (created; must not exist) and
    write ``out_dir/manifest.json``; its path. A ``ports`` scenario without clouds lists
    the data folder's files (nothing is copied)."""
    scenario = manifest.scenario
    if scenario is None:
        raise ManifestError("the manifest has no scenario to build")
    data_dir = Path(data_dir or paths.data_dir())
    if not (data_dir / "sen2ships").is_dir():
        raise ManifestError(f"scenario {scenario.kind}: no sen2ships/ folder in {data_dir}")
    cset = load_classifiers(registry)
    choice = resolve_choice(scenario.model, cset)
    out_dir = Path(out_dir)
    tmp = out_dir.parent / f".{out_dir.name}.partial-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        frames, credits = _frames_for(manifest, scenario, cset, choice, data_dir, tmp)
        attribution = list(dict.fromkeys([*manifest.attribution, *credits]))
        done = manifest.model_copy(update={"frames": _number(frames), "attribution": attribution})
        dump_manifest(done, tmp / MANIFEST_NAME)
        load_manifest(tmp / MANIFEST_NAME)  # it validates as written
        if out_dir.exists():
            shutil.rmtree(out_dir)
        tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir / MANIFEST_NAME


def _frames_for(manifest, scenario, cset, choice, data_dir, tmp) -> tuple[list[Frame], list[str]]:
    if scenario.kind == "maritime":
        return _maritime(manifest, scenario, cset, choice, data_dir, tmp)
    ports = tuple(scenario.ports) if scenario.ports else None
    base, _ = build_real_manifest(
        data_dir, ports=ports, max_frame_px=scenario.max_frame_px, epoch=manifest.window_start_utc
    )
    base_frames = [f for f in base.frames if f.sources and f.sources[0].startswith("sen2ships/")]
    base = base.model_copy(update={"frames": base_frames})
    if scenario.clouds is None:
        return base_frames, [COPERNICUS_ATTRIBUTION, SEN2SHIPS_CREDIT]
    frames, credits = _ports_with_clouds(base, scenario, cset, choice, data_dir, tmp)
    return frames, [COPERNICUS_ATTRIBUTION, SEN2SHIPS_CREDIT, *credits]


def scenario_key(manifest: Manifest, data_dir: Path, registry: Path | None) -> str:
    """A digest of everything a realization depends on: the scenario, the orbit and window,
    the data folder, the classifier registry and this module's code."""
    h = hashlib.sha256()
    h.update(manifest.model_dump_json(include={"scenario", "orbit", "window_start_utc"}).encode())
    h.update(str(Path(data_dir).resolve()).encode())
    reg = load_classifiers(registry)
    h.update(reg.model_dump_json().encode())
    for mod in (__file__, Path(__file__).with_name("sources.py")):
        h.update(Path(mod).read_bytes())
    return h.hexdigest()[:16]


def realized(
    manifest_path: Path, *, registry: Path | None = None, cache: Path | None = None
) -> Path:
    """The path of a manifest with frames: ``manifest_path`` itself when it lists frames,
    else its scenario built once into ``<build dir>/sim-scenarios/<key>/`` (shared by
    every run and sweep point asking for the same scenario)."""
    import fcntl

    m = load_manifest(manifest_path)
    if m.frames:
        return Path(manifest_path)
    data_dir = paths.data_dir()
    key = scenario_key(m, data_dir, registry)
    root = Path(cache or paths.build_dir() / "sim-scenarios")
    root.mkdir(parents=True, exist_ok=True)
    folder = root / key
    with open(root / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not (folder / MANIFEST_NAME).exists():
                realize(m, folder, data_dir=data_dir, registry=registry)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    # the realized frames with this manifest's own link, stations, loss and window
    built = load_manifest(folder / MANIFEST_NAME)
    frames_only = m.model_copy(update={"frames": built.frames, "attribution": built.attribution})
    out = root / f"{key}-{hashlib.sha256(m.model_dump_json().encode()).hexdigest()[:12]}.json"
    if not out.exists():
        tmp = out.with_suffix(f".partial-{os.getpid()}")
        rel = frames_only.model_copy(
            update={"frames": [_rebase(f, folder) for f in frames_only.frames]}
        )
        dump_manifest(rel, tmp)
        tmp.replace(out)
    return out


def _rebase(f: Frame, folder: Path) -> Frame:
    """A realized frame's relative paths made relative to the cache root."""

    def fix(p: str) -> str:
        return p if p.startswith("data:") or Path(p).is_absolute() else f"{folder.name}/{p}"

    bands = {k: b.model_copy(update={"path": fix(b.path)}) for k, b in f.bands.items()}
    labels = f.labels.model_copy(update={"path": fix(f.labels.path)}) if f.labels else None
    return f.model_copy(update={"bands": bands, "labels": labels})


def scenario_manifest(
    scenario: Scenario,
    *,
    name: str | None = None,
    link: str = "uhf",
    stations: tuple[str, ...] = ("svalbard", "delft"),
    epoch: datetime = DEFAULT_EPOCH,
    loss: PacketLoss = DEFAULT_LOSS,
    span: timedelta = SIM_SPAN,
    policy: PolicyThresholds | None = None,
) -> Manifest:
    """A manifest that holds only a scenario (no frames yet): the simulator builds the
    frames (:func:`realized`), or :func:`realize` writes them. ``policy``: decision
    thresholds replacing the classifiers' (``onboard.policy``; e.g.
    :data:`MARITIME_PRODUCTS`)."""
    if link not in LINKS:
        raise ManifestError(f"unknown link {link!r} (known: {', '.join(LINKS)})")
    clouds = (
        f", cloud mean {scenario.clouds.mean:g}" if scenario.clouds is not None else ", no cloud"
    )
    what = (
        f"{scenario.maritime_spec.frames} maritime frames of {scenario.maritime_spec.frame_px} px"
        if scenario.kind == "maritime"
        else f"ports {', '.join(scenario.ports) if scenario.ports else '(all)'}"
    )
    return Manifest(
        name=name or f"{scenario.kind}: {what}{clouds}",
        description="Scenario frames built from real imagery (triage.sim.scenarios).",
        frames=[],
        scenario=scenario,
        orbit=Orbit(tle=sun_synchronous_tle(epoch)),
        stations=[STATIONS[s] for s in stations],
        link=LINKS[link],
        packet_loss=loss,
        window_start_utc=epoch,
        window_end_utc=epoch + span,
        onboard=Onboard(policy=policy),
    )
