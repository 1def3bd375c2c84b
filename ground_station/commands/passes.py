"""``groundstation passes``: the contact windows an operator schedules antennas and radios by.

Per window: AOS, TCA (closest approach) and LOS in UTC, maximum elevation, the
azimuths at AOS, TCA and LOS, the Doppler shift at AOS, TCA and LOS and its fastest
rate of change at the stated carrier frequency, and the part of the window the
satellite's one downlink serves that station when contacts overlap. ``--track-step``
adds the azimuth/elevation/range/Doppler track (JSON) for antenna and radio control.
"""

from __future__ import annotations

from typing import Annotated

import typer

from ground_station.commands._common import JsonOption, print_json
from ground_station.commands._orbit import (
    EndOption,
    HorizonOption,
    MaxTleAgeOption,
    MinElevationOption,
    SatelliteOption,
    StartOption,
    StationOption,
    TleOption,
    finite,
    load_orbit,
)
from ground_station.errors import NoContactError
from ground_station.passes import contact_windows, doppler_summary, pass_track, share_downlink

DEFAULT_CARRIER_MHZ = 437.5
"""The default carrier: a UHF downlink (the 9.6 kbit/s link of the demo) in the
435-438 MHz amateur-satellite band."""


def passes(
    tle: TleOption,
    station: StationOption,
    satellite: SatelliteOption = None,
    start: StartOption = None,
    end: EndOption = None,
    min_elevation: MinElevationOption = 10.0,
    horizon: HorizonOption = None,
    max_tle_age: MaxTleAgeOption = None,
    carrier_mhz: Annotated[
        float,
        typer.Option(
            "--carrier-mhz", min=0.001, help="Downlink carrier frequency for the Doppler, MHz."
        ),
    ] = DEFAULT_CARRIER_MHZ,
    track_step: Annotated[
        float | None,
        typer.Option(
            "--track-step",
            min=0.1,
            help="With --json: include each pass's track (az, el, range, Doppler) every "
            "this many seconds.",
        ),
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """List the contact windows: AOS/TCA/LOS, max elevation, azimuths, Doppler at the
    stated carrier, and the downlink share of overlapping contacts. Exit code 4 when
    there is no contact in the interval."""
    finite(carrier_mhz, "--carrier-mhz")
    finite(track_step, "--track-step")
    orbit = load_orbit(tle, satellite, station, horizon, start, end, min_elevation, max_tle_age)
    windows = share_downlink(contact_windows(orbit.tle, orbit.stations, orbit.start, orbit.end))
    if not windows:
        raise NoContactError(
            f"no contact between {orbit.start.isoformat()} and {orbit.end.isoformat()}"
        )
    by_name = {s.name: s for s in orbit.stations}
    carrier_hz = carrier_mhz * 1e6
    rows = []
    for w in windows:
        st = by_name[w.station]
        row = {
            **w.to_json(),
            "doppler": doppler_summary(orbit.tle, st, w, carrier_hz),
        }
        if track_step is not None:
            row["track"] = [
                p.to_json()
                for p in pass_track(orbit.tle, st, w, carrier_hz=carrier_hz, step_s=track_step)
            ]
        rows.append(row)
    if json_out:
        print_json(
            {
                "satellite": orbit.satellite_json(),
                "warnings": orbit.warnings,
                "start": orbit.start.isoformat(),
                "end": orbit.end.isoformat(),
                "carrier_hz": carrier_hz,
                "doppler_note": "received minus carrier, first order: -f * range_rate / c "
                "(positive while the satellite approaches)",
                "stations": [
                    {
                        "name": s.name,
                        "lat_deg": s.lat_deg,
                        "lon_deg": s.lon_deg,
                        "alt_m": s.alt_m,
                        "min_elevation_deg": s.min_elevation_deg,
                        "horizon_mask": [list(p) for p in s.horizon_mask or ()],
                    }
                    for s in orbit.stations
                ],
                "passes": rows,
            }
        )
        return
    _print_table(orbit, rows, carrier_mhz)


def _print_table(orbit, rows: list[dict], carrier_mhz: float) -> None:
    from datetime import datetime

    from rich.console import Console
    from rich.table import Table

    def hms(iso: str) -> str:
        return datetime.fromisoformat(iso).strftime("%H:%M:%S")

    console = Console(width=140)
    sat = orbit.satellite_json()
    t = Table(title=f"Passes of {sat['name']} ({sat['norad_id']}), Doppler at {carrier_mhz:g} MHz")
    for col in (
        "#",
        "station",
        "date",
        "AOS",
        "TCA",
        "LOS",
        "min",
        "max el",
        "az AOS/TCA/LOS",
        "Doppler AOS/TCA/LOS kHz",
        "max Hz/s",
        "downlink min",
    ):
        t.add_column(col, justify="left" if col == "station" else "right")
    for k, r in enumerate(rows):
        d = r["doppler"]
        t.add_row(
            str(k),
            r["station"],
            r["aos"][:10],
            hms(r["aos"]),
            hms(r["tca"]),
            hms(r["los"]),
            f"{r['duration_s'] / 60:.1f}",
            f"{r['max_elevation_deg']:.1f}",
            f"{r['aos_azimuth_deg']:.0f}/{r['tca_azimuth_deg']:.0f}/{r['los_azimuth_deg']:.0f}",
            f"{d['aos_hz'] / 1e3:+.2f}/{d['tca_hz'] / 1e3:+.2f}/{d['los_hz'] / 1e3:+.2f}",
            f"{d['max_rate_hz_per_s']:.0f}",
            f"{r['downlink_s'] / 60:.1f}"
            + (" (shared)" if r["downlink_s"] < r["duration_s"] else ""),
        )
    console.print(t)
    console.print(
        f"TLE epoch {sat['tle_epoch']} ({sat['tle_age_days']:.1f} days from the interval); "
        "times UTC; azimuth from true north, clockwise"
    )


def register(app: typer.Typer) -> None:
    app.command("passes")(passes)
