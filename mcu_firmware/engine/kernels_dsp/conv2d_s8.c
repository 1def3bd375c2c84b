/*
 * conv2d_s8.c - CONV_2D, int8 activations, per-channel int8 weights, int32
 * bias: the Cortex-M4 DSP variant of engine/kernels/conv2d_s8.c, bit-exact
 * with it (and with TFLite Micro).
 *
 * With packed data (method TNN_PACK_ROWS, chosen by the exporter) the input
 * rows are widened once into the scratch ring and the layer runs as blocks
 * of 1 pixel x 4 channels of SMLADs (dsp_gemm_s8.c); otherwise the
 * portable loop (dsp_plain_s8.c). Write order (overlap: rows): as the
 * reference.
 */
#include "dsp_s8.h"

static void geom(const tnn_conv2d_s8_params_t *p, dsp_geom_t *g)
{
    g->in_h = p->in_h;
    g->in_w = p->in_w;
    g->in_c = p->in_c;
    g->out_h = p->out_h;
    g->out_w = p->out_w;
    g->out_c = p->out_c;
    g->k_h = p->k_h;
    g->k_w = p->k_w;
    g->s_h = p->stride_h;
    g->s_w = p->stride_w;
    g->d_h = p->dil_h;
    g->d_w = p->dil_w;
    g->pad_t = p->pad_top;
    g->pad_l = p->pad_left;
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
TNN_NOINLINE static uint32_t work(const tnn_conv2d_s8_params_t *p, const int8_t *input,
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

uint32_t tnn_conv2d_s8_scratch_bytes(const tnn_conv2d_s8_params_t *p)
{
    return work(p, NULL, NULL, NULL, 0);
}

tri_status_t tnn_conv2d_s8(const tnn_conv2d_s8_params_t *p, const int8_t *input, int8_t *output,
                           void *scratch)
{
    (void)work(p, input, output, scratch, 1);
    return TRI_OK;
}
