"""Errors of the engine's Python side (all derive from :class:`triage.errors.TriageError`)."""

from __future__ import annotations

from triage.errors import FirmwareError, TriageError


class ModelError(TriageError, ValueError):
    """The model cannot be exported: the message names the operator or tensor."""


class ModelFormatError(ModelError):
    """The file is not a well-formed ``.tflite`` flatbuffer."""


class UnsupportedModelError(ModelError):
    """A well-formed model uses an operator, type or quantisation the engine lacks."""


class ArenaBudgetError(ModelError):
    """The planned arena does not fit the budget given to the exporter."""


class EngineRuntimeError(FirmwareError):
    """The engine's host build returned an error status."""
