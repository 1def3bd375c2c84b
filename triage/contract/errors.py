"""The contract layer's errors: one root, :class:`ContractError`.

Each subclass also inherits the matching builtin, so callers may catch either;
the CLIs turn them into one clear line and a non-zero exit.
"""

from __future__ import annotations


class ContractError(Exception):
    """Root of every error the contract layer raises on purpose."""


class LayoutError(ContractError, ValueError):
    """A value does not fit its field, or a buffer is too short for a layout."""


class SpecError(ContractError, ValueError):
    """``tile_spec.json`` or ``policy.json`` is malformed or inconsistent."""


class InputDataError(ContractError, ValueError):
    """An input image, tile or band has the wrong shape, type or content."""


class ProductError(ContractError, ValueError):
    """A product does not check or decode; the message gives the reason."""


class DataMissingError(ContractError, FileNotFoundError):
    """The real imagery (or a file of it) is not where it should be."""


class GeneratedFileError(ContractError, RuntimeError):
    """A generated file is stale, or its inputs cannot be read."""


class PackageError(ContractError, ValueError):
    """A model package, its plan or an uplink unit does not parse or check."""
