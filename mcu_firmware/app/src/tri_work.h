/*
 * tri_work.h - the work area's layout (private to the application): one
 * block of external memory of TRI_ONBOARD_WORK_BYTES (tri_onboard.h) that
 * the caller gives tri_onboard_init, shared by the stages of a frame and by
 * the downlink:
 *
 *   parent, label  u16 per tile    region labelling scratch (tri_regions.c)
 *   regions        TRI_MAX_REGIONS  ship, then land regions of the frame
 *   classes, conf, u8 per tile     the tile grid of the last frame: top class,
 *   actions,                        its output - zero point, TRI_ACTION_*,
 *   ship_conf                       ship output - zero point
 *   zrows          2 rows of i32    the neighbour predictor (tri_predictor.c)
 *   link           WF_CADU_BYTES    the frame in progress (tri_link.c)
 *   packet         the last         one packet of scratch (tri_downlink.c)
 *                  WF_MAX_PACKET_BYTES
 */
#ifndef TRI_WORK_H
#define TRI_WORK_H

#include <stdint.h>

#include "tri_onboard.h"
#include "tri_regions.h"

typedef struct {
    uint8_t *classes;   /* top class, WF_CLASS_NONE for no-data */
    uint8_t *conf;      /* top class output - TRI_CFG_OUTPUT_ZERO_POINT */
    uint8_t *actions;   /* TRI_ACTION_* */
    uint8_t *ship_conf; /* ship output - TRI_CFG_OUTPUT_ZERO_POINT */
    uint16_t *parent;
    uint16_t *label;
    tri_region_t *regions;
    int32_t *zrows; /* neighbour predictor: 2 rows of z (TRI_NEIGHBOUR_MAX_COLS each) */
} tri_work_t;

#define TRI_WORK_U8_ARRAYS 4u
#define TRI_WORK_U16_ARRAYS 2u
#define TRI_WORK_ZROWS_OFFSET                                                                      \
    (TRI_GRID_MAX_TILES * (TRI_WORK_U8_ARRAYS + 2u * TRI_WORK_U16_ARRAYS) +                        \
     TRI_MAX_REGIONS * sizeof(tri_region_t))

/* The layout fits TRI_ONBOARD_WORK_BYTES, and the rows are 4-byte aligned. */
typedef char tri_work_layout_fits[(TRI_WORK_ZROWS_OFFSET +
                                           TRI_NEIGHBOUR_MAX_COLS * 2u * sizeof(int32_t) +
                                           WF_CADU_BYTES + WF_MAX_PACKET_BYTES <=
                                       TRI_ONBOARD_WORK_BYTES &&
                                   TRI_WORK_ZROWS_OFFSET % 4u == 0u)
                                      ? 1
                                      : -1];

/* The arrays of an instance's work area. */
static inline tri_work_t tri_work_view(const tri_onboard_t *ob)
{
    tri_work_t w;
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

/* The packet scratch buffer at the very end of the work area. */
static inline uint8_t *tri_work_packet(const tri_onboard_t *ob)
{
    return ob->work + TRI_ONBOARD_WORK_BYTES - WF_MAX_PACKET_BYTES;
}

/* The link's frame buffer, just before the packet buffer. */
static inline uint8_t *tri_work_link(const tri_onboard_t *ob)
{
    return ob->work + TRI_ONBOARD_WORK_BYTES - WF_MAX_PACKET_BYTES - WF_CADU_BYTES;
}

#endif /* TRI_WORK_H */
