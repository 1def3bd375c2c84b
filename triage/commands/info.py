"""``triage info``: version and where data and firmware are looked for."""

from __future__ import annotations

import typer

from triage import __version__, paths


def info() -> None:
    """Print the version and where the data and the firmware build are looked for."""
    typer.echo(f"triage {__version__}")
    data = paths.data_dir()
    typer.echo(f"data dir:  {data} ({'present' if data.exists() else 'absent'})")
    typer.echo(f"build dir: {paths.build_dir()}")


def register(app: typer.Typer) -> None:
    app.command("info")(info)
