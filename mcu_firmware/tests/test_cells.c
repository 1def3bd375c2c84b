/* Cell grid and integer square root (bit-exactness of the preprocessing
 * against the Python reference is tested from pytest, tests/onboard). */
#include "tri_cells.h"
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

TT_TEST(cell_grid_follows_spec_rule)
{
    uint32_t a;
    uint32_t z;
    uint32_t n;
#if TRI_CFG_CELL_PX == 16
    /* Hand-derived for 16-px cells (models/tile_spec.json). */
    TT_CHECK_EQ(tri_cell_count(1), 1);
    TT_CHECK_EQ(tri_cell_count(16), 1);
    TT_CHECK_EQ(tri_cell_count(17), 2);
    TT_CHECK_EQ(tri_cell_count(100), 7);
    TT_CHECK_EQ(tri_cell_count(1024), 64);
    tri_cell_bounds(6, 100, &a, &z);
    TT_CHECK_EQ(a, 96);
    TT_CHECK_EQ(z, 100); /* clipped by the frame's edge */
    tri_cell_bounds(2, 100, &a, &z);
    TT_CHECK_EQ(a, 32);
    TT_CHECK_EQ(z, 48);
#endif
    for (n = 1; n < 300u; n++) { /* the cells tile the axis, in order, without gaps */
        uint32_t k = tri_cell_count(n);
        uint32_t i;
        uint32_t end = 0;
        for (i = 0; i < k; i++) {
            tri_cell_bounds(i, n, &a, &z);
            TT_CHECK_EQ(a, end);
            TT_CHECK(z > a && z - a <= TRI_CFG_CELL_PX);
            end = z;
        }
        TT_CHECK_EQ(end, n);
    }
}

TT_TEST(cell_cover_against_brute_force)
{
    uint32_t n;
#if TRI_CFG_CELL_PX == 16
    uint32_t lo;
    uint32_t hi;
    tri_cell_cover(15u, 100u, 0u, &lo, &hi); /* its own cell only */
    TT_CHECK_EQ(lo, 0);
    TT_CHECK_EQ(hi, 0);
    tri_cell_cover(15u, 100u, 1u, &lo, &hi); /* widened by 1: cell 1 starts at 15 */
    TT_CHECK_EQ(lo, 0);
    TT_CHECK_EQ(hi, 1);
    tri_cell_cover(99u, 100u, 8u, &lo, &hi); /* the last, clipped cell */
    TT_CHECK_EQ(lo, 5);
    TT_CHECK_EQ(hi, 6);
#endif
    /* Against brute force over every cell, for every size, margin and pixel. */
    for (n = 1; n < 200u; n++) {
        uint32_t k = tri_cell_count(n);
        uint32_t m;
        for (m = 0; m <= TRI_CFG_CELL_PX; m++) {
            uint32_t pos;
            for (pos = 0; pos < n; pos++) {
                uint32_t first = k;
                uint32_t last = 0;
                uint32_t t;
                uint32_t got_lo;
                uint32_t got_hi;
                for (t = 0; t < k; t++) {
                    uint32_t a;
                    uint32_t z;
                    tri_cell_bounds(t, n, &a, &z);
                    if (pos + m >= a && pos < z + m) {
                        first = first < t ? first : t;
                        last = t;
                    }
                }
                TT_CHECK(first < k); /* the cells cover the axis */
                tri_cell_cover(pos, n, m, &got_lo, &got_hi);
                TT_CHECK_EQ(got_lo, first);
                TT_CHECK_EQ(got_hi, last);
            }
        }
    }
}
