/*
 * startup.c - reset handler and vector table for the Cortex-M4F image.
 *
 * No vendor SDK: copy .data from flash, zero .bss, paint the stack for
 * high-water measurement, enable the FPU (the hard-float ABI may use its
 * registers), run main() and hand its return value to the host through
 * semihosting.
 */
#include <stdint.h>

#include "board.h"
#include "semihost.h"

#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)
#define CPACR_CP10_CP11_FULL (0xFu << 20)

extern uint32_t __data_load;
extern uint32_t __data_start;
extern uint32_t __data_end;
extern uint32_t __bss_start;
extern uint32_t __bss_end;
extern uint32_t __stack_limit;
extern uint32_t __stack_top;

int main(void);
void Reset_Handler(void);
void Default_Handler(void);
void HardFault_Handler(void);
void SysTick_Handler(void);

__attribute__((naked, noreturn)) void Reset_Handler(void)
{
    /* Paint the stack below the current frame before anything uses it. The
     * function is naked and touches only registers here. */
    __asm__ volatile("ldr r0, =__stack_limit\n"
                     "mov r1, sp\n"
                     "ldr r2, =0xA5A5A5A5\n"
                     "1: cmp r0, r1\n"
                     "bhs 2f\n"
                     "str r2, [r0], #4\n"
                     "b 1b\n"
                     "2: b reset_continue\n");
    for (;;) {
    }
}

void reset_continue(void);
__attribute__((noreturn, used)) void reset_continue(void)
{
    const uint32_t *src = &__data_load;
    uint32_t *dst = &__data_start;
    int rc;

    while (dst < &__data_end) {
        *dst++ = *src++;
    }
    for (dst = &__bss_start; dst < &__bss_end; dst++) {
        *dst = 0u;
    }
    SCB_CPACR |= CPACR_CP10_CP11_FULL;
    __asm__ volatile("dsb\n isb" ::: "memory");

    board_init();
    rc = main();
    if (rc < 0) {
        rc = BOARD_EXIT_MAIN_RETURNED_NEGATIVE;
    }
    board_exit(rc);
}

void HardFault_Handler(void)
{
    sh_write0("HardFault\n");
    board_exit(BOARD_EXIT_HARDFAULT);
}

void Default_Handler(void)
{
    sh_write0("unexpected interrupt\n");
    board_exit(BOARD_EXIT_UNEXPECTED_IRQ);
}

typedef void (*vector_t)(void);

__attribute__((section(".isr_vector"), used)) static const vector_t vectors[16 + 32] = {
    (vector_t)(uintptr_t)&__stack_top, /* initial stack pointer */
    Reset_Handler,
    Default_Handler,   /* NMI */
    HardFault_Handler, /* HardFault */
    HardFault_Handler, /* MemManage */
    HardFault_Handler, /* BusFault */
    HardFault_Handler, /* UsageFault */
    0, 0, 0, 0,
    Default_Handler, /* SVCall */
    Default_Handler, /* DebugMon */
    0,
    Default_Handler, /* PendSV */
    SysTick_Handler,
    /* external interrupts: none enabled */
    Default_Handler, Default_Handler, Default_Handler, Default_Handler,
    Default_Handler, Default_Handler, Default_Handler, Default_Handler,
    Default_Handler, Default_Handler, Default_Handler, Default_Handler,
    Default_Handler, Default_Handler, Default_Handler, Default_Handler,
    Default_Handler, Default_Handler, Default_Handler, Default_Handler,
    Default_Handler, Default_Handler, Default_Handler, Default_Handler,
    Default_Handler, Default_Handler, Default_Handler, Default_Handler,
    Default_Handler, Default_Handler, Default_Handler, Default_Handler,
};
