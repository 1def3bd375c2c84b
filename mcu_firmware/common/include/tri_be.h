/*
 * tri_be.h - byte-order helpers for the wire format (big-endian) and for
 * frame memory (little-endian samples).
 *
 * Every record the application writes for the ground is packed field by
 * field with these helpers, never by casting a struct onto a buffer.
 */
#ifndef TRI_BE_H
#define TRI_BE_H

#include <stdint.h>

static inline void tri_put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void tri_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline uint16_t tri_get_be16(const uint8_t *p)
{
    return (uint16_t)(((uint16_t)p[0] << 8) | (uint16_t)p[1]);
}

static inline uint32_t tri_get_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

/* A little-endian 16-bit sample of frame memory. */
static inline uint16_t tri_get_le16(const uint8_t *p)
{
    return (uint16_t)((uint16_t)p[0] | ((uint16_t)p[1] << 8));
}

#endif /* TRI_BE_H */
