"""Export: crops and mosaics land at the right place with the right pixels.

The source is a tiny GeoTIFF written in tmp_path with rasterio (EPSG:3857,
10 m pixels, a rotation-free transform); products are cut from what rasterio
reads back, compressed by libaec and packetised by the reference encoder,
ingested, exported, and read again with rasterio. Expected positions are the
source's own corner coordinates (``src.xy`` / its transform), expected
pixels the source's pixels.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
from PIL import Image
from rasterio.windows import Window

from ground_station.export import default_attribution, export_products
from ground_station.ingest import ingest_bytes

from .gs_streams import crop_regions, frame_products, make_product, stream_of, synthetic_frame

SEED = 20261129
EPSG = 3857
SOURCE_TRANSFORM = (1_113_194.9, 10.0, 0.0, 6_800_123.4, 0.0, -10.0)  # GDAL order


@pytest.fixture(scope="module")
def source_tif(tmp_path_factory):
    """A 4-band uint16 GeoTIFF, 96 x 128, made here."""
    from affine import Affine

    path = tmp_path_factory.mktemp("src") / "scene.tif"
    pixels = synthetic_frame(SEED)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=128,
        height=96,
        count=4,
        dtype="uint16",
        crs=f"EPSG:{EPSG}",
        transform=Affine.from_gdal(*SOURCE_TRANSFORM),
        nodata=0,
    ) as dst:
        dst.write(pixels)
    return path


@pytest.fixture(scope="module")
def exported(source_tif, tmp_path_factory):
    with rasterio.open(source_tif) as src:
        frame = src.read()
        gt = src.transform.to_gdal()
        epsg = src.crs.to_epsg()
    products = _with_geo(frame, 42, gt, epsg)
    tmp = tmp_path_factory.mktemp("gs")
    db = tmp / "c.sqlite"
    ingest_bytes(db, b"".join(stream_of(products)))
    report = export_products(db, tmp / "out")
    return frame, report


def _with_geo(frame, frame_id, gt, epsg):
    rows, cols = frame.shape[1:]
    geo = {"frame_shape": (rows, cols), "crs_epsg": epsg, "geotransform": gt}
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
    for k, (r0, c0, nr, nc) in enumerate(crop_regions()):
        out.append(
            make_product(
                frame[:, r0 : r0 + nr, c0 : c0 + nc],
                product_type="SHIP_CROP",
                frame_id=frame_id,
                product_id=1 + k,
                region=(r0, c0, nr, nc),
                class_id=2,
                confidence=250 - 30 * k,
                **geo,
            )
        )
    return out


def test_crops_are_bit_exact_at_the_right_place(source_tif, exported):
    _, report = exported
    assert len(report.crops) == 3
    with rasterio.open(source_tif) as src:
        for k, (r0, c0, nr, nc) in enumerate(crop_regions()):
            path = report.out_dir / "crops" / f"frame-42-product-{k + 1}.tif"
            with rasterio.open(path) as crop:
                assert crop.crs == src.crs
                assert (crop.count, crop.height, crop.width) == (4, nr, nc)
                assert crop.dtypes == ("uint16",) * 4
                np.testing.assert_array_equal(crop.read(), src.read(window=Window(c0, r0, nc, nr)))
                # corners: the source's coordinates of the crop's corner pixels
                assert crop.xy(0, 0, offset="ul") == src.xy(r0, c0, offset="ul")
                assert crop.xy(nr - 1, nc - 1, offset="lr") == src.xy(
                    r0 + nr - 1, c0 + nc - 1, offset="lr"
                )
                # and by hand: x0 + 10 * c0, y0 - 10 * r0
                assert crop.bounds.left == pytest.approx(SOURCE_TRANSFORM[0] + 10 * c0, abs=1e-6)
                assert crop.bounds.top == pytest.approx(SOURCE_TRANSFORM[3] - 10 * r0, abs=1e-6)
                assert crop.tags()["attribution"] == default_attribution()
                assert crop.tags()["class_name"] == "ship"


def test_mosaic_is_the_quicklook_upsampled_with_the_crops_pasted_in(source_tif, exported):
    frame, report = exported
    (fe,) = report.frames
    with rasterio.open(fe.mosaic_tif) as m, rasterio.open(source_tif) as src:
        assert m.transform == src.transform and m.crs == src.crs
        mosaic = m.read()
        assert "Copernicus" in m.tags()["attribution"]
    in_crop = np.zeros(frame.shape[1:], dtype=bool)
    for r0, c0, nr, nc in crop_regions():
        in_crop[r0 : r0 + nr, c0 : c0 + nc] = True
    rr, cc = np.mgrid[0 : frame.shape[1], 0 : frame.shape[2]]
    upsampled = frame[:, (rr // 4) * 4, (cc // 4) * 4]
    np.testing.assert_array_equal(mosaic[:, in_crop], frame[:, in_crop])
    np.testing.assert_array_equal(mosaic[:, ~in_crop], upsampled[:, ~in_crop])
    png = Image.open(fe.mosaic_png)
    assert png.mode == "RGB" and png.size == (128, 96)
    assert png.text["attribution"] == default_attribution()


def test_detections_geojson(source_tif, exported):
    """RFC 7946: WGS84 lon/lat, no crs member; the corners are the source's pixel corners
    reprojected (pyproj, not the code's path through rasterio)."""
    from pyproj import Transformer

    _, report = exported
    gj = json.loads(report.detections.read_text())
    assert "crs" not in gj
    assert gj["attribution"] == default_attribution()
    feats = sorted(gj["features"], key=lambda f: f["properties"]["product_id"])
    assert len(feats) == 3
    to_wgs84 = Transformer.from_crs(EPSG, 4326, always_xy=True)
    with rasterio.open(source_tif) as src:
        for f, (r0, c0, nr, nc) in zip(feats, crop_regions(), strict=True):
            ring = f["geometry"]["coordinates"][0]
            assert ring[0] == ring[-1]
            ul = to_wgs84.transform(*src.xy(r0, c0, offset="ul"))
            lr = to_wgs84.transform(*src.xy(r0 + nr - 1, c0 + nc - 1, offset="lr"))
            np.testing.assert_allclose(ring[0], ul, rtol=0, atol=2e-7)
            np.testing.assert_allclose(ring[2], lr, rtol=0, atol=2e-7)
            p = f["properties"]
            assert (p["frame_id"], p["class"]) == (42, "ship")
            assert p["confidence"] == (250 - 30 * (p["product_id"] - 1)) / 256
            assert p["capture_time"] == "2023-11-14T22:13:20Z"
            assert p["center_lon"] == pytest.approx(10.0, abs=0.1)
            assert p["center_lat"] == pytest.approx(52.0, abs=0.5)
            assert (p["region_row0"], p["region_col0"]) == (r0, c0)
            assert p["crop"] == f"crops/frame-42-product-{p['product_id']}.tif"


def test_frame_without_quicklook_has_nodata_around_crops(tmp_path):
    frame = synthetic_frame(SEED + 1)
    products = frame_products(frame, 7)[1:2]  # one crop only
    db = tmp_path / "c.sqlite"
    ingest_bytes(db, b"".join(stream_of(products)))
    report = export_products(db, tmp_path / "out", attribution="")
    with rasterio.open(report.frames[0].mosaic_tif) as m:
        mosaic = m.read()
        assert "attribution" not in m.tags()
    r0, c0, nr, nc = crop_regions()[0]
    np.testing.assert_array_equal(
        mosaic[:, r0 : r0 + nr, c0 : c0 + nc], frame[:, r0 : r0 + nr, c0 : c0 + nc]
    )
    assert (mosaic[:, :r0] == 0).all()


def test_masked_crop_pixels_are_transparent_in_the_mosaic(tmp_path):
    """A ship crop whose pixels outside its kept cells hold no-data (0 in every band), as the
    firmware cuts them: the mosaic shows the quicklook under them, the crop elsewhere; the
    crop's GeoTIFF keeps the no-data pixels (declared as its nodata value)."""
    frame = synthetic_frame(SEED + 2)
    rows, cols = frame.shape[1:]
    r0, c0, nr, nc = 8, 16, 40, 48
    kept = np.zeros((nr, nc), bool)
    kept[0:16, 0:16] = True  # two cells, one diagonal from the other
    kept[16:32, 16:40] = True
    crop = np.where(kept[None], frame[:, r0 : r0 + nr, c0 : c0 + nc], 0).astype(np.uint16)
    geo = {"frame_shape": (rows, cols), "crs_epsg": EPSG, "geotransform": SOURCE_TRANSFORM}
    products = [
        make_product(
            frame[:, ::4, ::4],
            product_type="QUICKLOOK",
            frame_id=5,
            product_id=0,
            region=(0, 0, rows, cols),
            pixel_step=4,
            **geo,
        ),
        make_product(
            crop,
            product_type="SHIP_CROP",
            frame_id=5,
            product_id=1,
            region=(r0, c0, nr, nc),
            class_id=2,
            confidence=200,
            **geo,
        ),
    ]
    db = tmp_path / "c.sqlite"
    ingest_bytes(db, b"".join(stream_of(products)))
    report = export_products(db, tmp_path / "out", attribution="")
    with rasterio.open(report.frames[0].mosaic_tif) as m:
        mosaic = m.read()
    rr, cc = np.mgrid[0:rows, 0:cols]
    want = frame[:, (rr // 4) * 4, (cc // 4) * 4]  # the quicklook, upsampled
    full = np.zeros((rows, cols), bool)
    full[r0 : r0 + nr, c0 : c0 + nc] = kept
    want[:, full] = frame[:, full]
    np.testing.assert_array_equal(mosaic, want)
    (path,) = report.crops
    with rasterio.open(path) as ds:
        assert ds.nodata == 0
        np.testing.assert_array_equal(ds.read(), crop)


# Sentinel-2 MSI band designations (ESA's Sentinel-2 user handbook): the roles a 4-band
# product of this mission carries, written here by hand, not read from tile_spec.json.
S2_ROLES = [("B02", "blue"), ("B03", "green"), ("B04", "red"), ("B08", "nir")]


def test_report_says_what_each_file_holds(exported):
    """Each written file comes with its frame id, products and band roles; the crops' ids
    agree with the tags inside the GeoTIFFs (read back by rasterio), not with file names."""
    _, report = exported
    files = report.files
    assert sorted(f.path for f in files) == sorted(
        p for p in report.out_dir.rglob("*") if p.suffix in (".tif", ".png")
    )
    crops = [f for f in files if f.kind == "crop"]
    assert [f.path for f in crops] == report.crops
    assert len(crops) == 3
    for f in crops:
        with rasterio.open(f.path) as ds:
            tags = ds.tags()
            assert len(f.bands) == ds.count
        ((pid, ptype),) = [(p.product_id, p.product_type) for p in f.products]
        assert (f.frame_id, pid) == (int(tags["frame_id"]), int(tags["product_id"]))
        assert ptype == "SHIP_CROP"
        assert [(b.index, b.band, b.role) for b in f.bands] == [
            (i + 1, band, role) for i, (band, role) in enumerate(S2_ROLES)
        ]
        assert [str(b) for b in f.bands] == ["B02 blue", "B03 green", "B04 red", "B08 nir"]
    (mosaic,) = [f for f in files if f.kind == "mosaic"]
    assert mosaic.path == report.frames[0].mosaic_tif and mosaic.frame_id == 42
    # paste order: the quicklook (step 4) first, then the crops
    assert [(p.product_id, p.product_type) for p in mosaic.products] == [
        (0, "QUICKLOOK"),
        (1, "SHIP_CROP"),
        (2, "SHIP_CROP"),
        (3, "SHIP_CROP"),
    ]
    assert [(b.band, b.role) for b in mosaic.bands] == S2_ROLES
    (preview,) = [f for f in files if f.kind == "preview"]
    assert preview.path == report.frames[0].mosaic_png
    assert [(b.index, b.band, b.role) for b in preview.bands] == [
        (3, "B04", "red"),
        (2, "B03", "green"),
        (1, "B02", "blue"),
    ]
    js = report.to_json()["frames"][0]["files"]
    assert [(x["kind"], x["frame_id"]) for x in js] == [(f.kind, f.frame_id) for f in files]
    assert js[0]["bands"][3] == {"index": 4, "band": "B08", "role": "nir"}


def test_band_roles_unknown_when_the_band_count_is_not_the_missions(tmp_path):
    """A 2-band crop: the wire format does not say which bands they are, so the report
    claims no role rather than the first two of the tile spec."""
    frame = synthetic_frame(SEED + 3, shape=(2, 64, 64))
    r0, c0, nr, nc = 8, 8, 16, 24
    product = make_product(
        frame[:, r0 : r0 + nr, c0 : c0 + nc],
        product_type="SHIP_CROP",
        frame_id=9,
        product_id=4,
        region=(r0, c0, nr, nc),
        class_id=2,
        confidence=100,
    )
    db = tmp_path / "c.sqlite"
    ingest_bytes(db, b"".join(stream_of([product])))
    report = export_products(db, tmp_path / "out", attribution="")
    (crop,) = report.crop_files
    assert (crop.frame_id, crop.products[0].product_id) == (9, 4)
    assert [(b.index, b.band, b.role) for b in crop.bands] == [(1, None, None), (2, None, None)]
