"""``groundstation receive``: a live UDP or TCP input into the catalogue."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ground_station.commands._common import DbOption, JsonOption, print_json
from ground_station.commands._link import (
    DEFAULT_SPACECRAFT_ID,
    DecodeOption,
    FormatOption,
    SpacecraftOption,
    check_format,
    check_refusals,
    link_lines,
)
from ground_station.ingest import ingest_chunks
from ground_station.receive import socket_chunks


def receive(
    address: Annotated[
        str,
        typer.Argument(help="Where to listen: udp://HOST:PORT (datagrams) or tcp://HOST:PORT."),
    ],
    db: DbOption = Path("catalogue.sqlite"),
    input_format: FormatOption = "cadu",
    spacecraft_id: SpacecraftOption = DEFAULT_SPACECRAFT_ID,
    decode_streams: DecodeOption = False,
    idle_timeout: Annotated[
        float, typer.Option(min=0.1, help="Stop after this many seconds without data.")
    ] = 30.0,
    max_seconds: Annotated[
        float | None, typer.Option(min=0.1, help="Stop after this many seconds in any case.")
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Listen on a local address and ingest what arrives as it arrives (whole packets are
    committed about every half second), until the input is idle, the TCP sender closes, or
    --max-seconds. Same checks and counts as `ingest`; exit code 3 when nothing valid came.
    """
    fmt = check_format(input_format)
    chunks = socket_chunks(address, idle_timeout_s=idle_timeout, max_seconds=max_seconds)
    stats = ingest_chunks(
        db,
        address,
        chunks,
        input_format=fmt,
        spacecraft_id=spacecraft_id,
        decode_streams=decode_streams,
    )
    if json_out:
        print_json({"catalogue": str(db), "address": address, **stats.as_dict()})
    else:
        d = stats.deframe
        typer.echo(
            f"{address}: {stats.input_bytes} bytes, {d.packets} packets, "
            f"{stats.new_segments} new segments, {stats.products_completed} products completed"
        )
        for line in link_lines(stats, spacecraft_id):
            typer.echo(line)
    check_refusals(stats, spacecraft_id)


def register(app: typer.Typer) -> None:
    app.command("receive")(receive)
