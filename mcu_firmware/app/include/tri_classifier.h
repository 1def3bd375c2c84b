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
#include "wire_format.h"

/* model_id and model_sha256: the classifier's identity in telemetry (every
 * FRAME_SUMMARY and STORE_DIRECTORY): a package's model id and the SHA-256
 * of the .tflite it came from; id 0 for the compiled-in tile classifier (set
 * with tri_classifier_identity_hex from its generated header); all 0 for the
 * test rule. */
typedef struct {
    void *ctx;
    int8_t *(*input)(void *ctx);
    tri_status_t (*run)(void *ctx, int8_t *scores);
    uint32_t model_id;
    uint8_t model_sha256[WF_MODEL_HASH_BYTES];
} tri_classifier_t;

/* Sets a classifier's identity from a SHA-256 in hex (64 characters, as the
 * exporter writes CLASSIFIER_MODEL_SHA256); TRI_ERR_ARG for anything else. */
tri_status_t tri_classifier_identity_hex(tri_classifier_t *cls, uint32_t model_id,
                                         const char *sha256_hex);

/*
 * A classifier on a model bound with tnn_bind: checks that its input is
 * [THUMB_PX][THUMB_PX][TRI_CFG_BANDS] int8 and its output
 * TRI_CFG_NUM_CLASSES int8 values (TRI_ERR_SHAPE otherwise). The context
 * stays the caller's.
 */
tri_status_t tri_classifier_tnn(tri_classifier_t *cls, tnn_ctx_t *bound);

/*
 * A fixed rule instead of a model, for tests on any build (host and the
 * Cortex-M4 image alike), so that tiling, decisions, regions and products
 * can be checked against an independent rendering of the rule
 * (tests/onboard/helpers.py). Never the flight configuration. On
 * u = q + 128 of the preprocessed input [S][S][C] (C >= 4):
 *   nir_mean = floor(mean of u[..., 3]), nir_max = max of u[..., 3],
 *   blue_mean = floor(mean of u[..., 0]);
 *   ship  if nir_max >= 200 and nir_mean < 100
 *   cloud elif blue_mean >= 180
 *   sea   elif nir_mean < 100
 *   land  otherwise.
 * The winner scores 120 (cloud, sea), 100 (ship) or 60 (land), the others
 * -120. input: caller memory of THUMB_PX * THUMB_PX * TRI_CFG_BANDS bytes.
 * TRI_ERR_NO_IMPL when the model has fewer than 4 bands.
 */
tri_status_t tri_classifier_rule(tri_classifier_t *cls, int8_t *input);

#endif /* TRI_CLASSIFIER_H */
