/*
 * fully_connected_s8.c - FULLY_CONNECTED, int8 activations, int8 weights
 * (per-channel, or per-tensor exported as equal per-channel entries), int32
 * bias (reference kernel).
 *
 * Numerics as TFLite Micro's reference FullyConnected(PerChannel):
 *   acc = bias[o] + sum_i f[o][i] * (x[b][i] + in_offset)   exact in int32
 *   out = clamp(requant(acc, mult[o], shift[o]) + out_offset, act_min, act_max)
 * The exporter bounds in_features * 127 * 255 + |bias| below 2^31.
 *
 * Every output reads the whole input row: the output must not overlap the
 * input.
 */
#include "tnn_fixed.h"
#include "tnn_kernels.h"

/* The reference needs no scratch (p->packed is for the optimised kernels). */
uint32_t tnn_fully_connected_s8_scratch_bytes(const tnn_fully_connected_s8_params_t *p)
{
    (void)p;
    return 0u;
}

tri_status_t tnn_fully_connected_s8(const tnn_fully_connected_s8_params_t *p, const int8_t *input,
                                    int8_t *output, void *scratch)
{
    const tnn_conv_params_t *cv = &p->conv;
    const int32_t n_in = p->input.c;
    const int32_t n_out = p->output.c;
    int32_t b;

    (void)scratch;

    for (b = 0; b < (int32_t)p->input.w; b++) { /* input [1][batches][in_features] */
        const int8_t *x = input + (size_t)b * (size_t)n_in;
        int32_t o;
        for (o = 0; o < n_out; o++) {
            const int8_t *w = p->filter + (size_t)o * (size_t)n_in;
            int32_t acc = 0;
            int32_t i;
            for (i = 0; i < n_in; i++) {
                acc += (int32_t)w[i] * ((int32_t)x[i] + (int32_t)cv->in_offset);
            }
            if (p->bias != NULL) {
                acc += p->bias[o];
            }
            acc = tnn_requant(acc, p->quant.mult[o], p->quant.shift[o]) + (int32_t)cv->out_offset;
            output[(size_t)b * (size_t)n_out + (size_t)o] =
                (int8_t)tnn_clamp(acc, cv->act.min, cv->act.max);
        }
    }
    return TRI_OK;
}
