/*
 * tri_rs.h - the CCSDS Reed-Solomon (255,223) encoder, E = 16, symbols in
 * the standard's dual basis (CCSDS 131.0-B section 4; triage/WIRE_FORMAT.md,
 * "The link"), interleaved to depth WF_RS_INTERLEAVE.
 *
 * The code is systematic: the information symbols go out unchanged and the
 * 32 check symbols of each codeword follow. Symbols arrive and leave in the
 * dual basis; the arithmetic is done in the conventional one (the tables of
 * wf_link_tables.h convert), as annex F of the standard describes.
 */
#ifndef TRI_RS_H
#define TRI_RS_H

#include <stdint.h>

/*
 * Check symbols of one codeword whose WF_RS_K information symbols are
 * info[0], info[stride], info[2 * stride], ... (dual basis); they are
 * written to parity[0], parity[stride], ... (WF_RS_PARITY of them).
 */
void tri_rs_encode(const uint8_t *info, uint32_t stride, uint8_t *parity);

/* The same check symbols by the plain division register (log / exp tables,
 * one symbol product at a time): the reference tri_rs_encode is held to
 * (tests, fuzzing). */
void tri_rs_encode_ref(const uint8_t *info, uint32_t stride, uint8_t *parity);

/*
 * An interleaved codeblock in place: block holds WF_CODEBLOCK_BYTES bytes,
 * the frame in its first WF_FRAME_BYTES; codeword j (0..WF_RS_INTERLEAVE-1)
 * is bytes j, j + I, j + 2I, ... and its check symbols go to the same
 * positions of the last WF_CHECK_BYTES bytes.
 */
void tri_rs_encode_codeblock(uint8_t *block);

#endif /* TRI_RS_H */
