/*
 * tri_second_opinion.c - the second opinion on a candidate tile
 * (tri_second_opinion.h): the tile's thumbnail turned by quarter turns, the
 * network run on each view, the floor of the mean of the four outputs.
 */
#include "tri_second_opinion.h"

#define NCLASSES ((uint32_t)TRI_CFG_NUM_CLASSES)

/* Writes the thumbnail src [S][S][C] turned by quarters x 90 degrees
 * counterclockwise into dst (numpy's rot90 on the pixel axes): one turn is
 * dst[r][c] = src[c][S - 1 - r], two src[S - 1 - r][S - 1 - c], three
 * src[S - 1 - c][r]. */
static void turned_copy(const int8_t *src, int8_t *dst, uint32_t quarters)
{
    enum { S = TRI_CFG_THUMB_PX, NB = TRI_CFG_BANDS };
    uint32_t r;
    for (r = 0; r < (uint32_t)S; r++) {
        uint32_t c;
        for (c = 0; c < (uint32_t)S; c++) {
            uint32_t sr;
            uint32_t sc;
            uint32_t k;
            if (quarters == 1u) {
                sr = c;
                sc = (uint32_t)S - 1u - r;
            } else if (quarters == 2u) {
                sr = (uint32_t)S - 1u - r;
                sc = (uint32_t)S - 1u - c;
            } else {
                sr = (uint32_t)S - 1u - c;
                sc = r;
            }
            for (k = 0; k < (uint32_t)NB; k++) {
                dst[(r * (uint32_t)S + c) * (uint32_t)NB + k] =
                    src[(sr * (uint32_t)S + sc) * (uint32_t)NB + k];
            }
        }
    }
}

tri_status_t tri_second_opinion(const tri_classifier_t *cls, const int8_t *thumb, int8_t *q)
{
    int32_t sum[TRI_CFG_NUM_CLASSES];
    uint32_t view;
    uint32_t k;
    for (k = 0; k < NCLASSES; k++) {
        sum[k] = (int32_t)q[k];
    }
    for (view = 1; view <= 3u; view++) {
        int8_t qv[TRI_CFG_NUM_CLASSES];
        tri_status_t st;
        turned_copy(thumb, cls->input(cls->ctx), view);
        st = cls->run(cls->ctx, qv);
        if (st != TRI_OK) {
            return st;
        }
        for (k = 0; k < NCLASSES; k++) {
            sum[k] += (int32_t)qv[k];
        }
    }
    for (k = 0; k < NCLASSES; k++) { /* floor(sum / 4), on a non-negative operand */
        q[k] = (int8_t)((sum[k] + 512) / 4 - 128);
    }
    return TRI_OK;
}
