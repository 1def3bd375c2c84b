"""The firmware's C unit tests, natively and under ASan + UBSan."""

from __future__ import annotations

import subprocess

import pytest


@pytest.mark.parametrize("flavour", ["host", "host-san"])
def test_c_unit_tests_pass(build_dir, flavour):
    binary = build_dir / flavour / "fw_unit_tests"
    assert binary.exists(), f"{binary} not built: `make firmware` must run before the tests"
    proc = subprocess.run([str(binary)], capture_output=True, text=True, timeout=600, check=False)
    report = proc.stdout + proc.stderr
    assert proc.returncode == 0, report
    assert " 0 failed" in proc.stdout, report
    assert "runtime error" not in report  # UBSan
    assert "AddressSanitizer" not in report
