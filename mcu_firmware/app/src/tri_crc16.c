#include "tri_crc16.h"

/*
 * Four bits at a time. nibble_table[i] is the carry-less product
 * i * 0x1021, i.e. what the register gains when the nibble i leaves its top
 * four bits: (crc << 4) ^ nibble_table[(crc >> 12) ^ nibble] advances the
 * CRC by one input nibble (most significant nibble of each byte first).
 */
static const uint16_t nibble_table[16] = {
    0x0000u, 0x1021u, 0x2042u, 0x3063u, 0x4084u, 0x50A5u, 0x60C6u, 0x70E7u,
    0x8108u, 0x9129u, 0xA14Au, 0xB16Bu, 0xC18Cu, 0xD1ADu, 0xE1CEu, 0xF1EFu,
};

uint16_t tri_crc16(uint16_t crc, const uint8_t *data, size_t len)
{
    size_t i;
    for (i = 0; i < len; i++) {
        uint8_t byte = data[i];
        crc = (uint16_t)((uint16_t)(crc << 4) ^ nibble_table[((crc >> 12) ^ (byte >> 4)) & 0xFu]);
        crc = (uint16_t)((uint16_t)(crc << 4) ^ nibble_table[((crc >> 12) ^ byte) & 0xFu]);
    }
    return crc;
}
