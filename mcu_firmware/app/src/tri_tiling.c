#include "tri_tiling.h"

#define TILE_PX ((uint32_t)TRI_CFG_TILE_PX)
#define STRIDE_PX ((uint32_t)TRI_CFG_STRIDE_PX)
#define THUMB_PX ((uint32_t)TRI_CFG_THUMB_PX)
#define NBANDS ((uint32_t)TRI_CFG_BANDS)
#define FACTOR (TILE_PX / THUMB_PX)
#define AREA (FACTOR * FACTOR)

#if TRI_CFG_TILE_PX % TRI_CFG_THUMB_PX != 0
#error "tile_px must be a multiple of thumb_px (models/tile_spec.json)"
#endif
#if TRI_CFG_STRIDE_PX < 1 || TRI_CFG_STRIDE_PX > TRI_CFG_TILE_PX
#error "stride_px must be 1..tile_px"
#endif
#if TRI_CFG_BANDS < 1 || TRI_CFG_BANDS > 8
#error "1..8 bands"
#endif

uint32_t tri_tile_count(uint32_t size)
{
    uint32_t n;
    if (size < TILE_PX) {
        return 0u;
    }
    n = (size - TILE_PX) / STRIDE_PX + 1u;
    if ((n - 1u) * STRIDE_PX != size - TILE_PX) {
        n++; /* one last tile flush with the far edge */
    }
    return n;
}

uint32_t tri_tile_origin(uint32_t index, uint32_t size)
{
    uint32_t o = index * STRIDE_PX;
    return o + TILE_PX > size ? size - TILE_PX : o;
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

/* Canonical scale and square root of one thumbnail value (steps b and c). */
static inline int8_t quantize(uint32_t t, uint32_t gain_q8)
{
    uint32_t c = (t * gain_q8) >> 8;
    if (c > 65535u) {
        c = 65535u;
    }
    return (int8_t)((int32_t)isqrt16(c) + TRI_CFG_INPUT_ZERO_POINT); /* scale 1/255 */
}

/* f = 1: the thumbnail is the tile; each tile row is contiguous in frame
 * memory and in the same [col][band] order as the input. Everything read in
 * the loops is a local: stores through the int8 output may alias any object,
 * which would otherwise force reloads. */
static void preprocess_direct(const tri_frame_t *f, uint32_t r0, uint32_t c0,
                              const uint16_t *gain_q8, int8_t *out, tri_tile_stats_t *stats)
{
    const uint32_t bps = f->bytes_per_sample;
    const uint32_t nodata = f->nodata;
    const uint32_t max_sample = f->max_sample;
    const size_t row_bytes = (size_t)f->cols * NBANDS * bps;
    const uint8_t *row = f->pixels + ((size_t)r0 * f->cols + c0) * NBANDS * bps;
    uint32_t g[NBANDS];
    uint32_t v[NBANDS];
    uint32_t nodata_px = 0u;
    uint32_t sat_px = 0u;
    uint32_t tr;
    uint32_t b;
    for (b = 0u; b < NBANDS; b++) {
        g[b] = gain_q8[b];
    }
    for (tr = 0u; tr < TILE_PX; tr++, row += row_bytes) {
        const uint8_t *p = row;
        uint32_t tc;
        for (tc = 0u; tc < TILE_PX; tc++) {
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
            nodata_px += nd;
            sat_px += sat;
        }
    }
    stats->nodata_px = nodata_px;
    stats->saturated_px = sat_px;
}

void tri_preprocess_tile(const tri_frame_t *f, uint32_t r0, uint32_t c0, const uint16_t *gain_q8,
                         int8_t *out, tri_tile_stats_t *stats)
{
    uint32_t tr;
    if (FACTOR == 1u) {
        preprocess_direct(f, r0, c0, gain_q8, out, stats);
        return;
    }
    uint32_t tc;
    uint32_t nodata_px = 0u;
    uint32_t sat_px = 0u;
    for (tr = 0u; tr < THUMB_PX; tr++) {
        for (tc = 0u; tc < THUMB_PX; tc++) {
            uint32_t sum[NBANDS];
            uint32_t b;
            uint32_t dy;
            for (b = 0u; b < NBANDS; b++) {
                sum[b] = 0u;
            }
            for (dy = 0u; dy < FACTOR; dy++) {
                uint32_t dx;
                for (dx = 0u; dx < FACTOR; dx++) {
                    uint32_t r = r0 + tr * FACTOR + dy;
                    uint32_t c = c0 + tc * FACTOR + dx;
                    uint32_t nd = 1u;
                    uint32_t sat = 1u;
                    for (b = 0u; b < NBANDS; b++) {
                        uint16_t s = tri_frame_sample(f, r, c, b);
                        sum[b] += s;
                        nd &= (uint32_t)(s == f->nodata);
                        sat &= (uint32_t)(s == f->max_sample);
                    }
                    nodata_px += nd;
                    sat_px += sat;
                }
            }
            for (b = 0u; b < NBANDS; b++) {
                out[(tr * THUMB_PX + tc) * NBANDS + b] =
                    quantize((sum[b] + AREA / 2u) / AREA, gain_q8[b]);
            }
        }
    }
    stats->nodata_px = nodata_px;
    stats->saturated_px = sat_px;
}
