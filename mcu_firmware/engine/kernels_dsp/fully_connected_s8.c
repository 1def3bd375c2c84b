/*
 * fully_connected_s8.c - FULLY_CONNECTED, int8 activations, int8 weights
 * (per-channel, or per-tensor as equal per-channel entries), int32 bias:
 * the Cortex-M4 DSP variant of engine/kernels/fully_connected_s8.c,
 * bit-exact with it (and with TFLite Micro).
 *
 * With packed data (method TNN_PACK_ROWS) the layer runs as a 1x1
 * convolution over one row of `batches` pixels (dsp_gemm_s8.c); without, the
 * portable loop below (the reference's arithmetic). The output must not
 * overlap the input.
 */
#include "dsp_s8.h"

static void geom(const tnn_fully_connected_s8_params_t *p, dsp_geom_t *g)
{
    g->in_h = 1;
    g->in_w = p->batches;
    g->in_c = p->in_features;
    g->out_h = 1;
    g->out_w = p->batches;
    g->out_c = p->out_features;
    g->k_h = g->k_w = g->s_h = g->s_w = g->d_h = g->d_w = 1;
    g->pad_t = g->pad_l = 0;
    g->zp = -(int32_t)p->in_offset;
    g->out_offset = p->out_offset;
    g->act_min = p->act_min;
    g->act_max = p->act_max;
    g->planar = 0;
    g->pk = p->packed;
    dsp_geom_finish(g);
}

uint32_t tnn_fully_connected_s8_scratch_bytes(const tnn_fully_connected_s8_params_t *p)
{
    dsp_geom_t g;
    if (p->packed == NULL || p->packed->method == TNN_PACK_PLAIN) {
        return 0u;
    }
    geom(p, &g);
    return dsp_rows_scratch_bytes(&g);
}

tri_status_t tnn_fully_connected_s8(const tnn_fully_connected_s8_params_t *p, const int8_t *input,
                                    int8_t *output, void *scratch)
{
    dsp_geom_t g;
    int32_t b;
    if (p->packed != NULL && p->packed->method == TNN_PACK_ROWS) {
        geom(p, &g);
        dsp_conv_rows(&g, input, output, scratch);
        return TRI_OK;
    }
    for (b = 0; b < (int32_t)p->batches; b++) {
        const int8_t *x = input + (size_t)b * p->in_features;
        int32_t o;
        for (o = 0; o < (int32_t)p->out_features; o++) {
            const int8_t *w = p->filter + (size_t)o * p->in_features;
            int32_t acc = p->bias != NULL ? p->bias[o] : 0;
            int32_t i;
            for (i = 0; i < (int32_t)p->in_features; i++) {
                acc += (int32_t)w[i] * ((int32_t)x[i] + (int32_t)p->in_offset);
            }
            acc = tnn_requant(acc, p->mult[o], p->shift[o]) + (int32_t)p->out_offset;
            output[(size_t)b * p->out_features + (size_t)o] =
                (int8_t)tnn_clamp(acc, p->act_min, p->act_max);
        }
    }
    return TRI_OK;
}
