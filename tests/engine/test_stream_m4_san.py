"""The streaming executor under AddressSanitizer/UndefinedBehaviorSanitizer (host, each
kernel set) and on the Cortex-M4 image under QEMU, against TFLM on whole frames.

Under ASan each frame's scratch is a heap block of exactly the bytes the engine asks for,
so any access outside a ring or the staging row is reported. The Cortex-M4 image keeps
the frame and the rings in external memory (PSRAM) and runs every frame twice (timed
whole, then with the per-layer accounting): both outputs must equal TFLM's.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from triage import qemu
from triage.engine import inputs

from .conftest import StreamBuilt
from .test_engine_san import _sanitizer_preload
from .test_stream import SIZES, assert_frame, synthetic_frames

HERE = Path(__file__).parent
SUMMARY_RE = re.compile(r"stream_run:((?: \w+ \d+)+)")
LAYERS_RE = re.compile(r"stream_layers:((?: \d+)+)")


def _san_frames(streamed: StreamBuilt) -> dict[str, np.ndarray]:
    frames = {}
    for h, w in SIZES:
        for k, (f, what) in enumerate(synthetic_frames(h, w, 23)):
            if k in (0, 2, 3):  # -128, noise, checkerboard
                frames[f"cellref|{h}x{w} {what}"] = f
    names = [n for n in streamed.compiled if n.startswith("s_")]
    for name in names[::3]:
        c = streamed.compiled[name]
        h, w = c.min_size[0] + 5, c.min_size[1] + 9
        frames[f"{name}|noise"] = synthetic_frames(h, w, 5)[2][0][..., : c.in_c].copy()
    return frames


def test_stream_under_asan_ubsan(streamed: StreamBuilt, tmp_path):
    lib = streamed.san_lib()
    frames = _san_frames(streamed)
    for key, f in list(frames.items()):  # frames with the model's channels
        name = key.split("|")[0]
        c = streamed.compiled[name]
        if f.shape[2] != c.in_c:
            frames[key] = np.resize(f, (*f.shape[:2], c.in_c)).astype(np.int8)
    np.savez(tmp_path / "in.npz", **frames)
    env = dict(os.environ)
    env["LD_PRELOAD"] = _sanitizer_preload()
    env["ASAN_OPTIONS"] = "detect_leaks=0:abort_on_error=0"
    env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
    proc = subprocess.run(
        [sys.executable, str(HERE / "stream_san_runner.py"), str(lib), str(tmp_path / "in.npz"),
         str(tmp_path / "out.npz")],
        capture_output=True, text=True, env=env, timeout=900, check=False,
    )  # fmt: skip
    report = proc.stdout + proc.stderr
    assert "AddressSanitizer" not in report, report[-4000:]
    assert "runtime error" not in report, report[-4000:]
    assert proc.returncode == 0, report[-4000:]
    outs = np.load(tmp_path / "out.npz")
    for key, f in frames.items():
        name = key.split("|")[0]
        assert int(outs[key + "|short"]) == -4, key  # TRI_ERR_SIZE
        assert_frame(outs[key], streamed.tflm(name, f), f"{key} (ASan/UBSan)")


def run_stream_m4(elf: Path, frame: np.ndarray, out_shape: tuple[int, ...], tmp: Path):
    """Runs one frame on the image; returns (first run's output, second's, summary, per-layer
    instructions)."""
    src, dst = tmp / "in.bin", tmp / "out.bin"
    src.write_bytes(np.ascontiguousarray(frame, dtype=np.int8).tobytes())
    h, w = frame.shape[:2]
    res = qemu.run_image(elf, [str(src), str(dst), str(h), str(w)], icount=True, timeout_s=900)
    assert res.returncode == 0, res
    m = SUMMARY_RE.search(res.stdout)
    assert m, res.stdout
    words = m.group(1).split()
    summary = {words[i]: int(words[i + 1]) for i in range(0, len(words), 2)}
    layers = [int(v) for v in LAYERS_RE.search(res.stdout).group(1).split()[1::2]]
    out = np.frombuffer(dst.read_bytes(), dtype=np.int8)
    n = int(np.prod(out_shape))
    assert out.size == 2 * n
    return out[:n].reshape(out_shape), out[n:].reshape(out_shape), summary, layers


@pytest.mark.qemu
def test_stream_m4_matches_tflm(streamed: StreamBuilt, tmp_path):
    elf = streamed.m4_image("cellref")
    c = streamed.compiled["cellref"]
    cases = [(synthetic_frames(h, w, 31)[k], (h, w)) for (h, w), k in
             [((16, 16), 0), ((48, 80), 2), ((45, 70), 3), ((17, 33), 1), ((64, 1024), 2),
              ((100, 37), 4)]]  # fmt: skip
    for (frame, what), (h, w) in cases:
        ref = streamed.tflm("cellref", frame)
        first, second, summary, layers = run_stream_m4(elf, frame, ref.shape, tmp_path)
        assert_frame(first, ref, f"Cortex-M4 {h}x{w} {what} ({streamed.kernel_set})")
        assert_frame(second, ref, f"Cortex-M4 {h}x{w} {what}, profiled run")
        assert (summary["out_h"], summary["out_w"]) == ref.shape[:2]
        assert summary["scratch"] == c.scratch_bytes(w, streamed.kernel_set, 0) + _state(
            summary["scratch"], c, w, streamed.kernel_set
        )
        assert summary["stack_peak"] < 2048
        assert len(layers) == len(c.layers) and min(layers) > 0


def _state(scratch: int, c, w: int, ks: str) -> int:
    """The per-layer states' bytes on the Cortex-M4: 8-byte multiple, a few dozen per layer."""
    states = scratch - c.scratch_bytes(w, ks, 0)
    assert states % 8 == 0 and 40 * len(c.layers) <= states <= 128 * len(c.layers), states
    return states


@pytest.mark.qemu
def test_stream_m4_real_frames(streamed: StreamBuilt, data_dir, tmp_path):
    """Real Sentinel-2 windows, a whole 1024 x 1024 frame among them."""
    elf = streamed.m4_image("cellref")
    for frame, where in inputs.real_frames(data_dir, [(1024, 1024), (333, 517), (16, 1024)], 9):
        ref = streamed.tflm("cellref", frame)
        first, second, _, _ = run_stream_m4(elf, frame, ref.shape, tmp_path)
        assert_frame(first, ref, f"Cortex-M4 {frame.shape} at {where}")
        assert_frame(second, ref, f"Cortex-M4 {frame.shape} at {where}, profiled run")


@pytest.mark.qemu
def test_stream_m4_even_kernel_cases_match_tflm(streamed: StreamBuilt, tmp_path):
    """The plan's 4x4 depthwise cases streamed on the image: the unrolled sixteen-tap loops
    (with and without the negative-accumulator correction) on a whole row and per pixel."""
    names = [n for n in streamed.compiled if n.startswith("s_dsp_dw4x4")]
    assert len(names) >= 4, names
    for name in names:
        c = streamed.compiled[name]
        elf = streamed.m4_image(name)
        for h, w, k in [(c.min_size[0] + 7, c.min_size[1] + 11, 2), (c.min_size[0] + 4, 40, 3)]:
            frame = synthetic_frames(h, w, 41)[k][0][..., : c.in_c].copy()
            if frame.shape[2] != c.in_c:
                frame = np.resize(frame, (h, w, c.in_c)).astype(np.int8)
            ref = streamed.tflm(name, frame)
            first, second, _, _ = run_stream_m4(elf, frame, ref.shape, tmp_path)
            assert_frame(first, ref, f"Cortex-M4 {name} {h}x{w}")
            assert_frame(second, ref, f"Cortex-M4 {name} {h}x{w}, profiled run")
