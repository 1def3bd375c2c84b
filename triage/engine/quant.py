"""The integer parameters TensorFlow Lite Micro derives from a model's float
scales, reproduced exactly (same double/float arithmetic, same rounding).

These run in the exporter, on the host; the firmware only sees the results.
"""

from __future__ import annotations

import math

import numpy as np

from triage.engine.errors import UnsupportedModelError

INT8_MIN, INT8_MAX = -128, 127


def round_half_away(x: float) -> int:
    """``std::round``: nearest integer, halves away from zero (exact for |x| < 2^52)."""
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def quantize_multiplier(real: float) -> tuple[int, int]:
    """TFLM ``QuantizeMultiplier``: ``real ~= mult * 2^(shift - 31)``, mult in [2^30, 2^31).

    Returns ``(mult, shift)``; ``(0, 0)`` for zero and for values below 2^-31.
    """
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    q_fixed = round_half_away(q * (1 << 31))
    if q_fixed > (1 << 31):
        raise UnsupportedModelError(f"multiplier {real!r} cannot be quantised")
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        shift, q_fixed = 0, 0
    return q_fixed, shift


def f32(x: float) -> np.float32:
    return np.float32(x)


def activation_range(activation: int, scale: float, zero_point: int, what: str) -> tuple[int, int]:
    """TFLM ``CalculateActivationRangeQuantized`` for int8 (float32 arithmetic)."""

    def quantize(f: float) -> int:
        tmp = float(np.float32(f) / np.float32(scale))  # float32 division, as TFLM
        r = round_half_away(tmp)
        if not -(2**31) <= r <= 2**31 - 1:
            raise UnsupportedModelError(f"{what}: activation bound {f} overflows at scale {scale}")
        return zero_point + r

    if activation == 0:
        return INT8_MIN, INT8_MAX
    if activation == 1:  # RELU
        return max(INT8_MIN, quantize(0.0)), INT8_MAX
    if activation == 3:  # RELU6
        return max(INT8_MIN, quantize(0.0)), min(INT8_MAX, quantize(6.0))
    if activation == 2:  # RELU_N1_TO_1
        return max(INT8_MIN, quantize(-1.0)), min(INT8_MAX, quantize(1.0))
    raise UnsupportedModelError(f"{what}: fused activation {activation} is not supported")


def compute_out_size(padding: int, size: int, k: int, stride: int, dilation: int) -> int:
    """TFLM ``ComputeOutSize`` (padding 0 = SAME, 1 = VALID)."""
    eff = (k - 1) * dilation + 1
    if stride == 0:
        return 0
    if padding == 0:
        return (size + stride - 1) // stride
    return (size + stride - eff) // stride


def compute_padding(stride: int, dilation: int, size: int, k: int, out: int) -> int:
    """TFLM ``ComputePadding``: leading (top/left) padding, C-style truncating division."""
    eff = (k - 1) * dilation + 1
    total = (out - 1) * stride + eff - size
    pad = -((-total) // 2) if total < 0 else total // 2
    return max(pad, 0)


def conv_multipliers(
    input_scale: float, filter_scales: list[float], output_scale: float
) -> tuple[list[int], list[int]]:
    """Per-channel ``input_scale * filter_scale / output_scale`` in double, as TFLM."""
    mults, shifts = [], []
    for fs in filter_scales:
        real = float(input_scale) * float(fs) / float(output_scale)
        m, s = quantize_multiplier(real)
        mults.append(m)
        shifts.append(s)
    return mults, shifts


def fc_per_tensor_multiplier(
    input_scale: float, filter_scale: float, output_scale: float
) -> tuple[int, int]:
    """Per-tensor FULLY_CONNECTED: the product of the two scales is taken in float32."""
    prod = float(np.float32(input_scale) * np.float32(filter_scale))
    return quantize_multiplier(prod / float(output_scale))


def add_params(s1: float, s2: float, so: float) -> dict[str, int]:
    """TFLM int8 ADD: left shift 20, input multipliers to twice the larger scale."""
    left_shift = 20
    twice_max = 2 * float(max(np.float32(s1), np.float32(s2)))
    m1, sh1 = quantize_multiplier(float(s1) / twice_max)
    m2, sh2 = quantize_multiplier(float(s2) / twice_max)
    mo, sho = quantize_multiplier(twice_max / ((1 << left_shift) * float(so)))
    for name, (m, sh) in {"input 1": (m1, sh1), "input 2": (m2, sh2), "output": (mo, sho)}.items():
        if sh > 0 or m == 0:
            raise UnsupportedModelError(f"ADD {name} multiplier out of range (shift {sh})")
    return {
        "left_shift": left_shift,
        "in1_mult": m1,
        "in1_shift": sh1,
        "in2_mult": m2,
        "in2_shift": sh2,
        "out_mult": mo,
        "out_shift": sho,
    }


def softmax_params(beta: float, input_scale: float) -> dict[str, int]:
    """TFLM int8 SOFTMAX: ``PreprocessSoftmaxScaling`` and ``CalculateInputRadius``, 5 bits."""
    integer_bits = 5
    real = min(float(beta) * float(input_scale) * float(1 << (31 - integer_bits)), (1 << 31) - 1.0)
    if not real > 1.0:
        raise UnsupportedModelError(
            f"SOFTMAX beta * input scale = {float(beta) * float(input_scale)!r} is too small"
        )
    mult, shift = quantize_multiplier(real)
    max_input_rescaled = (
        1.0 * ((1 << integer_bits) - 1) * float(1 << (31 - integer_bits)) / float(1 << shift)
    )
    diff_min = -math.floor(max_input_rescaled)
    return {"input_mult": mult, "input_left_shift": shift, "diff_min": diff_min}


def mean_params(input_scale: float, output_scale: float, count: int) -> tuple[int, int]:
    """TFLM int8 MEAN with rescaling: multiplier of in/out scale with 1/count folded in."""
    mult, shift = quantize_multiplier(float(input_scale) / float(output_scale))
    k = count.bit_length() - 1  # floor(log2(count))
    k = min(k, 32, 31 + shift)
    mult = (mult << k) // count  # non-negative operands: C division is floor here
    return mult, shift - k
