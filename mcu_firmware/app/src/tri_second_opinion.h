/*
 * tri_second_opinion.h - the second opinion on a candidate tile (private to
 * the application): a tile whose ship output reaches
 * TRI_CFG_SECOND_OPINION_MIN_Q is classified again turned by 90, 180 and
 * 270 degrees, and each output becomes the floor of the mean of the four
 * (models/shipped/policy.json second_opinion_min_prob; the Python reference
 * is triage.contract.policy.second_opinion). The decision (tri_decide.h) then
 * takes the final vector.
 */
#ifndef TRI_SECOND_OPINION_H
#define TRI_SECOND_OPINION_H

#include <stdint.h>

#include "tri_classifier.h"
#include "triage_config.h"

/*
 * Replaces the outputs q[TRI_CFG_NUM_CLASSES] of the thumbnail `thumb`
 * ([THUMB_PX][THUMB_PX][TRI_CFG_BANDS], preprocessed, saved before the first
 * inference: inference may overwrite the classifier's input) by the floor of
 * the mean of q and the outputs of the three turned views; the classifier's
 * status on failure (q then undefined).
 */
tri_status_t tri_second_opinion(const tri_classifier_t *cls, const int8_t *thumb, int8_t *q);

#endif /* TRI_SECOND_OPINION_H */
