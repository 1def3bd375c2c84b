/*
 * fuzz_onboard.c - a coverage-guided mutation fuzzer for the on-board
 * application's input entry points (FRAME_META, frame geometry and size,
 * DOWNLINK_REQUEST), built with gcc: ASan + UBSan catch memory and
 * arithmetic errors, -fsanitize-coverage=trace-pc on the firmware sources
 * gives edge coverage, and inputs that reach new edges join the corpus
 * (the fuzzer and its command line: fuzz_core.c).
 *
 * Input layout (every part optional: a short input just stops early):
 *   [0..87]   FRAME_META record
 *   [88]      flags: bit 0 recompute the meta CRC (to get past it), bit 1
 *             frame size = what the meta implies (else [89..92] mod cap),
 *             bit 2 run a second frame with the same meta (duplicate id),
 *             bit 3 the request goes through unmodified (else its CRC is
 *             recomputed)
 *   [89..92]  frame size in bytes, little-endian (bit 1 clear)
 *   [93..94]  downlink budget / 16, little-endian
 *   [95]      length of the pixel pattern P (0: 1)
 *   [96..]    the pattern P (pixels repeat it), then the request telecommand
 * After every step the store's invariants and the counters' bookkeeping are
 * checked; a violation aborts (a finding, like a sanitizer report).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_core.h"

#include "tri_crc16.h"
#include "tri_onboard.h"

#define FRAME_CAP (96u * 1024u)

/* ---- the target ---- */
static uint64_t work[TRI_ONBOARD_WORK_BYTES / 8u];
static uint64_t store[(256u * 1024u) / 8u];
static tri_rule_classifier_t rule_state;
static size_t sunk;

static tri_status_t sink_write(void *ctx, const uint8_t *data, size_t len)
{
    (void)ctx;
    if (len > 0u && (data[0] == 0xAAu && data[len - 1u] == 0x55u)) {
        sunk++; /* touch the bytes so that ASan checks the whole range */
    }
    sunk += len;
    return TRI_OK;
}

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "INVARIANT VIOLATED: %s\n", what);
        abort();
    }
}

static int known_status(tri_status_t st)
{
    return st <= TRI_OK && st >= TRI_ERR_NODATA;
}

static void check_state(const tri_onboard_t *ob)
{
    const tri_onboard_counters_t *c = &ob->counters;
    check(tri_store_check(&ob->store) == TRI_OK, "store invariants");
    check(c->frames_in == c->frames_ok + c->meta_crc_errors + c->meta_format_errors +
                              c->geometry_errors + c->band_mismatches + c->size_errors +
                              c->duplicate_frames + c->nodata_frames + c->classifier_errors,
          "every frame is either processed or refused with a counter");
}

void fuzz_run_one(const uint8_t *in, size_t n)
{
    tri_onboard_t ob;
    tri_classifier_t cls;
    tri_frame_report_t rep;
    const tri_sink_t sink = {NULL, sink_write};
    uint8_t meta[WF_FRAME_META_SIZE];
    size_t meta_len = n < sizeof meta ? n : sizeof meta;
    uint8_t flags = n > 88u ? in[88] : 0u;
    size_t frame_bytes = 0;
    uint32_t budget = 0xFFFFFFFFu;
    const uint8_t *pat = NULL;
    size_t pat_len = 0;
    const uint8_t *req = NULL;
    size_t req_len = 0;
    uint8_t *frame;
    size_t len = 0;
    size_t i;
    tri_status_t st;

    check(tri_classifier_rule(&cls, &rule_state) == TRI_OK, "rule classifier");
    check(tri_onboard_init(&ob, store, sizeof store, work, sizeof work, &cls, NULL) == TRI_OK,
          "init");
    memcpy(meta, in, meta_len);
    if ((flags & 1u) != 0u && meta_len == sizeof meta) {
        uint16_t c = tri_crc16(0xFFFF, meta, WF_FRAME_META_CRC_OFFSET);
        meta[WF_FRAME_META_CRC_OFFSET] = (uint8_t)(c >> 8);
        meta[WF_FRAME_META_CRC_OFFSET + 1u] = (uint8_t)c;
    }
    if ((flags & 2u) != 0u && meta_len == sizeof meta) {
        uint64_t want = (uint64_t)((meta[8] << 8) | meta[9]) * (uint64_t)((meta[10] << 8) | meta[11]) *
                        meta[6] * (meta[5] / 8u);
        frame_bytes = want <= FRAME_CAP ? (size_t)want : FRAME_CAP;
    } else if (n >= 93u) {
        frame_bytes = ((size_t)in[89] | ((size_t)in[90] << 8) | ((size_t)in[91] << 16) |
                       ((size_t)in[92] << 24)) %
                      (FRAME_CAP + 1u);
    }
    if (n >= 95u) {
        budget = (uint32_t)(in[93] | (in[94] << 8)) * 16u;
    }
    if (n >= 96u) {
        pat_len = in[95] != 0u ? in[95] : 1u;
        pat = in + 96;
        if (96u + pat_len > n) {
            pat_len = n - 96u;
        }
        if (96u + pat_len < n) {
            req = in + 96u + pat_len;
            req_len = n - 96u - pat_len;
        }
    }
    /* the frame, in a heap block of exactly its size */
    frame = (uint8_t *)malloc(frame_bytes > 0u ? frame_bytes : 1u);
    for (i = 0; i < frame_bytes; i++) {
        frame[i] = pat_len > 0u ? pat[i % pat_len] : (uint8_t)(i * 37u);
    }
    st = tri_onboard_process_frame(&ob, meta, meta_len, frame_bytes > 0u ? frame : NULL,
                                   frame_bytes, &rep);
    check(known_status(st), "known status");
    check((int32_t)rep.status == (int32_t)st, "report carries the status");
    check(tri_onboard_frame_record(&ob, &rep, &sink) == TRI_OK, "frame record");
    check_state(&ob);
    if ((flags & 4u) != 0u) {
        st = tri_onboard_process_frame(&ob, meta, meta_len, frame, frame_bytes, &rep);
        check(known_status(st), "known status (second frame)");
        check_state(&ob);
    }
    free(frame);
    check(tri_onboard_directory(&ob, &sink, &len) == TRI_OK, "directory");
    if (req != NULL) {
        uint8_t *r = (uint8_t *)malloc(req_len);
        memcpy(r, req, req_len);
        if ((flags & 8u) == 0u && req_len >= 8u) {
            uint16_t c = tri_crc16(0xFFFF, r, req_len - 2u);
            r[req_len - 2u] = (uint8_t)(c >> 8);
            r[req_len - 1u] = (uint8_t)c;
        }
        st = tri_onboard_downlink(&ob, budget, r, req_len, &sink, &len);
        free(r);
    } else {
        st = tri_onboard_downlink(&ob, budget, NULL, 0, &sink, &len);
    }
    check(known_status(st), "known status (downlink)");
    check(len <= budget, "downlink within budget");
    check_state(&ob);
    st = tri_onboard_downlink(&ob, budget, NULL, 0, &sink, &len);
    check(st == TRI_OK && len <= budget, "second pass");
    check_state(&ob);
}

/* FRAME_META fields worth aiming at: sample_bits, bands, rows, cols, nodata. */
const size_t fuzz_fields[] = {5, 6, 8, 9, 10, 11, 12, 13, 88, 95};
const size_t fuzz_fields_len = sizeof fuzz_fields / sizeof fuzz_fields[0];
