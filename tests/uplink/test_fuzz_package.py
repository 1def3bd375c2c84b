"""The model package parser and the uplink fuzzed under ASan + UBSan like the frame metadata
(tests/uplink/fuzz/fuzz_package.c on the shared fuzzer): the kept corpus replays clean with
the harness's checks (a refusal names one known reason, a refused upload counts exactly one
and runs nothing, an accepted one is on trial and falls back at a reboot), and a short seeded
campaign keeps the harness working. The corpus came from campaigns seeded with real packages
of tiny cell networks, minimised to what adds coverage."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.onboard import fuzz_harness

HERE = Path(__file__).resolve().parent
HARNESS = HERE / "fuzz" / "fuzz_package.c"
CORPUS = HERE / "fuzz" / "corpus"


@pytest.fixture(scope="module")
def harness(build_dir):
    try:
        return fuzz_harness.build(build_dir / "fuzz", harness=HARNESS)
    except FileNotFoundError as exc:  # gcc missing
        pytest.fail(f"cannot build the fuzz harness: {exc}")


def test_package_corpus_replays_clean(harness):
    files = sorted(CORPUS.glob("*.bin"))
    assert len(files) >= 50, "the kept corpus is missing"
    res = fuzz_harness.replay(harness, files)
    report = res.stdout + res.stderr
    assert res.returncode == 0, report[-4000:]
    assert f"replayed {len(files)} inputs" in res.stdout
    assert "runtime error" not in report and "AddressSanitizer" not in report


def test_short_package_fuzz_run(harness, tmp_path):
    res = fuzz_harness.campaign(harness, 1500, 20261206, tmp_path, timeout_s=300, corpus=CORPUS)
    report = res.stdout + res.stderr
    assert res.returncode == 0, report[-4000:]
    assert "iterations 1500" in res.stdout
    assert "runtime error" not in report
