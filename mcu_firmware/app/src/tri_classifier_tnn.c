/*
 * tri_classifier_tnn.c - the classifier on the streaming int8 engine
 * (tri_classifier.h): a frame is begun and run on the model at its size.
 */
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
    if (cls == NULL || state == NULL || model == NULL || scratch == NULL) {
        return TRI_ERR_ARG;
    }
    if (model->in_c != (uint16_t)TRI_CFG_BANDS || model->out_c != (uint16_t)TRI_CFG_NUM_CLASSES ||
        model->multiple_h != (uint16_t)TRI_CFG_CELL_PX ||
        model->multiple_w != (uint16_t)TRI_CFG_CELL_PX) {
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
    cls->ctx = state;
    cls->run = stream_run;
    return TRI_OK;
}
