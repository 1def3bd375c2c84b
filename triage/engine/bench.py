"""The engine benchmark behind ``triage bench engine``.

For one model (the shipped classifier when it exists, else the
representative CNN): export it, build the Cortex-M4 runner image with each
kernel set (the reference kernels, and the DSP kernels the firmware uses by
default), run them under QEMU with ``-icount shift=0`` (one instruction per
virtual nanosecond, counted by SysTick: deterministic), and read the figures
from the exporter's report, TFLM's allocation report, the images' sizes and
linker maps. The top-level figures are the default (DSP) build's; the
reference build's are beside them, and ``layers`` gives every step's
instructions under both, each step timed alone (``engine_run ... steps``).
"""

from __future__ import annotations

import fcntl
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from triage import paths, qemu, timing
from triage.engine import build, cellref, export, inputs, oracle, refmodel, stream
from triage.errors import FirmwareError, TriageError

SHIPPED = "models/shipped/classifier.tflite"
DEFAULT_KERNEL_SET = "dsp"  # mcu_firmware/Makefile KERNELS
_SUMMARY_RE = re.compile(r"engine_run:((?: \w+ \d+)+)")
_STEPS_RE = re.compile(r"engine_steps:((?: \d+)+)")
# engine code: objects of engine/src and of the kernel folder, as the Makefile names them
_ENGINE_OBJ_RE = re.compile(r"(engine__src__\w+|engine__kernels\w*__\w+)\.o$")


@dataclass
class ModelChoice:
    name: str  # symbol prefix in C
    label: str  # what the JSON calls it
    tflite: bytes


def choose_model(which: str, cache_dir: Path) -> ModelChoice:
    """``auto`` (shipped if present, else representative), ``shipped``, ``repcnn`` or a path."""
    shipped = paths.repo_root() / SHIPPED
    if which == "auto":
        which = "shipped" if shipped.exists() else "repcnn"
    if which == "shipped":
        if not shipped.exists():
            raise FirmwareError(f"no shipped classifier: {shipped} is absent")
        return ModelChoice("classifier", "shipped classifier", shipped.read_bytes())
    if which == "repcnn":
        return ModelChoice(
            "repcnn", "representative CNN", refmodel.cached_representative_tflite(cache_dir)
        )
    path = Path(which)
    if not path.exists():
        raise FirmwareError(f"model not found: {path}")
    return ModelChoice("bench_model", str(path), path.read_bytes())


def image_sizes(elf: Path) -> dict[str, int]:
    """text/data/bss of an image, as ``arm-none-eabi-size`` (Berkeley format) reports them."""
    out = subprocess.run(
        ["arm-none-eabi-size", str(elf)], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    text, data, bss = (int(v) for v in out[1].split()[:3])
    return {"text_bytes": text, "data_bytes": data, "bss_bytes": bss}


def engine_code_bytes(map_file: Path) -> dict[str, int]:
    """Sizes of the engine's (engine/src + kernels) sections kept in the image, by kind.

    Read from the memory map part of a GNU ld map file: an input section line
    gives name, address, size and object (the name may sit alone on the line
    before when it is long).
    """
    text = map_file.read_text()
    start = text.find("Linker script and memory map")
    lines = text[start:].splitlines() if start >= 0 else []
    sizes = {"text": 0, "rodata": 0, "data": 0, "bss": 0}
    pending: str | None = None
    for line in lines:
        parts = line.split()
        if len(parts) == 1 and parts[0].startswith("."):
            pending = parts[0]
            continue
        if len(parts) == 4 and parts[0].startswith("."):
            name, size, obj = parts[0], parts[2], parts[3]
        elif len(parts) == 3 and pending and parts[0].startswith("0x"):
            name, size, obj = pending, parts[1], parts[2]
        else:
            pending = None
            continue
        pending = None
        if not _ENGINE_OBJ_RE.search(obj):
            continue
        for kind in sizes:
            if name == f".{kind}" or name.startswith(f".{kind}."):
                sizes[kind] += int(size, 16)
    return sizes


def _run_m4(elf: Path, x: np.ndarray, per_step: bool) -> tuple[dict, np.ndarray, list[int]]:
    """One QEMU run of the runner image: its summary, outputs and per-step totals."""
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.bin", Path(tmp) / "out.bin"
        src.write_bytes(x.tobytes())
        args = [str(src), str(dst)] + (["steps"] if per_step else [])
        res = qemu.run_image(elf, args, icount=True, timeout_s=900)
        if res.returncode != 0:
            raise FirmwareError(f"{elf.name} failed (exit {res.returncode}): {res.stdout}")
        out = np.frombuffer(dst.read_bytes(), dtype=np.int8).reshape(len(x), -1)
    m = _SUMMARY_RE.search(res.stdout)
    if not m:
        raise FirmwareError(f"no summary from {elf.name}: {res.stdout}")
    words = m.group(1).split()
    summary = {words[i]: int(words[i + 1]) for i in range(0, len(words), 2)}
    steps: list[int] = []
    if per_step:
        ms = _STEPS_RE.search(res.stdout)
        if not ms:
            raise FirmwareError(f"no per-step figures from {elf.name}: {res.stdout}")
        w = ms.group(1).split()
        steps = [int(w[i + 1]) for i in range(0, len(w), 2)]
    return summary, out, steps


def _layers(compiled: export.Compiled, steps: dict[str, list[int]], n: int) -> list[dict]:
    rows = []
    for i, s in enumerate(compiled.lowered.steps):
        out_t = compiled.lowered.model.tensors[s.output]
        row: dict = {
            "step": i,
            "op": s.op.name,
            "kernel": s.kernel,
            "output_shape": list(out_t.shape),
            "macs": s.macs,
            "method": s.packed.describe() if s.packed is not None else "no exporter-side choice",
            "scratch_bytes": s.scratch_bytes,
        }
        for ks, totals in steps.items():
            insns = totals[i] / n if i < len(totals) else None
            row[f"insns_{ks}"] = round(insns) if insns is not None else None
            row[f"insns_per_mac_{ks}"] = (
                round(insns / s.macs, 3) if insns is not None and s.macs else None
            )
        if row.get("insns_dsp"):
            row["speedup"] = round(row["insns_ref"] / row["insns_dsp"], 2)
        rows.append(row)
    return rows


def _times(insns_per_inference: float, clock_mhz: float) -> dict:
    """Inference, tile and 1024 x 1024 frame times at ``clock_mhz`` (classifier only:
    one inference per tile, no preprocessing, products or compression)."""
    per = timing.seconds(insns_per_inference, clock_mhz)
    tiles = timing.tiles_per_frame()
    return {
        **timing.clock_fields(clock_mhz),
        "time_per_inference_ms": round(per * 1e3, 4),
        "time_per_tile_ms": round(per * 1e3, 4),
        "tiles_per_1024x1024_frame": tiles,
        "time_per_1024x1024_frame_s": round(per * tiles, 4),
        "time_note": (
            "the classifier alone: one inference per tile; the whole on-board application "
            "(preprocessing, products, compression) is triage bench onboard's"
        ),
    }


def run_bench(
    which: str = "auto",
    n_inputs: int = 16,
    clock_mhz: float = timing.DEFAULT_CLOCK_MHZ,
    with_stream: bool = True,
) -> dict:
    """All the figures, as one JSON-ready dict (times at ``clock_mhz``, stated in it;
    ``stream``: the streaming executor's, see :func:`run_stream_bench`)."""
    root = paths.build_dir() / "engine-bench"
    model = choose_model(which, root / "cache")
    compiled = export.compile_model(model.tflite)
    work = root / f"{model.name}-{compiled.sha256[:12]}"
    work.mkdir(parents=True, exist_ok=True)
    with open(work / ".lock", "w") as lock:  # concurrent benches of one model
        fcntl.flock(lock, fcntl.LOCK_EX)
        rep = export.export_model(model.tflite, work / "models", name=model.name)
        elfs = {
            ks: build.engine_m4(work / "models", work / f"build-{ks}", model.name, kernel_set=ks)
            for ks in build.KERNEL_SETS
        }
    tflm = oracle.tflm_arena_parts(model.tflite, rep.input_shape)
    tflm_arena = tflm["total"]
    x = inputs.synthetic_inputs(n_inputs, 2026, rep.input_shape[1:])
    ref = oracle.tflm_run(model.tflite, x, rep.input_shape)
    runs: dict[str, dict] = {}
    step_totals: dict[str, list[int]] = {}
    for ks, elf in elfs.items():
        summary, out, _ = _run_m4(elf, x, per_step=False)
        _, out_steps, steps = _run_m4(elf, x, per_step=True)
        step_totals[ks] = steps
        insns = summary["insns_total"] / max(1, summary["inputs"])
        runs[ks] = {
            "summary": summary,
            "insns": insns,
            "matches": bool(np.array_equal(out, ref) and np.array_equal(out_steps, ref)),
            "code": engine_code_bytes(elf.with_suffix(".map")),
            "sizes": image_sizes(elf),
        }
    d = runs[DEFAULT_KERNEL_SET]
    r = runs["ref"]
    summary = d["summary"]
    insns = d["insns"]
    code = d["code"]
    return {
        "model": model.label,
        "model_sha256": rep.sha256,
        "model_tflite_bytes": len(model.tflite),
        "weights_bytes": rep.weights_bytes,
        "const_bytes": rep.const_bytes,
        "arena_bytes": rep.arena_bytes,
        "tflm_arena_bytes": tflm_arena,
        "arena_ratio": round(rep.arena_bytes / tflm_arena, 4),
        "tflm_arena_head_bytes": tflm["head"],
        "tflm_arena_tail_bytes": tflm["tail"],
        "arena_lower_bound_bytes_without_overlap": rep.arena_lower_bound,
        "scratch_bytes_max": max((st.scratch_bytes for st in compiled.lowered.steps), default=0),
        "macs_per_inference": rep.macs,
        "insns_per_inference": round(insns),
        "insns_per_inference_min": summary["insns_min"],
        "insns_per_inference_max": summary["insns_max"],
        "insns_per_mac": round(insns / rep.macs, 3) if rep.macs else None,
        "engine_text_bytes": code["text"],
        "engine_rodata_bytes": code["rodata"],
        **d["sizes"],
        "stack_peak_bytes": summary["stack_peak"],
        "steps": rep.n_steps,
        "inputs_run": summary["inputs"],
        "m4_matches_tflm": d["matches"] and r["matches"],
        "image": elfs[DEFAULT_KERNEL_SET].name,
        "insns_counter": "QEMU -icount shift=0, SysTick (40 instructions per tick)",
        "kernel_set": DEFAULT_KERNEL_SET,
        "reference_kernels": {
            "insns_per_inference": round(r["insns"]),
            "insns_per_mac": round(r["insns"] / rep.macs, 3) if rep.macs else None,
            "engine_text_bytes": r["code"]["text"],
            **r["sizes"],
            "stack_peak_bytes": r["summary"]["stack_peak"],
            "m4_matches_tflm": r["matches"],
        },
        "speedup_vs_reference": round(r["insns"] / insns, 2),
        **_times(insns, clock_mhz),
        "layers": _layers(compiled, step_totals, summary["inputs"]),
        "layers_note": (
            "instructions per inference of each step run alone (engine_run steps), averaged"
            " over the inputs; the counter ticks every 40 instructions and each reading costs"
            " about 20, so a step's figure is good to about 50 instructions"
        ),
        **({"stream": run_stream_bench(clock_mhz)} if with_stream else {}),
    }


STREAM_FRAME = (1024, 1024)
_STREAM_SUMMARY_RE = re.compile(r"stream_run:((?: \w+ \d+)+)")
_STREAM_LAYERS_RE = re.compile(r"stream_layers:((?: \d+)+)")


def _bench_frame(h: int, w: int) -> tuple[np.ndarray, str]:
    """A real Sentinel-2 window (the tile spec's per-pixel preprocessing) when the imagery
    is there, else a seeded synthetic field."""
    try:
        frame, where = inputs.real_frames(paths.data_dir(), [(h, w)], seed=2026)[0]
        if frame.shape[:2] == (h, w):
            return frame, f"Sentinel-2 window {where} (contains modified Copernicus Sentinel data)"
    except (TriageError, OSError):
        pass
    field = cellref._calibration(2026, n=3, size=max(h, w))[2][:h, :w]
    return np.round(field * 255 - 128).astype(np.int8), "synthetic field (imagery absent)"


def run_stream_bench(
    clock_mhz: float = timing.DEFAULT_CLOCK_MHZ, frame_hw: tuple[int, int] = STREAM_FRAME
) -> dict:
    """The streaming executor on the Cortex-M4 image (QEMU ``-icount shift=0``): the
    representative cell network over one whole frame (1024 x 1024 by default), the
    instructions of the run and of each layer (the executor's own accounting: pushing rows
    into a layer's ring and computing its rows), MACs, scratch, and TFLM's verdict."""
    root = paths.build_dir() / "engine-bench"
    tfl_bytes = cellref.cached_cellref_tflite(root / "cache")
    c = stream.compile_stream(tfl_bytes)
    work = root / f"stream-{c.sha256[:12]}"
    work.mkdir(parents=True, exist_ok=True)
    with open(work / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stream.export_stream(tfl_bytes, work / "models", "cellref")
        elf = build.engine_stream_m4(work / "models", work / "build-dsp", "cellref",
                                     kernel_set=DEFAULT_KERNEL_SET)  # fmt: skip
    h, w = frame_hw
    frame, source = _bench_frame(h, w)
    ref = oracle.tflm_frame(tfl_bytes, frame) if (h, w) == c.extended(h, w) else None
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.bin", Path(tmp) / "out.bin"
        src.write_bytes(frame.tobytes())
        res = qemu.run_image(elf, [str(src), str(dst), str(h), str(w)], icount=True,
                             timeout_s=1800)  # fmt: skip
        if res.returncode != 0:
            raise FirmwareError(f"{elf.name} failed (exit {res.returncode}): {res.stdout}")
        out = np.frombuffer(dst.read_bytes(), dtype=np.int8)
    m = _STREAM_SUMMARY_RE.search(res.stdout)
    ml = _STREAM_LAYERS_RE.search(res.stdout)
    if not m or not ml:
        raise FirmwareError(f"no summary from {elf.name}: {res.stdout}")
    words = m.group(1).split()
    summary = {words[i]: int(words[i + 1]) for i in range(0, len(words), 2)}
    per_layer = [int(v) for v in ml.group(1).split()[1::2]]
    macs = c.macs(h, w)
    engine = summary["insns_total"] - summary["insns_source"] - summary["insns_sink"]
    matches = None
    if ref is not None:
        n = ref.size
        matches = bool(
            out.size == 2 * n
            and np.array_equal(out[:n].reshape(ref.shape), ref)
            and np.array_equal(out[n:].reshape(ref.shape), ref)
        )
    layers = []
    for i, (lay, g) in enumerate(zip(c.layers, c.geometry(h, w), strict=True)):
        lm = g.out_h * g.out_w * lay.macs_per_output()
        layers.append({
            "layer": i,
            "op": lay.name,
            "channels": [lay.in_c, lay.out_c],
            "kernel": list(lay.kernel),
            "stride": list(lay.stride),
            "output_shape": [g.out_h, g.out_w, lay.out_c],
            "macs": lm,
            "insns": per_layer[i],
            "insns_per_mac": round(per_layer[i] / lm, 3) if lm else None,
            "ring_bytes": c.ring_bytes(w, DEFAULT_KERNEL_SET)[i],
        })  # fmt: skip
    mp = h * w / 1e6
    return {
        "model": f"representative cell network (triage.engine.cellref, seed {cellref.SEED})",
        "model_sha256": c.sha256,
        "frame": [h, w],
        "frame_source": source,
        "kernel_set": DEFAULT_KERNEL_SET,
        "macs": macs,
        "macs_per_pixel": round(macs / (h * w), 2),
        "insns": engine,
        "insns_per_mac": round(engine / macs, 3),
        "insns_per_megapixel": round(engine / mp),
        "insns_source": summary["insns_source"],
        "insns_sink": summary["insns_sink"],
        **timing.clock_fields(clock_mhz),
        "time_per_frame_s": round(timing.seconds(engine, clock_mhz), 3),
        "time_per_megapixel_s": round(timing.seconds(engine, clock_mhz) / mp, 3),
        "scratch_bytes": summary["scratch"],
        "scratch_note": "rings, staging row and per-layer states for this width, in PSRAM",
        "stack_peak_bytes": summary["stack_peak"],
        "m4_matches_tflm": matches,
        "image": elf.name,
        "insns_counter": "QEMU -icount shift=0, SysTick (40 instructions per tick)",
        "layers": layers,
        "layers_note": (
            "per layer: pushing rows into its ring (widening them for the DSP kernels) and"
            " computing its output rows, counted by the executor's profile (a counter reading"
            " about every row, so the layers add up to a little more than the run)"
        ),
    }
