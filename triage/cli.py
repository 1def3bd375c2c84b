"""The ``triage`` command line: a thin layer over the library.

Subcommands live one per module in :mod:`triage.commands`; each parses its
options and calls plain functions. Errors derived from
:class:`triage.errors.TriageError` (or from the root of a package it drives: the
contract, ``triage_models``, the ground station) become one line on stderr and exit
code 1.
"""

from __future__ import annotations

import sys

import typer
from triage_models.errors import ModelBuildError

from ground_station.errors import GroundStationError
from triage.commands import register_all
from triage.contract.errors import ContractError
from triage.errors import TriageError

# The roots of the packages this CLI drives: each becomes one line and exit code 1.
HANDLED_ERRORS = (TriageError, ContractError, ModelBuildError, GroundStationError)

EXIT_ERROR = 1

app = typer.Typer(
    help="On-board tile triage: models, firmware, simulation and benchmarks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
register_all(app)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except HANDLED_ERRORS as exc:
        typer.echo(f"triage: error: {exc}", err=True)
        sys.exit(EXIT_ERROR)
