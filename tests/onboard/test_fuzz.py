"""The fuzz corpus of the application's input entry points (FRAME_META,
frame geometry and size, DOWNLINK_REQUEST), replayed under ASan + UBSan with
the harness's invariant checks (store consistent, every frame processed or
refused with a counter, passes within budget), and a short seeded fuzz run
to keep the harness itself working. The corpus came from campaigns of the
same harness (see fuzz_harness.py)."""

from __future__ import annotations

import pytest

from . import fuzz_harness


@pytest.fixture(scope="module")
def harness(build_dir):
    try:
        return fuzz_harness.build(build_dir / "fuzz")
    except FileNotFoundError as exc:  # gcc missing
        pytest.fail(f"cannot build the fuzz harness: {exc}")


def test_corpus_replays_clean(harness):
    files = sorted(fuzz_harness.CORPUS.glob("*.bin"))
    assert len(files) >= 20, "the kept corpus is missing"
    res = fuzz_harness.replay(harness, files)
    report = res.stdout + res.stderr
    assert res.returncode == 0, report[-4000:]
    assert f"replayed {len(files)} inputs" in res.stdout
    assert "runtime error" not in report
    assert "AddressSanitizer" not in report


def test_short_fuzz_run(harness, tmp_path):
    res = fuzz_harness.campaign(harness, 1500, 20240126, tmp_path, timeout_s=300)
    report = res.stdout + res.stderr
    assert res.returncode == 0, report[-4000:]
    assert "iterations 1500" in res.stdout
    assert "runtime error" not in report
