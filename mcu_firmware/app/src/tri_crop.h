/*
 * tri_crop.h - the geometry of ship crops (private to the application).
 *
 * A cropped cell keeps its pixels widened by the policy's margin
 * (TRI_CONTEXT_MARGIN_PX, at most one cell). A ship region's box is cut
 * into pieces of at most TRI_CROP_MAX_PX square; each piece is shrunk to
 * the pixels its region keeps (tri_crop_fit) and scored by its best cell.
 * A crop product carries its kept rectangles (KEPT_RECT: the widened cells
 * of its region, clipped to the box; tri_crop_rects) and codes only the
 * kept pixels, in raster order (tri_crop_seek: tri_cell_cover finds the
 * cells whose widened pixels hold a pixel).
 */
#ifndef TRI_CROP_H
#define TRI_CROP_H

#include <stdint.h>

/* One crop: its box, its region on the cell grid, and a raster cursor over
 * the box. */
typedef struct {
    const uint16_t *label; /* region label of every cell (tri_regions_label) */
    uint32_t grid_cols;
    uint16_t region;
    uint32_t frame_rows;
    uint32_t frame_cols;
    uint32_t row0; /* the box: frame pixels [row0, row0 + rows) x [col0, col0 + cols) */
    uint32_t col0;
    uint32_t rows;
    uint32_t cols;
    uint32_t ti0; /* the cell rows [ti0, ti1] and columns [tj0, tj1] whose */
    uint32_t ti1; /* widened pixels can reach the box */
    uint32_t tj0;
    uint32_t tj1;
    uint32_t cur_r; /* cursor: box row and column */
    uint32_t cur_c;
    uint32_t cur_i0; /* the cell rows covering frame row row0 + cur_r */
    uint32_t cur_i1;
    uint32_t run_end; /* box columns [.., run_end) of the cursor's row share */
    int run_keep;     /* the cursor's keep decision (tri_crop_seek) */
} tri_crop_t;

/*
 * A crop of region `region` over the box [row0, row1) x [col0, col1) of a
 * frame_rows x frame_cols frame, shrunk to the bounding box of the pixels
 * the region keeps in it; *score gets the best ship output (+ the output
 * zero point, ship_conf of the work area) of the cells with kept pixels in
 * it. 0 when it keeps none (nothing written to *crop then).
 */
int tri_crop_fit(tri_crop_t *crop, const uint16_t *label, const uint8_t *ship_conf,
                 uint32_t grid_cols, uint16_t region, uint32_t frame_rows, uint32_t frame_cols,
                 uint32_t row0, uint32_t col0, uint32_t row1, uint32_t col1, uint8_t *score);

/* Puts the cursor on the box's first pixel (kept or not). */
void tri_crop_rewind(tri_crop_t *crop);

/* Moves the cursor to the next kept pixel, from the current one inclusive;
 * 0 past the end of the box. */
int tri_crop_seek(tri_crop_t *crop);

/* Kept pixels of the box (moves the cursor). */
uint32_t tri_crop_kept_px(tri_crop_t *crop);

/* The KEPT_RECT records of the crop (in cell raster order, relative to the
 * box) into out when it is not NULL; returns how many. */
uint32_t tri_crop_rects(const tri_crop_t *crop, uint8_t *out);

#endif /* TRI_CROP_H */
