"""A tiny cell network written directly as a ``.tflite`` (no TensorFlow): a 3x3 stride-2
CONV_2D (4 bands to ``width`` channels, ReLU), an 8x8 stride-8 MAX_POOL_2D, a 1x1 CONV_2D to
the 4 classes and SOFTMAX, total stride 16 like the cell network; quantised as the tile spec
says (input 1/255 with zero point -128, output 1/256 with -128). Seeded weights, so that
tests get models that differ (a second model to uplink, a smaller one that fits where the
representative network does not). TFLM runs the same bytes as the reference."""

from __future__ import annotations

import numpy as np

from triage.engine import tflite as tfl
from triage.engine.tflite_write import ModelBuilder

IN_SCALE = np.float32(1.0 / 255.0)


def _f32(x: float) -> float:
    return float(np.float32(x))


def tiny_cell_tflite(
    seed: int, width: int = 8, hw: tuple[int, int] = (32, 32), pool: int = 8
) -> bytes:
    """``pool``: the max pool's window and stride (total stride 2 x pool: 8 gives the 16-px
    cell)."""
    rng = np.random.default_rng([seed, width])
    h, w = hw
    cell = 2 * pool
    mb = ModelBuilder()
    x = mb.tensor((1, h, w, 4), scale=_f32(IN_SCALE), zero_point=-128, name="input")
    # stem: 3x3 stride 2, 4 -> width, ReLU
    w1 = rng.integers(-127, 128, (width, 3, 3, 4)).astype(np.int8)
    s1 = [_f32(rng.uniform(0.004, 0.02)) for _ in range(width)]
    b1 = rng.integers(-2000, 2000, width).astype(np.int32)
    t_w1 = mb.tensor(w1.shape, data=w1, scale=s1, zero_point=[0] * width)
    t_b1 = mb.tensor(
        (width,), "int32", data=b1, scale=[_f32(IN_SCALE * s) for s in s1], zero_point=[0] * width
    )
    y1 = mb.tensor((1, h // 2, w // 2, width), scale=_f32(0.02), zero_point=-128)
    mb.op(tfl.CONV_2D, [x, t_w1, t_b1], [y1], padding=tfl.PADDING_SAME, stride_w=2, stride_h=2,
          activation=tfl.ACT_RELU)  # fmt: skip
    # pool x pool max pool, stride pool
    y2 = mb.tensor((1, h // cell, w // cell, width), scale=_f32(0.02), zero_point=-128)
    mb.op(tfl.MAX_POOL_2D, [y1], [y2], padding=tfl.PADDING_SAME, stride_w=pool, stride_h=pool,
          filter_w=pool, filter_h=pool)  # fmt: skip
    # 1x1 to the classes, linear
    w3 = rng.integers(-127, 128, (4, 1, 1, width)).astype(np.int8)
    s3 = [_f32(rng.uniform(0.005, 0.02)) for _ in range(4)]
    t_w3 = mb.tensor(w3.shape, data=w3, scale=s3, zero_point=[0] * 4)
    t_b3 = mb.tensor(
        (4,), "int32", data=rng.integers(-500, 500, 4).astype(np.int32),
        scale=[_f32(0.02 * s) for s in s3], zero_point=[0] * 4,
    )  # fmt: skip
    y3 = mb.tensor((1, h // cell, w // cell, 4), scale=_f32(0.05), zero_point=0)
    mb.op(tfl.CONV_2D, [y2, t_w3, t_b3], [y3], padding=tfl.PADDING_VALID, stride_w=1,
          stride_h=1)  # fmt: skip
    y4 = mb.tensor((1, h // cell, w // cell, 4), scale=_f32(1.0 / 256), zero_point=-128,
                   name="output")  # fmt: skip
    mb.op(tfl.SOFTMAX, [y3], [y4], beta=1.0)
    return mb.build([x], [y4], description=f"tiny cell network, seed {seed}, width {width}, "
                    f"cell {cell}")  # fmt: skip
