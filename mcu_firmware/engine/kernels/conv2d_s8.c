/*
 * conv2d_s8.c - CONV_2D, int8 activations, per-channel int8 weights, int32
 * bias (reference kernel).
 *
 * Numerics, as TFLite Micro's reference ConvPerChannel:
 *   acc = bias[o] + sum f * (x + in_offset)        exact in int32 (below)
 *   out = clamp(requant(acc, mult[o], shift[o]) + out_offset, act_min, act_max)
 * Taps that fall outside the input are skipped, which is zero padding in
 * the real domain (x + in_offset == 0 for x at the zero point).
 *
 * Why the int32 accumulator cannot overflow: |f| <= 127 (symmetric
 * weights), |x + in_offset| <= 255, so one product is at most 32385 in
 * magnitude; the exporter refuses layers where k_h * k_w * in_c * 32385
 * + |bias| could reach 2^31 (over 66000 taps per output).
 *
 * Write order (overlap: rows): output pixels are produced row by row,
 * left to right, all channels of a pixel together; output row r only reads
 * input rows >= r * stride.h - pad.h.
 */
#include "tnn_fixed.h"
#include "tnn_kernels.h"

/* The reference needs no scratch (p->packed is for the optimised kernels). */
uint32_t tnn_conv2d_s8_scratch_bytes(const tnn_conv2d_s8_params_t *p)
{
    (void)p;
    return 0u;
}

tri_status_t tnn_conv2d_s8(const tnn_conv2d_s8_params_t *p, const int8_t *input, int8_t *output,
                           void *scratch)
{
    const tnn_conv_params_t *cv = &p->conv;
    const int32_t in_h = p->input.h;
    const int32_t in_w = p->input.w;
    const int32_t in_c = p->input.c;
    const int32_t k_h = cv->kernel.h;
    const int32_t k_w = cv->kernel.w;
    int32_t oy;
    int32_t ox;
    int32_t o;
    int8_t *out = output;

    (void)scratch;

    for (oy = 0; oy < (int32_t)p->output.h; oy++) {
        const int32_t iy0 = oy * (int32_t)cv->stride.h - (int32_t)cv->pad.h;
        for (ox = 0; ox < (int32_t)p->output.w; ox++) {
            const int32_t ix0 = ox * (int32_t)cv->stride.w - (int32_t)cv->pad.w;
            for (o = 0; o < (int32_t)p->output.c; o++) {
                const int8_t *f = p->filter + (size_t)o * (size_t)(k_h * k_w * in_c);
                int32_t acc = 0;
                int32_t ky;
                for (ky = 0; ky < k_h; ky++) {
                    const int32_t iy = iy0 + ky * (int32_t)cv->dilation.h;
                    int32_t kx;
                    if (iy < 0 || iy >= in_h) {
                        continue;
                    }
                    for (kx = 0; kx < k_w; kx++) {
                        const int32_t ix = ix0 + kx * (int32_t)cv->dilation.w;
                        const int8_t *x;
                        const int8_t *w;
                        int32_t i;
                        if (ix < 0 || ix >= in_w) {
                            continue;
                        }
                        x = input + ((size_t)iy * (size_t)in_w + (size_t)ix) * (size_t)in_c;
                        w = f + ((size_t)ky * (size_t)k_w + (size_t)kx) * (size_t)in_c;
                        for (i = 0; i < in_c; i++) {
                            acc += (int32_t)w[i] * ((int32_t)x[i] + (int32_t)cv->in_offset);
                        }
                    }
                }
                if (p->bias != NULL) {
                    acc += p->bias[o];
                }
                acc = tnn_requant(acc, p->quant.mult[o], p->quant.shift[o]) +
                      (int32_t)cv->out_offset;
                *out++ = (int8_t)tnn_clamp(acc, cv->act.min, cv->act.max);
            }
        }
    }
    return TRI_OK;
}
