/*
 * tri_store.h - the on-board product store: a priority queue of finished
 * products (their bytes exactly as they will be downlinked) in one block of
 * external memory that the caller owns.
 *
 * Memory layout of the block given to tri_store_init (8-byte aligned):
 *
 *   +------------------------------+--------------------+---------------------+
 *   | slots[TRI_STORE_MAX_PRODUCTS]| order[MAX_PRODUCTS]| data area           |
 *   | 32 bytes each, offset order  | u16 scratch        | products, back to   |
 *   |                              |                    | back, then free tail|
 *   +------------------------------+--------------------+---------------------+
 *
 * Each product's allocation in the data area is its bytes followed by a
 * "sent" bitmap (one bit per segment), rounded up to 4 bytes. New products
 * are written straight into the free tail (tri_store_window) and then
 * committed; removal (release, eviction) only marks a slot dead, and the
 * data area is compacted (live products slid down, order kept) when room is
 * needed.
 *
 * Priority, highest first: ship crops by confidence (rank 0), then the
 * frame products - quicklook, class map, frame summary - (rank 1), then land
 * (rank 2); within equal rank and confidence, older first. Eviction takes
 * the lowest priority first, and only products of lower priority than the
 * one being added; if evicting all of them would not make room, nothing is
 * evicted and the new product is dropped (counted).
 */
#ifndef TRI_STORE_H
#define TRI_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "tri_status.h"

#define TRI_STORE_MAX_PRODUCTS 2048u
#define TRI_STORE_NO_SLOT 0xFFFFFFFFu

enum { TRI_RANK_SHIP = 0, TRI_RANK_FRAME = 1, TRI_RANK_LAND = 2 };

/* One product held (internal bookkeeping, not a wire record). */
typedef struct {
    uint32_t offset; /* in the data area */
    uint32_t bytes;  /* product bytes */
    uint32_t alloc;  /* bytes + sent bitmap, rounded up to 4 */
    uint32_t seq;    /* insertion number */
    uint32_t frame_id;
    uint16_t product_id;
    uint16_t segments;
    uint16_t sent_segments; /* distinct segments sent at least once */
    uint8_t product_type;
    uint8_t class_id;
    uint8_t confidence;
    uint8_t rank;
    uint8_t live;
    uint8_t reserved;
} tri_store_slot_t;

/* What the caller says about a product it adds. */
typedef struct {
    uint32_t frame_id;
    uint16_t product_id;
    uint8_t product_type;
    uint8_t class_id;
    uint8_t confidence;
    uint8_t rank; /* TRI_RANK_* */
} tri_store_meta_t;

typedef struct {
    tri_store_slot_t *slots;
    uint16_t *order;
    uint8_t *data;
    uint32_t data_bytes;
    uint32_t nslots;     /* slots in use, live or dead, sorted by offset */
    uint32_t tail;       /* end of the last slot's allocation */
    uint32_t live_count; /* live products */
    uint32_t live_bytes; /* sum of their allocations */
    uint32_t next_seq;
    uint32_t evicted;  /* products removed to make room for higher priority */
    uint32_t dropped;  /* products refused: no room even after eviction */
    uint32_t released; /* products released by the ground */
} tri_store_t;

/* Bytes of store memory taken by bookkeeping before the data area. */
size_t tri_store_overhead_bytes(void);

/*
 * Carves the store out of mem[0..bytes-1]. TRI_ERR_ALIGN when mem is not
 * 8-byte aligned, TRI_ERR_SIZE when bytes leave fewer than 4096 bytes of
 * data area or more than 2^31.
 */
tri_status_t tri_store_init(tri_store_t *st, void *mem, size_t bytes);

/* The free tail where the next product can be written: *window (NULL if
 * none) and its size. */
void tri_store_window(const tri_store_t *st, uint8_t **window, uint32_t *bytes);

/* Allocation a product of `bytes` bytes needs (product + bitmap, rounded). */
uint32_t tri_store_alloc_bytes(uint32_t bytes);

/*
 * Adds the product of `bytes` bytes just written at the start of the window.
 * TRI_ERR_ARG (bytes 0, more than 65535 segments), TRI_ERR_FULL when its
 * allocation exceeds the window or no slot is free (nothing changes; make
 * room first). On success *slot gets its slot index.
 */
tri_status_t tri_store_commit(tri_store_t *st, const tri_store_meta_t *meta, uint32_t bytes,
                              uint32_t *slot);

/*
 * Makes the free tail at least alloc_bytes long with a free slot, for a new
 * product of priority (rank, confidence): compacts, and evicts lower-priority
 * products (lowest first) if needed. TRI_ERR_FULL when even evicting every
 * lower-priority product would not do: then nothing is evicted. *evicted
 * (may be NULL) gets the number of products evicted.
 */
tri_status_t tri_store_make_room(tri_store_t *st, uint32_t alloc_bytes, uint8_t rank,
                                 uint8_t confidence, uint32_t *evicted);

/* Slides live products down over dead ones (keeps their order). */
void tri_store_compact(tri_store_t *st);

/* Live slot indices in priority order into st->order; returns the count. */
uint32_t tri_store_order(tri_store_t *st);

/* Slot of a live product, or TRI_STORE_NO_SLOT. */
uint32_t tri_store_find(const tri_store_t *st, uint32_t frame_id, uint16_t product_id);

/* Bytes of a live product. */
const uint8_t *tri_store_bytes(const tri_store_t *st, uint32_t slot);

/* Removes a product released by the ground. */
void tri_store_release(tri_store_t *st, uint32_t slot);

/* Removes a product whose bytes the store can no longer vouch for (they fail
 * their CRC-32); the caller counts it. */
void tri_store_discard(tri_store_t *st, uint32_t slot);

/* Sent bitmap of a product's segments. */
int tri_store_segment_sent(const tri_store_t *st, uint32_t slot, uint32_t segment);
void tri_store_mark_sent(tri_store_t *st, uint32_t slot, uint32_t segment);

/* Checks every invariant (slots in offset order, inside the data area, not
 * overlapping, counts consistent). TRI_OK or TRI_ERR_FORMAT. For tests. */
tri_status_t tri_store_check(const tri_store_t *st);

#endif /* TRI_STORE_H */
