"""The cell network's contract: preprocessing, static shapes for TFLM, frame = windows."""

from __future__ import annotations

import math

import numpy as np
import pytest
from triage_models import cellnet
from triage_models.cellnet import CELL_PX, CellArchConfig
from triage_models.tiles import preprocess_tiles

SMALL = CellArchConfig(stem_channels=4, blocks=[(8, 2), (8, 2), (8, 2)], head_dw=1, dropout=0.0)


def test_layer_list_and_costs_by_hand():
    cfg = CellArchConfig()  # stem 3x3/2 8ch; (24,/2) (32,/1) (48,/2) (64,/2); one head dw
    # per pixel: stem 3*3*4*8/4 = 72; dw/2 9*8/16 = 4.5; 1x1 8*24/16 = 12; dw 9*24/16 = 13.5;
    # 1x1 24*32/16 = 48; dw/2 9*32/64 = 4.5; 1x1 32*48/64 = 24; dw/2 9*48/256 = 1.6875;
    # 1x1 48*64/256 = 12; head dw 9*64/256 = 2.25; classifier 64*4/256 = 1
    assert cfg.macs_per_pixel() == pytest.approx(195.4375)
    # receptive field: 3, +2*2, +2*4, +2*4, +2*8, +2*16 = 71
    assert cfg.receptive_field() == 71
    with pytest.raises(ValueError, match="stride"):
        CellArchConfig(blocks=[(8, 2)])


def test_frame_preprocessing_pads_with_the_zero_point():
    rng = np.random.default_rng(3)
    frame = rng.integers(0, 65536, (20, 35, 4), dtype=np.uint16)
    q = cellnet.preprocess_frame(frame)
    assert q.shape == (32, 48, 4)
    assert (q[20:] == -128).all() and (q[:, 35:] == -128).all()
    # inside: the tile spec's per-pixel preprocessing, checked on a hand value
    assert q[0, 0, 0] == math.isqrt(int(frame[0, 0, 0])) - 128
    tile = np.zeros((32, 32, 4), np.uint16)
    tile[:20, :32] = frame[:, :32]
    assert (preprocess_tiles(tile[None])[0][:20] == q[:20, :32]).all()


@pytest.fixture(scope="module")
def small_model():
    from triage_models.train import setup_tensorflow

    setup_tensorflow(5)
    import keras

    model = cellnet.build_cellnet(SMALL)
    # batch normalisation with gains and offsets that keep every layer alive and varied
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.gamma.shape[0]
            layer.gamma.assign(rng.uniform(1, 3, n).astype(np.float32))
            layer.beta.assign(rng.uniform(0.0, 0.5, n).astype(np.float32))
    rng = np.random.default_rng(1)
    rep = rng.integers(-128, 128, (8, 64, 64, 4), dtype=np.int8)
    return model, cellnet.convert_int8(model, rep)


@pytest.mark.slow
def test_static_shape_model_runs_under_tflm_like_litert(small_model):
    _, tfl = small_model
    cellnet.validate_cellnet(tfl)
    rng = np.random.default_rng(2)
    frame = rng.integers(0, 20000, (70, 90, 4), dtype=np.uint16)
    q = cellnet.preprocess_frame(frame)
    a = cellnet.tflm_frame(tfl, q)
    b = cellnet.litert_frame(tfl, q)
    assert a.shape == (5, 6, 4)
    assert (a == b).all()


@pytest.mark.slow
def test_windows_with_a_halo_give_the_whole_frame(small_model):
    """Cells computed from a window holding their receptive field (aligned to the cell grid)
    equal the whole-frame run: the firmware may stream the frame in bands."""
    _, tfl = small_model
    rng = np.random.default_rng(4)
    frame = rng.integers(0, 30000, (160, 160, 4), dtype=np.uint16)
    q = cellnet.preprocess_frame(frame)
    whole = cellnet.litert_frame(tfl, q)
    halo = -(-SMALL.receptive_field() // CELL_PX) * CELL_PX
    # cell rows 4..5, all columns, from a band of rows [64 - halo, 96 + halo)
    r0, r1 = 4 * CELL_PX - halo, 6 * CELL_PX + halo
    band = cellnet.litert_frame(tfl, q[r0:r1])
    got = band[halo // CELL_PX : halo // CELL_PX + 2]
    assert (got[:, 2:-2] == whole[4:6, 2:-2]).all()


@pytest.mark.slow
def test_row_dependency_of_a_cell_row(small_model):
    """Cell row i reads input rows 16 i - 16 .. 16 i + 46 for SMALL (by hand: stem 3x3/2 and
    three 3x3/2 depthwise layers pad one row after, the head's 3x3 one row each side);
    changing rows outside leaves the row's outputs as they are, changing those inside does
    not."""
    _, tfl = small_model
    assert cellnet.input_rows_of_cell_row(SMALL) == (-16, 46)
    rng = np.random.default_rng(6)
    q = rng.integers(-128, 128, (160, 64, 4), dtype=np.int8)
    base = cellnet.litert_frame(tfl, q)
    i = 4  # rows 64..79
    for r in (0, 64 - 17, 64 + 47, 159):
        p = q.copy()
        p[r] = np.where(p[r] > 0, -128, 127)
        assert (cellnet.litert_frame(tfl, p)[i] == base[i]).all(), f"row {r} changed row {i}"
    p = q.copy()
    p[64 - 16 : 64 + 47] = np.where(p[64 - 16 : 64 + 47] > 0, -128, 127)
    assert (cellnet.litert_frame(tfl, p)[i] != base[i]).any()


def test_input_offset_puts_zero_point_rows_before_the_frame():
    """``input_offset`` rows and columns of -128 (raw 0) before the frame, the extension to
    a multiple of 16 after it; cell row i of the frame then reads rows shifted by it (by
    hand for SMALL: -16 .. 46 without the offset, -24 .. 38 with 8 rows before)."""
    rng = np.random.default_rng(7)
    frame = rng.integers(0, 65536, (20, 35, 4), dtype=np.uint16)
    q = cellnet.preprocess_frame(frame, offset=8)
    assert q.shape == (32, 48, 4)  # 8 + 20 -> 32, 8 + 35 -> 48
    assert (q[:8] == -128).all() and (q[:, :8] == -128).all()
    assert (q[28:] == -128).all() and (q[:, 43:] == -128).all()
    assert (q[8:28, 8:43] == cellnet.preprocess_frame(frame)[:20, :35]).all()
    assert cellnet.frame_cells(np.zeros((4, 5, 4)), 20, 35).shape == (2, 3, 4)
    off = SMALL.model_copy(update={"input_offset": 8})
    assert cellnet.input_rows_of_cell_row(off) == (-24, 38)
