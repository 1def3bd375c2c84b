/*
 * semihost.h - ARM semihosting calls (the debugger or QEMU services them).
 *
 * Used by the Cortex-M4 image to read inputs and write outputs on the host
 * when running under `qemu-system-arm -semihosting-config enable=on`.
 * Every call returns a negative value on failure.
 */
#ifndef SEMIHOST_H
#define SEMIHOST_H

#include <stddef.h>
#include <stdint.h>

/* Open modes of SYS_OPEN (ISO C fopen equivalents). */
enum { SH_MODE_RB = 1, SH_MODE_WB = 5, SH_MODE_AB = 9 };

/* Write a NUL-terminated string to the host's debug console (stderr). */
void sh_write0(const char *s);

/* Open a host file; returns a handle (>= 0) or -1. */
int32_t sh_open(const char *path, int32_t mode);
int32_t sh_close(int32_t handle);

/* Returns the number of bytes NOT written (0 on success). */
int32_t sh_write(int32_t handle, const void *buf, size_t len);

/* Returns the number of bytes read, or -1 on error. */
int32_t sh_read(int32_t handle, void *buf, size_t len);

/* Length of an open file in bytes, or -1. */
int32_t sh_flen(int32_t handle);

/* The command line given to QEMU with -append (NUL-terminated in buf).
 * Returns 0 on success. */
int32_t sh_get_cmdline(char *buf, size_t len);

/* End the simulation with an exit code (SYS_EXIT_EXTENDED). */
void sh_exit(int32_t code) __attribute__((noreturn));

#endif /* SEMIHOST_H */
