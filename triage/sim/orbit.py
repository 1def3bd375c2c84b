"""Orbit helpers for building image sets: a sun-synchronous TLE and target access times.

Contact windows with ground stations are the ground station's business
(``ground_station.passes``, reached through :mod:`triage.sim.ground`, whose TLE
parser this module uses too); this module only answers the camera's questions:
what TLE describes a realistic Earth-observation orbit, and when does the
satellite pass close enough over a target to image it (off-nadir angle within
the agility limit, target in daylight). Propagation is SGP4 (the ``sgp4``
package) through skyfield with its built-in timescale (no downloads); the Sun's
position is the low-precision almanac formula (about 0.01 degree), plenty for a
daylight test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from triage.sim.errors import OrbitError
from triage.sim.ground import TleError, parse_tle
from triage.sim.manifest import Tle

MU_EARTH_KM3_S2 = 398600.4418
R_EARTH_KM = 6378.137
J2 = 1.08262668e-3
SIDEREAL_YEAR_S = 365.2421897 * 86400.0


def _sun_ra_dec_deg(when: datetime) -> tuple[float, float]:
    jd = when.timestamp() / 86400.0 + 2440587.5
    n = jd - 2451545.0
    L = math.radians((280.460 + 0.9856474 * n) % 360.0)
    g = math.radians((357.528 + 0.9856003 * n) % 360.0)
    lam = L + math.radians(1.915) * math.sin(g) + math.radians(0.020) * math.sin(2 * g)
    eps = math.radians(23.439 - 0.0000004 * n)
    ra = math.atan2(math.cos(eps) * math.sin(lam), math.cos(lam))
    dec = math.asin(math.sin(eps) * math.sin(lam))
    return math.degrees(ra) % 360.0, math.degrees(dec)


def _gmst_deg(when: datetime) -> float:
    jd = when.timestamp() / 86400.0 + 2440587.5
    return (280.46061837 + 360.98564736629 * (jd - 2451545.0)) % 360.0


def sun_elevation_deg(when: datetime, lat_deg: float, lon_deg: float) -> float:
    """Elevation of the Sun's centre above the horizon at a place (degrees)."""
    ra, dec = _sun_ra_dec_deg(when)
    ha = math.radians((_gmst_deg(when) + lon_deg - ra) % 360.0)
    lat, d = math.radians(lat_deg), math.radians(dec)
    s = math.sin(lat) * math.sin(d) + math.cos(lat) * math.cos(d) * math.cos(ha)
    return math.degrees(math.asin(max(-1.0, min(1.0, s))))


def sun_azimuth_deg(when: datetime, lat_deg: float, lon_deg: float) -> float:
    """Azimuth of the Sun's centre at a place: degrees clockwise from true north."""
    ra, dec = _sun_ra_dec_deg(when)
    ha = math.radians((_gmst_deg(when) + lon_deg - ra) % 360.0)
    lat, d = math.radians(lat_deg), math.radians(dec)
    y = -math.sin(ha) * math.cos(d)
    x = math.sin(d) * math.cos(lat) - math.cos(d) * math.cos(ha) * math.sin(lat)
    return math.degrees(math.atan2(y, x)) % 360.0


def sun_synchronous_tle(
    epoch: datetime,
    altitude_km: float = 525.0,
    ltdn_hours: float = 10.5,
    satnum: int = 99901,
    name: str = "TRIAGE-SAT-1",
    bstar: float = 2.5e-4,
) -> Tle:
    """A TLE for a circular sun-synchronous orbit.

    Inclination from the J2 nodal precession that must equal the Sun's mean motion;
    the ascending node placed so that the descending node crosses the equator at
    ``ltdn_hours`` local solar time (10:30 is the classic morning EO orbit).
    """
    from sgp4 import exporter
    from sgp4.api import WGS72, Satrec

    epoch = epoch.astimezone(UTC)
    a = R_EARTH_KM + altitude_km
    n_rad_s = math.sqrt(MU_EARTH_KM3_S2 / a**3)
    raan_rate = 2 * math.pi / SIDEREAL_YEAR_S
    cos_i = -raan_rate / (1.5 * n_rad_s * J2 * (R_EARTH_KM / a) ** 2)
    incl = math.acos(cos_i)
    ra_sun, _ = _sun_ra_dec_deg(epoch)
    ltan = (ltdn_hours + 12.0) % 24.0
    raan = math.radians((ra_sun + (ltan - 12.0) * 15.0) % 360.0)
    epoch0 = datetime(1949, 12, 31, tzinfo=UTC)
    days = (epoch - epoch0).total_seconds() / 86400.0
    sat = Satrec()
    sat.sgp4init(
        WGS72,
        "i",
        satnum,
        days,
        bstar,
        0.0,
        0.0,
        0.0001,
        math.radians(90.0),
        incl,
        math.radians(270.0),
        n_rad_s * 60.0,
        raan,
    )
    line1, line2 = exporter.export_tle(sat)
    return Tle(name=name, line1=line1, line2=line2)


def satellite(tle: Tle):
    """A skyfield ``EarthSatellite`` for a TLE; :class:`OrbitError` when it does not parse.

    The TLE is checked by the ground station's parser (line lengths, checksums,
    catalogue numbers, elements SGP4 rejects), so both sides accept the same TLEs.
    """
    from skyfield.api import EarthSatellite, load

    try:
        checked = parse_tle(tle.text)
    except TleError as exc:
        raise OrbitError(f"orbit.tle ({tle.name}): {exc}") from None
    return EarthSatellite(checked.line1, checked.line2, tle.name, load.timescale(builtin=True))


def tle_epoch(tle: Tle) -> datetime:
    return satellite(tle).epoch.utc_datetime().astimezone(UTC)


@dataclass(frozen=True)
class Access:
    """One opportunity to image a target: closest approach within the agility limit."""

    time_utc: datetime
    off_nadir_deg: float
    sun_elevation_deg: float
    ground_speed_m_s: float
    descending: bool


WGS84_A_KM = 6378.137
WGS84_F = 1.0 / 298.257223563


def _ecef_target_km(lat_deg: float, lon_deg: float) -> np.ndarray:
    lat, lon = math.radians(lat_deg), math.radians(lon_deg)
    e2 = WGS84_F * (2.0 - WGS84_F)
    n = WGS84_A_KM / math.sqrt(1.0 - e2 * math.sin(lat) ** 2)
    return np.array(
        [
            n * math.cos(lat) * math.cos(lon),
            n * math.cos(lat) * math.sin(lon),
            n * (1.0 - e2) * math.sin(lat),
        ]
    )


class FastOrbit:
    """SGP4 (the ``sgp4`` package, vectorised) with TEME rotated to the Earth-fixed frame
    by the Greenwich mean sidereal time alone (no nutation or polar motion: well under a
    kilometre on the ground, a small fraction of a second along the track), for the
    camera's access searches, which skyfield's full reduction makes slow."""

    def __init__(self, tle: Tle):
        from sgp4.api import Satrec

        try:
            checked = parse_tle(tle.text)
        except TleError as exc:
            raise OrbitError(f"orbit.tle ({tle.name}): {exc}") from None
        self.sat = Satrec.twoline2rv(checked.line1, checked.line2)

    def ecef_km(self, times_utc: list[datetime]) -> np.ndarray:
        """Satellite positions [3, N] in the Earth-fixed frame (km)."""
        ts = np.array([t.timestamp() for t in times_utc])
        jd = np.floor(ts / 86400.0) + 2440587.5
        fr = ts / 86400.0 + 2440587.5 - jd
        err, r, _ = self.sat.sgp4_array(jd, fr)
        if np.any(err):
            raise OrbitError(f"SGP4 error {int(err[err != 0][0])} propagating the TLE")
        d = jd + fr - 2451545.0
        theta = np.radians((280.46061837 + 360.98564736629 * d) % 360.0)
        x, y, z = r[:, 0], r[:, 1], r[:, 2]
        c, s = np.cos(theta), np.sin(theta)
        return np.stack([c * x + s * y, -s * x + c * y, z])


def _geodetic(r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Geodetic latitude and longitude (radians) of Earth-fixed points [3, N] (WGS84)."""
    e2 = WGS84_F * (2.0 - WGS84_F)
    p = np.hypot(r[0], r[1])
    lat = np.arctan2(r[2], p * (1.0 - e2))
    for _ in range(5):
        n = WGS84_A_KM / np.sqrt(1.0 - e2 * np.sin(lat) ** 2)
        h = p / np.cos(lat) - n
        lat = np.arctan2(r[2], p * (1.0 - e2 * n / (n + h)))
    return lat, np.arctan2(r[1], r[0])


def _fast_geometry(orb: FastOrbit, times_utc: list[datetime], lat_deg: float, lon_deg: float):
    r_sat = orb.ecef_km(times_utc)
    target = _ecef_target_km(lat_deg, lon_deg)[:, None]
    los = target - r_sat
    nadir = -r_sat
    cosang = (los * nadir).sum(0) / (np.linalg.norm(los, axis=0) * np.linalg.norm(nadir, axis=0))
    off_nadir = np.degrees(np.arccos(np.clip(cosang, -1, 1)))
    up = target / np.linalg.norm(target)
    visible = (los * up).sum(0) < 0
    sub_lat = np.degrees(np.arctan2(r_sat[2], np.hypot(r_sat[0], r_sat[1])))
    return off_nadir, visible, sub_lat, r_sat


def _geometry(sat, times_utc: list[datetime], lat_deg: float, lon_deg: float):
    from skyfield.api import load, wgs84
    from skyfield.framelib import itrs

    ts = load.timescale(builtin=True)
    t = ts.from_datetimes(times_utc)
    pos = sat.at(t)
    r_sat = pos.frame_xyz(itrs).km  # [3, N]
    target = wgs84.latlon(lat_deg, lon_deg).itrs_xyz.km[:, None]
    los = target - r_sat
    nadir = -r_sat
    cosang = (los * nadir).sum(0) / (np.linalg.norm(los, axis=0) * np.linalg.norm(nadir, axis=0))
    off_nadir = np.degrees(np.arccos(np.clip(cosang, -1, 1)))
    # the target must also be on the near side of the Earth (above the horizon)
    up = target / np.linalg.norm(target)
    visible = (los * up).sum(0) < 0  # line of sight goes down towards the target
    sub = wgs84.subpoint_of(pos)
    return off_nadir, visible, sub.latitude.degrees


def _access_record(when, foff, flat, m: int, sun: float, la, lo) -> Access:
    """The access at sample ``m`` of a fine search (off-nadir ``foff``, sub-satellite
    latitudes ``flat``): its ground speed from the sub-satellite points ``(la, lo)``
    (radians) at ``when`` and one second later, the great-circle angle between them."""
    dsig = math.acos(
        max(
            -1.0,
            min(
                1.0,
                math.sin(la[0]) * math.sin(la[1])
                + math.cos(la[0]) * math.cos(la[1]) * math.cos(lo[1] - lo[0]),
            ),
        )
    )
    return Access(
        time_utc=when,
        off_nadir_deg=round(float(foff[m]), 3),
        sun_elevation_deg=round(sun, 2),
        ground_speed_m_s=round(dsig * R_EARTH_KM * 1000.0, 1),
        descending=bool(flat[min(m + 1, len(flat) - 1)] < flat[max(m - 1, 0)]),
    )


def access_times(
    tle: Tle,
    lat_deg: float,
    lon_deg: float,
    start: datetime,
    end: datetime,
    max_off_nadir_deg: float = 45.0,
    min_sun_elevation_deg: float = 15.0,
    step_s: float = 20.0,
) -> list[Access]:
    """Imaging opportunities of a target between ``start`` and ``end``, in time order:
    closest approaches within ``max_off_nadir_deg`` of nadir, to the second, with the
    target's Sun at least ``min_sun_elevation_deg`` high (:class:`FastOrbit`; a test
    holds it to :func:`access_times_skyfield`)."""
    orb = FastOrbit(tle)
    n = int((end - start).total_seconds() // step_s) + 1
    times = [start + timedelta(seconds=i * step_s) for i in range(n)]
    off, vis, _, _ = _fast_geometry(orb, times, lat_deg, lon_deg)
    ok = (off <= max_off_nadir_deg) & vis
    out: list[Access] = []
    i = 0
    while i < n:
        if not ok[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and ok[j + 1]:
            j += 1
        k = i + int(np.argmin(off[i : j + 1]))
        t0 = times[k] - timedelta(seconds=step_s)
        fine = [t0 + timedelta(seconds=s) for s in range(int(2 * step_s) + 1)]
        foff, _, flat, _ = _fast_geometry(orb, fine, lat_deg, lon_deg)
        m = int(np.argmin(foff))
        when = fine[m].replace(microsecond=0)
        sun = sun_elevation_deg(when, lat_deg, lon_deg)
        if sun >= min_sun_elevation_deg:
            # ground speed of the sub-satellite point, from 1 s differences
            la, lo = _geodetic(orb.ecef_km([when, when + timedelta(seconds=1)]))
            out.append(_access_record(when, foff, flat, m, sun, la, lo))
        i = j + 1
    return out


def access_times_skyfield(
    tle: Tle,
    lat_deg: float,
    lon_deg: float,
    start: datetime,
    end: datetime,
    max_off_nadir_deg: float = 45.0,
    min_sun_elevation_deg: float = 15.0,
    step_s: float = 20.0,
) -> list[Access]:
    """:func:`access_times` with skyfield's full reduction (nutation included): the
    reference the fast search is tested against."""
    sat = satellite(tle)
    n = int((end - start).total_seconds() // step_s) + 1
    times = [start + timedelta(seconds=i * step_s) for i in range(n)]
    off, vis, _ = _geometry(sat, times, lat_deg, lon_deg)
    ok = (off <= max_off_nadir_deg) & vis
    out: list[Access] = []
    i = 0
    while i < n:
        if not ok[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and ok[j + 1]:
            j += 1
        # refine the closest approach to 1 s around the coarse minimum
        k = i + int(np.argmin(off[i : j + 1]))
        t0 = times[k] - timedelta(seconds=step_s)
        fine = [t0 + timedelta(seconds=s) for s in range(int(2 * step_s) + 1)]
        foff, _, flat = _geometry(sat, fine, lat_deg, lon_deg)
        m = int(np.argmin(foff))
        when = fine[m].replace(microsecond=0)
        sun = sun_elevation_deg(when, lat_deg, lon_deg)
        if sun >= min_sun_elevation_deg:
            # ground speed of the sub-satellite point, from 1 s differences
            from skyfield.api import load, wgs84

            ts = load.timescale(builtin=True)
            p = wgs84.subpoint_of(sat.at(ts.from_datetimes([when, when + timedelta(seconds=1)])))
            la, lo = np.radians(p.latitude.degrees), np.radians(p.longitude.degrees)
            out.append(_access_record(when, foff, flat, m, sun, la, lo))
        i = j + 1
    return out
