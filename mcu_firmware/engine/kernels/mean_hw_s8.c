/*
 * mean_hw_s8.c - MEAN over the H and W axes of [1][H][W][C] (global average
 * pooling), int8 (reference kernel).
 *
 * The per-channel int32 sum is exact (count * 256 < 2^31 is checked at
 * bind). Then, as TFLite Micro's int8 MEAN (QuantizedMeanOrSum, taken even
 * when input and output share their quantisation):
 *   out = clamp(requant(sum - in_zero_point * count, mult, shift)
 *               + out_offset, -128, 127)
 * with a multiplier that already holds 1/count: the exporter folds it in
 * the way TFLM does (in/out scale ratio quantised to mult0 * 2^(shift0-31),
 * then mult = mult0 * 2^k / count, shift = shift0 - k, k = min(floor(log2
 * count), 32, 31 + shift0)). Note the two roundings of the requantisation:
 * the result is not always the nearest integer to the mean.
 *
 * Write order (overlap: channels): channel c is summed completely, then
 * out[c] is written; out[c] can only land on input bytes of channels
 * <= c at pixel 0, which are no longer needed.
 */
#include "tnn_fixed.h"
#include "tnn_kernels.h"

tri_status_t tnn_mean_hw_s8(const tnn_mean_hw_s8_params_t *p, const int8_t *input,
                            int8_t *output)
{
    const uint32_t ch = p->channels;
    uint32_t c;

    for (c = 0; c < ch; c++) {
        int32_t sum = 0;
        uint32_t k;
        int32_t v;
        for (k = 0; k < p->count; k++) {
            sum += input[(size_t)k * ch + c];
        }
        v = tnn_requant(sum - (int32_t)p->in_zero_point * (int32_t)p->count, p->mult, p->shift) +
            (int32_t)p->out_offset;
        output[c] = (int8_t)tnn_clamp(v, INT8_MIN, INT8_MAX);
    }
    return TRI_OK;
}
