"""``groundstation uplink``: keygen, a model package sealed and cut into MODEL_UPLOAD
telecommands, a MODEL_COMMAND; the packets reassemble into the unit a key opens, their cost
on the radio is the one derived by hand from CCSDS 231.0-B / 232.0-B, the catalogue logs
them and refuses a reused sequence number, and the satellite's model manager (host build,
its flash from keygen) takes them."""

from __future__ import annotations

import json

import pytest

from tests.ground.test_cli import run
from tests.uplink.tiny_net import tiny_cell_tflite
from triage.contract import uplink as ul
from triage.engine import package
from triage.onboard.models import ModelFlash, ModelManager


@pytest.fixture
def pkg_file(tmp_path):
    pkg = package.package_model(tiny_cell_tflite(1), model_id=2, created_s=7)
    path = tmp_path / "m2.tmpk"
    path.write_bytes(pkg.data)
    return path, pkg


def test_keygen_upload_command_end_to_end(capsys, monkeypatch, tmp_path, pkg_file):
    path, pkg = pkg_file
    key, flash, db = tmp_path / "k.json", tmp_path / "flash.bin", tmp_path / "cat.sqlite"
    code, _, err = run(capsys, monkeypatch, "uplink", "keygen", "--spacecraft", "TEST-SAT",
                       "--key-id", "3", "--out", str(key), "--flash-out", str(flash))  # fmt: skip
    assert code == 0, err
    assert key.stat().st_mode & 0o777 == 0o600
    kf = ul.read_key_file(key)
    # the key file is never overwritten
    code, _, err = run(capsys, monkeypatch, "uplink", "keygen", "--spacecraft", "X",
                       "--key-id", "4", "--out", str(key))  # fmt: skip
    assert code == 1 and "never overwritten" in err
    out = tmp_path / "up.tc"
    code, stdout, err = run(capsys, monkeypatch, "uplink", "model", str(path), "--key-file",
                            str(key), "--seq", "10", "--out", str(out), "--db", str(db),
                            "--json")  # fmt: skip
    assert code == 0, err
    rep = json.loads(stdout)
    # the packets, split where each one's length says
    raw = out.read_bytes()
    packets = []
    while raw:
        n = int.from_bytes(raw[4:6], "big") + 7
        packets.append(raw[:n])
        raw = raw[n:]
    unit = ul.reassemble(packets)
    opened = ul.open_unit(unit, {3: kf.key}, last_arsn=9)
    assert opened.data == pkg.data and opened.arsn == 10
    # cost on the radio, by hand: unit = 8 + package + 32 bytes in 992-byte segments; a
    # packet is 6 + 12 + segment + 2 bytes, its TC frame 7 more, in a CLTU of 2 + 8 per 7
    # bytes of frame (rounded up) + 8
    unit_bytes = 8 + len(pkg.data) + 32
    segs = [992] * (unit_bytes // 992) + ([unit_bytes % 992] if unit_bytes % 992 else [])
    link = sum(2 + -(-(6 + 12 + s + 2 + 7) // 7) * 8 + 8 for s in segs)
    assert (rep["packets"], rep["link_bytes"]) == (len(segs), link)
    assert rep["uplink_seconds"] == round(link * 8 / 9600, 2)
    assert rep["schedule"][-1]["start_s"] == pytest.approx((link - rep["schedule"][-1][
        "link_bytes"]) * 8 / 9600, abs=1e-3)  # fmt: skip
    # the same sequence number again: refused on the ground
    code, _, err = run(capsys, monkeypatch, "uplink", "model", str(path), "--key-file",
                       str(key), "--seq", "10", "--out", str(tmp_path / "x.tc"), "--db",
                       str(db))  # fmt: skip
    assert code == 1 and "replay" in err and not (tmp_path / "x.tc").exists()
    # an upload longer than the pass
    code, _, err = run(capsys, monkeypatch, "uplink", "model", str(path), "--key-file",
                       str(key), "--seq", "11", "--out", str(tmp_path / "y.tc"),
                       "--pass-seconds", "2")  # fmt: skip
    assert code == 1 and "one pass" in err
    cmd = tmp_path / "c.tc"
    code, _, err = run(capsys, monkeypatch, "uplink", "command", "commit", "--model-id", "2",
                       "--key-file", str(key), "--seq", "11", "--out", str(cmd), "--db",
                       str(db))  # fmt: skip
    assert code == 0, err
    # the satellite, provisioned by keygen, takes both
    mflash = ModelFlash(flash.read_bytes())
    mm = ModelManager(mflash)
    assert set(mm.send(packets)) == {0}
    assert mm.telecommand(cmd.read_bytes()) == 0
    s = mm.status()
    assert (s["active_model_id"], s["trial"], s["arsn"]) == (2, 0, 11)
    # the catalogue's log
    from ground_station.catalogue import Catalogue

    with Catalogue.open(db) as cat:
        rows = cat.con.execute(
            "SELECT kind, key_id, arsn, model_id, package_sha256, packets FROM model_uplinks "
            "ORDER BY id"
        ).fetchall()
    assert [tuple(r) for r in rows] == [
        ("upload", 3, 10, 2, pkg.sha256.hex(), len(segs)),
        ("commit", 3, 11, 2, None, 1),
    ]


def test_bad_package_and_key_file_are_one_line_errors(capsys, monkeypatch, tmp_path, pkg_file):
    path, pkg = pkg_file
    key = tmp_path / "k.json"
    ul.write_key_file(key, "TEST-SAT", 3, bytes(32))
    bad = tmp_path / "bad.tmpk"
    bad.write_bytes(pkg.data[:-1] + bytes([pkg.data[-1] ^ 1]))
    code, _, err = run(capsys, monkeypatch, "uplink", "model", str(bad), "--key-file", str(key),
                       "--seq", "1", "--out", str(tmp_path / "o.tc"))  # fmt: skip
    assert code == 1 and "CRC-32" in err and len(err.strip().splitlines()) == 1
    notkey = tmp_path / "nk.json"
    notkey.write_text("{}")
    code, _, err = run(capsys, monkeypatch, "uplink", "model", str(path), "--key-file",
                       str(notkey), "--seq", "1", "--out", str(tmp_path / "o.tc"))  # fmt: skip
    assert code == 1 and "not a key file" in err
    assert not (tmp_path / "o.tc").exists()


def test_catalogue_records_which_model_classified_each_product(tmp_path, pkg_file):
    from ground_station.ingest import ingest_bytes
    from ground_station.status import catalogue_status

    from .gs_streams import frame_products, stream_of, synthetic_frame

    _, pkg = pkg_file
    db = tmp_path / "cat.sqlite"
    stream = stream_of(frame_products(synthetic_frame(1), 5))  # the compiled-in cell classifier
    stream += stream_of(frame_products(synthetic_frame(2), 6, model_id=2,
                                       model_sha256=pkg.model_sha256))  # fmt: skip
    ingest_bytes(db, b"".join(stream))
    s = catalogue_status(db)
    by_id = {m["model_id"]: m for m in s["models"]}
    assert set(by_id) == {0, 2}
    assert (by_id[2]["frames"], by_id[2]["products"]) == (1, 5)
    assert by_id[2]["model_sha256"] == pkg.model_sha256.hex()
    assert by_id[0]["frames"] == 1
