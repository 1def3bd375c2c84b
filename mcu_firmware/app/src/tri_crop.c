/*
 * tri_crop.c - the geometry of ship crops (tri_crop.h): widened cells,
 * pieces of a region's box, kept pixels and kept rectangles.
 */
#include "tri_crop.h"

#include <stddef.h>

#include "tri_app_config.h"
#include "tri_be.h"
#include "tri_cells.h"
#include "triage_config.h"
#include "wire_format.h"

#define CROP_MARGIN ((uint32_t)TRI_CONTEXT_MARGIN_PX)
#define CELL_PX ((uint32_t)TRI_CFG_CELL_PX)

#if TRI_CONTEXT_MARGIN_PX > TRI_CFG_CELL_PX
#error "the crop margin is at most one cell (models/shipped/policy.json crop_margin_px)"
#endif

/* Cell `index` along one axis of `extent` pixels widened by the crop margin
 * and kept inside the frame, clipped to [lo, hi) into [*a, *z); 0 when
 * nothing is left. */
static int widened_cell(uint32_t index, uint32_t extent, uint32_t lo, uint32_t hi, uint32_t *a,
                        uint32_t *z)
{
    tri_cell_bounds(index, extent, a, z);
    *a = *a > CROP_MARGIN ? *a - CROP_MARGIN : 0u;
    *z = *z + CROP_MARGIN < extent ? *z + CROP_MARGIN : extent;
    *a = *a > lo ? *a : lo;
    *z = *z < hi ? *z : hi;
    return *a < *z;
}

int tri_crop_fit(tri_crop_t *crop, const uint16_t *label, const uint8_t *ship_conf,
                 uint32_t grid_cols, uint16_t region, uint32_t frame_rows, uint32_t frame_cols,
                 uint32_t row0, uint32_t col0, uint32_t row1, uint32_t col1, uint8_t *score)
{
    uint32_t i0;
    uint32_t i1;
    uint32_t j0;
    uint32_t j1;
    uint32_t unused;
    uint32_t i;
    uint32_t r0 = row1;
    uint32_t c0 = col1;
    uint32_t r1 = row0;
    uint32_t c1 = col0;
    uint8_t best = 0;
    int any = 0;
    tri_cell_cover(row0, frame_rows, CROP_MARGIN, &i0, &unused);
    tri_cell_cover(row1 - 1u, frame_rows, CROP_MARGIN, &unused, &i1);
    tri_cell_cover(col0, frame_cols, CROP_MARGIN, &j0, &unused);
    tri_cell_cover(col1 - 1u, frame_cols, CROP_MARGIN, &unused, &j1);
    for (i = i0; i <= i1; i++) {
        uint32_t a;
        uint32_t b;
        uint32_t j;
        int rows_kept = widened_cell(i, frame_rows, row0, row1, &a, &b);
        for (j = j0; j <= j1; j++) {
            uint32_t t = i * grid_cols + j;
            uint32_t x;
            uint32_t y;
            if (label[t] != region || !rows_kept ||
                !widened_cell(j, frame_cols, col0, col1, &x, &y)) {
                continue;
            }
            any = 1;
            r0 = a < r0 ? a : r0;
            r1 = b > r1 ? b : r1;
            c0 = x < c0 ? x : c0;
            c1 = y > c1 ? y : c1;
            if (ship_conf[t] > best) {
                best = ship_conf[t];
            }
        }
    }
    if (!any) {
        return 0;
    }
    crop->label = label;
    crop->grid_cols = grid_cols;
    crop->region = region;
    crop->frame_rows = frame_rows;
    crop->frame_cols = frame_cols;
    crop->row0 = r0;
    crop->col0 = c0;
    crop->rows = r1 - r0;
    crop->cols = c1 - c0;
    crop->ti0 = i0;
    crop->ti1 = i1;
    crop->tj0 = j0;
    crop->tj1 = j1;
    *score = best;
    tri_crop_rewind(crop);
    return 1;
}

/* Is frame pixel (r, c) kept in the crop: does one of the region's cells,
 * widened (tri_cell_cover), hold it? rows_first / rows_last: the cell rows
 * covering r. */
static int crop_keeps(const tri_crop_t *crop, uint32_t rows_first, uint32_t rows_last, uint32_t c)
{
    uint32_t j0;
    uint32_t j1;
    uint32_t i;
    tri_cell_cover(c, crop->frame_cols, CROP_MARGIN, &j0, &j1);
    for (i = rows_first; i <= rows_last; i++) {
        uint32_t j;
        for (j = j0; j <= j1; j++) {
            if (crop->label[i * crop->grid_cols + j] == crop->region) {
                return 1;
            }
        }
    }
    return 0;
}

void tri_crop_rewind(tri_crop_t *crop)
{
    crop->cur_r = 0;
    crop->cur_c = 0;
    crop->run_end = 0;
    crop->run_keep = 0;
    tri_cell_cover(crop->row0, crop->frame_rows, CROP_MARGIN, &crop->cur_i0, &crop->cur_i1);
}

/* The first frame column after x where the cells covering a column (widened
 * by the margin m) change: a cell's widened span starts at a multiple of the
 * cell size minus m and ends before a multiple plus m, so the set is the same
 * from x up to the next column y > x with y = -m or y = m modulo the cell
 * size. */
static uint32_t next_cover_change(uint32_t x)
{
    uint32_t m = CROP_MARGIN % CELL_PX;
    uint32_t a = ((x + m) / CELL_PX + 1u) * CELL_PX - m;
    uint32_t b = ((x + CELL_PX - m) / CELL_PX + 1u) * CELL_PX - (CELL_PX - m);
    return a < b ? a : b;
}

int tri_crop_seek(tri_crop_t *crop)
{
    while (crop->cur_r < crop->rows) {
        while (crop->cur_c < crop->cols) {
            if (crop->cur_c >= crop->run_end) { /* a new run of columns: decide it once */
                uint32_t x = crop->col0 + crop->cur_c;
                uint32_t end = next_cover_change(x) - crop->col0;
                crop->run_keep = crop_keeps(crop, crop->cur_i0, crop->cur_i1, x);
                crop->run_end = end < crop->cols ? end : crop->cols;
            }
            if (crop->run_keep) {
                return 1;
            }
            crop->cur_c = crop->run_end; /* the run keeps nothing */
        }
        crop->cur_c = 0;
        crop->run_end = 0;
        crop->cur_r++;
        if (crop->cur_r < crop->rows) {
            tri_cell_cover(crop->row0 + crop->cur_r, crop->frame_rows, CROP_MARGIN,
                           &crop->cur_i0, &crop->cur_i1);
        }
    }
    return 0;
}

uint32_t tri_crop_kept_px(tri_crop_t *crop)
{
    uint32_t n = 0;
    tri_crop_rewind(crop);
    while (tri_crop_seek(crop)) { /* a run of kept columns at a time */
        n += crop->run_end - crop->cur_c;
        crop->cur_c = crop->run_end;
    }
    return n;
}

uint32_t tri_crop_rects(const tri_crop_t *crop, uint8_t *out)
{
    uint32_t n = 0;
    uint32_t i;
    for (i = crop->ti0; i <= crop->ti1; i++) {
        uint32_t a;
        uint32_t z;
        uint32_t j;
        int rows_kept =
            widened_cell(i, crop->frame_rows, crop->row0, crop->row0 + crop->rows, &a, &z);
        for (j = crop->tj0; j <= crop->tj1; j++) {
            uint32_t x;
            uint32_t y;
            if (crop->label[i * crop->grid_cols + j] != crop->region || !rows_kept ||
                !widened_cell(j, crop->frame_cols, crop->col0, crop->col0 + crop->cols, &x, &y)) {
                continue;
            }
            if (out != NULL) {
                uint8_t *rec = out + (size_t)n * WF_KEPT_RECT_SIZE;
                tri_put_be16(rec + WF_KEPT_RECT_ROW0_OFFSET, (uint16_t)(a - crop->row0));
                tri_put_be16(rec + WF_KEPT_RECT_COL0_OFFSET, (uint16_t)(x - crop->col0));
                tri_put_be16(rec + WF_KEPT_RECT_ROWS_OFFSET, (uint16_t)(z - a));
                tri_put_be16(rec + WF_KEPT_RECT_COLS_OFFSET, (uint16_t)(y - x));
            }
            n++;
        }
    }
    return n;
}
