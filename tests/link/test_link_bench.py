"""The downlink bench on the firmware's own products: ``triage bench downlink`` writes the
firmware's downlink of a real port scene as bare packets and as CADUs, and
``groundstation bench --link-streams`` ingests them clean and under stated faults. The
counts are checked, not the speeds (speeds are the bench's business)."""

from __future__ import annotations

import json

import pytest

from ground_station.cli import main
from ground_station.frames import Receiver
from triage.onboard.downlink_stream import write_streams

from ..onboard.conftest import lib  # noqa: F401 - the firmware's host library


@pytest.fixture(scope="module")
def streams(tmp_path_factory, data_dir, lib):  # noqa: F811
    out = tmp_path_factory.mktemp("downlink")
    doc = write_streams(out, megabytes=0.5, ports=["gdynia"])
    return out, doc


def test_streams_are_the_firmware_downlink(streams):
    out, doc = streams
    packets = (out / "downlink.packets").read_bytes()
    cadus = (out / "downlink.cadu").read_bytes()
    assert doc["ports"] == ["gdynia"] and doc["repetitions"] >= 2
    assert len(packets) == doc["packets_bytes"] >= 0.5e6
    assert len(cadus) == doc["cadu_bytes"] == 1279 * doc["cadus"]
    assert b"".join(Receiver("cadu").packets([cadus])) == packets


def test_link_bench_clean_and_under_faults(streams, capsys, monkeypatch, tmp_path):
    out, doc = streams
    monkeypatch.setattr(
        "sys.argv",
        [
            "groundstation",
            "bench",
            "--megabytes",
            "1",
            "--workdir",
            str(tmp_path),
            "--link-streams",
            str(out),
            "--json",
        ],
    )
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code in (0, None)
    r = json.loads(capsys.readouterr().out)["link"]
    products = doc["products_per_repetition"] * doc["repetitions"]
    for name in (
        "packets",
        "packets_decoded",
        "packets_shuffled",
        "cadu_clean",
        *(f"cadu_ber_{b:g}" for b in r["channel_bers"]),
    ):
        assert r[name]["products_completed"] == products, name
    for name, f in r.items():
        if isinstance(f, dict) and "mb_per_s" in f:
            assert f["products_invalid"] == 0, name
            assert f["input_bytes"] > 0 and f["mb_per_s"] > 0
    assert r["cadu_clean"]["symbols_corrected"] == 0
    assert r["cadu_ber_0.001"]["symbols_corrected"] > 0
    assert r["cadu_ber_0.001"]["codeblocks_uncorrectable"] == 0
    assert r["cadu_lost"]["cadus_dropped"] > 0
    assert r["cadu_lost"]["products_completed"] < products
    assert r["packets_lost"]["packets_written"] < r["packets_shuffled"]["packets_written"]
    assert r["targets_mb_per_s"] == {"cadu": 25.0, "packets": 60.0}
    assert r["packets_decoded"]["decode_streams"] and not r["packets"]["decode_streams"]
    assert list(tmp_path.iterdir()) == []
