/*
 * tri_regions.h - merging tiles of the tile grid into regions.
 *
 * Tiles of one decision that touch on the grid (8-connectivity: sharing an
 * edge or a corner; with stride < tile size their pixels overlap) form one
 * region. Labelling is union-find over caller memory (no recursion, no
 * allocation); regions come out in raster order of their first tile, with
 * the bounding box of their tiles' pixels and the score of their best tile.
 */
#ifndef TRI_REGIONS_H
#define TRI_REGIONS_H

#include <stdint.h>

typedef struct {
    uint16_t row0; /* frame pixels [row0, row0 + rows) x [col0, col0 + cols) */
    uint16_t col0;
    uint16_t rows;
    uint16_t cols;
    uint16_t tiles;
    uint8_t class_id;  /* class of the best-scoring tile */
    uint8_t score;     /* the best tile score in the region */
} tri_region_t;

/* label[] value of a tile in no (kept) region. */
#define TRI_REGION_NONE 0xFFFFu

/*
 * Regions of the tiles whose actions[i] == action, on a grid_rows x
 * grid_cols grid (raster order) of a frame_rows x frame_cols frame.
 * scores[i] ranks tiles (the region keeps the best one's score and
 * classes[i]). parent: scratch of grid_rows * grid_cols entries. label:
 * grid_rows * grid_cols entries; on return label[i] is the index of tile i's
 * region, TRI_REGION_NONE for tiles of no region or of a dropped one.
 * Writes up to max_regions regions and returns how many; *dropped counts
 * the regions beyond that.
 */
uint32_t tri_regions_label(const uint8_t *actions, const uint8_t *classes, const uint8_t *scores,
                           uint32_t grid_rows, uint32_t grid_cols, uint8_t action,
                           uint32_t frame_rows, uint32_t frame_cols, uint16_t *parent,
                           uint16_t *label, tri_region_t *regions, uint32_t max_regions,
                           uint32_t *dropped);

/*
 * The central cell of a tile along one axis of `size` pixels: the
 * STRIDE_PX pixels in the middle of the tile, [origin + (TILE_PX -
 * STRIDE_PX) / 2, origin + (TILE_PX + STRIDE_PX) / 2), stretched to the
 * frame's edge for the first tile (from 0) and the last one (to size). The
 * cells of a grid's tiles cover the axis without gaps; a point of a cell is
 * at least (TILE_PX - STRIDE_PX) / 2 pixels inside its tile unless the
 * frame's edge is nearer. Writes [*lo, *hi).
 */
void tri_tile_cell(uint32_t index, uint32_t size, uint32_t *lo, uint32_t *hi);

/*
 * The tiles along an axis of `size` pixels whose cell, widened by `margin`
 * pixels on both sides (margin <= (TILE_PX - STRIDE_PX) / 2), holds pixel
 * `pos` (< size): indices [*first, *last], never empty (the cells cover the
 * axis).
 */
void tri_tile_cover(uint32_t pos, uint32_t size, uint32_t margin, uint32_t *first,
                    uint32_t *last);

#endif /* TRI_REGIONS_H */
