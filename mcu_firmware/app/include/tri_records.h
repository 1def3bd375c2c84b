/*
 * tri_records.h - the wire format's fixed records as C structs, and their
 * packing to / unpacking from big-endian bytes.
 *
 * The byte layouts are defined once, in the contract (triage/contract/); the
 * structs, offsets and field-by-field pack/unpack are generated from it
 * (wf_records.h, wire_format.h). This file adds what a layout cannot say:
 * the checks of incoming records and the constants set on the way out. The
 * structs are the application's in-memory view only: never cast onto a
 * buffer.
 */
#ifndef TRI_RECORDS_H
#define TRI_RECORDS_H

#include <stddef.h>
#include <stdint.h>

#include "tri_status.h"
#include "wf_records.h"
#include "wire_format.h"

/* Bytes of the frame's geotransform: six IEEE 754 doubles, big-endian,
 * carried verbatim from FRAME_META to every product header (the firmware
 * never does arithmetic on them). */
#define TRI_GEOTRANSFORM_BYTES (8u * WF_FRAME_META_GEOTRANSFORM_COUNT)

/* The records, as the generated structs (members named as the layout's
 * fields in triage/contract/records.py and packets.py). */
typedef wf_frame_meta_t tri_frame_meta_t;
typedef wf_secondary_header_t tri_sec_header_t;
typedef wf_product_header_t tri_product_header_t;
typedef wf_frame_summary_t tri_frame_summary_t;
typedef wf_store_entry_t tri_store_entry_rec_t;
typedef wf_request_entry_t tri_request_entry_t;

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

/* Writes a FRAME_META record into out[WF_FRAME_META_SIZE]: magic, version and
 * CRC are set here, whatever meta holds. */
void tri_frame_meta_pack(const tri_frame_meta_t *meta, uint8_t *out);

/* SECONDARY_HEADER of every telemetry packet (version set here). */
void tri_sec_header_pack(const tri_sec_header_t *sh, uint8_t *out);

/* PRODUCT_HEADER: the first bytes of every product (version set here;
 * product_crc32 as the struct holds it: tri_product_seal sets it in the
 * written product once the body is there). */
void tri_product_header_pack(const tri_product_header_t *h, uint8_t *out);
void tri_product_header_unpack(const uint8_t *buf, tri_product_header_t *h);

/* product_crc32 of a product whose header (packed) and body (the bytes after
 * the header) lie apart; and setting it in a whole product of len bytes. */
uint32_t tri_product_crc(const uint8_t *header, const uint8_t *body, size_t body_len);
void tri_product_seal(uint8_t *product, size_t len);

/* FRAME_SUMMARY payload, STORE_ENTRY of a STORE_DIRECTORY product, REQUEST_ENTRY
 * of a DOWNLINK_REQUEST telecommand: packed and unpacked as generated. */
#define tri_frame_summary_pack wf_frame_summary_pack
#define tri_store_entry_pack wf_store_entry_pack
#define tri_request_entry_unpack wf_request_entry_unpack

#endif /* TRI_RECORDS_H */
