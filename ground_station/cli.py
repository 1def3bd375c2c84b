"""The ``groundstation`` command line: a thin layer over the library."""

from __future__ import annotations

import sys

import typer

from ground_station import __version__
from ground_station.errors import GroundStationError

EXIT_ERROR = 1

app = typer.Typer(
    help="Ground segment: ingest CCSDS packet streams, export products, plan passes.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(f"groundstation {__version__}")


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except GroundStationError as exc:
        typer.echo(f"groundstation: error: {exc}", err=True)
        sys.exit(EXIT_ERROR)
