/* A model package on board (tri_package.h). */
#include "tri_package.h"

#include <string.h>

#include "tri_be.h"
#include "tri_crc32.h"
#include "tri_app_config.h"
#include "triage_config.h"

#define REFUSE(code, status)                                                                       \
    do {                                                                                           \
        *reason = (uint8_t)(code);                                                                 \
        return (status);                                                                           \
    } while (0)

/* Section [offset, offset + bytes) 8-aligned, not empty, in [start, end). */
static int section_ok(uint32_t offset, uint32_t bytes, uint32_t start, uint32_t end)
{
    return offset % WF_PACKAGE_ALIGN == 0u && offset >= start && bytes > 0u && offset <= end &&
           bytes <= end - offset;
}

tri_status_t tri_package_parse(const uint8_t *data, uint32_t bytes, tri_package_t *pkg,
                               uint8_t *reason)
{
    uint32_t plan_off, plan_bytes, spec_off, spec_bytes, vec_off, vec_bytes, body, per_in;
    *reason = 0u;
    if (data == NULL || pkg == NULL) {
        return TRI_ERR_ARG;
    }
    memset(pkg, 0, sizeof *pkg);
    if (bytes < WF_PACKAGE_HEADER_SIZE + WF_PACKAGE_CRC_BYTES || bytes > WF_MAX_PACKAGE_BYTES ||
        tri_get_be32(data + WF_PACKAGE_HEADER_MAGIC_OFFSET) != WF_PACKAGE_MAGIC ||
        data[WF_PACKAGE_HEADER_VERSION_OFFSET] != WF_PACKAGE_VERSION ||
        tri_get_be32(data + WF_PACKAGE_HEADER_PACKAGE_BYTES_OFFSET) != bytes) {
        REFUSE(WF_REFUSAL_FORMAT, TRI_ERR_FORMAT);
    }
    body = bytes - WF_PACKAGE_CRC_BYTES;
    if (tri_crc32(0u, data, body) != tri_get_be32(data + body)) {
        REFUSE(WF_REFUSAL_CRC, TRI_ERR_CRC);
    }
    plan_off = tri_get_be32(data + WF_PACKAGE_HEADER_PLAN_OFFSET_OFFSET);
    plan_bytes = tri_get_be32(data + WF_PACKAGE_HEADER_PLAN_BYTES_OFFSET);
    spec_off = tri_get_be32(data + WF_PACKAGE_HEADER_SPEC_OFFSET_OFFSET);
    spec_bytes = tri_get_be32(data + WF_PACKAGE_HEADER_SPEC_BYTES_OFFSET);
    vec_off = tri_get_be32(data + WF_PACKAGE_HEADER_VECTORS_OFFSET_OFFSET);
    vec_bytes = tri_get_be32(data + WF_PACKAGE_HEADER_VECTORS_BYTES_OFFSET);
    pkg->model_id = tri_get_be32(data + WF_PACKAGE_HEADER_MODEL_ID_OFFSET);
    pkg->engine_abi = tri_get_be16(data + WF_PACKAGE_HEADER_ENGINE_ABI_OFFSET);
    pkg->vector_count = tri_get_be16(data + WF_PACKAGE_HEADER_VECTOR_COUNT_OFFSET);
    pkg->vector_rows = tri_get_be16(data + WF_PACKAGE_HEADER_VECTOR_ROWS_OFFSET);
    pkg->vector_cols = tri_get_be16(data + WF_PACKAGE_HEADER_VECTOR_COLS_OFFSET);
    if (pkg->model_id == 0u || !section_ok(plan_off, plan_bytes, WF_PACKAGE_HEADER_SIZE, body) ||
        !section_ok(spec_off, spec_bytes, plan_off + plan_bytes, body) ||
        spec_bytes != WF_MODEL_SPEC_SIZE ||
        !section_ok(vec_off, vec_bytes, spec_off + spec_bytes, body) ||
        pkg->vector_count < 1u || pkg->vector_count > WF_MAX_GOLDEN_VECTORS ||
        pkg->vector_rows < 1u || pkg->vector_cols < 1u ||
        pkg->vector_rows * pkg->vector_cols > WF_MAX_GOLDEN_PIXELS ||
        vec_bytes % pkg->vector_count != 0u) {
        REFUSE(WF_REFUSAL_FORMAT, TRI_ERR_FORMAT);
    }
    pkg->vector_stride = vec_bytes / pkg->vector_count;
    per_in = pkg->vector_rows * pkg->vector_cols * data[spec_off + WF_MODEL_SPEC_BANDS_OFFSET];
    if (per_in == 0u || per_in >= pkg->vector_stride) {
        REFUSE(WF_REFUSAL_FORMAT, TRI_ERR_FORMAT);
    }
    pkg->data = data;
    pkg->bytes = bytes;
    pkg->model_sha256 = data + WF_PACKAGE_HEADER_MODEL_SHA256_OFFSET;
    pkg->plan.plan = data + plan_off;
    pkg->plan.plan_bytes = plan_bytes;
    pkg->spec = data + spec_off;
    pkg->vectors = data + vec_off;
    return TRI_OK;
}

/* A threshold of the spec's policy: int16 two's complement in [-128, TRI_CFG_NEVER_Q]. */
static int16_t spec_q(const uint8_t *s, uint32_t offset)
{
    uint16_t u = tri_get_be16(s + offset);
    return u >= 0x8000u ? (int16_t)(-(int32_t)(0x10000u - (uint32_t)u)) : (int16_t)u;
}

/* The policy fields: thresholds in range, a known land policy, and the crop margin this
 * image crops with (it is compiled in: TRI_CFG_CROP_MARGIN_PX). */
static int policy_ok(const uint8_t *s)
{
    uint32_t k;
    int16_t q = spec_q(s, WF_MODEL_SPEC_SHIP_CROP_MIN_Q_OFFSET);
    int16_t c = spec_q(s, WF_MODEL_SPEC_CLOUD_CALL_MIN_Q_OFFSET);
    if (q < -128 || q > TRI_CFG_NEVER_Q || c < -128 || c > TRI_CFG_NEVER_Q) {
        return 0;
    }
    for (k = 0; k < (uint32_t)TRI_CFG_NUM_CLASSES; k++) {
        q = spec_q(s, WF_MODEL_SPEC_DISCARD_MIN_Q_OFFSET + 2u * k);
        if (q < -128 || q > TRI_CFG_NEVER_Q) {
            return 0;
        }
    }
    return (s[WF_MODEL_SPEC_LAND_POLICY_OFFSET] == (uint8_t)TRI_LAND_DROP ||
            s[WF_MODEL_SPEC_LAND_POLICY_OFFSET] == (uint8_t)TRI_LAND_LOWRES) &&
           tri_get_be16(s + WF_MODEL_SPEC_CROP_MARGIN_PX_OFFSET) == (uint32_t)TRI_CFG_CROP_MARGIN_PX;
}

void tri_package_policy(const tri_package_t *pkg, tri_policy_t *policy, uint32_t *land_policy)
{
    uint32_t k;
    for (k = 0; k < (uint32_t)TRI_CFG_NUM_CLASSES; k++) {
        policy->discard_min_q[k] = spec_q(pkg->spec, WF_MODEL_SPEC_DISCARD_MIN_Q_OFFSET + 2u * k);
    }
    policy->ship_crop_min_q = spec_q(pkg->spec, WF_MODEL_SPEC_SHIP_CROP_MIN_Q_OFFSET);
    policy->cloud_call_min_q = spec_q(pkg->spec, WF_MODEL_SPEC_CLOUD_CALL_MIN_Q_OFFSET);
    *land_policy = pkg->spec[WF_MODEL_SPEC_LAND_POLICY_OFFSET];
}

/* The image's preprocessing (triage_config.h, from models/tile_spec.json): the per-band Q8
 * gains it scales every frame's DNs with before the square root. */
typedef char tri_package_gains_fit[TRI_CFG_BANDS <= WF_MODEL_SPEC_GAIN_Q8_COUNT ? 1 : -1];
static const uint16_t image_gain_q8[TRI_CFG_BANDS] = TRI_CFG_GAIN_Q8_INIT;

/* The preprocessing the network was trained with must be the one this image applies:
 * band by band the same gain (0 past the image's bands: a gain for a band it has not
 * is another tile spec), the same input quantisation (q = isqrt(c) - 128 read as
 * (q - zero point) / scale_den). Golden vectors cannot tell: they start from inputs
 * already preprocessed. */
static int preprocessing_ok(const uint8_t *s)
{
    uint32_t b;
    for (b = 0; b < WF_MODEL_SPEC_GAIN_Q8_COUNT; b++) {
        const uint16_t want = b < (uint32_t)TRI_CFG_BANDS ? image_gain_q8[b] : (uint16_t)0u;
        if (tri_get_be16(s + WF_MODEL_SPEC_GAIN_Q8_OFFSET + 2u * b) != want) {
            return 0;
        }
    }
    return (int8_t)s[WF_MODEL_SPEC_INPUT_ZERO_POINT_OFFSET] == TRI_CFG_INPUT_ZERO_POINT &&
           tri_get_be16(s + WF_MODEL_SPEC_INPUT_SCALE_DEN_OFFSET) == TRI_CFG_INPUT_SCALE_DEN;
}

/* What this image processes (triage_config.h): the spec must say the same. */
static int spec_ok(const uint8_t *s, const tnn_stream_info_t *info)
{
    return policy_ok(s) && preprocessing_ok(s) &&
           s[WF_MODEL_SPEC_BANDS_OFFSET] == (uint32_t)TRI_CFG_BANDS &&
           s[WF_MODEL_SPEC_CLASSES_OFFSET] == (uint32_t)TRI_CFG_NUM_CLASSES &&
           s[WF_MODEL_SPEC_SHIP_CLASS_OFFSET] == (uint32_t)TRI_CFG_CLASS_SHIP &&
           (int8_t)s[WF_MODEL_SPEC_OUTPUT_ZERO_POINT_OFFSET] == TRI_CFG_OUTPUT_ZERO_POINT &&
           tri_get_be16(s + WF_MODEL_SPEC_OUTPUT_SCALE_DEN_OFFSET) == TRI_CFG_OUTPUT_SCALE_DEN &&
           info->in_c == (uint32_t)TRI_CFG_BANDS && info->out_c == (uint32_t)TRI_CFG_NUM_CLASSES &&
           info->in_zero_point == TRI_CFG_INPUT_ZERO_POINT &&
           info->out_zero_point == TRI_CFG_OUTPUT_ZERO_POINT &&
           /* one output pixel per cell of the image's grid */
           tri_get_be16(s + WF_MODEL_SPEC_CELL_PX_OFFSET) == TRI_MODEL_CELL_PX &&
           info->multiple_h == TRI_MODEL_CELL_PX && info->multiple_w == TRI_MODEL_CELL_PX;
}

tri_status_t tri_package_check(const tri_package_t *pkg, uint32_t frame_cols,
                               size_t scratch_capacity, void *scratch, size_t scratch_bytes,
                               size_t *need, uint8_t *reason)
{
    tnn_stream_info_t info;
    tnn_stream_ctx_t ctx;
    tri_status_t st;
    *reason = 0u;
    *need = 0u;
    if (pkg == NULL || pkg->data == NULL) {
        return TRI_ERR_ARG;
    }
    if (pkg->engine_abi != TNN_STREAM_ABI || pkg->plan.plan_bytes < TNN_PLAN_HEADER_SIZE ||
        tri_get_be16(pkg->plan.plan + TNN_PLAN_HEADER_ABI) != TNN_STREAM_ABI) {
        REFUSE(WF_REFUSAL_ABI, TRI_ERR_FORMAT);
    }
    st = tnn_stream_info(&pkg->plan, &info);
    if (st == TRI_ERR_NO_IMPL) {
        REFUSE(WF_REFUSAL_KERNEL, st);
    }
    if (st != TRI_OK) {
        REFUSE(WF_REFUSAL_PLAN, st);
    }
    if (!spec_ok(pkg->spec, &info)) {
        REFUSE(WF_REFUSAL_SPEC, TRI_ERR_SHAPE);
    }
    *need = tnn_stream_scratch_bytes(&pkg->plan, frame_cols);
    st = tnn_stream_begin(&ctx, &pkg->plan, pkg->vector_rows, pkg->vector_cols, scratch,
                          scratch_bytes);
    if (st == TRI_ERR_NO_IMPL) {
        REFUSE(WF_REFUSAL_KERNEL, st);
    }
    if (st != TRI_OK || *need == 0u) {
        REFUSE(WF_REFUSAL_PLAN, st != TRI_OK ? st : TRI_ERR_FORMAT);
    }
    if (*need > scratch_capacity) {
        REFUSE(WF_REFUSAL_ARENA, TRI_ERR_SIZE);
    }
    if ((uint64_t)pkg->vector_rows * pkg->vector_cols * info.in_c +
            (uint64_t)ctx.out_h * ctx.out_w * ctx.out_c !=
        pkg->vector_stride) {
        REFUSE(WF_REFUSAL_FORMAT, TRI_ERR_FORMAT);
    }
    return TRI_OK;
}

typedef struct {
    const int8_t *input;
    const int8_t *expect;
    size_t row_bytes;
    uint32_t mismatches;
} golden_t;

static tri_status_t golden_source(void *user, uint32_t y, int8_t *row)
{
    const golden_t *g = (const golden_t *)user;
    memcpy(row, g->input + (size_t)y * g->row_bytes, g->row_bytes);
    return TRI_OK;
}

static tri_status_t golden_sink(void *user, uint32_t r, const int8_t *row, size_t bytes)
{
    golden_t *g = (golden_t *)user;
    if (memcmp(row, g->expect + (size_t)r * bytes, bytes) != 0) {
        g->mismatches++;
        return TRI_ERR_CRC; /* the run stops at the first row that differs */
    }
    return TRI_OK;
}

tri_status_t tri_package_selftest(const tri_package_t *pkg, void *scratch, size_t scratch_bytes,
                                  uint8_t *reason)
{
    uint32_t v;
    *reason = 0u;
    if (pkg == NULL || pkg->data == NULL) {
        return TRI_ERR_ARG;
    }
    for (v = 0; v < pkg->vector_count; v++) {
        tnn_stream_ctx_t ctx;
        golden_t g;
        tri_status_t st = tnn_stream_begin(&ctx, &pkg->plan, pkg->vector_rows, pkg->vector_cols,
                                           scratch, scratch_bytes);
        if (st != TRI_OK) {
            REFUSE(WF_REFUSAL_PLAN, st);
        }
        g.row_bytes = (size_t)pkg->vector_cols * ctx.in_c;
        g.input = (const int8_t *)(pkg->vectors + (size_t)v * pkg->vector_stride);
        g.expect = g.input + (size_t)pkg->vector_rows * g.row_bytes;
        g.mismatches = 0u;
        st = tnn_stream_run(&ctx, golden_source, golden_sink, &g);
        if (st != TRI_OK || g.mismatches != 0u) {
            REFUSE(WF_REFUSAL_GOLDEN, TRI_ERR_CRC);
        }
    }
    return TRI_OK;
}
