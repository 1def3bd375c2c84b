/*
 * engine_host.c - host-only helpers around the engine, for the Python
 * bindings' diagnostics (triage.engine.runtime): run only the first steps
 * of a bound model, so that an intermediate tensor can be read from the
 * arena and compared layer by layer with the reference.
 */
#include "tnn.h"
#include "tnn_model.h"

tri_status_t tnn_host_run_steps(tnn_ctx_t *ctx, uint32_t n_steps);

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
