"""A stream of another spacecraft using the same APIDs and frame ids.

Wire format 5: every packet's secondary header names its spacecraft, so the ground refuses
another spacecraft's packets before anything of them is stored, whether or not this
satellite's products have defined the frames yet; the ingest names the spacecraft and
exits non-zero (3 when nothing of ours came, 6 beside ours). A spacecraft sending under
this one's id (misconfigured) is still caught by what its products contradict: the frames
the catalogue holds (size, grid, capture time). Either way nothing of theirs is exported
under this satellite's frame ids, and this satellite's products are all there, pixel for
pixel.

Both satellites' products are made here (``gs_streams``), the other's from another scene,
grid and capture time.
"""

from __future__ import annotations

import random

import numpy as np
import rasterio

from ground_station.catalogue import Catalogue
from ground_station.errors import EXIT_CONTRADICTS, EXIT_NO_PACKETS
from ground_station.export import export_products
from ground_station.ingest import ingest_bytes
from triage.contract.enums import PRODUCT_BY_NAME
from triage.contract.records import PRODUCT_HEADER

from .cli_proc import groundstation
from .gs_streams import crop_regions, frame_products, make_product, stream_of, synthetic_frame

SEED = 20261210
THEIR_ID = 0x2A5
"""The other spacecraft's id (ours is DEFAULT_SPACECRAFT_ID, 0x1A7)."""
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


def _product_keys(db) -> set[tuple[int, int]]:
    with Catalogue.open(db) as cat:
        return {(r["frame_id"], r["product_id"]) for r in cat.product_rows("1")}


def test_another_spacecrafts_packets_are_refused_before_ours_define_a_frame(tmp_path):
    """The case wire format 4 could not catch: the other spacecraft's pass comes first, into
    an empty catalogue. Nothing of it is stored; the error names its id."""
    db = tmp_path / "c.sqlite"
    (tmp_path / "foreign.bin").write_bytes(b"".join(stream_of(theirs(), THEIR_ID)))
    r = groundstation("ingest", tmp_path / "foreign.bin", "--db", db)
    assert r.code == EXIT_NO_PACKETS and r.one_error_line, r.err
    assert "0x2A5" in r.err and "0x1A7" in r.err and "--spacecraft-id" in r.err
    assert _product_keys(db) == set()
    # then ours: all there and right
    ingest_bytes(db, b"".join(stream_of(ours())))
    _check_ours(db, tmp_path / "out")
    # the catalogue of the other spacecraft takes its frames' products (--spacecraft-id)
    frames = [
        p
        for fid in (1, 2)
        for p in frame_products(
            synthetic_frame(SEED + 100 + fid, shape=(4, 120, 160)), fid, time_s=1_700_050_000
        )
    ]
    (tmp_path / "theirs.bin").write_bytes(b"".join(stream_of(frames, THEIR_ID)))
    other = tmp_path / "theirs.sqlite"
    r = groundstation(
        "ingest", tmp_path / "theirs.bin", "--db", other, "--spacecraft-id", str(THEIR_ID)
    )
    assert r.code == 0, r.err
    with Catalogue.open(other) as cat:
        assert len(cat.product_rows("status = 'complete'")) == len(frames)


def test_another_spacecrafts_packets_mixed_into_our_first_pass(tmp_path):
    """Their packets shuffled among ours in one bare-packet stream, before any frame is
    catalogued: ours complete and right, theirs counted by id and refused, exit 6."""
    rng = random.Random(SEED + 1)
    mixed = list(stream_of(ours()))
    foreign = stream_of(theirs(), THEIR_ID)
    for p in foreign:
        mixed.insert(rng.randrange(len(mixed) + 1), p)
    db = tmp_path / "c.sqlite"
    st = ingest_bytes(db, b"".join(mixed))
    assert st.foreign_packets == {THEIR_ID: len(foreign)}
    assert st.products_contradicting == 0  # refused as packets, before any product check
    assert len(_product_keys(db)) == len(ours())
    _check_ours(db, tmp_path / "out")
    (tmp_path / "mixed.bin").write_bytes(b"".join(mixed))
    r = groundstation("ingest", tmp_path / "mixed.bin", "--db", tmp_path / "d.sqlite")
    assert r.code == EXIT_CONTRADICTS and r.one_error_line, r.err
    assert f"refused {len(foreign)} packets of spacecraft 0x2A5" in r.err
    assert f"refused {len(foreign)} packets of other spacecraft" in r.out


def test_a_spacecraft_sending_under_our_id_after_ours_is_refused_and_the_ingest_says_so(
    tmp_path,
):
    """Misconfigured with this spacecraft's id, its packets pass the id check; its products
    contradict the frames ours defined."""
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


def test_a_spacecraft_under_our_id_mixed_into_our_next_pass(tmp_path):
    """Our first pass brought the quicklooks (the frames are catalogued); the crops come in
    the next pass with the other spacecraft's packets, under our id, shuffled among them:
    ours complete and right, nothing of theirs exported. (Had its products come before ours
    defined the frames, nothing would tell them apart: the spacecraft id is what does.)"""
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


def test_spacecraft_id_option_takes_the_hexadecimal_the_reports_print(tmp_path):
    """The refusal names ids in hexadecimal (0x2A5), so ``--spacecraft-id`` takes it as
    given there, or in decimal; a value outside the 10-bit field is a usage error."""
    frames = [
        p
        for fid in (1, 2)
        for p in frame_products(
            synthetic_frame(SEED + 100 + fid, shape=(4, 120, 160)), fid, time_s=1_700_050_000
        )
    ]
    (tmp_path / "theirs.bin").write_bytes(b"".join(stream_of(frames, THEIR_ID)))
    for given in ("0x2A5", "0X2a5", str(THEIR_ID)):
        r = groundstation(
            "ingest", tmp_path / "theirs.bin", "--db", tmp_path / f"{given}.sqlite",
            "--spacecraft-id", given,
        )  # fmt: skip
        assert r.code == 0, (given, r.err)
    for bad, why in (("0x400", "not in 0 .. 0x3FF"), ("-1", "not in 0"), ("1A7", "not a number")):
        r = groundstation(
            "ingest", tmp_path / "theirs.bin", "--db", tmp_path / "bad.sqlite",
            "--spacecraft-id", bad,
        )  # fmt: skip
        assert r.code == 2 and why in r.err, (bad, r.err)
    assert not (tmp_path / "bad.sqlite").exists()
