/*
 * board.h - the Cortex-M4 image's view of the MPS2 AN386 board under QEMU:
 * console output, a deterministic instruction counter, stack measurement
 * and exit.
 */
#ifndef BOARD_H
#define BOARD_H

#include <stddef.h>
#include <stdint.h>

/* Exit codes the port itself uses (application codes stay below 64). */
enum {
    BOARD_EXIT_HARDFAULT = 100,
    BOARD_EXIT_MAIN_RETURNED_NEGATIVE = 101,
    BOARD_EXIT_UNEXPECTED_IRQ = 102
};

/* UART0 on, SysTick counting. Called by the reset handler before main. */
void board_init(void);

/* Write to UART0 (QEMU prints it on stdout). */
void board_puts(const char *s);
void board_put_u32(uint32_t value);
void board_put_u64(uint64_t value);
void board_put_i32(int32_t value);

/*
 * Instructions executed since board_init(). Exact to 40 instructions under
 * `qemu-system-arm -icount shift=0` (SysTick runs from the 25 MHz system
 * clock, and one virtual nanosecond is one instruction); meaningless on
 * real hardware, where it counts 25 MHz ticks times 40.
 */
uint64_t board_insn_count(void);

/* Bytes of the stack ever used since reset (the stack is painted). */
size_t board_stack_peak(void);
size_t board_stack_size(void);

/* Semihosting exit with a code (0..255 reach the host shell). */
void board_exit(int32_t code) __attribute__((noreturn));

#endif /* BOARD_H */
