/*
 * dsp_rows_s8.c - the ring of widened input rows in the scratch buffer
 * (layout and numerics in dsp_s8.h), shared by the optimised CONV_2D,
 * DEPTHWISE_CONV_2D and FULLY_CONNECTED kernels.
 */
#include "dsp_s8.h"

#define TAG_EMPTY INT32_MIN
/* Largest scratch the kernels accept (bind refuses more: a sign of bad data). */
#define SCRATCH_LIMIT (1u << 24)

void dsp_geom_finish(dsp_geom_t *g)
{
    g->groups = (g->in_c + 3) / 4;
    g->w_p = (g->out_w - 1) * g->s_w + (g->k_w - 1) * g->d_w + 1;
}

/* Records: TNN_PACK_FAST needs r in [1, 31]; otherwise a shift in [-31, 30]. */
static int records_ok(const dsp_geom_t *g, uint32_t channels)
{
    uint32_t o;
    for (o = 0; o < channels; o++) {
        const int32_t *rec = g->pk->rec + 4u * o;
        if ((g->pk->flags & TNN_PACK_FAST) != 0u) {
            if (rec[3] < 1 || rec[3] > 31) {
                return 0;
            }
        } else if (rec[2] < -31 || rec[2] > 30) {
            return 0;
        }
    }
    return 1;
}

uint32_t dsp_rows_scratch_bytes(const dsp_geom_t *g)
{
    const tnn_packed_t *pk = g->pk;
    const uint32_t channels = (uint32_t)g->out_c;
    uint64_t row_bytes;
    uint64_t total;
    if (pk->method != TNN_PACK_ROWS || pk->filter == NULL || pk->rec == NULL ||
        (int32_t)pk->groups != g->groups || (pk->flags & ~(TNN_PACK_FAST | TNN_PACK_CLAMP)) != 0u ||
        !records_ok(g, channels)) {
        return TNN_SCRATCH_INVALID;
    }
    row_bytes = (uint64_t)g->w_p * (uint64_t)g->groups * 8u;
    total = (uint64_t)g->k_h * (8u + row_bytes);
    return total <= SCRATCH_LIMIT ? (uint32_t)total : TNN_SCRATCH_INVALID;
}

void dsp_rows_reset(const dsp_geom_t *g, void *scratch)
{
    int32_t *tags = (int32_t *)scratch;
    int32_t ky;
    for (ky = 0; ky < g->k_h; ky++) {
        tags[ky] = TAG_EMPTY;
    }
}

/* Two int16 lanes both holding the zero point. */
static uint32_t zp_pair(int32_t zp)
{
    const uint32_t h = (uint32_t)zp & 0xFFFFu;
    return h | (h << 16);
}

/* Widens one input pixel (in_c bytes at src) into groups of two words,
 * `step` words apart. Channels past in_c are 0; no byte past the pixel is
 * read. */
static void widen_pixel(const int8_t *src, int32_t in_c, uint32_t *dst, uint32_t step)
{
    int32_t c = 0;
    for (; c + 4 <= in_c; c += 4) {
        const uint32_t v = tnn_ld32(src + c);
        dst[0] = tnn_sxtb16(v);
        dst[1] = tnn_sxtb16_ror8(v);
        dst += step;
    }
    if (c < in_c) {
        uint32_t v = 0u;
        int32_t k;
        for (k = 0; c + k < in_c; k++) {
            v |= (uint32_t)(uint8_t)src[c + k] << (8 * k);
        }
        dst[0] = tnn_sxtb16(v);
        dst[1] = tnn_sxtb16_ror8(v);
    }
}

/* Widens n groups of four channels, src_step bytes apart, into word pairs
 * dst_step words apart. */
static void widen_run(const int8_t *src, uint32_t src_step, uint32_t *dst, uint32_t dst_step,
                      int32_t n)
{
    for (; n > 0; n--) {
        const uint32_t v = tnn_ld32(src);
        dst[0] = tnn_sxtb16(v);
        dst[1] = tnn_sxtb16_ror8(v);
        src += src_step;
        dst += dst_step;
    }
}

/* Fills columns [j0, j1) of a row with zero points. */
static void fill_zp(const dsp_geom_t *g, uint32_t *row, int32_t j0, int32_t j1)
{
    const uint32_t z = zp_pair(g->zp);
    const uint32_t groups = (uint32_t)g->groups;
    int32_t j;
    uint32_t k;
    for (j = j0; j < j1; j++) {
        for (k = 0; k < groups; k++) {
            const uint32_t at = g->planar ? 2u * (k * (uint32_t)g->w_p + (uint32_t)j)
                                          : 2u * ((uint32_t)j * groups + k);
            row[at] = z;
            row[at + 1u] = z;
        }
    }
}

/* Widens input row iy (or a row of zero points when iy lies outside) into
 * `row`. */
static void widen_row(const dsp_geom_t *g, const int8_t *input, int32_t iy, uint32_t *row)
{
    const uint32_t groups = (uint32_t)g->groups;
    const uint32_t w_p = (uint32_t)g->w_p;
    int32_t j0 = g->pad_l;
    int32_t j1 = g->pad_l + g->in_w;
    const int8_t *src;
    if (iy < 0 || iy >= g->in_h || j0 >= g->w_p) {
        fill_zp(g, row, 0, g->w_p);
        return;
    }
    j1 = j1 < g->w_p ? j1 : g->w_p;
    fill_zp(g, row, 0, j0);
    fill_zp(g, row, j1, g->w_p);
    src = input + (size_t)iy * (size_t)g->in_w * (size_t)g->in_c;
    if ((g->in_c & 3) != 0) {
        int32_t j;
        for (j = j0; j < j1; j++) {
            uint32_t *dst = g->planar ? row + 2u * (uint32_t)j : row + 2u * (uint32_t)j * groups;
            widen_pixel(src + (size_t)(j - g->pad_l) * (size_t)g->in_c, g->in_c, dst,
                        g->planar ? 2u * w_p : 2u);
        }
    } else if (!g->planar) {
        /* whole pixels of whole groups: one run along the row */
        widen_run(src, 4u, row + 2u * (uint32_t)j0 * groups, 2u, (j1 - j0) * g->groups);
    } else {
        uint32_t k;
        for (k = 0; k < groups; k++) {
            widen_run(src + 4u * k, (uint32_t)g->in_c, row + 2u * (k * w_p + (uint32_t)j0), 2u,
                      j1 - j0);
        }
    }
}

void dsp_rows_prepare(const dsp_geom_t *g, void *scratch, const int8_t *input, int32_t oy)
{
    int32_t *tags = (int32_t *)scratch;
    uint32_t *slots = (uint32_t *)scratch + g->k_h;
    uint32_t *rows = (uint32_t *)scratch + 2 * g->k_h;
    const uint32_t row_words = (uint32_t)g->w_p * (uint32_t)g->groups * 2u;
    int32_t ky;
    for (ky = 0; ky < g->k_h; ky++) {
        const int32_t iy = oy * g->s_h - g->pad_t + ky * g->d_h;
        /* dilation 1: consecutive rows take consecutive slots, so a row keeps
         * its slot while later output rows need it */
        const uint32_t slot =
            g->d_h == 1 ? (uint32_t)(iy + g->pad_t) % (uint32_t)g->k_h : (uint32_t)ky;
        if (tags[slot] != iy) {
            widen_row(g, input, iy, rows + slot * row_words);
            tags[slot] = iy;
        }
        slots[ky] = slot;
    }
}
