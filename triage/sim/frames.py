"""Reading the frames of a manifest from their GeoTIFFs.

A frame is read as the camera's buffer: ``[rows, cols, bands]``, band order of
``models/tile_spec.json``, uint16 (or uint8 when the source is 8-bit), with the
frame's own georeferencing (the scene's transform shifted to the window).

:func:`check_frames` opens every band's header (no pixels) and raises one clear
error naming the frame and the item at fault: a missing or unreadable file, a
band the model needs that the frame does not map, bands on different grids, a
window outside the scene, an unsupported data type, or a CRS without an EPSG
code (the wire format carries the CRS as an EPSG number).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from triage.contract.tile_spec import tile_spec
from triage.sim.errors import BandsMissingError, CrsError, SceneError
from triage.sim.manifest import Frame, Manifest, resolve_path

SUPPORTED_DTYPES = ("uint16", "uint8")


def model_band_names() -> list[str]:
    """Band names the on-board model reads, in frame-memory order (tile_spec.json)."""
    return [b.name for b in tile_spec().bands]


@dataclass(frozen=True)
class FrameGeo:
    """Georeferencing and grid of a frame (checked, from the band headers)."""

    frame_id: int
    scene: str
    rows: int
    cols: int
    dtype: str
    crs_epsg: int
    crs_wkt: str
    geotransform: tuple[float, float, float, float, float, float]  # GDAL order, frame's own
    scene_transform: tuple[float, float, float, float, float, float]  # GDAL order, scene's
    scene_rows: int
    scene_cols: int
    band_names: tuple[str, ...]  # frame-memory order (tile_spec.json): blue, green, ...
    band_paths: tuple[Path, ...]  # the source of each, in that order
    band_indexes: tuple[int, ...]  # 1-based band of each source file

    @property
    def sample_bits(self) -> int:
        return 16 if self.dtype == "uint16" else 8

    @property
    def raw_bytes(self) -> int:
        """Bytes of the frame in frame memory."""
        return self.rows * self.cols * len(self.band_paths) * (self.sample_bits // 8)


def _frame_label(frame: Frame) -> str:
    return f"frame {frame.frame_id} ({frame.scene})"


def check_frame(frame: Frame, manifest_dir: Path, bands: list[str] | None = None) -> FrameGeo:
    """Check one frame's files and grid; return its georeferencing."""
    import rasterio
    from rasterio.errors import RasterioIOError
    from rasterio.windows import Window
    from rasterio.windows import transform as window_transform

    bands = bands or model_band_names()
    label = _frame_label(frame)
    missing = [b for b in bands if b not in frame.bands]
    if missing:
        raise BandsMissingError(
            f"{label}: bands missing: {', '.join(missing)} (the on-board model needs "
            f"{', '.join(bands)}; the frame maps {', '.join(frame.bands) or 'none'})"
        )
    extra = sorted(set(frame.bands) - set(bands))
    if extra:
        raise SceneError(
            f"{label}: band names {', '.join(extra)} are not bands of the model "
            f"({', '.join(bands)})"
        )
    grid = None
    paths: list[Path] = []
    idxs: list[int] = []
    for name in bands:
        src = frame.bands[name]
        path = resolve_path(src.path, manifest_dir)
        if not path.exists():
            raise SceneError(f"{label}: band {name}: GeoTIFF not found: {path}")
        try:
            with rasterio.open(path) as ds:
                if src.band_index > ds.count:
                    raise BandsMissingError(
                        f"{label}: band {name}: {path} has {ds.count} band(s), "
                        f"band_index {src.band_index} does not exist"
                    )
                dtype = ds.dtypes[src.band_index - 1]
                this = (ds.width, ds.height, tuple(ds.transform)[:6], ds.crs, dtype)
        except RasterioIOError as exc:
            raise SceneError(f"{label}: band {name}: cannot read {path}: {exc}") from None
        if dtype not in SUPPORTED_DTYPES:
            raise SceneError(
                f"{label}: band {name}: {path} holds {dtype} samples "
                f"(supported: {', '.join(SUPPORTED_DTYPES)})"
            )
        if grid is None:
            grid = this
        elif this[:2] != grid[:2] or not np.allclose(this[2], grid[2]) or this[3] != grid[3]:
            raise SceneError(
                f"{label}: band {name}: {path} is not on the grid of band {bands[0]} "
                f"(size, transform or CRS differ)"
            )
        elif this[4] != grid[4]:
            raise SceneError(f"{label}: band {name}: data type {this[4]} differs from {grid[4]}")
        paths.append(path)
        idxs.append(src.band_index)
    assert grid is not None
    width, height, _, crs, dtype = grid
    w = frame.window
    if w.row0 + w.rows > height or w.col0 + w.cols > width:
        raise SceneError(
            f"{label}: window rows {w.row0}..{w.row0 + w.rows - 1}, cols "
            f"{w.col0}..{w.col0 + w.cols - 1} is outside the scene ({height} x {width} px)"
        )
    if crs is None:
        raise CrsError(f"{label}: {paths[0]} has no CRS (the ground station needs one)")
    epsg = crs.to_epsg()
    if epsg is None:
        raise CrsError(
            f"{label}: CRS of {paths[0]} has no EPSG code (the wire format carries the CRS "
            f"as an EPSG number): {crs.to_string()[:120]}"
        )
    with rasterio.open(paths[0]) as ds:
        scene_tf = ds.transform
    ftf = window_transform(Window(w.col0, w.row0, w.cols, w.rows), scene_tf)
    return FrameGeo(
        frame_id=frame.frame_id,
        scene=frame.scene,
        rows=w.rows,
        cols=w.cols,
        dtype=dtype,
        crs_epsg=int(epsg),
        crs_wkt=crs.to_wkt(),
        geotransform=tuple(float(v) for v in ftf.to_gdal()),  # type: ignore[arg-type]
        scene_transform=tuple(float(v) for v in scene_tf.to_gdal()),  # type: ignore[arg-type]
        scene_rows=height,
        scene_cols=width,
        band_names=tuple(bands),
        band_paths=tuple(paths),
        band_indexes=tuple(idxs),
    )


def check_frames(manifest: Manifest, manifest_dir: Path) -> dict[int, FrameGeo]:
    """Check every frame (headers only); raise on the first one at fault."""
    bands = model_band_names()
    return {f.frame_id: check_frame(f, manifest_dir, bands) for f in manifest.frames}


def read_frame(geo: FrameGeo, frame: Frame) -> np.ndarray:
    """The frame's pixels ``[rows, cols, bands]`` (C order, native dtype)."""
    import rasterio
    from rasterio.errors import RasterioIOError
    from rasterio.windows import Window

    w = frame.window
    out = np.empty((w.rows, w.cols, len(geo.band_paths)), dtype=geo.dtype)
    for b, (path, idx) in enumerate(zip(geo.band_paths, geo.band_indexes, strict=True)):
        try:
            with rasterio.open(path) as ds:
                out[:, :, b] = ds.read(idx, window=Window(w.col0, w.row0, w.cols, w.rows))
        except RasterioIOError as exc:
            label = _frame_label(frame)
            raise SceneError(f"{label}: cannot read pixels of {path}: {exc}") from None
    return out


def to_lonlat(geo: FrameGeo, rows, cols) -> tuple[list[float], list[float]]:
    """WGS84 (lon, lat) of frame pixel positions (row, col: pixel corners at integers)."""
    from rasterio.crs import CRS
    from rasterio.warp import transform as warp_transform

    x0, dx, rx, y0, ry, dy = geo.geotransform
    xs = [x0 + c * dx + r * rx for r, c in zip(rows, cols, strict=True)]
    ys = [y0 + c * ry + r * dy for r, c in zip(rows, cols, strict=True)]
    lon, lat = warp_transform(CRS.from_wkt(geo.crs_wkt), CRS.from_epsg(4326), xs, ys)
    return [round(float(v), 6) for v in lon], [round(float(v), 6) for v in lat]


def box_lonlat(geo: FrameGeo, row0: float, col0: float, rows: float, cols: float):
    """A pixel box of the frame as a closed WGS84 outline (corners and side midpoints: a
    projected edge need not be straight in lon/lat)."""
    r1, c1 = row0 + rows, col0 + cols
    rm, cm = row0 + rows / 2, col0 + cols / 2
    rr = [row0, row0, row0, rm, r1, r1, r1, rm, row0]
    cc = [col0, cm, c1, c1, c1, cm, col0, col0, col0]
    lon, lat = to_lonlat(geo, rr, cc)
    return list(zip(lon, lat, strict=True))


def footprint_lonlat(geo: FrameGeo) -> list[tuple[float, float]]:
    """The frame's outline in WGS84 (lon, lat), closed."""
    return box_lonlat(geo, 0, 0, geo.rows, geo.cols)
