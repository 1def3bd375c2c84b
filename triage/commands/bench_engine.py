"""``triage bench engine``: memory, code size and instruction counts of the
int8 engine on one model, against TensorFlow Lite Micro's arena; the
reference and the Cortex-M4 DSP kernel sets side by side, layer by layer."""

from __future__ import annotations

import json

import typer

from triage.engine.bench import run_bench
from triage.errors import TriageError


def engine(
    model: str = typer.Option(
        "auto",
        help="auto (the shipped classifier if present, else the representative CNN),"
        " shipped, repcnn, or a .tflite path.",
    ),
    inputs: int = typer.Option(16, min=1, help="Inferences run on the Cortex-M4 image."),
    clock_mhz: float = typer.Option(
        120.0,
        "--clock-mhz",
        min=0.001,
        help="Core clock for the times (MHz; one instruction per cycle assumed).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Benchmark the engine: arena vs TFLM, instructions per inference and per layer on the
    Cortex-M4 (reference and DSP kernels)."""

    try:
        res = run_bench(model, inputs, clock_mhz)
    except TriageError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    if as_json:
        typer.echo(json.dumps(res, indent=2))
        return
    for k, v in res.items():
        if k == "layers":
            continue
        typer.echo(f"{k:42s} {v}")
    typer.echo("")
    typer.echo(
        f"{'step':>4s} {'op':18s} {'MACs':>7s} {'ref insns':>10s} {'/MAC':>6s}"
        f" {'dsp insns':>10s} {'/MAC':>6s} {'speed-up':>8s}"
    )
    for row in res["layers"]:

        def num(v, w, fmt):
            return f"{v:{w}{fmt}}" if v is not None else " " * (w - 1) + "-"

        typer.echo(
            f"{row['step']:4d} {row['op']:18s} {row['macs']:7d}"
            f" {num(row['insns_ref'], 10, 'd')} {num(row['insns_per_mac_ref'], 6, '.2f')}"
            f" {num(row['insns_dsp'], 10, 'd')} {num(row['insns_per_mac_dsp'], 6, '.2f')}"
            f" {num(row.get('speedup'), 8, '.2f')}"
        )


def register(app: typer.Typer) -> None:
    app.command("engine")(engine)
