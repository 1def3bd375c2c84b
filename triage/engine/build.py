"""Building the engine around exported models, through the firmware Makefile.

Tests and benchmarks build into their own folders (``BUILD``) with their own
``MODEL_DIR``, so they never race the default firmware build.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from triage import paths
from triage.errors import FirmwareError


def firmware_dir() -> Path:
    return paths.repo_root() / "mcu_firmware"


def make(
    target: str,
    build_dir: Path,
    model_dir: Path,
    *,
    engine_model: str | None = None,
    stream_model: str | None = None,
    kernels: str | None = None,
    jobs: int | None = None,
    timeout_s: float = 900.0,
) -> None:
    """Runs ``make -C mcu_firmware <target>`` with the given BUILD and MODEL_DIR."""
    cmd = [
        "make",
        "-s",
        "--no-print-directory",
        "-C",
        str(firmware_dir()),
        f"BUILD={Path(build_dir).resolve()}",
        f"MODEL_DIR={Path(model_dir).resolve()}",
        f"-j{jobs or max(1, min(4, os.cpu_count() or 1))}",
        target,
    ]
    if engine_model:
        cmd.append(f"ENGINE_MODEL={engine_model}")
    if stream_model:
        cmd.append(f"STREAM_MODEL={stream_model}")
    if kernels:
        cmd.append(f"KERNELS={kernels}")
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        raise FirmwareError(f"make {target} did not finish within {timeout_s:.0f} s") from exc
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-30:])
        raise FirmwareError(f"make {target} failed:\n{tail}")


# The engine's kernel sets (mcu_firmware/Makefile KERNELS): the commented
# reference kernels, and the Cortex-M4 DSP kernels (with the reference ones
# for the operators they do not cover). The Makefile's default is "dsp".
KERNEL_SETS = {"ref": "engine/kernels", "dsp": "engine/kernels_dsp"}


def _kernels(kernel_set: str | None) -> str | None:
    if kernel_set is None:
        return None
    if kernel_set not in KERNEL_SETS:
        raise FirmwareError(
            f"unknown kernel set {kernel_set!r} (known: {', '.join(sorted(KERNEL_SETS))})"
        )
    return KERNEL_SETS[kernel_set]


def engine_lib(
    model_dir: Path, build_dir: Path, *, sanitized: bool = False, kernel_set: str | None = None
) -> Path:
    """The host shared library of the engine with every model in ``model_dir``.

    ``kernel_set``: a key of :data:`KERNEL_SETS` (None: the Makefile's default).
    Use one ``build_dir`` per kernel set.
    """
    target = "engine-san" if sanitized else "engine-lib"
    make(target, build_dir, model_dir, kernels=_kernels(kernel_set))
    return Path(build_dir) / "engine" / ("libtnn-san.so" if sanitized else "libtnn.so")


def engine_m4(
    model_dir: Path, build_dir: Path, name: str, *, kernel_set: str | None = None
) -> Path:
    """The Cortex-M4 runner image around ``<model_dir>/<name>_model.c``."""
    make("engine-m4", build_dir, model_dir, engine_model=name, kernels=_kernels(kernel_set))
    return Path(build_dir) / "m4" / f"engine_run_{name}.elf"


def engine_stream_m4(
    model_dir: Path, build_dir: Path, name: str, *, kernel_set: str | None = None
) -> Path:
    """The Cortex-M4 runner image of the streaming model ``<model_dir>/<name>_stream.c``."""
    make("engine-stream-m4", build_dir, model_dir, stream_model=name, kernels=_kernels(kernel_set))
    return Path(build_dir) / "m4" / f"stream_run_{name}.elf"
