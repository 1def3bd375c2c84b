/*
 * tri_regions.c - 8-connected regions of one decision on the cell grid
 * (tri_regions.h).
 */
#include "tri_regions.h"

#include "tri_cells.h"

#define NONE TRI_REGION_NONE

static uint32_t find_root(uint16_t *parent, uint32_t x)
{
    while (parent[x] != x) {
        parent[x] = parent[parent[x]]; /* path halving */
        x = parent[x];
    }
    return x;
}

/* Joins the sets of a and b; the root is the smaller index (the set's first
 * cell in raster order). */
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
        uint32_t cr0;
        uint32_t cr1;
        tri_cell_bounds(r, frame_rows, &cr0, &cr1);
        for (c = 0; c < grid_cols; c++) {
            uint32_t i = r * grid_cols + c;
            uint32_t root;
            uint32_t cc0;
            uint32_t cc1;
            tri_region_t *g;
            if (parent[i] == NONE) {
                continue;
            }
            tri_cell_bounds(c, frame_cols, &cc0, &cc1);
            root = find_root(parent, i);
            if (root == i) { /* first cell of its region */
                if (n >= max_regions) {
                    over++;
                    continue;
                }
                label[i] = (uint16_t)n;
                g = &regions[n++];
                g->row0 = (uint16_t)cr0;
                g->col0 = (uint16_t)cc0;
                g->rows = (uint16_t)(cr1 - cr0);
                g->cols = (uint16_t)(cc1 - cc0);
                g->cells = 0u;
                g->class_id = classes[i];
                g->score = scores[i];
            }
            if (label[root] == NONE) {
                continue; /* a dropped region */
            }
            g = &regions[label[root]];
            {
                uint32_t r0 = g->row0 < cr0 ? g->row0 : cr0;
                uint32_t c0 = g->col0 < cc0 ? g->col0 : cc0;
                uint32_t r1 = (uint32_t)g->row0 + g->rows;
                uint32_t c1 = (uint32_t)g->col0 + g->cols;
                r1 = cr1 > r1 ? cr1 : r1;
                c1 = cc1 > c1 ? cc1 : c1;
                g->row0 = (uint16_t)r0;
                g->col0 = (uint16_t)c0;
                g->rows = (uint16_t)(r1 - r0);
                g->cols = (uint16_t)(c1 - c0);
            }
            g->cells++;
            if (scores[i] > g->score) {
                g->score = scores[i];
                g->class_id = classes[i];
            }
        }
    }
    /* every member cell gets its region's index (roots carry it already) */
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
