"""``triage bench downlink``: the firmware's own downlink of the port scenes as stream
files (bare packets and CADUs) for ``groundstation bench --link-streams``."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from triage.errors import TriageError
from triage.onboard.downlink_stream import write_streams


def downlink(
    out: Path = typer.Option(..., "--out", help="Folder for downlink.{packets,cadu,json}."),
    megabytes: float = typer.Option(64.0, min=1.0, max=4096.0, help="Size of the streams (MB)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Write the firmware's downlink of the sen2ships ports (host build, shipped model) as
    packets and as CADUs (the firmware's link layer)."""
    try:
        doc = write_streams(out, megabytes)
    except TriageError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(json.dumps(doc, indent=2) if as_json else f"wrote {out}: {doc}")


def register(app: typer.Typer) -> None:
    app.command("downlink")(downlink)
