"""Errors of the on-board application's Python view (all derive from TriageError).

A packet stream or product that does not decode raises the contract's
:class:`~triage.contract.errors.ProductError`."""

from __future__ import annotations

from triage.errors import FirmwareError, TriageError


class OnboardError(TriageError, RuntimeError):
    """The on-board application returned an error status."""

    def __init__(self, message: str, status: int = 0):
        super().__init__(message)
        self.status = status


class OnboardInputError(OnboardError, ValueError):
    """Input the on-board application rejected (frame, metadata, request)."""


__all__ = ["FirmwareError", "OnboardError", "OnboardInputError"]
