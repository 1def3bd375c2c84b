/*
 * conv2d_s8.c - CONV_2D, int8 activations, per-channel int8 weights, int32
 * bias: the Cortex-M4 DSP variant of engine/kernels/conv2d_s8.c, bit-exact
 * with it (and with TFLite Micro).
 *
 * With packed data (method TNN_PACK_ROWS, chosen by the exporter) the input
 * rows are widened once into the scratch ring and the layer runs as blocks
 * of 1 pixel x 4 channels of SMLADs (dsp_gemm_s8.c); otherwise the
 * portable loop (dsp_plain_s8.c). Write order (overlap: rows): as the
 * reference.
 */
#include "dsp_s8.h"

uint32_t tnn_conv2d_s8_scratch_bytes(const tnn_conv2d_s8_params_t *p)
{
    return dsp_scratch(p);
}

tri_status_t tnn_conv2d_s8(const tnn_conv2d_s8_params_t *p, const int8_t *input, int8_t *output,
                           void *scratch)
{
    dsp_run(p, input, output, scratch);
    return TRI_OK;
}
