"""Options and parsing shared by ``plan`` and ``passes``: the satellite, the stations, the
interval, and the TLE-age check."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from ground_station.errors import InputError, InputFileError
from ground_station.passes import (
    Station,
    Tle,
    check_interval,
    check_tle_age,
    parse_horizon,
    parse_tle_file,
    select_tle,
    tle_age_days,
)

TleOption = Annotated[
    Path,
    typer.Option("--tle", help="TLE file: one or several satellites (2- or 3-line element sets)."),
]
SatelliteOption = Annotated[
    str | None,
    typer.Option(
        "--satellite",
        help="The satellite of a multi-satellite TLE file: its name or NORAD number.",
    ),
]
StationOption = Annotated[
    list[str],
    typer.Option(
        "--station",
        help="Ground station as [NAME=]LAT,LON,ALT_M[,MASK_DEG] (degrees, metres; MASK_DEG "
        "its own elevation mask, else --min-elevation); repeatable.",
    ),
]
HorizonOption = Annotated[
    list[str] | None,
    typer.Option(
        "--horizon",
        help="Horizon mask of a station: NAME=AZ:EL,AZ:EL,... (degrees; linear in azimuth "
        "between points, wrapping at north); repeatable, one per station.",
    ),
]
StartOption = Annotated[
    str | None,
    typer.Option(help="Start of the interval, ISO 8601 (no zone: UTC). Default: now."),
]
EndOption = Annotated[
    str | None, typer.Option(help="End of the interval, ISO 8601. Default: start + 24 h.")
]
MinElevationOption = Annotated[
    float,
    typer.Option(
        "--min-elevation",
        min=0.0,
        max=89.9,
        help="Elevation mask, degrees, of stations that give none.",
    ),
]
MaxTleAgeOption = Annotated[
    float | None,
    typer.Option(
        "--max-tle-age",
        min=0.0,
        help="Refuse to plan when the interval is more than this many days from the TLE "
        "epoch (without it, more than 3 days only warns).",
    ),
]


def when(text: str | None, what: str, default: datetime | None) -> datetime:
    if text is None:
        if default is None:
            raise InputError(f"{what}: the interval runs past the last time this tool handles")
        return default
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
        # every time is compared in UTC: one that has none there is out of range
        t = t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
    except ValueError:
        raise InputError(
            f"{what} {text!r} is not an ISO 8601 time (2026-03-01T10:00:00Z)"
        ) from None
    except OverflowError:
        raise InputError(f"{what} {text!r} is out of the range of UTC times") from None
    return t


def _plus(t: datetime, delta: timedelta) -> datetime | None:
    try:
        return t + delta
    except OverflowError:
        return None


def finite(value: float | None, what: str) -> None:
    """:class:`InputError` for an infinite (or NaN) number given to option ``what``."""
    if value is not None and not math.isfinite(value):
        raise InputError(f"{what} must be a finite number, got {value}")


@dataclass
class Orbit:
    """What ``plan`` and ``passes`` work from."""

    tle: Tle
    stations: list[Station]
    start: datetime
    end: datetime
    warnings: list[str]

    def satellite_json(self) -> dict:
        return {
            "name": self.tle.name,
            "norad_id": self.tle.satnum,
            "tle_epoch": self.tle.epoch.isoformat(),
            "tle_age_days": round(tle_age_days(self.tle, self.start, self.end), 3),
        }


def load_orbit(
    tle_path: Path,
    satellite: str | None,
    station: list[str],
    horizon: list[str] | None,
    start: str | None,
    end: str | None,
    min_elevation: float,
    max_tle_age: float | None,
) -> Orbit:
    """Parse and check every orbit option (one error line for the first bad one); warn
    on stderr when the TLE is old."""
    t0 = when(start, "--start", datetime.now(UTC).replace(microsecond=0))
    t1 = when(end, "--end", _plus(t0, timedelta(hours=24)))
    try:
        text = tle_path.read_text()
    except (FileNotFoundError, IsADirectoryError):
        raise InputFileError(f"TLE file {tle_path} does not exist") from None
    except UnicodeDecodeError:
        raise InputError(f"TLE file {tle_path} is not text") from None
    horizons: dict[str, tuple] = {}
    for h in horizon or []:
        name, sep, points = h.partition("=")
        if not sep or not name.strip():
            raise InputError(f"--horizon {h!r}: expected NAME=AZ:EL,AZ:EL,...")
        horizons[name.strip()] = parse_horizon(points)
    stations: list[Station] = []
    for s in station:
        name, _, coords = s.rpartition("=")
        stations.append(
            Station.parse(
                coords,
                name=name,
                min_elevation_deg=min_elevation,
                horizon_mask=horizons.get(name),
            )
        )
    names = [st.name for st in stations]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InputError(f"--station: two stations named {', '.join(twice)}: give each a name")
    unknown = set(horizons) - {st.name for st in stations}
    if unknown:
        raise InputError(f"--horizon for {', '.join(sorted(unknown))}: no --station of that name")
    tle = select_tle(parse_tle_file(text), satellite)
    if t1 <= t0:
        raise InputError(f"end {t1.isoformat()} is not after start {t0.isoformat()}")
    check_interval(tle, t0, t1)
    warning = check_tle_age(tle, t0, t1, max_age_days=max_tle_age)
    warnings = [warning] if warning else []
    for w in warnings:
        typer.echo(f"groundstation: warning: {w}", err=True)
    return Orbit(tle, stations, t0, t1, warnings)
