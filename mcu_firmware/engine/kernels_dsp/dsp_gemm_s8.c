/*
 * dsp_gemm_s8.c - CONV_2D and FULLY_CONNECTED over widened rows (method
 * TNN_PACK_ROWS; layouts and numerics in dsp_s8.h).
 *
 * An output pixel's window is one run of word pairs in the widened rows
 * (k_w runs with dilation), read by one pointer. Blocks of one pixel x four
 * output channels: per group of four input channels one LDRD of input
 * (A, B), two LDMs of widened weights and eight SMLADs, i.e. 16
 * multiply-accumulates in 11 instructions. A block's biases, weights and
 * records are one stream read by one post-incremented pointer. Full blocks
 * of a layer with one-rounding requantisation take a tight loop; a last
 * block of fewer than four channels (zero channels computed, not stored),
 * two-rounding or clamped layers, and dilation take the general one.
 *
 * Write order (overlap: rows): output row oy is written after the input
 * rows it needs are widened into the scratch, and reads nothing else.
 */
#include "dsp_s8.h"

/* One group: LDRD of input, two LDMs of weights, 8 SMLADs. */
#define GEMM_GROUP()                                                                               \
    do {                                                                                           \
        uint32_t xa;                                                                               \
        uint32_t xb;                                                                               \
        uint32_t w0;                                                                               \
        uint32_t w1;                                                                               \
        uint32_t w2;                                                                               \
        uint32_t w3;                                                                               \
        TNN_LD2_INC(x, xa, xb, "r8", "r9");                                                        \
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

/* The biases of a block into a0..a3. */
#define GEMM_BIAS()                                                                                \
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

/* The full blocks of one pixel (one-rounding, no clamp, dilation 1), from
 * out up to end: pairs of groups, after one lone group when `odd` (a
 * compile-time constant: the loop is instantiated for each parity). */
#define GEMM_FAST_BLOCKS(odd)                                                                      \
    do {                                                                                           \
        for (; out != end; out += 4) {                                                             \
            const uint32_t *x = xs;                                                                \
            int32_t k = pairs;                                                                     \
            GEMM_BIAS();                                                                           \
            if (odd) {                                                                             \
                GEMM_GROUP();                                                                      \
            }                                                                                      \
            for (; k > 0; k--) {                                                                   \
                GEMM_GROUP();                                                                      \
                GEMM_GROUP();                                                                      \
            }                                                                                      \
            dsp_store4_fast(a0, a1, a2, a3, &w, out);                                              \
        }                                                                                          \
    } while (0)

void dsp_gemm(const dsp_geom_t *g, const int8_t *input, int8_t *output, void *scratch)
{
    const int32_t out_c = g->out_c;
    const int32_t out_w = g->out_w;
    const uint32_t *rows = dsp_rows(g, scratch);
    const int32_t dilated = g->d_w != 1;
    /* a window: `runs` runs of `run` groups, `skip` words apart */
    const int32_t runs = dilated ? g->k_w : 1;
    const int32_t run = g->k_h * g->groups * (dilated ? 1 : g->k_w);
    const uint32_t skip = (uint32_t)(g->d_w - 1) * g->col_words;
    const uint32_t step = (uint32_t)g->s_w * g->col_words; /* between output pixels */
    const int32_t fast_blocks =
        (g->pk->flags & ~TNN_PACK_RING) == TNN_PACK_FAST && !dilated ? out_c / 4 : 0;
    const int ring = (g->pk->flags & TNN_PACK_RING) != 0u;
    const int32_t pairs = run >> 1; /* pairs of groups in a window (dilation 1) */
    int32_t oy;
    int32_t ox;
    dsp_rows_reset(g, scratch);
    for (oy = 0; oy < g->out_h; oy++) {
        int8_t *out = output + (size_t)oy * (size_t)out_w * (size_t)out_c;
        const uint32_t *xs = rows;
        const uint32_t *data;
        dsp_rows_prepare(g, scratch, input, oy, ring);
        data = dsp_data(g, scratch);
        for (ox = 0; ox < out_w; ox++, xs += step) {
            const uint32_t *w = data;
            int32_t a0;
            int32_t a1;
            int32_t a2;
            int32_t a3;
            int32_t o;
            int8_t *const end = out + 4 * fast_blocks;
            if ((run & 1) != 0) {
                GEMM_FAST_BLOCKS(1);
            } else {
                GEMM_FAST_BLOCKS(0);
            }
            for (o = 4 * fast_blocks; o < out_c; o += 4) {
                const int32_t n = out_c - o < 4 ? out_c - o : 4;
                const uint32_t *x = xs;
                int32_t acc[4];
                int32_t r = runs;
                GEMM_BIAS();
                do {
                    int32_t k;
                    for (k = run; k > 0; k--) {
                        GEMM_GROUP();
                    }
                    x += skip;
                } while (--r > 0);
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
