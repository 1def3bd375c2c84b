#include <string.h>

#include "tri_classifier.h"
#include "triage_config.h"

static int8_t *tnn_in(void *ctx)
{
    return tnn_input((const tnn_ctx_t *)ctx, NULL);
}

static tri_status_t tnn_run(void *ctx, int8_t *scores)
{
    tnn_ctx_t *t = (tnn_ctx_t *)ctx;
    const int8_t *out;
    tri_status_t st = tnn_invoke(t);
    if (st != TRI_OK) {
        return st;
    }
    out = tnn_output(t, NULL);
    memcpy(scores, out, (size_t)TRI_CFG_NUM_CLASSES);
    return TRI_OK;
}

tri_status_t tri_classifier_tnn(tri_classifier_t *cls, tnn_ctx_t *bound)
{
    size_t in_bytes = 0;
    size_t out_bytes = 0;
    if (cls == NULL || bound == NULL || bound->model == NULL) {
        return TRI_ERR_ARG;
    }
    if (tnn_input(bound, &in_bytes) == NULL || tnn_output(bound, &out_bytes) == NULL) {
        return TRI_ERR_ARG;
    }
    if (in_bytes != (size_t)TRI_CFG_THUMB_PX * TRI_CFG_THUMB_PX * TRI_CFG_BANDS ||
        out_bytes != (size_t)TRI_CFG_NUM_CLASSES) {
        return TRI_ERR_SHAPE;
    }
    cls->ctx = bound;
    cls->input = tnn_in;
    cls->run = tnn_run;
    return TRI_OK;
}
