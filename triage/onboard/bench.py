"""The benchmark behind ``triage bench onboard``: the flight image on the real
port scenes under QEMU (all ten by default, or one).

Each scene (four Sentinel-2 bands of a sen2ships port) is cut into frames of
at most 1024 x 1024 pixels. After each frame comes a pass: the store
directory, every segment, then a DOWNLINK_REQUEST releasing what the ground
now holds (so that the store measures the frame's products, not its own
capacity). The host build plays the sequence first (the releases need the
directories' contents); one boot of the Cortex-M4 image then plays the same
operations and must give the same bytes. Figures:
instructions per megapixel (``-icount shift=0``: deterministic) in total and by
stage of the application's profile (preprocessing, inference,
decisions, regions, products, downlink), the image's
memory (.text/.data/.bss from its sections, the painted-stack peak), what
went in and out, and the compression ratio of every band over all the image
products.
"""

from __future__ import annotations

import math
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from triage import paths, timing
from triage.contract import sen2ships
from triage.contract import tile_spec as ts
from triage.contract.enums import PRODUCT_BY_APID
from triage.contract.records import kept_mask
from triage.onboard.errors import FirmwareError
from triage.onboard.host import DEFAULT_STORE_BYTES, Onboard, has_model, report_classes
from triage.onboard.image import image_path
from triage.onboard.meta import FrameMeta
from triage.onboard.products import decode_stream, parse_packets
from triage.onboard.qemu_runner import OpResult, run_on_qemu

FRAME_MAX_PX = 1024
CAPTURE_TIME_S = 1_685_615_400  # 2023-06-01T10:30:00Z, a stand-in capture time
_TEXT_SECTIONS = (".isr_vector", ".text", ".rodata", ".ARM.extab", ".ARM.exidx", ".init_array")


def section_sizes(elf: Path) -> dict[str, int]:
    """Sizes of the image's sections (``arm-none-eabi-size -A``)."""
    out = subprocess.run(
        ["arm-none-eabi-size", "-A", str(elf)], capture_output=True, text=True, check=True
    ).stdout
    sizes = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].startswith(".") and parts[1].isdigit():
            sizes[parts[0]] = int(parts[1])
    return sizes


def image_figures(elf: Path) -> dict[str, int]:
    """Flash and internal-RAM use; .extmem (PSRAM) is reported apart."""
    s = section_sizes(elf)
    text = sum(s.get(k, 0) for k in _TEXT_SECTIONS)
    data = s.get(".data", 0)
    bss = s.get(".bss", 0)
    stack = s.get(".stack", 0)
    return {
        "text_bytes": text,
        "data_bytes": data,
        "bss_bytes": bss,
        "stack_reserved_bytes": stack,
        "ram_bytes": data + bss + stack,
        "flash_bytes": text + data,
        "extmem_bytes": s.get(".extmem", 0),
    }


def scene_frames(data_dir: Path, port: str):
    """The port scene cut into frames of at most FRAME_MAX_PX square: [(frame, meta)]."""
    scene, grid = sen2ships.read_bands(port, data_dir=data_dir)
    x0, dx, rx, y0, ry, dy = grid.geotransform
    epsg = grid.epsg
    h, w = scene.shape[:2]
    nr, nc = math.ceil(h / FRAME_MAX_PX), math.ceil(w / FRAME_MAX_PX)
    rows = np.linspace(0, h, nr + 1).astype(int)
    cols = np.linspace(0, w, nc + 1).astype(int)
    frames = []
    for i in range(nr):
        for j in range(nc):
            r0, r1, c0, c1 = rows[i], rows[i + 1], cols[j], cols[j + 1]
            f = np.ascontiguousarray(scene[r0:r1, c0:c1])
            gt = (x0 + c0 * dx + r0 * rx, dx, rx, y0 + c0 * ry + r0 * dy, ry, dy)
            meta = FrameMeta.for_frame(
                f,
                len(frames) + 1,
                crs_epsg=epsg,
                geotransform=gt,
                time_s=CAPTURE_TIME_S,
                dn_scale=sen2ships.DN_SCALE,
            )
            frames.append((f, meta))
    return scene.shape, frames


def _host_sequence(frames) -> tuple[list, list[OpResult]]:
    """Frame, directory, full pass, releases - per frame, on the host build."""
    ob = Onboard(DEFAULT_STORE_BYTES, classifier="model")
    ops: list = []
    out: list[OpResult] = []
    for f, m in frames:
        rep = ob.process_frame(f, m)
        ops.append(("frame", f, m))
        out.append(OpResult("frame", rep.status, rep.record))
        d = ob.directory()
        ops.append(("directory",))
        out.append(OpResult("directory", 0, d))
        s = ob.downlink(0xFFFFFFFF)
        ops.append(("downlink", 0xFFFFFFFF))
        out.append(OpResult("downlink", 0, s))
        (entries,) = [p.records for p in decode_stream(d).values()]
        release = [(e["frame_id"], e["product_id"], "release") for e in entries]
        if release:
            ops.append(("downlink", 0, release))
            out.append(OpResult("downlink", 0, ob.downlink(0, release)))
    return ops, out


@dataclass
class _PortRun:
    """One port scene through the host build and one boot of the Cortex-M4 image."""

    port: str
    shape: tuple[int, int]
    frames: list
    results: list[OpResult]
    host_identical: bool | None
    stack_peak_bytes: int
    qemu_s: float

    @property
    def pixels(self) -> int:
        return sum(f.shape[0] * f.shape[1] for f, _ in self.frames)

    @property
    def frame_results(self) -> list[OpResult]:
        return [r for r in self.results if r.kind == "frame"]

    @property
    def stream(self) -> bytes:
        return b"".join(r.data for r in self.results if r.kind != "frame")


def _run_port(port: str, check_host: bool) -> _PortRun:
    shape, frames = scene_frames(paths.require_data_dir(), port)
    ops, host = _host_sequence(frames)
    t0 = time.perf_counter()
    run = run_on_qemu(ops, store_bytes=DEFAULT_STORE_BYTES, classifier="model")
    qemu_s = time.perf_counter() - t0
    same = None
    if check_host:
        same = all(
            a.data == b.data and a.status == b.status
            for a, b in zip(run.results, host, strict=True)
        )
    return _PortRun(port, shape, frames, run.results, same, run.stack_peak_bytes, qemu_s)


def _stages(runs: list[_PortRun], pixels: int) -> dict[str, dict]:
    """Instructions by stage of the application's profile (tri_profile.h), summed over every
    operation (frames, directories, passes), per megapixel and as a share."""
    totals: dict[str, int] = {}
    for run in runs:
        for r in run.results:
            for stage, n in (r.stages or {}).items():
                totals[stage] = totals.get(stage, 0) + n
    whole = sum(totals.values())
    return {
        stage: {
            "insns": n,
            "insns_per_megapixel": round(n / (pixels / 1e6)),
            "share": round(n / whole, 4) if whole else 0.0,
        }
        for stage, n in totals.items()
    }


def run_bench(
    ports: str | list[str] = "all",
    check_host: bool = True,
    clock_mhz: float = timing.DEFAULT_CLOCK_MHZ,
) -> dict:
    """Run the benchmark on one port scene or several (``"all"``: every port of the
    imagery); returns the figures as a dict (JSON-ready; times at ``clock_mhz``, stated in
    it). Per-megapixel figures are over every frame's pixels together; ``per_port`` holds
    each scene's own."""

    if not has_model():
        raise FirmwareError("the build has no classifier model: nothing to benchmark")
    elf = image_path()
    names = sen2ships.ports() if ports == "all" else [ports] if isinstance(ports, str) else ports
    runs = [_run_port(p, check_host) for p in names]
    frames = [f for run in runs for f in run.frames]
    frame_res = [r for run in runs for r in run.frame_results]
    statuses = [r.status for r in frame_res]
    pixels = sum(run.pixels for run in runs)
    insns = sum(r.insns for r in frame_res)
    streams = [run.stream for run in runs]
    packets = [p for st in streams for p in parse_packets(st)]
    prods = [p for st in streams for p in decode_stream(st).values()]
    image_prods = [p for p in prods if p.pixels is not None and p.header["bands"] > 0]
    band_names = [b.sentinel2 for b in ts.tile_spec().bands]
    ratio = {}
    for b, name in enumerate(band_names):
        raw = comp = 0
        for p in image_prods:
            if p.header["bands"] == len(band_names):
                # the samples the product codes: a crop's kept pixels, else all
                n = p.header["rows"] * p.header["cols"]
                if p.rects:
                    n = int(kept_mask(p.rects, p.header["rows"], p.header["cols"]).sum())
                raw += n * p.header["sample_bits"] // 8
                comp += p.header["band_bytes"][b]
        ratio[name] = round(raw / comp, 3) if comp else None
    by_type: dict[str, int] = {}
    for p in prods:
        if p.type_name != "STORE_DIRECTORY":
            by_type[p.type_name] = by_type.get(p.type_name, 0) + 1
    reports = [r.report for r in frame_res]
    cells_decided = sum(r["cells_total"] for r in reports)
    bytes_in = sum(f.nbytes for f, _ in frames)
    bytes_out = sum(len(st) for st in streams)
    identical = [run.host_identical for run in runs]
    return {
        "ports": names,
        "scene_px": {run.port: [int(run.shape[0]), int(run.shape[1])] for run in runs},
        "frames": len(frames),
        "frame_status": statuses,
        "megapixels": round(pixels / 1e6, 4),
        "insns_total": insns,
        "insns_per_megapixel": round(insns / (pixels / 1e6)),
        "insns_per_cell": round(insns / max(1, cells_decided)),
        "stages": _stages(runs, pixels),
        "stages_note": (
            "instructions by stage of the application's profile (mcu_firmware/app/include/"
            "tri_profile.h), over frames, directories and passes; downlink is the passes' "
            "packets; the stages add up to the operations' instructions but for the few "
            "instructions of each call's entry and exit"
        ),
        "per_port": {
            run.port: {
                "frames": len(run.frames),
                "megapixels": round(run.pixels / 1e6, 4),
                "insns_per_megapixel": round(
                    sum(r.insns for r in run.frame_results) / (run.pixels / 1e6)
                ),
                "cells": sum(r.report["cells_total"] for r in run.frame_results),
                "bytes_out": len(run.stream),
                "host_identical": run.host_identical,
                "qemu_wall_s": round(run.qemu_s, 2),
            }
            for run in runs
        },
        **image_figures(elf),
        "stack_peak_bytes": max(run.stack_peak_bytes for run in runs),
        "cells": sum(r["cells_total"] + r["cells_nodata"] for r in reports),
        "cells_by_class": {
            c: sum(r.by_class("cells")[c] for r in reports) for c in report_classes()
        },
        "cells_discarded": sum(sum(r.by_class("discarded").values()) for r in reports),
        "ship_regions": sum(r["ship_regions"] for r in reports),
        "products": sum(by_type.values()),
        "products_by_type": by_type,
        "products_dropped": sum(r["products_dropped"] for r in reports),
        "packets": len(packets),
        "bytes_in": bytes_in,
        "bytes_out": bytes_out,
        "bytes_out_by_type": _bytes_by_type(packets),
        "reduction_factor": round(bytes_in / bytes_out, 2) if bytes_out else None,
        "compression_ratio": ratio,
        "host_identical": None if None in identical else all(identical),
        "qemu_wall_s": round(sum(run.qemu_s for run in runs), 2),
        **_times(insns, pixels, cells_decided, clock_mhz),
        "attribution": paths.COPERNICUS_ATTRIBUTION,
    }


def _times(insns: int, pixels: int, cells: int, clock_mhz: float) -> dict:
    """The whole application's time per decided cell, per megapixel and per
    1024 x 1024 frame at ``clock_mhz`` (everything the image does with a frame:
    preprocessing, inference, products, compression, store)."""
    per_px = timing.seconds(insns, clock_mhz) / pixels
    side = timing.FRAME_SIDE_PX
    return {
        **timing.clock_fields(clock_mhz),
        "time_per_cell_ms": round(timing.seconds(insns, clock_mhz) / max(1, cells) * 1e3, 4),
        "time_per_megapixel_s": round(per_px * 1e6, 4),
        "time_per_1024x1024_frame_s": round(per_px * side * side, 4),
        "time_note": (
            "the whole application per frame (preprocessing, inference, products, "
            "compression, store), averaged over the scene's frames; the inference alone "
            "is triage bench engine's time_per_inference_ms"
        ),
    }


def _bytes_by_type(packets) -> dict[str, int]:
    out: dict[str, int] = {}
    for p in packets:
        name = PRODUCT_BY_APID[p.apid].name
        out[name] = out.get(name, 0) + len(p.raw)
    return out
