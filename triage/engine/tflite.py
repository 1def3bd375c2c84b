"""A strict reader of ``.tflite`` flatbuffers (TensorFlow Lite schema, version 3).

Only what the engine needs is decoded: tensors (shape, type, quantisation,
constant data), operators (builtin code, inputs, outputs, the options of the
operators the engine supports), the graph's inputs and outputs. Every
offset read from the file is bounds-checked, so a truncated or corrupted
file gives a :class:`ModelFormatError` naming what was being read, never an
``IndexError`` or a silent wrong answer.

Field slots follow the public ``schema.fbs`` of TensorFlow Lite.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

from triage.engine.errors import ModelFormatError

# TensorType
FLOAT32, FLOAT16, INT32, UINT8, INT64, STRING, BOOL, INT16 = 0, 1, 2, 3, 4, 5, 6, 7
INT8 = 9
TYPE_NAMES = {
    0: "float32",
    1: "float16",
    2: "int32",
    3: "uint8",
    4: "int64",
    5: "string",
    6: "bool",
    7: "int16",
    8: "complex64",
    9: "int8",
    10: "float64",
    11: "complex128",
    12: "uint64",
    13: "resource",
    14: "variant",
    15: "uint32",
    16: "uint16",
    17: "int4",
    18: "bfloat16",
}
TYPE_SIZES = {0: 4, 1: 2, 2: 4, 3: 1, 4: 8, 6: 1, 7: 2, 9: 1, 10: 8, 12: 8, 15: 4, 16: 2}

# BuiltinOperator codes of interest (names for all others come from BUILTIN_NAMES).
ADD, AVERAGE_POOL_2D, CONCATENATION, CONV_2D, DEPTHWISE_CONV_2D = 0, 1, 2, 3, 4
DEQUANTIZE, FULLY_CONNECTED, MAX_POOL_2D, RESHAPE, SOFTMAX = 6, 9, 17, 22, 25
MEAN, REDUCE_MAX, QUANTIZE = 40, 82, 114
BUILTIN_NAMES = {
    0: "ADD",
    1: "AVERAGE_POOL_2D",
    2: "CONCATENATION",
    3: "CONV_2D",
    4: "DEPTHWISE_CONV_2D",
    5: "DEPTH_TO_SPACE",
    6: "DEQUANTIZE",
    7: "EMBEDDING_LOOKUP",
    8: "FLOOR",
    9: "FULLY_CONNECTED",
    10: "HASHTABLE_LOOKUP",
    11: "L2_NORMALIZATION",
    12: "L2_POOL_2D",
    13: "LOCAL_RESPONSE_NORMALIZATION",
    14: "LOGISTIC",
    15: "LSH_PROJECTION",
    16: "LSTM",
    17: "MAX_POOL_2D",
    18: "MUL",
    19: "RELU",
    20: "RELU_N1_TO_1",
    21: "RELU6",
    22: "RESHAPE",
    23: "RESIZE_BILINEAR",
    24: "RNN",
    25: "SOFTMAX",
    26: "SPACE_TO_DEPTH",
    27: "SVDF",
    28: "TANH",
    32: "CUSTOM",
    34: "PAD",
    39: "TRANSPOSE",
    40: "MEAN",
    41: "SUB",
    42: "DIV",
    43: "SQUEEZE",
    49: "SPLIT",
    53: "CAST",
    54: "PRELU",
    55: "MAXIMUM",
    57: "MINIMUM",
    60: "PADV2",
    65: "SLICE",
    74: "SUM",
    80: "REDUCE_PROD",
    81: "REDUCE_MIN",
    82: "REDUCE_MAX",
    83: "PACK",
    92: "LEAKY_RELU",
    97: "MIRROR_PAD",
    98: "ABS",
    102: "SPLIT_V",
    114: "QUANTIZE",
    117: "HARD_SWISH",
    126: "BATCH_MATMUL",
}

# Padding and ActivationFunctionType
PADDING_SAME, PADDING_VALID = 0, 1
ACT_NONE, ACT_RELU, ACT_RELU_N1_TO_1, ACT_RELU6, ACT_TANH, ACT_SIGN_BIT = 0, 1, 2, 3, 4, 5
ACT_NAMES = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH", 5: "SIGN_BIT"}

# BuiltinOptions union types -> (name, [(field, slot, struct format, default)])
_OPTIONS: dict[int, tuple[str, list[tuple[str, int, str, Any]]]] = {
    1: (
        "Conv2DOptions",
        [
            ("padding", 0, "b", 0),
            ("stride_w", 1, "i", 0),
            ("stride_h", 2, "i", 0),
            ("activation", 3, "b", 0),
            ("dilation_w", 4, "i", 1),
            ("dilation_h", 5, "i", 1),
        ],
    ),
    2: (
        "DepthwiseConv2DOptions",
        [
            ("padding", 0, "b", 0),
            ("stride_w", 1, "i", 0),
            ("stride_h", 2, "i", 0),
            ("depth_multiplier", 3, "i", 0),
            ("activation", 4, "b", 0),
            ("dilation_w", 5, "i", 1),
            ("dilation_h", 6, "i", 1),
        ],
    ),
    5: (
        "Pool2DOptions",
        [
            ("padding", 0, "b", 0),
            ("stride_w", 1, "i", 0),
            ("stride_h", 2, "i", 0),
            ("filter_w", 3, "i", 0),
            ("filter_h", 4, "i", 0),
            ("activation", 5, "b", 0),
        ],
    ),
    8: (
        "FullyConnectedOptions",
        [
            ("activation", 0, "b", 0),
            ("weights_format", 1, "b", 0),
            ("keep_num_dims", 2, "?", False),
            ("asymmetric_quantize_inputs", 3, "?", False),
        ],
    ),
    9: ("SoftmaxOptions", [("beta", 0, "f", 0.0)]),
    10: ("ConcatenationOptions", [("axis", 0, "i", 0), ("activation", 1, "b", 0)]),
    11: ("AddOptions", [("activation", 0, "b", 0), ("pot_scale_int16", 1, "?", True)]),
    17: ("ReshapeOptions", []),
    27: ("ReducerOptions", [("keep_dims", 0, "?", False)]),
}


@dataclass(frozen=True)
class Quantization:
    """Affine quantisation: ``real = scale * (q - zero_point)`` per channel along ``dim``."""

    scale: tuple[float, ...]
    zero_point: tuple[int, ...]
    dim: int = 0


@dataclass
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: int
    buffer: int
    quant: Quantization | None
    data: bytes | None  # constant data, None for activations
    is_variable: bool = False

    @property
    def type_name(self) -> str:
        return TYPE_NAMES.get(self.dtype, f"type {self.dtype}")

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    def describe(self) -> str:
        return f"tensor {self.index} '{self.name}' ({self.type_name} {list(self.shape)})"


@dataclass
class Operator:
    index: int
    code: int
    custom_code: str | None
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options_type: int
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        if self.code == 32 and self.custom_code:
            return f"CUSTOM({self.custom_code})"
        return BUILTIN_NAMES.get(self.code, f"builtin operator {self.code}")

    def describe(self) -> str:
        return f"operator {self.index} ({self.name})"


@dataclass
class TfliteModel:
    version: int
    description: str
    tensors: list[Tensor]
    operators: list[Operator]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]


class _Reader:
    """Bounds-checked access to the flatbuffer's bytes."""

    def __init__(self, data: bytes) -> None:
        self.data = bytes(data)
        self.size = len(self.data)

    def _need(self, pos: int, n: int, what: str) -> None:
        if pos < 0 or pos + n > self.size:
            raise ModelFormatError(
                f"malformed .tflite: {what} at byte {pos} lies outside the {self.size}-byte file"
            )

    def scalar(self, fmt: str, pos: int, what: str) -> Any:
        n = struct.calcsize("<" + fmt)
        self._need(pos, n, what)
        return struct.unpack_from("<" + fmt, self.data, pos)[0]

    def uoffset(self, pos: int, what: str) -> int:
        return pos + self.scalar("I", pos, what)

    def table(self, pos: int, what: str) -> _Table:
        vt = pos - self.scalar("i", pos, what)
        vt_len = self.scalar("H", vt, what + " vtable")
        obj_len = self.scalar("H", vt + 2, what + " vtable")
        if vt_len < 4 or vt_len % 2:
            raise ModelFormatError(f"malformed .tflite: bad vtable for {what}")
        self._need(vt, vt_len, what + " vtable")
        self._need(pos, obj_len, what)
        return _Table(self, pos, vt, vt_len, what)


class _Table:
    def __init__(self, r: _Reader, pos: int, vt: int, vt_len: int, what: str) -> None:
        self.r, self.pos, self.vt, self.vt_len, self.what = r, pos, vt, vt_len, what

    def _field(self, slot: int) -> int:
        entry = 4 + 2 * slot
        if entry + 2 > self.vt_len:
            return 0
        off = self.r.scalar("H", self.vt + entry, self.what)
        return self.pos + off if off else 0

    def scalar(self, slot: int, fmt: str, default: Any, name: str) -> Any:
        p = self._field(slot)
        if not p:
            return default
        return self.r.scalar(fmt, p, f"{self.what}.{name}")

    def table(self, slot: int, name: str) -> _Table | None:
        p = self._field(slot)
        if not p:
            return None
        return self.r.table(self.r.uoffset(p, f"{self.what}.{name}"), f"{self.what}.{name}")

    def _vector(self, slot: int, name: str) -> tuple[int, int] | None:
        p = self._field(slot)
        if not p:
            return None
        start = self.r.uoffset(p, f"{self.what}.{name}")
        n = self.r.scalar("I", start, f"{self.what}.{name} length")
        return start + 4, n

    def scalars(self, slot: int, fmt: str, name: str) -> tuple[Any, ...]:
        v = self._vector(slot, name)
        if v is None:
            return ()
        start, n = v
        size = struct.calcsize("<" + fmt)
        self.r._need(start, n * size, f"{self.what}.{name}")
        return struct.unpack_from(f"<{n}{fmt}", self.r.data, start)

    def bytes_(self, slot: int, name: str) -> bytes | None:
        v = self._vector(slot, name)
        if v is None:
            return None
        start, n = v
        self.r._need(start, n, f"{self.what}.{name}")
        return self.r.data[start : start + n]

    def tables(self, slot: int, name: str) -> list[_Table]:
        v = self._vector(slot, name)
        if v is None:
            return []
        start, n = v
        self.r._need(start, 4 * n, f"{self.what}.{name}")
        return [
            self.r.table(self.r.uoffset(start + 4 * i, f"{self.what}.{name}[{i}]"), f"{name}[{i}]")
            for i in range(n)
        ]

    def string(self, slot: int, name: str) -> str:
        b = self.bytes_(slot, name)
        if b is None:
            return ""
        return b.decode("utf-8", errors="replace")


def read_model(data: bytes) -> TfliteModel:
    """Parses a ``.tflite`` flatbuffer; raises :class:`ModelFormatError` when malformed."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ModelFormatError("a .tflite model must be given as bytes")
    r = _Reader(bytes(data))
    if r.size < 8:
        raise ModelFormatError(f"malformed .tflite: {r.size} bytes is too short for a flatbuffer")
    if r.data[4:8] != b"TFL3":
        raise ModelFormatError(
            "not a TensorFlow Lite model: file identifier "
            f"{r.data[4:8]!r} where b'TFL3' was expected"
        )
    root = r.table(r.uoffset(0, "root"), "Model")
    version = root.scalar(0, "I", 0, "version")
    if version != 3:
        raise ModelFormatError(f"unsupported .tflite schema version {version} (expected 3)")
    codes = []
    for t in root.tables(1, "operator_codes"):
        deprecated = t.scalar(0, "b", 0, "deprecated_builtin_code")
        builtin = t.scalar(3, "i", 0, "builtin_code")
        codes.append((max(deprecated, builtin), t.string(1, "custom_code") or None))
    buffers = []
    for b in root.tables(4, "buffers"):
        data_ = b.bytes_(0, "data")
        offset = b.scalar(1, "Q", 0, "offset")
        size = b.scalar(2, "Q", 0, "size")
        if offset > 1:
            r._need(offset, size, "external buffer")
            data_ = r.data[offset : offset + size]
        buffers.append(data_ or b"")
    subgraphs = root.tables(2, "subgraphs")
    if len(subgraphs) != 1:
        raise ModelFormatError(
            f"the model has {len(subgraphs)} subgraphs; the engine runs single-subgraph models"
        )
    sg = subgraphs[0]
    tensors: list[Tensor] = []
    for i, t in enumerate(sg.tables(0, "tensors")):
        shape = tuple(int(d) for d in t.scalars(0, "i", "shape"))
        dtype = t.scalar(1, "b", 0, "type")
        buf = t.scalar(2, "I", 0, "buffer")
        name = t.string(3, "name")
        if buf >= len(buffers):
            raise ModelFormatError(f"tensor {i} '{name}' names buffer {buf} of {len(buffers)}")
        q = t.table(4, "quantization")
        quant = None
        if q is not None:
            scale = tuple(float(s) for s in q.scalars(2, "f", "scale"))
            zp = tuple(int(z) for z in q.scalars(3, "q", "zero_point"))
            if scale:
                quant = Quantization(scale, zp, q.scalar(6, "i", 0, "quantized_dimension"))
        data_ = buffers[buf] if buf else b""
        tensors.append(
            Tensor(
                index=i,
                name=name,
                shape=shape,
                dtype=dtype,
                buffer=buf,
                quant=quant,
                data=data_ or None,
                is_variable=bool(t.scalar(5, "?", False, "is_variable")),
            )
        )
    n_t = len(tensors)

    def check_indices(idx: tuple[int, ...], what: str) -> tuple[int, ...]:
        for j in idx:
            if j != -1 and not 0 <= j < n_t:
                raise ModelFormatError(f"{what} names tensor {j} of {n_t}")
        return idx

    operators: list[Operator] = []
    for i, o in enumerate(sg.tables(3, "operators")):
        ci = o.scalar(0, "I", 0, "opcode_index")
        if ci >= len(codes):
            raise ModelFormatError(f"operator {i} names operator code {ci} of {len(codes)}")
        code, custom = codes[ci]
        ins = check_indices(tuple(int(x) for x in o.scalars(1, "i", "inputs")), f"operator {i}")
        outs = check_indices(tuple(int(x) for x in o.scalars(2, "i", "outputs")), f"operator {i}")
        otype = o.scalar(3, "B", 0, "builtin_options_type")
        options: dict[str, Any] = {}
        if otype in _OPTIONS:
            oname, fields = _OPTIONS[otype]
            ot = o.table(4, "builtin_options")
            for fname, slot, fmt, default in fields:
                options[fname] = ot.scalar(slot, fmt, default, fname) if ot else default
            options["_type"] = oname
        operators.append(Operator(i, code, custom, ins, outs, otype, options))
    inputs = check_indices(tuple(int(x) for x in sg.scalars(1, "i", "inputs")), "graph inputs")
    outputs = check_indices(tuple(int(x) for x in sg.scalars(2, "i", "outputs")), "graph outputs")
    return TfliteModel(
        version=version,
        description=root.string(3, "description"),
        tensors=tensors,
        operators=operators,
        inputs=inputs,
        outputs=outputs,
    )


def tensor_shape_slots(data: bytes) -> list[dict[str, tuple[int, int]]]:
    """Where each tensor's ``shape`` and ``shape_signature`` vectors lie in the file.

    Per tensor of the (single) subgraph: ``{"shape": (start, n), "shape_signature": (start,
    n)}`` with ``start`` the byte offset of the first int32 and ``n`` the rank; a vector the
    tensor lacks is left out. Used to rewrite shapes in place (:mod:`triage.engine.shapes`).
    """
    r = _Reader(bytes(data))
    root = r.table(r.uoffset(0, "root"), "Model")
    subgraphs = root.tables(2, "subgraphs")
    if len(subgraphs) != 1:
        raise ModelFormatError(f"the model has {len(subgraphs)} subgraphs, expected one")
    out = []
    for t in subgraphs[0].tables(0, "tensors"):
        slots = {}
        for name, slot in (("shape", 0), ("shape_signature", 7)):
            v = t._vector(slot, name)
            if v is not None:
                r._need(v[0], 4 * v[1], name)
                slots[name] = v
        out.append(slots)
    return out
