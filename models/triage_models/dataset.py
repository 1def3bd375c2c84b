"""The labelled tile dataset built from the real imagery, cached on disk.

Labelling rules (documented in MODEL_CARD.md; tiles are the on-board grid of
``tile_spec.json``: ``tile_px`` squares at ``stride_px``, see ``tile_origins``):

Port scenes (sen2ships):

- a tile **holds a ship** when the centre of a COCO box lies inside it;
- **ship**: the tile holds a ship, or covers at least half of a box's area;
- **ignored** (not trained on, not scored per class): the tile cuts a box but
  is not a ship tile (a sliver of a ship at its border);
- **cloud**: at least half of its pixels are cloud pixels: all visible bands
  above reflectance 0.25, whitish ((max - min) / max of blue, green, red below
  0.2), NIR above 0.25 and SWIR (B11) above 0.2;
- ignored: between 10 % and 50 % cloud pixels;
- **sea**: at least 90 % water pixels, water being NDWI = (green - NIR) /
  (green + NIR) > 0;
- **land**: everything else (coast, quays, port basins with less than 90 % water).

Cloud images (ukis-csmask, 38-Cloud, oncloudn), from their real per-pixel masks:
cloud when at least half is cloud, ignored from 5 % to 50 %, else sea when at
least 90 % is water (ukis water class; NDWI > 0 for 38-Cloud), else land.

The cache key hashes the source files, the tile spec and the code of this
module and of :mod:`triage_models.sources`, so a change of either rebuilds.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from triage.contract.errors import DataMissingError
from triage_models import paths, sources
from triage_models.tiles import file_sha256, tile_origins, tile_spec

IGNORE = -1
SHIP_MIN_BOX_FRACTION = 0.5
CLOUD_MIN_FRACTION = 0.5
PORT_CLOUD_IGNORE_FRACTION = 0.1
CLOUDIMG_IGNORE_FRACTION = 0.05
SEA_MIN_WATER_FRACTION = 0.9
CLOUD_PIXEL_MIN_VIS = 0.25
CLOUD_PIXEL_MAX_SPREAD = 0.2
CLOUD_PIXEL_MIN_NIR = 0.25
CLOUD_PIXEL_MIN_SWIR = 0.2


@dataclass
class TileDataset:
    """Frames (ports first, then cloud images) and the labelled grid tiles over them."""

    names: list[str]  # one per frame
    is_port: np.ndarray  # [F] bool
    frames: list[np.ndarray]  # [H, W, C] uint16 canonical
    cloud_masks: list[np.ndarray]  # [H, W] bool (port: the cloud-pixel rule)
    water_masks: list[np.ndarray]  # [H, W] bool (the water rule of the frame's labels)
    boxes: np.ndarray  # [B, 5] float64: frame, x, y, w, h
    tile_frame: np.ndarray  # [N] int32
    tile_yx: np.ndarray  # [N, 2] int32
    tile_label: np.ndarray  # [N] int8 class id or IGNORE
    tile_centres: np.ndarray  # [N] int16 number of box centres inside
    tile_water: np.ndarray  # [N] float32 water fraction
    tile_cloud: np.ndarray  # [N] float32 cloud fraction
    key: str
    poly_box: np.ndarray = None  # [P] int32: the box (row of ``boxes``) of each vertex
    poly_xy: np.ndarray = None  # [P, 2] float64: (x, y) vertices of the vessels' outlines

    def polygon(self, box: int) -> np.ndarray:
        """``[K, 2]`` (x, y) outline of box ``box`` (its COCO polygon, or its corners)."""
        return self.poly_xy[self.poly_box == box]

    def tiles(self, idx: np.ndarray) -> np.ndarray:
        """Raw uint16 tiles ``[len(idx), T, T, C]`` of grid tiles ``idx``."""
        t = tile_spec().tile_px
        out = np.empty((len(idx), t, t, self.frames[0].shape[2]), np.uint16)
        for j, i in enumerate(np.asarray(idx)):
            y, x = self.tile_yx[i]
            out[j] = self.frames[self.tile_frame[i]][y : y + t, x : x + t]
        return out

    def frame_index(self, name: str) -> int:
        return self.names.index(name)


def _integral(mask: np.ndarray) -> np.ndarray:
    s = np.zeros((mask.shape[0] + 1, mask.shape[1] + 1), np.int64)
    s[1:, 1:] = np.cumsum(np.cumsum(mask, axis=0), axis=1)
    return s


def _tile_fractions(mask: np.ndarray, yx: np.ndarray, t: int) -> np.ndarray:
    s = _integral(mask)
    y, x = yx[:, 0], yx[:, 1]
    tot = s[y + t, x + t] - s[y, x + t] - s[y + t, x] + s[y, x]
    return (tot / float(t * t)).astype(np.float32)


def grid_origins(shape: tuple[int, int]) -> np.ndarray:
    ys, xs = tile_origins(shape[0]), tile_origins(shape[1])
    return np.array([(y, x) for y in ys for x in xs], dtype=np.int32).reshape(-1, 2)


def box_stats(yx: np.ndarray, boxes: np.ndarray, t: int) -> tuple[np.ndarray, np.ndarray]:
    """Per tile: number of box centres inside, and the largest covered fraction of a box."""
    n = len(yx)
    centres = np.zeros(n, np.int16)
    frac = np.zeros(n, np.float32)
    if len(boxes) == 0:
        return centres, frac
    y0 = yx[:, 0:1].astype(np.float64)
    x0 = yx[:, 1:2].astype(np.float64)
    bx, by, bw, bh = (boxes[:, k][None, :] for k in range(4))
    cx, cy = bx + bw / 2, by + bh / 2
    inside = (cx >= x0) & (cx < x0 + t) & (cy >= y0) & (cy < y0 + t)
    iw = np.clip(np.minimum(bx + bw, x0 + t) - np.maximum(bx, x0), 0, None)
    ih = np.clip(np.minimum(by + bh, y0 + t) - np.maximum(by, y0), 0, None)
    cover = iw * ih / (bw * bh)
    return inside.sum(axis=1).astype(np.int16), cover.max(axis=1).astype(np.float32)


def port_cloud_pixels(frame: np.ndarray, swir: np.ndarray) -> np.ndarray:
    m = 65535.0
    vis = frame[..., :3].astype(np.float32)
    vmin, vmax = vis.min(axis=-1), vis.max(axis=-1)
    return (
        (vmin > CLOUD_PIXEL_MIN_VIS * m)
        & ((vmax - vmin) < CLOUD_PIXEL_MAX_SPREAD * np.maximum(vmax, 1.0))
        & (frame[..., 3] > CLOUD_PIXEL_MIN_NIR * m)
        & (swir > CLOUD_PIXEL_MIN_SWIR * m)
    )


def ndwi_water(frame: np.ndarray) -> np.ndarray:
    g = frame[..., 1].astype(np.int32)
    n = frame[..., 3].astype(np.int32)
    return g > n  # NDWI = (g - n) / (g + n) > 0


def label_port_tiles(centres, box_frac, cloud_frac, water_frac) -> np.ndarray:
    spec = tile_spec()
    lab = np.full(len(centres), spec.class_id("land"), np.int8)
    lab[water_frac >= SEA_MIN_WATER_FRACTION] = spec.class_id("sea")
    lab[cloud_frac > PORT_CLOUD_IGNORE_FRACTION] = IGNORE
    lab[cloud_frac >= CLOUD_MIN_FRACTION] = spec.class_id("cloud")
    lab[box_frac > 0] = IGNORE
    lab[(centres > 0) | (box_frac >= SHIP_MIN_BOX_FRACTION)] = spec.class_id("ship")
    return lab


def label_cloud_tiles(cloud_frac, water_frac) -> np.ndarray:
    spec = tile_spec()
    lab = np.full(len(cloud_frac), spec.class_id("land"), np.int8)
    lab[water_frac >= SEA_MIN_WATER_FRACTION] = spec.class_id("sea")
    lab[cloud_frac > CLOUDIMG_IGNORE_FRACTION] = IGNORE
    lab[cloud_frac >= CLOUD_MIN_FRACTION] = spec.class_id("cloud")
    return lab


def source_files(data_dir: Path) -> list[Path]:
    spec = tile_spec()
    out = []
    for port in sources.PORTS:
        folder = data_dir / "sen2ships" / port
        out += [folder / f"{b.sentinel2}.tif" for b in spec.bands]
        out += [folder / f"{b}.tif" for b in sources.LABEL_BANDS]
        out.append(folder / "ships.coco.json")
    out += [data_dir / "clouds" / "ukis_csmask" / f"{n}.npz" for n in sources.UKIS_IMAGES]
    out += [data_dir / "clouds" / "38cloud" / f"{b}.tif" for b in ("blue", "green", "red", "nir")]
    out.append(data_dir / "clouds" / "38cloud" / "gt.tif")
    for chip in sources.ONCLOUDN_CHIPS:
        folder = data_dir / "clouds" / "oncloudn" / chip
        out += [folder / f"{b}.tif" for b in (*sources.ONCLOUDN_BANDS, "label")]
    return out


def cache_key(data_dir: Path) -> str:
    h = hashlib.sha256()
    for f in source_files(data_dir):
        if not f.is_file():
            raise DataMissingError(f"source file missing: {f}")
        h.update(f"{f.relative_to(data_dir)}:{file_sha256(f)}\n".encode())
    h.update(file_sha256(paths.tile_spec_path()).encode())
    for mod in (Path(__file__), Path(sources.__file__)):
        h.update(file_sha256(mod).encode())
    return h.hexdigest()[:16]


def build(data_dir: Path) -> TileDataset:
    """Read every source and label the grid tiles (no cache)."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataMissingError(f"data directory not found: {data_dir}")
    t = tile_spec().tile_px
    names, is_port, frames, clouds, waters, boxes, polys = [], [], [], [], [], [], []
    tf, tyx, tl, tc, tw, tcl = [], [], [], [], [], []
    for port in sources.PORTS:
        scene = sources.read_port(data_dir, port)
        fi = len(frames)
        yx = grid_origins(scene.frame.shape[:2])
        cloud = port_cloud_pixels(scene.frame, scene.swir)
        cfrac = _tile_fractions(cloud, yx, t)
        water = ndwi_water(scene.frame)
        wfrac = _tile_fractions(water, yx, t)
        first = sum(len(b) for b in boxes)
        polys += [
            np.column_stack([np.full(len(p), first + j), p]) for j, p in enumerate(scene.polygons)
        ]
        centres, bfrac = box_stats(yx, scene.boxes, t)
        names.append(port)
        is_port.append(True)
        frames.append(scene.frame)
        clouds.append(cloud)
        waters.append(water)
        boxes.append(np.column_stack([np.full(len(scene.boxes), fi), scene.boxes]))
        tf.append(np.full(len(yx), fi, np.int32))
        tyx.append(yx)
        tl.append(label_port_tiles(centres, bfrac, cfrac, wfrac))
        tc.append(centres)
        tw.append(wfrac)
        tcl.append(cfrac)
    for img in sources.read_cloud_images(data_dir):
        fi = len(frames)
        yx = grid_origins(img.frame.shape[:2])
        water = img.water if img.water.any() else ndwi_water(img.frame)
        cfrac = _tile_fractions(img.cloud, yx, t)
        wfrac = _tile_fractions(water & ~img.cloud, yx, t)
        names.append(img.name)
        is_port.append(False)
        frames.append(img.frame)
        clouds.append(img.cloud)
        waters.append(water & ~img.cloud)
        tf.append(np.full(len(yx), fi, np.int32))
        tyx.append(yx)
        tl.append(label_cloud_tiles(cfrac, wfrac))
        tc.append(np.zeros(len(yx), np.int16))
        tw.append(wfrac)
        tcl.append(cfrac)
    return TileDataset(
        names=names,
        is_port=np.array(is_port),
        frames=frames,
        cloud_masks=clouds,
        water_masks=waters,
        boxes=np.concatenate(boxes).astype(np.float64),
        tile_frame=np.concatenate(tf),
        tile_yx=np.concatenate(tyx),
        tile_label=np.concatenate(tl),
        tile_centres=np.concatenate(tc),
        tile_water=np.concatenate(tw),
        tile_cloud=np.concatenate(tcl),
        key=cache_key(data_dir),
        poly_box=np.concatenate([p[:, 0] for p in polys]).astype(np.int32),
        poly_xy=np.concatenate([p[:, 1:] for p in polys]).astype(np.float64),
    )


def _save(ds: TileDataset, path: Path) -> None:
    arrays = {f"frame_{i}": f for i, f in enumerate(ds.frames)}
    arrays |= {f"cloud_{i}": c for i, c in enumerate(ds.cloud_masks)}
    arrays |= {f"water_{i}": c for i, c in enumerate(ds.water_masks)}
    tmp = path.with_suffix(".tmp.npz")
    np.savez(
        tmp,
        names=np.array(ds.names),
        is_port=ds.is_port,
        boxes=ds.boxes,
        tile_frame=ds.tile_frame,
        tile_yx=ds.tile_yx,
        tile_label=ds.tile_label,
        tile_centres=ds.tile_centres,
        tile_water=ds.tile_water,
        tile_cloud=ds.tile_cloud,
        poly_box=ds.poly_box,
        poly_xy=ds.poly_xy,
        **arrays,
    )
    tmp.replace(path)


def _load(path: Path, key: str) -> TileDataset:
    with np.load(path) as z:
        names = [str(n) for n in z["names"]]
        return TileDataset(
            names=names,
            is_port=z["is_port"],
            frames=[z[f"frame_{i}"] for i in range(len(names))],
            cloud_masks=[z[f"cloud_{i}"] for i in range(len(names))],
            water_masks=[z[f"water_{i}"] for i in range(len(names))],
            boxes=z["boxes"],
            tile_frame=z["tile_frame"],
            tile_yx=z["tile_yx"],
            tile_label=z["tile_label"],
            tile_centres=z["tile_centres"],
            tile_water=z["tile_water"],
            tile_cloud=z["tile_cloud"],
            key=key,
            poly_box=z["poly_box"],
            poly_xy=z["poly_xy"],
        )


def dataset_path(data_dir: Path) -> Path:
    return paths.cache_dir() / f"dataset-{cache_key(Path(data_dir))}.npz"


def load_or_build(data_dir: Path, rebuild: bool = False) -> tuple[TileDataset, bool]:
    """The dataset from the cache, built first when absent or stale; ``(dataset, built)``."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataMissingError(f"data directory not found: {data_dir}")
    key = cache_key(data_dir)
    path = paths.cache_dir() / f"dataset-{key}.npz"
    if path.exists() and not rebuild:
        return _load(path, key), False
    ds = build(data_dir)
    _save(ds, path)
    return ds, True


def summary(ds: TileDataset) -> dict:
    """Counts per frame and class (for the CLI and the model card)."""
    spec = tile_spec()
    out = {"key": ds.key, "frames": {}}
    for fi, name in enumerate(ds.names):
        lab = ds.tile_label[ds.tile_frame == fi]
        counts = {c: int((lab == k).sum()) for k, c in enumerate(spec.classes)}
        counts["ignored"] = int((lab == IGNORE).sum())
        counts["boxes"] = int((ds.boxes[:, 0] == fi).sum())
        out["frames"][name] = counts
    return out
