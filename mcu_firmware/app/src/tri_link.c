/*
 * tri_link.c - transfer frames and CADUs (tri_link.h).
 */
#include "tri_link.h"

#include <string.h>

#include "tri_be.h"
#include "tri_crc16.h"
#include "tri_rs.h"
#include "wf_link_tables.h"

#define FRAME_OFFSET WF_ASM_BYTES
#define FIELD_OFFSET (WF_ASM_BYTES + WF_TM_FRAME_HEADER_SIZE)

/* The frame must fill the codeblock's information part, the data field must
 * take the largest packet, and the fill split must never need three idle
 * packets (WIRE_FORMAT.md). */
typedef char tri_link_sizes_hold[(WF_RS_K * WF_RS_INTERLEAVE == WF_FRAME_BYTES &&
                                  WF_FRAME_BYTES == WF_TM_FRAME_HEADER_SIZE +
                                                        WF_DATA_FIELD_BYTES + WF_FECF_BYTES &&
                                  WF_MAX_PACKET_BYTES <= WF_DATA_FIELD_BYTES &&
                                  WF_DATA_FIELD_BYTES + WF_IDLE_MIN_BYTES <=
                                      2u * WF_MAX_PACKET_BYTES)
                                     ? 1
                                     : -1];

tri_status_t tri_link_init(tri_link_t *link, uint8_t *buf, uint32_t mode, uint32_t scid)
{
    if (link == NULL) {
        return TRI_ERR_ARG;
    }
    memset(link, 0, sizeof *link);
    link->fhp = (uint16_t)WF_FHP_NO_PACKET;
    if (buf == NULL || mode > WF_LINK_CADU || scid > WF_MAX_SPACECRAFT_ID) {
        return TRI_ERR_ARG;
    }
    link->buf = buf;
    link->mode = mode;
    link->scid = (uint16_t)scid;
    return TRI_OK;
}

uint32_t tri_link_unit_bytes(const tri_link_t *link)
{
    if (link->mode == WF_LINK_CADU) {
        return WF_CADU_BYTES;
    }
    return link->mode == WF_LINK_FRAMES ? WF_FRAME_BYTES : 0u;
}

uint32_t tri_link_packet_budget(const tri_link_t *link, uint32_t link_bytes)
{
    uint32_t unit = tri_link_unit_bytes(link);
    uint32_t frames;
    if (unit == 0u) {
        return link_bytes;
    }
    frames = link_bytes / unit;
    if (frames == 0u) {
        return 0u;
    }
    /* frames <= 2^32 / 1115, so frames * 1107 < 2^32 */
    return frames * WF_DATA_FIELD_BYTES - WF_IDLE_MIN_BYTES;
}

/* XOR with the pseudo-randomiser from the start of the codeblock. */
static void randomise(uint8_t *block, uint32_t n)
{
    uint32_t i;
    uint32_t k = 0;
    for (i = 0; i < n; i++) {
        block[i] = (uint8_t)(block[i] ^ wf_randomiser[k]);
        k = k + 1u == WF_RANDOMISER_PERIOD ? 0u : k + 1u;
    }
}

/* Completes the frame in progress (header, FECF, and in CADU mode the
 * codeblock, randomiser and ASM) and hands it to the sink. */
static tri_status_t emit(tri_link_t *link, const tri_sink_t *sink)
{
    uint8_t *frame = link->buf + FRAME_OFFSET;
    const uint8_t *out = frame;
    uint32_t n = WF_FRAME_BYTES;
    tri_status_t st;
    tri_put_be16(frame + WF_TM_FRAME_HEADER_VERSION_OFFSET,
                 (uint16_t)((WF_FRAME_VERSION << WF_TM_FRAME_HEADER_VERSION_SHIFT) |
                            ((uint32_t)link->scid << WF_TM_FRAME_HEADER_SPACECRAFT_ID_SHIFT) |
                            ((uint32_t)link->vcid << WF_TM_FRAME_HEADER_VCID_SHIFT)));
    frame[WF_TM_FRAME_HEADER_MC_COUNT_OFFSET] = link->mc_count;
    frame[WF_TM_FRAME_HEADER_VC_COUNT_OFFSET] = link->vc_count[link->vcid];
    tri_put_be16(frame + WF_TM_FRAME_HEADER_FIRST_HEADER_POINTER_OFFSET,
                 (uint16_t)((WF_SEGMENT_LENGTH_ID << WF_TM_FRAME_HEADER_SEGMENT_LENGTH_ID_SHIFT) |
                            ((uint32_t)link->fhp << WF_TM_FRAME_HEADER_FIRST_HEADER_POINTER_SHIFT)));
    tri_put_be16(frame + WF_FRAME_BYTES - WF_FECF_BYTES,
                 tri_crc16((uint16_t)WF_CRC16_INIT, frame, WF_FRAME_BYTES - WF_FECF_BYTES));
    if (link->mode == WF_LINK_CADU) {
        tri_rs_encode_codeblock(frame);
        randomise(frame, WF_CODEBLOCK_BYTES);
        tri_put_be32(link->buf, WF_ASM);
        out = link->buf;
        n = WF_CADU_BYTES;
    }
    link->mc_count = (uint8_t)(link->mc_count + 1u);
    link->vc_count[link->vcid] = (uint8_t)(link->vc_count[link->vcid] + 1u);
    link->fill = 0u;
    link->fhp = (uint16_t)WF_FHP_NO_PACKET;
    link->frames_sent++;
    st = sink->write(sink->ctx, out, n);
    if (st == TRI_OK) {
        link->bytes_out += n;
    }
    return st;
}

/* Appends bytes to the data field; `start`: they begin a packet. */
static tri_status_t append(tri_link_t *link, const uint8_t *data, size_t len, int start,
                           const tri_sink_t *sink)
{
    if (start != 0 && link->fhp == WF_FHP_NO_PACKET) {
        link->fhp = link->fill; /* < WF_DATA_FIELD_BYTES: full frames leave at once */
    }
    while (len > 0u) {
        size_t take = WF_DATA_FIELD_BYTES - (size_t)link->fill;
        take = take < len ? take : len;
        memcpy(link->buf + FIELD_OFFSET + link->fill, data, take);
        link->fill = (uint16_t)(link->fill + take);
        data += take;
        len -= take;
        if (link->fill == WF_DATA_FIELD_BYTES) {
            tri_status_t st = emit(link, sink);
            if (st != TRI_OK) {
                return st;
            }
        }
    }
    return TRI_OK;
}

tri_status_t tri_link_put(tri_link_t *link, uint32_t vcid, const uint8_t *packet, size_t len,
                          const tri_sink_t *sink)
{
    tri_status_t st;
    /* a packet is at least 7 bytes, and its length field must say its length: the
     * ground cuts the packets out of the frames by that field */
    if (link == NULL || link->buf == NULL || packet == NULL || sink == NULL ||
        sink->write == NULL || vcid >= WF_VC_COUNT || len < WF_PRIMARY_HEADER_SIZE + 1u ||
        len > WF_MAX_PACKET_BYTES ||
        (size_t)tri_get_be16(packet + WF_PRIMARY_HEADER_DATA_LENGTH_OFFSET) + 1u +
                WF_PRIMARY_HEADER_SIZE !=
            len) {
        return TRI_ERR_ARG;
    }
    if (link->fill != 0u && vcid != link->vcid) {
        st = tri_link_flush(link, sink);
        if (st != TRI_OK) {
            return st;
        }
    }
    link->vcid = (uint8_t)vcid;
    return append(link, packet, len, 1, sink);
}

/* One idle packet of `size` bytes (WF_IDLE_MIN_BYTES..WF_MAX_PACKET_BYTES):
 * header, WF_IDLE_FILL_BYTE data, CRC-16, written in pieces. */
static tri_status_t put_idle(tri_link_t *link, uint32_t size, const tri_sink_t *sink)
{
    uint8_t head[WF_PRIMARY_HEADER_SIZE];
    uint8_t fill[32];
    uint8_t crc_be[WF_CRC_SIZE];
    uint32_t left = size - WF_IDLE_MIN_BYTES;
    uint16_t crc;
    tri_status_t st;
    tri_put_be16(head + WF_PRIMARY_HEADER_VERSION_OFFSET,
                 (uint16_t)((WF_PACKET_VERSION << WF_PRIMARY_HEADER_VERSION_SHIFT) |
                            (WF_PACKET_TYPE_TM << WF_PRIMARY_HEADER_TYPE_SHIFT) |
                            (WF_APID_IDLE << WF_PRIMARY_HEADER_APID_SHIFT)));
    tri_put_be16(head + WF_PRIMARY_HEADER_SEQ_FLAGS_OFFSET,
                 (uint16_t)(WF_SEQ_UNSEGMENTED << WF_PRIMARY_HEADER_SEQ_FLAGS_SHIFT));
    tri_put_be16(head + WF_PRIMARY_HEADER_DATA_LENGTH_OFFSET,
                 (uint16_t)(size - WF_PRIMARY_HEADER_SIZE - 1u));
    memset(fill, (int)WF_IDLE_FILL_BYTE, sizeof fill);
    crc = tri_crc16((uint16_t)WF_CRC16_INIT, head, sizeof head);
    st = append(link, head, sizeof head, 1, sink);
    while (st == TRI_OK && left > 0u) {
        uint32_t take = left < (uint32_t)sizeof fill ? left : (uint32_t)sizeof fill;
        crc = tri_crc16(crc, fill, take);
        st = append(link, fill, take, 0, sink);
        left -= take;
    }
    if (st != TRI_OK) {
        return st;
    }
    tri_put_be16(crc_be, crc);
    link->idle_bytes += size;
    return append(link, crc_be, sizeof crc_be, 0, sink);
}

tri_status_t tri_link_flush(tri_link_t *link, const tri_sink_t *sink)
{
    uint32_t total;
    uint32_t n;
    uint32_t base;
    uint32_t i;
    if (link == NULL || sink == NULL || sink->write == NULL) {
        return TRI_ERR_ARG;
    }
    if (link->fill == 0u) {
        return TRI_OK;
    }
    total = WF_DATA_FIELD_BYTES - (uint32_t)link->fill;
    if (total < WF_IDLE_MIN_BYTES) {
        total += WF_DATA_FIELD_BYTES; /* too short for an idle packet: one frame more */
    }
    n = (total + WF_MAX_PACKET_BYTES - 1u) / WF_MAX_PACKET_BYTES;
    base = total / n;
    for (i = 0; i < n; i++) {
        tri_status_t st = put_idle(link, i + 1u < n ? base : total - base * (n - 1u), sink);
        if (st != TRI_OK) {
            return st;
        }
    }
    return TRI_OK;
}

void tri_link_abort(tri_link_t *link)
{
    if (link != NULL) {
        link->fill = 0u;
        link->fhp = (uint16_t)WF_FHP_NO_PACKET;
    }
}
