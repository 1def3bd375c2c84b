/*
 * tri_report.h - what the application tells about itself: the per-frame
 * report (tri_frame_report_t, filled by tri_onboard_process_frame) and the
 * lifetime counters of an instance (tri_onboard_counters_t), their packing
 * as big-endian u32 words, and their field names for the Python view
 * (triage.onboard reads the names from the host library, never retypes
 * them).
 *
 * Per-class counts are arrays indexed by class id (TRI_CFG_CLASS_*), one
 * word per class of the model (TRI_CFG_NUM_CLASSES) in the packed report;
 * the Python view names word k of tiles_by_class "tiles_<class k>" and of
 * discarded_by_class "discarded_<class k>" from the model's class list.
 */
#ifndef TRI_REPORT_H
#define TRI_REPORT_H

#include <stdint.h>

#include "triage_config.h"

/* Per-frame report fields, in the order of the struct and of the packed
 * words: X(name) one u32, C(name) one u32 per class (by class id). status is
 * the tri_status_t as two's complement. */
#define TRI_REPORT_FIELDS(X, C)                                                                    \
    X(status)                                                                                      \
    X(frame_id)                                                                                    \
    X(grid_rows)                                                                                   \
    X(grid_cols)                                                                                   \
    X(tiles_total)                                                                                 \
    X(tiles_nodata)                                                                                \
    X(tiles_saturated)                                                                             \
    C(tiles_by_class)                                                                              \
    C(discarded_by_class)                                                                          \
    X(tiles_crop)                                                                                  \
    X(tiles_lowres)                                                                                \
    X(ship_regions)                                                                                \
    X(land_regions)                                                                                \
    X(regions_dropped)                                                                             \
    X(products_added)                                                                              \
    X(products_dropped)                                                                            \
    X(products_evicted)                                                                            \
    X(bytes_added)                                                                                 \
    X(store_products)                                                                              \
    X(store_bytes_used)                                                                            \
    X(store_bytes_free)                                                                            \
    X(ship_crops)                                                                                  \
    X(tiles_second_opinion)

#define TRI_FIELD_U32(name) uint32_t name;
#define TRI_FIELD_U32_BY_CLASS(name) uint32_t name[TRI_CFG_NUM_CLASSES];
typedef struct {
    TRI_REPORT_FIELDS(TRI_FIELD_U32, TRI_FIELD_U32_BY_CLASS)
} tri_frame_report_t;

/* Lifetime counters of an instance (every field one u32). */
#define TRI_COUNTER_FIELDS(X)                                                                      \
    X(frames_in)                                                                                   \
    X(frames_ok)                                                                                   \
    X(meta_crc_errors)                                                                             \
    X(meta_format_errors)                                                                          \
    X(geometry_errors)                                                                             \
    X(band_mismatches)                                                                             \
    X(size_errors)                                                                                 \
    X(duplicate_frames)                                                                            \
    X(nodata_frames)                                                                               \
    X(classifier_errors)                                                                           \
    X(tiles_total)                                                                                 \
    X(tiles_nodata)                                                                                \
    X(tiles_discarded)                                                                             \
    X(products_added)                                                                              \
    X(products_dropped)                                                                            \
    X(products_evicted)                                                                            \
    X(products_released)                                                                           \
    X(products_corrupted)                                                                          \
    X(directories)                                                                                 \
    X(downlinks)                                                                                   \
    X(packets_sent)                                                                                \
    X(bytes_sent)                                                                                  \
    X(requests_ok)                                                                                 \
    X(requests_rejected)                                                                           \
    X(request_entries_unknown)                                                                     \
    X(request_entries_invalid)                                                                     \
    X(output_full)                                                                                 \
    X(frames_sent)                                                                                 \
    X(idle_fill_bytes)

typedef struct {
    TRI_COUNTER_FIELDS(TRI_FIELD_U32)
} tri_onboard_counters_t;

/* The report as big-endian u32 words (field order of TRI_REPORT_FIELDS):
 * out holds tri_frame_report_words() * 4 bytes. Same for the counters. */
uint32_t tri_frame_report_words(void);
void tri_frame_report_pack(const tri_frame_report_t *r, uint8_t *out);
uint32_t tri_onboard_counter_words(void);
void tri_onboard_counters_pack(const tri_onboard_counters_t *c, uint8_t *out);

/* The field of report word `index` (NULL past the end); for a per-class
 * field, *class_id gets the class id of the word, else -1 (class_id may be
 * NULL). */
const char *tri_frame_report_field(uint32_t index, int32_t *class_id);

/* The name of counter word `index` (NULL past the end). */
const char *tri_onboard_counter_field(uint32_t index);

#endif /* TRI_REPORT_H */
