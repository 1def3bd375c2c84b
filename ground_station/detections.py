"""The ship detections of an export folder: RFC 7946 GeoJSON and a GeoPackage.

One feature per exported ship crop (every frame in the folder, not only those the
last export wrote: :func:`ground_station.layout.inventory`), its footprint the
crop's region of the frame:

- ``detections.geojson`` follows RFC 7946: WGS84 longitude/latitude (no ``crs``
  member), each polygon's exterior ring counter-clockwise (right-hand rule), a
  ``bbox`` on each feature and on the collection, coordinates rounded to 1e-7
  degree (about a centimetre). Web maps, ``geojson.io``, GDAL, geopandas and QGIS
  read it as it is;
- ``detections.gpkg`` holds the same features with their footprint in the frame's
  own CRS (exact: the corners of the crop's pixels), one layer per CRS named
  ``detections_epsg<code>``.

Properties (flat, so that every attribute table shows them): ``frame_id``,
``product_id``, ``class``, ``class_id``, ``confidence`` (probability),
``confidence_u8`` (the wire's value), ``capture_time`` (ISO 8601 UTC),
``center_lon``/``center_lat`` (WGS84, the crop's centre), ``crs`` (the frame's),
the crop's region of the frame in pixels (``region_row0``, ``region_col0``,
``region_rows``, ``region_cols``), and paths relative to the folder: ``crop`` (its
GeoTIFF), ``mosaic`` (the frame's), ``stac_item`` (the crop's STAC item).

A polygon that would cross the antimeridian is not split (frames of this
mission are at most a few tens of kilometres wide); :func:`write_detections`
refuses one rather than write a ring that wraps the globe.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ground_station import layout
from ground_station.geometry import COORD_DECIMALS, ccw, lonlat_ring, pixel_ring, to_lonlat
from triage.contract.records import capture_time
from triage.contract.tile_spec import tile_spec

GEOJSON_NAME = "detections.geojson"
GPKG_NAME = "detections.gpkg"


def gpkg_layer(epsg: int) -> str:
    """The GeoPackage layer of the detections in EPSG:``epsg``."""
    return f"detections_epsg{epsg}"


@dataclass
class Detection:
    """One ship crop of the folder, as a feature."""

    feature_id: str
    epsg: int
    ring_native: list[tuple[float, float]]
    """Exterior ring in the frame's CRS, closed, counter-clockwise."""
    ring_lonlat: list[tuple[float, float]]
    """Exterior ring in WGS84 lon/lat, closed, counter-clockwise."""
    properties: dict

    @property
    def bbox(self) -> list[float]:
        lons = [p[0] for p in self.ring_lonlat]
        lats = [p[1] for p in self.ring_lonlat]
        return [min(lons), min(lats), max(lons), max(lats)]


def detections(
    out: Path, frames: list[layout.FrameFiles], attribution: str, mission: str
) -> list[Detection]:
    """The detections of the folder ``out`` (its inventory ``frames``)."""
    from affine import Affine

    classes = tile_spec().classes
    scale = tile_spec().output_quantization.scale
    found = []
    for ff in frames:
        frame_tf = Affine.from_gdal(*ff.frame["geotransform"])
        epsg = ff.frame["crs_epsg"]
        for c in ff.crops:
            h = c.header
            r0, c0, nr, nc = (
                h[k] for k in ("region_row0", "region_col0", "region_rows", "region_cols")
            )
            fid, pid = ff.frame_id, h["product_id"]
            native = ccw(pixel_ring(frame_tf, r0, c0, nr, nc))
            ring = lonlat_ring(epsg, native, f"crop {fid}/{pid}")
            cx, cy = frame_tf @ (c0 + nc / 2.0, r0 + nr / 2.0)
            (lon,), (lat,) = to_lonlat(epsg, [cx], [cy])
            cid = h["class_id"]
            props = {
                "frame_id": fid,
                "product_id": pid,
                "class": classes[cid] if cid < len(classes) else f"class {cid}",
                "class_id": cid,
                "confidence": h["confidence"] * scale,
                "confidence_u8": h["confidence"],
                "capture_time": capture_time(h["time_s"], h["time_sub"])
                .isoformat()
                .replace("+00:00", "Z"),
                "center_lon": round(float(lon), COORD_DECIMALS),
                "center_lat": round(float(lat), COORD_DECIMALS),
                "crs": f"EPSG:{epsg}",
                "region_row0": r0,
                "region_col0": c0,
                "region_rows": nr,
                "region_cols": nc,
                "crop": c.path.relative_to(out).as_posix(),
                "mosaic": ff.mosaic.relative_to(out).as_posix(),
                "stac_item": layout.crop_item_href(mission, fid, pid),
            }
            if attribution:
                props["attribution"] = attribution
            found.append(Detection(f"frame-{fid}-product-{pid}", epsg, native, ring, props))
    return found


def feature_collection(dets: list[Detection], attribution: str) -> dict:
    """The RFC 7946 FeatureCollection of ``dets``."""
    features = [
        {
            "type": "Feature",
            "id": d.feature_id,
            "bbox": d.bbox,
            "geometry": {"type": "Polygon", "coordinates": [[list(p) for p in d.ring_lonlat]]},
            "properties": d.properties,
        }
        for d in dets
    ]
    fc: dict = {"type": "FeatureCollection", "name": "detections"}
    if dets:
        boxes = np.array([d.bbox for d in dets])
        fc["bbox"] = [
            float(boxes[:, 0].min()),
            float(boxes[:, 1].min()),
            float(boxes[:, 2].max()),
            float(boxes[:, 3].max()),
        ]
    if attribution:
        fc["attribution"] = attribution
    fc["features"] = features
    return fc


def _write_gpkg(path: Path, dets: list[Detection], epsgs: list[int]) -> None:
    """One layer per CRS (every CRS of the folder's frames, empty layers included)."""
    import pyogrio.raw
    import shapely

    tmp = path.with_name(path.stem + ".part.gpkg")
    tmp.unlink(missing_ok=True)
    names = [
        "feature_id",
        "frame_id",
        "product_id",
        "class",
        "class_id",
        "confidence",
        "confidence_u8",
        "capture_time",
        "center_lon",
        "center_lat",
        "region_row0",
        "region_col0",
        "region_rows",
        "region_cols",
        "crop",
        "mosaic",
        "stac_item",
    ]
    for epsg in epsgs:
        mine = [d for d in dets if d.epsg == epsg]
        geoms = shapely.to_wkb([shapely.Polygon(d.ring_native) for d in mine], output_dimension=2)
        rows = [{"feature_id": d.feature_id, **d.properties} for d in mine]
        data = []
        for n in names:
            values = [r[n] for r in rows]
            if n == "capture_time":
                arr = np.array([v.rstrip("Z") for v in values], dtype="datetime64[ms]")
            elif n == "confidence" or n.startswith("center_"):
                arr = np.array(values, dtype=np.float64)
            elif n in ("class", "crop", "mosaic", "stac_item", "feature_id"):
                arr = np.array(values, dtype=object)
            else:
                arr = np.array(values, dtype=np.int64)
            data.append(arr)
        pyogrio.raw.write(
            tmp,
            np.asarray(geoms, dtype=object),
            data,
            names,
            layer=gpkg_layer(epsg),
            driver="GPKG",
            crs=f"EPSG:{epsg}",
            geometry_type="Polygon",
            append=False,
        )
    os.replace(tmp, path)


def write_detections(
    out: Path, frames: list[layout.FrameFiles], attribution: str, mission: str
) -> tuple[Path, Path | None, int]:
    """Write ``detections.geojson`` (and ``detections.gpkg`` when the folder holds a frame);
    returns their paths and the number of features."""
    dets = detections(out, frames, attribution, mission)
    path = out / GEOJSON_NAME
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(feature_collection(dets, attribution), indent=1))
    os.replace(tmp, path)
    epsgs = sorted({ff.frame["crs_epsg"] for ff in frames})
    gpkg = out / GPKG_NAME
    if epsgs:
        _write_gpkg(gpkg, dets, epsgs)
    else:
        gpkg.unlink(missing_ok=True)
        gpkg = None
    return path, gpkg, len(dets)
