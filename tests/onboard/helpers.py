"""Independent references for the on-board tests: the test rule classifier
per cell in numpy, region labelling by breadth-first search, nodata-aware block
means, synthetic frames, and real Sentinel-2 frames."""

from __future__ import annotations

from collections import deque
from pathlib import Path

import numpy as np

from triage.contract import tile_spec as ts
from triage.contract.enums import Action
from triage.onboard import _lib, config

NODATA, DISCARD, CROP, LOWRES, LAND_DROP = (
    Action.NODATA,
    Action.DISCARD,
    Action.CROP,
    Action.LOWRES,
    Action.LAND_DROP,
)
CLOUD, SEA, SHIP, LAND = range(4)


def c_preprocess_row(frame: np.ndarray, y: int, gains) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The firmware's preprocessing of frame row ``y``: (int8 [cols, bands], no-data pixels per
    cell column, saturated pixels per cell column)."""
    lib = _lib.load()
    frame = np.ascontiguousarray(frame)
    if frame.dtype == np.uint16:
        frame = frame.astype("<u2")
    rows, cols = frame.shape[:2]
    out = np.zeros((cols, config()["bands"]), np.int8)
    ncells = ts.cell_count(cols)
    nodata = np.zeros(ncells, np.uint16)
    saturated = np.zeros(ncells, np.uint16)
    g = np.ascontiguousarray(gains, dtype=np.uint16)
    st = lib.tri_host_preprocess_row(
        frame.ctypes.data,
        rows,
        cols,
        frame.dtype.itemsize,
        y,
        g.ctypes.data,
        out.ctypes.data,
        nodata.ctypes.data,
        saturated.ctypes.data,
    )
    assert st == 0
    return out, nodata, saturated


def rule_scores(q: np.ndarray) -> np.ndarray:
    """The test rule classifier (mcu_firmware/app/src/tri_classifier_rule.c) on the int8
    input pixels of one cell [n, C]: the cell's scores [4]."""
    u = q.reshape(-1, q.shape[-1]).astype(np.int64) + 128
    n = len(u)
    nir_mean = int(u[:, 3].sum()) // n
    blue_mean = int(u[:, 0].sum()) // n
    if u[:, 3].max() >= 200 and nir_mean < 100:
        win = SHIP
    elif blue_mean >= 180:
        win = CLOUD
    elif nir_mean < 100:
        win = SEA
    else:
        win = LAND
    out = np.full(4, -120, np.int32)
    out[win] = (120, 120, 100, 60)[win]
    return out


def cells_of(size: int) -> list[tuple[int, int]]:
    """[start, end) pixels of every cell along an axis."""
    return [ts.cell_bounds(i, size) for i in range(ts.cell_count(size))]


def expected_grid(frame: np.ndarray, nodata: int, policy, gains=None):
    """(classes, confidences, actions) of the rule classifier + the policy, per cell."""
    spec = ts.tile_spec()
    ys, xs = cells_of(frame.shape[0]), cells_of(frame.shape[1])
    cls = np.zeros((len(ys), len(xs)), np.uint8)
    conf = np.zeros_like(cls)
    act = np.zeros_like(cls)
    dmin = policy.discard_min_q(spec)
    q = ts.preprocess_pixels(frame, gains)
    for i, (r0, r1) in enumerate(ys):
        for j, (c0, c1) in enumerate(xs):
            cell = frame[r0:r1, c0:c1]
            nd = np.all(cell == nodata, axis=2).sum()
            if 2 * nd > cell.shape[0] * cell.shape[1]:
                cls[i, j], conf[i, j], act[i, j] = 255, 0, NODATA
                continue
            s = rule_scores(q[r0:r1, c0:c1])
            top = int(np.argmax(s))
            if s[CLOUD] >= policy.cloud_call_min_q:  # the policy's cloud call
                top = CLOUD
            cls[i, j] = top
            conf[i, j] = s[top] + 128
            if s[SHIP] >= policy.ship_crop_min_q:
                act[i, j] = CROP
            elif s[top] >= dmin[top]:
                act[i, j] = DISCARD
            elif top == LAND:
                act[i, j] = LAND_DROP if policy.land_policy == "drop" else LOWRES
            else:
                act[i, j] = LOWRES
    return cls, conf, act


def label_regions(mask: np.ndarray) -> list[list[tuple[int, int]]]:
    """8-connected components of a boolean grid, in raster order of their first cell."""
    seen = np.zeros_like(mask, bool)
    regions = []
    for i, j in zip(*np.nonzero(mask), strict=True):
        if seen[i, j]:
            continue
        comp = []
        todo = deque([(i, j)])
        seen[i, j] = True
        while todo:
            a, b = todo.popleft()
            comp.append((a, b))
            for da in (-1, 0, 1):
                for db in (-1, 0, 1):
                    y, x = a + da, b + db
                    inside = 0 <= y < mask.shape[0] and 0 <= x < mask.shape[1]
                    if inside and mask[y, x] and not seen[y, x]:
                        seen[y, x] = True
                        todo.append((y, x))
        regions.append(sorted(comp))
    return regions


def region_box(cells, frame_shape) -> tuple[int, int, int, int]:
    """Pixel box (row0, col0, rows, cols) covered by the cells of a region."""
    ys, xs = cells_of(frame_shape[0]), cells_of(frame_shape[1])
    r0 = min(ys[a][0] for a, _ in cells)
    c0 = min(xs[b][0] for _, b in cells)
    r1 = max(ys[a][1] for a, _ in cells)
    c1 = max(xs[b][1] for _, b in cells)
    return r0, c0, r1 - r0, c1 - c0


def crop_pieces(cells, frame_shape, margin: int, cap: int):
    """The ship crops of a region (its ``cells``), drawn pixel by pixel: the kept mask is the
    union of the cells widened by ``margin``; the region's cell box is cut into
    ``cap``-square pieces from its corner, each shrunk to its kept pixels (empty ones
    skipped). Returns [(row0, col0, row1, col1, kept mask of the piece, its cells)]."""
    rows, cols = frame_shape[:2]
    ys, xs = cells_of(rows), cells_of(cols)
    masks = {}
    for a, b in cells:
        m = np.zeros((rows, cols), bool)
        r0, r1 = ys[a]
        c0, c1 = xs[b]
        m[max(0, r0 - margin) : r1 + margin, max(0, c0 - margin) : c1 + margin] = True
        masks[(a, b)] = m
    kept = np.logical_or.reduce(list(masks.values()))
    br0, bc0, bh, bw = region_box(cells, frame_shape)
    out = []
    for pr in range(br0, br0 + bh, cap):
        for pc in range(bc0, bc0 + bw, cap):
            pr1, pc1 = min(pr + cap, br0 + bh), min(pc + cap, bc0 + bw)
            sub = kept[pr:pr1, pc:pc1]
            if not sub.any():
                continue
            rr, cc = np.nonzero(sub)
            r0, r1 = pr + rr.min(), pr + rr.max() + 1
            c0, c1 = pc + cc.min(), pc + cc.max() + 1
            members = [t for t, m in masks.items() if m[pr:pr1, pc:pc1].any()]
            out.append((r0, c0, r1, c1, kept[r0:r1, c0:c1], members))
    return out


def block_mean(frame: np.ndarray, r0, c0, rows, cols, f, nodata) -> np.ndarray:
    """[bands, rows//f, cols//f] means of valid samples (rounded half up), nodata if none."""
    sub = frame[r0 : r0 + (rows // f) * f, c0 : c0 + (cols // f) * f].astype(np.int64)
    h, w, b = sub.shape
    blocks = sub.reshape(h // f, f, w // f, f, b)
    valid = blocks != nodata
    n = valid.sum(axis=(1, 3))
    s = np.where(valid, blocks, 0).sum(axis=(1, 3))
    mean = np.where(n > 0, (s + n // 2) // np.maximum(n, 1), nodata)
    return mean.transpose(2, 0, 1).astype(frame.dtype)


def synthetic_frame(rows: int, cols: int, seed: int, ships=(), land=None, cloud=None, nodata=None):
    """Sea-like noise with bright NIR ships (r, c), a land rectangle, a cloud rectangle and a
    no-data rectangle (each (r0, c0, r1, c1)); uint16 [rows, cols, 4]."""
    rng = np.random.default_rng(seed)
    f = rng.integers(600, 1600, (rows, cols, 4)).astype(np.uint16)
    f[..., 3] = rng.integers(200, 900, (rows, cols))
    if land is not None:
        r0, c0, r1, c1 = land
        f[r0:r1, c0:c1] = rng.integers(9000, 20000, (r1 - r0, c1 - c0, 4))
    if cloud is not None:
        r0, c0, r1, c1 = cloud
        f[r0:r1, c0:c1] = rng.integers(50000, 65536, (r1 - r0, c1 - c0, 4))
    for r, c in ships:
        f[r : r + 3, c : c + 5, 3] = 60000
        f[r : r + 3, c : c + 5, :3] = 9000
    if nodata is not None:
        r0, c0, r1, c1 = nodata
        f[r0:r1, c0:c1] = 0
    return f


def real_frame(data_dir: Path, port: str, r0: int, c0: int, rows: int, cols: int):
    """A [rows, cols, 4] uint16 window of a sen2ships port (bands B02, B03, B04, B08),
    with its geotransform and EPSG code."""
    import rasterio
    from rasterio.windows import Window

    spec = ts.tile_spec()
    bands = []
    for b in spec.bands:
        with rasterio.open(data_dir / "sen2ships" / port / f"{b.sentinel2}.tif") as ds:
            bands.append(ds.read(1, window=Window(c0, r0, cols, rows)))
            t = ds.transform
            epsg = ds.crs.to_epsg() if ds.crs else 0
    gt = (t.c + c0 * t.a + r0 * t.b, t.a, t.b, t.f + c0 * t.d + r0 * t.e, t.d, t.e)
    return np.stack(bands, axis=-1).astype(np.uint16), gt, epsg or 0


def neighbour_reference(values: np.ndarray, kept: np.ndarray, bits: int) -> list[list[int]]:
    """The neighbour predictor of triage/WIRE_FORMAT.md, pixel by pixel in plain Python
    (independent of triage.contract.predictor's numpy version): per band, the mapped residual of
    every kept pixel in raster order."""
    xmax = (1 << bits) - 1
    nb, rows, cols = values.shape
    v = values.astype(np.int64).tolist()

    def z(b, r, c):
        return v[b][r][c] - (v[b - 1][r][c] if b else 0)

    def keeps(r, c):
        return 0 <= r < rows and 0 <= c < cols and bool(kept[r, c])

    out = []
    for b in range(nb):
        seed = 0
        band = []
        for r in range(rows):
            for c in range(cols):
                if not kept[r, c]:
                    continue
                w, n, nw = keeps(r, c - 1), keeps(r - 1, c), keeps(r - 1, c - 1)
                if w and n and nw:
                    a, bb, cc = z(b, r, c - 1), z(b, r - 1, c), z(b, r - 1, c - 1)
                    if cc >= max(a, bb):
                        zhat = min(a, bb)
                    elif cc <= min(a, bb):
                        zhat = max(a, bb)
                    else:
                        zhat = a + bb - cc
                elif w:
                    zhat = z(b, r, c - 1)
                elif n:
                    zhat = z(b, r - 1, c)
                else:
                    zhat, seed = seed, z(b, r, c)
                y = v[b - 1][r][c] if b else 0
                p = min(max(y + zhat, 0), xmax)
                x = v[b][r][c]
                theta = min(p, xmax - p)
                if abs(x - p) <= theta:
                    band.append(2 * (x - p) if x >= p else 2 * (p - x) - 1)
                else:
                    band.append(theta + abs(x - p))
        out.append(band)
    return out


def libaec_band(product: bytes, header: dict, band: int, n: int) -> np.ndarray:
    """Band ``band`` of a product's streams decoded by libaec alone (``imagecodecs``), ``n``
    samples: under the neighbour predictor these are its mapped residuals, nothing undone."""
    import imagecodecs

    from triage.contract.enums import aec_decode_flags
    from triage.contract.records import KEPT_RECT, PRODUCT_HEADER

    pos = PRODUCT_HEADER.size + header["kept_rects"] * KEPT_RECT.size
    pos += sum(header["band_bytes"][:band])
    stream = product[pos : pos + header["band_bytes"][band]]
    bits, block = header["sample_bits"], header["aec_block_size"]
    itemsize = 1 if bits <= 8 else 2
    raw = imagecodecs.aec_decode(
        bytes(stream),
        bitspersample=bits,
        blocksize=block,
        rsi=header["aec_rsi"],
        flags=aec_decode_flags(header["aec_flags"]),
        out=-(-n // block) * block * itemsize,
    )
    return np.frombuffer(raw, dtype=np.uint8 if itemsize == 1 else np.uint16)[:n]
