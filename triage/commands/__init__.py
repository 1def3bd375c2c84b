"""Subcommands of the ``triage`` CLI, one module per subcommand.

Each module listed in :data:`COMMANDS` exposes ``register(app)``, which adds
its command (or sub-typer) to the root app; bench modules listed in
:data:`BENCH_COMMANDS` add theirs to the ``triage bench`` group. Modules
import heavy dependencies (TensorFlow, rasterio) inside their functions, so
that ``triage --help`` stays fast.
"""

from __future__ import annotations

import importlib

import typer

COMMANDS: list[str] = ["info", "demo", "generate", "model", "simulate", "sweep", "screenshot"]
BENCH_COMMANDS: list[str] = [
    "bench_engine",
    "bench_replay",
    "bench_onboard",
    "bench_downlink",
    "bench_package",
]


def register_all(app: typer.Typer) -> None:
    """Attach every subcommand module to the root app."""
    for name in COMMANDS:
        importlib.import_module(f"triage.commands.{name}").register(app)
    if BENCH_COMMANDS:
        bench = typer.Typer(help="Benchmarks (JSON on stdout with --json).", no_args_is_help=True)
        for name in BENCH_COMMANDS:
            importlib.import_module(f"triage.commands.{name}").register(bench)
        app.add_typer(bench, name="bench")
