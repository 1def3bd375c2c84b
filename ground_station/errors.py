"""The root exception of the ``ground_station`` package.

Subclasses also inherit the matching builtin (``class PacketError(
GroundStationError, ValueError)``); the CLI turns them into one clear line
and a non-zero exit whose code is the class's :attr:`exit_code`. A product
that does not decode raises the contract's
:class:`~triage.contract.errors.ProductError` (the codec is the contract's);
the CLI reports contract errors the same way, with exit code 1.
"""

from __future__ import annotations

# Exit codes of the ``groundstation`` CLI (documented in its --help).
EXIT_OK = 0
EXIT_ERROR = 1
"""Bad input or an operation that could not be done (one line on stderr)."""
EXIT_USAGE = 2
"""Command-line usage error (unknown option, missing argument): click's code."""
EXIT_NO_PACKETS = 3
"""``ingest``: the input held no valid packet at all (garbage, wrong file)."""
EXIT_NO_CONTACT = 4
"""``plan``: no contact window in the requested interval."""
EXIT_CATALOGUE = 5
"""The catalogue cannot be opened or is not a ground-station catalogue."""
EXIT_CONTRADICTS = 6
"""``ingest``: the input held another spacecraft's data: packets whose secondary header
names another spacecraft id, or products that contradict the catalogue; they were
refused, the rest ingested."""


class GroundStationError(Exception):
    """Root of every deliberate error raised by the ground station."""

    exit_code = EXIT_ERROR


class InputError(GroundStationError, ValueError):
    """An argument or input file is not acceptable (the message says why)."""


class InputFileError(GroundStationError, FileNotFoundError):
    """An input file does not exist or cannot be read."""


class TleError(InputError):
    """A two-line element set is malformed (which line, which column, why)."""


class TleAgeError(InputError):
    """The TLE epoch is further from the planning interval than the operator accepts."""


class PacketError(GroundStationError, ValueError):
    """A packet or product violates the wire format."""


class CatalogueError(GroundStationError, RuntimeError):
    """The SQLite catalogue is missing, locked, or not a ground-station catalogue."""

    exit_code = EXIT_CATALOGUE


class NoPacketsError(GroundStationError, ValueError):
    """An ingest found no valid packet in its input."""

    exit_code = EXIT_NO_PACKETS


class NoContactError(GroundStationError, LookupError):
    """No contact window in the requested interval."""

    exit_code = EXIT_NO_CONTACT


class ForeignPacketsError(GroundStationError, ValueError):
    """An ingest refused packets whose secondary header names another spacecraft (the rest
    of the input was ingested)."""

    exit_code = EXIT_CONTRADICTS


class ContradictionError(GroundStationError, ValueError):
    """An ingest refused products that contradict the catalogue (their frames): a stream
    of another spacecraft with the same APIDs and frame ids, most likely."""

    exit_code = EXIT_CONTRADICTS
