"""Export: georeferenced products from the catalogue, as EO tools expect them.

For every complete product in the catalogue (``out`` as the output folder):

- ``out/crops/frame-<F>-product-<P>.tif``: each ship crop, full resolution, every
  band, in the frame's CRS; its transform is the frame's composed with the crop's
  pixel offset;
- ``out/mosaics/frame-<F>.tif``: one mosaic per frame on the frame's grid: the
  quicklook upsampled (each quicklook pixel repeated over the frame pixels it
  stands for), reduced-resolution products over it, then the full-resolution crops
  pasted in; no-data pixels (every band at the frame's no-data value: a ship crop's
  masked pixels) are transparent; no-data where nothing came down;
- ``out/quicklooks/frame-<F>.tif``: the frame's quicklook at its own resolution;
- ``out/classmaps/frame-<F>.tif``: the on-board class map (band 1 the class id,
  band 2 the confidence; one pixel per tile, centred on the tile;
  :func:`ground_station.products.class_map_transform`), with an internal mask for
  the tiles that were not classified;
- ``out/mosaics/frame-<F>.png``: an 8-bit RGB preview of the mosaic (2-98 %
  stretch per band, ship crops outlined), georeferenced by a world file
  (``frame-<F>.pgw``) and its CRS in ``frame-<F>.png.aux.xml`` (GDAL's sidecar);
- ``out/detections.geojson`` and ``out/detections.gpkg``: the ship detections
  (:mod:`ground_station.detections`);
- ``out/catalog.json`` and the STAC collection of the mission under it
  (:mod:`ground_station.stac`).

Every GeoTIFF is a Cloud-Optimized GeoTIFF (:mod:`ground_station.cog`): tiled,
with overviews, compressed, with the no-data value, a description and a colour
interpretation per band (``B02 blue`` ... ``B04 red``), the scale from samples to
reflectance and, for products coded as instrument numbers, the dn scale.

An export of some frames (``frame_ids``) writes those frames' files and brings
the detections and the STAC catalogue up to date with every frame whose files are
in the folder (exported now or before): nothing already exported is dropped.

The returned :class:`ExportReport` says what each file holds
(:class:`ExportedFile`): its frame id, the products whose pixels it carries (id
and type) and the role of each of its bands (``B02 blue``, ... from
``models/tile_spec.json``, the one definition of the frame's band order), so a
reader never has to parse a file name.

The attribution (by default the Copernicus one: the mission's imagery is
Sentinel-2) goes into every output: a GeoTIFF metadata tag, a PNG text chunk, a
GeoJSON property, the STAC collection.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ground_station import detections, layout, stac
from ground_station.bands import BandRole, band_roles, dn_scale_tags, reflectance_scales
from ground_station.catalogue import Catalogue, pack_path
from ground_station.cog import BandMeta, write_cog
from ground_station.errors import InputError
from ground_station.products import class_map_transform, frame_mismatch, product_transform
from triage.contract.codec import Product
from triage.contract.enums import CLASS_NONE
from triage.contract.errors import ProductError
from triage.contract.paths import COPERNICUS_ATTRIBUTION
from triage.contract.records import capture_time
from triage.contract.tile_spec import tile_spec

CROP = "crop"
"""A ship crop's GeoTIFF: one SHIP_CROP product, every band, full resolution."""
MOSAIC = "mosaic"
"""A frame's mosaic GeoTIFF: the products pasted on the frame grid, coarse first."""
PREVIEW = "preview"
"""A frame's 8-bit RGB PNG preview of its mosaic (with a world file)."""
QUICKLOOK = "quicklook"
"""A frame's QUICKLOOK product as a GeoTIFF at its own (reduced) resolution."""
CLASS_MAP = "class_map"
"""A frame's CLASS_MAP product as a GeoTIFF: class id and confidence per tile."""
FILE_KINDS = (CROP, MOSAIC, PREVIEW, QUICKLOOK, CLASS_MAP)

__all__ = [
    "CLASS_MAP",
    "CROP",
    "FILE_KINDS",
    "MOSAIC",
    "PREVIEW",
    "QUICKLOOK",
    "BandRole",
    "ExportReport",
    "ExportedFile",
    "FrameExport",
    "ProductRef",
    "band_roles",
    "default_attribution",
    "export_products",
    "preview_rgb",
]


def default_attribution() -> str:
    return COPERNICUS_ATTRIBUTION


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

    ``kind``: one of :data:`FILE_KINDS`. ``products``: a crop's, quicklook's or class
    map's one product; for a mosaic and its preview, every product pasted in, in paste
    order (coarse first; products left out are in :attr:`ExportReport.skipped`).
    ``bands``: one per band of the file, in file order (a preview's three are its red,
    green and blue; a class map's are class and confidence, with no instrument band).
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
    """The files written for one frame (a crop per ship crop, the mosaic, its preview,
    the quicklook and class map when they came down)."""

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
    """``detections.geojson`` (RFC 7946; every frame exported to the folder so far)."""
    detections_gpkg: Path | None = None
    """``detections.gpkg``: the same detections in each frame's own CRS."""
    n_detections: int = 0
    stac_catalog: Path | None = None
    """The root of the STAC catalogue (``catalog.json``)."""
    stac_items: int = 0
    skipped: list[str] = field(default_factory=list)
    """Products not exported, or left out of a mosaic, and why: the catalogue's copy no
    longer decodes (damaged on the ground), it contradicts its frame, or its band count or
    sample size differ from the mosaic's."""
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
            "detections_gpkg": str(self.detections_gpkg) if self.detections_gpkg else None,
            "n_detections": self.n_detections,
            "stac_catalog": str(self.stac_catalog) if self.stac_catalog else None,
            "stac_items": self.stac_items,
            "skipped": self.skipped,
            "elapsed_s": round(self.elapsed_s, 6),
        }


def _tags(attribution: str, **extra) -> dict:
    tags = {k: str(v) for k, v in extra.items()}
    if attribution:
        tags["attribution"] = attribution
    return tags


def _sample_bands(roles: tuple[BandRole, ...]) -> list[BandMeta]:
    """Band metadata of a product of samples: description, colour, scale to reflectance."""
    scales = reflectance_scales(len(roles))
    out = []
    for k, r in enumerate(roles):
        tags = {}
        if r.band is not None:
            tags = {"BAND": r.band, "ROLE": r.role}
            if r.wavelength_um:
                tags["CENTRAL_WAVELENGTH_UM"] = f"{r.wavelength_um[0]:g}"
        out.append(
            BandMeta(
                description=str(r),
                colorinterp=r.colorinterp,
                scale=scales[k] if scales else None,
                tags=tags,
            )
        )
    return out


def _sample_tags(header: dict) -> dict:
    """Dataset tags on the physical meaning of samples (reflectance, instrument numbers)."""
    tags = dn_scale_tags(header)
    if reflectance_scales(header["bands"]) is not None:
        tags["SAMPLE_SCALE"] = "reflectance = sample * band scale + band offset"
    return tags


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


def _write_png(path: Path, rgb: np.ndarray, text: dict, transform, epsg: int) -> None:
    """The PNG, its world file (``.pgw``) and its CRS (``.png.aux.xml``, GDAL's sidecar)."""
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo
    from rasterio.crs import CRS

    info = PngInfo()
    for k, v in text.items():
        info.add_itxt(k, v)
    tmp = path.with_name(path.name + ".part")
    Image.fromarray(rgb, mode="RGB").save(tmp, format="PNG", pnginfo=info, compress_level=6)
    # world file: the six affine terms, the last two the centre of the top-left pixel
    t = transform
    cx, cy = t @ (0.5, 0.5)
    world = "".join(f"{v!r}\n" for v in (t.a, t.d, t.b, t.e, float(cx), float(cy)))
    _write_text(layout.world_file(path), world)
    wkt = CRS.from_epsg(epsg).to_wkt().replace("&", "&amp;").replace("<", "&lt;")
    _write_text(
        layout.aux_xml(path),
        f'<PAMDataset>\n  <SRS dataAxisToSRSAxisMapping="1,2">{wkt}</SRS>\n</PAMDataset>\n',
    )
    os.replace(tmp, path)


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(text)
    os.replace(tmp, path)


def _class_name(class_id: int) -> str:
    classes = tile_spec().classes
    return classes[class_id] if class_id < len(classes) else f"class {class_id}"


def confidence(header: dict) -> float:
    """A product's ``confidence`` field as a probability (the output quantisation's scale)."""
    return header["confidence"] * tile_spec().output_quantization.scale


def export_products(
    db: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    attribution: str | None = None,
    frame_ids: list[int] | None = None,
    mission: str | None = None,
) -> ExportReport:
    """Write crops, mosaics, quicklooks, class maps, detections and the STAC catalogue of
    the catalogue ``db`` into ``out_dir``.

    ``attribution`` defaults to the Copernicus attribution; ``""`` leaves it out.
    ``frame_ids`` limits the rasters written to those frames; the detections and the
    STAC catalogue then cover every frame exported to the folder so far. ``mission``
    names the STAC collection (default :data:`ground_station.stac.DEFAULT_MISSION`; a
    folder holds one mission's products). Files are written under a temporary name and
    renamed, so a reader never sees half a file.
    """
    t0 = time.perf_counter()
    if attribution is None:
        attribution = default_attribution()
    mission = mission or stac.DEFAULT_MISSION
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"output {out} exists and is not a folder")
    stac.check_mission(out, mission)
    for sub in layout.SUBFOLDERS:
        (out / sub).mkdir(parents=True, exist_ok=True)
    report = ExportReport(out_dir=out)
    with Catalogue.open(db) as cat:
        frames = [r[0] for r in cat.con.execute("SELECT frame_id FROM frames ORDER BY frame_id")]
        if frame_ids is not None:
            unknown = sorted(set(frame_ids) - set(frames))
            if unknown:
                raise InputError(
                    f"no frame {', '.join(map(str, unknown))} in the catalogue "
                    f"({len(frames)} frames{': ' if frames else ''}"
                    f"{', '.join(map(str, frames[:10]))}{' ...' if len(frames) > 10 else ''})"
                )
            frames = [f for f in frames if f in set(frame_ids)]
        for fid in frames:
            frame = cat.frame(fid)
            rows = cat.product_rows(
                "frame_id=? AND status='complete' AND product_type IN "
                "('QUICKLOOK', 'LAND', 'SHIP_CROP', 'CLASS_MAP')",
                (fid,),
            )
            products = []
            for r in rows:
                p = _load(cat, frame, r, report)
                if p is not None:
                    products.append(p)
            report.frames.append(_export_frame(out, frame, products, attribution, report))
        inventory = layout.inventory(cat, out)
    det = detections.write_detections(out, inventory, attribution, mission)
    report.detections, report.detections_gpkg, report.n_detections = det
    report.stac_catalog, report.stac_items = stac.write_catalogue(
        out, inventory, mission=mission, attribution=attribution
    )
    report.elapsed_s = time.perf_counter() - t0
    return report


def _load(cat: Catalogue, frame: dict, row: dict, report: ExportReport) -> Product | None:
    """A complete product of the frame, decoded; None (the reason in ``report.skipped``)
    when its stored copy no longer decodes or it contradicts the frame."""
    what = f"frame {row['frame_id']} product {row['product_id']} ({row['product_type']})"
    try:
        p = cat.load_product(row["frame_id"], row["product_id"])
    except ProductError as exc:
        report.skipped.append(
            f"{what} not exported: the catalogue's copy no longer decodes ({exc}). It passed "
            "every check at ingest, so its bytes were damaged on the ground, in the segment "
            f"pack {pack_path(cat.path).name}: ingest a stream that holds the product again "
            "to repair it"
        )
        return None
    problem = frame_mismatch(p.header, frame)
    if problem:
        report.skipped.append(f"{what} not exported: it {problem}")
        return None
    return p


def _export_frame(
    out: Path, frame: dict, products: list[Product], attribution: str, report: ExportReport
) -> FrameExport:
    from affine import Affine

    fid = frame["frame_id"]
    epsg, nodata = frame["crs_epsg"], frame["nodata"]
    frame_tf = Affine.from_gdal(*frame["geotransform"])
    when = capture_time(frame["time_s"], frame["time_sub"]).isoformat()
    class_maps = [p for p in products if p.type_name == "CLASS_MAP"]
    products = [p for p in products if p.type_name != "CLASS_MAP"]
    crops = [p for p in products if p.type_name == "SHIP_CROP"]
    quicklooks = [p for p in products if p.type_name == "QUICKLOOK"]
    # the mosaic's bands and sample size: the quicklook's, else the first product's
    ref = quicklooks[0] if quicklooks else (products[0] if products else None)
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
        path = layout.crop_path(out, fid, h["product_id"])
        extra = {"class_name": _class_name(h["class_id"]), "confidence": f"{confidence(h):.4f}"}
        fe.files.append(_product_cog(path, CROP, p, epsg, nodata, attribution, when, fid, **extra))
        fe.megapixels += p.pixels.shape[1] * p.pixels.shape[2] / 1e6
    # the dn lattice holds for the mosaic when it holds for every product pasted in
    in_mosaic = {r.product_id for r in pasted}
    pairs = {
        (p.header["dn_num"], p.header["dn_den"]) for p in products if p.product_id in in_mosaic
    }
    dn_source = {}
    if pasted and len(pairs) == 1 and (0, 0) not in pairs:
        ((num, den),) = pairs
        dn_source = {"dn_num": num, "dn_den": den}
    roles = band_roles(shape[0])
    mosaic_tif = layout.mosaic_path(out, fid)
    write_cog(
        mosaic_tif,
        mosaic,
        transform=frame_tf,
        epsg=epsg,
        nodata=nodata,
        bands=_sample_bands(roles),
        tags=_tags(
            attribution,
            frame_id=fid,
            capture_time=when,
            crops=len(crops),
            products=" ".join(f"{r.product_id}:{r.product_type}" for r in pasted),
            **_sample_tags({**dn_source, "bands": shape[0]}),
        ),
    )
    fe.files.append(ExportedFile(mosaic_tif, MOSAIC, fid, tuple(pasted), roles))
    for q in quicklooks[:1]:
        path = layout.quicklook_path(out, fid)
        step = {"pixel_step": q.header["pixel_step"]}
        fe.files.append(
            _product_cog(path, QUICKLOOK, q, epsg, nodata, attribution, when, fid, **step)
        )
    for cm in class_maps[:1]:
        fe.files.append(_write_class_map(out, fid, epsg, cm, attribution, when))
    rgb = preview_rgb(mosaic, nodata)
    for p in crops:
        h = p.header
        _outline(rgb, h["region_row0"], h["region_col0"], h["region_rows"], h["region_cols"])
    mosaic_png = layout.preview_path(out, fid)
    tags = _tags(attribution, frame_id=fid, capture_time=when, crops=len(crops))
    _write_png(mosaic_png, rgb, tags, frame_tf, epsg)
    rgb_roles = tuple(roles[b] for b in _rgb_bands(shape[0]))
    fe.files.append(ExportedFile(mosaic_png, PREVIEW, fid, tuple(pasted), rgb_roles))
    return fe


CLASS_MAP_BANDS = (BandRole(1, None, "class"), BandRole(2, None, "confidence"))
"""The two bands of a class map: the top class id per tile, and its confidence."""


def _product_cog(
    path: Path,
    kind: str,
    p: Product,
    epsg: int,
    nodata: int,
    attribution: str,
    when: str,
    fid: int,
    **extra_tags,
) -> ExportedFile:
    """One product's own pixels as a COG in its own grid (a crop, a quicklook)."""
    h = p.header
    roles = band_roles(p.pixels.shape[0])
    write_cog(
        path,
        p.pixels,
        transform=product_transform(h),
        epsg=epsg,
        nodata=nodata,
        bands=_sample_bands(roles),
        tags=_tags(
            attribution,
            frame_id=fid,
            product_id=h["product_id"],
            product_type=p.type_name,
            capture_time=when,
            **extra_tags,
            **_sample_tags(h),
        ),
    )
    return ExportedFile(path, kind, fid, (ProductRef(p.product_id, p.type_name),), roles)


def _write_class_map(
    out: Path, fid: int, epsg: int, cm: Product, attribution: str, when: str
) -> ExportedFile:
    """The class map as a 2-band uint8 COG: class id (``CLASS_NONE``: not classified,
    masked) and confidence (probability = value / 256), nearest-neighbour overviews."""
    h = cm.header
    pix = cm.pixels.astype(np.uint8)
    classes = tile_spec().classes
    scale = tile_spec().output_quantization.scale
    path = layout.class_map_path(out, fid)
    write_cog(
        path,
        pix,
        transform=class_map_transform(h),
        epsg=epsg,
        nodata=None,
        bands=[
            BandMeta(
                "class",
                "gray",
                tags={f"CLASS_{k}": name for k, name in enumerate(classes)},
            ),
            BandMeta("confidence", "undefined", scale=scale, tags={"UNIT": "probability"}),
        ],
        tags=_tags(
            attribution,
            frame_id=fid,
            product_id=h["product_id"],
            product_type=cm.type_name,
            capture_time=when,
            classes=",".join(classes),
            tile_px=h["pixel_extent"],
            stride_px=h["pixel_step"],
            unclassified=CLASS_NONE,
        ),
        resampling="NEAREST",
        mask=pix[0] != CLASS_NONE,
    )
    return ExportedFile(
        path, CLASS_MAP, fid, (ProductRef(cm.product_id, cm.type_name),), CLASS_MAP_BANDS
    )
