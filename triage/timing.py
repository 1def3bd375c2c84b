"""Instruction counts as time at a stated clock: what a mission designer asks first.

The benches count instructions under QEMU (``-icount shift=0``: deterministic). A
time needs a clock and a cycles-per-instruction figure; both are assumptions, stated
in every JSON that carries a time (:func:`clock_fields`): by default a Cortex-M4 at
120 MHz (:data:`DEFAULT_CLOCK_MHZ`) running one instruction per cycle. On silicon,
multi-cycle instructions (loads, taken branches, divides, the DSP multiply-
accumulates of the engine's kernels) and flash wait states make it slower, so a
time here is a lower bound at that clock.

A 1024 x 1024 frame holds :func:`tiles_per_frame` tiles of the tile spec (32 px
tiles at a 16 px stride: 63 x 63 = 3969), which is how the engine bench turns one
inference into a frame's classification time.
"""

from __future__ import annotations

from triage.contract.tile_spec import tile_origins

DEFAULT_CLOCK_MHZ = 120.0
FRAME_SIDE_PX = 1024
INSTRUCTIONS_PER_CYCLE = 1.0


def seconds(instructions: float, clock_mhz: float) -> float:
    """Seconds for ``instructions`` at ``clock_mhz``, one instruction per cycle."""
    if clock_mhz <= 0:
        raise ValueError(f"clock must be positive, got {clock_mhz} MHz")
    return instructions / INSTRUCTIONS_PER_CYCLE / (clock_mhz * 1e6)


def tiles_per_frame(side_px: int = FRAME_SIDE_PX) -> int:
    """Tiles the firmware classifies in a ``side_px`` square frame (tile spec tiling)."""
    return len(tile_origins(side_px)) ** 2


def clock_fields(clock_mhz: float) -> dict:
    """The keys that state the assumption behind every time of a bench's JSON."""
    return {
        "clock_mhz": clock_mhz,
        "clock_assumption": (
            f"Cortex-M4 at {clock_mhz:g} MHz, one instruction per cycle: QEMU counts "
            "instructions (-icount shift=0), not cycles; multi-cycle instructions and "
            "flash wait states make silicon slower, so times are lower bounds at that clock"
        ),
    }
