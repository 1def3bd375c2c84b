"""Writing ``.tflite`` flatbuffers directly, for test models.

The engine's kernel test plan needs single-operator models with exactly
chosen shapes, scales and zero points (extreme ones included), which the
TensorFlow converter cannot be told to produce. This module writes them
with the ``flatbuffers`` builder, following the public TensorFlow Lite
schema. TFLM then runs the same bytes as the reference, so a mistake here
cannot hide a mismatch: TFLM would refuse or compute something else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import flatbuffers
import numpy as np

from triage.engine import tflite as tfl

_DTYPES = {"float32": tfl.FLOAT32, "int32": tfl.INT32, "int8": tfl.INT8, "int16": tfl.INT16}

# Option table fields: name -> (slot, kind, default) per BuiltinOptions type.
_OPTION_FIELDS: dict[int, dict[str, tuple[int, str, Any]]] = {
    1: {
        "padding": (0, "int8", 0),
        "stride_w": (1, "int32", 0),
        "stride_h": (2, "int32", 0),
        "activation": (3, "int8", 0),
        "dilation_w": (4, "int32", 1),
        "dilation_h": (5, "int32", 1),
    },
    2: {
        "padding": (0, "int8", 0),
        "stride_w": (1, "int32", 0),
        "stride_h": (2, "int32", 0),
        "depth_multiplier": (3, "int32", 0),
        "activation": (4, "int8", 0),
        "dilation_w": (5, "int32", 1),
        "dilation_h": (6, "int32", 1),
    },
    5: {
        "padding": (0, "int8", 0),
        "stride_w": (1, "int32", 0),
        "stride_h": (2, "int32", 0),
        "filter_w": (3, "int32", 0),
        "filter_h": (4, "int32", 0),
        "activation": (5, "int8", 0),
    },
    8: {
        "activation": (0, "int8", 0),
        "weights_format": (1, "int8", 0),
        "keep_num_dims": (2, "bool", False),
    },
    9: {"beta": (0, "float32", 0.0)},
    10: {"axis": (0, "int32", 0), "activation": (1, "int8", 0)},
    11: {"activation": (0, "int8", 0)},
    17: {},
    27: {"keep_dims": (0, "bool", False)},
}
OPTIONS_FOR = {
    tfl.CONV_2D: 1,
    tfl.DEPTHWISE_CONV_2D: 2,
    tfl.AVERAGE_POOL_2D: 5,
    tfl.MAX_POOL_2D: 5,
    tfl.FULLY_CONNECTED: 8,
    tfl.SOFTMAX: 9,
    tfl.CONCATENATION: 10,
    tfl.ADD: 11,
    tfl.RESHAPE: 17,
    tfl.MEAN: 27,
    tfl.REDUCE_MAX: 27,
    tfl.QUANTIZE: 0,
}


@dataclass
class _Tensor:
    shape: tuple[int, ...]
    dtype: int
    name: str
    scale: list[float] | None
    zero_point: list[int] | None
    qdim: int
    data: bytes | None


@dataclass
class _Op:
    code: int
    inputs: list[int]
    outputs: list[int]
    options: dict[str, Any]
    options_type: int


@dataclass
class ModelBuilder:
    """Collects tensors and operators, then serialises one subgraph."""

    tensors: list[_Tensor] = field(default_factory=list)
    ops: list[_Op] = field(default_factory=list)

    def tensor(
        self,
        shape: tuple[int, ...] | list[int],
        dtype: str = "int8",
        *,
        name: str = "",
        scale: float | list[float] | None = None,
        zero_point: int | list[int] | None = None,
        qdim: int = 0,
        data: np.ndarray | bytes | None = None,
    ) -> int:
        """Adds a tensor; ``data`` makes it a constant. Returns its index."""
        if scale is not None and not isinstance(scale, list):
            scale = [float(scale)]
        if zero_point is not None and not isinstance(zero_point, list):
            zero_point = [int(zero_point)]
        if scale is not None and zero_point is None:
            zero_point = [0] * len(scale)
        raw = None
        if data is not None:
            raw = data if isinstance(data, bytes) else np.ascontiguousarray(data).tobytes()
        self.tensors.append(
            _Tensor(
                tuple(int(d) for d in shape),
                _DTYPES[dtype],
                name or f"t{len(self.tensors)}",
                scale,
                zero_point,
                qdim,
                raw,
            )
        )
        return len(self.tensors) - 1

    def op(self, code: int, inputs: list[int], outputs: list[int], **options: Any) -> ModelBuilder:
        otype = OPTIONS_FOR.get(code, 0)
        known = _OPTION_FIELDS.get(otype, {})
        for k in options:
            if k not in known:
                raise KeyError(f"option {k!r} unknown for operator {tfl.BUILTIN_NAMES[code]}")
        self.ops.append(_Op(code, list(inputs), list(outputs), dict(options), otype))
        return self

    def build(self, inputs: list[int], outputs: list[int], description: str = "") -> bytes:
        b = flatbuffers.Builder(4096)

        def vec_i32(values: list[int]) -> int:
            b.StartVector(4, len(values), 4)
            for v in reversed(values):
                b.PrependInt32(int(v))
            return b.EndVector()

        def vec_i64(values: list[int]) -> int:
            b.StartVector(8, len(values), 8)
            for v in reversed(values):
                b.PrependInt64(int(v))
            return b.EndVector()

        def vec_f32(values: list[float]) -> int:
            b.StartVector(4, len(values), 4)
            for v in reversed(values):
                b.PrependFloat32(float(v))
            return b.EndVector()

        def vec_bytes(data: bytes) -> int:
            b.StartVector(1, len(data), 16)  # 16-byte aligned constant data
            b.head = b.head - len(data)
            b.Bytes[b.head : b.head + len(data)] = data
            return b.EndVector()

        def vec_offsets(offs: list[int]) -> int:
            b.StartVector(4, len(offs), 4)
            for o in reversed(offs):
                b.PrependUOffsetTRelative(o)
            return b.EndVector()

        # Buffers: 0 is the empty sentinel; one per constant tensor.
        buffer_data: list[bytes | None] = [None]
        tensor_buffer = []
        for t in self.tensors:
            if t.data is not None:
                buffer_data.append(t.data)
                tensor_buffer.append(len(buffer_data) - 1)
            else:
                tensor_buffer.append(0)
        buffers = []
        for data in buffer_data:
            d = vec_bytes(data) if data else None
            b.StartObject(3)
            if d is not None:
                b.PrependUOffsetTRelativeSlot(0, d, 0)
            buffers.append(b.EndObject())

        tensor_offs = []
        for t, buf in zip(self.tensors, tensor_buffer, strict=True):
            shape = vec_i32(list(t.shape))
            name = b.CreateString(t.name)
            q = None
            if t.scale is not None:
                sc = vec_f32(t.scale)
                zp = vec_i64(t.zero_point or [])
                b.StartObject(7)
                b.PrependUOffsetTRelativeSlot(2, sc, 0)
                b.PrependUOffsetTRelativeSlot(3, zp, 0)
                b.PrependInt32Slot(6, t.qdim, 0)
                q = b.EndObject()
            b.StartObject(6)
            b.PrependUOffsetTRelativeSlot(0, shape, 0)
            b.PrependInt8Slot(1, t.dtype, 0)
            b.PrependUint32Slot(2, buf, 0)
            b.PrependUOffsetTRelativeSlot(3, name, 0)
            if q is not None:
                b.PrependUOffsetTRelativeSlot(4, q, 0)
            tensor_offs.append(b.EndObject())

        codes = sorted({o.code for o in self.ops})
        code_offs = []
        for c in codes:
            b.StartObject(4)
            b.PrependInt8Slot(0, min(c, 127), 0)
            b.PrependInt32Slot(2, 1, 1)
            b.PrependInt32Slot(3, c, 0)
            code_offs.append(b.EndObject())

        op_offs = []
        for o in self.ops:
            ins = vec_i32(o.inputs)
            outs = vec_i32(o.outputs)
            opt = None
            if o.options_type:
                fields = _OPTION_FIELDS[o.options_type]
                b.StartObject(max((s for s, _, _ in fields.values()), default=-1) + 1 or 1)
                for k, v in o.options.items():
                    slot, kind, default = fields[k]
                    if kind == "int8":
                        b.PrependInt8Slot(slot, int(v), default)
                    elif kind == "int32":
                        b.PrependInt32Slot(slot, int(v), default)
                    elif kind == "bool":
                        b.PrependBoolSlot(slot, bool(v), default)
                    elif kind == "float32":
                        b.PrependFloat32Slot(slot, float(v), default)
                opt = b.EndObject()
            b.StartObject(5)
            b.PrependUint32Slot(0, codes.index(o.code), 0)
            b.PrependUOffsetTRelativeSlot(1, ins, 0)
            b.PrependUOffsetTRelativeSlot(2, outs, 0)
            if opt is not None:
                b.PrependUint8Slot(3, o.options_type, 0)
                b.PrependUOffsetTRelativeSlot(4, opt, 0)
            op_offs.append(b.EndObject())

        tvec = vec_offsets(tensor_offs)
        ivec = vec_i32(inputs)
        ovec = vec_i32(outputs)
        opvec = vec_offsets(op_offs)
        sgname = b.CreateString("main")
        b.StartObject(5)
        b.PrependUOffsetTRelativeSlot(0, tvec, 0)
        b.PrependUOffsetTRelativeSlot(1, ivec, 0)
        b.PrependUOffsetTRelativeSlot(2, ovec, 0)
        b.PrependUOffsetTRelativeSlot(3, opvec, 0)
        b.PrependUOffsetTRelativeSlot(4, sgname, 0)
        sg = b.EndObject()

        codes_vec = vec_offsets(code_offs)
        sg_vec = vec_offsets([sg])
        buf_vec = vec_offsets(buffers)
        desc = b.CreateString(description or "triage.engine.tflite_write")
        b.StartObject(5)
        b.PrependUint32Slot(0, 3, 0)
        b.PrependUOffsetTRelativeSlot(1, codes_vec, 0)
        b.PrependUOffsetTRelativeSlot(2, sg_vec, 0)
        b.PrependUOffsetTRelativeSlot(3, desc, 0)
        b.PrependUOffsetTRelativeSlot(4, buf_vec, 0)
        root = b.EndObject()
        b.Finish(root, file_identifier=b"TFL3")
        return bytes(b.Output())
