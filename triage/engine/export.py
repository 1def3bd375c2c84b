"""The exporter: ``.tflite`` bytes in, ``<name>_model.c`` and ``<name>_model.h`` out.

The C holds the constant weights, biases and per-channel multipliers and
shifts, one parameter struct per step, the step table with every tensor's
arena span, and the model descriptor ``<name>_model``. The header exposes
the input shape, the input/output quantisation and the arena size as
macros, so that the application never retypes them. Both files say what
generated them and from which model (SHA-256 of the ``.tflite``).

All symbols but ``<name>_model`` are ``static``: any number of exported
models link into one program.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from triage import __version__
from triage.engine import tflite as tfl
from triage.engine.errors import ArenaBudgetError, ModelError
from triage.engine.lower import Lowered, Step, lower
from triage.engine.pack import pack_model
from triage.engine.planner import Plan, plan_arena, scratch_id

GENERATOR = "triage.engine.export"
# Default arena budget: what the Cortex-M4 image can give the engine out of its
# 64 KB of RAM (8 KB stack, the application's own state).
DEFAULT_ARENA_BUDGET_BYTES = 48 * 1024
MODEL_VERSION = 5  # TNN_MODEL_VERSION in mcu_firmware/engine/include/tnn_model.h
NO_TENSOR = 0xFFFFFFFF  # TNN_NO_TENSOR: the tensor index of a scratch span
_NAME_RE = re.compile(r"^[a-z_][a-z0-9_]{0,40}$")

# C type of each scalar parameter field, per kernel (tnn_kernels.h).
_STRUCTS = {
    "conv2d_s8": "tnn_conv2d_s8_params_t",
    "depthwise_conv2d_s8": "tnn_depthwise_conv2d_s8_params_t",
    "fully_connected_s8": "tnn_fully_connected_s8_params_t",
    "avg_pool2d_s8": "tnn_pool2d_s8_params_t",
    "max_pool2d_s8": "tnn_pool2d_s8_params_t",
    "mean_hw_s8": "tnn_mean_hw_s8_params_t",
    "reduce_max_hw_s8": "tnn_reduce_max_hw_s8_params_t",
    "add_s8": "tnn_add_s8_params_t",
    "softmax_s8": "tnn_softmax_s8_params_t",
    "requantize_s8": "tnn_requantize_s8_params_t",
    "reshape_s8": "tnn_copy_s8_params_t",
    "concat_s8": "tnn_concat_s8_params_t",
}


@dataclass
class ExportReport:
    """What was exported, with the figures the benchmarks and the app need."""

    name: str
    sha256: str
    files: list[Path]
    arena_bytes: int
    arena_lower_bound: int
    weights_bytes: int
    const_bytes: int
    macs: int
    n_steps: int
    input_shape: tuple[int, ...]
    input_scale: float
    input_zero_point: int
    output_shape: tuple[int, ...]
    output_scale: float
    output_zero_point: int
    operators: list[str] = field(default_factory=list)
    plan_order: str = ""


@dataclass
class Compiled:
    """A validated, lowered and planned model, before any file is written."""

    tflite: bytes
    sha256: str
    lowered: Lowered
    plan: Plan


def compile_model(
    tflite_bytes: bytes,
    *,
    alias_reshape: bool = True,
    arena_budget_bytes: int | None = DEFAULT_ARENA_BUDGET_BYTES,
) -> Compiled:
    """Reads, validates, lowers and plans a model; raises :class:`ModelError` subclasses."""
    model = tfl.read_model(tflite_bytes)
    low = lower(model, alias_reshape=alias_reshape)
    pack_model(low)
    plan = plan_arena(low)
    if arena_budget_bytes is not None and plan.arena_bytes > arena_budget_bytes:
        big = max(plan.intervals.values(), key=lambda v: v.nbytes)
        t = model.tensors[big.tensor]
        raise ArenaBudgetError(
            f"the arena needs {plan.arena_bytes} bytes, over the budget of"
            f" {arena_budget_bytes} bytes ({plan.arena_bytes - arena_budget_bytes} missing);"
            f" the largest tensor is {t.describe()} ({big.nbytes} bytes)"
        )
    return Compiled(bytes(tflite_bytes), hashlib.sha256(tflite_bytes).hexdigest(), low, plan)


def _c_comment(text: str, limit: int = 160) -> str:
    """Text from the model (tensor names) made safe inside a C comment."""
    clean = "".join(ch if " " <= ch <= "~" else "?" for ch in text)
    clean = clean.replace("*/", "*?").replace("/*", "?*")
    return clean if len(clean) <= limit else clean[: limit - 3] + "..."


def _c_float(x: float) -> str:
    return f"{float(np.float32(x))!r}f"


def _c_array(ctype: str, name: str, values: np.ndarray, *, hexa: bool = False) -> str:
    vals = [int(v) for v in np.asarray(values).reshape(-1)]
    per = 16 if ctype in ("int8_t", "uint8_t") else 8
    fmt = (lambda v: f"{v:#010x}") if hexa else str
    lines = []
    for i in range(0, len(vals), per):
        lines.append("    " + ", ".join(fmt(v) for v in vals[i : i + per]) + ",")
    body = "\n".join(lines) if lines else "    0,"
    n = max(len(vals), 1)
    return f"static const {ctype} {name}[{n}] = {{\n{body}\n}};\n"


def _c_value(v: object) -> str:
    if isinstance(v, dict):  # a member struct, on one line: {.h = 3, .w = 3}
        return "{" + ", ".join(f".{k} = {_c_value(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list | tuple):
        return "{" + ", ".join(str(int(x)) for x in v) + "}"
    return str(int(v))  # type: ignore[call-overload]


def _c_members(fields: dict, indent: str = "    ") -> list[str]:
    """Designated initializers of a struct's members, one per line; a member struct that holds
    structs gets its members on lines of their own."""
    lines = []
    for k, v in fields.items():
        if isinstance(v, dict) and any(isinstance(x, dict) for x in v.values()):
            lines.append(f"{indent}.{k} = {{")
            lines.extend(_c_members(v, indent + "    "))
            lines.append(f"{indent}}},")
        else:
            lines.append(f"{indent}.{k} = {_c_value(v)},")
    return lines


def _span(c: Compiled, tensor: int) -> str:
    t = c.lowered.tensors[tensor]
    return f"{{{c.plan.offsets[tensor]}u, {t.nbytes}u, {tensor}u}}"


def _scratch_span(c: Compiled, i: int) -> str:
    n = c.lowered.steps[i].scratch_bytes
    off = c.plan.offsets[scratch_id(i)] if n else 0
    return f"{{{off}u, {n}u, {NO_TENSOR:#x}u}}"


def _header_guard(name: str) -> str:
    return f"{name.upper()}_MODEL_H"


def _gen_line(name: str, sha: str) -> str:
    return (
        f"/* Generated by {GENERATOR} (orbital-triage {__version__}) from the model"
        f" sha256={sha}: do not edit. */"
    )


def render_c(c: Compiled, name: str) -> tuple[str, str]:
    """The text of ``<name>_model.c`` and ``<name>_model.h``."""
    low, plan = c.lowered, c.plan
    up = name.upper()
    tin, tout = low.tensors[low.input], low.tensors[low.output]
    src_in = low.model.tensors[low.model.inputs[0]]
    src_out = low.model.tensors[low.model.outputs[0]]
    in_shape = tuple(src_in.shape)
    hwc = in_shape[1:] if len(in_shape) == 4 else (1, 1, tin.nbytes)
    h: list[str] = [
        _gen_line(name, c.sha256),
        f"/* The int8 model '{name}' for the tnn engine: include this header, bind",
        f" * &{name}_model to an arena of {up}_ARENA_BYTES bytes (tnn.h). */",
        f"#ifndef {_header_guard(name)}",
        f"#define {_header_guard(name)}",
        "",
        '#include "tnn.h"',
        "",
        f'#define {up}_MODEL_SHA256 "{c.sha256}"',
        f"#define {up}_ARENA_BYTES {plan.arena_bytes}u",
        "",
        f"/* Input: int8 {list(in_shape)}, [H][W][C] in memory; real = scale * (q - zp). */",
        f"#define {up}_INPUT_H {hwc[0]}u",
        f"#define {up}_INPUT_W {hwc[1]}u",
        f"#define {up}_INPUT_C {hwc[2]}u",
        f"#define {up}_INPUT_BYTES {tin.nbytes}u",
        f"#define {up}_INPUT_ZERO_POINT ({tin.zero_point})",
        f"#define {up}_INPUT_SCALE {_c_float(tin.scale)} /* float32; not for the hot path */",
        "",
        f"/* Output: int8 {list(src_out.shape)}. */",
        f"#define {up}_OUTPUT_BYTES {tout.nbytes}u",
        f"#define {up}_OUTPUT_ZERO_POINT ({tout.zero_point})",
        f"#define {up}_OUTPUT_SCALE {_c_float(tout.scale)}",
        "",
        f"/* Work: {low.macs} multiply-accumulates per inference, {len(low.steps)} steps. */",
        f"#define {up}_MACS {low.macs}u",
        "",
        f"extern const tnn_model_t {name}_model;",
        "",
        f"#endif /* {_header_guard(name)} */",
        "",
    ]
    out: list[str] = [
        _gen_line(name, c.sha256),
        f"/* Arena: {plan.arena_bytes} bytes (most bytes live at once: {plan.lower_bound};"
        f" plan order '{plan.order}'). */",
        f'#include "{name}_model.h"',
        '#include "tnn_kernels.h"',
        '#include "tnn_model.h"',
        "",
        f"#if TNN_MODEL_VERSION != {MODEL_VERSION}u",
        f'#error "{name}_model.c was generated for engine model version {MODEL_VERSION}"',
        "#endif",
        "",
    ]
    for i, s in enumerate(low.steps):
        out.append(_render_step(c, s, i))
    out.append(f"static const tnn_step_t steps[{max(len(low.steps), 1)}] = {{")
    for i, s in enumerate(low.steps):
        out.append(
            f"    {{&tnn_op_{s.kernel}, &s{i}_params, s{i}_in, {len(s.inputs)}u,"
            f" {_span(c, s.output)}, {_scratch_span(c, i)}}},"
        )
    if not low.steps:
        out.append("    {0, 0, 0, 0u, {0u, 0u, 0u}, {0u, 0u, 0u}},")
    out.append("};")
    out.append("")
    out.append(f"const tnn_model_t {name}_model = {{")
    out.append("    TNN_MODEL_MAGIC,")
    out.append("    TNN_MODEL_VERSION,")
    out.append("    steps,")
    out.append(f"    {len(low.steps)}u,")
    out.append(f"    {plan.arena_bytes}u,")
    out.append(f"    {_span(c, low.input)},")
    out.append(f"    {_span(c, low.output)},")
    out.append("};")
    out.append("")
    return "\n".join(out), "\n".join(h)


def _render_step(c: Compiled, s: Step, i: int) -> str:
    what = f"step {i}: {s.op.describe()}, output {c.lowered.model.tensors[s.output].describe()}"
    lines = [f"/* {_c_comment(what)} */"]
    for fname, arr in s.arrays.items():
        lines.append(_c_array(arr.ctype, f"s{i}_{fname}", arr.values).rstrip())
    pk = s.packed
    if pk is not None:
        lines.append(f"/* optimised kernels: {_c_comment(pk.describe())} */")
        if len(pk.data):
            lines.append(_c_array("uint32_t", f"s{i}_pdata", pk.data, hexa=True).rstrip())
            ptr = f"s{i}_pdata"
        else:
            ptr = "0"
        lines.append(
            f"static const tnn_packed_t s{i}_packed = {{{pk.method}u, {pk.flags}u,"
            f" {pk.groups}u, {ptr}, {len(pk.data)}u}};"
        )
    lines.append(f"static const {_STRUCTS[s.kernel]} s{i}_params = {{")
    lines.extend(_c_members(s.fields))
    for fname, arr in s.arrays.items():
        lines.append(f"    .{arr.field or fname} = s{i}_{fname},")
    if pk is not None:
        lines.append(f"    .packed = &s{i}_packed,")
    lines.append("};")
    spans = ", ".join(_span(c, t) for t in s.inputs)
    lines.append(f"static const tnn_span_t s{i}_in[{len(s.inputs)}] = {{{spans}}};")
    lines.append("")
    return "\n".join(lines)


def export_model(
    tflite_bytes: bytes,
    out_dir: str | Path,
    name: str = "classifier",
    *,
    alias_reshape: bool = True,
    arena_budget_bytes: int | None = DEFAULT_ARENA_BUDGET_BYTES,
) -> ExportReport:
    """Validates and compiles a ``.tflite``; writes ``<out_dir>/<name>_model.{c,h}``.

    Raises :class:`triage.engine.errors.ModelError` (a ``ValueError``) naming
    the operator or tensor when the model cannot run on the engine, or when
    the arena exceeds ``arena_budget_bytes`` (default 48 KB; None: no limit).
    Nothing is written then. Returns an :class:`ExportReport` (``.files``
    lists the two files written).
    """
    if not _NAME_RE.match(name):
        raise ModelError(f"model name {name!r} must be a lower-case C identifier")
    c = compile_model(
        tflite_bytes, alias_reshape=alias_reshape, arena_budget_bytes=arena_budget_bytes
    )
    src, hdr = render_c(c, name)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = [out / f"{name}_model.c", out / f"{name}_model.h"]
    for path, text in zip(files, (src, hdr), strict=True):
        if not path.exists() or path.read_text() != text:  # keep mtimes for make
            path.write_text(text)
    return report_for(c, name, files)


def report_for(c: Compiled, name: str, files: list[Path]) -> ExportReport:
    low = c.lowered
    tin, tout = low.tensors[low.input], low.tensors[low.output]
    return ExportReport(
        name=name,
        sha256=c.sha256,
        files=files,
        arena_bytes=c.plan.arena_bytes,
        arena_lower_bound=c.plan.lower_bound,
        weights_bytes=low.weights_bytes,
        const_bytes=low.const_bytes,
        macs=low.macs,
        n_steps=len(low.steps),
        input_shape=tuple(low.model.tensors[low.model.inputs[0]].shape),
        input_scale=float(tin.scale),
        input_zero_point=tin.zero_point,
        output_shape=tuple(low.model.tensors[low.model.outputs[0]].shape),
        output_scale=float(tout.scale),
        output_zero_point=tout.zero_point,
        operators=[s.op.name for s in low.steps],
        plan_order=c.plan.order,
    )
