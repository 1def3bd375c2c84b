"""``triage bench package``: instructions per inference of a model package bound at run time
on the flight image against the same model compiled in (the representative cell network over
a 1024 x 1024 frame, QEMU ``-icount shift=0``)."""

from __future__ import annotations

import json

import typer

from triage.errors import TriageError
from triage.onboard.package_bench import run_package_bench


def package_cmd(
    clock_mhz: float = typer.Option(
        120.0, "--clock-mhz", min=0.001, help="Core clock for the times (MHz)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Benchmark a bound model package against the compiled-in model on the Cortex-M4."""
    try:
        res = run_package_bench(clock_mhz)
    except TriageError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    if as_json:
        typer.echo(json.dumps(res, indent=2))
        return
    for k, v in res.items():
        typer.echo(f"{k:32s} {v}")


def register(app: typer.Typer) -> None:
    app.command("package")(package_cmd)
