/*
 * dsp_plain_s8.c - the portable path of the optimised kernels: a layer
 * without packed data, or one the exporter left to it (method
 * TNN_PACK_PLAIN: a depth multiplier other than 1, a ring too large). It is
 * the reference kernels' arithmetic (engine/kernels/conv2d_s8.c,
 * depthwise_conv2d_s8.c), in one loop for all three operators:
 *   acc = bias[o] + sum over the taps inside the input of
 *         w * (x + in_offset)                        (exact in int32)
 *   out = clamp(requant(acc, mult[o], shift[o]) + out_offset)
 * CONV_2D filters are [out_c][k_h][k_w][in_c]; DEPTHWISE_CONV_2D filters
 * [k_h][k_w][out_c], output channel o reading input channel o / depth_mult.
 * Write order (overlap: rows): pixel by pixel, row by row.
 */
#include "dsp_s8.h"

TNN_COLD void dsp_plain(const dsp_geom_t *g, const int8_t *input, int8_t *output)
{
    const int32_t in_off = -g->zp;
    const int32_t dm = g->depth_mult;
    int32_t oy;
    int32_t ox;
    int32_t o;
    for (oy = 0; oy < g->out_h; oy++) {
        for (ox = 0; ox < g->out_w; ox++) {
            for (o = 0; o < g->out_c; o++) {
                int32_t acc = g->bias != NULL ? g->bias[o] : 0;
                int32_t ky;
                int32_t kx;
                int32_t i;
                for (ky = 0; ky < g->k_h; ky++) {
                    const int32_t iy = oy * g->s_h - g->pad_t + ky * g->d_h;
                    for (kx = 0; kx < g->k_w; kx++) {
                        const int32_t ix = ox * g->s_w - g->pad_l + kx * g->d_w;
                        const int8_t *x;
                        if (iy < 0 || iy >= g->in_h || ix < 0 || ix >= g->in_w) {
                            continue; /* padding: x + in_offset == 0 */
                        }
                        x = input + ((size_t)iy * (size_t)g->in_w + (size_t)ix) * (size_t)g->in_c;
                        if (dm != 0) {
                            const size_t t = (size_t)ky * (size_t)g->k_w + (size_t)kx;
                            acc += (int32_t)g->filter[t * (size_t)g->out_c + (size_t)o] *
                                   ((int32_t)x[o / dm] + in_off);
                            continue;
                        }
                        for (i = 0; i < g->in_c; i++) {
                            const size_t t =
                                (((size_t)o * (size_t)g->k_h + (size_t)ky) * (size_t)g->k_w +
                                 (size_t)kx) * (size_t)g->in_c + (size_t)i;
                            acc += (int32_t)g->filter[t] * ((int32_t)x[i] + in_off);
                        }
                    }
                }
                acc = tnn_requant(acc, g->mult[o], g->shift[o]) + g->out_offset;
                *output++ = (int8_t)tnn_clamp(acc, g->act_min, g->act_max);
            }
        }
    }
}
