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
