"""Errors of the model package: one root, :class:`ModelBuildError`.

Each subclass also inherits the matching builtin, so callers may catch either,
and the ``triage`` CLI turns them into one clear line and a non-zero exit. The
tile spec, the policy and the imagery readers are the contract's: they raise
:mod:`triage.contract.errors` (``SpecError``, ``InputDataError``,
``DataMissingError``).
"""

from __future__ import annotations


class ModelBuildError(Exception):
    """Root of the errors raised by :mod:`triage_models`."""


class QuantizationError(ModelBuildError, RuntimeError):
    """The int8 conversion produced a model that breaks the firmware contract."""


class ArtifactMissingError(ModelBuildError, FileNotFoundError):
    """A shipped or built model artifact is not where it should be."""


class RecipeError(ModelBuildError, ValueError):
    """A training recipe asked for what it cannot make (a tile baseline written over the
    shipped cell network, a cell network the firmware cannot run)."""
