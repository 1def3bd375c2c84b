"""On-board tile triage for Earth-observation smallsats: the satellite side.

Scene I/O, tiling, the wire format's Python view, bindings to the firmware's
host build, the host simulator and its reports, and the ``triage`` CLI.
"""

__version__ = "0.1.0"
