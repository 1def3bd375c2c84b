/*
 * tnn_model.h - what an exported model is made of. Included by the
 * generated <name>_model.c and by the engine; applications only need tnn.h.
 *
 * A model is a constant table of steps. Each step names an operator (a
 * small descriptor: check at bind time, run at invoke time), points at its
 * constant parameters (shapes, weights, precomputed multipliers), and says
 * where its tensors live in the arena as byte spans.
 *
 * Arena layout (planned by triage.engine.planner): tensors whose lifetimes
 * do not overlap share memory; an operator may also write its output over
 * the input it consumes, provided the output starts at least the operator's
 * "overlap gap" below that input (see tnn_kernels.h for each kernel's
 * write-order contract that makes this safe). Kernel scratch buffers are
 * planned the same way, as tensors living during their step.
 */
#ifndef TNN_MODEL_H
#define TNN_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "tnn.h"
#include "tri_status.h"

/* "TNN1" little-endian; the version changes whenever the generated code's
 * structures change, so that a stale export is refused at bind time. */
#define TNN_MODEL_MAGIC 0x314E4E54u
#define TNN_MODEL_VERSION 5u

/* A tensor's place in the arena, [offset, offset + bytes), and its index in
 * the source model (tensors that alias one another share the index). */
typedef struct {
    uint32_t offset;
    uint32_t bytes;
    uint32_t tensor;
} tnn_span_t;

typedef struct tnn_step tnn_step_t;

/* An operator as the engine sees it (defined in engine/src/tnn_ops.c). */
typedef struct {
    /* Validates the step's parameters, its tensor sizes and how its output
     * may overlap its inputs, at bind time. */
    tri_status_t (*check)(const tnn_step_t *step);
    /* Runs the step; `arena` is the bound arena's base. */
    tri_status_t (*run)(const tnn_step_t *step, int8_t *arena);
} tnn_op_t;

/* Most input tensors a step may have (CONCATENATION's limit). */
#define TNN_STEP_MAX_INPUTS 8u

/*
 * A step's scratch span is working memory of its kernel alone, planned in
 * the arena like a tensor that lives during the step only: it overlaps no
 * tensor live at that step (bind checks it). Bytes 0 when the step has none.
 */
struct tnn_step {
    const tnn_op_t *op;
    const void *params;   /* the kernel's parameter struct (tnn_kernels.h) */
    const tnn_span_t *in; /* n_in input tensors */
    uint32_t n_in;
    tnn_span_t out;
    tnn_span_t scratch; /* tensor TNN_NO_TENSOR */
};

struct tnn_model {
    uint32_t magic;   /* TNN_MODEL_MAGIC */
    uint32_t version; /* TNN_MODEL_VERSION */
    const tnn_step_t *steps;
    uint32_t n_steps;
    uint32_t arena_bytes; /* planned tensor arena */
    tnn_span_t input;
    tnn_span_t output;
};

/* Tensor index of a span that holds no tensor (a step's scratch). */
#define TNN_NO_TENSOR 0xFFFFFFFFu

/* Operators (engine/src/tnn_ops.c); only those a model uses get linked. */
extern const tnn_op_t tnn_op_conv2d_s8;
extern const tnn_op_t tnn_op_depthwise_conv2d_s8;
extern const tnn_op_t tnn_op_fully_connected_s8;
extern const tnn_op_t tnn_op_avg_pool2d_s8;
extern const tnn_op_t tnn_op_max_pool2d_s8;
extern const tnn_op_t tnn_op_mean_hw_s8;
extern const tnn_op_t tnn_op_reduce_max_hw_s8;
extern const tnn_op_t tnn_op_add_s8;
extern const tnn_op_t tnn_op_softmax_s8;
extern const tnn_op_t tnn_op_requantize_s8;
extern const tnn_op_t tnn_op_reshape_s8;
extern const tnn_op_t tnn_op_concat_s8;

#endif /* TNN_MODEL_H */
