/*
 * Product store: priority order, eviction of the lowest priority only,
 * refusal without side effects, compaction that never corrupts a product,
 * release, sent bitmaps. Contents are checked against a pattern derived from
 * each product's ids, after every operation of a seeded random sequence.
 */
#include <string.h>

#include "tri_store.h"
#include "tt.h"
#include "wire_format.h"

#define DATA_BYTES 20000u
static uint64_t mem[(2048u * 32u + 2048u * 2u + DATA_BYTES) / 8u + 1u];

static uint8_t pattern(uint32_t frame_id, uint32_t product_id, uint32_t i)
{
    return (uint8_t)(frame_id * 31u + product_id * 7u + i * 13u + (i >> 8));
}

/* Writes a product of `bytes` bytes with priority (rank, conf): makes room if
 * needed, like the application does. Returns the status of the add. */
static tri_status_t add(tri_store_t *st, uint32_t frame_id, uint16_t product_id, uint8_t rank,
                        uint8_t conf, uint32_t bytes)
{
    tri_store_meta_t m;
    uint8_t *w;
    uint32_t cap;
    uint32_t i;
    tri_status_t s;
    m.frame_id = frame_id;
    m.product_id = product_id;
    m.product_type = (uint8_t)(rank == TRI_RANK_SHIP ? 1 : rank == TRI_RANK_LAND ? 4 : 2);
    m.class_id = 2;
    m.confidence = conf;
    m.rank = rank;
    tri_store_window(st, &w, &cap);
    if (tri_store_alloc_bytes(bytes) > cap || st->nslots >= TRI_STORE_MAX_PRODUCTS) {
        s = tri_store_make_room(st, tri_store_alloc_bytes(bytes), rank, conf, NULL);
        if (s != TRI_OK) {
            st->dropped++;
            return s;
        }
        tri_store_window(st, &w, &cap);
    }
    for (i = 0; i < bytes; i++) {
        w[i] = pattern(frame_id, product_id, i);
    }
    return tri_store_commit(st, &m, bytes, NULL);
}

static int contents_ok(const tri_store_t *st)
{
    uint32_t i;
    uint32_t j;
    for (i = 0; i < st->nslots; i++) {
        const tri_store_slot_t *s = &st->slots[i];
        const uint8_t *b = tri_store_bytes(st, i);
        if (s->live == 0u) {
            continue;
        }
        for (j = 0; j < s->bytes; j++) {
            if (b[j] != pattern(s->frame_id, s->product_id, j)) {
                return 0;
            }
        }
    }
    return 1;
}

TT_TEST(store_init_checks)
{
    tri_store_t st;
    TT_CHECK_EQ(tri_store_init(&st, (uint8_t *)mem + 1, sizeof mem - 8), TRI_ERR_ALIGN);
    TT_CHECK_EQ(tri_store_init(&st, mem, tri_store_overhead_bytes() + 100u), TRI_ERR_SIZE);
    TT_CHECK_EQ(tri_store_init(&st, mem, sizeof mem), TRI_OK);
    TT_CHECK(st.data_bytes >= DATA_BYTES);
    TT_CHECK_EQ(tri_store_check(&st), TRI_OK);
}

TT_TEST(store_priority_order)
{
    tri_store_t st;
    uint32_t n;
    TT_CHECK_EQ(tri_store_init(&st, mem, sizeof mem), TRI_OK);
    TT_CHECK_EQ(add(&st, 1, 0, TRI_RANK_LAND, 200, 100), TRI_OK);  /* slot 0 */
    TT_CHECK_EQ(add(&st, 1, 1, TRI_RANK_FRAME, 0, 100), TRI_OK);   /* slot 1 */
    TT_CHECK_EQ(add(&st, 1, 2, TRI_RANK_SHIP, 100, 100), TRI_OK);  /* slot 2 */
    TT_CHECK_EQ(add(&st, 1, 3, TRI_RANK_SHIP, 250, 100), TRI_OK);  /* slot 3 */
    TT_CHECK_EQ(add(&st, 2, 0, TRI_RANK_SHIP, 100, 100), TRI_OK);  /* slot 4: ties slot 2, newer */
    TT_CHECK_EQ(add(&st, 2, 1, TRI_RANK_FRAME, 0, 100), TRI_OK);   /* slot 5 */
    n = tri_store_order(&st);
    TT_CHECK_EQ(n, 6);
    TT_CHECK_EQ(st.order[0], 3);
    TT_CHECK_EQ(st.order[1], 2);
    TT_CHECK_EQ(st.order[2], 4);
    TT_CHECK_EQ(st.order[3], 1);
    TT_CHECK_EQ(st.order[4], 5);
    TT_CHECK_EQ(st.order[5], 0);
}

TT_TEST(store_evicts_lowest_priority_only)
{
    tri_store_t st;
    uint32_t big = 6000u;
    TT_CHECK_EQ(tri_store_init(&st, mem, sizeof mem), TRI_OK);
    TT_CHECK_EQ(add(&st, 1, 0, TRI_RANK_SHIP, 200, big), TRI_OK);
    TT_CHECK_EQ(add(&st, 1, 1, TRI_RANK_FRAME, 0, big), TRI_OK);
    TT_CHECK_EQ(add(&st, 1, 2, TRI_RANK_LAND, 0, big), TRI_OK);
    /* Full for a fourth: a land product of equal priority is refused, and
     * nothing is evicted. */
    TT_CHECK_EQ(add(&st, 1, 3, TRI_RANK_LAND, 0, big), TRI_ERR_FULL);
    TT_CHECK_EQ(st.evicted, 0);
    TT_CHECK_EQ(st.dropped, 1);
    TT_CHECK(tri_store_find(&st, 1, 2) != TRI_STORE_NO_SLOT);
    /* A ship evicts the land product (lowest), not the quicklook. */
    TT_CHECK_EQ(add(&st, 1, 4, TRI_RANK_SHIP, 10, big), TRI_OK);
    TT_CHECK_EQ(st.evicted, 1);
    TT_CHECK(tri_store_find(&st, 1, 2) == TRI_STORE_NO_SLOT);
    TT_CHECK(tri_store_find(&st, 1, 1) != TRI_STORE_NO_SLOT);
    /* A ship bigger than the store is refused without evicting anything. */
    TT_CHECK_EQ(add(&st, 1, 5, TRI_RANK_SHIP, 255, st.data_bytes + 1u), TRI_ERR_FULL);
    TT_CHECK_EQ(st.evicted, 1);
    /* A confident ship needing two products' room evicts the frame product
     * then the weaker ship, never the stronger one. */
    TT_CHECK_EQ(add(&st, 1, 6, TRI_RANK_SHIP, 255, 2u * big), TRI_OK);
    TT_CHECK_EQ(st.evicted, 3);
    TT_CHECK(tri_store_find(&st, 1, 0) != TRI_STORE_NO_SLOT);
    TT_CHECK(tri_store_find(&st, 1, 1) == TRI_STORE_NO_SLOT);
    TT_CHECK(tri_store_find(&st, 1, 4) == TRI_STORE_NO_SLOT);
    TT_CHECK_EQ(tri_store_check(&st), TRI_OK);
    TT_CHECK(contents_ok(&st));
}

TT_TEST(store_release_and_sent_bitmap)
{
    tri_store_t st;
    uint32_t slot;
    TT_CHECK_EQ(tri_store_init(&st, mem, sizeof mem), TRI_OK);
    TT_CHECK_EQ(add(&st, 9, 0, TRI_RANK_SHIP, 1, 3000), TRI_OK);
    TT_CHECK_EQ(add(&st, 9, 1, TRI_RANK_SHIP, 1, 1000), TRI_OK);
    slot = tri_store_find(&st, 9, 0);
    TT_CHECK_EQ(st.slots[slot].segments, 3);
    TT_CHECK(!tri_store_segment_sent(&st, slot, 2));
    tri_store_mark_sent(&st, slot, 2);
    tri_store_mark_sent(&st, slot, 2);
    TT_CHECK(tri_store_segment_sent(&st, slot, 2));
    TT_CHECK_EQ(st.slots[slot].sent_segments, 1);
    tri_store_release(&st, slot);
    TT_CHECK_EQ(st.released, 1);
    TT_CHECK(tri_store_find(&st, 9, 0) == TRI_STORE_NO_SLOT);
    tri_store_compact(&st);
    TT_CHECK_EQ(st.nslots, 1);
    TT_CHECK_EQ(st.slots[0].offset, 0);
    TT_CHECK_EQ(tri_store_check(&st), TRI_OK);
    TT_CHECK(contents_ok(&st));
}

TT_TEST(store_random_sequence_never_corrupts)
{
    /* Seeded LCG: adds of random size and priority, releases, compactions. */
    tri_store_t st;
    uint32_t x = 20240125u;
    uint32_t op;
    uint32_t frame = 0;
    TT_CHECK_EQ(tri_store_init(&st, mem, sizeof mem), TRI_OK);
    for (op = 0; op < 4000u; op++) {
        uint32_t r;
        x = x * 1664525u + 1013904223u;
        r = x >> 8;
        if (r % 10u < 7u) {
            uint32_t before = st.live_count + st.evicted;
            tri_status_t s = add(&st, frame, (uint16_t)(op & 0xFFFFu), (uint8_t)(r % 3u),
                                 (uint8_t)(r >> 4), 1u + (r >> 12) % 5000u);
            TT_CHECK(s == TRI_OK || s == TRI_ERR_FULL);
            if (s == TRI_OK) {
                TT_CHECK_EQ(st.live_count + st.evicted, before + 1u);
            }
        } else if (r % 10u < 9u && st.live_count > 0u) {
            uint32_t n = tri_store_order(&st);
            tri_store_release(&st, st.order[(r >> 4) % n]);
        } else {
            tri_store_compact(&st);
            frame++;
        }
        TT_CHECK_EQ(tri_store_check(&st), TRI_OK);
        TT_CHECK(contents_ok(&st));
    }
    TT_CHECK(st.evicted > 0u);
    TT_CHECK(st.dropped > 0u);
}
