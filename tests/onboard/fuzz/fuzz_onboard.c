/*
 * fuzz_onboard.c - a coverage-guided mutation fuzzer for the on-board
 * application's input entry points (FRAME_META, frame geometry and size,
 * DOWNLINK_REQUEST), built with gcc: ASan + UBSan catch memory and
 * arithmetic errors, -fsanitize-coverage=trace-pc on the firmware sources
 * gives edge coverage (the callback below), and inputs that reach new
 * edges join the corpus.
 *
 *   fuzz_onboard run ITERATIONS SEED CORPUS_DIR [SEED_FILES...]
 *       fuzz from the seed files; new inputs are written to CORPUS_DIR
 *   fuzz_onboard replay FILES...
 *       run each input once (the test suite replays the kept corpus)
 *   fuzz_onboard cmin FILES...
 *       print the files that add coverage over the ones before them (give
 *       them smallest first to minimise a corpus)
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

#include "tri_crc16.h"
#include "tri_onboard.h"

#define MAP_SIZE 65536u
#define FRAME_CAP (96u * 1024u)
#define MAX_INPUT 4096u
#define MAX_CORPUS 2048u

/* ---- coverage ---- */
static uint8_t cov[MAP_SIZE];
static uint8_t seen[MAP_SIZE];
static uintptr_t prev_pc;

void __sanitizer_cov_trace_pc(void);
void __sanitizer_cov_trace_pc(void)
{
    uintptr_t pc = (uintptr_t)__builtin_return_address(0);
    uint32_t edge = (uint32_t)((pc ^ prev_pc) * 2654435761u) % MAP_SIZE;
    if (cov[edge] < 255u) {
        cov[edge]++;
    }
    prev_pc = pc >> 1;
}

/* AFL-style count buckets: 1, 2, 3, 4-7, 8-15, 16-31, 32-127, 128+. */
static uint8_t bucket(uint8_t n)
{
    if (n <= 3u) {
        return n;
    }
    return n < 8u ? 4u : n < 16u ? 8u : n < 32u ? 16u : n < 128u ? 32u : 128u;
}

static int new_coverage(void)
{
    uint32_t i;
    int fresh = 0;
    for (i = 0; i < MAP_SIZE; i++) {
        if (cov[i] != 0u) {
            uint8_t b = bucket(cov[i]);
            if ((seen[i] & b) == 0u) {
                seen[i] = (uint8_t)(seen[i] | b);
                fresh = 1;
            }
        }
    }
    memset(cov, 0, sizeof cov);
    return fresh;
}

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

static void run_one(const uint8_t *in, size_t n)
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

/* ---- corpus and mutations ---- */
typedef struct {
    uint8_t data[MAX_INPUT];
    size_t len;
} input_t;

static input_t corpus[MAX_CORPUS];
static size_t ncorpus;
static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return n == 0u ? 0u : (uint32_t)(rng_state % n);
}

static size_t read_input(const char *path, uint8_t *buf)
{
    FILE *f = fopen(path, "rb");
    size_t n;
    if (f == NULL) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(2);
    }
    n = fread(buf, 1, MAX_INPUT, f);
    fclose(f);
    return n;
}

static void save(const char *dir, const input_t *in, size_t index)
{
    char path[1024];
    FILE *f;
    snprintf(path, sizeof path, "%s/gen-%05zu.bin", dir, index);
    f = fopen(path, "wb");
    if (f != NULL) {
        fwrite(in->data, 1, in->len, f);
        fclose(f);
    }
}

static const uint8_t interesting[] = {0, 1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 31, 32, 33,
                                      63, 64, 127, 128, 255};
/* FRAME_META fields worth aiming at: sample_bits, bands, rows, cols, nodata. */
static const uint8_t meta_fields[] = {5, 6, 8, 9, 10, 11, 12, 13, 88, 95};

static void mutate(input_t *x)
{
    uint32_t k;
    uint32_t rounds = 1u + rnd(4u);
    for (k = 0; k < rounds; k++) {
        uint32_t op = rnd(8u);
        size_t p = x->len > 0u ? rnd((uint32_t)x->len) : 0u;
        if (x->len == 0u) {
            op = 5u;
        }
        switch (op) {
        case 0:
            x->data[p] ^= (uint8_t)(1u << rnd(8u));
            break;
        case 1:
            x->data[p] = (uint8_t)rnd(256u);
            break;
        case 2:
            x->data[p] = interesting[rnd(sizeof interesting)];
            break;
        case 3: {
            size_t f = meta_fields[rnd(sizeof meta_fields)];
            if (f < x->len) {
                x->data[f] = interesting[rnd(sizeof interesting)];
            }
            break;
        }
        case 4: /* delete a run */
            if (x->len > 1u) {
                size_t m = 1u + rnd(16u);
                if (p + m > x->len) {
                    m = x->len - p;
                }
                memmove(x->data + p, x->data + p + m, x->len - p - m);
                x->len -= m;
            }
            break;
        case 5: /* insert random bytes */
            if (x->len < MAX_INPUT - 16u) {
                size_t m = 1u + rnd(16u);
                size_t j;
                memmove(x->data + p + m, x->data + p, x->len - p);
                for (j = 0; j < m; j++) {
                    x->data[p + j] = (uint8_t)rnd(256u);
                }
                x->len += m;
            }
            break;
        case 6: { /* splice a piece of another input */
            const input_t *o = &corpus[rnd((uint32_t)ncorpus)];
            if (o->len > 0u) {
                size_t q = rnd((uint32_t)o->len);
                size_t m = 1u + rnd(64u);
                if (q + m > o->len) {
                    m = o->len - q;
                }
                if (p + m > MAX_INPUT) {
                    m = MAX_INPUT - p;
                }
                memcpy(x->data + p, o->data + q, m);
                if (p + m > x->len) {
                    x->len = p + m;
                }
            }
            break;
        }
        default: /* truncate */
            x->len = p;
            break;
        }
    }
}

int main(int argc, char **argv)
{
    static input_t cur;
    int i;
    if (argc >= 2 && strcmp(argv[1], "replay") == 0) {
        for (i = 2; i < argc; i++) {
            cur.len = read_input(argv[i], cur.data);
            run_one(cur.data, cur.len);
        }
        printf("replayed %d inputs\n", argc - 2);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "cmin") == 0) {
        for (i = 2; i < argc; i++) {
            cur.len = read_input(argv[i], cur.data);
            run_one(cur.data, cur.len);
            if (new_coverage()) {
                printf("%s\n", argv[i]);
            }
        }
        return 0;
    }
    if (argc >= 5 && strcmp(argv[1], "run") == 0) {
        unsigned long iterations = strtoul(argv[2], NULL, 10);
        unsigned long it;
        size_t saved = 0;
        rng_state = strtoull(argv[3], NULL, 10) * 0x9E3779B97F4A7C15ull + 1u;
        for (i = 5; i < argc && ncorpus < MAX_CORPUS; i++) {
            corpus[ncorpus].len = read_input(argv[i], corpus[ncorpus].data);
            run_one(corpus[ncorpus].data, corpus[ncorpus].len);
            (void)new_coverage();
            ncorpus++;
        }
        if (ncorpus == 0u) {
            corpus[0].len = 0;
            ncorpus = 1;
        }
        for (it = 0; it < iterations; it++) {
            cur = corpus[rnd((uint32_t)ncorpus)];
            mutate(&cur);
            run_one(cur.data, cur.len);
            if (new_coverage() && ncorpus < MAX_CORPUS) {
                corpus[ncorpus] = cur;
                save(argv[4], &cur, saved++);
                ncorpus++;
            }
        }
        printf("iterations %lu corpus %zu new %zu\n", iterations, ncorpus, saved);
        return 0;
    }
    fprintf(stderr, "usage: %s run N SEED DIR [SEEDS...] | replay FILES...\n", argv[0]);
    return 2;
}
