"""The streaming executor (tnn_stream.h) on the host, with each kernel set: whole frames
bit-exact with TFLM running the same .tflite at the frame's size; the shape rewriting it
relies on; the scratch sizing; the exporter's refusals; bad input.

Expected values always come from TFLM (``tflite_micro``) on the frame extended to
multiples of the model's total stride with the input zero point, the cell network's
definition; the LiteRT interpreter's own shape propagation checks
:func:`triage.engine.shapes.static_shape`.
"""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

from triage.contract import model_package as mp
from triage.engine import inputs, refmodel, runtime, shapes, stream
from triage.engine import tflite as tfl
from triage.engine.errors import UnsupportedModelError
from triage.engine.tflite_write import ModelBuilder

from .conftest import StreamBuilt

TRI_OK, TRI_ERR_ARG, TRI_ERR_NO_IMPL, TRI_ERR_ALIGN = 0, -1, -2, -3
TRI_ERR_SIZE, TRI_ERR_SHAPE, TRI_ERR_FORMAT = -4, -5, -6

# frame sizes: one cell, odd multiples of 16, non-square, 1024-px rows, and sizes that are
# not multiples of 16 (extended by the executor as the cell network's definition says)
SIZES = [(16, 16), (48, 80), (80, 48), (112, 208), (16, 1024), (48, 1024), (17, 33),
         (45, 70), (100, 37), (31, 1000)]  # fmt: skip


def synthetic_frames(h: int, w: int, seed: int) -> list[tuple[np.ndarray, str]]:
    """Extremes and patterns: all -128 (the zero point), all 127, uniform noise,
    checkerboards of the extremes, gradients, one bright pixel on -128."""
    rng = np.random.default_rng([seed, h, w])
    yy, xx = np.mgrid[0:h, 0:w]
    out = [
        (np.full((h, w, 4), -128, np.int8), "all -128"),
        (np.full((h, w, 4), 127, np.int8), "all 127"),
        (rng.integers(-128, 128, (h, w, 4)).astype(np.int8), "noise"),
        (
            np.where(((yy // 3 + xx // 5) % 2)[..., None], 127, -128).repeat(4, -1).astype(np.int8),
            "checkerboard",
        ),
        (
            ((xx * 255 // max(1, w - 1) - 128)[..., None] + np.arange(4) * 0).astype(np.int8),
            "gradient",
        ),
    ]
    spot = np.full((h, w, 4), -128, np.int8)
    spot[h // 2, w // 3] = 127
    out.append((spot, "one pixel"))
    return out


def assert_frame(ours: np.ndarray, ref: np.ndarray, what: str) -> None:
    assert ours.shape == ref.shape, f"{what}: shape {ours.shape} != TFLM {ref.shape}"
    bad = np.argwhere(ours != ref)
    if len(bad):
        first = ", ".join(
            f"{tuple(int(v) for v in b)}: ours {int(ours[tuple(b)])} TFLM {int(ref[tuple(b)])}"
            for b in bad[:6]
        )
        raise AssertionError(f"{what}: {len(bad)} of {ref.size} outputs differ; {first}")


# ---- shapes ----------------------------------------------------------------------------


@pytest.mark.parametrize("h,w", [(16, 16), (48, 80), (17, 33), (64, 1024), (1024, 16)])
def test_static_shape_agrees_with_litert(cellref_tflite: bytes, h: int, w: int):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    model = tfl.read_model(shapes.static_shape(cellref_tflite, h, w))
    it = Interpreter(
        model_content=cellref_tflite,
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    it.resize_tensor_input(it.get_input_details()[0]["index"], (1, h, w, 4))
    it.allocate_tensors()
    litert = {t["index"]: tuple(int(d) for d in t["shape"]) for t in it.get_tensor_details()}
    # (LiteRT appends scratch tensors of its own kernels after the model's)
    assert {t.index: t.shape for t in model.tensors} == {
        i: s for i, s in litert.items() if i < len(model.tensors)
    }
    # quantisation and weights untouched: only shape values differ
    orig = tfl.read_model(cellref_tflite)
    for a, b in zip(orig.tensors, model.tensors, strict=True):
        assert (a.quant, a.data, a.dtype) == (b.quant, b.data, b.dtype)


def test_static_shape_refuses_what_it_cannot_derive():
    mb = ModelBuilder()
    x = mb.tensor((1, 4, 4, 2), "int8", scale=0.1, zero_point=0)
    sh = mb.tensor((2,), "int32", data=np.array([1, 32], np.int32))
    y = mb.tensor((1, 32), "int8", scale=0.1, zero_point=0)
    mb.op(tfl.RESHAPE, [x, sh], [y])
    bytes_ = mb.build([x], [y])
    assert tfl.read_model(shapes.static_shape(bytes_, 4, 4)).tensors[y].shape == (1, 32)
    with pytest.raises(UnsupportedModelError, match="RESHAPE"):
        shapes.static_shape(bytes_, 8, 8)  # 128 values do not fit [1, 32]


# ---- exporter -----------------------------------------------------------------------------


def test_exporter_describes_the_cell_network(cellref_tflite: bytes):
    c = stream.compile_stream(cellref_tflite)
    assert [lay.name for lay in c.layers] == [
        "CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D",
        "DEPTHWISE_CONV_2D", "CONV_2D", "MAX_POOL_2D", "DEPTHWISE_CONV_2D", "CONV_2D",
        "CONV_2D", "SOFTMAX",
    ]  # fmt: skip
    assert c.multiple == (16, 16) and c.in_c == 4 and c.out_c == 4
    assert (c.in_zero_point, c.out_zero_point) == (-128, -128)
    assert c.output_shape(17, 33) == (2, 3, 4)
    # 3x3 stride-2 SAME layers on even sizes pad one row at the bottom, none at the top
    g = c.geometry(48, 80)[0]
    assert (g.out_h, g.out_w, g.pad_t, g.pad_l) == (24, 40, 0, 0)
    macs_per_px = c.macs(1024, 1024) / 1024**2
    assert 150 <= macs_per_px <= 250, macs_per_px


def test_exporter_refuses_what_is_not_a_chain(engine_root):
    repcnn = refmodel.cached_representative_tflite(engine_root / "cache")
    with pytest.raises(UnsupportedModelError, match=r"operator 5 \(ADD\) is outside the stream"):
        stream.compile_stream(repcnn)


def _one_op(code: int, **options) -> bytes:
    rng = np.random.default_rng(1)
    mb = ModelBuilder()
    x = mb.tensor((1, 16, 16, 4), "int8", scale=0.02, zero_point=-128, name="frame")
    if code in (tfl.AVERAGE_POOL_2D,):
        y = mb.tensor((1, 8, 8, 4), "int8", scale=0.02, zero_point=-128)
        mb.op(code, [x], [y], padding=0, stride_w=2, stride_h=2, filter_w=2, filter_h=2)
        return mb.build([x], [y])
    mult = options.pop("depth_multiplier", 1)
    cout = 4 * mult
    w = mb.tensor((1, 3, 3, cout), "int8", scale=[0.01] * cout, qdim=3,
                  data=rng.integers(-127, 128, (1, 3, 3, cout)).astype(np.int8))  # fmt: skip
    y = mb.tensor((1, 16, 16, cout), "int8", scale=0.05, zero_point=-128)
    b = mb.tensor((cout,), "int32", scale=[0.0002] * cout, data=np.zeros(cout, np.int32))
    mb.op(code, [x, w, b], [y], padding=0, stride_w=1, stride_h=1, depth_multiplier=mult,
          **options)  # fmt: skip
    return mb.build([x], [y])


@pytest.mark.parametrize(
    "model,match",
    [
        (lambda: _one_op(tfl.AVERAGE_POOL_2D), r"operator 0 \(AVERAGE_POOL_2D\) is outside"),
        (
            lambda: _one_op(tfl.DEPTHWISE_CONV_2D, dilation_h=2, dilation_w=2),
            r"operator 0 \(DEPTHWISE_CONV_2D\): dilation",
        ),
        (
            lambda: _one_op(tfl.DEPTHWISE_CONV_2D, depth_multiplier=2),
            r"operator 0 \(DEPTHWISE_CONV_2D\): depth multiplier 2",
        ),
    ],
)
def test_exporter_refuses_naming_the_operator(model, match):
    with pytest.raises(UnsupportedModelError, match=match):
        stream.compile_stream(model())


def test_exporter_refuses_a_tile_classifier(repcnn_tflite: bytes):
    # a whole-tile network (global pooling and a dense head) is not a chain of cells
    with pytest.raises(UnsupportedModelError, match="outside the streaming chain"):
        stream.compile_stream(repcnn_tflite)


# ---- whole frames against TFLM ------------------------------------------------------------


def test_scratch_bytes_as_the_exporter_says(streamed: StreamBuilt):
    """The engine's tnn_stream_scratch_bytes against the exporter's mirror of it, at many
    widths: the rings grow with the width as the exporter states (the per-layer state is
    target-dependent, so it is read off one width)."""
    sm = streamed.model("cellref")
    c = streamed.compiled["cellref"]
    ks = streamed.kernel_set
    base = c.scratch_bytes(16, ks, 0)
    state = (sm.scratch_bytes(16) - base) // len(c.layers)
    assert 40 <= state <= 200
    for w in (16, 17, 31, 48, 100, 513, 1000, 1024, 4000):
        assert sm.scratch_bytes(w) == c.scratch_bytes(w, ks, state), w
    assert sm.scratch_bytes(0) == 0
    assert sm.scratch_bytes(70000) == 0


@pytest.mark.parametrize("h,w", SIZES)
def test_cell_network_frames_match_tflm(streamed: StreamBuilt, h: int, w: int):
    sm = streamed.model("cellref")
    for frame, what in synthetic_frames(h, w, 11):
        ref = streamed.tflm("cellref", frame)
        assert_frame(sm.frame(frame), ref, f"cellref {h}x{w} {what} ({streamed.kernel_set})")


def test_cell_network_outputs_vary(streamed: StreamBuilt):
    """A comparison is only as strong as the outputs are varied."""
    frame, _ = synthetic_frames(112, 208, 3)[2]
    ref = streamed.tflm("cellref", frame)
    assert len(np.unique(ref)) >= 50 and ref.min() < -100 and ref.max() > 30


def test_cell_network_real_frames_match_tflm(streamed: StreamBuilt, data_dir):
    """Windows of the ten ports' Sentinel-2 scenes, preprocessed per pixel as the tile spec
    says, at every size of SIZES and a whole 1024 x 1024 frame."""
    sm = streamed.model("cellref")
    frames = inputs.real_frames(data_dir, [*SIZES, (1024, 1024), (333, 517)], seed=5)
    varied = 0
    for frame, where in frames:
        ref = streamed.tflm("cellref", frame)
        assert_frame(sm.frame(frame), ref, f"cellref {frame.shape} at {where}")
        varied += len(np.unique(ref)) > 8
    assert varied >= len(frames) // 2


def test_plan_cases_stream_like_tflm(streamed: StreamBuilt, kernel_cases):
    """The kernel plan's single CONV_2D / DEPTHWISE_CONV_2D / MAX_POOL_2D / SOFTMAX models
    (odd sizes, strides 1-3, SAME and VALID, 1 to 64 channels, extreme zero points and
    scales, clamped activations, the DSP kernels' two-rounding paths) as streaming models."""
    names = [n for n in streamed.compiled if n.startswith("s_")]
    assert len(names) >= 40
    by_name = {f"s_{c.name}": c for c in kernel_cases}
    for name in names:
        case = by_name[name]
        sm = streamed.model(name)
        _, h, w, ch = case.input_shape
        for x in case.inputs:
            frame = x.reshape(h, w, ch)
            assert_frame(sm.frame(frame), streamed.tflm(name, frame), f"{name} ({h}x{w}x{ch})")


# ---- bad input ----------------------------------------------------------------------------


def test_bad_frames_and_scratch_get_a_status(streamed: StreamBuilt):
    sm = streamed.model("cellref")
    need = sm.scratch_bytes(64)
    buf = np.zeros(need + 64, np.uint8)
    base = buf.ctypes.data + (-buf.ctypes.data) % 8
    ok = sm.begin(64, 64, base, need)
    assert ok.status == TRI_OK and ok.asked == need and ok.missing == 0
    # a frame narrower (or lower) than one cell
    assert sm.begin(64, 15, base, need).status == TRI_ERR_SHAPE
    assert sm.begin(8, 64, base, need).status == TRI_ERR_SHAPE
    assert sm.begin(64, 0, base, need).status == TRI_ERR_SHAPE
    # wider than the engine's dimensions
    assert sm.begin(64, 70000, base, need).status == TRI_ERR_SHAPE
    # scratch one byte short, or given for a narrower frame
    r = sm.begin(64, 64, base, need - 1)
    assert (r.status, r.asked, r.available, r.missing) == (TRI_ERR_SIZE, need, need - 1, 1)
    assert sm.begin(64, 65, base, need).status == TRI_ERR_SIZE
    assert sm.begin(64, 64, base + 4, need).status == TRI_ERR_ALIGN
    assert sm.begin(64, 64, None, need).status == TRI_ERR_ARG
    # the run itself: too small a scratch is refused before anything is touched
    res = streamed.model("cellref").run(np.zeros((64, 64, 4), np.int8), scratch_bytes=need - 8)
    assert res.status == TRI_ERR_SIZE and res.rows_in == 0
    # the sink refusing (too small an output buffer) stops the run with its status
    res = sm.run(np.zeros((64, 64, 4), np.int8), out_bytes=4 * 4 * 4 - 1)
    assert res.status == TRI_ERR_SIZE and res.rows_out == 3


def _plan_copy(sm, change) -> tuple[np.ndarray, int, runtime.StreamModelStruct]:
    """A copy of the model's plan in an 8-aligned buffer, changed by ``change(buf, at)``
    (``at(layer, field)``: a field's offset; layer None: the header), and a
    tnn_stream_model_t naming it."""
    raw = np.zeros(len(sm.plan) + 16, np.uint8)
    base = (-raw.ctypes.data) % 8
    buf = raw[base : base + len(sm.plan)]
    buf[:] = np.frombuffer(sm.plan, np.uint8)

    def at(layer, field):
        if layer is None:
            return mp.PLAN_HEADER.field(field).offset
        return mp.PLAN_HEADER.size + layer * mp.PLAN_LAYER.size + mp.PLAN_LAYER.field(field).offset

    change(buf, at)
    model = runtime.StreamModelStruct(buf.ctypes.data, len(sm.plan))
    return raw, buf.ctypes.data, model


def _be(buf, off, value, n):
    buf[off : off + n] = np.frombuffer(int(value).to_bytes(n, "big"), np.uint8)


def _add(buf, off, delta, n):
    _be(buf, off, int.from_bytes(bytes(buf[off : off + n]), "big") + delta, n)


def _plan_bytes(buf) -> int:
    return int.from_bytes(bytes(buf[8:12]), "big")


def _past_end(b, at):
    _be(b, at(1, "filter"), _plan_bytes(b) - 8, 4)


def _upside_down(b, at):
    _be(b, at(0, "act_min"), 100, 1)
    _be(b, at(0, "act_max"), 0x9C, 1)


@pytest.mark.parametrize(
    "what,change,status,layer",
    [
        ("a kind the plan does not name", lambda b, at: _be(b, at(3, "kind"), 9, 1),
         TRI_ERR_FORMAT, 3),
        ("a kernel this engine lacks", lambda b, at: _be(b, at(None, "kernels"), 0x10F, 2),
         TRI_ERR_NO_IMPL, 0xFFFF),
        ("channels that do not chain", lambda b, at: _be(b, at(5, "in_c"), 31, 2),
         TRI_ERR_FORMAT, 5),
        ("a kernel taller than 16", lambda b, at: _be(b, at(2, "kernel_h"), 17, 1),
         TRI_ERR_NO_IMPL, 2),
        ("an unknown padding rule", lambda b, at: _be(b, at(4, "pad"), 7, 1), TRI_ERR_FORMAT, 4),
        ("weights past the plan's end", _past_end, TRI_ERR_FORMAT, 1),
        ("weights inside the layer table", lambda b, at: _be(b, at(1, "filter"), 40, 4),
         TRI_ERR_FORMAT, 1),
        ("multipliers misaligned", lambda b, at: _add(b, at(6, "mult"), 2, 4), TRI_ERR_FORMAT, 6),
        ("packed data past the end", lambda b, at: _be(b, at(9, "pdata_words"), 1 << 28, 4),
         TRI_ERR_FORMAT, 9),
        ("an offset that wraps", lambda b, at: _be(b, at(0, "bias"), 0xFFFFFFFC, 4),
         TRI_ERR_FORMAT, 0),
        ("an activation range upside down", _upside_down, TRI_ERR_FORMAT, 0),
        ("a softmax keeping positive differences",
         lambda b, at: _be(b, at(11, "softmax_diff_min"), 5, 4), TRI_ERR_FORMAT, 11),
        ("another ABI", lambda b, at: _be(b, at(None, "abi"), 1, 2), TRI_ERR_FORMAT, 0xFFFF),
        ("a bad magic", lambda b, at: _be(b, at(None, "magic"), 0x31534E54, 4), TRI_ERR_FORMAT,
         0xFFFF),
        ("a size that disagrees", lambda b, at: _be(b, at(None, "plan_bytes"), 64, 4),
         TRI_ERR_FORMAT, 0xFFFF),
        ("33 layers", lambda b, at: _be(b, at(None, "layers"), 33, 2), TRI_ERR_FORMAT, 0xFFFF),
        ("the wrong output channels", lambda b, at: _be(b, at(None, "out_c"), 5, 2),
         TRI_ERR_FORMAT, 0xFFFF),
    ],
)  # fmt: skip
def test_malformed_plans_are_refused_at_begin(streamed: StreamBuilt, what, change, status, layer):
    """The plan is data (from a model slot as well as linked in): begin checks every field a
    run relies on, arrays inside the plan and aligned, and names the layer."""
    sm = streamed.model("cellref")
    _raw, _addr, model = _plan_copy(sm, change)
    scratch = np.zeros(sm.scratch_bytes(64) + 4096, np.uint8)
    base = scratch.ctypes.data + (-scratch.ctypes.data) % 8
    r = sm.begin(64, 64, base, scratch.nbytes - 8, model_address=ctypes.addressof(model))
    assert (r.status, r.failed_layer) == (status, layer), what


def test_plan_copy_runs_like_the_linked_plan(streamed: StreamBuilt):
    """The same bytes elsewhere in memory (as in a model slot) give the same status and the
    same scratch; a plan not 8-aligned is refused."""
    sm = streamed.model("cellref")
    _raw, _addr, model = _plan_copy(sm, lambda b, at: None)
    scratch = np.zeros(sm.scratch_bytes(64) + 16, np.uint8)
    base = scratch.ctypes.data + (-scratch.ctypes.data) % 8
    r = sm.begin(64, 64, base, sm.scratch_bytes(64), model_address=ctypes.addressof(model))
    assert (r.status, r.asked) == (TRI_OK, sm.scratch_bytes(64))
    raw = np.zeros(len(sm.plan) + 16, np.uint8)
    off = 4 + (-raw.ctypes.data) % 8
    raw[off : off + len(sm.plan)] = np.frombuffer(sm.plan, np.uint8)
    moved = runtime.StreamModelStruct(raw.ctypes.data + off, len(sm.plan))
    r = sm.begin(64, 64, base, sm.scratch_bytes(64), model_address=ctypes.addressof(moved))
    assert r.status == TRI_ERR_ALIGN


def test_plan_matches_the_contract(streamed: StreamBuilt):
    """The exported plan parses with the contract's reader and says what the model is."""
    sm = streamed.model("cellref")
    info = mp.parse_plan(sm.plan)
    c = streamed.compiled["cellref"]
    assert info.header["abi"] == mp.ENGINE_ABI
    assert [lay["kind"] for lay in info.layers] == [int(lay.kind) for lay in c.layers]
    assert info.header["kernels"] == mp.ALL_KERNELS
    assert info.output_shape(100, 37) == c.output_shape(100, 37)
