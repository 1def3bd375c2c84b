/*
 * fully_connected_s8.c - FULLY_CONNECTED, int8 activations, int8 weights
 * (per-channel, or per-tensor as equal per-channel entries), int32 bias:
 * the Cortex-M4 DSP variant of engine/kernels/fully_connected_s8.c,
 * bit-exact with it (and with TFLite Micro).
 *
 * A 1x1 convolution over one row of `batches` pixels: with packed data
 * (method TNN_PACK_ROWS) 1 x 4 blocks of SMLADs (dsp_gemm_s8.c), otherwise
 * the portable loop (dsp_plain_s8.c). The output must not overlap the
 * input.
 */
#include "dsp_s8.h"

uint32_t tnn_fully_connected_s8_scratch_bytes(const tnn_fully_connected_s8_params_t *p)
{
    return dsp_scratch(p);
}

tri_status_t tnn_fully_connected_s8(const tnn_fully_connected_s8_params_t *p, const int8_t *input,
                                    int8_t *output, void *scratch)
{
    dsp_run(p, input, output, scratch);
    return TRI_OK;
}
