"""Where things are: the repository, its build output, and the imagery.

The imagery lives outside the repository (``../shared/data`` next to the
checkout by default) and is never committed; ``TRIAGE_DATA_DIR`` overrides
its location. ``TRIAGE_BUILD_DIR`` overrides where the firmware is built.
"""

from __future__ import annotations

import os
from pathlib import Path

from triage.errors import DataMissingError, FirmwareError

#: The credit the Copernicus licence asks for wherever Sentinel-2 imagery, or a
#: product derived from it, is shown (reports, GeoTIFF tags, previews, benchmarks).
COPERNICUS_ATTRIBUTION = "contains modified Copernicus Sentinel data 2022–2023"

#: The sen2ships samples are Sentinel-2 numbers (reflectance x 10000) exported as
#: reflectance x 65535: all 57.7 million samples of the nine scenes lie on that lattice
#: (v = round(d * 65535 / 10000)), so the instrument number d, not v, is what a satellite
#: would code (FRAME_META dn_num / dn_den; the firmware checks every product first).
SEN2SHIPS_DN_SCALE = (65535, 10000)

DATA_DIR_ENV = "TRIAGE_DATA_DIR"
BUILD_DIR_ENV = "TRIAGE_BUILD_DIR"


def repo_root() -> Path:
    """The checkout this package was installed from (editable install)."""
    return Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """The imagery folder: ``$TRIAGE_DATA_DIR``, else ``<repo>/../shared/data``."""
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env).expanduser().resolve()
    return (repo_root().parent / "shared" / "data").resolve()


def require_data_dir(*parts: str) -> Path:
    """The imagery folder (or a path inside it); a clear error if absent."""
    path = data_dir().joinpath(*parts)
    if not path.exists():
        raise DataMissingError(
            f"imagery not found: {path} (set {DATA_DIR_ENV} to the folder that holds "
            "sen2ships/, clouds/ and scenes/)"
        )
    return path


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
