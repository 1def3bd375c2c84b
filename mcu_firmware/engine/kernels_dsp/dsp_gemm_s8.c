/*
 * dsp_gemm_s8.c - CONV_2D and FULLY_CONNECTED over widened rows (method
 * TNN_PACK_ROWS; layouts and numerics in dsp_s8.h), and dsp_conv, the row
 * driver shared with DEPTHWISE_CONV_2D (dsp_dw_s8.c).
 *
 * An output pixel's window is one run of word pairs in the widened rows
 * (k_w runs with dilation), read by one pointer. Blocks of one pixel x four
 * output channels: per group of four input channels one LDRD of input
 * (A, B), two LDMs of widened weights and eight SMLADs, i.e. 16
 * multiply-accumulates in 11 instructions. A block's biases, weights and
 * records are one stream read by one post-incremented pointer. Full blocks
 * of a layer with one-rounding requantisation run in dsp_gemm_fast (a whole
 * output row per call when the depth is a multiple of four, else a pixel);
 * a last block of fewer than four channels (zero channels computed, not
 * stored), two-rounding or clamped layers, and dilation take dsp_conv's
 * general loop.
 *
 * Write order (overlap: rows): output row oy is written after the input
 * rows it needs are widened into the scratch, and reads nothing else.
 */
#include "dsp_s8.h"

#if TNN_SIMD_NATIVE
/* One group of four input channels for the block's four output channels: an
 * LDRD of input, two LDMs of weights, eight SMLADs. */
#define GEMM_GROUP_ASM                                                                             \
    "    ldrd r8, r9, [r12], #8\n"                                                                 \
    "    ldmia lr!, {r4-r7}\n"                                                                     \
    "    smlad r0, r8, r4, r0\n"                                                                   \
    "    smlad r0, r9, r5, r0\n"                                                                   \
    "    smlad r1, r8, r6, r1\n"                                                                   \
    "    smlad r1, r9, r7, r1\n"                                                                   \
    "    ldmia lr!, {r4-r7}\n"                                                                     \
    "    smlad r2, r8, r4, r2\n"                                                                   \
    "    smlad r2, r9, r5, r2\n"                                                                   \
    "    smlad r3, r8, r6, r3\n"                                                                   \
    "    smlad r3, r9, r7, r3\n"

/*
 * dsp_gemm_fast on the Cortex-M4. Registers: r0-r3 the accumulators, r4-r7
 * an LDM of weights (later the records, with r8-r10 and r12), r8-r9 an LDRD
 * of input, r10 the count of four-group iterations, r11 the output, r12 the
 * input, lr the data stream. The frame holds the dsp_fast_t copy (offsets
 * 0-28) and the end of the pixel's outputs (32). A window of `run` groups is
 * ceil(run / 4) iterations of four groups, the first entered (TBB) past the
 * (4 - run % 4) % 4 groups it lacks. DSP_GEMM_FAST_ASM(name, requant) is the
 * function `name` with the requantisation text `requant` (with or without
 * the correction of negative accumulators).
 */
#define DSP_GEMM_FAST_ASM(NAME, REQUANT)                                                          \
    ".syntax unified\n"                                                                          \
    ".thumb\n"                                                                                   \
    ".section .text." NAME ",\"ax\",%progbits\n"                                                \
    ".global " NAME "\n"                                                                          \
    ".type " NAME ", %function\n"                                                                 \
    ".thumb_func\n" NAME ":\n"                                                                   \
    "    push {r4-r11, lr}\n"                                                                    \
    "    sub sp, #36\n"                                                                          \
    "    ldm r0, {r1-r8}\n"                                                                      \
    "    stm sp, {r1-r8}\n"                                                                      \
    "    mov r11, r3\n"                                                                          \
    "    add r8, r3, r4\n"                                                                       \
    "    str r8, [sp, #32]\n"                                                                    \
    "    mov lr, r2\n"                                                                           \
    ".L" NAME "_blk:\n"                                                                          \
    "    ldmia lr!, {r0-r3}\n" /* biases */                                                      \
    "    ldr r12, [sp]\n"                                                                        \
    "    ldr r10, [sp, #24]\n" /* quads of groups, rounded up */                                 \
    "    ldr r8, [sp, #28]\n"  /* groups missing from the first */                               \
    "    tbb [pc, r8]\n"                                                                         \
    ".L" NAME "_tbl:\n"                                                                          \
    "    .byte (.L" NAME "_a - .L" NAME "_tbl) / 2\n"                                             \
    "    .byte (.L" NAME "_b - .L" NAME "_tbl) / 2\n"                                             \
    "    .byte (.L" NAME "_c - .L" NAME "_tbl) / 2\n"                                             \
    "    .byte (.L" NAME "_d - .L" NAME "_tbl) / 2\n"                                             \
    ".L" NAME "_a:\n" GEMM_GROUP_ASM                                                             \
    ".L" NAME "_b:\n" GEMM_GROUP_ASM                                                             \
    ".L" NAME "_c:\n" GEMM_GROUP_ASM                                                             \
    ".L" NAME "_d:\n" GEMM_GROUP_ASM                                                             \
    "    subs r10, r10, #1\n"                                                                    \
    "    bne .L" NAME "_a\n" REQUANT                                                             \
    "    strb r0, [r11], #1\n"                                                                   \
    "    strb r1, [r11], #1\n"                                                                   \
    "    strb r2, [r11], #1\n"                                                                   \
    "    strb r3, [r11], #1\n"                                                                   \
    "    ldr r4, [sp, #32]\n"                                                                    \
    "    cmp r11, r4\n"                                                                          \
    "    bne .L" NAME "_blk\n"                                                                   \
    /* next pixel */                                                                            \
    "    ldr r5, [sp, #16]\n"                                                                    \
    "    subs r5, r5, #1\n"                                                                      \
    "    beq .L" NAME "_done\n"                                                                  \
    "    str r5, [sp, #16]\n"                                                                    \
    "    ldr r4, [sp]\n"                                                                         \
    "    ldr r6, [sp, #20]\n"                                                                    \
    "    add r4, r4, r6\n"                                                                       \
    "    str r4, [sp]\n"                                                                         \
    "    ldr r7, [sp, #12]\n"                                                                    \
    "    add r7, r7, r11\n"                                                                      \
    "    str r7, [sp, #32]\n"                                                                    \
    "    ldr lr, [sp, #4]\n"                                                                     \
    "    b .L" NAME "_blk\n"                                                                     \
    ".L" NAME "_done:\n"                                                                         \
    "    add sp, #36\n"                                                                          \
    "    pop {r4-r11, pc}\n"                                                                     \
    ".size " NAME ", .-" NAME "\n"                                                               \
    ".text\n"

__asm__(DSP_GEMM_FAST_ASM("dsp_gemm_fast", DSP_REQUANT4_ASM("r12")));
__asm__(DSP_GEMM_FAST_ASM("dsp_gemm_fast_floor", DSP_REQUANT4_FLOOR_ASM("r12")));

/*
 * dsp_gemm_fast16 on the Cortex-M4: windows of at most 16 groups, unrolled:
 * a block enters the sequence of 16 groups (LDR PC from the frame) past
 * the 16 - run it lacks, so that it runs no loop counter and no dispatch
 * of its own; a pixel's blocks end at the last-block mark (dsp_s8.h).
 * Registers as dsp_gemm_fast's, r10 unused. The frame: xs (0), pixels left
 * (4), (unused, 8), data (12), step_bytes (16), blk_bytes (20), entry (24);
 * f->k2 = 16 - run.
 */
#define G16_ENTRY(NAME, I) "    .word .L" NAME "_g" #I " + 1\n"
#define DSP_GEMM_FAST16_ASM(NAME, REQUANT)                                                         \
    ".syntax unified\n"                                                                            \
    ".thumb\n"                                                                                     \
    ".section .text." NAME ",\"ax\",%progbits\n"                                                   \
    ".global " NAME "\n"                                                                           \
    ".type " NAME ", %function\n"                                                                  \
    ".thumb_func\n" NAME ":\n"                                                                     \
    "    push {r4-r11, lr}\n"                                                                      \
    "    sub sp, #28\n"                                                                            \
    "    ldm r0, {r1-r8}\n" /* xs data out blk_bytes pixels step k k2 */                           \
    "    mov r11, r3\n"                                                                            \
    "    add r3, r3, r4\n"                                                                         \
    "    str r1, [sp]\n"                                                                           \
    "    str r5, [sp, #4]\n"                                                                       \
    "    str r3, [sp, #8]\n"                                                                       \
    "    str r2, [sp, #12]\n"                                                                      \
    "    str r6, [sp, #16]\n"                                                                      \
    "    str r4, [sp, #20]\n"                                                                      \
    "    adr r9, .L" NAME "_tab\n"                                                                 \
    "    ldr r9, [r9, r8, lsl #2]\n"                                                               \
    "    str r9, [sp, #24]\n"                                                                      \
    "    mov lr, r2\n"                                                                             \
    ".L" NAME "_blk:\n"                                                                            \
    "    ldmia lr!, {r0-r3}\n" /* biases */                                                        \
    "    ldr r12, [sp]\n"                                                                          \
    "    ldr pc, [sp, #24]\n"                                                                      \
    ".L" NAME "_g0:\n" GEMM_GROUP_ASM ".L" NAME "_g1:\n" GEMM_GROUP_ASM                            \
    ".L" NAME "_g2:\n" GEMM_GROUP_ASM ".L" NAME "_g3:\n" GEMM_GROUP_ASM                            \
    ".L" NAME "_g4:\n" GEMM_GROUP_ASM ".L" NAME "_g5:\n" GEMM_GROUP_ASM                            \
    ".L" NAME "_g6:\n" GEMM_GROUP_ASM ".L" NAME "_g7:\n" GEMM_GROUP_ASM                            \
    ".L" NAME "_g8:\n" GEMM_GROUP_ASM ".L" NAME "_g9:\n" GEMM_GROUP_ASM                            \
    ".L" NAME "_g10:\n" GEMM_GROUP_ASM ".L" NAME "_g11:\n" GEMM_GROUP_ASM                          \
    ".L" NAME "_g12:\n" GEMM_GROUP_ASM ".L" NAME "_g13:\n" GEMM_GROUP_ASM                          \
    ".L" NAME "_g14:\n" GEMM_GROUP_ASM ".L" NAME "_g15:\n" GEMM_GROUP_ASM REQUANT                  \
    "    strb r0, [r11], #1\n"                                                                     \
    "    strb r1, [r11], #1\n"                                                                     \
    "    strb r2, [r11], #1\n"                                                                     \
    "    strb r3, [r11], #1\n"                                                                     \
    "    tst r7, #256\n" /* the pixel's last block */                                             \
    "    beq .L" NAME "_blk\n"                                                                     \
    /* next pixel */                                                                             \
    "    ldm sp, {r4, r5}\n"                                                                       \
    "    subs r5, r5, #1\n"                                                                        \
    "    beq .L" NAME "_done\n"                                                                    \
    "    ldrd r6, r7, [sp, #16]\n"                                                                 \
    "    add r4, r4, r6\n"                                                                         \
    "    add r7, r7, r11\n"                                                                        \
    "    stm sp, {r4, r5, r7}\n"                                                                   \
    "    ldr lr, [sp, #12]\n"                                                                      \
    "    b .L" NAME "_blk\n"                                                                       \
    ".L" NAME "_done:\n"                                                                           \
    "    add sp, #28\n"                                                                            \
    "    pop {r4-r11, pc}\n"                                                                       \
    "    .align 2\n"                                                                               \
    ".L" NAME "_tab:\n" G16_ENTRY(NAME, 0) G16_ENTRY(NAME, 1) G16_ENTRY(NAME, 2)                   \
    G16_ENTRY(NAME, 3) G16_ENTRY(NAME, 4) G16_ENTRY(NAME, 5) G16_ENTRY(NAME, 6)                   \
    G16_ENTRY(NAME, 7) G16_ENTRY(NAME, 8) G16_ENTRY(NAME, 9) G16_ENTRY(NAME, 10)                  \
    G16_ENTRY(NAME, 11) G16_ENTRY(NAME, 12) G16_ENTRY(NAME, 13) G16_ENTRY(NAME, 14)               \
    G16_ENTRY(NAME, 15)                                                                            \
    ".size " NAME ", .-" NAME "\n"                                                                 \
    ".text\n"

__asm__(DSP_GEMM_FAST16_ASM("dsp_gemm_fast16", DSP_REQUANT4_ASM("r12")));
__asm__(DSP_GEMM_FAST16_ASM("dsp_gemm_fast16_floor", DSP_REQUANT4_FLOOR_ASM("r12")));
#else
static inline void gemm_fast(const dsp_fast_t *f, int corr)
{
    const uint32_t *xs = f->xs;
    const int32_t run = 4 * (int32_t)f->k - (int32_t)f->k2;
    int8_t *out = f->out;
    int32_t p;
    for (p = f->pixels; p > 0; p--, xs += f->step_bytes / 4u) {
        const uint32_t *w = f->data;
        int8_t *const end = out + f->blk_bytes;
        for (; out != end; out += 4) {
            const uint32_t *x = xs;
            int32_t a0;
            int32_t a1;
            int32_t a2;
            int32_t a3;
            int32_t k;
            BLOCK_BIAS();
            for (k = run; k > 0; k--) {
                GEMM_GROUP();
            }
            dsp_store4_fast(a0, a1, a2, a3, &w, out, corr);
        }
    }
}

void dsp_gemm_fast(const dsp_fast_t *f)
{
    gemm_fast(f, 1);
}

void dsp_gemm_fast_floor(const dsp_fast_t *f)
{
    gemm_fast(f, 0);
}

void dsp_gemm_fast16(const dsp_fast_t *f)
{
    gemm_fast(f, 1);
}

void dsp_gemm_fast16_floor(const dsp_fast_t *f)
{
    gemm_fast(f, 0);
}
#endif

/* What every output row of a layer shares (dsp_conv, dsp_conv_row). */
typedef struct {
    dsp_fast_t f;                          /* the fast loops' arguments (per row: xs, data, out) */
    void (*fast)(const dsp_fast_t *);      /* dsp_gemm_fast or dsp_dw_fast(16) */
    int32_t fast_blocks;                   /* full blocks of a pixel the fast loop runs */
    int32_t run;                           /* groups (depthwise: taps) of a window's column */
    uint32_t skip;                         /* words between a window's columns, past a run */
    uint32_t step;                         /* words between adjacent output pixels' windows */
    int dw;
} row_plan_t;

/* floor_ok: the streaming rows, whose data carry the last-block mark, may
 * take the streaming loops (with TNN_PACK_FLOOR, without the correction); a
 * constant, so that whole-tensor images do not link them. */
static inline void plan_rows(const dsp_geom_t *g, row_plan_t *rp, int floor_ok)
{
    const tnn_conv_params_t *cv = &g->p->conv;
    const int dw = cv->depth_mult != 0u;
    const int32_t k_w = cv->kernel.w;
    /* the depthwise windows with an unrolled loop: 3x3 and 4x4 */
    const int dw9 = cv->kernel.h == 3u && k_w == 3;
    const int dw16 = cv->kernel.h == 4u && k_w == 4;
    /* a window: k_w runs of `run` groups (depthwise: taps), `skip` words
     * apart; a run is a column's word pairs */
    const int32_t run = cv->kernel.h * (dw ? 1 : g->groups);
    const uint32_t window = (uint32_t)(run * k_w); /* groups (gemm, dilation 1) */
    rp->dw = dw;
    rp->run = run;
    rp->skip = (uint32_t)(cv->dilation.w - 1) * g->col_words;
    rp->step = cv->stride.w * g->col_words;
    const int no_corr = floor_ok && (g->pk->flags & TNN_PACK_FLOOR) != 0u;
    rp->fast_blocks = (g->pk->flags & ~(TNN_PACK_RING | TNN_PACK_FLOOR)) == TNN_PACK_FAST &&
                              cv->dilation.w == 1u && (!dw || dw9 || dw16)
                          ? g->p->output.c / 4
                          : 0;
    rp->fast = dw ? (dw16 ? dsp_dw_fast16 : dsp_dw_fast)
                  : (no_corr ? dsp_gemm_fast_floor : dsp_gemm_fast);
    rp->f.blk_bytes = 4u * (uint32_t)rp->fast_blocks;
    rp->f.step_bytes = 4u * rp->step;
    rp->f.k = dw ? 4u * g->grp_words : (window + 3u) / 4u;
    rp->f.k2 = (4u - window % 4u) % 4u;
    if (floor_ok && dw) { /* the streaming loops */
        rp->fast = dw16 ? (no_corr ? dsp_dw_fast16_s_floor : dsp_dw_fast16_s)
                        : (no_corr ? dsp_dw_fast_s_floor : dsp_dw_fast_s);
    } else if (floor_ok && window <= 16u) { /* with the window unrolled */
        rp->fast = no_corr ? dsp_gemm_fast16_floor : dsp_gemm_fast16;
        rp->f.k = 4u;
        rp->f.k2 = 16u - window;
    }
}

/* One output row into out, from the widened rows in the scratch (prepared,
 * and the slots of the tap rows recorded). */
static inline void conv_row(const dsp_geom_t *g, row_plan_t *rp, const void *scratch, int8_t *out)
{
    const int32_t out_c = g->p->output.c;
    const int32_t out_w = g->p->output.w;
    const int32_t k_w = g->p->conv.kernel.w;
    const int32_t fast_blocks = rp->fast_blocks;
    const uint32_t *xs = dsp_rows(g, scratch);
    const uint32_t *data = dsp_data(g, scratch);
    int32_t ox;
    rp->f.xs = xs;
    rp->f.data = data;
    rp->f.out = out;
    if (fast_blocks > 0 && (out_c & 3) == 0) { /* the whole row at once */
        rp->f.pixels = out_w;
        rp->fast(&rp->f);
        return;
    }
    rp->f.pixels = 1;
    for (ox = 0; ox < out_w; ox++, xs += rp->step) {
        const uint32_t *w = data + (uint32_t)fast_blocks * g->blk_words;
        int32_t o;
        if (fast_blocks > 0) {
            rp->f.xs = xs;
            rp->f.out = out;
            rp->fast(&rp->f);
            out += 4 * fast_blocks;
        }
        for (o = 4 * fast_blocks; o < out_c; o += 4) {
            const int32_t n = out_c - o < 4 ? out_c - o : 4;
            /* depthwise: the block's group; else all groups */
            const uint32_t *x = xs + (rp->dw ? (uint32_t)(o / 4) * g->grp_words : 0u);
            int32_t acc[4];
            int32_t a0;
            int32_t a1;
            int32_t a2;
            int32_t a3;
            int32_t kx;
            BLOCK_BIAS();
            for (kx = k_w; kx > 0; kx--, x += rp->skip) {
                int32_t k;
                for (k = rp->run; k > 0; k--) {
                    if (rp->dw) {
                        DW_TAP();
                    } else {
                        GEMM_GROUP();
                    }
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

void dsp_conv(const dsp_geom_t *g, const int8_t *input, int8_t *output, void *scratch)
{
    const int32_t out_h = g->p->output.h;
    const size_t out_row = (size_t)g->p->output.w * (size_t)g->p->output.c;
    const int ring = (g->pk->flags & TNN_PACK_RING) != 0u;
    row_plan_t rp;
    int32_t oy;
    plan_rows(g, &rp, 0);
    dsp_rows_reset(g, scratch);
    for (oy = 0; oy < out_h; oy++) {
        dsp_rows_prepare(g, scratch, input, oy, ring);
        conv_row(g, &rp, scratch, output + (size_t)oy * out_row);
    }
}

void dsp_conv_row(const dsp_geom_t *g, const void *scratch, int8_t *out)
{
    row_plan_t rp;
    plan_rows(g, &rp, 1);
    conv_row(g, &rp, scratch, out);
}
