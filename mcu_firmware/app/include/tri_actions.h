/*
 * tri_actions.h - the application's enumerations, the one C definition of
 * each: what becomes of a tile (TRI_ACTION_*, the codes of the per-tile
 * action grid, tri_onboard_grid) and the land policy (TRI_LAND_*,
 * tri_onboard_set_land_policy). Self-contained on purpose: nothing but these
 * enumerations, so that the file can be rendered from the Python contract.
 */
#ifndef TRI_ACTIONS_H
#define TRI_ACTIONS_H

/* Tile decisions (the action grid's codes). */
enum {
    TRI_ACTION_NODATA = 0,   /* mostly no-data: not classified */
    TRI_ACTION_DISCARD = 1,  /* the top class reached its discard threshold */
    TRI_ACTION_CROP = 2,     /* ship output reached the crop threshold: full resolution */
    TRI_ACTION_LOWRES = 3,   /* kept as a low-resolution product */
    TRI_ACTION_LAND_DROP = 4 /* top class land under the drop policy (counted as discarded) */
};

/* What becomes of a tile whose top class is land and that is neither cropped
 * nor discarded: dropped, or kept as a low-resolution product. */
enum { TRI_LAND_DROP = 0, TRI_LAND_LOWRES = 1 };

#endif /* TRI_ACTIONS_H */
