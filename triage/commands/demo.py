"""``triage demo``: the end-to-end demo (host simulator over an image set)."""

from __future__ import annotations

import typer

EXIT_NOT_AVAILABLE = 3


def demo() -> None:
    """Run the end-to-end demo (the host simulator over the real or synthetic image set)."""
    typer.echo(
        "triage demo: not available yet. The end-to-end demo needs the host simulator "
        "(`triage simulate`, issue #7), which is not implemented in this checkout; "
        "nothing was run.",
        err=True,
    )
    raise typer.Exit(EXIT_NOT_AVAILABLE)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
