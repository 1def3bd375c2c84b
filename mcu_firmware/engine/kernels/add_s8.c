/*
 * add_s8.c - ADD, int8, with 4-D broadcasting (reference kernel).
 *
 * Numerics as TFLite Micro's int8 AddFunc: each input, offset to its zero
 * point (|v| <= 255), is shifted left by left_shift (20: |v| * 2^20 < 2^28,
 * no overflow), scaled to the common scale 2 * max(s1, s2) with a
 * multiplier < 1, the two are summed (|sum| < 2^29) and the sum is scaled
 * to the output (multiplier < 1), offset and clamped.
 *
 * Write order (overlap: elementwise): output elements in increasing
 * order; element i of each input is read before output element i is
 * written.
 */
#include "tnn_fixed.h"
#include "tnn_kernels.h"

tri_status_t tnn_add_s8(const tnn_add_s8_params_t *p, const int8_t *input1, const int8_t *input2,
                        int8_t *output)
{
    uint32_t i0;
    int8_t *out = output;

    for (i0 = 0; i0 < p->out_dims[0]; i0++) {
        uint32_t i1;
        for (i1 = 0; i1 < p->out_dims[1]; i1++) {
            uint32_t i2;
            for (i2 = 0; i2 < p->out_dims[2]; i2++) {
                const size_t base1 = (size_t)i0 * p->in1_strides[0] +
                                     (size_t)i1 * p->in1_strides[1] +
                                     (size_t)i2 * p->in1_strides[2];
                const size_t base2 = (size_t)i0 * p->in2_strides[0] +
                                     (size_t)i1 * p->in2_strides[1] +
                                     (size_t)i2 * p->in2_strides[2];
                uint32_t i3;
                for (i3 = 0; i3 < p->out_dims[3]; i3++) {
                    const int32_t a = (int32_t)input1[base1 + (size_t)i3 * p->in1_strides[3]] +
                                      (int32_t)p->in1_offset;
                    const int32_t b = (int32_t)input2[base2 + (size_t)i3 * p->in2_strides[3]] +
                                      (int32_t)p->in2_offset;
                    const int32_t sa =
                        tnn_requant(a * (1 << p->left_shift), p->in1_mult, p->in1_shift);
                    const int32_t sb =
                        tnn_requant(b * (1 << p->left_shift), p->in2_mult, p->in2_shift);
                    int32_t v = tnn_requant(sa + sb, p->out_mult, p->out_shift) +
                                (int32_t)p->out_offset;
                    *out++ = (int8_t)tnn_clamp(v, p->act_min, p->act_max);
                }
            }
        }
    }
    return TRI_OK;
}
