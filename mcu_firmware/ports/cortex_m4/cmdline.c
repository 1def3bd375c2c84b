/*
 * cmdline.c - the words of a command line and unsigned decimal numbers
 * (cmdline.h), for the Cortex-M4 images; tested on the host
 * (mcu_firmware/tests/test_cmdline.c).
 */
#include "cmdline.h"

static int is_separator(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int cmdline_split(char *s, char **words, int max_words)
{
    int n = 0;
    while (*s != '\0') {
        while (is_separator(*s)) {
            *s++ = '\0';
        }
        if (*s == '\0') {
            break;
        }
        if (n == max_words) {
            return -1;
        }
        words[n++] = s;
        while (*s != '\0' && !is_separator(*s)) {
            s++;
        }
    }
    return n;
}

int cmdline_u32(const char *s, uint32_t *value)
{
    uint32_t v = 0u;
    if (*s == '\0') {
        return -1;
    }
    for (; *s != '\0'; s++) {
        uint32_t d;
        if (*s < '0' || *s > '9') {
            return -1;
        }
        d = (uint32_t)(*s - '0');
        if (v > (UINT32_MAX - d) / 10u) {
            return -1;
        }
        v = v * 10u + d;
    }
    *value = v;
    return 0;
}
