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
 * a pixel together; output row r only reads input rows >= r * stride_h -
 * pad_top.
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
    const int32_t in_h = p->in_h;
    const int32_t in_w = p->in_w;
    const int32_t in_c = p->in_c;
    const int32_t out_c = p->out_c;
    const int32_t dm = p->depth_mult;
    int32_t oy;
    int32_t ox;
    int8_t *out = output;

    (void)scratch;

    for (oy = 0; oy < (int32_t)p->out_h; oy++) {
        const int32_t iy0 = oy * (int32_t)p->stride_h - (int32_t)p->pad_top;
        for (ox = 0; ox < (int32_t)p->out_w; ox++) {
            const int32_t ix0 = ox * (int32_t)p->stride_w - (int32_t)p->pad_left;
            int32_t i;
            for (i = 0; i < in_c; i++) {
                int32_t m;
                for (m = 0; m < dm; m++) {
                    const int32_t o = i * dm + m;
                    int32_t acc = 0;
                    int32_t ky;
                    for (ky = 0; ky < (int32_t)p->k_h; ky++) {
                        const int32_t iy = iy0 + ky * (int32_t)p->dil_h;
                        int32_t kx;
                        if (iy < 0 || iy >= in_h) {
                            continue;
                        }
                        for (kx = 0; kx < (int32_t)p->k_w; kx++) {
                            const int32_t ix = ix0 + kx * (int32_t)p->dil_w;
                            int32_t x;
                            int32_t w;
                            if (ix < 0 || ix >= in_w) {
                                continue;
                            }
                            x = input[((size_t)iy * (size_t)in_w + (size_t)ix) * (size_t)in_c +
                                      (size_t)i];
                            w = p->filter[((size_t)ky * p->k_w + (size_t)kx) * (size_t)out_c +
                                          (size_t)o];
                            acc += w * (x + (int32_t)p->in_offset);
                        }
                    }
                    if (p->bias != NULL) {
                        acc += p->bias[o];
                    }
                    acc = tnn_requant(acc, p->mult[o], p->shift[o]) + (int32_t)p->out_offset;
                    out[o] = (int8_t)tnn_clamp(acc, p->act_min, p->act_max);
                }
            }
            out += out_c;
        }
    }
    return TRI_OK;
}
