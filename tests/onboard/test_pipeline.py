"""One frame through the host build, with the test rule classifier, against
independent references: the grid against the Python preprocessing + rule +
policy, ship and low-resolution regions against breadth-first labelling,
every product's pixels against the frame (crops exactly, quicklook and land
as nodata-aware block means), the class map and the summary against the
grid; every packet header through `spacepackets`, every CRC, every band
through libaec.

Scenes (seed 20240123): sea with ships (one alone, two in neighbouring
cells, one at a corner), a land block, a cloud block, a no-data collar, a row
of ships whose region is wider than the largest crop; frame sizes that are not
multiples of the cell. Ship crops are checked
pixel by pixel against a mask drawn independently (tests/onboard/helpers.py
crop_pieces): frame pixels where kept, no-data elsewhere.
"""

from __future__ import annotations

import numpy as np
import pytest
from spacepackets.ccsds.spacepacket import PacketType, SequenceFlags, SpacePacketHeader

from triage.contract import tile_spec as ts
from triage.contract.enums import (
    AEC_FLAG_NEIGHBOUR,
    AEC_FLAG_PREPROCESS,
    PRODUCT_BY_APID,
    PRODUCT_BY_NAME,
)
from triage.contract.packets import MAX_SEGMENT_BYTES
from triage.contract.policy import load_policy
from triage.contract.records import kept_mask
from triage.onboard import FrameMeta, Onboard, config
from triage.onboard.products import decode_stream, parse_packets

from .helpers import (
    CROP,
    LOWRES,
    block_mean,
    crop_pieces,
    expected_grid,
    label_regions,
    libaec_band,
    neighbour_reference,
    region_box,
    synthetic_frame,
)

SEED = 20240123
GT = (500000.0, 10.0, 0.0, 4800000.0, 0.0, -10.0)

SCENES = {
    "mixed": dict(
        rows=203,
        cols=317,
        ships=[(40, 50), (44, 66), (150, 20), (195, 310)],
        land=(0, 200, 90, 317),
        cloud=(120, 120, 180, 200),
        nodata=(0, 0, 203, 20),
    ),
    "open_sea": dict(rows=64, cols=97, ships=[(10, 10)]),
    # a quay of ships: one region wider than the largest crop, cut into pieces
    "harbour": dict(rows=150, cols=333, ships=[(40 + (c % 3) * 9, c) for c in range(12, 320, 11)]),
    "no_ship": dict(rows=96, cols=96, land=(40, 40, 96, 96)),
    # 8-bit samples, brought to the canonical scale by Q8 gains of ~256
    "u8_gains": dict(rows=130, cols=100, ships=[(50, 50)], land=(0, 0, 40, 100), u8=True),
}
U8_GAINS = [65535, 65535, 65535, 65535]


def _run(scene: dict, frame_id: int = 11, store_bytes: int = 4 << 20):
    frame = synthetic_frame(
        scene["rows"],
        scene["cols"],
        SEED + frame_id,
        ships=scene.get("ships", ()),
        land=scene.get("land"),
        cloud=scene.get("cloud"),
        nodata=scene.get("nodata"),
    )
    gains = None
    if scene.get("u8"):
        frame = (frame >> 8).astype(np.uint8)
        gains = U8_GAINS
    meta = FrameMeta.for_frame(
        frame,
        frame_id,
        nodata=0,
        time_s=1_700_000_000,
        time_sub=1234,
        crs_epsg=32631,
        geotransform=GT,
    )
    ob = Onboard(store_bytes, classifier="rule", gain_q8=gains)
    rep = ob.process_frame(frame, meta)
    stream = ob.downlink(1 << 30)
    return ob, frame, meta, rep, stream


@pytest.mark.parametrize("name", sorted(SCENES))
def test_grid_matches_reference(lib, name):
    _, frame, _, rep, _ = _run(SCENES[name])
    assert rep.ok, rep.status_name
    gains = U8_GAINS if SCENES[name].get("u8") else None
    cls, conf, act = expected_grid(frame, 0, load_policy(), gains)
    assert np.array_equal(rep.classes, cls)
    assert np.array_equal(rep.confidences, conf)
    assert np.array_equal(rep.actions, act)
    assert rep["cells_nodata"] == int((act == 0).sum())
    assert rep["cells_total"] == int((act != 0).sum())
    for c, nm in enumerate(ts.tile_spec().classes):
        assert rep[f"cells_{nm}"] == int(((cls == c) & (act != 0)).sum())


def _check_neighbour_streams(p, values: np.ndarray, kept: np.ndarray | None) -> None:
    """A product under the neighbour predictor: libaec (flags 0) decodes every band stream to
    the residuals the pixel-by-pixel reference computes from the expected values."""
    h = p.header
    assert h["aec_flags"] == AEC_FLAG_NEIGHBOUR, p.type_name
    if kept is None:
        kept = np.ones((h["rows"], h["cols"]), bool)
    want = neighbour_reference(np.asarray(values), kept, h["sample_bits"])
    for b in range(h["bands"]):
        got = libaec_band(p.data, h, b, int(kept.sum()))
        assert got.tolist() == want[b], (p.type_name, b)


@pytest.mark.parametrize("name", sorted(SCENES))
def test_products_match_frame(lib, name):
    _ob, frame, meta, rep, stream = _run(SCENES[name])
    cfg = config()
    prods = decode_stream(stream)
    fid = meta.frame_id
    gains = U8_GAINS if SCENES[name].get("u8") else None
    cls, conf, act = expected_grid(frame, 0, load_policy(), gains)
    ships = label_regions(act == CROP)
    lows = label_regions(act == LOWRES)
    m, cap = cfg["context_margin_px"], cfg["crop_max_px"]
    pieces = [pc for cells in ships for pc in crop_pieces(cells, frame.shape, m, cap)]
    assert rep["ship_regions"] == len(ships)
    assert rep["ship_crops"] == len(pieces)
    assert rep["land_regions"] == len(lows)
    n_products = 2 + len(pieces) + len(lows) + 1
    assert sorted(prods) == [(fid, i) for i in range(n_products)]
    for p in prods.values():
        h = p.header
        assert (h["frame_id"], h["time_s"], h["time_sub"]) == (fid, 1_700_000_000, 1234)
        assert (h["frame_rows"], h["frame_cols"], h["crs_epsg"]) == (*frame.shape[:2], 32631)
        assert tuple(h["geotransform"]) == GT

    q = prods[(fid, 0)]
    f = cfg["quicklook_factor"]
    assert q.type_name == "QUICKLOOK"
    assert (q.header["pixel_step"], q.header["pixel_extent"]) == (f, f)
    assert np.array_equal(q.pixels, block_mean(frame, 0, 0, *frame.shape[:2], f, 0))
    _check_neighbour_streams(q, block_mean(frame, 0, 0, *frame.shape[:2], f, 0), None)

    cm = prods[(fid, 1)]
    assert cm.type_name == "CLASS_MAP"
    assert np.array_equal(cm.pixels[0], cls) and np.array_equal(cm.pixels[1], conf)
    assert cm.header["aec_flags"] == AEC_FLAG_PREPROCESS  # class codes: unit delay
    assert cm.header["pixel_step"] == cm.header["pixel_extent"] == cfg["cell_px"]

    for k, (r0, c0, r1, c1, kept, cells) in enumerate(pieces):
        p = prods[(fid, 2 + k)]
        assert p.type_name == "SHIP_CROP"
        hd = p.header
        assert (hd["region_row0"], hd["region_col0"]) == (r0, c0)
        assert (hd["rows"], hd["cols"], hd["pixel_step"]) == (r1 - r0, c1 - c0, 1)
        assert hd["class_id"] == 2
        assert hd["confidence"] == max(int(conf[a, b]) for a, b in cells)
        want = np.where(kept[..., None], frame[r0:r1, c0:c1], meta.nodata)
        assert np.array_equal(p.pixels, want.transpose(2, 0, 1))
        _check_neighbour_streams(p, frame[r0:r1, c0:c1].transpose(2, 0, 1), kept)

    lf = cfg["lowres_factor"]
    for k, cells in enumerate(lows):
        p = prods[(fid, 2 + len(pieces) + k)]
        assert p.type_name == "LAND"
        r0, c0, h, w = region_box(cells, frame.shape)
        assert (p.header["region_row0"], p.header["region_col0"]) == (r0, c0)
        assert p.header["pixel_step"] == lf
        assert np.array_equal(p.pixels, block_mean(frame, r0, c0, h, w, lf, 0))
        _check_neighbour_streams(p, block_mean(frame, r0, c0, h, w, lf, 0), None)
        best = max(cells, key=lambda ab: (int(conf[ab]), -ab[0], -ab[1]))
        assert (p.header["class_id"], p.header["confidence"]) == (cls[best], conf[best])

    s = prods[(fid, n_products - 1)]
    assert s.type_name == "FRAME_SUMMARY"
    assert s.summary["cells_total"] == rep["cells_total"]
    assert s.summary["cells_nodata"] == rep["cells_nodata"]
    assert s.summary["ship_regions"] == len(ships)
    if name == "harbour":
        assert len(ships) == 1 and len(pieces) > 1  # the cap cut the region
    assert s.summary["products"] == n_products
    assert list(s.summary["cells_by_class"]) == list(rep.by_class("cells").values())
    assert list(s.summary["cells_discarded_by_class"]) == list(rep.by_class("discarded").values())


def test_every_packet_header_parses_with_spacepackets(lib):
    ob, _, _meta, _, stream = _run(SCENES["mixed"])
    stream = ob.directory() + stream
    packets = parse_packets(stream)  # checks every CRC
    counts: dict[int, int] = {}
    pos = 0
    for p in packets:
        hdr = SpacePacketHeader.unpack(p.raw[:6])
        assert hdr.packet_type == PacketType.TM
        assert hdr.sec_header_flag
        assert hdr.apid == p.apid
        assert hdr.data_len == len(p.raw) - 7
        assert hdr.seq_count == counts.get(hdr.apid, 0)
        counts[hdr.apid] = hdr.seq_count + 1
        n = p.secondary["segment_count"]
        i = p.secondary["segment_index"]
        want = (
            SequenceFlags.UNSEGMENTED
            if n == 1
            else SequenceFlags.FIRST_SEGMENT
            if i == 0
            else SequenceFlags.LAST_SEGMENT
            if i == n - 1
            else SequenceFlags.CONTINUATION_SEGMENT
        )
        assert hdr.seq_flags == want
        assert PRODUCT_BY_APID[hdr.apid]
        if i < n - 1:
            assert len(p.segment) == MAX_SEGMENT_BYTES
        pos += len(p.raw)
    assert pos == len(stream)
    assert PRODUCT_BY_NAME["STORE_DIRECTORY"].apid in counts


def test_compression_pays_off_on_sea(lib):
    _, frame, _, rep, stream = _run(SCENES["open_sea"])
    crop = next(p for p in decode_stream(stream).values() if p.type_name == "SHIP_CROP")
    raw = crop.pixels.nbytes
    assert sum(crop.header["band_bytes"]) < raw
    assert rep["bytes_added"] < frame.nbytes


DN = (65535, 10000)  # the sen2ships lattice


def _dn_run(frame, dn_scale, nodata=0):
    meta = FrameMeta.for_frame(frame, 5, nodata=nodata, dn_scale=dn_scale)
    ob = Onboard(4 << 20, classifier="rule", land_policy="lowres")
    assert ob.process_frame(frame, meta).ok
    return decode_stream(ob.downlink(1 << 30))


def test_dn_scale_codes_instrument_numbers_losslessly(lib):
    """A frame on the declared lattice: crops and full-resolution products code
    the instrument numbers d (what libaec decodes), the ground restores the
    frame's samples exactly; block means (quicklook, land) are coded as the
    instrument number nearest the mean, so the ground gets the mean rounded
    to the lattice. The lattice is independent arithmetic here:
    d * 65535 / 10000 rounded half up, in numpy."""
    raw = synthetic_frame(96, 128, seed=77, ships=[(30, 40)], land=(64, 0, 96, 128))
    d = (raw.astype(np.int64) * DN[1]) // DN[0]
    frame = ((d * DN[0] + DN[1] // 2) // DN[1]).astype(np.uint16)
    plain = _dn_run(frame, (0, 0))
    coded = _dn_run(frame, DN)
    assert sorted(plain) == sorted(coded)
    crops = 0
    seen = set()
    for key, p in coded.items():
        if p.pixels is None or p.type_name == "CLASS_MAP":
            continue
        seen.add(p.type_name)
        q = plain[key]
        if p.type_name in ("QUICKLOOK", "LAND"):
            assert (p.header["dn_num"], p.header["dn_den"]) == DN
            mean = q.pixels.astype(np.int64)
            near = (mean * DN[1] + DN[0] // 2) // DN[0]
            assert np.array_equal(p.pixels, (near * DN[0] + DN[1] // 2) // DN[1])
            assert np.abs(p.pixels.astype(np.int64) - mean).max() <= DN[0] // DN[1] // 2 + 1
            continue
        assert np.array_equal(p.pixels, q.pixels), p.type_name  # same pixels on the ground
        if p.type_name == "SHIP_CROP":
            crops += 1
            assert (p.header["dn_num"], p.header["dn_den"]) == DN
            assert sum(p.header["band_bytes"]) < 0.85 * sum(q.header["band_bytes"])
            # the streams code d: libaec decodes each band to the neighbour predictor's
            # residuals of d (pixel-by-pixel reference), no restoring
            assert p.header["aec_flags"] == AEC_FLAG_NEIGHBOUR
            kept = kept_mask(p.rects, p.header["rows"], p.header["cols"])
            r0, c0 = p.header["region_row0"], p.header["region_col0"]
            window = d[r0 : r0 + p.header["rows"], c0 : c0 + p.header["cols"], :]
            want = neighbour_reference(np.moveaxis(window, -1, 0), kept, 16)
            for b in range(p.header["bands"]):
                got = libaec_band(p.data, p.header, b, int(kept.sum()))
                assert got.tolist() == want[b], b
        else:
            assert (p.header["dn_num"], p.header["dn_den"]) == (0, 0), p.type_name
    assert crops >= 1 and {"QUICKLOOK", "LAND"} <= seen


def test_dn_scale_off_the_lattice_codes_samples(lib):
    """One sample off the declared lattice inside a crop: that product is coded
    as it is (dn 0/0) and still arrives exactly."""
    raw = synthetic_frame(64, 96, seed=78, ships=[(20, 40)])
    d = (raw.astype(np.int64) * DN[1]) // DN[0]
    frame = ((d * DN[0] + DN[1] // 2) // DN[1]).astype(np.uint16)
    frame[21, 42, 1] += 1  # 6.55 apart on the lattice: +1 is off it
    prods = _dn_run(frame, DN)
    crops = [p for p in prods.values() if p.type_name == "SHIP_CROP"]
    assert crops
    for p in crops:
        r0, c0 = p.header["region_row0"], p.header["region_col0"]
        rows, cols = p.header["rows"], p.header["cols"]
        kept = kept_mask(p.rects, rows, cols)
        want = np.where(kept[..., None], frame[r0 : r0 + rows, c0 : c0 + cols], 0)
        assert np.array_equal(p.pixels, want.transpose(2, 0, 1))
        holds = r0 <= 21 < r0 + rows and c0 <= 42 < c0 + cols and kept[21 - r0, 42 - c0]
        assert (p.header["dn_num"], p.header["dn_den"]) == ((0, 0) if holds else DN)
        coded = frame if holds else d  # the samples as they are, or the instrument numbers
        _check_neighbour_streams(p, coded[r0 : r0 + rows, c0 : c0 + cols].transpose(2, 0, 1), kept)
    assert any(p.header["dn_num"] == 0 for p in crops)
    # a no-data value off the lattice (1: d = 0 restores 0) keeps block means as they are
    ql = next(p for p in _dn_run(frame, DN, nodata=1).values() if p.type_name == "QUICKLOOK")
    assert (ql.header["dn_num"], ql.header["dn_den"]) == (0, 0)


@pytest.mark.parametrize("scale", [(10000, 65535), (5, 0), (0, 7)])
def test_bad_dn_scale_is_refused(lib, scale):
    from triage.onboard import OnboardInputError

    f = synthetic_frame(64, 64, seed=79)
    with pytest.raises(OnboardInputError, match="dn scale"):
        FrameMeta.for_frame(f, 1, dn_scale=scale).pack()
