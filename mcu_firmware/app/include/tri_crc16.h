/*
 * tri_crc16.h - CRC-16-CCITT as the wire format defines it (ECSS-E-ST-70-41
 * packet error control): polynomial 0x1021, initial value 0xFFFF
 * (WF_CRC16_INIT), no reflection, no final XOR. Check value: the CRC of the
 * nine bytes "123456789" is 0x29B1 (WF_CRC16_CHECK).
 */
#ifndef TRI_CRC16_H
#define TRI_CRC16_H

#include <stddef.h>
#include <stdint.h>

/* Continues a CRC over len bytes: start with crc = WF_CRC16_INIT. */
uint16_t tri_crc16(uint16_t crc, const uint8_t *data, size_t len);

#endif /* TRI_CRC16_H */
