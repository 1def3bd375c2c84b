/*
 * tri_classifier.h - what the application needs from a tile classifier, and
 * the implementation on the int8 engine (tnn.h).
 *
 * The application preprocesses each tile straight into the classifier's
 * input tensor (input()), then run() fills scores[TRI_CFG_NUM_CLASSES] with
 * the int8 softmax outputs (p = (q + 128) / 256), in class-id order.
 */
#ifndef TRI_CLASSIFIER_H
#define TRI_CLASSIFIER_H

#include <stdint.h>

#include "tnn.h"
#include "tri_status.h"

typedef struct {
    void *ctx;
    int8_t *(*input)(void *ctx);
    tri_status_t (*run)(void *ctx, int8_t *scores);
} tri_classifier_t;

/*
 * A classifier on a model bound with tnn_bind: checks that its input is
 * [THUMB_PX][THUMB_PX][TRI_CFG_BANDS] int8 and its output
 * TRI_CFG_NUM_CLASSES int8 values (TRI_ERR_SHAPE otherwise). The context
 * stays the caller's.
 */
tri_status_t tri_classifier_tnn(tri_classifier_t *cls, tnn_ctx_t *bound);

#endif /* TRI_CLASSIFIER_H */
