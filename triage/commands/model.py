"""``triage model``: build the dataset, train, evaluate and export the on-board classifier.

A thin layer over :mod:`triage_models`; TensorFlow and rasterio are imported
inside the functions so that ``triage --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import typer

model_app = typer.Typer(
    help="The on-board tile classifier: dataset, training, evaluation, export.",
    no_args_is_help=True,
)


@model_app.command("export")
def export(
    out_dir: Path | None = typer.Option(
        None, help="Folder to write into (default: models/shipped)."
    ),
    tflite: Path | None = typer.Option(
        None, help="The int8 model to export (default: <out_dir>/classifier.tflite)."
    ),
) -> None:
    """Write triage_config.h (and the engine's C for the model, when available)."""
    from triage_models import export as export_mod

    written = export_mod.export(out_dir=out_dir, tflite_path=tflite)
    for path in written:
        typer.echo(str(path))


def register(app: typer.Typer) -> None:
    app.add_typer(model_app, name="model")
