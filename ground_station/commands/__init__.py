"""Subcommands of the ``groundstation`` CLI, one module per subcommand.

Each module in :data:`COMMANDS` exposes ``register(app)``. Modules import
heavy dependencies (rasterio, skyfield) inside their functions, so that
``groundstation --help`` stays fast. The real work is in the library
modules (:mod:`ground_station.ingest`, ``.export``, ``.plan``, ``.status``,
``.bench``); commands only parse options and print.
"""

from __future__ import annotations

import importlib

import typer

COMMANDS: list[str] = [
    "ingest",
    "receive",
    "export",
    "plan",
    "request",
    "passes",
    "status",
    "bench",
    "uplink",
]


def register_all(app: typer.Typer) -> None:
    for name in COMMANDS:
        importlib.import_module(f"ground_station.commands.{name}").register(app)
