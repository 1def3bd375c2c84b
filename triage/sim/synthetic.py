"""Synthetic multispectral scenes with exact ground truth, written as real GeoTIFFs.

A scene is built from a recorded seed, band by band on the scale of the real
ports (reflectance x 65535, uint16; bands blue, green, red, near-infrared):

- **sea**: dark water (low in NIR) with two scales of wave texture;
- **sun glint**: a broad specular hot spot modulated by the wave facets (a few
  tens of percent, spatially correlated like the waves), nearly flat across
  bands, on water only;
- **land**: a fractal (1/f) height field cut at a sea level into a coastline, with
  vegetation, bare soil and built-up surfaces mixed by further fractal fields, and
  a bright beach fringe;
- **clouds**: fractal opacity with soft edges and a bright, nearly grey spectrum,
  plus their shadows displaced on the ground;
- **ships**: bright hulls (rotated, pointed at the bow), anti-aliased by 4x4
  supersampling, placed on open, cloud-free water away from each other; moving
  ships drag a turbulent foam wake and faint Kelvin arms;
- **sensor noise**: Gaussian, per band.

Ground truth is exact: every ship's box is the bounding box of the pixels its hull
covers (at least a quarter of a pixel), written as COCO (the format of the real
ports' labels) with the hull polygon; a per-pixel class map (class ids of
``models/tile_spec.json``) and a JSON record of every ship (centre, length,
heading, speed, wake) go alongside.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from triage.contract.tile_spec import tile_spec

# Surface spectra, reflectance per band (blue, green, red, nir). Water matches the
# real ports' open water (medians 0.026-0.040 blue, 0.004-0.013 NIR); land types
# are textbook curves.
WATER = np.array([0.030, 0.027, 0.012, 0.008])
VEGETATION = np.array([0.030, 0.060, 0.040, 0.320])
SOIL = np.array([0.090, 0.120, 0.160, 0.240])
URBAN = np.array([0.110, 0.115, 0.125, 0.150])
SAND = np.array([0.180, 0.220, 0.260, 0.300])
CLOUD = np.array([0.78, 0.76, 0.74, 0.70])
HULLS = (
    np.array([0.30, 0.31, 0.31, 0.30]),  # white superstructure
    np.array([0.16, 0.16, 0.17, 0.18]),  # grey hull
    np.array([0.12, 0.09, 0.08, 0.10]),  # red-brown deck
    np.array([0.20, 0.21, 0.19, 0.17]),  # container mix
)
FOAM = np.array([0.060, 0.058, 0.052, 0.025])  # foam is bright in the visible, less in NIR
SCALE = 65535.0
BAND_FILES = {"blue": "B02.tif", "green": "B03.tif", "red": "B04.tif", "nir": "B08.tif"}
SUPERSAMPLE = 4


@dataclass(frozen=True)
class SceneSpec:
    """What to generate; every random choice derives from ``seed``."""

    rows: int = 512
    cols: int = 512
    seed: int = 0
    n_ships: int = 8
    land_fraction: float = 0.25
    cloud_cover: float = 0.2
    glint_strength: float = 0.06
    glint_texture: float = 0.15  # relative amplitude of the wave-facet modulation of glint
    cloud_edge: float = 0.12  # width of the cloud fringe, in units of the noise field
    shadow_strength: float = 0.55
    cloud_beta: float = 3.5  # spectral slope of the cloud field (larger: bigger, smoother)
    pixel_size_m: float = 10.0
    noise_sigma: float = 0.0008
    ship_length_m: tuple[float, float] = (50.0, 300.0)
    moving_fraction: float = 0.6


@dataclass(frozen=True)
class ShipTruth:
    ship_id: int
    centre_row: float
    centre_col: float
    length_px: float
    width_px: float
    heading_deg: float  # clockwise from north (up)
    speed_kn: float
    bbox_xywh: tuple[int, int, int, int]  # COCO: x (col), y (row), width, height, pixels
    polygon_xy: tuple[float, ...]  # hull outline, x y x y ...
    wake: bool


@dataclass
class Scene:
    spec: SceneSpec
    bands: dict[str, np.ndarray]  # name -> uint16 [rows, cols]
    class_map: np.ndarray  # uint8 [rows, cols], tile_spec class ids
    ships: list[ShipTruth] = field(default_factory=list)
    cloud_fraction: float = 0.0
    land_fraction: float = 0.0


def fractal_noise(rng: np.random.Generator, shape: tuple[int, int], beta: float) -> np.ndarray:
    """Gaussian random field with power spectrum 1/f^beta, scaled to 0..1."""
    rows, cols = shape
    fy = np.fft.fftfreq(rows)[:, None]
    fx = np.fft.rfftfreq(cols)[None, :]
    f = np.sqrt(fx * fx + fy * fy)
    f[0, 0] = 1.0
    amp = f ** (-beta / 2.0)
    amp[0, 0] = 0.0
    spec = (rng.standard_normal(amp.shape) + 1j * rng.standard_normal(amp.shape)) * amp
    field_ = np.fft.irfft2(spec, s=shape)
    lo, hi = np.percentile(field_, [0.5, 99.5])
    return np.clip((field_ - lo) / max(hi - lo, 1e-12), 0.0, 1.0)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _hull_polygon(length: float, width: float) -> np.ndarray:
    """Hull outline in ship coordinates (u along the ship, bow at +u; v across)."""
    half_l, half_w = length / 2.0, width / 2.0
    bow = half_l - min(width, length * 0.25)
    return np.array(
        [
            (-half_l, -half_w),
            (bow, -half_w),
            (half_l, 0.0),
            (bow, half_w),
            (-half_l, half_w),
        ]
    )


def _inside_convex(poly: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Points (u, v) inside a convex polygon given counter-clockwise or clockwise."""
    n = len(poly)
    sign = None
    inside = np.ones(u.shape, dtype=bool)
    for i in range(n):
        u0, v0 = poly[i]
        u1, v1 = poly[(i + 1) % n]
        cross = (u1 - u0) * (v - v0) - (v1 - v0) * (u - u0)
        if sign is None:
            # orientation from the polygon's signed area
            area = sum(
                poly[k][0] * poly[(k + 1) % n][1] - poly[(k + 1) % n][0] * poly[k][1]
                for k in range(n)
            )
            sign = 1.0 if area > 0 else -1.0
        inside &= cross * sign >= 0
    return inside


def _render_ship(
    length: float, width: float, heading_deg: float, cr: float, cc: float, pad: int
) -> tuple[int, int, np.ndarray, np.ndarray]:
    """Hull coverage (0..1) on a pixel patch; returns (row0, col0, coverage, polygon_xy)."""
    half = math.ceil(length / 2.0 + width) + pad
    r0, c0 = math.floor(cr) - half, math.floor(cc) - half
    n = 2 * half + 1
    s = SUPERSAMPLE
    sub = (np.arange(n * s) + 0.5) / s
    rr = r0 + sub[:, None]
    cc_ = c0 + sub[None, :]
    h = math.radians(heading_deg)
    # heading clockwise from up: along-ship unit vector in (row, col) = (-cos h, sin h)
    du = (rr - cr) * -math.cos(h) + (cc_ - cc) * math.sin(h)
    dv = (rr - cr) * math.sin(h) + (cc_ - cc) * math.cos(h)
    poly = _hull_polygon(length, width)
    inside = _inside_convex(poly, du, dv).astype(np.float64)
    cover = inside.reshape(n, s, n, s).mean(axis=(1, 3))
    # polygon in image x (col) / y (row)
    xy = []
    for u, v in poly:
        row = cr + u * -math.cos(h) + v * math.sin(h)
        col = cc + u * math.sin(h) + v * math.cos(h)
        xy += [round(col, 3), round(row, 3)]
    return r0, c0, cover, np.array(xy)


def _wake(
    shape: tuple[int, int],
    cr: float,
    cc: float,
    length: float,
    heading_deg: float,
    speed_kn: float,
    rng: np.random.Generator,
) -> tuple[int, int, np.ndarray]:
    """Foam intensity (0..1) behind a moving ship on a patch: (row0, col0, intensity)."""
    wake_len = length * (2.0 + 0.4 * speed_kn)
    half = math.ceil(wake_len + length) + 2
    r0, c0 = int(cr) - half, int(cc) - half
    n = 2 * half + 1
    rr = r0 + np.arange(n)[:, None] + 0.5
    cc_ = c0 + np.arange(n)[None, :] + 0.5
    h = math.radians(heading_deg)
    du = (rr - cr) * -math.cos(h) + (cc_ - cc) * math.sin(h)
    dv = (rr - cr) * math.sin(h) + (cc_ - cc) * math.cos(h)
    behind = -(du + length / 2.0)  # distance aft of the stern
    spread = 0.6 + 0.12 * np.clip(behind, 0, None)
    turbulent = np.exp(-np.clip(behind, 0, None) / (0.5 * wake_len)) * np.exp(-((dv / spread) ** 2))
    turbulent[behind < 0] = 0.0
    # Kelvin arms at 19.47 degrees, faint
    arm = math.tan(math.radians(19.47))
    d_arm = np.abs(np.abs(dv) - arm * np.clip(-(du - length / 2.0), 0, None))
    kelvin = 0.25 * np.exp(-(d_arm**2) / 0.8) * np.exp(-np.clip(-du, 0, None) / wake_len)
    kelvin[du > length / 2.0] = 0.0
    texture = 0.7 + 0.3 * rng.random((n, n))
    return r0, c0, np.clip((turbulent + kelvin) * texture, 0.0, 1.0)


def _paste(dst: np.ndarray, r0: int, c0: int, patch: np.ndarray) -> tuple[slice, slice, np.ndarray]:
    """The part of ``patch`` at (r0, c0) that falls inside ``dst``: (rows, cols, patch part)."""
    rows, cols = dst.shape[:2]
    pr0, pc0 = max(0, -r0), max(0, -c0)
    r1, c1 = min(rows, r0 + patch.shape[0]), min(cols, c0 + patch.shape[1])
    rs, cs = slice(max(r0, 0), r1), slice(max(c0, 0), c1)
    return rs, cs, patch[pr0 : pr0 + (r1 - rs.start), pc0 : pc0 + (c1 - cs.start)]


def generate_scene(spec: SceneSpec) -> Scene:
    """Generate a scene and its exact truth from ``spec`` (deterministic in ``spec.seed``)."""
    classes = tile_spec().classes
    cid = {name: classes.index(name) for name in ("cloud", "sea", "ship", "land")}
    rng = np.random.default_rng(spec.seed)
    shape = (spec.rows, spec.cols)
    nb = 4

    # --- land and coast -------------------------------------------------------
    height = fractal_noise(rng, shape, beta=3.6)
    if spec.land_fraction > 0:
        # tilt the field so land gathers on one side (a coastline, not islands everywhere)
        angle = rng.uniform(0, 2 * math.pi)
        yy, xx = np.mgrid[0 : spec.rows, 0 : spec.cols]
        ramp = (np.cos(angle) * yy / spec.rows + np.sin(angle) * xx / spec.cols) * 0.8
        height = height + ramp
        sea_level = float(np.quantile(height, 1.0 - spec.land_fraction))
        land = height > sea_level
    else:
        sea_level = float(height.max()) + 1.0
        land = np.zeros(shape, dtype=bool)

    surface = np.empty((*shape, nb), dtype=np.float64)
    # --- sea with texture and glint -----------------------------------------------
    waves = fractal_noise(rng, shape, beta=1.2) - 0.5
    swell = fractal_noise(rng, shape, beta=2.6) - 0.5
    water = WATER[None, None, :] * (1.0 + 0.04 * waves[..., None] + 0.08 * swell[..., None])
    gy, gx = rng.uniform(-0.3, 1.3) * spec.rows, rng.uniform(-0.3, 1.3) * spec.cols
    sigma = 0.45 * max(shape)
    yy, xx = np.mgrid[0 : spec.rows, 0 : spec.cols]
    glint = spec.glint_strength * np.exp(-((yy - gy) ** 2 + (xx - gx) ** 2) / (2 * sigma**2))
    sparkle = np.clip(
        1.0 + spec.glint_texture * (rng.standard_normal(shape) + 1.2 * waves), 0.0, None
    )
    glint = glint * sparkle
    water += glint[..., None] * np.array([1.0, 1.0, 0.98, 0.93])[None, None, :]
    surface[:] = water

    # --- land types ---------------------------------------------------------------
    veg = fractal_noise(rng, shape, beta=2.4)
    urb = fractal_noise(rng, shape, beta=2.0)
    w_veg = _smoothstep((veg - 0.35) / 0.3)
    w_urb = _smoothstep((urb - 0.6) / 0.2) * (1 - w_veg)
    w_soil = np.clip(1.0 - w_veg - w_urb, 0.0, 1.0)
    land_spec = (
        w_veg[..., None] * VEGETATION + w_urb[..., None] * URBAN + w_soil[..., None] * SOIL
    ) * (0.85 + 0.3 * fractal_noise(rng, shape, beta=1.0)[..., None])
    beach = land & (height < sea_level + 0.015)
    land_spec[beach] = SAND
    surface[land] = land_spec[land]

    # --- ships and wakes (on open water, before clouds) ------------------------------
    clouds_field = fractal_noise(rng, shape, beta=spec.cloud_beta)
    if spec.cloud_cover > 0:
        thr = float(np.quantile(clouds_field, 1.0 - spec.cloud_cover))
        alpha = _smoothstep((clouds_field - thr) / spec.cloud_edge) * (
            0.8 + 0.2 * fractal_noise(rng, shape, beta=2.0)
        )
    else:
        alpha = np.zeros(shape)
    import cv2

    # distance to land, so hulls sit on water clear of the coast
    dist_land = cv2.distanceTransform((~land).astype(np.uint8), cv2.DIST_L2, 5)

    ships: list[ShipTruth] = []
    hull_cover = np.zeros(shape)
    hull_spec = np.zeros((*shape, nb))
    foam = np.zeros(shape)
    occupied = np.zeros(shape, dtype=bool)
    lo_m, hi_m = spec.ship_length_m
    attempts = 0
    while len(ships) < spec.n_ships and attempts < 200 * max(1, spec.n_ships):
        attempts += 1
        length = math.exp(rng.uniform(math.log(lo_m), math.log(hi_m))) / spec.pixel_size_m
        width = length * rng.uniform(0.14, 0.22)
        width = max(width, 1.2)
        heading = rng.uniform(0, 360)
        margin = length + 4
        if spec.rows <= 2 * margin or spec.cols <= 2 * margin:
            break
        cr = rng.uniform(margin, spec.rows - margin)
        cc = rng.uniform(margin, spec.cols - margin)
        ir, ic = int(cr), int(cc)
        if dist_land[ir, ic] < length + 3 or alpha[ir, ic] > 0.05:
            continue
        r0, c0, cover, poly = _render_ship(length, width, heading, cr, cc, pad=2)
        rs, cs, part = _paste(hull_cover, r0, c0, cover)
        footprint = part > 0
        # keep ships apart (their boxes plus 4 px) and entirely cloud-free
        if occupied[rs, cs][footprint].any() or alpha[rs, cs][footprint].max(initial=0) > 0.05:
            continue
        moving = rng.random() < spec.moving_fraction
        speed = float(rng.uniform(4.0, 18.0)) if moving else 0.0
        hull = HULLS[int(rng.integers(len(HULLS)))] * rng.uniform(0.85, 1.15)
        hull_cover[rs, cs] = np.maximum(hull_cover[rs, cs], part)
        hull_spec[rs, cs][footprint] = hull
        if moving:
            wr0, wc0, wake = _wake(shape, cr, cc, length, heading, speed, rng)
            wrs, wcs, wpart = _paste(foam, wr0, wc0, wake)
            foam[wrs, wcs] = np.maximum(foam[wrs, wcs], wpart * ~land[wrs, wcs])
        covered = np.argwhere(part >= 0.25)
        if len(covered) == 0:
            continue
        (pr0, pc0), (pr1, pc1) = covered.min(axis=0), covered.max(axis=0)
        y0, x0 = rs.start + int(pr0), cs.start + int(pc0)
        bbox = (x0, y0, int(pc1 - pc0) + 1, int(pr1 - pr0) + 1)
        pad = 4
        occupied[max(0, y0 - pad) : y0 + bbox[3] + pad, max(0, x0 - pad) : x0 + bbox[2] + pad] = (
            True
        )
        ships.append(
            ShipTruth(
                ship_id=len(ships) + 1,
                centre_row=round(cr, 3),
                centre_col=round(cc, 3),
                length_px=round(length, 3),
                width_px=round(width, 3),
                heading_deg=round(heading, 2),
                speed_kn=round(speed, 2),
                bbox_xywh=bbox,
                polygon_xy=tuple(float(v) for v in poly),
                wake=moving,
            )
        )

    surface = surface + foam[..., None] * FOAM[None, None, :]
    surface = surface * (1 - hull_cover[..., None]) + hull_spec * hull_cover[..., None]

    # --- cloud shadows, then clouds ------------------------------------------------
    if spec.cloud_cover > 0:
        dy, dx = int(rng.integers(-30, 31)), int(rng.integers(-30, 31))
        shadow = np.roll(np.roll(alpha, dy, axis=0), dx, axis=1)
        surface = surface * (1.0 - spec.shadow_strength * shadow[..., None])
        cloud = CLOUD[None, None, :] * (0.75 + 0.35 * clouds_field[..., None])
        surface = surface * (1 - alpha[..., None]) + cloud * alpha[..., None]

    surface = surface + rng.normal(0.0, spec.noise_sigma, surface.shape)
    dn = np.clip(np.rint(surface * SCALE), 0, 65535).astype(np.uint16)

    class_map = np.full(shape, cid["sea"], dtype=np.uint8)
    class_map[land] = cid["land"]
    class_map[hull_cover >= 0.5] = cid["ship"]
    class_map[alpha >= 0.5] = cid["cloud"]
    names = list(BAND_FILES)
    return Scene(
        spec=spec,
        bands={name: np.ascontiguousarray(dn[..., i]) for i, name in enumerate(names)},
        class_map=class_map,
        ships=ships,
        cloud_fraction=float((alpha >= 0.5).mean()),
        land_fraction=float(land.mean()),
    )


def utm_epsg(lon_deg: float, lat_deg: float) -> int:
    """EPSG code of the WGS 84 / UTM zone holding a point."""
    zone = int((lon_deg + 180.0) // 6.0) % 60 + 1
    return (32600 if lat_deg >= 0 else 32700) + zone


def write_scene(
    scene: Scene, folder: Path, lon_deg: float, lat_deg: float, name: str = "synthetic"
) -> dict[str, Path]:
    """Write a scene as one deflate GeoTIFF per band (UTM, north-up, centred on the point),
    ``truth_classes.tif``, ``ships.coco.json`` and ``truth.json``; returns the band paths."""
    import rasterio
    from rasterio.crs import CRS
    from rasterio.transform import from_origin
    from rasterio.warp import transform as warp_transform

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    spec = scene.spec
    epsg = utm_epsg(lon_deg, lat_deg)
    xs, ys = warp_transform(CRS.from_epsg(4326), CRS.from_epsg(epsg), [lon_deg], [lat_deg])
    px = spec.pixel_size_m
    x0 = round(xs[0] - spec.cols * px / 2.0)
    y0 = round(ys[0] + spec.rows * px / 2.0)
    transform = from_origin(x0, y0, px, px)
    profile = {
        "driver": "GTiff",
        "width": spec.cols,
        "height": spec.rows,
        "count": 1,
        "crs": CRS.from_epsg(epsg),
        "transform": transform,
        "compress": "deflate",
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
    }
    paths: dict[str, Path] = {}
    for band, fname in BAND_FILES.items():
        path = folder / fname
        with rasterio.open(path, "w", dtype="uint16", **profile) as ds:
            ds.write(scene.bands[band], 1)
            ds.set_band_description(1, band)
        paths[band] = path
    with rasterio.open(folder / "truth_classes.tif", "w", dtype="uint8", **profile) as ds:
        ds.write(scene.class_map, 1)
    coco = {
        "info": {"description": f"synthetic scene {name}, seed {spec.seed}, exact truth"},
        "images": [{"id": 1, "width": spec.cols, "height": spec.rows, "file_name": name}],
        "categories": [{"id": 1, "name": "vessel", "supercategory": ""}],
        "annotations": [
            {
                "id": s.ship_id,
                "image_id": 1,
                "category_id": 1,
                "bbox": list(s.bbox_xywh),
                "area": s.bbox_xywh[2] * s.bbox_xywh[3],
                "iscrowd": 0,
                "segmentation": [list(s.polygon_xy)],
            }
            for s in scene.ships
        ],
    }
    (folder / "ships.coco.json").write_text(json.dumps(coco, indent=1))
    truth = {
        "spec": asdict(spec),
        "epsg": epsg,
        "centre_lon_deg": lon_deg,
        "centre_lat_deg": lat_deg,
        "cloud_fraction": scene.cloud_fraction,
        "land_fraction": scene.land_fraction,
        "ships": [asdict(s) for s in scene.ships],
    }
    (folder / "truth.json").write_text(json.dumps(truth, indent=1))
    return paths
