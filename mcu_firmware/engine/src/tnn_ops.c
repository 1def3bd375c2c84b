/*
 * tnn_ops.c - the engine's view of each operator: a bind-time check of the
 * step (parameter ranges, tensor sizes, the overlap the planner chose) and
 * the call of its kernel at invoke time.
 *
 * The checks make the kernels' blind loops safe: every index a kernel
 * computes stays inside the spans checked here, and the spans themselves
 * are checked against the arena by tnn_bind.
 */
#include <stddef.h>

#include "tnn_kernels.h"
#include "tnn_model.h"

#define CHECK(cond, status)                                                                        \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            return (status);                                                                       \
        }                                                                                          \
    } while (0)

/* Largest |accumulator| one int8 tap can add: 127 * 255. */
#define TAP_MAX 32385u

static int overlaps(tnn_span_t a, tnn_span_t b)
{
    return a.bytes != 0u && b.bytes != 0u && a.offset < b.offset + b.bytes &&
           b.offset < a.offset + a.bytes;
}

/* The output may overlap `in` only when it starts `gap` bytes or more below
 * it (gap may be negative: then the output may start above the input). */
static tri_status_t overlap_allowed(tnn_span_t in, tnn_span_t out, int64_t gap)
{
    if (!overlaps(in, out)) {
        return TRI_OK;
    }
    return (int64_t)out.offset + gap <= (int64_t)in.offset ? TRI_OK : TRI_ERR_FORMAT;
}

static tri_status_t disjoint(tnn_span_t in, tnn_span_t out)
{
    return overlaps(in, out) ? TRI_ERR_FORMAT : TRI_OK;
}

/*
 * For a kernel with the "rows" write order: the least distance (bytes) the
 * output must start below its input so that writing output row r never
 * reaches an input row still needed by rows >= r:
 *   gap = max over r of (r + 1) * out_row - first(r) * in_row,
 *   first(r) = clamp(r * stride - pad, 0, in_h).
 * triage.engine.planner computes the same quantity.
 */
static int64_t row_gap(uint32_t out_h, uint32_t out_row, uint32_t in_h, uint32_t in_row,
                       uint32_t stride, uint32_t pad)
{
    int64_t gap = INT64_MIN;
    uint32_t r;
    for (r = 0; r < out_h; r++) {
        int64_t first = (int64_t)r * stride - (int64_t)pad;
        int64_t need;
        first = first < 0 ? 0 : (first > (int64_t)in_h ? (int64_t)in_h : first);
        need = ((int64_t)r + 1) * out_row - first * (int64_t)in_row;
        gap = need > gap ? need : gap;
    }
    return gap;
}

static int shift_ok(int32_t shift)
{
    return shift >= -31 && shift <= 30;
}

/* Per-channel requantisation arrays and the accumulator bound. */
static tri_status_t check_channels(const int32_t *bias, const int32_t *mult, const int8_t *shift,
                                   uint32_t channels, uint32_t taps)
{
    uint32_t o;
    CHECK(mult != NULL && shift != NULL, TRI_ERR_ARG);
    for (o = 0; o < channels; o++) {
        uint64_t bound = (uint64_t)taps * TAP_MAX;
        CHECK(mult[o] >= 0 && shift_ok(shift[o]), TRI_ERR_FORMAT);
        if (bias != NULL) {
            bound += bias[o] < 0 ? (uint64_t)(-(int64_t)bias[o]) : (uint64_t)bias[o];
        }
        CHECK(bound < ((uint64_t)1 << 31), TRI_ERR_SHAPE);
    }
    return TRI_OK;
}

static int offset_ok(int32_t in_offset, int32_t out_offset)
{
    return in_offset >= -127 && in_offset <= 128 && out_offset >= -128 && out_offset <= 127;
}

/* The step's scratch span holds what the linked kernel set needs (`need`,
 * from the kernel's *_scratch_bytes partner). */
static tri_status_t scratch_ok(const tnn_step_t *s, uint32_t need)
{
    if (need == TNN_SCRATCH_INVALID) {
        return TRI_ERR_FORMAT; /* packed data inconsistent with the shapes */
    }
    return s->scratch.bytes >= need ? TRI_OK : TRI_ERR_SIZE;
}

/* ---- CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED ------------------------- */

/* What the three share: arrays, shapes, window, offsets, the input and
 * output spans; `depthwise` chooses the channel rule and the taps of an
 * output. */
static tri_status_t conv_layer_check(const tnn_step_t *s, int depthwise)
{
    const tnn_conv2d_s8_params_t *p = s->params;
    const tnn_conv_params_t *cv;
    uint32_t taps;
    CHECK(p != NULL && p->filter != NULL && s->n_in == 1u, TRI_ERR_ARG);
    cv = &p->conv;
    CHECK(p->input.h && p->input.w && p->input.c && p->output.h && p->output.w && p->output.c,
          TRI_ERR_SHAPE);
    CHECK(cv->kernel.h && cv->kernel.w && cv->stride.h && cv->stride.w && cv->dilation.h &&
              cv->dilation.w,
          TRI_ERR_SHAPE);
    if (depthwise) {
        CHECK(cv->depth_mult && (uint32_t)p->output.c == (uint32_t)p->input.c * cv->depth_mult,
              TRI_ERR_SHAPE);
    } else {
        CHECK(cv->depth_mult == 0u, TRI_ERR_SHAPE);
    }
    CHECK(cv->act.min <= cv->act.max && offset_ok(cv->in_offset, cv->out_offset), TRI_ERR_FORMAT);
    CHECK(s->in[0].bytes == (uint32_t)p->input.h * p->input.w * p->input.c &&
              s->out.bytes == (uint32_t)p->output.h * p->output.w * p->output.c,
          TRI_ERR_SHAPE);
    taps = (uint32_t)cv->kernel.h * cv->kernel.w * (depthwise ? 1u : (uint32_t)p->input.c);
    if (check_channels(p->bias, p->quant.mult, p->quant.shift, p->output.c, taps) != TRI_OK) {
        return TRI_ERR_FORMAT;
    }
    return TRI_OK;
}

/* The "rows" overlap of a convolution's output with its input. */
static tri_status_t conv_overlap(const tnn_step_t *s)
{
    const tnn_conv2d_s8_params_t *p = s->params;
    return overlap_allowed(s->in[0], s->out,
                           row_gap(p->output.h, (uint32_t)p->output.w * p->output.c, p->input.h,
                                   (uint32_t)p->input.w * p->input.c, p->conv.stride.h,
                                   p->conv.pad.h));
}

static tri_status_t conv2d_check(const tnn_step_t *s)
{
    tri_status_t st = conv_layer_check(s, 0);
    if (st == TRI_OK) {
        st = scratch_ok(s, tnn_conv2d_s8_scratch_bytes(s->params));
    }
    return st != TRI_OK ? st : conv_overlap(s);
}

static tri_status_t conv2d_run(const tnn_step_t *s, int8_t *arena)
{
    return tnn_conv2d_s8(s->params, arena + s->in[0].offset, arena + s->out.offset,
                         arena + s->scratch.offset);
}

const tnn_op_t tnn_op_conv2d_s8 = {conv2d_check, conv2d_run};

static tri_status_t dwconv_check(const tnn_step_t *s)
{
    tri_status_t st = conv_layer_check(s, 1);
    if (st == TRI_OK) {
        st = scratch_ok(s, tnn_depthwise_conv2d_s8_scratch_bytes(s->params));
    }
    return st != TRI_OK ? st : conv_overlap(s);
}

static tri_status_t dwconv_run(const tnn_step_t *s, int8_t *arena)
{
    return tnn_depthwise_conv2d_s8(s->params, arena + s->in[0].offset, arena + s->out.offset,
                                   arena + s->scratch.offset);
}

const tnn_op_t tnn_op_depthwise_conv2d_s8 = {dwconv_check, dwconv_run};

/* FULLY_CONNECTED: the 1x1 convolution of one row of `batches` pixels. */
static tri_status_t fc_check(const tnn_step_t *s)
{
    const tnn_fully_connected_s8_params_t *p = s->params;
    tri_status_t st = conv_layer_check(s, 0);
    if (st != TRI_OK) {
        return st;
    }
    CHECK(p->input.h == 1u && p->output.h == 1u && p->output.w == p->input.w, TRI_ERR_SHAPE);
    CHECK(p->conv.kernel.h == 1u && p->conv.kernel.w == 1u && p->conv.stride.h == 1u &&
              p->conv.stride.w == 1u && p->conv.dilation.h == 1u && p->conv.dilation.w == 1u &&
              p->conv.pad.h == 0u && p->conv.pad.w == 0u,
          TRI_ERR_SHAPE);
    st = scratch_ok(s, tnn_fully_connected_s8_scratch_bytes(p));
    if (st != TRI_OK) {
        return st;
    }
    return disjoint(s->in[0], s->out);
}

static tri_status_t fc_run(const tnn_step_t *s, int8_t *arena)
{
    return tnn_fully_connected_s8(s->params, arena + s->in[0].offset, arena + s->out.offset,
                                  arena + s->scratch.offset);
}

const tnn_op_t tnn_op_fully_connected_s8 = {fc_check, fc_run};

/* ---- AVERAGE_POOL_2D / MAX_POOL_2D --------------------------------------- */

/* Every window must hold at least one input pixel (TFLM fails otherwise). */
static int windows_nonempty(uint32_t in, uint32_t out, uint32_t k, uint32_t stride, uint32_t pad)
{
    const int64_t last = (int64_t)(out - 1u) * stride - (int64_t)pad;
    return k > pad && last < (int64_t)in;
}

static tri_status_t pool_check(const tnn_step_t *s)
{
    const tnn_pool2d_s8_params_t *p = s->params;
    CHECK(p != NULL && s->n_in == 1u, TRI_ERR_ARG);
    CHECK(p->in_h && p->in_w && p->channels && p->out_h && p->out_w, TRI_ERR_SHAPE);
    CHECK(p->k_h && p->k_w && p->stride_h && p->stride_w, TRI_ERR_SHAPE);
    CHECK(windows_nonempty(p->in_h, p->out_h, p->k_h, p->stride_h, p->pad_top) &&
              windows_nonempty(p->in_w, p->out_w, p->k_w, p->stride_w, p->pad_left),
          TRI_ERR_SHAPE);
    CHECK(p->act_min <= p->act_max, TRI_ERR_FORMAT);
    CHECK(s->in[0].bytes == (uint32_t)p->in_h * p->in_w * p->channels, TRI_ERR_SHAPE);
    CHECK(s->out.bytes == (uint32_t)p->out_h * p->out_w * p->channels, TRI_ERR_SHAPE);
    return overlap_allowed(s->in[0], s->out,
                           row_gap(p->out_h, (uint32_t)p->out_w * p->channels, p->in_h,
                                   (uint32_t)p->in_w * p->channels, p->stride_h, p->pad_top));
}

static tri_status_t avg_pool_run(const tnn_step_t *s, int8_t *arena)
{
    return tnn_avg_pool2d_s8(s->params, arena + s->in[0].offset, arena + s->out.offset);
}

static tri_status_t max_pool_run(const tnn_step_t *s, int8_t *arena)
{
    return tnn_max_pool2d_s8(s->params, arena + s->in[0].offset, arena + s->out.offset);
}

const tnn_op_t tnn_op_avg_pool2d_s8 = {pool_check, avg_pool_run};
const tnn_op_t tnn_op_max_pool2d_s8 = {pool_check, max_pool_run};

/* ---- MEAN / REDUCE_MAX over H, W ----------------------------------------- */

static tri_status_t mean_check(const tnn_step_t *s)
{
    const tnn_mean_hw_s8_params_t *p = s->params;
    CHECK(p != NULL && s->n_in == 1u, TRI_ERR_ARG);
    CHECK(p->count >= 1u && p->count <= (1u << 23) && p->channels >= 1u, TRI_ERR_SHAPE);
    CHECK(s->in[0].bytes == p->count * p->channels && s->out.bytes == p->channels,
          TRI_ERR_SHAPE);
    CHECK(p->mult >= 0 && shift_ok(p->shift), TRI_ERR_FORMAT);
    CHECK(offset_ok(-p->in_zero_point, p->out_offset), TRI_ERR_FORMAT);
    return overlap_allowed(s->in[0], s->out, 0);
}

static tri_status_t mean_run(const tnn_step_t *s, int8_t *arena)
{
    return tnn_mean_hw_s8(s->params, arena + s->in[0].offset, arena + s->out.offset);
}

const tnn_op_t tnn_op_mean_hw_s8 = {mean_check, mean_run};

static tri_status_t reduce_max_check(const tnn_step_t *s)
{
    const tnn_reduce_max_hw_s8_params_t *p = s->params;
    CHECK(p != NULL && s->n_in == 1u, TRI_ERR_ARG);
    CHECK(p->count >= 1u && p->channels >= 1u, TRI_ERR_SHAPE);
    CHECK(s->in[0].bytes == p->count * p->channels && s->out.bytes == p->channels,
          TRI_ERR_SHAPE);
    return overlap_allowed(s->in[0], s->out, 0);
}

static tri_status_t reduce_max_run(const tnn_step_t *s, int8_t *arena)
{
    return tnn_reduce_max_hw_s8(s->params, arena + s->in[0].offset, arena + s->out.offset);
}

const tnn_op_t tnn_op_reduce_max_hw_s8 = {reduce_max_check, reduce_max_run};

/* ---- ADD ----------------------------------------------------------------- */

/* Largest element index an input is read at, plus one; 0 when a stride
 * makes the input look non-contiguous-full-size. */
static uint64_t add_extent(const uint16_t *dims, const uint32_t *strides)
{
    uint64_t last = 0u;
    unsigned d;
    for (d = 0; d < 4u; d++) {
        last += (uint64_t)(dims[d] - 1u) * strides[d];
    }
    return last + 1u;
}

static int add_is_full(const uint16_t *dims, const uint32_t *strides)
{
    return strides[3] == 1u && strides[2] == dims[3] && strides[1] == (uint32_t)dims[3] * dims[2] &&
           strides[0] == (uint32_t)dims[3] * dims[2] * dims[1];
}

static tri_status_t add_input_check(tnn_span_t in, tnn_span_t out, const uint16_t *dims,
                                    const uint32_t *strides)
{
    CHECK(add_extent(dims, strides) <= in.bytes, TRI_ERR_SHAPE);
    if (add_is_full(dims, strides) && in.bytes == out.bytes) {
        return overlap_allowed(in, out, 0);
    }
    return disjoint(in, out);
}

static tri_status_t add_check(const tnn_step_t *s)
{
    const tnn_add_s8_params_t *p = s->params;
    tri_status_t st;
    CHECK(p != NULL && s->n_in == 2u, TRI_ERR_ARG);
    CHECK(p->out_dims[0] && p->out_dims[1] && p->out_dims[2] && p->out_dims[3], TRI_ERR_SHAPE);
    CHECK(s->out.bytes == (uint32_t)p->out_dims[0] * p->out_dims[1] * p->out_dims[2] *
                              p->out_dims[3],
          TRI_ERR_SHAPE);
    CHECK(p->left_shift <= 23u && p->act_min <= p->act_max, TRI_ERR_FORMAT);
    CHECK(offset_ok(p->in1_offset, p->out_offset) && offset_ok(p->in2_offset, 0), TRI_ERR_FORMAT);
    CHECK(p->in1_mult >= 0 && p->in2_mult >= 0 && p->out_mult >= 0, TRI_ERR_FORMAT);
    CHECK(shift_ok(p->in1_shift) && shift_ok(p->in2_shift) && shift_ok(p->out_shift),
          TRI_ERR_FORMAT);
    st = add_input_check(s->in[0], s->out, p->out_dims, p->in1_strides);
    if (st == TRI_OK) {
        st = add_input_check(s->in[1], s->out, p->out_dims, p->in2_strides);
    }
    return st;
}

static tri_status_t add_run(const tnn_step_t *s, int8_t *arena)
{
    return tnn_add_s8(s->params, arena + s->in[0].offset, arena + s->in[1].offset,
                      arena + s->out.offset);
}

const tnn_op_t tnn_op_add_s8 = {add_check, add_run};

/* ---- SOFTMAX ------------------------------------------------------------- */

static tri_status_t softmax_check(const tnn_step_t *s)
{
    const tnn_softmax_s8_params_t *p = s->params;
    CHECK(p != NULL && s->n_in == 1u, TRI_ERR_ARG);
    /* depth <= 511 keeps the sum of exponentials below 2^28 (Q12.19). */
    CHECK(p->rows >= 1u && p->depth >= 1u && p->depth <= 511u, TRI_ERR_SHAPE);
    CHECK(s->in[0].bytes == p->rows * p->depth && s->out.bytes == s->in[0].bytes,
          TRI_ERR_SHAPE);
    CHECK(p->input_mult >= 0 && p->input_left_shift >= 0 && p->input_left_shift <= 30 &&
              p->diff_min <= 0,
          TRI_ERR_FORMAT);
    return overlap_allowed(s->in[0], s->out, 0);
}

static tri_status_t softmax_run(const tnn_step_t *s, int8_t *arena)
{
    return tnn_softmax_s8(s->params, arena + s->in[0].offset, arena + s->out.offset);
}

const tnn_op_t tnn_op_softmax_s8 = {softmax_check, softmax_run};

/* ---- QUANTIZE (int8 -> int8) --------------------------------------------- */

static tri_status_t requantize_check(const tnn_step_t *s)
{
    const tnn_requantize_s8_params_t *p = s->params;
    CHECK(p != NULL && s->n_in == 1u, TRI_ERR_ARG);
    CHECK(s->in[0].bytes == p->size && s->out.bytes == p->size && p->size >= 1u, TRI_ERR_SHAPE);
    CHECK(p->mult >= 0 && shift_ok(p->shift), TRI_ERR_FORMAT);
    CHECK(offset_ok(-p->in_zero_point, p->out_zero_point), TRI_ERR_FORMAT);
    return overlap_allowed(s->in[0], s->out, 0);
}

static tri_status_t requantize_run(const tnn_step_t *s, int8_t *arena)
{
    return tnn_requantize_s8(s->params, arena + s->in[0].offset, arena + s->out.offset);
}

const tnn_op_t tnn_op_requantize_s8 = {requantize_check, requantize_run};

/* ---- RESHAPE (copy) ------------------------------------------------------ */

static tri_status_t reshape_check(const tnn_step_t *s)
{
    const tnn_copy_s8_params_t *p = s->params;
    CHECK(p != NULL && s->n_in == 1u, TRI_ERR_ARG);
    CHECK(s->in[0].bytes == p->size && s->out.bytes == p->size, TRI_ERR_SHAPE);
    return TRI_OK; /* memmove: any overlap */
}

static tri_status_t reshape_run(const tnn_step_t *s, int8_t *arena)
{
    return tnn_reshape_s8(s->params, arena + s->in[0].offset, arena + s->out.offset);
}

const tnn_op_t tnn_op_reshape_s8 = {reshape_check, reshape_run};

/* ---- CONCATENATION ------------------------------------------------------- */

static tri_status_t concat_check(const tnn_step_t *s)
{
    const tnn_concat_s8_params_t *p = s->params;
    uint64_t total = 0u;
    uint32_t j;
    CHECK(p != NULL && p->in_inner != NULL, TRI_ERR_ARG);
    CHECK(p->n_inputs >= 1u && p->n_inputs <= TNN_CONCAT_MAX_INPUTS && s->n_in == p->n_inputs,
          TRI_ERR_SHAPE);
    CHECK(p->outer >= 1u, TRI_ERR_SHAPE);
    for (j = 0; j < p->n_inputs; j++) {
        CHECK((uint64_t)p->outer * p->in_inner[j] == s->in[j].bytes, TRI_ERR_SHAPE);
        CHECK(disjoint(s->in[j], s->out) == TRI_OK, TRI_ERR_FORMAT);
        total += s->in[j].bytes;
    }
    CHECK(total == s->out.bytes, TRI_ERR_SHAPE);
    return TRI_OK;
}

static tri_status_t concat_run(const tnn_step_t *s, int8_t *arena)
{
    const int8_t *inputs[TNN_CONCAT_MAX_INPUTS];
    uint32_t j;
    for (j = 0; j < s->n_in; j++) {
        inputs[j] = arena + s->in[j].offset;
    }
    return tnn_concat_s8(s->params, inputs, arena + s->out.offset);
}

const tnn_op_t tnn_op_concat_s8 = {concat_check, concat_run};
