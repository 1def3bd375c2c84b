/*
 * test_dsp.c - the Cortex-M4 DSP operations of the optimised kernels
 * (tnn_simd.h: on the host, their portable emulation) on hand-derived
 * values; the one-rounding requantisation of engine/kernels_dsp against
 * tnn_requant; a hand-packed optimised CONV_2D against the reference
 * arithmetic; and tnn_bind's checks of a step's scratch span, with
 * whichever kernel set is linked (the reference set needs no scratch).
 *
 * Whole-layer bit-exactness against TFLite Micro lives in tests/engine.
 */
#include <string.h>

#include "../engine/kernels_dsp/dsp_s8.h"
#include "tnn.h"
#include "tnn_fixed.h"
#include "tnn_kernels.h"
#include "tnn_model.h"
#include "tnn_simd.h"
#include "tt.h"

static uint32_t lanes(int32_t lo, int32_t hi)
{
    return ((uint32_t)lo & 0xFFFFu) | ((uint32_t)hi << 16);
}

TT_TEST(dsp_smlad_and_single_products_hand_values)
{
    TT_CHECK_EQ(tnn_smlad(lanes(3, -2), lanes(5, 7), 10), 10 + 15 - 14);
    TT_CHECK_EQ(tnn_smlad(lanes(-128, 127), lanes(-254, 254), 0), 32512 + 32258);
    /* the accumulation wraps at 32 bits, as the instruction does */
    TT_CHECK_EQ(tnn_smlad(lanes(-32768, -32768), lanes(-32768, -32768), INT32_MAX), -1);
    TT_CHECK_EQ(tnn_smlabb(lanes(-7, 1000), lanes(9, -1000), 5), 5 - 63);
    TT_CHECK_EQ(tnn_smlatt(lanes(1000, -7), lanes(-1000, 9), 5), 5 - 63);
}

TT_TEST(dsp_sign_extension_hand_values)
{
    /* bytes 0x01, 0x7F, 0xFF, 0x80 (lowest first) */
    TT_CHECK_EQ(tnn_sxtb16(0x80FF7F01u), lanes(1, -1));
    TT_CHECK_EQ(tnn_sxtb16_ror8(0x80FF7F01u), lanes(127, -128));
    TT_CHECK_EQ(tnn_sxtb16(0u), 0u);
    TT_CHECK_EQ(tnn_pkhbt(lanes(11, 22), lanes(33, 44)), lanes(11, 33));
    TT_CHECK_EQ(tnn_pkhtb(lanes(11, 22), lanes(33, 44)), lanes(44, 22));
}

TT_TEST(dsp_smmlar_rounds_half_up_and_wraps)
{
    TT_CHECK_EQ(tnn_smmlar(3, 1 << 30, 100), 101);         /* 0.75 -> 1 */
    TT_CHECK_EQ(tnn_smmlar(-3, 1 << 30, 100), 99);         /* -0.75 -> -1 */
    TT_CHECK_EQ(tnn_smmlar(1 << 16, 1 << 15, 0), 1);       /* 0.5 -> 1 */
    TT_CHECK_EQ(tnn_smmlar(-(1 << 16), 1 << 15, 0), 0);    /* -0.5 -> 0 */
    TT_CHECK_EQ(tnn_smmlar(-(1 << 16), (1 << 15) + 1, 0), -1);
    TT_CHECK_EQ(tnn_smmlar(1 << 16, 1 << 15, INT32_MAX), INT32_MIN); /* c + 1 wraps */
    TT_CHECK_EQ(tnn_smmlar(INT32_MIN, INT32_MIN, 0), 1 << 30);
    TT_CHECK_EQ(tnn_ssat8(300), 127);
    TT_CHECK_EQ(tnn_ssat8(-129), -128);
    TT_CHECK_EQ(tnn_ssat8(-5), -5);
}

TT_TEST(dsp_bytewise_signed_maximum)
{
    /* bytes (lowest first) a = {-128, 127, -1, 5}, b = {-127, -128, 0, 5} */
    TT_CHECK_EQ(tnn_max_s8x4(0x05FF7F80u, 0x05008081u), 0x05007F81u);
    TT_CHECK_EQ(tnn_max_s8x4(0x80808080u, 0x80808080u), 0x80808080u);
    TT_CHECK_EQ(tnn_max_s8x4(0x7F7F7F7Fu, 0x80808080u), 0x7F7F7F7Fu);
}

TT_TEST(dsp_paired_loads_and_stores)
{
    static const uint32_t src[6] = {1u, 2u, 3u, 4u, 5u, 6u};
    uint32_t dst[4] = {0u, 0u, 0u, 0u};
    const uint32_t *p = src;
    uint32_t *q = dst;
    uint32_t a;
    uint32_t b;
    uint32_t c;
    uint32_t d;
    tnn_ld2_inc(&p, &a, &b);
    TT_CHECK(a == 1u && b == 2u && p == src + 2);
    TNN_LD4_INC(p, a, b, c, d, "r4", "r5", "r6", "r7");
    TT_CHECK(a == 3u && b == 4u && c == 5u && d == 6u && p == src + 6);
    tnn_st2_inc(&q, 7u, 8u);
    tnn_st2_inc(&q, 9u, 10u);
    TT_CHECK(dst[0] == 7u && dst[1] == 8u && dst[2] == 9u && dst[3] == 10u && q == dst + 4);
}

/* A small deterministic generator (the draws are the same on every run). */
static uint32_t lcg(uint32_t *state)
{
    *state = *state * 1664525u + 1013904223u;
    return *state;
}

TT_TEST(dsp_one_rounding_requantisation_equals_tnn_requant)
{
    /* In the exporter's domain (a right shift r, |acc| < 2^30, no wrap of
     * c + y): SSAT8((SMMLAR(2 acc, mult, c) + (acc < 0 ? -1 : 0)) >> r) with
     * c = 2^(r-1) + offset * 2^r is TFLM's two roundings plus the offset. */
    uint32_t state = 20261126u;
    uint32_t i;
    for (i = 0; i < 200000u; i++) {
        const int32_t r = 1 + (int32_t)(lcg(&state) % (i < 50000u ? 4u : 20u));
        const int32_t mult = (int32_t)((1u << 30) | (lcg(&state) >> 2));
        const int32_t offset = (int32_t)(lcg(&state) % 256u) - 128;
        const uint32_t span = i % 3u == 0u ? 300u : (i % 3u == 1u ? 1u << 20 : 1u << 29);
        const int32_t acc = (int32_t)(lcg(&state) % (2u * span)) - (int32_t)span;
        const int32_t c = (int32_t)((1u << (r - 1)) + (uint32_t)offset * (1u << r));
        const int32_t want = tnn_clamp(tnn_requant(acc, mult, -r) + offset, -128, 127);
        const int32_t got = dsp_requant_fast(2 * acc, mult, c, r, 1);
        if (got != want) {
            TT_CHECK_EQ(acc, 0); /* report the first counterexample */
            TT_CHECK_EQ(got, want);
        }
    }
}

TT_TEST(dsp_floor_requantisation_equals_tnn_requant_at_zero_point_minus_128)
{
    /* TNN_PACK_FLOOR: with the output offset -128 the correction of negative
     * accumulators never changes the saturated output. */
    uint32_t state = 20261207u;
    uint32_t i;
    for (i = 0; i < 200000u; i++) {
        const int32_t r = 1 + (int32_t)(lcg(&state) % (i < 50000u ? 4u : 20u));
        const int32_t mult = (int32_t)((1u << 30) | (lcg(&state) >> 2));
        const uint32_t span = i % 3u == 0u ? 300u : (i % 3u == 1u ? 1u << 20 : 1u << 29);
        const int32_t acc = (int32_t)(lcg(&state) % (2u * span)) - (int32_t)span;
        const int32_t c = (int32_t)((1u << (r - 1)) - 128u * (1u << r));
        const int32_t want = tnn_clamp(tnn_requant(acc, mult, -r) - 128, -128, 127);
        const int32_t got = dsp_requant_fast(2 * acc, mult, c, r, 0);
        if (got != want) {
            TT_CHECK_EQ(acc, 0); /* report the first counterexample */
            TT_CHECK_EQ(got, want);
        }
    }
}

/* ---- a hand-packed optimised 1x1 CONV_2D -------------------------------------
 * 2x2 pixels of 3 channels -> 2 channels, input zero point 5, weights
 * f[o][i], bias b[o], per-channel multipliers 2^30 * 2^-r (scale 2^-(r+1)),
 * output offset -3. The data stream (dsp_s8.h) is written out by hand from
 * the documented layout: one block of four channels (2 real), one group of
 * four input channels (3 real), TNN_PACK_FAST: doubled biases with the
 * input offset folded in and doubled weights. */

static const int8_t pk_in[12] = {10, -20, 30, 127, -128, 0, 5, 5, 5, -7, 99, -99};
static const int8_t pk_filter[6] = {1, -2, 3, -4, 5, -6}; /* f[0] = {1,-2,3}, f[1] = {-4,5,-6} */
static const int32_t pk_bias[2] = {100, -50};
static const int32_t pk_mult[2] = {1 << 30, 1 << 30};
static const int8_t pk_shift[2] = {-2, -3};

/* bias' = bias + in_offset * sum(f): in_offset = -5; sums 2 and -5 */
#define PK_BIAS0 (2 * (100 - 5 * 2))
#define PK_BIAS1 (2 * (-50 - 5 * -5))
/* A-weights (w[c0], w[c2]) and B-weights (w[c1], w[c3]), doubled */
#define PK_W(a, b) (((uint32_t)(a)&0xFFFFu) | ((uint32_t)(b) << 16))
/* c = 2^(r-1) + out_offset * 2^r */
#define PK_C(r) ((int32_t)((1u << ((r)-1)) + (uint32_t)(-3) * (1u << (r))))

static const uint32_t pk_data[24] = {
    (uint32_t)PK_BIAS0, (uint32_t)PK_BIAS1, 0u, 0u,
    PK_W(2, 6), PK_W(-4, 0),   /* channel 0: (1, 3), (-2, 0) doubled */
    PK_W(-8, -12), PK_W(10, 0), /* channel 1: (-4, -6), (5, 0) doubled */
    0u, 0u, 0u, 0u,             /* channels 2, 3 (zero) */
    (uint32_t)(1 << 30), (uint32_t)PK_C(2), (uint32_t)(1 << 30), (uint32_t)PK_C(3),
    0u, 0u, 0u, 0u,             /* (mult, c) of the padded channels */
    2u, 3u, 1u, 1u,             /* r per channel (padded channels: 1) */
};
static const tnn_packed_t pk_packed = {TNN_PACK_ROWS, TNN_PACK_FAST, 1u, pk_data, 24u};

static void pk_params(tnn_conv2d_s8_params_t *p, const tnn_packed_t *packed)
{
    memset(p, 0, sizeof *p);
    p->input.h = p->input.w = p->output.h = p->output.w = 2;
    p->input.c = 3;
    p->output.c = 2;
    p->conv.kernel.h = p->conv.kernel.w = 1;
    p->conv.stride.h = p->conv.stride.w = p->conv.dilation.h = p->conv.dilation.w = 1;
    p->conv.in_offset = -5;
    p->conv.out_offset = -3;
    p->conv.act.min = -128;
    p->conv.act.max = 127;
    p->filter = pk_filter;
    p->bias = pk_bias;
    p->quant.mult = pk_mult;
    p->quant.shift = pk_shift;
    p->packed = packed;
}

TT_TEST(dsp_hand_packed_conv_matches_the_reference_arithmetic)
{
    tnn_conv2d_s8_params_t p;
    uint32_t scratch[64];
    int8_t out[8];
    int8_t want[8];
    uint32_t need;
    int32_t px;
    int32_t o;
    int32_t i;
    pk_params(&p, &pk_packed);
    for (px = 0; px < 4; px++) {
        for (o = 0; o < 2; o++) {
            int32_t acc = pk_bias[o];
            for (i = 0; i < 3; i++) {
                acc += pk_filter[3 * o + i] * (pk_in[3 * px + i] - 5);
            }
            want[2 * px + o] = (int8_t)tnn_clamp(tnn_requant(acc, pk_mult[o], pk_shift[o]) - 3,
                                                 -128, 127);
        }
    }
    need = tnn_conv2d_s8_scratch_bytes(&p);
    /* the DSP set: one row slot of 2 columns x 1 group, plus tags and slot */
    TT_CHECK(need == 0u || need == 4u * (2u + 2u * 2u));
    TT_CHECK(need <= sizeof scratch);
    memset(out, 0x55, sizeof out);
    TT_CHECK_EQ(tnn_conv2d_s8(&p, pk_in, out, scratch), TRI_OK);
    TT_CHECK_MEM_EQ(out, want, sizeof want);
    /* the same layer without packed data takes the portable path */
    pk_params(&p, NULL);
    TT_CHECK_EQ(tnn_conv2d_s8_scratch_bytes(&p), 0);
    memset(out, 0x55, sizeof out);
    TT_CHECK_EQ(tnn_conv2d_s8(&p, pk_in, out, NULL), TRI_OK);
    TT_CHECK_MEM_EQ(out, want, sizeof want);
}

TT_TEST(dsp_inconsistent_packed_data_is_refused_by_the_sizing)
{
    static const tnn_packed_t bad_groups = {TNN_PACK_ROWS, TNN_PACK_FAST, 2u, pk_data, 24u};
    static const tnn_packed_t bad_method = {7u, 0u, 1u, pk_data, 24u};
    static const tnn_packed_t bad_flags = {TNN_PACK_ROWS, 0x80u, 1u, pk_data, 24u};
    static const tnn_packed_t no_data = {TNN_PACK_ROWS, TNN_PACK_FAST, 1u, NULL, 24u};
    /* one block of four channels: 4 biases, 8 weight words, 12 records (hand count) */
    static const tnn_packed_t short_data = {TNN_PACK_ROWS, TNN_PACK_FAST, 1u, pk_data, 23u};
    static const tnn_packed_t long_data = {TNN_PACK_ROWS, TNN_PACK_FAST, 1u, pk_data, 25u};
    tnn_conv2d_s8_params_t p;
    pk_params(&p, &pk_packed);
    if (tnn_conv2d_s8_scratch_bytes(&p) == 0u) {
        return; /* the reference set ignores packed data */
    }
    pk_params(&p, &bad_groups);
    TT_CHECK_EQ(tnn_conv2d_s8_scratch_bytes(&p), TNN_SCRATCH_INVALID);
    pk_params(&p, &bad_method);
    TT_CHECK_EQ(tnn_conv2d_s8_scratch_bytes(&p), TNN_SCRATCH_INVALID);
    pk_params(&p, &bad_flags);
    TT_CHECK_EQ(tnn_conv2d_s8_scratch_bytes(&p), TNN_SCRATCH_INVALID);
    pk_params(&p, &no_data);
    TT_CHECK_EQ(tnn_conv2d_s8_scratch_bytes(&p), TNN_SCRATCH_INVALID);
    pk_params(&p, &short_data);
    TT_CHECK_EQ(tnn_conv2d_s8_scratch_bytes(&p), TNN_SCRATCH_INVALID);
    pk_params(&p, &long_data);
    TT_CHECK_EQ(tnn_conv2d_s8_scratch_bytes(&p), TNN_SCRATCH_INVALID);
}

/* ---- tnn_bind and scratch spans ------------------------------------------------
 * One step: the conv above, input at 0 (12 bytes), output at 12 (8 bytes),
 * scratch wherever the test puts it, arena 64 bytes. */

static tnn_span_t sp(uint32_t off, uint32_t bytes, uint32_t tensor)
{
    tnn_span_t s;
    s.offset = off;
    s.bytes = bytes;
    s.tensor = tensor;
    return s;
}

typedef struct {
    tnn_conv2d_s8_params_t params;
    tnn_span_t in[1];
    tnn_step_t steps[1];
    tnn_model_t model;
} one_step_t;

static void one_step(one_step_t *t, tnn_span_t scratch)
{
    memset(t, 0, sizeof *t);
    pk_params(&t->params, &pk_packed);
    t->in[0] = sp(0, 12, 0);
    t->steps[0].op = &tnn_op_conv2d_s8;
    t->steps[0].params = &t->params;
    t->steps[0].in = t->in;
    t->steps[0].n_in = 1;
    t->steps[0].out = sp(12, 8, 1);
    t->steps[0].scratch = scratch;
    t->model.magic = TNN_MODEL_MAGIC;
    t->model.version = TNN_MODEL_VERSION;
    t->model.steps = t->steps;
    t->model.n_steps = 1;
    t->model.arena_bytes = 64;
    t->model.input = sp(0, 12, 0);
    t->model.output = sp(12, 8, 1);
}

TT_TEST(dsp_bind_checks_the_scratch_span)
{
    static one_step_t t;
    uint32_t arena[16];
    tnn_ctx_t ctx;
    uint32_t need;
    one_step(&t, sp(20, 24, TNN_NO_TENSOR));
    need = tnn_conv2d_s8_scratch_bytes(&t.params);
    TT_CHECK(need <= 24u);
    TT_CHECK_EQ(tnn_bind(&ctx, &t.model, arena, sizeof arena), TRI_OK);
    memcpy(tnn_input(&ctx, NULL), pk_in, sizeof pk_in);
    TT_CHECK_EQ(tnn_invoke(&ctx), TRI_OK);
    if (need > 0u) {
        /* one byte short of what the linked kernels need: refused */
        one_step(&t, sp(20, need - 1u, TNN_NO_TENSOR));
        TT_CHECK_EQ(tnn_bind(&ctx, &t.model, arena, sizeof arena), TRI_ERR_SIZE);
        TT_CHECK_EQ(ctx.failed_step, 0);
    }
    /* outside the arena, misaligned, over the step's input, over its output */
    one_step(&t, sp(48, 24, TNN_NO_TENSOR));
    TT_CHECK_EQ(tnn_bind(&ctx, &t.model, arena, sizeof arena), TRI_ERR_FORMAT);
    one_step(&t, sp(22, 24, TNN_NO_TENSOR));
    TT_CHECK_EQ(tnn_bind(&ctx, &t.model, arena, sizeof arena), TRI_ERR_FORMAT);
    one_step(&t, sp(8, 24, TNN_NO_TENSOR));
    TT_CHECK_EQ(tnn_bind(&ctx, &t.model, arena, sizeof arena), TRI_ERR_FORMAT);
    one_step(&t, sp(16, 24, TNN_NO_TENSOR));
    TT_CHECK_EQ(tnn_bind(&ctx, &t.model, arena, sizeof arena), TRI_ERR_FORMAT);
    TT_CHECK_EQ(ctx.failed_step, 0);
}

/* Three steps: X = copy(input); Y = conv(input); Z = copy(X), the output.
 * X lives across step 1, so step 1's scratch must not touch it. */
TT_TEST(dsp_bind_refuses_scratch_over_a_tensor_live_across_the_step)
{
    static const tnn_copy_s8_params_t copy = {12u};
    static struct {
        tnn_conv2d_s8_params_t params;
        tnn_span_t in0[1];
        tnn_span_t in1[1];
        tnn_span_t in2[1];
        tnn_step_t steps[3];
        tnn_model_t model;
    } t;
    uint32_t arena[24];
    tnn_ctx_t ctx;
    memset(&t, 0, sizeof t);
    pk_params(&t.params, &pk_packed);
    t.in0[0] = sp(0, 12, 0);
    t.in1[0] = sp(0, 12, 0);
    t.in2[0] = sp(12, 12, 1);
    t.steps[0].op = &tnn_op_reshape_s8;
    t.steps[0].params = &copy;
    t.steps[0].in = t.in0;
    t.steps[0].n_in = 1;
    t.steps[0].out = sp(12, 12, 1);
    t.steps[1].op = &tnn_op_conv2d_s8;
    t.steps[1].params = &t.params;
    t.steps[1].in = t.in1;
    t.steps[1].n_in = 1;
    t.steps[1].out = sp(72, 8, 2);
    t.steps[1].scratch = sp(48, 24, TNN_NO_TENSOR);
    t.steps[2].op = &tnn_op_reshape_s8;
    t.steps[2].params = &copy;
    t.steps[2].in = t.in2;
    t.steps[2].n_in = 1;
    t.steps[2].out = sp(32, 12, 3);
    t.model.magic = TNN_MODEL_MAGIC;
    t.model.version = TNN_MODEL_VERSION;
    t.model.steps = t.steps;
    t.model.n_steps = 3;
    t.model.arena_bytes = 96;
    t.model.input = sp(0, 12, 0);
    t.model.output = sp(32, 12, 3);
    TT_CHECK_EQ(tnn_bind(&ctx, &t.model, arena, sizeof arena), TRI_OK);
    /* over the bytes of Z (written after the step): harmless */
    t.steps[1].scratch = sp(24, 24, TNN_NO_TENSOR);
    TT_CHECK_EQ(tnn_bind(&ctx, &t.model, arena, sizeof arena), TRI_OK);
    /* over X, which step 2 still reads: refused at step 2 */
    t.steps[1].scratch = sp(20, 24, TNN_NO_TENSOR);
    TT_CHECK_EQ(tnn_bind(&ctx, &t.model, arena, sizeof arena), TRI_ERR_FORMAT);
    TT_CHECK_EQ(ctx.failed_step, 2);
}
