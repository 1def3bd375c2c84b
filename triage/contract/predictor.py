"""The neighbour predictor (``aec_flags`` bit 1) and the dn scale: how sample values are
turned into what the CCSDS 121 coder codes, and back.

**Neighbour predictor.** CCSDS 121.0-B leaves the predictor to the application.
For band b the predictor works on ``z = v_b - v_(b-1)`` (``z = v_0`` for band 0)
and predicts each kept pixel's z from its kept west, north and north-west
neighbours (the median edge detector of JPEG-LS when all three are kept); the
sample's prediction is ``clamp(v_(b-1) + zhat)`` and the coded value is the
standard's mapping of the sample around it. The firmware computes the same in C
(``mcu_firmware/app``); a pixel-by-pixel reference of the specification lives
in the tests.

**Dn scale.** When a frame declares that every sample ``v`` is
``floor((d * dn_num + floor(dn_den / 2)) / dn_den)`` of an instrument number ``d``
(FRAME_META), products code ``d``; the ground restores ``v``.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import numpy as np

from triage.contract.enums import AEC_FLAG_NEIGHBOUR, COMPRESSION_CCSDS121
from triage.contract.errors import LayoutError

NEIGHBOUR_MED, NEIGHBOUR_WEST, NEIGHBOUR_NORTH, NEIGHBOUR_SEED = 0, 1, 2, 3


def neighbour_coded(header: Mapping[str, int]) -> bool:
    """Do a product header's band streams hold the neighbour predictor's mapped residuals
    (to undo with :func:`neighbour_restore` after libaec)?"""
    return header["compression"] == COMPRESSION_CCSDS121 and bool(
        header["aec_flags"] & AEC_FLAG_NEIGHBOUR
    )


def map_residual(x, p, xmax: int):
    """CCSDS 121.0-B's mapping of samples ``x`` predicted by ``p`` (both in 0..xmax) to
    0..xmax: with theta = min(p, xmax - p), |x - p| <= theta maps to 2(x - p) or
    2(p - x) - 1, a larger one to theta + |x - p|."""
    x = np.asarray(x, dtype=np.int64)
    p = np.asarray(p, dtype=np.int64)
    theta = np.minimum(p, xmax - p)
    d = x - p
    return np.where(np.abs(d) <= theta, np.where(d >= 0, 2 * d, -2 * d - 1), theta + np.abs(d))


def unmap_residual(m, p, xmax: int):
    """Inverse of :func:`map_residual`: every m in 0..xmax gives an x in 0..xmax."""
    m = np.asarray(m, dtype=np.int64)
    p = np.asarray(p, dtype=np.int64)
    theta = np.minimum(p, xmax - p)
    near = np.where(m & 1, p - (m + 1) // 2, p + m // 2)
    far = np.where(theta == p, m, xmax - m)
    return np.where(m <= 2 * theta, near, far)


def neighbour_cases(kept):
    """``[rows, cols]`` int8: how the neighbour predictor predicts each kept pixel from
    its kept neighbours W (r, c-1), N (r-1, c), NW (r-1, c-1):

    - NEIGHBOUR_MED: W, N and NW kept: the median edge detector
      ``med(a=W, b=N, c=NW) = min(a, b) if c >= max(a, b), max(a, b) if c <= min(a, b),
      else a + b - c``;
    - NEIGHBOUR_WEST: W kept (but not all three): W;
    - NEIGHBOUR_NORTH: N kept, W not: N;
    - NEIGHBOUR_SEED: neither: the previous seed pixel of the band (raster order), 0 for
      the band's first.

    Pixels not kept get -1."""
    k = np.asarray(kept, dtype=bool)
    kw, kn, knw = _neighbours(k)
    cases = np.full(k.shape, NEIGHBOUR_SEED, dtype=np.int8)
    cases[kn] = NEIGHBOUR_NORTH
    cases[kw] = NEIGHBOUR_WEST
    cases[kw & kn & knw] = NEIGHBOUR_MED
    cases[~k] = -1
    return cases


def _neighbours(a):
    """Each pixel's W, N and NW neighbour values (0 / False outside the array)."""
    w = np.zeros_like(a)
    w[:, 1:] = a[:, :-1]
    n = np.zeros_like(a)
    n[1:, :] = a[:-1, :]
    nw = np.zeros_like(a)
    nw[1:, 1:] = a[:-1, :-1]
    return w, n, nw


def _med(a, b, c):
    lo = np.minimum(a, b)
    hi = np.maximum(a, b)
    return np.where(c >= hi, lo, np.where(c <= lo, hi, a + b - c))


def neighbour_residuals(values, kept, bits: int):
    """The mapped residuals a sender codes under AEC_FLAG_NEIGHBOUR: one array per band of
    the kept pixels in row-major order.

    ``values`` is ``[bands, rows, cols]`` of coded samples (instrument numbers when the
    product has a dn scale), each in 0..2^bits - 1. For band b the predictor works on
    ``z = v_b - v_(b-1)`` (``z = v_0`` for band 0) and predicts ``zhat`` from the kept
    neighbours as :func:`neighbour_cases` says; the prediction of the sample is
    ``p = clamp(v_(b-1) + zhat, 0, xmax)`` (``clamp(zhat, ...)`` for band 0) and the
    coded value is ``map_residual(v_b, p, xmax)``."""
    v = np.asarray(values, dtype=np.int64)
    xmax = (1 << bits) - 1
    cases = neighbour_cases(kept)
    seeds = cases == NEIGHBOUR_SEED
    kept = cases >= 0
    out = []
    for b in range(v.shape[0]):
        y = v[b - 1] if b else np.zeros_like(v[0])
        z = np.where(kept, v[b] - y, 0)
        zw, zn, znw = _neighbours(z)
        zhat = np.select(
            [cases == NEIGHBOUR_MED, cases == NEIGHBOUR_WEST, cases == NEIGHBOUR_NORTH],
            [_med(zw, zn, znw), zw, zn],
            0,
        )
        zs = z[seeds]
        zhat[seeds] = np.concatenate([[0], zs[:-1]]) if zs.size else zs
        p = np.clip(y + zhat, 0, xmax)
        out.append(map_residual(v[b], p, xmax)[kept])
    return out


def neighbour_restore(mapped, kept, bits: int):
    """Inverse of :func:`neighbour_residuals`: ``mapped`` is one array per band (the kept
    pixels' coded values, row-major); returns ``[bands, rows, cols]`` int64, 0 where not
    kept. Works along anti-diagonals (a pixel's W, N and NW lie on the one before), all
    bands together, band b one diagonal behind band b - 1."""
    cases = neighbour_cases(kept)
    rows, cols = cases.shape
    nb = len(mapped)
    xmax = (1 << bits) - 1
    flat_cases = cases.ravel()
    kept_idx = np.flatnonzero(flat_cases >= 0)
    m = np.zeros((nb, rows * cols), dtype=np.int64)
    for b in range(nb):
        if len(mapped[b]) != kept_idx.size:
            raise LayoutError(f"band {b}: {len(mapped[b])} coded values, {kept_idx.size} kept")
        m[b, kept_idx] = mapped[b]
    n_px = rows * cols
    # band b's pixel i sits at b * n_px + i; the extra last slot stays 0 (band 0's "previous band")
    v = np.zeros(nb * n_px + 1, dtype=np.int64)
    z = np.zeros(nb * n_px + 1, dtype=np.int64)
    # seeds: a chain of their own, in raster order
    seed_idx = np.flatnonzero(flat_cases == NEIGHBOUR_SEED)
    for b in range(nb):
        prev = 0
        for i in seed_idx.tolist():
            y = int(v[(b - 1) * n_px + i]) if b else 0
            p = min(max(y + prev, 0), xmax)
            x = int(unmap_residual(m[b, i], p, xmax))
            v[b * n_px + i] = x
            prev = z[b * n_px + i] = x - y
    # the rest along anti-diagonals t = r + c, band b at step t + b; every index below is
    # worked out once, then each step is a few vectorised gathers
    rest = kept_idx[flat_cases[kept_idx] != NEIGHBOUR_SEED]
    band = np.repeat(np.arange(nb), rest.size)
    pix = np.tile(rest, nb)
    step = pix // cols + pix % cols + band
    order = np.argsort(step, kind="stable")
    band, pix, step = band[order], pix[order], step[order]
    at = band * n_px + pix
    case = flat_cases[pix]
    is_med = case == NEIGHBOUR_MED
    is_west = case == NEIGHBOUR_WEST
    at_w = np.maximum(at - 1, 0)  # used only where the neighbour is kept
    at_n = np.maximum(at - cols, 0)
    at_nw = np.maximum(at - cols - 1, 0)
    at_y = np.where(band > 0, at - n_px, nb * n_px)
    coded = m.ravel()[at]
    bounds = np.searchsorted(step, np.arange(int(step[-1]) + 2)) if step.size else [0]
    for a, e in itertools.pairwise(bounds):
        if a == e:
            continue
        zw, zn, znw = z[at_w[a:e]], z[at_n[a:e]], z[at_nw[a:e]]
        zhat = np.where(is_med[a:e], _med(zw, zn, znw), np.where(is_west[a:e], zw, zn))
        y = v[at_y[a:e]]
        x = unmap_residual(coded[a:e], np.clip(y + zhat, 0, xmax), xmax)
        v[at[a:e]] = x
        z[at[a:e]] = x - y
    return v[: nb * n_px].reshape(nb, rows, cols)


def check_dn_scale(num: int, den: int) -> None:
    """A ``dn_num`` / ``dn_den`` pair as FRAME_META and PRODUCT_HEADER allow it: both 0 (no
    lattice), or ``1 <= dn_den <= dn_num <= 65535``."""
    if (num, den) != (0, 0) and not 1 <= den <= num <= 0xFFFF:
        raise LayoutError(f"dn scale {num}/{den}: need both 0, or 1 <= dn_den <= dn_num <= 65535")


def dn_from_samples(samples, num: int, den: int):
    """Instrument numbers ``d = floor((v * den + floor(num / 2)) / num)`` of samples ``v``
    (any integer array), as the firmware computes them before coding."""
    v = np.asarray(samples, dtype=np.int64)
    return (v * den + num // 2) // num


def samples_from_dn(dn, num: int, den: int):
    """Samples ``v = floor((d * num + floor(den / 2)) / den)`` restored from instrument numbers
    (any integer array): the inverse the ground applies to a product coded with a dn scale."""
    d = np.asarray(dn, dtype=np.int64)
    return (d * num + den // 2) // den
