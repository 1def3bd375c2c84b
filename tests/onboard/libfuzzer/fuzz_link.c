/*
 * fuzz_link.c - libFuzzer target for the firmware's link layer and the
 * parsers of what it receives, built with clang -fsanitize=fuzzer,address,
 * undefined (tests/onboard/libfuzzer_harness.py).
 *
 * The first input byte chooses the target (modulo 3), the rest drives it:
 *
 *   0  the frame encoder (tri_link.c, tri_rs.c): mode, spacecraft id, then a
 *      script of packets (virtual channel, length, content seed) and
 *      flushes. Every frame or CADU the sink gets is checked: its length, the
 *      header (version, spacecraft id, VC, master and VC counts in sequence),
 *      the FECF, in CADU mode the marker, the randomiser and the
 *      Reed-Solomon check symbols (re-encoded), and the packets read back
 *      from the frames by their first header pointers and lengths must be
 *      exactly the packets put (then idle packets).
 *   1  DOWNLINK_REQUEST parsing (tri_request_check) on the raw bytes, and a
 *      pass in CADU mode that follows them after a directory (the store
 *      holds products of a small frame made once).
 *   2  FRAME_META parsing (tri_frame_meta_unpack) on the raw bytes.
 *
 * A violated check aborts (a finding, like a sanitizer report).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tri_be.h"
#include "tri_crc16.h"
#include "tri_link.h"
#include "tri_onboard.h"
#include "tri_packet.h"
#include "tri_rs.h"
#include "wf_link_tables.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "INVARIANT VIOLATED: %s\n", what);
        abort();
    }
}

/* ---- target 0: the frame encoder ---- */

#define MAX_PUT 64u
static uint8_t sent[MAX_PUT * WF_MAX_PACKET_BYTES]; /* packets put, per VC run */
static size_t sent_len;
static uint8_t got[MAX_PUT * WF_MAX_PACKET_BYTES + 4u * WF_DATA_FIELD_BYTES];
static size_t got_len;

typedef struct {
    uint32_t mode;
    uint32_t scid;
    uint32_t frames;
    uint8_t mc;
    uint8_t vc[WF_VC_COUNT];
    int have_vc;
    uint32_t vcid;
} seen_t;

static tri_status_t frame_sink(void *ctx, const uint8_t *data, size_t len)
{
    seen_t *s = (seen_t *)ctx;
    uint8_t block[WF_CADU_BYTES];
    uint8_t parity[WF_CHECK_BYTES];
    const uint8_t *frame = data;
    uint16_t w0;
    uint16_t w2;
    uint32_t vcid;
    uint32_t i;
    if (s->mode == WF_LINK_CADU) {
        check(len == WF_CADU_BYTES, "CADU length");
        check(tri_get_be32(data) == WF_ASM, "sync marker");
        for (i = 0; i < WF_CODEBLOCK_BYTES; i++) {
            block[i] = (uint8_t)(data[WF_ASM_BYTES + i] ^ wf_randomiser[i % WF_RANDOMISER_PERIOD]);
        }
        memcpy(parity, block + WF_FRAME_BYTES, sizeof parity);
        for (i = 0; i < WF_RS_INTERLEAVE; i++) { /* the reference encoder agrees */
            tri_rs_encode_ref(block + i, WF_RS_INTERLEAVE, block + WF_FRAME_BYTES + i);
        }
        check(memcmp(parity, block + WF_FRAME_BYTES, sizeof parity) == 0, "RS check symbols");
        frame = block;
    } else {
        check(len == WF_FRAME_BYTES, "frame length");
    }
    check(tri_crc16((uint16_t)WF_CRC16_INIT, frame, WF_FRAME_BYTES) == 0u, "FECF");
    w0 = tri_get_be16(frame);
    w2 = tri_get_be16(frame + 4);
    vcid = ((uint32_t)w0 >> WF_TM_FRAME_HEADER_VCID_SHIFT) & WF_TM_FRAME_HEADER_VCID_MASK;
    check((w0 >> WF_TM_FRAME_HEADER_VERSION_SHIFT) == 0u, "version");
    check((((uint32_t)w0 >> WF_TM_FRAME_HEADER_SPACECRAFT_ID_SHIFT) &
           WF_TM_FRAME_HEADER_SPACECRAFT_ID_MASK) == s->scid,
          "spacecraft id");
    check((w0 & 1u) == 0u && (w2 >> 11) == WF_SEGMENT_LENGTH_ID, "flags");
    check(frame[2] == s->mc, "master channel count");
    check(frame[3] == s->vc[vcid], "virtual channel count");
    s->mc++;
    s->vc[vcid]++;
    s->frames++;
    if (!s->have_vc || vcid != s->vcid) {
        got_len = 0; /* a new VC run: the stream restarts */
        s->have_vc = 1;
        s->vcid = vcid;
    }
    {
        uint32_t fhp = (uint32_t)w2 & WF_TM_FRAME_HEADER_FIRST_HEADER_POINTER_MASK;
        /* the pointer is where the packets of the run say a packet starts */
        size_t pos = 0;
        size_t start = got_len;
        while (pos < start) {
            check(start - pos >= WF_PRIMARY_HEADER_SIZE || pos + WF_PRIMARY_HEADER_SIZE > start,
                  "run");
            if (pos + WF_PRIMARY_HEADER_SIZE > start) {
                break;
            }
            pos += (size_t)tri_get_be16(got + pos + 4) + 7u;
        }
        if (pos + WF_PRIMARY_HEADER_SIZE > start && pos < start) {
            /* the header itself spans: read it from both frames */
            uint8_t h[WF_PRIMARY_HEADER_SIZE];
            size_t k;
            for (k = 0; k < WF_PRIMARY_HEADER_SIZE; k++) {
                h[k] = pos + k < start ? got[pos + k] : frame[6u + (pos + k - start)];
            }
            pos += (size_t)tri_get_be16(h + 4) + 7u;
        }
        if (pos - start < WF_DATA_FIELD_BYTES) {
            check(fhp == pos - start, "first header pointer");
        } else {
            check(fhp == WF_FHP_NO_PACKET, "no packet starts: 0x7FF");
        }
    }
    if (got_len + WF_DATA_FIELD_BYTES <= sizeof got) {
        memcpy(got + got_len, frame + 6, WF_DATA_FIELD_BYTES);
        got_len += WF_DATA_FIELD_BYTES;
    }
    return TRI_OK;
}

static void encoder(const uint8_t *in, size_t n)
{
    static uint8_t buf[WF_CADU_BYTES];
    uint8_t pkt[WF_MAX_PACKET_BYTES];
    tri_link_t link;
    seen_t s;
    tri_sink_t sink = {&s, frame_sink};
    size_t i = 2;
    uint32_t puts = 0;
    if (n < 2u) {
        return;
    }
    memset(&s, 0, sizeof s);
    s.mode = 1u + (in[0] & 1u);
    s.scid = ((uint32_t)in[1] << 2) & WF_MAX_SPACECRAFT_ID;
    check(tri_link_init(&link, buf, s.mode, s.scid) == TRI_OK, "init");
    check(tri_link_init(&link, buf, 3u, 0u) == TRI_ERR_ARG, "bad mode refused");
    check(tri_link_init(&link, buf, s.mode, WF_MAX_SPACECRAFT_ID + 1u) == TRI_ERR_ARG,
          "bad id refused");
    check(tri_link_init(&link, buf, s.mode, s.scid) == TRI_OK, "init");
    sent_len = 0;
    got_len = 0;
    while (i + 3u <= n && puts < MAX_PUT) {
        uint32_t op = in[i];
        uint32_t vcid = op & 7u;
        uint32_t len = (((uint32_t)in[i + 1] << 8) | in[i + 2]) % (WF_MAX_PACKET_BYTES + 8u);
        uint32_t k;
        i += 3u;
        if ((op & 0x80u) != 0u) {
            check(tri_link_flush(&link, &sink) == TRI_OK, "flush");
            check(link.fill == 0u, "flushed");
            continue;
        }
        /* a packet: header with its length, content from the input */
        for (k = 0; k < len && k < sizeof pkt; k++) {
            pkt[k] = i + k < n ? in[i + k] : (uint8_t)k;
        }
        if (len >= WF_PRIMARY_HEADER_SIZE + 1u) {
            /* op bit 6: a length field that disagrees with the packet's length */
            tri_put_be16(pkt + 4, (uint16_t)(len - 7u + ((op & 0x40u) != 0u ? 1u : 0u)));
        }
        if (len < WF_PRIMARY_HEADER_SIZE + 1u || len > WF_MAX_PACKET_BYTES || (op & 0x40u) != 0u) {
            check(tri_link_put(&link, vcid, len >= WF_PRIMARY_HEADER_SIZE ? pkt : NULL, len,
                               &sink) == TRI_ERR_ARG,
                  "bad packet refused");
            continue;
        }
        check(tri_link_put(&link, vcid, pkt, len, &sink) == TRI_OK, "put");
        puts++;
        check(link.fill < WF_DATA_FIELD_BYTES, "a full frame leaves at once");
    }
    check(tri_link_flush(&link, &sink) == TRI_OK, "last flush");
    check(link.fill == 0u && link.frames_sent == s.frames, "frames counted");
    check(tri_link_packet_budget(&link, 0u) == 0u, "no budget, no packets");
}

/* ---- target 1: requests, and a CADU pass that follows one ---- */

static uint64_t work[TRI_ONBOARD_WORK_BYTES / 8u];
static uint64_t store[(128u * 1024u) / 8u];
static int8_t rule_in[TRI_CFG_THUMB_PX * TRI_CFG_THUMB_PX * TRI_CFG_BANDS];
static uint16_t pixels[96u * 96u * TRI_CFG_BANDS];

static tri_status_t count_sink(void *ctx, const uint8_t *data, size_t len)
{
    size_t *total = (size_t *)ctx;
    check(len == WF_CADU_BYTES && tri_get_be32(data) == WF_ASM, "a CADU");
    *total += len;
    return TRI_OK;
}

static void request(const uint8_t *in, size_t n)
{
    static tri_onboard_t ob;
    static int ready;
    const uint8_t *records = NULL;
    size_t count = 0;
    size_t total = 0;
    size_t len = 0;
    tri_sink_t sink = {&total, count_sink};
    uint8_t *copy = (uint8_t *)malloc(n > 0u ? n : 1u); /* exact size: ASan sees overreads */
    tri_status_t st;
    memcpy(copy, in, n);
    st = tri_request_check(copy, n, &records, &count);
    if (st == TRI_OK) {
        check(records == copy + WF_PRIMARY_HEADER_SIZE, "records start after the header");
        check(WF_PRIMARY_HEADER_SIZE + count * WF_REQUEST_ENTRY_SIZE + WF_CRC_SIZE == n,
              "records fill the packet");
    } else {
        check(records == NULL && count == 0u, "nothing on refusal");
    }
    if (!ready) {
        tri_classifier_t cls;
        tri_frame_meta_t m;
        uint8_t meta[WF_FRAME_META_SIZE];
        tri_frame_report_t rep;
        uint32_t k;
        check(tri_classifier_rule(&cls, rule_in) == TRI_OK, "rule");
        check(tri_onboard_init(&ob, store, sizeof store, work, sizeof work, &cls, NULL) == TRI_OK,
              "onboard init");
        for (k = 0; k < sizeof pixels / sizeof pixels[0]; k++) {
            pixels[k] = (uint16_t)(600u + (k * 7919u) % 900u);
        }
        memset(&m, 0, sizeof m);
        m.magic = WF_FRAME_META_MAGIC;
        m.version = WF_FORMAT_VERSION;
        m.sample_bits = 16u;
        m.bands = TRI_CFG_BANDS;
        m.rows = 96u;
        m.cols = 96u;
        m.frame_id = 7u;
        tri_frame_meta_pack(&m, meta);
        (void)tri_onboard_process_frame(&ob, meta, sizeof meta, (const uint8_t *)pixels,
                                        sizeof pixels, &rep);
        ready = 1;
    }
    check(tri_onboard_set_link(&ob, WF_LINK_CADU, 0x1A7u) == TRI_OK, "CADU mode");
    check(tri_onboard_directory(&ob, &sink, &len) == TRI_OK, "directory");
    st = tri_onboard_downlink(&ob, n > 0u ? 2u * 1279u * (in[0] & 3u) : 0u, copy, n, &sink, &len);
    check(st == TRI_OK || st == TRI_ERR_SIZE || st == TRI_ERR_FORMAT || st == TRI_ERR_CRC,
          "known status");
    check(len % WF_CADU_BYTES == 0u && len <= 2u * 1279u * 3u, "whole CADUs within the budget");
    check(tri_store_check(&ob.store) == TRI_OK, "store invariants");
    free(copy);
}

/* ---- target 2: FRAME_META ---- */

static void frame_meta(const uint8_t *in, size_t n)
{
    tri_frame_meta_t m;
    uint8_t *copy = (uint8_t *)malloc(n > 0u ? n : 1u);
    tri_status_t st;
    memcpy(copy, in, n);
    st = tri_frame_meta_unpack(copy, n, &m);
    check(st == TRI_OK || st == TRI_ERR_SIZE || st == TRI_ERR_FORMAT || st == TRI_ERR_CRC,
          "known status");
    if (st == TRI_OK) {
        check(n == WF_FRAME_META_SIZE && m.magic == WF_FRAME_META_MAGIC, "accepted meta");
    }
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0u) {
        return 0;
    }
    switch (data[0] % 3u) {
    case 0:
        encoder(data + 1, size - 1u);
        break;
    case 1:
        request(data + 1, size - 1u);
        break;
    default:
        frame_meta(data + 1, size - 1u);
        break;
    }
    return 0;
}
