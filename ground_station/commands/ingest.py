"""``groundstation ingest``: packet streams into the catalogue."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ground_station.commands._common import DbOption, JsonOption, human_bytes, print_json
from ground_station.commands._link import (
    DEFAULT_SPACECRAFT_ID,
    DecodeOption,
    FormatOption,
    SpacecraftOption,
    check_format,
    check_refusals,
    link_lines,
)
from ground_station.errors import ContradictionError
from ground_station.ingest import ingest_files


def ingest(
    streams: Annotated[
        list[Path],
        typer.Argument(
            help="Stream files (space packets, CADUs, transfer frames or KISS: --format); "
            "'-' reads stdin."
        ),
    ],
    db: DbOption = Path("catalogue.sqlite"),
    json_out: JsonOption = False,
    progress: Annotated[
        bool,
        typer.Option(
            "--progress/--no-progress",
            help="Progress bar on stderr (default: when stderr is a terminal).",
        ),
    ] = sys.stderr.isatty(),
    chunk_mib: Annotated[
        int, typer.Option(min=1, max=1024, help="MiB read per batch (one transaction each).")
    ] = 8,
    input_format: FormatOption = "auto",
    spacecraft_id: SpacecraftOption = DEFAULT_SPACECRAFT_ID,
    decode_streams: DecodeOption = False,
) -> None:
    """Deframe, check, deduplicate, reassemble and decode packet streams into the catalogue.

    Each file is an independent stream. Ingesting the same stream again changes
    nothing; a run killed at any moment loses nothing already committed and a
    rerun completes it. Exit code 3 when the input holds no valid packet.
    """

    fmt = check_format(input_format)
    chunk = chunk_mib << 20
    paths = [Path("/dev/stdin") if str(p) == "-" else p for p in streams]
    total = sum(p.stat().st_size for p in paths if p.is_file() and str(p) != "/dev/stdin")
    if progress and not json_out:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        bar = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            DownloadColumn(binary_units=False),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        with bar:
            task = bar.add_task("ingest", total=total or None)
            stats = ingest_files(
                db,
                paths,
                chunk_bytes=chunk,
                progress=lambda n: bar.advance(task, n),
                input_format=fmt,
                spacecraft_id=spacecraft_id,
                decode_streams=decode_streams,
            )
    else:
        stats = ingest_files(
            db,
            paths,
            chunk_bytes=chunk,
            input_format=fmt,
            spacecraft_id=spacecraft_id,
            decode_streams=decode_streams,
        )
    d = stats.deframe
    if json_out:
        print_json({"catalogue": str(db), "streams": [str(p) for p in streams], **stats.as_dict()})
    else:
        rate = stats.input_bytes / stats.elapsed_s / 1e6 if stats.elapsed_s else 0.0
        typer.echo(
            f"{human_bytes(stats.input_bytes)} in {stats.elapsed_s:.2f} s ({rate:.1f} MB/s): "
            f"{d.packets} packets, {stats.new_segments} new segments, "
            f"{stats.duplicates} duplicates, {d.idle_packets} idle"
        )
        typer.echo(
            f"rejected: {d.crc_errors} CRC errors, {sum(stats.malformed.values())} malformed"
            f"{' ' + str(stats.malformed) if stats.malformed else ''}, "
            f"{stats.conflicts} conflicting, {d.skipped_bytes} bytes skipped "
            f"({d.resyncs} resyncs)"
        )
        typer.echo(
            f"sequence counts: {stats.sequence_gaps} breaks, about "
            f"{stats.packets_lost_estimate} packets lost on the link"
        )
        typer.echo(
            f"products: {stats.products_new} new, {stats.products_completed} completed, "
            f"{stats.products_invalid} invalid, {stats.products_mended} mended from other "
            f"copies of their segments, {stats.products_repaired} repaired"
        )
        for reason in stats.invalid_reasons[:10]:
            typer.echo(f"  invalid: {reason}")
        for line in link_lines(stats, spacecraft_id):
            typer.echo(line)
    if stats.products_contradicting:
        raise ContradictionError(
            f"{stats.products_contradicting} products contradict the frames the catalogue "
            "holds under their frame ids (a frame id used twice on board, or another "
            "spacecraft sending under this one's id?): refused, not exported; the rest of the "
            "input is ingested"
        )
    check_refusals(stats, spacecraft_id)


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)
