/* CRC-32 (ISO-HDLC, zlib's) against its standard check value and known values. */
#include "tri_crc32.h"
#include "tt.h"

TT_TEST(crc32_check_value)
{
    const uint8_t msg[] = "123456789";
    TT_CHECK_EQ(tri_crc32(0u, msg, 9), 0xCBF43926u);
}

TT_TEST(crc32_known_values)
{
    /* zlib.crc32(b"") == 0, zlib.crc32(b"a") == 0xE8B7BE43,
     * zlib.crc32(bytes(4)) == 0x2144DF1C */
    const uint8_t a[] = "a";
    const uint8_t zeros[4] = {0, 0, 0, 0};
    TT_CHECK_EQ(tri_crc32(0u, a, 0), 0u);
    TT_CHECK_EQ(tri_crc32(0u, a, 1), 0xE8B7BE43u);
    TT_CHECK_EQ(tri_crc32(0u, zeros, 4), 0x2144DF1Cu);
}

TT_TEST(crc32_is_incremental)
{
    const uint8_t msg[] = "123456789";
    uint32_t c = tri_crc32(0u, msg, 4);
    TT_CHECK_EQ(tri_crc32(c, msg + 4, 5), 0xCBF43926u);
}
