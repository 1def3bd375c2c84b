#include "tri_packet.h"

#include "tri_be.h"
#include "tri_crc16.h"

uint32_t tri_segment_count(uint32_t bytes)
{
    uint32_t n = bytes / WF_MAX_SEGMENT_BYTES + (bytes % WF_MAX_SEGMENT_BYTES != 0u ? 1u : 0u);
    return n > 0xFFFFu ? 0u : n;
}

uint8_t tri_seq_flags(uint32_t index, uint32_t count)
{
    if (count == 1u) {
        return (uint8_t)WF_SEQ_UNSEGMENTED;
    }
    if (index == 0u) {
        return (uint8_t)WF_SEQ_FIRST;
    }
    return (uint8_t)(index + 1u == count ? WF_SEQ_LAST : WF_SEQ_CONTINUATION);
}

static uint16_t primary_word0(uint32_t type, uint32_t sec_hdr, uint32_t apid)
{
    return (uint16_t)((WF_PACKET_VERSION << WF_PRIMARY_HEADER_VERSION_SHIFT) |
                      (type << WF_PRIMARY_HEADER_TYPE_SHIFT) |
                      (sec_hdr << WF_PRIMARY_HEADER_SEC_HDR_FLAG_SHIFT) |
                      ((apid & WF_PRIMARY_HEADER_APID_MASK) << WF_PRIMARY_HEADER_APID_SHIFT));
}

size_t tri_packet_seal(uint8_t *out, uint16_t apid, uint8_t seq_flags, uint16_t seq_count,
                       const tri_sec_header_t *sh, size_t seg_len)
{
    size_t body = WF_SECONDARY_HEADER_SIZE + seg_len + WF_CRC_SIZE;
    size_t total = WF_PRIMARY_HEADER_SIZE + body;
    uint16_t word1 =
        (uint16_t)((((uint32_t)seq_flags & WF_PRIMARY_HEADER_SEQ_FLAGS_MASK)
                    << WF_PRIMARY_HEADER_SEQ_FLAGS_SHIFT) |
                   (((uint32_t)seq_count & WF_PRIMARY_HEADER_SEQ_COUNT_MASK)
                    << WF_PRIMARY_HEADER_SEQ_COUNT_SHIFT));
    tri_put_be16(out + WF_PRIMARY_HEADER_VERSION_OFFSET,
                 primary_word0(WF_PACKET_TYPE_TM, 1u, apid));
    tri_put_be16(out + WF_PRIMARY_HEADER_SEQ_FLAGS_OFFSET, word1);
    tri_put_be16(out + WF_PRIMARY_HEADER_DATA_LENGTH_OFFSET, (uint16_t)(body - 1u));
    tri_sec_header_pack(sh, out + WF_PRIMARY_HEADER_SIZE);
    tri_put_be16(out + total - WF_CRC_SIZE,
                 tri_crc16((uint16_t)WF_CRC16_INIT, out, total - WF_CRC_SIZE));
    return total;
}

tri_status_t tri_request_check(const uint8_t *buf, size_t len, const uint8_t **records,
                               size_t *count)
{
    size_t data;
    uint16_t seq;
    if (buf == NULL || records == NULL || count == NULL) {
        return TRI_ERR_ARG;
    }
    *records = NULL;
    *count = 0;
    if (len < WF_PRIMARY_HEADER_SIZE + WF_CRC_SIZE) {
        return TRI_ERR_SIZE;
    }
    /* data_length + 1 octets follow the primary header: they must be all of
     * buf, and hold whole records plus the CRC. */
    data = (size_t)tri_get_be16(buf + WF_PRIMARY_HEADER_DATA_LENGTH_OFFSET) + 1u;
    if (data != len - WF_PRIMARY_HEADER_SIZE) {
        return TRI_ERR_SIZE;
    }
    if (tri_crc16((uint16_t)WF_CRC16_INIT, buf, len - WF_CRC_SIZE) !=
        tri_get_be16(buf + len - WF_CRC_SIZE)) {
        return TRI_ERR_CRC;
    }
    if (tri_get_be16(buf) != primary_word0(WF_PACKET_TYPE_TC, 0u, WF_APID_DOWNLINK_REQUEST)) {
        return TRI_ERR_FORMAT;
    }
    seq = tri_get_be16(buf + WF_PRIMARY_HEADER_SEQ_FLAGS_OFFSET);
    if (((uint32_t)seq >> WF_PRIMARY_HEADER_SEQ_FLAGS_SHIFT) != WF_SEQ_UNSEGMENTED) {
        return TRI_ERR_FORMAT;
    }
    if ((data - WF_CRC_SIZE) % WF_REQUEST_ENTRY_SIZE != 0u) {
        return TRI_ERR_FORMAT;
    }
    *records = buf + WF_PRIMARY_HEADER_SIZE;
    *count = (data - WF_CRC_SIZE) / WF_REQUEST_ENTRY_SIZE;
    return TRI_OK;
}
