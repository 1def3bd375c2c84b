/*
 * tri_predictor.c - the neighbour predictor (tri_predictor.h): two rows of
 * z = x - y in the work area, the median edge detector, the seed chain.
 */
#include "tri_predictor.h"

#include "tri_aec.h"

/* Marks a pixel that is not kept in the rows of z (z lies in +-65535). */
#define Z_NOT_KEPT INT32_MIN

void tri_neighbour_start(tri_neighbour_t *nb, int32_t *zrows, uint32_t cols, uint32_t sample_bits)
{
    nb->zrows = zrows;
    nb->cols = cols;
    nb->xmax = (int32_t)((1u << sample_bits) - 1u);
    nb->seed_z = 0;
    nb->z_row = UINT32_MAX;
}

/* Median edge detector of west a, north b, north-west c (JPEG-LS). */
static int32_t med3(int32_t a, int32_t b, int32_t c)
{
    int32_t lo = a < b ? a : b;
    int32_t hi = a < b ? b : a;
    if (c >= hi) {
        return lo;
    }
    if (c <= lo) {
        return hi;
    }
    return a + b - c;
}

static void fill_not_kept(int32_t *row, uint32_t n)
{
    uint32_t i;
    for (i = 0; i < n; i++) {
        row[i] = Z_NOT_KEPT;
    }
}

uint16_t tri_neighbour_code(tri_neighbour_t *nb, uint32_t r, uint32_t c, int32_t x, int32_t y)
{
    /* The two rows of z for row r: on a new row the current one starts
     * empty, and the one above too unless it is the row coded just before. */
    int32_t *cur = nb->zrows + (r & 1u) * nb->cols;
    const int32_t *prev = nb->zrows + ((r + 1u) & 1u) * nb->cols;
    int w;
    int32_t zhat;
    int32_t p;
    if (r != nb->z_row) {
        if (nb->z_row == UINT32_MAX || r != nb->z_row + 1u) {
            fill_not_kept(nb->zrows + ((r + 1u) & 1u) * nb->cols, nb->cols);
        }
        fill_not_kept(cur, nb->cols);
        nb->z_row = r;
    }
    w = c > 0u && cur[c - 1u] != Z_NOT_KEPT;
    if (w && prev[c] != Z_NOT_KEPT && prev[c - 1u] != Z_NOT_KEPT) {
        zhat = med3(cur[c - 1u], prev[c], prev[c - 1u]);
    } else if (w) {
        zhat = cur[c - 1u];
    } else if (prev[c] != Z_NOT_KEPT) {
        zhat = prev[c];
    } else {
        zhat = nb->seed_z;
        nb->seed_z = x - y;
    }
    cur[c] = x - y;
    p = y + zhat;
    p = p < 0 ? 0 : (p > nb->xmax ? nb->xmax : p);
    return (uint16_t)tri_aec_map((uint32_t)x, (uint32_t)p, (uint32_t)nb->xmax);
}
