/*
 * tri_classifier_tnn.c - the classifier on the streaming int8 engine
 * (tri_classifier.h): a frame is begun and run on the model at its size.
 */
#include <string.h>

#include "tnn_stream_model.h"
#include "tri_classifier.h"

static tri_status_t stream_run(void *ctx, uint32_t rows, uint32_t cols, tri_row_source_t source,
                               tri_cell_sink_t sink, void *user)
{
    tri_stream_classifier_t *s = (tri_stream_classifier_t *)ctx;
    tri_status_t st =
        tnn_stream_begin(&s->stream, s->model, rows, cols, s->scratch, s->scratch_bytes);
    if (st != TRI_OK) {
        return st;
    }
    return tnn_stream_run(&s->stream, source, sink, user);
}

tri_status_t tri_classifier_stream(tri_classifier_t *cls, tri_stream_classifier_t *state,
                                   const tnn_stream_model_t *model, void *scratch,
                                   size_t scratch_bytes)
{
    size_t need;
    tnn_stream_info_t info;
    tri_status_t st;
    if (cls == NULL || state == NULL || model == NULL || scratch == NULL) {
        return TRI_ERR_ARG;
    }
    /* the plan's header (wherever it sits: compiled in, or a model slot) */
    st = tnn_stream_info(model, &info);
    if (st != TRI_OK) {
        return st;
    }
    if (info.in_c != (uint32_t)TRI_CFG_BANDS || info.out_c != (uint32_t)TRI_CFG_NUM_CLASSES ||
        info.multiple_h != (uint32_t)TRI_CFG_CELL_PX ||
        info.multiple_w != (uint32_t)TRI_CFG_CELL_PX) {
        return TRI_ERR_SHAPE;
    }
    need = tnn_stream_scratch_bytes(model, TRI_FRAME_MAX_COLS);
    if (need == 0u) {
        return TRI_ERR_FORMAT;
    }
    if (scratch_bytes < need) {
        return TRI_ERR_SIZE;
    }
    state->model = model;
    state->scratch = scratch;
    state->scratch_bytes = scratch_bytes;
    memset(cls, 0, sizeof *cls);
    cls->ctx = state;
    cls->run = stream_run;
    return TRI_OK;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

tri_status_t tri_classifier_identity_hex(tri_classifier_t *cls, uint32_t model_id,
                                         const char *sha256_hex)
{
    uint8_t sha[WF_MODEL_HASH_BYTES];
    uint32_t i;
    if (cls == NULL || sha256_hex == NULL) {
        return TRI_ERR_ARG;
    }
    for (i = 0; i < WF_MODEL_HASH_BYTES; i++) {
        const int hi = hex_digit(sha256_hex[2u * i]);
        const int lo = hi < 0 ? -1 : hex_digit(sha256_hex[2u * i + 1u]);
        if (lo < 0) {
            return TRI_ERR_ARG;
        }
        sha[i] = (uint8_t)(hi * 16 + lo);
    }
    if (sha256_hex[2u * WF_MODEL_HASH_BYTES] != '\0') {
        return TRI_ERR_ARG;
    }
    cls->model_id = model_id;
    memcpy(cls->model_sha256, sha, sizeof sha);
    return TRI_OK;
}
