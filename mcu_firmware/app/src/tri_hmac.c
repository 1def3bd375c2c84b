/* HMAC-SHA-256 (tri_hmac.h), RFC 2104 section 2. */
#include "tri_hmac.h"

#include <string.h>

#define IPAD 0x36u
#define OPAD 0x5Cu

void tri_hmac_sha256_init(tri_hmac_sha256_t *m, const uint8_t *key, size_t key_len)
{
    uint8_t k0[TRI_SHA256_BLOCK_BYTES];
    uint8_t pad[TRI_SHA256_BLOCK_BYTES];
    uint32_t i;
    memset(k0, 0, sizeof k0);
    if (key_len > TRI_SHA256_BLOCK_BYTES) {
        tri_sha256(key, key_len, k0); /* a key longer than a block is hashed first */
    } else if (key_len > 0u) {
        memcpy(k0, key, key_len);
    }
    for (i = 0; i < TRI_SHA256_BLOCK_BYTES; i++) {
        pad[i] = (uint8_t)(k0[i] ^ IPAD);
    }
    tri_sha256_init(&m->inner);
    tri_sha256_update(&m->inner, pad, sizeof pad);
    for (i = 0; i < TRI_SHA256_BLOCK_BYTES; i++) {
        pad[i] = (uint8_t)(k0[i] ^ OPAD);
    }
    tri_sha256_init(&m->outer);
    tri_sha256_update(&m->outer, pad, sizeof pad);
    /* no copy of the key stays on the stack */
    memset(k0, 0, sizeof k0);
    memset(pad, 0, sizeof pad);
}

void tri_hmac_sha256_update(tri_hmac_sha256_t *m, const void *data, size_t n)
{
    tri_sha256_update(&m->inner, data, n);
}

void tri_hmac_sha256_final(tri_hmac_sha256_t *m, uint8_t mac[TRI_SHA256_BYTES])
{
    uint8_t inner[TRI_SHA256_BYTES];
    tri_sha256_final(&m->inner, inner);
    tri_sha256_update(&m->outer, inner, sizeof inner);
    tri_sha256_final(&m->outer, mac);
}

int tri_digest_equal(const uint8_t *a, const uint8_t *b, size_t n)
{
    uint8_t diff = 0u;
    size_t i;
    for (i = 0; i < n; i++) {
        diff = (uint8_t)(diff | (a[i] ^ b[i]));
    }
    return diff == 0u;
}
