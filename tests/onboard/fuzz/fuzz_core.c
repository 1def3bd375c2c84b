/*
 * fuzz_core.c - the coverage-guided mutation fuzzer the harnesses share
 * (fuzz_core.h): edge coverage from -fsanitize-coverage=trace-pc on the
 * firmware sources, AFL-style count buckets, a corpus, byte mutations (with
 * offsets the harness names as worth aiming at), and the command line:
 *
 *   HARNESS run ITERATIONS SEED CORPUS_DIR [SEED_FILES...]
 *       fuzz from the seed files; new inputs are written to CORPUS_DIR
 *   HARNESS replay FILES...
 *       run each input once (the test suite replays the kept corpus)
 *   HARNESS cmin FILES...
 *       print the files that add coverage over the ones before them (give
 *       them smallest first to minimise a corpus)
 */
#include "fuzz_core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAP_SIZE 65536u
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
            size_t f = fuzz_fields[rnd((uint32_t)fuzz_fields_len)];
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
            fuzz_run_one(cur.data, cur.len);
        }
        printf("replayed %d inputs\n", argc - 2);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "cmin") == 0) {
        for (i = 2; i < argc; i++) {
            cur.len = read_input(argv[i], cur.data);
            fuzz_run_one(cur.data, cur.len);
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
            fuzz_run_one(corpus[ncorpus].data, corpus[ncorpus].len);
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
            fuzz_run_one(cur.data, cur.len);
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
