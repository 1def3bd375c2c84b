/*
 * tnn_fixed.h - the fixed-point arithmetic every int8 kernel shares,
 * defined to give exactly what TensorFlow Lite Micro's reference kernels
 * give (gemmlowp's "double rounding" requantisation, the default build).
 *
 * All functions are total: no undefined behaviour for any int32 input
 * (products are formed in 64 bits, left shifts in unsigned arithmetic and
 * converted back with the two's-complement wrap that GCC defines).
 */
#ifndef TNN_FIXED_H
#define TNN_FIXED_H

#include <stdint.h>

/*
 * round(a * b / 2^31), saturating the one overflow (INT32_MIN * INT32_MIN);
 * in Q0.31 terms the product of two fractions. Exact halves round up (+0.5
 * to 1, -0.5 to 0): gemmlowp adds 2^30 to a non-negative product and
 * 1 - 2^30 to a negative one, then truncates toward zero.
 * The division by 2^31 truncates toward zero (as C's / does); it is done
 * with a shift after biasing negative values, to avoid a 64-bit division
 * call on the Cortex-M4.
 */
static inline int32_t tnn_srdhm(int32_t a, int32_t b)
{
    int64_t ab;
    int64_t nudged;
    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX;
    }
    ab = (int64_t)a * (int64_t)b;
    nudged = ab + (ab >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30)));
    if (nudged < 0) {
        nudged += ((int64_t)1 << 31) - 1; /* truncate toward zero */
    }
    return (int32_t)(nudged >> 31);
}

/* x / 2^exponent rounded to nearest, halves away from zero; exponent in
 * [0, 31]. */
static inline int32_t tnn_rdbpot(int32_t x, int exponent)
{
    const int32_t mask = (int32_t)(((uint32_t)1u << exponent) - 1u);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* x * 2^left (left in [0, 31]) with the wrap-around of 32-bit arithmetic. */
static inline int32_t tnn_shl_wrap(int32_t x, int left)
{
    return (int32_t)((uint32_t)x << left);
}

/*
 * Requantisation: x * mult * 2^(shift - 31), shift in [-31, 30]. A positive
 * shift is applied to x before the multiplication, a negative one as a
 * rounding right shift after it (two roundings, as TFLM).
 */
static inline int32_t tnn_requant(int32_t x, int32_t mult, int shift)
{
    const int left = shift > 0 ? shift : 0;
    const int right = shift > 0 ? 0 : -shift;
    return tnn_rdbpot(tnn_srdhm(tnn_shl_wrap(x, left), mult), right);
}

static inline int32_t tnn_clamp(int32_t x, int32_t lo, int32_t hi)
{
    return x < lo ? lo : (x > hi ? hi : x);
}

#endif /* TNN_FIXED_H */
