"""FrameMeta: packing from the wire format's definition, CRC, capture times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest

from triage.contract.records import FRAME_META, crc16
from triage.onboard import FrameMeta, OnboardInputError, time_fields


def test_roundtrip_and_crc():
    m = FrameMeta(
        frame_id=0xDEADBEEF,
        rows=1024,
        cols=977,
        bands=4,
        sample_bits=16,
        nodata=65535,
        time_s=1_700_000_123,
        time_sub=40000,
        crs_epsg=32631,
        geotransform=(399960.0, 10.0, 0.0, 5000040.0, 0.0, -10.0),
    )
    b = m.pack()
    assert len(b) == FRAME_META.size == 88
    assert crc16(b[:86]) == int.from_bytes(b[86:], "big")
    assert FrameMeta.unpack(b) == m
    for i in range(0, 88, 7):
        bad = bytearray(b)
        bad[i] ^= 0x01
        with pytest.raises(OnboardInputError):
            FrameMeta.unpack(bytes(bad))


def test_for_frame_and_field_ranges():
    f = np.zeros((10, 20, 3), np.uint8)
    m = FrameMeta.for_frame(f, 5)
    assert (m.rows, m.cols, m.bands, m.sample_bits) == (10, 20, 3, 8)
    with pytest.raises(OnboardInputError):
        FrameMeta.for_frame(np.zeros((4, 4), np.uint16), 1)
    with pytest.raises(OnboardInputError):
        FrameMeta(frame_id=1, rows=70000, cols=1, bands=4).pack()


def test_time_fields():
    t = datetime(2023, 6, 1, 10, 30, 0, 500000, tzinfo=UTC)
    assert time_fields(t) == (1_685_615_400, 32768)
    assert time_fields(t.astimezone(timezone(timedelta(hours=2)))) == (1_685_615_400, 32768)
    assert time_fields(12.25) == (12, 16384)
    with pytest.raises(OnboardInputError):
        time_fields(datetime(2023, 1, 1))
    m = FrameMeta(frame_id=1, rows=32, cols=32, bands=4).with_time(t)
    assert (m.time_s, m.time_sub) == (1_685_615_400, 32768)
