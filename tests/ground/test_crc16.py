"""The compiled CRC-16 (slicing by 8) against binascii's ``crc_hqx`` (an independent C
implementation of the same CRC) and the published CRC-16/CCITT-FALSE check value; the
compiled gather of a batch's segments against joining the slices."""

from __future__ import annotations

import binascii
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from ground_station.crc16 import crc16, crc16_rows

SEED = 20261206


def test_check_value_of_123456789():
    # CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no xorout): 0x29B1,
    # the catalogued check value of the algorithm
    assert crc16(b"123456789") == 0x29B1


def test_every_length_up_to_40_and_some_long_ones():
    rng = random.Random(SEED)
    for n in [*range(41), 1115, 4096, 4103]:
        for _ in range(8):
            data = rng.randbytes(n)
            init = rng.randrange(1 << 16)
            assert crc16(data, init) == binascii.crc_hqx(data, init), (n, init)


def test_a_packet_with_its_crc_gives_zero_and_one_flip_does_not():
    rng = random.Random(SEED + 1)
    body = rng.randbytes(997)
    packet = body + binascii.crc_hqx(body, 0xFFFF).to_bytes(2, "big")
    assert crc16(packet) == 0
    for bit in range(0, len(packet) * 8, 37):
        bad = bytearray(packet)
        bad[bit // 8] ^= 0x80 >> (bit % 8)
        assert crc16(bad) != 0


def test_rows():
    rng = np.random.default_rng(SEED)
    rows = rng.integers(0, 256, size=(50, 1115), dtype=np.uint8)
    want = [binascii.crc_hqx(r.tobytes(), 0xFFFF) for r in rows]
    assert crc16_rows(rows).tolist() == want
    assert crc16_rows(rows[:0]).tolist() == []


@settings(max_examples=200, deadline=None)
@given(hs.binary(max_size=300), hs.integers(0, 0xFFFF))
def test_property_same_as_crc_hqx(data, init):
    assert crc16(data, init) == binascii.crc_hqx(data, init)


def test_gather_is_the_join_of_the_slices():
    from ground_station.packets import gather

    rng = random.Random(SEED + 2)
    buf = rng.randbytes(5000)
    offs = [rng.randrange(0, 4000) for _ in range(60)]
    lens = [rng.randrange(0, 1000) for _ in range(60)]
    want = b"".join(buf[o : o + n] for o, n in zip(offs, lens, strict=True))
    assert gather(buf, np.array(offs), np.array(lens)) == want
    assert gather(buf, np.array([], dtype=np.int64), np.array([], dtype=np.int64)) == b""
    with pytest.raises(ValueError):
        gather(buf, np.array([4990]), np.array([11]))
