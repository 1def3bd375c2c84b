/*
 * tri_decide.c - the decision policy (tri_decide.h): the tile action from
 * the final int8 outputs, the policy's thresholds and the land policy.
 */
#include "tri_decide.h"

uint8_t tri_decide(const int8_t *q, const tri_policy_t *policy, uint32_t land_policy,
                   uint32_t *top)
{
    uint32_t t = 0;
    uint32_t k;
    for (k = 1; k < (uint32_t)TRI_CFG_NUM_CLASSES; k++) {
        if (q[k] > q[t]) {
            t = k; /* first index wins ties */
        }
    }
    if ((int32_t)q[TRI_CFG_CLASS_CLOUD] >= (int32_t)policy->cloud_call_min_q) {
        t = (uint32_t)TRI_CFG_CLASS_CLOUD;
    }
    *top = t;
    if ((int32_t)q[TRI_CFG_CLASS_SHIP] >= (int32_t)policy->ship_crop_min_q) {
        return TRI_ACTION_CROP;
    }
    if ((int32_t)q[t] >= (int32_t)policy->discard_min_q[t]) {
        return TRI_ACTION_DISCARD;
    }
    if (t == (uint32_t)TRI_CFG_CLASS_LAND) {
        return land_policy == (uint32_t)TRI_LAND_DROP ? TRI_ACTION_LAND_DROP : TRI_ACTION_LOWRES;
    }
    return TRI_ACTION_LOWRES;
}
