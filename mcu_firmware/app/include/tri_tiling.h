/*
 * tri_tiling.h - frame memory, the tile grid, and the preprocessing of one
 * tile into the classifier's int8 input, bit-exact with the training
 * pipeline (triage.contract.tile_spec.preprocess_tile):
 *
 *   f = TILE_PX / THUMB_PX
 *   t = (sum of the f x f samples + (f*f)/2) / (f*f)    thumbnail, per band
 *   c = min((t * gain_q8[band]) >> 8, 65535)             canonical scale, uint32
 *   q = isqrt(c) - 128                                   exact floor square root
 *
 * Frame memory is band-interleaved by pixel ([row][col][band]), samples of
 * 8 or 16 bits, 16-bit ones little-endian (FRAME_META). Tile origins along an
 * axis of n pixels are 0, STRIDE, 2 STRIDE, ... while origin + TILE <= n,
 * plus one last origin n - TILE flush with the far edge when the stride grid
 * does not reach it (models/tile_spec.json "tiling").
 */
#ifndef TRI_TILING_H
#define TRI_TILING_H

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

/* Number of tiles along an axis of `size` pixels (0 below TILE_PX). */
uint32_t tri_tile_count(uint32_t size);

/* Origin of tile `index` (< tri_tile_count(size)) along that axis. */
uint32_t tri_tile_origin(uint32_t index, uint32_t size);

/* Exact floor square root of 0..65535. */
uint32_t tri_isqrt16(uint32_t c);

/* Pixel counts gathered while preprocessing a tile. */
typedef struct {
    uint32_t nodata_px;    /* every band == nodata */
    uint32_t saturated_px; /* every band == max_sample */
} tri_tile_stats_t;

/*
 * Preprocesses the TILE_PX x TILE_PX tile at (r0, c0) of a frame with
 * TRI_CFG_BANDS bands into out[THUMB_PX][THUMB_PX][TRI_CFG_BANDS] (int8),
 * with per-band Q8 gains, and counts its no-data and saturated pixels.
 * The caller has checked the frame (bands) and that the tile lies inside it.
 */
void tri_preprocess_tile(const tri_frame_t *f, uint32_t r0, uint32_t c0, const uint16_t *gain_q8,
                         int8_t *out, tri_tile_stats_t *stats);

#endif /* TRI_TILING_H */
