/*
 * tri_aec.h - CCSDS 121.0-B lossless data compression (adaptive entropy
 * coding, "Rice"), encoder side, for unsigned samples of 1..16 bits.
 *
 * The stream is what the standard defines and what libaec decodes with
 * `bits_per_sample = bits, block_size = J, rsi = rsi` and flag
 * AEC_DATA_PREPROCESS when the preprocessor is on (no AEC_DATA_MSB needed:
 * the coded stream does not depend on sample byte order):
 *
 *  - Preprocessor (flag WF_AEC_FLAG_PREPROCESS): unit-delay predictor and
 *    the standard's mapping of prediction errors to non-negative
 *    integers. The first sample of every reference sample interval (RSI, rsi
 *    blocks) is sent raw as the reference sample and restarts the predictor.
 *  - Per block of J samples, the coding option with the fewest bits:
 *    zero-block (runs of all-zero blocks, up to the end of a 64-block segment
 *    or of the RSI, with the "remainder of segment" code), second extension
 *    (pairs, when every pair sums to at most 12, the largest codeword a
 *    standard decoder's table holds), fundamental sequence (k = 0), sample
 *    splitting k = 1..kmax, or no compression. Option ids are 3 bits for
 *    samples of up to 8 bits, 4 bits up to 16 (kmax = 5 and 13).
 *  - The last block, if short, is padded by repeating its last sample; the
 *    stream is padded with zero bits to a whole byte. A decoder returns whole
 *    blocks: readers drop samples past the real count.
 *
 * Streaming use: init, push blocks of J samples (the last may be shorter),
 * finish. Output goes to a caller buffer; with out == NULL the encoder only
 * counts bytes (to size a product before writing it). No allocation, no
 * recursion, no floating point; state is a few words plus no block buffer
 * (the caller's block is read in place).
 */
#ifndef TRI_AEC_H
#define TRI_AEC_H

#include <stddef.h>
#include <stdint.h>

#include "tri_status.h"

#define TRI_AEC_MAX_BLOCK 64u
#define TRI_AEC_SEGMENT_BLOCKS 64u /* zero-block runs never cross these */

typedef struct {
    uint8_t *buf; /* NULL: count only */
    size_t cap;
    size_t pos;    /* bytes emitted so far (counted past cap too) */
    uint32_t acc;  /* pending bits, right-aligned */
    uint32_t nacc; /* number of pending bits, 0..7 between calls */
} tri_bitwriter_t;

typedef struct {
    tri_bitwriter_t bw;
    uint32_t bits;       /* n, bits per sample */
    uint32_t id_len;     /* option id bits */
    uint32_t kmax;       /* largest split k */
    uint32_t block_size; /* J */
    uint32_t rsi;        /* blocks per reference sample interval */
    uint32_t preprocess; /* 1: unit-delay predictor + mapping */
    uint32_t xmax;       /* 2^n - 1 */
    uint32_t block_in_rsi;
    uint32_t last; /* previous sample (predictor state) */
    uint32_t zero_run;
    uint32_t zero_start; /* block_in_rsi at which the pending zero run began */
    uint32_t zero_ref;   /* 1 when that first block holds the reference sample */
    uint32_t zero_ref_value;
    uint32_t ended; /* a short (final) block was pushed */
} tri_aec_t;

/*
 * Starts a stream. bits 1..16, block_size 8/16/32/64, rsi 1..4096 blocks,
 * flags 0 or WF_AEC_FLAG_PREPROCESS; out may be NULL (count only), else cap
 * bytes are available. TRI_ERR_ARG otherwise.
 */
tri_status_t tri_aec_init(tri_aec_t *enc, uint32_t bits, uint32_t block_size, uint32_t rsi,
                          uint32_t flags, uint8_t *out, size_t cap);

/*
 * Codes one block: n samples, n == block_size except for the last block of
 * the stream (1..block_size). TRI_ERR_ARG when n is out of range, a sample
 * exceeds 2^bits - 1, or the stream already took its short last block.
 */
tri_status_t tri_aec_push(tri_aec_t *enc, const uint16_t *samples, uint32_t n);

/*
 * Ends the stream (pending zero run, byte padding). *bytes gets the stream
 * length; TRI_ERR_SIZE when it did not fit in cap (nothing past cap was
 * written; *bytes then says how much was needed).
 */
tri_status_t tri_aec_finish(tri_aec_t *enc, size_t *bytes);

/*
 * The standard's mapping of a sample x predicted by p (both 0..xmax) to
 * 0..xmax, for callers that predict themselves (WF_AEC_FLAG_NEIGHBOUR) and
 * then code the mapped values with flags 0.
 */
uint32_t tri_aec_map(uint32_t x, uint32_t p, uint32_t xmax);

/* One call for a whole buffer of n samples. */
tri_status_t tri_aec_encode_u16(const uint16_t *samples, size_t n, uint32_t bits,
                                uint32_t block_size, uint32_t rsi, uint32_t flags, uint8_t *out,
                                size_t cap, size_t *bytes);

#endif /* TRI_AEC_H */
