"""``groundstation request``: what DOWNLINK_REQUEST files asked the satellite for."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ground_station.commands._common import JsonOption, print_json
from ground_station.requests import name_products, read_request

REST_TEXT = "then every segment never sent, in the store's priority order"


def _product(r: dict) -> str:
    got = r.get("product", "")
    if got is None:
        return "not in the catalogue"
    if not got:
        return ""
    held = got["on_the_ground"]
    if held == "incomplete":
        held = f"incomplete ({got['segments_received']}/{got['segments']} segments)"
    n = got["segments"]
    return f"{got['type']}, {n} segment{'' if n == 1 else 's'}; on the ground: {held}"


def request(
    files: Annotated[
        list[Path],
        typer.Argument(help="DOWNLINK_REQUEST files (plan --request-out, kept streams)."),
    ],
    db: Annotated[
        Path | None,
        typer.Option(
            "--db",
            help="Name each entry's product from this catalogue (its type, segments and "
            "what the ground holds of it).",
            dir_okay=False,
        ),
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Decode DOWNLINK_REQUEST telecommands: each entry, what the satellite does with it
    (SEND, RELEASE, REST; entries it refuses are marked), and the segments asked for."""
    docs = [read_request(f) for f in files]
    if db is not None:
        docs = [name_products(d, db) for d in docs]
    if json_out:
        print_json({"requests": docs})
        return
    for d in docs:
        n = len(d["entries"])
        typer.echo(
            f"{d['file']}: DOWNLINK_REQUEST, sequence count {d['sequence_count']}, "
            f"{n} entr{'y' if n == 1 else 'ies'} ({d['bytes']} bytes); "
            f"{d['segments_asked']} segments asked for"
            + (", then the rest of the store" if d["then_rest"] else "")
        )
        for i, r in enumerate(d["entries"], 1):
            if r["action"] == "REST" and r["refused"] is None:
                line = REST_TEXT
            else:
                line = f"{r['action']:8s} {r['frame_id']}/{r['product_id']}"
                if r["action"] == "SEND":
                    a, b = r["segment_first"], r["segment_last"]
                    line += f"  segment {a}" if a == b else f"  segments {a}-{b}"
                named = _product(r)
                if named:
                    line += f"  ({named})"
            if r["refused"]:
                line += f"  REFUSED on board: {r['refused']}"
            typer.echo(f"  {i:3d}  {line}")


def register(app: typer.Typer) -> None:
    app.command("request")(request)
