/*
 * CCSDS 121.0-B encoder: streams derived by hand from the standard's option
 * definitions (the libaec round trips on random data are in
 * tests/onboard/test_aec_libaec.py).
 */
#include <string.h>

#include "tri_aec.h"
#include "tt.h"
#include "wire_format.h"

static size_t enc8(const uint16_t *s, size_t n, uint32_t J, uint32_t rsi, uint32_t flags,
                   uint8_t *out, size_t cap)
{
    size_t bytes = 0;
    if (tri_aec_encode_u16(s, n, 8u, J, rsi, flags, out, cap, &bytes) != TRI_OK) {
        return 0;
    }
    return bytes;
}

TT_TEST(aec_zero_block_run_at_rsi_end)
{
    /* 8-bit, J = 8, rsi = 1, no preprocessor, all zero: id 000, low-entropy
     * bit 0 (zero-block), FS(1 - 1) = "1"; padded: 00001000. */
    const uint16_t s[8] = {0};
    uint8_t out[8];
    TT_CHECK_EQ(enc8(s, 8, 8, 1, 0, out, sizeof out), 1);
    TT_CHECK_EQ(out[0], 0x08);
}

TT_TEST(aec_no_compression_option)
{
    /* All 255 without preprocessor: split k=5 costs 3 + 8*7 + 8 + 40 = 107
     * bits, uncompressed 3 + 64: id 111 then eight 0xFF, padded. */
    const uint16_t s[8] = {255, 255, 255, 255, 255, 255, 255, 255};
    const uint8_t want[9] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xE0};
    uint8_t out[16];
    TT_CHECK_EQ(enc8(s, 8, 8, 1, 0, out, sizeof out), 9);
    TT_CHECK_MEM_EQ(out, want, 9);
}

TT_TEST(aec_second_extension_option)
{
    /* [1,0,0,0,0,0,0,0]: FS would cost 3 + 1 + 8 = 12 bits; second
     * extension 3 + 1 + (gamma(1,0)=1 -> "01") + 3 * "1" = 9 bits:
     * 000 1 01 1 1 1 -> 00010111 1(0000000). */
    const uint16_t s[8] = {1, 0, 0, 0, 0, 0, 0, 0};
    uint8_t out[8];
    TT_CHECK_EQ(enc8(s, 8, 8, 1, 0, out, sizeof out), 2);
    TT_CHECK_EQ(out[0], 0x17);
    TT_CHECK_EQ(out[1], 0x80);
}

TT_TEST(aec_preprocessor_reference_and_fs)
{
    /* 10..17 with the predictor: reference 10, then seven residuals +1,
     * mapped to 2. FS (k=0) costs 7*3 = 21 bits, k=1 also 21 (no better):
     * id 001, reference 00001010, seven "001". */
    const uint16_t s[8] = {10, 11, 12, 13, 14, 15, 16, 17};
    const uint8_t want[4] = {0x21, 0x44, 0x92, 0x49};
    uint8_t out[8];
    TT_CHECK_EQ(enc8(s, 8, 8, 1, WF_AEC_FLAG_PREPROCESS, out, sizeof out), 4);
    TT_CHECK_MEM_EQ(out, want, 4);
}

TT_TEST(aec_count_only_matches_written_size)
{
    uint16_t s[300];
    uint8_t out[1024];
    size_t a = 0;
    size_t b = 0;
    size_t i;
    for (i = 0; i < 300; i++) {
        s[i] = (uint16_t)((i * 7919u) % 4096u);
    }
    TT_CHECK_EQ(tri_aec_encode_u16(s, 300, 12, 16, 4, WF_AEC_FLAG_PREPROCESS, out, sizeof out, &a),
                TRI_OK);
    TT_CHECK_EQ(tri_aec_encode_u16(s, 300, 12, 16, 4, WF_AEC_FLAG_PREPROCESS, NULL, 0, &b), TRI_OK);
    TT_CHECK_EQ(a, b);
}

TT_TEST(aec_overflow_reports_size_and_stays_in_bounds)
{
    uint16_t s[64];
    uint8_t out[40];
    size_t need = 0;
    size_t i;
    for (i = 0; i < 64; i++) {
        s[i] = (uint16_t)(i * 1021u);
    }
    memset(out, 0xA5, sizeof out);
    TT_CHECK_EQ(tri_aec_encode_u16(s, 64, 16, 64, 1, 0, out, 32, &need), TRI_ERR_SIZE);
    TT_CHECK(need > 32);
    for (i = 32; i < sizeof out; i++) {
        TT_CHECK_EQ(out[i], 0xA5);
    }
}

TT_TEST(aec_rejects_bad_arguments)
{
    tri_aec_t enc;
    uint16_t s[8] = {0, 0, 0, 0, 0, 0, 0, 256};
    TT_CHECK_EQ(tri_aec_init(&enc, 0, 16, 1, 0, NULL, 0), TRI_ERR_ARG);
    TT_CHECK_EQ(tri_aec_init(&enc, 17, 16, 1, 0, NULL, 0), TRI_ERR_ARG);
    TT_CHECK_EQ(tri_aec_init(&enc, 8, 12, 1, 0, NULL, 0), TRI_ERR_ARG);
    TT_CHECK_EQ(tri_aec_init(&enc, 8, 16, 0, 0, NULL, 0), TRI_ERR_ARG);
    TT_CHECK_EQ(tri_aec_init(&enc, 8, 16, 1, 2, NULL, 0), TRI_ERR_ARG);
    TT_CHECK_EQ(tri_aec_init(&enc, 8, 8, 1, 0, NULL, 0), TRI_OK);
    TT_CHECK_EQ(tri_aec_push(&enc, s, 8), TRI_ERR_ARG); /* 256 > 8-bit range */
    TT_CHECK_EQ(tri_aec_push(&enc, s, 9), TRI_ERR_ARG);
    TT_CHECK_EQ(tri_aec_push(&enc, s, 3), TRI_OK);
    TT_CHECK_EQ(tri_aec_push(&enc, s, 3), TRI_ERR_ARG); /* after the short last block */
}
