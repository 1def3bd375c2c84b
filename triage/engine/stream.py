"""The streaming exporter: a chain-shaped ``.tflite`` becomes a *streaming model* for the
engine's row-by-row executor (``mcu_firmware/engine/include/tnn_stream.h``).

The family: a chain of CONV_2D, DEPTHWISE_CONV_2D (depth multiplier 1), MAX_POOL_2D and
SOFTMAX operators, int8, each reading the previous one's output, SAME or VALID padding,
dilation 1, with any (or an open) spatial input size: the fully-convolutional cell network
and its kin. Anything else is refused with an error naming the operator.

What is exported is the model's *engine plan* (:func:`plan_bytes`, the format of
:mod:`triage.contract.model_package`: no pointers, so the same bytes run linked into an
image or from a model package in a slot): per layer its kind, padding rule, kernel, stride
and channels, and its kernel's parameters (weights, biases, per-channel multipliers and
shifts, the DSP kernels' packed data in the ring layout), computed exactly as for a
whole-tensor model (:mod:`triage.engine.lower`, :mod:`triage.engine.pack`) from the model at
a reference size; the spatial sizes and paddings are left for the executor, which works
them out for each frame. Plus the frame contract: input channels and zero point, and the
*multiple* the frame is extended to (the chain's total stride along each axis, 16 for the
cell network: ``Hp = ceil(H / 16) * 16`` rows and likewise columns, filled with the input
zero point). ``<name>_stream.c`` holds the plan's bytes and ``<name>_stream``, the
``tnn_stream_model_t`` that names them.

:class:`StreamCompiled` also mirrors the executor's arithmetic in Python: each layer's
sizes and paddings at a frame size (:meth:`StreamCompiled.geometry`), the MACs, and the
bytes of every ring as a function of the frame's width (:meth:`StreamCompiled.ring_bytes`),
which the tests hold against the C.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from triage import __version__
from triage.contract import model_package as mp
from triage.engine import tflite as tfl
from triage.engine.errors import ModelError, UnsupportedModelError
from triage.engine.export import _NAME_RE, _c_comment, _c_float
from triage.engine.lower import Lowered, Step, lower
from triage.engine.pack import pack_step
from triage.engine.shapes import static_shape

GENERATOR = "triage.engine.stream"
STREAM_ABI = mp.ENGINE_ABI  # TNN_STREAM_ABI in the generated tnn_plan.h
MAX_LAYERS = mp.MAX_LAYERS  # TNN_STREAM_MAX_LAYERS
MAX_KERNEL = 16  # TNN_ROWS_MAX_KERNEL
SOFTMAX_TABLE = 256  # TNN_SOFTMAX_TABLE
DIM_MAX = 65535
# tnn_layer_kind_t and tnn_pad_rule_t (the contract's)
KIND = {
    "conv2d_s8": mp.LayerKind.CONV2D,
    "depthwise_conv2d_s8": mp.LayerKind.DWCONV2D,
    "max_pool2d_s8": mp.LayerKind.MAX_POOL2D,
    "softmax_s8": mp.LayerKind.SOFTMAX,
}
PAD_SAME, PAD_VALID = int(mp.PadRule.SAME), int(mp.PadRule.VALID)
CHAIN_OPS = (tfl.CONV_2D, tfl.DEPTHWISE_CONV_2D, tfl.MAX_POOL_2D, tfl.SOFTMAX)


@dataclass
class StreamLayer:
    step: Step  # lowered at the reference size (fields hold that size)
    kind: int
    pad: int  # PAD_SAME / PAD_VALID
    kernel: tuple[int, int]
    stride: tuple[int, int]
    in_c: int
    out_c: int

    @property
    def name(self) -> str:
        return self.step.op.name

    def macs_per_output(self) -> int:
        """Multiply-accumulates per output pixel (0 for pools and softmax)."""
        k = self.kernel[0] * self.kernel[1]
        if self.kind == KIND["conv2d_s8"]:
            return k * self.in_c * self.out_c
        if self.kind == KIND["depthwise_conv2d_s8"]:
            return k * self.out_c
        return 0


@dataclass
class LayerGeometry:
    in_h: int
    in_w: int
    out_h: int
    out_w: int
    pad_t: int
    pad_l: int


@dataclass
class StreamCompiled:
    tflite: bytes
    sha256: str
    layers: list[StreamLayer]
    lowered: Lowered  # at the reference size
    in_c: int
    out_c: int
    multiple: tuple[int, int]  # total strides (height, width): the frame's extension
    in_zero_point: int
    in_scale: float
    out_zero_point: int
    out_scale: float

    # ---- the executor's arithmetic (tnn_stream.c) --------------------------------

    @property
    def min_size(self) -> tuple[int, int]:
        """The smallest frame (height, width): one cell."""
        return self.multiple

    def extended(self, h: int, w: int) -> tuple[int, int]:
        """The frame's size once extended to multiples of the total strides."""
        mh, mw = self.multiple
        return -(-h // mh) * mh, -(-w // mw) * mw

    def geometry(self, h: int, w: int) -> list[LayerGeometry]:
        """Each layer's sizes and paddings for an h x w frame (extended first)."""
        h, w = self.extended(h, w)
        out = []
        for lay in self.layers:
            oh, pt = _axis(h, lay.kernel[0], lay.stride[0], lay.pad)
            ow, pl = _axis(w, lay.kernel[1], lay.stride[1], lay.pad)
            out.append(LayerGeometry(h, w, oh, ow, pt, pl))
            h, w = oh, ow
        return out

    def output_shape(self, h: int, w: int) -> tuple[int, int, int]:
        g = self.geometry(h, w)[-1]
        return g.out_h, g.out_w, self.out_c

    def macs(self, h: int, w: int) -> int:
        return sum(
            g.out_h * g.out_w * lay.macs_per_output()
            for lay, g in zip(self.layers, self.geometry(h, w), strict=True)
        )

    def ring_bytes(self, width: int, kernel_set: str) -> list[int]:
        """Bytes of each layer's ring for a frame ``width`` pixels wide ("ref" or "dsp")."""
        out = []
        for lay, g in zip(self.layers, self.geometry(self.multiple[0], width), strict=True):
            span = (g.out_w - 1) * lay.stride[1] + lay.kernel[1]
            if lay.kind == KIND["softmax_s8"]:  # the exponentials' table, one row
                n = 4 * SOFTMAX_TABLE + _align8(g.in_w * lay.in_c)
            elif kernel_set == "dsp" and lay.kind in (
                KIND["conv2d_s8"],
                KIND["depthwise_conv2d_s8"],
            ):
                groups = (lay.in_c + 3) // 4
                n = 4 * lay.kernel[0] * (2 + span * groups * 2)
            else:
                n = _align4(lay.kernel[0] * max(span, g.pad_l + g.in_w) * lay.in_c)
            out.append(n)
        return out

    def staging_bytes(self, width: int) -> int:
        geo = self.geometry(self.multiple[0], width)
        rows = [geo[0].in_w * self.in_c] + [
            g.out_w * lay.out_c for lay, g in zip(self.layers, geo, strict=True)
        ]
        return _align8(max(rows))

    def scratch_bytes(self, width: int, kernel_set: str, state_bytes: int) -> int:
        """tnn_stream_scratch_bytes: ``state_bytes`` is sizeof the executor's per-layer state
        on the target (it differs between the host and the Cortex-M4)."""
        rings = sum(_align8(n) for n in self.ring_bytes(width, kernel_set))
        return _align8(state_bytes * len(self.layers)) + self.staging_bytes(width) + rings


def _align4(n: int) -> int:
    return (n + 3) // 4 * 4


def _align8(n: int) -> int:
    return (n + 7) // 8 * 8


_axis = mp.axis


def _check_chain(m: tfl.TfliteModel) -> None:
    """Only the chain's operators, each reading the previous one's output, nothing else."""
    allowed = ", ".join(tfl.BUILTIN_NAMES[c] for c in CHAIN_OPS)
    if len(m.inputs) != 1 or len(m.outputs) != 1:
        raise UnsupportedModelError(
            f"the model has {len(m.inputs)} inputs and {len(m.outputs)} outputs; a streaming"
            " model is one chain"
        )
    if not m.operators:
        raise UnsupportedModelError("the model computes nothing")
    if len(m.operators) > MAX_LAYERS:
        raise UnsupportedModelError(f"{len(m.operators)} layers, at most {MAX_LAYERS} stream")
    prev = m.inputs[0]
    for op in m.operators:
        if op.code not in CHAIN_OPS:
            raise UnsupportedModelError(
                f"{op.describe()} is outside the streaming chain (supported: {allowed})"
            )
        if not op.inputs or op.inputs[0] != prev or len(op.outputs) != 1:
            raise UnsupportedModelError(
                f"{op.describe()} does not read the previous layer's output alone: a"
                " streaming model is a chain"
            )
        o = op.options
        if o.get("dilation_h", 1) != 1 or o.get("dilation_w", 1) != 1:
            raise UnsupportedModelError(f"{op.describe()}: dilation is not streamed")
        if op.code == tfl.DEPTHWISE_CONV_2D and o.get("depth_multiplier", 1) != 1:
            raise UnsupportedModelError(
                f"{op.describe()}: depth multiplier {o['depth_multiplier']} is not streamed"
            )
        if op.code != tfl.SOFTMAX and o.get("padding") not in (PAD_SAME, PAD_VALID):
            raise UnsupportedModelError(f"{op.describe()}: unknown padding")
        prev = op.outputs[0]
    if prev != m.outputs[0]:
        raise UnsupportedModelError("the chain's last layer is not the model's output")
    for t in range(len(m.tensors)):
        readers = [op for op in m.operators if t in op.inputs[:1]]
        if len(readers) > 1:
            raise UnsupportedModelError(
                f"{m.tensors[t].describe()} feeds {len(readers)} operators: a streaming model"
                " is a chain"
            )


def _window(op: tfl.Operator, m: tfl.TfliteModel) -> tuple[tuple[int, int], tuple[int, int]]:
    o = op.options
    if op.code in (tfl.CONV_2D, tfl.DEPTHWISE_CONV_2D):
        f = m.tensors[op.inputs[1]].shape
        k = (int(f[1]), int(f[2]))
    elif op.code == tfl.MAX_POOL_2D:
        k = (int(o["filter_h"]), int(o["filter_w"]))
    else:
        return (1, 1), (1, 1)
    return k, (int(o["stride_h"]), int(o["stride_w"]))


def compile_stream(tflite_bytes: bytes) -> StreamCompiled:
    """Validates a chain-shaped model and lowers it to streaming layers (raises
    :class:`ModelError` subclasses naming the operator)."""
    m = tfl.read_model(tflite_bytes)
    _check_chain(m)
    x = m.tensors[m.inputs[0]]
    if len(x.shape) != 4:
        raise UnsupportedModelError(f"model input {x.describe()} is not [1, H, W, C]")
    windows = [_window(op, m) for op in m.operators]
    for op, (k, s) in zip(m.operators, windows, strict=True):
        if max(k) > MAX_KERNEL or min(k) < 1 or min(s) < 1 or max(s) > 255:
            raise UnsupportedModelError(f"{op.describe()}: kernel {k}, stride {s} not streamed")
    multiple = (math.prod(s[0] for _, s in windows), math.prod(s[1] for _, s in windows))
    # at a size where every layer has several rows and columns
    grow = max(4, max(max(k) for k, _ in windows))
    low = lower(tfl.read_model(static_shape(tflite_bytes, multiple[0] * grow, multiple[1] * grow)))
    if len(low.steps) != len(m.operators):
        raise UnsupportedModelError("the lowered model is not one step per operator")
    layers = []
    for op, step, (k, s) in zip(m.operators, low.steps, windows, strict=True):
        if step.kernel not in KIND:
            raise UnsupportedModelError(f"{op.describe()} lowers to {step.kernel}, not streamed")
        step.packed = pack_step(step, stream=True)
        in_t = low.tensors[step.inputs[0]]
        out_t = low.tensors[step.output]
        layers.append(
            StreamLayer(
                step=step,
                kind=KIND[step.kernel],
                pad=int(op.options.get("padding", PAD_SAME)) if op.code != tfl.SOFTMAX else 0,
                kernel=k,
                stride=s,
                in_c=int(in_t.shape[-1]),
                out_c=int(out_t.shape[-1]),
            )
        )
    tin, tout = low.tensors[low.input], low.tensors[low.output]
    return StreamCompiled(
        tflite=bytes(tflite_bytes),
        sha256=hashlib.sha256(tflite_bytes).hexdigest(),
        layers=layers,
        lowered=low,
        in_c=int(tin.shape[-1]),
        out_c=int(tout.shape[-1]),
        multiple=multiple,
        in_zero_point=int(tin.zero_point),
        in_scale=float(tin.scale),
        out_zero_point=int(tout.zero_point),
        out_scale=float(tout.scale),
    )


# ---- the plan -------------------------------------------------------------------------


def _align8(n: int) -> int:
    return (n + 7) // 8 * 8


def _array_bytes(arr) -> bytes:
    """A constant array as the kernels read it: little-endian."""
    dtype = {"int8_t": "<i1", "uint8_t": "<u1", "int32_t": "<i4", "uint32_t": "<u4"}[arr.ctype]
    return np.ascontiguousarray(arr.values, dtype=dtype).tobytes()


def plan_bytes(c: StreamCompiled) -> bytes:
    """The engine plan of a compiled streaming model (:mod:`triage.contract.model_package`:
    PLAN_HEADER, PLAN_LAYER records, then each layer's arrays, 8-aligned)."""
    n = len(c.layers)
    table = mp.PLAN_HEADER.size + n * mp.PLAN_LAYER.size
    arrays = bytearray()
    records = []
    kernels = 0

    def put(data: bytes) -> int:
        nonlocal arrays
        at = _align8(table + len(arrays))
        arrays += bytes(at - table - len(arrays)) + data
        return at

    for lay in c.layers:
        f = lay.step.fields
        rec = {
            "kind": int(lay.kind),
            "pad": lay.pad,
            "in_c": lay.in_c,
            "out_c": lay.out_c,
            "kernel_h": lay.kernel[0],
            "kernel_w": lay.kernel[1],
            "stride_h": lay.stride[0],
            "stride_w": lay.stride[1],
            "act_min": 0,
            "act_max": 0,
            "in_offset": 0,
            "out_offset": 0,
            "pack_method": 0,
            "pack_flags": 0,
            "pack_groups": 0,
            "filter": 0,
            "bias": 0,
            "mult": 0,
            "shift": 0,
            "pdata": 0,
            "pdata_words": 0,
            "softmax_input_mult": 0,
            "softmax_diff_min": 0,
            "softmax_left_shift": 0,
        }
        kernels |= mp.LayerKind(lay.kind).bit
        if lay.kind in (KIND["conv2d_s8"], KIND["depthwise_conv2d_s8"]):
            cv = f["conv"]
            rec.update(
                act_min=mp.u8(cv["act"]["min"]),
                act_max=mp.u8(cv["act"]["max"]),
                in_offset=mp.u16(cv["in_offset"]),
                out_offset=mp.u16(cv["out_offset"]),
            )
            for name, arr in lay.step.arrays.items():
                rec[name] = put(_array_bytes(arr))
            pk = lay.step.packed
            if pk is not None:
                data = np.ascontiguousarray(pk.data, dtype="<u4").tobytes()
                rec.update(
                    pack_method=pk.method,
                    pack_flags=pk.flags,
                    pack_groups=pk.groups,
                    pdata=put(data) if len(data) else 0,
                    pdata_words=len(data) // 4,
                )
        elif lay.kind == KIND["max_pool2d_s8"]:
            rec.update(act_min=mp.u8(f["act_min"]), act_max=mp.u8(f["act_max"]))
        else:
            rec.update(
                softmax_input_mult=mp.u32(f["input_mult"]),
                softmax_diff_min=mp.u32(f["diff_min"]),
                softmax_left_shift=int(f["input_left_shift"]),
            )
        records.append(mp.PLAN_LAYER.pack(rec))
    total = _align8(table + len(arrays))
    header = mp.PLAN_HEADER.pack(
        {
            "magic": mp.PLAN_MAGIC,
            "abi": mp.ENGINE_ABI,
            "layers": n,
            "plan_bytes": total,
            "in_c": c.in_c,
            "out_c": c.out_c,
            "multiple_h": c.multiple[0],
            "multiple_w": c.multiple[1],
            "min_h": c.min_size[0],
            "min_w": c.min_size[1],
            "in_zero_point": mp.u8(c.in_zero_point),
            "out_zero_point": mp.u8(c.out_zero_point),
            "kernels": kernels,
        }
    )
    out = header + b"".join(records) + bytes(arrays)
    return out + bytes(total - len(out))


# ---- C ------------------------------------------------------------------------------


def _gen_line(name: str, sha: str) -> str:
    return (
        f"/* Generated by {GENERATOR} (orbital-triage {__version__}) from the model"
        f" sha256={sha}: do not edit. */"
    )


def render_stream_c(c: StreamCompiled, name: str) -> tuple[str, str]:
    """The text of ``<name>_stream.c`` and ``<name>_stream.h``."""
    up = name.upper()
    plan = plan_bytes(c)
    src = [
        _gen_line(name, c.sha256),
        f'#include "{name}_stream.h"',
        '#include "tnn_stream_model.h"',
        "",
        f"#if TNN_STREAM_ABI != {STREAM_ABI}u",
        f'#error "{name}_stream.c holds a plan of engine ABI {STREAM_ABI}"',
        "#endif",
        "",
        f"/* The engine plan ({len(plan)} bytes, triage/WIRE_FORMAT.md), layer by layer: */",
    ]
    for i, lay in enumerate(c.layers):
        s = lay.step
        note = f"; optimised kernels: {_c_comment(s.packed.describe())}" if s.packed else ""
        src.append(
            f"/*   {i}: {_c_comment(s.op.describe())}, {lay.in_c} -> {lay.out_c} channels,"
            f" kernel {lay.kernel[0]}x{lay.kernel[1]}, stride {lay.stride[0]}x{lay.stride[1]}"
            f"{note} */"
        )
    src.append("static const union {")
    src.append("    uint64_t align; /* TNN_PLAN_ALIGN */")
    src.append(f"    uint8_t bytes[{len(plan)}];")
    src.append("} plan = {.bytes = {")
    for k in range(0, len(plan), 16):
        src.append("    " + ", ".join(f"0x{b:02x}" for b in plan[k : k + 16]) + ",")
    src += [
        "}};",
        "",
        f"const tnn_stream_model_t {name}_stream = {{plan.bytes, {len(plan)}u}};",
        "",
    ]
    guard = f"{up}_STREAM_H"
    dsp = c.ring_bytes(1024, "dsp")
    ref = c.ring_bytes(1024, "ref")
    hdr = [
        _gen_line(name, c.sha256),
        f"/* The streaming model '{name}' (tnn_stream.h): begin &{name}_stream on a frame with",
        " * the scratch tnn_stream_scratch_bytes(&model, width) asks for. */",
        f"#ifndef {guard}",
        f"#define {guard}",
        "",
        '#include "tnn_stream.h"',
        "",
        f'#define {up}_STREAM_SHA256 "{c.sha256}"',
        f"#define {up}_STREAM_LAYERS {len(c.layers)}u",
        f"#define {up}_STREAM_PLAN_BYTES {len(plan)}u",
        "",
        f"/* Frame: int8 [H][W][{c.in_c}], real = scale * (q - zp), extended to multiples of",
        f" * {c.multiple[0]} rows and {c.multiple[1]} columns with the zero point;"
        f" H >= {c.min_size[0]}, W >= {c.min_size[1]}. */",
        f"#define {up}_STREAM_IN_C {c.in_c}u",
        f"#define {up}_STREAM_MULTIPLE_H {c.multiple[0]}u",
        f"#define {up}_STREAM_MULTIPLE_W {c.multiple[1]}u",
        f"#define {up}_STREAM_INPUT_ZERO_POINT ({c.in_zero_point})",
        f"#define {up}_STREAM_INPUT_SCALE {_c_float(c.in_scale)} /* float32, not per pixel */",
        "",
        f"/* Output: int8 [Hp / {c.multiple[0]}][Wp / {c.multiple[1]}][{c.out_c}]. */",
        f"#define {up}_STREAM_OUT_C {c.out_c}u",
        f"#define {up}_STREAM_OUTPUT_ZERO_POINT ({c.out_zero_point})",
        f"#define {up}_STREAM_OUTPUT_SCALE {_c_float(c.out_scale)}",
        "",
        f"/* Rings for a 1024-px-wide frame: {sum(dsp)} bytes with the DSP kernels,"
        f" {sum(ref)} with the",
        " * reference kernels (plus the staging row and the per-layer states:",
        " * tnn_stream_scratch_bytes gives the whole). */",
        f"#define {up}_STREAM_MACS_PER_1024X1024 {c.macs(1024, 1024)}u",
        "",
        f"extern const tnn_stream_model_t {name}_stream;",
        "",
        f"#endif /* {guard} */",
        "",
    ]
    return "\n".join(src), "\n".join(hdr)


@dataclass
class StreamReport:
    name: str
    sha256: str
    files: list[Path]
    compiled: StreamCompiled
    layers: list[str] = field(default_factory=list)


def export_stream(tflite_bytes: bytes, out_dir: str | Path, name: str) -> StreamReport:
    """Validates and compiles a chain-shaped ``.tflite``; writes ``<out_dir>/<name>_stream.{c,h}``.

    Raises :class:`triage.engine.errors.ModelError` naming the operator when the model is not
    a streaming chain; nothing is written then."""
    if not _NAME_RE.match(name):
        raise ModelError(f"model name {name!r} must be a lower-case C identifier")
    c = compile_stream(tflite_bytes)
    src, hdr = render_stream_c(c, name)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = [out / f"{name}_stream.c", out / f"{name}_stream.h"]
    for path, text in zip(files, (src, hdr), strict=True):
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
    return StreamReport(name, c.sha256, files, c, [lay.name for lay in c.layers])
