/* CRC-16-CCITT against the standard check values (CRC-16/CCITT-FALSE). */
#include <string.h>

#include "tri_crc16.h"
#include "tt.h"
#include "wire_format.h"

TT_TEST(crc16_check_value)
{
    const uint8_t msg[] = "123456789";
    TT_CHECK_EQ(tri_crc16((uint16_t)WF_CRC16_INIT, msg, 9), WF_CRC16_CHECK);
}

TT_TEST(crc16_known_values)
{
    const uint8_t a[] = "A";
    TT_CHECK_EQ(tri_crc16((uint16_t)WF_CRC16_INIT, a, 0), 0xFFFF);
    TT_CHECK_EQ(tri_crc16((uint16_t)WF_CRC16_INIT, a, 1), 0xB915);
}

TT_TEST(crc16_is_incremental)
{
    const uint8_t msg[] = "123456789";
    uint16_t c = tri_crc16((uint16_t)WF_CRC16_INIT, msg, 4);
    TT_CHECK_EQ(tri_crc16(c, msg + 4, 5), WF_CRC16_CHECK);
}

TT_TEST(crc16_of_message_and_crc_is_zero)
{
    /* Appending the big-endian CRC makes the CRC of the whole zero (no
     * final XOR, no reflection). */
    uint8_t buf[11];
    uint16_t c;
    memcpy(buf, "123456789", 9);
    c = tri_crc16((uint16_t)WF_CRC16_INIT, buf, 9);
    buf[9] = (uint8_t)(c >> 8);
    buf[10] = (uint8_t)c;
    TT_CHECK_EQ(tri_crc16((uint16_t)WF_CRC16_INIT, buf, 11), 0);
}
