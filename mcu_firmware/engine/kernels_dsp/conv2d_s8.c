/*
 * conv2d_s8.c - CONV_2D, int8 activations, per-channel int8 weights, int32
 * bias: the Cortex-M4 DSP variant of engine/kernels/conv2d_s8.c, bit-exact
 * with it (and with TFLite Micro).
 *
 * With packed data (method TNN_PACK_ROWS, chosen by the exporter) the input
 * rows are widened once into the scratch ring and the layer runs as blocks
 * of 2 pixels x 2 channels of SMLADs (dsp_gemm_s8.c). Without (hand-built
 * parameters, method TNN_PACK_PLAIN) it runs the portable loop below, the
 * reference's own arithmetic.
 *
 * Write order (overlap: rows): as the reference; see dsp_gemm_s8.c.
 */
#include "dsp_s8.h"

static int packed_rows(const tnn_conv2d_s8_params_t *p)
{
    return p->packed != NULL && p->packed->method == TNN_PACK_ROWS;
}

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
    g->planar = 0;
    g->pk = p->packed;
    dsp_geom_finish(g);
}

uint32_t tnn_conv2d_s8_scratch_bytes(const tnn_conv2d_s8_params_t *p)
{
    dsp_geom_t g;
    if (p->packed == NULL || p->packed->method == TNN_PACK_PLAIN) {
        return 0u;
    }
    geom(p, &g);
    return dsp_rows_scratch_bytes(&g);
}

/* The portable path: the reference's loop (see engine/kernels/conv2d_s8.c). */
static void conv_plain(const tnn_conv2d_s8_params_t *p, const int8_t *input, int8_t *output)
{
    const int32_t in_c = p->in_c;
    int32_t oy;
    int32_t ox;
    int32_t o;
    int8_t *out = output;
    for (oy = 0; oy < (int32_t)p->out_h; oy++) {
        for (ox = 0; ox < (int32_t)p->out_w; ox++) {
            for (o = 0; o < (int32_t)p->out_c; o++) {
                const int8_t *f = p->filter + (size_t)o * p->k_h * p->k_w * p->in_c;
                int32_t acc = p->bias != NULL ? p->bias[o] : 0;
                int32_t ky;
                int32_t kx;
                int32_t i;
                for (ky = 0; ky < (int32_t)p->k_h; ky++) {
                    const int32_t iy = oy * p->stride_h - p->pad_top + ky * p->dil_h;
                    for (kx = 0; kx < (int32_t)p->k_w; kx++) {
                        const int32_t ix = ox * p->stride_w - p->pad_left + kx * p->dil_w;
                        const int8_t *x;
                        const int8_t *w;
                        if (iy < 0 || iy >= (int32_t)p->in_h || ix < 0 || ix >= (int32_t)p->in_w) {
                            continue; /* padding: x + in_offset == 0 */
                        }
                        x = input + ((size_t)iy * p->in_w + (size_t)ix) * (size_t)in_c;
                        w = f + ((size_t)ky * p->k_w + (size_t)kx) * (size_t)in_c;
                        for (i = 0; i < in_c; i++) {
                            acc += (int32_t)w[i] * ((int32_t)x[i] + (int32_t)p->in_offset);
                        }
                    }
                }
                acc = tnn_requant(acc, p->mult[o], p->shift[o]) + (int32_t)p->out_offset;
                *out++ = (int8_t)tnn_clamp(acc, p->act_min, p->act_max);
            }
        }
    }
}

tri_status_t tnn_conv2d_s8(const tnn_conv2d_s8_params_t *p, const int8_t *input, int8_t *output,
                           void *scratch)
{
    dsp_geom_t g;
    if (!packed_rows(p)) {
        conv_plain(p, input, output);
        return TRI_OK;
    }
    geom(p, &g);
    dsp_conv_rows(&g, input, output, scratch);
    return TRI_OK;
}
