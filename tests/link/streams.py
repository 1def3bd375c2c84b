"""Downlink streams for the link tests: a pass of the firmware (host build, the test rule
classifier) in each link mode, and channel impairments with a recorded seed."""

from __future__ import annotations

from functools import cache

import numpy as np

from triage.contract.frames import DEFAULT_SPACECRAFT_ID
from triage.onboard import FrameMeta, Onboard

from ..onboard.helpers import synthetic_frame


def _frames():
    return [
        synthetic_frame(160, 224, seed=60, ships=[(20, 30), (100, 150)], land=(120, 0, 160, 80)),
        synthetic_frame(128, 256, seed=62, ships=[(20, 20), (80, 200)], land=(0, 100, 128, 256)),
    ]


@cache
def firmware_pass(link: str, spacecraft_id: int = DEFAULT_SPACECRAFT_ID) -> bytes:
    """A directory and a whole pass of two frames' products, as the firmware sends them."""
    ob = Onboard(2_000_000, classifier="rule", link=link, spacecraft_id=spacecraft_id)
    for k, f in enumerate(_frames()):
        assert ob.process_frame(f, FrameMeta.for_frame(f, k + 1)).ok
    return ob.directory() + ob.downlink(1 << 30)


def flip_bits(data: bytes, ber: float, seed: int) -> bytes:
    """Every bit flipped with probability ``ber`` (a binary symmetric channel)."""
    rng = np.random.default_rng(seed)
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8))
    bits ^= (rng.random(bits.size) < ber).astype(np.uint8)
    return np.packbits(bits).tobytes()
