"""Ingest robustness: loss, duplicates, reordering, bit flips, truncation, garbage,
chunking, reassembly across streams, idempotence.

Test streams: three synthetic frames (seeded), their products compressed by
libaec's encoder and packetised by the wire format's reference encoder. The
expected pixels are the frames the products were cut from, never the ground
station's own output. Seed: SEED below.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from ground_station.catalogue import Catalogue
from ground_station.errors import CatalogueError, GroundStationError
from ground_station.export import export_products
from ground_station.ingest import Ingestor, ingest_bytes
from triage.contract.enums import SEQ_CONTINUATION, SEQ_LAST
from triage.contract.errors import ProductError
from triage.contract.packets import PRIMARY_HEADER, SECONDARY_HEADER, encode_packet
from triage.contract.records import PRODUCT_HEADER, seal_product

from .gs_streams import (
    chunked,
    crop_regions,
    flip_bit,
    frame_products,
    make_product,
    packets_of,
    stream_of,
    synthetic_frame,
)

SEED = 20261127
FRAME_IDS = (101, 102, 103)


@pytest.fixture(scope="module")
def scene():
    frames = {fid: synthetic_frame(SEED + fid) for fid in FRAME_IDS}
    products = [p for fid in FRAME_IDS for p in frame_products(frames[fid], fid)]
    return frames, products, stream_of(products)


@pytest.fixture(scope="module")
def clean_dump(scene, tmp_path_factory):
    db = tmp_path_factory.mktemp("clean") / "c.sqlite"
    ingest_bytes(db, b"".join(scene[2]))
    with Catalogue.open(db) as cat:
        return cat.dump()


def dump(db) -> dict:
    with Catalogue.open(db) as cat:
        return cat.dump()


def statuses(db) -> dict[tuple[int, int], str]:
    with Catalogue.open(db) as cat:
        return {(r["frame_id"], r["product_id"]): r["status"] for r in cat.product_rows()}


def check_complete_products_bit_exact(db, frames) -> int:
    """Every complete product decodes to exactly the source frame's pixels."""
    n = 0
    with Catalogue.open(db) as cat:
        for row in cat.product_rows("status='complete' AND product_type='SHIP_CROP'"):
            r0, c0, nr, nc = crop_regions()[row["product_id"] - 1]
            prod = cat.load_product(row["frame_id"], row["product_id"])
            want = frames[row["frame_id"]][:, r0 : r0 + nr, c0 : c0 + nc]
            assert prod.pixels.dtype == np.uint16
            np.testing.assert_array_equal(prod.pixels, want)
            n += 1
        for row in cat.product_rows("status='complete' AND product_type='QUICKLOOK'"):
            prod = cat.load_product(row["frame_id"], row["product_id"])
            np.testing.assert_array_equal(prod.pixels, frames[row["frame_id"]][:, ::4, ::4])
            n += 1
        assert (
            cat.con.execute("SELECT count(*) FROM products WHERE status='invalid'").fetchone()[0]
            == 0
        )
    return n


def test_clean_stream(scene, tmp_path):
    frames, products, pkts = scene
    db = tmp_path / "c.sqlite"
    st = ingest_bytes(db, b"".join(pkts))
    assert st.deframe.packets == len(pkts)
    assert st.products_completed == len(products) == 15
    assert (st.duplicates, st.conflicts, st.products_invalid) == (0, 0, 0)
    assert check_complete_products_bit_exact(db, frames) == 12
    with Catalogue.open(db) as cat:
        frame = cat.frame(101)
        assert frame["geotransform"] == (500000.0, 10.0, 0.0, 4600000.0, 0.0, -10.0)
        assert (frame["frame_rows"], frame["frame_cols"], frame["crs_epsg"]) == (96, 128, 32633)
        summary = cat.con.execute(
            "SELECT summary FROM frame_summaries WHERE frame_id=102"
        ).fetchone()
        assert '"ship_regions": 3' in summary[0]


def test_same_stream_twice_changes_nothing(scene, tmp_path, clean_dump):
    db = tmp_path / "c.sqlite"
    data = b"".join(scene[2])
    ingest_bytes(db, data)
    st = ingest_bytes(db, data)
    assert st.duplicates == len(scene[2]) and st.new_segments == 0
    assert dump(db) == clean_dump


def test_ten_percent_loss_then_the_rest(scene, tmp_path, clean_dump):
    frames, products, pkts = scene
    rng = random.Random(SEED)
    lost = set(rng.sample(range(len(pkts)), len(pkts) // 10))
    db = tmp_path / "c.sqlite"
    st = ingest_bytes(db, b"".join(p for i, p in enumerate(pkts) if i not in lost))
    assert st.new_segments == len(pkts) - len(lost)
    assert 0 < st.products_completed < len(products)
    check_complete_products_bit_exact(db, frames)
    # the missing segments are exactly the lost ones
    lost_keys = set()
    for i in lost:
        s = SECONDARY_HEADER.unpack(pkts[i], PRIMARY_HEADER.size)
        lost_keys.add((s["frame_id"], s["product_id"], s["segment_index"]))
    with Catalogue.open(db) as cat:
        missing = set()
        for row in cat.product_rows("status='incomplete'"):
            for a, b in cat.missing_ranges(row["id"], row["segment_count"]):
                missing |= {(row["frame_id"], row["product_id"], s) for s in range(a, b + 1)}
    assert missing == lost_keys
    # another pass brings the lost packets (and the rest again)
    ingest_bytes(db, b"".join(pkts[i] for i in sorted(lost)))
    assert dump(db) == clean_dump
    assert check_complete_products_bit_exact(db, frames) == 12


def test_five_percent_duplicates(scene, tmp_path, clean_dump):
    pkts = scene[2]
    rng = random.Random(SEED + 1)
    dup = set(rng.sample(range(len(pkts)), max(1, len(pkts) // 20)))
    stream = []
    for i, p in enumerate(pkts):
        stream.append(p)
        if i in dup:
            stream.append(p)
    db = tmp_path / "c.sqlite"
    st = ingest_bytes(db, b"".join(stream))
    assert st.duplicates == len(dup)
    assert dump(db) == clean_dump


def test_full_reordering(scene, tmp_path, clean_dump):
    pkts = list(scene[2])
    random.Random(SEED + 2).shuffle(pkts)
    db = tmp_path / "c.sqlite"
    ingest_bytes(db, b"".join(pkts))
    assert dump(db) == clean_dump
    check_complete_products_bit_exact(db, scene[0])


def test_full_reordering_in_small_batches(scene, tmp_path, clean_dump):
    # products spread over many batches of one stream: each batch adds segments to products
    # in progress and completes some from segments of earlier batches
    pkts = list(scene[2])
    random.Random(SEED + 6).shuffle(pkts)
    db = tmp_path / "c.sqlite"
    data = b"".join(pkts)
    st = ingest_bytes(db, data, chunk_bytes=len(data) // 16 + 1)
    assert st.batches >= 16
    assert dump(db) == clean_dump
    check_complete_products_bit_exact(db, scene[0])


def test_single_bit_flips_rejected_and_counted(scene, tmp_path):
    frames, _, pkts = scene
    rng = random.Random(SEED + 3)
    flipped = set(rng.sample(range(len(pkts)), 8))
    stream = [
        flip_bit(p, rng.randrange(8 * len(p))) if i in flipped else p for i, p in enumerate(pkts)
    ]
    db = tmp_path / "c.sqlite"
    st = ingest_bytes(db, b"".join(stream))
    assert st.deframe.packets == len(pkts) - len(flipped)
    assert 0 < st.deframe.crc_errors <= len(flipped)
    assert st.products_invalid == 0
    check_complete_products_bit_exact(db, frames)
    assert "incomplete" in statuses(db).values()


def test_truncated_streams(scene, tmp_path, clean_dump):
    pkts = scene[2]
    data = b"".join(pkts)
    db = tmp_path / "c.sqlite"
    cut = len(data) * 2 // 3 + 17
    st = ingest_bytes(db, data[:cut])
    assert st.deframe.skipped_bytes > 0  # the partial packet at the end
    check_complete_products_bit_exact(db, scene[0])
    ingest_bytes(db, data[cut - 5000 :])  # the rest, starting in mid-packet
    assert dump(db) == clean_dump


def test_garbage_only_input(tmp_path):
    db = tmp_path / "c.sqlite"
    st = ingest_bytes(db, random.Random(SEED).randbytes(1 << 20))
    assert st.deframe.packets == 0
    assert st.deframe.skipped_bytes == 1 << 20
    with Catalogue.open(db) as cat:
        assert cat.con.execute("SELECT count(*) FROM products").fetchone()[0] == 0


def test_header_claiming_65535_bytes_at_the_end(scene, tmp_path, clean_dump):
    pkts = scene[2]
    evil = bytearray(pkts[0][:36])
    evil[4:6] = b"\xff\xff"
    db = tmp_path / "c.sqlite"
    st = ingest_bytes(db, b"".join(pkts) + bytes(evil))
    assert st.deframe.skipped_bytes == len(evil)
    assert dump(db) == clean_dump


@pytest.mark.parametrize("mode", ["one byte at a time", "random chunks"])
def test_chunking_does_not_matter(scene, tmp_path, clean_dump, mode):
    pkts = scene[2]
    data = b"".join(pkts[:30])  # keep the byte-at-a-time run short
    db_ref = tmp_path / "ref.sqlite"
    ingest_bytes(db_ref, data)
    db = tmp_path / "c.sqlite"
    if mode == "one byte at a time":
        ingest_bytes(db, data, chunk_bytes=1)
    else:
        rng = random.Random(SEED + 4)
        with Catalogue.open(db, write=True, create=True) as cat:
            Ingestor(cat).ingest_stream(chunked(data, [rng.randrange(1, 5000) for _ in range(64)]))
    assert dump(db) == dump(db_ref)


def test_reassembly_across_streams_and_passes(scene, tmp_path, clean_dump):
    pkts = scene[2]
    rng = random.Random(SEED + 5)
    order = list(range(len(pkts)))
    rng.shuffle(order)
    parts = [order[0::3], order[1::3], order[2::3]]
    db = tmp_path / "c.sqlite"
    for k, part in enumerate(parts):
        st = ingest_bytes(db, b"".join(pkts[i] for i in sorted(part)), source=f"pass {k}")
        if k < 2:
            assert "incomplete" in statuses(db).values()
    assert st.products_completed > 0
    assert dump(db) == clean_dump


def test_malformed_packets_with_a_good_crc_are_rejected(tmp_path):
    frame = synthetic_frame(SEED)
    product = frame_products(frame, 9)[1]
    pkts = packets_of(product)
    # same product, but the first packet claims to be the last (wrong sequence flags)
    s = SECONDARY_HEADER.unpack(pkts[0], 6)
    s.pop("version")
    bad = encode_packet(0x101, SEQ_LAST, 0, s, pkts[0][36:-2])
    db = tmp_path / "c.sqlite"
    st = ingest_bytes(db, bad + b"".join(pkts[1:]))
    assert st.malformed == {"sequence flags": 1}
    assert statuses(db) == {(9, 1): "incomplete"}


def test_conflicting_packets_are_dropped(tmp_path):
    frame = synthetic_frame(SEED)
    product = frame_products(frame, 9)[1]
    pkts = packets_of(product)
    s = SECONDARY_HEADER.unpack(pkts[1], 6)
    s.pop("version")
    s["confidence"] ^= 1  # a segment of "the same" product with another confidence
    other = encode_packet(0x101, SEQ_CONTINUATION, 1, s, pkts[1][36:-2])
    db = tmp_path / "c.sqlite"
    st = ingest_bytes(db, pkts[0] + other + b"".join(pkts[1:]))
    assert st.conflicts == 1
    assert statuses(db) == {(9, 1): "complete"}


@pytest.mark.parametrize("decode_streams", [False, True])
def test_product_that_does_not_decode_is_invalid_not_written(tmp_path, decode_streams):
    """Band lengths that do not add up: invalid at ingest. A band stream cut in half with
    consistent lengths: invalid at ingest when it decodes the streams (``decode_streams``),
    else complete there and skipped by name at export; never written either way."""
    frame = synthetic_frame(SEED)
    good = make_product(
        frame[:, :20, :20],
        product_type="SHIP_CROP",
        frame_id=9,
        product_id=1,
        region=(0, 0, 20, 20),
        frame_shape=(96, 128),
    )
    h = PRODUCT_HEADER.unpack(good)
    h["band_bytes"] = (h["band_bytes"][0] + 1, *h["band_bytes"][1:])  # lengths do not add up
    bad = seal_product(PRODUCT_HEADER.pack(h) + good[PRODUCT_HEADER.size :])
    other = make_product(
        frame[:, :20, :20],
        product_type="SHIP_CROP",
        frame_id=9,
        product_id=2,
        region=(0, 0, 20, 20),
        frame_shape=(96, 128),
    )
    h2 = PRODUCT_HEADER.unpack(other)
    body = other[PRODUCT_HEADER.size :]
    b0 = h2["band_bytes"][0]
    h2["band_bytes"] = (b0 // 2, *h2["band_bytes"][1:])  # band 0 cut in half, lengths consistent
    short = seal_product(PRODUCT_HEADER.pack(h2) + body[: b0 // 2] + body[b0:])
    db = tmp_path / "c.sqlite"
    st = ingest_bytes(
        db, b"".join(packets_of(bad) + packets_of(short)), decode_streams=decode_streams
    )
    assert st.products_invalid == (2 if decode_streams else 1)
    with Catalogue.open(db) as cat:
        rows = {r["product_id"]: r for r in cat.product_rows()}
        assert "add up" in rows[1]["reason"]
        with pytest.raises(CatalogueError, match="invalid"):
            cat.load_product(9, 1)
        if decode_streams:
            assert "band 0" in rows[2]["reason"] and "samples" in rows[2]["reason"]
        else:
            assert rows[2]["status"] == "complete"
            with pytest.raises(ProductError, match=r"band 0: .*samples"):
                cat.load_product(9, 2)
    report = export_products(db, tmp_path / "out")
    assert report.crops == []
    if not decode_streams:
        (skipped,) = report.skipped
        assert "product 2" in skipped and "band 0" in skipped


def test_product_corrupted_before_packetising_is_invalid_not_written(tmp_path):
    """A bit flipped in a product after it was made (an upset in the on-board store) passes
    every packet's CRC-16, which is computed when the packet is sent; the product's CRC-32,
    set when it was made, catches it: invalid, with the reason, nothing exported. A good
    product of the same stream completes."""
    frame = synthetic_frame(SEED)
    kw = dict(product_type="SHIP_CROP", frame_id=9, region=(0, 0, 20, 20), frame_shape=(96, 128))
    good = make_product(frame[:, :20, :20], product_id=1, **kw)
    hit = bytearray(make_product(frame[:, :20, :20], product_id=2, **kw))
    hit[PRODUCT_HEADER.size + 5] ^= 0x10  # in band 0's stream
    db = tmp_path / "c.sqlite"
    st = ingest_bytes(db, b"".join(packets_of(good) + packets_of(bytes(hit), 1)))
    assert (st.products_completed, st.products_invalid) == (1, 1)
    with Catalogue.open(db) as cat:
        rows = {r["product_id"]: r for r in cat.product_rows()}
        assert rows[1]["status"] == "complete"
        assert "CRC-32" in rows[2]["reason"]
    report = export_products(db, tmp_path / "out")
    assert len(report.crops) == 1


@pytest.mark.parametrize("decode_streams", [False, True])
def test_dn_scaled_products_restore_the_samples_or_are_invalid(tmp_path, decode_streams):
    """Products coding instrument numbers (dn scale 65535/10000, as the firmware
    codes sen2ships frames) come back as the frame's samples; a header whose
    scale is not 1 <= den <= num makes the product invalid at ingest, with a reason;
    one that restores samples past 16 bits is found when its streams are decoded (at
    ingest with ``decode_streams``, else when its pixels are read); nothing is written
    for either."""
    d = np.random.default_rng(SEED).integers(0, 10001, (4, 20, 24))
    pixels = ((d * 65535 + 5000) // 10000).astype(np.uint16)  # on the lattice
    kw = dict(product_type="SHIP_CROP", frame_id=9, region=(0, 0, 20, 24), frame_shape=(96, 128))
    good = make_product(pixels, product_id=1, dn_scale=(65535, 10000), **kw)
    plain = make_product(pixels, product_id=4, **kw)
    assert len(good) < len(plain)
    swapped = make_product(pixels, product_id=2, dn_scale=(10000, 65535), **kw)
    # d up to 65535 with a scale of 2: samples up to 131070 do not fit 16 bits
    big = make_product(
        np.full((1, 4, 4), 65535, np.uint16), product_id=3, **{**kw, "region": (0, 0, 4, 4)}
    )
    h = PRODUCT_HEADER.unpack(big)
    h["dn_num"], h["dn_den"] = 2, 1
    big = seal_product(PRODUCT_HEADER.pack(h) + big[PRODUCT_HEADER.size :])
    db = tmp_path / "c.sqlite"
    pkts: list[bytes] = []
    for p in (good, swapped, big, plain):
        pkts += packets_of(p, len(pkts))
    st = ingest_bytes(db, b"".join(pkts), decode_streams=decode_streams)
    assert st.products_invalid == (2 if decode_streams else 1)
    with Catalogue.open(db) as cat:
        rows = {r["product_id"]: r for r in cat.product_rows()}
        assert rows[1]["status"] == rows[4]["status"] == "complete"
        assert np.array_equal(cat.load_product(9, 1).pixels, pixels)
        assert np.array_equal(cat.load_product(9, 4).pixels, pixels)
        assert "dn scale" in rows[2]["reason"]
        with pytest.raises(CatalogueError, match="invalid"):
            cat.load_product(9, 2)
        if decode_streams:
            assert "dn scale" in rows[3]["reason"]
        else:
            with pytest.raises(ProductError, match="dn scale 2/1 restores a sample above 16"):
                cat.load_product(9, 3)


@pytest.mark.parametrize("together", [True, False])
def test_frame_nodata_comes_from_pixels_not_the_class_map(tmp_path, together):
    """A class map's no-data value (255: no class) is not the frame's: when it
    completes before any pixel product, in the same ingest or an earlier one,
    the frame takes the pixel product's no-data value."""
    kw = dict(frame_id=9, frame_shape=(96, 128))
    cmap = make_product(
        np.full((2, 6, 8), 3, np.uint8),
        product_type="CLASS_MAP",
        product_id=1,
        region=(0, 0, 96, 128),
        pixel_step=16,
        pixel_extent=32,
        nodata=255,
        **kw,
    )
    crop = make_product(
        np.full((4, 8, 8), 700, np.uint16),
        product_type="SHIP_CROP",
        product_id=2,
        region=(16, 16, 8, 8),
        nodata=0,
        **kw,
    )
    db = tmp_path / "c.sqlite"
    first = packets_of(cmap)
    second = packets_of(crop)
    if together:
        ingest_bytes(db, b"".join(first + second))
    else:
        ingest_bytes(db, b"".join(first))
        with Catalogue.open(db) as cat:
            assert cat.frame(9)["nodata"] == 255  # only the class map so far
        ingest_bytes(db, b"".join(second))
    with Catalogue.open(db) as cat:
        assert cat.frame(9)["nodata"] == 0


def test_catalogue_errors_are_clear(tmp_path):
    with pytest.raises(CatalogueError, match="does not exist"):
        Catalogue.open(tmp_path / "none.sqlite")
    notdb = tmp_path / "x.sqlite"
    notdb.write_bytes(b"hello, this is not sqlite" * 100)
    with pytest.raises(CatalogueError, match="not a ground-station catalogue") as info:
        ingest_bytes(notdb, b"")
    assert isinstance(info.value, GroundStationError) and isinstance(info.value, RuntimeError)
    db = tmp_path / "c.sqlite"
    ingest_bytes(db, b"")
    with Catalogue.open(db, write=True), pytest.raises(CatalogueError, match="busy"):
        Catalogue.open(db, write=True)


def test_sequence_counts_estimate_link_losses(scene, tmp_path):
    """Ship-crop packets numbered continuously on their APID; losses show as gaps."""
    frames = scene[0]
    crops = [p for fid in FRAME_IDS for p in frame_products(frames[fid], fid)[1:4]]
    pkts: list[bytes] = []
    for c in crops:
        pkts += packets_of(c, len(pkts))  # one APID: the count runs on across products
    assert len(pkts) > 40
    lost = {3, 4, 5, 17, 30}  # three runs: 3 breaks, 5 packets
    st = ingest_bytes(
        tmp_path / "c.sqlite", b"".join(p for i, p in enumerate(pkts) if i not in lost)
    )
    assert (st.sequence_gaps, st.packets_lost_estimate) == (3, 5)
