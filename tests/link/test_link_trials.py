"""100 seeded fault trials on the firmware's CADU stream, through the whole ingest: bit errors
at stated rates, bursts that destroy codeblocks, lost, repeated and reordered CADUs,
garbage, inversion, truncation, another spacecraft's CADUs mixed in. In every trial: no
traceback, no product decoded from corrupted bytes (none invalid), every packet handed on
is one the firmware sent; and when nothing was lost beyond what the codes repair, the
catalogue holds exactly what a clean ingest holds."""

from __future__ import annotations

import random

import numpy as np
import pytest

from ground_station.ingest import ingest_bytes
from triage.contract.frames import CADU_BYTES

from .streams import firmware_pass, flip_bits

TRIALS = 100


def _impair(rng: random.Random, seed: int) -> tuple[bytes, bool, str]:
    """(stream, whether everything should still arrive, what was done)."""
    cadus = firmware_pass("cadu")
    units = [cadus[k : k + CADU_BYTES] for k in range(0, len(cadus), CADU_BYTES)]
    kind = rng.choice(
        ["ber", "burst", "lose", "repeat", "reorder", "garbage", "invert", "truncate", "foreign"]
    )
    intact = True
    if kind == "ber":
        ber = rng.choice([1e-5, 1e-4, 1e-3, 3e-3])
        return flip_bits(cadus, ber, seed), True, f"BER {ber:g}"
    if kind == "burst":  # 40 consecutive bytes wrong: more than one codeword can take
        k = rng.randrange(len(units))
        u = bytearray(units[k])
        at = rng.randrange(4, CADU_BYTES - 400)
        u[at : at + 400] = bytes(rng.randrange(256) for _ in range(400))
        units[k] = bytes(u)
        intact = False
    elif kind == "lose":
        for k in sorted(rng.sample(range(len(units)), rng.randrange(1, 4)), reverse=True):
            del units[k]
        intact = False
    elif kind == "repeat":
        k = rng.randrange(len(units))
        units.insert(k, units[k])
    elif kind == "reorder":
        k = rng.randrange(len(units) - 1)
        units[k], units[k + 1] = units[k + 1], units[k]
        intact = False
    elif kind == "garbage":
        k = rng.randrange(len(units))
        units.insert(k, bytes(rng.randrange(256) for _ in range(rng.randrange(1, 3000))))
    elif kind == "invert":
        units = [bytes(np.frombuffer(u, np.uint8) ^ 0xFF) for u in units]
    elif kind == "truncate":
        data = b"".join(units)
        return data[: rng.randrange(len(data) // 2, len(data))], False, kind
    elif kind == "foreign":
        other = firmware_pass("cadu", 0x155)
        k = rng.randrange(len(units))
        units[k:k] = [other[j : j + CADU_BYTES] for j in range(0, 3 * CADU_BYTES, CADU_BYTES)]
    return b"".join(units), intact, kind


@pytest.fixture(scope="module")
def clean(lib, tmp_path_factory):
    st = ingest_bytes(tmp_path_factory.mktemp("clean") / "c.sqlite", firmware_pass("packets"))
    return st


@pytest.mark.parametrize("trial", range(TRIALS))
def test_fault_trial(clean, tmp_path, trial):
    rng = random.Random(1800 + trial)
    data, intact, what = _impair(rng, 1800 + trial)
    st = ingest_bytes(tmp_path / "t.sqlite", data, input_format="auto")
    assert st.formats == {"<bytes>": "cadu"}, what
    assert st.products_invalid == 0, what
    assert st.deframe.crc_errors == 0, what  # the link hands on only true packets
    assert st.products_completed <= clean.products_completed
    if intact:
        assert st.products_completed == clean.products_completed, what
        assert st.new_segments == clean.new_segments, what
    if what == "foreign":
        assert st.link["foreign_frames"] == {str(0x155): 3}
