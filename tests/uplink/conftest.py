"""Fixtures of the model uplink's tests: the host library."""

from __future__ import annotations

import pytest

from triage.onboard import _lib


@pytest.fixture(scope="session")
def lib(build_dir):
    path = build_dir / _lib.LIB_RELATIVE
    if not path.exists():
        pytest.fail(f"{path} not built: `make firmware` must run before the tests")
    return _lib.load(str(path))
