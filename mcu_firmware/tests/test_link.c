/*
 * The link layer (tri_link.c, tri_rs.c): the fast Reed-Solomon encoder against
 * the reference division register, hand-derived budgets and fills, refusals.
 * The frames and CADUs themselves are checked against the contract's
 * reference encoder, reedsolo and gr-satellites by tests/link and
 * tests/onboard/test_link_onboard.py.
 */
#include <string.h>

#include "tri_be.h"
#include "tri_crc16.h"
#include "tri_link.h"
#include "tri_rs.h"
#include "tt.h"

TT_TEST(rs_fast_encoder_equals_reference)
{
    uint8_t info[WF_RS_K * 3u];
    uint8_t fast[WF_RS_PARITY * 3u];
    uint8_t ref[WF_RS_PARITY * 3u];
    uint32_t seed = 12345u;
    uint32_t trial;
    uint32_t i;
    for (trial = 0; trial < 200u; trial++) {
        for (i = 0; i < sizeof info; i++) {
            seed = seed * 1103515245u + 12345u;
            info[i] = (uint8_t)(trial < 2u ? trial * 255u : seed >> 24); /* zeros, ones, noise */
        }
        tri_rs_encode(info + 1, 3u, fast + 1);
        tri_rs_encode_ref(info + 1, 3u, ref + 1);
        for (i = 0; i < WF_RS_PARITY; i++) {
            TT_CHECK_EQ(fast[1u + 3u * i], ref[1u + 3u * i]);
        }
    }
}

TT_TEST(rs_zero_information_has_zero_check_symbols)
{
    /* the code is linear: the all-zero word is a codeword (0 is 0 in both bases) */
    uint8_t block[WF_CODEBLOCK_BYTES];
    uint32_t i;
    memset(block, 0, sizeof block);
    block[WF_FRAME_BYTES + 7u] = 0xAAu;
    tri_rs_encode_codeblock(block);
    for (i = 0; i < WF_CODEBLOCK_BYTES; i++) {
        TT_CHECK_EQ(block[i], 0);
    }
}

TT_TEST(link_budget_whole_frames_minus_the_smallest_idle_packet)
{
    uint8_t buf[WF_CADU_BYTES];
    tri_link_t l;
    TT_CHECK_EQ(tri_link_init(&l, buf, WF_LINK_CADU, 1u), TRI_OK);
    TT_CHECK_EQ(tri_link_packet_budget(&l, 0u), 0u);
    TT_CHECK_EQ(tri_link_packet_budget(&l, 1278u), 0u);
    TT_CHECK_EQ(tri_link_packet_budget(&l, 1279u), 1107u - 8u);
    TT_CHECK_EQ(tri_link_packet_budget(&l, 3u * 1279u + 1278u), 3u * 1107u - 8u);
    TT_CHECK_EQ(tri_link_unit_bytes(&l), 1279u);
    TT_CHECK_EQ(tri_link_init(&l, buf, WF_LINK_PACKETS, 1u), TRI_OK);
    TT_CHECK_EQ(tri_link_packet_budget(&l, 777u), 777u);
    TT_CHECK_EQ(tri_link_init(&l, buf, 3u, 1u), TRI_ERR_ARG);
    TT_CHECK_EQ(tri_link_init(&l, buf, WF_LINK_FRAMES, 1024u), TRI_ERR_ARG);
    TT_CHECK_EQ(tri_link_init(&l, NULL, WF_LINK_FRAMES, 1u), TRI_ERR_ARG);
}

typedef struct {
    uint8_t frames[3][WF_FRAME_BYTES];
    uint32_t n;
} frames_t;

static tri_status_t keep(void *ctx, const uint8_t *data, size_t len)
{
    frames_t *f = (frames_t *)ctx;
    if (len != WF_FRAME_BYTES || f->n >= 3u) {
        return TRI_ERR_SIZE;
    }
    memcpy(f->frames[f->n++], data, len);
    return TRI_OK;
}

TT_TEST(link_fill_shorter_than_an_idle_packet_takes_one_frame_more)
{
    /* packets of 1060 and 43 bytes leave 4 of the 1107, less than the 8-byte
     * idle packet: the fill is 4 + 1107 = 1111 bytes, two idle packets of 555
     * and 556; the first's header straddles the frames (4 bytes, then its
     * length field at the start of frame 2), it ends 551 bytes into frame 2,
     * where the second starts */
    static uint8_t buf[WF_CADU_BYTES];
    static frames_t out;
    uint8_t a[1060];
    uint8_t b[43];
    tri_link_t l;
    tri_sink_t sink = {&out, keep};
    memset(&out, 0, sizeof out);
    memset(a, 0x11, sizeof a);
    memset(b, 0x22, sizeof b);
    tri_put_be16(a + 4, (uint16_t)(sizeof a - 7u));
    tri_put_be16(b + 4, (uint16_t)(sizeof b - 7u));
    TT_CHECK_EQ(tri_link_init(&l, buf, WF_LINK_FRAMES, 0x1A7u), TRI_OK);
    TT_CHECK_EQ(tri_link_put(&l, 0u, a, sizeof a, &sink), TRI_OK);
    TT_CHECK_EQ(tri_link_put(&l, 0u, b, sizeof b, &sink), TRI_OK);
    TT_CHECK_EQ(out.n, 0u);
    TT_CHECK_EQ(tri_link_flush(&l, &sink), TRI_OK);
    TT_CHECK_EQ(out.n, 2u);
    TT_CHECK_EQ(tri_get_be16(out.frames[0] + 4) & 0x7FFu, 0u);   /* a starts at 0 */
    TT_CHECK_EQ(tri_get_be16(out.frames[1] + 4) & 0x7FFu, 551u);
    TT_CHECK_EQ(tri_get_be16(out.frames[0] + 6 + 1103), 0x07FFu); /* idle APID, no sec. hdr */
    TT_CHECK_EQ(tri_get_be16(out.frames[1] + 6), 555u - 7u);
    TT_CHECK_EQ(tri_get_be16(out.frames[1] + 6 + 551 + 4), 556u - 7u);
    TT_CHECK_EQ(tri_crc16((uint16_t)WF_CRC16_INIT, out.frames[1], WF_FRAME_BYTES), 0u);
    TT_CHECK_EQ(l.idle_bytes, 1111u);
    TT_CHECK_EQ(tri_link_flush(&l, &sink), TRI_OK); /* nothing in progress: nothing sent */
    TT_CHECK_EQ(out.n, 2u);
}

TT_TEST(link_refuses_packets_whose_length_field_disagrees)
{
    static uint8_t buf[WF_CADU_BYTES];
    static frames_t out;
    uint8_t p[20];
    tri_link_t l;
    tri_sink_t sink = {&out, keep};
    memset(p, 0, sizeof p);
    tri_put_be16(p + 4, 20u - 7u);
    TT_CHECK_EQ(tri_link_init(&l, buf, WF_LINK_FRAMES, 1u), TRI_OK);
    TT_CHECK_EQ(tri_link_put(&l, 0u, p, 19u, &sink), TRI_ERR_ARG);
    TT_CHECK_EQ(tri_link_put(&l, 0u, p, 6u, &sink), TRI_ERR_ARG);
    TT_CHECK_EQ(tri_link_put(&l, 8u, p, 20u, &sink), TRI_ERR_ARG);
    TT_CHECK_EQ(tri_link_put(&l, 0u, p, 20u, &sink), TRI_OK);
    TT_CHECK_EQ(l.fill, 20u);
}
