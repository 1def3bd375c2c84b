"""The export folder: where each exported file goes, and what a folder holds.

One definition of the file names (:func:`crop_path`, :func:`mosaic_path`, ...) for
the writer (:mod:`ground_station.export`) and for the readers that describe the
folder (:mod:`ground_station.detections`, :mod:`ground_station.stac`), which take
what is on disk from :func:`inventory`: every frame of the catalogue whose mosaic
is in the folder, with its files and the catalogue's rows for them. The detections
and the STAC catalogue are thus rebuilt from the catalogue and the folder alone,
whatever subset of frames an export wrote.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ground_station.catalogue import Catalogue

SUBFOLDERS = ("crops", "mosaics", "quicklooks", "classmaps")


def crop_path(out: Path, frame_id: int, product_id: int) -> Path:
    return out / "crops" / f"frame-{frame_id}-product-{product_id}.tif"


def mosaic_path(out: Path, frame_id: int) -> Path:
    return out / "mosaics" / f"frame-{frame_id}.tif"


def preview_path(out: Path, frame_id: int) -> Path:
    return out / "mosaics" / f"frame-{frame_id}.png"


def quicklook_path(out: Path, frame_id: int) -> Path:
    return out / "quicklooks" / f"frame-{frame_id}.tif"


def class_map_path(out: Path, frame_id: int) -> Path:
    return out / "classmaps" / f"frame-{frame_id}.tif"


def world_file(png: Path) -> Path:
    """The PNG's world file (``.pgw``: GDAL and QGIS look for it beside the image)."""
    return png.with_suffix(".pgw")


def aux_xml(png: Path) -> Path:
    """GDAL's sidecar with the PNG's CRS (``<name>.png.aux.xml``)."""
    return png.with_name(png.name + ".aux.xml")


@dataclass
class ExportedCrop:
    """A ship crop in the folder: its product header and GeoTIFF."""

    header: dict
    path: Path


@dataclass
class FrameFiles:
    """A frame in the folder: the catalogue's frame row and what of it is on disk."""

    frame: dict
    mosaic: Path
    preview: Path | None = None
    quicklook: Path | None = None
    quicklook_header: dict | None = None
    class_map: Path | None = None
    class_map_header: dict | None = None
    crops: list[ExportedCrop] = field(default_factory=list)
    summary: dict | None = None
    products: list[dict] = field(default_factory=list)
    """Header of every complete image product of the frame (the mosaic's sources)."""

    @property
    def frame_id(self) -> int:
        return self.frame["frame_id"]


def _existing(path: Path) -> Path | None:
    return path if path.is_file() else None


def inventory(cat: Catalogue, out: Path) -> list[FrameFiles]:
    """Every frame of the catalogue whose mosaic is in ``out``, by frame id."""
    summaries = {
        fid: json.loads(text)
        for fid, text in cat.con.execute("SELECT frame_id, summary FROM frame_summaries")
    }
    rows_by_frame: dict[int, list[dict]] = {}
    for r in cat.product_rows(
        "status='complete' AND product_type IN ('QUICKLOOK', 'LAND', 'SHIP_CROP', 'CLASS_MAP')"
    ):
        rows_by_frame.setdefault(r["frame_id"], []).append(r)
    frames = []
    for (fid,) in cat.con.execute("SELECT frame_id FROM frames ORDER BY frame_id").fetchall():
        mosaic = mosaic_path(out, fid)
        if not mosaic.is_file():
            continue
        ff = FrameFiles(
            frame=cat.frame(fid),
            mosaic=mosaic,
            preview=_existing(preview_path(out, fid)),
            summary=summaries.get(fid),
        )
        for r in rows_by_frame.get(fid, []):
            h, kind = r["header"], r["product_type"]
            if kind != "CLASS_MAP":
                ff.products.append(h)
            if kind == "SHIP_CROP":
                path = crop_path(out, fid, r["product_id"])
                if path.is_file():
                    ff.crops.append(ExportedCrop(h, path))
            elif kind == "QUICKLOOK" and ff.quicklook is None:
                ff.quicklook = _existing(quicklook_path(out, fid))
                ff.quicklook_header = h if ff.quicklook else None
            elif kind == "CLASS_MAP" and ff.class_map is None:
                ff.class_map = _existing(class_map_path(out, fid))
                ff.class_map_header = h if ff.class_map else None
        frames.append(ff)
    return frames


# ---------------------------------------------------------------- the STAC catalogue

CATALOG_NAME = "catalog.json"


def collection_href(mission: str) -> str:
    """The mission's collection, relative to the folder."""
    return f"{mission}/collection.json"


def frame_item_id(frame_id: int) -> str:
    return f"frame-{frame_id}"


def crop_item_id(frame_id: int, product_id: int) -> str:
    return f"frame-{frame_id}-crop-{product_id}"


def item_href(mission: str, item_id: str) -> str:
    """An item's JSON, relative to the folder (pystac's layout: one folder per item)."""
    return f"{mission}/{item_id}/{item_id}.json"


def crop_item_href(mission: str, frame_id: int, product_id: int) -> str:
    return item_href(mission, crop_item_id(frame_id, product_id))
