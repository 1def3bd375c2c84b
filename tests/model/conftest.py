"""Fixtures of the model tests: a small synthetic tile dataset made from a declared plan."""

from __future__ import annotations

import numpy as np
import pytest
from triage_models.dataset import (
    TileDataset,
    box_stats,
    grid_origins,
    label_cloud_tiles,
    label_port_tiles,
    ndwi_water,
)
from triage_models.tiles import tile_spec

SYNTH_SEED = 7


def make_synthetic_dataset(seed: int = SYNTH_SEED) -> TileDataset:
    """Two 'ports' (96x128 px: water left, land right, four bright 'ships' in the water)
    and one 'cloud image' (64x64, a bright blob), on the canonical scale.

    Plan: water = blue 3000, green 2500, NIR 800; land = blue 2000, green 3000, NIR 9000;
    ships = 14000 in all bands over 4x10 px boxes; cloud = 45000 in all bands over the left
    half of the cloud image; Gaussian noise sigma 100 from ``seed``.
    """
    rng = np.random.default_rng(seed)
    spec = tile_spec()
    t = spec.tile_px
    frames, clouds, waters, boxes, names, is_port = [], [], [], [], [], []
    tf, tyx, tl, tc, tw, tcl = [], [], [], [], [], []
    for p in range(2):
        h, w = 96, 128
        f = np.empty((h, w, 4), np.float64)
        f[:, :64] = [3000, 2500, 1500, 800]
        f[:, 64:] = [2000, 3000, 2500, 9000]
        bx = []
        for k in range(4):
            x, y = 8 + 14 * k, 10 + 20 * k
            f[y : y + 10, x : x + 4] = 14000
            bx.append([x, y, 4, 10])
        f += rng.normal(0, 100, f.shape)
        frame = np.clip(f, 0, 65535).astype(np.uint16)
        bx = np.array(bx, np.float64)
        yx = grid_origins((h, w))
        water = ndwi_water(frame)
        wf = np.array([water[y : y + t, x : x + t].mean() for y, x in yx], np.float32)
        cf = np.zeros(len(yx), np.float32)
        cen, bf = box_stats(yx, bx, t)
        fi = len(frames)
        frames.append(frame)
        clouds.append(np.zeros((h, w), bool))
        waters.append(water)
        boxes.append(np.column_stack([np.full(len(bx), fi), bx]))
        names.append(f"port{p}")
        is_port.append(True)
        tf.append(np.full(len(yx), fi, np.int32))
        tyx.append(yx)
        tl.append(label_port_tiles(cen, bf, cf, wf))
        tc.append(cen)
        tw.append(wf)
        tcl.append(cf)
    h = w = 64
    cframe = np.full((h, w, 4), 2000.0)
    cmask = np.zeros((h, w), bool)
    cmask[:, :32] = True
    cframe[cmask] = 45000
    cframe = np.clip(cframe + rng.normal(0, 100, cframe.shape), 0, 65535).astype(np.uint16)
    yx = grid_origins((h, w))
    cf = np.array([cmask[y : y + t, x : x + t].mean() for y, x in yx], np.float32)
    wf = np.zeros(len(yx), np.float32)
    frames.append(cframe)
    clouds.append(cmask)
    waters.append(np.zeros((h, w), bool))
    names.append("cloudimg")
    is_port.append(False)
    tf.append(np.full(len(yx), 2, np.int32))
    tyx.append(yx)
    tl.append(label_cloud_tiles(cf, wf))
    tc.append(np.zeros(len(yx), np.int16))
    tw.append(wf)
    tcl.append(cf)
    return TileDataset(
        names=names,
        is_port=np.array(is_port),
        frames=frames,
        cloud_masks=clouds,
        water_masks=waters,
        boxes=np.concatenate(boxes),
        tile_frame=np.concatenate(tf),
        tile_yx=np.concatenate(tyx),
        tile_label=np.concatenate(tl),
        tile_centres=np.concatenate(tc),
        tile_water=np.concatenate(tw),
        tile_cloud=np.concatenate(tcl),
        key="synthetic",
        poly_box=np.repeat(np.arange(8), 4).astype(np.int32),
        poly_xy=np.concatenate(
            [
                [[x, y], [x + w, y], [x + w, y + h], [x, y + h]]
                for _, x, y, w, h in np.concatenate(boxes)
            ]
        ).astype(np.float64),
    )


@pytest.fixture(scope="session")
def synthetic_ds() -> TileDataset:
    return make_synthetic_dataset()
