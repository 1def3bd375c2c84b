/*
 * avg_pool2d_s8.c - AVERAGE_POOL_2D, int8 (reference kernel).
 *
 * Input and output share scale and zero point, so the average of the raw
 * int8 values is the answer: the window is clipped to the input (padding
 * is neither summed nor counted), the int32 sum (at most 255 * 128 * 128)
 * is divided by the count with rounding half away from zero, as TFLite
 * Micro's reference AveragePool:
 *   avg = sum > 0 ? (sum + n/2) / n : (sum - n/2) / n     (C division)
 * then clamped to the activation range.
 *
 * Write order (overlap: rows): row by row, pixel by pixel, channels
 * together; output row r only reads input rows >= r * stride_h - pad_top.
 */
#include "tnn_fixed.h"
#include "tnn_kernels.h"

tri_status_t tnn_avg_pool2d_s8(const tnn_pool2d_s8_params_t *p, const int8_t *input,
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
            const int32_t n = (ky1 - ky0) * (kx1 - kx0); /* >= 1: checked at bind */
            int32_t c;
            for (c = 0; c < ch; c++) {
                int32_t sum = 0;
                int32_t ky;
                int32_t avg;
                for (ky = ky0; ky < ky1; ky++) {
                    int32_t kx;
                    for (kx = kx0; kx < kx1; kx++) {
                        sum += input[((size_t)(iy0 + ky) * (size_t)in_w + (size_t)(ix0 + kx)) *
                                         (size_t)ch +
                                     (size_t)c];
                    }
                }
                avg = sum > 0 ? (sum + n / 2) / n : (sum - n / 2) / n;
                *out++ = (int8_t)tnn_clamp(avg, p->act_min, p->act_max);
            }
        }
    }
    return TRI_OK;
}
