"""``triage sweep SPEC --out DIR``: a trade study, every point a simulation, on Dask."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from triage.sim.sweep import run_sweep

EXIT_POINTS_FAILED = 3


def sweep(
    spec: Path = typer.Argument(..., help="sweep spec (JSON; see triage/sim/sweep.py)"),
    out: Path = typer.Option(..., "--out", help="output folder (created; must be empty)"),
    workers: int = typer.Option(2, "--workers", min=1, max=256, help="local cluster workers"),
    scheduler: str | None = typer.Option(
        None, "--scheduler", help="address of an existing Dask scheduler (tcp://host:8786)"
    ),
    serial: bool = typer.Option(False, "--serial", help="run the points one by one, no Dask"),
    classifiers: Path | None = typer.Option(
        None, "--classifiers", help="classifier registry (default: models/classifiers.json)"
    ),
    table_format: str = typer.Option(
        "csv", "--format", help="results table: csv (results.csv) or parquet (results.parquet)"
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace a non-empty --out"),
    quiet: bool = typer.Option(False, "--quiet", help="no progress"),
    print_json: bool = typer.Option(False, "--json", help="print the summary as JSON"),
) -> None:
    """Run every point of a sweep spec (a local Dask cluster by default) and write one table
    and a report with the Pareto front, latency against link rate and cloud against
    reduction."""

    def progress(done: int, total: int) -> None:
        if not quiet:
            typer.echo(f"  {done}/{total} points", err=True)

    summary = run_sweep(
        spec,
        out,
        workers=workers,
        scheduler=scheduler,
        serial=serial,
        overwrite=overwrite,
        registry=classifiers,
        progress=progress,
        table_format=table_format,
    )
    if print_json:
        typer.echo(json.dumps(summary, indent=1))
    else:
        typer.echo(
            f"{summary['points']} points in {summary['wall_s']} s "
            f"({summary['points_per_minute']} points/min, {summary['frames_per_s']} frames/s, "
            f"{summary['mode']})"
        )
        typer.echo(f"results: {Path(out) / summary['table']}")
        typer.echo(f"report: {Path(out) / 'report.html'}")
    if summary["failed"]:
        names = ", ".join(f"{f['point']} ({f['error']})" for f in summary["failed"])
        typer.echo(f"triage: {len(summary['failed'])} point(s) failed: {names}", err=True)
        raise typer.Exit(EXIT_POINTS_FAILED)


def register(app: typer.Typer) -> None:
    app.command("sweep")(sweep)
