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
- ``oncloudn`` (Sentinel-2 L2A chips, uint16 DN = reflectance x 10000, no offset,
  expert cloud masks ``label.tif``: 1 cloud, 0 clear): ``round(DN * 65535 / 10000)``.
- ``coastal`` (Sentinel-2 L2A chips, one 7-band file B02 B03 B04 B06 B08 B11 SCL, the
  processing-baseline-04 offset): reflectance ``DN / 10000 - 0.1``, then x 65535,
  clipped; SCL (Sen2Cor's automatic scene classification) is kept as a weak label.

Every error names the file at fault.
"""

from __future__ import annotations

import json
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
    "athens",
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
ONCLOUDN_CHIPS = ("chip_1", "chip_2", "chip_3")
ONCLOUDN_BANDS = tuple(b.sentinel2 for b in tile_spec().bands)  # the network's bands
ONCLOUDN_DN_PER_REFLECTANCE = 10000
COASTAL_CHIPS = ("accra", "limassol")
COASTAL_BANDS = ("B02", "B03", "B04", "B06", "B08", "B11", "SCL")
# the network's bands (B02, B03, B04, B08) in the file's band order
COASTAL_MODEL_BANDS = tuple(COASTAL_BANDS.index(b) for b in ONCLOUDN_BANDS)
COASTAL_DN_PER_REFLECTANCE, COASTAL_OFFSET = 10000, -0.1
SCL_WATER, SCL_CLOUD = 6, (8, 9, 10)
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
    polygons: list[np.ndarray] = field(default_factory=list)  # per box: [K, 2] (x, y) vertices


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


def _polygon(ann: dict, box: np.ndarray) -> np.ndarray:
    """The vessel's outline ``[K, 2]`` (x, y): its COCO polygon (the largest part when there
    are several), or the box's corners when the annotation has none."""
    seg = ann.get("segmentation")
    parts = []
    if isinstance(seg, list):
        parts = [np.asarray(p, np.float64).reshape(-1, 2) for p in seg if len(p) >= 6]
    if not parts:
        x, y, w, h = box
        return np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], np.float64)
    return max(parts, key=len)


def read_annotations(path: Path, shape: tuple[int, int]) -> tuple[np.ndarray, list[np.ndarray]]:
    """COCO boxes ``[N, 4]`` (x, y, w, h; read and checked by the contract's
    :func:`triage.contract.sen2ships.read_boxes`) and the vessels' outlines."""
    boxes = read_boxes(path, shape)
    try:
        anns = json.loads(Path(path).read_text())["annotations"]
        polys = [_polygon(a, b) for a, b in zip(anns, boxes, strict=True)]
    except (KeyError, TypeError, ValueError) as exc:
        raise InputDataError(f"{path}: a segmentation is not a COCO polygon ({exc})") from exc
    return boxes, polys


def read_port(data_dir: Path, name: str) -> PortScene:
    """Read one port of ``sen2ships`` (all bands on one grid, uint16)."""
    frame, grid = sen2ships.read_bands(name, data_dir=data_dir)
    shape = (grid.rows, grid.cols)
    files = [sen2ships.band_path(name, b.sentinel2, data_dir) for b in tile_spec().bands]
    swir_path = sen2ships.band_path(name, LABEL_BANDS[0], data_dir)
    swir = _read_band(swir_path, shape)
    coco = sen2ships.labels_path(name, data_dir)
    boxes, polys = read_annotations(coco, shape)
    return PortScene(name, frame, swir, boxes, [*files, swir_path, coco], polys)


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


SENTINEL2_CLOUD_IMAGES = ("ukis_sentinel2", *(f"oncloudn_{c}" for c in ONCLOUDN_CHIPS))
"""The cloud images that are Sentinel-2 (the others are Landsat 5, 7 and 8)."""


def read_cloud_images(data_dir: Path) -> list[CloudImage]:
    return (
        [read_ukis(data_dir, n) for n in UKIS_IMAGES]
        + [read_38cloud(data_dir)]
        + [read_oncloudn(data_dir, c) for c in ONCLOUDN_CHIPS]
    )


def _read_raster(path: Path):
    """``(array [bands, H, W], crs, descriptions)`` of a raster file, or a clear error."""
    import rasterio

    if not path.is_file():
        raise DataMissingError(f"raster missing: {path}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with rasterio.open(path) as src:
                return src.read(), src.crs, tuple(src.descriptions)
    except rasterio.errors.RasterioIOError as exc:
        raise InputDataError(f"{path}: unreadable raster ({exc})") from exc


def _check_sentinel2_scale(path: Path, refl: np.ndarray, valid: np.ndarray) -> None:
    """A Sentinel-2 chip on the scale its reader assumes has a median reflectance between
    0.005 and 0.6 over valid pixels; anything else is another scale (e.g. reflectance x 65535
    read as x 10000 gives 0.1-6)."""
    med = float(np.median(refl[valid])) if valid.any() else 0.0
    if not 0.005 <= med <= 0.6:
        raise InputDataError(
            f"{path}: median reflectance {med:.3f} on the assumed scale is implausible "
            "(another DN scale or offset?)"
        )


def read_oncloudn(data_dir: Path, chip: str) -> CloudImage:
    """One oncloudn chip: B02, B03, B04, B08 (DN = reflectance x 10000) and its expert mask."""
    folder = Path(data_dir) / "clouds" / "oncloudn" / chip
    if not folder.is_dir():
        raise DataMissingError(f"cloud chip folder missing: {folder}")
    files = [folder / f"{b}.tif" for b in ONCLOUDN_BANDS]
    crs = None
    bands = []
    for p in [*files, folder / "label.tif"]:
        arr, c, _ = _read_raster(p)
        if arr.shape[0] != 1:
            raise InputDataError(f"{p}: expected 1 band, found {arr.shape[0]}")
        if crs is None:
            crs = c
        elif c != crs:
            raise InputDataError(f"{p}: CRS {c} differs from the chip's {crs}")
        if bands and arr.shape[1:] != bands[0].shape:
            raise InputDataError(f"{p}: size {arr.shape[1:]} differs from {bands[0].shape}")
        bands.append(arr[0])
    dn = np.stack(bands[: len(ONCLOUDN_BANDS)], axis=-1)
    if dn.dtype != np.uint16:
        raise InputDataError(f"{files[0]}: expected uint16 DN, found {dn.dtype}")
    label = bands[-1]
    if not np.isin(np.unique(label), (0, 1)).all():
        raise InputDataError(f"{folder / 'label.tif'}: cloud mask must hold only 0 and 1")
    refl = dn.astype(np.float64) / ONCLOUDN_DN_PER_REFLECTANCE
    _check_sentinel2_scale(files[0], refl, dn[..., 0] > 0)
    water = np.zeros(label.shape, bool)  # over land; water is not labelled
    return CloudImage(
        f"oncloudn_{chip}", _to_canonical(refl), label == 1, water, [*files, folder / "label.tif"]
    )


@dataclass
class CoastalChip:
    """An unlabelled coastal chip on the canonical scale, with Sen2Cor's SCL (weak label)."""

    name: str
    frame: np.ndarray  # [H, W, C] uint16 canonical
    scl: np.ndarray  # [H, W] uint8
    files: list[Path] = field(default_factory=list)


def read_coastal(data_dir: Path, name: str) -> CoastalChip:
    """``coastal/<name>.tif``: 7 bands B02 B03 B04 B06 B08 B11 SCL, L2A DN with the offset."""
    path = Path(data_dir) / "coastal" / f"{name}.tif"
    arr, _, desc = _read_raster(path)
    if arr.shape[0] != len(COASTAL_BANDS):
        raise InputDataError(f"{path}: expected {len(COASTAL_BANDS)} bands, found {arr.shape[0]}")
    if any(d and d != want for d, want in zip(desc, COASTAL_BANDS, strict=True)):
        raise InputDataError(f"{path}: band descriptions {desc} are not {COASTAL_BANDS}")
    if arr.dtype != np.uint16:
        raise InputDataError(f"{path}: expected uint16 DN, found {arr.dtype}")
    dn = np.moveaxis(arr[list(COASTAL_MODEL_BANDS)], 0, -1)
    refl = dn.astype(np.float64) / COASTAL_DN_PER_REFLECTANCE + COASTAL_OFFSET
    _check_sentinel2_scale(path, refl, dn[..., 0] > 0)
    frame = np.where(dn == 0, 0, _to_canonical(refl)).astype(np.uint16)
    return CoastalChip(name, frame, arr[-1].astype(np.uint8), [path])


def read_coastal_chips(data_dir: Path) -> list[CoastalChip]:
    return [read_coastal(data_dir, n) for n in COASTAL_CHIPS]
