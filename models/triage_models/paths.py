"""Where the model package keeps its files: the shipped artifacts (the contract's
:mod:`triage.contract.paths` knows where they are) and its caches."""

from __future__ import annotations

import os
from pathlib import Path

from triage.contract.paths import models_dir, shipped_dir, tile_spec_path

CACHE_ENV = "TRIAGE_MODEL_CACHE"

__all__ = ["CACHE_ENV", "cache_dir", "models_dir", "shipped_dir", "tile_spec_path"]


def cache_dir() -> Path:
    """Large, never committed files (built dataset, checkpoints).

    ``$TRIAGE_MODEL_CACHE``, else ``~/.cache/orbital-triage/models``.
    """
    env = os.environ.get(CACHE_ENV)
    base = Path(env).expanduser() if env else Path.home() / ".cache" / "orbital-triage" / "models"
    base.mkdir(parents=True, exist_ok=True)
    return base
