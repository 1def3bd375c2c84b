/*
 * tri_decide.h - the decision policy: a pure function from a cell's int8
 * output vector to its action.
 *
 * The policy's thresholds are the bound model's: an active package's own
 * (tri_package_policy), or, for the compiled-in model, the build's generated
 * triage_config.h (models/shipped/policy.json); they are an argument here so
 * that the application and the host library can run any policy (the tests compare this
 * function with the Python policy, triage.contract.policy.decide, on every
 * output vector of a declared set).
 *
 * Order, compared as int against the outputs q (a threshold of
 * TRI_CFG_NEVER_Q = 128, above any int8, means never):
 *   0. the cell's class c: CLOUD when q[CLOUD] >= cloud_call_min_q, else
 *      the top class (first index on ties);
 *   1. q[SHIP] >= ship_crop_min_q: TRI_ACTION_CROP (whatever the class);
 *   2. else q[c] >= discard_min_q[c]: TRI_ACTION_DISCARD;
 *   3. else class LAND: TRI_ACTION_LAND_DROP under TRI_LAND_DROP,
 *      TRI_ACTION_LOWRES under TRI_LAND_LOWRES;
 *   4. else TRI_ACTION_LOWRES.
 */
#ifndef TRI_DECIDE_H
#define TRI_DECIDE_H

#include <stdint.h>

#include "tri_contract.h"
#include "triage_config.h"

typedef struct {
    int16_t discard_min_q[TRI_CFG_NUM_CLASSES]; /* per class, by class id */
    int16_t ship_crop_min_q;
    int16_t cloud_call_min_q; /* TRI_CFG_NEVER_Q: the top class */
} tri_policy_t;

/* The policy of the build (triage_config.h). */
#define TRI_POLICY_SHIPPED \
    {TRI_CFG_DISCARD_MIN_Q_INIT, TRI_CFG_SHIP_CROP_MIN_Q, TRI_CFG_CLOUD_CALL_MIN_Q}

/*
 * The action (TRI_ACTION_*) for the outputs q[TRI_CFG_NUM_CLASSES] under
 * `policy` and `land_policy` (TRI_LAND_*); *top gets the cell's class
 * (step 0 above).
 */
uint8_t tri_decide(const int8_t *q, const tri_policy_t *policy, uint32_t land_policy,
                   uint32_t *top);

#endif /* TRI_DECIDE_H */
