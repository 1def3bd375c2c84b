/*
 * tri_predictor.h - the neighbour predictor of ship crops and block-mean
 * products (WF_AEC_FLAG_NEIGHBOUR; triage/WIRE_FORMAT.md), and the dn
 * lattice helpers (FRAME_META dn_num / dn_den). Private to the application:
 * the product writer (tri_product.c) drives it.
 *
 * The predictor codes the value x of a kept pixel of band b, band b - 1's
 * value there being y (0 for band 0): z = x - y is predicted from the kept
 * W, N and NW z of the two rows it keeps (the median edge detector of
 * JPEG-LS when all three are kept, else W, else N), a pixel with neither W
 * nor N from the band's previous such seed; the residual is mapped as CCSDS
 * 121.0-B maps its own (tri_aec_map) around y + the prediction.
 */
#ifndef TRI_PREDICTOR_H
#define TRI_PREDICTOR_H

#include <stdint.h>

/* One band's state; the rows live in the work area (tri_work_t.zrows:
 * 2 x TRI_NEIGHBOUR_MAX_COLS). */
typedef struct {
    int32_t *zrows;
    uint32_t cols;   /* of the product (<= TRI_NEIGHBOUR_MAX_COLS) */
    int32_t xmax;    /* largest sample value */
    int32_t seed_z;  /* z of the band's previous seed pixel */
    uint32_t z_row;  /* product row whose z fills the current row (UINT32_MAX: none) */
} tri_neighbour_t;

/* Starts a band: nothing kept yet, the first seed predicted from 0. */
void tri_neighbour_start(tri_neighbour_t *nb, int32_t *zrows, uint32_t cols, uint32_t sample_bits);

/*
 * The coded value of x at product row r, column c (y: band b - 1's value,
 * 0 for band 0), and records the pixel as kept. Within a band, pixels come
 * in raster order; rows may be skipped (a row with no kept pixel).
 */
uint16_t tri_neighbour_code(tri_neighbour_t *nb, uint32_t r, uint32_t c, int32_t x, int32_t y);

/* The instrument number d of a sample v on the lattice num / den
 * (FRAME_META: v = floor((d * num + den / 2) / den)), and back. No
 * overflow: v, d <= 65535 and 1 <= den <= num <= 65535 keep every product
 * and sum below 2^32. */
static inline uint32_t tri_dn_of_sample(uint32_t v, uint32_t num, uint32_t den)
{
    return (v * den + num / 2u) / num;
}

static inline uint32_t tri_sample_of_dn(uint32_t d, uint32_t num, uint32_t den)
{
    return (d * num + den / 2u) / den;
}

/* Does sample v lie on the lattice (the ground restores it from its d)? */
static inline int tri_on_dn_lattice(uint32_t v, uint32_t num, uint32_t den)
{
    return tri_sample_of_dn(tri_dn_of_sample(v, num, den), num, den) == v;
}

#endif /* TRI_PREDICTOR_H */
