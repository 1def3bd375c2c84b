"""The model manager of the host build (``mcu_firmware/app/include/tri_models.h``), driven from
Python: the satellite's model slots, boot record and uplink over a model flash image that
outlives the manager, so that a reset is a new :class:`ModelManager` on the same flash.

    flash = ModelFlash.provisioned({1: key})
    mm = ModelManager(flash, factory=factory_package)      # boots
    statuses = mm.send(upload_packets(unit))
    mm.status()["active_model_id"], mm.run(frame)
    mm = ModelManager(flash, factory=factory_package)      # a reset

The QEMU runner (:mod:`triage.onboard.qemu_runner`) runs the same operations on the
Cortex-M4 image; the tests hold their flash images and statuses equal.
"""

from __future__ import annotations

import ctypes
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np

from triage import qemu
from triage.contract.enums import Refusal, Slot, Status
from triage.contract.packets import PRIMARY_HEADER, SECONDARY_HEADER
from triage.contract.records import MODEL_STATUS, PRODUCT_HEADER
from triage.contract.uplink import MODEL_FLASH_BYTES, model_flash_image
from triage.onboard import _lib
from triage.onboard.errors import FirmwareError, OnboardInputError
from triage.onboard.host import config, frame_bytes
from triage.onboard.image import MODEL_FLASH_BASE, image_path

TEAR, AFTER = 1, 2
"""Fault modes (TRI_FLASH_TEAR, TRI_FLASH_AFTER): the operation cut in half, or completed."""
STAGES = ("idle", "boot", "consume", "invalidate", "erase", "program", "switch", "command")
"""TRI_MSTAGE_* by code: what the manager was writing."""


def _aligned(n: int) -> np.ndarray:
    raw = np.zeros(n + 8, np.uint8)
    off = (-raw.ctypes.data) % 8
    return raw[off : off + n]


@cache
def _lib_models() -> ctypes.CDLL:
    lib = _lib.load()
    if not hasattr(lib, "tri_models_init"):
        raise FirmwareError("the host library has no model manager: rebuild (make firmware)")
    vp, u32, sz = ctypes.c_void_p, ctypes.c_uint32, ctypes.c_size_t
    sigs = {
        "tri_host_models_bytes": (sz, []),
        "tri_host_factory_package": (vp, [ctypes.POINTER(u32)]),
        "tri_models_init": (ctypes.c_int, [vp, vp, u32, vp, u32, vp, u32, vp, sz, u32]),
        "tri_models_boot": (ctypes.c_int, [vp]),
        "tri_models_telecommand": (ctypes.c_int, [vp, vp, sz]),
        "tri_models_end_of_pass": (ctypes.c_int, [vp]),
        "tri_models_status": (None, [vp, vp]),
        "tri_host_models_fault": (ctypes.c_int, [vp, u32, u32]),
        "tri_host_models_fault_state": (ctypes.c_int, [vp, ctypes.POINTER(u32)]),
        "tri_host_models_run": (
            ctypes.c_int,
            [vp, vp, u32, u32, vp, sz, vp, sz, ctypes.POINTER(u32)],
        ),
        "tri_host_model_status": (ctypes.c_int, [vp, vp, _lib.SINK, vp, ctypes.POINTER(sz)]),
    }
    for name, (res, args) in sigs.items():
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = args
    return lib


def build_factory_package() -> bytes | None:
    """The factory package compiled into the host build (factory_package.c in MODEL_DIR)."""
    n = ctypes.c_uint32(0)
    p = _lib_models().tri_host_factory_package(ctypes.byref(n))
    return ctypes.string_at(p, n.value) if p else None


class ModelFlash:
    """A model flash image (``WF_MODEL_FLASH_BYTES``), 8-byte aligned, owned by Python."""

    def __init__(self, image: bytes) -> None:
        if len(image) != MODEL_FLASH_BYTES:
            raise OnboardInputError(f"a model flash is {MODEL_FLASH_BYTES} bytes, got {len(image)}")
        self.buf = _aligned(MODEL_FLASH_BYTES)
        self.buf[:] = np.frombuffer(image, np.uint8)

    @classmethod
    def provisioned(cls, keys: Mapping[int, bytes] | None) -> ModelFlash:
        return cls(model_flash_image(keys))

    def image(self) -> bytes:
        return self.buf.tobytes()

    def copy(self) -> ModelFlash:
        return ModelFlash(self.image())


@dataclass(frozen=True)
class FaultState:
    ops: int
    fired: bool
    stage: str
    last_refusal: int


def decode_status(record: bytes) -> dict:
    """A MODEL_STATUS record with its refusals by reason name and hashes in hex."""
    s = MODEL_STATUS.unpack(record)
    s["refusals"] = {r.name: int(s["refusals"][r - 1]) for r in Refusal}
    for k in ("active_model_sha256", "active_package_sha256"):
        s[k] = bytes(s[k]).hex()
    s["active_slot"] = Slot(s["active"]).name
    s["slot_model_id"] = dict(zip(("FACTORY", "A", "B"), s["slot_model_id"], strict=True))
    s["last_refusal_name"] = Refusal(s["last_refusal"]).name if s["last_refusal"] else None
    return s


class ModelManager:
    """One model manager (tri_models_t) of the host build; boots on creation.

    ``factory``: the factory package's bytes (``"build"``: the host build's own, if any);
    ``scratch_bytes`` / ``frame_cols``: the streaming scratch and the widest frame (default:
    what the Cortex-M4 image has, ``TRI_MODEL_SCRATCH_BYTES`` / ``TRI_MODEL_FRAME_COLS``)."""

    def __init__(
        self,
        flash: ModelFlash,
        factory: bytes | str | None = None,
        *,
        scratch_bytes: int | None = None,
        frame_cols: int | None = None,
        boot: bool = True,
        fault: tuple[int, int] | None = None,
    ) -> None:
        self._lib = _lib_models()
        cfg = config()
        self.flash = flash
        if factory == "build":
            factory = build_factory_package()
        self._factory = None
        if factory is not None:
            self._factory = _aligned(len(factory))
            self._factory[:] = np.frombuffer(bytes(factory), np.uint8)
        self.scratch_bytes = int(scratch_bytes or cfg["model_scratch_bytes"])
        self.frame_cols = int(frame_cols or cfg["model_frame_cols"])
        self._state = _aligned(int(self._lib.tri_host_models_bytes()))
        self._staging = _aligned(cfg["model_staging_bytes"])
        self._scratch = _aligned(self.scratch_bytes)
        st = self._lib.tri_models_init(
            self._state.ctypes.data,
            flash.buf.ctypes.data,
            MODEL_FLASH_BYTES,
            None if self._factory is None else self._factory.ctypes.data,
            0 if self._factory is None else len(self._factory),
            self._staging.ctypes.data,
            len(self._staging),
            self._scratch.ctypes.data,
            self.scratch_bytes,
            self.frame_cols,
        )
        _lib.check(st, "tri_models_init")
        if fault is not None:
            self.arm_fault(*fault)
        self.boot_status = self.boot() if boot else None

    @property
    def address(self) -> int:
        return self._state.ctypes.data

    def boot(self) -> int:
        return int(self._lib.tri_models_boot(self.address))

    def telecommand(self, packet: bytes) -> int:
        buf = ctypes.create_string_buffer(bytes(packet), max(1, len(packet)))
        return int(self._lib.tri_models_telecommand(self.address, buf, len(packet)))

    def send(self, packets: Sequence[bytes]) -> list[int]:
        """Each packet in turn (until a fault fires: a reset stops everything)."""
        out = []
        for p in packets:
            out.append(self.telecommand(p))
            if self.fault_state().fired:
                break
        return out

    def end_of_pass(self) -> int:
        return int(self._lib.tri_models_end_of_pass(self.address))

    def status_record(self) -> bytes:
        out = ctypes.create_string_buffer(MODEL_STATUS.size)
        self._lib.tri_models_status(self.address, out)
        return out.raw

    def status(self) -> dict:
        return decode_status(self.status_record())

    def arm_fault(self, at: int, mode: int) -> None:
        """Flash operation ``at`` from now (1-based) is cut (TEAR or AFTER); then a reset."""
        _lib.check(self._lib.tri_host_models_fault(self.address, at, mode), "fault")

    def fault_state(self) -> FaultState:
        out = (ctypes.c_uint32 * 4)()
        self._lib.tri_host_models_fault_state(self.address, out)
        return FaultState(int(out[0]), bool(out[1]), STAGES[out[2]], int(out[3]))

    def run(self, frame: np.ndarray) -> np.ndarray:
        """The active model over an int8 frame ``[H, W, C]``: its output ``[h, w, c]``."""
        x = np.ascontiguousarray(frame, dtype=np.int8)
        h, w = x.shape[:2]
        out = np.zeros((h + 64) * (w + 64) * 16, np.int8)
        hwc = (ctypes.c_uint32 * 3)()
        st = self._lib.tri_host_models_run(
            self.address, x.ctypes.data, h, w, self._scratch.ctypes.data, self.scratch_bytes,
            out.ctypes.data, out.nbytes, hwc,
        )  # fmt: skip
        if st != Status.OK:
            _lib.check(st, "the active model")
        oh, ow, oc = hwc
        return out[: oh * ow * oc].reshape(oh, ow, oc).copy()


def model_status_packets(onboard, models: ModelManager) -> bytes:
    """The MODEL_STATUS product of ``models`` as ``onboard`` (a
    :class:`triage.onboard.host.Onboard`) sends it: its packet(s), in its link mode
    (tri_onboard_model_status)."""
    lib = _lib_models()
    buf = bytearray()

    def write(_ctx, data, n):
        buf.extend(ctypes.string_at(data, n))
        return 0

    fn = _lib.SINK(write)
    n = ctypes.c_size_t(0)
    st = lib.tri_host_model_status(onboard._state.ctypes.data, models.address, fn, None,
                                   ctypes.byref(n))  # fmt: skip
    _lib.check(st, "tri_onboard_model_status")
    return bytes(buf)


# ---------------------------------------------------------------- the Cortex-M4 image

EXIT_RESET = 9
_BOOT_RE = re.compile(r"^models boot (-?\d+) active (\d+) model (\d+) boot_count (\d+)$")
_RESET_RE = re.compile(r"^reset op (\d+) stage (\w+)$")
_RUN_RE = re.compile(r"^model_run (\d+) begin (\d+) run (\d+) source (\d+) sink (\d+)$")
_OP_RE = re.compile(r"^op (\d+) (\w+) status (-?\d+) bytes (\d+) insns (\d+)$")


@dataclass
class QemuModelsRun:
    """One boot of the Cortex-M4 image driven through the model manager's operations."""

    returncode: int
    stdout: str
    boot: dict
    flash: bytes | None = None
    """The model flash after the run (after a reset: as the reset left it)."""
    results: list = field(default_factory=list)
    """Per operation: tc -> statuses, status -> MODEL_STATUS dict, run -> dict (output,
    instructions), endpass -> status."""
    reset: tuple[int, str] | None = None
    """(flash operation, stage) when the injected fault fired."""
    dump: Path | None = None
    """Where the reset saved the memories (flash.bin, staging.bin, scratch.bin)."""
    insns: list = field(default_factory=list)
    """Per operation: the instructions it took (the image's op line)."""


def run_models_on_qemu(
    operations: Sequence[tuple],
    flash: bytes,
    *,
    workdir: Path,
    fault: tuple[int, int] | None = None,
    psram: Path | None = None,
    elf: Path | None = None,
    timeout_s: float = 600.0,
) -> QemuModelsRun:
    """The operations on the Cortex-M4 image under QEMU, in one boot, the model flash loaded
    from ``flash`` (QEMU's loader) and, after a reset, PSRAM from ``psram`` (a dump).

    Operations: ``("tc", [packets])``, ``("endpass",)``, ``("status",)``,
    ``("run", frame int8 [H, W, C])`` (the active model alone), ``("frame", frame, meta)``
    (the frame pipeline: its record), ``("downlink", budget)`` (a pass: its packets).
    ``fault``: (flash operation from the boot, TEAR or AFTER); the image then saves its
    memories into ``workdir/dump`` and stops."""
    elf = Path(elf) if elf is not None else image_path()
    d = Path(workdir)
    d.mkdir(parents=True, exist_ok=True)
    (d / "flash_in.bin").write_bytes(flash)
    lines = []
    if psram is not None:
        lines.append(f"psram {psram}")
    dump = d / "dump"
    if fault is not None:
        dump.mkdir(exist_ok=True)
        lines.append(f"fault {int(fault[0])} {'tear' if fault[1] == TEAR else 'after'} {dump}")
    outs = []
    for i, op in enumerate(operations):
        out = d / f"out{i}.bin"
        outs.append(out)
        if op[0] == "tc":
            (d / f"tc{i}.bin").write_bytes(b"".join(op[1]))
            lines.append(f"tc {d / f'tc{i}.bin'} {out}")
        elif op[0] == "endpass":
            lines.append(f"endpass {out}")
        elif op[0] == "status":
            lines.append(f"model_status {out}")
        elif op[0] == "frame":
            meta = op[2].pack() if hasattr(op[2], "pack") else bytes(op[2])
            (d / f"meta{i}.bin").write_bytes(meta)
            (d / f"pix{i}.bin").write_bytes(frame_bytes(op[1]).tobytes())
            lines.append(f"frame {d / f'meta{i}.bin'} {d / f'pix{i}.bin'} {out}")
        elif op[0] == "downlink":
            lines.append(f"downlink {int(op[1])} {out}")
        elif op[0] == "run":
            frame = np.ascontiguousarray(op[1], dtype=np.int8)
            (d / f"frame{i}.bin").write_bytes(frame.tobytes())
            lines.append(f"model_run {d / f'frame{i}.bin'} {frame.shape[0]} {frame.shape[1]} {out}")
        else:
            raise OnboardInputError(f"unknown model operation {op[0]!r}")
    lines.append(f"flash {d / 'flash_out.bin'}")
    (d / "script.txt").write_text("\n".join(lines) + "\n")
    res = qemu.run_image(
        elf, [str(d / "script.txt")], loads=[(d / "flash_in.bin", MODEL_FLASH_BASE)],
        timeout_s=timeout_s,
    )  # fmt: skip
    boot = {}
    reset = None
    runs = {}
    ops = {}
    insns = {}
    for line in res.stdout.splitlines():
        line = line.strip()
        if m := _BOOT_RE.match(line):
            keys = ("status", "active", "model_id", "boot_count")
            boot = dict(zip(keys, map(int, m.groups()), strict=True))
        elif m := _RESET_RE.match(line):
            reset = (int(m.group(1)), m.group(2))
        elif m := _RUN_RE.match(line):
            runs[int(m.group(1))] = [int(v) for v in m.groups()[1:]]
        elif m := _OP_RE.match(line):
            ops[int(m.group(1))] = int(m.group(3))
            insns[int(m.group(1))] = int(m.group(5))
    run = QemuModelsRun(res.returncode, res.stdout + res.stderr, boot, reset=reset)
    if reset is not None:
        if res.returncode != EXIT_RESET:
            raise FirmwareError(f"reset reported but exit {res.returncode}:\n{run.stdout[-2000:]}")
        run.dump = dump
        run.flash = (dump / "flash.bin").read_bytes()
        return run
    if res.returncode != 0:
        raise FirmwareError(f"{elf.name} exited with {res.returncode}:\n{run.stdout[-3000:]}")
    run.flash = (d / "flash_out.bin").read_bytes()
    run.insns = [insns.get(i, 0) for i in range(len(operations))]
    at = PRIMARY_HEADER.size + SECONDARY_HEADER.size + PRODUCT_HEADER.size
    for i, op in enumerate(operations):
        raw = outs[i].read_bytes() if outs[i].exists() else b""
        if op[0] == "tc":
            run.results.append([int.from_bytes(raw[k : k + 4], "big", signed=True)
                                for k in range(0, len(raw), 4)])  # fmt: skip
        elif op[0] == "status":
            status = decode_status(raw[at : at + MODEL_STATUS.size])
            status["packet"] = raw  # the MODEL_STATUS product's space packet
            run.results.append(status)
        elif op[0] == "run":
            begin, insns, source, sink = runs.get(i, [0, 0, 0, 0])
            run.results.append(
                {
                    "status": ops.get(i, -1),
                    "output": np.frombuffer(raw, np.int8),
                    "insns_begin": begin,
                    "insns_run": insns,
                    "insns_engine": insns - source - sink,
                }
            )
        elif op[0] in ("frame", "downlink"):
            run.results.append({"status": ops.get(i, -1), "data": raw})
        else:
            run.results.append(ops.get(i, -1))
    return run
