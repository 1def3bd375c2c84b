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

TNN_COLD void dsp_plain(const tnn_conv2d_s8_params_t *p, const int8_t *input, int8_t *output)
{
    const tnn_conv_params_t *cv = &p->conv;
    const int32_t in_off = cv->in_offset;
    const int32_t dm = cv->depth_mult;
    const int32_t in_h = p->input.h;
    const int32_t in_w = p->input.w;
    const int32_t in_c = p->input.c;
    const int32_t out_c = p->output.c;
    const int32_t k_h = cv->kernel.h;
    const int32_t k_w = cv->kernel.w;
    int32_t oy;
    int32_t ox;
    int32_t o;
    for (oy = 0; oy < (int32_t)p->output.h; oy++) {
        for (ox = 0; ox < (int32_t)p->output.w; ox++) {
            for (o = 0; o < out_c; o++) {
                int32_t acc = p->bias != NULL ? p->bias[o] : 0;
                int32_t ky;
                int32_t kx;
                int32_t i;
                for (ky = 0; ky < k_h; ky++) {
                    const int32_t iy = oy * cv->stride.h - cv->pad.h + ky * cv->dilation.h;
                    for (kx = 0; kx < k_w; kx++) {
                        const int32_t ix = ox * cv->stride.w - cv->pad.w + kx * cv->dilation.w;
                        const int8_t *x;
                        if (iy < 0 || iy >= in_h || ix < 0 || ix >= in_w) {
                            continue; /* padding: x + in_offset == 0 */
                        }
                        x = input + ((size_t)iy * (size_t)in_w + (size_t)ix) * (size_t)in_c;
                        if (dm != 0) {
                            const size_t t = (size_t)ky * (size_t)k_w + (size_t)kx;
                            acc += (int32_t)p->filter[t * (size_t)out_c + (size_t)o] *
                                   ((int32_t)x[o / dm] + in_off);
                            continue;
                        }
                        for (i = 0; i < in_c; i++) {
                            const size_t t = (((size_t)o * (size_t)k_h + (size_t)ky) * (size_t)k_w +
                                              (size_t)kx) *
                                                 (size_t)in_c +
                                             (size_t)i;
                            acc += (int32_t)p->filter[t] * ((int32_t)x[i] + in_off);
                        }
                    }
                }
                acc = tnn_requant(acc, p->quant.mult[o], p->quant.shift[o]) + cv->out_offset;
                *output++ = (int8_t)tnn_clamp(acc, cv->act.min, cv->act.max);
            }
        }
    }
}
