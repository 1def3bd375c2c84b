/*
 * The on-board triage application: frame in, products into the store.
 * See tri_onboard.h for the contract.
 */
#include "tri_onboard.h"

#include <string.h>

#include "tri_aec.h"
#include "tri_be.h"
#include "tri_packet.h"
#include "tri_regions.h"
#include "tri_tiling.h"

#define NCLASSES ((uint32_t)TRI_CFG_NUM_CLASSES)
#define CROP_MARGIN ((uint32_t)TRI_CONTEXT_MARGIN_PX)

#if TRI_CONTEXT_MARGIN_PX > (TRI_CFG_TILE_PX - TRI_CFG_STRIDE_PX) / 2
#error "the crop margin must keep a tile's widened cell inside the tile (tri_tile_cover)"
#endif
#define TILE_AREA ((uint32_t)TRI_CFG_TILE_PX * (uint32_t)TRI_CFG_TILE_PX)

#if TRI_CFG_NUM_CLASSES != 4
#error "the FRAME_SUMMARY layout counts four classes (cloud, sea, ship, land)"
#endif

static const uint16_t default_gain_q8[TRI_CFG_BANDS] = TRI_CFG_GAIN_Q8_INIT;
static const int16_t discard_min_q[TRI_CFG_NUM_CLASSES] = TRI_CFG_DISCARD_MIN_Q_INIT;
/* TRI_CFG_NEVER_Q (above any int8) switches the second opinion off */
static const int16_t second_opinion_min_q = TRI_CFG_SECOND_OPINION_MIN_Q;

/* ---- work memory: the tile grid and region scratch, in external memory ---- */

typedef struct {
    uint8_t *classes;   /* top class, 255 for no-data */
    uint8_t *conf;      /* top class output + 128 */
    uint8_t *actions;   /* TRI_ACTION_* */
    uint8_t *ship_conf; /* ship output + 128 */
    uint16_t *parent;
    uint16_t *label;
    tri_region_t *regions;
    int32_t *zrows; /* neighbour predictor: 2 rows of z (TRI_NEIGHBOUR_MAX_COLS each) */
} work_t;

#define WORK_U8_ARRAYS 4u
#define WORK_U16_ARRAYS 2u

/* The layout below (grid arrays, regions, the predictor's rows, a packet at
 * the very end) fits, and the rows are 4-byte aligned. */
typedef char work_layout_fits[(TRI_GRID_MAX_TILES * (WORK_U8_ARRAYS + 2u * WORK_U16_ARRAYS) +
                                       TRI_MAX_REGIONS * sizeof(tri_region_t) +
                                       TRI_NEIGHBOUR_MAX_COLS * 2u * sizeof(int32_t) +
                                       WF_MAX_PACKET_BYTES <=
                                   TRI_ONBOARD_WORK_BYTES &&
                               (TRI_GRID_MAX_TILES * (WORK_U8_ARRAYS + 2u * WORK_U16_ARRAYS) +
                                TRI_MAX_REGIONS * sizeof(tri_region_t)) %
                                       4u ==
                                   0u)
                              ? 1
                              : -1];

size_t tri_onboard_work_bytes(void)
{
    return TRI_ONBOARD_WORK_BYTES;
}

static work_t work_view(const tri_onboard_t *ob)
{
    work_t w;
    uint8_t *p = ob->work;
    w.parent = (uint16_t *)(void *)p;
    p += TRI_GRID_MAX_TILES * sizeof(uint16_t);
    w.label = (uint16_t *)(void *)p;
    p += TRI_GRID_MAX_TILES * sizeof(uint16_t);
    w.regions = (tri_region_t *)(void *)p;
    p += TRI_MAX_REGIONS * sizeof(tri_region_t);
    w.classes = p;
    p += TRI_GRID_MAX_TILES;
    w.conf = p;
    p += TRI_GRID_MAX_TILES;
    w.actions = p;
    p += TRI_GRID_MAX_TILES;
    w.ship_conf = p;
    p += TRI_GRID_MAX_TILES;
    w.zrows = (int32_t *)(void *)p;
    return w;
}

tri_status_t tri_onboard_init(tri_onboard_t *ob, void *store_mem, size_t store_bytes,
                              void *work_mem, size_t work_bytes,
                              const tri_classifier_t *classifier, const uint16_t *gain_q8)
{
    tri_status_t st;
    if (ob == NULL || work_mem == NULL) {
        return TRI_ERR_ARG;
    }
    memset(ob, 0, sizeof *ob);
    if (((uintptr_t)work_mem & 7u) != 0u) {
        return TRI_ERR_ALIGN;
    }
    if (work_bytes < tri_onboard_work_bytes()) {
        return TRI_ERR_SIZE;
    }
    st = tri_store_init(&ob->store, store_mem, store_bytes);
    if (st != TRI_OK) {
        return st;
    }
    if (classifier != NULL) {
        if (classifier->input == NULL || classifier->run == NULL) {
            return TRI_ERR_ARG;
        }
        ob->classifier = *classifier;
    }
    memcpy(ob->gain_q8, gain_q8 != NULL ? gain_q8 : default_gain_q8, sizeof ob->gain_q8);
    ob->land_policy = (uint8_t)(TRI_CFG_LAND_POLICY == 0 ? TRI_LAND_DROP : TRI_LAND_LOWRES);
    ob->work = (uint8_t *)work_mem;
    ob->work_bytes = work_bytes;
    return TRI_OK;
}

tri_status_t tri_onboard_set_land_policy(tri_onboard_t *ob, uint32_t policy)
{
    if (ob == NULL || (policy != (uint32_t)TRI_LAND_DROP && policy != (uint32_t)TRI_LAND_LOWRES)) {
        return TRI_ERR_ARG;
    }
    ob->land_policy = (uint8_t)policy;
    return TRI_OK;
}

tri_status_t tri_onboard_set_boot_count(tri_onboard_t *ob, uint32_t boot)
{
    if (ob == NULL || boot > 0xFFFFu) {
        return TRI_ERR_ARG;
    }
    ob->boot_count = (uint16_t)boot;
    return TRI_OK;
}

uint32_t tri_onboard_grid(const tri_onboard_t *ob, const uint8_t **classes,
                          const uint8_t **confidences, const uint8_t **actions)
{
    work_t w = work_view(ob);
    if (classes != NULL) {
        *classes = w.classes;
    }
    if (confidences != NULL) {
        *confidences = w.conf;
    }
    if (actions != NULL) {
        *actions = w.actions;
    }
    return ob->grid_rows * ob->grid_cols;
}

/* ---- products ---- */

typedef struct {
    tri_product_header_t h; /* everything but band_bytes */
    const tri_frame_t *frame;
    work_t work;
    const tri_frame_summary_t *summary;
    /* SHIP_CROP: the region whose kept pixels it carries, the tile rows and
     * columns [ti0, ti1] x [tj0, tj1] that can keep pixels of its box, the
     * number of kept pixels, and the raster cursor of the band being coded */
    uint32_t grid_cols;
    uint16_t region;
    uint32_t ti0;
    uint32_t ti1;
    uint32_t tj0;
    uint32_t tj1;
    uint32_t kept_px;
    uint32_t cur_r;
    uint32_t cur_c;
    uint32_t cur_i0; /* tile rows covering frame row region_row0 + cur_r */
    uint32_t cur_i1;
    int32_t seed_z; /* neighbour predictor: z of the band's previous seed pixel */
    uint32_t z_row; /* product row whose z fills the current row buffer (UINT32_MAX: none) */
} job_t;

/* Mean of the valid (!= nodata) samples of band b in the step x step block
 * at (r, c), rounded; nodata when the block has none. */
static uint16_t block_mean(const tri_frame_t *f, uint32_t r, uint32_t c, uint32_t step, uint32_t b)
{
    uint32_t sum = 0;
    uint32_t n = 0;
    uint32_t dy;
    for (dy = 0; dy < step; dy++) {
        uint32_t dx;
        for (dx = 0; dx < step; dx++) {
            uint16_t s = tri_frame_sample(f, r + dy, c + dx, b);
            if (s != f->nodata) {
                sum += s;
                n++;
            }
        }
    }
    if (n == 0u) {
        return f->nodata;
    }
    return (uint16_t)((sum + n / 2u) / n);
}

/* The widened cell of tile `index` along one axis of `extent` pixels (its
 * central cell, tri_tile_cell, widened by the crop margin and kept inside the
 * frame), clipped to [lo, hi) into [*a, *z); 0 when nothing is left. */
static int widened_cell(uint32_t index, uint32_t extent, uint32_t lo, uint32_t hi, uint32_t *a,
                        uint32_t *z)
{
    tri_tile_cell(index, extent, a, z);
    *a = *a > CROP_MARGIN ? *a - CROP_MARGIN : 0u;
    *z = *z + CROP_MARGIN < extent ? *z + CROP_MARGIN : extent;
    *a = *a > lo ? *a : lo;
    *z = *z < hi ? *z : hi;
    return *a < *z;
}

/* Is frame pixel (r, c) kept in the ship crop of region job->region: does
 * the widened cell (tri_tile_cover) of one of the region's tiles hold it?
 * rows_first/rows_last: the tile rows covering r. */
static int crop_keeps(const job_t *job, uint32_t rows_first, uint32_t rows_last, uint32_t c)
{
    uint32_t j0;
    uint32_t j1;
    uint32_t i;
    tri_tile_cover(c, job->frame->cols, CROP_MARGIN, &j0, &j1);
    for (i = rows_first; i <= rows_last; i++) {
        uint32_t j;
        for (j = j0; j <= j1; j++) {
            if (job->work.label[i * job->grid_cols + j] == job->region) {
                return 1;
            }
        }
    }
    return 0;
}

/* Samples index..index+n-1 (row-major) of band b of the product. */
static void band_samples(const job_t *job, uint32_t b, uint32_t index, uint32_t n, uint16_t *out)
{
    const tri_product_header_t *h = &job->h;
    uint32_t r = index / h->cols;
    uint32_t c = index % h->cols;
    uint32_t i;
    for (i = 0; i < n; i++) {
        if (h->product_type == WF_PRODUCT_CLASS_MAP) {
            uint32_t t = r * h->cols + c;
            out[i] = b == 0u ? job->work.classes[t] : job->work.conf[t];
        } else if (h->pixel_step == 1u) {
            out[i] = tri_frame_sample(job->frame, h->region_row0 + r, h->region_col0 + c, b);
        } else {
            out[i] = block_mean(job->frame, h->region_row0 + r * h->pixel_step,
                                h->region_col0 + c * h->pixel_step, h->pixel_step, b);
        }
        if (++c == h->cols) {
            c = 0;
            r++;
        }
    }
}

/* Moves the crop's raster cursor to its next kept pixel (from the current
 * one inclusive); 0 past the end. */
static int crop_seek(job_t *job)
{
    const tri_product_header_t *h = &job->h;
    while (job->cur_r < h->rows) {
        while (job->cur_c < h->cols) {
            if (crop_keeps(job, job->cur_i0, job->cur_i1, h->region_col0 + job->cur_c)) {
                return 1;
            }
            job->cur_c++;
        }
        job->cur_c = 0;
        job->cur_r++;
        if (job->cur_r < h->rows) {
            tri_tile_cover(h->region_row0 + job->cur_r, job->frame->rows, CROP_MARGIN,
                           &job->cur_i0, &job->cur_i1);
        }
    }
    return 0;
}

static void crop_rewind(job_t *job)
{
    job->cur_r = 0;
    job->cur_c = 0;
    tri_tile_cover(job->h.region_row0, job->frame->rows, CROP_MARGIN, &job->cur_i0,
                   &job->cur_i1);
}

/* The next n kept samples of band b of a ship crop, in raster order. */
static void crop_samples(job_t *job, uint32_t b, uint32_t n, uint16_t *out)
{
    uint32_t i;
    for (i = 0; i < n && crop_seek(job); i++) {
        out[i] = tri_frame_sample(job->frame, job->h.region_row0 + job->cur_r,
                                  job->h.region_col0 + job->cur_c, b);
        job->cur_c++;
    }
}

/* The instrument number d of a sample v on the lattice dn_num / dn_den, and
 * back (FRAME_META). No overflow: v, d <= 65535 and 1 <= den <= num <= 65535
 * keep every product and sum below 2^32. */
static uint32_t dn_of_sample(uint32_t v, uint32_t num, uint32_t den)
{
    return (v * den + num / 2u) / num;
}

/* The value band b of the crop codes at (r, c): the sample, or its
 * instrument number under the product's dn scale. */
static int32_t crop_value(const job_t *job, uint32_t r, uint32_t c, uint32_t b)
{
    uint32_t v = tri_frame_sample(job->frame, job->h.region_row0 + r, job->h.region_col0 + c, b);
    if (job->h.dn_den != 0u) {
        v = dn_of_sample(v, job->h.dn_num, job->h.dn_den);
    }
    return (int32_t)v;
}

/* Median edge detector of west a, north b, north-west c (JPEG-LS). */
static int32_t med3(int32_t a, int32_t b, int32_t c)
{
    int32_t lo = a < b ? a : b;
    int32_t hi = a < b ? b : a;
    if (c >= hi) {
        return lo;
    }
    if (c <= lo) {
        return hi;
    }
    return a + b - c;
}

typedef char crop_rows_fit[TRI_CROP_MAX_PX <= TRI_NEIGHBOUR_MAX_COLS ? 1 : -1];

/* Marks a pixel that is not kept in the rows of z (z lies in +-65535). */
#define Z_NOT_KEPT INT32_MIN

static void fill_not_kept(int32_t *row, uint32_t n)
{
    uint32_t i;
    for (i = 0; i < n; i++) {
        row[i] = Z_NOT_KEPT;
    }
}

/* The two rows of z for product row r (the work area's zrows, Z_NOT_KEPT
 * where a pixel is not kept): on a new row the current one starts empty, and
 * the one above too unless it is the row coded just before. */
static void neighbour_rows(job_t *job, uint32_t r, int32_t **cur, const int32_t **prev)
{
    uint32_t cols = job->h.cols;
    *cur = job->work.zrows + (r & 1u) * cols;
    *prev = job->work.zrows + ((r + 1u) & 1u) * cols;
    if (r != job->z_row) {
        if (job->z_row == UINT32_MAX || r != job->z_row + 1u) {
            fill_not_kept(job->work.zrows + ((r + 1u) & 1u) * cols, cols);
        }
        fill_not_kept(*cur, cols);
        job->z_row = r;
    }
}

/* The neighbour predictor (WF_AEC_FLAG_NEIGHBOUR; triage/WIRE_FORMAT.md) for
 * the value x at column c, band b - 1's value there being y (0 for band 0):
 * z = x - y is predicted from the kept W, N and NW z of the rows (the median
 * edge detector when all three are kept), a pixel with neither W nor N from
 * the band's previous such seed; returns the standard's mapping of x around
 * y + the prediction, and records the pixel's z. */
static uint16_t neighbour_code(job_t *job, int32_t *cur, const int32_t *prev, uint32_t c, int32_t x,
                               int32_t y)
{
    int32_t xmax = (int32_t)((1u << job->h.sample_bits) - 1u);
    int w = c > 0u && cur[c - 1u] != Z_NOT_KEPT;
    int32_t zhat;
    int32_t p;
    if (w && prev[c] != Z_NOT_KEPT && prev[c - 1u] != Z_NOT_KEPT) {
        zhat = med3(cur[c - 1u], prev[c], prev[c - 1u]);
    } else if (w) {
        zhat = cur[c - 1u];
    } else if (prev[c] != Z_NOT_KEPT) {
        zhat = prev[c];
    } else {
        zhat = job->seed_z;
        job->seed_z = x - y;
    }
    cur[c] = x - y;
    p = y + zhat;
    p = p < 0 ? 0 : (p > xmax ? xmax : p);
    return (uint16_t)tri_aec_map((uint32_t)x, (uint32_t)p, (uint32_t)xmax);
}

/* The next n coded values of band b of a ship crop under the neighbour
 * predictor: its kept pixels in raster order (crops are at most
 * TRI_CROP_MAX_PX wide). */
static void crop_residuals(job_t *job, uint32_t b, uint32_t n, uint16_t *out)
{
    uint32_t i;
    for (i = 0; i < n && crop_seek(job); i++) {
        uint32_t r = job->cur_r;
        uint32_t c = job->cur_c;
        int32_t *cur;
        const int32_t *prev;
        neighbour_rows(job, r, &cur, &prev);
        out[i] = neighbour_code(job, cur, prev, c, crop_value(job, r, c, b),
                                b > 0u ? crop_value(job, r, c, b - 1u) : 0);
        job->cur_c++;
    }
}

/* The value band b of a block-mean product codes at pixel index: the mean,
 * or the instrument number nearest to it under the product's dn scale. */
static int32_t means_value(const job_t *job, uint32_t b, uint32_t index)
{
    uint16_t s;
    band_samples(job, b, index, 1u, &s);
    return (int32_t)(job->h.dn_den != 0u ? dn_of_sample(s, job->h.dn_num, job->h.dn_den) : s);
}

/* The next n coded values (from index, row-major) of band b of a product of
 * block means under the neighbour predictor: every pixel is kept, so the
 * band's first pixel is its only seed. */
static void means_residuals(job_t *job, uint32_t b, uint32_t index, uint32_t n, uint16_t *out)
{
    uint32_t i;
    for (i = 0; i < n; i++, index++) {
        int32_t *cur;
        const int32_t *prev;
        neighbour_rows(job, index / job->h.cols, &cur, &prev);
        out[i] = neighbour_code(job, cur, prev, index % job->h.cols, means_value(job, b, index),
                                b > 0u ? means_value(job, b - 1u, index) : 0);
    }
}

/* The KEPT_RECT records of a ship crop (the widened cells of its region's
 * tiles, clipped to its box, in tile raster order) into out when it is not
 * NULL; returns how many. */
static uint32_t crop_rects(const job_t *job, uint8_t *out)
{
    const tri_product_header_t *h = &job->h;
    uint32_t n = 0;
    uint32_t i;
    for (i = job->ti0; i <= job->ti1; i++) {
        uint32_t a;
        uint32_t z;
        uint32_t j;
        int rows_kept = widened_cell(i, job->frame->rows, h->region_row0,
                                     (uint32_t)h->region_row0 + h->rows, &a, &z);
        for (j = job->tj0; j <= job->tj1; j++) {
            uint32_t x;
            uint32_t y;
            if (job->work.label[i * job->grid_cols + j] != job->region || !rows_kept ||
                !widened_cell(j, job->frame->cols, h->region_col0,
                              (uint32_t)h->region_col0 + h->cols, &x, &y)) {
                continue;
            }
            if (out != NULL) {
                uint8_t *rec = out + (size_t)n * WF_KEPT_RECT_SIZE;
                tri_put_be16(rec + WF_KEPT_RECT_ROW0_OFFSET, (uint16_t)(a - h->region_row0));
                tri_put_be16(rec + WF_KEPT_RECT_COL0_OFFSET, (uint16_t)(x - h->region_col0));
                tri_put_be16(rec + WF_KEPT_RECT_ROWS_OFFSET, (uint16_t)(z - a));
                tri_put_be16(rec + WF_KEPT_RECT_COLS_OFFSET, (uint16_t)(y - x));
            }
            n++;
        }
    }
    return n;
}

static uint32_t sample_of_dn(uint32_t d, uint32_t num, uint32_t den)
{
    return (d * num + den / 2u) / den;
}

/* Does sample v lie on the lattice (the ground restores it from its d)? */
static int on_dn_lattice(uint32_t v, uint32_t num, uint32_t den)
{
    return sample_of_dn(dn_of_sample(v, num, den), num, den) == v;
}

/* The next n samples of band b the product codes (i: index of the first). */
static void product_samples(job_t *job, uint32_t b, uint32_t i, uint32_t n, uint16_t *out)
{
    if (job->h.product_type == WF_PRODUCT_SHIP_CROP) {
        crop_samples(job, b, n, out);
    } else {
        band_samples(job, b, i, n, out);
    }
}

/* Samples a product codes per band. */
static uint32_t product_band_samples(job_t *job)
{
    return job->h.product_type == WF_PRODUCT_SHIP_CROP ? job->kept_px
                                                       : (uint32_t)job->h.rows * job->h.cols;
}

/* 1 when every sample of the product lies on the frame's dn lattice, so that
 * coding the instrument numbers loses nothing; the first sample off it ends
 * the check. */
static int dn_lattice_holds(job_t *job)
{
    uint32_t num = job->h.dn_num;
    uint32_t den = job->h.dn_den;
    uint32_t n = product_band_samples(job);
    uint32_t b;
    for (b = 0; b < job->h.bands; b++) {
        uint32_t i;
        if (job->h.product_type == WF_PRODUCT_SHIP_CROP) {
            crop_rewind(job);
        }
        for (i = 0; i < n; i += TRI_AEC_BLOCK_SIZE) {
            uint16_t block[TRI_AEC_BLOCK_SIZE];
            uint32_t k = n - i < TRI_AEC_BLOCK_SIZE ? n - i : TRI_AEC_BLOCK_SIZE;
            uint32_t j;
            product_samples(job, b, i, k, block);
            for (j = 0; j < k; j++) {
                if (!on_dn_lattice(block[j], num, den)) {
                    return 0;
                }
            }
        }
    }
    return 1;
}

/*
 * Writes the whole product into out[0..cap-1] (out may be NULL: count only);
 * *total gets its length even when it does not fit (then TRI_ERR_SIZE and
 * nothing past cap is touched).
 */
static tri_status_t write_product(job_t *job, uint8_t *out, size_t cap, size_t *total)
{
    tri_product_header_t *h = &job->h;
    size_t off = WF_PRODUCT_HEADER_SIZE;
    int crop = h->product_type == WF_PRODUCT_SHIP_CROP;
    uint32_t b;
    if (out == NULL) {
        cap = 0;
    }
    memset(h->band_bytes, 0, sizeof h->band_bytes);
    if (h->product_type == WF_PRODUCT_FRAME_SUMMARY) {
        if (off + WF_FRAME_SUMMARY_SIZE <= cap) {
            tri_frame_summary_pack(job->summary, out + off);
        }
        off += WF_FRAME_SUMMARY_SIZE;
    }
    if (crop) {
        uint32_t n = crop_rects(job, NULL);
        if (off + (size_t)n * WF_KEPT_RECT_SIZE <= cap) {
            (void)crop_rects(job, out + off);
        }
        h->kept_rects = (uint16_t)n;
        off += (size_t)n * WF_KEPT_RECT_SIZE;
    }
    if (h->dn_den != 0u) {
        /* Block means (quicklook, low-resolution land) are coded as the nearest
         * instrument number: a mean rounded to the instrument's own
         * quantisation, when the no-data value survives the round trip. Pixel
         * copies (crops, full-resolution products) only when every sample lies
         * on the lattice: those are exact. */
        uint32_t nd = job->frame->nodata;
        int means = h->product_type != WF_PRODUCT_SHIP_CROP && h->pixel_step > 1u;
        int ok;
        if (h->product_type == WF_PRODUCT_CLASS_MAP) {
            ok = 0;
        } else if (means) {
            ok = on_dn_lattice(nd, h->dn_num, h->dn_den);
        } else {
            ok = dn_lattice_holds(job);
        }
        if (!ok) {
            h->dn_num = 0u; /* code the samples as they are */
            h->dn_den = 0u;
        }
    }
    for (b = 0; b < h->bands; b++) {
        uint32_t n = product_band_samples(job);
        uint32_t i;
        uint16_t block[TRI_AEC_BLOCK_SIZE];
        tri_aec_t enc;
        size_t bytes = 0;
        int neighbour = (h->aec_flags & WF_AEC_FLAG_NEIGHBOUR) != 0u;
        tri_status_t st = tri_aec_init(&enc, h->sample_bits, TRI_AEC_BLOCK_SIZE, TRI_AEC_RSI,
                                       h->aec_flags & WF_AEC_FLAG_PREPROCESS,
                                       off < cap ? out + off : NULL, off < cap ? cap - off : 0u);
        if (crop) {
            crop_rewind(job);
        }
        job->seed_z = 0; /* the neighbour predictor starts each band afresh */
        job->z_row = UINT32_MAX;
        for (i = 0; st == TRI_OK && i < n; i += TRI_AEC_BLOCK_SIZE) {
            uint32_t k = n - i < TRI_AEC_BLOCK_SIZE ? n - i : TRI_AEC_BLOCK_SIZE;
            if (neighbour) { /* the predictor maps (and scales) itself */
                if (crop) {
                    crop_residuals(job, b, k, block);
                } else {
                    means_residuals(job, b, i, k, block);
                }
            } else {
                product_samples(job, b, i, k, block);
            }
            if (h->dn_den != 0u && !neighbour) {
                uint32_t j;
                for (j = 0; j < k; j++) {
                    block[j] = (uint16_t)dn_of_sample(block[j], h->dn_num, h->dn_den);
                }
            }
            st = tri_aec_push(&enc, block, k);
        }
        if (st == TRI_OK) {
            st = tri_aec_finish(&enc, &bytes);
        }
        if (st != TRI_OK && st != TRI_ERR_SIZE) {
            return st;
        }
        h->band_bytes[b] = (uint32_t)bytes;
        off += bytes;
    }
    if (off <= cap) { /* the whole product is written: header, then its CRC */
        tri_product_header_pack(h, out);
        tri_product_seal(out, off);
    }
    *total = off;
    return off <= cap ? TRI_OK : TRI_ERR_SIZE;
}

/* Writes a product into the store, making room (evicting lower priorities)
 * when needed. A product that cannot be stored is counted, not an error. */
static tri_status_t add_product(tri_onboard_t *ob, job_t *job, uint8_t rank,
                                tri_frame_report_t *rep)
{
    tri_store_meta_t m;
    uint8_t *window;
    uint32_t cap;
    size_t bytes = 0;
    uint32_t evicted = 0;
    tri_status_t st;
    m.frame_id = job->h.frame_id;
    m.product_id = job->h.product_id;
    m.product_type = job->h.product_type;
    m.class_id = job->h.class_id;
    m.confidence = job->h.confidence;
    m.rank = rank;

    tri_store_window(&ob->store, &window, &cap);
    st = write_product(job, window, cap, &bytes);
    if (st == TRI_OK && tri_store_commit(&ob->store, &m, (uint32_t)bytes, NULL) == TRI_OK) {
        rep->products_added++;
        rep->bytes_added += (uint32_t)bytes;
        return TRI_OK;
    }
    if (st != TRI_OK && st != TRI_ERR_SIZE) {
        return st;
    }
    if (bytes > 0x7FFFFFFFu ||
        tri_store_make_room(&ob->store, tri_store_alloc_bytes((uint32_t)bytes), rank,
                            m.confidence, &evicted) != TRI_OK) {
        ob->store.dropped++;
        rep->products_dropped++;
        return TRI_OK;
    }
    rep->products_evicted += evicted;
    tri_store_window(&ob->store, &window, &cap);
    st = write_product(job, window, cap, &bytes);
    if (st == TRI_OK) {
        st = tri_store_commit(&ob->store, &m, (uint32_t)bytes, NULL);
    }
    if (st != TRI_OK) {
        return st; /* room was made for exactly this size: not reachable */
    }
    rep->products_added++;
    rep->bytes_added += (uint32_t)bytes;
    return TRI_OK;
}

static void job_init(job_t *job, const tri_frame_meta_t *meta, const tri_frame_t *frame,
                     work_t w, uint8_t type, uint16_t product_id)
{
    memset(job, 0, sizeof *job);
    job->frame = frame;
    job->work = w;
    job->h.product_type = type;
    job->h.sample_bits = meta->sample_bits;
    job->h.bands = meta->bands;
    job->h.pixel_step = 1u;
    job->h.pixel_extent = 1u;
    job->h.class_id = (uint8_t)WF_CLASS_NONE;
    job->h.confidence = 0u;
    job->h.compression = (uint8_t)WF_COMPRESSION_CCSDS121;
    job->h.aec_flags = (uint8_t)WF_AEC_FLAG_PREPROCESS;
    job->h.aec_block_size = (uint8_t)TRI_AEC_BLOCK_SIZE;
    job->h.aec_rsi = (uint16_t)TRI_AEC_RSI;
    job->h.nodata = meta->nodata;
    job->h.product_id = product_id;
    job->h.frame_id = meta->frame_id;
    job->h.time_s = meta->time_s;
    job->h.time_sub = meta->time_sub;
    job->h.frame_rows = meta->rows;
    job->h.frame_cols = meta->cols;
    job->h.crs_epsg = meta->crs_epsg;
    job->h.dn_num = meta->dn_num;
    job->h.dn_den = meta->dn_den;
    memcpy(job->h.geotransform, meta->geotransform, TRI_GEOTRANSFORM_BYTES);
}

/* Area-averaged view of a frame region by an integer factor (1: full
 * resolution); whole output pixels only. */
static void job_region(job_t *job, uint32_t r0, uint32_t c0, uint32_t rows, uint32_t cols,
                       uint32_t factor)
{
    job->h.rows = (uint16_t)(rows / factor);
    job->h.cols = (uint16_t)(cols / factor);
    job->h.region_row0 = (uint16_t)r0;
    job->h.region_col0 = (uint16_t)c0;
    job->h.region_rows = (uint16_t)(job->h.rows * factor);
    job->h.region_cols = (uint16_t)(job->h.cols * factor);
    job->h.pixel_step = (uint16_t)factor;
    job->h.pixel_extent = (uint16_t)factor;
    job->h.aec_flags = (uint8_t)(factor > 1u && job->h.cols <= TRI_NEIGHBOUR_MAX_COLS
                                     ? TRI_MEANS_AEC_FLAGS
                                     : WF_AEC_FLAG_PREPROCESS);
}

/* ---- the frame ---- */

static tri_status_t check_frame(tri_onboard_t *ob, const uint8_t *meta_buf, size_t meta_len,
                                const uint8_t *frame, size_t frame_bytes, tri_frame_meta_t *meta)
{
    uint64_t expect;
    uint32_t i;
    tri_status_t st = tri_frame_meta_unpack(meta_buf, meta_len, meta);
    if (st == TRI_ERR_CRC) {
        ob->counters.meta_crc_errors++;
        return st;
    }
    if (st != TRI_OK) {
        ob->counters.meta_format_errors++;
        return st;
    }
    if (meta->frame_id >= WF_DIRECTORY_FRAME_ID) { /* the directories' keys */
        ob->counters.meta_format_errors++;
        return TRI_ERR_FORMAT;
    }
    if (meta->rows == 0u || meta->cols == 0u) {
        ob->counters.geometry_errors++;
        return TRI_ERR_SHAPE;
    }
    if (meta->bands != (uint32_t)TRI_CFG_BANDS) {
        ob->counters.band_mismatches++;
        return TRI_ERR_SHAPE;
    }
    expect = (uint64_t)meta->rows * meta->cols * meta->bands * (meta->sample_bits / 8u);
    if (expect > TRI_FRAME_MAX_BYTES || frame == NULL || frame_bytes != expect) {
        ob->counters.size_errors++;
        return TRI_ERR_SIZE;
    }
    if (meta->rows < (uint32_t)TRI_CFG_TILE_PX || meta->cols < (uint32_t)TRI_CFG_TILE_PX) {
        ob->counters.geometry_errors++;
        return TRI_ERR_SHAPE;
    }
    if (tri_tile_count(meta->rows) * tri_tile_count(meta->cols) > TRI_GRID_MAX_TILES) {
        ob->counters.size_errors++;
        return TRI_ERR_SIZE;
    }
    for (i = 0; i < ob->store.nslots; i++) {
        if (ob->store.slots[i].live != 0u && ob->store.slots[i].frame_id == meta->frame_id) {
            ob->counters.duplicate_frames++;
            return TRI_ERR_ARG;
        }
    }
    if (ob->classifier.run == NULL) {
        ob->counters.classifier_errors++;
        return TRI_ERR_NO_IMPL;
    }
    return TRI_OK;
}

/* Per-class report fields, by class id (cloud, sea, ship, land). */
static uint32_t *tiles_of_class(tri_frame_report_t *rep, uint32_t c)
{
    switch (c) {
    case 0:
        return &rep->tiles_cloud;
    case 1:
        return &rep->tiles_sea;
    case 2:
        return &rep->tiles_ship;
    default:
        return &rep->tiles_land;
    }
}

static uint32_t *discarded_of_class(tri_frame_report_t *rep, uint32_t c)
{
    switch (c) {
    case 0:
        return &rep->discarded_cloud;
    case 1:
        return &rep->discarded_sea;
    case 2:
        return &rep->discarded_ship;
    default:
        return &rep->discarded_land;
    }
}

#if TRI_CFG_CLASS_CLOUD != 0 || TRI_CFG_CLASS_SEA != 1 || TRI_CFG_CLASS_SHIP != 2 ||             \
    TRI_CFG_CLASS_LAND != 3
#error "report fields assume the class order cloud, sea, ship, land"
#endif

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

/*
 * The second opinion on a candidate tile (ship output at least
 * TRI_CFG_SECOND_OPINION_MIN_Q): the same network on the tile turned by 90,
 * 180 and 270 degrees, and each output replaced by the floor of the mean of
 * the four (models/shipped/policy.json second_opinion_min_prob; the Python
 * reference is triage_models.policy.second_opinion). The views are turned
 * copies of the thumbnail saved in ob->thumb before the first inference.
 */
static tri_status_t second_opinion(tri_onboard_t *ob, int8_t *q)
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
        turned_copy(ob->thumb, ob->classifier.input(ob->classifier.ctx), view);
        st = ob->classifier.run(ob->classifier.ctx, qv);
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

/* Classifies every tile and decides, filling the grid. */
static tri_status_t classify_tiles(tri_onboard_t *ob, const tri_frame_t *f, work_t w,
                                   tri_frame_report_t *rep)
{
    uint32_t gr;
    uint32_t gc;
    for (gr = 0; gr < rep->grid_rows; gr++) {
        uint32_t r0 = tri_tile_origin(gr, f->rows);
        for (gc = 0; gc < rep->grid_cols; gc++) {
            uint32_t i = gr * rep->grid_cols + gc;
            int8_t q[TRI_CFG_NUM_CLASSES];
            tri_tile_stats_t stats;
            uint32_t top = 0;
            uint32_t k;
            uint8_t action;
            tri_status_t st;
            tri_preprocess_tile(f, r0, tri_tile_origin(gc, f->cols), ob->gain_q8,
                                ob->classifier.input(ob->classifier.ctx), &stats);
            if (stats.nodata_px * TRI_TILE_SKIP_SHARE_DEN > TILE_AREA * TRI_TILE_SKIP_SHARE_NUM) {
                w.classes[i] = (uint8_t)WF_CLASS_NONE;
                w.conf[i] = 0u;
                w.ship_conf[i] = 0u;
                w.actions[i] = TRI_ACTION_NODATA;
                rep->tiles_nodata++;
                continue;
            }
            if (stats.saturated_px * TRI_TILE_SKIP_SHARE_DEN >
                TILE_AREA * TRI_TILE_SKIP_SHARE_NUM) {
                rep->tiles_saturated++;
            }
            if (second_opinion_min_q < (int16_t)TRI_CFG_NEVER_Q) { /* kept for its views */
                memcpy(ob->thumb, ob->classifier.input(ob->classifier.ctx), sizeof ob->thumb);
            }
            st = ob->classifier.run(ob->classifier.ctx, q);
            if (st == TRI_OK &&
                (int32_t)q[TRI_CFG_CLASS_SHIP] >= (int32_t)second_opinion_min_q) {
                st = second_opinion(ob, q);
                rep->tiles_second_opinion++;
            }
            if (st != TRI_OK) {
                ob->counters.classifier_errors++;
                return st;
            }
            for (k = 1; k < NCLASSES; k++) {
                if (q[k] > q[top]) {
                    top = k; /* first index wins ties */
                }
            }
            /* decision policy (models/shipped/triage_config.h) */
            if ((int32_t)q[TRI_CFG_CLASS_SHIP] >= (int32_t)TRI_CFG_SHIP_CROP_MIN_Q) {
                action = TRI_ACTION_CROP;
            } else if ((int32_t)q[top] >= (int32_t)discard_min_q[top]) {
                action = TRI_ACTION_DISCARD;
            } else if (top == (uint32_t)TRI_CFG_CLASS_LAND) {
                action = ob->land_policy == (uint8_t)TRI_LAND_DROP ? TRI_ACTION_LAND_DROP
                                                                  : TRI_ACTION_LOWRES;
            } else {
                action = TRI_ACTION_LOWRES;
            }
            w.classes[i] = (uint8_t)top;
            w.conf[i] = (uint8_t)((int32_t)q[top] + 128);
            w.ship_conf[i] = (uint8_t)((int32_t)q[TRI_CFG_CLASS_SHIP] + 128);
            w.actions[i] = action;
            rep->tiles_total++;
            (*tiles_of_class(rep, top))++;
            if (action == TRI_ACTION_DISCARD || action == TRI_ACTION_LAND_DROP) {
                (*discarded_of_class(rep, top))++;
            } else if (action == TRI_ACTION_CROP) {
                rep->tiles_crop++;
            } else {
                rep->tiles_lowres++;
            }
        }
    }
    return TRI_OK;
}

/* Kept pixels of a ship crop's box. */
static uint32_t crop_kept_px(job_t *job)
{
    uint32_t n = 0;
    crop_rewind(job);
    while (crop_seek(job)) {
        n++;
        job->cur_c++;
    }
    return n;
}

/* A part of a ship region's box, shrunk to the kept pixels in it. */
typedef struct {
    uint32_t row0; /* [row0, row1) x [col0, col1), frame pixels */
    uint32_t col0;
    uint32_t row1;
    uint32_t col1;
    uint32_t ti0; /* the tile rows and columns whose widened cells can reach it */
    uint32_t ti1;
    uint32_t tj0;
    uint32_t tj1;
    uint8_t score; /* best ship output (+128) of the tiles with kept pixels in it */
} crop_piece_t;

/* Shrinks *p to the bounding box of the pixels of region `region` in it
 * (the widened cells of its tiles) and scores it; 0 when it has none. */
static int crop_piece_fit(crop_piece_t *p, work_t w, uint16_t region, uint32_t grid_cols,
                          const tri_frame_meta_t *meta)
{
    uint32_t i0;
    uint32_t i1;
    uint32_t j0;
    uint32_t j1;
    uint32_t unused;
    uint32_t i;
    uint32_t r0 = p->row1;
    uint32_t c0 = p->col1;
    uint32_t r1 = p->row0;
    uint32_t c1 = p->col0;
    uint8_t score = 0;
    int any = 0;
    tri_tile_cover(p->row0, meta->rows, CROP_MARGIN, &i0, &unused);
    tri_tile_cover(p->row1 - 1u, meta->rows, CROP_MARGIN, &unused, &i1);
    tri_tile_cover(p->col0, meta->cols, CROP_MARGIN, &j0, &unused);
    tri_tile_cover(p->col1 - 1u, meta->cols, CROP_MARGIN, &unused, &j1);
    for (i = i0; i <= i1; i++) {
        uint32_t a;
        uint32_t b;
        uint32_t j;
        int rows_kept = widened_cell(i, meta->rows, p->row0, p->row1, &a, &b);
        for (j = j0; j <= j1; j++) {
            uint32_t t = i * grid_cols + j;
            uint32_t x;
            uint32_t y;
            if (w.label[t] != region || !rows_kept ||
                !widened_cell(j, meta->cols, p->col0, p->col1, &x, &y)) {
                continue;
            }
            any = 1;
            r0 = a < r0 ? a : r0;
            r1 = b > r1 ? b : r1;
            c0 = x < c0 ? x : c0;
            c1 = y > c1 ? y : c1;
            if (w.ship_conf[t] > score) {
                score = w.ship_conf[t];
            }
        }
    }
    if (!any) {
        return 0;
    }
    p->ti0 = i0;
    p->ti1 = i1;
    p->tj0 = j0;
    p->tj1 = j1;
    p->row0 = r0;
    p->col0 = c0;
    p->row1 = r1;
    p->col1 = c1;
    p->score = score;
    return 1;
}

static tri_status_t make_products(tri_onboard_t *ob, const tri_frame_meta_t *meta,
                                  const tri_frame_t *f, work_t w, tri_frame_report_t *rep)
{
    job_t job;
    tri_frame_summary_t summary;
    uint16_t pid = 0;
    uint32_t nreg;
    uint32_t dropped = 0;
    uint32_t i;
    uint32_t c;
    tri_status_t st;

    /* quicklook: the whole frame, area-averaged */
    job_init(&job, meta, f, w, (uint8_t)WF_PRODUCT_QUICKLOOK, pid++);
    job_region(&job, 0, 0, meta->rows, meta->cols, TRI_QUICKLOOK_FACTOR);
    st = add_product(ob, &job, TRI_RANK_FRAME, rep);
    if (st != TRI_OK) {
        return st;
    }

    /* class map: top class and confidence per tile, 8-bit, on the tile grid */
    job_init(&job, meta, f, w, (uint8_t)WF_PRODUCT_CLASS_MAP, pid++);
    job.h.sample_bits = 8u;
    job.h.bands = 2u;
    job.h.rows = (uint16_t)rep->grid_rows;
    job.h.cols = (uint16_t)rep->grid_cols;
    job.h.region_rows = meta->rows;
    job.h.region_cols = meta->cols;
    job.h.pixel_step = (uint16_t)TRI_CFG_STRIDE_PX;
    job.h.pixel_extent = (uint16_t)TRI_CFG_TILE_PX;
    job.h.nodata = (uint16_t)WF_CLASS_NONE;
    st = add_product(ob, &job, TRI_RANK_FRAME, rep);
    if (st != TRI_OK) {
        return st;
    }

    /* ship regions: merged crop tiles; each crop carries the cells of its
     * region's tiles widened by the margin, full resolution, split into
     * pieces of at most TRI_CROP_MAX_PX square */
    nreg = tri_regions_label(w.actions, w.classes, w.ship_conf, rep->grid_rows, rep->grid_cols,
                             TRI_ACTION_CROP, meta->rows, meta->cols, w.parent, w.label,
                             w.regions, TRI_MAX_REGIONS, &dropped);
    rep->ship_regions = nreg;
    rep->regions_dropped += dropped;
    for (i = 0; i < nreg; i++) {
        const tri_region_t *g = &w.regions[i];
        uint32_t pr;
        for (pr = g->row0; pr < (uint32_t)g->row0 + g->rows; pr += TRI_CROP_MAX_PX) {
            uint32_t pc;
            for (pc = g->col0; pc < (uint32_t)g->col0 + g->cols; pc += TRI_CROP_MAX_PX) {
                crop_piece_t piece;
                piece.row0 = pr;
                piece.col0 = pc;
                piece.row1 = pr + TRI_CROP_MAX_PX < (uint32_t)g->row0 + g->rows
                                 ? pr + TRI_CROP_MAX_PX
                                 : (uint32_t)g->row0 + g->rows;
                piece.col1 = pc + TRI_CROP_MAX_PX < (uint32_t)g->col0 + g->cols
                                 ? pc + TRI_CROP_MAX_PX
                                 : (uint32_t)g->col0 + g->cols;
                if (!crop_piece_fit(&piece, w, (uint16_t)i, rep->grid_cols, meta)) {
                    continue; /* no kept pixel in this part of the box */
                }
                job_init(&job, meta, f, w, (uint8_t)WF_PRODUCT_SHIP_CROP, pid++);
                job_region(&job, piece.row0, piece.col0, piece.row1 - piece.row0,
                           piece.col1 - piece.col0, 1u);
                job.h.class_id = (uint8_t)TRI_CFG_CLASS_SHIP;
                job.h.confidence = piece.score;
                job.h.aec_flags = (uint8_t)TRI_CROP_AEC_FLAGS;
                job.grid_cols = rep->grid_cols;
                job.region = (uint16_t)i;
                job.ti0 = piece.ti0;
                job.ti1 = piece.ti1;
                job.tj0 = piece.tj0;
                job.tj1 = piece.tj1;
                job.kept_px = crop_kept_px(&job);
                rep->ship_crops++;
                st = add_product(ob, &job, TRI_RANK_SHIP, rep);
                if (st != TRI_OK) {
                    return st;
                }
            }
        }
    }

    /* tiles kept at low resolution (land under the lowres policy, and tiles
     * no rule discarded), merged, area-averaged */
    nreg = tri_regions_label(w.actions, w.classes, w.conf, rep->grid_rows, rep->grid_cols,
                             TRI_ACTION_LOWRES, meta->rows, meta->cols, w.parent, w.label,
                             w.regions, TRI_MAX_REGIONS, &dropped);
    rep->land_regions = nreg;
    rep->regions_dropped += dropped;
    for (i = 0; i < nreg; i++) {
        const tri_region_t *g = &w.regions[i];
        job_init(&job, meta, f, w, (uint8_t)WF_PRODUCT_LAND, pid++);
        job_region(&job, g->row0, g->col0, g->rows, g->cols, TRI_LOWRES_FACTOR);
        job.h.class_id = g->class_id;
        job.h.confidence = g->score;
        st = add_product(ob, &job, TRI_RANK_LAND, rep);
        if (st != TRI_OK) {
            return st;
        }
    }

    /* frame summary */
    memset(&summary, 0, sizeof summary);
    summary.tiles_total = rep->tiles_total;
    summary.tiles_nodata = rep->tiles_nodata;
    for (c = 0; c < NCLASSES; c++) {
        summary.tiles_by_class[c] = *tiles_of_class(rep, c);
        summary.tiles_discarded_by_class[c] = *discarded_of_class(rep, c);
    }
    summary.ship_regions = (uint16_t)rep->ship_regions;
    summary.products = (uint16_t)(pid + 1u);
    job_init(&job, meta, f, w, (uint8_t)WF_PRODUCT_FRAME_SUMMARY, pid);
    job.summary = &summary;
    job.h.sample_bits = 0u;
    job.h.bands = 0u;
    job.h.region_rows = meta->rows;
    job.h.region_cols = meta->cols;
    job.h.compression = (uint8_t)WF_COMPRESSION_NONE;
    job.h.aec_flags = 0u;
    job.h.aec_block_size = 0u;
    job.h.aec_rsi = 0u;
    return add_product(ob, &job, TRI_RANK_FRAME, rep);
}

tri_status_t tri_onboard_process_frame(tri_onboard_t *ob, const uint8_t *meta_buf, size_t meta_len,
                                       const uint8_t *frame, size_t frame_bytes,
                                       tri_frame_report_t *rep)
{
    tri_frame_meta_t meta;
    tri_frame_t f;
    work_t w;
    tri_status_t st;
    uint32_t c;
    if (ob == NULL || rep == NULL || ob->work == NULL) {
        return TRI_ERR_ARG;
    }
    memset(rep, 0, sizeof *rep);
    ob->grid_rows = 0;
    ob->grid_cols = 0;
    ob->counters.frames_in++;
    st = check_frame(ob, meta_buf, meta_len, frame, frame_bytes, &meta);
    if (st != TRI_OK) {
        rep->status = (uint32_t)(int32_t)st;
        if (meta_buf != NULL && meta_len == WF_FRAME_META_SIZE) {
            rep->frame_id = ((uint32_t)meta_buf[WF_FRAME_META_FRAME_ID_OFFSET] << 24) |
                            ((uint32_t)meta_buf[WF_FRAME_META_FRAME_ID_OFFSET + 1u] << 16) |
                            ((uint32_t)meta_buf[WF_FRAME_META_FRAME_ID_OFFSET + 2u] << 8) |
                            (uint32_t)meta_buf[WF_FRAME_META_FRAME_ID_OFFSET + 3u];
        }
        return st;
    }
    rep->frame_id = meta.frame_id;
    f.pixels = frame;
    f.rows = meta.rows;
    f.cols = meta.cols;
    f.bands = meta.bands;
    f.bytes_per_sample = meta.sample_bits / 8u;
    f.nodata = meta.nodata;
    f.max_sample = (uint16_t)((1u << meta.sample_bits) - 1u);
    w = work_view(ob);
    rep->grid_rows = tri_tile_count(meta.rows);
    rep->grid_cols = tri_tile_count(meta.cols);

    st = classify_tiles(ob, &f, w, rep);
    if (st == TRI_OK) {
        ob->grid_rows = rep->grid_rows;
        ob->grid_cols = rep->grid_cols;
        ob->counters.tiles_total += rep->tiles_total;
        ob->counters.tiles_nodata += rep->tiles_nodata;
        for (c = 0; c < NCLASSES; c++) {
            ob->counters.tiles_discarded += *discarded_of_class(rep, c);
        }
        if (rep->tiles_total == 0u) {
            ob->counters.nodata_frames++;
            st = TRI_ERR_NODATA;
        }
    }
    if (st == TRI_OK) {
        st = make_products(ob, &meta, &f, w, rep);
        ob->counters.products_added += rep->products_added;
        ob->counters.products_dropped += rep->products_dropped;
        ob->counters.products_evicted += rep->products_evicted;
        ob->last_time_s = meta.time_s;
        ob->last_time_sub = meta.time_sub;
    }
    if (st == TRI_OK) {
        ob->counters.frames_ok++;
    }
    rep->status = (uint32_t)(int32_t)st;
    rep->store_products = ob->store.live_count;
    rep->store_bytes_used = ob->store.live_bytes;
    rep->store_bytes_free = ob->store.data_bytes - ob->store.live_bytes;
    return st;
}

tri_status_t tri_onboard_frame_record(const tri_onboard_t *ob, const tri_frame_report_t *report,
                                      const tri_sink_t *sink)
{
    uint8_t words[sizeof(tri_frame_report_t)];
    const uint8_t *cls;
    const uint8_t *conf;
    const uint8_t *act;
    uint32_t n;
    tri_status_t st;
    if (ob == NULL || report == NULL || sink == NULL || sink->write == NULL || ob->work == NULL) {
        return TRI_ERR_ARG;
    }
    tri_frame_report_pack(report, words);
    n = tri_onboard_grid(ob, &cls, &conf, &act);
    st = sink->write(sink->ctx, words, 4u * tri_frame_report_words());
    if (st == TRI_OK && n > 0u) {
        st = sink->write(sink->ctx, cls, n);
    }
    if (st == TRI_OK && n > 0u) {
        st = sink->write(sink->ctx, conf, n);
    }
    if (st == TRI_OK && n > 0u) {
        st = sink->write(sink->ctx, act, n);
    }
    return st;
}

/* ---- report packing ---- */

#define TRI_FIELD_NAME(name) #name,
static const char *const report_names[] = {TRI_REPORT_FIELDS(TRI_FIELD_NAME)};
static const char *const counter_names[] = {TRI_COUNTER_FIELDS(TRI_FIELD_NAME)};

uint32_t tri_frame_report_words(void)
{
    return (uint32_t)(sizeof report_names / sizeof report_names[0]);
}

uint32_t tri_onboard_counter_words(void)
{
    return (uint32_t)(sizeof counter_names / sizeof counter_names[0]);
}

const char *tri_frame_report_field(uint32_t index)
{
    return index < tri_frame_report_words() ? report_names[index] : NULL;
}

const char *tri_onboard_counter_field(uint32_t index)
{
    return index < tri_onboard_counter_words() ? counter_names[index] : NULL;
}

#define TRI_FIELD_PACK(name)                                                                       \
    out[i++] = (uint8_t)(src->name >> 24);                                                         \
    out[i++] = (uint8_t)(src->name >> 16);                                                         \
    out[i++] = (uint8_t)(src->name >> 8);                                                          \
    out[i++] = (uint8_t)src->name;

void tri_frame_report_pack(const tri_frame_report_t *src, uint8_t *out)
{
    size_t i = 0;
    TRI_REPORT_FIELDS(TRI_FIELD_PACK)
}

void tri_onboard_counters_pack(const tri_onboard_counters_t *src, uint8_t *out)
{
    size_t i = 0;
    TRI_COUNTER_FIELDS(TRI_FIELD_PACK)
}
