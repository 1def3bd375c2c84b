/*
 * dsp_s8.h - internals shared by the optimised int8 kernels of this folder
 * (Cortex-M4 DSP extension through tnn_simd.h; the same code runs on the
 * host with the portable emulation).
 *
 * conv2d_s8.c, depthwise_conv2d_s8.c and fully_connected_s8.c hand their
 * parameter set (tnn_conv2d_s8_params_t, the parts CMSIS-NN's convolutions
 * take: conv params, per-channel quantisation, dims; FULLY_CONNECTED is the
 * 1x1 convolution of one row of `batches` pixels) to dsp_run, which reads
 * the parts where the exporter put them and derives the layouts below into
 * a dsp_geom_t. Without packed data (or
 * with method TNN_PACK_PLAIN) dsp_run takes the portable loop of
 * dsp_plain_s8.c, the reference kernels' arithmetic; with TNN_PACK_ROWS,
 * widened rows and blocks of one output pixel x four output channels:
 * dsp_conv (dsp_gemm_s8.c) drives all three row by row; the full blocks of
 * one-rounding layers (and, depthwise, 3x3 windows) run in dsp_gemm_fast
 * (dsp_gemm_s8.c) and dsp_dw_fast (dsp_dw_s8.c), hand-scheduled assembly
 * on the Cortex-M4 and their C equivalents on the host; the other blocks
 * (a last block of fewer than four channels, two-rounding or clamped
 * layers, dilation, other depthwise windows) take dsp_conv's general loop.
 *
 * ---- Widened rows (method TNN_PACK_ROWS) ----------------------------------
 * Input rows are widened to int16, four channels (a "group") at a time: the
 * word v = [x0 x1 x2 x3] (bytes, x0 lowest) becomes the two words
 *     A = SXTB16(v)         = (x0, x2)   lo lane, hi lane
 *     B = SXTB16(v ROR #8)  = (x1, x3)
 * Channels past the depth are 0; columns and rows outside the input (SAME
 * padding) hold the input zero point, which contributes nothing once the
 * input offset is folded into the bias (below). The k_h tap rows an output
 * row needs sit in k_h slots interleaved inside each of the `cols` widened
 * columns (column j = input column j - pad_left, cols = (out_w - 1) * s_w +
 * (k_w - 1) * d_w + 1), so that with dilation 1 the whole window of an
 * output pixel is one run of consecutive words:
 *   CONV_2D, FULLY_CONNECTED  rows[cols][slot][group][A, B]: the window of a
 *       pixel, all its groups, is k_w * k_h * groups word pairs;
 *   DEPTHWISE_CONV_2D         rows[group][cols][slot][A, B]: the window of a
 *       group is k_w * k_h word pairs.
 * Without TNN_PACK_RING, slot s holds tap row s and the k_h rows are widened
 * again for each output row. With it (dilation 1), the slots form a ring: an
 * input row needed by consecutive output rows is widened once into slot
 * (row index mod k_h), so slot s holds tap row (s - rotation) mod k_h where
 * the rotation is the slot of tap row 0, and the exporter packs the data
 * once per rotation that occurs: output row oy's is (oy * s_h) mod k_h, so
 * the multiples of gcd(s_h, k_h) (k_h / gcd rotations: a 4x4 stride-2
 * layer holds rotations 0 and 2), in order.
 * Scratch: uint32 tags[k_h] (input row per slot), slot[k_h] (slot of tap row
 * ky), then the rows.
 *
 * ---- Data stream (tnn_packed_t.data) ---------------------------------------
 * Per rotation held (one without TNN_PACK_RING), per block of four output
 * channels (padded with zero channels), what the kernel reads in order:
 *     bias'[4]
 *     weights, in the window's order:
 *       CONV_2D   [kx][ky][group][channel][A-w, B-w]   (8 words per group)
 *                 A-w = (w[c0], w[c2]), B-w = (w[c1], w[c3]) of the group's
 *                 input channels, so that SMLAD(A, A-w) + SMLAD(B, B-w) is
 *                 the group's dot product;
 *       DEPTHWISE [kx][slot] {(w[c0], w[c2]), (w[c1], w[c3])} (2 words/tap)
 *     records: (mult, c)[0..3], r[0..3] with TNN_PACK_FAST; otherwise
 *       (mult, shift)[0..3] and r = 0. The shift is r's low byte (what an
 *       ASR by register reads); in the data of a streaming layer, bit 8 of
 *       the last full block's r[3] marks the end of a pixel's full blocks
 *       (the streaming loops test it instead of comparing pointers).
 *
 * ---- Folded input offset --------------------------------------------------
 * acc = bias + sum w * (x + in_offset) = bias' + sum w * x with
 * bias' = bias + in_offset * sum w (exporter). The sum is formed modulo 2^32
 * (SMLAD wraps); the true value fits in int32 (the engine's accumulator
 * bound), so the result is exact whatever the partial sums do.
 *
 * ---- Requantisation in one rounding (TNN_PACK_FAST) -----------------------
 * TFLM: y = SRDHM(acc, mult) = floor((acc * mult + 2^30) / 2^31) (gemmlowp
 * rounds exact halves up, which is this floor for either sign), then
 * out = RDBPOT(y, r) + out_offset with r = -shift >= 1, rounding halves away
 * from zero: RDBPOT(y, r) = floor((y + 2^(r-1) - [y < 0]) / 2^r).
 * The exporter doubles weights and bias, so the kernel holds acc2 = 2 * acc
 * (it checks |acc| < 2^30), and stores c = 2^(r-1) + out_offset * 2^r. Then
 *     SMMLAR(acc2, mult, c) = c + floor((2 acc mult + 2^31) / 2^32) = c + y
 *     t = c + y + (acc2 >> 31)        ([acc < 0] replaces [y < 0]: they
 *                                      differ only where y = 0, which gives
 *                                      0 either way for r >= 1)
 *     out = SSAT8(t >> r)             (exact: out_offset * 2^r is a multiple
 *                                      of 2^r; the exporter checks that
 *                                      |y| + |c| + 1 < 2^31)
 * which is four instructions per output on the Cortex-M4. Layers where the
 * conditions fail (a shift >= 0, a large accumulator) keep the two roundings
 * of tnn_requant.
 * With TNN_PACK_FLOOR (out_offset = -128, no clamp) the full blocks drop the
 * correction (acc2 >> 31): it only matters where y < 0, and there
 * (c + y + corr) >> r <= floor((2^(r-1) - 1) / 2^r) + out_offset <= -128
 * with or without it, which SSAT8 makes -128, as TFLM's clamp does: three
 * instructions per output.
 *
 */
#ifndef DSP_S8_H
#define DSP_S8_H

#include <stddef.h>
#include <stdint.h>

#include "tnn_fixed.h"
#include "tnn_kernels.h"
#include "tnn_simd.h"

typedef struct {
    const tnn_conv2d_s8_params_t *p; /* the layer: conv params, quant, dims, arrays */
    const tnn_packed_t *pk;          /* p->packed */
    /* derived from p by dsp_run / dsp_scratch */
    int32_t groups;     /* ceil(depth / 4) */
    int32_t cols;       /* widened columns of a row */
    uint32_t col_words; /* words between adjacent columns */
    uint32_t grp_words; /* words between the groups of a column */
    int32_t blocks;     /* blocks of four output channels */
    uint32_t blk_words; /* words of a block in the data stream */
    int32_t j0, j1;     /* the widened columns [j0, j1) that hold input pixels */
    uint32_t zp2;       /* the input zero point (-in_offset) in both lanes: padding */
} dsp_geom_t;

/* Scratch bytes the layer needs: 0 on the portable path, or
 * TNN_SCRATCH_INVALID when the packed data do not match the shapes. */
uint32_t dsp_scratch(const tnn_conv2d_s8_params_t *p);

/* Runs the layer. */
void dsp_run(const tnn_conv2d_s8_params_t *p, const int8_t *input, int8_t *output, void *scratch);

/* ---- shared by the paths --------------------------------------------------- */

/* Widens the input rows output row oy needs and records the slot of each
 * tap row; `ring` keeps rows other output rows already widened (slot of a
 * row = its index mod k_h), else slot ky holds tap row ky. */
void dsp_rows_prepare(const dsp_geom_t *g, void *scratch, const int8_t *input, int32_t oy,
                      int ring);

/* Marks every slot empty (call once per kernel invocation). */
void dsp_rows_reset(const dsp_geom_t *g, void *scratch);

/* The first word of the rows. */
static inline const uint32_t *dsp_rows(const dsp_geom_t *g, const void *scratch)
{
    return (const uint32_t *)scratch + 2u * g->p->conv.kernel.h;
}

/* One output value, flags TNN_PACK_FAST alone (no clamp): four
 * instructions on the Cortex-M4 (see above); `corr` 0 drops the correction
 * (TNN_PACK_FLOOR: three). */
static inline int32_t dsp_requant_fast(int32_t acc, int32_t mult, int32_t c, int32_t r, int corr)
{
    const int32_t t = tnn_smmlar(acc, mult, c);
    return tnn_ssat8((int32_t)((uint32_t)t + (corr ? (uint32_t)(acc >> 31) : 0u)) >> r);
}

/* Requantises and stores the n (1 to 4) real outputs of a block; rec points
 * at the block's records (any flags). */
void dsp_store4_slow(const dsp_geom_t *g, const int32_t acc[4], const uint32_t *rec, int8_t *out,
                     int32_t n);

/* The same for a full block with flags TNN_PACK_FAST (and maybe
 * TNN_PACK_RING, TNN_PACK_FLOOR: corr 0) alone; *rec advances past the
 * records. */
static inline void dsp_store4_fast(int32_t a0, int32_t a1, int32_t a2, int32_t a3,
                                   const uint32_t **rec, int8_t *out, int corr)
{
    const uint32_t *p = *rec;
    uint32_t m0;
    uint32_t c0;
    uint32_t m1;
    uint32_t c1;
    uint32_t m2;
    uint32_t c2;
    uint32_t m3;
    uint32_t c3;
    uint32_t r0;
    uint32_t r1;
    uint32_t r2;
    uint32_t r3;
    TNN_LD4_INC(p, m0, c0, m1, c1, "r4", "r5", "r6", "r7");
    TNN_LD4_INC(p, m2, c2, m3, c3, "r8", "r9", "r10", "r11");
    TNN_LD4_INC(p, r0, r1, r2, r3, "r4", "r5", "r6", "r7");
    /* the shift is an r record's low byte, as an ASR by register reads it */
    out[0] = (int8_t)dsp_requant_fast(a0, (int32_t)m0, (int32_t)c0, (int32_t)(r0 & 0xFFu), corr);
    out[1] = (int8_t)dsp_requant_fast(a1, (int32_t)m1, (int32_t)c1, (int32_t)(r1 & 0xFFu), corr);
    out[2] = (int8_t)dsp_requant_fast(a2, (int32_t)m2, (int32_t)c2, (int32_t)(r2 & 0xFFu), corr);
    out[3] = (int8_t)dsp_requant_fast(a3, (int32_t)m3, (int32_t)c3, (int32_t)(r3 & 0xFFu), corr);
    *rec = p;
}

/* The full blocks of `pixels` output pixels of one row (flags TNN_PACK_FAST,
 * dilation 1): what dsp_gemm_fast and dsp_dw_fast read. The assembly on the
 * Cortex-M4 reads the words at these offsets: keep the order. */
typedef struct {
    const uint32_t *xs;   /* first pixel's window (dw: of its first group) */
    const uint32_t *data; /* the row's first block in the data stream */
    int8_t *out;          /* first output */
    uint32_t blk_bytes;   /* output bytes of a pixel's full blocks (4 each) */
    int32_t pixels;       /* >= 1 */
    uint32_t step_bytes;  /* between the windows of adjacent pixels */
    uint32_t k;           /* gemm: ceil(run / 4), run >= 1 groups a window;
                           * dw: bytes between groups */
    uint32_t k2;          /* gemm: 4 * k - run */
} dsp_fast_t;

/* CONV_2D / FULLY_CONNECTED: per pixel, the full blocks, each its window's
 * `run` groups then dsp_store4_fast; the data stream restarts per pixel and
 * the outputs are consecutive (a row whose depth is a multiple of four, or
 * one pixel). Hand-scheduled assembly on the Cortex-M4 (all fourteen
 * registers: no spills in the block loop), C elsewhere. */
void dsp_gemm_fast(const dsp_fast_t *f);

/* DEPTHWISE_CONV_2D, 3x3 windows: the same over groups of four channels;
 * dsp_dw_fast16 the same for 4x4 windows. */
void dsp_dw_fast(const dsp_fast_t *f);
void dsp_dw_fast16(const dsp_fast_t *f);

/* CONV_2D without the correction of negative accumulators (flag
 * TNN_PACK_FLOOR; streaming windows of more than 16 groups). */
void dsp_gemm_fast_floor(const dsp_fast_t *f);

/* The streaming rows' loops (data with the last-block mark, see above),
 * with and without the correction:
 * CONV_2D with windows of at most 16 groups, unrolled (no loop counter or
 * dispatch per block): k = 4, k2 = 16 - run; */
void dsp_gemm_fast16(const dsp_fast_t *f);
void dsp_gemm_fast16_floor(const dsp_fast_t *f);
/* DEPTHWISE_CONV_2D, 3x3 windows (dsp_dw_fast16_s*: 4x4). */
void dsp_dw_fast_s(const dsp_fast_t *f);
void dsp_dw_fast_s_floor(const dsp_fast_t *f);
void dsp_dw_fast16_s(const dsp_fast_t *f);
void dsp_dw_fast16_s_floor(const dsp_fast_t *f);
/* Whether the packed data carry the last-block mark where the streaming
 * loops need it, and nowhere else. */
int dsp_last_marks_ok(const dsp_geom_t *g);

/* ---- the block bodies (the C paths) --------------------------------------- */

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

/* Thumb-2 text of the one-rounding requantisation (dsp_requant_fast) of the
 * four accumulators r0..r3 of an assembly block loop, saturated to int8 in
 * place: lr walks the block's records, the multipliers and offsets into
 * r4-r10 and the register named by R8 (the loops have r11 or r12 free),
 * then the shifts into r4-r7. DSP_REQUANT4_FLOOR_ASM: the same without the
 * correction of negative accumulators (TNN_PACK_FLOOR). */
#define DSP_REQUANT4_ASM(R8)                                                                       \
    "    ldmia lr!, {r4-r10, " R8 "}\n"                                                            \
    "    smmlar r5, r0, r4, r5\n"                                                                  \
    "    add r0, r5, r0, asr #31\n"                                                                \
    "    smmlar r7, r1, r6, r7\n"                                                                  \
    "    add r1, r7, r1, asr #31\n"                                                                \
    "    smmlar r9, r2, r8, r9\n"                                                                  \
    "    add r2, r9, r2, asr #31\n"                                                                \
    "    smmlar " R8 ", r3, r10, " R8 "\n"                                                         \
    "    add r3, " R8 ", r3, asr #31\n" DSP_SHIFT4_ASM

#define DSP_REQUANT4_FLOOR_ASM(R8)                                                                 \
    "    ldmia lr!, {r4-r10, " R8 "}\n"                                                            \
    "    smmlar r0, r0, r4, r5\n"                                                                  \
    "    smmlar r1, r1, r6, r7\n"                                                                  \
    "    smmlar r2, r2, r8, r9\n"                                                                  \
    "    smmlar r3, r3, r10, " R8 "\n" DSP_SHIFT4_ASM

/* The shifts r[0..3] (the records' last four words) and saturation. */
#define DSP_SHIFT4_ASM                                                                             \
    "    ldmia lr!, {r4-r7}\n"                                                                     \
    "    asr r0, r0, r4\n"                                                                         \
    "    asr r1, r1, r5\n"                                                                         \
    "    asr r2, r2, r6\n"                                                                         \
    "    asr r3, r3, r7\n"                                                                         \
    "    ssat r0, #8, r0\n"                                                                        \
    "    ssat r1, #8, r1\n"                                                                        \
    "    ssat r2, #8, r2\n"                                                                        \
    "    ssat r3, #8, r3\n"

/* The biases of a block (CONV_2D, FULLY_CONNECTED and DEPTHWISE_CONV_2D
 * alike) into a0..a3. */
#define BLOCK_BIAS()                                                                               \
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

/* The first block of the data stream for the output row last prepared. */
const uint32_t *dsp_data(const dsp_geom_t *g, const void *scratch);

/* ---- streaming rows (conv_rows_s8.c; tnn_kernels.h) ------------------------
 * The ring is the widened rows' scratch: input row iy widened once into
 * slot (iy + pad.h) mod k_h (TNN_PACK_RING: the data stream holds one copy
 * per rotation), the columns outside the input zero points from
 * dsp_rows_fill on. */
void dsp_geom(dsp_geom_t *g, const tnn_conv2d_s8_params_t *p);
/* Every slot and column of the ring filled with zero points. */
void dsp_rows_fill(const dsp_geom_t *g, void *scratch);
/* An input row (NULL: padding) widened into a slot. */
void dsp_rows_push(const dsp_geom_t *g, void *scratch, uint32_t slot, const int8_t *src);
/* Records the slots of output row oy's tap rows. */
void dsp_rows_select(const dsp_geom_t *g, void *scratch, int32_t oy);
/* One output row from the ring (after dsp_rows_select). */
void dsp_conv_row(const dsp_geom_t *g, const void *scratch, int8_t *out);

/* The paths. */
void dsp_plain(const tnn_conv2d_s8_params_t *p, const int8_t *input, int8_t *output);
/* CONV_2D, FULLY_CONNECTED and DEPTHWISE_CONV_2D over widened rows. */
void dsp_conv(const dsp_geom_t *g, const int8_t *input, int8_t *output, void *scratch);

#endif /* DSP_S8_H */
