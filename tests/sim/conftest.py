"""Fixtures of the simulator tests: small synthetic image sets (recorded seeds)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from triage.sim.build import DEFAULT_EPOCH, build_synthetic_set
from triage.sim.manifest import ExplicitPass, PacketLoss

SEED = 31  # the synthetic set of the end-to-end tests


def explicit_passes(n: int = 6, minutes: float = 8.0, first_h: float = 3.0):
    """Passes every 100 minutes from ``first_h`` hours after the epoch (Svalbard-like)."""
    return [
        ExplicitPass(
            station="svalbard",
            start_utc=DEFAULT_EPOCH + timedelta(hours=first_h, minutes=100 * i),
            end_utc=DEFAULT_EPOCH + timedelta(hours=first_h, minutes=100 * i + minutes),
        )
        for i in range(n)
    ]


@pytest.fixture(scope="session")
def make_passes():
    """:func:`explicit_passes`, as a fixture."""
    return explicit_passes


@pytest.fixture(scope="session")
def tiny_set(tmp_path_factory) -> Path:
    """Two 256 x 256 scenes, 6 ships each, explicit passes, bursty loss: its manifest path."""
    return build_synthetic_set(
        tmp_path_factory.mktemp("tiny-set"),
        n_scenes=2,
        rows=256,
        cols=256,
        seed=SEED,
        ships_per_scene=6,
        explicit_passes=explicit_passes(),
        sim_span=timedelta(hours=14),
        loss=PacketLoss(
            model="gilbert_elliott",
            p_good_to_bad=0.02,
            p_bad_to_good=0.3,
            loss_in_good=0.002,
            loss_in_bad=0.5,
            seed=5,
        ),
    )
