"""Running exported models in the engine's host build (ctypes).

The shared library (``make engine-lib``) holds the engine and any number of
exported models; each model is found by its symbol ``<name>_model``. Every
call goes through the engine's public API (tnn.h): bind, input, invoke,
output, with status codes turned into :class:`EngineRuntimeError`.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from triage.engine.errors import EngineRuntimeError

ARENA_ALIGN = 4
STATUS_NAMES = {
    0: "TRI_OK",
    -1: "TRI_ERR_ARG",
    -2: "TRI_ERR_NO_IMPL",
    -3: "TRI_ERR_ALIGN",
    -4: "TRI_ERR_SIZE",
    -5: "TRI_ERR_SHAPE",
    -6: "TRI_ERR_FORMAT",
}


class ArenaSizes(ctypes.Structure):
    _fields_ = [
        ("asked", ctypes.c_size_t),
        ("available", ctypes.c_size_t),
        ("missing", ctypes.c_size_t),
    ]


class Ctx(ctypes.Structure):
    _fields_ = [
        ("model", ctypes.c_void_p),
        ("arena", ctypes.c_void_p),
        ("arena_bytes", ctypes.c_size_t),
        ("sizes", ArenaSizes),
        ("failed_step", ctypes.c_uint16),
    ]


@dataclass(frozen=True)
class BindResult:
    status: int
    asked: int
    available: int
    missing: int
    failed_step: int

    @property
    def name(self) -> str:
        return STATUS_NAMES.get(self.status, str(self.status))


class EngineLib:
    """The loaded host library."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        lib = ctypes.CDLL(str(self.path))
        lib.tnn_arena_size.argtypes = [ctypes.c_void_p]
        lib.tnn_arena_size.restype = ctypes.c_size_t
        lib.tnn_bind.argtypes = [
            ctypes.POINTER(Ctx),
            ctypes.c_void_p,
            ctypes.c_void_p,
            ctypes.c_size_t,
        ]
        lib.tnn_bind.restype = ctypes.c_int
        lib.tnn_input.argtypes = [ctypes.POINTER(Ctx), ctypes.POINTER(ctypes.c_size_t)]
        lib.tnn_input.restype = ctypes.c_void_p
        lib.tnn_output.argtypes = [ctypes.POINTER(Ctx), ctypes.POINTER(ctypes.c_size_t)]
        lib.tnn_output.restype = ctypes.c_void_p
        lib.tnn_invoke.argtypes = [ctypes.POINTER(Ctx)]
        lib.tnn_invoke.restype = ctypes.c_int
        lib.tnn_host_run_steps.argtypes = [ctypes.POINTER(Ctx), ctypes.c_uint32]
        lib.tnn_host_run_steps.restype = ctypes.c_int
        lib.tnn_host_step_scratch_need.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
        lib.tnn_host_step_scratch_need.restype = ctypes.c_uint32
        lib.tri_status_str.argtypes = [ctypes.c_int]
        lib.tri_status_str.restype = ctypes.c_char_p
        self.lib = lib

    def model_address(self, name: str) -> int:
        try:
            sym = ctypes.c_uint8.in_dll(self.lib, f"{name}_model")
        except ValueError as exc:
            raise EngineRuntimeError(f"model '{name}' is not in {self.path.name}") from exc
        return ctypes.addressof(sym)

    def model(self, name: str) -> HostModel:
        return HostModel(self, name)

    def status_str(self, status: int) -> str:
        return self.lib.tri_status_str(status).decode()


class HostModel:
    """One exported model bound to its own arena in the host build."""

    def __init__(self, lib: EngineLib, name: str) -> None:
        self.lib = lib
        self.name = name
        self.address = lib.model_address(name)
        self.arena_bytes = int(lib.lib.tnn_arena_size(self.address))
        # exactly arena_bytes long (malloc'd, so aligned): under ASan any access
        # past the planned arena is reported
        self._arena = np.zeros(max(1, self.arena_bytes), dtype=np.uint8)
        if self._arena.ctypes.data % ARENA_ALIGN:
            raise EngineRuntimeError("numpy returned a misaligned arena")
        self.ctx = Ctx()
        res = self.bind(self._arena.ctypes.data, self.arena_bytes)
        if res.status != 0:
            raise EngineRuntimeError(
                f"tnn_bind({name}) failed: {res.name} (step {res.failed_step}, asked"
                f" {res.asked}, available {res.available}, missing {res.missing})"
            )
        n = ctypes.c_size_t()
        self._in = lib.lib.tnn_input(ctypes.byref(self.ctx), ctypes.byref(n))
        self.input_bytes = n.value
        self._out = lib.lib.tnn_output(ctypes.byref(self.ctx), ctypes.byref(n))
        self.output_bytes = n.value

    def bind(
        self, arena_address: int | None, arena_bytes: int, ctx: Ctx | None = None
    ) -> BindResult:
        """Calls tnn_bind (on this model's context unless ``ctx`` is given)."""
        c = self.ctx if ctx is None else ctx
        st = self.lib.lib.tnn_bind(ctypes.byref(c), self.address, arena_address, arena_bytes)
        return BindResult(
            int(st), c.sizes.asked, c.sizes.available, c.sizes.missing, int(c.failed_step)
        )

    def run(self, inputs: np.ndarray) -> np.ndarray:
        """Runs each row of ``inputs`` (int8, N x input_bytes); returns N x output_bytes."""
        x = np.ascontiguousarray(np.asarray(inputs, dtype=np.int8).reshape(len(inputs), -1))
        if x.shape[1] != self.input_bytes:
            raise EngineRuntimeError(
                f"{self.name}: inputs of {x.shape[1]} bytes, the model takes {self.input_bytes}"
            )
        out = np.empty((len(x), self.output_bytes), dtype=np.int8)
        for i in range(len(x)):
            ctypes.memmove(self._in, x[i].ctypes.data, self.input_bytes)
            st = self.lib.lib.tnn_invoke(ctypes.byref(self.ctx))
            if st != 0:
                raise EngineRuntimeError(
                    f"tnn_invoke({self.name}) failed: {self.lib.status_str(st)}"
                )
            ctypes.memmove(out[i].ctypes.data, self._out, self.output_bytes)
        return out

    def scratch_need(self, step: int) -> int:
        """Scratch bytes the library's kernel set needs for ``step`` (its own sizing code)."""
        return int(self.lib.lib.tnn_host_step_scratch_need(self.address, step))

    def run_prefix(self, x: np.ndarray, n_steps: int) -> np.ndarray:
        """Runs the first ``n_steps`` steps on one input; returns a copy of the arena."""
        x = np.ascontiguousarray(np.asarray(x, dtype=np.int8).reshape(-1))
        ctypes.memmove(self._in, x.ctypes.data, self.input_bytes)
        st = self.lib.lib.tnn_host_run_steps(ctypes.byref(self.ctx), n_steps)
        if st != 0:
            raise EngineRuntimeError(f"{self.name}: steps failed: {self.lib.status_str(st)}")
        return self._arena.view(np.int8).copy()
