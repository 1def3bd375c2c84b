/*
 * stream_run.c - the streaming executor's Cortex-M4 runner image around one
 * exported streaming model (built by `make engine-stream-m4 MODEL_DIR=...
 * STREAM_MODEL=name`, which defines TNN_STREAM_HEADER and TNN_STREAM_MODEL).
 *
 * Command line (QEMU -append; semihosting puts the image's path first):
 *     IN_PATH OUT_PATH H W
 * IN_PATH holds one int8 frame [H][W][C]; it is read into external memory
 * (PSRAM), where the scratch (the rings) lives too. The frame is run twice:
 * once timed as a whole, once with the executor's per-layer accounting
 * (tnn_stream_profile_t); the outputs of both runs are written to OUT_PATH
 * one after the other, so that the caller can check both. The source copies
 * a frame row (what the application's per-pixel preprocessing would write);
 * its instructions and the sink's are counted apart from the engine's.
 * UART0 gets:
 *     stream_run: h H w W out_h R out_w C scratch S insns_total T
 *       insns_source X insns_sink Y stack_peak P
 *     stream_layers: 0 T0 1 T1 ... source X sink Y
 * Exit codes: 0 ok, 2 bad command line, 3 I/O error, 4 frame too large,
 * 5 the plan's header refused, 10 + (-status) when begin or run fails.
 */
#include <stdint.h>
#include <string.h>

#include "board.h"
#include "cmdline.h"
#include "semihost.h"
#include "tnn_stream.h"
#include "tnn_stream_model.h"
#include TNN_STREAM_HEADER

#define EXTMEM __attribute__((section(".extmem"), aligned(8)))
#define FRAME_BYTES (4u * 1024u * 1024u + 64u * 1024u)
#define SCRATCH_BYTES (2u * 1024u * 1024u)
#define OUT_BYTES (256u * 1024u)

static int8_t frame[FRAME_BYTES] EXTMEM;
static uint64_t scratch[SCRATCH_BYTES / 8u] EXTMEM;
static int8_t outputs[OUT_BYTES] EXTMEM;
static tnn_stream_ctx_t ctx;
static tnn_stream_profile_t profile;
static char cmdline[512];

typedef struct {
    size_t row_bytes;
    size_t written;
} io_t;

static tri_status_t source(void *user, uint32_t y, int8_t *row)
{
    const io_t *io = user;
    memcpy(row, frame + (size_t)y * io->row_bytes, io->row_bytes);
    return TRI_OK;
}

static tri_status_t sink(void *user, uint32_t r, const int8_t *row, size_t bytes)
{
    io_t *io = user;
    (void)r;
    if (io->written + bytes > OUT_BYTES) {
        return TRI_ERR_SIZE;
    }
    memcpy(outputs + io->written, row, bytes);
    io->written += bytes;
    return TRI_OK;
}

static void put_field(const char *name, uint64_t value)
{
    board_puts(" ");
    board_puts(name);
    board_puts(" ");
    board_put_u64(value);
}

/* One run of the frame; *insns gets the instructions of tnn_stream_run. */
static tri_status_t run_once(uint32_t h, uint32_t w, io_t *io, uint64_t *insns)
{
    uint64_t t0;
    tri_status_t st = tnn_stream_begin(&ctx, &TNN_STREAM_MODEL, h, w, scratch, sizeof scratch);
    if (st != TRI_OK) {
        return st;
    }
    ctx.profile = insns == NULL ? &profile : NULL;
    io->written = 0u;
    t0 = board_insn_count();
    st = tnn_stream_run(&ctx, source, sink, io);
    if (insns != NULL) {
        *insns = board_insn_count() - t0;
    }
    return st;
}

int main(void)
{
    char *words[5];
    uint32_t h;
    uint32_t w;
    uint32_t i;
    tnn_stream_info_t info;
    int32_t in_h;
    int32_t out_h;
    uint64_t total = 0u;
    uint64_t plain_source;
    uint64_t plain_sink;
    io_t io;
    tri_status_t st;

    if (sh_get_cmdline(cmdline, sizeof cmdline) != 0 || cmdline_split(cmdline, words, 5) != 5 ||
        cmdline_u32(words[3], &h) != 0 || cmdline_u32(words[4], &w) != 0) {
        board_puts("stream_run: usage: stream_run IN_PATH OUT_PATH H W\n");
        return 2;
    }
    if (tnn_stream_info(&TNN_STREAM_MODEL, &info) != TRI_OK) {
        return 5;
    }
    io.row_bytes = (size_t)w * info.in_c;
    if (h == 0u || (uint64_t)h * io.row_bytes > FRAME_BYTES) {
        return 4;
    }
    in_h = sh_open(words[1], SH_MODE_RB);
    out_h = sh_open(words[2], SH_MODE_WB);
    if (in_h < 0 || out_h < 0 ||
        sh_read(in_h, frame, h * io.row_bytes) != (int32_t)(h * io.row_bytes)) {
        return 3;
    }
    /* the profiled run's clock: the board's instruction counter */
    profile.clock = board_insn_count;
    st = run_once(h, w, &io, &total);
    if (st != TRI_OK) {
        return 10 - (int)st;
    }
    if (sh_write(out_h, outputs, io.written) != 0) {
        return 3;
    }
    st = run_once(h, w, &io, NULL);
    if (st != TRI_OK) {
        return 10 - (int)st;
    }
    if (sh_write(out_h, outputs, io.written) != 0) {
        return 3;
    }
    (void)sh_close(in_h);
    (void)sh_close(out_h);
    plain_source = profile.source;
    plain_sink = profile.sink;
    board_puts("stream_run:");
    put_field("h", h);
    put_field("w", w);
    put_field("out_h", ctx.out_h);
    put_field("out_w", ctx.out_w);
    put_field("scratch", (uint64_t)tnn_stream_scratch_bytes(&TNN_STREAM_MODEL, w));
    put_field("insns_total", total);
    put_field("insns_source", plain_source);
    put_field("insns_sink", plain_sink);
    put_field("stack_peak", (uint64_t)board_stack_peak());
    board_puts("\n");
    board_puts("stream_layers:");
    for (i = 0; i < info.n_layers; i++) {
        board_puts(" ");
        board_put_u64(i);
        board_puts(" ");
        board_put_u64(profile.layer[i]);
    }
    board_puts("\n");
    return 0;
}
