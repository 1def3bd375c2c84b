/*
 * tri_sha256.c - SHA-256 as FIPS 180-4 section 6.2 defines it.
 *
 * The message is processed in 512-bit blocks of sixteen big-endian words;
 * the schedule W[t] (6.2.2 step 1) is kept as a ring of sixteen words, W[t]
 * overwriting W[t - 16], instead of all 64. Padding (5.1.1): a 1 bit, zeros
 * to 448 bits modulo 512, then the message length in bits as a 64-bit
 * big-endian number.
 */
#include "tri_sha256.h"

#include <string.h>

#include "tri_be.h"

/* 4.2.2: the first 32 bits of the fractional parts of the cube roots of the
 * first 64 primes. */
static const uint32_t k256[64] = {
    0x428a2f98u, 0x71374491u, 0xb5c0fbcfu, 0xe9b5dba5u,
    0x3956c25bu, 0x59f111f1u, 0x923f82a4u, 0xab1c5ed5u,
    0xd807aa98u, 0x12835b01u, 0x243185beu, 0x550c7dc3u,
    0x72be5d74u, 0x80deb1feu, 0x9bdc06a7u, 0xc19bf174u,
    0xe49b69c1u, 0xefbe4786u, 0x0fc19dc6u, 0x240ca1ccu,
    0x2de92c6fu, 0x4a7484aau, 0x5cb0a9dcu, 0x76f988dau,
    0x983e5152u, 0xa831c66du, 0xb00327c8u, 0xbf597fc7u,
    0xc6e00bf3u, 0xd5a79147u, 0x06ca6351u, 0x14292967u,
    0x27b70a85u, 0x2e1b2138u, 0x4d2c6dfcu, 0x53380d13u,
    0x650a7354u, 0x766a0abbu, 0x81c2c92eu, 0x92722c85u,
    0xa2bfe8a1u, 0xa81a664bu, 0xc24b8b70u, 0xc76c51a3u,
    0xd192e819u, 0xd6990624u, 0xf40e3585u, 0x106aa070u,
    0x19a4c116u, 0x1e376c08u, 0x2748774cu, 0x34b0bcb5u,
    0x391c0cb3u, 0x4ed8aa4au, 0x5b9cca4fu, 0x682e6ff3u,
    0x748f82eeu, 0x78a5636fu, 0x84c87814u, 0x8cc70208u,
    0x90befffau, 0xa4506cebu, 0xbef9a3f7u, 0xc67178f2u};

/* 5.3.3: the first 32 bits of the fractional parts of the square roots of
 * the first 8 primes. */
static const uint32_t h0[8] = {0x6a09e667u, 0xbb67ae85u, 0x3c6ef372u, 0xa54ff53au,
                               0x510e527fu, 0x9b05688cu, 0x1f83d9abu, 0x5be0cd19u};

static uint32_t rotr(uint32_t x, uint32_t n)
{
    return (x >> n) | (x << (32u - n));
}

/* 4.1.2 */
#define CH(x, y, z) (((x) & (y)) ^ (~(x) & (z)))
#define MAJ(x, y, z) (((x) & (y)) ^ ((x) & (z)) ^ ((y) & (z)))
#define BSIG0(x) (rotr((x), 2u) ^ rotr((x), 13u) ^ rotr((x), 22u))
#define BSIG1(x) (rotr((x), 6u) ^ rotr((x), 11u) ^ rotr((x), 25u))
#define SSIG0(x) (rotr((x), 7u) ^ rotr((x), 18u) ^ ((x) >> 3))
#define SSIG1(x) (rotr((x), 17u) ^ rotr((x), 19u) ^ ((x) >> 10))

/* 6.2.2: one block into the hash value. */
static void compress(uint32_t h[8], const uint8_t *block)
{
    uint32_t w[16];
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
    uint32_t e = h[4], f = h[5], g = h[6], hh = h[7];
    uint32_t t;
    for (t = 0; t < 64u; t++) {
        uint32_t wt;
        uint32_t t1;
        uint32_t t2;
        if (t < 16u) {
            wt = tri_get_be32(block + 4u * t);
        } else {
            /* W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16] */
            wt = SSIG1(w[(t - 2u) & 15u]) + w[(t - 7u) & 15u] + SSIG0(w[(t - 15u) & 15u]) +
                 w[t & 15u];
        }
        w[t & 15u] = wt;
        t1 = hh + BSIG1(e) + CH(e, f, g) + k256[t] + wt;
        t2 = BSIG0(a) + MAJ(a, b, c);
        hh = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += hh;
}

void tri_sha256_init(tri_sha256_t *s)
{
    memcpy(s->h, h0, sizeof s->h);
    s->bytes = 0u;
    s->fill = 0u;
}

void tri_sha256_update(tri_sha256_t *s, const void *data, size_t n)
{
    const uint8_t *p = (const uint8_t *)data;
    s->bytes += (uint64_t)n;
    if (s->fill > 0u) {
        size_t take = TRI_SHA256_BLOCK_BYTES - s->fill;
        take = take < n ? take : n;
        memcpy(s->block + s->fill, p, take);
        s->fill += (uint32_t)take;
        p += take;
        n -= take;
        if (s->fill < TRI_SHA256_BLOCK_BYTES) {
            return;
        }
        compress(s->h, s->block);
        s->fill = 0u;
    }
    while (n >= TRI_SHA256_BLOCK_BYTES) {
        compress(s->h, p);
        p += TRI_SHA256_BLOCK_BYTES;
        n -= TRI_SHA256_BLOCK_BYTES;
    }
    memcpy(s->block, p, n);
    s->fill = (uint32_t)n;
}

void tri_sha256_final(tri_sha256_t *s, uint8_t digest[TRI_SHA256_BYTES])
{
    const uint64_t bits = s->bytes * 8u;
    uint32_t i;
    s->block[s->fill++] = 0x80u;
    if (s->fill > TRI_SHA256_BLOCK_BYTES - 8u) {
        memset(s->block + s->fill, 0, TRI_SHA256_BLOCK_BYTES - s->fill);
        compress(s->h, s->block);
        s->fill = 0u;
    }
    memset(s->block + s->fill, 0, TRI_SHA256_BLOCK_BYTES - 8u - s->fill);
    tri_put_be32(s->block + 56, (uint32_t)(bits >> 32));
    tri_put_be32(s->block + 60, (uint32_t)bits);
    compress(s->h, s->block);
    for (i = 0; i < 8u; i++) {
        tri_put_be32(digest + 4u * i, s->h[i]);
    }
    s->fill = 0u;
}

void tri_sha256(const void *data, size_t n, uint8_t digest[TRI_SHA256_BYTES])
{
    tri_sha256_t s;
    tri_sha256_init(&s);
    tri_sha256_update(&s, data, n);
    tri_sha256_final(&s, digest);
}
