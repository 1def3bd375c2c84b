"""``triage bench replay``: frames per second and megapixels per second of the host replay.

Two figures, on the same frames:

- ``firmware``: ``Onboard.process_frame`` alone (tiling, classifier, crops,
  CCSDS 121 compression, packets, product store) in the host build;
- ``replay``: what the simulator does per frame: read the frame's window from its
  GeoTIFFs, the firmware, and the compressed baseline (libaec).

Frames are synthetic (a recorded seed, written as GeoTIFFs in a temporary
folder) unless ``--real`` asks for the Sentinel-2 ports' frames. Each figure is the
best of ``--repeat`` timed loops after one untimed warm-up frame (wall clock, one core).
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import typer

from triage import paths
from triage.onboard import Onboard, config
from triage.sim.baselines import compressed_product_bytes
from triage.sim.build import build_real_manifest, build_synthetic_set
from triage.sim.frames import check_frame, read_frame
from triage.sim.manifest import load_manifest
from triage.sim.satellite import frame_meta


def _frames(real: bool, n: int, size: int, seed: int, folder: Path):
    """(manifest, manifest_dir, description) of the frames to time."""

    if real:
        data = paths.require_data_dir("sen2ships").parent
        manifest, _ = build_real_manifest(data)
        frames = manifest.frames_in_capture_order()[:n]
        return frames, Path("."), f"Sentinel-2 ports, first {len(frames)} frames"
    path = build_synthetic_set(
        folder,
        n_scenes=n,
        rows=size,
        cols=size,
        seed=seed,
        explicit_passes=[],
        sim_span=timedelta(hours=n + 1),
    )
    m = load_manifest(path)
    return m.frames_in_capture_order(), path.parent, f"synthetic {size} x {size} px, seed {seed}"


def replay(
    frames: int = typer.Option(4, "--frames", min=1, max=64, help="frames to time"),
    size: int = typer.Option(1024, "--size", min=64, max=1024, help="synthetic frame side, px"),
    seed: int = typer.Option(11, "--seed", help="seed of the synthetic scenes"),
    real: bool = typer.Option(False, "--real", help="time the real ports' frames"),
    repeat: int = typer.Option(3, "--repeat", min=1, max=20, help="best of N timed loops"),
    as_json: bool = typer.Option(False, "--json", help="JSON on stdout"),
) -> None:
    """Frames/s and megapixels/s of the host replay (firmware alone, and per-frame replay)."""

    cfg = config()
    with tempfile.TemporaryDirectory(prefix="triage-bench-") as tmp:
        flist, mdir, what = _frames(real, frames, size, seed, Path(tmp))
        geos = [check_frame(f, mdir) for f in flist]
        pixels = [read_frame(g, f) for g, f in zip(geos, flist, strict=True)]
        metas = [frame_meta(f, g) for f, g in zip(flist, geos, strict=True)]
        mpix = sum(p.shape[0] * p.shape[1] for p in pixels) / 1e6

        # warm-up (library load, model bind, page faults)
        Onboard().process_frame(pixels[0], metas[0])

        fw_s = replay_s = float("inf")
        for _ in range(repeat):
            ob = Onboard()
            t0 = time.perf_counter()
            for px, meta in zip(pixels, metas, strict=True):
                ob.process_frame(px, meta).raise_for_status()
            fw_s = min(fw_s, time.perf_counter() - t0)

            ob = Onboard()
            t0 = time.perf_counter()
            for f, g, meta in zip(flist, geos, metas, strict=True):
                px = read_frame(g, f)
                ob.process_frame(px, meta).raise_for_status()
                compressed_product_bytes(px, cfg["aec_block_size"], cfg["aec_rsi"])
            replay_s = min(replay_s, time.perf_counter() - t0)

    out = {
        "bench": "replay",
        "frames": len(pixels),
        "source": what,
        "megapixels": round(mpix, 4),
        "bands": int(pixels[0].shape[2]),
        "firmware": {
            "seconds": round(fw_s, 4),
            "frames_per_s": round(len(pixels) / fw_s, 3),
            "megapixels_per_s": round(mpix / fw_s, 3),
        },
        "replay": {
            "seconds": round(replay_s, 4),
            "frames_per_s": round(len(pixels) / replay_s, 3),
            "megapixels_per_s": round(mpix / replay_s, 3),
            "includes": "GeoTIFF read + firmware + CCSDS 121 baseline (libaec)",
        },
        "repeats": repeat,
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "python": platform.python_version(),
        },
    }
    if as_json:
        typer.echo(json.dumps(out, indent=1))
    else:
        fw, rp = out["firmware"], out["replay"]
        typer.echo(
            f"{out['frames']} frames ({what}), {mpix:.2f} MP: firmware "
            f"{fw['frames_per_s']} frames/s, {fw['megapixels_per_s']} MP/s; "
            f"replay {rp['frames_per_s']} frames/s, {rp['megapixels_per_s']} MP/s"
        )


def register(bench: typer.Typer) -> None:
    bench.command("replay")(replay)
