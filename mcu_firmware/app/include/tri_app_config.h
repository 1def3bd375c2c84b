/*
 * tri_app_config.h - the on-board application's own constants.
 *
 * What the classifier sees (bands, tile, stride and thumbnail sizes, gains,
 * decision policy) is not here: it comes from the model's generated
 * triage_config.h (models/shipped, from models/tile_spec.json and
 * policy.json). These are the application's choices around it; the Python
 * view reads them from the host library (tri_host_config), never retypes
 * them.
 */
#ifndef TRI_APP_CONFIG_H
#define TRI_APP_CONFIG_H

/* CCSDS 121.0-B parameters of every compressed product: J samples per block
 * and the reference sample interval in blocks (a reference every 1024
 * samples limits how far a lost bit can propagate). */
#define TRI_AEC_BLOCK_SIZE 16u
#define TRI_AEC_RSI 64u

/* Frame pixels added around the tiles of a ship region on every side
 * (clamped to the frame) before it is cropped at full resolution. */
#define TRI_CONTEXT_MARGIN_PX 16u

/* Area-averaging factor of the per-frame quicklook (160 m pixels for
 * Sentinel-2's 10 m) and of land products kept at low resolution. */
#define TRI_QUICKLOOK_FACTOR 16u
#define TRI_LOWRES_FACTOR 4u

/* A tile whose pixels are no-data (every band equal to the frame's nodata
 * value) for more than this share (numerator / 2) is skipped; same rule for
 * counting saturated tiles (every band at the largest sample value). */
#define TRI_TILE_SKIP_SHARE_NUM 1u
#define TRI_TILE_SKIP_SHARE_DEN 2u

/* Largest frame: bytes of frame memory (8 MiB, e.g. 1024 x 1024 px x 4
 * bands x 16 bit), and tiles on its grid. */
#define TRI_FRAME_MAX_BYTES (8u * 1024u * 1024u)
#define TRI_GRID_MAX_TILES 16384u

/* Ship regions and land regions per frame; tiles of further regions are
 * counted (regions_dropped) but not cropped. */
#define TRI_MAX_REGIONS 256u

#endif /* TRI_APP_CONFIG_H */
