"""TensorFlow Lite Micro as the reference: its outputs and its arena size.

The ``tflite_micro`` Python package runs TFLM's reference kernels on the host,
the same code that runs on microcontrollers. Bit-exactness is judged against
it. Its allocation report (``print_allocations``, written by the C++ code to
file descriptor 2) gives the arena TFLM needs for the same model.
"""

from __future__ import annotations

import os
import re
import tempfile

import numpy as np

from triage.engine.shapes import static_shape

DEFAULT_TFLM_ARENA = 512 * 1024


def _interpreter(tflite_bytes: bytes, arena_size: int = DEFAULT_TFLM_ARENA):
    from tflite_micro import runtime

    return runtime.Interpreter.from_bytes(bytes(tflite_bytes), arena_size=arena_size)


def tflm_run(tflite_bytes: bytes, inputs: np.ndarray, input_shape: tuple[int, ...]) -> np.ndarray:
    """TFLM's int8 outputs for each of ``inputs`` (N x ...), flattened per input."""
    interp = _interpreter(tflite_bytes)
    x = np.asarray(inputs, dtype=np.int8)
    outs = []
    for i in range(len(x)):
        interp.set_input(x[i].reshape(input_shape), 0)
        interp.invoke()
        outs.append(np.asarray(interp.get_output(0)).astype(np.int8).reshape(-1))
    return np.stack(outs) if outs else np.zeros((0, 0), dtype=np.int8)


def tflm_allocation_report(tflite_bytes: bytes, input_shape: tuple[int, ...]) -> str:
    """The text TFLM's recording allocator prints after one inference."""
    interp = _interpreter(tflite_bytes)
    interp.set_input(np.zeros(input_shape, dtype=np.int8), 0)
    interp.invoke()
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        saved = os.dup(2)
        try:
            os.dup2(tmp.fileno(), 2)
            interp.print_allocations()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        tmp.seek(0)
        return tmp.read().decode(errors="replace")


def tflm_arena_parts(tflite_bytes: bytes, input_shape: tuple[int, ...]) -> dict[str, int]:
    """TFLM's arena allocation for the model: total, head (the planned tensors)
    and tail (persistent structures: tensor and node records, per-channel
    multipliers), from its recording allocator's report."""
    text = tflm_allocation_report(tflite_bytes, input_shape)
    parts = {}
    for key in ("total", "head", "tail"):
        m = re.search(rf"Arena allocation {key} (\d+) bytes", text)
        if not m:
            raise RuntimeError(f"no arena {key} in TFLM's allocation report:\n{text}")
        parts[key] = int(m.group(1))
    return parts


def tflm_arena_bytes(tflite_bytes: bytes, input_shape: tuple[int, ...]) -> int:
    """TFLM's total arena allocation for the model (head + tail), from its report."""
    return tflm_arena_parts(tflite_bytes, input_shape)["total"]


def tflm_tensors(
    tflite_bytes: bytes, x: np.ndarray, input_shape: tuple[int, ...], indices: list[int]
) -> dict[int, np.ndarray]:
    """Tensors ``indices`` as TFLM holds them after one inference (preserve-all-tensors mode)."""
    from tflite_micro import runtime

    interp = runtime.Interpreter.from_bytes(
        bytes(tflite_bytes),
        arena_size=DEFAULT_TFLM_ARENA,
        intrepreter_config=runtime.InterpreterConfig.kPreserveAllTensors,
    )
    interp.set_input(np.asarray(x, dtype=np.int8).reshape(input_shape), 0)
    interp.invoke()
    return {i: np.asarray(interp.GetTensor(i, 0)["tensor_data"]) for i in indices}


def tflm_frame(tflite_bytes: bytes, q: np.ndarray) -> np.ndarray:
    """TFLM's int8 output of a fully-convolutional model on one whole frame ``q`` [H, W, C]
    (the model's activation shapes set for H x W by :func:`triage.engine.shapes.static_shape`);
    the output without its batch dimension."""
    from tflite_micro import runtime

    h, w, c = q.shape
    model = static_shape(tflite_bytes, h, w)
    # the input, the largest activations (a few times the frame) and TFLM's bookkeeping
    arena = 24 * h * w * c + (1 << 20)
    interp = runtime.Interpreter.from_bytes(model, arena_size=int(arena))
    interp.set_input(np.ascontiguousarray(q, dtype=np.int8)[None], 0)
    interp.invoke()
    out = np.asarray(interp.get_output(0))
    return out.reshape(out.shape[1:]).astype(np.int8)
