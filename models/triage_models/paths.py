"""Where the model package keeps its files: the spec, the shipped artifacts, its caches."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "TRIAGE_MODEL_CACHE"


def models_dir() -> Path:
    """The ``models/`` folder of the checkout (holds ``tile_spec.json`` and ``shipped/``)."""
    return Path(__file__).resolve().parent.parent


def tile_spec_path() -> Path:
    return models_dir() / "tile_spec.json"


def shipped_dir() -> Path:
    """The shipped, committed artifacts: ``.tflite``, C export, policy, header."""
    return models_dir() / "shipped"


def cache_dir() -> Path:
    """Large, never committed files (built dataset, checkpoints).

    ``$TRIAGE_MODEL_CACHE``, else ``~/.cache/orbital-triage/models``.
    """
    env = os.environ.get(CACHE_ENV)
    base = Path(env).expanduser() if env else Path.home() / ".cache" / "orbital-triage" / "models"
    base.mkdir(parents=True, exist_ok=True)
    return base
