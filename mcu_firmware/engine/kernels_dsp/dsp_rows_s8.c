/*
 * dsp_rows_s8.c - what the optimised CONV_2D, DEPTHWISE_CONV_2D and
 * FULLY_CONNECTED kernels share (layouts and numerics in dsp_s8.h): the
 * choice of path, the check of packed data and the scratch size (at bind
 * time), the widened rows, the general requantisation.
 */
#include "dsp_s8.h"

#define TAG_EMPTY INT32_MIN
/* Largest scratch the kernels accept (bind refuses more: a sign of bad data). */
#define SCRATCH_LIMIT (1u << 24)

/* Where channel k's (mult, c or shift) pair and r sit in a block's records. */
#define MC_AT(k) (2 * (k))
#define R_AT(k) (8 + (k))
/* Bits of an r record that hold the shift (an ASR by register reads these);
 * bit 8 of the last full block's r[3] marks it in streaming data. */
#define R_SHIFT(word) ((int32_t)((word)&0xFFu))
#define R_LAST 0x100u

/* The layer and its derived fields (see the layouts in dsp_s8.h). */
static void derive(dsp_geom_t *g, const tnn_conv2d_s8_params_t *p)
{
    const tnn_conv_params_t *cv = &p->conv;
    const uint32_t k_h = cv->kernel.h;
    const uint32_t taps = k_h * cv->kernel.w;
    g->p = p;
    g->pk = p->packed;
    g->groups = ((cv->depth_mult != 0u ? p->output.c : p->input.c) + 3) / 4;
    g->cols = (p->output.w - 1) * cv->stride.w + (cv->kernel.w - 1) * cv->dilation.w + 1;
    g->blocks = (p->output.c + 3) / 4;
    g->j0 = cv->pad.w < g->cols ? cv->pad.w : g->cols;
    g->j1 = cv->pad.w + p->input.w < g->cols ? cv->pad.w + p->input.w : g->cols;
    g->zp2 = ((uint32_t)-(int32_t)cv->in_offset & 0xFFFFu) * 0x10001u;
    if (cv->depth_mult != 0u) {
        g->col_words = 2u * k_h;
        g->grp_words = g->col_words * (uint32_t)g->cols;
        g->blk_words = 16u + 2u * taps;
    } else {
        g->col_words = 2u * k_h * (uint32_t)g->groups;
        g->grp_words = 2u;
        g->blk_words = 16u + 8u * taps * (uint32_t)g->groups;
    }
}

/* The ring rotations the data hold: the rotation of output row oy is (oy * s_h) mod k_h,
 * so only the multiples of gcd(s_h, k_h) occur (a 4x4 stride-2 layer: 0 and 2); the
 * data hold those, in order (one without TNN_PACK_RING). */
static uint32_t rotation_step(const dsp_geom_t *g)
{
    uint32_t a = g->p->conv.stride.h;
    uint32_t b = g->p->conv.kernel.h;
    while (b != 0u) {
        const uint32_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

static int32_t packed_rotations(const dsp_geom_t *g)
{
    return (g->pk->flags & TNN_PACK_RING) != 0u
               ? (int32_t)(g->p->conv.kernel.h / rotation_step(g))
               : 1;
}

static int rows_method(const tnn_conv2d_s8_params_t *p)
{
    return p->packed != NULL && p->packed->method == TNN_PACK_ROWS;
}

/* Records: TNN_PACK_FAST needs r in [1, 31]; otherwise a shift in [-31, 30]. */
TNN_COLD static int records_ok(const dsp_geom_t *g)
{
    const int32_t rotations = packed_rotations(g);
    int32_t t;
    int32_t o;
    for (t = 0; t < rotations; t++) {
        for (o = 0; o < g->p->output.c; o++) {
            const uint32_t *rec = g->pk->data + (uint32_t)(t * g->blocks + o / 4) * g->blk_words +
                                  (g->blk_words - 12u);
            const int32_t r = R_SHIFT(rec[R_AT(o % 4)]);
            const int32_t shift = (int32_t)rec[MC_AT(o % 4) + 1];
            if ((g->pk->flags & TNN_PACK_FAST) != 0u ? r < 1 || r > 31
                                                     : shift < -31 || shift > 30) {
                return 0;
            }
        }
    }
    return 1;
}

TNN_COLD uint32_t dsp_scratch(const tnn_conv2d_s8_params_t *p)
{
    const tnn_packed_t *pk = p->packed;
    dsp_geom_t g;
    uint64_t words;
    if (!rows_method(p)) {
        return pk == NULL || pk->method == TNN_PACK_PLAIN ? 0u : TNN_SCRATCH_INVALID;
    }
    derive(&g, p);
    if (pk->data == NULL || (int32_t)pk->groups != g.groups || p->conv.depth_mult > 1u ||
        (pk->flags & ~(TNN_PACK_FAST | TNN_PACK_CLAMP | TNN_PACK_RING | TNN_PACK_FLOOR)) != 0u ||
        ((pk->flags & TNN_PACK_FLOOR) != 0u &&
         ((pk->flags & (TNN_PACK_FAST | TNN_PACK_CLAMP)) != TNN_PACK_FAST ||
          p->conv.out_offset != -128)) ||
        ((pk->flags & TNN_PACK_RING) != 0u && p->conv.dilation.h != 1u) ||
        (uint64_t)pk->words !=
            (uint64_t)packed_rotations(&g) * (uint64_t)g.blocks * (uint64_t)g.blk_words ||
        !records_ok(&g)) {
        return TNN_SCRATCH_INVALID;
    }
    words = (uint64_t)p->conv.kernel.h * (2u + (uint64_t)g.cols * (uint64_t)g.groups * 2u);
    return words * 4u <= SCRATCH_LIMIT ? (uint32_t)(words * 4u) : TNN_SCRATCH_INVALID;
}

void dsp_run(const tnn_conv2d_s8_params_t *p, const int8_t *input, int8_t *output, void *scratch)
{
    dsp_geom_t g;
    if (!rows_method(p)) {
        dsp_plain(p, input, output);
        return;
    }
    derive(&g, p);
    dsp_conv(&g, input, output, scratch);
}

TNN_COLD void dsp_store4_slow(const dsp_geom_t *g, const int32_t acc[4], const uint32_t *rec,
                              int8_t *out, int32_t n)
{
    int32_t k;
    for (k = 0; k < n; k++) {
        const int32_t mult = (int32_t)rec[MC_AT(k)];
        const int32_t c_or_shift = (int32_t)rec[MC_AT(k) + 1];
        int32_t t;
        if ((g->pk->flags & TNN_PACK_FAST) != 0u) {
            t = dsp_requant_fast(acc[k], mult, c_or_shift, R_SHIFT(rec[R_AT(k)]), 1);
        } else {
            t = tnn_requant(acc[k], mult, c_or_shift) + g->p->conv.out_offset;
        }
        out[k] = (int8_t)tnn_clamp(t, g->p->conv.act.min, g->p->conv.act.max);
    }
}

const uint32_t *dsp_data(const dsp_geom_t *g, const void *scratch)
{
    /* the slot of tap row 0 (0 without a ring): a multiple of rotation_step, the data's
     * rotations in order */
    const uint32_t rotation = ((const uint32_t *)scratch)[g->p->conv.kernel.h];
    return g->pk->data + rotation / rotation_step(g) * (uint32_t)g->blocks * g->blk_words;
}

void dsp_rows_reset(const dsp_geom_t *g, void *scratch)
{
    int32_t *tags = (int32_t *)scratch;
    int32_t ky;
    for (ky = 0; ky < g->p->conv.kernel.h; ky++) {
        tags[ky] = TAG_EMPTY;
    }
}

/* Columns [j0, j1) of a slot (column 0 at `row`) filled with zero points. */
static void fill_zp(const dsp_geom_t *g, uint32_t *row, int32_t j0, int32_t j1)
{
    const uint32_t z = g->zp2;
    const uint32_t cw = g->col_words;
    const uint32_t gw = g->grp_words;
    uint32_t *d0 = row + (uint32_t)j0 * cw;
    int32_t k;
    if (j1 <= j0) {
        return;
    }
    for (k = g->groups; k > 0; k--, d0 += gw) {
        uint32_t *d = d0;
        int32_t j;
        for (j = j1 - j0; j > 0; j--, d += cw) {
            d[0] = z;
            d[1] = z;
        }
    }
}

/* STRD of a and b at p, then p advances by `bytes` (a constant). */
#if TNN_SIMD_NATIVE
#define ST2_POST(p, a, b, bytes)                                                                   \
    __asm__("strd %2, %3, [%0], #" #bytes                                                          \
            : "+r"(p), "=m"(*(uint32_t(*)[2])(p))                                                  \
            : "r"(a), "r"(b))
#else
#define ST2_POST(p, a, b, bytes)                                                                   \
    do {                                                                                           \
        (p)[0] = (a);                                                                              \
        (p)[1] = (b);                                                                              \
        (p) += (bytes) / 4;                                                                        \
    } while (0)
#endif

/* One input word (four channels) widened into the pair at p; p advances by
 * `bytes`. */
#define WIDEN1(p, v, bytes) ST2_POST(p, tnn_sxtb16(v), tnn_sxtb16_ror8(v), bytes)

/* Widens n adjacent input pixels of whole groups (in_c a multiple of 4) from
 * src into the slot columns starting at dst: the hot loops of widening. */
static void widen_pixels(const dsp_geom_t *g, const int8_t *src, uint32_t *dst, int32_t n)
{
    const uint32_t groups = (uint32_t)g->groups;
    const uint32_t in_c = g->p->input.c;
    if (g->col_words == 6u && in_c == 4u) {
        /* three tap rows of one group (a first layer of four bands): four
         * pixels per LDM, their columns 24 bytes apart */
        const uint32_t *s = (const uint32_t *)(const void *)src; /* rows are word-aligned */
        int32_t j = n;
        for (; (j & 3) != 0; j--) {
            const uint32_t v = *s++;
            WIDEN1(dst, v, 24);
        }
        for (j >>= 2; j > 0; j--) {
            uint32_t v0;
            uint32_t v1;
            uint32_t v2;
            uint32_t v3;
            TNN_LD4_INC(s, v0, v1, v2, v3, "r4", "r5", "r6", "r7");
            WIDEN1(dst, v0, 24);
            WIDEN1(dst, v1, 24);
            WIDEN1(dst, v2, 24);
            WIDEN1(dst, v3, 24);
        }
    } else if (g->col_words == 6u && (g->grp_words != 2u || groups == 1u)) {
        /* three tap rows, depthwise or one group (e.g. a first layer of four
         * bands): group by group, its columns 24 bytes apart */
        uint32_t k;
        for (k = 0; k < groups; k++) {
            const int8_t *s = src + 4u * k;
            uint32_t *d = dst + k * g->grp_words;
            int32_t j = n;
            if ((j & 1) != 0) {
                const uint32_t v = tnn_ld32(s);
                s += in_c;
                WIDEN1(d, v, 24);
            }
            for (j >>= 1; j > 0; j--) {
                const uint32_t v = tnn_ld32(s);
                const uint32_t u = tnn_ld32(s + in_c);
                s += 2u * in_c;
                WIDEN1(d, v, 24);
                WIDEN1(d, u, 24);
            }
        }
    } else if (g->grp_words == 2u) {
        /* CONV_2D: a pixel's groups adjacent in both; next column after a skip */
        const uint32_t skip = g->col_words - 2u * groups;
        for (; n > 0; n--, dst += skip) {
            uint32_t k = groups;
            if ((k & 1u) != 0u) {
                const uint32_t v = tnn_ld32(src);
                src += 4;
                WIDEN1(dst, v, 8);
            }
            for (k >>= 1; k > 0; k--) {
                const uint32_t v = tnn_ld32(src);
                const uint32_t u = tnn_ld32(src + 4);
                src += 8;
                WIDEN1(dst, v, 8);
                WIDEN1(dst, u, 8);
            }
        }
    } else {
        /* DEPTHWISE_CONV_2D: group by group, columns col_words apart */
        const uint32_t skip = g->col_words - 2u; /* after a column's pair */
        uint32_t k;
        for (k = 0; k < groups; k++) {
            const int8_t *s = src + 4u * k;
            uint32_t *d = dst + k * g->grp_words;
            int32_t j;
            for (j = n; j > 0; j--, s += in_c, d += skip) {
                const uint32_t v = tnn_ld32(s);
                WIDEN1(d, v, 8);
            }
        }
    }
}

/* Widens the pixel at src whose depth is not a multiple of four (past it 0,
 * no byte beyond read) into the column at dst. */
static void widen_ragged_pixel(const dsp_geom_t *g, const int8_t *src, uint32_t *dst)
{
    const int32_t in_c = g->p->input.c;
    int32_t k;
    for (k = 0; k < g->groups; k++, dst += g->grp_words) {
        uint32_t v = 0u;
        int32_t c;
        for (c = 0; c < 4 && 4 * k + c < in_c; c++) {
            v |= (uint32_t)(uint8_t)src[4 * k + c] << (8 * c);
        }
        dst[0] = tnn_sxtb16(v);
        dst[1] = tnn_sxtb16_ror8(v);
    }
}

/* Widens input row iy (zero points where iy or a column lies outside) into
 * the slot whose column 0 is at `row`. */
static void widen_row(const dsp_geom_t *g, const int8_t *input, int32_t iy, uint32_t *row)
{
    const tnn_dims_t *in = &g->p->input;
    int32_t j0 = g->j0;
    const int32_t j1 = g->j1;
    const int8_t *src;
    if (iy < 0 || iy >= in->h) {
        fill_zp(g, row, 0, g->cols);
        return;
    }
    src = input + (size_t)iy * in->w * in->c;
    fill_zp(g, row, 0, j0);
    fill_zp(g, row, j1, g->cols);
    if ((in->c & 3u) == 0u) {
        widen_pixels(g, src, row + (uint32_t)j0 * g->col_words, j1 - j0);
        return;
    }
    for (; j0 < j1; j0++, src += in->c) {
        widen_ragged_pixel(g, src, row + (uint32_t)j0 * g->col_words);
    }
}

void dsp_rows_prepare(const dsp_geom_t *g, void *scratch, const int8_t *input, int32_t oy,
                      int ring)
{
    const tnn_conv_params_t *cv = &g->p->conv;
    const int32_t k_h = cv->kernel.h;
    const int32_t s_h = cv->stride.h;
    const int32_t pad_t = cv->pad.h;
    const int32_t d_h = cv->dilation.h;
    int32_t *tags = (int32_t *)scratch;
    uint32_t *slots = (uint32_t *)scratch + k_h;
    uint32_t *rows = (uint32_t *)scratch + 2 * k_h;
    /* a slot's words start 2 * slot (depthwise) or 2 * groups * slot (conv)
     * into each column */
    const uint32_t slot_words = cv->depth_mult != 0u ? 2u : 2u * (uint32_t)g->groups;
    int32_t ky;
    for (ky = 0; ky < k_h; ky++) {
        const int32_t iy = oy * s_h - pad_t + ky * d_h;
        /* ring, dilation 1: consecutive rows take consecutive slots, so a row
         * keeps its slot while later output rows need it */
        const uint32_t slot = ring && d_h == 1 ? (uint32_t)(iy + pad_t) % (uint32_t)k_h
                                               : (uint32_t)ky;
        if (!ring || tags[slot] != iy) {
            widen_row(g, input, iy, rows + slot * slot_words);
            tags[slot] = iy;
        }
        slots[ky] = slot;
    }
}

/* ---- the rings of a streaming layer (conv_rows_s8.c) ------------------------ */

void dsp_geom(dsp_geom_t *g, const tnn_conv2d_s8_params_t *p)
{
    derive(g, p);
}

TNN_COLD int dsp_last_marks_ok(const dsp_geom_t *g)
{
    const int32_t rotations = packed_rotations(g);
    const int32_t full = g->p->output.c / 4;
    int32_t t;
    int32_t b;
    for (t = 0; t < rotations; t++) {
        for (b = 0; b < g->blocks; b++) {
            const uint32_t *rec =
                g->pk->data + (uint32_t)(t * g->blocks + b) * g->blk_words + (g->blk_words - 12u);
            int32_t k;
            for (k = 0; k < 4; k++) {
                const uint32_t want = k == 3 && b == full - 1 ? R_LAST : 0u;
                if ((rec[R_AT(k)] & ~0xFFu) != want) {
                    return 0;
                }
            }
        }
    }
    return 1;
}

/* The words from a column's first slot to slot 1. */
static uint32_t slot_words(const dsp_geom_t *g)
{
    return g->p->conv.depth_mult != 0u ? 2u : 2u * (uint32_t)g->groups;
}

void dsp_rows_fill(const dsp_geom_t *g, void *scratch)
{
    uint32_t *rows = (uint32_t *)scratch + 2 * g->p->conv.kernel.h;
    int32_t s;
    dsp_rows_reset(g, scratch);
    for (s = 0; s < g->p->conv.kernel.h; s++) {
        fill_zp(g, rows + (uint32_t)s * slot_words(g), 0, g->cols);
    }
}

void dsp_rows_push(const dsp_geom_t *g, void *scratch, uint32_t slot, const int8_t *src)
{
    uint32_t *row = (uint32_t *)scratch + 2 * g->p->conv.kernel.h + slot * slot_words(g);
    int32_t j = g->j0;
    if (src == NULL) {
        fill_zp(g, row, g->j0, g->j1); /* the columns outside stay zero points */
        return;
    }
    if ((g->p->input.c & 3u) == 0u) {
        widen_pixels(g, src, row + (uint32_t)j * g->col_words, g->j1 - j);
        return;
    }
    for (; j < g->j1; j++, src += g->p->input.c) {
        widen_ragged_pixel(g, src, row + (uint32_t)j * g->col_words);
    }
}

void dsp_rows_select(const dsp_geom_t *g, void *scratch, int32_t oy)
{
    const uint32_t k_h = g->p->conv.kernel.h;
    uint32_t *slots = (uint32_t *)scratch + k_h;
    uint32_t ky;
    for (ky = 0; ky < k_h; ky++) {
        slots[ky] = ((uint32_t)oy * g->p->conv.stride.h + ky) % k_h;
    }
}
