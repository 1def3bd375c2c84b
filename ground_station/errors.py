"""The root exception of the ``ground_station`` package.

Subclasses also inherit the matching builtin (``class PacketError(
GroundStationError, ValueError)``); the CLI turns them into one clear line
and a non-zero exit.
"""


class GroundStationError(Exception):
    """Root of every deliberate error raised by the ground station."""
