"""Builders of image-set manifests: the real scenes, and synthetic scenes anywhere.

Frames are a camera property: a frame is at most ``max_frame_px`` on a side
(1024 x 1024 px x 4 bands x 16 bit = 8 MB, half of the board's 16 MB PSRAM), so a
larger scene is cut into a grid of near-equal frames that overlap by
``overlap_px`` (one tile), the way a push-frame camera's successive frames do.
Each frame records its pixel window in the scene, so labels and georeferencing
follow it.

Capture times come from the orbit: a sun-synchronous TLE (written into the
manifest) is propagated and every scene is imaged at its first daylight
opportunity within the satellite's agility (off-nadir limit); frames of one scene
follow each other along the track at the ground speed of the sub-satellite point
(north first: the descending pass of a 10:30 orbit moves south). The pixels
themselves are the real nadir acquisitions; the simulated time and geometry are
the mission's, not the original acquisition dates'.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from triage.contract.paths import COPERNICUS_ATTRIBUTION
from triage.contract.sen2ships import DN_SCALE as SEN2SHIPS_DN_SCALE
from triage.contract.tile_spec import tile_spec
from triage.sim.errors import BandsMissingError, ManifestError, OutputError
from triage.sim.frames import check_frame
from triage.sim.manifest import (
    DATA_PREFIX,
    BandSource,
    Frame,
    Labels,
    Link,
    LinkBudget,
    Manifest,
    Orbit,
    PacketLoss,
    PixelWindow,
    Station,
    dump_manifest,
)
from triage.sim.orbit import access_times, sun_synchronous_tle
from triage.sim.synthetic import SceneSpec, generate_scene, write_scene

SEN2SHIPS_CREDIT = (
    "sen2ships (ShipDetectionExperts/sen2ships, MIT licence): Sentinel-2 L2A port scenes "
    "and vessel labels"
)
LANDSAT_SCENE = "scenes/landsat7_RGB.byte.tif"
DEFAULT_EPOCH = datetime(2024, 6, 1, tzinfo=UTC)
CAPTURE_SPAN = timedelta(days=5)
SIM_SPAN = timedelta(days=7)

STATIONS: dict[str, Station] = {
    # KSAT SvalSat: sees every orbit of a polar satellite.
    "svalbard": Station(
        name="svalbard",
        latitude_deg=78.2298,
        longitude_deg=15.4078,
        altitude_m=500.0,
        min_elevation_deg=5.0,
    ),
    # a university-class mid-latitude station (TU Delft's roof)
    "delft": Station(
        name="delft",
        latitude_deg=51.9990,
        longitude_deg=4.3733,
        altitude_m=30.0,
        min_elevation_deg=10.0,
    ),
}

LINKS: dict[str, Link] = {
    "uhf": Link(name="UHF 9.6 kbit/s", rate_bps=9_600),
    "sband": Link(name="S-band 1 Mbit/s", rate_bps=1_000_000),
}

# Link budgets for the physical channel (packet_loss.model "link_budget"), per link:
# UHF: 1 W into a 0 dBi antenna, a UHF Yagi station with urban noise (G/T -25 dB/K),
# 8 dB of polarisation (3), pointing (2), atmosphere (1) and implementation (2) losses:
# about 14 dB of Eb/N0 at the zenith of a 525 km orbit, 4 dB at 5 degrees, where
# Reed-Solomon alone no longer holds. S-band: 2 W into a patch (3 dBW), a 3.7 m dish
# (G/T 10 dB/K), 5 dB of losses: about 11 dB at 5 degrees.
LINK_BUDGETS: dict[str, LinkBudget] = {
    "uhf": LinkBudget(frequency_hz=437e6, eirp_dbw=0.0, g_over_t_db_k=-25.0, losses_db=8.0),
    "sband": LinkBudget(frequency_hz=2.2e9, eirp_dbw=3.0, g_over_t_db_k=10.0, losses_db=5.0),
}
PHYSICAL_LOSS = PacketLoss(model="link_budget", seed=20240601)


def link_for(link: str, loss: PacketLoss) -> Link:
    """The manifest's link: with its budget when ``loss`` is the physical channel."""
    if loss.model != "link_budget":
        return LINKS[link]
    return LINKS[link].model_copy(update={"budget": LINK_BUDGETS[link]})


# Bursty losses of a low-elevation radio link: about 2 % of packets lost on
# average (stationary bad-state share 0.01 / 0.26 = 3.8 %, half lost there).
DEFAULT_LOSS = PacketLoss(
    model="gilbert_elliott",
    p_good_to_bad=0.01,
    p_bad_to_good=0.25,
    loss_in_good=0.001,
    loss_in_bad=0.5,
    seed=20240601,
)


@dataclass(frozen=True)
class FrameWindow:
    row0: int
    col0: int
    rows: int
    cols: int


def _splits(size: int, max_px: int, overlap: int) -> list[tuple[int, int]]:
    """(start, length) of near-equal pieces of at most ``max_px`` overlapping by ``overlap``."""
    if size <= max_px:
        return [(0, size)]
    n = math.ceil((size - overlap) / (max_px - overlap))
    length = math.ceil((size + (n - 1) * overlap) / n)
    starts = [round(i * (size - length) / (n - 1)) for i in range(n)]
    return [(s, length) for s in starts]


def plan_frames(
    scene_rows: int, scene_cols: int, max_frame_px: int = 1024, overlap_px: int = 32
) -> list[FrameWindow]:
    """Frame windows covering a scene, row by row (the order the camera takes them)."""
    if max_frame_px <= overlap_px:
        raise ManifestError(f"max_frame_px {max_frame_px} must exceed overlap_px {overlap_px}")
    return [
        FrameWindow(r, c, nr, nc)
        for r, nr in _splits(scene_rows, max_frame_px, overlap_px)
        for c, nc in _splits(scene_cols, max_frame_px, overlap_px)
    ]


def _scene_centre_lonlat(path: Path) -> tuple[float, float, int, int, float]:
    """(lon, lat, rows, cols, pixel size in metres along y) of a GeoTIFF's centre."""
    import rasterio
    from rasterio.crs import CRS
    from rasterio.warp import transform as warp_transform

    with rasterio.open(path) as ds:
        x, y = ds.xy(ds.height // 2, ds.width // 2)
        lon, lat = warp_transform(ds.crs, CRS.from_epsg(4326), [x], [y])
        pix = abs(ds.transform.e)
        if ds.crs.to_epsg() == 3857:  # Web Mercator: ground size shrinks with cos(lat)
            pix *= math.cos(math.radians(lat[0]))
        return float(lon[0]), float(lat[0]), ds.height, ds.width, pix


def _scene_frames(
    *,
    scene: str,
    bands: dict[str, BandSource],
    rows: int,
    cols: int,
    lon: float,
    lat: float,
    pixel_m: float,
    tle,
    start: datetime,
    labels: Labels | None,
    attribution: str | None,
    gain_source: str | None,
    nodata: int,
    max_frame_px: int,
    dn_scale: tuple[int, int] | None = None,
    overlap_px: int,
    capture_span: timedelta,
) -> list[Frame]:
    accesses = access_times(tle, lat, lon, start, start + capture_span)
    if not accesses:
        raise ManifestError(
            f"scene {scene} ({lat:.3f}, {lon:.3f}): no daylight imaging opportunity within "
            f"{capture_span} of {start.isoformat()}"
        )
    acc = accesses[0]
    frames = []
    for w in plan_frames(rows, cols, max_frame_px, overlap_px):
        # along-track offset of the frame's centre from the scene's centre (north first)
        d_rows = (w.row0 + w.rows / 2.0) - rows / 2.0
        sign = 1.0 if acc.descending else -1.0
        t = acc.time_utc + timedelta(seconds=sign * d_rows * pixel_m / acc.ground_speed_m_s)
        frames.append(
            Frame(
                frame_id=0,  # numbered in capture order by the caller
                scene=scene,
                bands=bands,
                window=PixelWindow(row0=w.row0, col0=w.col0, rows=w.rows, cols=w.cols),
                capture_time_utc=t.replace(microsecond=(t.microsecond // 1000) * 1000),
                gain_source=gain_source,
                nodata=nodata,
                dn_scale=dn_scale,
                labels=labels,
                attribution=attribution,
            )
        )
    return frames


def _number(frames: list[Frame], first_id: int = 1) -> list[Frame]:
    ordered = sorted(frames, key=lambda f: (f.capture_time_utc, f.scene, f.window.row0))
    return [f.model_copy(update={"frame_id": first_id + i}) for i, f in enumerate(ordered)]


def sentinel2_band_sources(prefix: str) -> dict[str, BandSource]:
    """Model band name -> ``<prefix>/<B0x>.tif``, from tile_spec.json's band table."""
    return {b.name: BandSource(path=f"{prefix}/{b.sentinel2}.tif") for b in tile_spec().bands}


def landsat_band_sources() -> dict[str, BandSource]:
    """The Landsat-7 scene's bands that map onto the model's (red 1, green 2, blue 3; no NIR)."""
    path = DATA_PREFIX + LANDSAT_SCENE
    return {
        "blue": BandSource(path=path, band_index=3),
        "green": BandSource(path=path, band_index=2),
        "red": BandSource(path=path, band_index=1),
    }


def build_real_manifest(
    data_dir: Path,
    *,
    link: str = "uhf",
    epoch: datetime = DEFAULT_EPOCH,
    stations: tuple[str, ...] = ("svalbard", "delft"),
    include_landsat: bool = False,
    ports: tuple[str, ...] | None = None,
    max_frame_px: int = 1024,
    overlap_px: int = 32,
    loss: PacketLoss = DEFAULT_LOSS,
) -> tuple[Manifest, list[str]]:
    """The image set of the real scenes in ``data_dir``; returns (manifest, notes).

    The nine Sentinel-2 ports give the frames. The Landsat-7 scene has three
    8-bit bands (red, green, blue) and no near-infrared, which the on-board model
    needs: it is left out with a note, or, with ``include_landsat``, mapped as far
    as its bands go so that the simulator refuses it with a "bands missing" error.
    """
    if link not in LINKS:
        raise ManifestError(f"unknown link {link!r} (known: {', '.join(LINKS)})")
    root = Path(data_dir) / "sen2ships"
    if not root.is_dir():
        raise ManifestError(f"no sen2ships/ folder in {data_dir}")
    available = sorted(p.name for p in root.iterdir() if (p / "B02.tif").exists())
    chosen = list(ports) if ports else available
    unknown = sorted(set(chosen) - set(available))
    if unknown:
        raise ManifestError(f"ports not found in {root}: {', '.join(unknown)}")
    tle = sun_synchronous_tle(epoch)
    frames: list[Frame] = []
    for port in chosen:
        lon, lat, rows, cols, pix = _scene_centre_lonlat(root / port / "B02.tif")
        frames += _scene_frames(
            scene=port,
            bands=sentinel2_band_sources(f"{DATA_PREFIX}sen2ships/{port}"),
            rows=rows,
            cols=cols,
            lon=lon,
            lat=lat,
            pixel_m=pix,
            tle=tle,
            start=epoch,
            labels=Labels(path=f"{DATA_PREFIX}sen2ships/{port}/ships.coco.json"),
            attribution=COPERNICUS_ATTRIBUTION,
            gain_source="sen2ships",
            nodata=0,
            dn_scale=SEN2SHIPS_DN_SCALE,
            max_frame_px=max_frame_px,
            overlap_px=overlap_px,
            capture_span=CAPTURE_SPAN,
        )
    notes: list[str] = []
    landsat = Path(data_dir) / LANDSAT_SCENE
    if landsat.exists():
        lon, lat, rows, cols, pix = _scene_centre_lonlat(landsat)
        lframes = _scene_frames(
            scene="landsat7",
            bands=landsat_band_sources(),
            rows=rows,
            cols=cols,
            lon=lon,
            lat=lat,
            pixel_m=pix,
            tle=tle,
            start=epoch,
            labels=None,
            attribution="Landsat-7 ETM+ subset (rasterio test data, CC0 1.0)",
            gain_source=None,
            nodata=0,
            max_frame_px=max_frame_px,
            overlap_px=overlap_px,
            capture_span=CAPTURE_SPAN,
        )
        lframes = [
            f.model_copy(update={"frame_id": len(frames) + 1 + i}) for i, f in enumerate(lframes)
        ]
        try:
            check_frame(lframes[0], Path(data_dir), None)
        except BandsMissingError as exc:
            if include_landsat:
                notes.append(f"{LANDSAT_SCENE} included; the simulator will refuse it: {exc}")
                frames += lframes
            else:
                notes.append(f"{LANDSAT_SCENE} left out: {exc}")
        else:
            frames += lframes
    frames = _number(frames)
    manifest = Manifest(
        name=f"sen2ships: {len(chosen)} Sentinel-2 port scenes, {len(frames)} frames",
        description=(
            "Nine Sentinel-2 L2A port scenes (sen2ships) cut into camera frames of at most "
            f"{max_frame_px} px, imaged from a 525 km sun-synchronous orbit (10:30 LTDN) at "
            "the first daylight opportunity within 45 degrees off nadir; contact windows over "
            f"{', '.join(stations)}."
        ),
        attribution=[COPERNICUS_ATTRIBUTION, SEN2SHIPS_CREDIT],
        frames=frames,
        orbit=Orbit(tle=tle),
        stations=[STATIONS[s] for s in stations],
        link=link_for(link, loss),
        packet_loss=loss,
        window_start_utc=epoch,
        window_end_utc=epoch + SIM_SPAN,
    )
    return manifest, notes


# A few busy stretches of sea for synthetic scenes (lat, lon).
SYNTHETIC_SITES: tuple[tuple[str, float, float], ...] = (
    ("dover-strait", 50.95, 1.45),
    ("gibraltar", 35.95, -5.55),
    ("malacca", 2.45, 101.35),
    ("north-sea", 53.8, 3.2),
    ("biscay", 45.6, -3.4),
    ("aegean", 37.6, 25.1),
)


def build_synthetic_set(
    out_dir: Path,
    *,
    n_scenes: int = 4,
    rows: int = 1024,
    cols: int = 1024,
    seed: int = 7,
    link: str = "uhf",
    ships_per_scene: int = 12,
    epoch: datetime = DEFAULT_EPOCH,
    stations: tuple[str, ...] = ("svalbard", "delft"),
    explicit_passes: list | None = None,
    sim_span: timedelta = SIM_SPAN,
    loss: PacketLoss = DEFAULT_LOSS,
    max_frame_px: int = 1024,
) -> Path:
    """Generate synthetic scenes into ``out_dir`` and write ``manifest.json`` there.

    Scene ``i`` uses seed ``seed * 1000 + i``; cloud cover and land fraction vary
    across scenes. With ``explicit_passes`` (a list of ``ExplicitPass``) the manifest
    lists its passes instead of relying on contact windows, and captures are
    spread one per hour from ``epoch``.
    """
    if link not in LINKS:
        raise ManifestError(f"unknown link {link!r} (known: {', '.join(LINKS)})")
    if seed < 0:
        raise ManifestError(f"seed {seed}: a seed is a non-negative integer")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"output {out_dir} exists and is not a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"output {out_dir}: {exc.strerror or exc}") from None
    tle = sun_synchronous_tle(epoch)
    frames: list[Frame] = []
    covers = (0.15, 0.45, 0.05, 0.3, 0.6, 0.2)
    lands = (0.2, 0.0, 0.35, 0.1, 0.25, 0.4)
    for i in range(n_scenes):
        name, lat, lon = SYNTHETIC_SITES[i % len(SYNTHETIC_SITES)]
        if i >= len(SYNTHETIC_SITES):
            name = f"{name}-{i}"
        spec = SceneSpec(
            rows=rows,
            cols=cols,
            seed=seed * 1000 + i,
            n_ships=ships_per_scene,
            cloud_cover=covers[i % len(covers)],
            land_fraction=lands[i % len(lands)],
        )
        scene = generate_scene(spec)
        folder = out_dir / name
        write_scene(scene, folder, lon, lat, name=name)
        bands = {
            band: BandSource(path=f"{name}/{fname}")
            for band, fname in (
                ("blue", "B02.tif"),
                ("green", "B03.tif"),
                ("red", "B04.tif"),
                ("nir", "B08.tif"),
            )
        }
        common = dict(
            scene=name,
            bands=bands,
            labels=Labels(path=f"{name}/ships.coco.json"),
            attribution="synthetic scene (exact ground truth)",
            gain_source=None,
            nodata=0,
        )
        if explicit_passes is None:
            frames += _scene_frames(
                rows=rows,
                cols=cols,
                lon=lon,
                lat=lat,
                pixel_m=spec.pixel_size_m,
                tle=tle,
                start=epoch,
                max_frame_px=max_frame_px,
                overlap_px=32,
                capture_span=CAPTURE_SPAN,
                **common,
            )
        else:
            for k, w in enumerate(plan_frames(rows, cols, max_frame_px, 32)):
                frames.append(
                    Frame(
                        frame_id=0,
                        window=PixelWindow(row0=w.row0, col0=w.col0, rows=w.rows, cols=w.cols),
                        capture_time_utc=epoch + timedelta(hours=i, seconds=2 * k),
                        **common,
                    )
                )
    frames = _number(frames)
    orbit = Orbit(passes=explicit_passes) if explicit_passes is not None else Orbit(tle=tle)
    manifest = Manifest(
        name=f"synthetic, {n_scenes} scenes of {rows} x {cols} px, seed {seed}",
        description="Synthetic sea, glint, clouds, land and ships with wakes; exact truth.",
        attribution=["synthetic imagery generated by triage.sim.synthetic"],
        frames=frames,
        orbit=orbit,
        stations=[STATIONS[s] for s in stations],
        link=link_for(link, loss),
        packet_loss=loss,
        window_start_utc=epoch,
        window_end_utc=epoch + sim_span,
    )
    path = out_dir / "manifest.json"
    dump_manifest(manifest, path)
    (out_dir / "README.txt").write_text(
        "Synthetic image set made by `triage imageset synthetic`; see triage/sim/synthetic.py.\n"
        + json.dumps({"seed": seed, "scenes": n_scenes, "rows": rows, "cols": cols})
        + "\n"
    )
    return path
