"""``groundstation export``: GeoTIFF crops, mosaics, PNG previews, detections.geojson."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ground_station.commands._common import DbOption, JsonOption, print_json
from ground_station.export import export_products


def export(
    db: DbOption = Path("catalogue.sqlite"),
    out: Annotated[
        Path, typer.Option("--out", help="Output folder (created if needed).", file_okay=False)
    ] = Path("export"),
    frame: Annotated[
        list[int] | None, typer.Option("--frame", help="Export only this frame id (repeatable).")
    ] = None,
    attribution: Annotated[
        str | None,
        typer.Option(
            help="Attribution written into every output (default: the Copernicus one; '' for none)."
        ),
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Export ship crops (GeoTIFF), per-frame mosaics (GeoTIFF + PNG) and detections.geojson.

    Crops and mosaics are in the scene's CRS; every output carries the attribution.
    """

    rep = export_products(db, out, attribution=attribution, frame_ids=frame)
    if json_out:
        print_json(rep.to_json())
        return
    typer.echo(
        f"{len(rep.frames)} frames, {len(rep.crops)} crops, {rep.n_detections} detections "
        f"-> {out} ({rep.elapsed_s:.2f} s, {rep.megapixels:.2f} Mpx)"
    )
    for s in rep.skipped:
        typer.echo(f"  skipped: {s}")


def register(app: typer.Typer) -> None:
    app.command("export")(export)
