/*
 * max_pool2d_s8.c - MAX_POOL_2D, int8 (reference kernel).
 *
 * Input and output share scale and zero point; the maximum of the raw
 * int8 values over the window clipped to the input (padding never wins),
 * clamped to the activation range, as TFLite Micro's reference MaxPool.
 *
 * Write order (overlap: rows): row by row, pixel by pixel, channels
 * together; output row r only reads input rows >= r * stride_h - pad_top.
 */
#include "tnn_fixed.h"
#include "tnn_kernels.h"

tri_status_t tnn_max_pool2d_s8(const tnn_pool2d_s8_params_t *p, const int8_t *input,
                               int8_t *output)
{
    const int32_t in_h = p->in_h;
    const int32_t in_w = p->in_w;
    const int32_t ch = p->channels;
    int32_t oy;
    int32_t ox;
    int8_t *out = output;

    for (oy = 0; oy < (int32_t)p->out_h; oy++) {
        const int32_t iy0 = oy * (int32_t)p->stride_h - (int32_t)p->pad_top;
        const int32_t ky0 = iy0 < 0 ? -iy0 : 0;
        const int32_t ky1 = (int32_t)p->k_h < in_h - iy0 ? (int32_t)p->k_h : in_h - iy0;
        for (ox = 0; ox < (int32_t)p->out_w; ox++) {
            const int32_t ix0 = ox * (int32_t)p->stride_w - (int32_t)p->pad_left;
            const int32_t kx0 = ix0 < 0 ? -ix0 : 0;
            const int32_t kx1 = (int32_t)p->k_w < in_w - ix0 ? (int32_t)p->k_w : in_w - ix0;
            int32_t c;
            for (c = 0; c < ch; c++) {
                int32_t best = INT8_MIN;
                int32_t ky;
                for (ky = ky0; ky < ky1; ky++) {
                    int32_t kx;
                    for (kx = kx0; kx < kx1; kx++) {
                        const int32_t v =
                            input[((size_t)(iy0 + ky) * (size_t)in_w + (size_t)(ix0 + kx)) *
                                      (size_t)ch +
                                  (size_t)c];
                        best = v > best ? v : best;
                    }
                }
                *out++ = (int8_t)tnn_clamp(best, p->act_min, p->act_max);
            }
        }
    }
    return TRI_OK;
}
