"""The ``groundstation`` command line: a thin layer over the library.

Subcommands live one per module in :mod:`ground_station.commands`. Errors
derived from :class:`ground_station.errors.GroundStationError` or the
contract's :class:`~triage.contract.errors.ContractError` (and file system
errors) become one line on stderr, ``groundstation: error: ...``, and
the exit code of the error class:

    0 success, 1 bad input, 2 usage, 3 no valid packet in the input,
    4 no contact window, 5 catalogue unusable, 6 products contradicting the catalogue
    (another spacecraft's stream?), 130 interrupted.
"""

from __future__ import annotations

import sys

import typer

from ground_station import __version__
from ground_station.commands import register_all
from ground_station.errors import EXIT_ERROR, GroundStationError
from triage.contract.errors import ContractError

app = typer.Typer(
    help="Ground segment: ingest CCSDS packet streams, export georeferenced products, "
    "plan passes. Exit codes: 0 ok, 1 bad input, 2 usage, 3 no valid packet, "
    "4 no contact window, 5 catalogue unusable, 6 products contradict the catalogue.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(f"groundstation {__version__}")


register_all(app)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except GroundStationError as exc:
        typer.echo(f"groundstation: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except ContractError as exc:
        typer.echo(f"groundstation: error: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    except OSError as exc:
        typer.echo(f"groundstation: error: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    except KeyboardInterrupt:
        typer.echo("groundstation: interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
