/*
 * selftest.c - the port's own check image: console, semihosting files,
 * exit codes, the deterministic instruction counter and stack painting.
 *
 * Command line (QEMU -append; semihosting puts the image's path first): a
 * sequence of words (cmdline.h; N: an unsigned decimal number)
 *   echo PATH      copy the host file PATH to UART0
 *   write PATH     write "semihosting write ok\n" to the host file PATH
 *   loop N         run a fixed loop of N iterations and print its instruction count
 *   stack N        use N bytes of stack, print the measured stack peak
 *   exit N         exit with code N (default 0)
 */
#include <stdint.h>
#include <string.h>

#include "board.h"
#include "cmdline.h"
#include "semihost.h"

static char cmdline[256];
static uint8_t io_buf[512];

static int echo_file(const char *path)
{
    int32_t h = sh_open(path, SH_MODE_RB);
    int32_t got;
    if (h < 0) {
        return 2;
    }
    do {
        got = sh_read(h, io_buf, sizeof io_buf - 1u);
        if (got < 0) {
            (void)sh_close(h);
            return 3;
        }
        io_buf[got] = 0u;
        board_puts((const char *)io_buf);
    } while (got > 0);
    (void)sh_close(h);
    return 0;
}

static int write_file(const char *path)
{
    static const char msg[] = "semihosting write ok\n";
    int32_t h = sh_open(path, SH_MODE_WB);
    if (h < 0) {
        return 4;
    }
    if (sh_write(h, msg, sizeof msg - 1u) != 0) {
        (void)sh_close(h);
        return 5;
    }
    return sh_close(h) == 0 ? 0 : 6;
}

static volatile uint32_t sink;

__attribute__((noinline)) static void fixed_loop(uint32_t n)
{
    uint32_t i;
    for (i = 0u; i < n; i++) {
        sink = i;
    }
}

__attribute__((noinline)) static uint32_t use_stack(uint32_t n)
{
    volatile uint8_t buf[4096];
    uint32_t i;
    uint32_t sum = 0u;
    if (n > sizeof buf) {
        n = sizeof buf;
    }
    for (i = 0u; i < n; i++) {
        buf[i] = (uint8_t)i;
    }
    for (i = 0u; i < n; i++) {
        sum += buf[i];
    }
    return sum;
}

int main(void)
{
    char *words[16];
    int n;
    int i;
    int rc = 0;

    board_puts("selftest: uart ok\n");
    if (sh_get_cmdline(cmdline, sizeof cmdline) != 0) {
        cmdline[0] = '\0';
    }
    n = cmdline_split(cmdline, words, 16);
    if (n < 0) {
        sh_write0("selftest: more than 16 words\n");
        return 1;
    }
    for (i = 1; i + 1 < n && rc == 0; i += 2) { /* words[0]: the image path */
        uint32_t arg = 0u;
        int numeric = cmdline_u32(words[i + 1], &arg) == 0;
        if (strcmp(words[i], "echo") == 0) {
            rc = echo_file(words[i + 1]);
        } else if (strcmp(words[i], "write") == 0) {
            rc = write_file(words[i + 1]);
        } else if (!numeric) {
            sh_write0("selftest: not a number\n");
            rc = 1;
        } else if (strcmp(words[i], "loop") == 0) {
            uint64_t t0 = board_insn_count();
            fixed_loop(arg);
            board_puts("loop insns ");
            board_put_u64(board_insn_count() - t0);
            board_puts("\n");
        } else if (strcmp(words[i], "stack") == 0) {
            sink = use_stack(arg);
            board_puts("stack peak ");
            board_put_u32((uint32_t)board_stack_peak());
            board_puts(" of ");
            board_put_u32((uint32_t)board_stack_size());
            board_puts("\n");
        } else if (strcmp(words[i], "exit") == 0) {
            return (int)arg;
        } else {
            sh_write0("selftest: unknown word\n");
            rc = 1;
        }
    }
    return rc;
}
