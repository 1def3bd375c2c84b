/*
 * tri_sha256.h - SHA-256 (FIPS 180-4), incremental, no heap: the hash of
 * model packages (their integrity in the boot record) and the hash under
 * HMAC-SHA-256 (tri_hmac.h).
 *
 *   tri_sha256_t s;
 *   tri_sha256_init(&s);
 *   tri_sha256_update(&s, data, n);     any number of times, any lengths
 *   tri_sha256_final(&s, digest);       32 bytes, big-endian words
 *
 * The caller owns the state (108 bytes); messages up to 2^61 - 1 bytes.
 */
#ifndef TRI_SHA256_H
#define TRI_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define TRI_SHA256_BYTES 32u
#define TRI_SHA256_BLOCK_BYTES 64u

typedef struct {
    uint32_t h[8];                         /* the hash value H(i) */
    uint64_t bytes;                        /* message bytes so far */
    uint8_t block[TRI_SHA256_BLOCK_BYTES]; /* a partial block */
    uint32_t fill;                         /* bytes in block */
} tri_sha256_t;

void tri_sha256_init(tri_sha256_t *s);
void tri_sha256_update(tri_sha256_t *s, const void *data, size_t n);
/* Pads, finishes and writes the digest; s must be initialised again for
 * another message. */
void tri_sha256_final(tri_sha256_t *s, uint8_t digest[TRI_SHA256_BYTES]);
/* The digest of one message. */
void tri_sha256(const void *data, size_t n, uint8_t digest[TRI_SHA256_BYTES]);

#endif /* TRI_SHA256_H */
