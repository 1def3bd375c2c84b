/*
 * depthwise_conv2d_s8.c - DEPTHWISE_CONV_2D, int8 activations, per-channel
 * int8 weights, int32 bias (reference kernel).
 *
 * Output channel o = i * depth_mult + m filters input channel i alone with
 * filter column o of the [k_h][k_w][out_c] filter. Numerics as CONV_2D and
 * TFLite Micro's reference DepthwiseConvPerChannel: an exact int32 sum of
 * k_h * k_w products (each at most 127 * 255 in magnitude) plus the bias,
 * requantised per channel, offset and clamped. Taps outside the input are
 * skipped (zero padding in the real domain).
 *
 * Write order (overlap: rows): pixel by pixel, row by row, all channels of
 * a pixel together; output row r only reads input rows >= r * stride.h -
 * pad.h.
 */
#include "tnn_fixed.h"
#include "tnn_kernels.h"

/* The reference needs no scratch (p->packed is for the optimised kernels). */
uint32_t tnn_depthwise_conv2d_s8_scratch_bytes(const tnn_depthwise_conv2d_s8_params_t *p)
{
    (void)p;
    return 0u;
}

tri_status_t tnn_depthwise_conv2d_s8(const tnn_depthwise_conv2d_s8_params_t *p,
                                     const int8_t *input, int8_t *output, void *scratch)
{
    const tnn_conv_params_t *cv = &p->conv;
    const int32_t in_h = p->input.h;
    const int32_t in_w = p->input.w;
    const int32_t in_c = p->input.c;
    const int32_t out_c = p->output.c;
    const int32_t dm = cv->depth_mult;
    const int32_t k_h = cv->kernel.h;
    const int32_t k_w = cv->kernel.w;
    int32_t oy;
    int32_t ox;
    int8_t *out = output;

    (void)scratch;

    for (oy = 0; oy < (int32_t)p->output.h; oy++) {
        const int32_t iy0 = oy * (int32_t)cv->stride.h - (int32_t)cv->pad.h;
        for (ox = 0; ox < (int32_t)p->output.w; ox++) {
            const int32_t ix0 = ox * (int32_t)cv->stride.w - (int32_t)cv->pad.w;
            int32_t i;
            for (i = 0; i < in_c; i++) {
                int32_t m;
                for (m = 0; m < dm; m++) {
                    const int32_t o = i * dm + m;
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
                            int32_t x;
                            int32_t w;
                            if (ix < 0 || ix >= in_w) {
                                continue;
                            }
                            x = input[((size_t)iy * (size_t)in_w + (size_t)ix) * (size_t)in_c +
                                      (size_t)i];
                            w = p->filter[((size_t)ky * (size_t)k_w + (size_t)kx) * (size_t)out_c +
                                          (size_t)o];
                            acc += w * (x + (int32_t)cv->in_offset);
                        }
                    }
                    if (p->bias != NULL) {
                        acc += p->bias[o];
                    }
                    acc = tnn_requant(acc, p->quant.mult[o], p->quant.shift[o]) +
                          (int32_t)cv->out_offset;
                    out[o] = (int8_t)tnn_clamp(acc, cv->act.min, cv->act.max);
                }
            }
            out += out_c;
        }
    }
    return TRI_OK;
}
