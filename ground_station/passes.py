"""Contact windows and the byte budget of a pass.

The orbit comes from a two-line element set propagated with SGP4 (through
skyfield); a ground station sees the satellite while it is above the
station's elevation mask. Nothing is downloaded at run time: skyfield's
built-in time scale (leap seconds and Delta T tables shipped with the
package) is enough for SGP4 and topocentric elevation, and no planetary
ephemeris is needed.

Public API (used by the ``plan`` and ``passes`` commands and by the host simulator):

- :class:`Station` — a ground station with its elevation mask and, optionally, a
  horizon mask by azimuth (terrain, buildings, a radome's blind sector);
- :class:`ContactWindow` — one pass over one station (UTC-aware AOS/LOS, the time of
  closest approach, azimuths, and the part of it the satellite's one transmitter
  serves this station: :func:`share_downlink`);
- :func:`parse_tle` — a checked TLE (:class:`Tle`), or :class:`TleError`
  naming the line, the column and what is wrong; :func:`parse_tle_file` and
  :func:`select_tle` for files of many satellites (by name or NORAD number);
- :func:`tle_age_days` / :func:`check_tle_age` — how far the planning interval is
  from the TLE's epoch, and the warning or refusal that goes with it;
- :func:`contact_windows` — every window over the stations in an interval;
- :func:`share_downlink` — overlapping windows of several stations share the
  satellite's one downlink: each instant is served to one station;
- :func:`pass_track` — azimuth, elevation, range, range rate and Doppler shift at a
  stated carrier frequency along a window;
- :func:`pass_budget_bytes` — space-packet bytes a window can carry.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import cache

from pydantic import Field, ValidationError, field_validator
from pydantic.dataclasses import dataclass as pydantic_dataclass

from ground_station.errors import InputError, TleAgeError, TleError

# --------------------------------------------------------------------------
# Link-layer defaults for the budget (documented assumptions, all overridable)
# --------------------------------------------------------------------------

ACQUISITION_S = 10.0
"""Seconds after AOS before the link carries data (carrier, bit and frame lock)."""

CADU_BYTES = 1279
"""Bytes on the air per channel access data unit: a 4-byte attached sync
marker + a 1115-byte AOS transfer frame + 160 bytes of Reed-Solomon (255,223)
check symbols (interleave 5), the usual CCSDS 131.0-B / 732.0-B X-band set-up."""

CADU_DATA_BYTES = 1107
"""Space-packet bytes per CADU: the 1115-byte transfer frame less its 6-byte
primary header and the 2-byte M_PDU header (no OCF, no FECF: RS protects it)."""


@pydantic_dataclass(frozen=True)
class Station:
    """A ground station: WGS84 position, elevation mask and optional horizon mask.

    ``horizon_mask``: ``(azimuth_deg, elevation_deg)`` points, azimuth clockwise from
    true north; the horizon between two points is linear in azimuth (and wraps
    around north). The station sees the satellite when its elevation is at least
    ``min_elevation_deg`` and at least the horizon at the satellite's azimuth.
    """

    name: str = Field(min_length=1)
    lat_deg: float = Field(ge=-90.0, le=90.0)
    lon_deg: float = Field(ge=-180.0, le=180.0)
    alt_m: float = Field(ge=-500.0, le=9000.0)
    min_elevation_deg: float = Field(default=10.0, ge=0.0, lt=90.0)
    horizon_mask: tuple[tuple[float, float], ...] | None = None

    @field_validator("horizon_mask")
    @classmethod
    def _check_horizon(cls, mask):
        if mask is None:
            return None
        if not mask:
            raise ValueError("give at least one (azimuth, elevation) point")
        for az, el in mask:
            if not (0.0 <= az < 360.0 and 0.0 <= el < 90.0):
                raise ValueError(f"point ({az}, {el}): azimuth in [0, 360), elevation in [0, 90)")
        azs = [az for az, _ in mask]
        if len(set(azs)) != len(azs):
            raise ValueError("one elevation per azimuth")
        return tuple(sorted(mask))

    def mask_at(self, azimuth_deg):
        """The elevation (degrees) the satellite must reach at ``azimuth_deg`` (array-like)."""
        import numpy as np

        az = np.mod(np.asarray(azimuth_deg, dtype=np.float64), 360.0)
        if not self.horizon_mask:
            return np.full_like(az, self.min_elevation_deg)
        pts = self.horizon_mask
        xs = np.array([a for a, _ in pts])
        ys = np.array([e for _, e in pts])
        # wrap: the first point again at +360, the last at -360
        xs = np.concatenate([[xs[-1] - 360.0], xs, [xs[0] + 360.0]])
        ys = np.concatenate([[ys[-1]], ys, [ys[0]]])
        return np.maximum(np.interp(az, xs, ys), self.min_elevation_deg)

    @property
    def lowest_mask_deg(self) -> float:
        """The lowest elevation at which the station can see the satellite (any azimuth)."""
        if not self.horizon_mask:
            return self.min_elevation_deg
        return max(self.min_elevation_deg, min(e for _, e in self.horizon_mask))

    @classmethod
    def parse(
        cls,
        text: str,
        *,
        name: str = "",
        min_elevation_deg: float = 10.0,
        horizon_mask: Sequence[tuple[float, float]] | None = None,
    ) -> Station:
        """A station from ``"LAT,LON,ALT_M"`` (degrees, degrees, metres), or
        ``"LAT,LON,ALT_M,MASK_DEG"`` with its own elevation mask.

        ``name`` defaults to the text itself; ``min_elevation_deg`` is the mask when
        the text gives none.
        """
        parts = [p.strip() for p in text.split(",")]
        if len(parts) not in (3, 4):
            raise InputError(
                f"station {text!r}: expected LAT,LON,ALT_M or LAT,LON,ALT_M,MASK_DEG "
                "(3 or 4 numbers)"
            )
        try:
            values = [float(p) for p in parts]
        except ValueError:
            raise InputError(f"station {text!r}: LAT,LON,ALT_M must be numbers") from None
        lat, lon, alt = values[:3]
        mask = values[3] if len(values) == 4 else min_elevation_deg
        try:
            return cls(
                name=name or text,
                lat_deg=lat,
                lon_deg=lon,
                alt_m=alt,
                min_elevation_deg=mask,
                horizon_mask=tuple(horizon_mask) if horizon_mask else None,
            )
        except ValidationError as exc:
            err = exc.errors()[0]
            where = err["loc"][0] if err["loc"] else "station"
            raise InputError(f"station {text!r}: {where} {err['msg']}") from None


def parse_horizon(text: str) -> tuple[tuple[float, float], ...]:
    """A horizon mask from ``"AZ:EL,AZ:EL,..."`` (degrees)."""
    points = []
    for part in text.split(","):
        az, sep, el = part.strip().partition(":")
        try:
            if not sep:
                raise ValueError
            points.append((float(az), float(el)))
        except ValueError:
            raise InputError(
                f"horizon {text!r}: expected AZ:EL pairs separated by commas (degrees), "
                f"found {part.strip()!r}"
            ) from None
    return tuple(points)


@dataclass(frozen=True)
class ContactWindow:
    """One pass of the satellite over one station: AOS to LOS, UTC-aware.

    ``tca``: the time of closest approach (the highest elevation) and
    ``*_azimuth_deg`` the azimuths at AOS, TCA and LOS (None when not computed: a
    window made by hand). ``downlink_start``/``downlink_end``: the part of the window
    in which the satellite's transmitter serves this station (:func:`share_downlink`;
    None: all of it).
    """

    station: str
    aos: datetime
    los: datetime
    max_elevation_deg: float
    tca: datetime | None = None
    aos_azimuth_deg: float | None = None
    tca_azimuth_deg: float | None = None
    los_azimuth_deg: float | None = None
    downlink_start: datetime | None = None
    downlink_end: datetime | None = None

    @property
    def duration_s(self) -> float:
        return (self.los - self.aos).total_seconds()

    @property
    def downlink_s(self) -> float:
        """Seconds of the window the downlink serves this station."""
        start = self.downlink_start or self.aos
        end = self.downlink_end or self.los
        return max(0.0, (end - start).total_seconds())

    @property
    def shared(self) -> bool:
        """Did another station's contact take part of this window's downlink?"""
        return self.downlink_s < self.duration_s

    def to_json(self) -> dict:
        def iso(t):
            return t.isoformat() if t is not None else None

        def deg(v):
            return round(v, 3) if v is not None else None

        return {
            "station": self.station,
            "aos": self.aos.isoformat(),
            "tca": iso(self.tca),
            "los": self.los.isoformat(),
            "duration_s": round(self.duration_s, 3),
            "max_elevation_deg": round(self.max_elevation_deg, 3),
            "aos_azimuth_deg": deg(self.aos_azimuth_deg),
            "tca_azimuth_deg": deg(self.tca_azimuth_deg),
            "los_azimuth_deg": deg(self.los_azimuth_deg),
            "downlink_start": iso(self.downlink_start or self.aos),
            "downlink_end": iso(self.downlink_end or self.los),
            "downlink_s": round(self.downlink_s, 3),
        }


@dataclass(frozen=True)
class Tle:
    """A checked two-line element set."""

    name: str
    line1: str
    line2: str
    satnum: int
    epoch: datetime


def _checksum(line: str) -> int:
    total = 0
    for ch in line[:68]:
        if ch.isdigit():
            total += int(ch)
        elif ch == "-":
            total += 1
    return total % 10


def _check_line(line: str, number: int) -> None:
    if len(line) != 69:
        raise TleError(f"TLE line {number}: {len(line)} characters, expected 69")
    if line[0] != str(number) or line[1] != " ":
        raise TleError(f"TLE line {number}: must start with '{number} ', found {line[:2]!r}")
    if not line[68].isdigit():
        raise TleError(f"TLE line {number}: column 69 must be the checksum digit")
    want = _checksum(line)
    if int(line[68]) != want:
        raise TleError(f"TLE line {number}: checksum {line[68]} is wrong (computed {want})")


def parse_tle(text: str) -> Tle:
    """Parse a TLE: two lines, optionally preceded by a name line (3LE).

    Raises :class:`TleError` naming the line and what is wrong (length,
    leading line number, checksum, mismatched catalogue numbers, fields
    that SGP4 cannot read).
    """
    lines = [ln.rstrip() for ln in text.strip().splitlines() if ln.strip()]
    if len(lines) == 3:
        name = lines[0].removeprefix("0 ").strip()
        lines = lines[1:]
    elif len(lines) == 2:
        name = ""
    else:
        raise TleError(
            f"TLE: expected 2 lines (or a name line and 2 lines), found {len(lines)} lines"
        )
    line1, line2 = lines
    _check_line(line1, 1)
    _check_line(line2, 2)
    if line1[2:7] != line2[2:7]:
        raise TleError(
            f"TLE: catalogue numbers differ between lines ({line1[2:7]!r} vs {line2[2:7]!r})"
        )
    from sgp4.api import Satrec

    try:
        sat = Satrec.twoline2rv(line1, line2)
    except (ValueError, IndexError) as exc:
        raise TleError(f"TLE: SGP4 cannot read the elements: {exc}") from None
    if sat.error != 0:
        raise TleError(f"TLE: SGP4 rejects the elements (error code {sat.error})")
    if sat.no_kozai <= 0.0:
        raise TleError("TLE line 2: mean motion must be positive")
    epoch = datetime(1949, 12, 31, tzinfo=UTC) + timedelta(days=sat.jdsatepoch - 2433281.5)
    epoch += timedelta(days=sat.jdsatepochF)
    return Tle(
        name=name or f"SAT {sat.satnum}", line1=line1, line2=line2, satnum=sat.satnum, epoch=epoch
    )


def parse_tle_file(text: str) -> list[Tle]:
    """Every element set of a TLE file (2-line sets, 3-line sets with a name line, or
    both, as CelesTrak and Space-Track serve them); :class:`TleError` names the set at
    fault. Blank lines are ignored."""
    lines = [ln.rstrip() for ln in text.splitlines() if ln.strip()]
    out: list[Tle] = []
    k = 0
    while k < len(lines):
        if lines[k].startswith("1 ") and k + 1 < len(lines) and lines[k + 1].startswith("2 "):
            chunk = lines[k : k + 2]
        elif k + 2 < len(lines) and lines[k + 1].startswith("1 ") and lines[k + 2].startswith("2 "):
            chunk = lines[k : k + 3]
        else:
            raise TleError(
                f"TLE file, line {k + 1} ({lines[k][:24]!r}): not the start of an element set "
                "(a name line, or a line starting with '1 ' followed by one with '2 ')"
            )
        try:
            out.append(parse_tle("\n".join(chunk)))
        except TleError as exc:
            raise TleError(f"TLE file, set {len(out) + 1} (line {k + 1}): {exc}") from None
        k += len(chunk)
    if not out:
        raise TleError("TLE file: no element set")
    return out


def select_tle(tles: Sequence[Tle], satellite: str | None) -> Tle:
    """The element set of ``satellite`` (a NORAD catalogue number, or a name: exact,
    case-insensitive); the only set when ``satellite`` is None. :class:`TleError` when
    none or several match, listing what the file holds."""
    listing = ", ".join(f"{t.name} ({t.satnum})" for t in tles)
    if satellite is None:
        if len(tles) == 1:
            return tles[0]
        raise TleError(f"the TLE file holds {len(tles)} satellites ({listing}): choose one")
    want = satellite.strip()
    if want.isdigit():
        found = [t for t in tles if t.satnum == int(want)]
    else:
        found = [t for t in tles if t.name.casefold() == want.casefold()]
    if not found:
        raise TleError(f"no satellite {satellite!r} in the TLE file ({listing})")
    if len(found) > 1:
        epochs = ", ".join(t.epoch.isoformat() for t in found)
        raise TleError(f"{len(found)} element sets for {satellite!r} (epochs {epochs}): keep one")
    return found[0]


TLE_WARN_AGE_DAYS = 3.0
"""Days between the TLE epoch and the far end of the planning interval above which the
plan warns: SGP4 from a LEO element set drifts by about a kilometre or more a day
(drag), i.e. AOS/LOS by a few seconds a day, and much faster in a low or active orbit."""


MAX_INTERVAL_DAYS = 31.0
"""Longest interval searched for contacts: a month of passes (a TLE is stale well before)."""
MAX_PROPAGATION_DAYS = 365.0
"""Farthest SGP4 propagates a TLE here: beyond a year from its epoch the predicted orbit
says nothing about the real one (and SGP4 itself fails for decayed orbits)."""


def check_interval(tle: Tle, start: datetime, end: datetime) -> None:
    """:class:`InputError` for an interval longer than :data:`MAX_INTERVAL_DAYS` or farther
    than :data:`MAX_PROPAGATION_DAYS` from the TLE epoch."""
    days = (end - start).total_seconds() / 86400.0
    if days > MAX_INTERVAL_DAYS:
        raise InputError(
            f"interval of {days:.1f} days: at most {MAX_INTERVAL_DAYS:g} days of contacts at once"
        )
    age = tle_age_days(tle, start, end)
    if age > MAX_PROPAGATION_DAYS:
        raise InputError(
            f"the interval is {age:.0f} days from the TLE epoch {tle.epoch:%Y-%m-%d}: SGP4 "
            f"predicts nothing useful beyond {MAX_PROPAGATION_DAYS:g} days; use a current TLE"
        )


def tle_age_days(tle: Tle, start: datetime, end: datetime) -> float:
    """Days from the TLE's epoch to the farthest end of ``[start, end]`` (propagating
    backwards degrades as forwards does)."""
    start, end = _utc(start, "start"), _utc(end, "end")
    return max(abs((t - tle.epoch).total_seconds()) for t in (start, end)) / 86400.0


def check_tle_age(
    tle: Tle,
    start: datetime,
    end: datetime,
    *,
    max_age_days: float | None = None,
    warn_age_days: float = TLE_WARN_AGE_DAYS,
) -> str | None:
    """A warning when the interval is more than ``warn_age_days`` from the TLE epoch
    (None otherwise); :class:`TleAgeError` when it is more than ``max_age_days``."""
    age = tle_age_days(tle, start, end)
    what = (
        f"TLE of {tle.name} ({tle.satnum}), epoch {tle.epoch.strftime('%Y-%m-%dT%H:%M:%SZ')}, "
        f"is {age:.1f} days from the planning interval"
    )
    if max_age_days is not None and age > max_age_days:
        raise TleAgeError(f"{what} (--max-tle-age {max_age_days:g}): get a fresh element set")
    if age > warn_age_days:
        return f"{what}: predicted times may be off by minutes; get a fresh element set"
    return None


@cache
def _timescale():
    from skyfield.api import load

    return load.timescale(builtin=True)


def _utc(t: datetime, what: str) -> datetime:
    if t.tzinfo is None or t.utcoffset() is None:
        raise InputError(f"{what} must be a timezone-aware datetime (UTC), got naive {t}")
    return t.astimezone(UTC)


def _tle(tle: str | Tle) -> Tle:
    return tle if isinstance(tle, Tle) else parse_tle(tle)


def _topocentric(rel, ts, jd):
    """(elevation, azimuth) in degrees at TT Julian dates ``jd`` (array)."""
    import numpy as np

    alt, az, _ = rel.at(ts.tt_jd(np.asarray(jd, dtype=np.float64))).altaz()
    return alt.degrees, az.degrees


SCAN_STEP_S = 1.0
"""Step of the scans that find a window's peak and its horizon-mask crossings."""


def contact_windows(
    tle: str | Tle, stations: Sequence[Station], start: datetime, end: datetime
) -> list[ContactWindow]:
    """Every contact window of the satellite over ``stations`` in ``[start, end]``.

    A window is the time the satellite spends above the station's elevation mask
    (and its horizon mask, when it has one); windows already open at ``start`` or
    still open at ``end`` are clipped to the interval. AOS and LOS are found to 1 ms,
    the time of closest approach (TCA, the highest elevation) to 1 ms. The result is
    sorted by AOS, then station. ``tle`` is the text of one element set or a
    :class:`Tle`.
    """
    start = _utc(start, "start")
    end = _utc(end, "end")
    if end <= start:
        raise InputError(f"end {end.isoformat()} is not after start {start.isoformat()}")
    if not stations:
        raise InputError("no ground station given")
    tle = _tle(tle)
    check_interval(tle, start, end)
    from skyfield.api import EarthSatellite, wgs84

    ts = _timescale()
    sat = EarthSatellite(tle.line1, tle.line2, tle.name, ts)
    t0, t1 = ts.from_datetime(start), ts.from_datetime(end)
    out: list[ContactWindow] = []
    for st in stations:
        site = wgs84.latlon(st.lat_deg, st.lon_deg, elevation_m=st.alt_m)
        rel = sat - site
        mask = st.lowest_mask_deg

        def elevation(t, rel=rel) -> float:
            alt, _, _ = rel.at(t).altaz()
            return float(alt.degrees)

        times, events = sat.find_events(site, t0, t1, altitude_degrees=mask)
        # find_events locates crossings to about a second; refine them to a millisecond
        # so that a window does not depend on the interval it was searched in.
        times = [
            _refine(ts, elevation, t, mask, t0, t1) if ev != 1 else t
            for t, ev in zip(times, events, strict=True)
        ]
        spans = []
        aos = t0.tt if elevation(t0) >= mask else None
        for t, ev in zip(times, events, strict=True):
            if ev == 0:  # rise
                aos = t.tt
            elif ev == 2:  # set
                spans.append((t0.tt if aos is None else aos, t.tt))
                aos = None
            elif aos is None:  # culmination without a rise: open at start
                aos = t0.tt
        if aos is not None:  # still open at the end
            spans.append((aos, t1.tt))
        for a, b in spans:
            parts = _above_horizon(ts, rel, st, a, b) if st.horizon_mask else [(a, b)]
            for pa, pb in parts:
                if pb > pa:
                    w = _window(ts, rel, st.name, pa, pb)
                    # a window clipped by the interval starts or ends exactly at it
                    out.append(
                        replace(
                            w,
                            aos=start if pa == t0.tt else w.aos,
                            los=end if pb == t1.tt else w.los,
                        )
                    )
    out.sort(key=lambda w: (w.aos, w.station))
    return out


def _above_horizon(ts, rel, st: Station, a: float, b: float) -> list[tuple[float, float]]:
    """The parts of ``[a, b]`` (TT Julian dates) in which the satellite is above the
    station's horizon mask: a scan every :data:`SCAN_STEP_S`, crossings bisected to 1 ms."""
    import numpy as np

    n = max(2, int(np.ceil((b - a) * 86400.0 / SCAN_STEP_S)) + 1)
    jd = np.linspace(a, b, n)

    def margin(x):
        el, az = _topocentric(rel, ts, x)
        return el - st.mask_at(az)

    above = margin(jd) >= 0.0
    parts = []
    k = 0
    while k < n:
        if not above[k]:
            k += 1
            continue
        j = k
        while j + 1 < n and above[j + 1]:
            j += 1
        lo = a if k == 0 else _bisect(margin, jd[k - 1], jd[k])
        hi = b if j == n - 1 else _bisect(margin, jd[j], jd[j + 1])
        parts.append((lo, hi))
        k = j + 1
    return parts


def _bisect(f, lo: float, hi: float) -> float:
    """The sign change of ``f`` between TT dates ``lo`` and ``hi``, to 1 ms."""
    import numpy as np

    f_lo = float(f(np.array([lo]))[0]) >= 0.0
    while (hi - lo) * 86400.0 > 1e-3:
        mid = 0.5 * (lo + hi)
        if (float(f(np.array([mid]))[0]) >= 0.0) == f_lo:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def _refine(ts, elevation, t, mask_deg: float, t0, t1):
    """Bisect the mask crossing near ``t`` (within +-3 s) to 1 ms, inside [t0, t1]."""
    lo = max(t.tt - 3.0 / 86400.0, t0.tt)
    hi = min(t.tt + 3.0 / 86400.0, t1.tt)
    above_lo = elevation(ts.tt_jd(lo)) >= mask_deg
    if above_lo == (elevation(ts.tt_jd(hi)) >= mask_deg):
        return t  # no bracket (a grazing pass): keep skyfield's estimate
    while (hi - lo) * 86400.0 > 1e-3:
        mid = 0.5 * (lo + hi)
        if (elevation(ts.tt_jd(mid)) >= mask_deg) == above_lo:
            lo = mid
        else:
            hi = mid
    return ts.tt_jd(0.5 * (lo + hi))


def _window(ts, rel, station: str, a: float, b: float) -> ContactWindow:
    """The window ``[a, b]`` (TT Julian dates) with its peak: a scan, then a golden-section
    search of the elevation (one maximum in a pass) to 1 ms."""
    import numpy as np

    n = max(2, int(np.ceil((b - a) * 86400.0 / SCAN_STEP_S)) + 1)
    jd = np.linspace(a, b, n)
    el, _ = _topocentric(rel, ts, jd)
    k = int(np.argmax(el))
    lo, hi = jd[max(k - 1, 0)], jd[min(k + 1, n - 1)]
    g = (np.sqrt(5.0) - 1.0) / 2.0

    def elev(x: float) -> float:
        return float(_topocentric(rel, ts, [x])[0][0])

    while (hi - lo) * 86400.0 > 1e-3:
        m1, m2 = hi - g * (hi - lo), lo + g * (hi - lo)
        if elev(m1) < elev(m2):
            lo = m1
        else:
            hi = m2
    tca = 0.5 * (lo + hi)
    els, azs = _topocentric(rel, ts, [a, tca, b])
    return ContactWindow(
        station=station,
        aos=ts.tt_jd(a).utc_datetime(),
        los=ts.tt_jd(b).utc_datetime(),
        max_elevation_deg=float(max(els[1], el.max())),
        tca=ts.tt_jd(tca).utc_datetime(),
        aos_azimuth_deg=float(azs[0]),
        tca_azimuth_deg=float(azs[1]),
        los_azimuth_deg=float(azs[2]),
    )


SPEED_OF_LIGHT_M_S = 299_792_458.0


@dataclass(frozen=True)
class TrackPoint:
    """The satellite seen from a station at one instant.

    ``range_rate_km_s`` is positive when the satellite moves away; ``doppler_hz`` is
    the shift of a carrier sent by the satellite as received at the station, to first
    order: ``-f * range_rate / c`` (positive while it approaches).
    """

    time: datetime
    azimuth_deg: float
    elevation_deg: float
    range_km: float
    range_rate_km_s: float
    doppler_hz: float

    def to_json(self) -> dict:
        return {
            "time": self.time.isoformat(),
            "azimuth_deg": round(self.azimuth_deg, 3),
            "elevation_deg": round(self.elevation_deg, 3),
            "range_km": round(self.range_km, 3),
            "range_rate_km_s": round(self.range_rate_km_s, 5),
            "doppler_hz": round(self.doppler_hz, 1),
        }


def doppler_shift_hz(range_rate_km_s, carrier_hz: float):
    """First-order Doppler shift (Hz) of ``carrier_hz`` at a range rate (km/s, + receding)."""
    return -carrier_hz * (range_rate_km_s * 1000.0) / SPEED_OF_LIGHT_M_S


def track_at(
    tle: str | Tle, station: Station, times: Sequence[datetime], carrier_hz: float
) -> list[TrackPoint]:
    """The satellite seen from ``station`` at each of ``times`` (UTC-aware)."""
    if carrier_hz <= 0:
        raise InputError(f"carrier frequency must be positive, got {carrier_hz} Hz")
    tle = _tle(tle)
    from skyfield.api import EarthSatellite, wgs84

    ts = _timescale()
    sat = EarthSatellite(tle.line1, tle.line2, tle.name, ts)
    site = wgs84.latlon(station.lat_deg, station.lon_deg, elevation_m=station.alt_m)
    when = [_utc(t, "time") for t in times]
    t = ts.from_datetimes(when)
    alt, az, dist, _, _, rate = (sat - site).at(t).frame_latlon_and_rates(site)
    rr = rate.km_per_s
    shift = doppler_shift_hz(rr, carrier_hz)
    return [
        TrackPoint(
            time=when[k],
            azimuth_deg=float(az.degrees[k]),
            elevation_deg=float(alt.degrees[k]),
            range_km=float(dist.km[k]),
            range_rate_km_s=float(rr[k]),
            doppler_hz=float(shift[k]),
        )
        for k in range(len(when))
    ]


def pass_track(
    tle: str | Tle,
    station: Station,
    window: ContactWindow,
    *,
    carrier_hz: float,
    step_s: float = 10.0,
) -> list[TrackPoint]:
    """The track of a window: AOS, every ``step_s`` seconds, TCA (when known) and LOS."""
    if not step_s > 0 or not math.isfinite(step_s):
        raise InputError(f"track step must be a positive number of seconds, got {step_s}")
    times = [window.aos]
    k = 1
    while window.aos + timedelta(seconds=k * step_s) < window.los:
        times.append(window.aos + timedelta(seconds=k * step_s))
        k += 1
    if window.tca is not None and window.aos < window.tca < window.los:
        times.append(window.tca)
    times.append(window.los)
    return track_at(tle, station, sorted(set(times)), carrier_hz)


def doppler_summary(
    tle: str | Tle, station: Station, window: ContactWindow, carrier_hz: float
) -> dict:
    """Doppler at AOS, TCA and LOS, and its fastest rate of change over the window
    (a 1 s scan), for a carrier of ``carrier_hz``."""
    import numpy as np

    key = [window.aos, window.tca or window.aos, window.los]
    aos, tca, los = track_at(tle, station, key, carrier_hz)
    n = max(2, int(window.duration_s) + 1)
    scan = [window.aos + timedelta(seconds=window.duration_s * k / (n - 1)) for k in range(n)]
    pts = track_at(tle, station, scan, carrier_hz)
    f = np.array([p.doppler_hz for p in pts])
    dt = np.diff([(p.time - window.aos).total_seconds() for p in pts])
    rate = np.abs(np.diff(f) / dt) if len(dt) else np.zeros(1)
    return {
        "carrier_hz": carrier_hz,
        "aos_hz": round(aos.doppler_hz, 1),
        "tca_hz": round(tca.doppler_hz, 1),
        "los_hz": round(los.doppler_hz, 1),
        "max_abs_hz": round(float(np.abs(f).max()), 1),
        "max_rate_hz_per_s": round(float(rate.max()), 2),
        "min_range_km": round(float(min(p.range_km for p in pts)), 3),
    }


def share_downlink(windows: Sequence[ContactWindow]) -> list[ContactWindow]:
    """The windows (sorted by AOS) with the part of each that the satellite's one
    downlink serves: while several stations see the satellite, it keeps transmitting to
    the station it is serving until that station's LOS, then hands over to the visible
    station whose window lasts longest (which needs its own acquisition time: the budget of
    :func:`pass_budget_bytes` starts at ``downlink_start``). A window entirely inside
    another's service gets no downlink (``downlink_s`` 0). No instant is served twice,
    so the budgets of overlapping contacts add up to at most what the union of their
    time can carry.
    """
    remaining = sorted(windows, key=lambda w: (w.aos, w.station))
    served: dict[int, tuple[datetime, datetime]] = {}
    ids = {id(w): k for k, w in enumerate(remaining)}
    order = list(remaining)
    t: datetime | None = None
    while remaining:
        visible = [w for w in remaining if t is not None and w.aos <= t < w.los]
        if visible:  # hand over to the station that keeps the satellite longest
            pick = max(visible, key=lambda w: (w.los, w.station))
            begin = t
        else:
            pick = remaining[0]
            begin = pick.aos if t is None else max(pick.aos, t)
        remaining.remove(pick)
        served[ids[id(pick)]] = (begin, pick.los)
        t = pick.los
        for w in [w for w in remaining if w.los <= t]:  # over before the satellite is free
            remaining.remove(w)
            served[ids[id(w)]] = (w.los, w.los)
    return [
        replace(w, downlink_start=served[k][0], downlink_end=served[k][1])
        for k, w in enumerate(order)
    ]


def pass_budget_bytes(
    window: ContactWindow,
    rate_bps: int,
    *,
    acquisition_s: float = ACQUISITION_S,
    cadu_bytes: int = CADU_BYTES,
    cadu_data_bytes: int = CADU_DATA_BYTES,
) -> int:
    """Space-packet bytes a window can carry.

    ``rate_bps`` is the channel bit rate on the air. The usable time is the part
    of the window the downlink serves (all of it, unless :func:`share_downlink` gave
    part of it to another station) less ``acquisition_s``; the link sends whole CADUs of
    ``cadu_bytes``, each carrying ``cadu_data_bytes`` of space packets (the
    rest is sync marker, transfer-frame headers and Reed-Solomon parity).
    """
    if rate_bps <= 0:
        raise InputError(f"rate_bps must be positive, got {rate_bps}")
    if not 0 < cadu_data_bytes <= cadu_bytes:
        raise InputError(
            f"cadu_data_bytes ({cadu_data_bytes}) must be in 1..cadu_bytes ({cadu_bytes})"
        )
    if acquisition_s < 0:
        raise InputError(f"acquisition_s must be >= 0, got {acquisition_s}")
    usable_s = max(0.0, window.downlink_s - acquisition_s)
    cadus = math.floor(rate_bps * usable_s / 8.0 / cadu_bytes)
    return cadus * cadu_data_bytes
