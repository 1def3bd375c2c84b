"""Where the contract's shared files and the real imagery are.

- ``models/tile_spec.json`` and ``models/shipped/policy.json``: the tile spec and
  the decision policy, read by :mod:`triage.contract.tile_spec` and
  :mod:`triage.contract.policy`;
- the imagery: ``$TRIAGE_DATA_DIR``, else ``../shared/data`` next to the checkout.
  It is never committed; tools that need it fail with :class:`DataMissingError`
  naming the folder, and tests skip with the reason.
"""

from __future__ import annotations

import os
from pathlib import Path

from triage.contract.errors import DataMissingError

DATA_DIR_ENV = "TRIAGE_DATA_DIR"

COPERNICUS_ATTRIBUTION = "contains modified Copernicus Sentinel data 2022–2023"
"""The credit the Copernicus licence asks for wherever Sentinel-2 imagery, or a product
derived from it, is shown (reports, GeoTIFF tags, previews, benchmarks)."""


def repo_root() -> Path:
    """The checkout this package was installed from (editable install)."""
    return Path(__file__).resolve().parents[2]


def models_dir() -> Path:
    """``models/``: the tile spec and the shipped artifacts."""
    return repo_root() / "models"


def tile_spec_path() -> Path:
    return models_dir() / "tile_spec.json"


def shipped_dir() -> Path:
    """The shipped, committed model artifacts: ``.tflite``, C export, policy."""
    return models_dir() / "shipped"


def policy_path() -> Path:
    return shipped_dir() / "policy.json"


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
