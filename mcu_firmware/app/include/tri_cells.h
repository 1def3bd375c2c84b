/*
 * tri_cells.h - frame memory, the cell grid, and the per-pixel preprocessing
 * of frame rows into the classifier's int8 input, bit-exact with
 * triage.contract.tile_spec.preprocess_pixels:
 *
 *   c = min((dn * gain_q8[band]) >> 8, 65535)   canonical scale, uint32
 *   q = isqrt(c) - 128                          exact floor square root
 *
 * The classifier decides per cell: TRI_CFG_CELL_PX square cells from the
 * frame's origin, the last row and column clipped by the frame's edge
 * (models/tile_spec.json "cells"); it extends the frame itself to whole
 * cells with the input zero point. Frame memory is band-interleaved by pixel
 * ([row][col][band]), samples of 8 or 16 bits, 16-bit ones little-endian
 * (FRAME_META).
 */
#ifndef TRI_CELLS_H
#define TRI_CELLS_H

#include <stddef.h>
#include <stdint.h>

#include "triage_config.h"

typedef struct {
    const uint8_t *pixels;
    uint32_t rows;
    uint32_t cols;
    uint32_t bands;
    uint32_t bytes_per_sample; /* 1 or 2 */
    uint16_t nodata;
    uint16_t max_sample; /* 255 or 65535 */
} tri_frame_t;

/* Sample (r, c, b) of frame memory; the caller keeps indices in range. */
static inline uint16_t tri_frame_sample(const tri_frame_t *f, uint32_t r, uint32_t c, uint32_t b)
{
    size_t i = ((size_t)r * f->cols + c) * f->bands + b;
    if (f->bytes_per_sample == 1u) {
        return f->pixels[i];
    }
    return (uint16_t)((uint16_t)f->pixels[2u * i] | ((uint16_t)f->pixels[2u * i + 1u] << 8));
}

/* Cells along an axis of `size` pixels: ceil(size / TRI_CFG_CELL_PX). */
uint32_t tri_cell_count(uint32_t size);

/* Pixels [*start, *end) of cell `index` along an axis of `size` pixels (the
 * last cell clipped by the frame's edge; empty past it). */
void tri_cell_bounds(uint32_t index, uint32_t size, uint32_t *start, uint32_t *end);

/*
 * The cells along an axis of `size` pixels whose pixels, widened by `margin`
 * pixels on both sides, hold pixel `pos` (< size): indices [*first, *last],
 * never empty (the cells cover the axis).
 */
void tri_cell_cover(uint32_t pos, uint32_t size, uint32_t margin, uint32_t *first,
                    uint32_t *last);

/* Exact floor square root of 0..65535. */
uint32_t tri_isqrt16(uint32_t c);

/*
 * Preprocesses row y of a frame with TRI_CFG_BANDS bands into
 * out[cols][TRI_CFG_BANDS] (int8) with per-band Q8 gains, and adds to
 * nodata_px[j] / saturated_px[j] the row's pixels of cell column j whose
 * every band is the frame's no-data value / its largest sample value
 * (tri_cell_count(cols) counters each). The caller has checked the frame.
 */
void tri_preprocess_row(const tri_frame_t *f, uint32_t y, const uint16_t *gain_q8, int8_t *out,
                        uint16_t *nodata_px, uint16_t *saturated_px);

#endif /* TRI_CELLS_H */
