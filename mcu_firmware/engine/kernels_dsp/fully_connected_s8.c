/*
 * fully_connected_s8.c - FULLY_CONNECTED, int8 activations, int8 weights
 * (per-channel, or per-tensor as equal per-channel entries), int32 bias:
 * the Cortex-M4 DSP variant of engine/kernels/fully_connected_s8.c,
 * bit-exact with it (and with TFLite Micro).
 *
 * A 1x1 convolution over one row of `batches` pixels: with packed data
 * (method TNN_PACK_ROWS) 1 x 4 blocks of SMLADs (dsp_gemm_s8.c), otherwise
 * the portable loop (dsp_plain_s8.c). The output must not overlap the
 * input.
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
    g->depth_mult = 0;
    g->filter = p->filter;
    g->bias = p->bias;
    g->mult = p->mult;
    g->shift = p->shift;
    g->pk = p->packed;
}

/* The geometry is set up in one place for both entry points: with run 0,
 * the scratch bytes the layer needs; with run 1, the layer itself. */
TNN_NOINLINE static uint32_t work(const tnn_fully_connected_s8_params_t *p, const int8_t *input,
                                       int8_t *output, void *scratch, int run)
{
    dsp_geom_t g;
    geom(p, &g);
    if (!run) {
        return dsp_scratch(&g);
    }
    dsp_run(&g, input, output, scratch);
    return 0u;
}

uint32_t tnn_fully_connected_s8_scratch_bytes(const tnn_fully_connected_s8_params_t *p)
{
    return work(p, NULL, NULL, NULL, 0);
}

tri_status_t tnn_fully_connected_s8(const tnn_fully_connected_s8_params_t *p, const int8_t *input,
                                    int8_t *output, void *scratch)
{
    (void)work(p, input, output, scratch, 1);
    return TRI_OK;
}
