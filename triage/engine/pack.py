"""Packed data for the optimised kernels (``mcu_firmware/engine/kernels_dsp``).

For each CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED step the exporter
chooses, from the layer's shape and quantisation, how the optimised kernel
runs it, and precomputes what that needs (``tnn_packed_t`` in
``tnn_kernels.h``; layouts and the numerics in ``kernels_dsp/dsp_s8.h``):

* ``method``: ``ROWS`` (input rows widened to int16 once into a ring in the
  step's scratch buffer, then SMLAD/SMLABB multiply-accumulates) or
  ``PLAIN`` (the portable loop, no scratch): PLAIN when the ring would need
  more than :data:`ROWS_SCRATCH_LIMIT` bytes, or for a depthwise layer with
  a depth multiplier other than 1.
* the weights widened to int16 and reordered for the kernel's loads;
* per output channel a record: the bias with the input offset folded in,
  and the requantisation either in TFLM's two roundings (``mult, shift``) or,
  where it is provably the same (``FAST``), in one (``mult, c, r`` with
  doubled weights and bias);
* the scratch bytes, which the planner places in the arena like a tensor
  living during the step. The firmware's own sizing function
  (``tnn_<op>_s8_scratch_bytes``) must agree; tests check it does.

The reference kernels ignore all of it, so one exported model runs with
either kernel set.
"""

from __future__ import annotations

import math

import numpy as np

from triage.engine.lower import TAP_MAX, Lowered, Packed, Step

# tnn_kernels.h
METHOD_PLAIN = 0
METHOD_ROWS = 1
FLAG_FAST = 1
FLAG_CLAMP = 2
FLAG_RING = 4
FLAG_FLOOR = 8
# Streaming layers: bit 8 of the last full block's r[3] record marks the end of a pixel's
# full blocks for the streaming loops (an ASR by register reads only bits 0-7).
LAST_BLOCK = 0x100

# Largest widened rows a layer may take from the arena; beyond them the
# layer runs the portable loop (no scratch).
ROWS_SCRATCH_LIMIT = 16 * 1024
# A CONV_2D whose tap rows overlap from one output row to the next keeps them
# in a ring (each input row widened once) when its data stream, once per ring
# rotation, stays within this many bytes; otherwise its rows are widened
# again for every output row.
RING_DATA_LIMIT = 8 * 1024

_PACKED_OPS = ("conv2d_s8", "depthwise_conv2d_s8", "fully_connected_s8")


def _words(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """uint32 words with int16 lanes lo (bits 15..0) and hi (bits 31..16)."""
    lo = np.asarray(lo, dtype=np.int64) & 0xFFFF
    hi = np.asarray(hi, dtype=np.int64) & 0xFFFF
    return (lo | (hi << 16)).astype(np.uint32)


def _u32(values: np.ndarray) -> np.ndarray:
    """int32 values as the uint32 words that hold them."""
    return np.asarray(values, dtype=np.int64).astype(np.int32).view(np.uint32)


def _records(
    bias_f: np.ndarray,
    mult: np.ndarray,
    shift: np.ndarray,
    out_offset: int,
    acc_bound: int,
    stream: bool = False,
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Per block of four output channels: the biases [blocks][4] and the 12
    record words [blocks][12] (dsp_s8.h), and whether the one-rounding form is
    exact (FAST).

    Records: (mult, c)[0..3], r[0..3]; without FAST (mult, shift) pairs and r = 0.
    FAST needs, for every
    channel: a right shift r = -shift >= 1; |acc| < 2^30 so that 2 * acc fits
    (acc_bound bounds |acc| including the bias); and |y| + |c| + 1 < 2^31 for
    y = SRDHM(acc, mult), c = 2^(r-1) + out_offset * 2^r, so that
    c + y + (acc < 0 ? -1 : 0) cannot wrap. Padded channels get zeros (and
    r = 1 with FAST).
    """
    n = len(bias_f)
    fast = bool(np.all(shift < 0)) and acc_bound < 2**30
    if fast:
        for m, s in zip(mult.tolist(), shift.tolist(), strict=True):
            r = -int(s)
            c = 2 ** (r - 1) + out_offset * 2**r
            y_max = (acc_bound * int(m) + 2**30) // 2**31 + 1
            if abs(c) + y_max + 1 >= 2**31:
                fast = False
                break
    blocks = (n + 3) // 4
    bias = np.zeros(4 * blocks, np.int64)
    m = np.zeros(4 * blocks, np.int64)
    cs = np.zeros(4 * blocks, np.int64)
    r = np.zeros(4 * blocks, np.int64)
    if fast:
        rs = -shift.astype(np.int64)
        bias[:n] = 2 * bias_f
        cs[:n] = (np.int64(1) << (rs - 1)) + np.int64(out_offset) * (np.int64(1) << rs)
        r[:] = 1
        r[:n] = rs
    else:
        bias[:n] = bias_f
        cs[:n] = shift
    m[:n] = mult
    if stream and n >= 4:
        r[4 * (n // 4) - 1] |= LAST_BLOCK
    for v in (bias, m, cs, r):
        assert np.all(np.abs(v) < 2**31)
    m, cs, r = (v.reshape(blocks, 4) for v in (m, cs, r))
    rec = np.stack(
        [m[:, 0], cs[:, 0], m[:, 1], cs[:, 1], m[:, 2], cs[:, 2], m[:, 3], cs[:, 3],
         r[:, 0], r[:, 1], r[:, 2], r[:, 3]], axis=1,
    )  # fmt: skip
    return _u32(bias).reshape(blocks, 4), _u32(rec).reshape(blocks, 12), fast


def _flags(fast: bool, ring: bool, fields: dict, stream: bool = False) -> int:
    """FLOOR (streaming layers): one rounding, no clamp and output zero point -128 (ReLU
    outputs, usually), where the full blocks skip the correction of negative accumulators
    (kernels_dsp/dsp_s8.h); the whole-tensor kernels ignore it and keep their code size."""
    act = fields["conv"]["act"]
    clamp = act["min"] > -128 or act["max"] < 127
    floor = stream and fast and not clamp and fields["conv"]["out_offset"] == -128
    return (
        (FLAG_FAST if fast else 0)
        | (FLAG_CLAMP if clamp else 0)
        | (FLAG_RING if ring else 0)
        | (FLAG_FLOOR if floor else 0)
    )


def _rows_bytes(k_h: int, cols: int, groups: int) -> int:
    """Scratch of the widened rows (dsp_scratch): tags and slots, then k_h slots of cols columns."""
    return 4 * k_h * (2 + cols * groups * 2)


def _plain(why: str) -> Packed:
    return Packed(METHOD_PLAIN, 0, 0, np.zeros(0, np.uint32), 0, f"portable loop ({why})")


def _stream(bias: np.ndarray, weights: np.ndarray, rec: np.ndarray) -> np.ndarray:
    """Blocks of {bias[4], weights, records[12]} (weights: [blocks][words])."""
    return np.concatenate([bias, weights, rec], axis=1).reshape(-1)


def _rotations(k_h: int, ring: bool, stride_h: int) -> list[np.ndarray]:
    """Per ring rotation rho that occurs, the tap row each slot holds: (s - rho) mod k_h.
    Output row oy's rotation is (oy * stride_h) mod k_h: the multiples of
    gcd(stride_h, k_h), in order (dsp_s8.h)."""
    step = math.gcd(stride_h, k_h)
    return [(np.arange(k_h) - rho) % k_h for rho in range(0, k_h if ring else 1, step)]


def _gemm(
    w: np.ndarray,  # [out_c][k_h][k_w][in_c] int
    bias: np.ndarray | None,
    mult: np.ndarray,
    shift: np.ndarray,
    fields: dict,
    cols: int,
    stride_h: int,
    dil_h: int,
    stream: bool = False,
) -> Packed:
    """CONV_2D / FULLY_CONNECTED: blocks of four channels x groups of four input channels."""
    out_c, k_h, k_w, in_c = w.shape
    groups = (in_c + 3) // 4
    scratch = 0 if stream else _rows_bytes(k_h, cols, groups)
    if scratch > ROWS_SCRATCH_LIMIT:
        return _plain(f"widened rows of {scratch} bytes exceed {ROWS_SCRATCH_LIMIT}")
    w = w.astype(np.int64)
    b = np.zeros(out_c, np.int64) if bias is None else bias.astype(np.int64)
    bias_f = b + int(fields["conv"]["in_offset"]) * w.sum(axis=(1, 2, 3))
    acc_bound = k_h * k_w * in_c * TAP_MAX + int(np.max(np.abs(b)))
    bias_w, rec, fast = _records(
        bias_f, mult.astype(np.int64), shift.astype(np.int64), int(fields["conv"]["out_offset"]),
        acc_bound, stream,
    )  # fmt: skip
    blocks = (out_c + 3) // 4
    wp = np.zeros((4 * blocks, k_h, k_w, 4 * groups), np.int64)
    wp[:out_c, :, :, :in_c] = w * (2 if fast else 1)
    block_bytes = 4 * (16 + 8 * k_h * k_w * groups) * blocks
    ring = k_h > 1 and dil_h == 1 and stride_h < k_h and k_h * block_bytes <= RING_DATA_LIMIT
    ring = ring or (stream and k_h > 1)
    parts = []
    for rows in _rotations(k_h, ring, stride_h):
        q = wp[:, rows].reshape(blocks, 4, k_h, k_w, groups, 4)  # block, ch, slot, kx, group, lane
        words = np.stack([_words(q[..., 0], q[..., 2]), _words(q[..., 1], q[..., 3])], axis=-1)
        words = words.transpose(0, 3, 2, 4, 1, 5)  # block, kx, slot, group, ch, AB
        parts.append(_stream(bias_w, words.reshape(blocks, -1), rec))
    columns = "a frame row's" if stream else str(cols)
    note = (
        f"rows: {k_h} tap rows{' in a ring' if ring else ''} x {columns} widened columns x"
        f" {groups} groups, blocks of 1 pixel x 4 channels (SMLAD),"
        f" {'one-rounding' if fast else 'two-rounding'} requantisation"
    )
    return Packed(
        METHOD_ROWS, _flags(fast, ring, fields, stream), groups, np.concatenate(parts), scratch,
        note,
    )  # fmt: skip


def _cols(f: dict) -> int:
    """Widened columns of a row: the input columns one output row's windows span."""
    cv = f["conv"]
    out_w, s_w = f["output"]["w"], cv["stride"]["w"]
    k_w, d_w = cv["kernel"]["w"], cv["dilation"]["w"]
    return (out_w - 1) * s_w + (k_w - 1) * d_w + 1


def _depthwise(step: Step, stream: bool = False) -> Packed:
    f = step.fields
    cv = f["conv"]
    if cv["depth_mult"] != 1:
        return _plain(f"depth multiplier {cv['depth_mult']}")
    k_h, k_w, ch = cv["kernel"]["h"], cv["kernel"]["w"], f["output"]["c"]
    groups = (ch + 3) // 4
    cols = 0 if stream else _cols(f)
    scratch = 0 if stream else _rows_bytes(k_h, cols, groups)
    if scratch > ROWS_SCRATCH_LIMIT:
        return _plain(f"widened rows of {scratch} bytes exceed {ROWS_SCRATCH_LIMIT}")
    w = step.arrays["filter"].values.astype(np.int64).reshape(k_h, k_w, ch)
    b = step.arrays["bias"].values.astype(np.int64) if "bias" in step.arrays else np.zeros(ch)
    b = b.astype(np.int64)
    bias_f = b + int(cv["in_offset"]) * w.sum(axis=(0, 1))
    acc_bound = k_h * k_w * TAP_MAX + int(np.max(np.abs(b)))
    bias_w, rec, fast = _records(
        bias_f,
        step.arrays["mult"].values.astype(np.int64),
        step.arrays["shift"].values.astype(np.int64),
        int(cv["out_offset"]),
        acc_bound,
        stream,
    )
    wp = np.zeros((k_h, k_w, 4 * groups), np.int64)
    wp[:, :, :ch] = w * (2 if fast else 1)
    ring = k_h > 1 and cv["dilation"]["h"] == 1
    parts = []
    for rows in _rotations(k_h, ring, cv["stride"]["h"]):
        q = wp[rows].reshape(k_h, k_w, groups, 4).transpose(2, 1, 0, 3)  # group, kx, slot, lane
        words = np.stack([_words(q[..., 0], q[..., 2]), _words(q[..., 1], q[..., 3])], axis=-1)
        parts.append(_stream(bias_w, words.reshape(groups, -1), rec))
    columns = "a frame row's" if stream else str(cols)
    note = (
        f"rows: {k_h} tap rows{' in a ring' if ring else ''} x {columns} widened columns x"
        f" {groups} groups, blocks of"
        f" 1 pixel x 4 channels (SMLABB/SMLATT), {'one-rounding' if fast else 'two-rounding'}"
        " requantisation"
    )
    return Packed(
        METHOD_ROWS, _flags(fast, ring, f, stream), groups, np.concatenate(parts), scratch, note
    )


def pack_step(step: Step, *, stream: bool = False) -> Packed | None:
    """The packed data of one step (None for operators without optimised kernels).

    ``stream``: for a layer of a streaming model (:mod:`triage.engine.stream`): always widened
    rows in a ring (the scratch is sized at run time, for the frame's width, and its rings
    may live in external memory), so no scratch size here."""
    if step.kernel not in _PACKED_OPS:
        return None
    f = step.fields
    mult = step.arrays["mult"].values
    shift = step.arrays["shift"].values
    bias = step.arrays["bias"].values if "bias" in step.arrays else None
    if step.kernel == "depthwise_conv2d_s8":
        return _depthwise(step, stream)
    # CONV_2D, and FULLY_CONNECTED as the 1x1 convolution of a row of batches pixels
    cv = f["conv"]
    w = step.arrays["filter"].values.reshape(
        f["output"]["c"], cv["kernel"]["h"], cv["kernel"]["w"], f["input"]["c"]
    )
    cols = 0 if stream else _cols(f)
    return _gemm(w, bias, mult, shift, f, cols, cv["stride"]["h"], cv["dilation"]["h"], stream)


def pack_model(low: Lowered) -> None:
    """Packs every step that has an optimised kernel (sets ``step.packed``)."""
    for s in low.steps:
        s.packed = pack_step(s)
