"""The sun-synchronous TLE and imaging opportunities, against textbook relations."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from ground_station.passes import parse_tle
from triage.sim.errors import OrbitError
from triage.sim.manifest import Tle
from triage.sim.orbit import access_times, satellite, sun_elevation_deg, sun_synchronous_tle

EPOCH = datetime(2024, 6, 1, tzinfo=UTC)


def test_tle_is_sun_synchronous_at_525_km():
    tle = sun_synchronous_tle(EPOCH)
    checked = parse_tle(tle.text)  # the ground station's parser accepts it
    assert abs((checked.epoch - EPOCH).total_seconds()) < 1e-3
    incl = float(tle.line2[8:16])
    rev_per_day = float(tle.line2[52:63])
    # Kepler: n = sqrt(mu / a^3), a = 6378.137 + 525 km -> 15.14 rev/day;
    # sun-synchronous inclination at that height: 97.5 deg (e.g. Wertz, SMAD table)
    a = 6378.137 + 525.0
    n = math.sqrt(398600.4418 / a**3) * 86400 / (2 * math.pi)
    assert rev_per_day == pytest.approx(n, abs=1e-4)
    assert incl == pytest.approx(97.5, abs=0.1)


def test_sun_elevation_noon_and_midnight():
    # 2024-06-21 12:00 UTC at (0 N, 0 E): sun near declination 23.44 N -> elevation ~66.5
    assert sun_elevation_deg(datetime(2024, 6, 21, 12, 2, tzinfo=UTC), 0.0, 0.0) == (
        pytest.approx(66.56, abs=0.3)
    )
    assert sun_elevation_deg(datetime(2024, 6, 21, 0, 0, tzinfo=UTC), 0.0, 0.0) < -60


def test_accesses_are_morning_daylight_descending():
    tle = sun_synchronous_tle(EPOCH)
    lat, lon = 43.3, 5.35  # Marseille
    acc = access_times(tle, lat, lon, EPOCH, EPOCH + timedelta(days=3))
    assert acc
    for a in acc:
        local_h = (a.time_utc.hour + a.time_utc.minute / 60 + lon / 15.0) % 24
        assert 9.0 < local_h < 12.0  # 10:30 descending node, within the off-nadir reach
        assert a.descending and a.off_nadir_deg <= 45.0 and a.sun_elevation_deg >= 15.0
        assert 6500 < a.ground_speed_m_s < 7300


def test_bad_tle_is_an_orbit_error():
    tle = sun_synchronous_tle(EPOCH)
    broken = tle.line1[:68] + str((int(tle.line1[68]) + 1) % 10)
    with pytest.raises(OrbitError, match=r"orbit\.tle .*line 1.*checksum"):
        satellite(Tle(name="X", line1=broken, line2=tle.line2))


@pytest.mark.parametrize(("lat", "lon"), [(37.94, 23.6), (-20.3, 118.6), (54.5, 18.55)])
def test_fast_access_search_matches_skyfield(lat, lon):
    """The fast search (GMST rotation only) finds the same accesses, to the second, as
    skyfield's full reduction."""
    from triage.sim.orbit import access_times_skyfield

    tle = sun_synchronous_tle(datetime(2024, 6, 1, tzinfo=UTC))
    start = datetime(2024, 6, 1, tzinfo=UTC)
    fast = access_times(tle, lat, lon, start, start + timedelta(days=5))
    ref = access_times_skyfield(tle, lat, lon, start, start + timedelta(days=5))
    assert len(fast) == len(ref) > 0
    for a, b in zip(fast, ref, strict=True):
        assert a.time_utc == b.time_utc and a.descending == b.descending
        assert abs(a.off_nadir_deg - b.off_nadir_deg) < 0.01
        assert abs(a.ground_speed_m_s - b.ground_speed_m_s) < 1.0


def test_sun_azimuth_quadrants():
    from triage.sim.orbit import sun_azimuth_deg

    # 21 June at 40 N on the Greenwich meridian: the Sun rises north of east, culminates due
    # south near 12:00 UTC, sets north of west; at 30 S it culminates due north
    june = datetime(2024, 6, 21, tzinfo=UTC)
    assert 55 < sun_azimuth_deg(june.replace(hour=6), 40.0, 0.0) < 90
    assert abs(sun_azimuth_deg(june.replace(hour=12), 40.0, 0.0) - 180.0) < 3.0
    assert 270 < sun_azimuth_deg(june.replace(hour=18), 40.0, 0.0) < 305
    assert (
        min(
            sun_azimuth_deg(june.replace(hour=12), -30.0, 0.0),
            360.0 - sun_azimuth_deg(june.replace(hour=12), -30.0, 0.0),
        )
        < 3.0
    )
