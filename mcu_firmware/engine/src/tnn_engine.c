/*
 * tnn_engine.c - binding a model to an arena (all validation happens here,
 * once) and running it.
 *
 * Besides each step's own check (tnn_ops.c), tnn_bind verifies the arena
 * plan itself: every span lies inside the planned arena, and no tensor is
 * overwritten between the step that produced it and the last step that
 * reads it (nor the model input before its readers, nor the output after
 * its producer), neither by a step's output nor by its kernel's scratch.
 * A model whose plan would corrupt data is refused, so the kernels can run
 * without bounds checks.
 */
#include <stddef.h>

#include "tnn.h"
#include "tnn_model.h"

static int model_header_ok(const tnn_model_t *m)
{
    return m != NULL && m->magic == TNN_MODEL_MAGIC && m->version == TNN_MODEL_VERSION;
}

size_t tnn_arena_size(const tnn_model_t *model)
{
    return model_header_ok(model) ? (size_t)model->arena_bytes : 0u;
}

static int span_inside(tnn_span_t s, uint32_t arena_bytes)
{
    return (uint64_t)s.offset + s.bytes <= arena_bytes;
}

static int spans_overlap(tnn_span_t a, tnn_span_t b)
{
    return a.bytes != 0u && b.bytes != 0u && a.offset < b.offset + b.bytes &&
           b.offset < a.offset + a.bytes;
}

/*
 * The latest step before `before` whose output overlaps `s` must be the one
 * that produced tensor s.tensor (same tensor index), or there must be none
 * when the tensor is the model input.
 */
static int tensor_intact(const tnn_model_t *m, tnn_span_t s, uint32_t before)
{
    uint32_t k = before;
    while (k > 0u) {
        const tnn_span_t w = m->steps[k - 1u].out;
        if (spans_overlap(m->steps[k - 1u].scratch, s)) {
            return 0; /* a kernel's scratch never holds a live tensor */
        }
        if (spans_overlap(w, s)) {
            return w.tensor == s.tensor && w.offset == s.offset && w.bytes == s.bytes;
        }
        k--;
    }
    return s.tensor == m->input.tensor && s.offset == m->input.offset &&
           s.bytes == m->input.bytes;
}

static tri_status_t check_steps(const tnn_model_t *m, uint16_t *failed_step)
{
    uint32_t i;
    if (!span_inside(m->input, m->arena_bytes) || !span_inside(m->output, m->arena_bytes) ||
        m->input.bytes == 0u || m->output.bytes == 0u || (m->n_steps != 0u && m->steps == NULL) ||
        m->n_steps >= TNN_NO_STEP) {
        return TRI_ERR_FORMAT;
    }
    for (i = 0; i < m->n_steps; i++) {
        const tnn_step_t *s = &m->steps[i];
        uint32_t j;
        tri_status_t st;
        *failed_step = (uint16_t)i;
        if (s->op == NULL || s->op->check == NULL || s->op->run == NULL || s->n_in == 0u ||
            s->n_in > TNN_STEP_MAX_INPUTS || s->in == NULL ||
            !span_inside(s->out, m->arena_bytes) || !span_inside(s->scratch, m->arena_bytes) ||
            (s->scratch.offset % TNN_ARENA_ALIGN) != 0u || spans_overlap(s->scratch, s->out)) {
            return TRI_ERR_FORMAT;
        }
        for (j = 0; j < s->n_in; j++) {
            if (!span_inside(s->in[j], m->arena_bytes) || !tensor_intact(m, s->in[j], i) ||
                spans_overlap(s->scratch, s->in[j])) {
                return TRI_ERR_FORMAT;
            }
        }
        st = s->op->check(s);
        if (st != TRI_OK) {
            return st;
        }
    }
    *failed_step = TNN_NO_STEP;
    return tensor_intact(m, m->output, m->n_steps) ? TRI_OK : TRI_ERR_FORMAT;
}

tri_status_t tnn_bind(tnn_ctx_t *ctx, const tnn_model_t *model, void *arena, size_t arena_bytes)
{
    size_t asked;
    tri_status_t st;
    if (ctx == NULL) {
        return TRI_ERR_ARG;
    }
    ctx->model = NULL;
    ctx->arena = NULL;
    ctx->arena_bytes = 0u;
    ctx->failed_step = TNN_NO_STEP;
    asked = tnn_arena_size(model);
    ctx->sizes.asked = asked;
    ctx->sizes.available = arena == NULL ? 0u : arena_bytes;
    ctx->sizes.missing = asked > ctx->sizes.available ? asked - ctx->sizes.available : 0u;
    if (model == NULL || arena == NULL) {
        return TRI_ERR_ARG;
    }
    if (!model_header_ok(model)) {
        return TRI_ERR_FORMAT;
    }
    if (((uintptr_t)arena % TNN_ARENA_ALIGN) != 0u) {
        return TRI_ERR_ALIGN;
    }
    if (arena_bytes < asked) {
        return TRI_ERR_SIZE;
    }
    st = check_steps(model, &ctx->failed_step);
    if (st != TRI_OK) {
        return st;
    }
    ctx->model = model;
    ctx->arena = arena;
    ctx->arena_bytes = arena_bytes;
    return TRI_OK;
}

int8_t *tnn_input(const tnn_ctx_t *ctx, size_t *bytes)
{
    if (ctx == NULL || ctx->model == NULL) {
        if (bytes != NULL) {
            *bytes = 0u;
        }
        return NULL;
    }
    if (bytes != NULL) {
        *bytes = ctx->model->input.bytes;
    }
    return ctx->arena + ctx->model->input.offset;
}

tri_status_t tnn_invoke(tnn_ctx_t *ctx)
{
    uint32_t i;
    if (ctx == NULL || ctx->model == NULL) {
        return TRI_ERR_ARG;
    }
    for (i = 0; i < ctx->model->n_steps; i++) {
        const tnn_step_t *s = &ctx->model->steps[i];
        const tri_status_t st = s->op->run(s, ctx->arena);
        if (st != TRI_OK) {
            ctx->failed_step = (uint16_t)i;
            return st;
        }
    }
    return TRI_OK;
}

const int8_t *tnn_output(const tnn_ctx_t *ctx, size_t *bytes)
{
    if (ctx == NULL || ctx->model == NULL) {
        if (bytes != NULL) {
            *bytes = 0u;
        }
        return NULL;
    }
    if (bytes != NULL) {
        *bytes = ctx->model->output.bytes;
    }
    return ctx->arena + ctx->model->output.offset;
}
