/* Tile grid and integer square root (bit-exactness of the preprocessing
 * against the Python reference is tested from pytest, tests/onboard). */
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
