"""How the satellite codes its image products: the parameters both sides must share.

Every compressed band is an independent CCSDS 121.0-B stream with these
parameters (the header of each product carries them too, so a ground station
decodes whatever it gets; the simulator's compressed baseline and the ground
bench code with the same ones, so that their comparisons are fair). The
firmware compiles them from the generated ``tri_contract.h``.
"""

from __future__ import annotations

AEC_BLOCK_SIZE = 16
"""J: samples per block of every compressed band stream."""

AEC_RSI = 64
"""Reference sample interval, in blocks: a reference every 1024 samples limits how
far a lost bit can propagate."""

QUICKLOOK_FACTOR = 16
"""Area-averaging factor of the per-frame quicklook (160 m pixels for Sentinel-2's
10 m); a frame thinner than that is averaged over squares of its smaller side."""

LOWRES_FACTOR = 8
"""Area-averaging factor of regions kept at low resolution (land under the
``lowres`` policy, cells no rule discarded)."""

NEIGHBOUR_MAX_COLS = 4096
"""Widest product the firmware codes with the neighbour predictor (it keeps two rows
of differences); wider block-mean products use the unit delay."""
