/*
 * concat_s8.c - CONCATENATION, int8, inputs and output sharing scale and
 * zero point (TFLite Micro requires it for int8, so it is a pure copy).
 *
 * With the tensors seen as `outer` blocks along the concatenation axis,
 * output block k is input 0's k-th run of in_inner[0] bytes followed by
 * input 1's, and so on. The output must not overlap an input.
 */
#include <string.h>

#include "tnn_kernels.h"

tri_status_t tnn_concat_s8(const tnn_concat_s8_params_t *p, const int8_t *const *inputs,
                           int8_t *output)
{
    uint32_t k;
    int8_t *out = output;
    for (k = 0; k < p->outer; k++) {
        uint32_t j;
        for (j = 0; j < p->n_inputs; j++) {
            const uint32_t run = p->in_inner[j];
            memcpy(out, inputs[j] + (size_t)k * run, run);
            out += run;
        }
    }
    return TRI_OK;
}
