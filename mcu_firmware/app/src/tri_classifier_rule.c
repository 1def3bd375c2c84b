/* The test rule classifier (see tri_classifier.h). */
#include <string.h>

#include "tri_classifier.h"
#include "triage_config.h"

#if TRI_CFG_BANDS >= 4
static int8_t *rule_input(void *ctx)
{
    return (int8_t *)ctx;
}

static tri_status_t rule_run(void *ctx, int8_t *scores)
{
    const int8_t *q = (const int8_t *)ctx;
    const uint32_t px = (uint32_t)TRI_CFG_THUMB_PX * TRI_CFG_THUMB_PX;
    uint32_t nir_sum = 0;
    uint32_t nir_max = 0;
    uint32_t blue_sum = 0;
    uint32_t i;
    uint32_t win;
    int8_t win_score;
    for (i = 0; i < px; i++) {
        uint32_t nir = (uint32_t)((int32_t)q[i * TRI_CFG_BANDS + 3u] + 128);
        nir_sum += nir;
        nir_max = nir > nir_max ? nir : nir_max;
        blue_sum += (uint32_t)((int32_t)q[i * TRI_CFG_BANDS] + 128);
    }
    if (nir_max >= 200u && nir_sum / px < 100u) {
        win = TRI_CFG_CLASS_SHIP;
        win_score = 100;
    } else if (blue_sum / px >= 180u) {
        win = TRI_CFG_CLASS_CLOUD;
        win_score = 120;
    } else if (nir_sum / px < 100u) {
        win = TRI_CFG_CLASS_SEA;
        win_score = 120;
    } else {
        win = TRI_CFG_CLASS_LAND;
        win_score = 60;
    }
    for (i = 0; i < TRI_CFG_NUM_CLASSES; i++) {
        scores[i] = i == win ? win_score : (int8_t)-120;
    }
    return TRI_OK;
}
#endif

tri_status_t tri_classifier_rule(tri_classifier_t *cls, int8_t *input)
{
    if (cls == NULL || input == NULL) {
        return TRI_ERR_ARG;
    }
#if TRI_CFG_BANDS >= 4
    memset(cls, 0, sizeof *cls);
    cls->ctx = input;
    cls->input = rule_input;
    cls->run = rule_run;
    return TRI_OK;
#else
    return TRI_ERR_NO_IMPL;
#endif
}
