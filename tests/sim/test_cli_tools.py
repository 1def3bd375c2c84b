"""The image-set builder and the replay benchmark from the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from triage.sim.manifest import load_manifest

BIN = Path(sys.executable).parent


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "triage"), *args], capture_output=True, text=True, timeout=300, check=False
    )


def test_imageset_synthetic(tmp_path):
    res = _run(
        "imageset", "synthetic", "--out", str(tmp_path / "s"), "--scenes", "1", "--size", "128"
    )
    assert res.returncode == 0, res.stderr
    m = load_manifest(tmp_path / "s" / "manifest.json")
    assert len(m.frames) == 1 and m.orbit.tle is not None and m.link.rate_bps == 9600
    assert (tmp_path / "s" / "dover-strait" / "truth_classes.tif").exists()


def test_bench_replay_json():
    res = _run("bench", "replay", "--json", "--frames", "1", "--size", "128", "--repeat", "1")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["frames"] == 1 and out["megapixels"] == round(128 * 128 / 1e6, 4)
    for k in ("firmware", "replay"):
        assert out[k]["frames_per_s"] > 0 and out[k]["megapixels_per_s"] > 0


def test_imageset_synthetic_bad_input_is_one_line(tmp_path):
    """A negative seed, and an --out that is a file: one error line, no traceback."""
    (tmp_path / "file").write_text("x")
    for args in (
        ["--out", str(tmp_path / "s"), "--seed", "-1"],
        ["--out", str(tmp_path / "file")],
    ):
        res = _run("imageset", "synthetic", *args, "--scenes", "1", "--size", "64")
        assert res.returncode == 1, res.stderr
        assert res.stderr.startswith("triage: error: ") and len(res.stderr.splitlines()) == 1


def test_simulate_with_no_downlink_rate_is_one_line(tmp_path):
    """`triage simulate --rate-bps 0` (and a negative rate): one error line, exit 1."""
    res = _run(
        "imageset", "synthetic", "--out", str(tmp_path / "s"), "--scenes", "1", "--size", "64"
    )
    assert res.returncode == 0, res.stderr
    for rate in ("0", "-5"):
        out = tmp_path / f"o{rate}"
        res = _run(
            "simulate", str(tmp_path / "s" / "manifest.json"), "--out", str(out),
            "--rate-bps", rate, "--quiet",
        )  # fmt: skip
        assert res.returncode == 1, res.stderr
        assert res.stderr.startswith("triage: error: ") and len(res.stderr.splitlines()) == 1
        assert "rate" in res.stderr
