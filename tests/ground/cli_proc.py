"""Run the ``groundstation`` command line in a child process, as an operator does.

A child process shows what an operator sees: the exit code and every line on
stderr (a traceback included), and lets a test impose limits the library cannot
fake: a file-size limit (a full disk), a read-only folder (a bind mount in a mount
namespace of its own when the tests run as root, whom file modes do not stop).
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def one_error_line(self) -> bool:
        """The error is one line (``groundstation: error: ...``), with no traceback."""
        lines = [ln for ln in self.err.splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.startswith("groundstation: error: ")]
        return len(errors) == 1 and "Traceback" not in self.err


def _limit_fsize(fsize: int):
    def apply() -> None:
        # a write past the limit fails with EFBIG, as on a full disk (not SIGXFSZ)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    return apply


_RO_MOUNT = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'


def read_only_supported() -> str | None:
    """Why a read-only folder cannot be made here (None when it can)."""
    if os.geteuid() != 0:
        return None
    if shutil.which("unshare") is None:
        return "running as root without unshare(1): no read-only mount for the test"
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", _RO_MOUNT, "/", "true"], capture_output=True, text=True
    )
    if probe.returncode != 0:
        return f"running as root and no read-only bind mount is allowed: {probe.stderr.strip()}"
    return None


def groundstation(
    *args: str | Path,
    fsize: int | None = None,
    read_only: Path | None = None,
    timeout: float = 300,
    cwd: Path | None = None,
) -> Run:
    """``groundstation ARGS`` in a child process (``python -m ground_station.cli``), in
    folder ``cwd`` (this one by default).

    ``fsize``: no file may grow past this many bytes (a full disk). ``read_only``: that
    folder is read-only for the command (a read-only bind mount as root; else its files
    and itself lose their write permission for the command's duration).
    """
    cmd = [sys.executable, "-m", "ground_station.cli", *map(str, args)]
    modes: dict[Path, int] = {}
    if read_only is not None:
        if os.geteuid() == 0:
            cmd = ["unshare", "-m", "sh", "-c", _RO_MOUNT, str(read_only), *cmd]
        else:
            for f in [read_only, *read_only.iterdir()]:
                modes[f] = f.stat().st_mode
                f.chmod(modes[f] & ~0o222)
    try:
        p = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=timeout,
            preexec_fn=_limit_fsize(fsize) if fsize is not None else None,
            cwd=cwd,
        )
    finally:
        for f, mode in modes.items():
            f.chmod(mode)
    return Run(p.returncode, p.stdout, p.stderr)


def python(code: str, *args: str | Path, fsize: int | None = None) -> Run:
    """A Python snippet in a child process (``sys.argv[1:]`` = ``args``)."""
    p = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=_limit_fsize(fsize) if fsize is not None else None,
    )
    return Run(p.returncode, p.stdout, p.stderr)
