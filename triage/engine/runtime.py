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

from triage.contract.model_package import parse_plan
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

    def stream_model_address(self, name: str) -> int:
        """The address of the streaming model ``<name>_stream`` (a ``tnn_stream_model_t``,
        :mod:`triage.engine.stream`) in this library."""
        try:
            sym = ctypes.c_uint8.in_dll(self.lib, f"{name}_stream")
        except ValueError as exc:
            raise EngineRuntimeError(
                f"streaming model '{name}' is not in {self.path.name}"
            ) from exc
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


# ---- streaming models (tnn_stream.h) ---------------------------------------------------

STREAM_ALIGN = 8  # TNN_STREAM_ALIGN
STREAM_MAX_LAYERS = 32  # TNN_STREAM_MAX_LAYERS


class StreamSizes(ctypes.Structure):
    _fields_ = [
        ("asked", ctypes.c_size_t),
        ("available", ctypes.c_size_t),
        ("missing", ctypes.c_size_t),
    ]


class StreamCtx(ctypes.Structure):
    _fields_ = [
        ("model", ctypes.c_void_p),
        ("scratch", ctypes.c_void_p),
        ("frame_h", ctypes.c_uint32),
        ("frame_w", ctypes.c_uint32),
        ("in_h", ctypes.c_uint32),
        ("in_w", ctypes.c_uint32),
        ("out_h", ctypes.c_uint32),
        ("out_w", ctypes.c_uint32),
        ("out_c", ctypes.c_uint32),
        ("rows_in", ctypes.c_uint32),
        ("rows_out", ctypes.c_uint32),
        ("done", ctypes.c_uint8),
        ("sizes", StreamSizes),
        ("failed_layer", ctypes.c_uint16),
        ("profile", ctypes.c_void_p),
        ("n_layers", ctypes.c_uint32),
        ("in_c", ctypes.c_uint32),
        ("in_zero_point", ctypes.c_int32),
    ]


class StreamModelStruct(ctypes.Structure):
    """tnn_stream_model_t: the plan's bytes."""

    _fields_ = [("plan", ctypes.c_void_p), ("plan_bytes", ctypes.c_uint32)]


@dataclass(frozen=True)
class StreamResult:
    status: int
    out: np.ndarray | None  # [out_h, out_w, out_c] when status is 0
    asked: int
    available: int
    missing: int
    failed_layer: int
    rows_in: int
    rows_out: int

    @property
    def name(self) -> str:
        return STATUS_NAMES.get(self.status, str(self.status))


class StreamModel:
    """A streaming model (``<name>_stream``) of a host library, run over frames held in memory
    through the public API (tnn_stream_begin, tnn_stream_run: ``tnn_host_stream_frame``)."""

    def __init__(self, lib: EngineLib, name: str) -> None:
        self.lib = lib
        self.name = name
        l_ = lib.lib
        try:
            self.address = ctypes.addressof(ctypes.c_uint8.in_dll(l_, f"{name}_stream"))
        except ValueError as exc:
            raise EngineRuntimeError(f"streaming model '{name}' is not in {lib.path.name}") from exc
        l_.tnn_stream_scratch_bytes.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
        l_.tnn_stream_scratch_bytes.restype = ctypes.c_size_t
        l_.tnn_stream_begin.argtypes = [ctypes.POINTER(StreamCtx), ctypes.c_void_p,
                                        ctypes.c_uint32, ctypes.c_uint32, ctypes.c_void_p,
                                        ctypes.c_size_t]  # fmt: skip
        l_.tnn_stream_begin.restype = ctypes.c_int
        l_.tnn_host_stream_frame.argtypes = [
            ctypes.POINTER(StreamCtx), ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint32,
            ctypes.c_uint32, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_size_t,
        ]  # fmt: skip
        l_.tnn_host_stream_frame.restype = ctypes.c_int
        m = StreamModelStruct.from_address(self.address)
        self.plan = ctypes.string_at(m.plan, m.plan_bytes)
        info = parse_plan(self.plan)
        self.in_c, self.out_c = info.in_c, info.out_c
        self.multiple_h, self.multiple_w = info.header["multiple_h"], info.header["multiple_w"]

    def scratch_bytes(self, width: int) -> int:
        return int(self.lib.lib.tnn_stream_scratch_bytes(self.address, width))

    def begin(self, h: int, w: int, scratch_address: int | None, scratch_bytes: int,
              model_address: int | None = None) -> StreamResult:  # fmt: skip
        """tnn_stream_begin alone (for the checks of bad input); ``model_address``: another
        tnn_stream_model_t (e.g. one naming a modified copy of the plan)."""
        ctx = StreamCtx()
        addr = self.address if model_address is None else model_address
        st = self.lib.lib.tnn_stream_begin(ctypes.byref(ctx), addr, h, w, scratch_address,
                                           scratch_bytes)  # fmt: skip
        return self._result(int(st), ctx, None)

    def run(self, frame: np.ndarray, scratch_bytes: int | None = None,
            out_bytes: int | None = None) -> StreamResult:  # fmt: skip
        """Runs one int8 frame [H, W, C]; the scratch is a heap block of exactly
        ``scratch_bytes`` (default: what the engine asks for), so that under ASan any access
        outside it is reported."""
        x = np.ascontiguousarray(np.asarray(frame, dtype=np.int8))
        if x.ndim != 3:
            raise EngineRuntimeError(f"{self.name}: a frame is [H, W, C], got {x.shape}")
        h, w = x.shape[:2]
        need = self.scratch_bytes(w)
        n = need if scratch_bytes is None else scratch_bytes
        # numpy's allocations are 16-byte aligned; bytes past n would hide overruns from ASan
        scratch = np.zeros(max(1, n), dtype=np.uint8)
        if scratch.ctypes.data % STREAM_ALIGN:
            raise EngineRuntimeError("numpy returned a misaligned scratch")
        if out_bytes is None:  # the extended frame's cells, each out_c bytes
            out_bytes = (h + self.multiple_h) * (w + self.multiple_w) * self.out_c
        out = np.zeros(max(1, out_bytes), np.int8)
        ctx = StreamCtx()
        st = self.lib.lib.tnn_host_stream_frame(
            ctypes.byref(ctx), self.address, x.ctypes.data, h, w, scratch.ctypes.data, n,
            out.ctypes.data, out.nbytes,
        )  # fmt: skip
        res = None
        if st == 0:
            res = out[: ctx.out_h * ctx.out_w * ctx.out_c].reshape(ctx.out_h, ctx.out_w,
                                                                     ctx.out_c).copy()  # fmt: skip
        return self._result(int(st), ctx, res)

    @staticmethod
    def _result(st: int, ctx: StreamCtx, out: np.ndarray | None) -> StreamResult:
        return StreamResult(st, out, ctx.sizes.asked, ctx.sizes.available, ctx.sizes.missing,
                            int(ctx.failed_layer), int(ctx.rows_in), int(ctx.rows_out))  # fmt: skip

    def frame(self, frame: np.ndarray) -> np.ndarray:
        """The output [Hp/m, Wp/m, C] of one frame; raises on any error status."""
        res = self.run(frame)
        if res.status != 0:
            raise EngineRuntimeError(
                f"{self.name}: streaming a {frame.shape} frame failed: {res.name}"
                f" (layer {res.failed_layer}, scratch asked {res.asked}, gave {res.available})"
            )
        assert res.out is not None
        return res.out
