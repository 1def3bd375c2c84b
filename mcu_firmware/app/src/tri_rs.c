/*
 * tri_rs.c - CCSDS Reed-Solomon (255,223) encoding (tri_rs.h).
 *
 * The check symbols are the remainder of info(x) x^32 divided by the code
 * generator g(x) (whose coefficients are all non-zero: the table holds their
 * logarithms), computed by the usual division register: for each
 * information symbol, from the first (the highest power), the feedback
 * fb = symbol + r[0] multiplies g and is added to the shifted register.
 * GF(2^8) products go through the log / exp tables; a sum of two logs is at
 * most 254 + 254 = 508, inside wf_gf_exp's 510 entries, so no modulo.
 */
#include "tri_rs.h"

#include <string.h>

#include "wf_link_tables.h"
#include "wire_format.h"

void tri_rs_encode(const uint8_t *info, uint32_t stride, uint8_t *parity)
{
    uint8_t r[WF_RS_PARITY];
    uint32_t i;
    uint32_t k;
    memset(r, 0, sizeof r);
    for (i = 0; i < WF_RS_K; i++) {
        uint8_t fb = (uint8_t)(wf_from_dual[info[i * stride]] ^ r[0]);
        memmove(r, r + 1, WF_RS_PARITY - 1u);
        r[WF_RS_PARITY - 1u] = 0u;
        if (fb != 0u) {
            uint32_t lf = wf_gf_log[fb];
            for (k = 0; k < WF_RS_PARITY; k++) {
                r[k] = (uint8_t)(r[k] ^ wf_gf_exp[lf + wf_rs_genpoly_log[k + 1u]]);
            }
        }
    }
    for (k = 0; k < WF_RS_PARITY; k++) {
        parity[k * stride] = wf_to_dual[r[k]];
    }
}

void tri_rs_encode_codeblock(uint8_t *block)
{
    uint32_t j;
    for (j = 0; j < WF_RS_INTERLEAVE; j++) {
        tri_rs_encode(block + j, WF_RS_INTERLEAVE, block + WF_FRAME_BYTES + j);
    }
}
