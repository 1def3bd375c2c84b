/*
 * fuzz_core.h - what a fuzz harness gives the shared fuzzer (fuzz_core.c):
 * the target, run once per input, and the input offsets worth setting to
 * interesting values.
 */
#ifndef FUZZ_CORE_H
#define FUZZ_CORE_H

#include <stddef.h>
#include <stdint.h>

#define MAX_INPUT 16384u

void fuzz_run_one(const uint8_t *in, size_t n);

extern const size_t fuzz_fields[];
extern const size_t fuzz_fields_len;

#endif /* FUZZ_CORE_H */
