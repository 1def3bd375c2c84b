"""Bench times at a stated clock: the arithmetic by hand, and the JSON keys of the benches."""

from __future__ import annotations

import pytest

from triage import timing
from triage.engine.bench import _times as engine_times
from triage.onboard.bench import _times as onboard_times


def test_seconds_and_cells_by_hand():
    # 1.2 million instructions at 120 MHz, one per cycle: 10 ms
    assert timing.seconds(1_200_000, 120.0) == pytest.approx(0.010)
    assert timing.seconds(1_200_000, 48.0) == pytest.approx(0.025)
    with pytest.raises(ValueError, match="positive"):
        timing.seconds(1, 0.0)
    # 16 px cells over 1024 px: 64 per axis; 100 px: 6 whole cells and one of 4 px -> 7
    assert timing.cells_per_frame() == 64 * 64 == 4096
    assert timing.cells_per_frame(100) == 49


def test_engine_times_state_the_clock():
    t = engine_times(600_000, 120.0)
    assert t["clock_mhz"] == 120.0 and "one instruction per cycle" in t["clock_assumption"]
    assert t["time_per_inference_ms"] == pytest.approx(5.0)


def test_onboard_times_per_cell_and_frame():
    # 2.4e9 instructions for 2 Mpx and 8000 cells at 120 MHz: 20 s; 2.5 ms a cell;
    # 10 s a megapixel; a 1024 x 1024 frame is 1.048576 Mpx -> 10.48576 s
    t = onboard_times(2_400_000_000, 2_000_000, 8000, 120.0)
    assert t["time_per_cell_ms"] == pytest.approx(2.5)
    assert t["time_per_megapixel_s"] == pytest.approx(10.0)
    assert t["time_per_1024x1024_frame_s"] == pytest.approx(10.48576, abs=1e-4)
    assert t["clock_mhz"] == 120.0
