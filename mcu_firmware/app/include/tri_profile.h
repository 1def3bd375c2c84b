/*
 * tri_profile.h - where the on-board application spends its instructions:
 * per-stage totals of a platform clock, for the benchmark (issue: keep up
 * with the imager). The platform gives a clock (tri_onboard_set_clock; the
 * Cortex-M4 image's counts instructions from SysTick under QEMU -icount);
 * without one (the host build) a mark costs one comparison. A mark charges
 * the clock ticks since the previous mark to one stage, so the stages of a
 * call add up to the ticks between its first and last mark exactly.
 */
#ifndef TRI_PROFILE_H
#define TRI_PROFILE_H

#include <stdint.h>

/* X(name): the stages, in pipeline order. */
#define TRI_PROFILE_STAGES(X)                                                                      \
    X(checks)         /* FRAME_META and frame checks */                                           \
    X(preprocess)     /* frame memory -> the classifier's int8 input */                            \
    X(inference)      /* the classifier's first pass */                                           \
    X(second_opinion) /* the turned views of candidate tiles */                                   \
    X(decide)         /* decision per tile, counts */                                             \
    X(regions)        /* labelling of crop and low-resolution regions */                          \
    X(products)       /* product writing: samples, predictor, CCSDS 121, CRC, store */            \
    X(downlink)       /* directories and passes: packets, CRCs */

#define TRI_PROFILE_ENUM(name) TRI_STAGE_##name,
typedef enum { TRI_PROFILE_STAGES(TRI_PROFILE_ENUM) TRI_STAGE_COUNT } tri_stage_t;
#undef TRI_PROFILE_ENUM

/* A monotonic count, wrapping modulo 2^32 (intervals between marks are far
 * shorter than a wrap). */
typedef uint32_t (*tri_clock_fn)(void);

typedef struct {
    tri_clock_fn clock; /* NULL: profiling off */
    uint32_t last;
    uint64_t total[TRI_STAGE_COUNT];
} tri_profile_t;

/* Starts an interval (the ticks until the next mark are charged to it). */
static inline void tri_profile_start(tri_profile_t *p)
{
    if (p->clock != 0) {
        p->last = p->clock();
    }
}

/* Charges the ticks since the last mark (or start) to `stage`. */
static inline void tri_profile_mark(tri_profile_t *p, tri_stage_t stage)
{
    if (p->clock != 0) {
        uint32_t now = p->clock();
        p->total[stage] += (uint32_t)(now - p->last);
        p->last = now;
    }
}

/* Name of stage i (NULL past the last). */
const char *tri_profile_stage(uint32_t i);

#endif /* TRI_PROFILE_H */
