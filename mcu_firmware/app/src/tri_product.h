/*
 * tri_product.h - the product writer (private to the application): a job
 * describes one product of a frame (its header, where its samples come
 * from); tri_product_add writes it straight into the store, making room by
 * evicting lower priorities when needed, and seals it with its CRC-32.
 *
 * Samples per product type: the quicklook and land products are block means
 * over pixel_step squares (the mean of the valid samples, rounded); the class
 * map is the cell grid (top class, confidence); a ship crop is its kept
 * pixels in raster order (tri_crop.h). Every band is an independent CCSDS
 * 121.0-B stream (tri_aec.c) of the samples, or of the neighbour
 * predictor's mapped residuals (tri_predictor.h) when aec_flags asks for it;
 * under a frame's dn scale, the instrument numbers (write_product says
 * when).
 */
#ifndef TRI_PRODUCT_H
#define TRI_PRODUCT_H

#include <stdint.h>

#include "tri_crop.h"
#include "tri_onboard.h"
#include "tri_predictor.h"
#include "tri_records.h"
#include "tri_cells.h"
#include "tri_work.h"

typedef struct {
    tri_product_header_t h; /* everything but band_bytes (and kept_rects, CRC) */
    const tri_frame_t *frame;
    tri_work_t work;
    const tri_frame_summary_t *summary; /* FRAME_SUMMARY */
    tri_crop_t crop;                    /* SHIP_CROP: its geometry and cursor */
    uint32_t kept_px;                   /* SHIP_CROP: kept pixels per band */
    tri_neighbour_t nb;                 /* the band being coded */
    int means_ready;                    /* block means in work.means (every band) */
    uint32_t kept_i;                    /* SHIP_CROP: kept pixel of the band being coded */
} tri_job_t;

/* A job for product `product_id` of type `type` of the frame: the header's
 * frame fields from meta, full resolution, unit-delay CCSDS 121.0-B. */
void tri_job_init(tri_job_t *job, const tri_frame_meta_t *meta, const tri_frame_t *frame,
                  tri_work_t w, uint8_t type, uint16_t product_id);

/* Area-averaged view of a frame region by an integer factor (1: full
 * resolution); whole output pixels only. Block means take the neighbour
 * predictor (TRI_MEANS_AEC_FLAGS) when the product is narrow enough. */
void tri_job_region(tri_job_t *job, uint32_t r0, uint32_t c0, uint32_t rows, uint32_t cols,
                    uint32_t factor);

/* A ship crop's job: its box from the crop (tri_crop_fit), the crop's
 * predictor, its kept pixels counted. */
void tri_job_crop(tri_job_t *job, const tri_crop_t *crop, uint8_t score);

/* Writes the product into the store at priority `rank`, evicting lower
 * priorities when that makes room. A product that cannot be stored is
 * counted (products_dropped), not an error; the report counts what was
 * added and evicted. */
tri_status_t tri_product_add(tri_onboard_t *ob, tri_job_t *job, uint8_t rank,
                             tri_frame_report_t *rep);

#endif /* TRI_PRODUCT_H */
