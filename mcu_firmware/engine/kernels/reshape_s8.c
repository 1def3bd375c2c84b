/*
 * reshape_s8.c - RESHAPE, int8: the bytes do not change, only the shape.
 *
 * The exporter normally makes the output an alias of the input (no step at
 * all); this copy is used when it cannot. memmove semantics, so any overlap
 * of input and output is fine.
 */
#include <string.h>

#include "tnn_kernels.h"

tri_status_t tnn_reshape_s8(const tnn_copy_s8_params_t *p, const int8_t *input, int8_t *output)
{
    if (input != output) {
        memmove(output, input, p->size);
    }
    return TRI_OK;
}
