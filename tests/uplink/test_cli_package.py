"""``triage model package``: a streaming .tflite becomes a package the contract parses (its
golden vectors TFLM's), optionally rendered as an image's factory default; a model that is
not a streaming chain, or a missing file, is a one-line error and writes nothing."""

from __future__ import annotations

import json

import numpy as np

from tests.test_cli_basics import run
from tests.uplink.conftest import tflm_on
from tests.uplink.tiny_net import tiny_cell_tflite
from triage.contract import model_package as mp


def test_package_command_writes_a_package_and_its_factory_c(tmp_path):
    tfl = tmp_path / "tiny.tflite"
    tfl.write_bytes(tiny_cell_tflite(1))
    out = tmp_path / "m5.tmpk"
    res = run("triage", "model", "package", str(tfl), "--model-id", "5", "--out", str(out),
              "--created-s", "42", "--factory-c", str(tmp_path / "c"), "--json")  # fmt: skip
    assert res.returncode == 0, res.stderr
    desc = json.loads(res.stdout)
    pkg = mp.parse_package(out.read_bytes())
    assert (pkg.model_id, pkg.header["created_s"], desc["package_sha256"]) == (
        5, 42, pkg.sha256.hex(),
    )  # fmt: skip
    h = pkg.header
    for v in pkg.vectors:
        frame = np.frombuffer(v.frame, np.int8).reshape(h["vector_rows"], h["vector_cols"], 4)
        assert v.output == tflm_on(tfl.read_bytes(), frame).tobytes()
    c = (tmp_path / "c" / "factory_package.c").read_text()
    assert f"uint8_t bytes[{len(pkg.data)}]" in c
    assert (
        "#define FACTORY_PACKAGE_MODEL_ID 5u" in (tmp_path / "c" / "factory_package.h").read_text()
    )


def test_package_command_refuses_a_non_streaming_model(tmp_path):
    out = tmp_path / "x.tmpk"
    shipped = tmp_path / "missing.tflite"
    res = run("triage", "model", "package", str(shipped), "--model-id", "5", "--out", str(out))
    assert res.returncode != 0 and not out.exists()
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a flatbuffer at all")
    res = run("triage", "model", "package", str(bad), "--model-id", "5", "--out", str(out))
    assert res.returncode == 1 and not out.exists()
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr
