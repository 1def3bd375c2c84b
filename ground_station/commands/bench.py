"""``groundstation bench``: ingest throughput and export time on this machine."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ground_station.bench import run_bench, run_link_bench
from ground_station.commands._common import JsonOption, print_json
from ground_station.commands._orbit import finite
from ground_station.errors import InputError

MAX_MEGABYTES = 65536.0
"""The largest bench stream (MB): four 15 GB passes."""


def bench(
    megabytes: Annotated[
        float,
        typer.Option(min=1.0, help="Size of the packet stream to ingest, in MB."),
    ] = 256.0,
    workdir: Annotated[
        Path | None, typer.Option(help="Folder for the temporary stream and catalogue.")
    ] = None,
    json_out: JsonOption = False,
    link_streams: Annotated[
        Path | None,
        typer.Option(
            help="Also ingest the firmware's own downlink from this folder (made by `triage "
            "bench downlink --out DIR`): bare packets, and CADUs clean and at stated bit "
            "error rates; figures under the key 'link'.",
        ),
    ] = None,
) -> None:
    """Measure ingest MB/s and packets/s, and export seconds per megapixel.

    Builds a packet stream, ingests it into a fresh catalogue (then again: all
    duplicates) and exports a sample of its frames.
    """

    finite(megabytes, "--megabytes")
    if megabytes > MAX_MEGABYTES:
        raise InputError(
            f"--megabytes {megabytes:g}: at most {MAX_MEGABYTES:g} (four 15 GB passes)"
        )
    r = run_bench(megabytes, workdir)
    if link_streams is not None:
        r["link"] = run_link_bench(link_streams, workdir)
    if json_out:
        print_json(r)
        return
    i, e = r["ingest"], r["export"]
    s = r["stream"]
    typer.echo(f"stream: {s['stream_bytes'] / 1e6:.1f} MB, {s['packets']} packets, {s['imagery']}")
    typer.echo(
        f"ingest: {i['mb_per_s']} MB/s, {i['packets_per_s']:.0f} packets/s "
        f"(target 50 MB/s: {'met' if i['meets_target'] else 'NOT met'}); "
        f"15 GB pass in {i['projected_15gb_pass_s']} s"
    )
    typer.echo(f"re-ingest (all duplicates): {r['reingest_duplicates']['mb_per_s']} MB/s")
    typer.echo(f"export: {e['seconds_per_megapixel']} s/Mpx ({e['megapixels']} Mpx)")
    for name, f in r.get("link", {}).items():
        if isinstance(f, dict) and "mb_per_s" in f:
            typer.echo(f"firmware downlink, {name}: {f['mb_per_s']} MB/s")


def register(app: typer.Typer) -> None:
    app.command("bench")(bench)
