"""The declared test plan for the engine's kernels: single-operator models.

Every case is drawn from ``numpy.random.default_rng([SEED, group, index])``,
so the plan is the same on every machine and any case can be regenerated
alone. Models are written directly as ``.tflite`` flatbuffers
(triage.engine.tflite_write) because the plan needs exact control over
shapes, strides, padding, depth multipliers, per-channel scales spanning
several orders of magnitude and extreme zero points. The expected outputs
are never stored: TensorFlow Lite Micro computes them from the same bytes.

Coverage (see GROUPS): CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED
(per-channel and per-tensor), AVERAGE_POOL_2D, MAX_POOL_2D, MEAN, REDUCE_MAX,
ADD (with broadcasting), SOFTMAX, QUANTIZE, RESHAPE, CONCATENATION; sizes
from 1, odd sizes, 1 to 64 channels, strides 1-3, dilation 2, SAME and
VALID padding, fused NONE/RELU/RELU6/RELU_N1_TO_1; and groups "dsp_*"
aimed at the optimised kernels' own paths (DSP_EDGES).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from triage.engine import tflite as tfl
from triage.engine.tflite_write import ModelBuilder

SEED = 20261125
N_INPUTS = 6  # per case: all -128, all 127, four uniform random

ACTS = [tfl.ACT_NONE, tfl.ACT_RELU, tfl.ACT_RELU6, tfl.ACT_RELU_N1_TO_1]
CHANNELS = [1, 2, 3, 4, 5, 7, 8, 12, 16, 24, 32, 48, 64]


@dataclass
class Case:
    name: str
    group: str
    tflite: bytes
    input_shape: tuple[int, ...]
    inputs: np.ndarray  # N x numel int8
    params: dict = field(default_factory=dict)
    alias_reshape: bool = True


def _f32(x: float) -> float:
    return float(np.float32(x))


def _log_uniform(rng: np.random.Generator, lo: float, hi: float, size=None):
    return 10 ** rng.uniform(math.log10(lo), math.log10(hi), size)


def _zero_point(rng: np.random.Generator, extreme: float = 0.3) -> int:
    """Extreme zero points (-128, 127, -127, 126) in a fraction ``extreme`` of draws."""
    r = rng.random()
    if r < extreme * 0.4:
        return -128
    if r < extreme * 0.75:
        return 127
    if r < extreme:
        return int(rng.choice([-127, 126]))
    return int(rng.integers(-128, 128))


def _activation(rng: np.random.Generator) -> int:
    return int(rng.choice(ACTS, p=[0.35, 0.3, 0.25, 0.1]))


def _act_out_quant(rng, act: int, typical: float) -> tuple[float, int]:
    """Output quantisation that leaves the fused activation a useful range."""
    scale, zp = _out_quant(rng, typical)
    if act == tfl.ACT_RELU_N1_TO_1:
        return _f32(2.0 / rng.uniform(30.0, 250.0)), int(rng.integers(-100, 100))
    if act in (tfl.ACT_RELU, tfl.ACT_RELU6) and zp > 90:
        zp = int(rng.choice([-128, -128, int(rng.integers(-128, 90))]))
    return scale, zp


def _inputs(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """All -128, all 127, two uniform random, two with per-channel levels
    (so that reductions over H and W see different values per input)."""
    numel = int(np.prod(shape))
    x = rng.integers(-128, 128, size=(N_INPUTS, numel), dtype=np.int8)
    x[0] = -128
    x[1] = 127
    c = shape[-1]
    for r in (4, 5):
        level = rng.integers(-128, 128, size=c)
        noise = rng.normal(0.0, rng.uniform(2.0, 40.0), size=(numel // c, c))
        x[r] = np.clip(level + noise, -128, 127).astype(np.int8).reshape(-1)
    return x


def _out_quant(rng: np.random.Generator, typical: float) -> tuple[float, int]:
    """An output scale a little wider than ``typical`` real magnitudes, random zp."""
    return _f32(typical * rng.uniform(1.0, 5.0) / 128.0), _zero_point(rng, extreme=0.15)


def _weights(rng, shape, channels: int, wide: bool):
    w = rng.integers(-127, 128, size=shape, dtype=np.int8)
    lo, hi = (1e-4, 1e-1) if wide else (2e-3, 2e-2)
    scales = [_f32(s) for s in _log_uniform(rng, lo, hi, channels)]
    return w, scales


def _bias(rng, typical_acc_real: np.ndarray, in_scale: float, w_scales: list[float], taps: int):
    """int32 biases of the size of typical accumulators (some extreme)."""
    limit = 2**31 - 1 - taps * 127 * 255
    b = []
    for c, ws in enumerate(w_scales):
        real = rng.normal(0.0, typical_acc_real[c])
        q = round(real / (in_scale * ws))
        if rng.random() < 0.02:
            q = int(rng.choice([-1, 1]) * min(limit, 2**24))
        b.append(int(np.clip(q, -limit, limit)))
    return np.asarray(b, dtype=np.int32)


def _window_ok(size: int, k: int, stride: int, dil: int, padding: int) -> bool:
    eff = (k - 1) * dil + 1
    return padding == tfl.PADDING_SAME or eff <= size


def _out_size(size: int, k: int, stride: int, dil: int, padding: int) -> int:
    eff = (k - 1) * dil + 1
    if padding == tfl.PADDING_SAME:
        return (size + stride - 1) // stride
    return (size + stride - eff) // stride


def _conv_like(rng: np.random.Generator, depthwise: bool) -> tuple[ModelBuilder, int, dict]:
    while True:
        h, w = int(rng.integers(1, 15)), int(rng.integers(1, 15))
        cin = int(rng.choice(CHANNELS))
        if depthwise:
            dm = int(rng.choice([1, 1, 1, 2, 3, 4]))
            cout = cin * dm
        else:
            dm = 0
            cout = int(rng.choice(CHANNELS))
        kh, kw = int(rng.choice([1, 2, 3, 3, 3, 5])), int(rng.choice([1, 2, 3, 3, 3, 5]))
        sh, sw = int(rng.choice([1, 1, 2, 2, 3])), int(rng.choice([1, 1, 2, 2, 3]))
        dh = 2 if rng.random() < 0.12 else 1
        dw = 2 if rng.random() < 0.12 else 1
        if dh > 1 or dw > 1:
            sh, sw = 1, 1  # TFLite converters pair dilation with stride 1
        pad = int(rng.choice([tfl.PADDING_SAME, tfl.PADDING_VALID]))
        if not (_window_ok(h, kh, sh, dh, pad) and _window_ok(w, kw, sw, dw, pad)):
            continue
        oh, ow = _out_size(h, kh, sh, dh, pad), _out_size(w, kw, sw, dw, pad)
        taps = kh * kw * (1 if depthwise else cin)
        if oh * ow * cout * taps > 1_500_000:
            continue
        break
    wide = rng.random() < 0.4
    in_scale = _f32(_log_uniform(rng, 2e-3, 0.3))
    in_zp = _zero_point(rng)
    fshape = (1, kh, kw, cout) if depthwise else (cout, kh, kw, cin)
    wq, w_scales = _weights(rng, fshape, cout, wide)
    # typical |accumulator| in real units per channel: sqrt(taps) * E|w| * E|x - zp|
    typical = np.array([math.sqrt(taps) * 73.0 * s * 74.0 * in_scale for s in w_scales])
    act = _activation(rng)
    out_scale, out_zp = _act_out_quant(rng, act, float(np.median(typical)))
    mb = ModelBuilder()
    x = mb.tensor((1, h, w, cin), scale=in_scale, zero_point=in_zp, name="input")
    wt = mb.tensor(
        fshape, data=wq, scale=w_scales, zero_point=[0] * cout, qdim=3 if depthwise else 0
    )
    ins = [x, wt]
    has_bias = rng.random() < 0.85
    if has_bias:
        bq = _bias(rng, typical, in_scale, w_scales, taps)
        bscales = [_f32(in_scale * s) for s in w_scales]
        ins.append(mb.tensor((cout,), "int32", data=bq, scale=bscales, zero_point=[0] * cout))
    y = mb.tensor((1, oh, ow, cout), scale=out_scale, zero_point=out_zp, name="output")
    opts = dict(padding=pad, stride_w=sw, stride_h=sh, activation=act, dilation_w=dw, dilation_h=dh)
    if depthwise:
        mb.op(tfl.DEPTHWISE_CONV_2D, ins, [y], depth_multiplier=dm, **opts)
    else:
        mb.op(tfl.CONV_2D, ins, [y], **opts)
    params = dict(
        hw=(h, w), cin=cin, cout=cout, k=(kh, kw), stride=(sh, sw), dil=(dh, dw),
        padding="SAME" if pad == 0 else "VALID", act=tfl.ACT_NAMES[act], dm=dm, wide=wide,
        in_zp=in_zp, out_zp=out_zp, bias=has_bias,
    )  # fmt: skip
    return mb, x, params


def conv2d(rng):
    mb, x, p = _conv_like(rng, depthwise=False)
    return mb, [x], [len(mb.tensors) - 1], p


def depthwise(rng):
    mb, x, p = _conv_like(rng, depthwise=True)
    return mb, [x], [len(mb.tensors) - 1], p


def fully_connected(rng):
    cin = int(rng.choice([1, 3, 8, 16, 31, 64, 100, 257]))
    cout = int(rng.choice([1, 2, 4, 10, 17, 64]))
    batches = int(rng.choice([1, 1, 1, 2, 3]))
    per_channel = rng.random() < 0.6
    in_scale = _f32(_log_uniform(rng, 2e-3, 0.3))
    in_zp = _zero_point(rng)
    wq = rng.integers(-127, 128, size=(cout, cin), dtype=np.int8)
    if per_channel:
        w_scales = [_f32(s) for s in _log_uniform(rng, 1e-4, 5e-2, cout)]
    else:
        w_scales = [_f32(_log_uniform(rng, 1e-3, 2e-2))]
    typical = math.sqrt(cin) * 73.0 * float(np.median(w_scales)) * 74.0 * in_scale
    act = _activation(rng)
    out_scale, out_zp = _act_out_quant(rng, act, typical)
    mb = ModelBuilder()
    if batches == 1 and cin % 4 == 0 and rng.random() < 0.3:
        x = mb.tensor((1, 2, 2, cin // 4), scale=in_scale, zero_point=in_zp, name="input")
    else:
        x = mb.tensor((batches, cin), scale=in_scale, zero_point=in_zp, name="input")
    wt = mb.tensor((cout, cin), data=wq, scale=w_scales, zero_point=[0] * len(w_scales))
    ins = [x, wt]
    has_bias = rng.random() < 0.8
    if has_bias:
        typ = np.full(cout, typical)
        ws_full = w_scales if per_channel else w_scales * cout
        bq = _bias(rng, typ, in_scale, ws_full, cin)
        bscales = [_f32(np.float32(in_scale) * np.float32(s)) for s in w_scales]
        ins.append(
            mb.tensor((cout,), "int32", data=bq, scale=bscales, zero_point=[0] * len(bscales))
        )
    y = mb.tensor((batches, cout), scale=out_scale, zero_point=out_zp, name="output")
    mb.op(tfl.FULLY_CONNECTED, ins, [y], activation=act)
    p = dict(cin=cin, cout=cout, batches=batches, per_channel=per_channel, act=tfl.ACT_NAMES[act])
    return mb, [x], [y], p


def _pool(rng, code: int):
    while True:
        h, w = int(rng.integers(1, 17)), int(rng.integers(1, 17))
        c = int(rng.choice(CHANNELS))
        kh, kw = int(rng.integers(1, 5)), int(rng.integers(1, 5))
        sh, sw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        pad = int(rng.choice([tfl.PADDING_SAME, tfl.PADDING_VALID]))
        if _window_ok(h, kh, sh, 1, pad) and _window_ok(w, kw, sw, 1, pad):
            break
    oh, ow = _out_size(h, kh, sh, 1, pad), _out_size(w, kw, sw, 1, pad)
    scale, zp = _f32(_log_uniform(rng, 1e-3, 0.5)), _zero_point(rng)
    act = int(rng.choice(ACTS, p=[0.5, 0.2, 0.2, 0.1]))
    if act == tfl.ACT_RELU_N1_TO_1:
        scale, zp = _f32(2.0 / rng.uniform(30.0, 250.0)), int(rng.integers(-100, 100))
    mb = ModelBuilder()
    x = mb.tensor((1, h, w, c), scale=scale, zero_point=zp, name="input")
    y = mb.tensor((1, oh, ow, c), scale=scale, zero_point=zp, name="output")
    mb.op(code, [x], [y], padding=pad, stride_w=sw, stride_h=sh, filter_w=kw, filter_h=kh,
          activation=act)  # fmt: skip
    p = dict(hw=(h, w), c=c, k=(kh, kw), stride=(sh, sw), padding=pad, act=tfl.ACT_NAMES[act])
    return mb, [x], [y], p


def avg_pool(rng):
    return _pool(rng, tfl.AVERAGE_POOL_2D)


def max_pool(rng):
    return _pool(rng, tfl.MAX_POOL_2D)


def _reduce(rng, code: int):
    h, w = int(rng.integers(1, 13)), int(rng.integers(1, 13))
    c = int(rng.choice(CHANNELS))
    keep = bool(rng.random() < 0.4)
    axes = [[1, 2], [2, 1], [-3, -2]][int(rng.integers(0, 3))]
    in_scale, in_zp = _f32(_log_uniform(rng, 1e-3, 0.5)), _zero_point(rng)
    same = code == tfl.REDUCE_MAX or rng.random() < 0.35
    if same:
        out_scale, out_zp = in_scale, in_zp
    else:
        out_scale = _f32(in_scale * _log_uniform(rng, 0.2, 3.0))
        out_zp = _zero_point(rng, extreme=0.15)
    mb = ModelBuilder()
    x = mb.tensor((1, h, w, c), scale=in_scale, zero_point=in_zp, name="input")
    ax = mb.tensor((2,), "int32", data=np.asarray(axes, dtype=np.int32))
    y = mb.tensor((1, 1, 1, c) if keep else (1, c), scale=out_scale, zero_point=out_zp)
    mb.op(code, [x, ax], [y], keep_dims=keep)
    return mb, [x], [y], dict(hw=(h, w), c=c, keep_dims=keep, axes=axes, same_quant=same)


def mean(rng):
    return _reduce(rng, tfl.MEAN)


def reduce_max(rng):
    return _reduce(rng, tfl.REDUCE_MAX)


def _conv1x1(mb: ModelBuilder, rng, x: int, shape, in_scale: float, cout: int, out_q) -> int:
    """A helper operand: a 1x1 CONV_2D of x (a different mix of its channels)."""
    cin = shape[3]
    wq, w_scales = _weights(rng, (cout, 1, 1, cin), cout, wide=False)
    wt = mb.tensor((cout, 1, 1, cin), data=wq, scale=w_scales, zero_point=[0] * cout)
    y = mb.tensor((1, shape[1], shape[2], cout), scale=out_q[0], zero_point=out_q[1])
    mb.op(tfl.CONV_2D, [x, wt], [y], padding=tfl.PADDING_VALID, stride_w=1, stride_h=1)
    return y


def _helper_quant(rng, in_scale: float, cin: int) -> tuple[float, int]:
    return _f32(math.sqrt(cin) * 73.0 * 1e-2 * 74.0 * in_scale * 2.0 / 128.0), _zero_point(rng)


def add(rng):
    """ADD of the model input and an operand computed from it (1x1 conv, MEAN,
    QUANTIZE), or of the input with itself; broadcasting either way."""
    h, w, c = int(rng.integers(1, 10)), int(rng.integers(1, 10)), int(rng.choice(CHANNELS))
    kind = str(rng.choice(["same4d", "same2d", "bcast_c", "bcast_hw", "bcast_first", "self"]))
    s1, zp1 = _f32(_log_uniform(rng, 1e-3, 0.3)), _zero_point(rng)
    mb = ModelBuilder()
    shape = (1, h * w * c) if kind == "same2d" else (1, h, w, c)
    x = mb.tensor(shape, scale=s1, zero_point=zp1, name="input")
    if kind == "same2d":
        q = (_f32(s1 * _log_uniform(rng, 0.1, 10.0)), _zero_point(rng))
        other = mb.tensor(shape, scale=q[0], zero_point=q[1])
        mb.op(tfl.QUANTIZE, [x], [other])
    elif kind in ("same4d",):
        q = _helper_quant(rng, s1, c)
        other = _conv1x1(mb, rng, x, shape, s1, c, q)
    elif kind == "bcast_hw":
        q = _helper_quant(rng, s1, c)
        other = _conv1x1(mb, rng, x, shape, s1, 1, q)
    elif kind in ("bcast_c", "bcast_first"):
        q = (_f32(s1 * _log_uniform(rng, 0.3, 3.0)), _zero_point(rng))
        other = mb.tensor((1, 1, 1, c), scale=q[0], zero_point=q[1])
        ax = mb.tensor((2,), "int32", data=np.asarray([1, 2], dtype=np.int32))
        mb.op(tfl.MEAN, [x, ax], [other], keep_dims=True)
    else:  # self
        q = (s1, zp1)
        other = x
    s2 = q[0]
    act = _activation(rng)
    out_scale, out_zp = _act_out_quant(rng, act, 74.0 * (s1 + s2))
    y = mb.tensor(shape, scale=out_scale, zero_point=out_zp, name="output")
    a, b = (other, x) if kind == "bcast_first" else (x, other)
    mb.op(tfl.ADD, [a, b], [y], activation=act)
    return mb, [x], [y], dict(kind=kind, shape=shape, act=tfl.ACT_NAMES[act])


def softmax(rng):
    depth = int(rng.choice([1, 2, 4, 5, 10, 16, 33, 64, 100, 256]))
    rows = int(rng.choice([1, 1, 2, 3]))
    beta = float(rng.choice([1.0, 1.0, 0.5, 2.0, 0.125, _f32(rng.uniform(0.1, 4.0))]))
    scale, zp = _f32(_log_uniform(rng, 5e-3, 0.5)), _zero_point(rng)
    shape = (rows, depth) if rng.random() < 0.7 else (1, rows, 1, depth)
    mb = ModelBuilder()
    x = mb.tensor(shape, scale=scale, zero_point=zp, name="input")
    y = mb.tensor(shape, scale=_f32(1.0 / 256), zero_point=-128, name="output")
    mb.op(tfl.SOFTMAX, [x], [y], beta=beta)
    return mb, [x], [y], dict(shape=shape, beta=beta, scale=scale)


def quantize(rng):
    n = int(rng.integers(1, 200))
    s_in = _f32(_log_uniform(rng, 1e-3, 0.5))
    s_out = _f32(s_in * _log_uniform(rng, 0.02, 50.0))
    mb = ModelBuilder()
    x = mb.tensor((1, n), scale=s_in, zero_point=_zero_point(rng), name="input")
    y = mb.tensor((1, n), scale=s_out, zero_point=_zero_point(rng), name="output")
    mb.op(tfl.QUANTIZE, [x], [y])
    return mb, [x], [y], dict(n=n, ratio=s_in / s_out)


def reshape(rng):
    h, w, c = int(rng.integers(1, 6)), int(rng.integers(1, 6)), int(rng.choice(CHANNELS))
    scale, zp = _f32(_log_uniform(rng, 1e-3, 0.5)), _zero_point(rng)
    mb = ModelBuilder()
    x = mb.tensor((1, h, w, c), scale=scale, zero_point=zp, name="input")
    shp = mb.tensor((2,), "int32", data=np.asarray([1, h * w * c], dtype=np.int32))
    y = mb.tensor((1, h * w * c), scale=scale, zero_point=zp, name="output")
    mb.op(tfl.RESHAPE, [x, shp], [y])
    return mb, [x], [y], dict(shape=(1, h, w, c))


def concat(rng):
    """CONCATENATION of the model input with operands computed from it at the
    same quantisation: 1x1 convolutions (channel axis) or VALID max pools
    (H or W axis, changing that size)."""
    n = int(rng.integers(2, 5))
    h, w = int(rng.integers(2, 7)), int(rng.integers(2, 7))
    axis = int(rng.choice([3, -1, 1, 2]))
    ax = axis % 4
    scale, zp = _f32(_log_uniform(rng, 1e-3, 0.5)), _zero_point(rng)
    c = 4
    mb = ModelBuilder()
    x = mb.tensor((1, h, w, c), scale=scale, zero_point=zp, name="input")
    parts, out = [x], [1, h, w, c]
    for _ in range(n - 1):
        if ax == 3:
            cout = int(rng.choice(CHANNELS[:8]))
            parts.append(_conv1x1(mb, rng, x, (1, h, w, c), scale, cout, (scale, zp)))
            out[3] += cout
        else:
            size = (h, w)[ax - 1]
            k = int(rng.integers(1, size + 1))
            kh, kw = (k, 1) if ax == 1 else (1, k)
            shape = [1, h, w, c]
            shape[ax] = size - k + 1
            y = mb.tensor(tuple(shape), scale=scale, zero_point=zp)
            mb.op(tfl.MAX_POOL_2D, [x], [y], padding=tfl.PADDING_VALID, stride_w=1, stride_h=1,
                  filter_w=kw, filter_h=kh)  # fmt: skip
            parts.append(y)
            out[ax] += shape[ax]
    order = list(rng.permutation(len(parts)))
    y = mb.tensor(tuple(out), scale=scale, zero_point=zp, name="output")
    mb.op(tfl.CONCATENATION, [parts[i] for i in order], [y], axis=axis)
    return mb, [x], [y], dict(n=n, axis=axis, out=tuple(out))


def _single_conv(
    rng,
    kind: str,
    h: int,
    w: int,
    cin: int,
    cout: int,
    k: tuple[int, int],
    stride: tuple[int, int],
    dil: tuple[int, int],
    pad: int,
    act: int,
    w_max: int,
    ratio: tuple[float, float],
    depthwise: bool = False,
    out_zp: int | None = None,
):
    """One CONV_2D / DEPTHWISE_CONV_2D with weights in [-w_max, w_max] and the
    output scale set so that in_scale * w_scale / out_scale lies in ``ratio``
    (>= 0.5: TFLM's multiplier has a left shift, the two-rounding path);
    ``out_zp`` fixes the output zero point (else drawn)."""
    kh, kw = k
    oh, ow = _out_size(h, kh, stride[0], dil[0], pad), _out_size(w, kw, stride[1], dil[1], pad)
    in_scale, in_zp = _f32(_log_uniform(rng, 5e-3, 0.1)), _zero_point(rng)
    fshape = (1, kh, kw, cout) if depthwise else (cout, kh, kw, cin)
    wq = rng.integers(-w_max, w_max + 1, size=fshape, dtype=np.int8)
    w_scales = [_f32(s) for s in _log_uniform(rng, 5e-3, 5e-2, cout)]
    out_scale = _f32(in_scale * float(np.median(w_scales)) / rng.uniform(*ratio))
    drawn_zp = int(rng.integers(-60, 60))  # drawn either way: the other cases stay the same
    out_zp = drawn_zp if out_zp is None else out_zp
    mb = ModelBuilder()
    x = mb.tensor((1, h, w, cin), scale=in_scale, zero_point=in_zp, name="input")
    wt = mb.tensor(fshape, data=wq, scale=w_scales, zero_point=[0] * cout,
                   qdim=3 if depthwise else 0)  # fmt: skip
    taps = kh * kw * (1 if depthwise else cin)
    bq = rng.integers(-40 * taps, 40 * taps + 1, size=cout).astype(np.int32)
    bt = mb.tensor((cout,), "int32", data=bq, scale=[_f32(in_scale * s) for s in w_scales],
                   zero_point=[0] * cout)  # fmt: skip
    y = mb.tensor((1, oh, ow, cout), scale=out_scale, zero_point=out_zp, name="output")
    opts = dict(padding=pad, stride_w=stride[1], stride_h=stride[0], activation=act,
                dilation_w=dil[1], dilation_h=dil[0])  # fmt: skip
    if depthwise:
        mb.op(tfl.DEPTHWISE_CONV_2D, [x, wt, bt], [y], depth_multiplier=cout // cin, **opts)
    else:
        mb.op(tfl.CONV_2D, [x, wt, bt], [y], **opts)
    p = dict(kind=kind, hw=(h, w), cin=cin, cout=cout, k=k, stride=stride, dil=dil,
             padding="SAME" if pad == 0 else "VALID", act=tfl.ACT_NAMES[act])  # fmt: skip
    return mb, [x], [y], p


def _single_fc(
    rng,
    kind: str,
    batches: int,
    cin: int,
    cout: int,
    w_max: int,
    ratio: tuple[float, float],
    bias_big: bool,
):
    """A FULLY_CONNECTED like _single_conv; bias_big: biases near 2^30 (an
    accumulator bound past the one-rounding form's)."""
    in_scale, in_zp = _f32(_log_uniform(rng, 5e-3, 0.1)), _zero_point(rng)
    wq = rng.integers(-w_max, w_max + 1, size=(cout, cin), dtype=np.int8)
    w_scales = [_f32(s) for s in _log_uniform(rng, 5e-3, 5e-2, cout)]
    if bias_big:
        bq = rng.choice([-1, 1], size=cout) * (2**30 + rng.integers(0, 2**20, size=cout))
        out_scale = _f32(in_scale * float(np.median(w_scales)) * 2**30 / 100.0)
    else:
        bq = rng.integers(-40 * cin, 40 * cin + 1, size=cout)
        out_scale = _f32(in_scale * float(np.median(w_scales)) / rng.uniform(*ratio))
    mb = ModelBuilder()
    x = mb.tensor((batches, cin), scale=in_scale, zero_point=in_zp, name="input")
    wt = mb.tensor((cout, cin), data=wq, scale=w_scales, zero_point=[0] * cout)
    bt = mb.tensor((cout,), "int32", data=np.asarray(bq, dtype=np.int32),
                   scale=[_f32(in_scale * s) for s in w_scales], zero_point=[0] * cout)  # fmt: skip
    y = mb.tensor((batches, cout), scale=out_scale, zero_point=int(rng.integers(-60, 60)),
                  name="output")  # fmt: skip
    mb.op(tfl.FULLY_CONNECTED, [x, wt, bt], [y], activation=tfl.ACT_NONE)
    return mb, [x], [y], dict(kind=kind, batches=batches, cin=cin, cout=cout)


_SAME, _VALID = tfl.PADDING_SAME, tfl.PADDING_VALID

# Cases aimed at the optimised kernels' own paths (engine/kernels_dsp), each
# also run on the reference kernels: two-rounding requantisation (a left
# shift, or an accumulator bound too large for the one-rounding form), fused
# clamps, odd channel counts, rows rings with dilation or stride 1, filters
# too large for a ring, the portable fallback (widened rows too large).
DSP_EDGES: dict[str, Callable] = {
    "conv1x1_left_shift": lambda rng: _single_conv(
        rng, "conv1x1_left_shift", 5, 7, 3, 5, (1, 1), (1, 1), (1, 1), _VALID, tfl.ACT_NONE,
        1, (0.6, 0.95)),
    "conv3x3_left_shift": lambda rng: _single_conv(
        rng, "conv3x3_left_shift", 6, 5, 1, 6, (3, 3), (1, 1), (1, 1), _SAME, tfl.ACT_NONE,
        1, (0.5, 0.7)),
    "dw_left_shift": lambda rng: _single_conv(
        rng, "dw_left_shift", 6, 6, 5, 5, (3, 3), (1, 1), (1, 1), _SAME, tfl.ACT_NONE,
        2, (0.5, 0.6), depthwise=True),
    "fc_left_shift": lambda rng: _single_fc(rng, "fc_left_shift", 3, 13, 6, 1, (0.55, 0.9),
                                            False),
    "fc_large_accumulator": lambda rng: _single_fc(rng, "fc_large_accumulator", 2, 9, 5, 127,
                                                   (1.0, 1.0), True),
    "conv_relu6_clamp": lambda rng: _single_conv(
        rng, "conv_relu6_clamp", 7, 6, 8, 8, (3, 3), (2, 1), (1, 1), _SAME, tfl.ACT_RELU6,
        60, (0.001, 0.004)),
    "conv_dilated_odd": lambda rng: _single_conv(
        rng, "conv_dilated_odd", 9, 8, 6, 7, (3, 2), (1, 1), (2, 2), _SAME, tfl.ACT_RELU,
        60, (0.001, 0.004)),
    "conv3x3_stride1_ring": lambda rng: _single_conv(
        rng, "conv3x3_stride1_ring", 7, 9, 4, 6, (3, 3), (1, 1), (1, 1), _SAME, tfl.ACT_NONE,
        60, (0.001, 0.004)),
    "conv_no_ring": lambda rng: _single_conv(
        rng, "conv_no_ring", 6, 6, 32, 40, (3, 3), (1, 1), (1, 1), _SAME, tfl.ACT_NONE,
        40, (0.0002, 0.0008)),
    "dw_kh2_dilated": lambda rng: _single_conv(
        rng, "dw_kh2_dilated", 9, 7, 8, 8, (2, 3), (1, 1), (2, 1), _SAME, tfl.ACT_NONE,
        60, (0.01, 0.04), depthwise=True),
    "dw_dilated_w_clamp": lambda rng: _single_conv(
        rng, "dw_dilated_w_clamp", 7, 9, 6, 6, (3, 3), (1, 1), (1, 2), _SAME,
        tfl.ACT_RELU_N1_TO_1, 60, (0.01, 0.04), depthwise=True),
    "conv1x1_stride2": lambda rng: _single_conv(
        rng, "conv1x1_stride2", 7, 9, 12, 9, (1, 1), (2, 2), (1, 1), _VALID, tfl.ACT_NONE,
        60, (0.001, 0.004)),
    "conv_portable_rows": lambda rng: _single_conv(
        rng, "conv_portable_rows", 3, 200, 24, 4, (3, 3), (1, 1), (1, 1), _SAME, tfl.ACT_NONE,
        40, (0.0005, 0.002)),
    # 4x4 depthwise windows (the even kernel that centres a stride-2 layer under SAME
    # padding) on the unrolled sixteen-tap loops: a whole row at a time (four groups), a
    # ReLU whose clamp is the zero point (the streaming loops without the correction of
    # negative accumulators), a pixel at a time with a last group of two channels, and a
    # clamped layer (the general loop)
    "dw4x4_stride2_rows": lambda rng: _single_conv(
        rng, "dw4x4_stride2_rows", 13, 11, 16, 16, (4, 4), (2, 2), (1, 1), _SAME, tfl.ACT_NONE,
        60, (0.01, 0.04), depthwise=True),
    "dw4x4_relu_floor": lambda rng: _single_conv(
        rng, "dw4x4_relu_floor", 12, 14, 16, 16, (4, 4), (2, 2), (1, 1), _SAME, tfl.ACT_RELU,
        60, (0.01, 0.04), depthwise=True, out_zp=-128),
    "dw4x4_stride1_ragged": lambda rng: _single_conv(
        rng, "dw4x4_stride1_ragged", 9, 10, 10, 10, (4, 4), (1, 1), (1, 1), _SAME,
        tfl.ACT_NONE, 60, (0.01, 0.04), depthwise=True),
    "dw4x4_valid_relu6": lambda rng: _single_conv(
        rng, "dw4x4_valid_relu6", 10, 9, 8, 8, (4, 4), (2, 1), (1, 1), _VALID, tfl.ACT_RELU6,
        60, (0.01, 0.04), depthwise=True),
}  # fmt: skip


# group name -> (generator, number of cases)
GROUPS: dict[str, tuple[Callable, int]] = {
    "conv2d": (conv2d, 70),
    "depthwise": (depthwise, 45),
    "fully_connected": (fully_connected, 25),
    "avg_pool": (avg_pool, 15),
    "max_pool": (max_pool, 15),
    "mean": (mean, 15),
    "reduce_max": (reduce_max, 10),
    "add": (add, 20),
    "softmax": (softmax, 15),
    "quantize": (quantize, 8),
    "reshape": (reshape, 6),
    "concat": (concat, 8),
    **{f"dsp_{kind}": (gen, 2) for kind, gen in DSP_EDGES.items()},
}


def build_plan(seed: int = SEED) -> list[Case]:
    """Every case of the plan, in a fixed order."""
    cases = []
    for gi, (group, (gen, count)) in enumerate(GROUPS.items()):
        for i in range(count):
            rng = np.random.default_rng([seed, gi, i])
            mb, ins, outs, params = gen(rng)
            tfl_bytes = mb.build(ins, outs, description=f"engine kernel plan {seed} {group} {i}")
            shape = tfl.read_model(tfl_bytes).tensors[ins[0]].shape
            cases.append(
                Case(
                    name=f"{group}_{i:03d}",
                    group=group,
                    tflite=tfl_bytes,
                    input_shape=tuple(shape),
                    inputs=_inputs(rng, tuple(shape)),
                    params=params,
                    alias_reshape=not (group == "reshape" and i % 2 == 1),
                )
            )
    return cases


def plan_digest(cases: list[Case]) -> str:
    h = hashlib.sha256()
    for c in cases:
        h.update(c.name.encode())
        h.update(c.tflite)
        h.update(c.inputs.tobytes())
        h.update(b"alias" if c.alias_reshape else b"copy")
    return h.hexdigest()
