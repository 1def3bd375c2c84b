"""The root exception of the ``triage`` package.

Every error the package raises on purpose derives from :class:`TriageError`;
subclasses also inherit the matching builtin, so that callers can catch
either. The CLI turns them into one clear line and a non-zero exit, and does
the same for the roots of the packages it drives (the contract's
``ContractError``, ``triage_models``' ``ModelBuildError``, the ground
station's ``GroundStationError``). Missing imagery raises the contract's
:class:`~triage.contract.errors.DataMissingError`.
"""


class TriageError(Exception):
    """Root of every deliberate error raised by the triage package."""


class FirmwareError(TriageError, RuntimeError):
    """The firmware (host build or Cortex-M4 image) failed or is not built."""
