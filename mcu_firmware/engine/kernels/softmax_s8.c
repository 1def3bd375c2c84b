/*
 * softmax_s8.c - SOFTMAX over the last dimension, int8 in, int8 out with
 * scale 1/256 and zero point -128 (reference kernel).
 *
 * The numerics are TFLite Micro's (gemmlowp's fixed-point exp and
 * reciprocal), reproduced bit for bit. Notation: Qm.n is an int32 holding
 * value / 2^n with m integer bits.
 *
 *  1. d = x - max(row) <= 0. If d < diff_min, exp(beta * s * d) is too small
 *     to matter: the output is -128 (probability 0).
 *  2. d is scaled by beta * input_scale into Q5.26: srdhm(d << left, mult).
 *  3. e = exp(d') in Q0.31, evaluated on negative values: exp of the part
 *     in [-1/4, 0) by a 4th-order Taylor polynomial around -1/8, times
 *     exp(-2^k) for each bit k of the remaining multiple of 1/4 (a barrel
 *     shifter of constants).
 *  4. The sum of e over the row is kept in Q12.19 (up to 4096 terms of
 *     at most 1.0, no overflow).
 *  5. 1/sum by Newton-Raphson on the sum normalised to [1, 2): three
 *     iterations of x <- x + x * (1 - d * x) from 48/17 - 32/17 * d.
 *  6. out = round(e * (1/sum) * 256) - 128, clamped to int8.
 *
 * Write order (overlap: elementwise): a row is read twice (maximum, sum),
 * then element i is read again just before output element i is written.
 *
 * tnn_softmax_s8_lut does the same with steps 2-3 read from a table of the
 * 256 possible differences (tnn_softmax_s8_table), for the rows of a
 * streaming layer: the same function of the same integers, so the same
 * outputs.
 */
#include "tnn_fixed.h"
#include "tnn_kernels.h"

#define Q0_ONE INT32_MAX /* 1.0 is not representable in Q0.31: the closest value */

/* Number of leading zero bits of a 32-bit value (32 for 0). */
static int clz32(uint32_t v)
{
    int n = 0;
    if (v == 0u) {
        return 32;
    }
    while ((v & 0x80000000u) == 0u) {
        v <<= 1;
        n++;
    }
    return n;
}

/* x * 2^exponent, saturating, for exponent in [1, 30]. */
static int32_t sat_shl(int32_t x, int exponent)
{
    const int32_t threshold = (int32_t)((1u << (31 - exponent)) - 1u);
    if (x > threshold) {
        return INT32_MAX;
    }
    if (x < -threshold) {
        return INT32_MIN;
    }
    return tnn_shl_wrap(x, exponent);
}

/* round((a + b) / 2), halves away from zero. */
static int32_t rounding_half_sum(int32_t a, int32_t b)
{
    const int64_t sum = (int64_t)a + (int64_t)b;
    return (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
}

/* exp(a) for a in [-1/4, 0), a and the result in Q0.31. */
static int32_t exp_quarter(int32_t a)
{
    const int32_t exp_minus_eighth = 1895147668; /* exp(-1/8) */
    const int32_t one_third = 715827883;
    const int32_t x = a + (1 << 28); /* a + 1/8 */
    const int32_t x2 = tnn_srdhm(x, x);
    const int32_t x3 = tnn_srdhm(x2, x);
    const int32_t x4 = tnn_srdhm(x2, x2);
    const int32_t x4_over_4 = tnn_rdbpot(x4, 2);
    /* x^4/24 + x^3/6 + x^2/2 = ((x^4/4 + x^3) / 3 + x^2) / 2 */
    const int32_t poly = tnn_rdbpot(tnn_srdhm(x4_over_4 + x3, one_third) + x2, 1);
    return exp_minus_eighth + tnn_srdhm(exp_minus_eighth, x + poly);
}

/* exp(a) for a <= 0 given in Q5.26; result in Q0.31. */
static int32_t exp_on_negative_q5(int32_t a)
{
    /* exp(-2^k) in Q0.31 for k = -2 .. 4 */
    static const int32_t barrel[7] = {1672461947, 1302514674, 790015084, 290630308,
                                      39332535,   720401,     242};
    const int32_t quarter = 1 << 24; /* 1/4 in Q5.26 */
    const int32_t a_mod_quarter_minus_quarter = (a & (quarter - 1)) - quarter;
    int32_t result = exp_quarter(sat_shl(a_mod_quarter_minus_quarter, 5)); /* Q5.26 -> Q0.31 */
    const int32_t remainder = a_mod_quarter_minus_quarter - a;                /* >= 0 */
    int k;
    for (k = 0; k < 7; k++) {
        if ((remainder & (1 << (24 + k))) != 0) {
            result = tnn_srdhm(result, barrel[k]);
        }
    }
    return a == 0 ? Q0_ONE : result;
}

/* 1 / (1 + a) for a in [0, 1) in Q0.31; result in Q0.31. */
static int32_t one_over_one_plus_x(int32_t a)
{
    const int32_t half_denominator = rounding_half_sum(a, Q0_ONE); /* Q0.31 */
    const int32_t c48_17 = 1515870810;                                 /* 48/17 in Q2.29 */
    const int32_t c_neg32_17 = -1010580540;                            /* -32/17 in Q2.29 */
    const int32_t one_q2 = 1 << 29;
    int32_t x = c48_17 + tnn_srdhm(half_denominator, c_neg32_17); /* Q2.29 */
    int i;
    for (i = 0; i < 3; i++) {
        const int32_t hdx = tnn_srdhm(half_denominator, x); /* Q2.29 */
        const int32_t one_minus = one_q2 - hdx;
        x = x + sat_shl(tnn_srdhm(x, one_minus), 2); /* Q4.27 -> Q2.29 */
    }
    /* x / 2 in Q1.30 read as Q0.31 after a saturating doubling. */
    return sat_shl(x, 1);
}

tri_status_t tnn_softmax_s8(const tnn_softmax_s8_params_t *p, const int8_t *input,
                            int8_t *output)
{
    const uint32_t depth = p->depth;
    uint32_t r;

    for (r = 0; r < p->rows; r++) {
        const int8_t *in = input + (size_t)r * depth;
        int8_t *out = output + (size_t)r * depth;
        int32_t max_in_row = INT8_MIN;
        int32_t sum_q12 = 0;
        int32_t headroom;
        int32_t reciprocal;
        int exponent;
        uint32_t c;

        for (c = 0; c < depth; c++) {
            max_in_row = in[c] > max_in_row ? in[c] : max_in_row;
        }
        for (c = 0; c < depth; c++) {
            const int32_t diff = (int32_t)in[c] - max_in_row;
            if (diff >= p->diff_min) {
                const int32_t scaled = tnn_requant(diff, p->input_mult, p->input_left_shift);
                sum_q12 += tnn_rdbpot(exp_on_negative_q5(scaled), 12); /* Q0.31 -> Q12.19 */
            }
        }
        /* sum >= exp(0) of the maximum, so it is positive and clz < 32. */
        headroom = clz32((uint32_t)sum_q12);
        reciprocal = one_over_one_plus_x(
            (int32_t)(((uint32_t)sum_q12 << headroom) - (1u << 31))); /* 1/sum, normalised */
        exponent = (12 - headroom) + 31 - 8;                         /* in [0, 31] */
        for (c = 0; c < depth; c++) {
            const int32_t diff = (int32_t)in[c] - max_in_row;
            int32_t v = INT8_MIN;
            if (diff >= p->diff_min) {
                const int32_t scaled = tnn_requant(diff, p->input_mult, p->input_left_shift);
                const int32_t e = exp_on_negative_q5(scaled);
                v = tnn_rdbpot(tnn_srdhm(reciprocal, e), exponent) + INT8_MIN;
                v = tnn_clamp(v, INT8_MIN, INT8_MAX);
            }
            out[c] = (int8_t)v;
        }
    }
    return TRI_OK;
}

/* ---- the same with the exponentials from a table (streaming layers) ------- */

void tnn_softmax_s8_table(const tnn_softmax_s8_params_t *p, int32_t table[TNN_SOFTMAX_TABLE])
{
    int32_t d;
    for (d = 0; d < (int32_t)TNN_SOFTMAX_TABLE; d++) {
        /* difference -d; below diff_min it counts for nothing: a 0 adds 0 to
         * the sum and gives -128, as skipping it does */
        table[d] = -d >= p->diff_min
                       ? exp_on_negative_q5(tnn_requant(-d, p->input_mult, p->input_left_shift))
                       : 0;
    }
}

tri_status_t tnn_softmax_s8_lut(const tnn_softmax_s8_params_t *p,
                                const int32_t table[TNN_SOFTMAX_TABLE], const int8_t *input,
                                int8_t *output)
{
    const uint32_t depth = p->depth;
    uint32_t r;
    for (r = 0; r < p->rows; r++) {
        const int8_t *in = input + (size_t)r * depth;
        int8_t *out = output + (size_t)r * depth;
        int32_t max_in_row = INT8_MIN;
        int32_t sum_q12 = 0;
        int32_t headroom;
        int32_t reciprocal;
        int exponent;
        uint32_t c;
        for (c = 0; c < depth; c++) {
            max_in_row = in[c] > max_in_row ? in[c] : max_in_row;
        }
        for (c = 0; c < depth; c++) {
            sum_q12 += tnn_rdbpot(table[max_in_row - in[c]], 12);
        }
        headroom = clz32((uint32_t)sum_q12);
        reciprocal = one_over_one_plus_x((int32_t)(((uint32_t)sum_q12 << headroom) - (1u << 31)));
        exponent = (12 - headroom) + 31 - 8;
        for (c = 0; c < depth; c++) {
            const int32_t v =
                tnn_rdbpot(tnn_srdhm(reciprocal, table[max_in_row - in[c]]), exponent) + INT8_MIN;
            out[c] = (int8_t)tnn_clamp(v, INT8_MIN, INT8_MAX);
        }
    }
    return TRI_OK;
}
