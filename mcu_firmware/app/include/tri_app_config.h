/*
 * tri_app_config.h - the on-board application's own constants.
 *
 * What the classifier sees (bands, cell size, gains, decision policy) is not
 * here: it comes from the model's generated
 * triage_config.h (models/shipped, from models/tile_spec.json and
 * policy.json). These are the application's choices around it; the Python
 * view reads them from the host library (tri_host_config), never retypes
 * them.
 */
#ifndef TRI_APP_CONFIG_H
#define TRI_APP_CONFIG_H

/* What the ground must know to read the products (CCSDS 121.0-B block size J
 * and reference sample interval, the quicklook and low-resolution factors,
 * the widest neighbour-coded product) and the tile-action and land-policy
 * codes are part of the contract: the generated tri_contract.h. */
#include "tri_contract.h"

/* Predictor of ship crops: WF_AEC_FLAG_NEIGHBOUR (median edge detector on
 * the kept W, N, NW neighbours of the difference to the previous band; on
 * the nine ports' crops 16 % fewer bytes than the unit-delay predictor) or
 * WF_AEC_FLAG_PREPROCESS (the standard's unit delay). Other products use the
 * unit delay: their samples are block means or class codes. */
#define TRI_CROP_AEC_FLAGS WF_AEC_FLAG_NEIGHBOUR

/* Predictor of products made of block means (quicklook, low-resolution
 * land), same choice; a product wider than TRI_NEIGHBOUR_MAX_COLS (the two
 * rows of differences it keeps in the work area) uses the unit delay. The
 * class map always does: its samples are class codes. */
#define TRI_MEANS_AEC_FLAGS WF_AEC_FLAG_NEIGHBOUR

/* Ship crops: a cell the policy crops contributes its pixels widened by the
 * policy's margin on every side (models/shipped/policy.json crop_margin_px,
 * at most one cell); the other pixels of a crop's box hold the frame's
 * no-data value. */
#define TRI_CONTEXT_MARGIN_PX TRI_CFG_CROP_MARGIN_PX

/* Largest ship crop, rows and columns: a bigger region is cut into pieces
 * of at most this size (each shrunk to its kept pixels), so that a product
 * fits a pass and the store and the link rank pieces by their own best
 * tile. */
#define TRI_CROP_MAX_PX 128u

/* A cell whose pixels are no-data (every band equal to the frame's nodata
 * value) for more than this share (numerator / denominator) is not decided
 * (TRI_ACTION_NODATA); same rule for counting saturated cells (every band at
 * the largest sample value). */
#define TRI_CELL_SKIP_SHARE_NUM 1u
#define TRI_CELL_SKIP_SHARE_DEN 2u

/* Largest frame: bytes of frame memory (8 MiB, e.g. 1024 x 1024 px x 4
 * bands x 16 bit), columns (the classifier's rings are sized for this
 * width), and cells on its grid. */
#define TRI_FRAME_MAX_BYTES (8u * 1024u * 1024u)
#define TRI_FRAME_MAX_COLS 1024u
#define TRI_GRID_MAX_CELLS 16384u

/* Block means of a quicklook or low-resolution product, all bands, computed
 * in one pass over its pixels and kept in the work area while the product is
 * coded (128 KB: a low-resolution product as large as a 1024 x 1024 frame,
 * 128 x 128 x 4); a product with more means (8-bit frames of more than a
 * megapixel) computes each when its band is coded. A ship crop's previous
 * band's values use the same memory. */
#define TRI_MEANS_MAX 65536u

/* Ship regions and land regions per frame; tiles of further regions are
 * counted (regions_dropped) but not cropped. */
#define TRI_MAX_REGIONS 256u

/* The streaming model (tri_models.h): the widest frame the image streams,
 * and the scratch it has for the model at that width (rings, staging row,
 * per-layer states: tnn_stream_scratch_bytes). A package whose plan needs
 * more is refused (ARENA). The classifier streams with the same memory
 * (its rings), and the model manager's golden-vector runs use it between
 * frames. At 1024 px with the DSP kernels the shipped cell network needs
 * 246,784 bytes of rings and staging row (plus its layers' states), the
 * representative cell network 216,664 bytes. 272 KB: the flight image's
 * PSRAM (link.ld EXTMEM, 16 MB) also holds the frame memory, the store, the
 * work area (a 128 KB means buffer), the upload staging buffer and the QEMU
 * harness's script and request buffers. */
#define TRI_MODEL_FRAME_COLS TRI_FRAME_MAX_COLS
/* The cell a streaming model decides (its total stride along both axes). */
#define TRI_MODEL_CELL_PX TRI_CFG_CELL_PX
#define TRI_MODEL_SCRATCH_BYTES (272u * 1024u)

/* The staging buffer of an upload: the largest authenticated unit. */
#define TRI_MODEL_STAGING_BYTES WF_MAX_UNIT_BYTES

#endif /* TRI_APP_CONFIG_H */
