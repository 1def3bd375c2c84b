/*
 * reduce_max_hw_s8.c - REDUCE_MAX over the H and W axes of [1][H][W][C]
 * (global max pooling, what Keras GlobalMaxPooling2D converts to), int8
 * (reference kernel).
 *
 * Input and output share scale and zero point (TFLite Micro requires it),
 * so the result is the maximum raw value of each channel.
 *
 * Write order (overlap: channels): channel c is reduced completely, then
 * out[c] is written, in increasing c.
 */
#include "tnn_kernels.h"

tri_status_t tnn_reduce_max_hw_s8(const tnn_reduce_max_hw_s8_params_t *p, const int8_t *input,
                                  int8_t *output)
{
    const uint32_t ch = p->channels;
    uint32_t c;

    for (c = 0; c < ch; c++) {
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
