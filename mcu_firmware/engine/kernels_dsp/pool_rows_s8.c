/*
 * pool_rows_s8.c - the rows of a streaming MAX_POOL_2D layer: the
 * Cortex-M4 DSP variant of engine/kernels/pool_rows_s8.c (the same ring
 * of int8 rows padded with -128), bit-exact with it (a maximum is exact).
 *
 * Four channels at a time: one word load per window pixel and a per-byte
 * signed maximum (SSUB8 + SEL); the activation's clamp, when it narrows
 * [-128, 127], and channels past a multiple of four, one by one.
 */
#include <string.h>

#include "tnn_fixed.h"
#include "tnn_kernels.h"
#include "tnn_simd.h"

static uint32_t ring_w(const tnn_pool2d_s8_params_t *p)
{
    const uint32_t span = (uint32_t)(p->out_w - 1u) * p->stride_w + (uint32_t)p->k_w;
    const uint32_t cols = (uint32_t)p->pad_left + p->in_w;
    return span > cols ? span : cols;
}

static size_t slot_bytes(const tnn_pool2d_s8_params_t *p)
{
    return (size_t)ring_w(p) * p->channels;
}

uint32_t tnn_max_pool_rows_s8_ring_bytes(const tnn_pool2d_s8_params_t *p)
{
    const uint64_t bytes = (uint64_t)p->k_h * slot_bytes(p);
    return bytes < 0xFFFFFFFFu ? (uint32_t)((bytes + 3u) & ~(uint64_t)3u) : TNN_SCRATCH_INVALID;
}

void tnn_max_pool_rows_s8_reset(const tnn_pool2d_s8_params_t *p, void *ring)
{
    memset(ring, INT8_MIN, (size_t)p->k_h * slot_bytes(p));
}

void tnn_max_pool_rows_s8_push(const tnn_pool2d_s8_params_t *p, void *ring, uint32_t slot,
                               const int8_t *row)
{
    int8_t *dst = (int8_t *)ring + slot * slot_bytes(p) + (size_t)p->pad_left * p->channels;
    const size_t n = (size_t)p->in_w * p->channels;
    if (row == NULL) {
        memset(dst, INT8_MIN, n);
    } else {
        memcpy(dst, row, n);
    }
}

void tnn_max_pool_rows_s8_run(const tnn_pool2d_s8_params_t *p, void *ring, int32_t oy,
                              int8_t *out)
{
    const int32_t k_h = p->k_h;
    const int32_t k_w = p->k_w;
    const size_t ch = p->channels;
    const size_t quads = (p->act_min == INT8_MIN && p->act_max == INT8_MAX) ? ch / 4u : 0u;
    const size_t sb = slot_bytes(p);
    const size_t step = (size_t)p->stride_w * ch;
    const int8_t *rows[TNN_ROWS_MAX_KERNEL];
    int32_t ky;
    int32_t ox;
    for (ky = 0; ky < k_h; ky++) {
        const uint32_t slot = (uint32_t)(oy * p->stride_h + ky) % (uint32_t)k_h;
        rows[ky] = (const int8_t *)ring + slot * sb;
    }
    for (ox = 0; ox < (int32_t)p->out_w; ox++) {
        const size_t col0 = (size_t)ox * step;
        size_t q;
        size_t c;
        for (q = 0; q < quads; q++, out += 4) {
            uint32_t best = 0x80808080u; /* -128 in every byte */
            for (ky = 0; ky < k_h; ky++) {
                const int8_t *x = rows[ky] + col0 + 4u * q;
                int32_t kx;
                for (kx = 0; kx < k_w; kx++, x += ch) {
                    best = tnn_max_s8x4(tnn_ld32(x), best);
                }
            }
            memcpy(out, &best, sizeof best);
        }
        for (c = 4u * quads; c < ch; c++) {
            int32_t best = INT8_MIN;
            for (ky = 0; ky < k_h; ky++) {
                int32_t kx;
                for (kx = 0; kx < k_w; kx++) {
                    const int32_t v = rows[ky][col0 + (size_t)kx * ch + c];
                    best = v > best ? v : best;
                }
            }
            *out++ = (int8_t)tnn_clamp(best, p->act_min, p->act_max);
        }
    }
}
