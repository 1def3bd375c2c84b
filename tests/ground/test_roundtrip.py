"""Round trip through the firmware: a georeferenced frame goes into the host build
of the on-board application (``triage.onboard``), its packets come down, are
ingested and exported, and the crops are bit-identical to the frame's pixels
at the right geographic position, checked against the source GeoTIFF with
rasterio.

- A tiny synthetic GeoTIFF (made in tmp_path; sea, three bright ships, a land
  block; seed below) through the test rule classifier, in one pass, then over
  several short passes with packet loss, planned by the ground
  (DOWNLINK_REQUEST uplinked to the firmware) until everything is down.
- A real Sentinel-2 window (sen2ships, via ``data_dir``) through the shipped
  model, when the host build has one.
"""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.windows import Window, from_bounds

from ground_station.catalogue import Catalogue
from ground_station.deframe import deframe
from ground_station.export import export_products
from ground_station.ingest import ingest_bytes
from ground_station.plan import plan_next_pass
from triage.contract.packets import decode_request
from triage.contract.records import DIRECTORY_FRAME_ID, PRODUCT_HEADER, seal_product

SEED = 20261202
SHIPS = [(40, 50), (100, 150), (20, 190)]  # (row, col) of the top-left of each 5x7 blob
GT = (600000.0, 10.0, 0.0, 5000000.0, 0.0, -10.0)


@pytest.fixture(scope="module")
def onboard_lib(build_dir):
    path = build_dir / "host" / "libtrifw.so"
    if not path.exists():
        pytest.fail(f"{path} not built: `make firmware` must run before the tests")
    from triage.onboard import _lib

    lib = _lib.load(str(path))
    if not hasattr(lib, "tri_host_process_frame"):
        pytest.fail("the host library has no on-board application (tri_host_process_frame)")
    return lib


@pytest.fixture(scope="module")
def scene_tif(tmp_path_factory):
    """160 x 224 x 4 (blue, green, red, nir) uint16, EPSG:32631, 10 m pixels."""
    rng = np.random.default_rng(SEED)
    rows, cols = 160, 224
    base = np.array([1500, 1200, 900, 600])[:, None, None]
    pix = base + rng.integers(0, 200, size=(4, rows, cols))
    pix[:, 110:160, 0:70] = np.array([2000, 2600, 2400, 20000])[:, None, None]  # land
    for r, c in SHIPS:
        pix[:, r : r + 5, c : c + 7] = 50000
    path = tmp_path_factory.mktemp("scene") / "scene.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=cols,
        height=rows,
        count=4,
        dtype="uint16",
        crs="EPSG:32631",
        transform=Affine.from_gdal(*GT),
    ) as dst:
        dst.write(pix.astype(np.uint16))
    return path


def _meta_and_frame(src, frame_id: int):
    from triage.onboard import FrameMeta

    frame = np.ascontiguousarray(np.moveaxis(src.read(), 0, -1))  # [rows, cols, bands]
    meta = FrameMeta.for_frame(
        frame,
        frame_id,
        nodata=0,
        time_s=1_780_000_000,
        time_sub=0,
        crs_epsg=src.crs.to_epsg(),
        geotransform=src.transform.to_gdal(),
    )
    return frame, meta


def check_crops_against_source(report, source_tif) -> int:
    """Every exported crop equals the source's pixels where the source says it is, at every
    pixel it keeps (the firmware's crops keep the central cells of their tiles and leave the
    rest of their box no-data: tests/onboard/test_pipeline.py checks which)."""
    n = 0
    with rasterio.open(source_tif) as src:
        for path in report.crops:
            with rasterio.open(path) as crop:
                assert crop.crs == src.crs
                win = from_bounds(*crop.bounds, transform=src.transform)
                r0, c0 = round(win.row_off), round(win.col_off)
                assert (win.row_off, win.col_off) == pytest.approx((r0, c0), abs=1e-6)
                assert (round(win.height), round(win.width)) == (crop.height, crop.width)
                assert crop.xy(0, 0, offset="ul") == src.xy(r0, c0, offset="ul")
                window = Window(c0, r0, crop.width, crop.height)
                px = crop.read()
                kept = (px != crop.nodata).any(axis=0)
                assert kept.any()
                np.testing.assert_array_equal(px[:, kept], src.read(window=window)[:, kept])
                n += 1
    return n


def test_one_pass_crops_bit_identical_and_in_place(onboard_lib, scene_tif, tmp_path):
    from triage.onboard import Onboard

    with rasterio.open(scene_tif) as src:
        frame, meta = _meta_and_frame(src, 77)
    ob = Onboard(4 << 20, classifier="rule")
    rep = ob.process_frame(frame, meta)
    assert rep.ok, rep.status_name
    stream = ob.directory() + ob.downlink(1 << 30)
    db = tmp_path / "c.sqlite"
    st = ingest_bytes(db, stream)
    assert st.deframe.crc_errors == 0 and st.malformed == {} and st.conflicts == 0
    assert st.products_invalid == 0, st.invalid_reasons
    assert st.products_completed == st.products_new
    report = export_products(db, tmp_path / "out")
    assert check_crops_against_source(report, scene_tif) == len(report.crops) >= 1
    # every planted ship is inside a delivered region, at its geographic position
    gj = json.loads(report.detections.read_text())
    from pyproj import Transformer

    with rasterio.open(scene_tif) as src:
        to_wgs84 = Transformer.from_crs(src.crs.to_epsg(), 4326, always_xy=True)
        for r, c in SHIPS:
            x, y = to_wgs84.transform(*src.xy(r + 2, c + 3))  # detections are WGS84 lon/lat
            inside = [
                f
                for f in gj["features"]
                if min(p[0] for p in f["geometry"]["coordinates"][0])
                <= x
                <= max(p[0] for p in f["geometry"]["coordinates"][0])
                and min(p[1] for p in f["geometry"]["coordinates"][0])
                <= y
                <= max(p[1] for p in f["geometry"]["coordinates"][0])
            ]
            assert inside, f"ship at {(r, c)} not in any detection"
    # the mosaic sits exactly on the source grid
    with rasterio.open(report.frames[0].mosaic_tif) as m, rasterio.open(scene_tif) as src:
        assert m.transform == src.transform and m.crs == src.crs
        assert (m.height, m.width) == (src.height, src.width)


def test_passes_with_loss_planned_by_the_ground(onboard_lib, scene_tif, tmp_path):
    """Short passes, 10 % packet loss; the ground plans each next pass until all is down."""
    from triage.onboard import Onboard

    with rasterio.open(scene_tif) as src:
        frame, meta = _meta_and_frame(src, 78)
    ob = Onboard(4 << 20, classifier="rule")
    assert ob.process_frame(frame, meta).ok
    db = tmp_path / "c.sqlite"
    rng = random.Random(SEED)
    budget = 6000
    request = None
    on_board = None
    for k in range(60):
        stream = ob.directory() + ob.downlink(budget, request)
        pkts, _ = deframe(stream)
        kept = [p for p in pkts if rng.random() >= 0.10]
        ingest_bytes(db, b"".join(kept), source=f"pass {k}")
        _, request = plan_next_pass(db, None, 0, budget_bytes=budget)
        decode_request(request)
        with Catalogue.open(db) as cat:
            latest = cat.latest_directory()
            n_incomplete = cat.con.execute(
                "SELECT count(*) FROM products WHERE status != 'complete' AND frame_id=78"
            ).fetchone()[0]
        if latest is not None:
            on_board = len(latest[1])
        if latest is not None and on_board == 0 and n_incomplete == 0:
            break
    else:
        pytest.fail(f"not everything came down in 60 passes ({on_board} still on board)")
    assert k >= 2  # it did take several passes
    report = export_products(db, tmp_path / "out")
    assert check_crops_against_source(report, scene_tif) >= 1
    with Catalogue.open(db) as cat:
        assert (
            cat.con.execute("SELECT count(*) FROM products WHERE status='invalid'").fetchone()[0]
            == 0
        )
    assert ob.counters()["requests_rejected"] == 0


def test_mutated_firmware_products_fail_with_a_reason(onboard_lib, scene_tif):
    """3,000 mutations of the firmware's products (neighbour-predicted crops, quicklooks,
    land, class map, summary): bytes changed at random, mostly in the header, some cut
    short, the CRC-32 redone so that the deeper checks run. The ground's decoder returns
    pixels or raises ProductError with a reason; nothing else escapes it."""
    from triage.contract.codec import decode_product
    from triage.contract.errors import ProductError
    from triage.onboard import Onboard
    from triage.onboard.products import parse_packets, reassemble

    with rasterio.open(scene_tif) as src:
        frame, meta = _meta_and_frame(src, 83)
    ob = Onboard(4 << 20, classifier="rule", land_policy="lowres")
    assert ob.process_frame(frame, meta).ok
    products = list(reassemble(parse_packets(ob.downlink(1 << 30))).values())
    rng = random.Random(SEED)
    refused = 0
    for _ in range(3000):
        p = bytearray(rng.choice(products))
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(min(len(p), 200)) if rng.random() < 0.6 else rng.randrange(len(p))
            p[at] = rng.randrange(256)
        if rng.random() < 0.2:
            p = p[: rng.randrange(PRODUCT_HEADER.size, len(p) + 1)]
        try:
            decode_product(seal_product(p), pixels=True)
        except ProductError as exc:
            assert str(exc)
            refused += 1
    assert refused > 1000  # most mutations are caught; the rest decode to pixels


def test_a_reset_on_board_starts_new_directories(onboard_lib, scene_tif, tmp_path):
    """After a reset the firmware counts directories from 0 again, its store empty and its
    directory time 0 until the next frame. With the platform's boot count in the directory's
    frame_id, the ground takes the new directory as the latest and plans from it (nothing on
    board); with the old count the same key comes back with other bytes, a conflict the
    ground drops, and it would go on asking for products the reset lost."""
    from triage.onboard import Onboard
    from triage.onboard.host import OnboardInputError

    with rasterio.open(scene_tif) as src:
        frame, meta = _meta_and_frame(src, 81)
    before = Onboard(4 << 20, classifier="rule", boot_count=4)
    assert before.process_frame(frame, meta).ok
    db = tmp_path / "c.sqlite"
    assert ingest_bytes(db, before.directory()).products_completed == 1
    plan, _ = plan_next_pass(db, None, 0, budget_bytes=1 << 20)
    assert {i.frame_id for i in plan.items} == {81}  # frame 81's products are on board

    after = Onboard(4 << 20, classifier="rule", boot_count=5)  # the reset lost the store
    st = ingest_bytes(db, after.directory())
    assert (st.conflicts, st.products_completed) == (0, 1)
    with Catalogue.open(db) as cat:
        d, entries = cat.latest_directory()
        frame_id = cat.con.execute("SELECT frame_id FROM products WHERE id=?", (d["id"],))
        assert frame_id.fetchone()[0] == DIRECTORY_FRAME_ID + 5
    assert (d["product_id"], d["time_s"], entries) == (0, 0, [])
    plan, _ = plan_next_pass(db, None, 0, budget_bytes=1 << 20)
    assert plan.items == []

    same_boot = Onboard(4 << 20, classifier="rule", boot_count=5)  # no new boot count
    with rasterio.open(scene_tif) as src:
        frame, meta = _meta_and_frame(src, 82)
    assert same_boot.process_frame(frame, meta).ok
    assert ingest_bytes(db, same_boot.directory()).conflicts >= 1
    with Catalogue.open(db) as cat:
        assert cat.latest_directory()[1] == []  # still the empty one
    with pytest.raises(OnboardInputError, match="boot_count 65536"):
        Onboard(1 << 20, classifier="rule", boot_count=65536)


@pytest.mark.realdata
def test_real_sentinel2_window_through_the_model(onboard_lib, data_dir, tmp_path):
    from triage.onboard import Onboard, has_model

    if not has_model():
        pytest.skip("the host build has no classifier model")
    port = data_dir / "sen2ships" / "busan"
    # a 256 x 384 window with labelled ships, written as a 4-band GeoTIFF in tmp_path
    coco = json.loads((port / "ships.coco.json").read_text())
    x, y, _, _ = coco["annotations"][0]["bbox"]
    bands = []
    for b in ("B02", "B03", "B04", "B08"):
        with rasterio.open(port / f"{b}.tif") as src:
            r0 = int(min(max(0, y - 128), src.height - 256))
            c0 = int(min(max(0, x - 192), src.width - 384))
            win = Window(c0, r0, 384, 256)
            bands.append(src.read(1, window=win))
            transform, crs = src.window_transform(win), src.crs
    window_tif = tmp_path / "window.tif"
    with rasterio.open(
        window_tif,
        "w",
        driver="GTiff",
        width=384,
        height=256,
        count=4,
        dtype="uint16",
        crs=crs,
        transform=transform,
    ) as dst:
        dst.write(np.stack(bands))
    with rasterio.open(window_tif) as src:
        frame, meta = _meta_and_frame(src, 90)
    ob = Onboard(8 << 20, classifier="model")
    rep = ob.process_frame(frame, meta)
    assert rep.ok, rep.status_name
    db = tmp_path / "c.sqlite"
    st = ingest_bytes(db, ob.directory() + ob.downlink(1 << 30))
    assert st.products_invalid == 0 and st.products_completed == st.products_new
    report = export_products(db, tmp_path / "out")
    assert report.crops, "the model cropped no ship in the window: nothing to compare"
    assert check_crops_against_source(report, window_tif) == len(report.crops)
    with rasterio.open(report.frames[0].mosaic_tif) as m, rasterio.open(window_tif) as src:
        assert m.transform == src.transform and m.crs == src.crs
        assert "Copernicus" in m.tags()["attribution"]
