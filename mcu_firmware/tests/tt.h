/*
 * tt.h - a minimal unit-test harness for the firmware's host build.
 *
 * A test is `TT_TEST(name) { ... }` in any tests/test_*.c file; the build
 * collects every TT_TEST into a registry, so nothing else needs listing.
 * Checks compare integers exactly and stop the test at the first failure.
 */
#ifndef TT_H
#define TT_H

#include <stddef.h>
#include <stdint.h>

void tt_fail(const char *file, int line, const char *expr);
void tt_fail_int(const char *file, int line, const char *a_expr, const char *b_expr, long long a,
                 long long b);
void tt_fail_mem(const char *file, int line, const char *what, size_t index, unsigned a,
                 unsigned b);
int tt_mem_eq(const void *a, const void *b, size_t n, size_t *first_diff);

#define TT_TEST(name)                                                                              \
    void tt_test_##name(void);                                                                     \
    void tt_test_##name(void)

#define TT_CHECK(cond)                                                                             \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            tt_fail(__FILE__, __LINE__, #cond);                                                    \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define TT_CHECK_EQ(a, b)                                                                          \
    do {                                                                                           \
        long long tt_a_ = (long long)(a);                                                          \
        long long tt_b_ = (long long)(b);                                                          \
        if (tt_a_ != tt_b_) {                                                                      \
            tt_fail_int(__FILE__, __LINE__, #a, #b, tt_a_, tt_b_);                                 \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define TT_CHECK_MEM_EQ(a, b, n)                                                                   \
    do {                                                                                           \
        size_t tt_i_ = 0;                                                                          \
        if (!tt_mem_eq((a), (b), (n), &tt_i_)) {                                                   \
            tt_fail_mem(__FILE__, __LINE__, #a " vs " #b, tt_i_,                                   \
                        ((const unsigned char *)(a))[tt_i_],                                       \
                        ((const unsigned char *)(b))[tt_i_]);                                      \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#endif /* TT_H */
