/*
 * reduce_max_hw_s8.c - REDUCE_MAX over the H and W axes of [1][H][W][C]
 * (global max pooling), int8: the Cortex-M4 DSP variant of
 * engine/kernels/reduce_max_hw_s8.c, bit-exact with it (a maximum is exact).
 *
 * Four channels at a time: one word load per pixel and a per-byte signed
 * maximum (SSUB8 + SEL), two instructions for four comparisons; the last
 * channels (fewer than four) one by one.
 *
 * Write order (overlap: channels): channels c..c+3 are reduced completely,
 * then out[c..c+3] are written, in increasing c; with the output at the
 * input's first bytes (gap 0) those bytes belong to pixel 0 of the same
 * channels, already read.
 */
#include "tnn_kernels.h"
#include "tnn_simd.h"

tri_status_t tnn_reduce_max_hw_s8(const tnn_reduce_max_hw_s8_params_t *p, const int8_t *input,
                                  int8_t *output)
{
    const uint32_t ch = p->channels;
    uint32_t c = 0u;
    for (; c + 4u <= ch; c += 4u) {
        const int8_t *x = input + c;
        uint32_t best = 0x80808080u; /* -128 in every byte */
        uint32_t k;
        for (k = p->count; k > 0u; k--, x += ch) {
            best = tnn_max_s8x4(tnn_ld32(x), best);
        }
        memcpy(output + c, &best, sizeof best);
    }
    for (; c < ch; c++) {
        int8_t best = INT8_MIN;
        uint32_t k;
        for (k = 0; k < p->count; k++) {
            const int8_t v = input[(size_t)k * ch + c];
            best = v > best ? v : best;
        }
        output[c] = best;
    }
    return TRI_OK;
}
