"""The cell network: one fully-convolutional pass over the whole frame, one decision per cell.

The frame is cut into *cells*: ``CELL_PX`` x ``CELL_PX`` squares from the frame's
origin (row and column ``16 i``); the last row and column of cells are clipped
by the frame's edge. The network runs once per pixel over the frame (no tile
overlap, no second opinion) and has a total stride of ``CELL_PX``: output
``[i, j]`` is the class probabilities of cell ``(i, j)``.

What the firmware computes (bit-exact with TFLM on the same flatbuffer):

1. per pixel and band, the tile spec's integer preprocessing (gain, saturation,
   exact integer square root): ``q = isqrt(min((dn * gain_q8) >> 8, 65535)) - 128``;
2. the frame is extended to ``Hp = ceil(H / 16) * 16`` rows and ``Wp`` columns
   with ``q = -128`` (raw value 0, the input's zero point: float 0);
3. the layers of :func:`build_cellnet` over the ``Hp x Wp x 4`` input, each with
   TensorFlow's SAME padding (zero point padding of every layer's input at the
   extended frame's edges only; 3x3 stride-2 layers on even sizes pad one row at
   the bottom and one column at the right, none at the top and left);
4. the ``Hp/16 x Wp/16 x 4`` int8 softmax: cell ``(i, j)``'s outputs.

Steps 3-4 are exactly the static-shape flatbuffer :func:`static_shape` makes for
``Hp x Wp`` (TFLM runs it whole); a streaming implementation computes the same
numbers row band by row band as long as it keeps every layer's full input rows
in view (each output row depends on a bounded number of input rows:
:func:`receptive_field`).
"""

from __future__ import annotations

import struct

import numpy as np
from pydantic import BaseModel, ConfigDict, model_validator

from triage.contract import tile_spec as contract_spec
from triage.contract.tile_spec import preprocess_pixels, tile_spec
from triage_models.errors import QuantizationError
from triage_models.quantize import int8_flatbuffer

CELL_PX = tile_spec().cell_px  # the contract's cell size (models/tile_spec.json)
CELL_ALLOWED_OPS = frozenset(
    {
        "CONV_2D",
        "DEPTHWISE_CONV_2D",
        "MAX_POOL_2D",
        "AVERAGE_POOL_2D",
        "ADD",
        "CONCATENATION",
        "SOFTMAX",
    }
)


class CellArchConfig(BaseModel):
    """Layer widths and strides; the strides multiply to ``CELL_PX``."""

    model_config = ConfigDict(extra="forbid")
    stem_channels: int = 8
    stem_kernel: int = 3
    stem_stride: int = 2
    down_kernel: int = 3  # kernel of the stride-2 depthwise layers (4 with a 2x2 stem: the
    # receptive field is then centred on the cell: TF's SAME padding of an even kernel at
    # stride 2 is symmetric)
    blocks: list[tuple[int, int]] = [(24, 2), (32, 1), (48, 2), (64, 2)]  # (1x1 out, dw stride)
    head_dw: int = 1  # 3x3 depthwise layers at the cell stride before the classifier
    head_channels: int = 0  # an extra 1x1 layer before the classifier (0: none)
    final_pool: int = 1  # a max pooling of this size and stride after the blocks (1: none)
    dropout: float = 0.1
    # rows and columns of zero point (raw 0) put before the frame's first row and column:
    # 3x3 stride-2 layers under SAME padding centre output i's receptive field on input
    # 16 i + 15; with 8 rows before the frame that is frame row 16 i + 7, the middle of
    # cell i (rows 16 i .. 16 i + 15)
    input_offset: int = 0

    @model_validator(mode="after")
    def _stride(self) -> CellArchConfig:
        s = self.stem_stride * self.final_pool
        for _, st in self.blocks:
            s *= st
        if s != CELL_PX:
            raise ValueError(f"total stride {s} is not the cell size {CELL_PX}")
        return self

    def layers(self) -> list[dict]:
        """The layer list (kind, kernel, stride, in/out channels, cumulative stride)."""
        c_in = tile_spec().n_bands
        out = []
        s = self.stem_stride
        out.append(
            dict(
                kind="conv",
                k=self.stem_kernel,
                stride=self.stem_stride,
                cin=c_in,
                cout=self.stem_channels,
                at=s,
            )
        )
        c = self.stem_channels
        for cout, st in self.blocks:
            s *= st
            k = self.down_kernel if st > 1 else 3
            out.append(dict(kind="dw", k=k, stride=st, cin=c, cout=c, at=s))
            out.append(dict(kind="conv", k=1, stride=1, cin=c, cout=cout, at=s))
            c = cout
        if self.final_pool > 1:
            s *= self.final_pool
            out.append(
                dict(kind="maxpool", k=self.final_pool, stride=self.final_pool, cin=c, cout=c, at=s)
            )
        for _ in range(self.head_dw):
            out.append(dict(kind="dw", k=3, stride=1, cin=c, cout=c, at=s))
        if self.head_channels:
            out.append(dict(kind="conv", k=1, stride=1, cin=c, cout=self.head_channels, at=s))
            c = self.head_channels
        out.append(
            dict(kind="conv", k=1, stride=1, cin=c, cout=tile_spec().n_classes, at=s, last=True)
        )
        return out

    def macs_per_pixel(self) -> float:
        """Multiply-accumulates per input pixel (frame interior)."""
        total = 0.0
        for lay in self.layers():
            if lay["kind"] == "maxpool":
                continue
            per_out = lay["k"] * lay["k"] * (lay["cin"] if lay["kind"] == "conv" else 1)
            total += per_out * lay["cout"] / lay["at"] ** 2
        return total

    def receptive_field(self) -> int:
        """Receptive field of one output, in input pixels."""
        rf, jump = 1, 1
        for lay in self.layers():
            rf += (lay["k"] - 1) * jump
            jump *= lay["stride"]
        return rf


def build_cellnet(cfg: CellArchConfig | None = None, size: tuple[int, int] | None = None):
    """The float Keras model: input ``[H, W, bands]`` in 0..1 (any H, W multiples of 16),
    output ``[H/16, W/16, classes]`` softmax. Layers have short names (flatbuffer bytes)."""
    import keras
    from keras import layers

    cfg = cfg or CellArchConfig()
    spec = tile_spec()
    names = iter(f"l{i}" for i in range(1000))

    def bn_relu(x):
        x = layers.BatchNormalization(name=next(names))(x)
        return layers.ReLU(name=next(names))(x)

    h, w = size or (None, None)
    inp = keras.Input((h, w, spec.n_bands), name="frame")
    x = inp
    for lay in cfg.layers():
        if lay.get("last"):
            if cfg.dropout:
                x = layers.Dropout(cfg.dropout, name=next(names))(x)
            x = layers.Conv2D(lay["cout"], 1, name=next(names))(x)
        elif lay["kind"] == "maxpool":
            x = layers.MaxPooling2D(
                lay["k"], strides=lay["stride"], padding="same", name=next(names)
            )(x)
        elif lay["kind"] == "conv":
            x = layers.Conv2D(
                lay["cout"],
                lay["k"],
                strides=lay["stride"],
                padding="same",
                use_bias=False,
                name=next(names),
            )(x)
            x = bn_relu(x)
        else:
            x = layers.DepthwiseConv2D(
                lay["k"],
                strides=lay["stride"],
                padding="same",
                use_bias=False,
                name=next(names),
            )(x)
            x = bn_relu(x)
    out = layers.Softmax(name="probs")(x)
    return keras.Model(inp, out, name="cellnet")


# ----------------------------------------------------------------------------- frames


def padded_size(n: int, offset: int = 0) -> int:
    """Rows (columns) of the network input for a frame of ``n``: ``offset`` rows before it,
    the frame, then rows up to the next multiple of ``CELL_PX``."""
    return -(-(n + offset) // CELL_PX) * CELL_PX


def cells_of(n: int) -> int:
    """Cells along an axis of ``n`` pixels (the last one clipped by the frame's edge)."""
    return -(-n // CELL_PX)


def frame_cells(out: np.ndarray, h: int, w: int) -> np.ndarray:
    """The outputs of the frame's cells (drops output rows/columns past the frame)."""
    return out[: cells_of(h), : cells_of(w)]


def preprocess_frame(
    frame: np.ndarray, gain_q8: np.ndarray | None = None, offset: int = 0
) -> np.ndarray:
    """int8 network input ``[Hx, Wx, C]`` of a uint16 frame ``[H, W, C]``: the contract's
    preprocessing (:func:`triage.contract.tile_spec.preprocess_frame`, what the firmware
    computes), with ``offset`` rows and columns of the input zero point before the frame
    and as many after it as make a multiple of ``CELL_PX`` (:func:`padded_size`).
    ``offset`` 0 is exactly the contract's function."""
    if not offset:
        return contract_spec.preprocess_frame(frame, gain_q8)
    spec = tile_spec()
    frame = np.asarray(frame)
    if frame.ndim != 3:
        raise ValueError(f"frame must be [H, W, {spec.n_bands}], got shape {frame.shape}")
    h, w = frame.shape[:2]
    out = np.full(
        (padded_size(h, offset), padded_size(w, offset), spec.n_bands),
        spec.input_quantization.zero_point,
        np.int8,
    )
    out[offset : offset + h, offset : offset + w] = preprocess_pixels(frame, gain_q8)
    return out


def to_float(q: np.ndarray) -> np.ndarray:
    return (q.astype(np.float32) + 128.0) / 255.0


def float_frame(model, q: np.ndarray) -> np.ndarray:
    """Float probabilities ``[Hp/16, Wp/16, classes]`` of one preprocessed frame."""
    return np.asarray(model(to_float(q)[None], training=False))[0]


# ----------------------------------------------------------------------------- int8


def convert_int8(model, representative: np.ndarray) -> bytes:
    """Full-integer int8 flatbuffer of the cell network, spatial size left open, from the
    representative int8 windows ``[N, S, S, C]`` (:func:`quantize.int8_flatbuffer`)."""
    s, c = representative.shape[1], representative.shape[3]
    return int8_flatbuffer(model, (s, c), (to_float(x)[None] for x in representative))


def _litert(tflite: bytes):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    return Interpreter(
        model_content=tflite,
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )


def _u32(b: bytes | bytearray, p: int) -> int:
    return struct.unpack_from("<I", b, p)[0]


def _field(b, table: int, slot: int) -> int:
    vt = table - struct.unpack_from("<i", b, table)[0]
    vt_len = struct.unpack_from("<H", b, vt)[0]
    if 4 + 2 * slot + 2 > vt_len:
        return 0
    off = struct.unpack_from("<H", b, vt + 4 + 2 * slot)[0]
    return table + off if off else 0


def _vector(b, table: int, slot: int) -> tuple[int, int]:
    p = _field(b, table, slot)
    if not p:
        return 0, 0
    v = p + _u32(b, p)
    return v + 4, _u32(b, v)


def static_shape(tflite: bytes, h: int, w: int) -> bytes:
    """The same flatbuffer with every activation tensor's shape fixed for an ``h x w`` input
    (multiples of ``CELL_PX``): TFLM needs static shapes. The shapes come from LiteRT's own
    shape propagation; only the shape values change (written in place)."""
    if h % CELL_PX or w % CELL_PX:
        raise ValueError(f"input {h}x{w} is not a multiple of {CELL_PX}")
    it = _litert(tflite)
    inp = it.get_input_details()[0]
    it.resize_tensor_input(inp["index"], (1, h, w, inp["shape"][3]))
    it.allocate_tensors()
    shapes = {t["index"]: [int(d) for d in t["shape"]] for t in it.get_tensor_details()}
    b = bytearray(tflite)
    model = _u32(b, 0)
    sub_start, n_sub = _vector(b, model, 2)
    if n_sub != 1:
        raise QuantizationError(f"expected one subgraph, found {n_sub}")
    sub = sub_start + _u32(b, sub_start)
    t_start, n_t = _vector(b, sub, 0)
    for i in range(n_t):
        e = t_start + 4 * i
        tensor = e + _u32(b, e)
        want = shapes.get(i)
        if want is None:
            continue
        for slot in (0, 7):  # shape, shape_signature
            start, n = _vector(b, tensor, slot)
            if not n:
                continue
            if n != len(want):
                raise QuantizationError(f"tensor {i}: rank {n} differs from {len(want)}")
            struct.pack_into(f"<{n}i", b, start, *want)
    return bytes(b)


def validate_cellnet(tflite: bytes) -> None:
    """Raise :class:`QuantizationError` unless the model meets the cell contract: only the
    engine's operators, int8 in and out, input scale 1/255 zero point -128, output int8
    softmax scale 1/256 zero point -128 over the classes, total stride ``CELL_PX``. (That
    the firmware's streaming exporter takes it is the ``triage`` layer's check:
    ``triage model train`` compiles it before writing.)"""
    spec = tile_spec()
    it = _litert(static_shape(tflite, 4 * CELL_PX, 4 * CELL_PX))
    it.allocate_tensors()
    ops = {op["op_name"] for op in it._get_ops_details()}
    bad = ops - CELL_ALLOWED_OPS
    if bad:
        raise QuantizationError(f"operators outside the cell network's set: {sorted(bad)}")
    (inp,) = it.get_input_details()
    (out,) = it.get_output_details()
    scale, zp = inp["quantization"]
    iq = spec.input_quantization
    if inp["dtype"] != np.int8 or zp != iq.zero_point or not np.isclose(scale, iq.scale):
        raise QuantizationError(
            f"input must be int8 scale 1/255 zero point -128, got {inp['dtype']} {scale} {zp}"
        )
    oq = spec.output_quantization
    oscale, ozp = out["quantization"]
    if out["dtype"] != np.int8 or ozp != oq.zero_point or not np.isclose(oscale, oq.scale):
        raise QuantizationError(
            f"output must be int8 scale 1/256 zero point -128, got {out['dtype']} {oscale} {ozp}"
        )
    if tuple(out["shape"]) != (1, 4, 4, spec.n_classes):
        raise QuantizationError(
            f"a 64x64 input must give [1, 4, 4, {spec.n_classes}] outputs, got {out['shape']}"
        )
    for t in it.get_tensor_details():
        if t["dtype"] == np.float32:
            raise QuantizationError(f"float tensor left in the model: {t['name']}")
        scale = t["quantization"][0]
        if t["dtype"] == np.int8 and len(t["shape"]) == 4 and 0 < scale < 1e-6:
            raise QuantizationError(
                f"activation {t['name']!r} has scale {scale:g}: a dead layer (all outputs 0 on "
                "the representative set), which TFLM refuses"
            )


def macs(tflite: bytes, h: int, w: int) -> int:
    """Multiply-accumulates of one ``h x w`` inference, from the model's own shapes."""
    it = _litert(static_shape(tflite, h, w))
    it.allocate_tensors()
    shapes = {t["index"]: tuple(t["shape"]) for t in it.get_tensor_details()}
    total = 0
    for op in it._get_ops_details():
        o = shapes[op["outputs"][0]]
        wt = shapes[op["inputs"][1]] if len(op["inputs"]) > 1 else None
        if op["op_name"] == "CONV_2D":
            total += int(np.prod(o)) * wt[1] * wt[2] * wt[3]
        elif op["op_name"] == "DEPTHWISE_CONV_2D":
            total += int(np.prod(o)) * wt[1] * wt[2]
    return int(total)


def tflm_frame(tflite: bytes, q: np.ndarray) -> np.ndarray:
    """int8 outputs ``[Hp/16, Wp/16, classes]`` of TFLM on one preprocessed frame ``q``."""
    from tflite_micro import runtime

    h, w = q.shape[:2]
    model = static_shape(tflite, h, w)
    arena = 3 * h * w * q.shape[2] + (1 << 20) + 4 * h * w * 8
    it = runtime.Interpreter.from_bytes(model, arena_size=int(arena))
    it.set_input(q[None], 0)
    it.invoke()
    return np.array(it.get_output(0)[0])


def litert_frame(tflite: bytes, q: np.ndarray) -> np.ndarray:
    """The same with LiteRT (for quick checks; TFLM is the oracle)."""
    it = _litert(tflite)
    inp = it.get_input_details()[0]
    it.resize_tensor_input(inp["index"], (1, *q.shape))
    it.allocate_tensors()
    it.set_tensor(inp["index"], q[None])
    it.invoke()
    return np.array(it.get_tensor(it.get_output_details()[0]["index"])[0])


# ----------------------------------------------------------------------------- on board


def same_padding(k: int, s: int) -> tuple[int, int]:
    """TensorFlow SAME padding (before, after) of a layer whose input size is a multiple of
    its stride: ``k - s`` in all (at least 0), the extra one after."""
    total = max(k - s, 0)
    return total // 2, total - total // 2


def input_rows_of_cell_row(cfg: CellArchConfig) -> tuple[int, int]:
    """``(a, b)``: the outputs of cell row ``i`` depend on frame rows ``16 i + a`` to
    ``16 i + b`` (inclusive; rows outside the extended frame are the layers' padding).
    The same holds for columns."""
    lo, hi = 0, 0  # rows of the current layer's output, relative to i (in its own units)
    for lay in reversed(cfg.layers()):
        k, s = lay["k"], lay["stride"]
        before, _ = same_padding(k, s)
        lo, hi = lo * s - before, hi * s - before + k - 1
    return lo - cfg.input_offset, hi - cfg.input_offset


def layer_table(cfg: CellArchConfig, h: int, w: int) -> list[dict]:
    """The on-board layer list for an ``h x w`` frame: shapes after the extension to
    multiples of 16, SAME padding per side, MACs."""
    hp, wp = padded_size(h, cfg.input_offset), padded_size(w, cfg.input_offset)
    rows = []
    for lay in cfg.layers():
        before, after = same_padding(lay["k"], lay["stride"])
        ih, iw = hp * lay["stride"] // lay["at"], wp * lay["stride"] // lay["at"]
        oh, ow = hp // lay["at"], wp // lay["at"]
        op = {"conv": "CONV_2D", "dw": "DEPTHWISE_CONV_2D", "maxpool": "MAX_POOL_2D"}[lay["kind"]]
        per = (
            0
            if lay["kind"] == "maxpool"
            else lay["k"] ** 2 * (lay["cin"] if lay["kind"] == "conv" else 1)
        )
        rows.append(
            {
                "op": op,
                "kernel": lay["k"],
                "stride": lay["stride"],
                "padding_top_bottom": [before, after],
                "padding_left_right": [before, after],
                "input": [ih, iw, lay["cin"]],
                "output": [oh, ow, lay["cout"]],
                "activation": "none (then SOFTMAX)"
                if lay.get("last")
                else ("none" if lay["kind"] == "maxpool" else "RELU (fused)"),
                "macs": oh * ow * lay["cout"] * per,
            }
        )
    return rows
