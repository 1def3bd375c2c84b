/*
 * tnn_simd.h - the Cortex-M4 DSP-extension operations the optimised kernels
 * (engine/kernels_dsp) are written with, and a portable C emulation of each.
 *
 * On a core with the DSP extension (__ARM_FEATURE_DSP: Cortex-M4/M7/M33)
 * every tnn_* operation below is one instruction: the ACLE intrinsics of
 * arm_acle.h where GCC 12 has them (__smlad, __sxtb16, __smlabb, __smlatt,
 * __ssat), a one-instruction asm statement where ACLE has none (SXTB16 with
 * its ROR #8 operand, SMMLAR, PKHBT/PKHTB, LDRD/STRD with post-increment,
 * LDM with writeback; GCC does not fuse `__sxtb16(ror(x, 8))`, does not
 * recognise SMMLAR, and splits multi-word loads it does not need as one
 * value). Elsewhere (the
 * host build) the same names are portable C with exactly the instruction's
 * result for every input, so the same kernel code runs, and is tested
 * (also under ASan/UBSan), on the host.
 *
 * tnn_emu_* are the portable definitions, always compiled, so that a test
 * can compare them with the hardware on the Cortex-M4 image.
 *
 * Lanes: a uint32_t holds two int16 lanes, lo = bits 15..0, hi = 31..16.
 * The emulation wraps where the hardware wraps (SMLAD's accumulation) and
 * never relies on signed overflow: sums are formed in uint32_t.
 */
#ifndef TNN_SIMD_H
#define TNN_SIMD_H

#include <stdint.h>
#include <string.h>

static inline int32_t tnn_emu_lo16(uint32_t x)
{
    return (int32_t)(int16_t)(uint16_t)(x & 0xFFFFu);
}

static inline int32_t tnn_emu_hi16(uint32_t x)
{
    return (int32_t)(int16_t)(uint16_t)(x >> 16);
}

static inline int32_t tnn_emu_wrap(uint32_t x)
{
    return (int32_t)x; /* two's complement (GCC defines the conversion) */
}

/* SMLAD: acc + lo(a) * lo(b) + hi(a) * hi(b), wrapping at 32 bits. */
static inline int32_t tnn_emu_smlad(uint32_t a, uint32_t b, int32_t acc)
{
    const int32_t p0 = tnn_emu_lo16(a) * tnn_emu_lo16(b); /* |p| <= 2^30 */
    const int32_t p1 = tnn_emu_hi16(a) * tnn_emu_hi16(b);
    return tnn_emu_wrap((uint32_t)acc + (uint32_t)p0 + (uint32_t)p1);
}

/* SMLABB / SMLATT: acc + lo(a) * lo(b) / acc + hi(a) * hi(b), wrapping. */
static inline int32_t tnn_emu_smlabb(uint32_t a, uint32_t b, int32_t acc)
{
    return tnn_emu_wrap((uint32_t)acc + (uint32_t)(tnn_emu_lo16(a) * tnn_emu_lo16(b)));
}

static inline int32_t tnn_emu_smlatt(uint32_t a, uint32_t b, int32_t acc)
{
    return tnn_emu_wrap((uint32_t)acc + (uint32_t)(tnn_emu_hi16(a) * tnn_emu_hi16(b)));
}

/* SXTB16: bytes 0 and 2 of x, sign-extended into the lo and hi lanes. */
static inline uint32_t tnn_emu_sxtb16(uint32_t x)
{
    const uint32_t lo = (uint32_t)(uint16_t)(int16_t)(int8_t)(uint8_t)(x & 0xFFu);
    const uint32_t hi = (uint32_t)(uint16_t)(int16_t)(int8_t)(uint8_t)((x >> 16) & 0xFFu);
    return lo | (hi << 16);
}

/* SXTB16 with ROR #8: bytes 1 and 3 of x, sign-extended. */
static inline uint32_t tnn_emu_sxtb16_ror8(uint32_t x)
{
    return tnn_emu_sxtb16((x >> 8) | (x << 24));
}

/* SMMLAR: c + ((a * b + 2^31) >> 32), the rounded high word of the 64-bit
 * product added to c, wrapping at 32 bits. */
static inline int32_t tnn_emu_smmlar(int32_t a, int32_t b, int32_t c)
{
    const int64_t p = (int64_t)a * (int64_t)b + (int64_t)0x80000000LL; /* |p| < 2^63 */
    const int64_t hi = p >= 0 ? p / 4294967296LL : -((-p + 4294967295LL) / 4294967296LL);
    return tnn_emu_wrap((uint32_t)c + (uint32_t)(int32_t)hi); /* hi: floor(p / 2^32) */
}

/* SSAT #8: x clamped to [-128, 127]. */
static inline int32_t tnn_emu_ssat8(int32_t x)
{
    return x < -128 ? -128 : (x > 127 ? 127 : x);
}

/* PKHBT a, b, LSL #16: lo(a) in the lo lane, lo(b) in the hi lane. */
static inline uint32_t tnn_emu_pkhbt(uint32_t a, uint32_t b)
{
    return (a & 0xFFFFu) | (b << 16);
}

/* PKHTB a, b, ASR #16: hi(b) in the lo lane, hi(a) in the hi lane. */
static inline uint32_t tnn_emu_pkhtb(uint32_t a, uint32_t b)
{
    return (a & 0xFFFF0000u) | (b >> 16);
}

/* SSUB8 then SEL: the per-byte signed maximum of a and b. */
static inline uint32_t tnn_emu_max_s8x4(uint32_t a, uint32_t b)
{
    uint32_t r = 0u;
    int k;
    for (k = 0; k < 32; k += 8) {
        const int8_t x = (int8_t)(uint8_t)(a >> k);
        const int8_t y = (int8_t)(uint8_t)(b >> k);
        r |= (uint32_t)(uint8_t)(x >= y ? x : y) << k;
    }
    return r;
}

/* Two consecutive words at *p (4-byte aligned); *p advances by two words. */
static inline void tnn_emu_ld2_inc(const uint32_t **p, uint32_t *a, uint32_t *b)
{
    *a = (*p)[0];
    *b = (*p)[1];
    *p += 2;
}

/* Two words stored at *p (4-byte aligned); *p advances by two words. */
static inline void tnn_emu_st2_inc(uint32_t **p, uint32_t a, uint32_t b)
{
    (*p)[0] = a;
    (*p)[1] = b;
    *p += 2;
}

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP

#include <arm_acle.h>

#define TNN_SIMD_NATIVE 1

static inline int32_t tnn_smlad(uint32_t a, uint32_t b, int32_t acc)
{
    return __smlad((int32_t)a, (int32_t)b, acc);
}

static inline int32_t tnn_smlabb(uint32_t a, uint32_t b, int32_t acc)
{
    return __smlabb((int32_t)a, (int32_t)b, acc);
}

static inline int32_t tnn_smlatt(uint32_t a, uint32_t b, int32_t acc)
{
    return __smlatt((int32_t)a, (int32_t)b, acc);
}

static inline uint32_t tnn_sxtb16(uint32_t x)
{
    return (uint32_t)__sxtb16((int32_t)x);
}

static inline uint32_t tnn_sxtb16_ror8(uint32_t x)
{
    uint32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
}

static inline int32_t tnn_smmlar(int32_t a, int32_t b, int32_t c)
{
    int32_t r;
    __asm__("smmlar %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(c));
    return r;
}

/* SSAT: ACLE's __ssat macro trips -Wsign-conversion inside GCC 12's own
 * header, so its builtin is called directly (the same instruction). */
static inline int32_t tnn_ssat8(int32_t x)
{
    return (int32_t)__builtin_arm_ssat(x, 8);
}

static inline uint32_t tnn_pkhbt(uint32_t a, uint32_t b)
{
    uint32_t r;
    __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

static inline uint32_t tnn_pkhtb(uint32_t a, uint32_t b)
{
    uint32_t r;
    __asm__("pkhtb %0, %1, %2, asr #16" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

/* SSUB8 sets the GE flag of each byte where a >= b, SEL then picks a's
 * byte there and b's elsewhere: one asm statement keeps the pair together
 * (the flags are state the compiler does not track). */
static inline uint32_t tnn_max_s8x4(uint32_t a, uint32_t b)
{
    uint32_t r;
    __asm__("ssub8 %0, %1, %2\n\tsel %0, %1, %2" : "=&r"(r) : "r"(a), "r"(b) : "cc");
    return r;
}

/* LDRD with post-increment: GCC splits 64-bit loads it does not need as one
 * value into two LDRs; the kernels' inner loops want one instruction. The
 * memory operand tells the compiler what is read. */
static inline void tnn_ld2_inc(const uint32_t **p, uint32_t *a, uint32_t *b)
{
    uint32_t x;
    uint32_t y;
    __asm__("ldrd %0, %1, [%2], #8"
            : "=r"(x), "=r"(y), "+r"(*p)
            : "m"(*(const uint32_t(*)[2]) * p));
    *a = x;
    *b = y;
}

/*
 * LDMIA with writeback: four consecutive words at p (4-byte aligned, p a
 * `const uint32_t *` lvalue) into a, b, c, d; p advances by four words.
 * GCC 12 never forms LDM for loads it keeps as separate values, and LDM's
 * register list must ascend with the addresses, so the four destination
 * registers are named (ra..rd, ascending, e.g. "r4".."r7"): GCC's local
 * register variables bind them to the asm operands.
 */
#define TNN_LD4_INC(p, a, b, c, d, ra, rb, rc, rd)                                                 \
    do {                                                                                           \
        register uint32_t tnn_l4a_ __asm__(ra);                                                    \
        register uint32_t tnn_l4b_ __asm__(rb);                                                    \
        register uint32_t tnn_l4c_ __asm__(rc);                                                    \
        register uint32_t tnn_l4d_ __asm__(rd);                                                    \
        __asm__("ldmia %0!, {%1, %2, %3, %4}"                                                      \
                : "+r"(p), "=r"(tnn_l4a_), "=r"(tnn_l4b_), "=r"(tnn_l4c_), "=r"(tnn_l4d_)          \
                : "m"(*(const uint32_t(*)[4])(p)));                                                \
        (a) = tnn_l4a_;                                                                            \
        (b) = tnn_l4b_;                                                                            \
        (c) = tnn_l4c_;                                                                            \
        (d) = tnn_l4d_;                                                                            \
    } while (0)

/* LDRD with post-increment into two named registers (see TNN_LD4_INC):
 * pinning them keeps GCC from spreading unrolled loads over more registers
 * than the loop can spare. */
#define TNN_LD2_INC(p, a, b, ra, rb)                                                               \
    do {                                                                                           \
        register uint32_t tnn_l2a_ __asm__(ra);                                                    \
        register uint32_t tnn_l2b_ __asm__(rb);                                                    \
        __asm__("ldrd %1, %2, [%0], #8"                                                            \
                : "+r"(p), "=r"(tnn_l2a_), "=r"(tnn_l2b_)                                          \
                : "m"(*(const uint32_t(*)[2])(p)));                                                \
        (a) = tnn_l2a_;                                                                            \
        (b) = tnn_l2b_;                                                                            \
    } while (0)

/* STRD with post-increment, for the same reason as LDRD. */
static inline void tnn_st2_inc(uint32_t **p, uint32_t a, uint32_t b)
{
    __asm__("strd %2, %3, [%0], #8" : "+r"(*p), "=m"(*(uint32_t(*)[2]) * p) : "r"(a), "r"(b));
}

#else /* portable emulation */

#define TNN_SIMD_NATIVE 0

static inline int32_t tnn_smlad(uint32_t a, uint32_t b, int32_t acc)
{
    return tnn_emu_smlad(a, b, acc);
}

static inline int32_t tnn_smlabb(uint32_t a, uint32_t b, int32_t acc)
{
    return tnn_emu_smlabb(a, b, acc);
}

static inline int32_t tnn_smlatt(uint32_t a, uint32_t b, int32_t acc)
{
    return tnn_emu_smlatt(a, b, acc);
}

static inline uint32_t tnn_sxtb16(uint32_t x)
{
    return tnn_emu_sxtb16(x);
}

static inline uint32_t tnn_sxtb16_ror8(uint32_t x)
{
    return tnn_emu_sxtb16_ror8(x);
}

static inline int32_t tnn_smmlar(int32_t a, int32_t b, int32_t c)
{
    return tnn_emu_smmlar(a, b, c);
}

static inline int32_t tnn_ssat8(int32_t x)
{
    return tnn_emu_ssat8(x);
}

static inline uint32_t tnn_pkhbt(uint32_t a, uint32_t b)
{
    return tnn_emu_pkhbt(a, b);
}

static inline uint32_t tnn_pkhtb(uint32_t a, uint32_t b)
{
    return tnn_emu_pkhtb(a, b);
}

static inline void tnn_ld2_inc(const uint32_t **p, uint32_t *a, uint32_t *b)
{
    tnn_emu_ld2_inc(p, a, b);
}

static inline uint32_t tnn_max_s8x4(uint32_t a, uint32_t b)
{
    return tnn_emu_max_s8x4(a, b);
}

static inline void tnn_st2_inc(uint32_t **p, uint32_t a, uint32_t b)
{
    tnn_emu_st2_inc(p, a, b);
}

#define TNN_LD2_INC(p, a, b, ra, rb)                                                               \
    do {                                                                                           \
        (a) = (p)[0];                                                                              \
        (b) = (p)[1];                                                                              \
        (p) += 2;                                                                                  \
    } while (0)

#define TNN_LD4_INC(p, a, b, c, d, ra, rb, rc, rd)                                                 \
    do {                                                                                           \
        (a) = (p)[0];                                                                              \
        (b) = (p)[1];                                                                              \
        (c) = (p)[2];                                                                              \
        (d) = (p)[3];                                                                              \
        (p) += 4;                                                                                  \
    } while (0)

#endif

/* Code size: keep a function out of line (a body the compiler would copy
 * into each caller); compile a rarely run one for size. */
#if defined(__GNUC__)
#define TNN_NOINLINE __attribute__((noinline))
#define TNN_COLD __attribute__((cold)) /* rarely run: compiled for size */
#else
#define TNN_NOINLINE
#define TNN_COLD
#endif

/* A possibly unaligned 32-bit load (LDR allows it on the Cortex-M4). */
static inline uint32_t tnn_ld32(const void *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

#endif /* TNN_SIMD_H */
