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
