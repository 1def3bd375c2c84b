/*
 * dsp_gemm_s8.c - CONV_2D and FULLY_CONNECTED over widened rows (method
 * TNN_PACK_ROWS; layouts and numerics in dsp_s8.h).
 *
 * Blocks of 2 output pixels x 2 output channels: per group of four input
 * channels, one LDRD per pixel (its A, B words), one per channel (its
 * widened weights) and eight SMLADs, i.e. 16 multiply-accumulates in 12
 * instructions plus the loop. The filter is packed per channel pair:
 *     filter[pair][ky][kx][group] = {A-weights ch0, B-weights ch0,
 *                                    A-weights ch1, B-weights ch1}
 * where A-weights = (w[c0], w[c2]) and B-weights = (w[c1], w[c3]) of the
 * group's channels c0..c3, so that SMLAD(A, A-weights) + SMLAD(B,
 * B-weights) is the group's dot product. An odd last channel is paired with
 * a zero channel, an odd last pixel with itself; neither extra is stored.
 *
 * Write order (overlap: rows): output row oy is written after the input
 * rows it needs are widened into the scratch ring, and reads nothing else.
 */
#include "dsp_s8.h"

/* acc[0..3] (pixel a ch0, pixel a ch1, pixel b ch0, pixel b ch1) += the dot
 * products of n groups. */
static inline void mac_2x2(const uint32_t *xa, const uint32_t *xb, const uint32_t **w, int32_t n,
                           int32_t acc[4])
{
    int32_t a0 = acc[0];
    int32_t a1 = acc[1];
    int32_t b0 = acc[2];
    int32_t b1 = acc[3];
    const uint32_t *wp = *w;
    do {
        uint32_t xa0;
        uint32_t xa1;
        uint32_t xb0;
        uint32_t xb1;
        uint32_t w0;
        uint32_t w1;
        tnn_ld2_inc(&xa, &xa0, &xa1);
        tnn_ld2_inc(&xb, &xb0, &xb1);
        tnn_ld2_inc(&wp, &w0, &w1);
        a0 = tnn_smlad(xa0, w0, a0);
        b0 = tnn_smlad(xb0, w0, b0);
        a0 = tnn_smlad(xa1, w1, a0);
        b0 = tnn_smlad(xb1, w1, b0);
        tnn_ld2_inc(&wp, &w0, &w1);
        a1 = tnn_smlad(xa0, w0, a1);
        b1 = tnn_smlad(xb0, w0, b1);
        a1 = tnn_smlad(xa1, w1, a1);
        b1 = tnn_smlad(xb1, w1, b1);
    } while (--n > 0);
    *w = wp;
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = b0;
    acc[3] = b1;
}

void dsp_conv_rows(const dsp_geom_t *g, const int8_t *input, int8_t *output, void *scratch)
{
    const int32_t out_c = g->out_c;
    const uint32_t pix_words = 2u * (uint32_t)g->groups;
    const int32_t seg_groups = g->d_w == 1 ? g->k_w * g->groups : g->groups;
    const int32_t segs = g->d_w == 1 ? 1 : g->k_w;
    int32_t oy;

    dsp_rows_reset(g, scratch);
    for (oy = 0; oy < g->out_h; oy++) {
        int8_t *out_row = output + (size_t)oy * (size_t)g->out_w * (size_t)out_c;
        int32_t ox;
        dsp_rows_prepare(g, scratch, input, oy);
        for (ox = 0; ox < g->out_w; ox += 2) {
            const int32_t pair = ox + 1 < g->out_w; /* a second pixel */
            const uint32_t col_a = (uint32_t)(ox * g->s_w) * pix_words;
            const uint32_t col_b = pair ? col_a + (uint32_t)g->s_w * pix_words : col_a;
            const uint32_t *w = g->pk->filter;
            const int32_t *rec = g->pk->rec;
            int8_t *out_a = out_row + (size_t)ox * (size_t)out_c;
            int32_t o;
            for (o = 0; o < out_c; o += 2) {
                int32_t acc[4];
                int32_t ky;
                acc[0] = rec[0];
                acc[1] = rec[4];
                acc[2] = rec[0];
                acc[3] = rec[4];
                for (ky = 0; ky < g->k_h; ky++) {
                    const uint32_t *row = dsp_rows_get(g, scratch, ky);
                    int32_t s;
                    for (s = 0; s < segs; s++) {
                        const uint32_t off = (uint32_t)(s * g->d_w) * pix_words;
                        mac_2x2(row + col_a + off, row + col_b + off, &w, seg_groups, acc);
                    }
                }
                out_a[o] = dsp_requant(g, acc[0], rec);
                if (pair) {
                    out_a[out_c + o] = dsp_requant(g, acc[2], rec);
                }
                if (o + 1 < out_c) {
                    out_a[o + 1] = dsp_requant(g, acc[1], rec + 4);
                    if (pair) {
                        out_a[out_c + o + 1] = dsp_requant(g, acc[3], rec + 4);
                    }
                }
                rec += 8;
            }
        }
    }
}
