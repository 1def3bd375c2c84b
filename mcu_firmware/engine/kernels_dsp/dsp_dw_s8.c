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
 * a depthwise tap has no second product to pair with). Full groups of
 * one-rounding layers with 3x3 windows run in dsp_dw_fast (nine taps
 * unrolled; a whole output row per call when the depth is a multiple of
 * four, else a pixel), with 4x4 windows in dsp_dw_fast16 (sixteen taps, the
 * even kernel that centres a stride-2 layer's window under SAME padding); a last group of fewer than four channels (zero
 * channels computed, not stored), two-rounding or clamped layers, other
 * windows and dilation take the general loop of dsp_conv (dsp_gemm_s8.c).
 *
 * Write order (overlap: rows): output row oy is written after the input
 * rows it needs are widened; pixel by pixel, all channels of a pixel.
 */
#include "dsp_s8.h"

#if TNN_SIMD_NATIVE
/* Two taps for the four channels of a group: an LDM of input, an LDM of
 * weights, eight SMLAxy (the assembly twin of DW_TAP2 in dsp_s8.h). */
#define DW_TAP2_ASM                                                                                \
    "    ldmia r12!, {r4-r7}\n"                                                                    \
    "    ldmia lr!, {r8-r11}\n"                                                                    \
    "    smlabb r0, r4, r8, r0\n"                                                                  \
    "    smlatt r2, r4, r8, r2\n"                                                                  \
    "    smlabb r1, r5, r9, r1\n"                                                                  \
    "    smlatt r3, r5, r9, r3\n"                                                                  \
    "    smlabb r0, r6, r10, r0\n"                                                                 \
    "    smlatt r2, r6, r10, r2\n"                                                                 \
    "    smlabb r1, r7, r11, r1\n"                                                                 \
    "    smlatt r3, r7, r11, r3\n"

/* The taps of a 3x3 window (four pairs and a last tap) and of a 4x4 one (eight
 * pairs); a window's bytes in the widened rows: 8 per tap. */
#define DW_TAPS9_ASM                                                                               \
    DW_TAP2_ASM DW_TAP2_ASM DW_TAP2_ASM DW_TAP2_ASM                                                \
    "    ldrd r4, r5, [r12], #8\n"                                                                 \
    "    ldrd r8, r9, [lr], #8\n"                                                                  \
    "    smlabb r0, r4, r8, r0\n"                                                                  \
    "    smlatt r2, r4, r8, r2\n"                                                                  \
    "    smlabb r1, r5, r9, r1\n"                                                                  \
    "    smlatt r3, r5, r9, r3\n"
#define DW_TAPS16_ASM                                                                              \
    DW_TAP2_ASM DW_TAP2_ASM DW_TAP2_ASM DW_TAP2_ASM DW_TAP2_ASM DW_TAP2_ASM DW_TAP2_ASM DW_TAP2_ASM

/*
 * dsp_dw_fast on the Cortex-M4: nine taps unrolled (dsp_dw_fast16: sixteen). Registers: r0-r3 the
 * accumulators, r4-r7 an LDM of input (later the records, with r8-r11),
 * r8-r11 an LDM of weights, r12 the input, lr the data stream. The frame:
 * the dsp_fast_t copy (0-24; at 8 the running output, at 24 the bytes from
 * a group's window end to the next group's), the end of the pixel's outputs
 * (28). DSP_DW_FAST_ASM(name, requant): the function `name` with the
 * requantisation text `requant`.
 */
#define DSP_DW_FAST_ASM(NAME, REQUANT, TAPS, WINDOW)                                              \
    ".syntax unified\n"                                                                          \
    ".thumb\n"                                                                                   \
    ".section .text." NAME ",\"ax\",%progbits\n"                                                \
    ".global " NAME "\n"                                                                          \
    ".type " NAME ", %function\n"                                                                 \
    ".thumb_func\n" NAME ":\n"                                                                   \
    "    push {r4-r11, lr}\n"                                                                    \
    "    sub sp, #32\n"                                                                          \
    "    ldm r0, {r1-r7}\n"                                                                      \
    "    sub r7, r7, #" WINDOW "\n"                                                                      \
    "    stm sp, {r1-r7}\n"                                                                      \
    "    add r8, r3, r4\n"                                                                       \
    "    str r8, [sp, #28]\n"                                                                    \
    "    mov r12, r1\n"                                                                          \
    "    mov lr, r2\n"                                                                           \
    ".L" NAME "_blk:\n"                                                                          \
    "    ldmia lr!, {r0-r3}\n" /* biases */                                                      \
    TAPS                                                                                         \
    "    ldr r4, [sp, #24]\n"                                                                    \
    "    add r12, r12, r4\n" /* the next group's window */ REQUANT                               \
    "    ldr r4, [sp, #8]\n"                                                                     \
    "    strb r0, [r4], #1\n"                                                                    \
    "    strb r1, [r4], #1\n"                                                                    \
    "    strb r2, [r4], #1\n"                                                                    \
    "    strb r3, [r4], #1\n"                                                                    \
    "    str r4, [sp, #8]\n"                                                                     \
    "    ldr r5, [sp, #28]\n"                                                                    \
    "    cmp r4, r5\n"                                                                           \
    "    bne .L" NAME "_blk\n"                                                                   \
    /* next pixel */                                                                            \
    "    ldr r5, [sp, #16]\n"                                                                    \
    "    subs r5, r5, #1\n"                                                                      \
    "    beq .L" NAME "_done\n"                                                                  \
    "    str r5, [sp, #16]\n"                                                                    \
    "    ldr r12, [sp]\n"                                                                        \
    "    ldr r6, [sp, #20]\n"                                                                    \
    "    add r12, r12, r6\n"                                                                     \
    "    str r12, [sp]\n"                                                                        \
    "    ldr r7, [sp, #12]\n"                                                                    \
    "    add r7, r7, r4\n"                                                                       \
    "    str r7, [sp, #28]\n"                                                                    \
    "    ldr lr, [sp, #4]\n"                                                                     \
    "    b .L" NAME "_blk\n"                                                                     \
    ".L" NAME "_done:\n"                                                                         \
    "    add sp, #32\n"                                                                          \
    "    pop {r4-r11, pc}\n"                                                                     \
    ".size " NAME ", .-" NAME "\n"                                                               \
    ".text\n"

__asm__(DSP_DW_FAST_ASM("dsp_dw_fast", DSP_REQUANT4_ASM("r11"), DW_TAPS9_ASM, "72"));
__asm__(DSP_DW_FAST_ASM("dsp_dw_fast16", DSP_REQUANT4_ASM("r11"), DW_TAPS16_ASM, "128"));

/*
 * dsp_dw_fast_s (the streaming rows): the same blocks; a pixel's blocks end
 * at the last-block mark (dsp_s8.h), and the frame is laid out for a short
 * step to the next pixel: pixels left (0), xs (4), the running output (8),
 * data (12), step_bytes (16), the bytes from a group's window end to the
 * next group's (20).
 */
#define DSP_DW_FAST_S_ASM(NAME, REQUANT, TAPS, WINDOW)                                             \
    ".syntax unified\n"                                                                            \
    ".thumb\n"                                                                                     \
    ".section .text." NAME ",\"ax\",%progbits\n"                                                   \
    ".global " NAME "\n"                                                                           \
    ".type " NAME ", %function\n"                                                                  \
    ".thumb_func\n" NAME ":\n"                                                                     \
    "    push {r4-r11, lr}\n"                                                                      \
    "    sub sp, #28\n"                                                                            \
    "    ldm r0, {r1-r8}\n" /* xs data out blk_bytes pixels step k k2 */                           \
    "    sub r7, r7, #" WINDOW "\n"                                                                        \
    "    str r5, [sp]\n"                                                                           \
    "    str r1, [sp, #4]\n"                                                                       \
    "    str r3, [sp, #8]\n"                                                                       \
    "    str r2, [sp, #12]\n"                                                                      \
    "    str r6, [sp, #16]\n"                                                                      \
    "    str r7, [sp, #20]\n"                                                                      \
    "    mov r12, r1\n"                                                                            \
    "    mov lr, r2\n"                                                                             \
    ".L" NAME "_blk:\n"                                                                            \
    "    ldmia lr!, {r0-r3}\n" /* biases */                                                        \
    TAPS                                                                                           \
    "    ldr r4, [sp, #20]\n"                                                                      \
    "    add r12, r12, r4\n" /* the next group's window */ REQUANT                                 \
    "    ldr r4, [sp, #8]\n"                                                                       \
    "    strb r0, [r4], #1\n"                                                                      \
    "    strb r1, [r4], #1\n"                                                                      \
    "    strb r2, [r4], #1\n"                                                                      \
    "    strb r3, [r4], #1\n"                                                                      \
    "    str r4, [sp, #8]\n"                                                                       \
    "    tst r7, #256\n" /* the pixel's last block */                                              \
    "    beq .L" NAME "_blk\n"                                                                     \
    /* next pixel */                                                                             \
    "    ldm sp, {r5, r6}\n"                                                                       \
    "    subs r5, r5, #1\n"                                                                        \
    "    beq .L" NAME "_done\n"                                                                    \
    "    ldr r7, [sp, #16]\n"                                                                      \
    "    add r12, r6, r7\n"                                                                        \
    "    stm sp, {r5, r12}\n"                                                                      \
    "    ldr lr, [sp, #12]\n"                                                                      \
    "    b .L" NAME "_blk\n"                                                                       \
    ".L" NAME "_done:\n"                                                                           \
    "    add sp, #28\n"                                                                            \
    "    pop {r4-r11, pc}\n"                                                                       \
    ".size " NAME ", .-" NAME "\n"                                                                 \
    ".text\n"

__asm__(DSP_DW_FAST_S_ASM("dsp_dw_fast_s", DSP_REQUANT4_ASM("r11"), DW_TAPS9_ASM, "72"));
__asm__(DSP_DW_FAST_S_ASM("dsp_dw_fast_s_floor", DSP_REQUANT4_FLOOR_ASM("r11"), DW_TAPS9_ASM,
                          "72"));
__asm__(DSP_DW_FAST_S_ASM("dsp_dw_fast16_s", DSP_REQUANT4_ASM("r11"), DW_TAPS16_ASM, "128"));
__asm__(DSP_DW_FAST_S_ASM("dsp_dw_fast16_s_floor", DSP_REQUANT4_FLOOR_ASM("r11"), DW_TAPS16_ASM,
                          "128"));
#else
static inline void dw_fast(const dsp_fast_t *f, int corr, int taps16)
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
            BLOCK_BIAS();
            DW_TAP2();
            DW_TAP2();
            DW_TAP2();
            DW_TAP2();
            if (taps16) {
                DW_TAP2();
                DW_TAP2();
                DW_TAP2();
                DW_TAP2();
            } else {
                DW_TAP();
            }
            dsp_store4_fast(a0, a1, a2, a3, &w, out, corr);
        }
    }
}

void dsp_dw_fast(const dsp_fast_t *f)
{
    dw_fast(f, 1, 0);
}

void dsp_dw_fast_s(const dsp_fast_t *f)
{
    dw_fast(f, 1, 0);
}

void dsp_dw_fast_s_floor(const dsp_fast_t *f)
{
    dw_fast(f, 0, 0);
}

void dsp_dw_fast16(const dsp_fast_t *f)
{
    dw_fast(f, 1, 1);
}

void dsp_dw_fast16_s(const dsp_fast_t *f)
{
    dw_fast(f, 1, 1);
}

void dsp_dw_fast16_s_floor(const dsp_fast_t *f)
{
    dw_fast(f, 0, 1);
}
#endif
