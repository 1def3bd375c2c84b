"""Export: georeferenced products from the catalogue.

For every complete product in the catalogue (``out`` as the output folder):

- ``out/crops/frame-<F>-product-<P>.tif``: each ship crop, full resolution,
  every band, in the frame's CRS; its transform is the frame's composed with
  the crop's pixel offset (and step);
- ``out/mosaics/frame-<F>.tif``: one mosaic per frame on the frame's grid:
  the quicklook upsampled (each quicklook pixel repeated over the frame pixels
  it stands for), reduced-resolution products over it, then the
  full-resolution crops pasted in; no-data pixels (every band at the frame's
  no-data value: a ship crop's masked pixels) are transparent; no-data where
  nothing came down;
- ``out/mosaics/frame-<F>.png``: an 8-bit RGB preview of the mosaic (2-98 %
  stretch per band, ship crops outlined);
- ``out/detections.geojson``: one feature per delivered ship region, a
  polygon in the frame's CRS, with frame id, product id, class, confidence,
  capture time, and the WGS84 centre.

The returned :class:`ExportReport` says what each GeoTIFF and PNG holds
(:class:`ExportedFile`): its frame id, the products whose pixels it carries
(id and type) and the role of each of its bands (``B02 blue``, ... from
``models/tile_spec.json``, the one definition of the frame's band order), so a
reader never has to parse a file name.

The attribution (by default the Copernicus one: the mission's imagery is
Sentinel-2) goes into every output: a GeoTIFF metadata tag, a PNG text
chunk, a GeoJSON property.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ground_station.catalogue import Catalogue
from ground_station.errors import InputError
from ground_station.products import product_transform
from triage.contract.codec import Product
from triage.contract.paths import COPERNICUS_ATTRIBUTION
from triage.contract.records import capture_time
from triage.contract.tile_spec import tile_spec

CROP = "crop"
"""A ship crop's GeoTIFF: one SHIP_CROP product, every band, full resolution."""
MOSAIC = "mosaic"
"""A frame's mosaic GeoTIFF: the products pasted on the frame grid, coarse first."""
PREVIEW = "preview"
"""A frame's 8-bit RGB PNG preview of its mosaic."""
FILE_KINDS = (CROP, MOSAIC, PREVIEW)


def default_attribution() -> str:
    return COPERNICUS_ATTRIBUTION


@dataclass(frozen=True)
class BandRole:
    """One band of a written file: its index in the file (1-based, as GDAL counts), the
    instrument's band (``B02``) and its role (``blue``); both None when a product's band
    count is not the tile spec's, since the wire format then says nothing of which band
    is which."""

    index: int
    band: str | None
    role: str | None

    def __str__(self) -> str:
        return f"{self.band} {self.role}" if self.band is not None else f"band {self.index}"

    def to_json(self) -> dict:
        return {"index": self.index, "band": self.band, "role": self.role}


def band_roles(n_bands: int) -> tuple[BandRole, ...]:
    """The roles of a product's ``n_bands`` bands, in frame-memory order (tile_spec.json)."""
    spec = tile_spec().bands
    if n_bands == len(spec):
        return tuple(BandRole(i + 1, b.sentinel2, b.name) for i, b in enumerate(spec))
    return tuple(BandRole(i + 1, None, None) for i in range(n_bands))


@dataclass(frozen=True)
class ProductRef:
    """A product whose pixels a written file holds."""

    product_id: int
    product_type: str

    def to_json(self) -> dict:
        return {"product_id": self.product_id, "product_type": self.product_type}


@dataclass(frozen=True)
class ExportedFile:
    """One file :func:`export_products` wrote, and what it holds.

    ``kind``: one of :data:`FILE_KINDS`. ``products``: a crop's one product; for a
    mosaic and its preview, every product pasted in, in paste order (coarse first;
    products left out are in :attr:`ExportReport.skipped`). ``bands``: one per band
    of the file, in file order (a preview's three are its red, green and blue).
    """

    path: Path
    kind: str
    frame_id: int
    products: tuple[ProductRef, ...]
    bands: tuple[BandRole, ...]

    def to_json(self) -> dict:
        return {
            "path": str(self.path),
            "kind": self.kind,
            "frame_id": self.frame_id,
            "products": [p.to_json() for p in self.products],
            "bands": [b.to_json() for b in self.bands],
        }


@dataclass
class FrameExport:
    """The files written for one frame (a crop per ship crop, the mosaic, its preview)."""

    frame_id: int
    files: list[ExportedFile] = field(default_factory=list)
    megapixels: float = 0.0

    def file(self, kind: str) -> ExportedFile:
        """The frame's one file of ``kind`` (:data:`MOSAIC` or :data:`PREVIEW`)."""
        (f,) = (f for f in self.files if f.kind == kind)
        return f

    @property
    def mosaic_tif(self) -> Path:
        return self.file(MOSAIC).path

    @property
    def mosaic_png(self) -> Path:
        return self.file(PREVIEW).path

    @property
    def crops(self) -> list[Path]:
        return [f.path for f in self.files if f.kind == CROP]


@dataclass
class ExportReport:
    """What :func:`export_products` wrote."""

    out_dir: Path
    frames: list[FrameExport] = field(default_factory=list)
    detections: Path | None = None
    n_detections: int = 0
    skipped: list[str] = field(default_factory=list)
    """Products left out of a mosaic, and why (band count or sample size differ)."""
    elapsed_s: float = 0.0

    @property
    def megapixels(self) -> float:
        return sum(f.megapixels for f in self.frames)

    @property
    def files(self) -> list[ExportedFile]:
        """Every GeoTIFF and PNG written, frame after frame."""
        return [f for fe in self.frames for f in fe.files]

    @property
    def crop_files(self) -> list[ExportedFile]:
        return [f for f in self.files if f.kind == CROP]

    @property
    def crops(self) -> list[Path]:
        return [f.path for f in self.crop_files]

    def to_json(self) -> dict:
        return {
            "out_dir": str(self.out_dir),
            "frames": [
                {
                    "frame_id": f.frame_id,
                    "mosaic_tif": str(f.mosaic_tif),
                    "mosaic_png": str(f.mosaic_png),
                    "crops": [str(c) for c in f.crops],
                    "megapixels": round(f.megapixels, 6),
                    "files": [x.to_json() for x in f.files],
                }
                for f in self.frames
            ],
            "crops": len(self.crops),
            "detections": str(self.detections) if self.detections else None,
            "n_detections": self.n_detections,
            "skipped": self.skipped,
            "elapsed_s": round(self.elapsed_s, 6),
        }


def _crs(epsg: int):
    from rasterio.crs import CRS

    return CRS.from_epsg(epsg)


def _tags(attribution: str, **extra) -> dict:
    tags = {k: str(v) for k, v in extra.items()}
    if attribution:
        tags["attribution"] = attribution
    return tags


def _write_tif(path: Path, pixels: np.ndarray, transform, epsg: int, nodata: int, tags) -> None:
    import rasterio

    tmp = path.with_name(path.name + ".part")
    bands, rows, cols = pixels.shape
    with rasterio.open(
        tmp,
        "w",
        driver="GTiff",
        width=cols,
        height=rows,
        count=bands,
        dtype=pixels.dtype,
        crs=_crs(epsg),
        transform=transform,
        nodata=nodata,
        compress="deflate",
        predictor=2,
        zlevel=1,
        tiled=rows >= 256 and cols >= 256,
    ) as dst:
        dst.write(pixels)
        dst.update_tags(**tags)
    os.replace(tmp, path)


def _paste(mosaic: np.ndarray, product: Product, nodata: int) -> None:
    """Paste a product into the frame-grid mosaic, each pixel repeated over its step.

    No-data is transparent: a pixel whose every band holds the no-data value (a
    ship crop's masked pixels, a quicklook block without valid samples) leaves
    what lies under it.
    """
    h = product.header
    step = h["pixel_step"]
    pix = product.pixels
    if step > 1:
        pix = np.repeat(np.repeat(pix, step, axis=1), step, axis=2)
    r0, c0 = h["region_row0"], h["region_col0"]
    rows = min(pix.shape[1], h["region_rows"], mosaic.shape[1] - r0)
    cols = min(pix.shape[2], h["region_cols"], mosaic.shape[2] - c0)
    pix = pix[:, :rows, :cols]
    under = mosaic[:, r0 : r0 + rows, c0 : c0 + cols]
    valid = (pix != nodata).any(axis=0)
    under[:, valid] = pix[:, valid]


def _rgb_bands(n_bands: int) -> list[int]:
    """0-based indexes of the bands a preview shows as red, green and blue."""
    names = [b.role for b in band_roles(n_bands)]
    if {"red", "green", "blue"} <= set(names):
        return [names.index(c) for c in ("red", "green", "blue")]
    if n_bands >= 3:
        return [0, 1, 2]
    return [0, 0, 0]


def preview_rgb(mosaic: np.ndarray, nodata: int) -> np.ndarray:
    """[rows, cols, 3] uint8: a 2-98 % stretch of the RGB bands (no-data black)."""
    valid = (mosaic != nodata).any(axis=0)
    out = np.zeros((*mosaic.shape[1:], 3), dtype=np.uint8)
    if not valid.any():
        return out
    for k, b in enumerate(_rgb_bands(mosaic.shape[0])):
        band = mosaic[b].astype(np.float32)
        lo, hi = np.percentile(band[valid], [2, 98])
        scaled = np.clip((band - lo) / max(hi - lo, 1.0) * 255.0, 0, 255)
        out[..., k] = np.where(valid, scaled, 0).astype(np.uint8)
    return out


def _outline(rgb: np.ndarray, r0: int, c0: int, rows: int, cols: int) -> None:
    r1, c1 = min(r0 + rows, rgb.shape[0]) - 1, min(c0 + cols, rgb.shape[1]) - 1
    yellow = (255, 220, 0)
    rgb[r0, c0 : c1 + 1] = yellow
    rgb[r1, c0 : c1 + 1] = yellow
    rgb[r0 : r1 + 1, c0] = yellow
    rgb[r0 : r1 + 1, c1] = yellow


def _write_png(path: Path, rgb: np.ndarray, text: dict) -> None:
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    for k, v in text.items():
        info.add_itxt(k, v)
    tmp = path.with_name(path.name + ".part")
    Image.fromarray(rgb, mode="RGB").save(tmp, format="PNG", pnginfo=info, compress_level=1)
    os.replace(tmp, path)


def _class_name(class_id: int) -> str:
    classes = tile_spec().classes
    return classes[class_id] if class_id < len(classes) else f"class {class_id}"


def _lonlat(epsg: int, x: float, y: float) -> tuple[float, float]:
    from rasterio.warp import transform

    xs, ys = transform(_crs(epsg), _crs(4326), [x], [y])
    return float(xs[0]), float(ys[0])


def export_products(
    db: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    attribution: str | None = None,
    frame_ids: list[int] | None = None,
) -> ExportReport:
    """Write crops, mosaics and detections for the catalogue ``db`` into ``out_dir``.

    ``attribution`` defaults to the Copernicus attribution; ``""`` leaves it
    out. ``frame_ids`` limits the export to those frames. Files are written
    under a temporary name and renamed, so a reader never sees half a file.
    """
    t0 = time.perf_counter()
    if attribution is None:
        attribution = default_attribution()
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"output {out} exists and is not a folder")
    (out / "crops").mkdir(parents=True, exist_ok=True)
    (out / "mosaics").mkdir(parents=True, exist_ok=True)
    report = ExportReport(out_dir=out)
    features = []
    crs_seen: set[int] = set()
    with Catalogue.open(db) as cat:
        frames = [r[0] for r in cat.con.execute("SELECT frame_id FROM frames ORDER BY frame_id")]
        if frame_ids is not None:
            frames = [f for f in frames if f in set(frame_ids)]
        for fid in frames:
            frame = cat.frame(fid)
            rows = cat.product_rows(
                "frame_id=? AND status='complete' AND product_type IN "
                "('QUICKLOOK', 'LAND', 'SHIP_CROP')",
                (fid,),
            )
            products = [cat.load_product(fid, r["product_id"]) for r in rows]
            report.frames.append(_export_frame(out, frame, products, attribution, report, features))
            crs_seen.add(frame["crs_epsg"])
    collection = {
        "type": "FeatureCollection",
        "name": "detections",
        "attribution": attribution,
        "features": features,
    }
    if len(crs_seen) == 1:
        collection["crs"] = {
            "type": "name",
            "properties": {"name": f"urn:ogc:def:crs:EPSG::{crs_seen.pop()}"},
        }
    path = out / "detections.geojson"
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(collection, indent=1))
    os.replace(tmp, path)
    report.detections = path
    report.n_detections = len(features)
    report.elapsed_s = time.perf_counter() - t0
    return report


def _export_frame(
    out: Path,
    frame: dict,
    products: list[Product],
    attribution: str,
    report: ExportReport,
    features: list,
) -> FrameExport:
    fid = frame["frame_id"]
    epsg, nodata = frame["crs_epsg"], frame["nodata"]
    from affine import Affine

    frame_tf = Affine.from_gdal(*frame["geotransform"])
    when = capture_time(frame["time_s"], frame["time_sub"]).isoformat()
    crops = [p for p in products if p.type_name == "SHIP_CROP"]
    # the mosaic's bands and sample size: the quicklook's, else the first product's
    ref = next(
        (p for p in products if p.type_name == "QUICKLOOK"), products[0] if products else None
    )
    shape = (ref.pixels.shape[0] if ref else 1, frame["frame_rows"], frame["frame_cols"])
    dtype = ref.pixels.dtype if ref else np.uint16
    mosaic = np.full(shape, nodata, dtype=dtype)
    pasted: list[ProductRef] = []
    # coarse first, fine last: crops overwrite the quicklook
    for p in sorted(products, key=lambda p: -p.header["pixel_step"]):
        if p.pixels.shape[0] != shape[0] or p.pixels.dtype != dtype:
            report.skipped.append(
                f"frame {fid} product {p.product_id}: {p.pixels.shape[0]} bands of "
                f"{p.pixels.dtype}, mosaic has {shape[0]} of {np.dtype(dtype)}"
            )
            continue
        _paste(mosaic, p, nodata)
        pasted.append(ProductRef(p.product_id, p.type_name))
    fe = FrameExport(frame_id=fid, megapixels=shape[1] * shape[2] / 1e6)
    for p in crops:
        h = p.header
        path = out / "crops" / f"frame-{fid}-product-{h['product_id']}.tif"
        conf = h["confidence"] * tile_spec().output_quantization.scale
        _write_tif(
            path,
            p.pixels,
            product_transform(h),
            epsg,
            nodata,
            _tags(
                attribution,
                frame_id=fid,
                product_id=h["product_id"],
                class_name=_class_name(h["class_id"]),
                confidence=f"{conf:.4f}",
                capture_time=when,
            ),
        )
        fe.files.append(
            ExportedFile(
                path,
                CROP,
                fid,
                (ProductRef(p.product_id, p.type_name),),
                band_roles(p.pixels.shape[0]),
            )
        )
        fe.megapixels += p.pixels.shape[1] * p.pixels.shape[2] / 1e6
        r0, c0, nr, nc = (
            h[k] for k in ("region_row0", "region_col0", "region_rows", "region_cols")
        )
        corners = [
            frame_tf @ (c, r)
            for c, r in ((c0, r0), (c0 + nc, r0), (c0 + nc, r0 + nr), (c0, r0 + nr))
        ]
        ring = [[x, y] for x, y in corners] + [list(corners[0])]
        cx, cy = frame_tf @ (c0 + nc / 2.0, r0 + nr / 2.0)
        lon, lat = _lonlat(epsg, cx, cy)
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [ring]},
                "properties": {
                    "frame_id": fid,
                    "product_id": h["product_id"],
                    "class_id": h["class_id"],
                    "class": _class_name(h["class_id"]),
                    "confidence": conf,
                    "confidence_u8": h["confidence"],
                    "capture_time": capture_time(h["time_s"], h["time_sub"]).isoformat(),
                    "crs": f"EPSG:{epsg}",
                    "region_px": [r0, c0, nr, nc],
                    "center_lonlat": [lon, lat],
                    "crop": str(path.relative_to(out)),
                    "attribution": attribution,
                },
            }
        )
    tags = _tags(attribution, frame_id=fid, capture_time=when, crops=len(crops))
    mosaic_tif = out / "mosaics" / f"frame-{fid}.tif"
    _write_tif(mosaic_tif, mosaic, frame_tf, epsg, nodata, tags)
    roles = band_roles(shape[0])
    fe.files.append(ExportedFile(mosaic_tif, MOSAIC, fid, tuple(pasted), roles))
    rgb = preview_rgb(mosaic, nodata)
    for p in crops:
        h = p.header
        _outline(rgb, h["region_row0"], h["region_col0"], h["region_rows"], h["region_cols"])
    mosaic_png = out / "mosaics" / f"frame-{fid}.png"
    _write_png(mosaic_png, rgb, {k: v for k, v in tags.items()})
    rgb_roles = tuple(roles[b] for b in _rgb_bands(shape[0]))
    fe.files.append(ExportedFile(mosaic_png, PREVIEW, fid, tuple(pasted), rgb_roles))
    return fe
