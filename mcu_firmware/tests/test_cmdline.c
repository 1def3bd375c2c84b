/*
 * The Cortex-M4 images' command-line helper (ports/cortex_m4/cmdline.c),
 * on the host: separators (spaces, tabs, CR, LF, runs of them, leading and
 * trailing), empty lines, more words than room, and numbers (the largest
 * u32, one past it, far past it, empty, signs, spaces, other characters).
 * Expected values are written out by hand.
 */
#include <string.h>

#include "../ports/cortex_m4/cmdline.h"
#include "tt.h"

TT_TEST(cmdline_split_on_every_separator)
{
    char s[] = "  init\t7340032 \r model\r\n";
    char *w[4];
    TT_CHECK_EQ(cmdline_split(s, w, 4), 3);
    TT_CHECK(strcmp(w[0], "init") == 0);
    TT_CHECK(strcmp(w[1], "7340032") == 0);
    TT_CHECK(strcmp(w[2], "model") == 0);
}

TT_TEST(cmdline_split_empty_and_blank_lines)
{
    char empty[] = "";
    char blank[] = " \t\r\n ";
    char *w[2];
    TT_CHECK_EQ(cmdline_split(empty, w, 2), 0);
    TT_CHECK_EQ(cmdline_split(blank, w, 2), 0);
}

TT_TEST(cmdline_split_counts_no_empty_words)
{
    char s[] = "a  \t\tb\r\r";
    char *w[4];
    TT_CHECK_EQ(cmdline_split(s, w, 4), 2);
    TT_CHECK(strcmp(w[0], "a") == 0);
    TT_CHECK(strcmp(w[1], "b") == 0);
}

TT_TEST(cmdline_split_refuses_too_many_words)
{
    char exact[] = "a b c";
    char over[] = "a b c d";
    char trailing[] = "a b c   ";
    char *w[3];
    TT_CHECK_EQ(cmdline_split(exact, w, 3), 3);
    TT_CHECK(strcmp(w[2], "c") == 0);
    TT_CHECK_EQ(cmdline_split(over, w, 3), -1);
    TT_CHECK(strcmp(w[0], "a") == 0 && strcmp(w[2], "c") == 0);
    TT_CHECK_EQ(cmdline_split(trailing, w, 3), 3); /* separators are no word */
    TT_CHECK_EQ(cmdline_split(over, w, 0), -1);
}

TT_TEST(cmdline_u32_reads_decimal_numbers)
{
    uint32_t v = 0;
    TT_CHECK_EQ(cmdline_u32("0", &v), 0);
    TT_CHECK_EQ(v, 0);
    TT_CHECK_EQ(cmdline_u32("007", &v), 0);
    TT_CHECK_EQ(v, 7);
    TT_CHECK_EQ(cmdline_u32("200000", &v), 0);
    TT_CHECK_EQ(v, 200000);
    TT_CHECK_EQ(cmdline_u32("4294967295", &v), 0);
    TT_CHECK_EQ(v, 4294967295u);
    TT_CHECK_EQ(cmdline_u32("0004294967295", &v), 0);
    TT_CHECK_EQ(v, 4294967295u);
}

TT_TEST(cmdline_u32_refuses_overflow_and_other_text)
{
    static const char *const bad[] = {
        "4294967296", /* one past the largest u32 */
        "4294967300", /* past it in the last digit's step */
        "42949672950", "99999999999999999999", "", "-1", "+1", " 1", "1 ", "1\r", "12x", "0x10",
        "1.5",
    };
    size_t i;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint32_t v = 12345u;
        TT_CHECK_EQ(cmdline_u32(bad[i], &v), -1);
        TT_CHECK_EQ(v, 12345u); /* nothing written */
    }
}
