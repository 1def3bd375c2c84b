/*
 * tri_package.h - a model package on board (triage/WIRE_FORMAT.md, "Model
 * package"): its structure, its compatibility with this image, its golden
 * vectors. Nothing is trusted before tri_package_parse checked it, and the
 * engine checks the plan again at every bind (tnn_stream_begin).
 *
 * Each check returns a tri_status_t and, when it refuses, the reason
 * (WF_REFUSAL_*, the MODEL_STATUS counter it goes to):
 *
 *   tri_package_parse     magic, version, sizes, sections     FORMAT
 *                         (8-aligned, in order, inside), model
 *                         id, spec size
 *                         CRC-32                              CRC
 *   tri_package_check     engine ABI (header and plan)        ABI
 *                         kernels the image lacks             KERNEL
 *                         plan header malformed               PLAN
 *                         the image's preprocessing (per-     SPEC
 *                         band gains, input quantisation),
 *                         bands, classes, output
 *                         quantisation, total stride (the
 *                         cell); policy: thresholds in
 *                         [-128, 128], land policy, the
 *                         image's crop margin
 *                         scratch at frame_cols > capacity    ARENA
 *                         plan refused at bind at the golden  PLAN
 *                         size, golden vectors' size
 *   tri_package_selftest  a golden vector's outputs differ    GOLDEN
 *
 * The package must sit TNN_PLAN_ALIGN-aligned (its plan is read in place).
 */
#ifndef TRI_PACKAGE_H
#define TRI_PACKAGE_H

#include <stddef.h>
#include <stdint.h>

#include "tnn_stream.h"
#include "tri_decide.h"
#include "tri_status.h"
#include "wire_format.h"

typedef struct {
    const uint8_t *data;
    uint32_t bytes;
    uint32_t model_id;
    uint32_t engine_abi;
    const uint8_t *model_sha256; /* WF_MODEL_HASH_BYTES, in the package */
    tnn_stream_model_t plan;     /* the plan, in place */
    const uint8_t *spec;         /* the MODEL_SPEC record */
    const uint8_t *vectors;
    uint32_t vector_count, vector_rows, vector_cols;
    uint32_t vector_stride;      /* bytes of one vector: input then output */
} tri_package_t;

tri_status_t tri_package_parse(const uint8_t *data, uint32_t bytes, tri_package_t *pkg,
                               uint8_t *reason);

/* frame_cols: the widest frame the image streams; scratch_capacity: the
 * scratch it has for the model; *need gets the scratch the plan asks at
 * frame_cols (0 when unknown). scratch/scratch_bytes: memory for the bind at
 * the golden size. */
tri_status_t tri_package_check(const tri_package_t *pkg, uint32_t frame_cols,
                               size_t scratch_capacity, void *scratch, size_t scratch_bytes,
                               size_t *need, uint8_t *reason);

/* The decision policy the package carries (its MODEL_SPEC, made from the policy JSON the
 * model was tuned with): the thresholds and the land policy (TRI_LAND_*) the frames it
 * classifies are decided with. For a package tri_package_check accepted (the policy
 * fields are checked there). */
void tri_package_policy(const tri_package_t *pkg, tri_policy_t *policy, uint32_t *land_policy);

/* Runs every golden vector from where the package sits and compares each
 * output row byte for byte. */
tri_status_t tri_package_selftest(const tri_package_t *pkg, void *scratch, size_t scratch_bytes,
                                  uint8_t *reason);

#endif /* TRI_PACKAGE_H */
