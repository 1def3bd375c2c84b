/*
 * tri_hmac.h - HMAC-SHA-256 (RFC 2104 over FIPS 180-4 SHA-256), incremental,
 * no heap: the MAC of authenticated uplink units (triage/WIRE_FORMAT.md).
 *
 *   HMAC(K, m) = H((K0 ^ opad) || H((K0 ^ ipad) || m))
 *
 * K0 is the key padded with zeros to the 64-byte block (a longer key is
 * hashed first). The state holds the inner hash and the outer hash already
 * fed with K0 ^ opad, so the key is not kept once init returns.
 */
#ifndef TRI_HMAC_H
#define TRI_HMAC_H

#include <stddef.h>
#include <stdint.h>

#include "tri_sha256.h"

typedef struct {
    tri_sha256_t inner;
    tri_sha256_t outer;
} tri_hmac_sha256_t;

void tri_hmac_sha256_init(tri_hmac_sha256_t *m, const uint8_t *key, size_t key_len);
void tri_hmac_sha256_update(tri_hmac_sha256_t *m, const void *data, size_t n);
void tri_hmac_sha256_final(tri_hmac_sha256_t *m, uint8_t mac[TRI_SHA256_BYTES]);

/* 1 when a[0..n) == b[0..n), else 0, in a time that does not depend on
 * where they differ (a MAC comparison must not tell how much of it matched). */
int tri_digest_equal(const uint8_t *a, const uint8_t *b, size_t n);

#endif /* TRI_HMAC_H */
