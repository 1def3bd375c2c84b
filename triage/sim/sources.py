"""The real imagery the scenarios are made of, each source on one scale.

Scenario frames are composed in **instrument numbers** ``d`` = reflectance x 10 000
(the Sentinel-2 L2A convention without offset) and written as the port scenes are:
samples ``round(d x 65535 / 10000)`` (``dn_scale`` (65535, 10000), so the firmware
and the baseline code ``d`` losslessly). Per source (``../shared/data/README.md``,
``models/MODEL_CARD.md`` "Scales"):

- ``sen2ships/<port>``: samples are reflectance x 65535 on the lattice of
  reflectance x 10 000: ``d`` = :func:`~triage.contract.predictor.dn_from_samples`.
  EPSG:3857 with 10 m *Mercator* pixels, so a pixel is ``10 cos(latitude)`` m on the
  ground. Water: NDWI (B03, B08) > 0. Vessels: the COCO masks (uncompressed RLE or
  polygons) of ``ships.coco.json``.
- ``coastal/<chip>``: L2A DN with the processing-baseline-04 offset: ``d = DN - 1000``;
  bands B02, B03, B04, B08 by the file's band descriptions; 10 m UTM. Water: Sen2Cor's
  SCL class 6; its own cloud and cloud shadow (SCL 3, 8, 9, 10) are kept out of the
  windows taken. No vessel labels: there may be vessels (screened, see
  :func:`water_windows`).
- ``clouds/oncloudn/<chip>``: DN = reflectance x 10 000: ``d = DN``; 10 m; cloud from
  the expert mask (``label.tif`` 1).
- ``clouds/ukis_csmask/<image>`` and ``clouds/38cloud``: read by
  :mod:`triage_models.sources` (the model builder's own readers, reflectance x 65535),
  then ``d`` as for the ports; cloud from their masks. Landsat pixels are 30 m; the
  Sentinel-2 test image is taken at 10 m (its source states no resolution).

Every reader caches its result per process (a sweep's workers reuse them) and raises
:class:`~triage.contract.errors.DataMissingError` / ``InputDataError`` naming the file.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
from triage_models import sources as model_sources

from triage.contract import sen2ships
from triage.contract.errors import DataMissingError, InputDataError
from triage.contract.paths import COPERNICUS_ATTRIBUTION
from triage.contract.predictor import dn_from_samples

DN_NUM, DN_DEN = sen2ships.DN_SCALE
COASTAL_CHIPS = ("accra", "limassol")
COASTAL_OFFSET = 1000  # L2A processing baseline 04: reflectance = DN / 10000 - 0.1
SCL_WATER = 6
SCL_CLOUDY = (3, 8, 9, 10)  # Sen2Cor: cloud shadow, cloud (medium, high), thin cirrus
ONCLOUDN_CHIPS = ("chip_1", "chip_2", "chip_3")
UKIS_IMAGES = model_sources.UKIS_IMAGES
CLOUD_SOURCES = (
    *(f"clouds/oncloudn/{c}" for c in ONCLOUDN_CHIPS),
    *(f"clouds/ukis_csmask/{n}" for n in UKIS_IMAGES),
    "clouds/38cloud",
)
LANDSAT_PX_M = 30.0
SENTINEL2_PX_M = 10.0

CREDITS = {
    "sen2ships": f"sen2ships (ShipDetectionExperts/sen2ships, MIT): port scenes and vessel "
    f"labels; {COPERNICUS_ATTRIBUTION}",
    "coastal": "coastal chips (danieltyukov/marine-debris-ml-model, MIT): contains modified "
    "Copernicus Sentinel data 2024",
    "clouds/oncloudn": "cloud chips: Sentinel-2 Cloud Cover Segmentation Dataset (Radiant Earth "
    "Foundation 2022, doi:10.34911/RDNT.HFQ6M7), CC-BY-4.0, via "
    "max-schaefer-dev/cloud-detection-demo (MIT); contains modified Copernicus Sentinel data 2020",
    "clouds/ukis_csmask": "cloud images: ukis-csmask test files (dlr-eoc/ukis-csmask, Apache-2.0)",
    "clouds/38cloud": "cloud image: 38-Cloud (Mohajerani & Saeedi 2019, Apache-2.0); Landsat-8",
}


def credit_for(source: str) -> str:
    """The credit line of a source id (its collection's)."""
    for prefix, text in CREDITS.items():
        if source == prefix or source.startswith(prefix + "/"):
            return text
    return source


@dataclass
class Vessel:
    """One labelled vessel cut out of its scene: the pixels of its box and its mask."""

    source: str  # sen2ships/<port>
    label_id: int
    d: np.ndarray  # [h, w, 4] int32 instrument numbers
    mask: np.ndarray  # [h, w] bool: the vessel's own pixels
    ground_px_m: float


@dataclass
class WaterScene:
    """A real scene whose water (and coast) maritime frames are made of."""

    source: str
    d: np.ndarray  # [H, W, 4] int32
    water: np.ndarray  # [H, W] bool
    ground_px_m: float
    lon: float  # scene centre
    lat: float
    boxes: np.ndarray  # [N, 4] x, y, w, h of labelled vessels (none for the coastal chips)
    label_ids: list[int] = field(default_factory=list)
    vessels: list[Vessel] = field(default_factory=list)
    cloudy: np.ndarray | None = None  # [H, W] bool: cloud or cloud shadow in the scene itself


@dataclass
class CloudSource:
    """Real cloud pixels and their mask."""

    source: str
    d: np.ndarray  # [H, W, 4] int32
    cloud: np.ndarray  # [H, W] bool
    ground_px_m: float


def _centre_lonlat(geotransform, rows: int, cols: int, epsg: int) -> tuple[float, float]:
    from rasterio.crs import CRS
    from rasterio.warp import transform as warp_transform

    x0, dx, rx, y0, ry, dy = geotransform
    x = x0 + cols / 2 * dx + rows / 2 * rx
    y = y0 + cols / 2 * ry + rows / 2 * dy
    lon, lat = warp_transform(CRS.from_epsg(epsg), CRS.from_epsg(4326), [x], [y])
    return float(lon[0]), float(lat[0])


def decode_mask(segmentation, rows: int, cols: int) -> np.ndarray:
    """A COCO segmentation as a ``[rows, cols]`` bool mask: uncompressed RLE (counts in
    column-major order, starting with background) or polygons."""
    if isinstance(segmentation, dict):
        counts = segmentation.get("counts")
        if not isinstance(counts, list):
            raise InputDataError("compressed COCO RLE is not supported (uncompressed or polygons)")
        size = segmentation.get("size", [rows, cols])
        if list(size) != [rows, cols]:
            raise InputDataError(f"RLE size {size} differs from the scene {rows} x {cols}")
        flat = np.zeros(rows * cols, dtype=bool)
        pos, val = 0, False
        for n in counts:
            if val:
                flat[pos : pos + int(n)] = True
            pos += int(n)
            val = not val
        if pos != rows * cols:
            raise InputDataError(f"RLE covers {pos} pixels, the scene has {rows * cols}")
        return flat.reshape(cols, rows).T
    if isinstance(segmentation, list):
        import cv2

        mask = np.zeros((rows, cols), dtype=np.uint8)
        for poly in segmentation:
            pts = np.round(np.asarray(poly, dtype=np.float64).reshape(-1, 2)).astype(np.int32)
            cv2.fillPoly(mask, [pts], 1)
        return mask.astype(bool)
    raise InputDataError(f"unknown COCO segmentation {type(segmentation).__name__}")


def ndwi_water(d: np.ndarray) -> np.ndarray:
    """Water by NDWI = (green - NIR) / (green + NIR) > 0 (the model card's rule)."""
    g = d[..., 1].astype(np.int64)
    n = d[..., 3].astype(np.int64)
    return g > n


@cache
def read_port(data_dir: str, port: str) -> WaterScene:
    """A sen2ships port: instrument numbers, water, and its vessels cut out."""
    data = Path(data_dir)
    samples, grid = sen2ships.read_bands(port, data_dir=data)
    d = dn_from_samples(samples, DN_NUM, DN_DEN).astype(np.int32)
    lon, lat = _centre_lonlat(grid.geotransform, grid.rows, grid.cols, grid.epsg)
    px = abs(grid.geotransform[5])
    if grid.epsg == 3857:
        px *= math.cos(math.radians(lat))
    path = sen2ships.labels_path(port, data)
    try:
        coco = json.loads(path.read_text())
        anns = coco["annotations"]
    except FileNotFoundError:
        raise DataMissingError(f"annotation file missing: {path}") from None
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise InputDataError(f"{path}: not a COCO annotation file ({exc})") from None
    boxes = sen2ships.read_boxes(path, (grid.rows, grid.cols))
    source = f"sen2ships/{port}"
    vessels, ids = [], []
    for a, (x, y, w, h) in zip(anns, boxes, strict=True):
        ids.append(int(a["id"]))
        full = decode_mask(a.get("segmentation"), grid.rows, grid.cols)
        r0, c0 = math.floor(y), math.floor(x)
        r1 = min(grid.rows, math.ceil(y + h) + 1)
        c1 = min(grid.cols, math.ceil(x + w) + 1)
        m = full[r0:r1, c0:c1]
        if not m.any():  # a label without a mask: its box
            m = np.ones((r1 - r0, c1 - c0), dtype=bool)
        vessels.append(Vessel(source, int(a["id"]), d[r0:r1, c0:c1].copy(), m, px))
    return WaterScene(source, d, ndwi_water(d), px, lon, lat, boxes, ids, vessels)


@cache
def read_coastal(data_dir: str, chip: str) -> WaterScene:
    """A coastal chip: instrument numbers (offset removed), Sen2Cor water, no labels."""
    import rasterio

    path = Path(data_dir) / "coastal" / f"{chip}.tif"
    if not path.is_file():
        raise DataMissingError(f"coastal chip missing: {path}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rasterio.open(path) as ds:
            names = list(ds.descriptions)
            want = ["B02", "B03", "B04", "B08", "SCL"]
            missing = [b for b in want if b not in names]
            if missing:
                raise InputDataError(f"{path}: band descriptions lack {', '.join(missing)}")
            arr = {b: ds.read(names.index(b) + 1) for b in want}
            gt, epsg = ds.transform.to_gdal(), ds.crs.to_epsg()
            rows, cols, px = ds.height, ds.width, abs(ds.transform.e)
    d = np.stack([arr[b].astype(np.int32) - COASTAL_OFFSET for b in want[:4]], axis=-1)
    d = np.clip(d, 0, None)
    lon, lat = _centre_lonlat(gt, rows, cols, epsg)
    water = arr["SCL"] == SCL_WATER
    cloudy = np.isin(arr["SCL"], SCL_CLOUDY)
    return WaterScene(f"coastal/{chip}", d, water, px, lon, lat, np.zeros((0, 4)), cloudy=cloudy)


@cache
def read_cloud(data_dir: str, source: str) -> CloudSource:
    """A cloud source by id (:data:`CLOUD_SOURCES`)."""
    data = Path(data_dir)
    parts = source.split("/")
    if source.startswith("clouds/oncloudn/") and parts[-1] in ONCLOUDN_CHIPS:
        folder = data / "clouds" / "oncloudn" / parts[-1]
        bands = [sen2ships.read_band(folder / f"{b}.tif")[0] for b in ("B02", "B03", "B04", "B08")]
        d = np.stack(bands, axis=-1).astype(np.int32)
        label = folder / "label.tif"
        if not label.is_file():
            raise DataMissingError(f"cloud mask missing: {label}")
        import rasterio

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with rasterio.open(label) as ds:
                cloud = ds.read(1) == 1
        if cloud.shape != d.shape[:2]:
            raise InputDataError(f"{label}: size {cloud.shape} differs from the bands")
        return CloudSource(source, d, cloud, SENTINEL2_PX_M)
    if source.startswith("clouds/ukis_csmask/") and parts[-1] in UKIS_IMAGES:
        img = model_sources.read_ukis(data, parts[-1])
        px = SENTINEL2_PX_M if parts[-1] == "sentinel2" else LANDSAT_PX_M
        d = dn_from_samples(img.frame, DN_NUM, DN_DEN).astype(np.int32)
        return CloudSource(source, d, img.cloud, px)
    if source == "clouds/38cloud":
        img = model_sources.read_38cloud(data)
        d = dn_from_samples(img.frame, DN_NUM, DN_DEN).astype(np.int32)
        return CloudSource(source, d, img.cloud, LANDSAT_PX_M)
    raise InputDataError(f"unknown cloud source {source!r} (known: {', '.join(CLOUD_SOURCES)})")


def resample(a: np.ndarray, factor: float, nearest: bool = False) -> np.ndarray:
    """``a`` ([H, W] or [H, W, C]) scaled by ``factor`` (output pixels per input pixel):
    area averaging when shrinking, bilinear when growing, nearest for masks."""
    import cv2

    if abs(factor - 1.0) < 0.02:
        return a
    h, w = a.shape[:2]
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    grow = cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR
    interp = cv2.INTER_NEAREST if nearest else grow
    src = a.astype(np.float32) if not nearest else a.astype(np.uint8)
    out = cv2.resize(src, size, interpolation=interp)
    if nearest:
        return out.astype(a.dtype)
    return out


def water_windows(scene: WaterScene, size: int, min_water: float = 0.995) -> list[tuple[int, int]]:
    """Origins (row, col) of ``size`` x ``size`` windows of open water: at least
    ``min_water`` water pixels, no labelled vessel box within 8 px, and no pixel brighter
    in NIR than the window's median + 300 (reflectance 0.03: a screen for unlabelled
    vessels and buoys, not a guarantee)."""
    H, W = scene.water.shape
    step = max(8, size // 4)
    busy = np.zeros((H, W), dtype=bool)
    for x, y, w, h in scene.boxes:
        r0, c0 = max(0, int(y) - 8), max(0, int(x) - 8)
        busy[r0 : int(y + h) + 9, c0 : int(x + w) + 9] = True
    out = []
    nir = scene.d[..., 3]
    for r in range(0, H - size + 1, step):
        for c in range(0, W - size + 1, step):
            wat = scene.water[r : r + size, c : c + size]
            if wat.mean() < min_water or busy[r : r + size, c : c + size].any():
                continue
            if scene.cloudy is not None and scene.cloudy[r : r + size, c : c + size].any():
                continue
            n = nir[r : r + size, c : c + size]
            if n.max() > np.median(n) + 300:
                continue
            out.append((r, c))
    return out
