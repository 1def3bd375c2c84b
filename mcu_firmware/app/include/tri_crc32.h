/*
 * tri_crc32.h - CRC-32 as the wire format's product_crc32 uses it
 * (ISO-HDLC, the CRC of zlib and Ethernet): reflected polynomial 0xEDB88320,
 * initial value and final XOR 0xFFFFFFFF. Check value: the CRC of the nine
 * bytes "123456789" is 0xCBF43926.
 */
#ifndef TRI_CRC32_H
#define TRI_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* Continues a CRC over len bytes: start with crc = 0 (as zlib.crc32's value
 * argument: tri_crc32(tri_crc32(0, a), b) is the CRC of a then b). */
uint32_t tri_crc32(uint32_t crc, const uint8_t *data, size_t len);

#endif /* TRI_CRC32_H */
