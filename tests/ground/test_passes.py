"""Contact windows and pass budgets, checked against an independent oracle.

The oracle propagates the same TLE with the ``sgp4`` library directly (TEME
positions), rotates them to Earth-fixed axes with the IAU-82 GMST formula
and computes the topocentric elevation over a WGS84 station by hand: no
skyfield code is involved, so a wrong window, mask or time conversion in
:mod:`ground_station.passes` shows up as a disagreement.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sgp4.api import Satrec, jday

from ground_station.errors import GroundStationError, InputError, TleError
from ground_station.passes import (
    CADU_BYTES,
    CADU_DATA_BYTES,
    ContactWindow,
    Station,
    contact_windows,
    parse_tle,
    pass_budget_bytes,
)

# A published ISS element set (the example of skyfield's documentation).
ISS_TLE = """ISS (ZARYA)
1 25544U 98067A   14020.93268519  .00009878  00000-0  18200-3 0  5082
2 25544  51.6498 109.4756 0003572  55.9686 274.8005 15.49815350868473
"""
EPOCH = datetime(2014, 1, 20, 22, 23, 4, tzinfo=UTC)
ZURICH = Station("zurich", 47.37, 8.54, 408.0, 10.0)
SYDNEY = Station("sydney", -33.87, 151.21, 20.0, 5.0)


def _oracle_elevation(tle: str, st: Station, when: datetime) -> float:
    """Elevation in degrees from sgp4 + hand-written TEME->ECEF->topocentric."""
    _, l1, l2 = tle.strip().splitlines()
    sat = Satrec.twoline2rv(l1, l2)
    sec = when.second + when.microsecond * 1e-6
    jd, fr = jday(when.year, when.month, when.day, when.hour, when.minute, sec)
    err, r_teme, _ = sat.sgp4(jd, fr)
    assert err == 0
    t = (jd - 2451545.0 + fr) / 36525.0
    gmst_s = 67310.54841 + (876600 * 3600 + 8640184.812866) * t + 0.093104 * t**2 - 6.2e-6 * t**3
    theta = math.radians((gmst_s % 86400.0) / 240.0)
    x, y, z = r_teme
    r = np.array(
        [x * math.cos(theta) + y * math.sin(theta), -x * math.sin(theta) + y * math.cos(theta), z]
    )
    a, f = 6378.137, 1 / 298.257223563
    e2 = f * (2 - f)
    lat, lon = math.radians(st.lat_deg), math.radians(st.lon_deg)
    n = a / math.sqrt(1 - e2 * math.sin(lat) ** 2)
    h = st.alt_m / 1000.0
    site = np.array(
        [
            (n + h) * math.cos(lat) * math.cos(lon),
            (n + h) * math.cos(lat) * math.sin(lon),
            (n * (1 - e2) + h) * math.sin(lat),
        ]
    )
    up = np.array([math.cos(lat) * math.cos(lon), math.cos(lat) * math.sin(lon), math.sin(lat)])
    rho = r - site
    return math.degrees(math.asin(float(rho @ up) / float(np.linalg.norm(rho))))


@pytest.fixture(scope="module")
def day_windows() -> list[ContactWindow]:
    return contact_windows(ISS_TLE, [ZURICH, SYDNEY], EPOCH, EPOCH + timedelta(days=1))


def test_parse_tle_reads_name_epoch_and_number():
    tle = parse_tle(ISS_TLE)
    assert tle.name == "ISS (ZARYA)"
    assert tle.satnum == 25544
    # 14020.93268519: day 20 of 2014 + 0.93268519 d = 22:23:04.000 UTC
    assert abs((tle.epoch - EPOCH).total_seconds()) < 0.01
    assert parse_tle("\n".join(ISS_TLE.strip().splitlines()[1:])).satnum == 25544


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda ls: [*ls, ls[2]], r"expected 2 lines .* found 4 lines"),
        (
            lambda ls: [ls[0], ls[1][:-1] + "0", ls[2]],
            r"line 1: checksum 0 is wrong \(computed 2\)",
        ),
        (lambda ls: [ls[0], ls[1], ls[2][:60]], r"line 2: 60 characters, expected 69"),
        (lambda ls: [ls[0], ls[2], ls[1]], r"line 1: must start with '1 '"),
        (lambda ls: [ls[0], ls[1], ls[2][:2] + "25545" + ls[2][7:68] + "4"], r"catalogue numbers"),
        (lambda ls: ls[:2], r"line 1: 11 characters, expected 69"),
    ],
)
def test_parse_tle_names_what_is_wrong(mutate, message):
    lines = ISS_TLE.strip().splitlines()
    with pytest.raises(TleError, match=message) as info:
        parse_tle("\n".join(mutate(lines)))
    assert isinstance(info.value, GroundStationError)
    assert isinstance(info.value, ValueError)


def test_windows_agree_with_independent_oracle(day_windows):
    assert len(day_windows) >= 6
    assert {w.station for w in day_windows} == {"zurich", "sydney"}
    assert day_windows == sorted(day_windows, key=lambda w: w.aos)
    stations = {"zurich": ZURICH, "sydney": SYDNEY}
    for w in day_windows:
        st = stations[w.station]
        assert w.aos.tzinfo is not None and w.los.tzinfo is not None
        assert 60 < w.duration_s < 900
        # the mask is crossed at AOS and LOS (to within 0.5 s)
        edge = timedelta(seconds=0.5)
        assert _oracle_elevation(ISS_TLE, st, w.aos - edge) < st.min_elevation_deg
        assert _oracle_elevation(ISS_TLE, st, w.aos + edge) > st.min_elevation_deg
        assert _oracle_elevation(ISS_TLE, st, w.los - edge) > st.min_elevation_deg
        assert _oracle_elevation(ISS_TLE, st, w.los + edge) < st.min_elevation_deg
        # the peak agrees with a 1 s scan of the window
        n = int(w.duration_s)
        peak = max(
            _oracle_elevation(ISS_TLE, st, w.aos + timedelta(seconds=s)) for s in range(n + 1)
        )
        assert w.max_elevation_deg == pytest.approx(peak, abs=0.1)


def test_no_contact_is_missed(day_windows):
    """A 20 s scan of the whole day finds the satellite above the mask only inside windows."""
    for st in (ZURICH, SYDNEY):
        mine = [w for w in day_windows if w.station == st.name]
        for k in range(0, 86400, 20):
            when = EPOCH + timedelta(seconds=k)
            if _oracle_elevation(ISS_TLE, st, when) > st.min_elevation_deg + 0.05:
                assert any(w.aos <= when <= w.los for w in mine), f"{st.name} visible at {when}"


def test_window_open_at_start_is_clipped(day_windows):
    w = day_windows[0]
    mid = w.aos + (w.los - w.aos) / 2
    clipped = contact_windows(ISS_TLE, [ZURICH, SYDNEY], mid, w.los + timedelta(minutes=1))
    assert clipped[0].station == w.station
    assert clipped[0].aos == mid
    assert abs((clipped[0].los - w.los).total_seconds()) < 0.01
    still_open = contact_windows(ISS_TLE, [ZURICH, SYDNEY], w.aos - timedelta(minutes=1), mid)
    assert still_open[-1].los == mid


def test_elevation_mask_shrinks_windows():
    low = contact_windows(
        ISS_TLE, [Station("z0", 47.37, 8.54, 408.0, 0.0)], EPOCH, EPOCH + timedelta(hours=12)
    )
    high = contact_windows(
        ISS_TLE, [Station("z0", 47.37, 8.54, 408.0, 30.0)], EPOCH, EPOCH + timedelta(hours=12)
    )
    assert len(high) < len(low)
    assert sum(w.duration_s for w in high) < sum(w.duration_s for w in low)
    assert all(w.max_elevation_deg >= 30.0 for w in high)


def test_contact_windows_rejects_bad_intervals():
    with pytest.raises(InputError, match="timezone-aware"):
        contact_windows(ISS_TLE, [ZURICH], datetime(2014, 1, 21), datetime(2014, 1, 22))
    with pytest.raises(InputError, match="not after start"):
        contact_windows(ISS_TLE, [ZURICH], EPOCH, EPOCH)
    with pytest.raises(InputError, match="no ground station"):
        contact_windows(ISS_TLE, [], EPOCH, EPOCH + timedelta(hours=1))


def test_pass_budget_is_rate_times_usable_time_less_framing():
    aos = datetime(2026, 1, 1, tzinfo=UTC)
    w = ContactWindow("x", aos, aos + timedelta(seconds=600), 45.0)
    # 590 s usable at 200 Mbit/s: 14.75e9 bytes on the air = 11532447 whole CADUs of
    # 1279 bytes, each carrying 1107 bytes of space packets.
    assert (CADU_BYTES, CADU_DATA_BYTES) == (1279, 1107)
    assert pass_budget_bytes(w, 200_000_000) == 11_532_447 * 1107
    assert pass_budget_bytes(w, 200_000_000, acquisition_s=600) == 0
    assert (
        pass_budget_bytes(w, 8 * 1279, acquisition_s=0, cadu_bytes=1279, cadu_data_bytes=1279)
        == 600 * 1279
    )
    with pytest.raises(InputError, match="rate_bps"):
        pass_budget_bytes(w, 0)


def test_station_parse():
    st = Station.parse("47.37, 8.54, 408", name="zurich", min_elevation_deg=5)
    assert (st.lat_deg, st.lon_deg, st.alt_m, st.min_elevation_deg) == (47.37, 8.54, 408.0, 5.0)
    with pytest.raises(InputError, match="LAT,LON,ALT_M"):
        Station.parse("47.37,8.54")
    with pytest.raises(InputError, match="lat_deg"):
        Station.parse("97,8.54,0")
