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

#if TNN_SIMD_NATIVE
/*
 * dsp_dw_fast on the Cortex-M4: nine taps unrolled. Registers: r0-r3 the
 * accumulators, r4-r7 an LDM of input (later mult/c records), r8-r11 an LDM
 * of weights (later the shifts r), r12 the input, lr the data stream. The
 * frame: the dsp_fast_t copy (0-24; at 8 the running output, at 24 the
 * bytes from a group's window end to the next group's), the end of the
 * pixel's outputs (28).
 */
__asm__(".syntax unified\n"
        ".thumb\n"
        ".section .text.dsp_dw_fast,\"ax\",%progbits\n"
        ".global dsp_dw_fast\n"
        ".type dsp_dw_fast, %function\n"
        ".thumb_func\n"
        "dsp_dw_fast:\n"
        "    push {r4-r11, lr}\n"
        "    sub sp, #32\n"
        "    ldm r0, {r1-r7}\n"
        "    sub r7, r7, #72\n"
        "    stm sp, {r1-r7}\n"
        "    add r8, r3, r4\n"
        "    str r8, [sp, #28]\n"
        "    mov r12, r1\n"
        "    mov lr, r2\n"
        ".Ld_blk:\n"
        "    ldmia lr!, {r0-r3}\n" /* biases */
        "    ldmia r12!, {r4-r7}\n"
        "    ldmia lr!, {r8-r11}\n"
        "    smlabb r0, r4, r8, r0\n"
        "    smlatt r2, r4, r8, r2\n"
        "    smlabb r1, r5, r9, r1\n"
        "    smlatt r3, r5, r9, r3\n"
        "    smlabb r0, r6, r10, r0\n"
        "    smlatt r2, r6, r10, r2\n"
        "    smlabb r1, r7, r11, r1\n"
        "    smlatt r3, r7, r11, r3\n"
        "    ldmia r12!, {r4-r7}\n"
        "    ldmia lr!, {r8-r11}\n"
        "    smlabb r0, r4, r8, r0\n"
        "    smlatt r2, r4, r8, r2\n"
        "    smlabb r1, r5, r9, r1\n"
        "    smlatt r3, r5, r9, r3\n"
        "    smlabb r0, r6, r10, r0\n"
        "    smlatt r2, r6, r10, r2\n"
        "    smlabb r1, r7, r11, r1\n"
        "    smlatt r3, r7, r11, r3\n"
        "    ldmia r12!, {r4-r7}\n"
        "    ldmia lr!, {r8-r11}\n"
        "    smlabb r0, r4, r8, r0\n"
        "    smlatt r2, r4, r8, r2\n"
        "    smlabb r1, r5, r9, r1\n"
        "    smlatt r3, r5, r9, r3\n"
        "    smlabb r0, r6, r10, r0\n"
        "    smlatt r2, r6, r10, r2\n"
        "    smlabb r1, r7, r11, r1\n"
        "    smlatt r3, r7, r11, r3\n"
        "    ldmia r12!, {r4-r7}\n"
        "    ldmia lr!, {r8-r11}\n"
        "    smlabb r0, r4, r8, r0\n"
        "    smlatt r2, r4, r8, r2\n"
        "    smlabb r1, r5, r9, r1\n"
        "    smlatt r3, r5, r9, r3\n"
        "    smlabb r0, r6, r10, r0\n"
        "    smlatt r2, r6, r10, r2\n"
        "    smlabb r1, r7, r11, r1\n"
        "    smlatt r3, r7, r11, r3\n"
        "    ldrd r4, r5, [r12], #8\n"
        "    ldrd r8, r9, [lr], #8\n"
        "    smlabb r0, r4, r8, r0\n"
        "    smlatt r2, r4, r8, r2\n"
        "    smlabb r1, r5, r9, r1\n"
        "    smlatt r3, r5, r9, r3\n"
        "    ldr r4, [sp, #24]\n"
        "    add r12, r12, r4\n" /* the next group's window */
        /* one-rounding requantisation (dsp_requant_fast) of the four */
        "    ldmia lr!, {r4-r7}\n"
        "    smmlar r5, r0, r4, r5\n"
        "    add r0, r5, r0, asr #31\n"
        "    smmlar r7, r1, r6, r7\n"
        "    add r1, r7, r1, asr #31\n"
        "    ldmia lr!, {r8-r11}\n"
        "    ldmia lr!, {r4-r7}\n"
        "    smmlar r5, r2, r4, r5\n"
        "    add r2, r5, r2, asr #31\n"
        "    smmlar r7, r3, r6, r7\n"
        "    add r3, r7, r3, asr #31\n"
        "    asr r0, r0, r8\n"
        "    asr r1, r1, r9\n"
        "    asr r2, r2, r10\n"
        "    asr r3, r3, r11\n"
        "    ssat r0, #8, r0\n"
        "    ssat r1, #8, r1\n"
        "    ssat r2, #8, r2\n"
        "    ssat r3, #8, r3\n"
        "    ldr r4, [sp, #8]\n"
        "    strb r0, [r4], #1\n"
        "    strb r1, [r4], #1\n"
        "    strb r2, [r4], #1\n"
        "    strb r3, [r4], #1\n"
        "    str r4, [sp, #8]\n"
        "    ldr r5, [sp, #28]\n"
        "    cmp r4, r5\n"
        "    bne .Ld_blk\n"
        /* next pixel */
        "    ldr r5, [sp, #16]\n"
        "    subs r5, r5, #1\n"
        "    beq .Ld_done\n"
        "    str r5, [sp, #16]\n"
        "    ldr r12, [sp]\n"
        "    ldr r6, [sp, #20]\n"
        "    add r12, r12, r6\n"
        "    str r12, [sp]\n"
        "    ldr r7, [sp, #12]\n"
        "    add r7, r7, r4\n"
        "    str r7, [sp, #28]\n"
        "    ldr lr, [sp, #4]\n"
        "    b .Ld_blk\n"
        ".Ld_done:\n"
        "    add sp, #32\n"
        "    pop {r4-r11, pc}\n"
        ".size dsp_dw_fast, .-dsp_dw_fast\n"
        ".text\n");
#else
void dsp_dw_fast(const dsp_fast_t *f)
{
    const uint32_t *xs = f->xs;
    int8_t *out = f->out;
    int32_t p;
    for (p = f->pixels; p > 0; p--, xs += f->step_bytes / 4u) {
        const uint32_t *xg = xs;
        const uint32_t *w = f->data;
        int8_t *const end = out + f->blk_bytes;
        for (; out != end; out += 4, xg += f->k / 4u) {
            const uint32_t *x = xg;
            int32_t a0;
            int32_t a1;
            int32_t a2;
            int32_t a3;
            DW_BIAS();
            DW_TAP2();
            DW_TAP2();
            DW_TAP2();
            DW_TAP2();
            DW_TAP();
            dsp_store4_fast(a0, a1, a2, a3, &w, out);
        }
    }
}
#endif

void dsp_dw(const dsp_geom_t *g, const int8_t *input, int8_t *output, void *scratch)
{
    const int32_t channels = g->out_c;
    const uint32_t *rows = dsp_rows(g, scratch);
    const int32_t dilated = g->d_w != 1;
    const uint32_t skip = (uint32_t)(g->d_w - 1) * g->col_words; /* between window columns */
    const uint32_t step = (uint32_t)g->s_w * g->col_words;       /* between output pixels */
    const int32_t fast_groups = (g->pk->flags & ~TNN_PACK_RING) == TNN_PACK_FAST && !dilated &&
                                        g->k_h == 3 && g->k_w == 3
                                    ? channels / 4
                                    : 0;
    const int ring = (g->pk->flags & TNN_PACK_RING) != 0u;
    dsp_fast_t f;
    int32_t oy;
    int32_t ox;
    f.blk_bytes = 4u * (uint32_t)fast_groups;
    f.step_bytes = 4u * step;
    f.k = 4u * g->grp_words;
    dsp_rows_reset(g, scratch);
    for (oy = 0; oy < g->out_h; oy++) {
        int8_t *out = output + (size_t)oy * (size_t)g->out_w * (size_t)channels;
        const uint32_t *xs = rows;
        const uint32_t *data;
        dsp_rows_prepare(g, scratch, input, oy, ring);
        data = dsp_data(g, scratch);
        f.xs = xs;
        f.data = data;
        f.out = out;
        if (fast_groups > 0 && (channels & 3) == 0) { /* the whole row at once */
            f.pixels = g->out_w;
            dsp_dw_fast(&f);
            continue;
        }
        f.pixels = 1;
        for (ox = 0; ox < g->out_w; ox++, xs += step) {
            const uint32_t *xg = xs + (uint32_t)fast_groups * g->grp_words;
            const uint32_t *w = data + (uint32_t)fast_groups * g->blk_words;
            int32_t a0;
            int32_t a1;
            int32_t a2;
            int32_t a3;
            int32_t c0;
            if (fast_groups > 0) {
                f.xs = xs;
                f.out = out;
                dsp_dw_fast(&f);
                out += 4 * fast_groups;
            }
            for (c0 = 4 * fast_groups; c0 < channels; c0 += 4, xg += g->grp_words) {
                const int32_t n = channels - c0 < 4 ? channels - c0 : 4;
                const uint32_t *x = xg;
                int32_t acc[4];
                int32_t kx;
                int32_t k;
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
