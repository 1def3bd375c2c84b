"""Where the satellite side's files are: the firmware build, and (from the contract) the
repository and the imagery.

The imagery lives outside the repository (``../shared/data`` next to the
checkout by default) and is never committed; ``TRIAGE_DATA_DIR`` overrides
its location (:mod:`triage.contract.paths`). ``TRIAGE_BUILD_DIR`` overrides
where the firmware is built.
"""

from __future__ import annotations

import os
from pathlib import Path

from triage.contract.paths import (
    COPERNICUS_ATTRIBUTION,
    DATA_DIR_ENV,
    data_dir,
    repo_root,
    require_data_dir,
)
from triage.errors import FirmwareError

BUILD_DIR_ENV = "TRIAGE_BUILD_DIR"

__all__ = [
    "BUILD_DIR_ENV",
    "COPERNICUS_ATTRIBUTION",
    "DATA_DIR_ENV",
    "build_dir",
    "data_dir",
    "repo_root",
    "require_built",
    "require_data_dir",
]


def build_dir() -> Path:
    """Firmware build output: ``$TRIAGE_BUILD_DIR``, else ``<repo>/build``."""
    env = os.environ.get(BUILD_DIR_ENV)
    if env:
        return Path(env).expanduser().resolve()
    return repo_root() / "build"


def require_built(relative: str) -> Path:
    """A firmware build product, e.g. ``host/libtrifw.so``; a clear error if missing."""
    path = build_dir() / relative
    if not path.exists():
        raise FirmwareError(
            f"firmware build product missing: {path} (run `make firmware` at the repository root)"
        )
    return path
