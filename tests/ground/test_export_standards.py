"""Export against the standards an EO tool reads it by: COG, RFC 7946, GeoPackage, STAC.

Two frames go through packets, ingest and export: a small Web Mercator one and a
larger UTM one (with a crop and a mosaic larger than a COG tile, a class map and a
frame summary). The checks use independent references:

- every GeoTIFF is validated as a COG by rio-cogeo's validator (its own reading of
  the TIFF layout), and read back by rasterio for band descriptions, colour
  interpretation, scales, overviews and pixels;
- the GeoJSON against RFC 7946's rules coded here (ranges, closed counter-clockwise
  exterior rings by our own shoelace sum, bbox, no ``crs``), its corners against
  pyproj's reprojection of the source's pixel corners, then read, written and read
  again by geopandas; the GeoPackage in the frame's CRS against the exact corners;
- the STAC JSON against the STAC 1.1.0 core schemas shipped with pystac (no network:
  any attempt to fetch fails the test), the extension fields against the rules of
  the projection v2.0, eo v1.1 and raster v1.1 specifications coded here (no package
  ships those schemas), every href resolved on disk.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.enums import ColorInterp
from rasterio.windows import Window

from ground_station.errors import InputError
from ground_station.export import export_products
from ground_station.ingest import ingest_bytes
from triage.contract.records import FRAME_SUMMARY

from .gs_streams import make_product, record_product, stream_of, synthetic_frame

SEED = 20261207
MERC = (3857, (1_113_194.9, 10.0, 0.0, 6_800_123.4, 0.0, -10.0), (4, 96, 128))
UTM = (32633, (500_000.0, 10.0, 0.0, 4_600_000.0, 0.0, -10.0), (4, 560, 600))
# crops (row0, col0, rows, cols): in the UTM frame one of 300 x 280 (more than a tile)
CROPS = {1: [(8, 16, 32, 48), (40, 64, 33, 47)], 2: [(20, 40, 300, 280), (500, 560, 40, 40)]}
TIME_S = 1_700_000_000  # 2023-11-14T22:13:20Z
# Sentinel-2 designations and roles of the 4 bands, by hand (ESA's MSI handbook)
ROLES = ["B02 blue", "B03 green", "B04 red", "B08 nir"]
CLASS_GRID = (34, 37)  # tile origins of a 560 x 600 frame, tile 32, stride 16


def _frame_stream(frame_id, epsg, gt, frame, with_class_map):
    rows, cols = frame.shape[1:]
    geo = {"frame_shape": (rows, cols), "crs_epsg": epsg, "geotransform": gt, "time_s": TIME_S}
    out = [
        make_product(
            frame[:, ::4, ::4],
            product_type="QUICKLOOK",
            frame_id=frame_id,
            product_id=0,
            region=(0, 0, rows, cols),
            pixel_step=4,
            **geo,
        )
    ]
    for k, (r0, c0, nr, nc) in enumerate(CROPS[frame_id]):
        out.append(
            make_product(
                frame[:, r0 : r0 + nr, c0 : c0 + nc],
                product_type="SHIP_CROP",
                frame_id=frame_id,
                product_id=2 + k,
                region=(r0, c0, nr, nc),
                class_id=2,
                confidence=240 - 20 * k,
                **geo,
            )
        )
    if with_class_map:
        rng = np.random.default_rng(SEED)
        classes = rng.integers(0, 4, CLASS_GRID).astype(np.uint8)
        classes[:3, :5] = 255  # not classified
        conf = rng.integers(0, 256, CLASS_GRID).astype(np.uint8)
        out.append(
            make_product(
                np.stack([classes, conf]),
                product_type="CLASS_MAP",
                frame_id=frame_id,
                product_id=1,
                region=(0, 0, rows, cols),
                pixel_step=16,
                pixel_extent=32,
                nodata=255,
                **geo,
            )
        )
        summary = FRAME_SUMMARY.pack(
            {
                "cells_total": 1258,
                "cells_nodata": 0,
                "cells_by_class": (10, 800, 8, 440),
                "cells_discarded_by_class": (10, 790, 0, 0),
                "ship_regions": 2,
                "products": 5,
                "model_id": 0,
                "model_sha256": (0,) * 32,
            }
        )
        out.append(
            record_product(
                summary,
                product_type="FRAME_SUMMARY",
                frame_id=frame_id,
                product_id=4,
                time_s=TIME_S,
                frame_shape=(rows, cols),
                crs_epsg=epsg,
                geotransform=gt,
            )
        )
    return b"".join(stream_of(out))


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("std")
    db = tmp / "c.sqlite"
    frames = {}
    for fid, (epsg, gt, shape) in ((1, MERC), (2, UTM)):
        frame = synthetic_frame(SEED + fid, shape=shape)
        frames[fid] = (frame, epsg, gt)
        ingest_bytes(db, _frame_stream(fid, epsg, gt, frame, with_class_map=fid == 2))
    return db, frames


@pytest.fixture(scope="module")
def exported(catalogue, tmp_path_factory):
    db, _ = catalogue
    out = tmp_path_factory.mktemp("out") / "export"
    return export_products(db, out)


# ---------------------------------------------------------------- COG


def test_every_geotiff_is_a_valid_cog_with_described_bands(exported, catalogue):
    from rio_cogeo.cogeo import cog_validate

    tifs = sorted(exported.out_dir.rglob("*.tif"))
    kinds = {f.kind for f in exported.files if f.path.suffix == ".tif"}
    assert kinds == {"crop", "mosaic", "quicklook", "class_map"}
    assert sorted(f.path for f in exported.files if f.path.suffix == ".tif") == tifs
    with_overviews = 0
    for path in tifs:
        valid, errors, _warnings = cog_validate(str(path), quiet=True)
        assert valid and errors == [], (path.name, errors)
        with rasterio.open(path) as ds:
            # 256 x 256 tiles, or one tile (a multiple of 16) for a smaller raster
            side = 256 if max(ds.shape) > 256 else 16 * -(-max(ds.shape) // 16)
            assert ds.block_shapes[0] == (side, side)
            assert ds.compression.name == "deflate"
            assert ds.tags(ns="IMAGE_STRUCTURE")["PREDICTOR"] == "2"
            assert all(ds.descriptions), path.name
            if max(ds.shape) > 256:
                assert ds.overviews(1), f"{path.name} {ds.shape} has no overviews"
                with_overviews += 1
            if ds.count == 4:
                assert list(ds.descriptions) == ROLES
                assert ds.colorinterp[:3] == (ColorInterp.blue, ColorInterp.green, ColorInterp.red)
                # reflectance = sample / 65535 (tile_spec: gain 256 = 1.0, canonical x 65535)
                assert ds.scales == (1 / 65535,) * 4 and ds.offsets == (0.0,) * 4
                assert ds.nodata == 0
                assert ds.tags()["attribution"].startswith("contains modified Copernicus")
    # the UTM mosaic (560 x 600) and the 300 x 280 crop
    assert with_overviews == 2


def test_cog_pixels_are_the_sources(exported, catalogue):
    _, frames = catalogue
    for f in exported.crop_files:
        frame = frames[f.frame_id][0]
        (pid,) = [p.product_id for p in f.products]
        r0, c0, nr, nc = CROPS[f.frame_id][pid - 2]
        with rasterio.open(f.path) as ds:
            np.testing.assert_array_equal(ds.read(), frame[:, r0 : r0 + nr, c0 : c0 + nc])
            overview = ds.read(out_shape=(4, nr // 2, nc // 2)) if ds.overviews(1) else None
        if overview is not None:  # the overview is the 2 x 2 mean (no-data excluded)
            means = frame[:, r0 : r0 + nr, c0 : c0 + nc].reshape(4, nr // 2, 2, nc // 2, 2)
            np.testing.assert_allclose(overview, means.mean(axis=(2, 4)), atol=1)
    fe = next(fe for fe in exported.frames if fe.frame_id == 2)
    frame, _, gt = frames[2]
    with rasterio.open(fe.file("quicklook").path) as ds:
        np.testing.assert_array_equal(ds.read(), frame[:, ::4, ::4])
        assert ds.transform.to_gdal() == (gt[0], 40.0, 0.0, gt[3], 0.0, -40.0)


def test_class_map_is_centred_on_its_tiles_and_masks_unclassified(exported):
    fe = next(fe for fe in exported.frames if fe.frame_id == 2)
    x0, y0 = UTM[1][0], UTM[1][3]
    with rasterio.open(fe.file("class_map").path) as ds:
        assert ds.descriptions == ("class", "confidence")
        assert ds.shape == CLASS_GRID and ds.dtypes == ("uint8", "uint8")
        # tile (i, j) spans frame pixels 16 i .. 16 i + 32: its centre is pixel 16 i + 16
        for i, j in ((0, 0), (5, 7), (33, 35)):
            assert ds.xy(i, j) == pytest.approx((x0 + 10 * (16 * j + 16), y0 - 10 * (16 * i + 16)))
        mask = ds.dataset_mask()
        assert (mask[:3, :5] == 0).all() and (mask[3:, :] == 255).all()
        assert ds.scales[1] == 1 / 256
        assert ds.tags(1)["CLASS_2"] == "ship"


def test_preview_png_is_georeferenced(exported):
    for fe in exported.frames:
        with rasterio.open(fe.mosaic_tif) as m, rasterio.open(fe.mosaic_png) as p:
            assert p.crs == m.crs
            assert p.transform.almost_equals(m.transform)
            assert p.count == 3


# ---------------------------------------------------------------- RFC 7946


def _shoelace(ring) -> float:
    return sum(
        ring[k][0] * ring[k + 1][1] - ring[k + 1][0] * ring[k][1] for k in range(len(ring) - 1)
    )


def check_rfc7946(doc: dict) -> None:
    """RFC 7946's rules for a FeatureCollection of polygons, as written in the RFC."""
    assert doc["type"] == "FeatureCollection"
    assert "crs" not in doc  # section 4: no crs member
    lo = [180.0, 90.0]
    hi = [-180.0, -90.0]
    for f in doc["features"]:
        assert f["type"] == "Feature" and "crs" not in f
        assert isinstance(f["properties"], dict)
        g = f["geometry"]
        assert g["type"] == "Polygon"
        for k, ring in enumerate(g["coordinates"]):
            assert len(ring) >= 4 and ring[0] == ring[-1]  # section 3.1.6: closed
            for lon, lat in ring:  # section 3.1.1: two numbers, lon then lat, in range
                assert -180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0
            area = _shoelace(ring)
            assert (area > 0) if k == 0 else (area < 0)  # section 3.1.6: right-hand rule
        pts = np.array([p for ring in g["coordinates"] for p in ring])
        want = [*pts.min(axis=0), *pts.max(axis=0)]
        assert f["bbox"] == pytest.approx(want)  # section 5
        lo = np.minimum(lo, want[:2])
        hi = np.maximum(hi, want[2:])
    assert doc["bbox"] == pytest.approx([*lo, *hi])


def test_detections_geojson_follows_rfc7946(exported, catalogue):
    from pyproj import Transformer

    _, frames = catalogue
    doc = json.loads(exported.detections.read_text())
    check_rfc7946(doc)
    assert len(doc["features"]) == 4 == exported.n_detections
    for f in doc["features"]:
        p = f["properties"]
        _, epsg, gt = frames[p["frame_id"]]
        r0, c0, nr, nc = CROPS[p["frame_id"]][p["product_id"] - 2]
        to_wgs84 = Transformer.from_crs(epsg, 4326, always_xy=True)
        corners = [
            to_wgs84.transform(gt[0] + 10 * c, gt[3] - 10 * r)
            for r, c in ((r0, c0), (r0 + nr, c0), (r0 + nr, c0 + nc), (r0, c0 + nc))
        ]
        ring = f["geometry"]["coordinates"][0]
        # the pixel corners, each once, in counter-clockwise order from the top left
        np.testing.assert_allclose(ring[:4], corners, rtol=0, atol=2e-7)
        centre = to_wgs84.transform(gt[0] + 10 * (c0 + nc / 2), gt[3] - 10 * (r0 + nr / 2))
        assert (p["center_lon"], p["center_lat"]) == pytest.approx(centre, abs=2e-7)
        assert p["capture_time"] == "2023-11-14T22:13:20Z"
        assert p["confidence"] == (240 - 20 * (p["product_id"] - 2)) / 256
        assert p["class"] == "ship" and p["crs"] == f"EPSG:{epsg}"
        for key in ("crop", "mosaic", "stac_item"):
            assert (exported.out_dir / p[key]).is_file(), p[key]


def test_detections_round_trip_through_geopandas(exported, tmp_path):
    import geopandas as gpd

    gdf = gpd.read_file(exported.detections)
    assert gdf.crs.to_epsg() == 4326 and len(gdf) == 4
    gdf.to_file(tmp_path / "again.geojson", driver="GeoJSON")
    again = gpd.read_file(tmp_path / "again.geojson")
    assert list(again["product_id"]) == list(gdf["product_id"])
    assert all(a.equals_exact(b, 1e-9) for a, b in zip(again.geometry, gdf.geometry, strict=True))
    assert again.drop(columns="geometry").equals(gdf.drop(columns="geometry"))
    # the GeoPackage: one layer per CRS, footprints exact in the frame's CRS
    for epsg, gt, _ in (MERC, UTM):
        layer = gpd.read_file(exported.detections_gpkg, layer=f"detections_epsg{epsg}")
        assert layer.crs.to_epsg() == epsg
        fid = 1 if epsg == 3857 else 2
        assert sorted(layer["product_id"]) == [2, 3]
        for _, row in layer.iterrows():
            r0, c0, nr, nc = CROPS[fid][row["product_id"] - 2]
            want = (
                gt[0] + 10 * c0,
                gt[3] - 10 * (r0 + nr),
                gt[0] + 10 * (c0 + nc),
                gt[3] - 10 * r0,
            )
            assert row.geometry.bounds == pytest.approx(want, abs=1e-6)
            assert str(row["capture_time"]).startswith("2023-11-14 22:13:20")


# ---------------------------------------------------------------- STAC

EO_COMMON_NAMES = {
    "coastal", "blue", "green", "red", "rededge", "yellow", "pan", "nir", "nir08", "nir09",
    "cirrus", "swir16", "swir22", "lwir", "lwir11", "lwir12",
}  # fmt: skip
RASTER_DATA_TYPES = {
    "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float16",
    "float32", "float64", "cint16", "cint32", "cfloat32", "cfloat64", "other",
}  # fmt: skip
EXT = {
    "proj": "https://stac-extensions.github.io/projection/v2.0.0/schema.json",
    "eo": "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
    "raster": "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
}


def _check_extension_fields(doc: dict) -> None:
    """The fields of the projection, eo and raster extensions, by their specifications;
    each prefix used must have its schema declared."""
    used = set()
    for where in [doc.get("properties", {}), *doc.get("assets", {}).values()]:
        if "proj:code" in where:
            used.add("proj")
            code = where["proj:code"]
            assert isinstance(code, str) and code.split(":")[0].isalpha(), code
            assert code.split(":")[1].isdigit()
        if "proj:shape" in where:
            used.add("proj")
            shape = where["proj:shape"]
            assert len(shape) == 2 and all(isinstance(v, int) and v > 0 for v in shape)
        if "proj:transform" in where:
            assert len(where["proj:transform"]) in (6, 9)
        if "proj:bbox" in where:
            assert len(where["proj:bbox"]) in (4, 6)
        if "eo:bands" in where:
            used.add("eo")
            for b in where["eo:bands"]:
                assert b["common_name"] in EO_COMMON_NAMES
                assert 0.3 < b["center_wavelength"] < 15.0
        if "raster:bands" in where:
            used.add("raster")
            for b in where["raster:bands"]:
                assert b["data_type"] in RASTER_DATA_TYPES
                for k in ("scale", "offset", "nodata"):
                    assert k not in b or isinstance(b[k], int | float)
    assert {EXT[u] for u in used} <= set(doc.get("stac_extensions", []))


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError(f"network access during validation: {args[:1]}")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)


def _stac_files(out: Path) -> list[Path]:
    return sorted(p for p in out.rglob("*.json") if p.name != "metrics.json")


def test_stac_catalogue_validates_offline_and_every_href_resolves(exported, no_network):
    import pystac
    from pystac.validation.stac_validator import JsonSchemaSTACValidator

    out = exported.out_dir
    assert exported.stac_catalog == out / "catalog.json"
    validator = JsonSchemaSTACValidator()
    docs = {p: json.loads(p.read_text()) for p in _stac_files(out)}
    types = {"Catalog": 0, "Collection": 0, "Feature": 0}
    for path, doc in docs.items():
        types[doc["type"]] += 1
        validator.validate_core(
            doc, pystac.STACObjectType(doc["type"]), doc["stac_version"], str(path)
        )
        _check_extension_fields(doc)
        assert not any(link["rel"] == "self" for link in doc["links"])  # relocatable
        hrefs = [link["href"] for link in doc["links"]]
        hrefs += [a["href"] for a in doc.get("assets", {}).values()]
        for href in hrefs:
            assert not href.startswith(("/", "http:", "https:", "file:")), href
            assert (path.parent / href).resolve().is_file(), (path.name, href)
    # 2 frames and 4 crops; the collection's extent covers them
    assert types == {"Catalog": 1, "Collection": 1, "Feature": 6}
    cat = pystac.Catalog.from_file(str(out / "catalog.json"))
    (coll,) = cat.get_children()
    items = list(coll.get_items())
    assert sorted(i.id for i in items) == [
        "frame-1",
        "frame-1-crop-2",
        "frame-1-crop-3",
        "frame-2",
        "frame-2-crop-2",
        "frame-2-crop-3",
    ]
    frame2 = coll.get_item("frame-2")
    assert set(frame2.assets) >= {"mosaic", "quicklook", "class_map", "preview"}
    assert frame2.assets["mosaic"].media_type == (
        "image/tiff; application=geotiff; profile=cloud-optimized"
    )
    assert frame2.properties["proj:code"] == "EPSG:32633"
    assert frame2.properties["proj:shape"] == [560, 600]
    assert frame2.properties["triage:cells_total"] == 1258
    assert frame2.properties["triage:cells_by_class"] == {
        "cloud": 10,
        "sea": 800,
        "ship": 8,
        "land": 440,
    }
    assert frame2.assets["quicklook"].extra_fields["proj:shape"] == [140, 150]
    bands = frame2.assets["mosaic"].extra_fields["eo:bands"]
    assert [f"{b['name']} {b['common_name']}" for b in bands] == ROLES
    ext = coll.extent.spatial.bboxes[0]
    for i in items:
        assert ext[0] <= i.bbox[0] and ext[1] <= i.bbox[1]
        assert ext[2] >= i.bbox[2] and ext[3] >= i.bbox[3]
    crop = coll.get_item("frame-2-crop-2")
    assert crop.properties["proj:shape"] == [300, 280]
    assert crop.get_single_link("related").resolve_stac_object().target.id == "frame-2"


def test_the_folder_can_be_moved(exported, tmp_path):
    import shutil

    import pystac

    moved = tmp_path / "elsewhere"
    shutil.copytree(exported.out_dir, moved)
    cat = pystac.Catalog.from_file(str(moved / "catalog.json"))
    for item in cat.get_items(recursive=True):
        for asset in item.assets.values():
            href = asset.get_absolute_href()
            assert href.startswith(str(moved)) and Path(href).is_file()


# ---------------------------------------------------------------- per-frame exports


def _json_texts(out: Path) -> dict[str, str]:
    files = [*_stac_files(out), out / "detections.geojson"]
    return {str(p.relative_to(out)): p.read_text() for p in files}


def test_per_frame_exports_update_and_a_second_export_changes_nothing(
    catalogue, exported, tmp_path
):
    db, _ = catalogue
    out = tmp_path / "export"
    first = export_products(db, out, frame_ids=[2])
    assert [f.frame_id for f in first.frames] == [2] and first.n_detections == 2
    second = export_products(db, out, frame_ids=[1])
    assert [f.frame_id for f in second.frames] == [1]
    # frame 2's detections and items are still there: the same as one export of both
    assert second.n_detections == 4 and second.stac_items == 6
    assert _json_texts(out) == _json_texts(exported.out_dir)
    before = _json_texts(out)
    export_products(db, out, frame_ids=[1])
    export_products(db, out)
    assert _json_texts(out) == before  # idempotent


def test_a_folder_holds_one_mission(catalogue, tmp_path):
    db, _ = catalogue
    out = tmp_path / "export"
    export_products(db, out, frame_ids=[1], mission="sat-a")
    with pytest.raises(InputError, match=r"mission 'sat-a'.*another folder"):
        export_products(db, out, frame_ids=[1], mission="sat-b")
    with pytest.raises(InputError, match="lower-case"):
        export_products(db, tmp_path / "x", mission="Sat A/")
    assert (out / "sat-a" / "collection.json").is_file()
    assert not (out / "sat-b").exists()


def test_crop_window_matches_source_georeferencing(exported, catalogue):
    """A crop opened in a GIS sits over the same ground as the source pixels."""
    _, frames = catalogue
    for f in exported.crop_files:
        _, epsg, gt = frames[f.frame_id]
        (pid,) = [p.product_id for p in f.products]
        r0, c0, _, _ = CROPS[f.frame_id][pid - 2]
        with rasterio.open(f.path) as ds:
            assert ds.crs.to_epsg() == epsg
            assert ds.transform.c == gt[0] + 10 * c0 and ds.transform.f == gt[3] - 10 * r0
            assert ds.read(window=Window(0, 0, 2, 2)).shape == (4, 2, 2)
