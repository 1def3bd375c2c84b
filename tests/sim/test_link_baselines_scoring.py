"""Frame planning, the loss model, baseline byte accounting and scoring, on hand-derived cases."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import imagecodecs
import numpy as np
import pytest

from ground_station.passes import ContactWindow
from triage.contract.enums import SEQ_UNSEGMENTED
from triage.contract.packets import encode_packet, split_packets
from triage.contract.predictor import neighbour_restore
from triage.sim.baselines import (
    BaselineDownlink,
    compressed_product_bytes,
    directory_bytes,
    raw_product_bytes,
    segment_packet_sizes,
)
from triage.sim.build import plan_frames
from triage.sim.link import LossChannel, Pass, packet_time
from triage.sim.manifest import Frame, PacketLoss, PixelWindow
from triage.sim.scoring import Delivery, LabelledShip, score

T0 = datetime(2024, 6, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("rows", "cols"), [(1038, 1980), (316, 424), (1024, 1024), (1025, 3000), (1456, 1607)]
)
def test_plan_frames_covers_with_overlap(rows, cols):
    frames = plan_frames(rows, cols, max_frame_px=1024, overlap_px=32)
    cover = np.zeros((rows, cols), dtype=np.int32)
    for f in frames:
        assert f.rows <= 1024 and f.cols <= 1024
        assert f.row0 + f.rows <= rows and f.col0 + f.cols <= cols
        cover[f.row0 : f.row0 + f.rows, f.col0 : f.col0 + f.cols] += 1
    assert cover.min() >= 1
    if len(frames) > 1:  # neighbours overlap by at least one 32-px tile
        starts = sorted({f.col0 for f in frames})
        for a, b in itertools.pairwise(starts):
            assert a + frames[0].cols - b >= 32


def test_hedland_gdynia_frame_counts():
    # gdynia 1980 x 1038 (cols x rows): 2 x 2 frames of 535 x 1006
    g = plan_frames(1038, 1980)
    assert len(g) == 4 and {(f.rows, f.cols) for f in g} == {(535, 1006)}
    assert len(plan_frames(316, 424)) == 1


def test_loss_none_and_bernoulli_rate():
    assert not LossChannel(PacketLoss(), "x").lost(1000).any()
    ch = LossChannel(PacketLoss(model="bernoulli", loss_probability=0.1, seed=3), "x")
    lost = ch.lost(200_000)
    # binomial: mean 0.1, sd sqrt(0.09/2e5) = 6.7e-4; 6 sd
    assert abs(lost.mean() - 0.1) < 0.004
    again = LossChannel(PacketLoss(model="bernoulli", loss_probability=0.1, seed=3), "x")
    assert np.array_equal(again.lost(200_000), lost)
    other = LossChannel(PacketLoss(model="bernoulli", loss_probability=0.1, seed=3), "y")
    assert not np.array_equal(other.lost(1000), lost[:1000])


def test_gilbert_elliott_stationary_rate_and_bursts():
    cfg = PacketLoss(
        model="gilbert_elliott",
        p_good_to_bad=0.02,
        p_bad_to_good=0.2,
        loss_in_good=0.0,
        loss_in_bad=1.0,
        seed=11,
    )
    lost = LossChannel(cfg, "x").lost(300_000)
    # stationary share of the bad state: 0.02 / (0.02 + 0.2) = 1/11
    assert abs(lost.mean() - 1 / 11) < 0.01
    # bursts: mean run length of losses is 1 / p_bad_to_good = 5
    runs = np.diff(np.flatnonzero(np.diff(np.r_[0, lost.astype(np.int8), 0])))[::2]
    assert 4.5 < runs.mean() < 5.5


def test_split_packets_round_trip():
    pk = [
        encode_packet(
            0x101,
            SEQ_UNSEGMENTED,
            i,
            {
                "frame_id": 1,
                "product_id": i,
                "segment_index": 0,
                "segment_count": 1,
                "region_row0": 0,
                "region_col0": 0,
                "region_rows": 1,
                "region_cols": 1,
                "class_id": 2,
                "confidence": 200,
                "time_s": 0,
                "time_sub": 0,
            },
            bytes(range(n)),
        )
        for i, n in enumerate((1, 200, 255))
    ]
    assert split_packets(b"".join(pk)) == pk
    with pytest.raises(ValueError, match="runs past the end"):
        split_packets(b"".join(pk)[:-1])


def test_product_sizes_hand_derived():
    frame = np.zeros((100, 30, 4), dtype=np.uint16)
    assert raw_product_bytes(frame) == 140 + 100 * 30 * 4 * 2  # 24140
    sizes = segment_packet_sizes(24140)
    # 24140 = 23 * 1024 + 588: 23 full segments + one of 588, 38 bytes of overhead each
    assert len(sizes) == 24 and sizes[0] == 1062 and sizes[-1] == 626
    # product header, DIRECTORY_HEADER (40), three STORE_ENTRYs (16 each), one packet's 38
    assert directory_bytes(3) == 140 + 40 + 3 * 16 + 38


def test_compressed_baseline_codes_instrument_numbers_on_the_lattice():
    """With a dn scale the baseline codes d where the whole frame is on the
    lattice (libaec on d, sized by hand here), and the samples otherwise."""
    import imagecodecs

    rng = np.random.default_rng(6)
    d = 150 + rng.integers(0, 40, (48, 40, 4))
    frame = ((d * 65535 + 5000) // 10000).astype(np.uint16)
    want = 140 + sum(
        len(
            imagecodecs.aec_encode(
                np.ascontiguousarray(d[:, :, b].astype(np.uint16)),
                bitspersample=16,
                blocksize=16,
                rsi=64,  # the firmware's (tri_contract.h), the baseline's default
                flags=8,
            )
        )
        for b in range(4)
    )
    ud = "unit-delay"
    assert compressed_product_bytes(frame, predictor=ud, dn_scale=(65535, 10000)) == want
    assert want < compressed_product_bytes(frame, predictor=ud)
    frame[0, 0, 0] += 1  # off the lattice: the samples are coded
    assert compressed_product_bytes(
        frame, predictor=ud, dn_scale=(65535, 10000)
    ) == compressed_product_bytes(frame, predictor=ud)


def test_compressed_product_decodes_with_libaec():
    rng = np.random.default_rng(5)
    frame = (1000 + rng.integers(0, 50, (64, 40, 4))).astype(np.uint16)
    n = compressed_product_bytes(frame, predictor="unit-delay")
    streams = 0
    for b in range(4):
        band = np.ascontiguousarray(frame[:, :, b])
        enc = imagecodecs.aec_encode(band, bitspersample=16, blocksize=16, rsi=64, flags=8)
        dec = np.frombuffer(
            imagecodecs.aec_decode(enc, bitspersample=16, blocksize=16, rsi=64, flags=8),
            dtype=np.uint16,
        )
        assert np.array_equal(dec[: band.size], band.ravel())
        streams += len(enc)
    assert n == 140 + streams < raw_product_bytes(frame)


def test_compressed_baseline_neighbour_predictor_decodes_with_libaec():
    """The default baseline codes the neighbour predictor's residuals: libaec (flags 0)
    decodes each stream to what the pixel-by-pixel reference computes, and the frame
    comes back through the restorer."""
    import imagecodecs

    from tests.onboard.helpers import neighbour_reference

    rng = np.random.default_rng(7)
    # texture shared by the bands (as sea glint and wakes are), a little noise of each
    common = rng.integers(0, 400, (40, 24, 1))
    offsets = np.array([900, 700, 500, 300])
    frame = (offsets + common + rng.integers(0, 4, (40, 24, 4))).astype(np.uint16)
    want = neighbour_reference(np.moveaxis(frame, 2, 0), np.ones((40, 24), bool), 16)
    total = 140
    decoded = []
    for b in range(4):
        enc = imagecodecs.aec_encode(
            np.array(want[b], np.uint16), bitspersample=16, blocksize=16, rsi=64, flags=0
        )
        dec = np.frombuffer(
            imagecodecs.aec_decode(enc, bitspersample=16, blocksize=16, rsi=64, flags=0),
            dtype=np.uint16,
        )[: 40 * 24]
        assert dec.tolist() == want[b]
        decoded.append(dec)
        total += len(enc)
    assert compressed_product_bytes(frame, 16, 64) == total
    assert total < compressed_product_bytes(frame, 16, 64, predictor="unit-delay")
    back = neighbour_restore(decoded, np.ones((40, 24), bool), 16)
    assert np.array_equal(back, np.moveaxis(frame, 2, 0))


def _pass(i, budget, start_h):
    aos = T0 + timedelta(hours=start_h)
    return Pass(i, ContactWindow("a", aos, aos + timedelta(minutes=10), 45.0), budget)


def test_baseline_pass_accounting_without_loss():
    bl = BaselineDownlink("raw", LossChannel(PacketLoss(), "raw"), 9600)
    bl.capture(1, T0, 3000)  # segments 1024, 1024, 952 -> packets 1062, 1062, 990
    bl.capture(2, T0, 500)  # one packet of 538
    d1 = directory_bytes(2)  # 140 + 40 + 2 * 16 + 38 = 250
    r = bl.run_pass(_pass(0, d1 + 1062 + 1062 + 100, 1))
    assert d1 == 250
    assert r.sent_bytes == d1 + 2124 and r.packets_sent == 1 + 2 and r.completed == []
    r = bl.run_pass(_pass(1, 10_000, 2))
    # directory of 2 entries, the last segment of frame 1, then frame 2
    assert r.sent_bytes == d1 + 990 + 538
    assert [fid for fid, _ in r.completed] == [1, 2]
    p = _pass(1, 10_000, 2)
    assert r.completed[0][1] == packet_time(p, d1 + 990, 9600)
    assert bl.held == []


def test_baseline_resends_lost_segments_next_pass():
    cfg = PacketLoss(model="bernoulli", loss_probability=0.5, seed=1)
    bl = BaselineDownlink("raw", LossChannel(cfg, "raw"), 9600)
    bl.capture(1, T0, 20 * 1024)
    passes = 0
    while bl.held and passes < 40:
        r = bl.run_pass(_pass(passes, 10**6, passes))
        passes += 1
        # each pass sends only what was missing at its start, once
        assert r.packets_sent - 1 <= 20
    assert 1 in bl.delivered and passes > 1


def _frame(fid, scene, r0, c0, rows, cols, t):
    return Frame(
        frame_id=fid,
        scene=scene,
        bands={"blue": {"path": "x"}},
        window=PixelWindow(row0=r0, col0=c0, rows=rows, cols=cols),
        capture_time_utc=t,
    )


def test_score_hand_derived():
    frames = {
        1: _frame(1, "s", 0, 0, 100, 100, T0),
        2: _frame(2, "s", 0, 68, 100, 100, T0 + timedelta(seconds=1)),
    }
    ships = [
        LabelledShip("s", 1, x=10, y=10, w=10, h=10),  # centre (15, 15) in frame 1
        LabelledShip("s", 2, x=150, y=40, w=4, h=4),  # centre (42, 152): frame 2 only
        LabelledShip("s", 3, x=60, y=60, w=8, h=8),  # centre (64, 64): no crop covers it
    ]
    t1, t2 = T0 + timedelta(hours=2), T0 + timedelta(hours=1)
    deliveries = [
        Delivery(1, 8, 8, 16, 16, t1),  # covers ship 1 (rows 8..23)
        # frame 2 pixel (40, 80) is scene (40, 148): covers ship 2's centre (42, 152)
        Delivery(2, 40, 80, 8, 8, t2),
        Delivery(1, 64, 65, 8, 8, t1),  # starts one column right of ship 3's centre
    ]
    out = {o.ship.label_id: o for o in score(ships, deliveries, frames)}
    assert out[1].delivered_at == t1 and out[1].latency_s == 7200.0
    assert out[2].delivered_at == t2 and out[2].latency_s == 3599.0
    assert out[3].delivered_at is None


def test_score_masked_crops():
    """A masked crop delivers a ship only when the pixel under its box centre is kept."""
    frames = {1: _frame(1, "s", 0, 0, 100, 100, T0)}
    ships = [
        LabelledShip("s", 1, x=10, y=10, w=10, h=10),  # centre (15, 15): pixel (15, 15)
        LabelledShip("s", 2, x=30, y=30, w=4, h=3),  # centre (31.5, 32): pixel (31, 32)
    ]
    kept = np.zeros((32, 32), bool)  # crop at (8, 8): ship 1 -> (7, 7), ship 2 -> (23, 24)
    kept[7, 7] = True
    kept[23, 23] = True  # one column left of ship 2's centre pixel
    t1 = T0 + timedelta(hours=1)
    out = {o.ship.label_id: o for o in score(ships, [Delivery(1, 8, 8, 32, 32, t1, kept)], frames)}
    assert out[1].delivered_at == t1
    assert out[2].delivered_at is None
    kept[23, 24] = True
    out = {o.ship.label_id: o for o in score(ships, [Delivery(1, 8, 8, 32, 32, t1, kept)], frames)}
    assert out[2].delivered_at == t1


def test_ships_by_cloud_hand_derived(tmp_path):
    import json

    from triage.sim.results import _by_cloud
    from triage.sim.scoring import ShipOutcome, load_coco_boxes

    anns = [  # (cloud_alpha, under_cloud): clear, clear, thin, thin, under
        (0.0, False), (0.0499, False), (0.05, False), (0.49, False), (0.8, True)
    ]  # fmt: skip
    coco = {
        "annotations": [
            {"id": i + 1, "bbox": [10.0 * i, 0.0, 4.0, 4.0], "cloud_alpha": a, "under_cloud": u}
            for i, (a, u) in enumerate(anns)
        ]
    }
    path = tmp_path / "ships.coco.json"
    path.write_text(json.dumps(coco))
    ships = load_coco_boxes(path, "s")
    assert [s.cloud_class for s in ships] == [
        "clear", "clear", "thin_cloud", "thin_cloud", "under_cloud"
    ]  # fmt: skip
    t = datetime(2024, 6, 1, tzinfo=UTC)
    delivered = [True, False, False, True, True]
    outs = [
        ShipOutcome(s, t if d else None, 1 if d else None, 0.0 if d else None)
        for s, d in zip(ships, delivered, strict=True)
    ]
    assert _by_cloud(outs) == {
        "clear": {"ships": 2, "delivered": 1, "recall": 0.5},
        "thin_cloud": {"ships": 2, "delivered": 1, "recall": 0.5},
        "under_cloud": {"ships": 1, "delivered": 1, "recall": 1.0},
    }
    # labels that do not say how much cloud lies over a ship: no split
    bare = [ShipOutcome(LabelledShip("s", 1, 0.0, 0.0, 4.0, 4.0), None, None, None)]
    assert _by_cloud(bare) is None
