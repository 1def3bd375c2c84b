/*
 * app_host.c - the on-board application for the Python bindings
 * (triage.onboard, ctypes): one opaque instance block, flat arguments, no
 * struct layouts to mirror on the Python side.
 *
 * Classifiers: the shipped cell network through the streaming engine when
 * the build has one (classifier_stream.h in MODEL_DIR; otherwise kind 1 is
 * refused with TRI_ERR_NO_IMPL), or, for tests only, the fixed rule of
 * tri_classifier_rule (kind 2). The streaming engine's scratch is the
 * caller's (tri_host_scratch_bytes), as on the Cortex-M4 image.
 * tri_host_bind_model switches an instance to another streaming model (any
 * tnn_stream_model_t, e.g. from an engine library the simulator built) on
 * caller scratch, or back to the compiled-in one, keeping the store: the
 * simulator classifies each frame with a named model. tri_host_bind_active
 * binds the model manager's active model with its package's policy.
 */
#include <string.h>

#include "tnn_stream.h"
#include "tri_cells.h"
#include "tri_decide.h"
#include "tri_onboard.h"

#if defined(__has_include)
#if __has_include("factory_package.h")
#include "factory_package.h"
#define TRI_HOST_HAVE_FACTORY 1
#endif
#endif
#ifndef TRI_HOST_HAVE_FACTORY
#define TRI_HOST_HAVE_FACTORY 0
#endif

#if defined(__has_include)
#if __has_include("classifier_stream.h")
#include "classifier_stream.h"
#define TRI_HOST_HAVE_MODEL 1
#endif
#endif
#ifndef TRI_HOST_HAVE_MODEL
#define TRI_HOST_HAVE_MODEL 0
#endif

typedef struct {
    tri_onboard_t ob;
    tri_stream_classifier_t stream;
    tri_rule_classifier_t rule;
    void *scratch; /* init's scratch, for the compiled-in model */
    size_t scratch_bytes;
} tri_host_t;

typedef tri_status_t (*tri_host_write_fn)(void *ctx, const uint8_t *data, size_t len);

size_t tri_host_onboard_bytes(void);
size_t tri_host_work_bytes(void);
size_t tri_host_scratch_bytes(void);
int tri_host_has_model(void);
const char *tri_host_model_sha256(void);
uint32_t tri_host_config_count(void);
const char *tri_host_config_name(uint32_t i);
uint32_t tri_host_config_value(uint32_t i);
int tri_host_init(void *h, void *store, size_t store_bytes, void *work, size_t work_bytes,
                  void *scratch, size_t scratch_bytes, int classifier_kind,
                  const uint16_t *gain_q8);
int tri_host_process_frame(void *h, const uint8_t *meta, size_t meta_len, const uint8_t *frame,
                           size_t frame_bytes, tri_host_write_fn write, void *ctx);
int tri_host_directory(void *h, tri_host_write_fn write, void *ctx, size_t *len);
int tri_host_downlink(void *h, uint32_t budget, const uint8_t *request, size_t request_len,
                      tri_host_write_fn write, void *ctx, size_t *len);
int tri_host_counters(const void *h, uint32_t *out, size_t n);
int tri_host_store_check(const void *h);
int tri_host_store_use(const void *h, uint32_t *out);
int tri_host_set_land_policy(void *h, uint32_t policy);
int tri_host_set_boot_count(void *h, uint32_t boot);
int tri_host_set_policy(void *h, const int16_t *discard_min_q, int32_t ship_crop_min_q,
                        int32_t cloud_call_min_q);
int tri_host_bind_model(void *h, const void *model, void *scratch, size_t scratch_bytes);
int tri_host_bind_active(void *h, const void *models, void *scratch, size_t scratch_bytes);
size_t tri_host_stream_scratch_bytes(const void *model);
int tri_host_set_link(void *h, uint32_t mode, uint32_t scid);
int tri_host_link_encode(uint32_t mode, uint32_t scid, uint32_t vcid, const uint8_t *packets,
                         size_t len, tri_host_write_fn write, void *ctx);
int tri_host_preprocess_row(const uint8_t *frame, uint32_t rows, uint32_t cols,
                            uint32_t bytes_per_sample, uint32_t y, const uint16_t *gain_q8,
                            int8_t *out, uint16_t *nodata_px, uint16_t *saturated_px);
int tri_host_decide(const int8_t *q, size_t n, const int16_t *discard_min_q,
                    int32_t ship_crop_min_q, int32_t cloud_call_min_q, uint32_t land_policy,
                    uint8_t *actions, uint8_t *tops);

size_t tri_host_onboard_bytes(void)
{
    return sizeof(tri_host_t);
}

size_t tri_host_work_bytes(void)
{
    return tri_onboard_work_bytes();
}

/* Scratch bytes the streaming engine needs for the widest frame (0 without a
 * model). */
size_t tri_host_scratch_bytes(void)
{
#if TRI_HOST_HAVE_MODEL
    return tnn_stream_scratch_bytes(&classifier_stream, TRI_FRAME_MAX_COLS);
#else
    return 0u;
#endif
}

int tri_host_has_model(void)
{
    return TRI_HOST_HAVE_MODEL;
}

/* SHA-256 of the .tflite the compiled-in model came from ("" without one). */
const char *tri_host_model_sha256(void)
{
#if TRI_HOST_HAVE_MODEL
    return CLASSIFIER_STREAM_SHA256;
#else
    return "";
#endif
}

/* The application's constants, by name (tri_app_config.h, triage_config.h). */
static const struct {
    const char *name;
    uint32_t value;
} config[] = {
    {"cell_px", TRI_CFG_CELL_PX},
    {"bands", TRI_CFG_BANDS},
    {"num_classes", TRI_CFG_NUM_CLASSES},
    {"aec_block_size", TRI_AEC_BLOCK_SIZE},
    {"aec_rsi", TRI_AEC_RSI},
    {"context_margin_px", TRI_CONTEXT_MARGIN_PX},
    {"crop_max_px", TRI_CROP_MAX_PX},
    {"quicklook_factor", TRI_QUICKLOOK_FACTOR},
    {"lowres_factor", TRI_LOWRES_FACTOR},
    {"cell_skip_share_num", TRI_CELL_SKIP_SHARE_NUM},
    {"cell_skip_share_den", TRI_CELL_SKIP_SHARE_DEN},
    {"frame_max_bytes", TRI_FRAME_MAX_BYTES},
    {"frame_max_cols", TRI_FRAME_MAX_COLS},
    {"grid_max_cells", TRI_GRID_MAX_CELLS},
    {"max_regions", TRI_MAX_REGIONS},
    {"store_max_products", TRI_STORE_MAX_PRODUCTS},
    {"model_frame_cols", TRI_MODEL_FRAME_COLS},
    {"model_scratch_bytes", TRI_MODEL_SCRATCH_BYTES},
    {"model_staging_bytes", TRI_MODEL_STAGING_BYTES},
    {"model_flash_bytes", WF_MODEL_FLASH_BYTES},
};

uint32_t tri_host_config_count(void)
{
    return (uint32_t)(sizeof config / sizeof config[0]);
}

const char *tri_host_config_name(uint32_t i)
{
    return i < tri_host_config_count() ? config[i].name : NULL;
}

uint32_t tri_host_config_value(uint32_t i)
{
    return i < tri_host_config_count() ? config[i].value : 0u;
}

int tri_host_init(void *h, void *store, size_t store_bytes, void *work, size_t work_bytes,
                  void *scratch, size_t scratch_bytes, int classifier_kind,
                  const uint16_t *gain_q8)
{
    tri_host_t *host = (tri_host_t *)h;
    tri_classifier_t cls;
    const tri_classifier_t *use = NULL;
    tri_status_t st;
    if (host == NULL) {
        return TRI_ERR_ARG;
    }
    memset(&host->stream, 0, sizeof host->stream);
    host->scratch = scratch;
    host->scratch_bytes = scratch_bytes;
    if (classifier_kind == 1) {
#if TRI_HOST_HAVE_MODEL
        st = tri_classifier_stream(&cls, &host->stream, &classifier_stream, scratch,
                                   scratch_bytes);
        if (st == TRI_OK) {
            st = tri_classifier_identity_hex(&cls, 0u, CLASSIFIER_STREAM_SHA256);
        }
        if (st != TRI_OK) {
            return st;
        }
        use = &cls;
#else
        (void)scratch;
        (void)scratch_bytes;
        return TRI_ERR_NO_IMPL;
#endif
    } else if (classifier_kind == 2) {
        st = tri_classifier_rule(&cls, &host->rule);
        if (st != TRI_OK) {
            return st;
        }
        use = &cls;
    } else if (classifier_kind != 0) {
        return TRI_ERR_ARG;
    }
    return tri_onboard_init(&host->ob, store, store_bytes, work, work_bytes, use, gain_q8);
}

int tri_host_process_frame(void *h, const uint8_t *meta, size_t meta_len, const uint8_t *frame,
                           size_t frame_bytes, tri_host_write_fn write, void *ctx)
{
    tri_host_t *host = (tri_host_t *)h;
    tri_frame_report_t rep;
    tri_sink_t sink;
    tri_status_t st;
    tri_status_t st2;
    if (host == NULL || write == NULL) {
        return TRI_ERR_ARG;
    }
    sink.ctx = ctx;
    sink.write = write;
    st = tri_onboard_process_frame(&host->ob, meta, meta_len, frame, frame_bytes, &rep);
    st2 = tri_onboard_frame_record(&host->ob, &rep, &sink);
    return st != TRI_OK ? st : st2;
}

int tri_host_directory(void *h, tri_host_write_fn write, void *ctx, size_t *len)
{
    tri_sink_t sink;
    if (h == NULL) {
        return TRI_ERR_ARG;
    }
    sink.ctx = ctx;
    sink.write = write;
    return tri_onboard_directory(&((tri_host_t *)h)->ob, &sink, len);
}

int tri_host_downlink(void *h, uint32_t budget, const uint8_t *request, size_t request_len,
                      tri_host_write_fn write, void *ctx, size_t *len)
{
    tri_sink_t sink;
    if (h == NULL) {
        return TRI_ERR_ARG;
    }
    sink.ctx = ctx;
    sink.write = write;
    return tri_onboard_downlink(&((tri_host_t *)h)->ob, budget, request, request_len, &sink, len);
}

int tri_host_counters(const void *h, uint32_t *out, size_t n)
{
    const tri_host_t *host = (const tri_host_t *)h;
    const tri_onboard_t *ob;
    uint8_t buf[sizeof(tri_onboard_counters_t)];
    size_t i;
    if (host == NULL || out == NULL || n != tri_onboard_counter_words()) {
        return TRI_ERR_ARG;
    }
    ob = &host->ob;
    tri_onboard_counters_pack(&ob->counters, buf);
    for (i = 0; i < n; i++) {
        out[i] = ((uint32_t)buf[4u * i] << 24) | ((uint32_t)buf[4u * i + 1u] << 16) |
                 ((uint32_t)buf[4u * i + 2u] << 8) | (uint32_t)buf[4u * i + 3u];
    }
    return TRI_OK;
}

int tri_host_store_check(const void *h)
{
    if (h == NULL) {
        return TRI_ERR_ARG;
    }
    return tri_store_check(&((const tri_host_t *)h)->ob.store);
}

/* The store's fill: out[0] live products, out[1] bytes they take (allocations),
 * out[2] bytes of its data area (the frame report's store_* words, at any time). */
int tri_host_store_use(const void *h, uint32_t *out)
{
    const tri_store_t *st;
    if (h == NULL || out == NULL) {
        return TRI_ERR_ARG;
    }
    st = &((const tri_host_t *)h)->ob.store;
    out[0] = st->live_count;
    out[1] = st->live_bytes;
    out[2] = st->data_bytes;
    return TRI_OK;
}

int tri_host_set_land_policy(void *h, uint32_t policy)
{
    if (h == NULL) {
        return TRI_ERR_ARG;
    }
    return tri_onboard_set_land_policy(&((tri_host_t *)h)->ob, policy);
}

int tri_host_set_boot_count(void *h, uint32_t boot)
{
    if (h == NULL) {
        return TRI_ERR_ARG;
    }
    return tri_onboard_set_boot_count(&((tri_host_t *)h)->ob, boot);
}

/* The decision thresholds for the frames to come (tri_onboard_set_policy);
 * discard_min_q NULL restores the build's policy. */
int tri_host_set_policy(void *h, const int16_t *discard_min_q, int32_t ship_crop_min_q,
                        int32_t cloud_call_min_q)
{
    static const tri_policy_t shipped = TRI_POLICY_SHIPPED;
    tri_policy_t given;
    uint32_t k;
    if (h == NULL) {
        return TRI_ERR_ARG;
    }
    if (discard_min_q == NULL) {
        return tri_onboard_set_policy(&((tri_host_t *)h)->ob, &shipped);
    }
    if (ship_crop_min_q < -128 || ship_crop_min_q > TRI_CFG_NEVER_Q ||
        cloud_call_min_q < -128 || cloud_call_min_q > TRI_CFG_NEVER_Q) {
        return TRI_ERR_ARG;
    }
    for (k = 0; k < (uint32_t)TRI_CFG_NUM_CLASSES; k++) {
        given.discard_min_q[k] = discard_min_q[k];
    }
    given.ship_crop_min_q = (int16_t)ship_crop_min_q;
    given.cloud_call_min_q = (int16_t)cloud_call_min_q;
    return tri_onboard_set_policy(&((tri_host_t *)h)->ob, &given);
}

/* Scratch bytes a streaming model needs for the widest frame. */
size_t tri_host_stream_scratch_bytes(const void *model)
{
    return model == NULL ? 0u
                         : tnn_stream_scratch_bytes((const tnn_stream_model_t *)model,
                                                    TRI_FRAME_MAX_COLS);
}

/*
 * Classifies the frames to come with `model` (a tnn_stream_model_t) on
 * `scratch` (scratch_bytes, TNN_STREAM_ALIGN-aligned, at least
 * tri_host_stream_scratch_bytes(model); the caller's until the next bind),
 * or with the compiled-in model on init's scratch when `model` is NULL. The
 * store stays. A failed bind leaves the instance without a classifier
 * (frames are then refused), never with a half-bound one.
 */
int tri_host_bind_model(void *h, const void *model, void *scratch, size_t scratch_bytes)
{
    tri_host_t *host = (tri_host_t *)h;
    tri_classifier_t cls;
    tri_status_t st;
    if (host == NULL) {
        return TRI_ERR_ARG;
    }
    memset(&host->stream, 0, sizeof host->stream);
    memset(&host->ob.classifier, 0, sizeof host->ob.classifier);
    if (model == NULL) {
#if TRI_HOST_HAVE_MODEL
        model = &classifier_stream;
        scratch = host->scratch;
        scratch_bytes = host->scratch_bytes;
#else
        return TRI_ERR_NO_IMPL;
#endif
    }
    st = tri_classifier_stream(&cls, &host->stream, (const tnn_stream_model_t *)model, scratch,
                               scratch_bytes);
    if (st == TRI_OK) {
        st = tri_onboard_set_classifier(&host->ob, &cls);
    }
    return st;
}

/*
 * Classifies the frames to come with the model manager's active model, as
 * the Cortex-M4 image does after a switch: its package's plan where it sits
 * (flash or the factory package) on `scratch` (scratch_bytes, the caller's
 * until the next bind), its id and hash in the summaries, and its decision
 * policy (tri_onboard_set_model); or, when there is no active package, the
 * compiled-in model on init's scratch with the build's policy. The store
 * stays. A failed bind leaves the instance without a classifier.
 */
int tri_host_bind_active(void *h, const void *models, void *scratch, size_t scratch_bytes)
{
    tri_host_t *host = (tri_host_t *)h;
    const tri_package_t *pkg;
    tri_classifier_t cls;
    tri_status_t st;
    if (host == NULL || models == NULL) {
        return TRI_ERR_ARG;
    }
    pkg = tri_models_active((const tri_models_t *)models);
    memset(&host->stream, 0, sizeof host->stream);
    memset(&host->ob.classifier, 0, sizeof host->ob.classifier);
    if (pkg != NULL) {
        st = tri_classifier_stream(&cls, &host->stream, &pkg->plan, scratch, scratch_bytes);
        if (st == TRI_OK) {
            cls.model_id = pkg->model_id;
            memcpy(cls.model_sha256, pkg->model_sha256, sizeof cls.model_sha256);
        }
    } else {
#if TRI_HOST_HAVE_MODEL
        st = tri_classifier_stream(&cls, &host->stream, &classifier_stream, host->scratch,
                                   host->scratch_bytes);
        if (st == TRI_OK) {
            st = tri_classifier_identity_hex(&cls, 0u, CLASSIFIER_STREAM_SHA256);
        }
#else
        return TRI_ERR_NO_IMPL;
#endif
    }
    if (st == TRI_OK) {
        st = tri_onboard_set_model(&host->ob, &cls, pkg);
    }
    return st;
}

int tri_host_set_link(void *h, uint32_t mode, uint32_t scid)
{
    if (h == NULL) {
        return TRI_ERR_ARG;
    }
    return tri_onboard_set_link(&((tri_host_t *)h)->ob, mode, scid);
}

/*
 * The link layer alone (tri_link.c) on a stream of whole packets back to back
 * (len bytes): its frames (mode WF_LINK_FRAMES) or CADUs (WF_LINK_CADU) on
 * virtual channel vcid, frame counts from 0, the last frame filled; to write().
 * TRI_ERR_SIZE when the stream ends inside a packet.
 */
int tri_host_link_encode(uint32_t mode, uint32_t scid, uint32_t vcid, const uint8_t *packets,
                         size_t len, tri_host_write_fn write, void *ctx)
{
    uint8_t buf[WF_CADU_BYTES];
    tri_link_t link;
    tri_sink_t sink;
    size_t pos = 0;
    tri_status_t st;
    if (mode == WF_LINK_PACKETS || write == NULL || (packets == NULL && len > 0u)) {
        return TRI_ERR_ARG;
    }
    sink.ctx = ctx;
    sink.write = write;
    st = tri_link_init(&link, buf, mode, scid);
    while (st == TRI_OK && pos < len) {
        size_t size;
        if (len - pos < WF_PRIMARY_HEADER_SIZE) {
            return TRI_ERR_SIZE;
        }
        size = (size_t)(((uint32_t)packets[pos + 4u] << 8) | packets[pos + 5u]) + 7u;
        if (size > len - pos) {
            return TRI_ERR_SIZE;
        }
        st = tri_link_put(&link, vcid, packets + pos, size, &sink);
        pos += size;
    }
    return st == TRI_OK ? tri_link_flush(&link, &sink) : st;
}

/* Row y of a frame through tri_preprocess_row (nodata 0): out[cols][bands],
 * and the counts of its no-data and saturated pixels added per cell column. */
int tri_host_preprocess_row(const uint8_t *frame, uint32_t rows, uint32_t cols,
                            uint32_t bytes_per_sample, uint32_t y, const uint16_t *gain_q8,
                            int8_t *out, uint16_t *nodata_px, uint16_t *saturated_px)
{
    tri_frame_t f;
    if (frame == NULL || gain_q8 == NULL || out == NULL || nodata_px == NULL ||
        saturated_px == NULL || (bytes_per_sample != 1u && bytes_per_sample != 2u) || y >= rows) {
        return TRI_ERR_ARG;
    }
    f.pixels = frame;
    f.rows = rows;
    f.cols = cols;
    f.bands = TRI_CFG_BANDS;
    f.bytes_per_sample = bytes_per_sample;
    f.nodata = 0u;
    f.max_sample = bytes_per_sample == 1u ? 255u : 65535u;
    tri_preprocess_row(&f, y, gain_q8, out, nodata_px, saturated_px);
    return TRI_OK;
}

/*
 * The decision policy (tri_decide) on n output vectors q[n][TRI_CFG_NUM_CLASSES]:
 * actions[i] gets the action (TRI_ACTION_*), tops[i] the cell's class.
 * discard_min_q[TRI_CFG_NUM_CLASSES], ship_crop_min_q and cloud_call_min_q
 * are the policy's thresholds (in [-128, TRI_CFG_NEVER_Q]); discard_min_q
 * NULL takes the build's policy (triage_config.h: TRI_POLICY_SHIPPED) and
 * ignores the other two. land_policy: TRI_LAND_*.
 */
int tri_host_decide(const int8_t *q, size_t n, const int16_t *discard_min_q,
                    int32_t ship_crop_min_q, int32_t cloud_call_min_q, uint32_t land_policy,
                    uint8_t *actions, uint8_t *tops)
{
    static const tri_policy_t shipped = TRI_POLICY_SHIPPED;
    tri_policy_t given;
    const tri_policy_t *policy = &shipped;
    size_t i;
    if ((n > 0u && (q == NULL || actions == NULL || tops == NULL)) ||
        (land_policy != (uint32_t)TRI_LAND_DROP && land_policy != (uint32_t)TRI_LAND_LOWRES)) {
        return TRI_ERR_ARG;
    }
    if (discard_min_q != NULL) {
        uint32_t k;
        if (ship_crop_min_q < -128 || ship_crop_min_q > TRI_CFG_NEVER_Q ||
            cloud_call_min_q < -128 || cloud_call_min_q > TRI_CFG_NEVER_Q) {
            return TRI_ERR_ARG;
        }
        for (k = 0; k < (uint32_t)TRI_CFG_NUM_CLASSES; k++) {
            if (discard_min_q[k] < -128 || discard_min_q[k] > TRI_CFG_NEVER_Q) {
                return TRI_ERR_ARG;
            }
            given.discard_min_q[k] = discard_min_q[k];
        }
        given.ship_crop_min_q = (int16_t)ship_crop_min_q;
        given.cloud_call_min_q = (int16_t)cloud_call_min_q;
        policy = &given;
    }
    for (i = 0; i < n; i++) {
        uint32_t top;
        actions[i] = tri_decide(q + i * (size_t)TRI_CFG_NUM_CLASSES, policy, land_policy, &top);
        tops[i] = (uint8_t)top;
    }
    return TRI_OK;
}

/* ---- the model manager (tri_models.h) ------------------------------------------
 * Python owns a tri_models_t block (tri_host_models_bytes) and calls the
 * manager's API directly; these helpers reach what ctypes cannot: the size,
 * the fault injection of its flash, the factory package of the build, a run
 * of the active model over a frame, and the MODEL_STATUS product. */

size_t tri_host_models_bytes(void);
const uint8_t *tri_host_factory_package(uint32_t *bytes);
int tri_host_models_fault(void *m, uint32_t at, uint32_t mode);
int tri_host_models_fault_state(const void *m, uint32_t *out);
int tri_host_models_run(const void *m, const int8_t *frame, uint32_t h, uint32_t w,
                        void *scratch, size_t scratch_bytes, int8_t *out, size_t out_bytes,
                        uint32_t *out_hwc);
int tri_host_model_status(void *h, const void *models, tri_host_write_fn write, void *ctx,
                          size_t *len);

size_t tri_host_models_bytes(void)
{
    return sizeof(tri_models_t);
}

/* The factory package compiled into this build (factory_package.h in
 * MODEL_DIR), or NULL. */
const uint8_t *tri_host_factory_package(uint32_t *bytes)
{
#if TRI_HOST_HAVE_FACTORY
    *bytes = FACTORY_PACKAGE_BYTES;
    return factory_package;
#else
    *bytes = 0u;
    return NULL;
#endif
}

/* Flash operation `at` (from now, 1-based) is cut (mode TRI_FLASH_TEAR or
 * TRI_FLASH_AFTER); at 0: no fault. */
int tri_host_models_fault(void *m, uint32_t at, uint32_t mode)
{
    tri_models_t *models = (tri_models_t *)m;
    if (models == NULL || (at != 0u && mode != TRI_FLASH_TEAR && mode != TRI_FLASH_AFTER)) {
        return TRI_ERR_ARG;
    }
    models->flash.fail_at = at == 0u ? 0u : models->flash.ops + at;
    models->flash.fail_mode = (uint8_t)mode;
    return TRI_OK;
}

/* out[4]: flash operations so far, 1 when the fault fired, the stage it
 * fired in, the manager's last refusal. */
int tri_host_models_fault_state(const void *m, uint32_t *out)
{
    const tri_models_t *models = (const tri_models_t *)m;
    if (models == NULL || out == NULL) {
        return TRI_ERR_ARG;
    }
    out[0] = models->flash.ops;
    out[1] = models->flash.dead;
    out[2] = models->flash.fault_stage;
    out[3] = models->last_refusal;
    return TRI_OK;
}

typedef struct {
    const int8_t *frame;
    size_t row_bytes;
    int8_t *out;
    size_t out_bytes;
    size_t written;
} host_run_t;

static tri_status_t run_source(void *user, uint32_t y, int8_t *row)
{
    const host_run_t *r = (const host_run_t *)user;
    memcpy(row, r->frame + (size_t)y * r->row_bytes, r->row_bytes);
    return TRI_OK;
}

static tri_status_t run_sink(void *user, uint32_t row_index, const int8_t *row, size_t bytes)
{
    host_run_t *r = (host_run_t *)user;
    (void)row_index;
    if (r->written + bytes > r->out_bytes) {
        return TRI_ERR_SIZE;
    }
    memcpy(r->out + r->written, row, bytes);
    r->written += bytes;
    return TRI_OK;
}

/* The active model over an int8 frame [h][w][in_c]; out_hwc gets the
 * output's shape. TRI_ERR_NO_IMPL when there is no active model. */
int tri_host_models_run(const void *m, const int8_t *frame, uint32_t h, uint32_t w,
                        void *scratch, size_t scratch_bytes, int8_t *out, size_t out_bytes,
                        uint32_t *out_hwc)
{
    const tri_package_t *pkg = tri_models_active((const tri_models_t *)m);
    tnn_stream_ctx_t ctx;
    host_run_t r;
    tri_status_t st;
    if (pkg == NULL) {
        return TRI_ERR_NO_IMPL;
    }
    st = tnn_stream_begin(&ctx, &pkg->plan, h, w, scratch, scratch_bytes);
    if (st != TRI_OK) {
        return st;
    }
    r.frame = frame;
    r.row_bytes = (size_t)w * ctx.in_c;
    r.out = out;
    r.out_bytes = out_bytes;
    r.written = 0u;
    out_hwc[0] = ctx.out_h;
    out_hwc[1] = ctx.out_w;
    out_hwc[2] = ctx.out_c;
    return tnn_stream_run(&ctx, run_source, run_sink, &r);
}

int tri_host_model_status(void *h, const void *models, tri_host_write_fn write, void *ctx,
                          size_t *len)
{
    tri_sink_t sink;
    if (h == NULL) {
        return TRI_ERR_ARG;
    }
    sink.ctx = ctx;
    sink.write = write;
    return tri_onboard_model_status(&((tri_host_t *)h)->ob, (const tri_models_t *)models, &sink,
                                    len);
}
