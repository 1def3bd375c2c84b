"""``groundstation export``: COG crops, mosaics, quicklooks and class maps, georeferenced PNG
previews, detections (GeoJSON, GeoPackage) and the STAC catalogue."""

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
    mission: Annotated[
        str | None,
        typer.Option(
            help="Mission name: the STAC collection and its folder (default orbital-triage). "
            "A folder holds one mission's products."
        ),
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Export Cloud-Optimized GeoTIFFs (ship crops, per-frame mosaics, quicklooks, class
    maps), georeferenced PNG previews, detections.geojson (RFC 7946) and detections.gpkg,
    and the STAC catalogue (catalog.json).

    Rasters are in the frame's CRS; every output carries the attribution. With --frame
    only those frames' rasters are written, and the detections and STAC catalogue are
    brought up to date with every frame in the folder (nothing is dropped).
    """

    rep = export_products(db, out, attribution=attribution, frame_ids=frame, mission=mission)
    if json_out:
        print_json(rep.to_json())
        return
    typer.echo(
        f"{len(rep.frames)} frames, {len(rep.crops)} crops -> {out} "
        f"({rep.elapsed_s:.2f} s, {rep.megapixels:.2f} Mpx); {rep.n_detections} detections "
        f"and {rep.stac_items} STAC items in the folder"
    )
    for s in rep.skipped:
        typer.echo(f"  skipped: {s}")


def register(app: typer.Typer) -> None:
    app.command("export")(export)
