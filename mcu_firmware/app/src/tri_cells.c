/*
 * tri_cells.c - the cell grid and the per-pixel preprocessing of frame rows
 * (tri_cells.h).
 */
#include "tri_cells.h"

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

/* floor(sqrt(16 j)): for c in 256..4095, sqrt_mid[c >> 4] is floor(sqrt(c)) or one
 * less. */
static const uint8_t sqrt_mid[256] = {
    0u, 4u, 5u, 6u, 8u, 8u, 9u, 10u, 11u, 12u, 12u, 13u, 13u, 14u, 14u, 15u,
    16u, 16u, 16u, 17u, 17u, 18u, 18u, 19u, 19u, 20u, 20u, 20u, 21u, 21u, 21u, 22u,
    22u, 22u, 23u, 23u, 24u, 24u, 24u, 24u, 25u, 25u, 25u, 26u, 26u, 26u, 27u, 27u,
    27u, 28u, 28u, 28u, 28u, 29u, 29u, 29u, 29u, 30u, 30u, 30u, 30u, 31u, 31u, 31u,
    32u, 32u, 32u, 32u, 32u, 33u, 33u, 33u, 33u, 34u, 34u, 34u, 34u, 35u, 35u, 35u,
    35u, 36u, 36u, 36u, 36u, 36u, 37u, 37u, 37u, 37u, 37u, 38u, 38u, 38u, 38u, 38u,
    39u, 39u, 39u, 39u, 40u, 40u, 40u, 40u, 40u, 40u, 41u, 41u, 41u, 41u, 41u, 42u,
    42u, 42u, 42u, 42u, 43u, 43u, 43u, 43u, 43u, 44u, 44u, 44u, 44u, 44u, 44u, 45u,
    45u, 45u, 45u, 45u, 45u, 46u, 46u, 46u, 46u, 46u, 46u, 47u, 47u, 47u, 47u, 47u,
    48u, 48u, 48u, 48u, 48u, 48u, 48u, 49u, 49u, 49u, 49u, 49u, 49u, 50u, 50u, 50u,
    50u, 50u, 50u, 51u, 51u, 51u, 51u, 51u, 51u, 52u, 52u, 52u, 52u, 52u, 52u, 52u,
    53u, 53u, 53u, 53u, 53u, 53u, 53u, 54u, 54u, 54u, 54u, 54u, 54u, 54u, 55u, 55u,
    55u, 55u, 55u, 55u, 56u, 56u, 56u, 56u, 56u, 56u, 56u, 56u, 57u, 57u, 57u, 57u,
    57u, 57u, 57u, 58u, 58u, 58u, 58u, 58u, 58u, 58u, 59u, 59u, 59u, 59u, 59u, 59u,
    59u, 60u, 60u, 60u, 60u, 60u, 60u, 60u, 60u, 61u, 61u, 61u, 61u, 61u, 61u, 61u,
    61u, 62u, 62u, 62u, 62u, 62u, 62u, 62u, 62u, 63u, 63u, 63u, 63u, 63u, 63u, 63u,
};

/* floor(sqrt(256 i)): for c in 4096..65535, sqrt_hi[c >> 8] is floor(sqrt(c))
 * or up to two less. */
static const uint8_t sqrt_hi[256] = {
    0u,   16u,  22u,  27u,  32u,  35u,  39u,  42u,  45u,  48u,  50u,  53u,  55u,  57u,  59u,  61u,
    64u,  65u,  67u,  69u,  71u,  73u,  75u,  76u,  78u,  80u,  81u,  83u,  84u,  86u,  87u,  89u,
    90u,  91u,  93u,  94u,  96u,  97u,  98u,  99u,  101u, 102u, 103u, 104u, 106u, 107u, 108u, 109u,
    110u, 112u, 113u, 114u, 115u, 116u, 117u, 118u, 119u, 120u, 121u, 122u, 123u, 124u, 125u, 126u,
    128u, 128u, 129u, 130u, 131u, 132u, 133u, 134u, 135u, 136u, 137u, 138u, 139u, 140u, 141u, 142u,
    143u, 144u, 144u, 145u, 146u, 147u, 148u, 149u, 150u, 150u, 151u, 152u, 153u, 154u, 155u, 155u,
    156u, 157u, 158u, 159u, 160u, 160u, 161u, 162u, 163u, 163u, 164u, 165u, 166u, 167u, 167u, 168u,
    169u, 170u, 170u, 171u, 172u, 173u, 173u, 174u, 175u, 176u, 176u, 177u, 178u, 178u, 179u, 180u,
    181u, 181u, 182u, 183u, 183u, 184u, 185u, 185u, 186u, 187u, 187u, 188u, 189u, 189u, 190u, 191u,
    192u, 192u, 193u, 193u, 194u, 195u, 195u, 196u, 197u, 197u, 198u, 199u, 199u, 200u, 201u, 201u,
    202u, 203u, 203u, 204u, 204u, 205u, 206u, 206u, 207u, 208u, 208u, 209u, 209u, 210u, 211u, 211u,
    212u, 212u, 213u, 214u, 214u, 215u, 215u, 216u, 217u, 217u, 218u, 218u, 219u, 219u, 220u, 221u,
    221u, 222u, 222u, 223u, 224u, 224u, 225u, 225u, 226u, 226u, 227u, 227u, 228u, 229u, 229u, 230u,
    230u, 231u, 231u, 232u, 232u, 233u, 234u, 234u, 235u, 235u, 236u, 236u, 237u, 237u, 238u, 238u,
    239u, 240u, 240u, 241u, 241u, 242u, 242u, 243u, 243u, 244u, 244u, 245u, 245u, 246u, 246u, 247u,
    247u, 248u, 248u, 249u, 249u, 250u, 250u, 251u, 251u, 252u, 252u, 253u, 253u, 254u, 254u, 255u,
};

static inline uint32_t isqrt16(uint32_t c)
{
    uint32_t r;
    if (c < 256u) {
        return sqrt_lo[c];
    }
    if (c < 4096u) {
        r = sqrt_mid[c >> 4];
        return (r + 1u) * (r + 1u) <= c ? r + 1u : r;
    }
    r = sqrt_hi[(c >> 8) & 0xFFu];
    if ((r + 1u) * (r + 1u) <= c) {
        r++;
    }
    if ((r + 1u) * (r + 1u) <= c) {
        r++;
    }
    return r;
}

uint32_t tri_isqrt16(uint32_t c)
{
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
    for (b = 0u; b < NBANDS; b++) {
        g[b] = gain_q8[b];
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
