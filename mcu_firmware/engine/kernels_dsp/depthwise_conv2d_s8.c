/*
 * depthwise_conv2d_s8.c - DEPTHWISE_CONV_2D, int8 activations, per-channel
 * int8 weights, int32 bias: the Cortex-M4 DSP variant of
 * engine/kernels/depthwise_conv2d_s8.c, bit-exact with it (and with TFLite
 * Micro).
 *
 * Depth multiplier 1 with packed data (method TNN_PACK_ROWS): widened rows
 * and four channels at a time (dsp_dw_s8.c); otherwise the portable loop
 * (dsp_plain_s8.c). Write order (overlap: rows): as the reference.
 */
#include "dsp_s8.h"

uint32_t tnn_depthwise_conv2d_s8_scratch_bytes(const tnn_depthwise_conv2d_s8_params_t *p)
{
    return dsp_scratch(p);
}

tri_status_t tnn_depthwise_conv2d_s8(const tnn_depthwise_conv2d_s8_params_t *p,
                                     const int8_t *input, int8_t *output, void *scratch)
{
    dsp_run(p, input, output, scratch);
    return TRI_OK;
}
