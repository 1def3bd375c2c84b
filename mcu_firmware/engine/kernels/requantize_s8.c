/*
 * requantize_s8.c - QUANTIZE from int8 to int8 (a change of scale and zero
 * point), reference kernel.
 *
 * Numerics as TFLite Micro's Requantize: out = clamp(requant(in - in_zp,
 * mult, shift) + out_zp, -128, 127), mult/shift from in_scale / out_scale.
 *
 * Write order (overlap: elementwise): increasing i, in[i] read first.
 */
#include "tnn_fixed.h"
#include "tnn_kernels.h"

tri_status_t tnn_requantize_s8(const tnn_requantize_s8_params_t *p, const int8_t *input,
                               int8_t *output)
{
    uint32_t i;
    for (i = 0; i < p->size; i++) {
        const int32_t v = tnn_requant((int32_t)input[i] - (int32_t)p->in_zero_point, p->mult,
                                      p->shift) +
                          (int32_t)p->out_zero_point;
        output[i] = (int8_t)tnn_clamp(v, INT8_MIN, INT8_MAX);
    }
    return TRI_OK;
}
