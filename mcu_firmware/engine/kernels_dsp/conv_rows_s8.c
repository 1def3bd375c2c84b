/*
 * conv_rows_s8.c - the rows of a streaming CONV_2D or DEPTHWISE_CONV_2D
 * layer: the Cortex-M4 DSP variant of engine/kernels/conv_rows_s8.c,
 * bit-exact with it (and with TFLite Micro).
 *
 * The ring is the widened rows of the optimised kernels (dsp_s8.h): each
 * input row is widened to int16 once, as it arrives, into its slot; an
 * output row runs the same blocks as a whole-tensor layer
 * (dsp_gemm_s8.c, dsp_dw_s8.c). A streaming layer needs packed data with
 * method TNN_PACK_ROWS, TNN_PACK_RING when k_h > 1 and the last-block mark
 * (the exporter's streaming mode); anything else is refused at begin.
 */
#include "dsp_s8.h"

uint32_t tnn_conv_rows_s8_ring_bytes(const tnn_conv2d_s8_params_t *p)
{
    const tnn_packed_t *pk = p->packed;
    uint32_t bytes;
    dsp_geom_t g;
    if (pk == NULL || pk->method != TNN_PACK_ROWS ||
        (p->conv.kernel.h > 1u && (pk->flags & TNN_PACK_RING) == 0u)) {
        return TNN_SCRATCH_INVALID;
    }
    bytes = dsp_scratch(p);
    if (bytes == TNN_SCRATCH_INVALID) {
        return bytes;
    }
    dsp_geom(&g, p);
    /* the streaming loops stop at the last-block mark: it must be there */
    return dsp_last_marks_ok(&g) ? bytes : TNN_SCRATCH_INVALID;
}

void tnn_conv_rows_s8_reset(const tnn_conv2d_s8_params_t *p, void *ring)
{
    dsp_geom_t g;
    dsp_geom(&g, p);
    dsp_rows_fill(&g, ring);
}

void tnn_conv_rows_s8_push(const tnn_conv2d_s8_params_t *p, void *ring, uint32_t slot,
                           const int8_t *row)
{
    dsp_geom_t g;
    dsp_geom(&g, p);
    dsp_rows_push(&g, ring, slot, row);
}

void tnn_conv_rows_s8_run(const tnn_conv2d_s8_params_t *p, void *ring, int32_t oy, int8_t *out)
{
    dsp_geom_t g;
    dsp_geom(&g, p);
    dsp_rows_select(&g, ring, oy);
    dsp_conv_row(&g, ring, out);
}
