"""Bench times at a stated clock: the arithmetic by hand, and the JSON keys of the benches."""

from __future__ import annotations

import pytest

from triage import timing
from triage.engine.bench import _times as engine_times
from triage.onboard.bench import _times as onboard_times


def test_seconds_and_tiles_by_hand():
    # 1.2 million instructions at 120 MHz, one per cycle: 10 ms
    assert timing.seconds(1_200_000, 120.0) == pytest.approx(0.010)
    assert timing.seconds(1_200_000, 48.0) == pytest.approx(0.025)
    with pytest.raises(ValueError, match="positive"):
        timing.seconds(1, 0.0)
    # 32 px tiles at a 16 px stride over 1024 px: origins 0, 16, ..., 992 -> 63 per axis
    assert timing.tiles_per_frame() == 63 * 63 == 3969
    # 100 px: 0, 16, ..., 64 and one flush with the edge at 68 -> 6 per axis
    assert timing.tiles_per_frame(100) == 36


def test_engine_times_state_the_clock():
    t = engine_times(600_000, 120.0)
    assert t["clock_mhz"] == 120.0 and "one instruction per cycle" in t["clock_assumption"]
    assert t["time_per_inference_ms"] == pytest.approx(5.0)
    assert t["time_per_tile_ms"] == t["time_per_inference_ms"]
    assert t["time_per_1024x1024_frame_s"] == pytest.approx(3969 * 0.005, abs=1e-4)


def test_onboard_times_per_tile_and_frame():
    # 2.4e9 instructions for 2 Mpx and 8000 tiles at 120 MHz: 20 s; 2.5 ms a tile;
    # 10 s a megapixel; a 1024 x 1024 frame is 1.048576 Mpx -> 10.48576 s
    t = onboard_times(2_400_000_000, 2_000_000, 8000, 120.0)
    assert t["time_per_tile_ms"] == pytest.approx(2.5)
    assert t["time_per_megapixel_s"] == pytest.approx(10.0)
    assert t["time_per_1024x1024_frame_s"] == pytest.approx(10.48576, abs=1e-4)
    assert t["clock_mhz"] == 120.0
