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
    with_stream: bool = typer.Option(
        True,
        "--stream/--no-stream",
        help="Also run the streaming executor: the representative cell network over a"
        " 1024 x 1024 frame on the Cortex-M4 image (key `stream`).",
    ),
) -> None:
    """Benchmark the engine: arena vs TFLM, instructions per inference and per layer on the
    Cortex-M4 (reference and DSP kernels)."""

    try:
        res = run_bench(model, inputs, clock_mhz, with_stream)
    except TriageError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    if as_json:
        typer.echo(json.dumps(res, indent=2))
        return
    for k, v in res.items():
        if k in ("layers", "stream"):
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
    if "stream" in res:
        st = res["stream"]
        typer.echo("")
        for k, v in st.items():
            if k != "layers":
                typer.echo(f"stream.{k:35s} {v}")
        typer.echo(f"{'layer':>5s} {'op':18s} {'MACs':>11s} {'insns':>11s} {'/MAC':>6s}")
        for row in st["layers"]:
            per = f"{row['insns_per_mac']:6.2f}" if row["insns_per_mac"] is not None else "     -"
            typer.echo(
                f"{row['layer']:5d} {row['op']:18s} {row['macs']:11d} {row['insns']:11d} {per}"
            )


def register(app: typer.Typer) -> None:
    app.command("engine")(engine)
