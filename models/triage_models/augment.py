"""Augmentations of training windows on the raw (canonical uint16) scale.

Everything here works on a window ``x`` ``[S, S, C]`` float32 in canonical units
(reflectance x 65535) with its masks, before the integer preprocessing, so the
network sees exactly what the firmware would compute from such a scene.

- :func:`water_colour`: changes the colour of the water (turbid, sediment-laden,
  or the water of another real scene) by an additive per-band offset on the water
  pixels (a soft mask: vessel pixels get half of it, like mixed pixels);
- :class:`VesselBank` / :func:`paste_vessels`: real vessels cut along their COCO
  outlines, as their signal over the local water (chip minus the median of the
  water around it), added onto water elsewhere (matched radiometry: the pasted
  vessel keeps its contrast over the new water);
- :func:`cloud_over`: a real cloud patch (pixels and mask, softened) laid over the
  window with a given opacity, as the training composites and the haze metric;
- :func:`shadow_under`: the shadow of such a patch: its alpha moved away from the Sun
  darkens the ground, per band (shadows keep more blue than NIR: skylight);
- :func:`separate_cloud` / :func:`cloud_swapped`: a cloud image's pixels split into
  the cloud and the ground under it, and that cloud laid over other ground (its own
  ground swapped for the window's, in proportion to its transparency): the cloud model
  of the simulator's cloud layers (:mod:`triage.sim.scenarios`) and of the training
  composites with ``composite_model="swap"``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from triage_models.harness import soften

CANON = 65535.0
# Sediment-laden water, reflectance per band (blue, green, red, NIR) at unit turbidity:
# a broad green-red peak, NIR a quarter of it (coastal turbid water spectra; a red
# reflectance of 0.08-0.13 is the turbid ports).
TURBID_SHAPE = np.array([0.55, 0.9, 1.0, 0.3], np.float32)


def blur(m: np.ndarray, r: int = 2) -> np.ndarray:
    """Box mean over a (2r+1)^2 window, edges replicated."""
    h, w = m.shape
    p = np.pad(m.astype(np.float32), r, mode="edge")
    c = np.cumsum(np.cumsum(np.pad(p, ((1, 0), (1, 0))), 0), 1)
    k = 2 * r + 1
    return (c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k])[:h, :w] / (k * k)


def water_colour(
    x: np.ndarray,
    water: np.ndarray,
    vessels: np.ndarray,
    target: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Move the window's water towards the per-band reflectance ``target`` (canonical
    units): ``x + m * (target - median water) * (1 + low-frequency texture)``, ``m`` the
    blurred water mask (vessel pixels count half)."""
    if water.mean() < 0.05:
        return x
    med = np.median(x[water], axis=0)
    delta = target.astype(np.float32) - med
    m = blur(water | vessels, 2) * (1 - 0.5 * blur(vessels.astype(np.float32), 1))
    s = x.shape[0]
    # a smooth texture: a random bilinear ramp, +-15 %
    yy, xx = np.mgrid[0:s, 0:s].astype(np.float32) / max(s - 1, 1)
    a, b = rng.uniform(-0.15, 0.15, 2)
    tex = 1 + a * (yy - 0.5) + b * (xx - 0.5)
    return x + (m * tex)[..., None] * delta[None, None, :]


def turbid_target(rng: np.random.Generator, clear: np.ndarray) -> np.ndarray:
    """A turbid water colour: red reflectance 0.03-0.14 along :data:`TURBID_SHAPE`, on top
    of the clear water ``clear`` (canonical)."""
    t = rng.uniform(0.03, 0.14)
    shape = TURBID_SHAPE * np.exp(rng.normal(0, 0.12, 4)).astype(np.float32)
    return clear + t * shape * CANON


@dataclass
class Vessel:
    signal: np.ndarray  # [h, w, C] float32: chip minus the local water, times the soft mask
    mask: np.ndarray  # [h, w] float32 soft outline
    cy: float  # box centre within the chip
    cx: float
    bh: float  # box size
    bw: float


class VesselBank:
    """Real vessels of the given port frames, cut along their outlines."""

    def __init__(self, ds, frames: list[int], margin: int = 3):
        import cv2

        self.items: list[Vessel] = []
        for f in frames:
            if not ds.is_port[f]:
                continue
            fr = ds.frames[f].astype(np.float32)
            water = ds.water_masks[f]
            h, w = fr.shape[:2]
            for b in np.flatnonzero(ds.boxes[:, 0] == f):
                _, bx, by, bw, bh = ds.boxes[b]
                x0, y0 = int(np.floor(bx)) - margin, int(np.floor(by)) - margin
                x1, y1 = int(np.ceil(bx + bw)) + margin, int(np.ceil(by + bh)) + margin
                if x0 < 0 or y0 < 0 or x1 > w or y1 > h:
                    continue
                poly = ds.polygon(b) - [x0, y0]
                m = np.zeros((y1 - y0, x1 - x0), np.uint8)
                cv2.fillPoly(m, [np.round(poly * 4).astype(np.int32)], 1, shift=2)
                # the water around: a ring 3-10 px out of the box
                ry0, ry1 = max(y0 - 7, 0), min(y1 + 7, h)
                rx0, rx1 = max(x0 - 7, 0), min(x1 + 7, w)
                ring = water[ry0:ry1, rx0:rx1].copy()
                ring[y0 - ry0 : y1 - ry0, x0 - rx0 : x1 - rx0] = False
                if ring.sum() < 20:
                    continue
                bg = np.median(fr[ry0:ry1, rx0:rx1][ring], axis=0)
                soft = np.clip(blur(m.astype(np.float32), 1) * 1.5, 0, 1)
                sig = (fr[y0:y1, x0:x1] - bg) * soft[..., None]
                self.items.append(
                    Vessel(sig, soft, by + bh / 2 - y0, bx + bw / 2 - x0, float(bh), float(bw))
                )

    def __len__(self) -> int:
        return len(self.items)


QUAY_REACH_PX = 2  # a moored vessel has land within this many pixels of its chip (box + 3 px)


def paste_vessels(
    x: np.ndarray,
    water: np.ndarray,
    boxes: list,
    bank: VesselBank,
    rng: np.random.Generator,
    n: int,
    inner: int,
    quay: float = 0.0,
    land: np.ndarray | None = None,
) -> list:
    """Add up to ``n`` vessels of ``bank`` onto open water of the window (at least 95 %
    water under the vessel's chip, away from other boxes), with their centre at least
    ``inner`` px from the window's border; returns the new boxes ``(x, y, w, h)``.

    With ``quay`` > 0 each vessel is, with that probability, moored instead: its hull
    (the outline's pixels) all on water and not touching solid land, and solid land within
    ``QUAY_REACH_PX`` of its chip (its box and the bank's 3-px margin): a vessel alongside a
    quay, a pier or a breakwater, where the real port scenes keep most of their vessels and
    the network its false alarms (structures at the water's edge). Solid land is where at
    least 6 of the 3 x 3 pixels around are ``land`` (the window's valid non-water pixels):
    a pier 2 px wide stays, specks of non-water in open sea (unlabelled boats among them)
    do not. No random draw is made for it when ``quay`` is 0."""
    s = x.shape[0]
    new = []
    taken = [(b[0], b[1], b[2], b[3]) for b in boxes]
    near_land = off_land = berths = None
    solid = blur(land.astype(np.float32), 1) > 5.5 / 9 if quay > 0 and land is not None else None
    if solid is not None and solid.any():
        near_land = blur(solid.astype(np.float32), QUAY_REACH_PX) > 0
        off_land = ~(blur(solid.astype(np.float32), 1) > 0)  # not on it, nor touching it
        # a moored vessel's centre: water within 10 px of land (a wide hull's centre lies
        # further out than the reach of its chip)
        reach = blur(solid.astype(np.float32), 10) > 0
        berths = np.flatnonzero(water & off_land & reach)
        if not len(berths):
            near_land = None
    for _ in range(n):
        v = bank.items[rng.integers(0, len(bank))]
        moored = near_land is not None and bool(rng.random() < quay)
        k, flip = int(rng.integers(0, 4)), bool(rng.random() < 0.5)
        sig, m = v.signal, v.mask
        cy, cx, bh, bw = v.cy, v.cx, v.bh, v.bw
        if flip:
            sig, m, cx = sig[:, ::-1], m[:, ::-1], sig.shape[1] - cx
        for _ in range(k):  # rot90 counterclockwise: (y, x) -> (W - x, y)
            w0 = sig.shape[1]
            sig, m = np.rot90(sig), np.rot90(m)
            cy, cx, bh, bw = w0 - cx, cy, bw, bh
        h, w = sig.shape[:2]
        if h + 2 > s or w + 2 > s:
            continue
        hull = m >= 0.5
        for _ in range(40 if moored else 20):
            if moored:
                b = int(berths[rng.integers(0, len(berths))])
                oy, ox = int(np.floor(b // s - cy + 0.5)), int(np.floor(b % s - cx + 0.5))
                if not (0 <= oy <= s - h and 0 <= ox <= s - w):
                    continue
            else:
                oy = int(rng.integers(0, s - h + 1))
                ox = int(rng.integers(0, s - w + 1))
            py, px = oy + cy, ox + cx
            if not (inner <= py < s - inner and inner <= px < s - inner):
                continue
            if moored:
                if not (water[oy : oy + h, ox : ox + w][hull].all()
                        and off_land[oy : oy + h, ox : ox + w][hull].all()
                        and near_land[oy : oy + h, ox : ox + w].any()):  # fmt: skip
                    continue
            elif water[oy : oy + h, ox : ox + w].mean() < 0.95:
                continue
            if any(
                ox < bx + bw2 + 4 and bx - 4 < ox + w and oy < by + bh2 + 4 and by - 4 < oy + h
                for bx, by, bw2, bh2 in taken
            ):
                continue
            gain = rng.uniform(0.8, 1.2)
            x[oy : oy + h, ox : ox + w] += sig * gain
            box = (px - bw / 2, py - bh / 2, bw, bh)
            new.append(box)
            taken.append(box)
            water[oy : oy + h, ox : ox + w] &= m < 0.5
            break
    return new


def cloud_over(
    x: np.ndarray, cloud_px: np.ndarray, cloud_mask: np.ndarray, opacity: float
) -> tuple[np.ndarray, np.ndarray]:
    """Lay a real cloud patch (pixels, mask) over ``x`` with ``opacity``: returns the
    composite and its alpha (the softened mask times the opacity)."""
    a = soften(cloud_mask) * opacity
    return x * (1 - a[..., None]) + cloud_px.astype(np.float32) * a[..., None], a


# Share of the ground's brightness a full shadow keeps per band (blue, green, red, NIR):
# lit by skylight only, which is bluer than sunlight. Drawn per window around these.
SHADOW_KEEP = np.array([0.40, 0.35, 0.30, 0.25], np.float32)


def shadow_under(
    x: np.ndarray, alpha: np.ndarray, rng: np.random.Generator, max_shift: int = 40
) -> np.ndarray:
    """``x`` darkened by the shadow of a cloud of ``alpha`` [S, S]: the alpha moved by a
    random offset (cloud height x tan(sun zenith), up to ``max_shift`` px, any azimuth),
    darkening each band towards a jittered :data:`SHADOW_KEEP`."""
    s = alpha.shape[0]
    dy, dx = rng.integers(-max_shift, max_shift + 1, 2)
    sh = np.zeros_like(alpha)
    ys, yd = (slice(0, s - dy), slice(dy, s)) if dy >= 0 else (slice(-dy, s), slice(0, s + dy))
    xs, xd = (slice(0, s - dx), slice(dx, s)) if dx >= 0 else (slice(-dx, s), slice(0, s + dx))
    sh[yd, xd] = alpha[ys, xs]
    strength = rng.uniform(0.5, 1.0)  # thin clouds cast weaker shadows
    keep = np.clip(SHADOW_KEEP * np.exp(rng.normal(0, 0.15, 4)), 0.1, 0.9).astype(np.float32)
    shade = 1.0 - (np.clip(sh * strength, 0, 1))[..., None] * (1.0 - keep)
    return x * shade


# The cloud model (one definition: the simulator's cloud layers and the training composites)
GROUND_SIGMA_PX = 24.0  # the ground under a cloud: its clear pixels around, this smooth
OPAQUE_FROM = 0.5  # a cloud pixel is opaque from half the way to the thick cloud's brightness


def gaussian(a: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur (edges reflected), in float64."""
    import cv2

    return cv2.GaussianBlur(a.astype(np.float64), (0, 0), sigma, borderType=cv2.BORDER_REFLECT)


def separate_cloud(d: np.ndarray, cloud: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A cloud image's pixels ``d`` ``[H, W, 4]`` (float64) with its cloud mask split into
    ``(ground, opacity)`` (float32): the ground under the cloud is its clear pixels around,
    smoothed (their median where none is near), and a pixel's opacity is how far its
    visible brightness goes from that ground to the image's thick cloud (99th percentile
    of its cloud pixels), opaque from half way (cloud brightness varies with shading, not
    only with thickness)."""
    clear = (~cloud).astype(np.float64)
    w = gaussian(clear, GROUND_SIGMA_PX)
    fallback = np.median(d[~cloud], axis=0) if (~cloud).any() else np.percentile(d, 5, axis=(0, 1))
    ground = np.empty_like(d)
    for b in range(d.shape[-1]):
        num = gaussian(d[..., b] * clear, GROUND_SIGMA_PX)
        ground[..., b] = np.where(w > 1e-3, num / np.maximum(w, 1e-3), fallback[b])
    vis = d[..., :3].mean(axis=-1)
    gvis = ground[..., :3].mean(axis=-1)
    thick = np.percentile(vis[cloud], 99) if cloud.any() else vis.max()
    span = np.maximum(OPAQUE_FROM * (thick - gvis), 1.0)
    opacity = np.clip((vis - gvis) / span, 0.0, 1.0)
    return ground.astype(np.float32), opacity.astype(np.float32)


def cloud_swapped(
    x: np.ndarray,
    d: np.ndarray,
    ground: np.ndarray,
    opacity: np.ndarray,
    mask: np.ndarray,
    scale: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """The cloud of a cloud image's pixels ``d`` (its ``ground`` and ``opacity`` from
    :func:`separate_cloud`) laid over ``x`` where ``mask`` (soft, 0..1) says cloud: the
    cloud's own light ``d - (1 - opacity) ground`` (scaled by ``scale``: a thinner or
    thicker cloud of the same shape) and the window's ground through what it leaves;
    returns the composite and its alpha (``mask x scale x opacity``, what it hides)."""
    o = np.clip(opacity * scale, 0.0, 1.0)[..., None]
    own = scale * (d.astype(np.float32) - (1.0 - opacity[..., None]) * ground)
    m = mask[..., None].astype(np.float32)
    cloud = own + (1.0 - o) * x
    return m * cloud + (1.0 - m) * x, (m * o)[..., 0]
