"""Bad input gives a status and a counter, never a crash, and changes nothing
else: zero and odd dimensions, frames smaller than a cell, all no-data,
saturated, wrong band count, wrong size, too large, corrupt metadata,
duplicate frame ids, a full store. (The same paths run under ASan/UBSan in
the C tests and the fuzz corpus replay.)"""

from __future__ import annotations

import ctypes.util
import dataclasses

import numpy as np
import pytest

from triage.contract.records import DIRECTORY_FRAME_ID, MAX_FRAME_ID, crc16
from triage.onboard import FrameMeta, Onboard, _lib, config
from triage.onboard.errors import OnboardError

from .helpers import expected_grid, synthetic_frame

SHAPE, SIZE, FORMAT, CRC, ARG, NODATA = -5, -4, -6, -7, -1, -10


def _ob(store_bytes=2 << 20):
    return Onboard(store_bytes, classifier="rule")


def _refused(ob, frame, meta, status, counter):
    before = ob.counters()
    d0 = ob.directory()
    rep = ob.process_frame(frame, meta)
    assert rep.status == status, rep.status_name
    assert not rep.ok
    after = ob.counters()
    assert after[counter] == before[counter] + 1
    assert after["frames_ok"] == before["frames_ok"]
    assert after["products_added"] == before["products_added"]
    if status == NODATA:  # the grid is reported: every cell no-data
        assert np.all(rep.classes == 255) and np.all(rep.actions == 0)
    else:
        assert rep.classes.size == 0
    assert ob.store_ok()
    # the store holds the same products (directory counter aside)
    assert ob.directory()[40:] == d0[40:] or len(d0) == len(ob.directory())
    return rep


def test_zero_dimensions(lib):
    ob = _ob()
    f = np.zeros((0, 64, 4), np.uint16)
    _refused(ob, f, FrameMeta.for_frame(f, 1), SHAPE, "geometry_errors")
    f = np.zeros((64, 0, 4), np.uint16)
    _refused(ob, f, FrameMeta.for_frame(f, 2), SHAPE, "geometry_errors")


def test_smaller_than_one_cell(lib):
    t = config()["cell_px"]
    ob = _ob()
    for shape in ((t - 1, 200), (200, t - 1), (1, 1)):
        f = synthetic_frame(*shape, seed=3)
        _refused(ob, f, FrameMeta.for_frame(f, 5), SHAPE, "geometry_errors")


@pytest.mark.parametrize("shape", [(33, 47), (47, 33), (32, 1001), (161, 32), (99, 131)])
def test_odd_dimensions_are_processed(lib, shape):
    from triage.contract.policy import load_policy

    ob = _ob()
    f = synthetic_frame(*shape, seed=4, ships=[(shape[0] - 4, shape[1] - 6)])
    rep = ob.process_frame(f, FrameMeta.for_frame(f, 6))
    assert rep.ok, rep.status_name
    _cls, _conf, act = expected_grid(f, 0, load_policy())
    assert np.array_equal(rep.actions, act)
    assert ob.store_ok()


def test_all_nodata_frame(lib):
    ob = _ob()
    f = np.full((96, 128, 4), 7, np.uint16)
    rep = _refused(ob, f, FrameMeta.for_frame(f, 8, nodata=7), NODATA, "nodata_frames")
    assert rep["cells_nodata"] == (96 // 16) * (128 // 16)


def test_saturated_frame_is_processed_and_counted(lib):
    ob = _ob()
    f = np.full((64, 64, 4), 65535, np.uint16)
    rep = ob.process_frame(f, FrameMeta.for_frame(f, 9))
    assert rep.ok
    assert rep["cells_saturated"] == rep["cells_total"] == (64 // 16) ** 2
    f8 = np.full((64, 64, 4), 255, np.uint8)
    rep = ob.process_frame(f8, FrameMeta.for_frame(f8, 10))
    assert rep.ok and rep["cells_saturated"] == (64 // 16) ** 2


def test_band_mismatch(lib):
    ob = _ob()
    for b in (1, 3, 5):
        f = np.ones((64, 64, b), np.uint16)
        _refused(ob, f, FrameMeta.for_frame(f, 11), SHAPE, "band_mismatches")


def test_size_mismatch_and_too_large(lib):
    ob = _ob()
    f = synthetic_frame(64, 64, seed=5)
    meta = dataclasses.replace(FrameMeta.for_frame(f, 12), rows=65)
    _refused(ob, f, meta, SIZE, "size_errors")
    meta = dataclasses.replace(FrameMeta.for_frame(f, 12), sample_bits=8)
    _refused(ob, f, meta, SIZE, "size_errors")
    big = np.zeros((1025, 1024, 4), np.uint16)  # one row over 8 MiB
    _refused(ob, big, FrameMeta.for_frame(big, 13), SIZE, "size_errors")


def test_corrupt_metadata(lib):
    ob = _ob()
    f = synthetic_frame(64, 64, seed=6)
    good = FrameMeta.for_frame(f, 14).pack()
    rng = np.random.default_rng(20240124)
    for _ in range(50):  # random bit flips: the CRC catches every one
        b = bytearray(good)
        i = int(rng.integers(0, len(b)))
        b[i] ^= 1 << int(rng.integers(0, 8))
        _refused(ob, f, bytes(b), CRC, "meta_crc_errors")
    _refused(ob, f, good[:-1], SIZE, "meta_format_errors")
    _refused(ob, f, b"", SIZE, "meta_format_errors")

    def recrc(b: bytearray) -> bytes:
        b[86:88] = crc16(bytes(b[:86])).to_bytes(2, "big")
        return bytes(b)

    for off, val in ((0, 0x00), (4, 9), (5, 12), (7, 1), (14, 1), (80, 1)):
        b = bytearray(good)
        b[off] = val
        _refused(ob, f, recrc(b), FORMAT, "meta_format_errors")
    for num, den in ((10000, 65535), (0, 5), (7, 0)):  # dn scales outside 1 <= den <= num
        b = bytearray(good)
        b[80:84] = num.to_bytes(2, "big") + den.to_bytes(2, "big")
        _refused(ob, f, recrc(b), FORMAT, "meta_format_errors")
    assert ob.process_frame(f, good).ok


def test_frame_ids_of_the_directories_are_refused(lib):
    """Frame ids from DIRECTORY_FRAME_ID up are the directories' (one per boot): a frame
    there would share a key with a directory."""
    ob = _ob()
    f = synthetic_frame(64, 64, seed=8, ships=[(20, 20)])
    for fid in (DIRECTORY_FRAME_ID, DIRECTORY_FRAME_ID + 3, 0xFFFFFFFF):
        _refused(ob, f, FrameMeta.for_frame(f, fid), FORMAT, "meta_format_errors")
    assert ob.process_frame(f, FrameMeta.for_frame(f, MAX_FRAME_ID)).ok


def test_duplicate_frame_id(lib):
    ob = _ob()
    f = synthetic_frame(64, 64, seed=7, ships=[(20, 20)])
    assert ob.process_frame(f, FrameMeta.for_frame(f, 15)).ok
    _refused(ob, f, FrameMeta.for_frame(f, 15), ARG, "duplicate_frames")


def test_full_store_drops_and_evicts_counted(lib):
    """Land frames fill the store; ship frames then evict land (lower
    priority) first; once only ships and their frame products remain, new
    ships of equal confidence are dropped, older ones kept."""
    ob = Onboard(80_000, classifier="rule", land_policy="lowres")  # data area about 10 KB
    evicted = dropped = 0
    for k in range(4):
        f = synthetic_frame(256, 256, seed=30 + k, land=(0, 0, 256, 256))
        rep = ob.process_frame(f, FrameMeta.for_frame(f, 200 + k))
        assert rep.ok and rep["land_regions"] == 1
        evicted += rep["products_evicted"]
        dropped += rep["products_dropped"]
    kept_ships = []
    for k in range(6):
        f = synthetic_frame(128, 160, seed=10 + k, ships=[(30, 40), (90, 120)])
        rep = ob.process_frame(f, FrameMeta.for_frame(f, 100 + k))
        assert rep.ok, rep.status_name
        evicted += rep["products_evicted"]
        dropped += rep["products_dropped"]
        assert ob.store_ok()
    c = ob.counters()
    assert evicted > 0 and dropped > 0
    assert (c["products_evicted"], c["products_dropped"]) == (evicted, dropped)
    from triage.onboard.products import decode_stream

    entries = next(p for p in decode_stream(ob.directory()).values()).records
    types = [e["product_type"] for e in entries]
    assert 4 not in types  # every land product went first
    ships = [(e["frame_id"], e["product_id"]) for e in entries if e["product_type"] == 1]
    kept_ships = sorted(ships)
    assert kept_ships[0][0] == 100  # the oldest ships stay, the newest were dropped
    # everything the store holds still decodes
    prods = decode_stream(ob.downlink(1 << 30))
    assert len(prods) == len(entries)


def test_python_side_misuse_is_a_clear_error(lib):
    from triage.onboard import OnboardInputError

    ob = _ob()
    with pytest.raises(OnboardInputError):
        ob.process_frame(np.zeros((64, 64, 4), np.float32), b"x")
    with pytest.raises(OnboardInputError):
        ob.downlink(-1)
    with pytest.raises(OnboardInputError):
        Onboard(classifier="magic")


def test_land_policy_drop_or_lowres(lib):
    """The land policy decides what an undiscarded land tile becomes: a
    low-resolution LAND product, or nothing (counted as a discarded land tile)."""
    from triage.onboard import OnboardInputError

    f = synthetic_frame(128, 128, seed=31, land=(0, 0, 128, 128))
    low = Onboard(1 << 20, classifier="rule", land_policy="lowres")
    drop = Onboard(1 << 20, classifier="rule", land_policy="drop")
    r_low = low.process_frame(f, FrameMeta.for_frame(f, 1))
    r_drop = drop.process_frame(f, FrameMeta.for_frame(f, 1))
    assert r_low.ok and r_drop.ok
    assert r_low["land_regions"] == 1 and r_drop["land_regions"] == 0
    assert r_low["cells_land"] == r_drop["cells_land"] > 0
    assert r_drop["discarded_land"] == r_low["discarded_land"] + r_low["cells_lowres"]
    assert r_drop["cells_lowres"] == 0
    with pytest.raises(OnboardInputError):
        Onboard(classifier="rule", land_policy="keep")


@pytest.mark.parametrize(
    ("shape", "land"), [((36, 100), (32, 0, 36, 100)), ((100, 37), (0, 32, 100, 37))]
)
def test_thin_land_regions_average_over_their_smaller_side(lib, shape, land):
    """A land region in the frame's last, clipped row (or column) of cells, thinner than the
    averaging factor (4 or 5 px), is averaged over squares of its smaller side instead of
    giving an empty image that no decoder accepts."""
    from triage.onboard.products import decode_stream

    f = synthetic_frame(*shape, seed=41, land=land)
    ob = Onboard(1 << 20, classifier="rule", land_policy="lowres")
    rep = ob.process_frame(f, FrameMeta.for_frame(f, 1))
    assert rep.ok, rep.status_name
    lands = [
        p.header for p in decode_stream(ob.downlink(1 << 20)).values() if p.type_name == "LAND"
    ]
    assert rep["land_regions"] == len(lands) == 1
    (h,) = lands
    thin = min(land[2] - land[0], land[3] - land[1])  # 4 or 5 px: less than the factor 8
    assert h["pixel_step"] == thin
    assert (h["region_rows"], h["region_cols"]) == (
        (land[2] - land[0]) // thin * thin,
        (land[3] - land[1]) // thin * thin,
    )


def test_a_library_from_other_sources_is_named_not_a_traceback():
    """A shared library lacking the symbols this checkout declares (here the C library
    itself, as a stand-in for a host build made before a firmware change) gives one
    clear error naming the file and the fix."""
    libc = ctypes.util.find_library("c")
    if libc is None:
        pytest.skip("no C library found by ctypes.util.find_library")
    with pytest.raises(OnboardError, match=r"built from other firmware sources.*make firmware"):
        _lib.load.__wrapped__(libc)
