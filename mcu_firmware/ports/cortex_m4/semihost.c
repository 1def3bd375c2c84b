#include "semihost.h"

/* Semihosting operation numbers (ARM "Semihosting for AArch32 and AArch64"). */
enum {
    SYS_OPEN = 0x01,
    SYS_CLOSE = 0x02,
    SYS_WRITE0 = 0x04,
    SYS_WRITE = 0x05,
    SYS_READ = 0x06,
    SYS_FLEN = 0x0C,
    SYS_GET_CMDLINE = 0x15,
    SYS_EXIT = 0x18,
    SYS_EXIT_EXTENDED = 0x20
};

#define ADP_STOPPED_APPLICATION_EXIT 0x20026u

static int32_t sh_call(int32_t op, const void *arg)
{
    register int32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

static size_t str_len(const char *s)
{
    size_t n = 0;
    while (s[n] != '\0') {
        n++;
    }
    return n;
}

void sh_write0(const char *s)
{
    (void)sh_call(SYS_WRITE0, s);
}

int32_t sh_open(const char *path, int32_t mode)
{
    uint32_t block[3];
    block[0] = (uint32_t)(uintptr_t)path;
    block[1] = (uint32_t)mode;
    block[2] = (uint32_t)str_len(path);
    return sh_call(SYS_OPEN, block);
}

int32_t sh_close(int32_t handle)
{
    uint32_t block[1];
    block[0] = (uint32_t)handle;
    return sh_call(SYS_CLOSE, block);
}

int32_t sh_write(int32_t handle, const void *buf, size_t len)
{
    uint32_t block[3];
    block[0] = (uint32_t)handle;
    block[1] = (uint32_t)(uintptr_t)buf;
    block[2] = (uint32_t)len;
    return sh_call(SYS_WRITE, block);
}

int32_t sh_read(int32_t handle, void *buf, size_t len)
{
    uint32_t block[3];
    int32_t not_read;
    block[0] = (uint32_t)handle;
    block[1] = (uint32_t)(uintptr_t)buf;
    block[2] = (uint32_t)len;
    not_read = sh_call(SYS_READ, block);
    if (not_read < 0 || (uint32_t)not_read > (uint32_t)len) {
        return -1;
    }
    return (int32_t)len - not_read;
}

int32_t sh_flen(int32_t handle)
{
    uint32_t block[1];
    block[0] = (uint32_t)handle;
    return sh_call(SYS_FLEN, block);
}

int32_t sh_get_cmdline(char *buf, size_t len)
{
    uint32_t block[2];
    block[0] = (uint32_t)(uintptr_t)buf;
    block[1] = (uint32_t)len;
    return sh_call(SYS_GET_CMDLINE, block);
}

void sh_exit(int32_t code)
{
    uint32_t block[2];
    block[0] = ADP_STOPPED_APPLICATION_EXIT;
    block[1] = (uint32_t)code;
    (void)sh_call(SYS_EXIT_EXTENDED, block);
    for (;;) {
        /* not reached: QEMU ends the simulation */
    }
}
