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

/* floor(sqrt(i * 256)) for i = 0..255: the square root of c's top byte,
 * a lower bound within 7 of floor(sqrt(c)) that the loop below corrects. */
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

uint32_t tri_isqrt16(uint32_t c)
{
    uint32_t r;
    if (c < 256u) {
        /* bit by bit: four result bits */
        uint32_t bit;
        r = 0u;
        for (bit = 8u; bit > 0u; bit >>= 1) {
            uint32_t t = r | bit;
            if (t * t <= c) {
                r = t;
            }
        }
        return r;
    }
    r = sqrt_hi[c >> 8];
    while (r < 255u && (r + 1u) * (r + 1u) <= c) {
        r++;
    }
    return r;
}

void tri_preprocess_tile(const tri_frame_t *f, uint32_t r0, uint32_t c0, const uint16_t *gain_q8,
                         int8_t *out, tri_tile_stats_t *stats)
{
    uint32_t tr;
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
                uint32_t t = (sum[b] + AREA / 2u) / AREA;
                uint32_t cs = (t * gain_q8[b]) >> 8;
                if (cs > 65535u) {
                    cs = 65535u;
                }
                out[(tr * THUMB_PX + tc) * NBANDS + b] = (int8_t)((int32_t)tri_isqrt16(cs) - 128);
            }
        }
    }
    stats->nodata_px = nodata_px;
    stats->saturated_px = sat_px;
}
