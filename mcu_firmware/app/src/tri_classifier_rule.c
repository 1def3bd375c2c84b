/*
 * tri_classifier_rule.c - the test rule classifier (tri_classifier.h): per
 * cell sums over its rows, one row of cells handed on every TRI_CFG_CELL_PX
 * frame rows (and at the frame's last row).
 */
#include <string.h>

#include "tri_cells.h"
#include "tri_classifier.h"

#if TRI_CFG_BANDS >= 4
static void rule_cells(tri_rule_classifier_t *s, uint32_t ncells, uint32_t cols, uint32_t rows)
{
    uint32_t j;
    for (j = 0; j < ncells; j++) {
        uint32_t a;
        uint32_t z;
        uint32_t n;
        uint32_t nir_mean;
        uint32_t win;
        uint32_t k;
        int8_t win_score;
        tri_cell_bounds(j, cols, &a, &z);
        n = (z - a) * rows;
        nir_mean = s->nir_sum[j] / n;
        if (s->nir_max[j] >= 200u && nir_mean < 100u) {
            win = TRI_CFG_CLASS_SHIP;
            win_score = 100;
        } else if (s->blue_sum[j] / n >= 180u) {
            win = TRI_CFG_CLASS_CLOUD;
            win_score = 120;
        } else if (nir_mean < 100u) {
            win = TRI_CFG_CLASS_SEA;
            win_score = 120;
        } else {
            win = TRI_CFG_CLASS_LAND;
            win_score = 60;
        }
        for (k = 0; k < TRI_CFG_NUM_CLASSES; k++) {
            s->out[j * TRI_CFG_NUM_CLASSES + k] = k == win ? win_score : (int8_t)-120;
        }
    }
}

static tri_status_t rule_run(void *ctx, uint32_t rows, uint32_t cols, tri_row_source_t source,
                             tri_cell_sink_t sink, void *user)
{
    tri_rule_classifier_t *s = (tri_rule_classifier_t *)ctx;
    uint32_t ncells = tri_cell_count(cols);
    uint32_t y;
    uint32_t cell_rows = 0;
    if (cols == 0u || cols > TRI_FRAME_MAX_COLS || rows == 0u) {
        return TRI_ERR_SHAPE;
    }
    for (y = 0; y < rows; y++) {
        uint32_t x;
        tri_status_t st;
        if (cell_rows == 0u) {
            memset(s->nir_sum, 0, sizeof s->nir_sum);
            memset(s->nir_max, 0, sizeof s->nir_max);
            memset(s->blue_sum, 0, sizeof s->blue_sum);
        }
        st = source(user, y, s->row);
        if (st != TRI_OK) {
            return st;
        }
        for (x = 0; x < cols; x++) {
            uint32_t j = x / TRI_CFG_CELL_PX;
            uint32_t nir = (uint32_t)((int32_t)s->row[x * TRI_CFG_BANDS + 3u] + 128);
            s->nir_sum[j] += nir;
            s->nir_max[j] = nir > s->nir_max[j] ? nir : s->nir_max[j];
            s->blue_sum[j] += (uint32_t)((int32_t)s->row[x * TRI_CFG_BANDS] + 128);
        }
        cell_rows++;
        if (cell_rows == TRI_CFG_CELL_PX || y + 1u == rows) {
            rule_cells(s, ncells, cols, cell_rows);
            st = sink(user, y / TRI_CFG_CELL_PX, s->out,
                      (size_t)ncells * TRI_CFG_NUM_CLASSES);
            if (st != TRI_OK) {
                return st;
            }
            cell_rows = 0;
        }
    }
    return TRI_OK;
}
#endif

tri_status_t tri_classifier_rule(tri_classifier_t *cls, tri_rule_classifier_t *state)
{
    if (cls == NULL || state == NULL) {
        return TRI_ERR_ARG;
    }
#if TRI_CFG_BANDS >= 4
    memset(cls, 0, sizeof *cls);
    cls->ctx = state;
    cls->run = rule_run;
    return TRI_OK;
#else
    return TRI_ERR_NO_IMPL;
#endif
}
