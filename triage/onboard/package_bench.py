"""The cost of binding a model package at run time on the Cortex-M4 flight image, against
the same model compiled in (QEMU ``-icount shift=0``).

The representative cell network is packaged (:func:`triage.engine.package.package_model`),
sealed with a throwaway key and uplinked to the flight image (``triage_fw.elf``), whose
model manager verifies it and binds it from its model slot; the image then runs the active
model over the frame the streaming benchmark uses. The compiled-in figure is that benchmark
(:func:`triage.engine.bench.run_stream_bench`: the same network compiled into the
``stream_run`` image). Both are the executor's instructions over the frame, the source's
row copies and the sink's excluded, and both outputs are checked against TFLM.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from triage import paths, timing
from triage.contract import uplink as ul
from triage.engine import bench as engine_bench
from triage.engine import cellref, oracle, package
from triage.errors import FirmwareError
from triage.onboard.models import run_models_on_qemu

BENCH_KEY_ID = 1
PACKAGE_MODEL_ID = 1


def run_package_bench(
    clock_mhz: float = timing.DEFAULT_CLOCK_MHZ,
    frame_hw: tuple[int, int] = engine_bench.STREAM_FRAME,
) -> dict:
    compiled_in = engine_bench.run_stream_bench(clock_mhz, frame_hw)
    tfl = cellref.cached_cellref_tflite(paths.build_dir() / "engine-bench" / "cache")
    pkg = package.package_model(tfl, model_id=PACKAGE_MODEL_ID, created_s=0)
    key = os.urandom(ul.KEY_BYTES)  # a throwaway key: this flash image lives for one run
    unit = ul.seal_unit(pkg.data, key=key, key_id=BENCH_KEY_ID, arsn=1)
    packets = ul.upload_packets(unit)
    h, w = frame_hw
    frame, source = engine_bench._bench_frame(h, w)
    with tempfile.TemporaryDirectory(prefix="triage_pkg_bench_") as tmp:
        q = run_models_on_qemu(
            [("tc", packets), ("status",), ("run", frame)],
            ul.model_flash_image({BENCH_KEY_ID: key}),
            workdir=Path(tmp),
            timeout_s=1800,
        )
    if set(q.results[0]) != {0} or q.results[1]["active_model_id"] != PACKAGE_MODEL_ID:
        raise FirmwareError(f"the package was not accepted: {q.results[1]}")
    run = q.results[2]
    if run["status"] != 0:
        raise FirmwareError(f"model_run failed with status {run['status']}")
    ref = oracle.tflm_frame(tfl, frame) if (h, w) == (h - h % 16, w - w % 16) else None
    bound = run["insns_engine"]
    aot = compiled_in["insns"]
    return {
        "model": compiled_in["model"],
        "frame": [h, w],
        "frame_source": source,
        "package_bytes": len(pkg.data),
        "package_sha256": pkg.sha256.hex(),
        "upload_packets": len(packets),
        "upload_link_seconds_9600bps": round(ul.uplink_seconds(packets, 9600.0), 1),
        "insns_compiled_in": aot,
        "insns_bound_package": bound,
        "insns_bind": run["insns_begin"],
        "bound_vs_compiled_in": round(bound / aot, 6),
        "bound_with_bind_vs_compiled_in": round((bound + run["insns_begin"]) / aot, 6),
        "bound_vs_compiled_in_note": "the executor's instructions over the frame (source and"
        " sink excluded); bind (tnn_stream_begin: plan validation, rings) is counted apart",
        "insns_upload_on_board": q.insns[0],
        "upload_on_board_note": "every MODEL_UPLOAD packet: reassembly, HMAC-SHA-256, package"
        " checks, slot erase and programming (simulated flash), read-back SHA-256, the golden"
        " vectors, the boot record",
        "compiled_in_matches_tflm": compiled_in["m4_matches_tflm"],
        "bound_matches_tflm": None
        if ref is None
        else bool(np.array_equal(run["output"], ref.reshape(-1))),
        **timing.clock_fields(clock_mhz),
        "insns_counter": compiled_in["insns_counter"],
    }
