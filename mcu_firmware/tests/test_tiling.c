/* Tile grid and integer square root (bit-exactness of the preprocessing
 * against the Python reference is tested from pytest, tests/onboard). */
#include "tri_regions.h"
#include "tri_tiling.h"
#include "tt.h"

TT_TEST(isqrt16_exhaustive)
{
    uint32_t c;
    for (c = 0; c <= 65535u; c++) {
        uint32_t r = tri_isqrt16(c);
        TT_CHECK(r * r <= c);
        TT_CHECK((r + 1u) * (r + 1u) > c);
    }
}

TT_TEST(tile_grid_follows_spec_rule)
{
    /* Hand-derived for tile 32 / stride 16 (models/tile_spec.json). */
#if TRI_CFG_TILE_PX == 32 && TRI_CFG_STRIDE_PX == 16
    TT_CHECK_EQ(tri_tile_count(31), 0);
    TT_CHECK_EQ(tri_tile_count(32), 1);
    TT_CHECK_EQ(tri_tile_origin(0, 32), 0);
    TT_CHECK_EQ(tri_tile_count(47), 2);
    TT_CHECK_EQ(tri_tile_origin(1, 47), 15);
    TT_CHECK_EQ(tri_tile_count(48), 2);
    TT_CHECK_EQ(tri_tile_origin(1, 48), 16);
    TT_CHECK_EQ(tri_tile_count(100), 6);
    TT_CHECK_EQ(tri_tile_origin(4, 100), 64);
    TT_CHECK_EQ(tri_tile_origin(5, 100), 68);
    TT_CHECK_EQ(tri_tile_count(1024), 63);
    TT_CHECK_EQ(tri_tile_origin(62, 1024), 992);
#endif
    {
        uint32_t n;
        for (n = TRI_CFG_TILE_PX; n < 300u; n++) {
            uint32_t k = tri_tile_count(n);
            uint32_t i;
            TT_CHECK(k >= 1u);
            TT_CHECK_EQ(tri_tile_origin(k - 1u, n), n - TRI_CFG_TILE_PX);
            for (i = 1; i < k; i++) {
                TT_CHECK(tri_tile_origin(i, n) > tri_tile_origin(i - 1u, n));
                TT_CHECK(tri_tile_origin(i, n) - tri_tile_origin(i - 1u, n) <= TRI_CFG_STRIDE_PX);
            }
        }
    }
}

TT_TEST(tile_cells_and_cover)
{
    uint32_t lo;
    uint32_t hi;
    uint32_t n;
#if TRI_CFG_TILE_PX == 32 && TRI_CFG_STRIDE_PX == 16
    /* Hand-derived, 100 px: origins 0 16 32 48 64 68 -> cells [0,24) [24,40) [40,56)
     * [56,72) [72,88) [76,100). */
    static const uint32_t want_lo[6] = {0, 24, 40, 56, 72, 76};
    static const uint32_t want_hi[6] = {24, 40, 56, 72, 88, 100};
    uint32_t i;
    for (i = 0; i < 6u; i++) {
        tri_tile_cell(i, 100u, &lo, &hi);
        TT_CHECK_EQ(lo, want_lo[i]);
        TT_CHECK_EQ(hi, want_hi[i]);
    }
    tri_tile_cover(23u, 100u, 0u, &lo, &hi); /* cell of tile 0 only */
    TT_CHECK_EQ(lo, 0);
    TT_CHECK_EQ(hi, 0);
    tri_tile_cover(23u, 100u, 1u, &lo, &hi); /* widened by 1: tile 1's cell starts at 23 */
    TT_CHECK_EQ(lo, 0);
    TT_CHECK_EQ(hi, 1);
    tri_tile_cover(80u, 100u, 0u, &lo, &hi); /* tiles 4 and the flush 5 overlap */
    TT_CHECK_EQ(lo, 4);
    TT_CHECK_EQ(hi, 5);
    tri_tile_cover(99u, 100u, 8u, &lo, &hi);
    TT_CHECK_EQ(lo, 5);
    TT_CHECK_EQ(hi, 5);
#endif
    /* Against brute force over every tile, for every size, margin and pixel. */
    for (n = TRI_CFG_TILE_PX; n < 200u; n++) {
        uint32_t k = tri_tile_count(n);
        uint32_t m;
        for (m = 0; m <= (TRI_CFG_TILE_PX - TRI_CFG_STRIDE_PX) / 2u; m++) {
            uint32_t pos;
            for (pos = 0; pos < n; pos++) {
                uint32_t first = k;
                uint32_t last = 0;
                uint32_t t;
                for (t = 0; t < k; t++) {
                    tri_tile_cell(t, n, &lo, &hi);
                    if (pos + m >= lo && pos < hi + m) {
                        first = first < t ? first : t;
                        last = t;
                    }
                }
                TT_CHECK(first < k); /* the cells cover the axis */
                tri_tile_cover(pos, n, m, &lo, &hi);
                TT_CHECK_EQ(lo, first);
                TT_CHECK_EQ(hi, last);
            }
        }
    }
}
