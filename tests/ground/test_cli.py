"""The ``groundstation`` CLI: --help everywhere, --json, exit codes, one error line."""

from __future__ import annotations

import json
import sys

import pytest

from ground_station.cli import main
from triage.contract.enums import PRODUCT_BY_NAME
from triage.contract.packets import decode_request

from .gs_streams import directory_product, frame_products, stream_of, synthetic_frame

SEED = 20261201
ISS_TLE = """ISS (ZARYA)
1 25544U 98067A   14020.93268519  .00009878  00000-0  18200-3 0  5082
2 25544  51.6498 109.4756 0003572  55.9686 274.8005 15.49815350868473
"""


def run(capsys, monkeypatch, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["groundstation", *args])
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def files(tmp_path):
    frame = synthetic_frame(SEED)
    products = frame_products(frame, 5)
    entries = [
        {
            "frame_id": 5,
            "product_id": k,
            "product_type": PRODUCT_BY_NAME[t].code,
            "class_id": 2 if t == "SHIP_CROP" else 255,
            "confidence": 200 if t == "SHIP_CROP" else 0,
            "flags": 1,
            "segment_count": -(-len(p) // 1024),
            "product_bytes": len(p),
        }
        for k, (p, t) in enumerate(
            zip(
                products,
                ["QUICKLOOK", "SHIP_CROP", "SHIP_CROP", "SHIP_CROP", "FRAME_SUMMARY"],
                strict=True,
            )
        )
    ]
    directory = directory_product(entries, 1, 1_772_000_000)
    pk = stream_of([directory, *products])
    (tmp_path / "directory.bin").write_bytes(b"".join(stream_of([directory])))
    (tmp_path / "pass.bin").write_bytes(b"".join(pk[:10] + pk[12:]))
    (tmp_path / "rest.bin").write_bytes(b"".join(pk[10:12]))
    (tmp_path / "garbage.bin").write_bytes(bytes(range(256)) * 50)
    (tmp_path / "tle.txt").write_text(ISS_TLE)
    return tmp_path


@pytest.mark.parametrize(
    "cmd", ["ingest", "export", "plan", "request", "passes", "status", "bench", "version"]
)
def test_help_everywhere(capsys, monkeypatch, cmd):
    code, out, _ = run(capsys, monkeypatch, cmd, "--help")
    assert code == 0 and "Usage" in out


def test_ingest_status_export_json(capsys, monkeypatch, files):
    db = str(files / "c.sqlite")
    code, out, _ = run(capsys, monkeypatch, "ingest", str(files / "pass.bin"), "--db", db, "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["products_completed"] == 5 and doc["new_segments"] == doc["deframe"]["packets"]
    code, out, _ = run(capsys, monkeypatch, "status", "--db", db, "--json")
    s = json.loads(out)
    assert code == 0
    assert s["products"]["incomplete"] == 1 and s["missing_segments"] == 2
    # stream packets 10 and 11: directory (1 packet), quicklook (4), then crop 1 segments 5, 6
    assert s["incomplete"][0]["missing"] == [[5, 6]]
    assert s["store_directory"]["entries"] == 5
    code, out, _ = run(
        capsys, monkeypatch, "ingest", str(files / "rest.bin"), "--db", db, "--progress"
    )
    assert code == 0 and "1 completed" in out
    code, out, _ = run(
        capsys, monkeypatch, "export", "--db", db, "--out", str(files / "out"), "--json"
    )
    assert code == 0
    rep = json.loads(out)
    assert rep["crops"] == 3 and rep["n_detections"] == 3
    assert (files / "out" / "mosaics" / "frame-5.png").exists()


def test_plan_writes_the_request(capsys, monkeypatch, files):
    db = str(files / "c.sqlite")
    run(capsys, monkeypatch, "ingest", str(files / "pass.bin"), "--db", db)
    args = [
        "plan",
        "--db",
        db,
        "--tle",
        str(files / "tle.txt"),
        "--station",
        "zurich=47.37,8.54,408",
    ]
    args += [
        "--rate-bps",
        "2000000",
        "--start",
        "2014-01-21T00:00:00Z",
        "--end",
        "2014-01-21T09:00Z",
    ]
    code, out, _ = run(
        capsys, monkeypatch, *args, "--json", "--request-out", str(files / "req.bin")
    )
    assert code == 0
    doc = json.loads(out)
    assert len(doc["passes"]) == 5
    assert doc["passes"][0]["window"]["station"] == "zurich"
    first = doc["passes"][0]
    assert first["budget_bytes"] > first["planned_bytes"] > 0
    seq, entries = decode_request((files / "req.bin").read_bytes())
    assert seq == 0
    # releases, the plan's sends, then the REST entry (the rest of the store)
    assert (
        len(entries)
        == first["request"]["entries"]
        == len(first["items"]) + len(first["releases"]) + 1
    )
    assert first["request"]["then_rest"] is True
    assert entries[-1] == {
        "frame_id": 0,
        "product_id": 0,
        "action": 3,
        "reserved": 0,
        "segment_first": 0,
        "segment_last": 0,
    }
    assert all(e["action"] in (1, 2) for e in entries[:-1])
    code, out, _ = run(capsys, monkeypatch, *args)  # the table
    assert code == 0 and "Downlink plan" in out and "missing segments" in out
    assert "then the rest of the store" in out
    # --exact: the plan and nothing else
    code, out, _ = run(
        capsys,
        monkeypatch,
        *args,
        "--json",
        "--exact",
        "--request-out",
        str(files / "req2.bin"),
    )
    assert code == 0
    first = json.loads(out)["passes"][0]
    _, entries = decode_request((files / "req2.bin").read_bytes())
    assert first["request"]["then_rest"] is False
    assert len(entries) == len(first["items"]) + len(first["releases"])
    assert all(e["action"] in (1, 2) for e in entries)


ORBIT = ["--tle", "{f}/tle.txt", "--start", "2014-01-21T00:00Z", "--end", "2014-01-21T09:00Z"]
NEIGHBOURS = ["--station", "zurich=47.37,8.54,408", "--station", "bern=46.95,7.44,540,5"]


def test_passes_json_lists_what_an_operator_schedules_by(capsys, monkeypatch, files):
    args = [a.format(f=files) for a in ORBIT] + NEIGHBOURS
    horizon = ["--horizon", "bern=0:5,90:20,180:5,270:5"]
    code, out, err = run(
        capsys, monkeypatch, "passes", *args, *horizon, "--carrier-mhz", "2245", "--json",
        "--track-step", "30",
    )  # fmt: skip
    assert code == 0 and err == ""
    doc = json.loads(out)
    assert doc["satellite"]["norad_id"] == 25544 and doc["carrier_hz"] == 2245e6
    assert doc["stations"][1]["min_elevation_deg"] == 5.0  # bern's own mask
    assert doc["stations"][1]["horizon_mask"][1] == [90.0, 20.0]
    assert doc["stations"][0]["min_elevation_deg"] == 10.0  # --min-elevation's default
    ps = doc["passes"]
    assert {p["station"] for p in ps} == {"zurich", "bern"}
    for p in ps:
        assert p["aos"] < p["tca"] < p["los"]
        assert p["doppler"]["aos_hz"] > 0 > p["doppler"]["los_hz"]
        assert p["track"][0]["time"] == p["aos"] and p["track"][-1]["time"] == p["los"]
    # the two stations are 90 km apart: their contacts overlap and share the downlink
    assert any(p["downlink_s"] < p["duration_s"] for p in ps)
    code, out, _ = run(capsys, monkeypatch, "passes", *args)
    assert code == 0 and "Doppler" in out and "(shared)" in out


def test_plan_budgets_overlapping_contacts_once(capsys, monkeypatch, files):
    db = str(files / "c.sqlite")
    run(capsys, monkeypatch, "ingest", str(files / "pass.bin"), "--db", db)
    args = [a.format(f=files) for a in ORBIT] + NEIGHBOURS
    code, out, _ = run(
        capsys, monkeypatch, "plan", "--db", db, *args, "--rate-bps", "1279000",
        "--acquisition-s", "0", "--json",
    )  # fmt: skip
    assert code == 0
    doc = json.loads(out)
    windows = [p["window"] for p in doc["passes"]]
    total = sum(p["budget_bytes"] for p in doc["passes"])
    # 1279 kbit/s = 125 CADUs/s: the union of the contact time, in whole CADUs per pass
    union = []
    for w in sorted(windows, key=lambda w: w["aos"]):
        if union and w["aos"] <= union[-1][1]:
            union[-1][1] = max(union[-1][1], w["los"])
        else:
            union.append([w["aos"], w["los"]])
    from datetime import datetime

    seconds = sum(
        (datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds() for a, b in union
    )
    assert len(union) < len(windows)  # some contacts overlap
    assert total <= seconds * 125 * 1107
    assert total >= (seconds - len(windows)) * 125 * 1107  # whole CADUs lost per pass at most
    assert doc["warnings"] == []


def test_old_tle_warns_and_max_tle_age_refuses(capsys, monkeypatch, files):
    args = ["--tle", str(files / "tle.txt"), "--station", "47.37,8.54,408"]
    when = ["--start", "2014-03-01T00:00Z", "--end", "2014-03-02T00:00Z"]
    code, out, err = run(capsys, monkeypatch, "passes", *args, *when, "--json")
    assert code == 0
    assert err.startswith("groundstation: warning: TLE of ISS (ZARYA) (25544)")
    assert "40.1 days" in err and json.loads(out)["warnings"] == [err.split("warning: ")[1].strip()]
    code, _, err = run(capsys, monkeypatch, "passes", *args, *when, "--max-tle-age", "30")
    assert code == 1 and "max-tle-age 30" in err.splitlines()[-1]


def test_multi_satellite_file_needs_a_choice(capsys, monkeypatch, files):
    two = ISS_TLE + "\n".join(ISS_TLE.strip().splitlines()[1:]) + "\n"
    (files / "two.tle").write_text(two.replace("ISS (ZARYA)", "ISS"))
    args = ["--tle", str(files / "two.tle"), "--station", "47.37,8.54,408"]
    code, _, err = run(capsys, monkeypatch, "passes", *args, "--start", "2014-01-21T00:00Z")
    assert code == 1 and "choose one" in err
    code, out, _ = run(
        capsys, monkeypatch, "passes", *args, "--satellite", "iss", "--start",
        "2014-01-21T00:00Z", "--json",
    )  # fmt: skip
    assert code == 0 and json.loads(out)["satellite"]["name"] == "ISS"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["ingest", "{f}/garbage.bin", "--db", "{f}/c.sqlite"], 3, "no valid packet"),
        (["ingest", "{f}/none.bin", "--db", "{f}/c.sqlite"], 1, "does not exist"),
        (["status", "--db", "{f}/none.sqlite"], 5, "does not exist"),
        (["status", "--db", "{f}/tle.txt"], 5, "not a ground-station catalogue"),
        (
            [
                "plan",
                "--db",
                "{f}/c.sqlite",
                "--tle",
                "{f}/tle.txt",
                "--station",
                "47,8,0",
                "--rate-bps",
                "1000",
                "--start",
                "2014-01-21T00:00Z",
                "--end",
                "2014-01-21T00:10Z",
            ],
            4,
            "no contact",
        ),
        (
            ["plan", "--tle", "{f}/pass.bin", "--station", "47,8,0", "--rate-bps", "1000"],
            1,
            "not text",
        ),
        (
            ["plan", "--tle", "{f}/tle.txt", "--station", "47,8", "--rate-bps", "1000"],
            1,
            "LAT,LON,ALT_M",
        ),
        (
            [
                "plan",
                "--tle",
                "{f}/tle.txt",
                "--station",
                "47,8,0",
                "--rate-bps",
                "1000",
                "--start",
                "yesterday",
            ],
            1,
            "ISO 8601",
        ),
        (["ingest"], 2, "Missing argument"),
        (["request", "{f}/garbage.bin"], 1, "garbage.bin: not a DOWNLINK_REQUEST telecommand"),
        (["request", "{f}/none.bin"], 1, "none.bin: No such file"),
        (["request"], 2, "Missing argument"),
    ],
)
def test_exit_codes_and_one_error_line(capsys, monkeypatch, files, args, code, message):
    got, _, err = run(capsys, monkeypatch, *[a.format(f=files) for a in args])
    assert got == code
    assert message in err
    if code != 2:
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("groundstation: error: ")


def test_bench_json_small(capsys, monkeypatch, tmp_path):
    code, out, _ = run(
        capsys, monkeypatch, "bench", "--megabytes", "2", "--workdir", str(tmp_path), "--json"
    )
    assert code == 0
    r = json.loads(out)
    assert r["stream"]["stream_bytes"] >= 2e6
    assert r["ingest"]["products_invalid"] == 0 and r["ingest"]["crc_errors"] == 0
    assert r["ingest"]["products_completed"] > 0 and r["ingest"]["mb_per_s"] > 0
    assert r["reingest_duplicates"]["new_segments"] == 0
    assert r["reingest_duplicates"]["duplicates"] == r["stream"]["packets"]
    assert r["export"]["megapixels"] > 0
    assert list(tmp_path.iterdir()) == []  # the temporary stream and catalogue are gone


def test_plan_writes_no_request_before_the_first_directory(capsys, monkeypatch, files):
    """A catalogue that holds no store directory yet (a first pass whose directory was lost:
    nothing valid arrived): no DOWNLINK_REQUEST is written (the satellite, without one,
    sends its store in priority order; an empty request would keep it silent), and the
    plan says so."""
    from ground_station.ingest import ingest_bytes

    db = str(files / "fresh.sqlite")
    ingest_bytes(db, bytes(2048))  # no valid packet: an empty catalogue
    req = files / "req.bin"
    args = [a.format(f=files) for a in ORBIT] + NEIGHBOURS
    code, out, err = run(
        capsys, monkeypatch, "plan", "--db", db, *args, "--rate-bps", "9600",
        "--request-out", str(req),
    )  # fmt: skip
    assert code == 0 and not req.exists(), err
    assert "no DOWNLINK_REQUEST for pass 0" in out and "priority order" in out
    code, out, _ = run(
        capsys, monkeypatch, "plan", "--db", db, *args, "--rate-bps", "9600",
        "--request-out", str(req), "--json",
    )  # fmt: skip
    doc = json.loads(out)
    assert code == 0 and not req.exists()
    assert doc["request_file"] is None and doc["request_bytes"] == 0
    assert any("no request to uplink" in n for n in doc["passes"][0]["notes"])


def test_request_reads_back_what_a_pass_asked_for(capsys, monkeypatch, files):
    """``request`` decodes DOWNLINK_REQUEST files: each entry as the firmware reads it (the
    entries it refuses marked), the segments asked for, and with --db each product named
    from the catalogue: received, listed in a store directory only, or unknown."""
    from triage.contract.packets import encode_request, request_entry

    def raw(frame_id, product_id, action, first, last):  # any field values, refused or not
        return {"frame_id": frame_id, "product_id": product_id, "action": action,
                "reserved": 0, "segment_first": first, "segment_last": last}  # fmt: skip

    entries = [
        request_entry(5, 1, "send", 0, 1),
        request_entry(5, 0, "release"),
        request_entry(9, 9, "send", 2, 4),
        raw(6, 0, 9, 0, 0),  # an unknown action
        raw(1, 0, 3, 0, 0),  # a REST entry with an id
        raw(5, 2, 1, 3, 1),  # SEND, first after last
        request_entry(0, 0, "rest"),
    ]
    req = files / "req.bin"
    req.write_bytes(encode_request(entries, seq_count=11))
    code, out, err = run(capsys, monkeypatch, "request", str(req), "--json")
    assert code == 0, err
    (doc,) = json.loads(out)["requests"]
    assert doc["sequence_count"] == 11 and doc["bytes"] == 6 + 7 * 12 + 2
    assert [e["action"] for e in doc["entries"]] == [
        "SEND", "RELEASE", "SEND", "unknown (9)", "REST", "SEND", "REST",
    ]  # fmt: skip
    assert [e["refused"] is not None for e in doc["entries"]] == [0, 0, 0, 1, 1, 1, 0]
    assert doc["segments_asked"] == 2 + 3 and doc["then_rest"]
    code, out, _ = run(capsys, monkeypatch, "request", str(req))
    lines = out.splitlines()
    assert lines[0].startswith(f"{req}: DOWNLINK_REQUEST, sequence count 11, 7 entries")
    assert lines[0].endswith("5 segments asked for, then the rest of the store")
    assert sum("REFUSED on board" in ln for ln in lines) == 3
    assert lines[-1].endswith("then every segment never sent, in the store's priority order")
    # named from a catalogue holding the pass, and from one holding only its store directory
    named = {}
    for name, stream in (("c.sqlite", "pass.bin"), ("d.sqlite", "directory.bin")):
        db = str(files / name)
        assert run(capsys, monkeypatch, "ingest", str(files / stream), "--db", db)[0] == 0
        code, out, err = run(capsys, monkeypatch, "request", str(req), "--db", db, "--json")
        assert code == 0, err
        (got,) = json.loads(out)["requests"]
        named[name] = [e.get("product") for e in got["entries"]]
    for got in named.values():
        assert [p and p["type"] for p in got[:3]] == ["SHIP_CROP", "QUICKLOOK", None]
        assert got[3] is None and got[4] is None and got[6] is None  # not products
        assert got[5]["type"] == "SHIP_CROP"  # refused on board, still named
    full, listed = named["c.sqlite"], named["d.sqlite"]
    assert [p["on_the_ground"] for p in listed[:2]] == ["listed on board, nothing received"] * 2
    assert all(p["on_the_ground"] in ("complete", "incomplete") for p in full[:2])
    # the directory's record and the received packets agree on each product's segments
    assert [p["segments"] for p in full[:2]] == [p["segments"] for p in listed[:2]]
