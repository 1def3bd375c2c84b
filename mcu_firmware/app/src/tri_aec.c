/*
 * CCSDS 121.0-B adaptive entropy encoder (see tri_aec.h for the format).
 *
 * Bit costs of one block of J' mapped samples d[i] (J' = J - 1 when the block
 * carries the reference sample, which then costs n more bits in every
 * option):
 *   split k (k = 0 is the fundamental sequence): id + sum(d >> k) + J' + J'k
 *   second extension: id + 1 + sum over pairs of (gamma + 1), where
 *     gamma = (a + b)(a + b + 1) / 2 + b
 *   no compression: id + J n
 * sum(d >> k) + J'k is convex in k (its step k -> k+1 is J' minus a
 * non-increasing sum), so the search for the best k stops at the first k
 * that does not improve. Sums stay below 64 * 65536 + 64 * 14: no overflow.
 */
#include "tri_aec.h"

#include "wire_format.h"

/* ---- bit writer, most significant bit first ---- */

static void bw_byte(tri_bitwriter_t *bw, uint32_t byte)
{
    if (bw->buf != NULL && bw->pos < bw->cap) {
        bw->buf[bw->pos] = (uint8_t)byte;
    }
    bw->pos++;
}

/* Appends the count (0..24) low bits of value. */
static void bw_put(tri_bitwriter_t *bw, uint32_t value, uint32_t count)
{
    bw->acc = (bw->acc << count) | value;
    bw->nacc += count;
    while (bw->nacc >= 8u) {
        bw->nacc -= 8u;
        bw_byte(bw, (bw->acc >> bw->nacc) & 0xFFu);
    }
    bw->acc &= (1u << bw->nacc) - 1u;
}

/* Fundamental sequence codeword of v: v zeros, then a one. */
static void bw_fs(tri_bitwriter_t *bw, uint32_t v)
{
    while (v >= 24u) {
        bw_put(bw, 0u, 24u);
        v -= 24u;
    }
    bw_put(bw, 1u, v + 1u);
}

static void bw_align(tri_bitwriter_t *bw)
{
    if (bw->nacc > 0u) {
        bw_byte(bw, (bw->acc << (8u - bw->nacc)) & 0xFFu);
        bw->nacc = 0u;
        bw->acc = 0u;
    }
}

/* ---- preprocessor ---- */

/* The standard's mapping of x, predicted by p, for samples in 0..xmax. */
uint32_t tri_aec_map(uint32_t x, uint32_t p, uint32_t xmax)
{
    uint32_t theta = p < xmax - p ? p : xmax - p;
    if (x >= p) {
        uint32_t d = x - p;
        return d <= theta ? 2u * d : theta + d;
    } else {
        uint32_t d = p - x;
        return d <= theta ? 2u * d - 1u : theta + d;
    }
}

/* ---- encoder ---- */

tri_status_t tri_aec_init(tri_aec_t *enc, uint32_t bits, uint32_t block_size, uint32_t rsi,
                          uint32_t flags, uint8_t *out, size_t cap)
{
    if (enc == NULL || bits < 1u || bits > 16u || rsi < 1u || rsi > 4096u ||
        (flags & ~(uint32_t)WF_AEC_FLAG_PREPROCESS) != 0u) {
        return TRI_ERR_ARG;
    }
    if (block_size != 8u && block_size != 16u && block_size != 32u && block_size != 64u) {
        return TRI_ERR_ARG;
    }
    enc->bw.buf = out;
    enc->bw.cap = out != NULL ? cap : 0u;
    enc->bw.pos = 0u;
    enc->bw.acc = 0u;
    enc->bw.nacc = 0u;
    enc->bits = bits;
    enc->id_len = bits <= 8u ? 3u : 4u;
    enc->kmax = (1u << enc->id_len) - 3u;
    enc->block_size = block_size;
    enc->rsi = rsi;
    enc->preprocess = (flags & WF_AEC_FLAG_PREPROCESS) != 0u ? 1u : 0u;
    enc->xmax = (1u << bits) - 1u;
    enc->block_in_rsi = 0u;
    enc->last = 0u;
    enc->zero_run = 0u;
    enc->zero_start = 0u;
    enc->zero_ref = 0u;
    enc->zero_ref_value = 0u;
    enc->ended = 0u;
    return TRI_OK;
}

static void put_reference(tri_aec_t *enc, uint32_t ref, uint32_t value)
{
    if (ref != 0u) {
        bw_put(&enc->bw, value, enc->bits);
    }
}

/* Emits the pending run of all-zero blocks. at_boundary: the run ends at the
 * end of a 64-block segment or of the RSI, where the decoder can work the
 * count out itself ("remainder of segment", codeword 4). */
static void flush_zero_run(tri_aec_t *enc, uint32_t at_boundary)
{
    uint32_t z = enc->zero_run;
    uint32_t fs;
    if (z == 0u) {
        return;
    }
    bw_put(&enc->bw, 0u, enc->id_len);
    bw_put(&enc->bw, 0u, 1u); /* low-entropy options: 0 zero-block */
    put_reference(enc, enc->zero_ref, enc->zero_ref_value);
    if (z <= 4u) {
        fs = z - 1u;
    } else {
        fs = at_boundary != 0u ? 4u : z;
    }
    bw_fs(&enc->bw, fs);
    enc->zero_run = 0u;
}

/* Codes one block of mapped samples d[first..J-1] (first is 1 when d[0]'s
 * place holds the reference sample ref_value). */
static void code_block(tri_aec_t *enc, const uint32_t *d, uint32_t first, uint32_t ref_value)
{
    uint32_t J = enc->block_size;
    uint32_t Jp = J - first;
    uint32_t ref_bits = first != 0u ? enc->bits : 0u;
    uint32_t i;
    uint32_t k;
    uint32_t best_k = 0u;
    uint32_t split_bits;
    uint32_t se_bits = 0xFFFFFFFFu;
    uint32_t unc_bits = enc->id_len + J * enc->bits;
    uint32_t se_ok = 1u;
    uint32_t se = 0u;

    /* split / fundamental sequence */
    split_bits = Jp;
    for (i = first; i < J; i++) {
        split_bits += d[i];
    }
    for (k = 1u; k <= enc->kmax; k++) {
        uint32_t c = Jp + Jp * k;
        for (i = first; i < J; i++) {
            c += d[i] >> k;
        }
        if (c >= split_bits) {
            break;
        }
        split_bits = c;
        best_k = k;
    }
    split_bits += enc->id_len + ref_bits;

    /* second extension */
    i = first;
    if (first != 0u) { /* the reference's slot pairs as a zero */
        if (d[1] > 12u) {
            se_ok = 0u;
        } else {
            se += d[1] * (d[1] + 1u) / 2u + d[1] + 1u;
        }
        i = 2u;
    }
    for (; se_ok != 0u && i < J; i += 2u) {
        uint32_t s = d[i] + d[i + 1u];
        if (s > 12u) {
            se_ok = 0u;
        } else {
            se += s * (s + 1u) / 2u + d[i + 1u] + 1u;
        }
    }
    if (se_ok != 0u) {
        se_bits = enc->id_len + 1u + ref_bits + se;
    }

    if (split_bits <= se_bits && split_bits <= unc_bits) {
        bw_put(&enc->bw, best_k + 1u, enc->id_len);
        put_reference(enc, first, ref_value);
        for (i = first; i < J; i++) {
            bw_fs(&enc->bw, d[i] >> best_k);
        }
        if (best_k > 0u) {
            uint32_t mask = (1u << best_k) - 1u;
            for (i = first; i < J; i++) {
                bw_put(&enc->bw, d[i] & mask, best_k);
            }
        }
    } else if (se_bits <= unc_bits) {
        bw_put(&enc->bw, 0u, enc->id_len);
        bw_put(&enc->bw, 1u, 1u); /* low-entropy options: 1 second extension */
        put_reference(enc, first, ref_value);
        i = first;
        if (first != 0u) {
            bw_fs(&enc->bw, d[1] * (d[1] + 1u) / 2u + d[1]);
            i = 2u;
        }
        for (; i < J; i += 2u) {
            uint32_t s = d[i] + d[i + 1u];
            bw_fs(&enc->bw, s * (s + 1u) / 2u + d[i + 1u]);
        }
    } else {
        bw_put(&enc->bw, (1u << enc->id_len) - 1u, enc->id_len);
        put_reference(enc, first, ref_value);
        for (i = first; i < J; i++) {
            bw_put(&enc->bw, d[i], enc->bits);
        }
    }
}

tri_status_t tri_aec_push(tri_aec_t *enc, const uint16_t *samples, uint32_t n)
{
    uint32_t d[TRI_AEC_MAX_BLOCK];
    uint32_t J;
    uint32_t i;
    uint32_t first = 0u;
    uint32_t ref_value = 0u;
    uint32_t any = 0u;
    uint32_t maxv = 0u;

    if (enc == NULL || samples == NULL || enc->ended != 0u || n == 0u || n > enc->block_size) {
        return TRI_ERR_ARG;
    }
    J = enc->block_size;
    for (i = 0; i < n; i++) {
        maxv |= samples[i];
    }
    if (maxv > enc->xmax) {
        return TRI_ERR_ARG;
    }
    if (n < J) {
        enc->ended = 1u;
    }

    /* d[i] = mapped residual (or the raw sample without the preprocessor);
     * samples past n repeat the last one. */
    if (enc->preprocess != 0u) {
        uint32_t prev = enc->last;
        if (enc->block_in_rsi == 0u) {
            first = 1u;
            ref_value = samples[0];
            prev = ref_value;
            d[0] = 0u;
        }
        for (i = first; i < J; i++) {
            uint32_t x = samples[i < n ? i : n - 1u];
            d[i] = tri_aec_map(x, prev, enc->xmax);
            prev = x;
        }
        enc->last = prev;
    } else {
        for (i = 0; i < J; i++) {
            d[i] = samples[i < n ? i : n - 1u];
        }
    }
    for (i = first; i < J; i++) {
        any |= d[i];
    }

    if (any == 0u) {
        if (enc->zero_run == 0u) {
            enc->zero_start = enc->block_in_rsi;
            enc->zero_ref = first;
            enc->zero_ref_value = ref_value;
        }
        enc->zero_run++;
        enc->block_in_rsi++;
        if (enc->block_in_rsi % TRI_AEC_SEGMENT_BLOCKS == 0u || enc->block_in_rsi == enc->rsi) {
            flush_zero_run(enc, 1u);
        }
    } else {
        flush_zero_run(enc, 0u);
        code_block(enc, d, first, ref_value);
        enc->block_in_rsi++;
    }
    if (enc->block_in_rsi == enc->rsi) {
        enc->block_in_rsi = 0u;
    }
    return TRI_OK;
}

tri_status_t tri_aec_finish(tri_aec_t *enc, size_t *bytes)
{
    if (enc == NULL || bytes == NULL) {
        return TRI_ERR_ARG;
    }
    /* A run still pending here did not reach a segment or RSI end (those
     * flush in push): its length is coded explicitly. */
    flush_zero_run(enc, 0u);
    bw_align(&enc->bw);
    *bytes = enc->bw.pos;
    if (enc->bw.buf != NULL && enc->bw.pos > enc->bw.cap) {
        return TRI_ERR_SIZE;
    }
    return TRI_OK;
}

tri_status_t tri_aec_encode_u16(const uint16_t *samples, size_t n, uint32_t bits,
                                uint32_t block_size, uint32_t rsi, uint32_t flags, uint8_t *out,
                                size_t cap, size_t *bytes)
{
    tri_aec_t enc;
    size_t i;
    tri_status_t st;
    if (bytes == NULL || (samples == NULL && n > 0u)) {
        return TRI_ERR_ARG;
    }
    *bytes = 0u;
    st = tri_aec_init(&enc, bits, block_size, rsi, flags, out, cap);
    for (i = 0; st == TRI_OK && i < n; i += block_size) {
        size_t left = n - i;
        st = tri_aec_push(&enc, samples + i, (uint32_t)(left < block_size ? left : block_size));
    }
    if (st != TRI_OK) {
        return st;
    }
    return tri_aec_finish(&enc, bytes);
}
