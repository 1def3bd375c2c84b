#include "tri_store.h"

#include <string.h>

#include "tri_packet.h"

size_t tri_store_overhead_bytes(void)
{
    size_t slots = TRI_STORE_MAX_PRODUCTS * sizeof(tri_store_slot_t);
    size_t order = TRI_STORE_MAX_PRODUCTS * sizeof(uint16_t);
    return (slots + order + 7u) & ~(size_t)7u;
}

tri_status_t tri_store_init(tri_store_t *st, void *mem, size_t bytes)
{
    size_t over = tri_store_overhead_bytes();
    if (st == NULL || mem == NULL) {
        return TRI_ERR_ARG;
    }
    if (((uintptr_t)mem & 7u) != 0u) {
        return TRI_ERR_ALIGN;
    }
    if (bytes < over + 4096u || bytes - over > 0x80000000u) {
        return TRI_ERR_SIZE;
    }
    memset(st, 0, sizeof *st);
    st->slots = (tri_store_slot_t *)mem;
    st->order = (uint16_t *)(void *)((uint8_t *)mem + TRI_STORE_MAX_PRODUCTS * sizeof(tri_store_slot_t));
    st->data = (uint8_t *)mem + over;
    st->data_bytes = (uint32_t)(bytes - over);
    return TRI_OK;
}

void tri_store_window(const tri_store_t *st, uint8_t **window, uint32_t *bytes)
{
    if (st->tail < st->data_bytes) {
        *window = st->data + st->tail;
        *bytes = st->data_bytes - st->tail;
    } else {
        *window = NULL;
        *bytes = 0u;
    }
}

uint32_t tri_store_alloc_bytes(uint32_t bytes)
{
    uint32_t segments = tri_segment_count(bytes);
    uint32_t total = bytes + (segments + 7u) / 8u;
    return (total + 3u) & ~3u;
}

/* Lower key = higher priority. */
static uint64_t key_of(uint32_t rank, uint32_t confidence, uint32_t seq)
{
    return ((uint64_t)rank << 40) | ((uint64_t)(255u - confidence) << 32) | (uint64_t)seq;
}

static uint64_t slot_key(const tri_store_slot_t *s)
{
    return key_of(s->rank, s->confidence, s->seq);
}

tri_status_t tri_store_commit(tri_store_t *st, const tri_store_meta_t *meta, uint32_t bytes,
                              uint32_t *slot)
{
    uint32_t segments = tri_segment_count(bytes);
    uint32_t alloc;
    tri_store_slot_t *s;
    if (st == NULL || meta == NULL || segments == 0u || meta->rank > TRI_RANK_LAND) {
        return TRI_ERR_ARG;
    }
    alloc = tri_store_alloc_bytes(bytes);
    if (st->nslots >= TRI_STORE_MAX_PRODUCTS || st->tail > st->data_bytes ||
        alloc > st->data_bytes - st->tail) {
        return TRI_ERR_FULL;
    }
    s = &st->slots[st->nslots];
    memset(s, 0, sizeof *s);
    s->offset = st->tail;
    s->bytes = bytes;
    s->alloc = alloc;
    s->seq = st->next_seq++;
    s->frame_id = meta->frame_id;
    s->product_id = meta->product_id;
    s->segments = (uint16_t)segments;
    s->product_type = meta->product_type;
    s->class_id = meta->class_id;
    s->confidence = meta->confidence;
    s->rank = meta->rank;
    s->live = 1u;
    memset(st->data + st->tail + bytes, 0, alloc - bytes); /* sent bitmap */
    st->tail += alloc;
    st->live_count++;
    st->live_bytes += alloc;
    if (slot != NULL) {
        *slot = st->nslots;
    }
    st->nslots++;
    return TRI_OK;
}

void tri_store_compact(tri_store_t *st)
{
    uint32_t i;
    uint32_t j = 0;
    uint32_t w = 0;
    for (i = 0; i < st->nslots; i++) {
        tri_store_slot_t s = st->slots[i];
        if (s.live == 0u) {
            continue;
        }
        if (s.offset != w) {
            memmove(st->data + w, st->data + s.offset, s.alloc);
            s.offset = w;
        }
        w += s.alloc;
        st->slots[j++] = s;
    }
    st->nslots = j;
    st->tail = w;
}

static void kill(tri_store_t *st, uint32_t slot)
{
    st->slots[slot].live = 0u;
    st->live_count--;
    st->live_bytes -= st->slots[slot].alloc;
}

tri_status_t tri_store_make_room(tri_store_t *st, uint32_t alloc_bytes, uint8_t rank,
                                 uint8_t confidence, uint32_t *evicted)
{
    uint64_t new_key = key_of(rank, confidence, st->next_seq);
    uint64_t evictable = 0;
    uint32_t evictable_count = 0;
    uint32_t count = 0;
    uint32_t i;
    if (evicted != NULL) {
        *evicted = 0u;
    }
    if (alloc_bytes > st->data_bytes) {
        return TRI_ERR_FULL;
    }
    for (i = 0; i < st->nslots; i++) {
        if (st->slots[i].live != 0u && slot_key(&st->slots[i]) > new_key) {
            evictable += st->slots[i].alloc;
            evictable_count++;
        }
    }
    if ((uint64_t)(st->data_bytes - st->live_bytes) + evictable < alloc_bytes ||
        (st->live_count >= TRI_STORE_MAX_PRODUCTS && evictable_count == 0u)) {
        return TRI_ERR_FULL;
    }
    while (st->data_bytes - st->live_bytes < alloc_bytes ||
           st->live_count >= TRI_STORE_MAX_PRODUCTS) {
        uint32_t worst = TRI_STORE_NO_SLOT;
        uint64_t worst_key = new_key;
        for (i = 0; i < st->nslots; i++) {
            if (st->slots[i].live != 0u && slot_key(&st->slots[i]) > worst_key) {
                worst_key = slot_key(&st->slots[i]);
                worst = i;
            }
        }
        if (worst == TRI_STORE_NO_SLOT) {
            return TRI_ERR_FULL; /* unreachable: checked above */
        }
        kill(st, worst);
        count++;
    }
    st->evicted += count;
    if (evicted != NULL) {
        *evicted = count;
    }
    if (st->data_bytes - st->tail < alloc_bytes || st->nslots >= TRI_STORE_MAX_PRODUCTS) {
        tri_store_compact(st);
    }
    return TRI_OK;
}

/* Heap sort of order[0..n-1] by key, no recursion. */
static void sift_down(const tri_store_t *st, uint16_t *a, uint32_t root, uint32_t n)
{
    for (;;) {
        uint32_t child = 2u * root + 1u;
        uint16_t t;
        if (child >= n) {
            return;
        }
        if (child + 1u < n && slot_key(&st->slots[a[child + 1u]]) > slot_key(&st->slots[a[child]])) {
            child++;
        }
        if (slot_key(&st->slots[a[root]]) >= slot_key(&st->slots[a[child]])) {
            return;
        }
        t = a[root];
        a[root] = a[child];
        a[child] = t;
        root = child;
    }
}

uint32_t tri_store_order(tri_store_t *st)
{
    uint16_t *a = st->order;
    uint32_t n = 0;
    uint32_t i;
    for (i = 0; i < st->nslots; i++) {
        if (st->slots[i].live != 0u) {
            a[n++] = (uint16_t)i;
        }
    }
    for (i = n / 2u; i > 0u; i--) {
        sift_down(st, a, i - 1u, n);
    }
    for (i = n; i > 1u; i--) {
        uint16_t t = a[0];
        a[0] = a[i - 1u];
        a[i - 1u] = t;
        sift_down(st, a, 0u, i - 1u);
    }
    return n;
}

uint32_t tri_store_find(const tri_store_t *st, uint32_t frame_id, uint16_t product_id)
{
    uint32_t i;
    for (i = 0; i < st->nslots; i++) {
        const tri_store_slot_t *s = &st->slots[i];
        if (s->live != 0u && s->frame_id == frame_id && s->product_id == product_id) {
            return i;
        }
    }
    return TRI_STORE_NO_SLOT;
}

const uint8_t *tri_store_bytes(const tri_store_t *st, uint32_t slot)
{
    return st->data + st->slots[slot].offset;
}

void tri_store_discard(tri_store_t *st, uint32_t slot)
{
    if (slot < st->nslots && st->slots[slot].live != 0u) {
        kill(st, slot);
    }
}

void tri_store_release(tri_store_t *st, uint32_t slot)
{
    if (slot < st->nslots && st->slots[slot].live != 0u) {
        kill(st, slot);
        st->released++;
    }
}

int tri_store_segment_sent(const tri_store_t *st, uint32_t slot, uint32_t segment)
{
    const tri_store_slot_t *s = &st->slots[slot];
    const uint8_t *bitmap = st->data + s->offset + s->bytes;
    return (bitmap[segment / 8u] >> (segment % 8u)) & 1;
}

void tri_store_mark_sent(tri_store_t *st, uint32_t slot, uint32_t segment)
{
    tri_store_slot_t *s = &st->slots[slot];
    uint8_t *bitmap = st->data + s->offset + s->bytes;
    uint8_t bit = (uint8_t)(1u << (segment % 8u));
    if ((bitmap[segment / 8u] & bit) == 0u) {
        bitmap[segment / 8u] = (uint8_t)(bitmap[segment / 8u] | bit);
        s->sent_segments++;
    }
}

tri_status_t tri_store_check(const tri_store_t *st)
{
    uint32_t i;
    uint32_t end = 0;
    uint32_t live = 0;
    uint32_t live_bytes = 0;
    if (st->nslots > TRI_STORE_MAX_PRODUCTS || st->tail > st->data_bytes) {
        return TRI_ERR_FORMAT;
    }
    for (i = 0; i < st->nslots; i++) {
        const tri_store_slot_t *s = &st->slots[i];
        if (s->offset < end || s->alloc != tri_store_alloc_bytes(s->bytes) ||
            s->offset + s->alloc > st->tail || s->segments != tri_segment_count(s->bytes) ||
            s->sent_segments > s->segments) {
            return TRI_ERR_FORMAT;
        }
        end = s->offset + s->alloc;
        if (s->live != 0u) {
            live++;
            live_bytes += s->alloc;
        }
    }
    if (end != st->tail || live != st->live_count || live_bytes != st->live_bytes) {
        return TRI_ERR_FORMAT;
    }
    return TRI_OK;
}
