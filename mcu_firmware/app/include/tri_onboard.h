/*
 * tri_onboard.h - the on-board triage application: one instance, whose
 * product store persists across frames.
 *
 *   tri_onboard_init            once: store memory, work memory, classifier
 *   tri_onboard_process_frame   per frame: rows -> classify -> decide per cell ->
 *                               ship crops, land, quicklook, class map, summary
 *                               -> compressed products in the store
 *   tri_onboard_directory       a STORE_DIRECTORY product, as packets
 *   tri_onboard_downlink        packets within a byte budget, following a
 *                               DOWNLINK_REQUEST or the store's priority order
 *   tri_onboard_set_link        what the sink gets: bare packets (the default),
 *                               TM transfer frames, or CADUs (tri_link.h)
 *
 * Memory: the caller owns all of it. The state (tri_onboard_t) is small and
 * sits in internal RAM; the store and the work area (cell grid, region
 * labels) are blocks of external memory of tri_store / tri_onboard_work_bytes()
 * bytes; the frame stays in frame memory and is only read.
 *
 * Every entry point returns a tri_status_t, and every refusal is also
 * counted (tri_onboard_counters_t). Frame processing per stage:
 *
 *   FRAME_META  CRC, magic, version, sample bits     TRI_ERR_CRC / FORMAT / SIZE
 *   geometry    zero rows or columns, smaller than   TRI_ERR_SHAPE
 *               one cell, bands != the model's
 *               frame bytes != rows*cols*bands*bps,  TRI_ERR_SIZE
 *               over TRI_FRAME_MAX_BYTES,
 *               TRI_FRAME_MAX_COLS columns or
 *               TRI_GRID_MAX_CELLS cells
 *   frame id    products of the same frame id still  TRI_ERR_ARG
 *               in the store
 *   content     every cell (mostly) no-data          TRI_ERR_NODATA (no products)
 *   store       full: lower priority evicted, or the new product dropped:
 *               TRI_OK, counted in the report
 */
#ifndef TRI_ONBOARD_H
#define TRI_ONBOARD_H

#include <stddef.h>
#include <stdint.h>

#include "tri_contract.h"
#include "tri_app_config.h"
#include "tri_classifier.h"
#include "tri_decide.h"
#include "tri_link.h"
#include "tri_models.h"
#include "tri_profile.h"
#include "tri_records.h"
#include "tri_report.h"
#include "tri_sink.h"
#include "tri_status.h"
#include "tri_store.h"
#include "triage_config.h"

/* Product types 1..WF_PRODUCT_TYPE_COUNT each have their APID and sequence
 * counter (wire_format.h). */

typedef struct {
    tri_store_t store;
    tri_classifier_t classifier;
    uint16_t gain_q8[TRI_CFG_BANDS];
    tri_policy_t policy; /* the decision thresholds (tri_onboard_set_policy) */
    uint8_t land_policy; /* TRI_LAND_DROP or TRI_LAND_LOWRES */
    uint8_t *work;
    size_t work_bytes;
    uint16_t seq_count[WF_PRODUCT_TYPE_COUNT];
    uint16_t directory_count;
    uint16_t boot_count; /* the platform's: directories carry it (tri_onboard_set_boot_count) */
    uint32_t last_time_s;
    uint16_t last_time_sub;
    uint32_t grid_rows; /* grid of the last processed frame */
    uint32_t grid_cols;
    tri_onboard_counters_t counters;
    tri_profile_t profile; /* per-stage clock totals (tri_onboard_set_clock) */
    tri_link_t link;       /* frames and CADUs (tri_onboard_set_link); its buffer in work */
} tri_onboard_t;

/* Bytes of work memory an instance needs: the cell grid (4 bytes per cell),
 * region labelling scratch and pixel counts (8 bytes per cell), the regions, a block-mean
 * product's means (TRI_MEANS_MAX), two rows of the neighbour predictor's differences for
 * block-mean products, the link's frame buffer (one CADU) and one packet of scratch; a
 * compile-time constant so that images can size it statically. */
#define TRI_ONBOARD_WORK_BYTES                                                                     \
    (((TRI_GRID_MAX_CELLS * 12u + TRI_MAX_REGIONS * 16u + TRI_MEANS_MAX * 2u +                    \
       TRI_NEIGHBOUR_MAX_COLS * 8u + WF_CADU_BYTES + WF_MAX_PACKET_BYTES) +                        \
      7u) &                                                                                        \
     ~7u)
size_t tri_onboard_work_bytes(void);

/*
 * Sets up an instance. store_mem / work_mem: 8-byte aligned blocks
 * (tri_store_init's rules; work_bytes >= tri_onboard_work_bytes()).
 * classifier may be NULL: frames are then refused with TRI_ERR_NO_IMPL.
 * gain_q8: per-band Q8 gains, or NULL for the model's TRI_CFG_GAIN_Q8_INIT.
 */
tri_status_t tri_onboard_init(tri_onboard_t *ob, void *store_mem, size_t store_bytes,
                              void *work_mem, size_t work_bytes,
                              const tri_classifier_t *classifier, const uint16_t *gain_q8);

/* Sets the land policy (TRI_LAND_*, tri_contract.h: what becomes of a tile
 * whose top class is land and that is neither cropped nor discarded) for the
 * frames to come; TRI_ERR_ARG for another value. tri_onboard_init sets the
 * shipped policy's TRI_CFG_LAND_POLICY. */
tri_status_t tri_onboard_set_land_policy(tri_onboard_t *ob, uint32_t policy);

/*
 * Sets the decision thresholds (tri_decide.h) for the frames to come: every
 * discard_min_q[k], ship_crop_min_q and cloud_call_min_q in [-128, TRI_CFG_NEVER_Q]
 * (TRI_ERR_ARG otherwise, nothing changed). tri_onboard_init sets the
 * build's policy (TRI_POLICY_SHIPPED, triage_config.h); the crop margin
 * stays the build's.
 */
tri_status_t tri_onboard_set_policy(tri_onboard_t *ob, const tri_policy_t *policy);

/*
 * A clock for the per-stage profile (ob->profile; NULL: off, the default):
 * from then on every call charges its clock ticks to the stages of
 * tri_profile.h. The totals only grow; the caller reads and clears
 * ob->profile.total.
 */
tri_status_t tri_onboard_set_clock(tri_onboard_t *ob, tri_clock_fn clock);

/*
 * The platform's boot count (the OBC keeps one in non-volatile memory), 0 at
 * init; TRI_ERR_ARG above 65535. A STORE_DIRECTORY's frame_id is
 * WF_DIRECTORY_FRAME_ID + boot and its product_id counts the directories sent
 * since init, so that after a reset the ground does not take the new
 * directories for conflicting copies of the old ones (same key, other bytes).
 * Frames with a frame_id of WF_DIRECTORY_FRAME_ID or more are refused.
 */
tri_status_t tri_onboard_set_boot_count(tri_onboard_t *ob, uint32_t boot);

/*
 * Processes one frame: meta is a FRAME_META record of meta_len bytes, frame
 * the frame memory of frame_bytes bytes. Fills *report (status included)
 * whatever the outcome.
 */
tri_status_t tri_onboard_process_frame(tri_onboard_t *ob, const uint8_t *meta, size_t meta_len,
                                       const uint8_t *frame, size_t frame_bytes,
                                       tri_frame_report_t *report);

/*
 * Per-cell results of the last processed frame, on its grid_rows x
 * grid_cols cell grid in raster order: top class (255 for no-data cells),
 * confidence (its int8 output - TRI_CFG_OUTPUT_ZERO_POINT; 0 for no-data),
 * action (TRI_ACTION_*). Each pointer may be NULL; returns the number of
 * cells.
 */
uint32_t tri_onboard_grid(const tri_onboard_t *ob, const uint8_t **classes,
                          const uint8_t **confidences, const uint8_t **actions);

/*
 * What the downlink hands its sink from now on (mode WF_LINK_*): bare packets
 * (WF_LINK_PACKETS, the default after init), TM transfer frames
 * (WF_LINK_FRAMES) or CADUs (WF_LINK_CADU), with spacecraft id scid
 * (0..WF_MAX_SPACECRAFT_ID; WF_DEFAULT_SPACECRAFT_ID after init). In the
 * frame modes directories go on virtual channel WF_VC_DIRECTORY and passes on
 * WF_VC_PRODUCTS; each operation ends with its last frame filled with idle
 * packets; the frame counts start at 0 here and run on across operations;
 * budget_bytes and *len count link bytes (whole frames or CADUs). TRI_ERR_ARG
 * for another mode or id.
 */
tri_status_t tri_onboard_set_link(tri_onboard_t *ob, uint32_t mode, uint32_t scid);

/*
 * Sends the packets of a STORE_DIRECTORY product (every stored product,
 * highest priority first) to the sink; *len gets their total length.
 */
tri_status_t tri_onboard_directory(tri_onboard_t *ob, const tri_sink_t *sink, size_t *len);

/*
 * Sends packets, whole ones, within budget_bytes (in the frame modes: within
 * the whole frames or CADUs of budget_bytes, see WIRE_FORMAT.md): with a request (a
 * DOWNLINK_REQUEST telecommand of request_len bytes), its entries in order -
 * action 1 sends segments first..last of a product, action 2 releases it
 * (releases are applied even after the budget is spent); without one
 * (request NULL), every product's not-yet-sent segments in priority order.
 * Stops sending at the first packet that does not fit. A request that fails
 * its checks is refused whole (status, counter, nothing sent). Unknown
 * products and invalid entries are counted and skipped.
 */
tri_status_t tri_onboard_downlink(tri_onboard_t *ob, uint32_t budget_bytes, const uint8_t *request,
                                  size_t request_len, const tri_sink_t *sink, size_t *len);

/*
 * Replaces the classifier between frames (the model manager switched models,
 * or the host bound another model): frames from now on are classified by it,
 * and FRAME_SUMMARY and STORE_DIRECTORY name it (its model_id and
 * model_sha256). TRI_ERR_ARG for NULL or a classifier without run, nothing
 * changed; the store and the counters stay. The caller keeps the
 * classifier's context (a bound model) alive.
 */
tri_status_t tri_onboard_set_classifier(tri_onboard_t *ob, const tri_classifier_t *classifier);

/*
 * Switches to a model with its decision policy: the classifier as
 * tri_onboard_set_classifier, and the thresholds and land policy of `pkg`
 * (tri_package_policy: the package's MODEL_SPEC, checked when the package
 * was), or of the build (triage_config.h, generated from the shipped
 * policy.json) when pkg is NULL (the compiled-in model). TRI_ERR_ARG for
 * NULL or a classifier without run, nothing changed. Overrides set later
 * (tri_onboard_set_policy, tri_onboard_set_land_policy) apply until the
 * next switch.
 */
tri_status_t tri_onboard_set_model(tri_onboard_t *ob, const tri_classifier_t *classifier,
                                   const tri_package_t *pkg);

/*
 * Sends a MODEL_STATUS product (tri_models_status: slots, the active model,
 * its trial, refusals by reason) as one packet; its frame_id and product_id
 * are a directory's (the same counter), so that each is unique after a
 * reset too; in the frame link modes it goes on the directory's virtual
 * channel. (tri_downlink.c)
 */
tri_status_t tri_onboard_model_status(tri_onboard_t *ob, const tri_models_t *models,
                                      const tri_sink_t *sink, size_t *len);

/*
 * The result of the last tri_onboard_process_frame as one record, to the
 * sink: the report (tri_frame_report_pack, tri_report.h), then the grid's
 * classes, confidences and actions (tri_onboard_grid), grid_rows *
 * grid_cols bytes each. The host bindings and the Cortex-M4 image emit the
 * same bytes. (tri_report.c)
 */
tri_status_t tri_onboard_frame_record(const tri_onboard_t *ob, const tri_frame_report_t *report,
                                      const tri_sink_t *sink);

#endif /* TRI_ONBOARD_H */
