"""Run a Cortex-M4 firmware image under QEMU (``-M mps2-an386``).

The image talks to the host through UART0 (QEMU's stdout) and ARM
semihosting (console on stderr, host files, the exit code). With
``icount=True`` QEMU executes one instruction per virtual nanosecond, so the
image's SysTick-based instruction counter is deterministic.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from triage.errors import FirmwareError

QEMU = "qemu-system-arm"
MACHINE = "mps2-an386"
PSRAM_BASE = 0x21000000


@dataclass(frozen=True)
class QemuResult:
    """What a run of an image gave back."""

    returncode: int
    stdout: str
    stderr: str


def run_image(
    elf: Path,
    args: Sequence[str] = (),
    *,
    loads: Sequence[tuple[Path, int]] = (),
    icount: bool = True,
    timeout_s: float = 600.0,
    cwd: Path | None = None,
) -> QemuResult:
    """Boot ``elf`` with ``args`` as its semihosting command line.

    ``loads`` places host files in the board's memory before reset (QEMU's
    generic loader), e.g. a frame at :data:`PSRAM_BASE`.
    """
    if shutil.which(QEMU) is None:
        raise FirmwareError(f"{QEMU} not found (run `make setup` to install it)")
    if not Path(elf).exists():
        raise FirmwareError(f"firmware image missing: {elf} (run `make firmware`)")
    cmd = [
        QEMU,
        "-M",
        MACHINE,
        "-nographic",
        "-monitor",
        "none",
        "-semihosting-config",
        "enable=on,target=native",
    ]
    if icount:
        cmd += ["-icount", "shift=0"]
    for path, addr in loads:
        cmd += ["-device", f"loader,file={Path(path).resolve()},addr={addr:#x},force-raw=on"]
    cmd += ["-kernel", str(Path(elf).resolve())]
    if args:
        cmd += ["-append", " ".join(args)]
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout_s, cwd=cwd, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise FirmwareError(f"{Path(elf).name} did not finish within {timeout_s:.0f} s") from exc
    return QemuResult(proc.returncode, proc.stdout, proc.stderr)
