"""The STAC catalogue of an export folder (pystac): static, relative, kept in step.

Layout (pystac's best-practice layout; every href relative, no self link, so the
folder can be copied or served anywhere):

- ``catalog.json``: the root catalogue, whose child is the mission's collection;
- ``<mission>/collection.json``: one collection per mission (``--mission``, default
  :data:`DEFAULT_MISSION`); its extent covers every item; its assets are the
  detections (``detections.geojson``, ``detections.gpkg``);
- ``<mission>/frame-<F>/frame-<F>.json``: one item per frame: the frame's footprint
  (WGS84, counter-clockwise), its capture time, the projection of its grid
  (``proj:code``, ``proj:shape``, ``proj:transform``, ``proj:bbox``), the on-board
  counters of its frame summary (``triage:*``), and assets ``mosaic`` (COG, data),
  ``quicklook`` (COG, overview), ``class_map`` (COG, data), ``preview`` (PNG,
  visual and thumbnail) with its world file and CRS sidecar (metadata);
- ``<mission>/frame-<F>-crop-<P>/...json``: one item per ship crop: the crop's
  footprint, class and confidence, a ``related`` link to its frame's item, and its
  COG as the ``data`` asset.

Image assets carry the eo extension (``eo:bands``: Sentinel-2 band name, common
name, centre wavelength and width) and the raster extension (``raster:bands``:
no-data, data type, scale and offset to reflectance), and an asset whose grid is
not the item's has its own ``proj:shape``/``proj:transform``.

The catalogue is rebuilt from the SQLite catalogue and the folder at every export
(:func:`ground_station.layout.inventory`): an export of some frames keeps the
items of the frames exported before, items whose files are gone are removed, and
a second export of the same catalogue writes the same bytes.
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import datetime
from pathlib import Path

from ground_station import layout
from ground_station.bands import band_roles, reflectance_scales
from ground_station.errors import InputError
from ground_station.geometry import lonlat_ring, pixel_ring
from ground_station.products import class_map_transform, product_transform
from triage.contract.records import capture_time
from triage.contract.tile_spec import tile_spec

DEFAULT_MISSION = "orbital-triage"
"""The collection id when the export names no mission."""
CATALOG_ID = "ground-station-export"
MISSION_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")

COG_MEDIA_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"
PNG_MEDIA_TYPE = "image/png"
GEOJSON_MEDIA_TYPE = "application/geo+json"
GPKG_MEDIA_TYPE = "application/geopackage+sqlite3"
FRAME_EDGE_POINTS = 8
"""Points per edge of a frame footprint before reprojection (follows UTM's curvature)."""


def _check_name(mission: str) -> None:
    if not MISSION_RE.match(mission):
        raise InputError(
            f"mission {mission!r}: use 1-63 lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter or digit (it names the STAC collection and its folder)"
        )


def check_mission(out: Path, mission: str) -> None:
    """Refuse to export ``mission`` into a folder that holds another mission's products
    (their file names would collide); say which mission the folder holds."""
    _check_name(mission)
    root = out / layout.CATALOG_NAME
    if not root.is_file():
        return
    try:
        doc = json.loads(root.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{root} is not a readable STAC catalogue: {exc}") from None
    if doc.get("id") != CATALOG_ID:
        raise InputError(f"{root} is not a ground-station export catalogue: not touching it")
    children = [
        link.get("href", "")
        for link in doc.get("links", [])
        if isinstance(link, dict) and link.get("rel") == "child"
    ]
    want = layout.collection_href(mission)
    others = [h for h in children if h.removeprefix("./") != want]
    if others:
        held = others[0].removeprefix("./").split("/")[0]
        raise InputError(
            f"{out} holds the products of mission {held!r}: export mission {mission!r} "
            "to another folder"
        )


def _when(frame_or_header: dict) -> datetime:
    return capture_time(frame_or_header["time_s"], frame_or_header["time_sub"])


def _footprint(epsg: int, frame_tf, r0, c0, rows, cols, per_edge: int, what: str):
    """(GeoJSON polygon in WGS84, its bbox, the native bbox)."""
    native = pixel_ring(frame_tf, r0, c0, rows, cols, per_edge)
    ring = lonlat_ring(epsg, native, what)
    lons, lats = [p[0] for p in ring], [p[1] for p in ring]
    xs, ys = [p[0] for p in native], [p[1] for p in native]
    geometry = {"type": "Polygon", "coordinates": [[list(p) for p in ring]]}
    bbox = [min(lons), min(lats), max(lons), max(lats)]
    return geometry, bbox, [min(xs), min(ys), max(xs), max(ys)]


def _affine_list(tf) -> list[float]:
    return [tf.a, tf.b, tf.c, tf.d, tf.e, tf.f]


def _sample_asset(
    item, key: str, href: Path, title: str, roles: list[str], n_bands: int, nodata, dtype: str
):
    """Add a COG asset of samples to ``item``, with eo:bands and raster:bands."""
    import pystac
    from pystac.extensions.eo import Band, EOExtension
    from pystac.extensions.raster import DataType, RasterBand, RasterExtension

    asset = pystac.Asset(str(href), title=title, media_type=COG_MEDIA_TYPE, roles=roles)
    item.add_asset(key, asset)
    roles_ = band_roles(n_bands)
    scales = reflectance_scales(n_bands)
    if roles_[0].band is not None:
        EOExtension.ext(asset, add_if_missing=True).bands = [
            Band.create(
                name=r.band,
                common_name=r.role,
                description=str(r),
                center_wavelength=r.wavelength_um[0] if r.wavelength_um else None,
                full_width_half_max=r.wavelength_um[1] if r.wavelength_um else None,
            )
            for r in roles_
        ]
    RasterExtension.ext(asset, add_if_missing=True).bands = [
        RasterBand.create(
            nodata=nodata,
            data_type=DataType(dtype),
            scale=scales[k] if scales else None,
            offset=0.0 if scales else None,
            unit=None,
        )
        for k in range(n_bands)
    ]
    return asset


def _set_proj(obj, epsg: int, shape, tf, native_bbox=None) -> None:
    from pystac.extensions.projection import ProjectionExtension

    ext = ProjectionExtension.ext(obj, add_if_missing=True)
    ext.code = f"EPSG:{epsg}"
    ext.shape = [int(shape[0]), int(shape[1])]
    ext.transform = _affine_list(tf)
    if native_bbox is not None:
        ext.bbox = native_bbox


def _summary_properties(summary: dict | None) -> dict:
    """The on-board frame summary as item properties (``triage:`` prefix)."""
    if not summary:
        return {}
    classes = tile_spec().classes
    out = {
        "triage:tiles_total": summary["tiles_total"],
        "triage:tiles_nodata": summary["tiles_nodata"],
        "triage:ship_regions": summary["ship_regions"],
        "triage:products": summary["products"],
    }
    by = summary.get("tiles_by_class") or []
    gone = summary.get("tiles_discarded_by_class") or []
    out["triage:tiles_by_class"] = {c: int(by[k]) for k, c in enumerate(classes) if k < len(by)}
    out["triage:tiles_discarded_by_class"] = {
        c: int(gone[k]) for k, c in enumerate(classes) if k < len(gone)
    }
    return out


def _frame_item(ff: layout.FrameFiles, mission: str):
    import pystac
    from affine import Affine

    f = ff.frame
    fid, epsg = ff.frame_id, f["crs_epsg"]
    tf = Affine.from_gdal(*f["geotransform"])
    rows, cols = f["frame_rows"], f["frame_cols"]
    geometry, bbox, native_bbox = _footprint(
        epsg, tf, 0, 0, rows, cols, FRAME_EDGE_POINTS, f"frame {fid}"
    )
    item = pystac.Item(
        id=layout.frame_item_id(fid),
        geometry=geometry,
        bbox=bbox,
        datetime=_when(f),
        properties={
            "title": f"Frame {fid}",
            "triage:frame_id": fid,
            "triage:ship_crops": len(ff.crops),
            **_summary_properties(ff.summary),
        },
        collection=mission,
    )
    _set_proj(item, epsg, (rows, cols), tf, native_bbox)
    n_bands = ff.products[0]["bands"] if ff.products else 1
    _sample_asset(
        item,
        "mosaic",
        ff.mosaic.resolve(),
        "Mosaic: the quicklook upsampled, full-resolution crops pasted in",
        ["data"],
        n_bands,
        f["nodata"],
        "uint16" if not ff.products or ff.products[0]["sample_bits"] == 16 else "uint8",
    )
    if ff.quicklook is not None:
        h = ff.quicklook_header
        ql = _sample_asset(
            item,
            "quicklook",
            ff.quicklook.resolve(),
            f"Quicklook (1 pixel per {h['pixel_step']} x {h['pixel_step']} frame pixels)",
            ["overview"],
            h["bands"],
            f["nodata"],
            "uint16" if h["sample_bits"] == 16 else "uint8",
        )
        _set_proj(ql, epsg, (h["rows"], h["cols"]), product_transform(h))
    if ff.class_map is not None:
        from pystac.extensions.raster import DataType, RasterBand, RasterExtension

        h = ff.class_map_header
        classes = tile_spec().classes
        cm = pystac.Asset(
            str(ff.class_map.resolve()),
            title="On-board class map: band 1 class id, band 2 confidence (x 1/256)",
            description="classes: "
            + ", ".join(f"{k} {c}" for k, c in enumerate(classes))
            + "; tiles not classified are masked",
            media_type=COG_MEDIA_TYPE,
            roles=["data"],
        )
        item.add_asset("class_map", cm)
        RasterExtension.ext(cm, add_if_missing=True).bands = [
            RasterBand.create(data_type=DataType.UINT8),
            RasterBand.create(
                data_type=DataType.UINT8, scale=tile_spec().output_quantization.scale, offset=0.0
            ),
        ]
        _set_proj(cm, epsg, (h["rows"], h["cols"]), class_map_transform(h))
    if ff.preview is not None:
        item.add_asset(
            "preview",
            pystac.Asset(
                str(ff.preview.resolve()),
                title="RGB preview (B04, B03, B02; 2-98 % stretch; ship crops outlined)",
                media_type=PNG_MEDIA_TYPE,
                roles=["visual", "thumbnail"],
            ),
        )
        for key, path, media, title in (
            ("preview_world_file", layout.world_file(ff.preview), "text/plain", "World file"),
            ("preview_crs", layout.aux_xml(ff.preview), "application/xml", "CRS (GDAL PAM)"),
        ):
            if path.is_file():
                item.add_asset(
                    key,
                    pystac.Asset(
                        str(path.resolve()),
                        title=f"{title} of the preview",
                        media_type=media,
                        roles=["metadata"],
                    ),
                )
    return item


def _crop_item(ff: layout.FrameFiles, crop: layout.ExportedCrop, mission: str):
    import pystac
    from affine import Affine

    f = ff.frame
    h = crop.header
    fid, pid, epsg = ff.frame_id, h["product_id"], f["crs_epsg"]
    tf = Affine.from_gdal(*f["geotransform"])
    r0, c0, nr, nc = (h[k] for k in ("region_row0", "region_col0", "region_rows", "region_cols"))
    geometry, bbox, native_bbox = _footprint(epsg, tf, r0, c0, nr, nc, 1, f"crop {fid}/{pid}")
    classes = tile_spec().classes
    cid = h["class_id"]
    item = pystac.Item(
        id=layout.crop_item_id(fid, pid),
        geometry=geometry,
        bbox=bbox,
        datetime=_when(h),
        properties={
            "title": f"Ship crop {pid} of frame {fid}",
            "triage:frame_id": fid,
            "triage:product_id": pid,
            "triage:class": classes[cid] if cid < len(classes) else f"class {cid}",
            "triage:confidence": h["confidence"] * tile_spec().output_quantization.scale,
        },
        collection=mission,
    )
    _set_proj(item, epsg, (h["rows"], h["cols"]), product_transform(h), native_bbox)
    _sample_asset(
        item,
        "data",
        crop.path.resolve(),
        "Ship crop, full resolution, every band",
        ["data"],
        h["bands"],
        h["nodata"],
        "uint16" if h["sample_bits"] == 16 else "uint8",
    )
    return item


def _extent(items) -> object:
    import pystac

    if not items:
        return pystac.Extent(
            pystac.SpatialExtent([[-180.0, -90.0, 180.0, 90.0]]),
            pystac.TemporalExtent([[None, None]]),
        )
    boxes = [i.bbox for i in items]
    times = [i.datetime for i in items]
    return pystac.Extent(
        pystac.SpatialExtent(
            [
                [
                    min(b[0] for b in boxes),
                    min(b[1] for b in boxes),
                    max(b[2] for b in boxes),
                    max(b[3] for b in boxes),
                ]
            ]
        ),
        pystac.TemporalExtent([[min(times), max(times)]]),
    )


def write_catalogue(
    out: Path, frames: list[layout.FrameFiles], *, mission: str, attribution: str
) -> tuple[Path, int]:
    """Write (replace) the STAC catalogue of the folder ``out``; returns the root's path
    and the number of items."""
    import pystac

    check_mission(out, mission)
    items = []
    for ff in frames:
        frame_item = _frame_item(ff, mission)
        items.append(frame_item)
        for c in ff.crops:
            crop_item = _crop_item(ff, c, mission)
            crop_item.add_link(
                pystac.Link(
                    "related",
                    frame_item,
                    media_type=pystac.MediaType.GEOJSON,
                    title=f"Frame {ff.frame_id}",
                )
            )
            items.append(crop_item)
    description = (
        f"Products of the {mission} mission downlinked and exported by the ground station: "
        "per frame a mosaic, quicklook, class map and preview; per ship crop a "
        "full-resolution COG."
    )
    if attribution:
        description += f" Attribution: {attribution}."
    collection = pystac.Collection(
        id=mission,
        title=f"{mission}: downlinked products",
        description=description,
        extent=_extent(items),
        license="other",
        extra_fields={"attribution": attribution} if attribution else None,
    )
    for name, media, title in (
        ("detections.geojson", GEOJSON_MEDIA_TYPE, "Ship detections (RFC 7946, WGS84)"),
        ("detections.gpkg", GPKG_MEDIA_TYPE, "Ship detections in each frame's CRS"),
    ):
        path = out / name
        if path.is_file():
            collection.add_asset(
                name.replace(".", "_"),
                pystac.Asset(str(path.resolve()), title=title, media_type=media, roles=["data"]),
            )
    collection.add_items(items)
    catalog = pystac.Catalog(
        id=CATALOG_ID,
        description="Ground-station export: the products downlinked by the mission, "
        "as Cloud-Optimized GeoTIFFs, PNG previews and GeoJSON detections.",
        title="Ground-station export",
    )
    catalog.add_child(collection)
    _remove_stale_items(out, mission, {i.id for i in items})
    catalog.normalize_hrefs(str(out.resolve()))
    catalog.make_all_asset_hrefs_relative()
    catalog.save(catalog_type=pystac.CatalogType.SELF_CONTAINED)
    return out / layout.CATALOG_NAME, len(items)


def _remove_stale_items(out: Path, mission: str, keep: set[str]) -> None:
    """Remove the item folders of items no longer in the catalogue (only folders that
    hold nothing but their item's JSON)."""
    folder = out / mission
    if not folder.is_dir():
        return
    for d in folder.iterdir():
        if not d.is_dir() or d.name in keep or not d.name.startswith("frame-"):
            continue
        files = list(d.iterdir())
        if [p.name for p in files] == [f"{d.name}.json"]:
            shutil.rmtree(d)
