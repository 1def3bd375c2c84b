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


# ---------------------------------------------------------------- what an operator reads


def _oracle_topocentric(tle: str, st: Station, when: datetime) -> tuple[float, float, float]:
    """(elevation deg, azimuth deg from north clockwise, range km), by hand as above."""
    _, l1, l2 = tle.strip().splitlines()
    sat = Satrec.twoline2rv(l1, l2)
    sec = when.second + when.microsecond * 1e-6
    jd, fr = jday(when.year, when.month, when.day, when.hour, when.minute, sec)
    _, r_teme, _ = sat.sgp4(jd, fr)
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
    east = np.array([-math.sin(lon), math.cos(lon), 0.0])
    north = np.array(
        [-math.sin(lat) * math.cos(lon), -math.sin(lat) * math.sin(lon), math.cos(lat)]
    )
    up = np.array([math.cos(lat) * math.cos(lon), math.cos(lat) * math.sin(lon), math.sin(lat)])
    rho = r - site
    rng = float(np.linalg.norm(rho))
    el = math.degrees(math.asin(float(rho @ up) / rng))
    az = math.degrees(math.atan2(float(rho @ east), float(rho @ north))) % 360.0
    return el, az, rng


def test_tca_azimuths_and_doppler_agree_with_the_oracle(day_windows):
    from ground_station.passes import doppler_summary, track_at

    stations = {"zurich": ZURICH, "sydney": SYDNEY}
    f0 = 437.5e6
    c = 299_792_458.0
    for w in day_windows[:4]:
        st = stations[w.station]
        assert w.aos < w.tca < w.los
        # TCA: the oracle's elevation is lower 2 s either side
        el_tca = _oracle_topocentric(ISS_TLE, st, w.tca)[0]
        for d in (-2, 2):
            assert _oracle_topocentric(ISS_TLE, st, w.tca + timedelta(seconds=d))[0] < el_tca
        assert w.max_elevation_deg == pytest.approx(el_tca, abs=0.05)
        for t, az in (
            (w.aos, w.aos_azimuth_deg),
            (w.tca, w.tca_azimuth_deg),
            (w.los, w.los_azimuth_deg),
        ):
            want = _oracle_topocentric(ISS_TLE, st, t)[1]
            assert abs((az - want + 180) % 360 - 180) < 0.1
        # Doppler: -f0 * (range rate) / c, the range rate by central differences (+-0.5 s)
        times = [w.aos + (w.los - w.aos) * k / 6 for k in range(7)]
        for p in track_at(ISS_TLE, st, times, f0):
            r1 = _oracle_topocentric(ISS_TLE, st, p.time + timedelta(seconds=0.5))[2]
            r0 = _oracle_topocentric(ISS_TLE, st, p.time - timedelta(seconds=0.5))[2]
            assert p.doppler_hz == pytest.approx(-f0 * (r1 - r0) * 1000.0 / c, abs=15.0)
            assert p.range_km == pytest.approx(_oracle_topocentric(ISS_TLE, st, p.time)[2], abs=0.5)
        d = doppler_summary(ISS_TLE, st, w, f0)
        # approaching at AOS, receding at LOS, ~0 at closest approach; bounded by the orbital
        # speed (7.7 km/s at 420 km: f0 * v / c = 11.2 kHz)
        assert d["aos_hz"] > 0 > d["los_hz"]
        assert abs(d["tca_hz"]) < 0.02 * d["max_abs_hz"]
        assert d["max_abs_hz"] < f0 * 7.7e3 / c


def test_a_flat_horizon_mask_is_an_elevation_mask():
    flat = Station("z", 47.37, 8.54, 408.0, 5.0, horizon_mask=((0.0, 20.0), (180.0, 20.0)))
    plain = Station("z", 47.37, 8.54, 408.0, 20.0)
    end = EPOCH + timedelta(hours=12)
    a = contact_windows(ISS_TLE, [flat], EPOCH, end)
    b = contact_windows(ISS_TLE, [plain], EPOCH, end)
    assert len(a) == len(b) >= 2
    for x, y in zip(a, b, strict=True):
        assert abs((x.aos - y.aos).total_seconds()) < 0.01
        assert abs((x.los - y.los).total_seconds()) < 0.01


def test_horizon_mask_by_azimuth_cuts_windows():
    """A 40 deg wall to the west (azimuth 200-340): the satellite is inside a window only
    where the oracle puts it above the wall, and windows only shrink."""
    wall = ((190.0, 0.0), (200.0, 40.0), (340.0, 40.0), (350.0, 0.0))
    st = Station("w", 47.37, 8.54, 408.0, 5.0, horizon_mask=wall)
    open_sky = Station("w", 47.37, 8.54, 408.0, 5.0)
    end = EPOCH + timedelta(days=1)
    masked = contact_windows(ISS_TLE, [st], EPOCH, end)
    plain = contact_windows(ISS_TLE, [open_sky], EPOCH, end)
    assert sum(w.duration_s for w in masked) < sum(w.duration_s for w in plain)
    for w in masked:
        assert any(p.aos <= w.aos and w.los <= p.los for p in plain)
        for t in (w.aos + timedelta(seconds=0.5), w.los - timedelta(seconds=0.5)):
            el, az, _ = _oracle_topocentric(ISS_TLE, st, t)
            assert el > float(st.mask_at(az)) - 0.02
        for t in (w.aos - timedelta(seconds=1), w.los + timedelta(seconds=1)):
            el, az, _ = _oracle_topocentric(ISS_TLE, st, t)
            assert el < float(st.mask_at(az)) + 0.02
    # the interpolation, by hand: halfway up the ramp at 195 deg, 5 (the floor) at 0 deg
    assert float(st.mask_at(195.0)) == pytest.approx(20.0)
    assert float(st.mask_at(0.0)) == 5.0 and float(st.mask_at(270.0)) == 40.0


def test_overlapping_contacts_share_one_downlink():
    from ground_station.passes import share_downlink

    t = datetime(2026, 1, 1, tzinfo=UTC)

    def w(name, a, b):
        return ContactWindow(name, t + timedelta(seconds=a), t + timedelta(seconds=b), 30.0)

    # A 0-600, B 300-900 (overlap), C 400-500 (inside A), D 1000-1100 (alone),
    # E 1050-1300 and F 1060-1200 (both open when D ends: E lasts longer and takes over)
    got = share_downlink(
        [w("B", 300, 900), w("A", 0, 600), w("C", 400, 500), w("D", 1000, 1100),
         w("F", 1060, 1200), w("E", 1050, 1300)]
    )  # fmt: skip
    served = {x.station: (x.downlink_s, x.shared) for x in got}
    assert served == {
        "A": (600.0, False),
        "C": (0.0, True),
        "B": (300.0, True),
        "D": (100.0, False),
        "F": (0.0, True),
        "E": (200.0, True),
    }
    # budgets: each second once, acquisition after every hand-over
    rate = 8 * 1279  # one CADU per second
    budgets = {x.station: pass_budget_bytes(x, rate) for x in got}
    assert budgets == {
        "A": 590 * 1107,
        "C": 0,
        "B": 290 * 1107,
        "D": 90 * 1107,
        "F": 0,
        "E": 190 * 1107,
    }


OTHER = """SAT TWO
1 99999U 98067A   14020.93268519  .00009878  00000-0  18200-3 0  508X
2 99999  97.6498 109.4756 0003572  55.9686 274.8005 15.49815350868473X
"""


def _with_checksums(text: str) -> str:
    """Column 69 of each element line: the sum of the digits of columns 1-68, '-' as 1,
    modulo 10 (the TLE format's checksum, written here from its definition)."""
    out = []
    for line in text.strip().splitlines():
        if line[:2] in ("1 ", "2 "):
            body = line[:68]
            total = sum(int(ch) if ch.isdigit() else ch == "-" for ch in body)
            line = body + str(total % 10)
        out.append(line)
    return "\n".join(out) + "\n"


def test_multi_satellite_tle_files_and_selection():
    from ground_station.passes import parse_tle_file, select_tle

    text = ISS_TLE + "\n" + _with_checksums(OTHER) + "\n".join(ISS_TLE.strip().splitlines()[1:])
    tles = parse_tle_file(text)
    assert [(t.name, t.satnum) for t in tles] == [
        ("ISS (ZARYA)", 25544),
        ("SAT TWO", 99999),
        ("SAT 25544", 25544),
    ]
    assert select_tle(tles[:2], "99999").name == "SAT TWO"
    assert select_tle(tles[:2], "sat two").satnum == 99999
    assert select_tle(tles[:2], "ISS (ZARYA)").satnum == 25544
    with pytest.raises(TleError, match=r"holds 2 satellites .*ISS \(ZARYA\) \(25544\)"):
        select_tle(tles[:2], None)
    with pytest.raises(TleError, match="no satellite 'HUBBLE'"):
        select_tle(tles, "HUBBLE")
    with pytest.raises(TleError, match="2 element sets for '25544'"):
        select_tle(tles, "25544")
    with pytest.raises(TleError, match=r"set 2 \(line 4\): TLE line 1: column 69"):
        parse_tle_file(ISS_TLE + OTHER)
    # the second satellite's windows differ from the first's (another orbit)
    sso = contact_windows(tles[1], [ZURICH], EPOCH, EPOCH + timedelta(hours=12))
    iss = contact_windows(tles[0], [ZURICH], EPOCH, EPOCH + timedelta(hours=12))
    assert [w.aos for w in sso] != [w.aos for w in iss]


def test_tle_age_warns_and_refuses():
    from ground_station.errors import TleAgeError
    from ground_station.passes import check_tle_age, tle_age_days

    tle = parse_tle(ISS_TLE)
    # epoch 2014-01-20 22:23:04; an interval ending 2014-02-01 00:00 is 11.067 days away
    start, end = datetime(2014, 1, 31, tzinfo=UTC), datetime(2014, 2, 1, tzinfo=UTC)
    assert tle_age_days(tle, start, end) == pytest.approx(11 + (3600 + 36 * 60 + 56) / 86400)
    assert check_tle_age(tle, EPOCH, EPOCH + timedelta(days=1)) is None
    warning = check_tle_age(tle, start, end)
    assert "11.1 days" in warning and "ISS (ZARYA) (25544)" in warning
    with pytest.raises(TleAgeError, match="max-tle-age 10"):
        check_tle_age(tle, start, end, max_age_days=10)
    # before the epoch counts as well
    assert tle_age_days(tle, EPOCH - timedelta(days=5), EPOCH) == pytest.approx(5.0)


def test_station_own_mask_and_horizon_text():
    from ground_station.passes import parse_horizon

    st = Station.parse("47.37,8.54,408,3.5", name="z", min_elevation_deg=10)
    assert st.min_elevation_deg == 3.5
    assert Station.parse("47.37,8.54,408", min_elevation_deg=10).min_elevation_deg == 10.0
    assert parse_horizon("0:5, 90:20") == ((0.0, 5.0), (90.0, 20.0))
    with pytest.raises(InputError, match="AZ:EL"):
        parse_horizon("0:5,90")
    with pytest.raises(InputError, match="horizon_mask"):
        Station.parse("47,8,0", horizon_mask=((400.0, 5.0),))
    with pytest.raises(InputError, match="3 or 4 numbers"):
        Station.parse("47,8,0,5,6")
