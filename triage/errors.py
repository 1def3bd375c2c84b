"""The root exception of the ``triage`` package.

Every error the package raises on purpose derives from :class:`TriageError`;
subclasses also inherit the matching builtin, so that callers can catch
either. The CLI turns them into one clear line and a non-zero exit.
"""


class TriageError(Exception):
    """Root of every deliberate error raised by the triage package."""


class DataMissingError(TriageError, FileNotFoundError):
    """Input data (imagery, labels, a build product) is not where it should be."""


class FirmwareError(TriageError, RuntimeError):
    """The firmware (host build or Cortex-M4 image) failed or is not built."""
