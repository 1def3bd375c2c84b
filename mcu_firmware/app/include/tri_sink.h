/*
 * tri_sink.h - where the application's output goes: a caller's function
 * taking whole records (packets, transfer frames or CADUs) in order.
 */
#ifndef TRI_SINK_H
#define TRI_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "tri_status.h"

/* write() takes whole packets (or other records), in order; a non-TRI_OK
 * return stops the operation with that status. */
typedef struct {
    void *ctx;
    tri_status_t (*write)(void *ctx, const uint8_t *data, size_t len);
} tri_sink_t;

#endif /* TRI_SINK_H */
