"""Synthetic scenes (exact truth, real GeoTIFFs) and the frame reader's checks."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from triage.sim.errors import BandsMissingError, CrsError, SceneError
from triage.sim.frames import check_frame, read_frame
from triage.sim.manifest import BandSource, Frame, PixelWindow
from triage.sim.synthetic import SceneSpec, generate_scene, write_scene

SEED = 1234  # recorded seed of the scenes these tests draw


@pytest.fixture(scope="module")
def scene():
    return generate_scene(SceneSpec(rows=256, cols=256, seed=SEED, n_ships=6, cloud_cover=0.2))


def test_deterministic_in_the_seed(scene):
    again = generate_scene(SceneSpec(rows=256, cols=256, seed=SEED, n_ships=6, cloud_cover=0.2))
    for name in scene.bands:
        assert np.array_equal(scene.bands[name], again.bands[name])
    other = generate_scene(SceneSpec(rows=256, cols=256, seed=SEED + 1, n_ships=6))
    assert not np.array_equal(scene.bands["nir"], other.bands["nir"])


def test_truth_boxes_hold_bright_hulls(scene):
    """Each truth box holds its hull: NIR inside is far above the surrounding water,
    the box centre is inside the box, and the class map marks ship pixels only there."""
    from triage.contract.tile_spec import tile_spec

    ship_id = tile_spec().class_id("ship")
    assert len(scene.ships) == 6
    nir = scene.bands["nir"].astype(float)
    ship_px = scene.class_map == ship_id
    in_boxes = np.zeros_like(ship_px)
    for s in scene.ships:
        x, y, w, h = s.bbox_xywh
        in_boxes[y : y + h, x : x + w] = True
        box = nir[y : y + h, x : x + w]
        ring = nir[max(0, y - 12) : y + h + 12, max(0, x - 12) : x + w + 12]
        water = np.median(ring)
        assert box.max() > water + 5000, (s, box.max(), water)
        assert x <= s.centre_col < x + w and y <= s.centre_row < y + h
        xs, ys = np.array(s.polygon_xy[0::2]), np.array(s.polygon_xy[1::2])
        assert xs.min() >= x - 1 and xs.max() <= x + w + 1
        assert ys.min() >= y - 1 and ys.max() <= y + h + 1
    assert not (ship_px & ~in_boxes).any()


def test_class_map_and_fractions(scene):
    from triage.contract.tile_spec import tile_spec

    spec = tile_spec()
    cloud = scene.class_map == spec.class_id("cloud")
    assert abs(cloud.mean() - scene.cloud_fraction) < 1e-9
    # clouds are bright and grey, water dark in the NIR
    assert np.median(scene.bands["blue"][cloud]) > 30000
    sea = scene.class_map == spec.class_id("sea")
    assert np.median(scene.bands["nir"][sea]) < 2000


def test_written_geotiffs_read_back(tmp_path, scene):
    paths = write_scene(scene, tmp_path / "s", lon_deg=3.0, lat_deg=43.0, name="s")
    with rasterio.open(paths["nir"]) as ds:
        assert ds.crs.to_epsg() == 32631
        assert ds.dtypes[0] == "uint16"
        assert np.array_equal(ds.read(1), scene.bands["nir"])
    coco = json.loads((tmp_path / "s" / "ships.coco.json").read_text())
    assert [a["bbox"] for a in coco["annotations"]] == [list(s.bbox_xywh) for s in scene.ships]


def _frame(bands, window=(0, 0, 32, 48)):
    r0, c0, rows, cols = window
    return Frame(
        frame_id=5,
        scene="s",
        bands=bands,
        window=PixelWindow(row0=r0, col0=c0, rows=rows, cols=cols),
        capture_time_utc=datetime(2024, 6, 1, tzinfo=UTC),
    )


@pytest.fixture(scope="module")
def written(tmp_path_factory, scene):
    folder = tmp_path_factory.mktemp("scene")
    paths = write_scene(scene, folder, lon_deg=3.0, lat_deg=43.0, name="s")
    return folder, {k: BandSource(path=str(v)) for k, v in paths.items()}


def test_read_frame_window_and_geotransform(written, scene):
    folder, bands = written
    f = _frame(bands, (10, 20, 32, 48))
    geo = check_frame(f, folder)
    px = read_frame(geo, f)
    assert px.shape == (32, 48, 4) and px.dtype == np.uint16
    for i, name in enumerate(("blue", "green", "red", "nir")):
        assert np.array_equal(px[:, :, i], scene.bands[name][10:42, 20:68])
    with rasterio.open(bands["blue"].path) as ds:
        x0, y0 = ds.xy(10, 20, offset="ul")
    assert geo.geotransform[0] == pytest.approx(x0) and geo.geotransform[3] == pytest.approx(y0)
    assert geo.crs_epsg == 32631 and geo.raw_bytes == 32 * 48 * 4 * 2


def test_bands_missing(written):
    folder, bands = written
    three = {k: v for k, v in bands.items() if k != "nir"}
    with pytest.raises(BandsMissingError, match=r"frame 5 \(s\): bands missing: nir"):
        check_frame(_frame(three), folder)
    wrong_index = dict(bands, nir=BandSource(path=bands["nir"].path, band_index=2))
    with pytest.raises(BandsMissingError, match="band_index 2 does not exist"):
        check_frame(_frame(wrong_index), folder)


def test_missing_and_unreadable_files(written, tmp_path):
    folder, bands = written
    gone = dict(bands, red=BandSource(path=str(tmp_path / "nope.tif")))
    with pytest.raises(SceneError, match=r"band red: GeoTIFF not found: .*nope\.tif"):
        check_frame(_frame(gone), folder)
    junk = tmp_path / "junk.tif"
    junk.write_bytes(b"II*\x00garbage" * 10)
    bad = dict(bands, green=BandSource(path=str(junk)))
    with pytest.raises(SceneError, match=r"band green: cannot read .*junk\.tif"):
        check_frame(_frame(bad), folder)


def test_window_outside_scene(written):
    folder, bands = written
    with pytest.raises(SceneError, match="outside the scene"):
        check_frame(_frame(bands, (240, 0, 32, 32)), folder)


def _tif(path, crs, dtype="uint16", size=16):
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=size,
        height=size,
        count=1,
        dtype=dtype,
        crs=crs,
        transform=from_origin(0, 0, 10, 10),
    ) as ds:
        ds.write(np.zeros((size, size), dtype=dtype), 1)
    return BandSource(path=str(path))


def test_crs_without_epsg_and_no_crs(tmp_path):
    local = (
        'LOCAL_CS["lab grid",LOCAL_DATUM["none",32767],UNIT["metre",1],'
        'AXIS["X",EAST],AXIS["Y",NORTH]]'
    )
    src = _tif(tmp_path / "local.tif", local)
    bands = {k: src for k in ("blue", "green", "red", "nir")}
    with pytest.raises(CrsError, match="no EPSG code"):
        check_frame(_frame(bands, (0, 0, 16, 16)), tmp_path)
    src = _tif(tmp_path / "nocrs.tif", None)
    bands = {k: src for k in ("blue", "green", "red", "nir")}
    with pytest.raises(CrsError, match="has no CRS"):
        check_frame(_frame(bands, (0, 0, 16, 16)), tmp_path)


def test_unsupported_dtype_and_mixed_grids(tmp_path):
    f32 = _tif(tmp_path / "f.tif", "EPSG:32631", dtype="float32")
    bands = {k: f32 for k in ("blue", "green", "red", "nir")}
    with pytest.raises(SceneError, match="float32 samples"):
        check_frame(_frame(bands, (0, 0, 16, 16)), tmp_path)
    a = _tif(tmp_path / "a.tif", "EPSG:32631")
    b = _tif(tmp_path / "b.tif", "EPSG:32631", size=20)
    bands = {"blue": a, "green": a, "red": a, "nir": b}
    with pytest.raises(SceneError, match=r"band nir: .* is not on the grid of band blue"):
        check_frame(_frame(bands, (0, 0, 16, 16)), tmp_path)
