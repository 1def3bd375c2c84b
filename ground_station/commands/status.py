"""``groundstation status``: what the catalogue holds and what is missing."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ground_station.commands._common import DbOption, JsonOption, human_bytes, print_json
from ground_station.status import catalogue_status


def status(
    db: DbOption = Path("catalogue.sqlite"),
    limit: Annotated[
        int, typer.Option(min=0, help="List at most this many incomplete products.")
    ] = 20,
    json_out: JsonOption = False,
) -> None:
    """Frames, products complete/incomplete/invalid, bytes received, missing segments."""

    s = catalogue_status(db, list_incomplete=limit)
    if json_out:
        print_json(s)
        return
    p = s["products"]
    typer.echo(f"catalogue {s['catalogue']}")
    typer.echo(
        f"frames: {s['frames']}   products: {p['complete']} complete, "
        f"{p['incomplete']} incomplete, {p['invalid']} invalid"
    )
    typer.echo(
        f"received: {s['segments_received']} segments, {human_bytes(s['bytes_received'])}; "
        f"missing: {s['missing_segments']} segments"
    )
    for name, counts in sorted(s["products"]["by_type"].items()):
        typer.echo(f"  {name:16s} " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
    d = s["store_directory"]
    if d:
        typer.echo(
            f"latest store directory: #{d['product_id']} at {d['time']}, {d['entries']} products "
            f"({human_bytes(d['bytes_on_board'])}) on board"
        )
    else:
        typer.echo("no store directory received yet")
    ms = s["model_status"]
    if ms:
        refused = ", ".join(f"{k} {v}" for k, v in ms["refusals"].items()) or "none"
        typer.echo(
            f"model status (boot {ms['boot_count']}): model {ms['active_model_id']} active"
            f"{' on trial' if ms['trial'] else ''}, {ms['accepted']} accepted, "
            f"{ms['commits']} committed, {ms['fallbacks']} fallbacks; refusals: {refused}"
        )
    for m in s["models"]:
        typer.echo(
            f"model {m['model_id']} (.tflite sha256 {m['model_sha256'][:16]}...) classified "
            f"{m['frames']} frames, {m['products']} products"
        )
    for u in s["model_uplinks"]:
        typer.echo(f"uplinked: {u['kind']} model {u['model_id']}, key {u['key_id']}, "
                   f"sequence {u['arsn']} ({u['created']})")  # fmt: skip
    for row in s["incomplete"]:
        ranges = ", ".join(f"{a}-{b}" if a != b else f"{a}" for a, b in row["missing"])
        typer.echo(
            f"  incomplete {row['frame_id']}/{row['product_id']} {row['product_type']} "
            f"{row['segments']}: missing {ranges}"
        )
    for row in s["invalid"]:
        if row["given_up"]:
            state = f"given up, released on board: {row['given_up']}"
        elif row["failure"] in ("crc", None):
            state = f"asked for again {row['rebuilds']} times so far"
        elif row["failure"] == "frame":
            state = "kept on board for an operator"
        else:
            state = "released on board: its CRC-32 passes, asking again would not help"
        typer.echo(f"  invalid {row['frame_id']}/{row['product_id']}: {row['reason']} ({state})")


def register(app: typer.Typer) -> None:
    app.command("status")(status)
