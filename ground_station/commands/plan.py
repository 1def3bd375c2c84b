"""``groundstation plan``: contact windows, pass budgets and the downlink plan."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ground_station.commands._common import DbOption, JsonOption, human_bytes, print_json
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
from ground_station.passes import contact_windows, pass_budget_bytes, share_downlink
from ground_station.plan import (
    TIER_NAMES,
    check_request_path,
    plan_passes,
    request_of,
    write_request,
)
from triage.contract.tile_spec import tile_spec


def plan(
    tle: TleOption,
    station: StationOption,
    rate_bps: Annotated[
        int, typer.Option("--rate-bps", min=1, help="Downlink bit rate on the air.")
    ],
    db: DbOption = Path("catalogue.sqlite"),
    satellite: SatelliteOption = None,
    start: StartOption = None,
    end: EndOption = None,
    min_elevation: MinElevationOption = 10.0,
    horizon: HorizonOption = None,
    max_tle_age: MaxTleAgeOption = None,
    acquisition_s: Annotated[
        float, typer.Option(min=0.0, help="Seconds after AOS before data flows (lock).")
    ] = 10.0,
    request_out: Annotated[
        Path | None,
        typer.Option(
            "--request-out",
            help="Write the DOWNLINK_REQUEST telecommand for the first pass to this file "
            "(and log it in the catalogue). Never a file of the catalogue, a database or "
            "anything but a regular file; an existing file only with --overwrite.",
        ),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Let --request-out replace an existing file.")
    ] = False,
    exact: Annotated[
        bool,
        typer.Option(
            "--exact",
            help="The request asks for the plan and nothing else. By default it ends with a "
            "REST entry: after the plan, the satellite sends every segment it never sent, in "
            "its priority order (products made since the store directory, and the budget the "
            "plan leaves).",
        ),
    ] = False,
    json_out: JsonOption = False,
) -> None:
    """Contact windows, the byte budget of each pass, and what to downlink in each.

    Ships by confidence first, then quicklooks, then missing segments of incomplete
    products, by value per byte. Contacts of several stations that overlap share the
    satellite's one downlink (each second is budgeted once). Warns when the TLE epoch
    is more than 3 days from the interval (--max-tle-age refuses). Exit code 4 when
    there is no contact in the interval.
    """
    finite(acquisition_s, "--acquisition-s")
    if request_out is not None:  # refused before any work
        check_request_path(request_out, db, overwrite)
    orbit = load_orbit(tle, satellite, station, horizon, start, end, min_elevation, max_tle_age)
    t0, t1 = orbit.start, orbit.end
    windows = share_downlink(contact_windows(orbit.tle, orbit.stations, t0, t1))
    if not windows:
        masks = ", ".join(f"{s.name} {s.min_elevation_deg:g} deg" for s in orbit.stations)
        raise NoContactError(
            f"no contact above the masks ({masks}) between {t0.isoformat()} and {t1.isoformat()}"
        )
    budgets = [pass_budget_bytes(w, rate_bps, acquisition_s=acquisition_s) for w in windows]
    plans = plan_passes(db, windows, rate_bps, budget_bytes=budgets, then_rest=not exact)
    first = plans[0]
    request = request_of(first)
    if request_out is not None and request is not None:
        write_request(request_out, db, first, request, overwrite=overwrite)
    if json_out:
        print_json(
            {
                "satellite": orbit.satellite_json(),
                "warnings": orbit.warnings,
                "start": t0.isoformat(),
                "end": t1.isoformat(),
                "rate_bps": rate_bps,
                "passes": [p.to_json() for p in plans],
                "unscheduled": [i.to_json() for i in plans[-1].deferred],
                "request_file": str(request_out) if request_out and request else None,
                "request_bytes": len(request) if request is not None else 0,
            }
        )
        return
    _print_tables(plans, request, request_out)


def _print_tables(plans, request: bytes | None, request_out: Path | None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=120)
    t = Table(title="Contact windows and budgets")
    cols = ("#", "station", "AOS (UTC)", "LOS (UTC)", "minutes", "max el", "downlink", "budget")
    for col in (*cols, "planned"):
        t.add_column(col, justify="right" if col not in ("station",) else "left")
    for k, p in enumerate(plans):
        w = p.window
        t.add_row(
            str(k),
            w.station,
            w.aos.strftime("%Y-%m-%d %H:%M:%S"),
            w.los.strftime("%H:%M:%S"),
            f"{w.duration_s / 60:.1f}",
            f"{w.max_elevation_deg:.1f}",
            f"{w.downlink_s / 60:.1f}" + (" (shared)" if w.shared else ""),
            human_bytes(p.budget_bytes),
            f"{human_bytes(p.planned_bytes)} ({len(p.items)})",
        )
    console.print(t)
    first = plans[0]
    if first.directory is None:
        console.print("no STORE_DIRECTORY in the catalogue yet")
    else:
        d = first.directory
        console.print(
            f"on board (store directory #{d['product_id']} of {d['time']}): {d['entries']} products"
        )
    for note in first.notes:
        console.print(f"note: {note}")
    items = [i for p in plans for i in p.items]
    t = Table(title="Downlink plan")
    for col in ("pass", "tier", "frame", "product", "type", "conf", "segments", "bytes", "why"):
        t.add_column(col)
    for i in items:
        t.add_row(
            str(i.pass_index),
            TIER_NAMES[i.tier],
            str(i.frame_id),
            str(i.product_id),
            i.product_type,
            f"{i.confidence * tile_spec().output_quantization.scale:.2f}"
            if i.product_type == "SHIP_CROP"
            else "",
            f"{i.segment_first}-{i.segment_last}" + (" (part)" if i.partial else ""),
            human_bytes(i.bytes),
            i.reason,
        )
    console.print(t)
    if first.releases:
        console.print(
            "release on board (complete on the ground): "
            + ", ".join(f"{r.frame_id}/{r.product_id}" for r in first.releases)
        )
    left = plans[-1].deferred
    if left:
        size = human_bytes(sum(i.bytes for i in left))
        console.print(f"{len(left)} candidates fit in none of these passes ({size})")
    if request is None:
        written = f" ({request_out} not written)" if request_out else ""
        console.print(
            "no DOWNLINK_REQUEST for pass 0: the catalogue holds no store directory yet, and "
            f"without a request the satellite sends its store in priority order{written}"
        )
        return
    where = f" -> {request_out}" if request_out else " (not written: --request-out FILE)"
    rest = (
        ", then the rest of the store in priority order"
        if first.then_rest
        else ", the plan only (--exact)"
    )
    console.print(
        f"DOWNLINK_REQUEST for pass 0: {first.request_entries} entries{rest}, "
        f"{len(request)} bytes{where}"
    )


def register(app: typer.Typer) -> None:
    app.command("plan")(plan)
