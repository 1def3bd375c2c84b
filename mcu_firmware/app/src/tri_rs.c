/*
 * tri_rs.c - CCSDS Reed-Solomon (255,223) encoding (tri_rs.h).
 *
 * The check symbols are the remainder of info(x) x^32 divided by the code
 * generator g(x), computed by the usual division register r[0..31]: for
 * each information symbol, from the first (the highest power), the feedback
 * fb = symbol + r[0] multiplies g_1..g_32 and is added to the register
 * shifted by one symbol.
 *
 * tri_rs_encode_ref does exactly that, one GF(2^8) product at a time through
 * the log / exp tables (g's coefficients are all non-zero: the table holds
 * their logarithms; a sum of two logs is at most 508, inside wf_gf_exp's 510
 * entries, so no modulo): about 380,000 Cortex-M4 instructions a CADU.
 *
 * tri_rs_encode keeps the register as eight 32-bit words (r[4q] the top byte
 * of word q), so the shift is eight word shifts, and takes fb * g_1..g_32 from
 * tables: multiplication by g distributes over the XOR of fb's two nibbles,
 * fb * g = (fb & 0xF0) * g + (fb & 0x0F) * g, so two tables of 16 rows
 * (wf_rs_feedback_hi, _lo: 1 KB) give every row as hi ^ lo - eight word
 * XORs per symbol instead of 32 products. Bit-exact with the reference.
 */
#include "tri_rs.h"

#include <string.h>

#include "wf_link_tables.h"
#include "wire_format.h"

void tri_rs_encode(const uint8_t *info, uint32_t stride, uint8_t *parity)
{
    uint32_t w0 = 0u, w1 = 0u, w2 = 0u, w3 = 0u, w4 = 0u, w5 = 0u, w6 = 0u, w7 = 0u;
    const uint8_t *p = info;
    uint32_t i;
    for (i = 0; i < WF_RS_K; i++, p += stride) {
        uint32_t fb = (uint32_t)wf_from_dual[*p] ^ (w0 >> 24);
        /* the register shifted by one symbol (eight words, kept in registers) */
        w0 = (w0 << 8) | (w1 >> 24);
        w1 = (w1 << 8) | (w2 >> 24);
        w2 = (w2 << 8) | (w3 >> 24);
        w3 = (w3 << 8) | (w4 >> 24);
        w4 = (w4 << 8) | (w5 >> 24);
        w5 = (w5 << 8) | (w6 >> 24);
        w6 = (w6 << 8) | (w7 >> 24);
        w7 <<= 8;
        if (fb != 0u) {
            const uint32_t *hi = wf_rs_feedback_hi[fb >> 4];
            const uint32_t *lo = wf_rs_feedback_lo[fb & 0xFu];
            w0 ^= hi[0] ^ lo[0];
            w1 ^= hi[1] ^ lo[1];
            w2 ^= hi[2] ^ lo[2];
            w3 ^= hi[3] ^ lo[3];
            w4 ^= hi[4] ^ lo[4];
            w5 ^= hi[5] ^ lo[5];
            w6 ^= hi[6] ^ lo[6];
            w7 ^= hi[7] ^ lo[7];
        }
    }
    {
        const uint32_t w[WF_RS_PARITY / 4u] = {w0, w1, w2, w3, w4, w5, w6, w7};
        for (i = 0; i < WF_RS_PARITY; i++) {
            parity[i * stride] = wf_to_dual[(w[i >> 2] >> (24u - 8u * (i & 3u))) & 0xFFu];
        }
    }
}

void tri_rs_encode_ref(const uint8_t *info, uint32_t stride, uint8_t *parity)
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
