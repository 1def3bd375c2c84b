/*
 * fuzz_package.c - the fuzz harness of the model package and its uplink
 * (tri_package.c, tri_uplink.c, tri_models.c, and the streaming executor's
 * plan validation behind them), on the shared fuzzer (fuzz_core.c), under
 * ASan + UBSan.
 *
 * Input: [0] flags, then the package's bytes (a seed is a real package).
 *   bit 0  recompute the package's CRC-32 (to get past it to the sections,
 *          the plan and the golden vectors)
 *   bit 1  set package_bytes to the length
 *   bit 2  through the uplink: the package sealed with the harness's test
 *          key (security header, HMAC-SHA-256), cut into MODEL_UPLOAD
 *          packets and given to a model manager (its flash provisioned with
 *          that key), then a reboot of that flash; else tri_package_parse,
 *          tri_package_check and tri_package_selftest directly
 *   bit 3  (uplink) [1] is also XORed into the first packet's byte [2]
 *          (sequence flags / count), CRC-16 recomputed
 * The package is copied into a heap block of exactly its size (ASan sees a
 * read past it). Checks: a refusal always names a known reason and an
 * accepted package a reason of 0; through the uplink, an upload is accepted
 * (a model on trial, in slot A) or refused with exactly one reason counted
 * and no model running; the reboot finds a trial and falls back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_core.h"
#include "tri_be.h"
#include "tri_crc16.h"
#include "tri_crc32.h"
#include "tri_hmac.h"
#include "tri_models.h"
#include "tri_package.h"
#include "wire_format.h"

#define SCRATCH_BYTES (256u * 1024u)
#define FRAME_COLS 1024u
#define KEY_ID 7u
#define PACKET_MAX (WF_PRIMARY_HEADER_SIZE + WF_UPLOAD_SEGMENT_SIZE + WF_MAX_UPLOAD_SEGMENT_BYTES + \
                    WF_CRC_SIZE)

static uint64_t scratch[SCRATCH_BYTES / 8u];
static uint64_t flash[WF_MODEL_FLASH_BYTES / 8u];
static uint64_t staging[(WF_MAX_UNIT_BYTES + 7u) / 8u];
static uint8_t unit[WF_MAX_UNIT_BYTES];
static tri_models_t mm;

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "INVARIANT VIOLATED: %s\n", what);
        abort();
    }
}

static void key_of_harness(uint8_t key[WF_KEY_BYTES])
{
    uint32_t i;
    for (i = 0; i < WF_KEY_BYTES; i++) {
        key[i] = (uint8_t)(0xA5u ^ (i * 29u)); /* a test key, this harness's only */
    }
}

static void provision(void)
{
    uint8_t *f = (uint8_t *)flash;
    const uint32_t body = WF_KEY_STORE_HEADER_SIZE + WF_KEY_ENTRY_SIZE;
    memset(f, 0xFF, sizeof flash);
    memset(f, 0, body);
    tri_put_be32(f + WF_KEY_STORE_HEADER_MAGIC_OFFSET, WF_KEY_STORE_MAGIC);
    f[WF_KEY_STORE_HEADER_VERSION_OFFSET] = (uint8_t)WF_KEY_STORE_VERSION;
    f[WF_KEY_STORE_HEADER_COUNT_OFFSET] = 1u;
    tri_put_be16(f + WF_KEY_STORE_HEADER_SIZE + WF_KEY_ENTRY_KEY_ID_OFFSET, (uint16_t)KEY_ID);
    key_of_harness(f + WF_KEY_STORE_HEADER_SIZE + WF_KEY_ENTRY_KEY_OFFSET);
    tri_put_be32(f + body, tri_crc32(0u, f, body));
}

static int known_reason(uint8_t r)
{
    return r >= 1u && r <= WF_REFUSAL_COUNT;
}

static void direct(const uint8_t *pkg, uint32_t n)
{
    tri_package_t p;
    size_t need = 0;
    uint8_t reason = 0;
    tri_status_t st = tri_package_parse(pkg, n, &p, &reason);
    check((st == TRI_OK) == (reason == 0u) && (st == TRI_OK || known_reason(reason)), "parse");
    if (st != TRI_OK) {
        return;
    }
    st = tri_package_check(&p, FRAME_COLS, sizeof scratch, scratch, sizeof scratch, &need,
                           &reason);
    check((st == TRI_OK) == (reason == 0u) && (st == TRI_OK || known_reason(reason)), "check");
    if (st != TRI_OK) {
        return;
    }
    check(need > 0u && need <= sizeof scratch, "scratch need");
    st = tri_package_selftest(&p, scratch, sizeof scratch, &reason);
    check((st == TRI_OK) == (reason == 0u) && (st == TRI_OK || known_reason(reason)), "selftest");
}

static uint32_t refusals(void)
{
    uint32_t i;
    uint32_t n = 0;
    for (i = 0; i < WF_REFUSAL_COUNT; i++) {
        n += mm.refusals[i];
    }
    return n;
}

static void uplink(const uint8_t *pkg, uint32_t n, uint8_t flags, uint8_t tweak)
{
    uint8_t key[WF_KEY_BYTES];
    uint8_t packet[PACKET_MAX];
    tri_hmac_sha256_t h;
    uint32_t total = WF_SECURITY_HEADER_SIZE + n + WF_MAC_BYTES;
    uint32_t count;
    uint32_t k;
    if (total > sizeof unit) {
        return;
    }
    provision();
    check(tri_models_init(&mm, (uint8_t *)flash, sizeof flash, NULL, 0u, (uint8_t *)staging,
                          sizeof staging, scratch, sizeof scratch, FRAME_COLS) == TRI_OK,
          "init");
    check(tri_models_boot(&mm) == TRI_OK && tri_models_active(&mm) == NULL, "boot");
    memset(unit, 0, WF_SECURITY_HEADER_SIZE);
    tri_put_be16(unit + WF_SECURITY_HEADER_SPI_OFFSET, (uint16_t)KEY_ID);
    tri_put_be32(unit + WF_SECURITY_HEADER_ARSN_OFFSET, 5u);
    memcpy(unit + WF_SECURITY_HEADER_SIZE, pkg, n);
    key_of_harness(key);
    tri_hmac_sha256_init(&h, key, sizeof key);
    tri_hmac_sha256_update(&h, unit, WF_SECURITY_HEADER_SIZE + n);
    tri_hmac_sha256_final(&h, unit + WF_SECURITY_HEADER_SIZE + n);
    count = (total + WF_MAX_UPLOAD_SEGMENT_BYTES - 1u) / WF_MAX_UPLOAD_SEGMENT_BYTES;
    for (k = 0; k < count; k++) {
        const uint32_t at = k * WF_MAX_UPLOAD_SEGMENT_BYTES;
        const uint32_t seg = total - at < WF_MAX_UPLOAD_SEGMENT_BYTES ? total - at
                                                                      : WF_MAX_UPLOAD_SEGMENT_BYTES;
        const uint32_t len = WF_PRIMARY_HEADER_SIZE + WF_UPLOAD_SEGMENT_SIZE + seg + WF_CRC_SIZE;
        const uint32_t sf = count == 1u ? WF_SEQ_UNSEGMENTED
                            : k == 0u   ? WF_SEQ_FIRST
                            : k + 1u == count ? WF_SEQ_LAST
                                              : WF_SEQ_CONTINUATION;
        uint8_t *s = packet + WF_PRIMARY_HEADER_SIZE;
        tri_put_be16(packet, (uint16_t)(WF_PACKET_TYPE_TC << WF_PRIMARY_HEADER_TYPE_SHIFT |
                                        1u << WF_PRIMARY_HEADER_SEC_HDR_FLAG_SHIFT |
                                        WF_APID_MODEL_UPLOAD));
        tri_put_be16(packet + 2, (uint16_t)(sf << WF_PRIMARY_HEADER_SEQ_FLAGS_SHIFT | k));
        tri_put_be16(packet + 4, (uint16_t)(len - WF_PRIMARY_HEADER_SIZE - 1u));
        tri_put_be32(s + WF_UPLOAD_SEGMENT_ARSN_OFFSET, 5u);
        tri_put_be16(s + WF_UPLOAD_SEGMENT_SEGMENT_INDEX_OFFSET, (uint16_t)k);
        tri_put_be16(s + WF_UPLOAD_SEGMENT_SEGMENT_COUNT_OFFSET, (uint16_t)count);
        tri_put_be32(s + WF_UPLOAD_SEGMENT_UPLOAD_BYTES_OFFSET, total);
        memcpy(s + WF_UPLOAD_SEGMENT_SIZE, unit + at, seg);
        if ((flags & 8u) != 0u && k == 0u) {
            packet[2] ^= tweak;
        }
        tri_put_be16(packet + len - 2u, tri_crc16(WF_CRC16_INIT, packet, len - 2u));
        (void)tri_models_telecommand(&mm, packet, len);
    }
    (void)tri_models_end_of_pass(&mm);
    if (mm.accepted == 1u) {
        check(tri_models_active(&mm) != NULL && mm.rec.trial == 1u &&
                  mm.rec.active == WF_SLOT_A && refusals() == 0u,
              "an accepted package is on trial in slot A");
        /* a reset during the trial: back to no model */
        check(tri_models_init(&mm, (uint8_t *)flash, sizeof flash, NULL, 0u, (uint8_t *)staging,
                              sizeof staging, scratch, sizeof scratch, FRAME_COLS) == TRI_OK &&
                  tri_models_boot(&mm) == TRI_OK,
              "reboot");
        check(tri_models_active(&mm) == NULL && mm.rec.trial == 0u &&
                  mm.refusals[WF_REFUSAL_TRIAL_RESET - 1u] == 1u,
              "the trial falls back at the reboot");
    } else {
        if (!(tri_models_active(&mm) == NULL && refusals() == 1u)) {
            uint32_t i;
            fprintf(stderr, "uploads %u accepted %u refusals:", (unsigned)mm.uploads,
                    (unsigned)mm.accepted);
            for (i = 0; i < WF_REFUSAL_COUNT; i++) {
                fprintf(stderr, " %u", (unsigned)mm.refusals[i]);
            }
            fprintf(stderr, " (%u bytes, flags %u)\n", (unsigned)n, (unsigned)flags);
        }
        check(tri_models_active(&mm) == NULL && refusals() == 1u && known_reason(mm.last_refusal),
              "a refused upload counts one reason and runs nothing");
    }
}

void fuzz_run_one(const uint8_t *in, size_t len)
{
    uint8_t flags;
    uint8_t *pkg;
    uint32_t n;
    if (len < 1u) {
        return;
    }
    flags = in[0];
    n = (uint32_t)(len - 1u);
    pkg = (uint8_t *)malloc(n > 0u ? n : 1u);
    memcpy(pkg, in + 1, n);
    if ((flags & 2u) != 0u && n >= WF_PACKAGE_HEADER_SIZE) {
        tri_put_be32(pkg + WF_PACKAGE_HEADER_PACKAGE_BYTES_OFFSET, n);
    }
    if ((flags & 1u) != 0u && n >= WF_PACKAGE_CRC_BYTES) {
        tri_put_be32(pkg + n - WF_PACKAGE_CRC_BYTES, tri_crc32(0u, pkg, n - WF_PACKAGE_CRC_BYTES));
    }
    if ((flags & 4u) != 0u) {
        uplink(pkg, n, flags, n > 0u ? pkg[0] : 0u);
    } else {
        direct(pkg, n);
    }
    free(pkg);
}

/* Header fields (input offset = package offset + 1) and the first plan
 * layer's: versions, counts, offsets, sizes, kernels, strides. */
const size_t fuzz_fields[] = {0,       1 + 4,   1 + 6,   1 + 19,  1 + 23,  1 + 27,  1 + 35,
                              1 + 45,  1 + 47,  1 + 49,  1 + 96 + 7, 1 + 96 + 13, 1 + 96 + 19,
                              1 + 96 + 21, 1 + 96 + 23, 1 + 96 + 27,
                              1 + 128 + 0, 1 + 128 + 1, 1 + 128 + 3, 1 + 128 + 5, 1 + 128 + 6,
                              1 + 128 + 7, 1 + 128 + 8, 1 + 128 + 9, 1 + 128 + 16, 1 + 128 + 23,
                              1 + 128 + 27, 1 + 128 + 31, 1 + 128 + 39, 1 + 128 + 43};
const size_t fuzz_fields_len = sizeof fuzz_fields / sizeof fuzz_fields[0];
