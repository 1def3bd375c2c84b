"""A stream of another spacecraft using the same APIDs and frame ids.

Space packets carry no spacecraft id (the transfer frames do), so the ground knows
another spacecraft's products only by what they contradict: the frames it has catalogued
(size, grid, capture time) and the products it holds under the same keys. Those are
refused, never exported under this satellite's frame ids; the ingest says so and exits
non-zero; this satellite's products are all there, pixel for pixel.

Both satellites' products are made here (``gs_streams``), the other's from another scene,
grid and capture time.
"""

from __future__ import annotations

import random

import numpy as np
import rasterio

from ground_station.catalogue import Catalogue
from ground_station.errors import EXIT_CONTRADICTS
from ground_station.export import export_products
from ground_station.ingest import ingest_bytes
from triage.contract.enums import PRODUCT_BY_NAME
from triage.contract.records import PRODUCT_HEADER

from .cli_proc import groundstation
from .gs_streams import crop_regions, frame_products, make_product, stream_of, synthetic_frame

SEED = 20261210
OURS = {1: synthetic_frame(SEED + 1), 2: synthetic_frame(SEED + 2)}


def ours() -> list[bytes]:
    return [p for fid, px in OURS.items() for p in frame_products(px, fid)]


def theirs() -> list[bytes]:
    """Frames 1 and 2 of the other spacecraft: another scene, grid and time, and more crops."""
    out = []
    for fid in (1, 2):
        px = synthetic_frame(SEED + 100 + fid, shape=(4, 120, 160))
        out += frame_products(px, fid, time_s=1_700_050_000)
        for k in range(5, 9):
            out.append(
                make_product(
                    px[:, 10 * k : 10 * k + 20, 10:40],
                    product_type="SHIP_CROP",
                    frame_id=fid,
                    product_id=k,
                    region=(10 * k, 10, 20, 30),
                    frame_shape=(120, 160),
                    geotransform=(600000.0, 10.0, 0.0, 4700000.0, 0.0, -10.0),
                    class_id=2,
                    confidence=250,
                    time_s=1_700_050_000,
                )
            )
    return out


def _check_ours(db, out) -> None:
    rep = export_products(db, out)
    names = sorted(p.name for p in rep.crops)
    assert names == [f"frame-{f}-product-{k}.tif" for f in (1, 2) for k in (1, 2, 3)]
    for fid, px in OURS.items():
        for k, (r0, c0, nr, nc) in enumerate(crop_regions(), start=1):
            with rasterio.open(out / "crops" / f"frame-{fid}-product-{k}.tif") as src:
                np.testing.assert_array_equal(src.read(), px[:, r0 : r0 + nr, c0 : c0 + nc])
        with rasterio.open(out / "mosaics" / f"frame-{fid}.tif") as m:
            assert (m.height, m.width) == (96, 128)


def test_another_spacecraft_after_ours_is_refused_and_the_ingest_says_so(tmp_path):
    db = tmp_path / "c.sqlite"
    ingest_bytes(db, b"".join(stream_of(ours())))
    (tmp_path / "foreign.bin").write_bytes(b"".join(stream_of(theirs())))
    r = groundstation("ingest", tmp_path / "foreign.bin", "--db", db)
    assert r.code == EXIT_CONTRADICTS and r.one_error_line, r.err
    assert "spacecraft" in r.err
    _check_ours(db, tmp_path / "out")
    with Catalogue.open(db) as cat:
        refused = cat.product_rows("status != 'complete'")
    assert len(refused) >= 8 and all("contradicts frame" in r["reason"] for r in refused)


def test_another_spacecraft_mixed_into_our_next_pass(tmp_path):
    """Our first pass brought the quicklooks (the frames are catalogued); the crops come in
    the next pass with the other spacecraft's packets shuffled among them: ours complete
    and right, nothing of theirs exported. (Before any product of ours has defined a frame,
    bare packets cannot tell whose frame it is: the transfer frames' spacecraft id can.)"""
    rng = random.Random(SEED)
    crop = PRODUCT_BY_NAME["SHIP_CROP"].code
    first = [p for p in ours() if PRODUCT_HEADER.unpack(p)["product_type"] != crop]
    crops = [p for p in ours() if PRODUCT_HEADER.unpack(p)["product_type"] == crop]
    db = tmp_path / "c.sqlite"
    ingest_bytes(db, b"".join(stream_of(first)))
    mixed = list(stream_of(crops))
    for p in stream_of(theirs()):
        mixed.insert(rng.randrange(len(mixed) + 1), p)
    st = ingest_bytes(db, b"".join(mixed))
    _check_ours(db, tmp_path / "out")
    assert st.products_contradicting >= 8


def test_a_listed_product_that_contradicts_its_frame_stays_on_board(tmp_path):
    """A product the store directory lists but that contradicts its catalogued frame (a
    frame id used twice on board) is neither asked for again (the same bytes would come)
    nor released (the ground cannot place it): kept on board, with a note for the
    operator; the ground keeps its bytes."""
    from datetime import UTC, datetime, timedelta

    from ground_station.passes import ContactWindow
    from ground_station.plan import plan_next_pass

    from .gs_streams import directory_product, packets_of

    odd = theirs()[5]  # frame 1, product 5: another grid and capture time
    h = PRODUCT_HEADER.unpack(odd)
    entry = {k: h[k] for k in ("frame_id", "product_id", "product_type", "class_id", "confidence")}
    entry |= {"flags": 1, "segment_count": -(-len(odd) // 1024), "product_bytes": len(odd)}
    db = tmp_path / "c.sqlite"
    directory = directory_product([entry], 1, 1_772_000_000)
    ingest_bytes(db, b"".join(stream_of([*ours(), directory]) + packets_of(odd)))
    aos = datetime(2026, 3, 1, tzinfo=UTC)
    plan, _ = plan_next_pass(
        db, ContactWindow("t", aos, aos + timedelta(minutes=10), 40.0), 1, budget_bytes=10**6
    )
    assert (1, 5) not in {(i.frame_id, i.product_id) for i in plan.items + plan.releases}
    assert any("1/5 kept on board" in n for n in plan.notes)
