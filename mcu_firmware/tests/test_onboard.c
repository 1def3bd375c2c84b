/*
 * The application end to end in C, so that ASan + UBSan watch every path:
 * frames of odd sizes in exactly-sized heap buffers (an over-read past the
 * frame is caught), refused frames (each with its status and counter), a
 * store that fills, directory and downlinks with and without requests.
 * The checks of content against independent references are in pytest
 * (tests/onboard); here the point is bounds and statuses.
 */
#include <stdlib.h>
#include <string.h>

#include "tri_crc16.h"
#include "tri_onboard.h"
#include "tri_packet.h"
#include "tt.h"

static uint64_t work[TRI_ONBOARD_WORK_BYTES / 8u];
static uint64_t store[(600u * 1024u) / 8u];
static tri_rule_classifier_t rule;
static uint8_t out[2u * 1024u * 1024u];
static size_t out_len;

static tri_status_t to_out(void *ctx, const uint8_t *data, size_t len)
{
    (void)ctx;
    if (out_len + len > sizeof out) {
        return TRI_ERR_IO;
    }
    memcpy(out + out_len, data, len);
    out_len += len;
    return TRI_OK;
}

static const tri_sink_t sink = {NULL, to_out};

static tri_status_t setup(tri_onboard_t *ob, size_t store_bytes)
{
    tri_classifier_t cls;
    tri_status_t st = tri_classifier_rule(&cls, &rule);
    if (st != TRI_OK) {
        return st;
    }
    return tri_onboard_init(ob, store, store_bytes, work, sizeof work, &cls, NULL);
}

/* A frame in a heap block of exactly its size: sea, a bright NIR ship, land. */
static uint8_t *make_frame(uint32_t rows, uint32_t cols, uint32_t bands, uint32_t bps,
                           uint32_t seed, size_t *bytes)
{
    size_t n = (size_t)rows * cols * bands;
    uint8_t *p = (uint8_t *)malloc(n * bps + 1u);
    size_t i;
    uint32_t x = seed;
    for (i = 0; i < n; i++) {
        uint32_t r = (uint32_t)(i / ((size_t)cols * bands));
        uint32_t c = (uint32_t)((i / bands) % cols);
        uint32_t b = (uint32_t)(i % bands);
        uint32_t v;
        x = x * 1103515245u + 12345u;
        v = 600u + (x >> 16) % 900u;
        if (b == 3u) {
            v = 200u + (x >> 16) % 500u;
        }
        if (r >= 10u && r < 13u && c >= 10u && c < 15u && b == 3u) {
            v = 60000u;
        }
        if (c + 20u >= cols && r + 20u >= rows) {
            v = 15000u;
        }
        if (bps == 1u) {
            p[i] = (uint8_t)(v >> 8);
        } else {
            p[2u * i] = (uint8_t)v;
            p[2u * i + 1u] = (uint8_t)(v >> 8);
        }
    }
    *bytes = n * bps;
    return p;
}

static void make_meta(uint8_t *buf, uint32_t frame_id, uint32_t rows, uint32_t cols,
                      uint32_t bands, uint32_t bits, uint16_t nodata)
{
    tri_frame_meta_t m;
    memset(&m, 0, sizeof m);
    m.frame_id = frame_id;
    m.rows = (uint16_t)rows;
    m.cols = (uint16_t)cols;
    m.bands = (uint8_t)bands;
    m.sample_bits = (uint8_t)bits;
    m.nodata = nodata;
    tri_frame_meta_pack(&m, buf);
}

static tri_status_t run(tri_onboard_t *ob, uint32_t id, uint32_t rows, uint32_t cols,
                        uint32_t bands, uint32_t bps, tri_frame_report_t *rep)
{
    uint8_t meta[WF_FRAME_META_SIZE];
    size_t bytes;
    uint8_t *f = make_frame(rows, cols, bands, bps, id, &bytes);
    tri_status_t st;
    make_meta(meta, id, rows, cols, bands, 8u * bps, 0u);
    st = tri_onboard_process_frame(ob, meta, sizeof meta, f, bytes, rep);
    out_len = 0;
    if (tri_onboard_frame_record(ob, rep, &sink) != TRI_OK) {
        st = TRI_ERR_IO;
    }
    free(f);
    return st;
}

TT_TEST(onboard_odd_sizes_in_exact_buffers)
{
    tri_onboard_t ob;
    tri_frame_report_t rep;
    static const uint32_t sizes[][2] = {{16, 16}, {17, 300}, {33, 47}, {47, 33}, {32, 301}, {161, 32},
                                        {99, 131}, {64, 64}, {100, 37}};
    size_t i;
    TT_CHECK_EQ(setup(&ob, sizeof store), TRI_OK);
    for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        TT_CHECK_EQ(run(&ob, (uint32_t)(10u + i), sizes[i][0], sizes[i][1], TRI_CFG_BANDS, 2, &rep),
                    TRI_OK);
        TT_CHECK_EQ(rep.grid_rows, tri_onboard_grid(&ob, NULL, NULL, NULL) / rep.grid_cols);
        TT_CHECK_EQ(run(&ob, (uint32_t)(100u + i), sizes[i][0], sizes[i][1], TRI_CFG_BANDS, 1,
                        &rep),
                    TRI_OK);
        TT_CHECK_EQ(tri_store_check(&ob.store), TRI_OK);
    }
    out_len = 0;
    TT_CHECK_EQ(tri_onboard_downlink(&ob, 0xFFFFFFFFu, NULL, 0, &sink, &out_len), TRI_OK);
    TT_CHECK(out_len > 0u);
}

TT_TEST(onboard_refusals_have_status_and_counter)
{
    tri_onboard_t ob;
    tri_frame_report_t rep;
    uint8_t meta[WF_FRAME_META_SIZE];
    size_t bytes;
    uint8_t *f;
    TT_CHECK_EQ(setup(&ob, sizeof store), TRI_OK);
    TT_CHECK_EQ(run(&ob, 1, 15, 64, TRI_CFG_BANDS, 2, &rep), TRI_ERR_SHAPE); /* under a cell */
    TT_CHECK_EQ(ob.counters.geometry_errors, 1);
    TT_CHECK_EQ(run(&ob, 1, 64, 64, TRI_CFG_BANDS - 1u, 2, &rep), TRI_ERR_SHAPE);
    TT_CHECK_EQ(ob.counters.band_mismatches, 1);
    f = make_frame(64, 64, TRI_CFG_BANDS, 2, 1, &bytes);
    make_meta(meta, 1, 0, 64, TRI_CFG_BANDS, 16, 0);
    TT_CHECK_EQ(tri_onboard_process_frame(&ob, meta, sizeof meta, f, bytes, &rep), TRI_ERR_SHAPE);
    TT_CHECK_EQ(ob.counters.geometry_errors, 2);
    make_meta(meta, 1, 64, 64, TRI_CFG_BANDS, 16, 0);
    TT_CHECK_EQ(tri_onboard_process_frame(&ob, meta, sizeof meta, f, bytes - 1u, &rep),
                TRI_ERR_SIZE);
    TT_CHECK_EQ(tri_onboard_process_frame(&ob, meta, sizeof meta, NULL, bytes, &rep),
                TRI_ERR_SIZE);
    TT_CHECK_EQ(ob.counters.size_errors, 2);
    TT_CHECK_EQ(tri_onboard_process_frame(&ob, meta, sizeof meta - 1u, f, bytes, &rep),
                TRI_ERR_SIZE);
    TT_CHECK_EQ(tri_onboard_process_frame(&ob, NULL, 0, f, bytes, &rep), TRI_ERR_ARG);
    TT_CHECK_EQ(ob.counters.meta_format_errors, 2);
    meta[20] ^= 1u;
    TT_CHECK_EQ(tri_onboard_process_frame(&ob, meta, sizeof meta, f, bytes, &rep), TRI_ERR_CRC);
    TT_CHECK_EQ(ob.counters.meta_crc_errors, 1);
    make_meta(meta, 1, 2048, 2048, TRI_CFG_BANDS, 16, 0); /* 32 MiB: over frame memory */
    TT_CHECK_EQ(tri_onboard_process_frame(&ob, meta, sizeof meta, f, bytes, &rep), TRI_ERR_SIZE);
    memset(f, 0, bytes); /* every pixel no-data */
    make_meta(meta, 1, 64, 64, TRI_CFG_BANDS, 16, 0);
    TT_CHECK_EQ(tri_onboard_process_frame(&ob, meta, sizeof meta, f, bytes, &rep),
                TRI_ERR_NODATA);
    TT_CHECK_EQ(ob.counters.nodata_frames, 1);
    TT_CHECK_EQ(rep.cells_nodata, 16); /* 64 x 64: 4 x 4 cells */
    TT_CHECK_EQ(ob.store.live_count, 0);
    memset(f, 0xFF, bytes); /* saturated: processed, counted */
    TT_CHECK_EQ(tri_onboard_process_frame(&ob, meta, sizeof meta, f, bytes, &rep), TRI_OK);
    TT_CHECK_EQ(rep.cells_saturated, 16);
    TT_CHECK_EQ(tri_onboard_process_frame(&ob, meta, sizeof meta, f, bytes, &rep), TRI_ERR_ARG);
    TT_CHECK_EQ(ob.counters.duplicate_frames, 1);
    free(f);
}

TT_TEST(onboard_store_fills_and_stays_consistent)
{
    tri_onboard_t ob;
    tri_frame_report_t rep;
    uint32_t k;
    uint32_t dropped = 0;
    TT_CHECK_EQ(setup(&ob, tri_store_overhead_bytes() + 12000u), TRI_OK);
    for (k = 0; k < 12u; k++) {
        TT_CHECK_EQ(run(&ob, 200u + k, 96, 128, TRI_CFG_BANDS, 2, &rep), TRI_OK);
        dropped += rep.products_dropped;
        TT_CHECK_EQ(tri_store_check(&ob.store), TRI_OK);
        TT_CHECK(ob.store.live_bytes <= ob.store.data_bytes);
    }
    TT_CHECK(dropped > 0u);
    TT_CHECK_EQ(ob.counters.products_dropped, dropped);
}

TT_TEST(onboard_directory_and_downlink_paths)
{
    tri_onboard_t ob;
    tri_frame_report_t rep;
    uint8_t req[6u + 4u * 12u + 2u];
    uint16_t c;
    size_t n = 0;
    size_t i;
    static const uint8_t recs[4][12] = {
        {0, 0, 0, 50, 0, 2, 1, 0, 0, 0, 0xFF, 0xFF}, /* ship crop: all segments */
        {0, 0, 0, 50, 0, 0, 2, 0, 0, 0, 0, 0},       /* release the quicklook */
        {0, 0, 0, 51, 0, 0, 1, 0, 0, 9, 0, 3},       /* unknown frame */
        {0, 0, 0, 50, 0, 1, 9, 0, 0, 0, 0, 0},       /* bad action */
    };
    TT_CHECK_EQ(setup(&ob, sizeof store), TRI_OK);
    TT_CHECK_EQ(run(&ob, 50, 96, 128, TRI_CFG_BANDS, 2, &rep), TRI_OK);
    TT_CHECK(rep.ship_regions >= 1u);
    out_len = 0;
    TT_CHECK_EQ(tri_onboard_directory(&ob, &sink, &n), TRI_OK);
    TT_CHECK_EQ(n, out_len);
    TT_CHECK_EQ(tri_crc16(0xFFFF, out, out_len), 0); /* one packet: its CRC checks */
    req[0] = 0x11;
    req[1] = 0x10;
    req[2] = 0xC0;
    req[3] = 0;
    req[4] = 0;
    req[5] = (uint8_t)(sizeof req - 7u);
    memcpy(req + 6, recs, sizeof recs);
    c = tri_crc16(0xFFFF, req, sizeof req - 2u);
    req[sizeof req - 2u] = (uint8_t)(c >> 8);
    req[sizeof req - 1u] = (uint8_t)c;
    for (i = 0; i <= sizeof req; i++) { /* every truncation is refused, never read past */
        uint8_t *copy = (uint8_t *)malloc(i + 1u);
        memcpy(copy, req, i);
        out_len = 0;
        TT_CHECK_EQ(tri_onboard_downlink(&ob, 100000u, copy, i, &sink, &n) == TRI_OK,
                    i == sizeof req ? 1 : 0);
        free(copy);
    }
    TT_CHECK(out_len > 0u);
    TT_CHECK_EQ(ob.counters.request_entries_unknown, 1);
    TT_CHECK_EQ(ob.counters.request_entries_invalid, 1);
    TT_CHECK_EQ(ob.counters.products_released, 1);
    TT_CHECK_EQ(ob.counters.requests_rejected, sizeof req);
    out_len = 0;
    TT_CHECK_EQ(tri_onboard_downlink(&ob, 0, NULL, 0, &sink, &n), TRI_OK);
    TT_CHECK_EQ(n, 0);
}
