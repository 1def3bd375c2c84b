/*
 * tri_uplink.c - the model manager's telecommands (tri_models.h): MODEL_UPLOAD
 * segments reassembled in order into the staging buffer, MODEL_COMMAND
 * packets, and the authentication of their units (as CCSDS SDLS 355.0-B
 * authenticates a telecommand: the key named by the SPI, HMAC-SHA-256 over
 * the security header and the data, an anti-replay sequence number above the
 * last one accepted).
 *
 * Packet checks (PACKET): length field, CRC-16, version, type 1, the APID's
 * secondary header flag and sequence flags, the segment's length. Upload
 * order (ORDER): a segment must be the next of the upload being received; an
 * upload refused mid-way drops its later segments without counting them
 * again. An upload cut short (TRUNCATED): another begins, a command comes,
 * the pass ends, or its last segment is short.
 */
#include <string.h>

#include "tri_be.h"
#include "tri_crc16.h"
#include "tri_hmac.h"
#include "tri_models.h"
#include "tri_models_priv.h"

#define SEG_HEADER_AT WF_PRIMARY_HEADER_SIZE
#define SEG_DATA_AT (WF_PRIMARY_HEADER_SIZE + WF_UPLOAD_SEGMENT_SIZE)
#define COMMAND_UNIT_BYTES (WF_SECURITY_HEADER_SIZE + WF_MODEL_COMMAND_SIZE + WF_MAC_BYTES)

/* The key of SPI `spi` in the key store, or NULL. */
static const uint8_t *key_of(const tri_models_t *m, uint32_t spi)
{
    const uint8_t *k = tri_flash_at(&m->flash, WF_FLASH_KEYSTORE_OFFSET) + WF_KEY_STORE_HEADER_SIZE;
    uint32_t i;
    for (i = 0; i < m->key_count; i++, k += WF_KEY_ENTRY_SIZE) {
        if (tri_get_be16(k + WF_KEY_ENTRY_KEY_ID_OFFSET) == spi) {
            return k + WF_KEY_ENTRY_KEY_OFFSET;
        }
    }
    return NULL;
}

/*
 * A unit's key, MAC and sequence number, in that order (what an attacker
 * may send costs one HMAC). Returns 0 and *arsn, or the refusal reason.
 */
static uint8_t authenticate(const tri_models_t *m, const uint8_t *unit, uint32_t bytes,
                            uint32_t *arsn)
{
    tri_hmac_sha256_t h;
    uint8_t mac[WF_MAC_BYTES];
    const uint8_t *key;
    *arsn = tri_get_be32(unit + WF_SECURITY_HEADER_ARSN_OFFSET);
    key = key_of(m, tri_get_be16(unit + WF_SECURITY_HEADER_SPI_OFFSET));
    if (key == NULL) {
        return WF_REFUSAL_KEY;
    }
    tri_hmac_sha256_init(&h, key, WF_KEY_BYTES);
    tri_hmac_sha256_update(&h, unit, bytes - WF_MAC_BYTES);
    tri_hmac_sha256_final(&h, mac);
    if (!tri_digest_equal(mac, unit + bytes - WF_MAC_BYTES, WF_MAC_BYTES)) {
        return WF_REFUSAL_MAC;
    }
    if (*arsn <= m->rec.arsn) {
        return WF_REFUSAL_SEQUENCE;
    }
    return 0u;
}

/* The upload being received is lost (reason counted). */
static void abandon(tri_models_t *m, uint8_t reason)
{
    if (m->receiving != 0u) {
        m->receiving = 0u;
        m->dropped_arsn = m->up_arsn;
        (void)tri_models_refuse(m, reason, m->up_arsn, TRI_OK);
    }
}

/* The whole unit is in the staging buffer. */
static tri_status_t take_unit(tri_models_t *m)
{
    const uint32_t bytes = m->up_bytes;
    uint32_t arsn = 0u;
    uint8_t reason;
    m->uploads++;
    reason = authenticate(m, m->staging, bytes, &arsn);
    if (reason != 0u) {
        return tri_models_refuse(m, reason, arsn, TRI_ERR_AUTH);
    }
    return tri_models_take_package(m, m->staging + WF_SECURITY_HEADER_SIZE,
                                   bytes - WF_SECURITY_HEADER_SIZE - WF_MAC_BYTES, arsn);
}

static uint32_t seq_flags_of(uint32_t index, uint32_t count)
{
    if (count == 1u) {
        return WF_SEQ_UNSEGMENTED;
    }
    if (index == 0u) {
        return WF_SEQ_FIRST;
    }
    return index + 1u == count ? WF_SEQ_LAST : WF_SEQ_CONTINUATION;
}

static tri_status_t upload_segment(tri_models_t *m, const uint8_t *p, size_t len, uint32_t flags)
{
    const uint32_t arsn = tri_get_be32(p + SEG_HEADER_AT + WF_UPLOAD_SEGMENT_ARSN_OFFSET);
    const uint32_t index = tri_get_be16(p + SEG_HEADER_AT + WF_UPLOAD_SEGMENT_SEGMENT_INDEX_OFFSET);
    const uint32_t count = tri_get_be16(p + SEG_HEADER_AT + WF_UPLOAD_SEGMENT_SEGMENT_COUNT_OFFSET);
    const uint32_t total = tri_get_be32(p + SEG_HEADER_AT + WF_UPLOAD_SEGMENT_UPLOAD_BYTES_OFFSET);
    const uint32_t n = (uint32_t)(len - SEG_DATA_AT - WF_CRC_SIZE);
    uint32_t want;
    if (total < WF_SECURITY_HEADER_SIZE + WF_PACKAGE_HEADER_SIZE + WF_MAC_BYTES ||
        count != (total + WF_MAX_UPLOAD_SEGMENT_BYTES - 1u) / WF_MAX_UPLOAD_SEGMENT_BYTES ||
        index >= count || flags != seq_flags_of(index, count) || n == 0u) {
        /* the upload it belongs to is lost: counted once, its later segments
         * dropped */
        if (m->receiving != 0u && arsn == m->up_arsn) {
            abandon(m, WF_REFUSAL_PACKET);
            return TRI_ERR_FORMAT;
        }
        if (m->receiving == 0u && arsn == m->dropped_arsn && arsn != 0u) {
            return TRI_ERR_STATE;
        }
        m->dropped_arsn = arsn;
        return tri_models_refuse(m, WF_REFUSAL_PACKET, arsn, TRI_ERR_FORMAT);
    }
    want = index + 1u < count ? WF_MAX_UPLOAD_SEGMENT_BYTES
                              : total - (count - 1u) * WF_MAX_UPLOAD_SEGMENT_BYTES;
    if (index == 0u) {
        abandon(m, WF_REFUSAL_TRUNCATED); /* another upload began */
        m->dropped_arsn = 0u;
        if (total > WF_MAX_UNIT_BYTES || total > m->staging_bytes) {
            m->dropped_arsn = arsn;
            return tri_models_refuse(m, WF_REFUSAL_TOO_LARGE, arsn, TRI_ERR_SIZE);
        }
        if (m->rec.trial != 0u) { /* the fallback slot must stay as it is */
            m->dropped_arsn = arsn;
            return tri_models_refuse(m, WF_REFUSAL_BUSY, arsn, TRI_ERR_STATE);
        }
        if (n != want) {
            m->dropped_arsn = arsn;
            return tri_models_refuse(m, WF_REFUSAL_PACKET, arsn, TRI_ERR_FORMAT);
        }
        m->receiving = 1u;
        m->up_arsn = arsn;
        m->up_count = (uint16_t)count;
        m->up_bytes = total;
        m->up_next = 0u;
        m->up_received = 0u;
    } else {
        if (m->receiving == 0u && arsn == m->dropped_arsn) {
            return TRI_ERR_STATE; /* the rest of an upload already refused */
        }
        if (m->receiving == 0u || arsn != m->up_arsn || count != m->up_count ||
            total != m->up_bytes || index != m->up_next) {
            if (m->receiving != 0u && arsn == m->up_arsn) {
                abandon(m, WF_REFUSAL_ORDER); /* this upload's segments out of order */
                return TRI_ERR_STATE;
            }
            m->dropped_arsn = arsn; /* a segment of no upload begun */
            return tri_models_refuse(m, WF_REFUSAL_ORDER, arsn, TRI_ERR_STATE);
        }
        if (n != want) {
            abandon(m, n < want && index + 1u == count ? WF_REFUSAL_TRUNCATED : WF_REFUSAL_PACKET);
            return TRI_ERR_FORMAT;
        }
    }
    memcpy(m->staging + (size_t)index * WF_MAX_UPLOAD_SEGMENT_BYTES, p + SEG_DATA_AT, n);
    m->up_next++;
    m->up_received += n;
    if (m->up_next < m->up_count) {
        return TRI_OK;
    }
    m->receiving = 0u;
    return take_unit(m);
}

static tri_status_t command(tri_models_t *m, const uint8_t *p, size_t len, uint32_t flags)
{
    const uint8_t *unit = p + WF_PRIMARY_HEADER_SIZE;
    uint32_t arsn = 0u;
    uint8_t reason;
    abandon(m, WF_REFUSAL_TRUNCATED); /* a command ends an upload */
    if (len != WF_PRIMARY_HEADER_SIZE + COMMAND_UNIT_BYTES + WF_CRC_SIZE ||
        flags != WF_SEQ_UNSEGMENTED) {
        return tri_models_refuse(m, WF_REFUSAL_PACKET, 0u, TRI_ERR_FORMAT);
    }
    reason = authenticate(m, unit, COMMAND_UNIT_BYTES, &arsn);
    if (reason != 0u) {
        return tri_models_refuse(m, reason, arsn, TRI_ERR_AUTH);
    }
    return tri_models_take_command(m, unit + WF_SECURITY_HEADER_SIZE, arsn);
}

tri_status_t tri_models_telecommand(tri_models_t *m, const uint8_t *p, size_t len)
{
    uint16_t id;
    uint16_t seq;
    uint32_t apid;
    uint32_t sec;
    if (m == NULL || p == NULL || m->booted == 0u) {
        return TRI_ERR_ARG;
    }
    if (len < WF_PRIMARY_HEADER_SIZE + WF_CRC_SIZE ||
        (size_t)tri_get_be16(p + 4) + 1u + WF_PRIMARY_HEADER_SIZE != len ||
        tri_crc16(WF_CRC16_INIT, p, len) != 0u) {
        return tri_models_refuse(m, WF_REFUSAL_PACKET, 0u, TRI_ERR_CRC);
    }
    id = tri_get_be16(p);
    seq = tri_get_be16(p + 2);
    apid = id & WF_PRIMARY_HEADER_APID_MASK;
    sec = (id >> WF_PRIMARY_HEADER_SEC_HDR_FLAG_SHIFT) & WF_PRIMARY_HEADER_SEC_HDR_FLAG_MASK;
    if (((id >> WF_PRIMARY_HEADER_VERSION_SHIFT) & WF_PRIMARY_HEADER_VERSION_MASK) !=
            WF_PACKET_VERSION ||
        ((id >> WF_PRIMARY_HEADER_TYPE_SHIFT) & WF_PRIMARY_HEADER_TYPE_MASK) !=
            WF_PACKET_TYPE_TC) {
        return tri_models_refuse(m, WF_REFUSAL_PACKET, 0u, TRI_ERR_FORMAT);
    }
    if (apid == WF_APID_MODEL_UPLOAD && sec == 1u && len > SEG_DATA_AT + WF_CRC_SIZE) {
        return upload_segment(m, p, len,
                              (uint32_t)(seq >> WF_PRIMARY_HEADER_SEQ_FLAGS_SHIFT) &
                                  WF_PRIMARY_HEADER_SEQ_FLAGS_MASK);
    }
    if (apid == WF_APID_MODEL_COMMAND && sec == 0u) {
        return command(m, p, len,
                       (uint32_t)(seq >> WF_PRIMARY_HEADER_SEQ_FLAGS_SHIFT) &
                           WF_PRIMARY_HEADER_SEQ_FLAGS_MASK);
    }
    return tri_models_refuse(m, WF_REFUSAL_PACKET, 0u, TRI_ERR_FORMAT);
}

tri_status_t tri_models_end_of_pass(tri_models_t *m)
{
    if (m == NULL) {
        return TRI_ERR_ARG;
    }
    abandon(m, WF_REFUSAL_TRUNCATED);
    return TRI_OK;
}
