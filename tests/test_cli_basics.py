"""The console scripts are installed and honest about what they can do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / args[0]), *args[1:]],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **(env or {})},
    )


def test_triage_help():
    res = run("triage", "--help")
    assert res.returncode == 0
    assert "Usage" in res.stdout


def test_groundstation_help():
    res = run("groundstation", "--help")
    assert res.returncode == 0
    assert "Usage" in res.stdout


def test_data_dir_is_overridable(tmp_path):
    res = run("triage", "info", env={"TRIAGE_DATA_DIR": str(tmp_path)})
    assert res.returncode == 0
    assert str(tmp_path) in res.stdout


def test_model_export_of_a_missing_model_fails_and_writes_nothing(tmp_path):
    res = run(
        "triage", "model", "export", "--out-dir", str(tmp_path), "--tflite", str(tmp_path / "x")
    )
    assert res.returncode == 1
    assert "model not readable" in res.stderr and "Traceback" not in res.stderr
    assert list(tmp_path.iterdir()) == []


def test_generate_check_passes_on_the_checkout():
    res = run("triage", "generate", "--check")
    assert res.returncode == 0, res.stderr
