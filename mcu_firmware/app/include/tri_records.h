/*
 * tri_records.h - the wire format's fixed records as C structs, and their
 * packing to / unpacking from big-endian bytes.
 *
 * The byte layouts are defined once, in triage/wire_format.py; the offsets
 * come from the generated wire_format.h (WF_*). The structs here are the
 * application's in-memory view only: they are never cast onto a buffer.
 */
#ifndef TRI_RECORDS_H
#define TRI_RECORDS_H

#include <stddef.h>
#include <stdint.h>

#include "tri_status.h"
#include "wire_format.h"

/* Bytes of the frame's geotransform: six IEEE 754 doubles, big-endian,
 * carried verbatim from FRAME_META to every product header (the firmware
 * never does arithmetic on them). */
#define TRI_GEOTRANSFORM_BYTES 48u

/* FRAME_META: what comes with each frame. */
typedef struct {
    uint8_t sample_bits; /* 8 or 16 */
    uint8_t bands;
    uint16_t rows;
    uint16_t cols;
    uint16_t nodata;
    uint32_t frame_id;
    uint32_t time_s;
    uint16_t time_sub;
    uint32_t crs_epsg;
    uint8_t geotransform[TRI_GEOTRANSFORM_BYTES];
    /* Quantisation lattice (0/0: none): every sample is
     * floor((d * dn_num + dn_den / 2) / dn_den) of an instrument number d. */
    uint16_t dn_num;
    uint16_t dn_den;
} tri_frame_meta_t;

/*
 * Checks and decodes a FRAME_META record of `len` bytes.
 * TRI_ERR_ARG    buf or meta NULL
 * TRI_ERR_SIZE   len != WF_FRAME_META_SIZE
 * TRI_ERR_CRC    the CRC over bytes 0..85 does not match
 * TRI_ERR_FORMAT bad magic, version, sample_bits (not 8 or 16), a
 *                reserved field not zero, or a dn scale other than 0/0
 *                or 1 <= dn_den <= dn_num
 * Geometry (zero sizes, band count) is the caller's to judge.
 */
tri_status_t tri_frame_meta_unpack(const uint8_t *buf, size_t len, tri_frame_meta_t *meta);

/* Writes a FRAME_META record (CRC included) into out[WF_FRAME_META_SIZE]. */
void tri_frame_meta_pack(const tri_frame_meta_t *meta, uint8_t *out);

/* SECONDARY_HEADER of every telemetry packet. */
typedef struct {
    uint32_t frame_id;
    uint16_t product_id;
    uint16_t segment_index;
    uint16_t segment_count;
    uint16_t region_row0;
    uint16_t region_col0;
    uint16_t region_rows;
    uint16_t region_cols;
    uint8_t class_id;
    uint8_t confidence;
    uint32_t time_s;
    uint16_t time_sub;
} tri_sec_header_t;

void tri_sec_header_pack(const tri_sec_header_t *sh, uint8_t *out);

/* PRODUCT_HEADER: the first bytes of every product. */
typedef struct {
    uint8_t product_type;
    uint8_t sample_bits;
    uint8_t bands;
    uint16_t rows;
    uint16_t cols;
    uint16_t region_row0;
    uint16_t region_col0;
    uint16_t region_rows;
    uint16_t region_cols;
    uint16_t pixel_step;
    uint16_t pixel_extent;
    uint8_t class_id;
    uint8_t confidence;
    uint8_t compression;
    uint8_t aec_flags;
    uint8_t aec_block_size;
    uint16_t aec_rsi;
    uint16_t nodata;
    uint16_t product_id;
    uint32_t frame_id;
    uint32_t time_s;
    uint16_t time_sub;
    uint16_t kept_rects; /* KEPT_RECT records after the header (0: every pixel coded) */
    uint16_t frame_rows;
    uint16_t frame_cols;
    uint32_t crs_epsg;
    uint8_t geotransform[TRI_GEOTRANSFORM_BYTES];
    uint16_t dn_num; /* 0/0, or the band streams code instrument numbers (FRAME_META) */
    uint16_t dn_den;
    uint32_t band_bytes[WF_MAX_BANDS];
    uint32_t crc32; /* product_crc32: set by tri_product_seal once the body is written */
} tri_product_header_t;

void tri_product_header_pack(const tri_product_header_t *h, uint8_t *out);
void tri_product_header_unpack(const uint8_t *buf, tri_product_header_t *h);

/* product_crc32 of a product whose header (packed) and body (the bytes after
 * the header) lie apart; and setting it in a whole product of len bytes. */
uint32_t tri_product_crc(const uint8_t *header, const uint8_t *body, size_t body_len);
void tri_product_seal(uint8_t *product, size_t len);

/* FRAME_SUMMARY payload. */
typedef struct {
    uint32_t tiles_total;
    uint32_t tiles_nodata;
    uint32_t tiles_by_class[4];
    uint32_t tiles_discarded_by_class[4];
    uint16_t ship_regions;
    uint16_t products;
} tri_frame_summary_t;

void tri_frame_summary_pack(const tri_frame_summary_t *s, uint8_t *out);

/* STORE_ENTRY of a STORE_DIRECTORY product. */
typedef struct {
    uint32_t frame_id;
    uint16_t product_id;
    uint8_t product_type;
    uint8_t class_id;
    uint8_t confidence;
    uint8_t flags;
    uint16_t segment_count;
    uint32_t product_bytes;
} tri_store_entry_rec_t;

void tri_store_entry_pack(const tri_store_entry_rec_t *e, uint8_t *out);

/* REQUEST_ENTRY of a DOWNLINK_REQUEST telecommand. */
typedef struct {
    uint32_t frame_id;
    uint16_t product_id;
    uint8_t action;
    uint16_t segment_first;
    uint16_t segment_last;
} tri_request_entry_t;

void tri_request_entry_unpack(const uint8_t *buf, tri_request_entry_t *e);

#endif /* TRI_RECORDS_H */
