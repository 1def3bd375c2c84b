#include "tri_regions.h"

#include "tri_tiling.h"

#if 2 * TRI_CFG_STRIDE_PX < TRI_CFG_TILE_PX
#error "tri_tile_cover assumes stride_px >= tile_px / 2"
#endif

#define NONE TRI_REGION_NONE
#define TILE_PX ((uint32_t)TRI_CFG_TILE_PX)
#define STRIDE_PX ((uint32_t)TRI_CFG_STRIDE_PX)
#define CELL_INSET ((TILE_PX - STRIDE_PX) / 2u)

static uint32_t find_root(uint16_t *parent, uint32_t x)
{
    while (parent[x] != x) {
        parent[x] = parent[parent[x]]; /* path halving */
        x = parent[x];
    }
    return x;
}

/* Joins the sets of a and b; the root is the smaller index (the set's first
 * tile in raster order). */
static void join(uint16_t *parent, uint32_t a, uint32_t b)
{
    uint32_t ra = find_root(parent, a);
    uint32_t rb = find_root(parent, b);
    if (ra < rb) {
        parent[rb] = (uint16_t)ra;
    } else if (rb < ra) {
        parent[ra] = (uint16_t)rb;
    }
}

uint32_t tri_regions_label(const uint8_t *actions, const uint8_t *classes, const uint8_t *scores,
                           uint32_t grid_rows, uint32_t grid_cols, uint8_t action,
                           uint32_t frame_rows, uint32_t frame_cols, uint16_t *parent,
                           uint16_t *label, tri_region_t *regions, uint32_t max_regions,
                           uint32_t *dropped)
{
    uint32_t r;
    uint32_t c;
    uint32_t n = 0;
    uint32_t over = 0;
    for (r = 0; r < grid_rows; r++) {
        for (c = 0; c < grid_cols; c++) {
            uint32_t i = r * grid_cols + c;
            label[i] = NONE;
            if (actions[i] != action) {
                parent[i] = NONE;
                continue;
            }
            parent[i] = (uint16_t)i;
            /* neighbours already visited: left, up-left, up, up-right */
            if (c > 0u && parent[i - 1u] != NONE) {
                join(parent, i, i - 1u);
            }
            if (r > 0u) {
                uint32_t up = i - grid_cols;
                if (c > 0u && parent[up - 1u] != NONE) {
                    join(parent, i, up - 1u);
                }
                if (parent[up] != NONE) {
                    join(parent, i, up);
                }
                if (c + 1u < grid_cols && parent[up + 1u] != NONE) {
                    join(parent, i, up + 1u);
                }
            }
        }
    }
    for (r = 0; r < grid_rows; r++) {
        uint32_t tr0 = tri_tile_origin(r, frame_rows);
        for (c = 0; c < grid_cols; c++) {
            uint32_t i = r * grid_cols + c;
            uint32_t root;
            uint32_t tc0;
            tri_region_t *g;
            if (parent[i] == NONE) {
                continue;
            }
            root = find_root(parent, i);
            if (root == i) { /* first tile of its region */
                if (n >= max_regions) {
                    over++;
                    continue;
                }
                label[i] = (uint16_t)n;
                g = &regions[n++];
                g->row0 = (uint16_t)tr0;
                g->col0 = (uint16_t)tri_tile_origin(c, frame_cols);
                g->rows = (uint16_t)TRI_CFG_TILE_PX;
                g->cols = (uint16_t)TRI_CFG_TILE_PX;
                g->tiles = 0u;
                g->class_id = classes[i];
                g->score = scores[i];
            }
            if (label[root] == NONE) {
                continue; /* a dropped region */
            }
            g = &regions[label[root]];
            tc0 = tri_tile_origin(c, frame_cols);
            {
                uint32_t r0 = g->row0 < tr0 ? g->row0 : tr0;
                uint32_t c0 = g->col0 < tc0 ? g->col0 : tc0;
                uint32_t r1 = (uint32_t)g->row0 + g->rows;
                uint32_t c1 = (uint32_t)g->col0 + g->cols;
                if (tr0 + TRI_CFG_TILE_PX > r1) {
                    r1 = tr0 + TRI_CFG_TILE_PX;
                }
                if (tc0 + TRI_CFG_TILE_PX > c1) {
                    c1 = tc0 + TRI_CFG_TILE_PX;
                }
                g->row0 = (uint16_t)r0;
                g->col0 = (uint16_t)c0;
                g->rows = (uint16_t)(r1 - r0);
                g->cols = (uint16_t)(c1 - c0);
            }
            g->tiles++;
            if (scores[i] > g->score) {
                g->score = scores[i];
                g->class_id = classes[i];
            }
        }
    }
    /* every member tile gets its region's index (roots carry it already) */
    for (r = 0; r < grid_rows; r++) {
        for (c = 0; c < grid_cols; c++) {
            uint32_t i = r * grid_cols + c;
            if (parent[i] != NONE) {
                label[i] = label[find_root(parent, i)];
            }
        }
    }
    *dropped = over;
    return n;
}

void tri_tile_cell(uint32_t index, uint32_t size, uint32_t *lo, uint32_t *hi)
{
    uint32_t n = tri_tile_count(size);
    uint32_t o = tri_tile_origin(index, size);
    *lo = index == 0u ? 0u : o + CELL_INSET;
    *hi = index + 1u >= n ? size : o + CELL_INSET + STRIDE_PX;
}

void tri_tile_cover(uint32_t pos, uint32_t size, uint32_t margin, uint32_t *first,
                    uint32_t *last)
{
    /* A widened cell of tile i lies inside the tile's pixels (margin <=
     * CELL_INSET), so only tiles whose pixels hold pos qualify: the regular
     * tiles pos / STRIDE and the ones before it that reach pos, and the
     * flush last tile; [k - 2, k + 1] holds them all for STRIDE >= TILE / 2
     * and is scanned in order (cells grow with the index). */
    uint32_t n = tri_tile_count(size);
    uint32_t k = pos / STRIDE_PX;
    uint32_t hi_i = k + 1u < n ? k + 1u : n - 1u;
    uint32_t lo_i = hi_i >= 3u ? hi_i - 3u : 0u;
    uint32_t i;
    int found = 0;
    *first = 0u;
    *last = 0u;
    for (i = lo_i; i <= hi_i; i++) {
        uint32_t a;
        uint32_t b;
        tri_tile_cell(i, size, &a, &b);
        if (pos + margin >= a && pos < b + margin) {
            if (!found) {
                *first = i;
                found = 1;
            }
            *last = i;
        }
    }
}
