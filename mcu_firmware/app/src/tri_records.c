#include "tri_records.h"

#include <string.h>

#include "tri_be.h"
#include "tri_crc16.h"
#include "tri_crc32.h"

tri_status_t tri_frame_meta_unpack(const uint8_t *buf, size_t len, tri_frame_meta_t *meta)
{
    uint16_t crc;
    if (buf == NULL || meta == NULL) {
        return TRI_ERR_ARG;
    }
    if (len != WF_FRAME_META_SIZE) {
        return TRI_ERR_SIZE;
    }
    crc = tri_crc16((uint16_t)WF_CRC16_INIT, buf, WF_FRAME_META_CRC_OFFSET);
    if (crc != tri_get_be16(buf + WF_FRAME_META_CRC_OFFSET)) {
        return TRI_ERR_CRC;
    }
    if (tri_get_be32(buf + WF_FRAME_META_MAGIC_OFFSET) != WF_FRAME_META_MAGIC ||
        buf[WF_FRAME_META_VERSION_OFFSET] != WF_FORMAT_VERSION ||
        buf[WF_FRAME_META_RESERVED_OFFSET] != 0u ||
        tri_get_be16(buf + WF_FRAME_META_RESERVED2_OFFSET) != 0u ||
        tri_get_be16(buf + WF_FRAME_META_RESERVED3_OFFSET) != 0u ||
        tri_get_be16(buf + WF_FRAME_META_RESERVED5_OFFSET) != 0u) {
        return TRI_ERR_FORMAT;
    }
    wf_frame_meta_unpack(buf, meta);
    if (meta->sample_bits != 8u && meta->sample_bits != 16u) {
        return TRI_ERR_FORMAT;
    }
    if ((meta->dn_num != 0u || meta->dn_den != 0u) &&
        (meta->dn_den == 0u || meta->dn_den > meta->dn_num)) {
        return TRI_ERR_FORMAT;
    }
    return TRI_OK;
}

void tri_frame_meta_pack(const tri_frame_meta_t *meta, uint8_t *out)
{
    tri_frame_meta_t m = *meta;
    m.magic = WF_FRAME_META_MAGIC;
    m.version = (uint8_t)WF_FORMAT_VERSION;
    m.crc = 0u;
    wf_frame_meta_pack(&m, out);
    tri_put_be16(out + WF_FRAME_META_CRC_OFFSET,
                 tri_crc16((uint16_t)WF_CRC16_INIT, out, WF_FRAME_META_CRC_OFFSET));
}

void tri_sec_header_pack(const tri_sec_header_t *sh, uint8_t *out)
{
    tri_sec_header_t s = *sh;
    s.version = (uint8_t)WF_FORMAT_VERSION;
    wf_secondary_header_pack(&s, out);
}

void tri_product_header_pack(const tri_product_header_t *h, uint8_t *out)
{
    tri_product_header_t p = *h;
    p.version = (uint8_t)WF_FORMAT_VERSION;
    wf_product_header_pack(&p, out);
}

uint32_t tri_product_crc(const uint8_t *header, const uint8_t *body, size_t body_len)
{
    uint32_t crc = tri_crc32(0u, header, WF_PRODUCT_HEADER_PRODUCT_CRC32_OFFSET);
    return tri_crc32(crc, body, body_len);
}

void tri_product_seal(uint8_t *product, size_t len)
{
    tri_put_be32(product + WF_PRODUCT_HEADER_PRODUCT_CRC32_OFFSET,
                 tri_product_crc(product, product + WF_PRODUCT_HEADER_SIZE,
                                 len - WF_PRODUCT_HEADER_SIZE));
}

void tri_product_header_unpack(const uint8_t *buf, tri_product_header_t *h)
{
    wf_product_header_unpack(buf, h);
}
