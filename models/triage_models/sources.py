"""Readers for the real imagery, each returning frames on the canonical scale.

The canonical scale is reflectance x 65535 in uint16 (see ``tile_spec.json``).
Per source:

- ``sen2ships`` (Sentinel-2 L2A ports): bands B02, B03, B04, B08 are already
  reflectance x 65535 (checked: water 0.011-0.024, saturation = 1.0), so they
  are used as they are (the gain 256 of the tile spec); B11 (SWIR) is read for
  the cloud labelling rule only, the network never sees it.
- ``ukis_csmask`` (float32 reflectance): ``round(reflectance * 65535)``, clipped.
- ``38-Cloud`` (Landsat-8 L1 uint16 DN): top-of-atmosphere reflectance
  ``2e-5 * DN - 0.1`` (the Landsat-8 reflectance rescaling), then x 65535, clipped.

Every error names the file at fault.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from triage.contract import sen2ships
from triage.contract.errors import DataMissingError, InputDataError
from triage.contract.sen2ships import read_band, read_boxes
from triage_models.tiles import CANONICAL_MAX, tile_spec

PORTS = (
    "algiers",
    "busan",
    "cartagena",
    "casablanca",
    "gdynia",
    "hedland",
    "honolulu",
    "marseille",
    "valencia",
)
LABEL_BANDS = ("B11",)  # read for labelling only
UKIS_IMAGES = ("sentinel2", "landsat7", "landsat5")
UKIS_CLOUD, UKIS_WATER = 4, 1
L8_REFL_MULT, L8_REFL_ADD = 2e-5, -0.1


@dataclass
class PortScene:
    """One sen2ships port: the model's bands, SWIR for labelling, and the ship boxes."""

    name: str
    frame: np.ndarray  # [H, W, C] uint16, band order of the tile spec
    swir: np.ndarray  # [H, W] uint16 (B11)
    boxes: np.ndarray  # [N, 4] float64, x, y, w, h in pixels
    files: list[Path] = field(default_factory=list)


@dataclass
class CloudImage:
    """A real cloud-labelled image on the canonical scale with its per-pixel masks."""

    name: str
    frame: np.ndarray  # [H, W, C] uint16 canonical
    cloud: np.ndarray  # [H, W] bool
    water: np.ndarray  # [H, W] bool (False where unknown)
    files: list[Path] = field(default_factory=list)


def _read_band(path: Path, shape: tuple[int, int] | None) -> np.ndarray:
    return read_band(path, shape)[0]


def read_port(data_dir: Path, name: str) -> PortScene:
    """Read one port of ``sen2ships`` (all bands on one grid, uint16)."""
    frame, grid = sen2ships.read_bands(name, data_dir=data_dir)
    shape = (grid.rows, grid.cols)
    files = [sen2ships.band_path(name, b.sentinel2, data_dir) for b in tile_spec().bands]
    swir_path = sen2ships.band_path(name, LABEL_BANDS[0], data_dir)
    swir = _read_band(swir_path, shape)
    coco = sen2ships.labels_path(name, data_dir)
    boxes = read_boxes(coco, shape)
    return PortScene(name, frame, swir, boxes, [*files, swir_path, coco])


def _to_canonical(refl: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(refl * CANONICAL_MAX), 0, CANONICAL_MAX).astype(np.uint16)


def read_ukis(data_dir: Path, name: str) -> CloudImage:
    path = Path(data_dir) / "clouds" / "ukis_csmask" / f"{name}.npz"
    if not path.is_file():
        raise DataMissingError(f"cloud image missing: {path}")
    try:
        with np.load(path) as npz:
            img, msk = npz["img"], npz["msk"]
    except (KeyError, ValueError, OSError) as exc:
        raise InputDataError(f"{path}: expected arrays 'img' and 'msk' ({exc})") from exc
    if img.ndim != 3 or img.shape[2] < 4 or msk.shape[:2] != img.shape[:2]:
        raise InputDataError(f"{path}: img {img.shape} / msk {msk.shape} are not [H,W,6]/[H,W,1]")
    msk = msk.reshape(img.shape[:2])
    frame = _to_canonical(img[..., :4].astype(np.float64))  # blue, green, red, NIR
    return CloudImage(f"ukis_{name}", frame, msk == UKIS_CLOUD, msk == UKIS_WATER, [path])


def read_38cloud(data_dir: Path) -> CloudImage:
    folder = Path(data_dir) / "clouds" / "38cloud"
    files = [folder / f"{b}.tif" for b in ("blue", "green", "red", "nir")]
    first = _read_band(files[0], None)
    dn = np.stack([first] + [_read_band(p, first.shape) for p in files[1:]], axis=-1)
    gt_path = folder / "gt.tif"
    import rasterio

    if not gt_path.is_file():
        raise DataMissingError(f"cloud mask missing: {gt_path}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rasterio.open(gt_path) as src:
            gt = src.read(1)
    if gt.shape != first.shape:
        raise InputDataError(f"{gt_path}: size {gt.shape} differs from the bands {first.shape}")
    refl = dn.astype(np.float64) * L8_REFL_MULT + L8_REFL_ADD
    frame = _to_canonical(np.where(dn == 0, 0.0, refl))
    return CloudImage("38cloud", frame, gt > 0, np.zeros_like(gt, dtype=bool), [*files, gt_path])


def read_cloud_images(data_dir: Path) -> list[CloudImage]:
    return [read_ukis(data_dir, n) for n in UKIS_IMAGES] + [read_38cloud(data_dir)]
