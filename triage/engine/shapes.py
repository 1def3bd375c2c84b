"""A ``.tflite`` at another input size: every activation shape worked out for an ``h x w``
input and written into a copy of the file (weights and quantisation untouched).

TFLM needs static shapes, and a fully-convolutional model converted with an open spatial
size (``shape_signature`` ``[-1, -1, -1, C]``) or for one size must be run at the frame's
size to serve as the reference of the streaming executor (:mod:`triage.engine.stream`).
The shapes follow TensorFlow Lite's own rules, operator by operator
(:func:`propagate`); an operator whose output shape this module cannot derive stops the
rewrite with an error naming it. Only the values of the ``shape`` and ``shape_signature``
vectors change, in place (ranks never change), so the file's layout stays valid.
"""

from __future__ import annotations

import math
import struct

import numpy as np

from triage.engine import quant
from triage.engine import tflite as tfl
from triage.engine.errors import UnsupportedModelError

_SAME_SHAPE = {tfl.SOFTMAX, tfl.QUANTIZE, tfl.DEQUANTIZE, 19, 21, 14, 28, 92, 117}  # + RELU..
_BROADCAST = {tfl.ADD, 18, 41, 42, 55, 57}  # ADD, MUL, SUB, DIV, MAXIMUM, MINIMUM


def _const_ints(m: tfl.TfliteModel, index: int, what: str) -> list[int]:
    t = m.tensors[index]
    if t.data is None or t.dtype not in (tfl.INT32, tfl.INT64):
        raise UnsupportedModelError(f"{what}: {t.describe()} must be a constant integer tensor")
    dtype = "<i4" if t.dtype == tfl.INT32 else "<i8"
    return [int(v) for v in np.frombuffer(t.data, dtype=dtype)]


def _window(op: tfl.Operator, x: tuple[int, ...], k: tuple[int, int], c: int) -> tuple[int, ...]:
    o = op.options
    if len(x) != 4:
        raise UnsupportedModelError(f"{op.describe()}: input of rank {len(x)}, expected 4")
    dil = (o.get("dilation_h", 1), o.get("dilation_w", 1))
    size = [
        quant.compute_out_size(o["padding"], x[1 + a], k[a], o[("stride_h", "stride_w")[a]],
                               dil[a])
        for a in (0, 1)
    ]  # fmt: skip
    if min(size) < 1:
        raise UnsupportedModelError(f"{op.describe()}: no output at input {list(x)}")
    return (x[0], size[0], size[1], c)


def propagate(m: tfl.TfliteModel, input_shape: tuple[int, ...]) -> dict[int, tuple[int, ...]]:
    """The shape of every activation tensor when the model's input has ``input_shape``."""
    if len(m.inputs) != 1:
        raise UnsupportedModelError(f"the model has {len(m.inputs)} inputs, expected one")
    shapes: dict[int, tuple[int, ...]] = {m.inputs[0]: tuple(int(d) for d in input_shape)}

    def shape(op: tfl.Operator, k: int) -> tuple[int, ...]:
        idx = op.inputs[k]
        if idx in shapes:
            return shapes[idx]
        t = m.tensors[idx]
        if t.data is None:
            raise UnsupportedModelError(f"{op.describe()}: input {t.describe()} has no producer")
        return t.shape

    for op in m.operators:
        x = shape(op, 0)
        code = op.code
        if code == tfl.CONV_2D:
            f = m.tensors[op.inputs[1]].shape
            y = _window(op, x, (f[1], f[2]), f[0])
        elif code == tfl.DEPTHWISE_CONV_2D:
            f = m.tensors[op.inputs[1]].shape
            y = _window(op, x, (f[1], f[2]), f[3])
        elif code in (tfl.MAX_POOL_2D, tfl.AVERAGE_POOL_2D):
            y = _window(op, x, (op.options["filter_h"], op.options["filter_w"]), x[3])
        elif code in _SAME_SHAPE:
            y = x
        elif code in _BROADCAST:
            b = shape(op, 1)
            r = max(len(x), len(b))
            xa, ba = (1,) * (r - len(x)) + x, (1,) * (r - len(b)) + b
            y = tuple(max(p, q) for p, q in zip(xa, ba, strict=True))
        elif code == tfl.CONCATENATION:
            parts = [shape(op, k) for k in range(len(op.inputs))]
            axis = op.options.get("axis", 0) % len(x)
            y = tuple(sum(p[axis] for p in parts) if d == axis else x[d] for d in range(len(x)))
        elif code in (tfl.MEAN, tfl.REDUCE_MAX):
            axes = {a % len(x) for a in _const_ints(m, op.inputs[1], op.describe())}
            keep = op.options.get("keep_dims", False)
            y = tuple((1 if d in axes else x[d]) for d in range(len(x)) if keep or d not in axes)
        elif code == tfl.FULLY_CONNECTED:
            out_f = m.tensors[op.inputs[1]].shape[0]
            if op.options.get("keep_num_dims", False):
                y = (*x[:-1], out_f)
            else:
                y = (math.prod(x) // m.tensors[op.inputs[1]].shape[1], out_f)
        elif code == tfl.RESHAPE and len(op.inputs) > 1:
            target = _const_ints(m, op.inputs[1], op.describe())
            n = math.prod(x)
            if target.count(-1) == 1:
                rest = math.prod(d for d in target if d != -1)
                target = [n // rest if d == -1 else d for d in target]
            if math.prod(target) != n:
                raise UnsupportedModelError(
                    f"{op.describe()}: reshape to {target} does not hold {list(x)}"
                )
            y = tuple(target)
        else:
            raise UnsupportedModelError(
                f"{op.describe()}: its output shape at another input size is not derived here"
            )
        for o in op.outputs:
            shapes[o] = tuple(int(d) for d in y)
    return shapes


def static_shape(tflite_bytes: bytes, h: int, w: int) -> bytes:
    """A copy of the model with every activation shape set for a ``[1, h, w, C]`` input."""
    m = tfl.read_model(tflite_bytes)
    x = m.tensors[m.inputs[0]]
    if len(x.shape) != 4:
        raise UnsupportedModelError(f"model input {x.describe()} is not [1, H, W, C]")
    if h < 1 or w < 1:
        raise UnsupportedModelError(f"input size {h}x{w}")
    shapes = propagate(m, (1, int(h), int(w), x.shape[3]))
    slots = tfl.tensor_shape_slots(tflite_bytes)
    out = bytearray(tflite_bytes)
    for i, want in shapes.items():
        for name, (start, n) in slots[i].items():
            if n != len(want):
                raise UnsupportedModelError(
                    f"{m.tensors[i].describe()}: {name} of rank {n}, the propagated shape is"
                    f" {list(want)}"
                )
            struct.pack_into(f"<{n}i", out, start, *want)
    return bytes(out)
