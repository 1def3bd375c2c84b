/*
 * dsp_dw_s8.c - DEPTHWISE_CONV_2D (depth multiplier 1) over widened rows
 * (method TNN_PACK_ROWS; layouts and numerics in dsp_s8.h).
 *
 * Input rows are widened once into a ring of slots interleaved in each
 * column, group by group, so that (dilation 1) the window of four channels
 * is k_w x k_h consecutive word pairs (A = (x0, x2), B = (x1, x3)) read by
 * one pointer. The weights are packed for each rotation of the ring (the
 * slot of tap row 0) in the window's order,
 *     filter[rotation][group][kx][slot] = {(w[c0], w[c2]), (w[c1], w[c3])}
 * slot s holding tap row (s - rotation) mod k_h. Blocks of one pixel x the
 * four channels of a group: per two taps one LDM of input, one of weights
 * and eight 16x16 multiply-accumulates (SMLABB / SMLATT, one channel each:
 * a depthwise tap has no second product to pair with); nine-tap windows
 * fully unrolled. Channels past the depth compute on zero weights and are
 * not stored.
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

void dsp_dw(const dsp_geom_t *g, const int8_t *input, int8_t *output, void *scratch)
{
    const int32_t channels = g->out_c;
    const int32_t taps = g->k_h * g->k_w;
    const uint32_t *rows = dsp_rows(g, scratch);
    const uint32_t skip = (uint32_t)(g->d_w - 1) * g->col_words; /* between window columns */
    const uint32_t step = (uint32_t)g->s_w * g->col_words;       /* between output pixels */
    const int32_t fast = g->pk->flags == TNN_PACK_FAST;
    const int32_t nine = taps == 9 && skip == 0u; /* 3x3 (or 9x1, 1x9), dilation 1: unrolled */
    int32_t oy;
    int32_t ox;
    int32_t c0;
    dsp_rows_reset(g, scratch);
    for (oy = 0; oy < g->out_h; oy++) {
        int8_t *out = output + (size_t)oy * (size_t)g->out_w * (size_t)channels;
        const uint32_t *xs = rows;
        const uint32_t *wr;
        dsp_rows_prepare(g, scratch, input, oy, 1);
        wr = g->pk->filter + dsp_rows_rotation(g, scratch) * (uint32_t)(2 * taps * g->groups);
        for (ox = 0; ox < g->out_w; ox++, xs += step) {
            const uint32_t *xg = xs;
            const uint32_t *w = wr;
            const uint32_t *rec = (const uint32_t *)g->pk->rec;
            for (c0 = 0; c0 < channels; c0 += 4, out += 4, xg += g->grp_words) {
                const uint32_t *x = xg;
                uint32_t b0;
                uint32_t b1;
                uint32_t b2;
                uint32_t b3;
                int32_t a0;
                int32_t a1;
                int32_t a2;
                int32_t a3;
                int32_t k;
                TNN_LD4_INC(rec, b0, b1, b2, b3, "r4", "r5", "r6", "r7");
                a0 = (int32_t)b0;
                a1 = (int32_t)b1;
                a2 = (int32_t)b2;
                a3 = (int32_t)b3;
                if (nine) {
                    DW_TAP2();
                    DW_TAP2();
                    DW_TAP2();
                    DW_TAP2();
                    DW_TAP();
                } else if (skip == 0u) {
                    for (k = taps; k > 0; k--) {
                        DW_TAP();
                    }
                } else {
                    int32_t kx;
                    for (kx = 0; kx < g->k_w; kx++, x += skip) {
                        for (k = 0; k < g->k_h; k++) {
                            DW_TAP();
                        }
                    }
                }
                if (fast && channels - c0 >= 4) {
                    dsp_store4_fast(a0, a1, a2, a3, &rec, out);
                } else {
                    int32_t acc[4];
                    acc[0] = a0;
                    acc[1] = a1;
                    acc[2] = a2;
                    acc[3] = a3;
                    dsp_store4_slow(g, acc, (const int32_t *)rec - 4, out,
                                    channels - c0 < 4 ? channels - c0 : 4);
                    rec += 12;
                }
            }
            out -= c0 - channels; /* past a short last group: back to the next pixel */
        }
    }
}
