/*
 * tri_classifier.h - what the application needs from a classifier, and its
 * implementations: the streaming int8 engine (tnn_stream.h) running the
 * shipped cell network, and a fixed rule for tests.
 *
 * A classifier runs over a whole frame of rows x cols pixels: it takes the
 * preprocessed rows from the application's source (int8 [cols][bands], rows
 * 0..rows-1 in order, each once) and hands one row of cells at a time to the
 * application's sink: int8 [tri_cell_count(cols)][TRI_CFG_NUM_CLASSES], the
 * softmax outputs of each cell in class-id order (p = (q - zero point) *
 * scale, triage_config.h), rows of cells 0..tri_cell_count(rows)-1 in order.
 * The sink may be called before the source has given every row (a cell row
 * needs the rows of its receptive field, not the whole frame).
 */
#ifndef TRI_CLASSIFIER_H
#define TRI_CLASSIFIER_H

#include <stddef.h>
#include <stdint.h>

#include "tnn_stream.h"
#include "tri_app_config.h"
#include "tri_status.h"
#include "triage_config.h"
#include "wire_format.h"

/* The application's side: the same contracts as the engine's (tnn_stream.h). */
typedef tnn_stream_source_t tri_row_source_t;
typedef tnn_stream_sink_t tri_cell_sink_t;

/* model_id and model_sha256: the classifier's identity in telemetry (every
 * FRAME_SUMMARY and STORE_DIRECTORY): a package's model id and the SHA-256
 * of the .tflite it came from; id 0 for the compiled-in cell network (set
 * with tri_classifier_identity_hex from its generated header); all 0 for the
 * test rule. */
typedef struct {
    void *ctx;
    tri_status_t (*run)(void *ctx, uint32_t rows, uint32_t cols, tri_row_source_t source,
                        tri_cell_sink_t sink, void *user);
    uint32_t model_id;
    uint8_t model_sha256[WF_MODEL_HASH_BYTES];
} tri_classifier_t;

/* Sets a classifier's identity from a SHA-256 in hex (64 characters, as the
 * exporter writes the model's SHA-256); TRI_ERR_ARG for anything else. */
tri_status_t tri_classifier_identity_hex(tri_classifier_t *cls, uint32_t model_id,
                                         const char *sha256_hex);

/* The streaming engine's state (the caller's memory, e.g. static). */
typedef struct {
    tnn_stream_ctx_t stream;
    const tnn_stream_model_t *model;
    void *scratch;
    size_t scratch_bytes;
} tri_stream_classifier_t;

/*
 * A classifier on a streaming model: checks that its input has
 * TRI_CFG_BANDS channels, its output TRI_CFG_NUM_CLASSES, and its total
 * stride is TRI_CFG_CELL_PX along both axes (TRI_ERR_SHAPE otherwise), and
 * that `scratch` (TNN_STREAM_ALIGN-aligned) holds
 * tnn_stream_scratch_bytes(model, TRI_FRAME_MAX_COLS) bytes (TRI_ERR_SIZE
 * otherwise), so that every frame the application accepts can run.
 */
tri_status_t tri_classifier_stream(tri_classifier_t *cls, tri_stream_classifier_t *state,
                                   const tnn_stream_model_t *model, void *scratch,
                                   size_t scratch_bytes);

/*
 * A fixed rule instead of a model, for tests on any build (host and the
 * Cortex-M4 image alike), so that cells, decisions, regions and products can
 * be checked against an independent rendering of the rule
 * (tests/onboard/helpers.py). Never the flight configuration. Per cell, on
 * u = q + 128 of the preprocessed input over the cell's pixels inside the
 * frame (C >= 4 bands, n pixels):
 *   nir_mean = floor(sum of u[..., 3] / n), nir_max = max of u[..., 3],
 *   blue_mean = floor(sum of u[..., 0] / n);
 *   ship  if nir_max >= 200 and nir_mean < 100
 *   cloud elif blue_mean >= 180
 *   sea   elif nir_mean < 100
 *   land  otherwise.
 * The winner scores 120 (cloud, sea), 100 (ship) or 60 (land), the others
 * -120. TRI_ERR_NO_IMPL when the model has fewer than 4 bands.
 */
typedef struct {
    int8_t row[TRI_FRAME_MAX_COLS * TRI_CFG_BANDS];
    uint32_t nir_sum[TRI_FRAME_MAX_COLS / TRI_CFG_CELL_PX + 1u];
    uint32_t nir_max[TRI_FRAME_MAX_COLS / TRI_CFG_CELL_PX + 1u];
    uint32_t blue_sum[TRI_FRAME_MAX_COLS / TRI_CFG_CELL_PX + 1u];
    int8_t out[(TRI_FRAME_MAX_COLS / TRI_CFG_CELL_PX + 1u) * TRI_CFG_NUM_CLASSES];
} tri_rule_classifier_t;

tri_status_t tri_classifier_rule(tri_classifier_t *cls, tri_rule_classifier_t *state);

#endif /* TRI_CLASSIFIER_H */
