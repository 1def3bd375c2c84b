"""The same operations on the host build and on the Cortex-M4 image under QEMU.

An operation is a tuple:

- ``("frame", frame, meta)``: process a frame (``[rows, cols, bands]`` uint16
  or uint8) with its :class:`FrameMeta` (or raw FRAME_META bytes);
- ``("directory",)``: the STORE_DIRECTORY packets;
- ``("downlink", budget_bytes)`` or ``("downlink", budget_bytes, request)``:
  a pass (request: DOWNLINK_REQUEST bytes or entries, see
  :func:`triage.onboard.host.request_packet`);
- ``("counters",)``: the lifetime counters, big-endian u32 words;
- ``("link", mode, spacecraft_id)``: what directories and passes send from then on
  (mode a :class:`~triage.contract.frames.LinkMode` label: packets, frames, cadu);
- ``("load", flash)``: a simulation's step, not a flight operation: the model flash
  becomes ``flash`` (``WF_MODEL_FLASH_BYTES`` bytes, as a bench programmer writes it),
  the model manager boots on it and the frames to come are classified by its active
  model (the compiled-in one when none is active), with its policy; the store stays.

:func:`run_on_qemu` boots the flight image (``build/m4/triage_fw.elf``) once
for the whole sequence; :func:`run_on_host` runs it on one
:class:`~triage.onboard.host.Onboard`. Both return one :class:`OpResult` per
operation whose ``data`` are the same bytes (frame record, packets,
counters) when the builds agree. Under QEMU ``insns`` is the operation's
deterministic instruction count (``-icount shift=0``).
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from triage import qemu
from triage.contract.frames import LinkMode
from triage.onboard.errors import FirmwareError, OnboardError, OnboardInputError
from triage.onboard.host import (
    DEFAULT_STORE_BYTES,
    FrameReport,
    Onboard,
    frame_bytes,
    request_packet,
)
from triage.onboard.image import MODEL_FLASH_BASE, image_path
from triage.onboard.meta import FrameMeta
from triage.onboard.models import ModelFlash, ModelManager

_OP_RE = re.compile(r"^op (\d+) (\w+) status (-?\d+) bytes (\d+) insns (\d+)$")
_STACK_RE = re.compile(r"^stack_peak (\d+) of (\d+)$")
_PROF_RE = re.compile(r"^prof (\d+)((?: \w+ \d+)*)$")


@dataclass
class OpResult:
    """The outcome of one operation."""

    kind: str
    status: int
    data: bytes
    insns: int | None = None
    stages: dict[str, int] | None = None
    """Under QEMU: the operation's instructions by stage of the application's profile
    (mcu_firmware/app/include/tri_profile.h), which add up to at most ``insns``."""

    @property
    def report(self) -> FrameReport:
        """The frame report of a ``frame`` operation."""
        if self.kind != "frame":
            raise OnboardError(f"a {self.kind} operation has no frame report")
        return FrameReport.from_record(self.data)


@dataclass
class QemuRun:
    """Results of a QEMU run, with the painted-stack high-water mark."""

    results: list[OpResult]
    stack_peak_bytes: int
    stack_size_bytes: int
    stdout: str


def _request_bytes(request) -> bytes | None:
    if request is None:
        return None
    if isinstance(request, bytes | bytearray):
        return bytes(request)
    return request_packet(request)


def _check_op(op: Sequence) -> str:
    if not op or op[0] not in ("frame", "directory", "downlink", "counters", "link", "load"):
        raise OnboardInputError(f"unknown operation {op!r:.60}")
    return op[0]


def run_on_host(
    operations: Sequence[Sequence],
    *,
    store_bytes: int = DEFAULT_STORE_BYTES,
    classifier: str = "model",
) -> list[OpResult]:
    """The operations on the host build (one fresh :class:`Onboard`)."""
    ob = Onboard(store_bytes, classifier=classifier)
    out = []
    managers = []  # each bound manager stays alive while the Onboard may use it
    for op in operations:
        kind = _check_op(op)
        if kind == "load":
            managers.append(ModelManager(ModelFlash(bytes(op[1]))))
            ob.bind_active(managers[-1])
            out.append(OpResult(kind, 0, b""))
        elif kind == "frame":
            rep = ob.process_frame(op[1], op[2])
            out.append(OpResult(kind, rep.status, rep.record))
        elif kind == "directory":
            out.append(OpResult(kind, 0, ob.directory()))
        elif kind == "downlink":
            req = _request_bytes(op[2] if len(op) > 2 else None)
            try:
                out.append(OpResult(kind, 0, ob.downlink(int(op[1]), req)))
            except OnboardError as exc:
                out.append(OpResult(kind, exc.status, b""))
        elif kind == "link":
            try:
                ob.set_link(op[1], int(op[2]))
                out.append(OpResult(kind, 0, b""))
            except OnboardError as exc:
                out.append(OpResult(kind, exc.status, b""))
        else:
            c = ob.counters()
            data = np.asarray(list(c.values()), dtype=">u4").tobytes()
            out.append(OpResult(kind, 0, data))
    return out


def run_on_qemu(
    operations: Sequence[Sequence],
    *,
    store_bytes: int = DEFAULT_STORE_BYTES,
    classifier: str = "model",
    elf: Path | None = None,
    timeout_s: float = 1200.0,
    workdir: Path | None = None,
    model_flash: bytes | None = None,
) -> QemuRun:
    """The operations on the Cortex-M4 image under QEMU, in one boot; ``model_flash``: the
    image's model flash at boot (QEMU's loader puts it in place; e.g. a package in its active
    slot, which the image then binds with its policy), else the image's own (blank)."""
    elf = Path(elf) if elf is not None else image_path()
    if not elf.exists():
        raise FirmwareError(f"firmware image missing: {elf} (run `make firmware`)")
    with tempfile.TemporaryDirectory(prefix="triage_fw_", dir=workdir) as tmp:
        d = Path(tmp)
        lines = [f"init {int(store_bytes)} {classifier}"]
        outs = []
        for i, op in enumerate(operations):
            kind = _check_op(op)
            out = d / f"out{i}.bin"
            outs.append(out)
            if kind == "frame":
                meta = op[2].pack() if isinstance(op[2], FrameMeta) else bytes(op[2])
                (d / f"meta{i}.bin").write_bytes(meta)
                pix = frame_bytes(op[1])
                (d / f"pix{i}.bin").write_bytes(pix.tobytes() if hasattr(pix, "tobytes") else pix)
                lines.append(f"frame {d / f'meta{i}.bin'} {d / f'pix{i}.bin'} {out}")
            elif kind == "directory":
                lines.append(f"directory {out}")
            elif kind == "load":
                (d / f"flash{i}.bin").write_bytes(bytes(op[1]))
                out.write_bytes(b"")
                lines.append(f"load {d / f'flash{i}.bin'}")
            elif kind == "link":
                modes = {m.label: int(m) for m in LinkMode}
                if op[1] not in modes:
                    raise OnboardInputError(f"link mode must be one of {sorted(modes)}")
                out.write_bytes(b"")
                lines.append(f"link {modes[op[1]]} {int(op[2])}")
            elif kind == "downlink":
                line = f"downlink {int(op[1])} {out}"
                req = _request_bytes(op[2] if len(op) > 2 else None)
                if req is not None:
                    (d / f"req{i}.bin").write_bytes(req)
                    line += f" {d / f'req{i}.bin'}"
                lines.append(line)
            else:
                lines.append(f"counters {out}")
        script = d / "script.txt"
        script.write_text("\n".join(lines) + "\n")
        loads = []
        if model_flash is not None:
            (d / "model_flash.bin").write_bytes(model_flash)
            loads.append((d / "model_flash.bin", MODEL_FLASH_BASE))
        res = qemu.run_image(elf, [str(script)], loads=loads, timeout_s=timeout_s)
        if res.returncode != 0:
            raise FirmwareError(
                f"{elf.name} exited with {res.returncode}\n{res.stdout[-2000:]}{res.stderr[-2000:]}"
            )
        ops = {}
        profs: dict[int, dict[str, int]] = {}
        stack = (0, 0)
        for line in res.stdout.splitlines():
            if m := _OP_RE.match(line.strip()):
                ops[int(m.group(1))] = m
            elif m := _PROF_RE.match(line.strip()):
                words = m.group(2).split()
                profs[int(m.group(1))] = dict(zip(words[::2], map(int, words[1::2]), strict=True))
            elif m := _STACK_RE.match(line.strip()):
                stack = (int(m.group(1)), int(m.group(2)))
        results = []
        for i, op in enumerate(operations):
            m = ops.get(i + 1)  # line 0 is init
            if m is None:
                raise FirmwareError(f"{elf.name} did not report operation {i}:\n{res.stdout}")
            results.append(
                OpResult(
                    op[0], int(m.group(3)), outs[i].read_bytes(), int(m.group(5)), profs.get(i + 1)
                )
            )
        return QemuRun(results, stack[0], stack[1], res.stdout)
