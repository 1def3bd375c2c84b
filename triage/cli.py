"""The ``triage`` command line: a thin layer over the library.

Each subcommand parses its options and calls plain functions; errors derived
from :class:`triage.errors.TriageError` become one line on stderr and a
non-zero exit code.
"""

from __future__ import annotations

import sys

import typer

from triage import __version__, paths
from triage.errors import TriageError

EXIT_ERROR = 1
EXIT_NOT_AVAILABLE = 3

app = typer.Typer(
    help="On-board tile triage: models, firmware, simulation and benchmarks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.command()
def info() -> None:
    """Print the version and where the data and the firmware build are looked for."""
    typer.echo(f"triage {__version__}")
    data = paths.data_dir()
    typer.echo(f"data dir:  {data} ({'present' if data.exists() else 'absent'})")
    typer.echo(f"build dir: {paths.build_dir()}")


@app.command()
def demo() -> None:
    """Run the end-to-end demo (the host simulator over the real or synthetic image set)."""
    typer.echo(
        "triage demo: not available yet. The end-to-end demo needs the host simulator "
        "(`triage simulate`, issue #7), which is not implemented in this checkout; "
        "nothing was run.",
        err=True,
    )
    raise typer.Exit(EXIT_NOT_AVAILABLE)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except TriageError as exc:
        typer.echo(f"triage: error: {exc}", err=True)
        sys.exit(EXIT_ERROR)
