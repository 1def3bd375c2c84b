"""Export of the shipped model: the config header and the engine's C for the ``.tflite``."""

from __future__ import annotations

from pathlib import Path

from triage_models import paths
from triage_models.header import write_header

TFLITE_NAME = "classifier.tflite"


def export(out_dir: Path | None = None, tflite_path: Path | None = None) -> list[Path]:
    """Write ``triage_config.h`` and, through the engine's exporter
    (``triage.engine.export.export_model``), the model's C sources
    ``classifier_model.{c,h}`` that the firmware compiles in.

    Returns the paths written.
    """
    out_dir = Path(out_dir or paths.shipped_dir())
    tflite_path = Path(tflite_path or out_dir / TFLITE_NAME)
    written = [write_header(out_dir, tflite_path=tflite_path)]
    if tflite_path.exists():
        from triage.engine.export import export_model

        report = export_model(tflite_path.read_bytes(), out_dir, name="classifier")
        written.extend(Path(p) for p in report.files)
    return written
