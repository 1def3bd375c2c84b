"""Errors of the model package; all derive from :class:`triage.errors.TriageError`.

Each subclass also inherits the matching builtin, so callers may catch either,
and the ``triage`` CLI turns them into one clear line and a non-zero exit.
"""

from __future__ import annotations

from triage.errors import DataMissingError, TriageError


class ModelError(TriageError):
    """Root of the errors raised by :mod:`triage_models`."""


class SpecError(ModelError, ValueError):
    """``tile_spec.json`` or ``policy.json`` is malformed or inconsistent."""


class InputDataError(ModelError, ValueError):
    """An input image or band has the wrong shape, type or content (names the file)."""


class SourceMissingError(ModelError, DataMissingError):
    """An input file (band, annotation, cloud image) is missing (names the file)."""


class QuantizationError(ModelError, RuntimeError):
    """The int8 conversion produced a model that breaks the firmware contract."""


class ArtifactMissingError(ModelError, FileNotFoundError):
    """A shipped or built model artifact is not where it should be."""
