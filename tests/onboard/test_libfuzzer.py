"""The libFuzzer corpus of the firmware's link layer and parsers (frame encoder inputs,
DOWNLINK_REQUEST, FRAME_META; tests/onboard/libfuzzer/fuzz_link.c) replayed under ASan +
UBSan with the target's invariant checks, and a short seeded run to keep the target
working. The corpus came from campaigns of the same target (libfuzzer_harness.py)."""

from __future__ import annotations

import subprocess

import pytest

from . import libfuzzer_harness as lf


@pytest.fixture(scope="module")
def target(build_dir):
    why = lf.available()
    if why:
        pytest.skip(why)
    return lf.build(build_dir / "libfuzzer")


def test_corpus_replays_clean(target):
    files = sorted(lf.CORPUS.iterdir())
    assert len(files) >= 20, "the kept corpus is missing"
    res = lf.replay(target, files)
    report = res.stdout + res.stderr
    assert res.returncode == 0, report[-4000:]
    assert "INVARIANT" not in report and "runtime error" not in report
    assert f"Running: {files[-1]}" in report


def test_short_fuzz_run(target, tmp_path):
    res = subprocess.run(
        [
            str(target),
            "-runs=300",
            "-seed=20261206",
            "-max_len=4096",
            str(tmp_path),
            str(lf.CORPUS),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    report = res.stdout + res.stderr
    assert res.returncode == 0, report[-4000:]
    assert "Done 300 runs" in report
