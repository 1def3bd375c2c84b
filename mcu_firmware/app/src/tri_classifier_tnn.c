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
    memset(cls, 0, sizeof *cls);
    cls->ctx = bound;
    cls->input = tnn_in;
    cls->run = tnn_run;
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
