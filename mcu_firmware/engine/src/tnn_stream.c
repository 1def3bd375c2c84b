/*
 * tnn_stream.c - the streaming executor (tnn_stream.h): a chain of layers
 * over a frame, row by row.
 *
 * tnn_stream_begin works out every layer's sizes and paddings at the
 * frame's size (TensorFlow's rules), checks every layer's parameters as
 * tnn_bind checks a step's (tnn_ops.c), and lays the scratch out:
 *     [layer states][staging row][ring of layer 0][ring of layer 1]...
 * each part 8-byte aligned. A layer state holds the layer's kernel
 * parameters at this frame size and its row counters.
 *
 * tnn_stream_run feeds the frame's rows (the extension rows and columns
 * hold the input zero point) to layer 0. After each row it drains the
 * chain: it runs the deepest layer whose next output row has all its input
 * rows, handing the row to the next layer (or the sink), and repeats; when
 * no layer is ready, a layer whose input is complete but that still owes
 * output rows gets a row of bottom padding. Running the deepest ready layer
 * first means a layer never receives a row while it still has an output
 * row to compute, so a ring of k_h rows always holds every row a pending
 * output needs. One staging row carries a row from one layer to the next
 * (the kernel that receives it copies or widens it into its ring at once).
 */
#include <string.h>

#include "tnn_kernels.h"
#include "tnn_stream.h"
#include "tnn_stream_model.h"

#define CHECK(cond, status)                                                                        \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            return (status);                                                                       \
        }                                                                                          \
    } while (0)

/* Largest |accumulator| one int8 tap can add: 127 * 255. */
#define TAP_MAX 32385u
#define DIM_MAX 65535u

typedef struct {
    union {
        tnn_conv2d_s8_params_t conv;
        tnn_pool2d_s8_params_t pool;
        tnn_softmax_s8_params_t softmax;
    } p;
    void *ring;
    uint32_t ring_bytes;
    uint32_t in_h, in_w, out_h, out_w;
    uint32_t k_h, s_h, pad_t;
    uint32_t have; /* input rows pushed, top padding included */
    uint32_t next; /* next output row */
} layer_t;

static size_t align8(size_t n)
{
    return (n + 7u) & ~(size_t)7u;
}

static int model_header_ok(const tnn_stream_model_t *m)
{
    return m != NULL && m->magic == TNN_STREAM_MAGIC && m->version == TNN_STREAM_VERSION &&
           m->layers != NULL && m->n_layers >= 1u && m->n_layers <= TNN_STREAM_MAX_LAYERS &&
           m->in_c >= 1u && m->out_c >= 1u && m->multiple_h >= 1u && m->multiple_w >= 1u;
}

/* Output size and padding before, along one axis (TensorFlow's rules). */
static tri_status_t axis(uint32_t in, uint32_t k, uint32_t s, uint8_t rule, uint32_t *out,
                         uint32_t *pad)
{
    if (rule == TNN_PAD_SAME) {
        const uint32_t o = (in + s - 1u) / s;
        const uint32_t span = (o - 1u) * s + k;
        *out = o;
        *pad = span > in ? (span - in) / 2u : 0u;
    } else {
        CHECK(rule == TNN_PAD_VALID, TRI_ERR_FORMAT);
        CHECK(in >= k, TRI_ERR_SHAPE);
        *out = (in - k) / s + 1u;
        *pad = 0u;
    }
    CHECK(*out >= 1u && *out <= DIM_MAX, TRI_ERR_SHAPE);
    return TRI_OK;
}

static int offset_ok(int32_t in_offset, int32_t out_offset)
{
    return in_offset >= -127 && in_offset <= 128 && out_offset >= -128 && out_offset <= 127;
}

/* A convolution's template against its layer entry, and its arrays. */
static tri_status_t conv_check(const tnn_stream_layer_t *l, const tnn_conv2d_s8_params_t *p)
{
    const tnn_conv_params_t *cv = &p->conv;
    const int dw = l->kind == TNN_LAYER_DWCONV2D;
    const uint32_t taps = (uint32_t)cv->kernel.h * cv->kernel.w * (dw ? 1u : (uint32_t)l->in_c);
    uint32_t o;
    CHECK(p->filter != NULL && p->quant.mult != NULL && p->quant.shift != NULL, TRI_ERR_FORMAT);
    CHECK(p->input.c == l->in_c && p->output.c == l->out_c, TRI_ERR_FORMAT);
    CHECK(cv->kernel.h == l->kernel.h && cv->kernel.w == l->kernel.w &&
              cv->stride.h == l->stride.h && cv->stride.w == l->stride.w,
          TRI_ERR_FORMAT);
    CHECK(cv->dilation.h == 1u && cv->dilation.w == 1u, TRI_ERR_NO_IMPL);
    CHECK(dw ? cv->depth_mult == 1u && l->in_c == l->out_c : cv->depth_mult == 0u,
          TRI_ERR_NO_IMPL);
    CHECK(cv->act.min <= cv->act.max && offset_ok(cv->in_offset, cv->out_offset), TRI_ERR_FORMAT);
    for (o = 0; o < l->out_c; o++) {
        uint64_t bound = (uint64_t)taps * TAP_MAX;
        const int32_t b = p->bias != NULL ? p->bias[o] : 0;
        bound += b < 0 ? (uint64_t)(-(int64_t)b) : (uint64_t)b;
        CHECK(p->quant.mult[o] >= 0 && p->quant.shift[o] >= -31 && p->quant.shift[o] <= 30,
              TRI_ERR_FORMAT);
        CHECK(bound < ((uint64_t)1 << 31), TRI_ERR_FORMAT);
    }
    return TRI_OK;
}

/*
 * Layer l at input size in_h x in_w: its state in *st (the kernel's
 * parameters at this size, output size, top padding, ring bytes), after the
 * checks tnn_bind makes of a step (tnn_ops.c).
 */
static tri_status_t layer_setup(const tnn_stream_layer_t *l, uint32_t in_h, uint32_t in_w,
                                layer_t *st)
{
    uint32_t pad_l;
    tri_status_t s;
    memset(st, 0, sizeof *st);
    CHECK(l->params != NULL, TRI_ERR_FORMAT);
    CHECK(l->kernel.h >= 1u && l->kernel.w >= 1u && l->stride.h >= 1u && l->stride.w >= 1u,
          TRI_ERR_FORMAT);
    CHECK(l->kernel.h <= TNN_ROWS_MAX_KERNEL, TRI_ERR_NO_IMPL);
    s = axis(in_h, l->kernel.h, l->stride.h, l->pad, &st->out_h, &st->pad_t);
    if (s == TRI_OK) {
        s = axis(in_w, l->kernel.w, l->stride.w, l->pad, &st->out_w, &pad_l);
    }
    if (s != TRI_OK) {
        return s;
    }
    st->in_h = in_h;
    st->in_w = in_w;
    st->k_h = l->kernel.h;
    st->s_h = l->stride.h;
    switch (l->kind) {
    case TNN_LAYER_CONV2D:
    case TNN_LAYER_DWCONV2D: {
        tnn_conv2d_s8_params_t *p = &st->p.conv;
        *p = *(const tnn_conv2d_s8_params_t *)l->params;
        s = conv_check(l, p);
        if (s != TRI_OK) {
            return s;
        }
        p->input.h = (uint16_t)in_h;
        p->input.w = (uint16_t)in_w;
        p->output.h = (uint16_t)st->out_h;
        p->output.w = (uint16_t)st->out_w;
        CHECK(st->pad_t <= 255u && pad_l <= 255u, TRI_ERR_SHAPE);
        p->conv.pad.h = (uint8_t)st->pad_t;
        p->conv.pad.w = (uint8_t)pad_l;
        st->ring_bytes = tnn_conv_rows_s8_ring_bytes(p);
        break;
    }
    case TNN_LAYER_MAX_POOL2D: {
        tnn_pool2d_s8_params_t *p = &st->p.pool;
        *p = *(const tnn_pool2d_s8_params_t *)l->params;
        CHECK(p->channels == l->in_c && l->in_c == l->out_c && p->k_h == l->kernel.h &&
                  p->k_w == l->kernel.w && p->stride_h == l->stride.h &&
                  p->stride_w == l->stride.w && p->act_min <= p->act_max,
              TRI_ERR_FORMAT);
        /* every window holds an input pixel (TFLM refuses otherwise) */
        CHECK(st->pad_t < p->k_h && pad_l < p->k_w &&
                  (st->out_h - 1u) * p->stride_h < in_h + st->pad_t &&
                  (st->out_w - 1u) * p->stride_w < in_w + pad_l,
              TRI_ERR_SHAPE);
        p->in_h = (uint16_t)in_h;
        p->in_w = (uint16_t)in_w;
        p->out_h = (uint16_t)st->out_h;
        p->out_w = (uint16_t)st->out_w;
        p->pad_top = (uint8_t)st->pad_t;
        p->pad_left = (uint8_t)pad_l;
        st->ring_bytes = tnn_max_pool_rows_s8_ring_bytes(p);
        break;
    }
    case TNN_LAYER_SOFTMAX: {
        tnn_softmax_s8_params_t *p = &st->p.softmax;
        *p = *(const tnn_softmax_s8_params_t *)l->params;
        CHECK(l->kernel.h == 1u && l->kernel.w == 1u && l->stride.h == 1u && l->stride.w == 1u,
              TRI_ERR_FORMAT);
        CHECK(p->depth == l->in_c && l->in_c == l->out_c && p->depth <= 511u, TRI_ERR_FORMAT);
        CHECK(p->input_mult >= 0 && p->input_left_shift >= 0 && p->input_left_shift <= 30 &&
                  p->diff_min <= 0,
              TRI_ERR_FORMAT);
        p->rows = in_w;
        /* the exponentials' table, then one row */
        st->ring_bytes = (uint32_t)(4u * TNN_SOFTMAX_TABLE + align8((size_t)in_w * l->in_c));
        break;
    }
    default:
        return TRI_ERR_NO_IMPL;
    }
    CHECK(st->ring_bytes != TNN_SCRATCH_INVALID, TRI_ERR_FORMAT);
    return TRI_OK;
}

/*
 * Walks the chain at frame size h x w (extended): fills `states` when not
 * NULL, returns the scratch bytes in *bytes and the output size; on failure
 * *failed is the layer.
 */
static tri_status_t plan(const tnn_stream_model_t *m, uint32_t h, uint32_t w, layer_t *states,
                         size_t *bytes, size_t *staging_bytes, uint32_t out_hwc[3],
                         uint16_t *failed)
{
    size_t rings = 0u;
    size_t staging = (size_t)w * m->in_c;
    uint32_t c = m->in_c;
    uint32_t i;
    *failed = TNN_STREAM_NO_LAYER;
    for (i = 0; i < m->n_layers; i++) {
        const tnn_stream_layer_t *l = &m->layers[i];
        layer_t local;
        layer_t *st = states != NULL ? &states[i] : &local;
        tri_status_t s;
        *failed = (uint16_t)i;
        CHECK(l->in_c == c && l->out_c >= 1u, TRI_ERR_FORMAT);
        s = layer_setup(l, h, w, st);
        if (s != TRI_OK) {
            return s;
        }
        rings += align8(st->ring_bytes);
        h = st->out_h;
        w = st->out_w;
        c = l->out_c;
        staging = (size_t)w * c > staging ? (size_t)w * c : staging;
    }
    *failed = TNN_STREAM_NO_LAYER;
    CHECK(c == m->out_c, TRI_ERR_FORMAT);
    *staging_bytes = align8(staging);
    *bytes = align8(sizeof(layer_t) * m->n_layers) + align8(staging) + rings;
    out_hwc[0] = h;
    out_hwc[1] = w;
    out_hwc[2] = c;
    return TRI_OK;
}

static uint32_t extend(uint32_t n, uint32_t multiple)
{
    return (n + multiple - 1u) / multiple * multiple;
}

size_t tnn_stream_scratch_bytes(const tnn_stream_model_t *model, uint32_t width)
{
    size_t bytes = 0u;
    size_t staging;
    uint32_t out[3];
    uint16_t failed;
    uint32_t h;
    if (!model_header_ok(model) || width < 1u || width > DIM_MAX) {
        return 0u;
    }
    /* the sizes do not depend on the height: the largest one */
    h = DIM_MAX / model->multiple_h * model->multiple_h;
    if (h == 0u || extend(width, model->multiple_w) > DIM_MAX ||
        plan(model, h, extend(width, model->multiple_w), NULL, &bytes, &staging, out, &failed) !=
            TRI_OK) {
        return 0u;
    }
    return bytes;
}

static layer_t *states_of(const tnn_stream_ctx_t *ctx)
{
    return (layer_t *)ctx->scratch;
}

static int8_t *staging_of(const tnn_stream_ctx_t *ctx)
{
    return (int8_t *)ctx->scratch + align8(sizeof(layer_t) * ctx->model->n_layers);
}

tri_status_t tnn_stream_begin(tnn_stream_ctx_t *ctx, const tnn_stream_model_t *model,
                              uint32_t height, uint32_t width, void *scratch,
                              size_t scratch_bytes)
{
    uint32_t out[3];
    size_t need = 0u;
    size_t staging = 0u;
    uint32_t i;
    int8_t *p;
    tri_status_t s;
    if (ctx == NULL) {
        return TRI_ERR_ARG;
    }
    memset(ctx, 0, sizeof *ctx);
    ctx->failed_layer = TNN_STREAM_NO_LAYER;
    ctx->sizes.asked = tnn_stream_scratch_bytes(model, width);
    ctx->sizes.available = scratch == NULL ? 0u : scratch_bytes;
    ctx->sizes.missing =
        ctx->sizes.asked > ctx->sizes.available ? ctx->sizes.asked - ctx->sizes.available : 0u;
    if (model == NULL || scratch == NULL) {
        return TRI_ERR_ARG;
    }
    if (!model_header_ok(model)) {
        return TRI_ERR_FORMAT;
    }
    if (height < model->min_h || width < model->min_w || height < 1u || width < 1u ||
        height > DIM_MAX || width > DIM_MAX || extend(height, model->multiple_h) > DIM_MAX ||
        extend(width, model->multiple_w) > DIM_MAX) {
        return TRI_ERR_SHAPE;
    }
    ctx->in_h = extend(height, model->multiple_h);
    ctx->in_w = extend(width, model->multiple_w);
    s = plan(model, ctx->in_h, ctx->in_w, NULL, &need, &staging, out, &ctx->failed_layer);
    if (s != TRI_OK) {
        return s;
    }
    if (((uintptr_t)scratch % TNN_STREAM_ALIGN) != 0u) {
        return TRI_ERR_ALIGN;
    }
    if (scratch_bytes < need) {
        return TRI_ERR_SIZE;
    }
    ctx->scratch = scratch;
    ctx->model = model;
    (void)plan(model, ctx->in_h, ctx->in_w, states_of(ctx), &need, &staging, out,
               &ctx->failed_layer);
    p = staging_of(ctx) + staging; /* the rings follow the staging row */
    for (i = 0; i < model->n_layers; i++) {
        layer_t *l = &states_of(ctx)[i];
        l->ring = p;
        p += align8(l->ring_bytes);
    }
    ctx->frame_h = height;
    ctx->frame_w = width;
    ctx->out_h = out[0];
    ctx->out_w = out[1];
    ctx->out_c = out[2];
    return TRI_OK;
}

/* ---- running ---------------------------------------------------------------- */

static uint64_t now(const tnn_stream_ctx_t *ctx)
{
    return ctx->profile != NULL ? ctx->profile->clock() : 0u;
}

/* Row `row` (NULL: padding) into layer i's ring. */
static void push(tnn_stream_ctx_t *ctx, uint32_t i, const int8_t *row)
{
    layer_t *l = &states_of(ctx)[i];
    const uint32_t slot = l->have % l->k_h;
    const uint64_t t0 = now(ctx);
    switch (ctx->model->layers[i].kind) {
    case TNN_LAYER_MAX_POOL2D:
        tnn_max_pool_rows_s8_push(&l->p.pool, l->ring, slot, row);
        break;
    case TNN_LAYER_SOFTMAX:
        memcpy((int32_t *)l->ring + TNN_SOFTMAX_TABLE, row, (size_t)l->in_w * l->p.softmax.depth);
        break;
    default:
        tnn_conv_rows_s8_push(&l->p.conv, l->ring, slot, row);
        break;
    }
    l->have++;
    if (ctx->profile != NULL) {
        ctx->profile->layer[i] += now(ctx) - t0;
    }
}

/* Layer i's next output row into out. */
static void run_row(tnn_stream_ctx_t *ctx, uint32_t i, int8_t *out)
{
    layer_t *l = &states_of(ctx)[i];
    const uint64_t t0 = now(ctx);
    switch (ctx->model->layers[i].kind) {
    case TNN_LAYER_MAX_POOL2D:
        tnn_max_pool_rows_s8_run(&l->p.pool, l->ring, (int32_t)l->next, out);
        break;
    case TNN_LAYER_SOFTMAX:
        (void)tnn_softmax_s8_lut(&l->p.softmax, l->ring,
                                 (const int8_t *)((int32_t *)l->ring + TNN_SOFTMAX_TABLE), out);
        break;
    default:
        tnn_conv_rows_s8_run(&l->p.conv, l->ring, (int32_t)l->next, out);
        break;
    }
    l->next++;
    if (ctx->profile != NULL) {
        ctx->profile->layer[i] += now(ctx) - t0;
    }
}

static int ready(const layer_t *l)
{
    return l->next < l->out_h && l->next * l->s_h + l->k_h <= l->have;
}

/* The input is complete and more output rows are owed: bottom padding. */
static int wants_padding(const layer_t *l)
{
    return l->have >= l->pad_t + l->in_h && l->next < l->out_h && !ready(l);
}

static tri_status_t drain(tnn_stream_ctx_t *ctx, tnn_stream_sink_t sink, void *user)
{
    layer_t *st = states_of(ctx);
    int8_t *staging = staging_of(ctx);
    const uint32_t n = ctx->model->n_layers;
    for (;;) {
        uint32_t i = n;
        while (i > 0u && !ready(&st[i - 1u])) {
            i--;
        }
        if (i > 0u) {
            const uint32_t k = i - 1u;
            const uint32_t r = st[k].next;
            run_row(ctx, k, staging);
            if (k + 1u < n) {
                push(ctx, k + 1u, staging);
            } else {
                const uint64_t t0 = now(ctx);
                const tri_status_t s =
                    sink(user, r, staging, (size_t)ctx->out_w * ctx->out_c);
                if (ctx->profile != NULL) {
                    ctx->profile->sink += now(ctx) - t0;
                }
                if (s != TRI_OK) {
                    return s;
                }
                ctx->rows_out++;
            }
            continue;
        }
        i = n;
        while (i > 0u && !wants_padding(&st[i - 1u])) {
            i--;
        }
        if (i == 0u) {
            return TRI_OK;
        }
        push(ctx, i - 1u, NULL);
    }
}

tri_status_t tnn_stream_run(tnn_stream_ctx_t *ctx, tnn_stream_source_t source,
                            tnn_stream_sink_t sink, void *user)
{
    const tnn_stream_model_t *m;
    layer_t *st;
    int8_t *staging;
    size_t row_bytes;
    size_t frame_bytes;
    int8_t zp;
    uint32_t i;
    uint32_t y;
    tri_status_t s;
    if (ctx == NULL || ctx->model == NULL || ctx->done || source == NULL || sink == NULL) {
        return TRI_ERR_ARG;
    }
    ctx->done = 1u;
    m = ctx->model;
    st = states_of(ctx);
    staging = staging_of(ctx);
    zp = (int8_t)m->in_zero_point;
    row_bytes = (size_t)ctx->in_w * m->in_c;
    frame_bytes = (size_t)ctx->frame_w * m->in_c;
    for (i = 0; i < m->n_layers; i++) {
        layer_t *l = &st[i];
        switch (m->layers[i].kind) {
        case TNN_LAYER_MAX_POOL2D:
            tnn_max_pool_rows_s8_reset(&l->p.pool, l->ring);
            break;
        case TNN_LAYER_SOFTMAX:
            tnn_softmax_s8_table(&l->p.softmax, l->ring);
            break;
        default:
            tnn_conv_rows_s8_reset(&l->p.conv, l->ring);
            break;
        }
        l->have = 0u;
        l->next = 0u;
        while (l->have < l->pad_t) { /* top padding */
            push(ctx, i, NULL);
        }
    }
    for (y = 0; y < ctx->in_h; y++) {
        if (y < ctx->frame_h) {
            const uint64_t t0 = now(ctx);
            s = source(user, y, staging);
            if (ctx->profile != NULL) {
                ctx->profile->source += now(ctx) - t0;
            }
            if (s != TRI_OK) {
                return s;
            }
            ctx->rows_in++;
            memset(staging + frame_bytes, zp, row_bytes - frame_bytes);
        } else {
            memset(staging, zp, row_bytes);
        }
        push(ctx, 0u, staging);
        s = drain(ctx, sink, user);
        if (s != TRI_OK) {
            return s;
        }
    }
    return ctx->rows_out == ctx->out_h ? TRI_OK : TRI_ERR_FORMAT;
}
