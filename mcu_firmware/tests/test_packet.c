/* Space packet sealing and DOWNLINK_REQUEST checks, byte by byte against
 * the layout in triage/WIRE_FORMAT.md. */
#include <string.h>

#include "tri_crc16.h"
#include "tri_packet.h"
#include "tt.h"

TT_TEST(packet_segment_count_and_flags)
{
    TT_CHECK_EQ(tri_segment_count(0), 0);
    TT_CHECK_EQ(tri_segment_count(1), 1);
    TT_CHECK_EQ(tri_segment_count(1024), 1);
    TT_CHECK_EQ(tri_segment_count(1025), 2);
    TT_CHECK_EQ(tri_segment_count(65535u * 1024u), 65535);
    TT_CHECK_EQ(tri_segment_count(65535u * 1024u + 1u), 0);
    TT_CHECK_EQ(tri_seq_flags(0, 1), 3);
    TT_CHECK_EQ(tri_seq_flags(0, 3), 1);
    TT_CHECK_EQ(tri_seq_flags(1, 3), 0);
    TT_CHECK_EQ(tri_seq_flags(2, 3), 2);
}

TT_TEST(packet_seal_layout)
{
    uint8_t pkt[64];
    tri_sec_header_t sh;
    size_t n;
    memset(&sh, 0, sizeof sh);
    sh.frame_id = 0x01020304u;
    sh.product_id = 0x0506u;
    sh.segment_index = 2;
    sh.segment_count = 3;
    sh.region_row0 = 0x0a0bu;
    sh.class_id = 2;
    sh.confidence = 200;
    sh.time_s = 0x11223344u;
    sh.time_sub = 0x5566u;
    sh.spacecraft_id = 0x2C5u;
    memcpy(pkt + TRI_PACKET_SEGMENT_OFFSET, "abc", 3);
    n = tri_packet_seal(pkt, 0x101, 2, 16385, &sh, 3);
    TT_CHECK_EQ(n, 38 + 3);
    /* version 000, type 0, sec hdr 1, APID 0x101 -> 0x0901 */
    TT_CHECK_EQ(pkt[0], 0x09);
    TT_CHECK_EQ(pkt[1], 0x01);
    /* flags 10, count 16385 mod 16384 = 1 -> 0x8001 */
    TT_CHECK_EQ(pkt[2], 0x80);
    TT_CHECK_EQ(pkt[3], 0x01);
    /* data length = 30 + 3 + 2 - 1 = 34 */
    TT_CHECK_EQ(pkt[4], 0x00);
    TT_CHECK_EQ(pkt[5], 34);
    TT_CHECK_EQ(pkt[6], 5); /* format version 5: the spacecraft id in every packet */
    TT_CHECK_EQ(pkt[8], 0x01);
    TT_CHECK_EQ(pkt[11], 0x04);
    TT_CHECK_EQ(pkt[12], 0x05);
    TT_CHECK_EQ(pkt[15], 2);
    TT_CHECK_EQ(pkt[17], 3);
    TT_CHECK_EQ(pkt[18], 0x0a);
    TT_CHECK_EQ(pkt[26], 2);
    TT_CHECK_EQ(pkt[27], 200);
    TT_CHECK_EQ(pkt[28], 0x11);
    TT_CHECK_EQ(pkt[33], 0x66);
    TT_CHECK_EQ(pkt[34], 0x02); /* spacecraft id 0x2C5, big-endian */
    TT_CHECK_EQ(pkt[35], 0xC5);
    TT_CHECK_EQ(pkt[36], 'a');
    TT_CHECK_EQ(tri_crc16(0xFFFF, pkt, n), 0); /* CRC appended big-endian */
}

static size_t make_request(uint8_t *buf, const uint8_t *records, size_t nrec)
{
    size_t data = nrec * 12u + 2u;
    uint16_t c;
    buf[0] = 0x11; /* version 0, type 1 (TC), no secondary header, APID 0x110 */
    buf[1] = 0x10;
    buf[2] = 0xC0; /* unsegmented, count 0 */
    buf[3] = 0x00;
    buf[4] = (uint8_t)((data - 1u) >> 8);
    buf[5] = (uint8_t)(data - 1u);
    memcpy(buf + 6, records, nrec * 12u);
    c = tri_crc16(0xFFFF, buf, 6u + nrec * 12u);
    buf[6u + nrec * 12u] = (uint8_t)(c >> 8);
    buf[7u + nrec * 12u] = (uint8_t)c;
    return 8u + nrec * 12u;
}

TT_TEST(packet_request_check)
{
    uint8_t rec[24] = {0, 0, 0, 7, 0, 3, 1, 0, 0, 0, 0, 4, 0, 0, 0, 7, 0, 4, 2, 0, 0, 0, 0, 0};
    uint8_t buf[64];
    const uint8_t *records = NULL;
    size_t count = 0;
    size_t n = make_request(buf, rec, 2);
    tri_request_entry_t e;
    TT_CHECK_EQ(tri_request_check(buf, n, &records, &count), TRI_OK);
    TT_CHECK_EQ(count, 2);
    TT_CHECK(records == buf + 6);
    tri_request_entry_unpack(records, &e);
    TT_CHECK_EQ(e.frame_id, 7);
    TT_CHECK_EQ(e.product_id, 3);
    TT_CHECK_EQ(e.action, 1);
    TT_CHECK_EQ(e.segment_last, 4);
    /* every failure mode */
    TT_CHECK_EQ(tri_request_check(buf, n - 1, &records, &count), TRI_ERR_SIZE);
    TT_CHECK_EQ(tri_request_check(buf, 5, &records, &count), TRI_ERR_SIZE);
    TT_CHECK_EQ(tri_request_check(NULL, n, &records, &count), TRI_ERR_ARG);
    buf[10] ^= 1u;
    TT_CHECK_EQ(tri_request_check(buf, n, &records, &count), TRI_ERR_CRC);
    TT_CHECK(records == NULL);
    buf[10] ^= 1u;
    n = make_request(buf, rec, 2);
    buf[1] = 0x11; /* wrong APID, valid CRC */
    {
        uint16_t c = tri_crc16(0xFFFF, buf, n - 2);
        buf[n - 2] = (uint8_t)(c >> 8);
        buf[n - 1] = (uint8_t)c;
    }
    TT_CHECK_EQ(tri_request_check(buf, n, &records, &count), TRI_ERR_FORMAT);
}

TT_TEST(frame_meta_roundtrip_and_corruption)
{
    tri_frame_meta_t m;
    tri_frame_meta_t back;
    uint8_t buf[WF_FRAME_META_SIZE];
    memset(&m, 0, sizeof m);
    m.sample_bits = 16;
    m.bands = 4;
    m.rows = 100;
    m.cols = 200;
    m.nodata = 0;
    m.frame_id = 42;
    m.time_s = 1700000000u;
    m.crs_epsg = 3857;
    m.geotransform[0] = 0x41;
    tri_frame_meta_pack(&m, buf);
    TT_CHECK_EQ(tri_frame_meta_unpack(buf, sizeof buf, &back), TRI_OK);
    TT_CHECK_EQ(back.rows, 100);
    TT_CHECK_EQ(back.cols, 200);
    TT_CHECK_EQ(back.frame_id, 42);
    TT_CHECK_EQ(back.geotransform[0], 0x41);
    TT_CHECK_EQ(tri_frame_meta_unpack(buf, sizeof buf - 1, &back), TRI_ERR_SIZE);
    buf[9] ^= 0x40u;
    TT_CHECK_EQ(tri_frame_meta_unpack(buf, sizeof buf, &back), TRI_ERR_CRC);
    m.sample_bits = 12;
    tri_frame_meta_pack(&m, buf);
    TT_CHECK_EQ(tri_frame_meta_unpack(buf, sizeof buf, &back), TRI_ERR_FORMAT);
}
