"""The sen2ships layout (Sentinel-2 L2A port scenes with labelled ships): the one reader.

Under the imagery folder (:func:`triage.contract.paths.data_dir`), each port is a
folder ``sen2ships/<port>/`` holding one single-band uint16 GeoTIFF per band
(``B02.tif`` ... all on one grid) and ``ships.coco.json`` (COCO boxes in pixel
coordinates of that grid; every annotation belongs to the port's grid). The
samples are reflectance x 65535 on the lattice of Sentinel-2's reflectance x
10000 (:data:`DN_SCALE`). Every error names the file at fault.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from triage.contract import paths
from triage.contract.errors import DataMissingError, InputDataError
from triage.contract.tile_spec import tile_spec

FOLDER = "sen2ships"
LABELS_FILE = "ships.coco.json"

DN_SCALE = (65535, 10000)
"""The sen2ships samples are Sentinel-2 numbers (reflectance x 10000) exported as
reflectance x 65535: all samples of the scenes lie on that lattice
(v = round(d * 65535 / 10000)), so the instrument number d, not v, is what a satellite
would code (FRAME_META dn_num / dn_den; the firmware checks every product first)."""

GAIN_SOURCE = "sen2ships"
"""The tile spec's ``gain_q8`` entry for these samples."""


def root(data_dir: Path | None = None) -> Path:
    """``<imagery>/sen2ships``."""
    return Path(data_dir or paths.data_dir()) / FOLDER


def ports(data_dir: Path | None = None) -> list[str]:
    """The port folders present (sorted), each with every band of the tile spec and labels;
    :class:`DataMissingError` when there is no sen2ships folder."""
    folder = root(data_dir)
    if not folder.is_dir():
        raise DataMissingError(f"no {FOLDER}/ folder in {folder.parent}")
    names = [b.sentinel2 for b in tile_spec().bands]
    return sorted(
        p.name
        for p in folder.iterdir()
        if p.is_dir()
        and all((p / f"{b}.tif").is_file() for b in names)
        and (p / LABELS_FILE).is_file()
    )


def port_dir(port: str, data_dir: Path | None = None) -> Path:
    folder = root(data_dir) / port
    if not folder.is_dir():
        raise DataMissingError(f"port folder missing: {folder}")
    return folder


def band_path(port: str, band: str, data_dir: Path | None = None) -> Path:
    """The GeoTIFF of one band (``B02`` ...) of a port."""
    return port_dir(port, data_dir) / f"{band}.tif"


def labels_path(port: str, data_dir: Path | None = None) -> Path:
    return port_dir(port, data_dir) / LABELS_FILE


@dataclass(frozen=True)
class Grid:
    """A band grid: shape, GDAL geotransform, EPSG code."""

    rows: int
    cols: int
    geotransform: tuple[float, ...]
    epsg: int


def read_band(path: Path, shape: tuple[int, int] | None = None) -> tuple[np.ndarray, Grid]:
    """One single-band uint16 GeoTIFF ``[H, W]`` and its grid; with ``shape`` (rows, cols),
    checked to be that size."""
    import rasterio

    path = Path(path)
    if not path.is_file():
        raise DataMissingError(f"band file missing: {path}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with rasterio.open(path) as src:
                if src.count != 1:
                    raise InputDataError(f"{path}: expected 1 band, found {src.count}")
                arr = src.read(1)
                epsg = src.crs.to_epsg() if src.crs is not None else None
                got = Grid(src.height, src.width, tuple(src.transform.to_gdal()), epsg or 0)
    except rasterio.errors.RasterioIOError as exc:
        raise InputDataError(f"{path}: unreadable raster ({exc})") from exc
    if arr.dtype != np.uint16:
        raise InputDataError(f"{path}: expected uint16 samples, found {arr.dtype}")
    if shape is not None and (got.rows, got.cols) != tuple(shape):
        raise InputDataError(
            f"{path}: size {(got.rows, got.cols)} differs from the port's grid {tuple(shape)}"
        )
    return arr, got


def read_bands(
    port: str, bands: list[str] | None = None, data_dir: Path | None = None
) -> tuple[np.ndarray, Grid]:
    """A port's bands ``[H, W, C]`` uint16 (the tile spec's network bands by default, in its
    order) and their common grid."""
    names = bands or [b.sentinel2 for b in tile_spec().bands]
    first, grid = read_band(band_path(port, names[0], data_dir))
    shape = (grid.rows, grid.cols)
    rest = [read_band(band_path(port, b, data_dir), shape)[0] for b in names[1:]]
    return np.stack([first, *rest], axis=-1), grid


def read_boxes(path: Path, shape: tuple[int, int]) -> np.ndarray:
    """COCO boxes ``[N, 4]`` float64 (x, y, w, h) of a labels file, checked against the
    ``(rows, cols)`` band grid."""
    path = Path(path)
    if not path.is_file():
        raise DataMissingError(f"annotation file missing: {path}")
    try:
        coco = json.loads(path.read_text())
        boxes = np.array([a["bbox"] for a in coco["annotations"]], dtype=np.float64)
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise InputDataError(f"{path}: not a COCO annotation file ({exc})") from exc
    boxes = boxes.reshape(-1, 4)
    h, w = shape
    if len(boxes) and (
        (boxes[:, 2:] <= 0).any()
        or (boxes[:, 0] < 0).any()
        or (boxes[:, 1] < 0).any()
        or (boxes[:, 0] + boxes[:, 2] > w + 1).any()
        or (boxes[:, 1] + boxes[:, 3] > h + 1).any()
    ):
        raise InputDataError(f"{path}: a box lies outside the {w}x{h} band grid")
    return boxes


def read_port_boxes(port: str, shape: tuple[int, int], data_dir: Path | None = None):
    """A port's ship boxes ``[N, 4]`` (x, y, w, h)."""
    return read_boxes(labels_path(port, data_dir), shape)
