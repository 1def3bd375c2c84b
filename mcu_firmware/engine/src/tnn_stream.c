/*
 * tnn_stream.c - the streaming executor (tnn_stream.h): a chain of layers
 * over a frame, row by row.
 *
 * The model is an engine plan (tnn_stream_model.h, tnn_plan.h): records and
 * arrays at offsets, no pointers. tnn_stream_begin checks the plan's header,
 * reads every layer's record, checks that each array the layer needs lies
 * inside the plan, past its layer table, aligned for the loads the kernels
 * make, then works out every layer's sizes and paddings at the frame's size
 * (TensorFlow's rules), checks its parameters as tnn_bind checks a step's
 * (tnn_ops.c), and lays the scratch out:
 *     [layer states][staging row][ring of layer 0][ring of layer 1]...
 * each part 8-byte aligned. A layer state holds the layer's kernel
 * parameters at this frame size, their pointers resolved into the plan, and
 * its row counters: a run reads nothing else of the plan, so a plan linked
 * into the image and one in a model slot run the same instructions.
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
#include "tri_be.h"

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
    tnn_packed_t packed; /* conv.packed points here when the layer has packed data */
    void *ring;
    uint32_t ring_bytes;
    uint32_t in_h, in_w, out_h, out_w;
    uint32_t k_h, s_h, pad_t;
    uint32_t have; /* input rows pushed, top padding included */
    uint32_t next; /* next output row */
    uint8_t kind;  /* tnn_layer_kind_t */
} layer_t;

/* A layer's record, decoded (PLAN_LAYER). */
typedef struct {
    uint8_t kind, pad;
    uint16_t in_c, out_c;
    tnn_hw_t kernel, stride;
    int8_t act_min, act_max;
    int16_t in_offset, out_offset;
    uint8_t pack_method, pack_flags;
    uint16_t pack_groups;
    uint32_t filter, bias, mult, shift, pdata, pdata_words;
    int32_t sm_input_mult, sm_diff_min;
    uint8_t sm_left_shift;
} record_t;

static size_t align8(size_t n)
{
    return (n + 7u) & ~(size_t)7u;
}

static int little_endian(void)
{
    const uint16_t one = 1u;
    return *(const uint8_t *)&one == 1u;
}

/* Reads a two's complement field. */
static int32_t s32_of(uint32_t v)
{
    return v <= 0x7FFFFFFFu ? (int32_t)v : -(int32_t)(~v) - 1;
}

tri_status_t tnn_stream_info(const tnn_stream_model_t *m, tnn_stream_info_t *info)
{
    const uint8_t *h;
    tnn_stream_info_t i;
    if (m == NULL || m->plan == NULL || info == NULL) {
        return TRI_ERR_ARG;
    }
    CHECK(((uintptr_t)m->plan % TNN_PLAN_ALIGN) == 0u, TRI_ERR_ALIGN);
    CHECK(m->plan_bytes >= TNN_PLAN_HEADER_SIZE, TRI_ERR_FORMAT);
    h = m->plan;
    CHECK(tri_get_be32(h + TNN_PLAN_HEADER_MAGIC) == TNN_PLAN_MAGIC, TRI_ERR_FORMAT);
    i.abi = tri_get_be16(h + TNN_PLAN_HEADER_ABI);
    CHECK(i.abi == TNN_STREAM_ABI, TRI_ERR_FORMAT);
    CHECK(tri_get_be32(h + TNN_PLAN_HEADER_PLAN_BYTES) == m->plan_bytes, TRI_ERR_FORMAT);
    i.n_layers = tri_get_be16(h + TNN_PLAN_HEADER_LAYERS);
    i.in_c = tri_get_be16(h + TNN_PLAN_HEADER_IN_C);
    i.out_c = tri_get_be16(h + TNN_PLAN_HEADER_OUT_C);
    i.multiple_h = tri_get_be16(h + TNN_PLAN_HEADER_MULTIPLE_H);
    i.multiple_w = tri_get_be16(h + TNN_PLAN_HEADER_MULTIPLE_W);
    i.min_h = tri_get_be16(h + TNN_PLAN_HEADER_MIN_H);
    i.min_w = tri_get_be16(h + TNN_PLAN_HEADER_MIN_W);
    i.in_zero_point = (int32_t)(int8_t)h[TNN_PLAN_HEADER_IN_ZERO_POINT];
    i.out_zero_point = (int32_t)(int8_t)h[TNN_PLAN_HEADER_OUT_ZERO_POINT];
    i.kernels = tri_get_be16(h + TNN_PLAN_HEADER_KERNELS);
    CHECK(i.n_layers >= 1u && i.n_layers <= TNN_STREAM_MAX_LAYERS, TRI_ERR_FORMAT);
    CHECK((uint64_t)TNN_PLAN_HEADER_SIZE + (uint64_t)i.n_layers * TNN_PLAN_LAYER_SIZE <=
              m->plan_bytes,
          TRI_ERR_FORMAT);
    CHECK(i.in_c >= 1u && i.out_c >= 1u && i.multiple_h >= 1u && i.multiple_w >= 1u,
          TRI_ERR_FORMAT);
    CHECK(i.kernels != 0u, TRI_ERR_FORMAT);
    /* a kind this engine lacks (a later engine's kernel), or a big-endian
     * machine: the arrays are little-endian and read in place */
    CHECK((i.kernels & ~(uint32_t)TNN_STREAM_KERNELS) == 0u && little_endian(), TRI_ERR_NO_IMPL);
    *info = i;
    return TRI_OK;
}

static void read_record(const tnn_stream_model_t *m, uint32_t i, record_t *r)
{
    const uint8_t *p = m->plan + TNN_PLAN_HEADER_SIZE + (size_t)i * TNN_PLAN_LAYER_SIZE;
    r->kind = p[TNN_PLAN_LAYER_KIND];
    r->pad = p[TNN_PLAN_LAYER_PAD];
    r->in_c = tri_get_be16(p + TNN_PLAN_LAYER_IN_C);
    r->out_c = tri_get_be16(p + TNN_PLAN_LAYER_OUT_C);
    r->kernel.h = p[TNN_PLAN_LAYER_KERNEL_H];
    r->kernel.w = p[TNN_PLAN_LAYER_KERNEL_W];
    r->stride.h = p[TNN_PLAN_LAYER_STRIDE_H];
    r->stride.w = p[TNN_PLAN_LAYER_STRIDE_W];
    r->act_min = (int8_t)p[TNN_PLAN_LAYER_ACT_MIN];
    r->act_max = (int8_t)p[TNN_PLAN_LAYER_ACT_MAX];
    r->in_offset = (int16_t)tri_get_be16(p + TNN_PLAN_LAYER_IN_OFFSET);
    r->out_offset = (int16_t)tri_get_be16(p + TNN_PLAN_LAYER_OUT_OFFSET);
    r->pack_method = p[TNN_PLAN_LAYER_PACK_METHOD];
    r->pack_flags = p[TNN_PLAN_LAYER_PACK_FLAGS];
    r->pack_groups = tri_get_be16(p + TNN_PLAN_LAYER_PACK_GROUPS);
    r->filter = tri_get_be32(p + TNN_PLAN_LAYER_FILTER);
    r->bias = tri_get_be32(p + TNN_PLAN_LAYER_BIAS);
    r->mult = tri_get_be32(p + TNN_PLAN_LAYER_MULT);
    r->shift = tri_get_be32(p + TNN_PLAN_LAYER_SHIFT);
    r->pdata = tri_get_be32(p + TNN_PLAN_LAYER_PDATA);
    r->pdata_words = tri_get_be32(p + TNN_PLAN_LAYER_PDATA_WORDS);
    r->sm_input_mult = s32_of(tri_get_be32(p + TNN_PLAN_LAYER_SOFTMAX_INPUT_MULT));
    r->sm_diff_min = s32_of(tri_get_be32(p + TNN_PLAN_LAYER_SOFTMAX_DIFF_MIN));
    r->sm_left_shift = p[TNN_PLAN_LAYER_SOFTMAX_LEFT_SHIFT];
}

/*
 * Where array [offset, offset + bytes) of the plan is, or NULL when it is
 * not wholly inside the plan past its layer table (`table` bytes), or not
 * aligned to `align`. Offsets come from the plan: checked in 64 bits.
 */
static const void *array_at(const tnn_stream_model_t *m, uint32_t table, uint32_t offset,
                            uint64_t bytes, uint32_t align)
{
    if (offset < table || (offset % align) != 0u || bytes == 0u ||
        (uint64_t)offset + bytes > m->plan_bytes) {
        return NULL;
    }
    return m->plan + offset;
}

static int offset_ok(int32_t in_offset, int32_t out_offset)
{
    return in_offset >= -127 && in_offset <= 128 && out_offset >= -128 && out_offset <= 127;
}

/* A convolution's parameters (everything but the sizes and paddings the
 * frame sets) from its record, its arrays located and checked. */
static tri_status_t conv_setup(const tnn_stream_model_t *m, uint32_t table, const record_t *r,
                               layer_t *st)
{
    tnn_conv2d_s8_params_t *p = &st->p.conv;
    tnn_conv_params_t *cv = &p->conv;
    const int dw = r->kind == TNN_LAYER_DWCONV2D;
    const uint32_t taps = (uint32_t)r->kernel.h * r->kernel.w * (dw ? 1u : (uint32_t)r->in_c);
    uint32_t o;
    CHECK(!dw || r->in_c == r->out_c, TRI_ERR_FORMAT);
    cv->in_offset = r->in_offset;
    cv->out_offset = r->out_offset;
    cv->depth_mult = (uint16_t)(dw ? 1u : 0u);
    cv->kernel = r->kernel;
    cv->stride = r->stride;
    cv->dilation.h = 1u;
    cv->dilation.w = 1u;
    cv->act.min = r->act_min;
    cv->act.max = r->act_max;
    p->input.c = r->in_c;
    p->output.c = r->out_c;
    p->filter = array_at(m, table, r->filter, (uint64_t)taps * r->out_c, 1u);
    p->quant.mult = array_at(m, table, r->mult, 4u * (uint64_t)r->out_c, 4u);
    p->quant.shift = array_at(m, table, r->shift, r->out_c, 1u);
    p->bias = r->bias == 0u ? NULL : array_at(m, table, r->bias, 4u * (uint64_t)r->out_c, 4u);
    CHECK(p->filter != NULL && p->quant.mult != NULL && p->quant.shift != NULL &&
              (r->bias == 0u || p->bias != NULL),
          TRI_ERR_FORMAT);
    p->packed = NULL;
    if (r->pdata != 0u || r->pack_method != 0u) {
        st->packed.method = r->pack_method;
        st->packed.flags = r->pack_flags;
        st->packed.groups = r->pack_groups;
        st->packed.data = array_at(m, table, r->pdata, 4u * (uint64_t)r->pdata_words, 4u);
        st->packed.words = r->pdata_words;
        CHECK(st->packed.data != NULL, TRI_ERR_FORMAT);
        p->packed = &st->packed;
    }
    CHECK(cv->act.min <= cv->act.max && offset_ok(cv->in_offset, cv->out_offset), TRI_ERR_FORMAT);
    for (o = 0; o < r->out_c; o++) {
        uint64_t bound = (uint64_t)taps * TAP_MAX;
        const int32_t b = p->bias != NULL ? p->bias[o] : 0;
        bound += b < 0 ? (uint64_t)(-(int64_t)b) : (uint64_t)b;
        CHECK(p->quant.mult[o] >= 0 && p->quant.shift[o] >= -31 && p->quant.shift[o] <= 30,
              TRI_ERR_FORMAT);
        CHECK(bound < ((uint64_t)1 << 31), TRI_ERR_FORMAT);
    }
    return TRI_OK;
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

/*
 * Layer i at input size in_h x in_w: its state in *st (the kernel's
 * parameters at this size, output size, top padding, ring bytes), after the
 * checks tnn_bind makes of a step (tnn_ops.c).
 */
static tri_status_t layer_setup(const tnn_stream_model_t *m, const tnn_stream_info_t *info,
                                uint32_t i, uint32_t in_h, uint32_t in_w, layer_t *st)
{
    const uint32_t table = TNN_PLAN_HEADER_SIZE + info->n_layers * TNN_PLAN_LAYER_SIZE;
    record_t r;
    uint32_t pad_l;
    tri_status_t s;
    memset(st, 0, sizeof *st);
    read_record(m, i, &r);
    st->kind = r.kind;
    /* the plan's kernels name every kind its layers use */
    CHECK(r.kind >= 1u && r.kind <= 16u && (info->kernels >> (r.kind - 1u) & 1u) != 0u,
          TRI_ERR_FORMAT);
    CHECK(r.kernel.h >= 1u && r.kernel.w >= 1u && r.stride.h >= 1u && r.stride.w >= 1u,
          TRI_ERR_FORMAT);
    CHECK(r.kernel.h <= TNN_ROWS_MAX_KERNEL, TRI_ERR_NO_IMPL);
    CHECK(r.out_c >= 1u, TRI_ERR_FORMAT);
    s = axis(in_h, r.kernel.h, r.stride.h, r.pad, &st->out_h, &st->pad_t);
    if (s == TRI_OK) {
        s = axis(in_w, r.kernel.w, r.stride.w, r.pad, &st->out_w, &pad_l);
    }
    if (s != TRI_OK) {
        return s;
    }
    st->in_h = in_h;
    st->in_w = in_w;
    st->k_h = r.kernel.h;
    st->s_h = r.stride.h;
    switch (r.kind) {
    case TNN_LAYER_CONV2D:
    case TNN_LAYER_DWCONV2D: {
        tnn_conv2d_s8_params_t *p = &st->p.conv;
        s = conv_setup(m, table, &r, st);
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
        CHECK(r.in_c == r.out_c && r.act_min <= r.act_max, TRI_ERR_FORMAT);
        p->channels = r.in_c;
        p->k_h = r.kernel.h;
        p->k_w = r.kernel.w;
        p->stride_h = r.stride.h;
        p->stride_w = r.stride.w;
        p->act_min = r.act_min;
        p->act_max = r.act_max;
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
        CHECK(r.kernel.h == 1u && r.kernel.w == 1u && r.stride.h == 1u && r.stride.w == 1u,
              TRI_ERR_FORMAT);
        CHECK(r.in_c == r.out_c && r.in_c <= 511u, TRI_ERR_FORMAT);
        CHECK(r.sm_input_mult >= 0 && r.sm_left_shift <= 30u && r.sm_diff_min <= 0,
              TRI_ERR_FORMAT);
        p->depth = r.in_c;
        p->input_mult = r.sm_input_mult;
        p->input_left_shift = (int8_t)r.sm_left_shift;
        p->diff_min = r.sm_diff_min;
        p->rows = in_w;
        /* the exponentials' table, then one row */
        st->ring_bytes = (uint32_t)(4u * TNN_SOFTMAX_TABLE + align8((size_t)in_w * r.in_c));
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
static tri_status_t plan(const tnn_stream_model_t *m, const tnn_stream_info_t *info, uint32_t h,
                         uint32_t w, layer_t *states, size_t *bytes, size_t *staging_bytes,
                         uint32_t out_hwc[3], uint16_t *failed)
{
    size_t rings = 0u;
    size_t staging = (size_t)w * info->in_c;
    uint32_t c = info->in_c;
    uint32_t i;
    *failed = TNN_STREAM_NO_LAYER;
    for (i = 0; i < info->n_layers; i++) {
        layer_t local;
        layer_t *st = states != NULL ? &states[i] : &local;
        tri_status_t s;
        *failed = (uint16_t)i;
        s = layer_setup(m, info, i, h, w, st);
        if (s != TRI_OK) {
            return s;
        }
        CHECK(st->kind == TNN_LAYER_CONV2D || st->kind == TNN_LAYER_DWCONV2D
                  ? st->p.conv.input.c == c
                  : (st->kind == TNN_LAYER_MAX_POOL2D ? st->p.pool.channels == c
                                                       : st->p.softmax.depth == c),
              TRI_ERR_FORMAT);
        rings += align8(st->ring_bytes);
        h = st->out_h;
        w = st->out_w;
        c = st->kind == TNN_LAYER_CONV2D || st->kind == TNN_LAYER_DWCONV2D ? st->p.conv.output.c
                                                                             : c;
        staging = (size_t)w * c > staging ? (size_t)w * c : staging;
    }
    *failed = TNN_STREAM_NO_LAYER;
    CHECK(c == info->out_c, TRI_ERR_FORMAT);
    *staging_bytes = align8(staging);
    *bytes = align8(sizeof(layer_t) * info->n_layers) + align8(staging) + rings;
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
    tnn_stream_info_t info;
    size_t bytes = 0u;
    size_t staging;
    uint32_t out[3];
    uint16_t failed;
    uint32_t h;
    if (tnn_stream_info(model, &info) != TRI_OK || width < 1u || width > DIM_MAX) {
        return 0u;
    }
    /* the sizes do not depend on the height: the largest one */
    h = DIM_MAX / info.multiple_h * info.multiple_h;
    if (h == 0u || extend(width, info.multiple_w) > DIM_MAX ||
        plan(model, &info, h, extend(width, info.multiple_w), NULL, &bytes, &staging, out,
             &failed) != TRI_OK) {
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
    return (int8_t *)ctx->scratch + align8(sizeof(layer_t) * ctx->n_layers);
}

tri_status_t tnn_stream_begin(tnn_stream_ctx_t *ctx, const tnn_stream_model_t *model,
                              uint32_t height, uint32_t width, void *scratch,
                              size_t scratch_bytes)
{
    tnn_stream_info_t info;
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
    s = tnn_stream_info(model, &info);
    if (s != TRI_OK) {
        return s;
    }
    if (height < info.min_h || width < info.min_w || height < 1u || width < 1u ||
        height > DIM_MAX || width > DIM_MAX || extend(height, info.multiple_h) > DIM_MAX ||
        extend(width, info.multiple_w) > DIM_MAX) {
        return TRI_ERR_SHAPE;
    }
    ctx->in_h = extend(height, info.multiple_h);
    ctx->in_w = extend(width, info.multiple_w);
    s = plan(model, &info, ctx->in_h, ctx->in_w, NULL, &need, &staging, out, &ctx->failed_layer);
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
    ctx->n_layers = info.n_layers;
    ctx->in_c = info.in_c;
    ctx->in_zero_point = info.in_zero_point;
    (void)plan(model, &info, ctx->in_h, ctx->in_w, states_of(ctx), &need, &staging, out,
               &ctx->failed_layer);
    p = staging_of(ctx) + staging; /* the rings follow the staging row */
    for (i = 0; i < info.n_layers; i++) {
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
    switch (l->kind) {
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
    switch (l->kind) {
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
    const uint32_t n = ctx->n_layers;
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
    st = states_of(ctx);
    staging = staging_of(ctx);
    zp = (int8_t)ctx->in_zero_point;
    row_bytes = (size_t)ctx->in_w * ctx->in_c;
    frame_bytes = (size_t)ctx->frame_w * ctx->in_c;
    for (i = 0; i < ctx->n_layers; i++) {
        layer_t *l = &st[i];
        switch (l->kind) {
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
