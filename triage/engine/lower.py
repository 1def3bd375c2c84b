"""Validation and lowering: a ``.tflite`` graph becomes a list of engine steps.

Each supported operator is checked the way TensorFlow Lite Micro would
accept it (types, shapes, quantisation) plus the engine's own rules (int8
activations, per-channel conv weights, batch 1), and its integer parameters
are computed exactly as TFLM computes them at ``Prepare`` time. Anything
else stops the export with a message that names the operator or tensor.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from triage.engine import quant
from triage.engine import tflite as tfl
from triage.engine.errors import ModelFormatError, UnsupportedModelError

# Inputs each supported operator takes (least, most).
_ARITY = {
    tfl.CONV_2D: (2, 3),
    tfl.DEPTHWISE_CONV_2D: (2, 3),
    tfl.FULLY_CONNECTED: (2, 3),
    tfl.AVERAGE_POOL_2D: (1, 1),
    tfl.MAX_POOL_2D: (1, 1),
    tfl.MEAN: (2, 2),
    tfl.REDUCE_MAX: (2, 2),
    tfl.ADD: (2, 2),
    tfl.SOFTMAX: (1, 1),
    tfl.QUANTIZE: (1, 1),
    tfl.RESHAPE: (1, 2),
    tfl.CONCATENATION: (1, 8),
}

# The options table each operator must carry.
_OPTIONS = {
    tfl.CONV_2D: "Conv2DOptions",
    tfl.DEPTHWISE_CONV_2D: "DepthwiseConv2DOptions",
    tfl.FULLY_CONNECTED: "FullyConnectedOptions",
    tfl.AVERAGE_POOL_2D: "Pool2DOptions",
    tfl.MAX_POOL_2D: "Pool2DOptions",
    tfl.MEAN: "ReducerOptions",
    tfl.REDUCE_MAX: "ReducerOptions",
    tfl.ADD: "AddOptions",
    tfl.SOFTMAX: "SoftmaxOptions",
    tfl.CONCATENATION: "ConcatenationOptions",
}

# Largest magnitude one int8 tap adds to an accumulator: 127 * 255.
TAP_MAX = 127 * 255
CONCAT_MAX_INPUTS = 8
SOFTMAX_MAX_DEPTH = 511


@dataclass
class ActTensor:
    """An activation tensor (lives in the arena)."""

    index: int
    name: str
    shape: tuple[int, ...]
    scale: float
    zero_point: int

    @property
    def nbytes(self) -> int:
        return int(math.prod(self.shape)) if self.shape else 1


@dataclass
class CArray:
    """A constant array the step's parameter struct points at (``field``: the struct member
    that points at it, e.g. ``quant.mult``; by default the array's name in ``Step.arrays``)."""

    ctype: str
    values: np.ndarray
    field: str | None = None


def conv_fields(
    input_hwc: Sequence[int],
    output_hwc: Sequence[int],
    kernel: tuple[int, int],
    stride: tuple[int, int],
    dilation: tuple[int, int],
    pad: tuple[int, int],
    depth_mult: int,
    in_offset: int,
    out_offset: int,
    act: tuple[int, int],
) -> dict:
    """The scalar members of tnn_conv2d_s8_params_t (CONV_2D, DEPTHWISE_CONV_2D and
    FULLY_CONNECTED), composed as the C struct is: ``conv`` (tnn_conv_params_t), ``input``
    and ``output`` (tnn_dims_t). Pairs are (height, width); ``act`` is (min, max)."""

    def hw(pair: tuple[int, int]) -> dict[str, int]:
        return {"h": int(pair[0]), "w": int(pair[1])}

    def dims(hwc: Sequence[int]) -> dict[str, int]:
        h, w, c = (int(v) for v in hwc)
        return {"h": h, "w": w, "c": c}

    return {
        "conv": {
            "in_offset": int(in_offset),
            "out_offset": int(out_offset),
            "depth_mult": int(depth_mult),
            "kernel": hw(kernel),
            "stride": hw(stride),
            "dilation": hw(dilation),
            "pad": hw(pad),
            "act": {"min": int(act[0]), "max": int(act[1])},
        },
        "input": dims(input_hwc),
        "output": dims(output_hwc),
    }


@dataclass
class Packed:
    """One step's ``tnn_packed_t`` and scratch size (filled by :mod:`triage.engine.pack`)."""

    method: int
    flags: int
    groups: int
    data: np.ndarray  # uint32 stream (tnn_packed_t.data)
    scratch_bytes: int
    note: str  # what was chosen, for the generated comment and the benchmark

    def describe(self) -> str:
        return self.note


@dataclass
class Step:
    """One engine step: a kernel call with its parameters and tensors."""

    op: tfl.Operator
    kernel: str  # e.g. "conv2d_s8": tnn_op_conv2d_s8, tnn_conv2d_s8_params_t
    fields: dict  # the struct's scalar members; a dict value is a member struct
    arrays: dict[str, CArray]
    inputs: list[int]
    output: int
    gaps: list[int | None]  # per input: least overlap gap (bytes), None = must be disjoint
    macs: int = 0
    notes: dict[str, object] = field(default_factory=dict)
    packed: Packed | None = None  # data for the optimised kernels (triage.engine.pack)

    @property
    def scratch_bytes(self) -> int:
        """Working memory the step's optimised kernel takes from the arena."""
        return self.packed.scratch_bytes if self.packed is not None else 0


@dataclass
class Lowered:
    model: tfl.TfliteModel
    steps: list[Step]
    tensors: dict[int, ActTensor]
    input: int
    output: int
    alias: dict[int, int]

    @property
    def macs(self) -> int:
        return sum(s.macs for s in self.steps)

    @property
    def weights_bytes(self) -> int:
        """int8 weights and int32 biases as stored in flash."""
        total = 0
        for s in self.steps:
            for name in ("filter", "bias"):
                if name in s.arrays:
                    total += s.arrays[name].values.nbytes
        return total

    @property
    def const_bytes(self) -> int:
        """Every constant array (weights, biases, multipliers, shifts, concat runs)."""
        return sum(a.values.nbytes for s in self.steps for a in s.arrays.values())


def row_gap(out_h: int, out_row: int, in_h: int, in_row: int, stride: int, pad: int) -> int:
    """Least distance the output of a "rows" kernel must start below its input.

    ``max_r (r + 1) * out_row - first(r) * in_row`` with ``first(r) = clamp(r *
    stride - pad, 0, in_h)``, the first input row any output row >= r reads.
    The engine recomputes it at bind time (engine/src/tnn_ops.c).
    """
    gap = None
    for r in range(out_h):
        first = min(max(r * stride - pad, 0), in_h)
        need = (r + 1) * out_row - first * in_row
        gap = need if gap is None else max(gap, need)
    return int(gap if gap is not None else 0)


class _Lowerer:
    def __init__(self, model: tfl.TfliteModel, alias_reshape: bool) -> None:
        self.m = model
        self.alias_reshape = alias_reshape
        self.tensors: dict[int, ActTensor] = {}
        self.alias: dict[int, int] = {}
        self.steps: list[Step] = []

    # ---- tensors -----------------------------------------------------------

    def t(self, index: int) -> tfl.Tensor:
        return self.m.tensors[index]

    def resolve(self, index: int) -> int:
        while index in self.alias:
            index = self.alias[index]
        return index

    def act(self, op: tfl.Operator | None, index: int, role: str) -> ActTensor:
        """An int8 activation tensor, per-tensor quantised (``op`` None: a graph I/O)."""
        prefix = f"{op.describe()}: " if op is not None else ""
        if index < 0:
            raise UnsupportedModelError(f"{prefix}its {role} is missing")
        t = self.t(index)
        where = f"{prefix}{role} {t.describe()}"
        if t.dtype != tfl.INT8:
            hint = ""
            if t.dtype == tfl.FLOAT32:
                hint = (
                    " (float tensors are not supported: convert with full int8 quantisation and"
                    " inference_input_type/inference_output_type = tf.int8)"
                )
            raise UnsupportedModelError(f"{where} is {t.type_name}, the engine needs int8{hint}")
        if t.data is not None:
            raise UnsupportedModelError(f"{where} is a constant; the engine needs it computed")
        if t.quant is None or len(t.quant.scale) != 1 or len(t.quant.zero_point) != 1:
            raise UnsupportedModelError(f"{where} needs one scale and one zero point")
        scale, zp = t.quant.scale[0], t.quant.zero_point[0]
        if not (math.isfinite(scale) and scale > 0):
            raise UnsupportedModelError(f"{where} has scale {scale}")
        if not quant.INT8_MIN <= zp <= quant.INT8_MAX:
            raise UnsupportedModelError(f"{where} has zero point {zp} outside int8")
        if not t.shape or any(d <= 0 for d in t.shape):
            raise UnsupportedModelError(f"{where} has shape {list(t.shape)}")
        if int(math.prod(t.shape)) >= 1 << 24:
            raise UnsupportedModelError(f"{where} is too large")
        a = ActTensor(t.index, t.name, t.shape, scale, zp)
        self.tensors.setdefault(t.index, a)
        return a

    def act4(self, op: tfl.Operator, index: int, role: str) -> ActTensor:
        a = self.act(op, index, role)
        if len(a.shape) != 4 or a.shape[0] != 1:
            raise UnsupportedModelError(
                f"{op.describe()}: {role} {self.t(index).describe()} must be [1, H, W, C]"
            )
        for d, lim in zip(a.shape[1:], (65535, 65535, 65535), strict=True):
            if d > lim:
                raise UnsupportedModelError(f"{op.describe()}: {role} dimension {d} too large")
        return a

    def const(self, op: tfl.Operator, index: int, role: str, dtype: int) -> np.ndarray:
        if index < 0:
            raise UnsupportedModelError(f"{op.describe()}: its {role} is missing")
        t = self.t(index)
        where = f"{op.describe()}: {role} {t.describe()}"
        if t.data is None:
            raise UnsupportedModelError(f"{where} must be a constant")
        if t.dtype != dtype:
            raise UnsupportedModelError(
                f"{where} is {t.type_name}, the engine needs {tfl.TYPE_NAMES[dtype]}"
            )
        np_type = {tfl.INT8: np.int8, tfl.INT32: np.int32}[dtype]
        size = np.dtype(np_type).itemsize
        if len(t.data) != t.numel * size:
            raise UnsupportedModelError(
                f"{where} holds {len(t.data)} bytes for shape {list(t.shape)}"
            )
        arr = np.frombuffer(t.data, dtype=np.dtype(np_type).newbyteorder("<"))
        if arr.size != t.numel:
            raise UnsupportedModelError(
                f"{where} holds {arr.size} values for shape {list(t.shape)}"
            )
        return arr.reshape(t.shape).astype(np_type)

    # ---- helpers -------------------------------------------------------------

    @staticmethod
    def limit(op: tfl.Operator, name: str, value: int, lo: int, hi: int) -> int:
        if not lo <= value <= hi:
            raise UnsupportedModelError(
                f"{op.describe()}: {name} = {value} is outside the engine's range [{lo}, {hi}]"
            )
        return int(value)

    def weights(
        self, op: tfl.Operator, index: int, channels: int, dim: int, allow_per_tensor: bool
    ) -> tuple[np.ndarray, list[float], bool]:
        w = self.const(op, index, "filter", tfl.INT8)
        t = self.t(index)
        where = f"{op.describe()}: filter {t.describe()}"
        q = t.quant
        if q is None:
            raise UnsupportedModelError(f"{where} is not quantised")
        per_channel = len(q.scale) == channels and (channels > 1 or len(q.scale) == 1)
        if len(q.scale) == 1 and channels > 1:
            if not allow_per_tensor:
                raise UnsupportedModelError(
                    f"{where} has per-tensor quantisation (one scale for {channels} channels);"
                    " the engine needs per-channel weight scales here"
                )
            per_channel = False
        elif len(q.scale) != channels:
            raise UnsupportedModelError(
                f"{where} has {len(q.scale)} scales for {channels} output channels"
            )
        if per_channel and channels > 1 and q.dim != dim:
            raise UnsupportedModelError(
                f"{where} is quantised along dimension {q.dim}, expected {dim}"
            )
        if any(z != 0 for z in q.zero_point):
            raise UnsupportedModelError(f"{where} has non-zero zero points (must be symmetric)")
        if any(not (math.isfinite(s) and s > 0) for s in q.scale):
            raise UnsupportedModelError(f"{where} has a non-positive scale")
        return w, list(q.scale), per_channel

    def bias(self, op: tfl.Operator, index: int, channels: int) -> np.ndarray | None:
        if index < 0:
            return None
        b = self.const(op, index, "bias", tfl.INT32).reshape(-1)
        if b.size != channels:
            raise UnsupportedModelError(
                f"{op.describe()}: bias {self.t(index).describe()} has {b.size} values"
                f" for {channels} channels"
            )
        return b

    def requant_arrays(
        self, op: tfl.Operator, mults: list[int], shifts: list[int]
    ) -> dict[str, CArray]:
        for m, s in zip(mults, shifts, strict=True):
            if not -31 <= s <= 30 or not 0 <= m < 2**31:
                raise UnsupportedModelError(
                    f"{op.describe()}: requantisation multiplier out of range (shift {s});"
                    " scales span too many orders of magnitude"
                )
        return {
            "mult": CArray("int32_t", np.asarray(mults, dtype=np.int32), "quant.mult"),
            "shift": CArray("int8_t", np.asarray(shifts, dtype=np.int8), "quant.shift"),
        }

    def acc_bound(self, op: tfl.Operator, taps: int, bias: np.ndarray | None) -> None:
        bmax = int(np.max(np.abs(bias.astype(np.int64)))) if bias is not None else 0
        if taps * TAP_MAX + bmax >= 2**31:
            raise UnsupportedModelError(
                f"{op.describe()}: {taps} taps per output could overflow the int32 accumulator"
            )

    def activation(self, op: tfl.Operator, out: ActTensor) -> tuple[int, int]:
        act = op.options.get("activation", 0)
        if act not in (tfl.ACT_NONE, tfl.ACT_RELU, tfl.ACT_RELU6, tfl.ACT_RELU_N1_TO_1):
            raise UnsupportedModelError(
                f"{op.describe()}: fused activation {tfl.ACT_NAMES.get(act, act)} is not supported"
            )
        lo, hi = quant.activation_range(act, out.scale, out.zero_point, op.describe())
        if lo > hi:
            raise UnsupportedModelError(f"{op.describe()}: empty activation range [{lo}, {hi}]")
        return lo, hi

    def window(
        self, op: tfl.Operator, size: int, out: int, k: int, stride: int, dil: int, axis: str
    ) -> int:
        padding = op.options.get("padding", 0)
        if padding not in (tfl.PADDING_SAME, tfl.PADDING_VALID):
            raise UnsupportedModelError(f"{op.describe()}: unknown padding {padding}")
        self.limit(op, f"stride_{axis}", stride, 1, 255)
        self.limit(op, f"dilation_{axis}", dil, 1, 255)
        self.limit(op, f"kernel_{axis}", k, 1, 255)
        expect = quant.compute_out_size(padding, size, k, stride, dil)
        if expect != out:
            raise UnsupportedModelError(
                f"{op.describe()}: output {axis} is {out}, TFLite's rule gives {expect}"
            )
        pad = quant.compute_padding(stride, dil, size, k, out)
        return self.limit(op, f"padding_{axis}", pad, 0, 255)

    def add_step(self, step: Step) -> None:
        step.inputs = [self.resolve(i) for i in step.inputs]
        self.steps.append(step)

    # ---- operators -----------------------------------------------------------

    def conv2d(self, op: tfl.Operator) -> None:
        o = op.options
        x = self.act4(op, op.inputs[0], "input")
        y = self.act4(op, op.outputs[0], "output")
        cout = y.shape[3]
        w, fscales, _ = self.weights(op, op.inputs[1], cout, 0, allow_per_tensor=False)
        if w.ndim != 4 or w.shape[0] != cout:
            raise UnsupportedModelError(f"{op.describe()}: filter shape {list(w.shape)}")
        _, kh, kw, cin = w.shape
        if cin != x.shape[3]:
            raise UnsupportedModelError(
                f"{op.describe()}: grouped convolution (filter depth {cin}, input depth"
                f" {x.shape[3]}) is not supported"
            )
        b = self.bias(op, op.inputs[2] if len(op.inputs) > 2 else -1, cout)
        pt = self.window(op, x.shape[1], y.shape[1], kh, o["stride_h"], o["dilation_h"], "h")
        pl = self.window(op, x.shape[2], y.shape[2], kw, o["stride_w"], o["dilation_w"], "w")
        self.acc_bound(op, kh * kw * cin, b)
        mults, shifts = quant.conv_multipliers(x.scale, fscales, y.scale)
        lo, hi = self.activation(op, y)
        arrays = {"filter": CArray("int8_t", w.reshape(-1))}
        if b is not None:
            arrays["bias"] = CArray("int32_t", b)
        arrays.update(self.requant_arrays(op, mults, shifts))
        fields = conv_fields(
            x.shape[1:], y.shape[1:], (kh, kw), (o["stride_h"], o["stride_w"]),
            (o["dilation_h"], o["dilation_w"]), (pt, pl), 0, -x.zero_point, y.zero_point, (lo, hi),
        )  # fmt: skip
        gap = row_gap(
            y.shape[1], y.shape[2] * cout, x.shape[1], x.shape[2] * x.shape[3], o["stride_h"], pt
        )
        macs = y.shape[1] * y.shape[2] * cout * kh * kw * cin
        self.add_step(Step(op, "conv2d_s8", fields, arrays, [x.index], y.index, [gap], macs))

    def depthwise(self, op: tfl.Operator) -> None:
        o = op.options
        x = self.act4(op, op.inputs[0], "input")
        y = self.act4(op, op.outputs[0], "output")
        cout = y.shape[3]
        w, fscales, _ = self.weights(op, op.inputs[1], cout, 3, allow_per_tensor=False)
        if w.ndim != 4 or w.shape[0] != 1 or w.shape[3] != cout:
            raise UnsupportedModelError(f"{op.describe()}: filter shape {list(w.shape)}")
        _, kh, kw, _ = w.shape
        cin = x.shape[3]
        dm = o["depth_multiplier"]
        if dm * cin != cout:
            raise UnsupportedModelError(
                f"{op.describe()}: depth multiplier {dm} x input depth {cin} != output depth {cout}"
            )
        self.limit(op, "depth_multiplier", dm, 1, 65535)
        b = self.bias(op, op.inputs[2] if len(op.inputs) > 2 else -1, cout)
        pt = self.window(op, x.shape[1], y.shape[1], kh, o["stride_h"], o["dilation_h"], "h")
        pl = self.window(op, x.shape[2], y.shape[2], kw, o["stride_w"], o["dilation_w"], "w")
        self.acc_bound(op, kh * kw, b)
        mults, shifts = quant.conv_multipliers(x.scale, fscales, y.scale)
        lo, hi = self.activation(op, y)
        arrays = {"filter": CArray("int8_t", w.reshape(-1))}
        if b is not None:
            arrays["bias"] = CArray("int32_t", b)
        arrays.update(self.requant_arrays(op, mults, shifts))
        fields = conv_fields(
            x.shape[1:], y.shape[1:], (kh, kw), (o["stride_h"], o["stride_w"]),
            (o["dilation_h"], o["dilation_w"]), (pt, pl), dm, -x.zero_point, y.zero_point, (lo, hi),
        )  # fmt: skip
        gap = row_gap(
            y.shape[1], y.shape[2] * cout, x.shape[1], x.shape[2] * cin, o["stride_h"], pt
        )
        macs = y.shape[1] * y.shape[2] * cout * kh * kw
        self.add_step(
            Step(op, "depthwise_conv2d_s8", fields, arrays, [x.index], y.index, [gap], macs)
        )

    def fully_connected(self, op: tfl.Operator) -> None:
        o = op.options
        if o.get("weights_format", 0) != 0:
            raise UnsupportedModelError(f"{op.describe()}: shuffled weights are not supported")
        x = self.act(op, op.inputs[0], "input")
        y = self.act(op, op.outputs[0], "output")
        wt = self.t(op.inputs[1])
        if len(wt.shape) != 2:
            raise UnsupportedModelError(f"{op.describe()}: filter shape {list(wt.shape)}")
        cout, cin = wt.shape
        w, fscales, per_channel = self.weights(op, op.inputs[1], cout, 0, allow_per_tensor=True)
        if x.nbytes % cin:
            raise UnsupportedModelError(
                f"{op.describe()}: input of {x.nbytes} values is not a multiple of {cin}"
            )
        batches = x.nbytes // cin
        if y.nbytes != batches * cout or y.shape[-1] != cout:
            raise UnsupportedModelError(f"{op.describe()}: output shape {list(y.shape)}")
        bidx = op.inputs[2] if len(op.inputs) > 2 else -1
        b = self.bias(op, bidx, cout)
        self.acc_bound(op, cin, b)
        if per_channel:
            mults, shifts = quant.conv_multipliers(x.scale, fscales, y.scale)
        else:
            if b is not None:
                # TFLM's GetQuantizedConvolutionMultipler refuses a bias whose
                # scale is far from input_scale * filter_scale.
                bt = self.t(bidx)
                bscale = bt.quant.scale[0] if bt.quant else 0.0
                diff = abs(float(x.scale) * float(fscales[0]) - float(bscale))
                if diff / float(y.scale) > 0.02:
                    raise UnsupportedModelError(
                        f"{op.describe()}: bias scale {bscale} does not match"
                        " input scale x filter scale"
                    )
            m, s = quant.fc_per_tensor_multiplier(x.scale, fscales[0], y.scale)
            mults, shifts = [m] * cout, [s] * cout
        lo, hi = self.activation(op, y)
        arrays = {"filter": CArray("int8_t", w.reshape(-1))}
        if b is not None:
            arrays["bias"] = CArray("int32_t", b)
        arrays.update(self.requant_arrays(op, mults, shifts))
        batches = self.limit(op, "batches", batches, 1, 65535)
        # the 1x1 convolution of [1][batches][in_features] (tnn_fully_connected_s8_params_t)
        fields = conv_fields(
            (1, batches, self.limit(op, "input features", cin, 1, 65535)),
            (1, batches, self.limit(op, "output features", cout, 1, 65535)),
            (1, 1), (1, 1), (1, 1), (0, 0), 0, -x.zero_point, y.zero_point, (lo, hi),
        )  # fmt: skip
        self.add_step(
            Step(
                op,
                "fully_connected_s8",
                fields,
                arrays,
                [x.index],
                y.index,
                [None],
                batches * cin * cout,
                {"per_channel": per_channel},
            )
        )

    def same_quant(self, op: tfl.Operator, x: ActTensor, y: ActTensor) -> None:
        if np.float32(x.scale) != np.float32(y.scale) or x.zero_point != y.zero_point:
            raise UnsupportedModelError(
                f"{op.describe()}: input and output quantisation differ"
                f" ({x.scale}, {x.zero_point}) vs ({y.scale}, {y.zero_point});"
                " the engine (like TFLM) needs them equal for this operator"
            )

    def pool(self, op: tfl.Operator, kernel: str) -> None:
        o = op.options
        x = self.act4(op, op.inputs[0], "input")
        y = self.act4(op, op.outputs[0], "output")
        if x.shape[3] != y.shape[3]:
            raise UnsupportedModelError(f"{op.describe()}: channel count changes")
        self.same_quant(op, x, y)
        kh, kw = o["filter_h"], o["filter_w"]
        pt = self.window(op, x.shape[1], y.shape[1], kh, o["stride_h"], 1, "h")
        pl = self.window(op, x.shape[2], y.shape[2], kw, o["stride_w"], 1, "w")
        if kh <= pt or kw <= pl or (y.shape[1] - 1) * o["stride_h"] - pt >= x.shape[1]:
            raise UnsupportedModelError(f"{op.describe()}: a pooling window lies in the padding")
        if (y.shape[2] - 1) * o["stride_w"] - pl >= x.shape[2]:
            raise UnsupportedModelError(f"{op.describe()}: a pooling window lies in the padding")
        lo, hi = self.activation(op, y)
        c = x.shape[3]
        fields = dict(
            in_h=x.shape[1], in_w=x.shape[2], channels=c, out_h=y.shape[1], out_w=y.shape[2],
            k_h=kh, k_w=kw, stride_h=o["stride_h"], stride_w=o["stride_w"],
            pad_top=pt, pad_left=pl, act_min=lo, act_max=hi,
        )  # fmt: skip
        gap = row_gap(y.shape[1], y.shape[2] * c, x.shape[1], x.shape[2] * c, o["stride_h"], pt)
        self.add_step(Step(op, kernel, fields, {}, [x.index], y.index, [gap]))

    def reduce_hw(self, op: tfl.Operator, is_mean: bool) -> None:
        x = self.act4(op, op.inputs[0], "input")
        y = self.act(op, op.outputs[0], "output")
        axes = self.const(op, op.inputs[1], "axis", tfl.INT32).reshape(-1)
        resolved = sorted({int(a) + 4 if a < 0 else int(a) for a in axes})
        if resolved != [1, 2]:
            raise UnsupportedModelError(
                f"{op.describe()}: reduction over axes {list(map(int, axes))}; the engine"
                " reduces over H and W (axes 1 and 2) only"
            )
        c = x.shape[3]
        if y.nbytes != c:
            raise UnsupportedModelError(f"{op.describe()}: output shape {list(y.shape)}")
        count = x.shape[1] * x.shape[2]
        self.limit(op, "H*W", count, 1, 1 << 23)
        self.limit(op, "channels", c, 1, 65535)
        if is_mean:
            # TFLM requantises even when input and output share quantisation.
            mult, shift = quant.mean_params(x.scale, y.scale, count)
            if not -31 <= shift <= 30:
                raise UnsupportedModelError(f"{op.describe()}: rescaling out of range")
            fields = dict(
                count=count,
                channels=c,
                in_zero_point=x.zero_point,
                out_offset=y.zero_point,
                mult=mult,
                shift=shift,
            )
            self.add_step(Step(op, "mean_hw_s8", fields, {}, [x.index], y.index, [0]))
        else:
            self.same_quant(op, x, y)
            fields = dict(count=count, channels=c)
            self.add_step(Step(op, "reduce_max_hw_s8", fields, {}, [x.index], y.index, [0]))

    def add(self, op: tfl.Operator) -> None:
        a = self.act(op, op.inputs[0], "input 1")
        b = self.act(op, op.inputs[1], "input 2")
        y = self.act(op, op.outputs[0], "output")
        if len(y.shape) > 4:
            raise UnsupportedModelError(f"{op.describe()}: more than 4 dimensions")
        out4 = (1,) * (4 - len(y.shape)) + tuple(y.shape)
        strides, gaps = [], []
        for t, role in ((a, "input 1"), (b, "input 2")):
            if len(t.shape) > 4:
                raise UnsupportedModelError(f"{op.describe()}: {role} has more than 4 dims")
            s4 = (1,) * (4 - len(t.shape)) + tuple(t.shape)
            contiguous = [s4[1] * s4[2] * s4[3], s4[2] * s4[3], s4[3], 1]
            st = []
            for d in range(4):
                if s4[d] == out4[d]:
                    st.append(contiguous[d] if s4[d] > 1 else 0)
                elif s4[d] == 1:
                    st.append(0)
                else:
                    raise UnsupportedModelError(
                        f"{op.describe()}: {role} shape {list(t.shape)} does not broadcast"
                        f" to {list(y.shape)}"
                    )
            full = s4 == out4
            if full:
                st = contiguous  # the canonical strides of a full-size input
            strides.append(st)
            gaps.append(0 if full else None)
        for d in out4:
            self.limit(op, "dimension", d, 1, 65535)
        p = quant.add_params(a.scale, b.scale, y.scale)
        lo, hi = self.activation(op, y)
        fields = dict(
            out_dims=list(out4),
            in1_strides=strides[0],
            in2_strides=strides[1],
            in1_offset=-a.zero_point,
            in2_offset=-b.zero_point,
            out_offset=y.zero_point,
            act_min=lo,
            act_max=hi,
            **p,
        )
        self.add_step(Step(op, "add_s8", fields, {}, [a.index, b.index], y.index, gaps))

    def softmax(self, op: tfl.Operator) -> None:
        x = self.act(op, op.inputs[0], "input")
        y = self.act(op, op.outputs[0], "output")
        if y.zero_point != -128 or np.float32(y.scale) != np.float32(1.0 / 256):
            raise UnsupportedModelError(
                f"{op.describe()}: output {self.t(y.index).describe()} must have scale 1/256"
                f" and zero point -128 (has {y.scale}, {y.zero_point})"
            )
        if x.shape != y.shape:
            raise UnsupportedModelError(f"{op.describe()}: output shape differs from input")
        depth = x.shape[-1]
        self.limit(op, "softmax depth", depth, 1, SOFTMAX_MAX_DEPTH)
        p = quant.softmax_params(op.options.get("beta", 1.0), x.scale)
        if not 0 <= p["input_left_shift"] <= 30:
            raise UnsupportedModelError(f"{op.describe()}: beta x input scale out of range")
        fields = dict(rows=x.nbytes // depth, depth=depth, **p)
        self.add_step(Step(op, "softmax_s8", fields, {}, [x.index], y.index, [0]))

    def quantize(self, op: tfl.Operator) -> None:
        x = self.act(op, op.inputs[0], "input")
        y = self.act(op, op.outputs[0], "output")
        if x.nbytes != y.nbytes:
            raise UnsupportedModelError(f"{op.describe()}: input and output sizes differ")
        mult, shift = quant.quantize_multiplier(float(x.scale) / float(y.scale))
        if not -31 <= shift <= 30:
            raise UnsupportedModelError(f"{op.describe()}: scale ratio out of range")
        fields = dict(
            size=x.nbytes,
            in_zero_point=x.zero_point,
            out_zero_point=y.zero_point,
            mult=mult,
            shift=shift,
        )
        self.add_step(Step(op, "requantize_s8", fields, {}, [x.index], y.index, [0]))

    def reshape(self, op: tfl.Operator) -> None:
        x = self.act(op, op.inputs[0], "input")
        y = self.act(op, op.outputs[0], "output")
        if x.nbytes != y.nbytes:
            raise UnsupportedModelError(f"{op.describe()}: RESHAPE changes the element count")
        if self.alias_reshape:
            # Same bytes, new shape: the output is the input's memory.
            self.alias[y.index] = self.resolve(x.index)
            return
        self.add_step(
            Step(op, "reshape_s8", {"size": x.nbytes}, {}, [x.index], y.index, [-(2**31)])
        )

    def concat(self, op: tfl.Operator) -> None:
        y = self.act(op, op.outputs[0], "output")
        if op.options.get("activation", 0) != tfl.ACT_NONE:
            raise UnsupportedModelError(f"{op.describe()}: fused activation is not supported")
        n = len(op.inputs)
        self.limit(op, "number of inputs", n, 1, CONCAT_MAX_INPUTS)
        rank = len(y.shape)
        axis = op.options.get("axis", 0)
        axis = axis + rank if axis < 0 else axis
        if not 0 <= axis < rank:
            raise UnsupportedModelError(f"{op.describe()}: axis {axis} out of range")
        outer = int(math.prod(y.shape[:axis]))
        xs, inner, total = [], [], 0
        for k, idx in enumerate(op.inputs):
            x = self.act(op, idx, f"input {k + 1}")
            self.same_quant(op, x, y)
            if len(x.shape) != rank or any(
                x.shape[d] != y.shape[d] for d in range(rank) if d != axis
            ):
                raise UnsupportedModelError(f"{op.describe()}: input {k + 1} shape mismatch")
            xs.append(x.index)
            inner.append(int(math.prod(x.shape[axis:])))
            total += x.shape[axis]
        if total != y.shape[axis]:
            raise UnsupportedModelError(f"{op.describe()}: output size along the axis differs")
        fields = dict(outer=outer, n_inputs=n)
        arrays = {"in_inner": CArray("uint32_t", np.asarray(inner, dtype=np.uint32))}
        self.add_step(Step(op, "concat_s8", fields, arrays, xs, y.index, [None] * n))

    # ---- the graph -------------------------------------------------------------

    def run(self) -> Lowered:
        m = self.m
        if len(m.inputs) != 1 or len(m.outputs) != 1:
            raise UnsupportedModelError(
                f"the model has {len(m.inputs)} inputs and {len(m.outputs)} outputs;"
                " the engine runs one-input, one-output models"
            )
        handlers = {
            tfl.CONV_2D: self.conv2d,
            tfl.DEPTHWISE_CONV_2D: self.depthwise,
            tfl.FULLY_CONNECTED: self.fully_connected,
            tfl.AVERAGE_POOL_2D: lambda op: self.pool(op, "avg_pool2d_s8"),
            tfl.MAX_POOL_2D: lambda op: self.pool(op, "max_pool2d_s8"),
            tfl.MEAN: lambda op: self.reduce_hw(op, True),
            tfl.REDUCE_MAX: lambda op: self.reduce_hw(op, False),
            tfl.ADD: self.add,
            tfl.SOFTMAX: self.softmax,
            tfl.QUANTIZE: self.quantize,
            tfl.RESHAPE: self.reshape,
            tfl.CONCATENATION: self.concat,
        }
        inp = self.t(m.inputs[0])
        out = self.t(m.outputs[0])
        for t, role in ((inp, "input"), (out, "output")):
            if t.dtype != tfl.INT8:
                raise UnsupportedModelError(
                    f"model {role} {t.describe()} is {t.type_name}; the engine needs an int8"
                    " model input and output (convert with inference_input_type ="
                    " inference_output_type = tf.int8)"
                )
        for op in m.operators:
            h = handlers.get(op.code)
            if h is None or op.code == 32:
                raise UnsupportedModelError(
                    f"{op.describe()} is not supported by the engine (supported: "
                    + ", ".join(sorted(tfl.BUILTIN_NAMES[c] for c in handlers))
                    + ")"
                )
            if len(op.outputs) != 1:
                raise UnsupportedModelError(f"{op.describe()}: {len(op.outputs)} outputs")
            lo, hi = _ARITY[op.code]
            if not lo <= len(op.inputs) <= hi:
                raise UnsupportedModelError(
                    f"{op.describe()}: {len(op.inputs)} inputs, expected {lo} to {hi}"
                )
            if any(i < 0 for i in op.inputs[: max(1, lo)]):
                raise UnsupportedModelError(f"{op.describe()}: a required input is missing")
            want = _OPTIONS.get(op.code)
            if want is not None and op.options.get("_type") != want:
                raise ModelFormatError(
                    f"{op.describe()} carries {op.options.get('_type', 'no options')},"
                    f" expected {want}"
                )
            h(op)
        a_in = self.act(None, m.inputs[0], "model input")
        self.act(None, m.outputs[0], "model output")
        out_idx = self.resolve(m.outputs[0])
        if not self.steps and out_idx != a_in.index:
            raise UnsupportedModelError("the model computes nothing")
        for s in self.steps:
            s.output = self.resolve(s.output)
        return Lowered(m, self.steps, self.tensors, a_in.index, out_idx, dict(self.alias))


def lower(model: tfl.TfliteModel, *, alias_reshape: bool = True) -> Lowered:
    """Validates ``model`` and lowers it to engine steps (raises ``UnsupportedModelError``)."""
    return _Lowerer(model, alias_reshape).run()
