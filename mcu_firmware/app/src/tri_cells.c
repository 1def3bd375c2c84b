/*
 * tri_cells.c - the cell grid and the per-pixel preprocessing of frame rows
 * (tri_cells.h).
 */
#include "tri_cells.h"

#include <string.h>

#define CELL_PX ((uint32_t)TRI_CFG_CELL_PX)
#define NBANDS ((uint32_t)TRI_CFG_BANDS)

#if TRI_CFG_CELL_PX < 1
#error "cell_px must be positive (models/tile_spec.json)"
#endif
#if TRI_CFG_BANDS < 1 || TRI_CFG_BANDS > 8
#error "1..8 bands"
#endif

uint32_t tri_cell_count(uint32_t size)
{
    return (size + CELL_PX - 1u) / CELL_PX;
}

void tri_cell_bounds(uint32_t index, uint32_t size, uint32_t *start, uint32_t *end)
{
    uint32_t a = index * CELL_PX;
    uint32_t z = a + CELL_PX;
    *start = a < size ? a : size;
    *end = z < size ? z : size;
}

void tri_cell_cover(uint32_t pos, uint32_t size, uint32_t margin, uint32_t *first,
                    uint32_t *last)
{
    /* cell j widened holds pos when 16 j - margin <= pos < 16 j + 16 + margin */
    uint32_t n = tri_cell_count(size);
    uint32_t hi = (pos + margin) / CELL_PX;
    *first = pos >= margin ? (pos - margin) / CELL_PX : 0u;
    *last = hi < n ? hi : n - 1u;
}

/* floor(sqrt(c)) for c = 0..255. */
static const uint8_t sqrt_lo[256] = {
    0u, 1u, 1u, 1u, 2u, 2u, 2u, 2u, 2u, 3u, 3u, 3u, 3u, 3u, 3u, 3u,
    4u, 4u, 4u, 4u, 4u, 4u, 4u, 4u, 4u, 5u, 5u, 5u, 5u, 5u, 5u, 5u,
    5u, 5u, 5u, 5u, 6u, 6u, 6u, 6u, 6u, 6u, 6u, 6u, 6u, 6u, 6u, 6u,
    6u, 7u, 7u, 7u, 7u, 7u, 7u, 7u, 7u, 7u, 7u, 7u, 7u, 7u, 7u, 7u,
    8u, 8u, 8u, 8u, 8u, 8u, 8u, 8u, 8u, 8u, 8u, 8u, 8u, 8u, 8u, 8u,
    8u, 9u, 9u, 9u, 9u, 9u, 9u, 9u, 9u, 9u, 9u, 9u, 9u, 9u, 9u, 9u,
    9u, 9u, 9u, 9u, 10u, 10u, 10u, 10u, 10u, 10u, 10u, 10u, 10u, 10u, 10u, 10u,
    10u, 10u, 10u, 10u, 10u, 10u, 10u, 10u, 10u, 11u, 11u, 11u, 11u, 11u, 11u, 11u,
    11u, 11u, 11u, 11u, 11u, 11u, 11u, 11u, 11u, 11u, 11u, 11u, 11u, 11u, 11u, 11u,
    12u, 12u, 12u, 12u, 12u, 12u, 12u, 12u, 12u, 12u, 12u, 12u, 12u, 12u, 12u, 12u,
    12u, 12u, 12u, 12u, 12u, 12u, 12u, 12u, 12u, 13u, 13u, 13u, 13u, 13u, 13u, 13u,
    13u, 13u, 13u, 13u, 13u, 13u, 13u, 13u, 13u, 13u, 13u, 13u, 13u, 13u, 13u, 13u,
    13u, 13u, 13u, 13u, 14u, 14u, 14u, 14u, 14u, 14u, 14u, 14u, 14u, 14u, 14u, 14u,
    14u, 14u, 14u, 14u, 14u, 14u, 14u, 14u, 14u, 14u, 14u, 14u, 14u, 14u, 14u, 14u,
    14u, 15u, 15u, 15u, 15u, 15u, 15u, 15u, 15u, 15u, 15u, 15u, 15u, 15u, 15u, 15u,
    15u, 15u, 15u, 15u, 15u, 15u, 15u, 15u, 15u, 15u, 15u, 15u, 15u, 15u, 15u, 15u,
};

/* floor(sqrt(16 j)) for j = 0..4095, built once from sqrt_lo and exact
 * correction steps (sqrt_table_build): for c in 256..65535,
 * sqrt_16[c >> 4] is floor(sqrt(c)) or one less, since
 * sqrt(16 j + 15) - sqrt(16 j) < 1 for j >= 1. In RAM (4 KB) rather than
 * flash: one load per sample in the preprocessing's inner loop. */
static uint8_t sqrt_16[4096];
static uint8_t sqrt_16_ready;

static void sqrt_table_build(void)
{
    uint32_t j;
    uint32_t r = 0u;
    for (j = 0u; j < 4096u; j++) { /* floor(sqrt(16 j)) never decreases: step r up */
        while ((r + 1u) * (r + 1u) <= 16u * j) {
            r++;
        }
        sqrt_16[j] = (uint8_t)r;
    }
    sqrt_16_ready = 1u;
}

static inline uint32_t isqrt16(uint32_t c)
{
    uint32_t r;
    if (c < 16u) {
        return sqrt_lo[c];
    }
    r = sqrt_16[c >> 4];
    return (r + 1u) * (r + 1u) <= c ? r + 1u : r;
}

uint32_t tri_isqrt16(uint32_t c)
{
    if (!sqrt_16_ready) {
        sqrt_table_build();
    }
    return isqrt16(c);
}

/* Canonical scale and square root of one sample (steps 1 and 2). */
static inline int8_t quantize(uint32_t v, uint32_t gain_q8)
{
    uint32_t c = (v * gain_q8) >> 8;
    if (c > 65535u) {
        c = 65535u;
    }
    return (int8_t)((int32_t)isqrt16(c) + TRI_CFG_INPUT_ZERO_POINT); /* scale 1/255 */
}

/* The common case, 16-bit samples at unit gain (gain_q8 256 in every band:
 * the canonical scale is the sample itself, no product, no saturation), read
 * as native 16-bit words where the target is little-endian (frame memory is
 * little-endian): a pixel is no-data (saturated) when every band equals the
 * value, i.e. when the OR of the bands' differences from it is zero. */
static void row_u16_unit_gain(const uint8_t *p, uint32_t cols, uint32_t nodata,
                              uint32_t max_sample, int8_t *out, uint16_t *nodata_px,
                              uint16_t *saturated_px)
{
    uint32_t x = 0u;
    uint32_t cell = 0u;
    while (x < cols) {
        uint32_t end = x + CELL_PX < cols ? x + CELL_PX : cols;
        uint32_t nd_px = 0u;
        uint32_t sat_px = 0u;
        for (; x < end; x++, p += 2u * NBANDS, out += NBANDS) {
            uint32_t nd = 0u;
            uint32_t sat = 0u;
            uint32_t b;
#pragma GCC unroll 8
            for (b = 0u; b < NBANDS; b++) {
                uint16_t w;
                memcpy(&w, p + 2u * b, sizeof w);
                nd |= (uint32_t)w ^ nodata;
                sat |= (uint32_t)w ^ max_sample;
                out[b] = (int8_t)((int32_t)isqrt16(w) + TRI_CFG_INPUT_ZERO_POINT);
            }
            nd_px += (uint32_t)(nd == 0u);
            sat_px += (uint32_t)(sat == 0u);
        }
        nodata_px[cell] = (uint16_t)(nodata_px[cell] + nd_px);
        saturated_px[cell] = (uint16_t)(saturated_px[cell] + sat_px);
        cell++;
    }
}

/* Row y of frame memory into out[cols][bands], counting no-data and saturated
 * pixels per cell column. Everything read in the loops is a local: stores
 * through the int8 output may alias any object, which would otherwise force
 * reloads. */
void tri_preprocess_row(const tri_frame_t *f, uint32_t y, const uint16_t *gain_q8, int8_t *out,
                        uint16_t *nodata_px, uint16_t *saturated_px)
{
    const uint32_t bps = f->bytes_per_sample;
    const uint32_t nodata = f->nodata;
    const uint32_t max_sample = f->max_sample;
    const uint32_t cols = f->cols;
    const uint8_t *p = f->pixels + (size_t)y * cols * NBANDS * bps;
    uint32_t g[NBANDS];
    uint32_t v[NBANDS];
    uint32_t x = 0u;
    uint32_t cell = 0u;
    uint32_t b;
    if (!sqrt_16_ready) {
        sqrt_table_build();
    }
    {
        uint32_t unit = 1u;
        for (b = 0u; b < NBANDS; b++) {
            g[b] = gain_q8[b];
            unit &= (uint32_t)(g[b] == 256u);
        }
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        if (unit && bps == 2u) {
            row_u16_unit_gain(p, cols, nodata, max_sample, out, nodata_px, saturated_px);
            return;
        }
#else
        (void)unit;
#endif
    }
    while (x < cols) {
        uint32_t end = x + CELL_PX < cols ? x + CELL_PX : cols;
        uint32_t nd_px = 0u;
        uint32_t sat_px = 0u;
        for (; x < end; x++) {
            uint32_t nd = 1u;
            uint32_t sat = 1u;
            if (bps == 2u) {
#pragma GCC unroll 8
                for (b = 0u; b < NBANDS; b++, p += 2) {
                    v[b] = (uint32_t)p[0] | ((uint32_t)p[1] << 8);
                }
            } else {
#pragma GCC unroll 8
                for (b = 0u; b < NBANDS; b++, p++) {
                    v[b] = p[0];
                }
            }
#pragma GCC unroll 8
            for (b = 0u; b < NBANDS; b++) {
                nd &= (uint32_t)(v[b] == nodata);
                sat &= (uint32_t)(v[b] == max_sample);
                out[b] = quantize(v[b], g[b]);
            }
            out += NBANDS;
            nd_px += nd;
            sat_px += sat;
        }
        nodata_px[cell] = (uint16_t)(nodata_px[cell] + nd_px);
        saturated_px[cell] = (uint16_t)(saturated_px[cell] + sat_px);
        cell++;
    }
}
