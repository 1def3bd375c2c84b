/*
 * tri_packet.h - CCSDS 133.0-B space packets as the wire format defines
 * them (triage/WIRE_FORMAT.md): telemetry packets carrying one segment of a
 * product, and the DOWNLINK_REQUEST telecommand from the ground.
 *
 * A telemetry packet, WF_PACKET_OVERHEAD + seg_len bytes:
 *
 *   +----------------+------------------+-----------------+--------+
 *   | primary header | secondary header | product segment | CRC-16 |
 *   | 6 bytes        | 30 bytes         | 1..1024 bytes   | 2 bytes|
 *   +----------------+------------------+-----------------+--------+
 *
 * The segment is written in place first (at TRI_PACKET_SEGMENT_OFFSET), then
 * tri_packet_seal() adds the headers and the CRC around it, so that no
 * segment is ever copied twice.
 */
#ifndef TRI_PACKET_H
#define TRI_PACKET_H

#include <stddef.h>
#include <stdint.h>

#include "tri_records.h"
#include "tri_status.h"

#define TRI_PACKET_SEGMENT_OFFSET (WF_PRIMARY_HEADER_SIZE + WF_SECONDARY_HEADER_SIZE)

/* Segments of a product of `bytes` bytes: ceil(bytes / WF_MAX_SEGMENT_BYTES);
 * 0 when bytes is 0 or the product needs more than 65535 segments. */
uint32_t tri_segment_count(uint32_t bytes);

/* Sequence flags of segment `index` of `count` (WF_SEQ_*). */
uint8_t tri_seq_flags(uint32_t index, uint32_t count);

/*
 * Completes a telemetry packet in out[0 .. WF_PACKET_OVERHEAD + seg_len - 1]
 * whose segment already sits at out + TRI_PACKET_SEGMENT_OFFSET: primary
 * header (APID, flags, seq_count modulo 16384, data length), secondary
 * header, CRC. seg_len is 1..WF_MAX_SEGMENT_BYTES (the caller checks it).
 * Returns the packet's length.
 */
size_t tri_packet_seal(uint8_t *out, uint16_t apid, uint8_t seq_flags, uint16_t seq_count,
                       const tri_sec_header_t *sh, size_t seg_len);

/*
 * Checks a DOWNLINK_REQUEST telecommand of `len` bytes: version 0, type
 * telecommand, no secondary header, APID WF_APID_DOWNLINK_REQUEST,
 * unsegmented, data length consistent with len, a whole number of
 * REQUEST_ENTRY records, CRC. On success *records points at the first
 * record inside buf and *count is the number of records.
 * TRI_ERR_ARG (NULL), TRI_ERR_SIZE (length), TRI_ERR_FORMAT (header),
 * TRI_ERR_CRC.
 */
tri_status_t tri_request_check(const uint8_t *buf, size_t len, const uint8_t **records,
                               size_t *count);

#endif /* TRI_PACKET_H */
