/*
 * tri_product.c - the product writer (tri_product.h): the samples of each
 * product type, the dn-lattice choice, the band streams, the header and its
 * seal, and the store's room.
 */
#include "tri_product.h"

#include <string.h>

#include "tri_aec.h"

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

/* Every band's block means of a block-mean product into work.means
 * ([band][row][col]) once per product, when they fit (TRI_MEANS_MAX): for
 * 16-bit four-band frames in one pass over its pixels, otherwise by
 * block_mean; the same means as block_mean either way. */
static void compute_means(tri_job_t *job)
{
    const tri_product_header_t *h = &job->h;
    const tri_frame_t *f = job->frame;
    uint32_t plane = (uint32_t)h->rows * h->cols;
    uint32_t step = h->pixel_step;
    uint32_t nb = f->bands;
    uint32_t r;
    if (job->means_ready || h->pixel_step < 2u || h->product_type == WF_PRODUCT_CLASS_MAP ||
        plane * nb > TRI_MEANS_MAX) {
        return;
    }
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (f->bytes_per_sample == 2u && nb == 4u) {
        /* 16-bit samples, four bands (the instrument's own frames): sums in
         * registers, read as native words; a block holding a no-data sample
         * is summed again band by band below */
        uint32_t nd = f->nodata;
        for (r = 0; r < h->rows; r++) {
            uint32_t c;
            for (c = 0; c < h->cols; c++) {
                uint32_t s0 = 0;
                uint32_t s1 = 0;
                uint32_t s2 = 0;
                uint32_t s3 = 0;
                uint32_t hit = 0;
                uint32_t dy;
                for (dy = 0; dy < step; dy++) {
                    const uint8_t *px =
                        f->pixels + 8u * ((size_t)(h->region_row0 + r * step + dy) * f->cols +
                                          h->region_col0 + c * step);
                    const uint8_t *end = px + 8u * step;
                    for (; px < end; px += 8) {
                        uint16_t v[4];
                        memcpy(v, px, sizeof v);
                        s0 += v[0];
                        s1 += v[1];
                        s2 += v[2];
                        s3 += v[3];
                        hit |= (uint32_t)(v[0] == nd) | (uint32_t)(v[1] == nd) |
                               (uint32_t)(v[2] == nd) | (uint32_t)(v[3] == nd);
                    }
                }
                if (hit == 0u) {
                    uint32_t n = step * step;
                    uint32_t at = r * h->cols + c;
                    job->work.means[at] = (uint16_t)((s0 + n / 2u) / n);
                    job->work.means[plane + at] = (uint16_t)((s1 + n / 2u) / n);
                    job->work.means[2u * plane + at] = (uint16_t)((s2 + n / 2u) / n);
                    job->work.means[3u * plane + at] = (uint16_t)((s3 + n / 2u) / n);
                } else {
                    uint32_t b;
                    for (b = 0; b < 4u; b++) {
                        job->work.means[b * plane + r * h->cols + c] = block_mean(
                            f, h->region_row0 + r * step, h->region_col0 + c * step, step, b);
                    }
                }
            }
        }
        job->means_ready = 1;
        return;
    }
#endif
    for (r = 0; r < h->rows; r++) { /* any other frame: block_mean, band by band */
        uint32_t c;
        for (c = 0; c < h->cols; c++) {
            uint32_t b;
            for (b = 0; b < nb; b++) {
                job->work.means[b * plane + r * h->cols + c] = block_mean(
                    f, h->region_row0 + r * step, h->region_col0 + c * step, step, b);
            }
        }
    }
    job->means_ready = 1;
}

/* Samples index..index+n-1 (row-major) of band b of a product that codes
 * every pixel (all but ship crops). */
static void band_samples(const tri_job_t *job, uint32_t b, uint32_t index, uint32_t n,
                         uint16_t *out)
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
        } else if (job->means_ready) {
            out[i] = job->work.means[b * (uint32_t)h->rows * h->cols + r * h->cols + c];
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

/* The next n kept samples of band b of a ship crop, in raster order: a run of
 * kept columns at a time (tri_crop_seek leaves the cursor in one). */
static void crop_samples(tri_job_t *job, uint32_t b, uint32_t n, uint16_t *out)
{
    tri_crop_t *crop = &job->crop;
    uint32_t i = 0;
    while (i < n && tri_crop_seek(crop)) {
        uint32_t r = crop->row0 + crop->cur_r;
        uint32_t c = crop->cur_c;
        for (; i < n && c < crop->run_end; i++, c++) {
            out[i] = tri_frame_sample(job->frame, r, crop->col0 + c, b);
        }
        crop->cur_c = c;
    }
}

/* The value band b of the crop codes at box pixel (r, c): the sample, or its
 * instrument number under the product's dn scale. */
static int32_t crop_value(const tri_job_t *job, uint32_t r, uint32_t c, uint32_t b)
{
    uint32_t v = tri_frame_sample(job->frame, job->crop.row0 + r, job->crop.col0 + c, b);
    if (job->h.dn_den != 0u) {
        v = tri_dn_of_sample(v, job->h.dn_num, job->h.dn_den);
    }
    return (int32_t)v;
}

typedef char crop_rows_fit[TRI_CROP_MAX_PX <= TRI_NEIGHBOUR_MAX_COLS ? 1 : -1];
/* A crop's kept pixels fit the work area's means buffer, which holds the
 * previous band's values while a band is coded. */
typedef char crop_values_fit[TRI_CROP_MAX_PX * TRI_CROP_MAX_PX <= TRI_MEANS_MAX ? 1 : -1];

/* The next n coded values of band b of a ship crop under the neighbour
 * predictor: its kept pixels in raster order (crops are at most
 * TRI_CROP_MAX_PX wide), a run of kept columns at a time. Each value is kept
 * in work.means at its kept pixel's index, where the next band finds it as
 * the band before (job->kept_i counts from 0 in every band). */
static void crop_residuals(tri_job_t *job, uint32_t b, uint32_t n, uint16_t *out)
{
    tri_crop_t *crop = &job->crop;
    uint16_t *prev = job->work.means;
    uint32_t i = 0;
    while (i < n && tri_crop_seek(crop)) {
        uint32_t r = crop->cur_r;
        uint32_t c = crop->cur_c;
        for (; i < n && c < crop->run_end; i++, c++) {
            int32_t v = crop_value(job, r, c, b);
            int32_t below = b > 0u ? (int32_t)prev[job->kept_i] : 0;
            prev[job->kept_i++] = (uint16_t)v;
            out[i] = tri_neighbour_code(&job->nb, r, c, v, below);
        }
        crop->cur_c = c;
    }
}

/* The value band b of a block-mean product codes at pixel index: the mean,
 * or the instrument number nearest to it under the product's dn scale. */
static int32_t means_value(const tri_job_t *job, uint32_t b, uint32_t index)
{
    uint16_t s;
    band_samples(job, b, index, 1u, &s);
    return (int32_t)(job->h.dn_den != 0u ? tri_dn_of_sample(s, job->h.dn_num, job->h.dn_den) : s);
}

/* The next n coded values (from index, row-major) of band b of a product of
 * block means under the neighbour predictor: every pixel is kept, so the
 * band's first pixel is its only seed. */
static void means_residuals(tri_job_t *job, uint32_t b, uint32_t index, uint32_t n, uint16_t *out)
{
    uint32_t i;
    for (i = 0; i < n; i++, index++) {
        out[i] = tri_neighbour_code(&job->nb, index / job->h.cols, index % job->h.cols,
                                    means_value(job, b, index),
                                    b > 0u ? means_value(job, b - 1u, index) : 0);
    }
}

/* The next n samples of band b the product codes (i: index of the first). */
static void product_samples(tri_job_t *job, uint32_t b, uint32_t i, uint32_t n, uint16_t *out)
{
    if (job->h.product_type == WF_PRODUCT_SHIP_CROP) {
        crop_samples(job, b, n, out);
    } else {
        band_samples(job, b, i, n, out);
    }
}

/* Samples a product codes per band. */
static uint32_t product_band_samples(const tri_job_t *job)
{
    return job->h.product_type == WF_PRODUCT_SHIP_CROP ? job->kept_px
                                                       : (uint32_t)job->h.rows * job->h.cols;
}

/* 1 when every sample of the product lies on the frame's dn lattice, so that
 * coding the instrument numbers loses nothing; the first sample off it ends
 * the check. */
static int dn_lattice_holds(tri_job_t *job)
{
    uint32_t num = job->h.dn_num;
    uint32_t den = job->h.dn_den;
    uint32_t n = product_band_samples(job);
    uint32_t b;
    for (b = 0; b < job->h.bands; b++) {
        uint32_t i;
        if (job->h.product_type == WF_PRODUCT_SHIP_CROP) {
            tri_crop_rewind(&job->crop);
        }
        for (i = 0; i < n; i += TRI_AEC_BLOCK_SIZE) {
            uint16_t block[TRI_AEC_BLOCK_SIZE];
            uint32_t k = n - i < TRI_AEC_BLOCK_SIZE ? n - i : TRI_AEC_BLOCK_SIZE;
            uint32_t j;
            product_samples(job, b, i, k, block);
            for (j = 0; j < k; j++) {
                if (!tri_on_dn_lattice(block[j], num, den)) {
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
static tri_status_t write_product(tri_job_t *job, uint8_t *out, size_t cap, size_t *total)
{
    tri_product_header_t *h = &job->h;
    size_t off = WF_PRODUCT_HEADER_SIZE;
    int crop = h->product_type == WF_PRODUCT_SHIP_CROP;
    uint32_t b;
    if (out == NULL) {
        cap = 0;
    }
    memset(h->band_bytes, 0, sizeof h->band_bytes);
    compute_means(job);
    if (h->product_type == WF_PRODUCT_FRAME_SUMMARY) {
        if (off + WF_FRAME_SUMMARY_SIZE <= cap) {
            tri_frame_summary_pack(job->summary, out + off);
        }
        off += WF_FRAME_SUMMARY_SIZE;
    }
    if (crop) {
        uint32_t n = tri_crop_rects(&job->crop, NULL);
        if (off + (size_t)n * WF_KEPT_RECT_SIZE <= cap) {
            (void)tri_crop_rects(&job->crop, out + off);
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
            ok = tri_on_dn_lattice(nd, h->dn_num, h->dn_den);
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
            tri_crop_rewind(&job->crop);
            job->kept_i = 0;
        }
        /* the neighbour predictor starts each band afresh */
        tri_neighbour_start(&job->nb, job->work.zrows, h->cols, h->sample_bits);
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
                    block[j] = (uint16_t)tri_dn_of_sample(block[j], h->dn_num, h->dn_den);
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

tri_status_t tri_product_add(tri_onboard_t *ob, tri_job_t *job, uint8_t rank,
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

void tri_job_init(tri_job_t *job, const tri_frame_meta_t *meta, const tri_frame_t *frame,
                  tri_work_t w, uint8_t type, uint16_t product_id)
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

void tri_job_region(tri_job_t *job, uint32_t r0, uint32_t c0, uint32_t rows, uint32_t cols,
                    uint32_t factor)
{
    /* a region thinner than one block (a frame of fewer rows than the
     * quicklook's factor) is averaged over squares of its smaller side */
    if (rows < factor) {
        factor = rows;
    }
    if (cols < factor) {
        factor = cols;
    }
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

void tri_job_crop(tri_job_t *job, const tri_crop_t *crop, uint8_t score)
{
    tri_job_region(job, crop->row0, crop->col0, crop->rows, crop->cols, 1u);
    job->h.class_id = (uint8_t)TRI_CFG_CLASS_SHIP;
    job->h.confidence = score;
    job->h.aec_flags = (uint8_t)TRI_CROP_AEC_FLAGS;
    job->crop = *crop;
    job->kept_px = tri_crop_kept_px(&job->crop);
}
