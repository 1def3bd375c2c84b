/*
 * tnn_kernels.h - the int8 kernels: one per file in engine/kernels/ (the
 * slow, commented reference), named tnn_<op>_s8. An optimised set with the
 * same names may live in a sibling folder chosen at build time (make
 * KERNELS=...); it must stay bit-exact with the reference and keep the
 * write-order contracts below.
 *
 * Layouts: activations are int8 [H][W][C] (NHWC with N = 1), channels
 * fastest. Quantisation is affine, real = scale * (q - zero_point).
 * Parameters are precomputed by the exporter (triage.engine), so kernels do
 * no floating point and no validation: tnn_bind checks every parameter set
 * once (engine/src/tnn_ops.c), then kernels run blind.
 *
 * Requantisation: an int32 accumulator x is scaled by a real multiplier
 * M = mult * 2^(shift - 31) with mult in [2^30, 2^31) (or 0) and shift in
 * [-31, 30], exactly as TensorFlow Lite Micro does it (tnn_fixed.h).
 *
 * Scratch: CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED take a scratch
 * buffer (4-byte aligned) planned in the arena for their step; each has a
 * *_scratch_bytes() partner giving the bytes the linked kernel set needs for
 * a parameter set (0 for the reference kernels; TNN_SCRATCH_INVALID when the
 * packed data are inconsistent, which makes tnn_bind refuse the step).
 *
 * Write-order contract (lets the planner overlap an output with the input
 * it consumes): kernels whose comment says "overlap: rows" write output
 * rows in increasing address order and, while producing output row r,
 * never write beyond the end of row r nor read input rows above the first
 * row that output row r needs; "overlap: elementwise" kernels read element
 * i of every full-size input before writing output element i, in
 * increasing i; "overlap: channels" kernels reduce channel c completely
 * before writing output element c, in increasing c.
 */
#ifndef TNN_KERNELS_H
#define TNN_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "tri_status.h"

/* ---- Packed data for the optimised kernels ----------------------------------
 * The exporter precomputes, per CONV_2D / DEPTHWISE_CONV_2D /
 * FULLY_CONNECTED step, what the optimised kernels (engine/kernels_dsp)
 * need; the reference kernels ignore it, and a NULL pointer (or method
 * TNN_PACK_PLAIN) makes the optimised kernels take their portable loop.
 *
 *   method  TNN_PACK_ROWS: the input rows a window needs are widened to int16
 *           into the scratch buffer (padding materialised as the input zero
 *           point), then multiply-accumulated two 16-bit lanes at a time.
 *   flags   TNN_PACK_FAST: requantisation in one rounding, weights and biases
 *           doubled (engine/kernels_dsp/dsp_s8.h explains why it is exact);
 *           TNN_PACK_CLAMP: the fused activation narrows the output below
 *           [-128, 127]; TNN_PACK_FLOOR (with TNN_PACK_FAST): the output
 *           zero point is -128, so an output the one-rounding form's
 *           correction for negative accumulators could change saturates
 *           to -128 anyway, and the full blocks skip the correction
 *           (kernels_dsp/dsp_s8.h); TNN_PACK_RING: consecutive output rows share their
 *           widened input rows, so `data` holds one copy per ring rotation.
 *   groups  ceil(depth / 4): input channels (CONV_2D, FULLY_CONNECTED) or
 *           channels (DEPTHWISE_CONV_2D) in groups of four, zero-padded.
 *   data    per block of four output channels, in the order the kernel
 *           reads it: the biases with the input offset folded in, the
 *           weights widened to int16 (two per word) in the window's order,
 *           the requantisation records (layouts: kernels_dsp/dsp_s8.h).
 */
#define TNN_PACK_PLAIN 0u
#define TNN_PACK_ROWS 1u
#define TNN_PACK_FAST 1u
#define TNN_PACK_CLAMP 2u
#define TNN_PACK_RING 4u
#define TNN_PACK_FLOOR 8u
#define TNN_SCRATCH_INVALID 0xFFFFFFFFu

typedef struct {
    uint8_t method;
    uint8_t flags;
    uint16_t groups;
    const uint32_t *data;
    uint32_t words; /* data's length: exactly what the layer's kernel reads, or refused */
} tnn_packed_t;

/* ---- The parts of a convolution's parameters --------------------------------
 * Composed the way CMSIS-NN composes a convolution's arguments
 * (cmsis_nn_conv_params + cmsis_nn_per_channel_quant_params +
 * cmsis_nn_dims per tensor): the window and quantisation of the layer, its
 * per-channel requantisation, the shapes of its tensors, then its constant
 * arrays. CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED share one parameter
 * set (FULLY_CONNECTED is the 1x1 convolution of a row of `batches` pixels),
 * so that an optimised kernel reads the parts where the exporter put them
 * instead of copying their fields. */

/* An activation tensor's shape: [h][w][c], batch 1. */
typedef struct {
    uint16_t h, w, c;
} tnn_dims_t;

/* A window parameter along the height and the width. */
typedef struct {
    uint8_t h, w;
} tnn_hw_t;

/* The fused activation's range, in the output's int8 domain. */
typedef struct {
    int8_t min, max;
} tnn_act_t;

/* The window and quantisation of a convolution (cmsis_nn_conv_params, with
 * cmsis_nn_dw_conv_params' channel multiplier and the kernel size). */
typedef struct {
    int16_t in_offset;   /* -input zero point, in [-127, 128] */
    int16_t out_offset;  /* output zero point, in [-128, 127] */
    uint16_t depth_mult; /* DEPTHWISE_CONV_2D: output channels per input channel; else 0 */
    tnn_hw_t kernel;
    tnn_hw_t stride;
    tnn_hw_t dilation;
    tnn_hw_t pad;        /* rows above the input (h), columns left of it (w) */
    tnn_act_t act;
} tnn_conv_params_t;

/* Per output channel requantisation (cmsis_nn_per_channel_quant_params):
 * M[o] = mult[o] * 2^(shift[o] - 31). */
typedef struct {
    const int32_t *mult;
    const int8_t *shift;
} tnn_per_channel_quant_t;

/* ---- CONV_2D -------------------------------------------------------------
 * out[y][x][o] = clamp(requant(bias[o] + sum_{ky,kx,i} f[o][ky][kx][i] *
 *                (in[y*sh - pt + ky*dh][x*sw - pl + kx*dw][i] + in_offset),
 *                mult[o], shift[o]) + out_offset, act.min, act.max)
 * taps outside the input are skipped (zero padding in the real domain).
 * conv.depth_mult is 0. overlap: rows. */
typedef struct {
    tnn_conv_params_t conv;
    tnn_per_channel_quant_t quant;  /* [output.c] each */
    tnn_dims_t input;
    tnn_dims_t output;
    const int8_t *filter; /* [output.c][kernel.h][kernel.w][input.c], symmetric (zero point 0) */
    const int32_t *bias;  /* [output.c] or NULL */
    const tnn_packed_t *packed; /* for the optimised kernels, or NULL */
} tnn_conv2d_s8_params_t;

tri_status_t tnn_conv2d_s8(const tnn_conv2d_s8_params_t *p, const int8_t *input, int8_t *output,
                           void *scratch);
uint32_t tnn_conv2d_s8_scratch_bytes(const tnn_conv2d_s8_params_t *p);

/* ---- DEPTHWISE_CONV_2D ---------------------------------------------------
 * Output channel o = i * depth_mult + m reads input channel i only
 * (output.c = input.c * conv.depth_mult, depth_mult >= 1); filter
 * [1][kernel.h][kernel.w][output.c]. Otherwise as CONV_2D. overlap: rows. */
typedef tnn_conv2d_s8_params_t tnn_depthwise_conv2d_s8_params_t;

tri_status_t tnn_depthwise_conv2d_s8(const tnn_depthwise_conv2d_s8_params_t *p,
                                     const int8_t *input, int8_t *output, void *scratch);
uint32_t tnn_depthwise_conv2d_s8_scratch_bytes(const tnn_depthwise_conv2d_s8_params_t *p);

/* ---- FULLY_CONNECTED -----------------------------------------------------
 * out[b][o] = clamp(requant(bias[o] + sum_i f[o][i] * (in[b][i] + in_offset))
 *                   + out_offset): the 1x1 convolution of input
 * [1][batches][in_features] into output [1][batches][out_features] (kernel,
 * stride and dilation 1, no padding, depth_mult 0; filter
 * [out_features][in_features]). Per-tensor weights are exported as
 * per-channel arrays with equal entries. The output must not overlap the
 * input. */
typedef tnn_conv2d_s8_params_t tnn_fully_connected_s8_params_t;

tri_status_t tnn_fully_connected_s8(const tnn_fully_connected_s8_params_t *p, const int8_t *input,
                                    int8_t *output, void *scratch);
uint32_t tnn_fully_connected_s8_scratch_bytes(const tnn_fully_connected_s8_params_t *p);

/* ---- AVERAGE_POOL_2D / MAX_POOL_2D --------------------------------------
 * Input and output share scale and zero point; windows are clipped to the
 * input (padding contributes nothing and is not counted). overlap: rows. */
typedef struct {
    uint16_t in_h, in_w, channels;
    uint16_t out_h, out_w;
    uint8_t k_h, k_w;
    uint8_t stride_h, stride_w;
    uint8_t pad_top, pad_left;
    int8_t act_min, act_max;
} tnn_pool2d_s8_params_t;

tri_status_t tnn_avg_pool2d_s8(const tnn_pool2d_s8_params_t *p, const int8_t *input,
                               int8_t *output);
tri_status_t tnn_max_pool2d_s8(const tnn_pool2d_s8_params_t *p, const int8_t *input,
                               int8_t *output);

/* ---- MEAN over H and W (global average pooling) --------------------------
 * sum_c = sum over the count = H*W pixels of channel c (int32, exact);
 *     out[c] = clamp(requant(sum_c - in_zero_point * count, mult, shift)
 *                    + out_offset, -128, 127)
 * where mult/shift already include the 1/count factor. overlap: channels. */
typedef struct {
    uint32_t count; /* H * W */
    uint16_t channels;
    int16_t in_zero_point;
    int16_t out_offset;
    int32_t mult;
    int8_t shift;
} tnn_mean_hw_s8_params_t;

tri_status_t tnn_mean_hw_s8(const tnn_mean_hw_s8_params_t *p, const int8_t *input,
                            int8_t *output);

/* ---- REDUCE_MAX over H and W (global max pooling) ------------------------
 * out[c] = max over the count pixels of channel c; input and output share
 * scale and zero point. overlap: channels. */
typedef struct {
    uint32_t count;
    uint16_t channels;
} tnn_reduce_max_hw_s8_params_t;

tri_status_t tnn_reduce_max_hw_s8(const tnn_reduce_max_hw_s8_params_t *p, const int8_t *input,
                                  int8_t *output);

/* ---- ADD -----------------------------------------------------------------
 * TFLM's int8 addition: both inputs are brought to a common scale with
 * 20 bits of headroom, summed, and requantised:
 *   a = requant((in1 + in1_offset) << left_shift, in1_mult, in1_shift)
 *   b = requant((in2 + in2_offset) << left_shift, in2_mult, in2_shift)
 *   out = clamp(requant(a + b, out_mult, out_shift) + out_offset)
 * Broadcasting: out_dims is the 4-D output shape; in1_strides/in2_strides
 * give each input's element stride per dimension (0 where it broadcasts).
 * overlap: elementwise (with a full-size input). */
typedef struct {
    uint16_t out_dims[4];
    uint32_t in1_strides[4];
    uint32_t in2_strides[4];
    int16_t in1_offset, in2_offset, out_offset;
    uint8_t left_shift;
    int32_t in1_mult, in2_mult, out_mult;
    int8_t in1_shift, in2_shift, out_shift;
    int8_t act_min, act_max;
} tnn_add_s8_params_t;

tri_status_t tnn_add_s8(const tnn_add_s8_params_t *p, const int8_t *input1, const int8_t *input2,
                        int8_t *output);

/* ---- SOFTMAX (int8 in, int8 out with scale 1/256, zero point -128) -------
 * TFLM's fixed-point softmax over the last dimension: differences to the
 * row maximum are scaled by beta*input_scale (input_mult, input_left_shift)
 * into Q5.26, exponentiated in fixed point, summed in Q12.19 and divided
 * by a fixed-point reciprocal. Differences below diff_min give -128.
 * overlap: elementwise. */
typedef struct {
    uint32_t rows;
    uint16_t depth;
    int32_t input_mult;
    int8_t input_left_shift;
    int32_t diff_min;
} tnn_softmax_s8_params_t;

tri_status_t tnn_softmax_s8(const tnn_softmax_s8_params_t *p, const int8_t *input,
                            int8_t *output);

/* The same, the exponential of each difference (0 to -255) read from a table
 * tnn_softmax_s8_table filled (steps 1-3 above, once per parameter set). */
#define TNN_SOFTMAX_TABLE 256u
void tnn_softmax_s8_table(const tnn_softmax_s8_params_t *p, int32_t table[TNN_SOFTMAX_TABLE]);
tri_status_t tnn_softmax_s8_lut(const tnn_softmax_s8_params_t *p,
                                const int32_t table[TNN_SOFTMAX_TABLE], const int8_t *input,
                                int8_t *output);

/* ---- QUANTIZE int8 -> int8 (requantisation) ------------------------------
 * out = clamp(requant(in - in_zero_point, mult, shift) + out_zero_point).
 * overlap: elementwise. */
typedef struct {
    uint32_t size;
    int16_t in_zero_point;
    int16_t out_zero_point;
    int32_t mult;
    int8_t shift;
} tnn_requantize_s8_params_t;

tri_status_t tnn_requantize_s8(const tnn_requantize_s8_params_t *p, const int8_t *input,
                               int8_t *output);

/* ---- RESHAPE (a copy; the exporter normally aliases instead) -------------
 * overlap: any (memmove semantics). */
typedef struct {
    uint32_t size;
} tnn_copy_s8_params_t;

tri_status_t tnn_reshape_s8(const tnn_copy_s8_params_t *p, const int8_t *input, int8_t *output);

/* ---- CONCATENATION (inputs and output share scale and zero point) --------
 * The output is `outer` blocks; block k is input 0's k-th run of
 * in_inner[0] bytes, then input 1's k-th run, and so on. The output must
 * not overlap any input. */
#define TNN_CONCAT_MAX_INPUTS 8u /* == TNN_STEP_MAX_INPUTS */
typedef struct {
    uint32_t outer;
    uint16_t n_inputs;
    const uint32_t *in_inner; /* [n_inputs] bytes per block */
} tnn_concat_s8_params_t;

tri_status_t tnn_concat_s8(const tnn_concat_s8_params_t *p, const int8_t *const *inputs,
                           int8_t *output);

/* ---- Rows of a streaming layer (engine/src/tnn_stream.c) -------------------
 * A layer of a streaming model keeps the input rows its window needs in a
 * ring of k_h slots, in memory the executor gives it (the *_ring_bytes
 * partner sizes it for the linked kernel set: int8 rows with their padding
 * columns for the reference kernels, rows widened to int16 for the DSP
 * kernels). The parameters are those of the frame being run (dims and
 * paddings filled in by the executor). Input row iy (iy = -pad.h for the
 * first row of top padding) goes to slot (iy + pad.h) mod k_h; output row oy
 * reads tap row ky from slot (oy * stride.h + ky) mod k_h, so the executor
 * must push the rows in order and run each output row once its k_h rows are
 * in, before pushing a row that would overwrite one of them.
 *   ring_bytes  bytes of the ring (TNN_SCRATCH_INVALID: packed data the
 *               kernel set cannot stream, or inconsistent with the shapes);
 *   reset       every slot and padding column to the padding value;
 *   push        input row `row` (int8 [input.w][input.c]) into `slot`, or a
 *               row of padding when row is NULL;
 *   run         output row oy (int8 [output.w][output.c]) into out.
 * CONV_2D and DEPTHWISE_CONV_2D (depth multiplier 1) share the conv rows,
 * dilation 1; padding holds the input zero point. MAX_POOL_2D pads with
 * -128, which never wins a maximum (TFLM skips padded positions).
 * Kernel heights are at most TNN_ROWS_MAX_KERNEL (checked at begin). */
#define TNN_ROWS_MAX_KERNEL 16u
uint32_t tnn_conv_rows_s8_ring_bytes(const tnn_conv2d_s8_params_t *p);
void tnn_conv_rows_s8_reset(const tnn_conv2d_s8_params_t *p, void *ring);
void tnn_conv_rows_s8_push(const tnn_conv2d_s8_params_t *p, void *ring, uint32_t slot,
                           const int8_t *row);
void tnn_conv_rows_s8_run(const tnn_conv2d_s8_params_t *p, void *ring, int32_t oy, int8_t *out);

uint32_t tnn_max_pool_rows_s8_ring_bytes(const tnn_pool2d_s8_params_t *p);
void tnn_max_pool_rows_s8_reset(const tnn_pool2d_s8_params_t *p, void *ring);
void tnn_max_pool_rows_s8_push(const tnn_pool2d_s8_params_t *p, void *ring, uint32_t slot,
                               const int8_t *row);
void tnn_max_pool_rows_s8_run(const tnn_pool2d_s8_params_t *p, void *ring, int32_t oy,
                              int8_t *out);

#endif /* TNN_KERNELS_H */
