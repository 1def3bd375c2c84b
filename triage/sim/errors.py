"""Errors of the host simulator; all derive from :class:`triage.errors.TriageError`.

Each subclass also inherits the matching builtin, so callers may catch either.
Messages name the item at fault (a manifest field, a frame, a file, a TLE).
"""

from __future__ import annotations

from triage.errors import TriageError


class ManifestError(TriageError, ValueError):
    """The image-set manifest does not parse or does not validate."""


class SceneError(TriageError, OSError):
    """A frame's imagery is missing, unreadable, or not what the manifest says."""


class BandsMissingError(SceneError):
    """A frame lacks bands the on-board model needs (e.g. no near-infrared)."""


class CrsError(TriageError, ValueError):
    """A frame's coordinate reference system cannot travel in the wire format or be
    handled by the ground station (e.g. no EPSG code)."""


class OrbitError(TriageError, ValueError):
    """The orbit (TLE) does not parse, or gives no contact in the simulated window."""


class OutputError(TriageError, OSError):
    """The output folder cannot be written (exists and is not empty, not writable)."""


class VerificationError(TriageError, RuntimeError):
    """What the ground produced contradicts the run's inputs (e.g. an exported crop of a
    frame the manifest does not hold): the run cannot be checked, so it is not reported."""


class ClassifierError(TriageError, ValueError):
    """The classifier registry (models/classifiers.json) is invalid or names a missing
    model, or a run asks for a classifier it cannot use."""
