"""The streaming exporter: a chain-shaped ``.tflite`` becomes a *streaming model* for the
engine's row-by-row executor (``mcu_firmware/engine/include/tnn_stream.h``).

The family: a chain of CONV_2D, DEPTHWISE_CONV_2D (depth multiplier 1), MAX_POOL_2D and
SOFTMAX operators, int8, each reading the previous one's output, SAME or VALID padding,
dilation 1, with any (or an open) spatial input size: the fully-convolutional cell network
and its kin. Anything else is refused with an error naming the operator.

What is exported (``<name>_stream.c`` / ``<name>_stream.h``): per layer its kind, padding
rule, kernel, stride and channels, and its kernel's parameter template (weights, biases,
per-channel multipliers and shifts, the DSP kernels' packed data in the ring layout),
computed exactly as for a whole-tensor model (:mod:`triage.engine.lower`,
:mod:`triage.engine.pack`) from the model at a reference size; the spatial sizes and
paddings are left for the executor, which works them out for each frame. Plus the frame
contract: input channels and zero point, and the *multiple* the frame is extended to
(the chain's total stride along each axis, 16 for the cell network: ``Hp = ceil(H / 16) *
16`` rows and likewise columns, filled with the input zero point).

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

from triage import __version__
from triage.engine import tflite as tfl
from triage.engine.errors import ModelError, UnsupportedModelError
from triage.engine.export import _NAME_RE, _STRUCTS, _c_array, _c_comment, _c_float, _c_members
from triage.engine.lower import Lowered, Step, lower
from triage.engine.pack import pack_step
from triage.engine.shapes import static_shape

GENERATOR = "triage.engine.stream"
STREAM_VERSION = 1  # TNN_STREAM_VERSION in mcu_firmware/engine/include/tnn_stream_model.h
MAX_LAYERS = 32  # TNN_STREAM_MAX_LAYERS
MAX_KERNEL = 16  # TNN_ROWS_MAX_KERNEL
SOFTMAX_TABLE = 256  # TNN_SOFTMAX_TABLE
DIM_MAX = 65535
# tnn_layer_kind_t and tnn_pad_rule_t
KIND = {"conv2d_s8": 1, "depthwise_conv2d_s8": 2, "max_pool2d_s8": 3, "softmax_s8": 4}
KIND_NAMES = {1: "TNN_LAYER_CONV2D", 2: "TNN_LAYER_DWCONV2D", 3: "TNN_LAYER_MAX_POOL2D",
              4: "TNN_LAYER_SOFTMAX"}  # fmt: skip
PAD_SAME, PAD_VALID = 0, 1
PAD_NAMES = {PAD_SAME: "TNN_PAD_SAME", PAD_VALID: "TNN_PAD_VALID"}
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


def _axis(n: int, k: int, s: int, rule: int) -> tuple[int, int]:
    if rule == PAD_SAME:
        o = -(-n // s)
        return o, max((o - 1) * s + k - n, 0) // 2
    return (n - k) // s + 1, 0


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


# ---- C ------------------------------------------------------------------------------


def _template(lay: StreamLayer) -> dict:
    """The step's fields with the spatial sizes and paddings the executor fills in zeroed."""
    f = {k: (dict(v) if isinstance(v, dict) else v) for k, v in lay.step.fields.items()}
    if lay.kind in (KIND["conv2d_s8"], KIND["depthwise_conv2d_s8"]):
        f["conv"] = dict(f["conv"], pad={"h": 0, "w": 0})
        f["input"] = dict(f["input"], h=0, w=0)
        f["output"] = dict(f["output"], h=0, w=0)
    elif lay.kind == KIND["max_pool2d_s8"]:
        f.update(in_h=0, in_w=0, out_h=0, out_w=0, pad_top=0, pad_left=0)
    else:
        f["rows"] = 0
    return f


def _gen_line(name: str, sha: str) -> str:
    return (
        f"/* Generated by {GENERATOR} (orbital-triage {__version__}) from the model"
        f" sha256={sha}: do not edit. */"
    )


def render_stream_c(c: StreamCompiled, name: str) -> tuple[str, str]:
    """The text of ``<name>_stream.c`` and ``<name>_stream.h``."""
    up = name.upper()
    src = [
        _gen_line(name, c.sha256),
        f'#include "{name}_stream.h"',
        '#include "tnn_kernels.h"',
        '#include "tnn_stream_model.h"',
        "",
        f"#if TNN_STREAM_VERSION != {STREAM_VERSION}u",
        f'#error "{name}_stream.c was generated for streaming model version {STREAM_VERSION}"',
        "#endif",
        "",
    ]
    for i, lay in enumerate(c.layers):
        s = lay.step
        src.append(f"/* layer {i}: {_c_comment(s.op.describe())}, {lay.in_c} -> {lay.out_c}"
                   f" channels, kernel {lay.kernel[0]}x{lay.kernel[1]}, stride"
                   f" {lay.stride[0]}x{lay.stride[1]} */")  # fmt: skip
        for fname, arr in s.arrays.items():
            src.append(_c_array(arr.ctype, f"l{i}_{fname}", arr.values).rstrip())
        pk = s.packed
        if pk is not None:
            src.append(f"/* optimised kernels: {_c_comment(pk.describe())} */")
            src.append(_c_array("uint32_t", f"l{i}_pdata", pk.data, hexa=True).rstrip())
            src.append(
                f"static const tnn_packed_t l{i}_packed = {{{pk.method}u, {pk.flags}u,"
                f" {pk.groups}u, l{i}_pdata}};"
            )
        src.append(f"static const {_STRUCTS[s.kernel]} l{i}_params = {{")
        src.extend(_c_members(_template(lay)))
        for fname, arr in s.arrays.items():
            src.append(f"    .{arr.field or fname} = l{i}_{fname},")
        if pk is not None:
            src.append(f"    .packed = &l{i}_packed,")
        src.append("};")
        src.append("")
    src.append(f"static const tnn_stream_layer_t layers[{len(c.layers)}] = {{")
    for i, lay in enumerate(c.layers):
        src.append(
            f"    {{{KIND_NAMES[lay.kind]}, {PAD_NAMES[lay.pad]},"
            f" {lay.in_c}u, {lay.out_c}u, {{{lay.kernel[0]}u, {lay.kernel[1]}u}},"
            f" {{{lay.stride[0]}u, {lay.stride[1]}u}}, &l{i}_params}},"
        )
    src += [
        "};",
        "",
        f"const tnn_stream_model_t {name}_stream = {{",
        "    TNN_STREAM_MAGIC,",
        "    TNN_STREAM_VERSION,",
        "    layers,",
        f"    {len(c.layers)}u,",
        f"    {c.in_c}u,",
        f"    {c.out_c}u,",
        f"    {c.multiple[0]}u,",
        f"    {c.multiple[1]}u,",
        f"    {c.min_size[0]}u,",
        f"    {c.min_size[1]}u,",
        f"    {c.in_zero_point},",
        "};",
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
