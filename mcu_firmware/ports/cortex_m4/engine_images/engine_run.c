/*
 * engine_run.c - the engine's Cortex-M4 runner image around one exported
 * model (built by `make engine-m4 MODEL_DIR=... ENGINE_MODEL=name`, which
 * defines TNN_RUN_HEADER, TNN_RUN_MODEL and TNN_RUN_ARENA_BYTES).
 *
 * Command line (QEMU -append; semihosting puts the image's path first;
 * words as cmdline.h reads them):
 *     IN_PATH OUT_PATH [steps]
 * IN_PATH holds N input tensors back to back (N = file size / input
 * bytes); each is read by semihosting straight into the arena's input
 * tensor, the model runs, and the output tensor is appended to OUT_PATH.
 * Only tnn_invoke is timed. UART0 gets one summary:
 *     engine_run: arena A steps S inputs N insns_first F insns_min L
 *     insns_max H insns_total T stack_peak P
 * With `steps`, the bound model's steps are run one by one instead of
 * tnn_invoke (the same kernels in the same order), each timed alone, and a
 * second line gives each step's instructions summed over the inputs:
 *     engine_steps: 0 T0 1 T1 ...
 * (the counter ticks every 40 instructions and each reading costs a few:
 * per-step figures are good to about 50 instructions per run).
 * Exit codes: 0 ok, 2 bad command line, 3 I/O error, 10 + (-status) when
 * tnn_bind or tnn_invoke fails.
 */
#include <stdint.h>
#include <string.h>

#include "board.h"
#include "cmdline.h"
#include "semihost.h"
#include "tnn.h"
#include "tnn_model.h"
#include TNN_RUN_HEADER

static uint32_t arena[TNN_ARENA_WORDS(TNN_RUN_ARENA_BYTES)];
static tnn_ctx_t ctx;
static char cmdline[512];

#define MAX_TIMED_STEPS 64u
static uint64_t step_insns[MAX_TIMED_STEPS];

/* The steps of the bound model one by one, each timed (steps past
 * MAX_TIMED_STEPS are counted with the last one). */
static tri_status_t invoke_timed_steps(void)
{
    uint32_t i;
    for (i = 0; i < ctx.model->n_steps; i++) {
        const tnn_step_t *s = &ctx.model->steps[i];
        const uint64_t t0 = board_insn_count();
        const tri_status_t st = s->op->run(s, ctx.arena);
        step_insns[i < MAX_TIMED_STEPS ? i : MAX_TIMED_STEPS - 1u] += board_insn_count() - t0;
        if (st != TRI_OK) {
            return st;
        }
    }
    return TRI_OK;
}

static void put_field(const char *name, uint64_t value)
{
    board_puts(" ");
    board_puts(name);
    board_puts(" ");
    board_put_u64(value);
}

int main(void)
{
    char *words[4];
    int n_words;
    int per_step;
    int32_t in_h;
    int32_t out_h;
    int32_t len;
    size_t in_bytes;
    size_t out_bytes;
    uint32_t n;
    uint32_t i;
    uint64_t first = 0u;
    uint64_t lo = UINT64_MAX;
    uint64_t hi = 0u;
    uint64_t total = 0u;
    tri_status_t st;

    n_words = sh_get_cmdline(cmdline, sizeof cmdline) == 0 ? cmdline_split(cmdline, words, 4) : 0;
    if (n_words < 3) {
        board_puts("engine_run: usage: engine_run IN_PATH OUT_PATH [steps]\n");
        return 2;
    }
    per_step = n_words == 4 && strcmp(words[3], "steps") == 0;
    st = tnn_bind(&ctx, &TNN_RUN_MODEL, arena, sizeof arena);
    if (st != TRI_OK) {
        board_puts("engine_run: bind failed: ");
        board_puts(tri_status_str(st));
        board_puts("\n");
        return 10 - (int)st;
    }
    (void)tnn_input(&ctx, &in_bytes);
    (void)tnn_output(&ctx, &out_bytes);
    in_h = sh_open(words[1], SH_MODE_RB);
    out_h = sh_open(words[2], SH_MODE_WB);
    if (in_h < 0 || out_h < 0) {
        return 3;
    }
    len = sh_flen(in_h);
    if (len < 0 || (size_t)len % in_bytes != 0u) {
        return 3;
    }
    n = (uint32_t)((size_t)len / in_bytes);
    for (i = 0; i < n; i++) {
        int8_t *in = tnn_input(&ctx, NULL);
        const int8_t *out;
        uint64_t t0;
        uint64_t dt;
        if (sh_read(in_h, in, in_bytes) != (int32_t)in_bytes) {
            return 3;
        }
        t0 = board_insn_count();
        st = per_step ? invoke_timed_steps() : tnn_invoke(&ctx);
        dt = board_insn_count() - t0;
        if (st != TRI_OK) {
            return 10 - (int)st;
        }
        out = tnn_output(&ctx, NULL);
        if (sh_write(out_h, out, out_bytes) != 0) {
            return 3;
        }
        first = i == 0u ? dt : first;
        lo = dt < lo ? dt : lo;
        hi = dt > hi ? dt : hi;
        total += dt;
    }
    (void)sh_close(in_h);
    (void)sh_close(out_h);
    board_puts("engine_run:");
    put_field("arena", (uint64_t)tnn_arena_size(&TNN_RUN_MODEL));
    put_field("steps", TNN_RUN_MODEL.n_steps);
    put_field("inputs", n);
    put_field("insns_first", first);
    put_field("insns_min", n != 0u ? lo : 0u);
    put_field("insns_max", hi);
    put_field("insns_total", total);
    put_field("stack_peak", (uint64_t)board_stack_peak());
    board_puts("\n");
    if (per_step) {
        board_puts("engine_steps:");
        for (i = 0; i < TNN_RUN_MODEL.n_steps && i < MAX_TIMED_STEPS; i++) {
            board_puts(" ");
            board_put_u64(i);
            board_puts(" ");
            board_put_u64(step_insns[i]);
        }
        board_puts("\n");
    }
    return 0;
}
