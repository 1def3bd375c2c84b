/*
 * test_engine.c - the engine's C unit tests: fixed-point helpers and small
 * kernels against hand-derived values, and every failure path of tnn_bind
 * on hand-built models (run natively and under ASan + UBSan).
 *
 * The bit-exactness against TFLite Micro over the whole kernel plan lives
 * in tests/engine (pytest), which drives the host build.
 */
#include <string.h>

#include "tnn.h"
#include "tnn_fixed.h"
#include "tnn_kernels.h"
#include "tnn_model.h"
#include "tt.h"

/* ---- fixed point ---------------------------------------------------------- */

TT_TEST(engine_srdhm_hand_values)
{
    /* round(a * b / 2^31), exact halves rounded up (gemmlowp's nudge) */
    TT_CHECK_EQ(tnn_srdhm(1 << 30, 1 << 30), 1 << 29);   /* 0.5 * 0.5 = 0.25 */
    TT_CHECK_EQ(tnn_srdhm(3, 1 << 30), 2);               /* 1.5 -> 2 */
    TT_CHECK_EQ(tnn_srdhm(-3, 1 << 30), -1);             /* -1.5 -> -1 */
    TT_CHECK_EQ(tnn_srdhm(1, 1 << 30), 1);               /* 0.5 -> 1 */
    TT_CHECK_EQ(tnn_srdhm(-1, 1 << 30), 0);              /* -0.5 -> 0 */
    TT_CHECK_EQ(tnn_srdhm(-5, 1 << 29), -1);             /* -1.25 -> -1 */
    TT_CHECK_EQ(tnn_srdhm(-7, 1 << 29), -2);             /* -1.75 -> -2 */
    TT_CHECK_EQ(tnn_srdhm(INT32_MIN, INT32_MIN), INT32_MAX); /* the one overflow */
    TT_CHECK_EQ(tnn_srdhm(INT32_MAX, INT32_MAX), INT32_MAX - 1);
    TT_CHECK_EQ(tnn_srdhm(INT32_MIN, INT32_MAX), INT32_MIN + 1);
}

TT_TEST(engine_rdbpot_hand_values)
{
    TT_CHECK_EQ(tnn_rdbpot(5, 1), 3);   /* 2.5 -> 3 */
    TT_CHECK_EQ(tnn_rdbpot(-5, 1), -3); /* -2.5 -> -3 */
    TT_CHECK_EQ(tnn_rdbpot(7, 2), 2);   /* 1.75 -> 2 */
    TT_CHECK_EQ(tnn_rdbpot(-6, 2), -2); /* -1.5 -> -2 */
    TT_CHECK_EQ(tnn_rdbpot(-5, 2), -1); /* -1.25 -> -1 */
    TT_CHECK_EQ(tnn_rdbpot(123, 0), 123);
    TT_CHECK_EQ(tnn_rdbpot(INT32_MIN, 31), -1);
    TT_CHECK_EQ(tnn_rdbpot(INT32_MAX, 31), 1);
}

TT_TEST(engine_requant_double_rounding)
{
    /* multiplier 0.5 = 2^30 * 2^(0 - 31) */
    TT_CHECK_EQ(tnn_requant(100, 1 << 30, 0), 50);
    /* 0.25: 3 * 0.25 = 0.75, but in two roundings: round(1.5) = 2, round(2 / 2) = 1 */
    TT_CHECK_EQ(tnn_requant(3, 1 << 30, -1), 1);
    /* 1.0 = 2^30 * 2^(1 - 31): left shift first */
    TT_CHECK_EQ(tnn_requant(-77, 1 << 30, 1), -77);
    /* 2.0 */
    TT_CHECK_EQ(tnn_requant(1000, 1 << 30, 2), 2000);
    TT_CHECK_EQ(tnn_clamp(300, -128, 127), 127);
    TT_CHECK_EQ(tnn_clamp(-300, -128, 127), -128);
}

/* ---- kernels on hand-derived cases ---------------------------------------- */

static const int8_t ones9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
static const int32_t mult_one[1] = {1 << 30}; /* with shift 1: x * 1.0 */
static const int8_t shift_one[1] = {1};

TT_TEST(engine_conv2d_box_filter_same_padding)
{
    /* 3x3 input 1..9 (zero point 0), 3x3 box filter, SAME: each output is
     * the sum of its neighbourhood inside the image. */
    static const int8_t in[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    static const int8_t want[9] = {12, 21, 16, 27, 45, 33, 24, 39, 28};
    int8_t out[9];
    tnn_conv2d_s8_params_t p;
    memset(&p, 0, sizeof p);
    p.input.h = p.input.w = 3;
    p.input.c = 1;
    p.output.h = p.output.w = 3;
    p.output.c = 1;
    p.conv.kernel.h = p.conv.kernel.w = 3;
    p.conv.stride.h = p.conv.stride.w = p.conv.dilation.h = p.conv.dilation.w = 1;
    p.conv.pad.h = p.conv.pad.w = 1;
    p.conv.act.min = -128;
    p.conv.act.max = 127;
    p.filter = ones9;
    p.quant.mult = mult_one;
    p.quant.shift = shift_one;
    TT_CHECK_EQ(tnn_conv2d_s8(&p, in, out, NULL), TRI_OK);
    TT_CHECK_MEM_EQ(out, want, sizeof want);
    /* input zero point 5: taps see x - 5; padding contributes nothing */
    p.conv.in_offset = -5;
    p.conv.out_offset = -10;
    p.conv.act.max = -9; /* fused clamp */
    TT_CHECK_EQ(tnn_conv2d_s8(&p, in, out, NULL), TRI_OK);
    /* centre: 45 - 9*5 = 0 -> -10; corner: 12 - 4*5 = -8 -> -18 */
    TT_CHECK_EQ(out[4], -10);
    TT_CHECK_EQ(out[0], -18);
    TT_CHECK_EQ(out[8], -9); /* 28 - 4*5 - 10 = -2, clamped */
    TT_CHECK_EQ(out[1], -19); /* 21 - 6*5 - 10 */
}

TT_TEST(engine_avg_pool_rounds_half_away_from_zero)
{
    static const int8_t in[4] = {1, 2, -1, -2}; /* two 1x2 windows */
    int8_t out[2];
    tnn_pool2d_s8_params_t p;
    memset(&p, 0, sizeof p);
    p.in_h = 2;
    p.in_w = 2;
    p.channels = 1;
    p.out_h = 2;
    p.out_w = 1;
    p.k_h = 1;
    p.k_w = 2;
    p.stride_h = p.stride_w = 1;
    p.act_min = -128;
    p.act_max = 127;
    TT_CHECK_EQ(tnn_avg_pool2d_s8(&p, in, out), TRI_OK);
    TT_CHECK_EQ(out[0], 2);  /* 1.5 -> 2 */
    TT_CHECK_EQ(out[1], -2); /* -1.5 -> -2 */
}

TT_TEST(engine_softmax_uniform_row_is_a_quarter)
{
    /* four equal logits: probability 1/4 = 64/256, i.e. 64 - 128 = -64 */
    static const int8_t in[4] = {10, 10, 10, 10};
    int8_t out[4];
    tnn_softmax_s8_params_t p;
    memset(&p, 0, sizeof p);
    p.rows = 1;
    p.depth = 4;
    p.input_mult = 1 << 30; /* beta * scale: 2^22 per unit of difference in Q5.26, */
    p.input_left_shift = 23; /* i.e. a difference of 255 is -16 in the exponent */
    p.diff_min = -1000;
    TT_CHECK_EQ(tnn_softmax_s8(&p, in, out), TRI_OK);
    TT_CHECK_EQ(out[0], -64);
    TT_CHECK_EQ(out[3], -64);
    /* one logit far above the others takes everything: exp(-16) * 256 < 0.5 */
    {
        static const int8_t in2[4] = {127, -128, -128, -128};
        TT_CHECK_EQ(tnn_softmax_s8(&p, in2, out), TRI_OK);
        TT_CHECK_EQ(out[0], 127);
        TT_CHECK_EQ(out[1], -128);
    }
}

/* ---- a hand-built model: two 1x1 "copy" convolutions ----------------------
 * input [1,2,2,2] -> conv (identity weights) -> t1 -> conv -> output.
 * Arena plan: input at 0 (8 bytes), t1 at 8, output at 0. */

static const int8_t eye2[4] = {1, 0, 0, 1};
static const int32_t mult2[2] = {1 << 30, 1 << 30};
static const int8_t shift2[2] = {1, 1};
static const tnn_conv2d_s8_params_t copy_conv = {
    {0, 0, 0, {1, 1}, {1, 1}, {1, 1}, {0, 0}, {-128, 127}}, /* conv: offsets, 1x1 window */
    {mult2, shift2},                                      /* quant */
    {2, 2, 2},                                            /* input */
    {2, 2, 2},                                            /* output */
    eye2,
    NULL,
    NULL};

static tnn_span_t span(uint32_t off, uint32_t bytes, uint32_t tensor)
{
    tnn_span_t s;
    s.offset = off;
    s.bytes = bytes;
    s.tensor = tensor;
    return s;
}

typedef struct {
    tnn_span_t in0[1];
    tnn_span_t in1[1];
    tnn_step_t steps[2];
    tnn_model_t model;
} toy_t;

static void toy_init(toy_t *t)
{
    memset(t, 0, sizeof *t);
    t->in0[0] = span(0, 8, 0);
    t->in1[0] = span(8, 8, 1);
    t->steps[0].op = &tnn_op_conv2d_s8;
    t->steps[0].params = &copy_conv;
    t->steps[0].in = t->in0;
    t->steps[0].n_in = 1;
    t->steps[0].out = span(8, 8, 1);
    t->steps[1].op = &tnn_op_conv2d_s8;
    t->steps[1].params = &copy_conv;
    t->steps[1].in = t->in1;
    t->steps[1].n_in = 1;
    t->steps[1].out = span(0, 8, 2);
    t->model.magic = TNN_MODEL_MAGIC;
    t->model.version = TNN_MODEL_VERSION;
    t->model.steps = t->steps;
    t->model.n_steps = 2;
    t->model.arena_bytes = 16;
    t->model.input = span(0, 8, 0);
    t->model.output = span(0, 8, 2);
}

TT_TEST(engine_toy_model_runs)
{
    static toy_t t;
    uint32_t arena[4];
    tnn_ctx_t ctx;
    size_t n = 0;
    int8_t *in;
    const int8_t *out;
    static const int8_t x[8] = {1, -2, 3, -4, 5, -6, 7, -128};
    toy_init(&t);
    TT_CHECK_EQ(tnn_arena_size(&t.model), 16);
    TT_CHECK_EQ(tnn_bind(&ctx, &t.model, arena, sizeof arena), TRI_OK);
    TT_CHECK_EQ(ctx.sizes.asked, 16);
    TT_CHECK_EQ(ctx.sizes.missing, 0);
    in = tnn_input(&ctx, &n);
    TT_CHECK(in != NULL);
    TT_CHECK_EQ(n, 8);
    memcpy(in, x, sizeof x);
    TT_CHECK_EQ(tnn_invoke(&ctx), TRI_OK);
    out = tnn_output(&ctx, &n);
    TT_CHECK(out != NULL);
    TT_CHECK_EQ(n, 8);
    TT_CHECK_MEM_EQ(out, x, sizeof x);
}

TT_TEST(engine_bind_arena_failures_report_sizes)
{
    static toy_t t;
    uint32_t arena[5];
    tnn_ctx_t ctx;
    toy_init(&t);
    TT_CHECK_EQ(tnn_bind(NULL, &t.model, arena, sizeof arena), TRI_ERR_ARG);
    TT_CHECK_EQ(tnn_bind(&ctx, NULL, arena, sizeof arena), TRI_ERR_ARG);
    TT_CHECK_EQ(ctx.sizes.asked, 0);
    TT_CHECK_EQ(tnn_bind(&ctx, &t.model, NULL, 64), TRI_ERR_ARG);
    TT_CHECK_EQ(ctx.sizes.asked, 16);
    TT_CHECK_EQ(ctx.sizes.available, 0);
    TT_CHECK_EQ(ctx.sizes.missing, 16);
    TT_CHECK_EQ(tnn_bind(&ctx, &t.model, (uint8_t *)arena + 1, 16), TRI_ERR_ALIGN);
    TT_CHECK_EQ(tnn_bind(&ctx, &t.model, arena, 15), TRI_ERR_SIZE);
    TT_CHECK_EQ(ctx.sizes.asked, 16);
    TT_CHECK_EQ(ctx.sizes.available, 15);
    TT_CHECK_EQ(ctx.sizes.missing, 1);
    /* an unbound context is refused everywhere */
    TT_CHECK_EQ(tnn_invoke(&ctx), TRI_ERR_ARG);
    TT_CHECK(tnn_input(&ctx, NULL) == NULL);
    TT_CHECK(tnn_output(&ctx, NULL) == NULL);
    TT_CHECK_EQ(tnn_invoke(NULL), TRI_ERR_ARG);
    TT_CHECK_EQ(tnn_bind(&ctx, &t.model, arena, 16), TRI_OK);
}

TT_TEST(engine_bind_refuses_malformed_models)
{
    static toy_t t;
    uint32_t arena[8];
    tnn_ctx_t ctx;

    toy_init(&t);
    t.model.magic = 0x12345678u;
    TT_CHECK_EQ(tnn_bind(&ctx, &t.model, arena, sizeof arena), TRI_ERR_FORMAT);
    TT_CHECK_EQ(tnn_arena_size(&t.model), 0);

    toy_init(&t);
    t.model.version = TNN_MODEL_VERSION + 1u;
    TT_CHECK_EQ(tnn_bind(&ctx, &t.model, arena, sizeof arena), TRI_ERR_FORMAT);

    /* a span beyond the planned arena */
    toy_init(&t);
    t.steps[1].out = span(12, 8, 2);
    TT_CHECK_EQ(tnn_bind(&ctx, &t.model, arena, sizeof arena), TRI_ERR_FORMAT);
    TT_CHECK_EQ(ctx.failed_step, 1);

    /* more inputs than any step can have */
    toy_init(&t);
    t.steps[1].n_in = 1000u;
    TT_CHECK_EQ(tnn_bind(&ctx, &t.model, arena, sizeof arena), TRI_ERR_FORMAT);
    TT_CHECK_EQ(ctx.failed_step, 1);

    /* a tensor size that does not match the kernel's shape */
    toy_init(&t);
    t.in1[0] = span(8, 7, 1);
    t.steps[0].out = span(8, 7, 1);
    TT_CHECK_EQ(tnn_bind(&ctx, &t.model, arena, sizeof arena), TRI_ERR_SHAPE);
    TT_CHECK_EQ(ctx.failed_step, 0);

    /* a plan that overwrites a tensor before its last reader: step 0 writes
     * over the input, which step 1 then reads as if it were t1 */
    toy_init(&t);
    t.steps[0].out = span(4, 8, 1);
    t.in1[0] = span(0, 8, 0);
    TT_CHECK_EQ(tnn_bind(&ctx, &t.model, arena, sizeof arena), TRI_ERR_FORMAT);
    TT_CHECK_EQ(ctx.failed_step, 0); /* the conv's output overlaps its input without the gap */

    /* a step reading a tensor that a later-planned step already replaced */
    toy_init(&t);
    t.in1[0] = span(8, 8, 0); /* claims to read the input where t1 lives */
    TT_CHECK_EQ(tnn_bind(&ctx, &t.model, arena, sizeof arena), TRI_ERR_FORMAT);
    TT_CHECK_EQ(ctx.failed_step, 1);

    /* the output overwritten after its producer: t1 is the model output, but
     * step 1 writes over its first half (legally for step 1 itself) */
    toy_init(&t);
    t.model.output = span(8, 8, 1);
    t.steps[1].out = span(4, 8, 2);
    TT_CHECK_EQ(tnn_bind(&ctx, &t.model, arena, sizeof arena), TRI_ERR_FORMAT);
    TT_CHECK_EQ(ctx.failed_step, TNN_NO_STEP);
}

TT_TEST(engine_bind_checks_the_overlap_gap)
{
    /* A 1x1 conv over 2 rows of 2 pixels x 2 channels (rows of 4 bytes):
     * the output may start at most... gap = max_r (r + 1) * 4 - r * 4 = 4
     * bytes below the input; 0 bytes below (in place) is refused. */
    static toy_t t;
    uint32_t arena[8];
    tnn_ctx_t ctx;
    toy_init(&t);
    t.model.arena_bytes = 32;
    t.model.input = span(12, 8, 0);
    t.in0[0] = span(12, 8, 0);
    t.steps[0].out = span(8, 8, 1); /* 4 below: allowed */
    t.in1[0] = span(8, 8, 1);
    t.steps[1].out = span(24, 8, 2);
    t.model.output = span(24, 8, 2);
    TT_CHECK_EQ(tnn_bind(&ctx, &t.model, arena, sizeof arena), TRI_OK);
    t.steps[0].out = span(12, 8, 1); /* in place: refused */
    t.in1[0] = span(12, 8, 1);
    TT_CHECK_EQ(tnn_bind(&ctx, &t.model, arena, sizeof arena), TRI_ERR_FORMAT);
    TT_CHECK_EQ(ctx.failed_step, 0);
}
