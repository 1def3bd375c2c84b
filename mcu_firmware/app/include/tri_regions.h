/*
 * tri_regions.h - merging cells of the cell grid into regions.
 *
 * Cells of one decision that touch on the grid (8-connectivity: sharing an
 * edge or a corner) form one region. Labelling is union-find over caller
 * memory (no recursion, no allocation); regions come out in raster order of
 * their first cell, with the bounding box of their cells' pixels and the
 * score of their best cell.
 */
#ifndef TRI_REGIONS_H
#define TRI_REGIONS_H

#include <stdint.h>

typedef struct {
    uint16_t row0; /* frame pixels [row0, row0 + rows) x [col0, col0 + cols) */
    uint16_t col0;
    uint16_t rows;
    uint16_t cols;
    uint16_t cells;
    uint8_t class_id; /* class of the best-scoring cell */
    uint8_t score;    /* the best cell score in the region */
} tri_region_t;

/* label[] value of a cell in no (kept) region. */
#define TRI_REGION_NONE 0xFFFFu

/*
 * Regions of the cells whose actions[i] == action, on the grid_rows x
 * grid_cols cell grid (raster order) of a frame_rows x frame_cols frame.
 * scores[i] ranks cells (the region keeps the best one's score and
 * classes[i]). parent: scratch of grid_rows * grid_cols entries. label:
 * grid_rows * grid_cols entries; on return label[i] is the index of cell i's
 * region, TRI_REGION_NONE for cells of no region or of a dropped one.
 * Writes up to max_regions regions and returns how many; *dropped counts
 * the regions beyond that.
 */
uint32_t tri_regions_label(const uint8_t *actions, const uint8_t *classes, const uint8_t *scores,
                           uint32_t grid_rows, uint32_t grid_cols, uint8_t action,
                           uint32_t frame_rows, uint32_t frame_cols, uint16_t *parent,
                           uint16_t *label, tri_region_t *regions, uint32_t max_regions,
                           uint32_t *dropped);

#endif /* TRI_REGIONS_H */
