/*
 * dsp_dw_s8.c - DEPTHWISE_CONV_2D (depth multiplier 1) over widened rows
 * (method TNN_PACK_ROWS; layouts and numerics in dsp_s8.h).
 *
 * Input rows are widened once into a ring of slots interleaved in each
 * column, group by group (TNN_PACK_RING, dilation 1), so that the window of
 * four channels is k_w x k_h consecutive word pairs (A = (x0, x2),
 * B = (x1, x3)) read by one pointer, and the data stream holds one copy of
 * the (small) depthwise weights per ring rotation. Blocks of one pixel x the
 * four channels of a group: per two taps one LDM of input, one of weights
 * and eight 16x16 multiply-accumulates (SMLABB / SMLATT, one channel each:
 * a depthwise tap has no second product to pair with); nine-tap windows
 * fully unrolled. Full groups of one-rounding layers take a tight loop; a
 * last group of fewer than four channels (zero channels computed, not
 * stored), two-rounding or clamped layers, and dilation the general one.
 *
 * Write order (overlap: rows): output row oy is written after the input
 * rows it needs are widened; pixel by pixel, all channels of a pixel.
 */
#include "dsp_s8.h"

/* Two taps for the four channels of a group: an LDM of input, an LDM of
 * weights, eight SMLAxy. */
#define DW_TAP2()                                                                                  \
    do {                                                                                           \
        uint32_t xa0;                                                                              \
        uint32_t xb0;                                                                              \
        uint32_t xa1;                                                                              \
        uint32_t xb1;                                                                              \
        uint32_t w0;                                                                               \
        uint32_t w1;                                                                               \
        uint32_t w2;                                                                               \
        uint32_t w3;                                                                               \
        TNN_LD4_INC(x, xa0, xb0, xa1, xb1, "r4", "r5", "r6", "r7");                                \
        TNN_LD4_INC(w, w0, w1, w2, w3, "r8", "r9", "r10", "r11");                                  \
        a0 = tnn_smlabb(xa0, w0, a0);                                                              \
        a2 = tnn_smlatt(xa0, w0, a2);                                                              \
        a1 = tnn_smlabb(xb0, w1, a1);                                                              \
        a3 = tnn_smlatt(xb0, w1, a3);                                                              \
        a0 = tnn_smlabb(xa1, w2, a0);                                                              \
        a2 = tnn_smlatt(xa1, w2, a2);                                                              \
        a1 = tnn_smlabb(xb1, w3, a1);                                                              \
        a3 = tnn_smlatt(xb1, w3, a3);                                                              \
    } while (0)

/* One tap for the four channels of a group. */
#define DW_TAP()                                                                                   \
    do {                                                                                           \
        uint32_t xa;                                                                               \
        uint32_t xb;                                                                               \
        uint32_t w02;                                                                              \
        uint32_t w13;                                                                              \
        tnn_ld2_inc(&x, &xa, &xb);                                                                 \
        tnn_ld2_inc(&w, &w02, &w13);                                                               \
        a0 = tnn_smlabb(xa, w02, a0);                                                              \
        a2 = tnn_smlatt(xa, w02, a2);                                                              \
        a1 = tnn_smlabb(xb, w13, a1);                                                              \
        a3 = tnn_smlatt(xb, w13, a3);                                                              \
    } while (0)

/* The biases of a block into a0..a3. */
#define DW_BIAS()                                                                                  \
    do {                                                                                           \
        uint32_t b0;                                                                               \
        uint32_t b1;                                                                               \
        uint32_t b2;                                                                               \
        uint32_t b3;                                                                               \
        tnn_ld2_inc(&w, &b0, &b1);                                                                 \
        tnn_ld2_inc(&w, &b2, &b3);                                                                 \
        a0 = (int32_t)b0;                                                                          \
        a1 = (int32_t)b1;                                                                          \
        a2 = (int32_t)b2;                                                                          \
        a3 = (int32_t)b3;                                                                          \
    } while (0)

void dsp_dw(const dsp_geom_t *g, const int8_t *input, int8_t *output, void *scratch)
{
    const int32_t channels = g->out_c;
    const int32_t taps = g->k_h * g->k_w;
    const uint32_t *rows = dsp_rows(g, scratch);
    const int32_t dilated = g->d_w != 1;
    const uint32_t skip = (uint32_t)(g->d_w - 1) * g->col_words; /* between window columns */
    const uint32_t step = (uint32_t)g->s_w * g->col_words;       /* between output pixels */
    const int32_t fast_groups =
        (g->pk->flags & ~TNN_PACK_RING) == TNN_PACK_FAST && !dilated ? channels / 4 : 0;
    const int ring = (g->pk->flags & TNN_PACK_RING) != 0u;
    int32_t oy;
    int32_t ox;
    dsp_rows_reset(g, scratch);
    for (oy = 0; oy < g->out_h; oy++) {
        int8_t *out = output + (size_t)oy * (size_t)g->out_w * (size_t)channels;
        const uint32_t *xs = rows;
        const uint32_t *data;
        dsp_rows_prepare(g, scratch, input, oy, ring);
        data = dsp_data(g, scratch);
        for (ox = 0; ox < g->out_w; ox++, xs += step) {
            const uint32_t *xg = xs;
            const uint32_t *w = data;
            int32_t a0;
            int32_t a1;
            int32_t a2;
            int32_t a3;
            int32_t c0;
            int32_t k;
            for (k = fast_groups; k > 0; k--, out += 4, xg += g->grp_words) {
                const uint32_t *x = xg;
                int32_t t;
                DW_BIAS();
                if (taps == 9) {
                    DW_TAP2();
                    DW_TAP2();
                    DW_TAP2();
                    DW_TAP2();
                    DW_TAP();
                } else {
                    for (t = taps; t > 0; t--) {
                        DW_TAP();
                    }
                }
                dsp_store4_fast(a0, a1, a2, a3, &w, out);
            }
            for (c0 = 4 * fast_groups; c0 < channels; c0 += 4, xg += g->grp_words) {
                const int32_t n = channels - c0 < 4 ? channels - c0 : 4;
                const uint32_t *x = xg;
                int32_t acc[4];
                int32_t kx;
                DW_BIAS();
                for (kx = 0; kx < g->k_w; kx++, x += skip) {
                    for (k = 0; k < g->k_h; k++) {
                        DW_TAP();
                    }
                }
                acc[0] = a0;
                acc[1] = a1;
                acc[2] = a2;
                acc[3] = a3;
                dsp_store4_slow(g, acc, w, out, n);
                w += 12;
                out += n;
            }
        }
    }
}
