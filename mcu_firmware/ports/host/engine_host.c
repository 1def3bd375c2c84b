/*
 * engine_host.c - host-only helpers around the engine, for the Python
 * bindings' diagnostics (triage.engine.runtime): run only the first steps
 * of a bound model, so that an intermediate tensor can be read from the
 * arena and compared layer by layer with the reference; and ask the linked
 * kernel set how much scratch a step needs (to check the exporter's plan).
 */
#include "tnn.h"
#include "tnn_kernels.h"
#include "tnn_model.h"
#include "tnn_stream.h"
#include "tnn_stream_model.h"

#include <string.h>

tri_status_t tnn_host_run_steps(tnn_ctx_t *ctx, uint32_t n_steps);
uint32_t tnn_host_step_scratch_need(const tnn_model_t *model, uint32_t step);

/* Runs steps [0, n_steps) of the bound model (all of them if n_steps is
 * larger); TRI_ERR_ARG when ctx is not bound. */
tri_status_t tnn_host_run_steps(tnn_ctx_t *ctx, uint32_t n_steps)
{
    uint32_t i;
    if (ctx == NULL || ctx->model == NULL) {
        return TRI_ERR_ARG;
    }
    for (i = 0; i < n_steps && i < ctx->model->n_steps; i++) {
        const tnn_step_t *s = &ctx->model->steps[i];
        const tri_status_t st = s->op->run(s, ctx->arena);
        if (st != TRI_OK) {
            return st;
        }
    }
    return TRI_OK;
}

/* The scratch bytes the linked kernel set needs for step `step` of `model`
 * (its kernel's *_scratch_bytes partner; 0 for kernels without scratch or
 * a step out of range). */
uint32_t tnn_host_step_scratch_need(const tnn_model_t *model, uint32_t step)
{
    const tnn_step_t *s;
    if (model == NULL || step >= model->n_steps) {
        return 0u;
    }
    s = &model->steps[step];
    if (s->op == &tnn_op_conv2d_s8) {
        return tnn_conv2d_s8_scratch_bytes(s->params);
    }
    if (s->op == &tnn_op_depthwise_conv2d_s8) {
        return tnn_depthwise_conv2d_s8_scratch_bytes(s->params);
    }
    if (s->op == &tnn_op_fully_connected_s8) {
        return tnn_fully_connected_s8_scratch_bytes(s->params);
    }
    return 0u;
}

/* ---- streaming models --------------------------------------------------------- */

typedef struct {
    const int8_t *frame;
    size_t row_bytes;
    int8_t *out;
    size_t out_bytes;
    size_t written;
} host_stream_io_t;

static tri_status_t host_source(void *user, uint32_t y, int8_t *row)
{
    const host_stream_io_t *io = user;
    memcpy(row, io->frame + (size_t)y * io->row_bytes, io->row_bytes);
    return TRI_OK;
}

static tri_status_t host_sink(void *user, uint32_t r, const int8_t *row, size_t bytes)
{
    host_stream_io_t *io = user;
    if ((size_t)r * bytes != io->written || io->written + bytes > io->out_bytes) {
        return TRI_ERR_SIZE;
    }
    memcpy(io->out + io->written, row, bytes);
    io->written += bytes;
    return TRI_OK;
}

tri_status_t tnn_host_stream_frame(tnn_stream_ctx_t *ctx, const tnn_stream_model_t *model,
                                   const int8_t *frame, uint32_t h, uint32_t w, void *scratch,
                                   size_t scratch_bytes, int8_t *out, size_t out_bytes);

/* Begins `model` on the h x w frame (int8 [h][w][in_c]) and runs it, the
 * output rows appended to out (out_bytes long: TRI_ERR_SIZE when they do not
 * fit). ctx is left as the engine left it (sizes, failed layer, counters). */
tri_status_t tnn_host_stream_frame(tnn_stream_ctx_t *ctx, const tnn_stream_model_t *model,
                                   const int8_t *frame, uint32_t h, uint32_t w, void *scratch,
                                   size_t scratch_bytes, int8_t *out, size_t out_bytes)
{
    host_stream_io_t io;
    tri_status_t st = tnn_stream_begin(ctx, model, h, w, scratch, scratch_bytes);
    if (st != TRI_OK) {
        return st;
    }
    io.frame = frame;
    io.row_bytes = (size_t)w * ctx->in_c;
    io.out = out;
    io.out_bytes = out_bytes;
    io.written = 0u;
    return tnn_stream_run(ctx, host_source, host_sink, &io);
}
