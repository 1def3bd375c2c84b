"""``triage bench engine``: memory, code size and instruction counts of the
int8 engine on one model, against TensorFlow Lite Micro's arena."""

from __future__ import annotations

import json

import typer


def engine(
    model: str = typer.Option(
        "auto",
        help="auto (the shipped classifier if present, else the representative CNN),"
        " shipped, repcnn, or a .tflite path.",
    ),
    inputs: int = typer.Option(16, min=1, help="Inferences run on the Cortex-M4 image."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Benchmark the engine: arena vs TFLM, instructions per inference on the Cortex-M4."""
    from triage.engine.bench import run_bench
    from triage.errors import TriageError

    try:
        res = run_bench(model, inputs)
    except TriageError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    if as_json:
        typer.echo(json.dumps(res, indent=2))
        return
    for k, v in res.items():
        typer.echo(f"{k:42s} {v}")


def register(app: typer.Typer) -> None:
    app.command("engine")(engine)
