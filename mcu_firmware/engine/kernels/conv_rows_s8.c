/*
 * conv_rows_s8.c - the rows of a streaming CONV_2D or DEPTHWISE_CONV_2D
 * layer (reference kernel; the contract in tnn_kernels.h, the executor in
 * engine/src/tnn_stream.c).
 *
 * The ring holds k_h int8 rows [ring_w][input.c] with the padding columns
 * materialised: column j holds input column j - pad.w, and the columns
 * outside the input hold the input zero point (-in_offset), so that a
 * padded tap adds w * (zp + in_offset) = 0, exactly what skipping it (as
 * engine/kernels/conv2d_s8.c and TFLM do) gives. Rows of padding are rows
 * of zero points. The arithmetic is the reference kernels':
 *   acc = bias[o] + sum w * (x + in_offset)          (exact in int32)
 *   out = clamp(requant(acc, mult[o], shift[o]) + out_offset, act)
 */
#include <string.h>

#include "tnn_fixed.h"
#include "tnn_kernels.h"

/* Columns of a ring row: what the output row's windows span, and at least
 * the input's columns after the left padding. */
static uint32_t ring_w(const tnn_conv2d_s8_params_t *p)
{
    const uint32_t span =
        (uint32_t)(p->output.w - 1u) * p->conv.stride.w + (uint32_t)p->conv.kernel.w;
    const uint32_t cols = (uint32_t)p->conv.pad.w + p->input.w;
    return span > cols ? span : cols;
}

static size_t slot_bytes(const tnn_conv2d_s8_params_t *p)
{
    return (size_t)ring_w(p) * p->input.c;
}

uint32_t tnn_conv_rows_s8_ring_bytes(const tnn_conv2d_s8_params_t *p)
{
    const uint64_t bytes = (uint64_t)p->conv.kernel.h * slot_bytes(p);
    return bytes < 0xFFFFFFFFu ? (uint32_t)((bytes + 3u) & ~(uint64_t)3u) : TNN_SCRATCH_INVALID;
}

void tnn_conv_rows_s8_reset(const tnn_conv2d_s8_params_t *p, void *ring)
{
    memset(ring, -p->conv.in_offset, (size_t)p->conv.kernel.h * slot_bytes(p));
}

void tnn_conv_rows_s8_push(const tnn_conv2d_s8_params_t *p, void *ring, uint32_t slot,
                           const int8_t *row)
{
    int8_t *dst = (int8_t *)ring + slot * slot_bytes(p) + (size_t)p->conv.pad.w * p->input.c;
    const size_t n = (size_t)p->input.w * p->input.c;
    if (row == NULL) {
        memset(dst, -p->conv.in_offset, n);
    } else {
        memcpy(dst, row, n);
    }
}

void tnn_conv_rows_s8_run(const tnn_conv2d_s8_params_t *p, void *ring, int32_t oy, int8_t *out)
{
    const tnn_conv_params_t *cv = &p->conv;
    const int32_t k_h = cv->kernel.h;
    const int32_t k_w = cv->kernel.w;
    const int32_t in_c = p->input.c;
    const int32_t out_c = p->output.c;
    const int32_t dm = cv->depth_mult;
    const int32_t in_off = cv->in_offset;
    const size_t sb = slot_bytes(p);
    const int8_t *rows[TNN_ROWS_MAX_KERNEL];
    int32_t ky;
    int32_t ox;
    for (ky = 0; ky < k_h; ky++) {
        const uint32_t slot = (uint32_t)(oy * cv->stride.h + ky) % (uint32_t)k_h;
        rows[ky] = (const int8_t *)ring + slot * sb;
    }
    for (ox = 0; ox < (int32_t)p->output.w; ox++) {
        const size_t col0 = (size_t)ox * cv->stride.w;
        int32_t o;
        for (o = 0; o < out_c; o++) {
            int32_t acc = p->bias != NULL ? p->bias[o] : 0;
            int32_t kx;
            for (ky = 0; ky < k_h; ky++) {
                for (kx = 0; kx < k_w; kx++) {
                    const int8_t *x = rows[ky] + (col0 + (size_t)kx) * (size_t)in_c;
                    const size_t t = (size_t)ky * (size_t)k_w + (size_t)kx;
                    int32_t i;
                    if (dm != 0) { /* filter [k_h][k_w][out_c] */
                        acc += (int32_t)p->filter[t * (size_t)out_c + (size_t)o] *
                               ((int32_t)x[o / dm] + in_off);
                        continue;
                    }
                    for (i = 0; i < in_c; i++) { /* filter [out_c][k_h][k_w][in_c] */
                        const size_t f = ((size_t)o * (size_t)k_h * (size_t)k_w + t) *
                                             (size_t)in_c + (size_t)i;
                        acc += (int32_t)p->filter[f] * ((int32_t)x[i] + in_off);
                    }
                }
            }
            acc = tnn_requant(acc, p->quant.mult[o], p->quant.shift[o]) + cv->out_offset;
            *out++ = (int8_t)tnn_clamp(acc, cv->act.min, cv->act.max);
        }
    }
}
