/*
 * dsp_s8.h - internals shared by the optimised int8 kernels of this folder
 * (Cortex-M4 DSP extension through tnn_simd.h; the same code runs on the
 * host with the portable emulation).
 *
 * ---- Widened rows (method TNN_PACK_ROWS) ----------------------------------
 * An input row is widened once to int16, four channels (a "group") at a
 * time: the word v = [x0 x1 x2 x3] (bytes, x0 lowest) becomes the two words
 *     A = SXTB16(v)         = (x0, x2)   lo lane, hi lane
 *     B = SXTB16(v ROR #8)  = (x1, x3)
 * Channels past the depth are 0; columns and rows outside the input (SAME
 * padding) hold the input zero point, which contributes nothing once the
 * input offset is folded into the bias (below). A ring of k_h rows lives in
 * the scratch buffer: an input row needed by consecutive output rows is
 * widened once (dilation 1). Scratch layout:
 *     int32 tags[k_h]      the input row each slot holds (INT32_MIN: none)
 *     uint32 slot[k_h]     the slot of tap row ky for the current output row
 *     uint32 rows[k_h][row_words]
 * with row_words = w_p * groups * 2, w_p = (out_w - 1) * s_w + (k_w - 1) *
 * d_w + 1 columns (column j is input column j - pad_left). Pixel-major rows
 * ([w_p][groups][A, B]) serve CONV_2D and FULLY_CONNECTED, group-major rows
 * ([groups][w_p][A, B]) DEPTHWISE_CONV_2D.
 *
 * ---- Folded input offset --------------------------------------------------
 * acc = bias + sum w * (x + in_offset) = bias' + sum w * x with
 * bias' = bias + in_offset * sum w (exporter). The sum is formed modulo 2^32
 * (SMLAD wraps); the true value fits in int32 (the engine's accumulator
 * bound), so the result is exact whatever the partial sums do.
 *
 * ---- Requantisation in one rounding (TNN_PACK_FAST) -----------------------
 * TFLM: y = SRDHM(acc, mult) = floor((acc * mult + 2^30) / 2^31) (gemmlowp
 * rounds exact halves up, which is this floor for either sign), then
 * out = RDBPOT(y, r) + out_offset with r = -shift >= 1, rounding halves away
 * from zero: RDBPOT(y, r) = floor((y + 2^(r-1) - [y < 0]) / 2^r).
 * The exporter doubles weights and bias, so the kernel holds acc2 = 2 * acc
 * (it checks |acc| < 2^30), and stores c = 2^(r-1) + out_offset * 2^r. Then
 *     SMMLAR(acc2, mult, c) = c + floor((2 acc mult + 2^31) / 2^32) = c + y
 *     t = c + y + (acc2 >> 31)        ([acc < 0] replaces [y < 0]: they
 *                                      differ only where y = 0, which gives
 *                                      0 either way for r >= 1)
 *     out = SSAT8(t >> r)             (exact: out_offset * 2^r is a multiple
 *                                      of 2^r; the exporter checks that
 *                                      |y| + |c| + 1 < 2^31)
 * which is four instructions per output on the Cortex-M4. Layers where the
 * conditions fail (a shift >= 0, a large accumulator) keep the two roundings
 * of tnn_requant (records {bias', mult, shift, 0}).
 */
#ifndef DSP_S8_H
#define DSP_S8_H

#include <stddef.h>
#include <stdint.h>

#include "tnn_fixed.h"
#include "tnn_kernels.h"
#include "tnn_simd.h"

/* The geometry of a convolution-like layer (FULLY_CONNECTED is a 1x1
 * convolution over one row of `batches` pixels). */
typedef struct {
    int32_t in_h, in_w, in_c;
    int32_t out_h, out_w, out_c;
    int32_t k_h, k_w, s_h, s_w, d_h, d_w, pad_t, pad_l;
    int32_t zp; /* input zero point = -in_offset: the value of padding */
    int32_t out_offset, act_min, act_max;
    int32_t groups;  /* ceil(in_c / 4) */
    int32_t w_p;     /* columns of a widened row */
    int32_t planar;  /* 1: group-major rows (depthwise) */
    const tnn_packed_t *pk;
} dsp_geom_t;

/* Fills the derived fields (groups, w_p) of g. */
void dsp_geom_finish(dsp_geom_t *g);

/* Scratch bytes of the row ring for g, or TNN_SCRATCH_INVALID when g->pk
 * does not match the shapes (method, groups, records out of range). */
uint32_t dsp_rows_scratch_bytes(const dsp_geom_t *g);

/* Marks every ring slot empty (call once per kernel invocation). */
void dsp_rows_reset(const dsp_geom_t *g, void *scratch);

/* Widens the input rows output row oy needs (those the ring does not hold
 * yet) and records which slot holds each tap row. */
void dsp_rows_prepare(const dsp_geom_t *g, void *scratch, const int8_t *input, int32_t oy);

/* The widened row of tap row ky for the output row last prepared. */
static inline const uint32_t *dsp_rows_get(const dsp_geom_t *g, const void *scratch, int32_t ky)
{
    const uint32_t *hdr = (const uint32_t *)scratch;
    const uint32_t row_words = (uint32_t)g->w_p * (uint32_t)g->groups * 2u;
    const uint32_t slot = hdr[(uint32_t)g->k_h + (uint32_t)ky];
    return hdr + 2u * (uint32_t)g->k_h + slot * row_words;
}

/* One output value from its accumulator and its channel's record. */
static inline int8_t dsp_requant(const dsp_geom_t *g, int32_t acc, const int32_t *rec)
{
    int32_t t;
    if ((g->pk->flags & TNN_PACK_FAST) != 0u) {
        t = tnn_smmlar(acc, rec[1], rec[2]);
        t = (int32_t)((uint32_t)t + (uint32_t)(acc >> 31)) >> rec[3];
        t = tnn_ssat8(t);
        if ((g->pk->flags & TNN_PACK_CLAMP) == 0u) {
            return (int8_t)t;
        }
    } else {
        t = tnn_requant(acc, rec[1], rec[2]) + g->out_offset;
    }
    return (int8_t)tnn_clamp(t, g->act_min, g->act_max);
}

/* CONV_2D / FULLY_CONNECTED over widened rows: 2 pixels x 2 channels at a
 * time (dsp_gemm_s8.c). */
void dsp_conv_rows(const dsp_geom_t *g, const int8_t *input, int8_t *output, void *scratch);

#endif /* DSP_S8_H */
