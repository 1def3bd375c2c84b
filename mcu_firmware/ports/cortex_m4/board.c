#include "board.h"

#include "semihost.h"

/* CMSDK APB UART0 */
#define UART0_BASE 0x40004000u
#define UART_DATA (*(volatile uint32_t *)(UART0_BASE + 0x00u))
#define UART_STATE (*(volatile uint32_t *)(UART0_BASE + 0x04u))
#define UART_CTRL (*(volatile uint32_t *)(UART0_BASE + 0x08u))
#define UART_BAUDDIV (*(volatile uint32_t *)(UART0_BASE + 0x10u))
#define UART_STATE_TX_FULL 0x1u
#define UART_CTRL_TX_EN 0x1u

/* SysTick (ARMv7-M system control space) */
#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define SCB_ICSR (*(volatile uint32_t *)0xE000ED04u)
#define SYST_CSR_ENABLE 0x1u
#define SYST_CSR_TICKINT 0x2u
#define SYST_CSR_CLKSOURCE 0x4u
#define ICSR_PENDSTSET (1u << 26)
#define SYST_RELOAD 0x00FFFFFFu

/* One 25 MHz SysTick tick is 40 ns, i.e. 40 instructions at icount shift=0. */
#define INSNS_PER_TICK 40u

#define STACK_PAINT 0xA5A5A5A5u

extern uint32_t __stack_limit;
extern uint32_t __stack_top;

static volatile uint32_t systick_wraps;

void SysTick_Handler(void);
void SysTick_Handler(void)
{
    systick_wraps++;
}

void board_init(void)
{
    UART_BAUDDIV = 16u;
    UART_CTRL = UART_CTRL_TX_EN;

    systick_wraps = 0u;
    SYST_RVR = SYST_RELOAD;
    SYST_CVR = 0u;
    SYST_CSR = SYST_CSR_ENABLE | SYST_CSR_TICKINT | SYST_CSR_CLKSOURCE;
}

static void uart_putc(char c)
{
    while ((UART_STATE & UART_STATE_TX_FULL) != 0u) {
    }
    UART_DATA = (uint32_t)(unsigned char)c;
}

void board_puts(const char *s)
{
    while (*s != '\0') {
        uart_putc(*s);
        s++;
    }
}

void board_put_u64(uint64_t value)
{
    char buf[21];
    size_t i = sizeof buf - 1u;
    buf[i] = '\0';
    do {
        i--;
        buf[i] = (char)('0' + (int)(value % 10u));
        value /= 10u;
    } while (value != 0u);
    board_puts(&buf[i]);
}

void board_put_u32(uint32_t value)
{
    board_put_u64(value);
}

void board_put_i32(int32_t value)
{
    if (value < 0) {
        uart_putc('-');
        board_put_u64((uint64_t)(-(int64_t)value));
    } else {
        board_put_u64((uint64_t)value);
    }
}

uint64_t board_insn_count(void)
{
    uint32_t wraps;
    uint32_t current;
    /* Read the wrap counter around the current value; if a wrap is pending
     * (the interrupt has not run yet), account for it. */
    do {
        wraps = systick_wraps;
        current = SYST_CVR;
        if ((SCB_ICSR & ICSR_PENDSTSET) != 0u) {
            current = SYST_CVR;
            wraps++;
        }
    } while (wraps != systick_wraps && (SCB_ICSR & ICSR_PENDSTSET) == 0u);
    {
        uint64_t ticks = (uint64_t)wraps * ((uint64_t)SYST_RELOAD + 1u) +
                         (uint64_t)(SYST_RELOAD - (current & SYST_RELOAD));
        return ticks * INSNS_PER_TICK;
    }
}

size_t board_stack_size(void)
{
    return (size_t)((uintptr_t)&__stack_top - (uintptr_t)&__stack_limit);
}

size_t board_stack_peak(void)
{
    const uint32_t *p = &__stack_limit;
    const uint32_t *top = &__stack_top;
    while (p < top && *p == STACK_PAINT) {
        p++;
    }
    return (size_t)((uintptr_t)top - (uintptr_t)p);
}

void board_exit(int32_t code)
{
    sh_exit(code);
}
