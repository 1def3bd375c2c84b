/*
 * dsp_gemm_s8.c - CONV_2D and FULLY_CONNECTED over widened rows (method
 * TNN_PACK_ROWS; layouts and numerics in dsp_s8.h).
 *
 * For each output row, its k_h tap rows are widened into the slots of the
 * scratch rows; an output pixel's window is then one run of word pairs
 * (k_w runs with dilation), read by one pointer. Blocks of one pixel x four
 * output channels: per group of four input channels one LDRD of input
 * (A, B), two LDMs of widened weights and eight SMLADs, i.e. 16
 * multiply-accumulates in 11 instructions, 13 registers live. The
 * filter is packed per block of four channels in the window's order,
 *     filter[block][kx][ky][group][channel] = {A-weights, B-weights}
 * A-weights = (w[c0], w[c2]), B-weights = (w[c1], w[c3]) of the group's
 * input channels c0..c3, so that SMLAD(A, A-weights) + SMLAD(B, B-weights)
 * is the group's dot product. A last block of fewer than four channels
 * computes zero channels and stores only the real ones.
 *
 * Write order (overlap: rows): output row oy is written after the input
 * rows it needs are widened into the scratch, and reads nothing else.
 */
#include "dsp_s8.h"

/* One group of the block: LDRD of input, two LDMs of weights, 8 SMLADs. */
#define GEMM_GROUP()                                                                               \
    do {                                                                                           \
        uint32_t xa;                                                                               \
        uint32_t xb;                                                                               \
        uint32_t w0;                                                                               \
        uint32_t w1;                                                                               \
        uint32_t w2;                                                                               \
        uint32_t w3;                                                                               \
        tnn_ld2_inc(&x, &xa, &xb);                                                                 \
        TNN_LD4_INC(w, w0, w1, w2, w3, "r4", "r5", "r6", "r7");                                    \
        a0 = tnn_smlad(xa, w0, a0);                                                                \
        a0 = tnn_smlad(xb, w1, a0);                                                                \
        a1 = tnn_smlad(xa, w2, a1);                                                                \
        a1 = tnn_smlad(xb, w3, a1);                                                                \
        TNN_LD4_INC(w, w0, w1, w2, w3, "r4", "r5", "r6", "r7");                                    \
        a2 = tnn_smlad(xa, w0, a2);                                                                \
        a2 = tnn_smlad(xb, w1, a2);                                                                \
        a3 = tnn_smlad(xa, w2, a3);                                                                \
        a3 = tnn_smlad(xb, w3, a3);                                                                \
    } while (0)

void dsp_gemm(const dsp_geom_t *g, const int8_t *input, int8_t *output, void *scratch)
{
    const int32_t out_c = g->out_c;
    const uint32_t *rows = dsp_rows(g, scratch);
    /* the window: runs of `run` groups, `skip` words apart (dilation) */
    const int32_t runs = g->d_w == 1 ? 1 : g->k_w;
    const int32_t run = g->k_h * g->groups * (g->d_w == 1 ? g->k_w : 1);
    const uint32_t skip = (uint32_t)(g->d_w - 1) * g->col_words;
    const uint32_t step = (uint32_t)g->s_w * g->col_words; /* between output pixels */
    const int32_t fast = g->pk->flags == TNN_PACK_FAST;
    int32_t oy;
    int32_t ox;
    int32_t o;
    for (oy = 0; oy < g->out_h; oy++) {
        int8_t *out = output + (size_t)oy * (size_t)g->out_w * (size_t)out_c;
        const uint32_t *xs = rows;
        dsp_rows_prepare(g, scratch, input, oy, 0);
        for (ox = 0; ox < g->out_w; ox++, xs += step) {
            const uint32_t *w = g->pk->filter;
            const uint32_t *rec = (const uint32_t *)g->pk->rec;
            for (o = 0; o < out_c; o += 4, out += 4) {
                const uint32_t *x = xs;
                uint32_t b0;
                uint32_t b1;
                uint32_t b2;
                uint32_t b3;
                int32_t a0;
                int32_t a1;
                int32_t a2;
                int32_t a3;
                int32_t r = runs;
                TNN_LD4_INC(rec, b0, b1, b2, b3, "r8", "r9", "r10", "r11");
                a0 = (int32_t)b0;
                a1 = (int32_t)b1;
                a2 = (int32_t)b2;
                a3 = (int32_t)b3;
                do {
                    int32_t k = run;
                    if ((k & 1) != 0) {
                        GEMM_GROUP();
                    }
                    for (k >>= 1; k > 0; k--) {
                        GEMM_GROUP();
                        GEMM_GROUP();
                    }
                    x += skip;
                } while (--r > 0);
                if (fast && out_c - o >= 4) {
                    dsp_store4_fast(a0, a1, a2, a3, &rec, out);
                } else {
                    int32_t acc[4];
                    acc[0] = a0;
                    acc[1] = a1;
                    acc[2] = a2;
                    acc[3] = a3;
                    dsp_store4_slow(g, acc, (const int32_t *)rec - 4, out,
                                    out_c - o < 4 ? out_c - o : 4);
                    rec += 12;
                }
            }
            out -= o - out_c; /* past a short last block: back to the next pixel */
        }
    }
}
