#include "tri_records.h"

#include <string.h>

#include "tri_be.h"
#include "tri_crc16.h"
#include "tri_crc32.h"

tri_status_t tri_frame_meta_unpack(const uint8_t *buf, size_t len, tri_frame_meta_t *meta)
{
    uint16_t crc;
    if (buf == NULL || meta == NULL) {
        return TRI_ERR_ARG;
    }
    if (len != WF_FRAME_META_SIZE) {
        return TRI_ERR_SIZE;
    }
    crc = tri_crc16((uint16_t)WF_CRC16_INIT, buf, WF_FRAME_META_CRC_OFFSET);
    if (crc != tri_get_be16(buf + WF_FRAME_META_CRC_OFFSET)) {
        return TRI_ERR_CRC;
    }
    if (tri_get_be32(buf + WF_FRAME_META_MAGIC_OFFSET) != WF_FRAME_META_MAGIC ||
        buf[WF_FRAME_META_VERSION_OFFSET] != WF_FORMAT_VERSION ||
        buf[WF_FRAME_META_RESERVED_OFFSET] != 0u ||
        tri_get_be16(buf + WF_FRAME_META_RESERVED2_OFFSET) != 0u ||
        tri_get_be16(buf + WF_FRAME_META_RESERVED3_OFFSET) != 0u ||
        tri_get_be16(buf + WF_FRAME_META_RESERVED5_OFFSET) != 0u) {
        return TRI_ERR_FORMAT;
    }
    meta->sample_bits = buf[WF_FRAME_META_SAMPLE_BITS_OFFSET];
    if (meta->sample_bits != 8u && meta->sample_bits != 16u) {
        return TRI_ERR_FORMAT;
    }
    meta->bands = buf[WF_FRAME_META_BANDS_OFFSET];
    meta->rows = tri_get_be16(buf + WF_FRAME_META_ROWS_OFFSET);
    meta->cols = tri_get_be16(buf + WF_FRAME_META_COLS_OFFSET);
    meta->nodata = tri_get_be16(buf + WF_FRAME_META_NODATA_OFFSET);
    meta->frame_id = tri_get_be32(buf + WF_FRAME_META_FRAME_ID_OFFSET);
    meta->time_s = tri_get_be32(buf + WF_FRAME_META_TIME_S_OFFSET);
    meta->time_sub = tri_get_be16(buf + WF_FRAME_META_TIME_SUB_OFFSET);
    meta->crs_epsg = tri_get_be32(buf + WF_FRAME_META_CRS_EPSG_OFFSET);
    meta->dn_num = tri_get_be16(buf + WF_FRAME_META_DN_NUM_OFFSET);
    meta->dn_den = tri_get_be16(buf + WF_FRAME_META_DN_DEN_OFFSET);
    if ((meta->dn_num != 0u || meta->dn_den != 0u) &&
        (meta->dn_den == 0u || meta->dn_den > meta->dn_num)) {
        return TRI_ERR_FORMAT;
    }
    memcpy(meta->geotransform, buf + WF_FRAME_META_GEOTRANSFORM_OFFSET, TRI_GEOTRANSFORM_BYTES);
    return TRI_OK;
}

void tri_frame_meta_pack(const tri_frame_meta_t *meta, uint8_t *out)
{
    memset(out, 0, WF_FRAME_META_SIZE);
    tri_put_be32(out + WF_FRAME_META_MAGIC_OFFSET, WF_FRAME_META_MAGIC);
    out[WF_FRAME_META_VERSION_OFFSET] = (uint8_t)WF_FORMAT_VERSION;
    out[WF_FRAME_META_SAMPLE_BITS_OFFSET] = meta->sample_bits;
    out[WF_FRAME_META_BANDS_OFFSET] = meta->bands;
    tri_put_be16(out + WF_FRAME_META_ROWS_OFFSET, meta->rows);
    tri_put_be16(out + WF_FRAME_META_COLS_OFFSET, meta->cols);
    tri_put_be16(out + WF_FRAME_META_NODATA_OFFSET, meta->nodata);
    tri_put_be32(out + WF_FRAME_META_FRAME_ID_OFFSET, meta->frame_id);
    tri_put_be32(out + WF_FRAME_META_TIME_S_OFFSET, meta->time_s);
    tri_put_be16(out + WF_FRAME_META_TIME_SUB_OFFSET, meta->time_sub);
    tri_put_be32(out + WF_FRAME_META_CRS_EPSG_OFFSET, meta->crs_epsg);
    tri_put_be16(out + WF_FRAME_META_DN_NUM_OFFSET, meta->dn_num);
    tri_put_be16(out + WF_FRAME_META_DN_DEN_OFFSET, meta->dn_den);
    memcpy(out + WF_FRAME_META_GEOTRANSFORM_OFFSET, meta->geotransform, TRI_GEOTRANSFORM_BYTES);
    tri_put_be16(out + WF_FRAME_META_CRC_OFFSET,
                 tri_crc16((uint16_t)WF_CRC16_INIT, out, WF_FRAME_META_CRC_OFFSET));
}

void tri_sec_header_pack(const tri_sec_header_t *sh, uint8_t *out)
{
    out[WF_SECONDARY_HEADER_VERSION_OFFSET] = (uint8_t)WF_FORMAT_VERSION;
    out[WF_SECONDARY_HEADER_RESERVED_OFFSET] = 0u;
    tri_put_be32(out + WF_SECONDARY_HEADER_FRAME_ID_OFFSET, sh->frame_id);
    tri_put_be16(out + WF_SECONDARY_HEADER_PRODUCT_ID_OFFSET, sh->product_id);
    tri_put_be16(out + WF_SECONDARY_HEADER_SEGMENT_INDEX_OFFSET, sh->segment_index);
    tri_put_be16(out + WF_SECONDARY_HEADER_SEGMENT_COUNT_OFFSET, sh->segment_count);
    tri_put_be16(out + WF_SECONDARY_HEADER_REGION_ROW0_OFFSET, sh->region_row0);
    tri_put_be16(out + WF_SECONDARY_HEADER_REGION_COL0_OFFSET, sh->region_col0);
    tri_put_be16(out + WF_SECONDARY_HEADER_REGION_ROWS_OFFSET, sh->region_rows);
    tri_put_be16(out + WF_SECONDARY_HEADER_REGION_COLS_OFFSET, sh->region_cols);
    out[WF_SECONDARY_HEADER_CLASS_ID_OFFSET] = sh->class_id;
    out[WF_SECONDARY_HEADER_CONFIDENCE_OFFSET] = sh->confidence;
    tri_put_be32(out + WF_SECONDARY_HEADER_TIME_S_OFFSET, sh->time_s);
    tri_put_be16(out + WF_SECONDARY_HEADER_TIME_SUB_OFFSET, sh->time_sub);
}

void tri_product_header_pack(const tri_product_header_t *h, uint8_t *out)
{
    size_t b;
    memset(out, 0, WF_PRODUCT_HEADER_SIZE);
    out[WF_PRODUCT_HEADER_VERSION_OFFSET] = (uint8_t)WF_FORMAT_VERSION;
    out[WF_PRODUCT_HEADER_PRODUCT_TYPE_OFFSET] = h->product_type;
    out[WF_PRODUCT_HEADER_SAMPLE_BITS_OFFSET] = h->sample_bits;
    out[WF_PRODUCT_HEADER_BANDS_OFFSET] = h->bands;
    tri_put_be16(out + WF_PRODUCT_HEADER_ROWS_OFFSET, h->rows);
    tri_put_be16(out + WF_PRODUCT_HEADER_COLS_OFFSET, h->cols);
    tri_put_be16(out + WF_PRODUCT_HEADER_REGION_ROW0_OFFSET, h->region_row0);
    tri_put_be16(out + WF_PRODUCT_HEADER_REGION_COL0_OFFSET, h->region_col0);
    tri_put_be16(out + WF_PRODUCT_HEADER_REGION_ROWS_OFFSET, h->region_rows);
    tri_put_be16(out + WF_PRODUCT_HEADER_REGION_COLS_OFFSET, h->region_cols);
    tri_put_be16(out + WF_PRODUCT_HEADER_PIXEL_STEP_OFFSET, h->pixel_step);
    tri_put_be16(out + WF_PRODUCT_HEADER_PIXEL_EXTENT_OFFSET, h->pixel_extent);
    out[WF_PRODUCT_HEADER_CLASS_ID_OFFSET] = h->class_id;
    out[WF_PRODUCT_HEADER_CONFIDENCE_OFFSET] = h->confidence;
    out[WF_PRODUCT_HEADER_COMPRESSION_OFFSET] = h->compression;
    out[WF_PRODUCT_HEADER_AEC_FLAGS_OFFSET] = h->aec_flags;
    out[WF_PRODUCT_HEADER_AEC_BLOCK_SIZE_OFFSET] = h->aec_block_size;
    tri_put_be16(out + WF_PRODUCT_HEADER_AEC_RSI_OFFSET, h->aec_rsi);
    tri_put_be16(out + WF_PRODUCT_HEADER_NODATA_OFFSET, h->nodata);
    tri_put_be16(out + WF_PRODUCT_HEADER_PRODUCT_ID_OFFSET, h->product_id);
    tri_put_be32(out + WF_PRODUCT_HEADER_FRAME_ID_OFFSET, h->frame_id);
    tri_put_be32(out + WF_PRODUCT_HEADER_TIME_S_OFFSET, h->time_s);
    tri_put_be16(out + WF_PRODUCT_HEADER_TIME_SUB_OFFSET, h->time_sub);
    tri_put_be16(out + WF_PRODUCT_HEADER_KEPT_RECTS_OFFSET, h->kept_rects);
    tri_put_be16(out + WF_PRODUCT_HEADER_FRAME_ROWS_OFFSET, h->frame_rows);
    tri_put_be16(out + WF_PRODUCT_HEADER_FRAME_COLS_OFFSET, h->frame_cols);
    tri_put_be32(out + WF_PRODUCT_HEADER_CRS_EPSG_OFFSET, h->crs_epsg);
    tri_put_be16(out + WF_PRODUCT_HEADER_DN_NUM_OFFSET, h->dn_num);
    tri_put_be16(out + WF_PRODUCT_HEADER_DN_DEN_OFFSET, h->dn_den);
    memcpy(out + WF_PRODUCT_HEADER_GEOTRANSFORM_OFFSET, h->geotransform, TRI_GEOTRANSFORM_BYTES);
    for (b = 0; b < WF_MAX_BANDS; b++) {
        tri_put_be32(out + WF_PRODUCT_HEADER_BAND_BYTES_OFFSET + 4u * b, h->band_bytes[b]);
    }
    tri_put_be32(out + WF_PRODUCT_HEADER_PRODUCT_CRC32_OFFSET, h->crc32);
}

uint32_t tri_product_crc(const uint8_t *header, const uint8_t *body, size_t body_len)
{
    uint32_t crc = tri_crc32(0u, header, WF_PRODUCT_HEADER_PRODUCT_CRC32_OFFSET);
    return tri_crc32(crc, body, body_len);
}

void tri_product_seal(uint8_t *product, size_t len)
{
    tri_put_be32(product + WF_PRODUCT_HEADER_PRODUCT_CRC32_OFFSET,
                 tri_product_crc(product, product + WF_PRODUCT_HEADER_SIZE,
                                 len - WF_PRODUCT_HEADER_SIZE));
}

void tri_product_header_unpack(const uint8_t *buf, tri_product_header_t *h)
{
    size_t b;
    h->product_type = buf[WF_PRODUCT_HEADER_PRODUCT_TYPE_OFFSET];
    h->sample_bits = buf[WF_PRODUCT_HEADER_SAMPLE_BITS_OFFSET];
    h->bands = buf[WF_PRODUCT_HEADER_BANDS_OFFSET];
    h->rows = tri_get_be16(buf + WF_PRODUCT_HEADER_ROWS_OFFSET);
    h->cols = tri_get_be16(buf + WF_PRODUCT_HEADER_COLS_OFFSET);
    h->region_row0 = tri_get_be16(buf + WF_PRODUCT_HEADER_REGION_ROW0_OFFSET);
    h->region_col0 = tri_get_be16(buf + WF_PRODUCT_HEADER_REGION_COL0_OFFSET);
    h->region_rows = tri_get_be16(buf + WF_PRODUCT_HEADER_REGION_ROWS_OFFSET);
    h->region_cols = tri_get_be16(buf + WF_PRODUCT_HEADER_REGION_COLS_OFFSET);
    h->pixel_step = tri_get_be16(buf + WF_PRODUCT_HEADER_PIXEL_STEP_OFFSET);
    h->pixel_extent = tri_get_be16(buf + WF_PRODUCT_HEADER_PIXEL_EXTENT_OFFSET);
    h->class_id = buf[WF_PRODUCT_HEADER_CLASS_ID_OFFSET];
    h->confidence = buf[WF_PRODUCT_HEADER_CONFIDENCE_OFFSET];
    h->compression = buf[WF_PRODUCT_HEADER_COMPRESSION_OFFSET];
    h->aec_flags = buf[WF_PRODUCT_HEADER_AEC_FLAGS_OFFSET];
    h->aec_block_size = buf[WF_PRODUCT_HEADER_AEC_BLOCK_SIZE_OFFSET];
    h->aec_rsi = tri_get_be16(buf + WF_PRODUCT_HEADER_AEC_RSI_OFFSET);
    h->nodata = tri_get_be16(buf + WF_PRODUCT_HEADER_NODATA_OFFSET);
    h->product_id = tri_get_be16(buf + WF_PRODUCT_HEADER_PRODUCT_ID_OFFSET);
    h->frame_id = tri_get_be32(buf + WF_PRODUCT_HEADER_FRAME_ID_OFFSET);
    h->time_s = tri_get_be32(buf + WF_PRODUCT_HEADER_TIME_S_OFFSET);
    h->time_sub = tri_get_be16(buf + WF_PRODUCT_HEADER_TIME_SUB_OFFSET);
    h->kept_rects = tri_get_be16(buf + WF_PRODUCT_HEADER_KEPT_RECTS_OFFSET);
    h->frame_rows = tri_get_be16(buf + WF_PRODUCT_HEADER_FRAME_ROWS_OFFSET);
    h->frame_cols = tri_get_be16(buf + WF_PRODUCT_HEADER_FRAME_COLS_OFFSET);
    h->crs_epsg = tri_get_be32(buf + WF_PRODUCT_HEADER_CRS_EPSG_OFFSET);
    h->dn_num = tri_get_be16(buf + WF_PRODUCT_HEADER_DN_NUM_OFFSET);
    h->dn_den = tri_get_be16(buf + WF_PRODUCT_HEADER_DN_DEN_OFFSET);
    memcpy(h->geotransform, buf + WF_PRODUCT_HEADER_GEOTRANSFORM_OFFSET, TRI_GEOTRANSFORM_BYTES);
    for (b = 0; b < WF_MAX_BANDS; b++) {
        h->band_bytes[b] = tri_get_be32(buf + WF_PRODUCT_HEADER_BAND_BYTES_OFFSET + 4u * b);
    }
    h->crc32 = tri_get_be32(buf + WF_PRODUCT_HEADER_PRODUCT_CRC32_OFFSET);
}

void tri_frame_summary_pack(const tri_frame_summary_t *s, uint8_t *out)
{
    size_t c;
    memset(out, 0, WF_FRAME_SUMMARY_SIZE);
    tri_put_be32(out + WF_FRAME_SUMMARY_TILES_TOTAL_OFFSET, s->tiles_total);
    tri_put_be32(out + WF_FRAME_SUMMARY_TILES_NODATA_OFFSET, s->tiles_nodata);
    for (c = 0; c < 4u; c++) {
        tri_put_be32(out + WF_FRAME_SUMMARY_TILES_BY_CLASS_OFFSET + 4u * c, s->tiles_by_class[c]);
        tri_put_be32(out + WF_FRAME_SUMMARY_TILES_DISCARDED_BY_CLASS_OFFSET + 4u * c,
                     s->tiles_discarded_by_class[c]);
    }
    tri_put_be16(out + WF_FRAME_SUMMARY_SHIP_REGIONS_OFFSET, s->ship_regions);
    tri_put_be16(out + WF_FRAME_SUMMARY_PRODUCTS_OFFSET, s->products);
}

void tri_store_entry_pack(const tri_store_entry_rec_t *e, uint8_t *out)
{
    tri_put_be32(out + WF_STORE_ENTRY_FRAME_ID_OFFSET, e->frame_id);
    tri_put_be16(out + WF_STORE_ENTRY_PRODUCT_ID_OFFSET, e->product_id);
    out[WF_STORE_ENTRY_PRODUCT_TYPE_OFFSET] = e->product_type;
    out[WF_STORE_ENTRY_CLASS_ID_OFFSET] = e->class_id;
    out[WF_STORE_ENTRY_CONFIDENCE_OFFSET] = e->confidence;
    out[WF_STORE_ENTRY_FLAGS_OFFSET] = e->flags;
    tri_put_be16(out + WF_STORE_ENTRY_SEGMENT_COUNT_OFFSET, e->segment_count);
    tri_put_be32(out + WF_STORE_ENTRY_PRODUCT_BYTES_OFFSET, e->product_bytes);
}

void tri_request_entry_unpack(const uint8_t *buf, tri_request_entry_t *e)
{
    e->frame_id = tri_get_be32(buf + WF_REQUEST_ENTRY_FRAME_ID_OFFSET);
    e->product_id = tri_get_be16(buf + WF_REQUEST_ENTRY_PRODUCT_ID_OFFSET);
    e->action = buf[WF_REQUEST_ENTRY_ACTION_OFFSET];
    e->segment_first = tri_get_be16(buf + WF_REQUEST_ENTRY_SEGMENT_FIRST_OFFSET);
    e->segment_last = tri_get_be16(buf + WF_REQUEST_ENTRY_SEGMENT_LAST_OFFSET);
}
