"""The physical channel: link budget, bit error rate, what Reed-Solomon can restore, and the
simulator run on it (triage.sim.channel).

Expected values are hand-derived or textbook: the free-space loss in its
``32.45 + 20 log f(MHz) + 20 log d(km)`` form, Boltzmann's constant as -228.6 dB, BPSK's
tabulated error rates, the binomial tail written with exact integer binomials, slant
ranges from the triangle Earth centre - station - satellite. The error-pattern rule
(a codeword survives with at most 16 wrong bytes) is checked against the ground's own
Reed-Solomon decoder on the firmware's CADUs."""

from __future__ import annotations

import json
import math
from datetime import timedelta
from fractions import Fraction

import numpy as np
import pytest

from ground_station.ingest import ingest_bytes
from triage.contract.enums import RequestAction
from triage.contract.frames import ASM_BYTES, CADU_BYTES, DATA_FIELD_BYTES
from triage.contract.packets import DEFAULT_SPACECRAFT_ID, decode_request
from triage.onboard import link_encode
from triage.sim.build import LINK_BUDGETS, PHYSICAL_LOSS, build_synthetic_set
from triage.sim.channel import (
    PhysicalChannel,
    bpsk_ber,
    cadu_outcome,
    codeword_failure_probability,
    ebn0_db,
    flip_bits,
    frame_loss_probability,
    free_space_loss_db,
    packet_frames,
    packets_survived,
)
from triage.sim.errors import ManifestError
from triage.sim.link import plan_passes
from triage.sim.manifest import LinkBudget, load_manifest, parse_manifest
from triage.sim.runner import run_simulation

from ..ground.cli_proc import groundstation
from ..link.streams import firmware_pass
from ..onboard.conftest import lib  # noqa: F401 - the firmware's host library


def test_free_space_loss_and_ebn0_hand_derived():
    # 32.45 + 20 log10(437) + 20 log10(1000) = 32.45 + 52.81 + 60 = 145.26 dB
    assert float(free_space_loss_db(1000.0, 437e6)) == pytest.approx(145.26, abs=0.01)
    # 2.2 GHz at 2000 km: 32.45 + 66.85 + 66.02 = 165.32 dB
    assert float(free_space_loss_db(2000.0, 2.2e9)) == pytest.approx(165.32, abs=0.01)
    b = LinkBudget(frequency_hz=437e6, eirp_dbw=0.0, g_over_t_db_k=-25.0, losses_db=8.0)
    # 0 - 25 - 145.26 - 8 + 228.6 - 10 log10(9600) (39.82) = 10.52 dB
    assert float(ebn0_db(b, 1000.0, 9600)) == pytest.approx(10.52, abs=0.01)


@pytest.mark.parametrize(
    ("ebn0", "ber"),  # textbook coherent BPSK
    [(0.0, 7.865e-2), (4.0, 1.25e-2), (6.79, 1.0e-3), (8.40, 1.0e-4), (9.59, 1.0e-5)],
)
def test_bpsk_bit_error_rate(ebn0, ber):
    assert float(bpsk_ber(ebn0)) == pytest.approx(ber, rel=0.02)


def test_codeword_failure_is_the_binomial_tail_beyond_16():
    for ber in (2e-3, 6e-3, 1e-2):
        p = Fraction(1) - (Fraction(1) - Fraction(ber)) ** 8
        tail = sum(math.comb(255, k) * p**k * (1 - p) ** (255 - k) for k in range(17, 256))
        assert float(codeword_failure_probability(ber)[0]) == pytest.approx(float(tail), rel=1e-9)
        frame = 1 - (1 - tail) ** 5
        assert float(frame_loss_probability(ber)[0]) == pytest.approx(float(frame), rel=1e-9)
    assert float(frame_loss_probability(1e-4)[0]) < 1e-20
    assert float(frame_loss_probability(5e-2)[0]) == pytest.approx(1.0)


def test_packets_map_onto_frames_back_to_back():
    d = DATA_FIELD_BYTES
    sizes = np.array([100, d - 100, 2 * d + 5, 10])
    first, last = packet_frames(sizes)
    assert first.tolist() == [0, 0, 1, 3]
    assert last.tolist() == [0, 0, 3, 3]
    ok = np.array([True, True, False, True])
    assert packets_survived(sizes, ok).tolist() == [True, True, False, True]
    assert packets_survived(sizes, np.array([False, True, True, True])).tolist() == [
        False,
        False,
        True,
        True,
    ]


@pytest.fixture(scope="module")
def cadus(lib):  # noqa: F811
    return link_encode(firmware_pass("packets"), "cadu")


def _set_byte_errors(cadu: bytearray, word: int, n: int) -> None:
    """n wrong bytes in codeword ``word`` of one CADU (codeblock byte i is in word i % 5)."""
    for i in range(n):
        cadu[ASM_BYTES + word + 5 * (3 * i + 1)] ^= 0x5A


def test_error_pattern_rule_against_the_ground_decoder(cadus, tmp_path):
    """16 wrong bytes in a codeword are corrected, 17 are not: the rule and the ground's
    decoder agree on every CADU, frames received and symbols corrected."""
    units = [bytearray(cadus[k : k + CADU_BYTES]) for k in range(0, len(cadus), CADU_BYTES)]
    assert len(units) >= 6
    _set_byte_errors(units[1], 2, 16)
    _set_byte_errors(units[2], 0, 17)
    _set_byte_errors(units[3], 4, 16)
    _set_byte_errors(units[3], 1, 9)
    received = b"".join(bytes(u) for u in units)
    out = cadu_outcome(cadus, received)
    assert out.survived[:5].tolist() == [True, True, False, True, True]
    assert out.symbols_corrected == 16 + 16 + 9
    st = ingest_bytes(tmp_path / "c.sqlite", received, input_format="cadu")
    assert st.link["frames"] == len(units) - 1
    assert st.link["symbols_corrected"] == 41
    assert st.link["codeblocks_uncorrectable"] == 1


@pytest.mark.parametrize("ber", [3e-3, 7e-3, 9e-3])
def test_random_bit_errors_rule_against_the_ground_decoder(cadus, tmp_path, ber):
    """Seeded bit errors near the code's limit: frames the ground gets back and symbols it
    corrects are exactly what the error pattern says."""
    rng = np.random.default_rng(int(ber * 1e6))
    n = len(cadus) // CADU_BYTES
    received = flip_bits(cadus, np.full(n, ber), rng)
    out = cadu_outcome(cadus, received)
    st = ingest_bytes(tmp_path / "c.sqlite", received, input_format="cadu")
    assert st.link["frames"] == int(out.survived.sum())
    assert st.link["symbols_corrected"] == out.symbols_corrected
    if ber == 9e-3:
        assert out.lost > 0  # the limit is really reached


def test_frame_loss_probability_matches_bit_errors():
    """The baselines' per-frame draw and the triage mode's bit errors are one channel: the
    fraction of CADUs the error rule loses at a stated BER is the analytic probability."""
    rng = np.random.default_rng(7)
    n = 3000
    clean = bytes(n * CADU_BYTES)
    for ber in (7e-3, 8.5e-3):
        lost = cadu_outcome(clean, flip_bits(clean, np.full(n, ber), rng)).lost
        p = float(frame_loss_probability(ber)[0])
        assert abs(lost - n * p) <= 4 * math.sqrt(n * p * (1 - p)) + 1, (ber, lost, n * p)


def _radius_km(lat_deg: float) -> float:
    """Geocentric radius of the WGS84 ellipsoid at a geodetic latitude."""
    a, b = 6378.137, 6356.752
    c, s = math.cos(math.radians(lat_deg)), math.sin(math.radians(lat_deg))
    return math.sqrt(((a * a * c) ** 2 + (b * b * s) ** 2) / ((a * c) ** 2 + (b * s) ** 2))


def _slant_km(elev_deg: float, r_station: float, r_sat: float) -> float:
    e = math.radians(elev_deg)
    return -r_station * math.sin(e) + math.sqrt(
        (r_station * math.sin(e)) ** 2 + r_sat**2 - r_station**2
    )


@pytest.fixture(scope="module")
def physical_set(tmp_path_factory):
    return build_synthetic_set(
        tmp_path_factory.mktemp("physical-set"),
        n_scenes=2,
        rows=256,
        cols=256,
        seed=31,
        ships_per_scene=6,
        loss=PHYSICAL_LOSS,
        sim_span=timedelta(days=2),
    )


def test_slant_range_along_a_pass_from_the_elevation(physical_set):
    """The range from SGP4 at closest approach and at AOS against the triangle formula at
    the pass's peak and mask elevations: within 2 % (the formula takes a spherical
    vertical and the mean orbit radius; J2 moves the radius by about 10 km)."""
    m = load_manifest(physical_set)
    ch = PhysicalChannel(m, "triage")
    line2 = m.orbit.tle.line2
    n_rev_day = float(line2[52:63])
    r_sat = (398600.4418 / (n_rev_day * 2 * math.pi / 86400) ** 2) ** (1 / 3)
    stations = {s.name: s for s in m.stations}
    checked = 0
    for p in plan_passes(m)[:6]:
        st = stations[p.station]
        r_st = _radius_km(st.latitude_deg) + st.altitude_m / 1000
        t = np.linspace(0, p.duration_s, 400)
        r = ch.range_km(p, t)
        assert float(r.min()) == pytest.approx(
            _slant_km(p.max_elevation_deg, r_st, r_sat), rel=0.02
        )
        assert float(r[0]) == pytest.approx(_slant_km(st.min_elevation_deg, r_st, r_sat), rel=0.02)
        checked += 1
    assert checked == 6


def test_link_budget_manifest_needs_budget_orbit_and_uplink(physical_set):
    doc = json.loads(physical_set.read_text())
    parse_manifest(doc)
    no_budget = json.loads(json.dumps(doc))
    del no_budget["link"]["budget"]
    with pytest.raises(ManifestError, match=r"needs link\.budget"):
        parse_manifest(no_budget)
    lossy_uplink = json.loads(json.dumps(doc))
    lossy_uplink["link"]["uplink_reliable"] = False
    with pytest.raises(ManifestError, match="downlink only"):
        parse_manifest(lossy_uplink)
    explicit = json.loads(json.dumps(doc))
    del explicit["orbit"]["tle"]
    explicit["orbit"]["passes"] = [
        {
            "station": "svalbard",
            "start_utc": doc["window_start_utc"],
            "end_utc": doc["window_end_utc"],
        }
    ]
    with pytest.raises(ManifestError, match=r"needs orbit\.tle"):
        parse_manifest(explicit)
    assert doc["link"]["budget"] == LINK_BUDGETS["uhf"].model_dump()


@pytest.fixture(scope="module")
def physical_run(physical_set, tmp_path_factory):
    out = tmp_path_factory.mktemp("physical-run") / "run"
    return run_simulation(physical_set, out, keep_streams=out.parent / "streams"), out


def test_run_on_the_physical_channel(physical_run):
    res, out = physical_run
    metrics = json.loads((out / "metrics.json").read_text())
    per_pass = metrics["link_by_pass"]["triage"]
    assert len(per_pass) == len(res.passes)
    assert {"raw", "compressed"} <= set(metrics["link_by_pass"])
    lost = corrected = 0
    for row in per_pass:
        # the ground's receiver did exactly what the error pattern says it must
        assert row["frames_lost"] == row["frames_lost_expected"], row
        assert row["symbols_corrected"] == row["symbols_corrected_expected"], row
        if row["cadus_sent"]:
            assert row["ebn0_min_db"] <= row["ebn0_max_db"]
        if row["ebn0_min_db"] is not None and row["ebn0_min_db"] > 7.0:
            assert row["frames_lost"] == 0, row  # BER < 8e-4: nothing the code cannot fix
        lost += row["frames_lost"]
        corrected += row["symbols_corrected"]
    assert lost > 0 and corrected > 0  # this budget loses frames low on the horizon
    tri = metrics
    assert tri["frames_lost"] == lost
    # what the tracker was handed is what the ground ingested
    assert metrics["ground"]["packets_received"] == tri["packets_sent"] - tri["packets_lost"]
    assert metrics["ground"]["ingest_products_invalid"] == 0
    assert not any("error pattern says" in n for n in res.notes)
    html = (out / "report.html").read_text()
    assert "Eb/N0 dB" in html and "RS symbols corrected" in html


def test_directories_lost_low_on_the_horizon_still_let_the_store_down(physical_set, tmp_path):
    """One station with a 2-degree mask: every pass opens where the link cannot close, so
    the STORE_DIRECTORY that opens it is lost. While the ground has no directory it
    uplinks no request, and the satellite, with no request by the middle of the pass,
    sends its directory again there, higher in the sky: from then on the ground plans
    (retransmissions, then REST for what was made since), and the report says why."""
    doc = json.loads(physical_set.read_text())
    doc["stations"] = [{**doc["stations"][0], "min_elevation_deg": 2.0}]
    path = physical_set.parent / "low-mask.json"
    path.write_text(json.dumps(doc))
    res = run_simulation(path, tmp_path / "run")
    tri = res.modes["triage"].traffic
    opened = [t for t in tri if t.directory_bytes]
    assert opened and all(t.directory_lost for t in opened)
    again = [t for t in tri if t.directory_again]
    # the first pass has no request: its directory again; once one got through, requests
    assert again and again[0] is opened[0]
    assert 0 < res.ground["requests_uplinked"] <= len(opened)
    assert sum(t.sent_bytes - t.directory_bytes for t in tri) > 0
    assert res.metrics()["ships_delivered"] > 0
    assert any(
        f"was lost in {len(opened)} of {len(opened)} passes" in n and f"({len(again)} passes)" in n
        for n in res.notes
    )


def test_a_constellation_on_the_physical_channel(physical_set, tmp_path):
    """Two satellites on the physical channel: each one's CADUs take the link budget of
    its own orbit and carry its own spacecraft id; the kept streams are one folder per
    satellite, and the ground station takes a satellite's passes only under its id."""
    from ground_station.status import catalogue_status

    doc = json.loads(physical_set.read_text())
    doc["orbit"]["satellites"] = 2
    path = physical_set.parent / "two-satellites.json"
    path.write_text(json.dumps(doc))
    out, streams = tmp_path / "run", tmp_path / "streams"
    res = run_simulation(path, out, keep_streams=streams)
    m = parse_manifest(doc)
    metrics = json.loads((out / "metrics.json").read_text())
    sat_of = {p.index: p.satellite for p in res.passes}
    assert set(sat_of.values()) == {0, 1}
    n_rev_day = float(m.orbit.tle.line2[52:63])
    r_sat = (398600.4418 / (n_rev_day * 2 * math.pi / 86400) ** 2) ** (1 / 3)
    far = max(
        _slant_km(s.min_elevation_deg, _radius_km(s.latitude_deg) + s.altitude_m / 1000, r_sat)
        for s in m.stations
    )
    worst = float(ebn0_db(m.link.budget, far, m.link.rate_bps))
    for row in metrics["link_by_pass"]["triage"]:
        # the receiver did what the error pattern says, on either satellite's passes
        assert row["frames_lost"] == row["frames_lost_expected"], row
        assert row["symbols_corrected"] == row["symbols_corrected_expected"], row
        if row["cadus_sent"]:
            # the range of a pass is its own satellite's: at best it sees the station
            # from above the elevation mask (the manifest's orbit, 180 degrees away
            # along the plane for the second satellite, would be below the horizon)
            assert row["ebn0_max_db"] >= worst - 0.5, (sat_of[row["pass"]], row)
    sats = json.loads((streams / "constellation.json").read_text())["satellites"]
    assert [(s["folder"], s["spacecraft_id"]) for s in sats] == [
        ("sat-1", DEFAULT_SPACECRAFT_ID),
        ("sat-2", DEFAULT_SPACECRAFT_ID + 1),
    ]
    second = streams / "sat-2"
    kept = json.loads((second / "passes.json").read_text())["passes"]
    files = sorted(f for p in kept for f in p["cadu_files"])
    assert files and all(sat_of[int(f[5:9])] == 1 for f in files)
    # the requests the ground uplinked are kept too, each one a DOWNLINK_REQUEST
    reqs = [r["file"] for p in kept for r in p["requests"]]
    assert reqs
    for r in reqs:
        _, entries = decode_request((second / r).read_bytes())
        assert entries[-1]["action"] == RequestAction.REST
    assert "--spacecraft-id 0x1A8" in (second / "README.md").read_text()
    # under the first satellite's id (the default): refused whole, nothing stored
    r = groundstation("ingest", *files, "--format", "cadu", "--db", tmp_path / "a.sqlite",
                      cwd=second, timeout=600)  # fmt: skip
    assert r.code == 3, r.err
    assert "0x1A8" in r.err
    assert catalogue_status(tmp_path / "a.sqlite")["products"].get("complete", 0) == 0
    # under its own id (given in hexadecimal, as the reports print it): what the run got
    r = groundstation("ingest", *files, "--format", "cadu", "--spacecraft-id", "0x1A8",
                      "--db", tmp_path / "b.sqlite", cwd=second, timeout=600)  # fmt: skip
    assert r.code == 0, r.err
    ours = catalogue_status(tmp_path / "b.sqlite")["products"]
    run = catalogue_status(out / "ground-2" / "catalogue.sqlite")["products"]
    assert ours["complete"] == run["complete"] > 0


def test_kept_cadu_streams_reingest_to_the_runs_catalogue(physical_run, tmp_path):
    """--keep-streams on the physical channel keeps each transmission's CADUs as the ground
    received them, bit errors and all; the ground station's CLI ingests them again into a
    fresh catalogue (the README's command) and completes the products the run's own
    catalogue completed, correcting the symbols the run reports."""
    from ground_station.status import catalogue_status

    _, out = physical_run
    streams = out.parent / "streams"
    index = json.loads((streams / "passes.json").read_text())["passes"]
    metrics = json.loads((out / "metrics.json").read_text())
    per_pass = {r["pass"]: r for r in metrics["link_by_pass"]["triage"]}
    for p in index:
        assert p["file"] is None  # packets are not what a receiver hands over here
        row = per_pass[p["pass"]]
        assert p["cadu_bytes"] == row["cadus_sent"] * CADU_BYTES
        for name in p["cadu_files"]:
            assert (streams / name).stat().st_size % CADU_BYTES == 0
    files = sorted(f for p in index for f in p["cadu_files"])
    assert files and "--format cadu" in (streams / "README.md").read_text()
    db = tmp_path / "again.sqlite"
    r = groundstation(
        "ingest", *files, "--format", "cadu", "--db", db, "--json", cwd=streams, timeout=600
    )
    assert r.code == 0, r.err
    st = json.loads(r.out)
    assert st["link"]["symbols_corrected"] == sum(
        row["symbols_corrected"] for row in per_pass.values()
    )
    ours = catalogue_status(db)["products"]
    run = catalogue_status(streams / "catalogue.sqlite")["products"]
    assert ours["complete"] == run["complete"] > 0
