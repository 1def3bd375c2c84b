"""``triage generate``: write (or ``--check``) every generated file of the repository."""

from __future__ import annotations

import typer

from triage import generate as gen


def generate(
    check: bool = typer.Option(False, "--check", help="Exit 1 naming each stale file."),
) -> None:
    """Regenerate the contract's C headers and sources, triage_config.h, WIRE_FORMAT.md and
    the shipped classifier's C (make generate / make check-generated)."""
    code = gen.main(["--check"] if check else [])
    if code:
        raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command("generate")(generate)
