/*
 * tri_model_telemetry.c - the MODEL_STATUS product (tri_onboard.h): the
 * model manager's state and its refusals by reason, one packet, keyed as the
 * directories are (frame_id WF_DIRECTORY_FRAME_ID + the boot count,
 * product_id from the directories' counter), so that the ground files it
 * beside them.
 */
#include <string.h>

#include "tri_be.h"
#include "tri_onboard.h"
#include "tri_packet.h"
#include "tri_work.h"

#define STATUS_PRODUCT_BYTES (WF_PRODUCT_HEADER_SIZE + WF_MODEL_STATUS_SIZE)

typedef char tri_status_product_fits_one_packet[STATUS_PRODUCT_BYTES <= WF_MAX_SEGMENT_BYTES ? 1
                                                                                           : -1];

tri_status_t tri_onboard_model_status(tri_onboard_t *ob, const tri_models_t *models,
                                      const tri_sink_t *sink, size_t *len)
{
    tri_product_header_t h;
    tri_sec_header_t sh;
    uint8_t *pkt;
    uint8_t *product;
    uint16_t seq;
    size_t plen;
    tri_status_t st;
    if (ob == NULL || models == NULL || sink == NULL || sink->write == NULL || len == NULL ||
        ob->work == NULL) {
        return TRI_ERR_ARG;
    }
    *len = 0u;
    pkt = tri_work_packet(ob);
    product = pkt + TRI_PACKET_SEGMENT_OFFSET;
    memset(&h, 0, sizeof h);
    h.product_type = (uint8_t)WF_PRODUCT_MODEL_STATUS;
    h.class_id = (uint8_t)WF_CLASS_NONE;
    h.compression = (uint8_t)WF_COMPRESSION_NONE;
    h.product_id = ob->directory_count;
    h.frame_id = WF_DIRECTORY_FRAME_ID + ob->boot_count;
    h.time_s = ob->last_time_s;
    h.time_sub = ob->last_time_sub;
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
    seq = ob->seq_count[WF_PRODUCT_MODEL_STATUS - 1u];
    ob->seq_count[WF_PRODUCT_MODEL_STATUS - 1u] = (uint16_t)((seq + 1u) % WF_SEQ_COUNT_MODULO);
    plen = tri_packet_seal(pkt, (uint16_t)WF_APID_MODEL_STATUS, (uint8_t)WF_SEQ_UNSEGMENTED, seq,
                           &sh, STATUS_PRODUCT_BYTES);
    st = sink->write(sink->ctx, pkt, plen);
    if (st != TRI_OK) {
        ob->counters.output_full++;
        return st;
    }
    ob->directory_count++;
    ob->counters.packets_sent++;
    ob->counters.bytes_sent += (uint32_t)plen;
    *len = plen;
    return TRI_OK;
}
