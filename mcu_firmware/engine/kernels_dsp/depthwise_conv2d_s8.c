/*
 * depthwise_conv2d_s8.c - DEPTHWISE_CONV_2D, int8 activations, per-channel
 * int8 weights, int32 bias: the Cortex-M4 DSP variant of
 * engine/kernels/depthwise_conv2d_s8.c, bit-exact with it (and with TFLite
 * Micro).
 *
 * Depth multiplier 1 with packed data (method TNN_PACK_ROWS): input rows
 * are widened once into group-major rows of the scratch ring (dsp_s8.h),
 * and four channels advance together: per tap, one LDRD of the widened
 * input (A = (x0, x2), B = (x1, x3)), one of the weights packed as
 *     filter[group][ky][kx] = {(w[c0], w[c2]), (w[c1], w[c3])}
 * and four 16x16 multiply-accumulates (SMLABB/SMLATT, one channel each: a
 * depthwise tap has no second product to pair with). Channels past the
 * depth compute on zero weights and are not stored. Other depth
 * multipliers, or no packed data: the portable loop below (the reference's
 * arithmetic).
 *
 * Write order (overlap: rows): output row oy is written after the input
 * rows it needs are widened; pixel by pixel within a group of channels.
 */
#include "dsp_s8.h"

static void geom(const tnn_depthwise_conv2d_s8_params_t *p, dsp_geom_t *g)
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
    g->planar = 1;
    g->pk = p->packed;
    dsp_geom_finish(g);
}

uint32_t tnn_depthwise_conv2d_s8_scratch_bytes(const tnn_depthwise_conv2d_s8_params_t *p)
{
    dsp_geom_t g;
    if (p->packed == NULL || p->packed->method == TNN_PACK_PLAIN) {
        return 0u;
    }
    if (p->depth_mult != 1u) {
        return TNN_SCRATCH_INVALID;
    }
    geom(p, &g);
    return dsp_rows_scratch_bytes(&g);
}

static void dw_rows(const dsp_geom_t *g, const int8_t *input, int8_t *output, void *scratch)
{
    const int32_t channels = g->out_c;
    const int32_t taps = g->k_h * g->k_w;
    const uint32_t plane = 2u * (uint32_t)g->w_p; /* words of one group's row */
    int32_t oy;
    dsp_rows_reset(g, scratch);
    for (oy = 0; oy < g->out_h; oy++) {
        int8_t *out_row = output + (size_t)oy * (size_t)g->out_w * (size_t)channels;
        int32_t grp;
        dsp_rows_prepare(g, scratch, input, oy);
        for (grp = 0; grp < g->groups; grp++) {
            const int32_t *rec = g->pk->rec + 16 * grp;
            const int32_t c0 = 4 * grp;
            int32_t ox;
            for (ox = 0; ox < g->out_w; ox++) {
                const uint32_t *w = g->pk->filter + (uint32_t)(2 * taps * grp);
                const uint32_t col = (uint32_t)grp * plane + 2u * (uint32_t)(ox * g->s_w);
                int8_t *out = out_row + (size_t)ox * (size_t)channels + (size_t)c0;
                int32_t a0 = rec[0];
                int32_t a1 = rec[4];
                int32_t a2 = rec[8];
                int32_t a3 = rec[12];
                int32_t ky;
                for (ky = 0; ky < g->k_h; ky++) {
                    const uint32_t *x = dsp_rows_get(g, scratch, ky) + col;
                    int32_t kx;
                    for (kx = 0; kx < g->k_w; kx++) {
                        uint32_t w02;
                        uint32_t w13;
                        const uint32_t xa = x[0];
                        const uint32_t xb = x[1];
                        tnn_ld2_inc(&w, &w02, &w13);
                        a0 = tnn_smlabb(xa, w02, a0);
                        a2 = tnn_smlatt(xa, w02, a2);
                        a1 = tnn_smlabb(xb, w13, a1);
                        a3 = tnn_smlatt(xb, w13, a3);
                        x += 2 * g->d_w;
                    }
                }
                out[0] = dsp_requant(g, a0, rec);
                if (c0 + 1 < channels) {
                    out[1] = dsp_requant(g, a1, rec + 4);
                }
                if (c0 + 2 < channels) {
                    out[2] = dsp_requant(g, a2, rec + 8);
                }
                if (c0 + 3 < channels) {
                    out[3] = dsp_requant(g, a3, rec + 12);
                }
            }
        }
    }
}

/* The portable path: the reference's loop (engine/kernels/depthwise_conv2d_s8.c). */
static void dw_plain(const tnn_depthwise_conv2d_s8_params_t *p, const int8_t *input,
                     int8_t *output)
{
    const int32_t in_c = p->in_c;
    const int32_t out_c = p->out_c;
    const int32_t dm = p->depth_mult;
    int32_t oy;
    int32_t ox;
    int32_t o;
    for (oy = 0; oy < (int32_t)p->out_h; oy++) {
        for (ox = 0; ox < (int32_t)p->out_w; ox++) {
            int8_t *out = output + ((size_t)oy * p->out_w + (size_t)ox) * (size_t)out_c;
            for (o = 0; o < out_c; o++) {
                const int32_t i = o / dm;
                int32_t acc = p->bias != NULL ? p->bias[o] : 0;
                int32_t ky;
                int32_t kx;
                for (ky = 0; ky < (int32_t)p->k_h; ky++) {
                    const int32_t iy = oy * p->stride_h - p->pad_top + ky * p->dil_h;
                    for (kx = 0; kx < (int32_t)p->k_w; kx++) {
                        const int32_t ix = ox * p->stride_w - p->pad_left + kx * p->dil_w;
                        int32_t x;
                        int32_t w;
                        if (iy < 0 || iy >= (int32_t)p->in_h || ix < 0 || ix >= (int32_t)p->in_w) {
                            continue;
                        }
                        x = input[((size_t)iy * p->in_w + (size_t)ix) * (size_t)in_c + (size_t)i];
                        w = p->filter[((size_t)ky * p->k_w + (size_t)kx) * (size_t)out_c +
                                      (size_t)o];
                        acc += w * (x + (int32_t)p->in_offset);
                    }
                }
                acc = tnn_requant(acc, p->mult[o], p->shift[o]) + (int32_t)p->out_offset;
                out[o] = (int8_t)tnn_clamp(acc, p->act_min, p->act_max);
            }
        }
    }
}

tri_status_t tnn_depthwise_conv2d_s8(const tnn_depthwise_conv2d_s8_params_t *p,
                                     const int8_t *input, int8_t *output, void *scratch)
{
    dsp_geom_t g;
    if (p->packed == NULL || p->packed->method != TNN_PACK_ROWS) {
        dw_plain(p, input, output);
        return TRI_OK;
    }
    geom(p, &g);
    dw_rows(&g, input, output, scratch);
    return TRI_OK;
}
