"""``triage bench onboard``: the flight image on the real port scenes under QEMU
(instructions per megapixel in total and by stage, memory, products, bytes in and out,
compression)."""

from __future__ import annotations

import json

import typer

from triage.errors import TriageError
from triage.onboard.bench import run_bench


def onboard(
    port: str = typer.Option(
        "all", help="sen2ships port scene to process, or all (every port of the imagery)."
    ),
    check_host: bool = typer.Option(
        True, help="Also run the host build and check it gives the same bytes."
    ),
    clock_mhz: float = typer.Option(
        120.0,
        "--clock-mhz",
        min=0.001,
        help="Core clock for the times (MHz; one instruction per cycle assumed).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Benchmark the on-board application on the Cortex-M4 image (QEMU)."""

    try:
        res = run_bench(port, check_host=check_host, clock_mhz=clock_mhz)
    except TriageError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    if as_json:
        typer.echo(json.dumps(res, indent=2))
        return
    for k, v in res.items():
        typer.echo(f"{k:24s} {v}")


def register(app: typer.Typer) -> None:
    app.command("onboard")(onboard)
