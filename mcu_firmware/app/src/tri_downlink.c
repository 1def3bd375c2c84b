/*
 * Downlink: the STORE_DIRECTORY product and the packets of a pass (see
 * tri_onboard.h for the contract). In the frame link modes the packets go
 * through the link layer (tri_link.h) instead of straight to the sink.
 */
#include <string.h>

#include "tri_be.h"
#include "tri_crc32.h"
#include "tri_onboard.h"
#include "tri_packet.h"
#include "tri_work.h"

static const uint16_t apid_of_type[WF_PRODUCT_TYPE_COUNT] = WF_APID_OF_TYPE_INIT;

/* Next sequence count of the APID of a product type (1..WF_PRODUCT_TYPE_COUNT). */
static uint16_t next_seq(tri_onboard_t *ob, uint32_t type)
{
    uint16_t s = ob->seq_count[type - 1u];
    ob->seq_count[type - 1u] = (uint16_t)((s + 1u) % WF_SEQ_COUNT_MODULO);
    return s;
}

/* Where a directory's STORE_ENTRY records start: after its product header
 * and its DIRECTORY_HEADER. */
#define DIRECTORY_ENTRIES_AT (WF_PRODUCT_HEADER_SIZE + WF_DIRECTORY_HEADER_SIZE)

/* Bytes [pos, pos + n) of the directory product: its header, the
 * DIRECTORY_HEADER (dirhead), then one STORE_ENTRY per stored product in
 * priority order. */
static void directory_bytes(const tri_onboard_t *ob, const uint8_t *header,
                            const uint8_t *dirhead, uint32_t pos, uint32_t n, uint8_t *dst)
{
    while (n > 0u) {
        uint32_t take;
        if (pos < WF_PRODUCT_HEADER_SIZE) {
            take = WF_PRODUCT_HEADER_SIZE - pos;
            take = take < n ? take : n;
            memcpy(dst, header + pos, take);
        } else if (pos < DIRECTORY_ENTRIES_AT) {
            take = DIRECTORY_ENTRIES_AT - pos;
            take = take < n ? take : n;
            memcpy(dst, dirhead + (pos - WF_PRODUCT_HEADER_SIZE), take);
        } else {
            uint32_t e = (pos - DIRECTORY_ENTRIES_AT) / WF_STORE_ENTRY_SIZE;
            uint32_t within = (pos - DIRECTORY_ENTRIES_AT) % WF_STORE_ENTRY_SIZE;
            const tri_store_slot_t *s = &ob->store.slots[ob->store.order[e]];
            tri_store_entry_rec_t rec;
            uint8_t buf[WF_STORE_ENTRY_SIZE];
            rec.frame_id = s->frame_id;
            rec.product_id = s->product_id;
            rec.product_type = s->product_type;
            rec.class_id = s->class_id;
            rec.confidence = s->confidence;
            rec.flags = (uint8_t)(s->sent_segments == s->segments ? 1u : 0u);
            rec.segment_count = s->segments;
            rec.product_bytes = s->bytes;
            tri_store_entry_pack(&rec, buf);
            take = WF_STORE_ENTRY_SIZE - within;
            take = take < n ? take : n;
            memcpy(dst, buf + within, take);
        }
        pos += take;
        dst += take;
        n -= take;
    }
}

/* The packet scratch buffer at the end of the work area. */
static uint8_t *packet_buffer(const tri_onboard_t *ob)
{
    return tri_work_packet(ob);
}

/* Where an operation's packets go: the caller's sink in packet mode, else
 * the link layer on virtual channel vcid, whose frames go to the sink. */
typedef struct {
    tri_onboard_t *ob;
    const tri_sink_t *out;
    uint32_t vcid;
    uint32_t bytes0; /* the link's bytes_out when the operation began */
    tri_sink_t sink;
} route_t;

static tri_status_t link_write(void *ctx, const uint8_t *data, size_t len)
{
    route_t *r = (route_t *)ctx;
    return tri_link_put(&r->ob->link, r->vcid, data, len, r->out);
}

static const tri_sink_t *route_open(route_t *r, tri_onboard_t *ob, const tri_sink_t *out,
                                    uint32_t vcid)
{
    r->ob = ob;
    r->out = out;
    r->vcid = vcid;
    r->bytes0 = ob->link.bytes_out;
    r->sink.ctx = r;
    r->sink.write = link_write;
    return ob->link.mode == WF_LINK_PACKETS ? out : &r->sink;
}

/* Ends an operation: the last frame filled and sent (dropped after an error:
 * status st); *len and the counters get the link bytes. */
static tri_status_t route_close(route_t *r, tri_status_t st, size_t *len)
{
    tri_onboard_t *ob = r->ob;
    if (ob->link.mode == WF_LINK_PACKETS) {
        return st;
    }
    if (st == TRI_OK) {
        st = tri_link_flush(&ob->link, r->out);
        if (st != TRI_OK) {
            ob->counters.output_full++;
        }
    }
    tri_link_abort(&ob->link);
    *len = (size_t)(ob->link.bytes_out - r->bytes0);
    ob->counters.frames_sent = ob->link.frames_sent;
    ob->counters.idle_fill_bytes = ob->link.idle_bytes;
    return st;
}

/* The header of a telemetry product (the store directory, MODEL_STATUS): no class, no
 * compression, numbered by the directory count, under the directories' frame id of this
 * boot, at the last frame's time. */
static void telemetry_header(tri_product_header_t *h, const tri_onboard_t *ob,
                             uint32_t product_type)
{
    memset(h, 0, sizeof *h);
    h->product_type = (uint8_t)product_type;
    h->class_id = (uint8_t)WF_CLASS_NONE;
    h->compression = (uint8_t)WF_COMPRESSION_NONE;
    h->product_id = ob->directory_count;
    h->frame_id = WF_DIRECTORY_FRAME_ID + ob->boot_count;
    h->time_s = ob->last_time_s;
    h->time_sub = ob->last_time_sub;
}

static tri_status_t directory(tri_onboard_t *ob, const tri_sink_t *sink, size_t *len)
{
    route_t route;
    tri_product_header_t h;
    tri_sec_header_t sh;
    wf_directory_header_t dh;
    uint8_t header[WF_PRODUCT_HEADER_SIZE];
    uint8_t dirhead[WF_DIRECTORY_HEADER_SIZE];
    uint32_t n;
    uint32_t bytes;
    uint32_t segs;
    uint32_t s;
    size_t used = 0;
    uint8_t *pkt;
    if (ob == NULL || len == NULL || sink == NULL || sink->write == NULL || ob->work == NULL) {
        return TRI_ERR_ARG;
    }
    *len = 0;
    pkt = packet_buffer(ob);
    sink = route_open(&route, ob, sink, WF_VC_DIRECTORY);
    n = tri_store_order(&ob->store);
    bytes = DIRECTORY_ENTRIES_AT + n * WF_STORE_ENTRY_SIZE;
    dh.model_id = ob->classifier.model_id;
    memcpy(dh.model_sha256, ob->classifier.model_sha256, sizeof dh.model_sha256);
    dh.entries = n;
    wf_directory_header_pack(&dh, dirhead);
    segs = tri_segment_count(bytes);
    telemetry_header(&h, ob, WF_PRODUCT_STORE_DIRECTORY);
    tri_product_header_pack(&h, header);
    {
        /* product_crc32: one pass over the entries first (the packet buffer
         * as scratch), as the header goes out in the first packet */
        uint32_t crc = tri_crc32(0u, header, WF_PRODUCT_HEADER_PRODUCT_CRC32_OFFSET);
        uint32_t pos;
        for (pos = WF_PRODUCT_HEADER_SIZE; pos < bytes; pos += WF_MAX_SEGMENT_BYTES) {
            uint32_t k = bytes - pos < WF_MAX_SEGMENT_BYTES ? bytes - pos : WF_MAX_SEGMENT_BYTES;
            directory_bytes(ob, header, dirhead, pos, k, pkt);
            crc = tri_crc32(crc, pkt, k);
        }
        tri_put_be32(header + WF_PRODUCT_HEADER_PRODUCT_CRC32_OFFSET, crc);
    }
    memset(&sh, 0, sizeof sh);
    sh.frame_id = WF_DIRECTORY_FRAME_ID + ob->boot_count;
    sh.product_id = ob->directory_count;
    sh.segment_count = (uint16_t)segs;
    sh.class_id = (uint8_t)WF_CLASS_NONE;
    sh.time_s = ob->last_time_s;
    sh.time_sub = ob->last_time_sub;
    sh.spacecraft_id = ob->link.scid;
    for (s = 0; s < segs; s++) {
        uint32_t pos = s * WF_MAX_SEGMENT_BYTES;
        uint32_t seg = bytes - pos < WF_MAX_SEGMENT_BYTES ? bytes - pos : WF_MAX_SEGMENT_BYTES;
        size_t plen;
        tri_status_t st;
        directory_bytes(ob, header, dirhead, pos, seg, pkt + TRI_PACKET_SEGMENT_OFFSET);
        sh.segment_index = (uint16_t)s;
        plen = tri_packet_seal(pkt, (uint16_t)WF_APID_STORE_DIRECTORY, tri_seq_flags(s, segs),
                               next_seq(ob, WF_PRODUCT_STORE_DIRECTORY), &sh, seg);
        st = sink->write(sink->ctx, pkt, plen);
        if (st != TRI_OK) {
            ob->counters.output_full++;
            *len = used;
            return route_close(&route, st, len);
        }
        used += plen;
        ob->counters.packets_sent++;
    }
    ob->directory_count++;
    ob->counters.directories++;
    *len = used;
    {
        tri_status_t st = route_close(&route, TRI_OK, len);
        ob->counters.bytes_sent += (uint32_t)*len;
        return st;
    }
}

/* The MODEL_STATUS product (tri_models_status: slots, the active model, its
 * trial, refusals by reason): one packet, keyed as the directories are
 * (frame_id WF_DIRECTORY_FRAME_ID + the boot count, product_id from the
 * directories' counter), on the directory's virtual channel in the frame
 * link modes. */
#define STATUS_PRODUCT_BYTES (WF_PRODUCT_HEADER_SIZE + WF_MODEL_STATUS_SIZE)

typedef char tri_status_product_fits_one_packet[STATUS_PRODUCT_BYTES <= WF_MAX_SEGMENT_BYTES ? 1
                                                                                           : -1];

tri_status_t tri_onboard_model_status(tri_onboard_t *ob, const tri_models_t *models,
                                      const tri_sink_t *sink, size_t *len)
{
    route_t route;
    tri_product_header_t h;
    tri_sec_header_t sh;
    uint8_t *pkt;
    uint8_t *product;
    size_t plen;
    tri_status_t st;
    if (ob == NULL || models == NULL || sink == NULL || sink->write == NULL || len == NULL ||
        ob->work == NULL) {
        return TRI_ERR_ARG;
    }
    *len = 0u;
    pkt = packet_buffer(ob);
    sink = route_open(&route, ob, sink, WF_VC_DIRECTORY);
    product = pkt + TRI_PACKET_SEGMENT_OFFSET;
    telemetry_header(&h, ob, WF_PRODUCT_MODEL_STATUS);
    tri_product_header_pack(&h, product);
    tri_models_status(models, product + WF_PRODUCT_HEADER_SIZE);
    tri_put_be32(product + WF_PRODUCT_HEADER_PRODUCT_CRC32_OFFSET,
                 tri_product_crc(product, product + WF_PRODUCT_HEADER_SIZE, WF_MODEL_STATUS_SIZE));
    memset(&sh, 0, sizeof sh);
    sh.frame_id = h.frame_id;
    sh.product_id = h.product_id;
    sh.segment_index = 0u;
    sh.segment_count = 1u;
    sh.class_id = (uint8_t)WF_CLASS_NONE;
    sh.time_s = h.time_s;
    sh.time_sub = h.time_sub;
    sh.spacecraft_id = ob->link.scid;
    plen = tri_packet_seal(pkt, (uint16_t)WF_APID_MODEL_STATUS, (uint8_t)WF_SEQ_UNSEGMENTED,
                           next_seq(ob, WF_PRODUCT_MODEL_STATUS), &sh, STATUS_PRODUCT_BYTES);
    st = sink->write(sink->ctx, pkt, plen);
    if (st != TRI_OK) {
        ob->counters.output_full++;
        return route_close(&route, st, len);
    }
    ob->directory_count++;
    ob->counters.packets_sent++;
    *len = plen;
    st = route_close(&route, TRI_OK, len);
    ob->counters.bytes_sent += (uint32_t)*len;
    return st;
}

typedef struct {
    const tri_sink_t *sink;
    uint8_t *pkt;
    size_t limit; /* the budget */
    size_t used;
    uint32_t full;     /* a packet did not fit: the pass is over */
    tri_status_t sink_status;
} pass_t;

/*
 * Does the product in `slot` still hold the bytes it was sealed with (its
 * product_crc32)? Products wait in external memory for days; one that an
 * upset changed is discarded and counted (products_corrupted) instead of
 * being sent: the ground would refuse it, and the pass budget goes to good
 * ones. Checked before a pass sends any of its segments.
 */
static int product_intact(tri_onboard_t *ob, uint32_t slot)
{
    const uint8_t *bytes = tri_store_bytes(&ob->store, slot);
    uint32_t n = ob->store.slots[slot].bytes;
    if (n >= WF_PRODUCT_HEADER_SIZE &&
        tri_product_crc(bytes, bytes + WF_PRODUCT_HEADER_SIZE, n - WF_PRODUCT_HEADER_SIZE) ==
            tri_get_be32(bytes + WF_PRODUCT_HEADER_PRODUCT_CRC32_OFFSET)) {
        return 1;
    }
    tri_store_discard(&ob->store, slot);
    ob->counters.products_corrupted++;
    return 0;
}

/* Sends segment `seg` of the product in `slot`; 0 when it does not fit. */
static int send_segment(tri_onboard_t *ob, pass_t *p, uint32_t slot, uint32_t seg)
{
    const tri_store_slot_t *s = &ob->store.slots[slot];
    const uint8_t *bytes = tri_store_bytes(&ob->store, slot);
    uint32_t pos = seg * WF_MAX_SEGMENT_BYTES;
    uint32_t n = s->bytes - pos < WF_MAX_SEGMENT_BYTES ? s->bytes - pos : WF_MAX_SEGMENT_BYTES;
    tri_product_header_t h;
    tri_sec_header_t sh;
    size_t plen;
    if (p->full != 0u || p->used + WF_PACKET_OVERHEAD + n > p->limit) {
        p->full = 1u;
        return 0;
    }
    tri_product_header_unpack(bytes, &h);
    sh.frame_id = s->frame_id;
    sh.product_id = s->product_id;
    sh.segment_index = (uint16_t)seg;
    sh.segment_count = s->segments;
    sh.region_row0 = h.region_row0;
    sh.region_col0 = h.region_col0;
    sh.region_rows = h.region_rows;
    sh.region_cols = h.region_cols;
    sh.class_id = s->class_id;
    sh.confidence = s->confidence;
    sh.time_s = h.time_s;
    sh.time_sub = h.time_sub;
    sh.spacecraft_id = ob->link.scid;
    memcpy(p->pkt + TRI_PACKET_SEGMENT_OFFSET, bytes + pos, n);
    plen = tri_packet_seal(p->pkt, apid_of_type[s->product_type - 1u],
                           tri_seq_flags(seg, s->segments), next_seq(ob, s->product_type), &sh, n);
    p->sink_status = p->sink->write(p->sink->ctx, p->pkt, plen);
    if (p->sink_status != TRI_OK) {
        ob->counters.output_full++;
        p->full = 1u;
        return 0;
    }
    p->used += plen;
    tri_store_mark_sent(&ob->store, slot, seg);
    ob->counters.packets_sent++;
    return 1;
}

/*
 * The rest of the store: every segment never sent, products in priority
 * order, until the pass is full. What a pass without a request sends, and
 * what a request's REST entry asks for after the entries before it.
 */
static void send_rest(tri_onboard_t *ob, pass_t *p)
{
    uint32_t n = tri_store_order(&ob->store);
    uint32_t i;
    for (i = 0; i < n && p->full == 0u; i++) {
        uint32_t slot = ob->store.order[i];
        uint32_t seg;
        if (ob->store.slots[slot].sent_segments == ob->store.slots[slot].segments ||
            !product_intact(ob, slot)) {
            continue;
        }
        for (seg = 0; seg < ob->store.slots[slot].segments; seg++) {
            if (tri_store_segment_sent(&ob->store, slot, seg) == 0 &&
                send_segment(ob, p, slot, seg) == 0) {
                break;
            }
        }
    }
}

static tri_status_t downlink(tri_onboard_t *ob, uint32_t budget_bytes, const uint8_t *request,
                             size_t request_len, const tri_sink_t *sink, size_t *len)
{
    pass_t p;
    route_t route;
    uint32_t i;
    if (ob == NULL || len == NULL || sink == NULL || sink->write == NULL || ob->work == NULL) {
        return TRI_ERR_ARG;
    }
    *len = 0;
    p.sink = route_open(&route, ob, sink, WF_VC_PRODUCTS);
    p.pkt = packet_buffer(ob);
    p.limit = tri_link_packet_budget(&ob->link, budget_bytes);
    p.used = 0;
    p.full = 0;
    p.sink_status = TRI_OK;
    if (request != NULL) {
        const uint8_t *records;
        size_t count;
        tri_status_t st = tri_request_check(request, request_len, &records, &count);
        if (st != TRI_OK) {
            ob->counters.requests_rejected++;
            return st;
        }
        ob->counters.requests_ok++;
        for (i = 0; i < count; i++) {
            tri_request_entry_t e;
            uint32_t slot;
            uint32_t seg;
            tri_request_entry_unpack(records + (size_t)i * WF_REQUEST_ENTRY_SIZE, &e);
            if (e.action == WF_REQUEST_REST) {
                if (e.frame_id != 0u || e.product_id != 0u ||
                    e.segment_first != 0u || e.segment_last != 0u) {
                    ob->counters.request_entries_invalid++;
                    continue;
                }
                send_rest(ob, &p);
                continue;
            }
            if (e.action != WF_REQUEST_SEND && e.action != WF_REQUEST_RELEASE) {
                ob->counters.request_entries_invalid++;
                continue;
            }
            slot = tri_store_find(&ob->store, e.frame_id, e.product_id);
            if (slot == TRI_STORE_NO_SLOT) {
                ob->counters.request_entries_unknown++;
                continue;
            }
            if (e.action == WF_REQUEST_RELEASE) {
                tri_store_release(&ob->store, slot);
                ob->counters.products_released++;
                continue;
            }
            if (e.segment_first > e.segment_last ||
                e.segment_first >= ob->store.slots[slot].segments) {
                ob->counters.request_entries_invalid++;
                continue;
            }
            if (p.full != 0u || !product_intact(ob, slot)) {
                continue;
            }
            for (seg = e.segment_first;
                 seg <= e.segment_last && seg < ob->store.slots[slot].segments; seg++) {
                if (send_segment(ob, &p, slot, seg) == 0) {
                    break;
                }
            }
        }
    } else {
        send_rest(ob, &p);
    }
    ob->counters.downlinks++;
    *len = p.used;
    p.sink_status = route_close(&route, p.sink_status, len);
    ob->counters.bytes_sent += (uint32_t)*len;
    return p.sink_status;
}

tri_status_t tri_onboard_directory(tri_onboard_t *ob, const tri_sink_t *sink, size_t *len)
{
    tri_status_t st;
    if (ob == NULL) {
        return TRI_ERR_ARG;
    }
    tri_profile_start(&ob->profile);
    st = directory(ob, sink, len);
    tri_profile_mark(&ob->profile, TRI_STAGE_downlink);
    return st;
}

tri_status_t tri_onboard_downlink(tri_onboard_t *ob, uint32_t budget_bytes, const uint8_t *request,
                                  size_t request_len, const tri_sink_t *sink, size_t *len)
{
    tri_status_t st;
    if (ob == NULL) {
        return TRI_ERR_ARG;
    }
    tri_profile_start(&ob->profile);
    st = downlink(ob, budget_bytes, request, request_len, sink, len);
    tri_profile_mark(&ob->profile, TRI_STAGE_downlink);
    return st;
}
