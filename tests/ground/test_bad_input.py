"""Bad input on the command line: one line on stderr and a non-zero exit, never a traceback,
never a silent success, never a command that runs on and on.

Each case is run in-process through the console script's ``main`` (an exception it does not
handle fails the test with the traceback); the cases that need a child process (a hang)
are bounded by a timeout there.
"""

from __future__ import annotations

import sys

import pytest

from ground_station.cli import main
from ground_station.ingest import ingest_bytes

from .cli_proc import groundstation
from .gs_streams import frame_products, stream_of, synthetic_frame

ISS_TLE = """ISS (ZARYA)
1 25544U 98067A   14020.93268519  .00009878  00000-0  18200-3 0  5082
2 25544  51.6498 109.4756 0003572  55.9686 274.8005 15.49815350868473
"""
STATION = ["--station", "zurich=47.37,8.54,408"]
DAY = ["--start", "2014-01-21T00:00Z", "--end", "2014-01-21T09:00Z"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    f = tmp_path_factory.mktemp("bad")
    (f / "tle.txt").write_text(ISS_TLE)
    ingest_bytes(f / "c.sqlite", b"".join(stream_of(frame_products(synthetic_frame(3), 7))))
    return f


def run(capsys, monkeypatch, folder, args) -> tuple[int, str]:
    args = [a.format(f=folder) for a in args]
    monkeypatch.setattr(sys, "argv", ["groundstation", *args])
    monkeypatch.chdir(folder)
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    return code, capsys.readouterr().err


PLAN = ["plan", "--db", "c.sqlite", "--tle", "tle.txt", *STATION, "--rate-bps", "9600"]
PASSES = ["passes", "--tle", "tle.txt", *STATION]

CASES = {
    "plan at the end of time": [*PLAN, "--start", "9999-12-31T23:00Z"],
    "plan ending past the end of time": [
        *PLAN,
        "--start",
        "9999-12-31T00:00Z",
        "--end",
        "9999-12-31T23:59Z",
    ],
    "passes at the end of time": [
        *PASSES,
        "--start",
        "9999-12-31T00:00Z",
        "--end",
        "9999-12-31T23:00Z",
    ],
    "passes in year 1": [*PASSES, "--start", "0001-01-01T00:00Z", "--end", "0001-01-01T10:00Z"],
    "plan over a century": [*PLAN, "--start", "2014-01-21T00:00Z", "--end", "2114-01-21T00:00Z"],
    "passes 40 years from the TLE": [
        *PASSES,
        "--start",
        "2054-01-01T00:00Z",
        "--end",
        "2054-01-01T09:00Z",
    ],
    "track step infinite": [*PASSES, *DAY, "--json", "--track-step", "inf"],
    "carrier infinite": [*PASSES, *DAY, "--carrier-mhz", "inf"],
    "acquisition infinite": [*PLAN, *DAY, "--acquisition-s", "inf"],
    "two stations of one name": [*PASSES, *DAY, "--station", "zurich=46.95,7.44,540"],
    "bench of infinite megabytes": ["bench", "--megabytes", "inf", "--workdir", "{f}"],
    "bench of 1e300 megabytes": ["bench", "--megabytes", "1e300", "--workdir", "{f}"],
    "export of a frame not in the catalogue": [
        "export",
        "--db",
        "c.sqlite",
        "--out",
        "o",
        "--frame",
        "99",
    ],
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_one_line_and_a_non_zero_exit(capsys, monkeypatch, folder, name):
    if name in ("passes in year 1", "plan over a century"):  # these ran for hours
        r = groundstation(*[a.format(f=folder) for a in CASES[name]], timeout=60)
        code, err = r.code, r.err
        assert r.one_error_line, err
    else:
        code, err = run(capsys, monkeypatch, folder, CASES[name])
    lines = [ln for ln in err.splitlines() if ln.strip() and "warning" not in ln]
    assert code != 0, f"{name}: exit 0"
    assert len(lines) == 1 and lines[0].startswith("groundstation: error: "), err
