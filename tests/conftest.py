"""Shared fixtures: where the firmware build and the imagery are."""

from __future__ import annotations

from pathlib import Path

import pytest

from triage import paths


@pytest.fixture(scope="session")
def build_dir() -> Path:
    """The firmware build folder (``make firmware`` fills it before pytest runs)."""
    return paths.build_dir()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real imagery; tests that need it skip with the reason when it is absent."""
    path = paths.data_dir()
    if not (path / "sen2ships").is_dir():
        pytest.skip(f"real imagery not found in {path} (set {paths.DATA_DIR_ENV})")
    return path


@pytest.fixture(scope="session")
def m4_image(build_dir: Path):
    """Path of a Cortex-M4 image by name, e.g. ``m4_image("selftest")``."""

    def get(name: str) -> Path:
        elf = build_dir / "m4" / f"{name}.elf"
        if not elf.exists():
            pytest.fail(f"{elf} not built: `make firmware` must run before the tests")
        return elf

    return get
