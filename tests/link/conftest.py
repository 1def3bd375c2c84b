"""Fixtures of the link tests: the firmware's host library (its link modes make the streams)."""

from __future__ import annotations

from ..onboard.conftest import lib  # noqa: F401 - the same fixture
