"""Contact windows and the byte budget of a pass.

The orbit comes from a two-line element set propagated with SGP4 (through
skyfield); a ground station sees the satellite while it is above the
station's elevation mask. Nothing is downloaded at run time: skyfield's
built-in time scale (leap seconds and Delta T tables shipped with the
package) is enough for SGP4 and topocentric elevation, and no planetary
ephemeris is needed.

Public API (used by the ``plan`` command and by the host simulator):

- :class:`Station` — a ground station with its elevation mask;
- :class:`ContactWindow` — one pass over one station (UTC-aware AOS/LOS);
- :func:`parse_tle` — a checked TLE (:class:`Tle`), or :class:`TleError`
  naming the line, the column and what is wrong;
- :func:`contact_windows` — every window over the stations in an interval;
- :func:`pass_budget_bytes` — space-packet bytes a window can carry.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

from pydantic import Field, ValidationError
from pydantic.dataclasses import dataclass as pydantic_dataclass

from ground_station.errors import InputError, TleError

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
    """A ground station: WGS84 position and elevation mask."""

    name: str = Field(min_length=1)
    lat_deg: float = Field(ge=-90.0, le=90.0)
    lon_deg: float = Field(ge=-180.0, le=180.0)
    alt_m: float = Field(ge=-500.0, le=9000.0)
    min_elevation_deg: float = Field(default=10.0, ge=0.0, lt=90.0)

    @classmethod
    def parse(cls, text: str, *, name: str = "", min_elevation_deg: float = 10.0) -> Station:
        """A station from ``"LAT,LON,ALT_M"`` (degrees, degrees, metres).

        ``name`` defaults to the text itself.
        """
        parts = [p.strip() for p in text.split(",")]
        if len(parts) != 3:
            raise InputError(f"station {text!r}: expected LAT,LON,ALT_M (3 numbers)")
        try:
            lat, lon, alt = (float(p) for p in parts)
        except ValueError:
            raise InputError(f"station {text!r}: LAT,LON,ALT_M must be numbers") from None
        try:
            return cls(
                name=name or text,
                lat_deg=lat,
                lon_deg=lon,
                alt_m=alt,
                min_elevation_deg=min_elevation_deg,
            )
        except ValidationError as exc:
            err = exc.errors()[0]
            raise InputError(f"station {text!r}: {err['loc'][0]} {err['msg']}") from None


@dataclass(frozen=True)
class ContactWindow:
    """One pass of the satellite over one station: AOS to LOS, UTC-aware."""

    station: str
    aos: datetime
    los: datetime
    max_elevation_deg: float

    @property
    def duration_s(self) -> float:
        return (self.los - self.aos).total_seconds()

    def to_json(self) -> dict:
        return {
            "station": self.station,
            "aos": self.aos.isoformat(),
            "los": self.los.isoformat(),
            "duration_s": round(self.duration_s, 3),
            "max_elevation_deg": round(self.max_elevation_deg, 3),
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


@cache
def _timescale():
    from skyfield.api import load

    return load.timescale(builtin=True)


def _utc(t: datetime, what: str) -> datetime:
    if t.tzinfo is None or t.utcoffset() is None:
        raise InputError(f"{what} must be a timezone-aware datetime (UTC), got naive {t}")
    return t.astimezone(UTC)


def contact_windows(
    tle_text: str, stations: Sequence[Station], start: datetime, end: datetime
) -> list[ContactWindow]:
    """Every contact window of the satellite over ``stations`` in ``[start, end]``.

    A window is the time the satellite spends above the station's elevation
    mask; windows already open at ``start`` or still open at ``end`` are
    clipped to the interval. The result is sorted by AOS, then station.
    """
    start = _utc(start, "start")
    end = _utc(end, "end")
    if end <= start:
        raise InputError(f"end {end.isoformat()} is not after start {start.isoformat()}")
    if not stations:
        raise InputError("no ground station given")
    tle = parse_tle(tle_text)
    from skyfield.api import EarthSatellite, wgs84

    ts = _timescale()
    sat = EarthSatellite(tle.line1, tle.line2, tle.name, ts)
    t0, t1 = ts.from_datetime(start), ts.from_datetime(end)
    out: list[ContactWindow] = []
    for st in stations:
        site = wgs84.latlon(st.lat_deg, st.lon_deg, elevation_m=st.alt_m)
        rel = sat - site

        def elevation(t, rel=rel) -> float:
            alt, _, _ = rel.at(t).altaz()
            return float(alt.degrees)

        times, events = sat.find_events(site, t0, t1, altitude_degrees=st.min_elevation_deg)
        # find_events locates crossings to about a second; refine them to a millisecond
        # so that a window does not depend on the interval it was searched in.
        times = [
            _refine(ts, elevation, t, st.min_elevation_deg, t0, t1) if ev != 1 else t
            for t, ev in zip(times, events, strict=True)
        ]
        aos = t0 if elevation(t0) >= st.min_elevation_deg else None
        peak = elevation(t0) if aos is not None else -90.0
        for t, ev in zip(times, events, strict=True):
            if ev == 0:  # rise
                aos, peak = t, st.min_elevation_deg
            elif ev == 1:  # culmination
                if aos is None:  # culmination without a rise: open at start
                    aos, peak = t0, elevation(t0)
                peak = max(peak, elevation(t))
            else:  # set
                if aos is None:
                    aos, peak = t0, elevation(t0)
                peak = max(peak, elevation(t), elevation(aos))
                out.append(_window(st.name, aos, t, peak))
                aos = None
        if aos is not None:  # still open at the end
            peak = max(peak, elevation(aos), elevation(t1))
            out.append(_window(st.name, aos, t1, peak))
    out = [w for w in out if w.los > w.aos]
    out.sort(key=lambda w: (w.aos, w.station))
    return out


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


def _window(station: str, aos, los, peak: float) -> ContactWindow:
    return ContactWindow(
        station=station,
        aos=aos.utc_datetime(),
        los=los.utc_datetime(),
        max_elevation_deg=float(peak),
    )


def pass_budget_bytes(
    window: ContactWindow,
    rate_bps: int,
    *,
    acquisition_s: float = ACQUISITION_S,
    cadu_bytes: int = CADU_BYTES,
    cadu_data_bytes: int = CADU_DATA_BYTES,
) -> int:
    """Space-packet bytes a window can carry.

    ``rate_bps`` is the channel bit rate on the air. The usable time is the
    window less ``acquisition_s``; the link sends whole CADUs of
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
    usable_s = max(0.0, window.duration_s - acquisition_s)
    cadus = math.floor(rate_bps * usable_s / 8.0 / cadu_bytes)
    return cadus * cadu_data_bytes
