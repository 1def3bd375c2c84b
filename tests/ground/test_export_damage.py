"""Export goes on past a product it cannot place or decode, names it and says why; the
ingest repairs what the ground damaged.

- Products of one frame id that disagree on the frame (its size, grid, capture time: two
  spacecraft, or a corrupted header that passed every check) cannot share one mosaic:
  the one that contradicts the catalogued frame is not exported (it was an ``IndexError``).
- A byte flipped in the catalogue's segment pack after ingest (a bad sector) makes that
  product fail its CRC-32 at export: the export names it, says the damage is on the
  ground, writes everything else, and an ingest of a stream that holds the product again
  replaces the damaged copy.

Expected pixels are the frames the products were cut from (``gs_streams``).
"""

from __future__ import annotations

import numpy as np
import rasterio

from ground_station.catalogue import Catalogue
from ground_station.export import export_products
from ground_station.ingest import ingest_bytes

from .gs_streams import (
    crop_regions,
    frame_products,
    make_product,
    packets_of,
    stream_of,
    synthetic_frame,
)

SEED = 20261208


def test_products_that_disagree_on_their_frame_do_not_stop_the_export(tmp_path):
    frame = synthetic_frame(SEED)
    products = frame_products(frame, 9)  # a 96 x 128 frame
    other = make_product(  # frame 9 again, but 300 x 400 and a crop far outside 96 x 128
        np.full((4, 30, 40), 900, np.uint16),
        product_type="SHIP_CROP",
        frame_id=9,
        product_id=7,
        region=(200, 300, 30, 40),
        frame_shape=(300, 400),
        class_id=2,
        confidence=240,
    )
    db = tmp_path / "c.sqlite"
    ingest_bytes(db, b"".join(stream_of([*products, other])))
    rep = export_products(db, tmp_path / "out")
    assert sorted(p.name for p in rep.crops) == [
        "frame-9-product-1.tif",
        "frame-9-product-2.tif",
        "frame-9-product-3.tif",
    ]
    with Catalogue.open(db) as cat:
        row = cat.product_rows("product_id=7")[0]
    skipped = [s for s in rep.skipped if "product 7" in s]
    assert row["status"] == "invalid" or skipped, (row, rep.skipped)
    why = row["reason"] if row["status"] == "invalid" else skipped[0]
    assert "frame 9" in why and "300" in why and "96" in why


def _flip_in_pack(db, frame_id: int, product_id: int, segment: int) -> None:
    with Catalogue.open(db) as cat:
        (off,) = cat.con.execute(
            "SELECT s.pack_offset FROM segments s JOIN products p ON p.id = s.product "
            "WHERE p.frame_id=? AND p.product_id=? AND s.segment=?",
            (frame_id, product_id, segment),
        ).fetchone()
    with open(str(db) + ".segments", "r+b") as f:
        f.seek(off + 300)
        b = f.read(1)
        f.seek(off + 300)
        f.write(bytes([b[0] ^ 0x40]))


def test_a_byte_damaged_on_the_ground_skips_that_product_and_a_reingest_repairs_it(tmp_path):
    frames = {fid: synthetic_frame(SEED + fid) for fid in (1, 2, 3)}
    stream = b"".join(stream_of([p for f, px in frames.items() for p in frame_products(px, f)]))
    db = tmp_path / "c.sqlite"
    ingest_bytes(db, stream)
    _flip_in_pack(db, 2, 2, 1)  # frame 2's second crop, its second segment
    rep = export_products(db, tmp_path / "out")
    assert len(rep.frames) == 3 and len(rep.crops) == 8
    (why,) = rep.skipped
    assert "frame 2 product 2" in why and "ground" in why and "ingest" in why
    st = ingest_bytes(db, stream)  # the pass again: the damaged copy is replaced
    assert st.new_segments == 0 and st.products_repaired == 1
    rep = export_products(db, tmp_path / "out2")
    assert rep.skipped == [] and len(rep.crops) == 9
    r0, c0, nr, nc = crop_regions()[1]
    with rasterio.open(tmp_path / "out2" / "crops" / "frame-2-product-2.tif") as src:
        np.testing.assert_array_equal(src.read(), frames[2][:, r0 : r0 + nr, c0 : c0 + nc])


def test_packets_of_a_damaged_product_need_not_be_the_whole_pass(tmp_path):
    """Only the damaged product's packets again (a retransmission) repair it too."""
    frames = {fid: synthetic_frame(SEED + fid) for fid in (1, 2)}
    products = [p for f, px in frames.items() for p in frame_products(px, f)]
    db = tmp_path / "c.sqlite"
    ingest_bytes(db, b"".join(stream_of(products)))
    _flip_in_pack(db, 1, 1, 0)
    assert len(export_products(db, tmp_path / "o1").skipped) == 1
    st = ingest_bytes(db, b"".join(packets_of(products[1])))
    assert st.products_repaired == 1
    assert export_products(db, tmp_path / "o2").skipped == []
