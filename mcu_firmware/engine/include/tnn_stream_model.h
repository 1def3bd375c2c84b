/*
 * tnn_stream_model.h - what an exported streaming model is made of.
 * Included by the generated <name>_stream.c and by the executor;
 * applications only need tnn_stream.h.
 *
 * A streaming model is a constant table of layers in chain order. Each
 * layer names its kind, its window (kernel, stride, padding rule) and points
 * at a parameter template of its kernel (tnn_kernels.h) whose spatial sizes
 * and paddings are left 0: the executor fills them in for each frame
 * (tnn_stream_begin), from TensorFlow's padding rule at that frame's size.
 */
#ifndef TNN_STREAM_MODEL_H
#define TNN_STREAM_MODEL_H

#include <stdint.h>

#include "tnn_kernels.h"
#include "tnn_stream.h"

/* "TNS1" little-endian; the version changes whenever the generated
 * structures change, so that a stale export is refused at begin. */
#define TNN_STREAM_MAGIC 0x31534E54u
#define TNN_STREAM_VERSION 1u

/* Layer kinds; params points at the struct named. */
typedef enum {
    TNN_LAYER_CONV2D = 1,    /* tnn_conv2d_s8_params_t (dims: channels only) */
    TNN_LAYER_DWCONV2D = 2,  /* tnn_depthwise_conv2d_s8_params_t, depth multiplier 1 */
    TNN_LAYER_MAX_POOL2D = 3, /* tnn_pool2d_s8_params_t (channels, window, activation) */
    TNN_LAYER_SOFTMAX = 4    /* tnn_softmax_s8_params_t (depth and numerics; rows 0) */
} tnn_layer_kind_t;

/* Padding rules (TensorFlow's): SAME pads (out - 1) * stride + kernel - in
 * in total, half (rounded down) before; VALID pads nothing. */
typedef enum { TNN_PAD_SAME = 0, TNN_PAD_VALID = 1 } tnn_pad_rule_t;

typedef struct {
    uint8_t kind;   /* tnn_layer_kind_t */
    uint8_t pad;    /* tnn_pad_rule_t */
    uint16_t in_c;  /* input channels */
    uint16_t out_c; /* output channels */
    tnn_hw_t kernel;
    tnn_hw_t stride;
    const void *params; /* the kernel's parameter template */
} tnn_stream_layer_t;

struct tnn_stream_model {
    uint32_t magic;   /* TNN_STREAM_MAGIC */
    uint32_t version; /* TNN_STREAM_VERSION */
    const tnn_stream_layer_t *layers;
    uint32_t n_layers;
    uint16_t in_c;         /* channels of a frame pixel */
    uint16_t out_c;        /* channels of an output pixel */
    uint16_t multiple_h;   /* the frame is extended to multiples of these (>= 1): */
    uint16_t multiple_w;   /* the total strides along its height and width */
    uint16_t min_h;        /* smallest frame height and width accepted */
    uint16_t min_w;
    int16_t in_zero_point; /* the extension's value */
};

#endif /* TNN_STREAM_MODEL_H */
