/*
 * tri_onboard.c - the on-board triage application's instance and its
 * per-frame orchestration (tri_onboard.h): init and setters, the frame's
 * checks, classification (each frame row preprocessed once, the classifier
 * streaming over them) and decision per cell, then the products in their
 * order. The concepts it drives live apart: the cell grid and preprocessing
 * (tri_cells.c), the decision (tri_decide.c), crop geometry
 * (tri_crop.c), the product writer (tri_product.c), the neighbour
 * predictor (tri_predictor.c), the report (tri_report.c), the work area's
 * layout (tri_work.h), and the downlink (tri_downlink.c).
 */
#include "tri_onboard.h"

#include <string.h>

#include "tri_crop.h"
#include "tri_decide.h"
#include "tri_product.h"
#include "tri_cells.h"
#include "tri_regions.h"
#include "tri_work.h"

#define NCLASSES ((uint32_t)TRI_CFG_NUM_CLASSES)
#define CELL_PX ((uint32_t)TRI_CFG_CELL_PX)

static const uint16_t default_gain_q8[TRI_CFG_BANDS] = TRI_CFG_GAIN_Q8_INIT;
static const tri_policy_t shipped_policy = TRI_POLICY_SHIPPED;

/* The FRAME_SUMMARY layout (wire format) counts the model's classes. */
typedef char summary_counts_classes[sizeof(((tri_frame_summary_t *)0)->cells_by_class) ==
                                                sizeof(((tri_frame_report_t *)0)->cells_by_class)
                                            ? 1
                                            : -1];

size_t tri_onboard_work_bytes(void)
{
    return TRI_ONBOARD_WORK_BYTES;
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
        if (classifier->run == NULL) {
            return TRI_ERR_ARG;
        }
        ob->classifier = *classifier;
    }
    memcpy(ob->gain_q8, gain_q8 != NULL ? gain_q8 : default_gain_q8, sizeof ob->gain_q8);
    ob->policy = shipped_policy;
    ob->land_policy = (uint8_t)(TRI_CFG_LAND_POLICY == 0 ? TRI_LAND_DROP : TRI_LAND_LOWRES);
    ob->work = (uint8_t *)work_mem;
    ob->work_bytes = work_bytes;
    return tri_link_init(&ob->link, tri_work_link(ob), WF_LINK_PACKETS, WF_DEFAULT_SPACECRAFT_ID);
}

tri_status_t tri_onboard_set_link(tri_onboard_t *ob, uint32_t mode, uint32_t scid)
{
    tri_link_t link;
    tri_status_t st;
    if (ob == NULL || ob->work == NULL) {
        return TRI_ERR_ARG;
    }
    st = tri_link_init(&link, tri_work_link(ob), mode, scid);
    if (st != TRI_OK) {
        return st; /* the link as it was */
    }
    link.frames_sent = ob->link.frames_sent;
    link.idle_bytes = ob->link.idle_bytes;
    ob->link = link;
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

tri_status_t tri_onboard_set_policy(tri_onboard_t *ob, const tri_policy_t *policy)
{
    uint32_t k;
    if (ob == NULL || policy == NULL || policy->ship_crop_min_q < -128 ||
        policy->ship_crop_min_q > TRI_CFG_NEVER_Q || policy->cloud_call_min_q < -128 ||
        policy->cloud_call_min_q > TRI_CFG_NEVER_Q) {
        return TRI_ERR_ARG;
    }
    for (k = 0; k < NCLASSES; k++) {
        if (policy->discard_min_q[k] < -128 || policy->discard_min_q[k] > TRI_CFG_NEVER_Q) {
            return TRI_ERR_ARG;
        }
    }
    ob->policy = *policy;
    return TRI_OK;
}

tri_status_t tri_onboard_set_classifier(tri_onboard_t *ob, const tri_classifier_t *classifier)
{
    if (ob == NULL || classifier == NULL || classifier->run == NULL) {
        return TRI_ERR_ARG;
    }
    ob->classifier = *classifier;
    return TRI_OK;
}

tri_status_t tri_onboard_set_model(tri_onboard_t *ob, const tri_classifier_t *classifier,
                                   const tri_package_t *pkg)
{
    tri_policy_t policy = shipped_policy;
    uint32_t land = TRI_CFG_LAND_POLICY == 0 ? (uint32_t)TRI_LAND_DROP : (uint32_t)TRI_LAND_LOWRES;
    tri_status_t st;
    if (pkg != NULL) {
        tri_package_policy(pkg, &policy, &land);
    }
    if (ob == NULL || classifier == NULL || classifier->run == NULL ||
        (land != (uint32_t)TRI_LAND_DROP && land != (uint32_t)TRI_LAND_LOWRES)) {
        return TRI_ERR_ARG;
    }
    st = tri_onboard_set_policy(ob, &policy);
    if (st != TRI_OK) {
        return st;
    }
    ob->classifier = *classifier;
    ob->land_policy = (uint8_t)land;
    return TRI_OK;
}

tri_status_t tri_onboard_set_clock(tri_onboard_t *ob, tri_clock_fn clock)
{
    if (ob == NULL) {
        return TRI_ERR_ARG;
    }
    ob->profile.clock = clock;
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
    tri_work_t w = tri_work_view(ob);
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
    if (meta->rows < CELL_PX || meta->cols < CELL_PX) {
        ob->counters.geometry_errors++;
        return TRI_ERR_SHAPE;
    }
    if (meta->cols > TRI_FRAME_MAX_COLS ||
        tri_cell_count(meta->rows) * tri_cell_count(meta->cols) > TRI_GRID_MAX_CELLS) {
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

/* One frame through the classifier: the source preprocesses frame rows
 * (and counts each cell's no-data and saturated pixels), the sink decides
 * each cell of a row of cells. */
typedef struct {
    tri_onboard_t *ob;
    const tri_frame_t *f;
    tri_work_t w;
    tri_frame_report_t *rep;
} frame_run_t;

static tri_status_t source_row(void *user, uint32_t y, int8_t *row)
{
    frame_run_t *fr = (frame_run_t *)user;
    uint32_t base = (y / CELL_PX) * fr->rep->grid_cols;
    tri_profile_mark(&fr->ob->profile, TRI_STAGE_inference);
    tri_preprocess_row(fr->f, y, fr->ob->gain_q8, row, fr->w.nodata_px + base,
                       fr->w.saturated_px + base);
    tri_profile_mark(&fr->ob->profile, TRI_STAGE_preprocess);
    return TRI_OK;
}

static tri_status_t sink_cells(void *user, uint32_t r, const int8_t *q, size_t bytes)
{
    frame_run_t *fr = (frame_run_t *)user;
    tri_frame_report_t *rep = fr->rep;
    tri_work_t w = fr->w;
    uint32_t r0;
    uint32_t r1;
    uint32_t j;
    tri_profile_mark(&fr->ob->profile, TRI_STAGE_inference);
    if (r >= rep->grid_rows || bytes != (size_t)rep->grid_cols * NCLASSES) {
        return TRI_ERR_SHAPE; /* the classifier's grid is not the frame's */
    }
    tri_cell_bounds(r, fr->f->rows, &r0, &r1);
    for (j = 0; j < rep->grid_cols; j++, q += NCLASSES) {
        uint32_t i = r * rep->grid_cols + j;
        uint32_t c0;
        uint32_t c1;
        uint32_t area;
        uint32_t top;
        uint8_t action;
        tri_cell_bounds(j, fr->f->cols, &c0, &c1);
        area = (r1 - r0) * (c1 - c0);
        if (w.nodata_px[i] * TRI_CELL_SKIP_SHARE_DEN > area * TRI_CELL_SKIP_SHARE_NUM) {
            w.classes[i] = (uint8_t)WF_CLASS_NONE;
            w.conf[i] = 0u;
            w.ship_conf[i] = 0u;
            w.actions[i] = TRI_ACTION_NODATA;
            rep->cells_nodata++;
            continue;
        }
        if (w.saturated_px[i] * TRI_CELL_SKIP_SHARE_DEN > area * TRI_CELL_SKIP_SHARE_NUM) {
            rep->cells_saturated++;
        }
        action = tri_decide(q, &fr->ob->policy, fr->ob->land_policy, &top);
        w.classes[i] = (uint8_t)top;
        w.conf[i] = (uint8_t)((int32_t)q[top] - TRI_CFG_OUTPUT_ZERO_POINT);
        w.ship_conf[i] = (uint8_t)((int32_t)q[TRI_CFG_CLASS_SHIP] - TRI_CFG_OUTPUT_ZERO_POINT);
        w.actions[i] = action;
        rep->cells_total++;
        rep->cells_by_class[top]++;
        if (action == TRI_ACTION_DISCARD || action == TRI_ACTION_LAND_DROP) {
            rep->discarded_by_class[top]++;
        } else if (action == TRI_ACTION_CROP) {
            rep->cells_crop++;
        } else {
            rep->cells_lowres++;
        }
    }
    tri_profile_mark(&fr->ob->profile, TRI_STAGE_decide);
    return TRI_OK;
}

/* Classifies the frame and decides every cell, filling the grid. */
static tri_status_t classify_cells(tri_onboard_t *ob, const tri_frame_t *f, tri_work_t w,
                                   tri_frame_report_t *rep)
{
    frame_run_t fr;
    uint32_t n = rep->grid_rows * rep->grid_cols;
    tri_status_t st;
    memset(w.nodata_px, 0, n * sizeof *w.nodata_px);
    memset(w.saturated_px, 0, n * sizeof *w.saturated_px);
    fr.ob = ob;
    fr.f = f;
    fr.w = w;
    fr.rep = rep;
    st = ob->classifier.run(ob->classifier.ctx, f->rows, f->cols, source_row, sink_cells, &fr);
    tri_profile_mark(&ob->profile, TRI_STAGE_inference);
    if (st != TRI_OK) {
        ob->counters.classifier_errors++;
    }
    return st;
}

static tri_status_t make_products(tri_onboard_t *ob, const tri_frame_meta_t *meta,
                                  const tri_frame_t *f, tri_work_t w, tri_frame_report_t *rep)
{
    tri_job_t job;
    tri_frame_summary_t summary;
    uint16_t pid = 0;
    uint32_t nreg;
    uint32_t dropped = 0;
    uint32_t i;
    tri_status_t st;

    /* quicklook: the whole frame, area-averaged */
    tri_job_init(&job, meta, f, w, (uint8_t)WF_PRODUCT_QUICKLOOK, pid++);
    tri_job_region(&job, 0, 0, meta->rows, meta->cols, TRI_QUICKLOOK_FACTOR);
    st = tri_product_add(ob, &job, TRI_RANK_FRAME, rep);
    if (st != TRI_OK) {
        return st;
    }

    /* class map: top class and confidence per cell, 8-bit, on the cell grid */
    tri_job_init(&job, meta, f, w, (uint8_t)WF_PRODUCT_CLASS_MAP, pid++);
    job.h.sample_bits = 8u;
    job.h.bands = 2u;
    job.h.rows = (uint16_t)rep->grid_rows;
    job.h.cols = (uint16_t)rep->grid_cols;
    job.h.region_rows = meta->rows;
    job.h.region_cols = meta->cols;
    job.h.pixel_step = (uint16_t)CELL_PX;
    job.h.pixel_extent = (uint16_t)CELL_PX;
    job.h.nodata = (uint16_t)WF_CLASS_NONE;
    st = tri_product_add(ob, &job, TRI_RANK_FRAME, rep);
    if (st != TRI_OK) {
        return st;
    }

    /* ship regions: merged crop cells; each crop carries its region's cells
     * widened by the margin, full resolution, split into pieces of at most
     * TRI_CROP_MAX_PX square */
    tri_profile_mark(&ob->profile, TRI_STAGE_products);
    nreg = tri_regions_label(w.actions, w.classes, w.ship_conf, rep->grid_rows, rep->grid_cols,
                             TRI_ACTION_CROP, meta->rows, meta->cols, w.parent, w.label,
                             w.regions, TRI_MAX_REGIONS, &dropped);
    tri_profile_mark(&ob->profile, TRI_STAGE_regions);
    rep->ship_regions = nreg;
    rep->regions_dropped += dropped;
    for (i = 0; i < nreg; i++) {
        const tri_region_t *g = &w.regions[i];
        uint32_t pr;
        for (pr = g->row0; pr < (uint32_t)g->row0 + g->rows; pr += TRI_CROP_MAX_PX) {
            uint32_t pc;
            for (pc = g->col0; pc < (uint32_t)g->col0 + g->cols; pc += TRI_CROP_MAX_PX) {
                tri_crop_t crop;
                uint8_t score;
                uint32_t pr1 = pr + TRI_CROP_MAX_PX < (uint32_t)g->row0 + g->rows
                                   ? pr + TRI_CROP_MAX_PX
                                   : (uint32_t)g->row0 + g->rows;
                uint32_t pc1 = pc + TRI_CROP_MAX_PX < (uint32_t)g->col0 + g->cols
                                   ? pc + TRI_CROP_MAX_PX
                                   : (uint32_t)g->col0 + g->cols;
                if (!tri_crop_fit(&crop, w.label, w.ship_conf, rep->grid_cols, (uint16_t)i,
                                  meta->rows, meta->cols, pr, pc, pr1, pc1, &score)) {
                    continue; /* no kept pixel in this part of the box */
                }
                tri_job_init(&job, meta, f, w, (uint8_t)WF_PRODUCT_SHIP_CROP, pid++);
                tri_job_crop(&job, &crop, score);
                rep->ship_crops++;
                st = tri_product_add(ob, &job, TRI_RANK_SHIP, rep);
                if (st != TRI_OK) {
                    return st;
                }
            }
        }
    }

    /* cells kept at low resolution (land under the lowres policy, and cells
     * no rule discarded), merged, area-averaged */
    tri_profile_mark(&ob->profile, TRI_STAGE_products);
    nreg = tri_regions_label(w.actions, w.classes, w.conf, rep->grid_rows, rep->grid_cols,
                             TRI_ACTION_LOWRES, meta->rows, meta->cols, w.parent, w.label,
                             w.regions, TRI_MAX_REGIONS, &dropped);
    tri_profile_mark(&ob->profile, TRI_STAGE_regions);
    rep->land_regions = nreg;
    rep->regions_dropped += dropped;
    for (i = 0; i < nreg; i++) {
        const tri_region_t *g = &w.regions[i];
        tri_job_init(&job, meta, f, w, (uint8_t)WF_PRODUCT_LAND, pid++);
        tri_job_region(&job, g->row0, g->col0, g->rows, g->cols, TRI_LOWRES_FACTOR);
        job.h.class_id = g->class_id;
        job.h.confidence = g->score;
        st = tri_product_add(ob, &job, TRI_RANK_LAND, rep);
        if (st != TRI_OK) {
            return st;
        }
    }

    /* frame summary */
    memset(&summary, 0, sizeof summary);
    summary.cells_total = rep->cells_total;
    summary.cells_nodata = rep->cells_nodata;
    memcpy(summary.cells_by_class, rep->cells_by_class, sizeof summary.cells_by_class);
    memcpy(summary.cells_discarded_by_class, rep->discarded_by_class,
           sizeof summary.cells_discarded_by_class);
    summary.ship_regions = (uint16_t)rep->ship_regions;
    summary.products = (uint16_t)(pid + 1u);
    summary.model_id = ob->classifier.model_id;
    memcpy(summary.model_sha256, ob->classifier.model_sha256, sizeof summary.model_sha256);
    tri_job_init(&job, meta, f, w, (uint8_t)WF_PRODUCT_FRAME_SUMMARY, pid);
    job.summary = &summary;
    job.h.sample_bits = 0u;
    job.h.bands = 0u;
    job.h.region_rows = meta->rows;
    job.h.region_cols = meta->cols;
    job.h.compression = (uint8_t)WF_COMPRESSION_NONE;
    job.h.aec_flags = 0u;
    job.h.aec_block_size = 0u;
    job.h.aec_rsi = 0u;
    return tri_product_add(ob, &job, TRI_RANK_FRAME, rep);
}

tri_status_t tri_onboard_process_frame(tri_onboard_t *ob, const uint8_t *meta_buf, size_t meta_len,
                                       const uint8_t *frame, size_t frame_bytes,
                                       tri_frame_report_t *rep)
{
    tri_frame_meta_t meta;
    tri_frame_t f;
    tri_work_t w;
    tri_status_t st;
    uint32_t c;
    if (ob == NULL || rep == NULL || ob->work == NULL) {
        return TRI_ERR_ARG;
    }
    tri_profile_start(&ob->profile);
    memset(rep, 0, sizeof *rep);
    ob->grid_rows = 0;
    ob->grid_cols = 0;
    ob->counters.frames_in++;
    st = check_frame(ob, meta_buf, meta_len, frame, frame_bytes, &meta);
    if (st != TRI_OK) {
        tri_profile_mark(&ob->profile, TRI_STAGE_checks);
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
    w = tri_work_view(ob);
    rep->grid_rows = tri_cell_count(meta.rows);
    rep->grid_cols = tri_cell_count(meta.cols);
    tri_profile_mark(&ob->profile, TRI_STAGE_checks);

    st = classify_cells(ob, &f, w, rep);
    if (st == TRI_OK) {
        ob->grid_rows = rep->grid_rows;
        ob->grid_cols = rep->grid_cols;
        ob->counters.cells_total += rep->cells_total;
        ob->counters.cells_nodata += rep->cells_nodata;
        for (c = 0; c < NCLASSES; c++) {
            ob->counters.cells_discarded += rep->discarded_by_class[c];
        }
        if (rep->cells_total == 0u) {
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
    tri_profile_mark(&ob->profile, TRI_STAGE_products);
    if (st == TRI_OK) {
        ob->counters.frames_ok++;
    }
    rep->status = (uint32_t)(int32_t)st;
    rep->store_products = ob->store.live_count;
    rep->store_bytes_used = ob->store.live_bytes;
    rep->store_bytes_free = ob->store.data_bytes - ob->store.live_bytes;
    return st;
}

