/*
 * cmdline.h - the words of a command line, for the Cortex-M4 images (the
 * semihosting command line, the lines of a script): one helper for every
 * image, so that they all read their input the same way.
 *
 * Words are separated by runs of spaces, tabs, carriage returns and line
 * feeds (a script written on Windows ends its lines in CR LF); there are no
 * empty words and no quoting. Numbers are unsigned decimal, every character
 * a digit, at most 4294967295.
 */
#ifndef CMDLINE_H
#define CMDLINE_H

#include <stdint.h>

/*
 * Splits s in place (separators become NUL) into words[0..max_words-1];
 * returns the number of words, or -1 when s holds more than max_words words
 * (words[] then holds the first max_words and the rest of s is not
 * scanned).
 */
int cmdline_split(char *s, char **words, int max_words);

/*
 * The unsigned decimal number s into *value: 0, or -1 (nothing written)
 * when s is empty, holds a character other than a digit, or is above
 * 4294967295.
 */
int cmdline_u32(const char *s, uint32_t *value);

#endif /* CMDLINE_H */
