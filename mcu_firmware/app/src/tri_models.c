/*
 * tri_models.c - the model manager's boot record and slots (tri_models.h):
 * the record log, the boot procedure, verifying a slot, staging a package
 * into one and putting it on trial, the commands, the status record.
 */
#include "tri_models.h"

#include <string.h>

#include "tri_be.h"
#include "tri_crc32.h"
#include "tri_hmac.h"
#include "tri_models_priv.h"
#include "tri_sha256.h"
#include "wf_records.h"

#define RECORDS_PER_SECTOR (WF_FLASH_SECTOR_BYTES / WF_BOOT_RECORD_SIZE)
#define RECORD_CRC_AT (WF_BOOT_RECORD_SIZE - 4u)

static const uint32_t record_sector_offset[2] = {WF_FLASH_BOOTREC0_OFFSET,
                                                 WF_FLASH_BOOTREC1_OFFSET};
static const uint32_t slot_offset[2] = {WF_FLASH_SLOT_A_OFFSET, WF_FLASH_SLOT_B_OFFSET};

/* The record format holds two slots and a four-sector head. */
typedef char tri_models_layout_ok[(WF_FLASH_SLOT_A_BYTES >= WF_MAX_PACKAGE_BYTES &&
                                   WF_FLASH_SLOT_B_BYTES >= WF_MAX_PACKAGE_BYTES &&
                                   WF_SLOT_A == 1u && WF_SLOT_B == 2u && WF_SLOT_FACTORY == 0u)
                                      ? 1
                                      : -1];

tri_status_t tri_models_refuse(tri_models_t *m, uint8_t reason, uint32_t arsn,
                               tri_status_t status)
{
    if (reason >= 1u && reason <= WF_REFUSAL_COUNT) {
        m->refusals[reason - 1u]++;
        m->last_refusal = reason;
        m->last_refusal_arsn = arsn;
    }
    return status;
}

/* ---- the boot record log ------------------------------------------------------ */

static void encode_record(const tri_boot_rec_t *r, uint8_t *out)
{
    wf_boot_record_t w;
    memset(&w, 0, sizeof w);
    w.magic = WF_BOOT_RECORD_MAGIC;
    w.version = (uint8_t)WF_BOOT_RECORD_VERSION;
    w.active = r->active;
    w.previous = r->previous;
    w.trial = r->trial;
    w.generation = r->generation;
    w.boot_count = r->boot_count;
    w.arsn = r->arsn;
    w.slot_a_model_id = r->slot[0].model_id;
    w.slot_a_bytes = r->slot[0].bytes;
    memcpy(w.slot_a_sha256, r->slot[0].sha256, sizeof w.slot_a_sha256);
    w.slot_b_model_id = r->slot[1].model_id;
    w.slot_b_bytes = r->slot[1].bytes;
    memcpy(w.slot_b_sha256, r->slot[1].sha256, sizeof w.slot_b_sha256);
    w.last_event = r->last_event;
    wf_boot_record_pack(&w, out);
    tri_put_be32(out + RECORD_CRC_AT, tri_crc32(0u, out, RECORD_CRC_AT));
}

/* A record that checks (magic, version, CRC), decoded; 0 otherwise. */
static int decode_record(const uint8_t *in, tri_boot_rec_t *r)
{
    wf_boot_record_t w;
    wf_boot_record_unpack(in, &w);
    if (w.magic != WF_BOOT_RECORD_MAGIC || w.version != WF_BOOT_RECORD_VERSION ||
        w.crc32 != tri_crc32(0u, in, RECORD_CRC_AT)) {
        return 0;
    }
    r->active = w.active;
    r->previous = w.previous;
    r->trial = w.trial;
    r->last_event = w.last_event;
    r->generation = w.generation;
    r->boot_count = w.boot_count;
    r->arsn = w.arsn;
    r->slot[0].model_id = w.slot_a_model_id;
    r->slot[0].bytes = w.slot_a_bytes;
    memcpy(r->slot[0].sha256, w.slot_a_sha256, sizeof r->slot[0].sha256);
    r->slot[1].model_id = w.slot_b_model_id;
    r->slot[1].bytes = w.slot_b_bytes;
    memcpy(r->slot[1].sha256, w.slot_b_sha256, sizeof r->slot[1].sha256);
    return 1;
}

/* The newest record of the log (highest generation that checks). */
static void scan_records(tri_models_t *m)
{
    uint32_t s;
    uint32_t k;
    m->have_rec = 0u;
    for (s = 0; s < 2u; s++) {
        for (k = 0; k < RECORDS_PER_SECTOR; k++) {
            tri_boot_rec_t r;
            const uint8_t *at =
                tri_flash_at(&m->flash, record_sector_offset[s] + k * WF_BOOT_RECORD_SIZE);
            if (decode_record(at, &r) && (m->have_rec == 0u || r.generation > m->rec.generation)) {
                m->rec = r;
                m->rec_sector = s;
                m->rec_index = k;
                m->have_rec = 1u;
            }
        }
    }
}

static uint32_t record_offset(uint32_t sector, uint32_t index)
{
    return record_sector_offset[sector] + index * WF_BOOT_RECORD_SIZE;
}

/* The first blank place in a sector from index `from`, or RECORDS_PER_SECTOR. */
static uint32_t first_blank(const tri_models_t *m, uint32_t sector, uint32_t from)
{
    uint32_t k;
    for (k = from; k < RECORDS_PER_SECTOR; k++) {
        if (tri_flash_blank(&m->flash, record_offset(sector, k), WF_BOOT_RECORD_SIZE)) {
            return k;
        }
    }
    return RECORDS_PER_SECTOR;
}

tri_status_t tri_models_write_record(tri_models_t *m, tri_boot_rec_t *r, uint8_t stage)
{
    uint8_t buf[WF_BOOT_RECORD_SIZE];
    uint32_t sector = m->have_rec != 0u ? m->rec_sector : 0u;
    uint32_t index = first_blank(m, sector, m->have_rec != 0u ? m->rec_index + 1u : 0u);
    tri_status_t st;
    m->flash.stage = stage;
    if (index == RECORDS_PER_SECTOR) {
        /* this sector is full (or holds debris of a write cut short): the
         * other one, erased; the newest record stays where it is until the
         * new one is whole */
        sector ^= 1u;
        st = tri_flash_erase(&m->flash, record_sector_offset[sector], WF_FLASH_SECTOR_BYTES);
        if (st != TRI_OK) {
            return st;
        }
        index = 0u;
    }
    r->generation = m->have_rec != 0u ? m->rec.generation + 1u : 1u;
    encode_record(r, buf);
    st = tri_flash_program(&m->flash, record_offset(sector, index), buf, sizeof buf);
    m->flash.stage = TRI_MSTAGE_IDLE;
    if (st != TRI_OK) {
        return st;
    }
    m->rec = *r;
    m->rec_sector = sector;
    m->rec_index = index;
    m->have_rec = 1u;
    return TRI_OK;
}

/* ---- slots --------------------------------------------------------------------- */

static uint32_t slot_index(uint8_t slot)
{
    return slot == WF_SLOT_B ? 1u : 0u;
}

/*
 * The package of `slot`, verified: a slot's bytes must hash to what the
 * record says (the SHA-256 catches any change since it was written), and
 * every package must parse, suit this image and pass its golden vectors.
 * Returns 0, or the refusal reason.
 */
static uint8_t verify_slot(tri_models_t *m, const tri_boot_rec_t *r, uint8_t slot,
                           tri_package_t *pkg, uint8_t sha[WF_MODEL_HASH_BYTES], size_t *need)
{
    const uint8_t *data;
    uint32_t bytes;
    uint8_t reason = WF_REFUSAL_CORRUPT;
    if (slot == WF_SLOT_FACTORY) {
        if (m->factory == NULL) {
            return WF_REFUSAL_CORRUPT;
        }
        data = m->factory;
        bytes = m->factory_bytes;
        tri_sha256(data, bytes, sha);
    } else if (slot == WF_SLOT_A || slot == WF_SLOT_B) {
        const tri_slot_rec_t *s = &r->slot[slot_index(slot)];
        if (s->model_id == 0u || s->bytes > WF_FLASH_SLOT_A_BYTES) {
            return WF_REFUSAL_CORRUPT;
        }
        data = tri_flash_at(&m->flash, slot_offset[slot_index(slot)]);
        bytes = s->bytes;
        tri_sha256(data, bytes, sha);
        if (!tri_digest_equal(sha, s->sha256, WF_MODEL_HASH_BYTES)) {
            return WF_REFUSAL_CORRUPT;
        }
    } else {
        return WF_REFUSAL_CORRUPT;
    }
    if (tri_package_parse(data, bytes, pkg, &reason) != TRI_OK ||
        tri_package_check(pkg, m->frame_cols, m->scratch_bytes, m->scratch, m->scratch_bytes, need,
                          &reason) != TRI_OK ||
        tri_package_selftest(pkg, m->scratch, m->scratch_bytes, &reason) != TRI_OK) {
        return reason != 0u ? reason : WF_REFUSAL_CORRUPT;
    }
    if (slot != WF_SLOT_FACTORY && pkg->model_id != r->slot[slot_index(slot)].model_id) {
        return WF_REFUSAL_CORRUPT;
    }
    return 0u;
}

/* Makes `slot` (verified: pkg, sha, need) the running model. */
static void activate(tri_models_t *m, const tri_package_t *pkg, const uint8_t *sha, size_t need)
{
    if (pkg == NULL) {
        memset(&m->active, 0, sizeof m->active);
        memset(m->active_pkg_sha256, 0, sizeof m->active_pkg_sha256);
        m->active_need = 0u;
        return;
    }
    m->active = *pkg;
    memcpy(m->active_pkg_sha256, sha, WF_MODEL_HASH_BYTES);
    m->active_need = need;
}

/* The fallback when `from` cannot run: its previous slot, else the factory
 * default, else none. */
static uint8_t fallback_of(const tri_models_t *m, const tri_boot_rec_t *r, uint8_t from)
{
    if (r->previous != from && r->previous != WF_SLOT_NONE &&
        (r->previous != WF_SLOT_FACTORY || m->factory_ok)) {
        return r->previous;
    }
    if (from != WF_SLOT_FACTORY && m->factory_ok) {
        return WF_SLOT_FACTORY;
    }
    return WF_SLOT_NONE;
}

/* Falls back from r->active (reason: why); the new previous is the factory
 * default (or none). */
static void fall_back(tri_models_t *m, tri_boot_rec_t *r, uint8_t reason)
{
    const uint8_t to = fallback_of(m, r, r->active);
    r->active = to;
    r->previous = to != WF_SLOT_FACTORY && m->factory_ok ? WF_SLOT_FACTORY : WF_SLOT_NONE;
    r->trial = 0u;
    r->last_event = reason;
    m->fallbacks++;
}

/* 1 when the key store holds a valid KEY_STORE: its key count. */
static uint8_t key_store_count(const tri_models_t *m)
{
    const uint8_t *k = tri_flash_at(&m->flash, WF_FLASH_KEYSTORE_OFFSET);
    const uint32_t n = k[WF_KEY_STORE_HEADER_COUNT_OFFSET];
    const uint32_t body = WF_KEY_STORE_HEADER_SIZE + n * WF_KEY_ENTRY_SIZE;
    if (tri_get_be32(k + WF_KEY_STORE_HEADER_MAGIC_OFFSET) != WF_KEY_STORE_MAGIC ||
        k[WF_KEY_STORE_HEADER_VERSION_OFFSET] != WF_KEY_STORE_VERSION || n < 1u ||
        n > WF_MAX_KEYS || body + 4u > WF_FLASH_KEYSTORE_BYTES ||
        tri_crc32(0u, k, body) != tri_get_be32(k + body)) {
        return 0u;
    }
    return (uint8_t)n;
}

tri_status_t tri_models_init(tri_models_t *m, uint8_t *flash, uint32_t flash_bytes,
                             const uint8_t *factory, uint32_t factory_bytes, uint8_t *staging,
                             uint32_t staging_bytes, void *scratch, size_t scratch_bytes,
                             uint32_t frame_cols)
{
    tri_status_t st;
    if (m == NULL || flash == NULL || staging == NULL || scratch == NULL || frame_cols == 0u) {
        return TRI_ERR_ARG;
    }
    memset(m, 0, sizeof *m);
    if (flash_bytes < WF_MODEL_FLASH_BYTES ||
        staging_bytes < WF_SECURITY_HEADER_SIZE + WF_PACKAGE_HEADER_SIZE + WF_MAC_BYTES) {
        return TRI_ERR_SIZE;
    }
    if (((uintptr_t)flash | (uintptr_t)staging | (uintptr_t)scratch |
         (factory != NULL ? (uintptr_t)factory : 0u)) %
            8u !=
        0u) {
        return TRI_ERR_ALIGN;
    }
    st = tri_flash_init(&m->flash, flash, WF_MODEL_FLASH_BYTES, WF_FLASH_SECTOR_BYTES);
    if (st != TRI_OK) {
        return st;
    }
    m->factory = factory;
    m->factory_bytes = factory != NULL ? factory_bytes : 0u;
    m->staging = staging;
    m->staging_bytes = staging_bytes;
    m->scratch = scratch;
    m->scratch_bytes = scratch_bytes;
    m->frame_cols = frame_cols;
    return TRI_OK;
}

tri_status_t tri_models_boot(tri_models_t *m)
{
    tri_boot_rec_t r;
    tri_package_t pkg;
    uint8_t sha[WF_MODEL_HASH_BYTES];
    size_t need = 0u;
    uint32_t tries;
    uint8_t reason = 0u;
    tri_status_t st;
    if (m == NULL || m->flash.base == NULL) {
        return TRI_ERR_ARG;
    }
    m->key_count = key_store_count(m);
    m->factory_ok = 0u;
    if (m->factory != NULL) {
        tri_boot_rec_t none;
        memset(&none, 0, sizeof none);
        m->factory_ok = verify_slot(m, &none, WF_SLOT_FACTORY, &pkg, sha, &need) == 0u;
    }
    scan_records(m);
    if (m->have_rec != 0u) {
        r = m->rec;
    } else {
        memset(&r, 0, sizeof r); /* never provisioned: the factory default */
        r.active = m->factory_ok ? WF_SLOT_FACTORY : WF_SLOT_NONE;
        r.previous = WF_SLOT_NONE;
    }
    r.boot_count++;
    r.last_event = 0u;
    if (r.trial != 0u) { /* a reset while a model was on trial */
        fall_back(m, &r, WF_REFUSAL_TRIAL_RESET);
        m->boot_fallback = WF_REFUSAL_TRIAL_RESET;
        (void)tri_models_refuse(m, WF_REFUSAL_TRIAL_RESET, r.arsn, TRI_OK);
    }
    for (tries = 0; tries < 3u && r.active != WF_SLOT_NONE; tries++) {
        reason = verify_slot(m, &r, r.active, &pkg, sha, &need);
        if (reason == 0u) {
            break;
        }
        /* the active slot does not verify any more: back to its fallback */
        fall_back(m, &r, WF_REFUSAL_CORRUPT);
        m->boot_fallback = WF_REFUSAL_CORRUPT;
        (void)tri_models_refuse(m, WF_REFUSAL_CORRUPT, 0u, TRI_OK);
    }
    if (r.active != WF_SLOT_NONE && reason != 0u) {
        r.active = WF_SLOT_NONE;
    }
    activate(m, r.active != WF_SLOT_NONE ? &pkg : NULL, sha, need);
    st = tri_models_write_record(m, &r, TRI_MSTAGE_BOOT);
    if (st != TRI_OK) {
        m->rec = r; /* runs on; the record is written at the next change */
        (void)tri_models_refuse(m, WF_REFUSAL_FLASH, 0u, st);
    }
    m->booted = 1u;
    return st;
}

/* ---- a new package ------------------------------------------------------------- */

/* The slot a new package goes to: neither the active one nor, when it can
 * be helped, its fallback. */
static uint8_t target_slot(const tri_boot_rec_t *r)
{
    if (r->active == WF_SLOT_A) {
        return WF_SLOT_B;
    }
    if (r->active == WF_SLOT_B) {
        return WF_SLOT_A;
    }
    return r->previous == WF_SLOT_A ? WF_SLOT_B : WF_SLOT_A;
}

/* Consumes sequence number arsn alone (a unit refused after it was
 * authenticated), then refuses with reason. */
static tri_status_t consume_and_refuse(tri_models_t *m, uint32_t arsn, uint8_t reason,
                                       tri_status_t status)
{
    tri_boot_rec_t r = m->rec;
    r.arsn = arsn;
    if (tri_models_write_record(m, &r, TRI_MSTAGE_CONSUME) != TRI_OK) {
        return tri_models_refuse(m, WF_REFUSAL_FLASH, arsn, TRI_ERR_IO);
    }
    return tri_models_refuse(m, reason, arsn, status);
}

tri_status_t tri_models_take_package(tri_models_t *m, const uint8_t *pkg_bytes, uint32_t bytes,
                                     uint32_t arsn)
{
    tri_package_t pkg;
    tri_package_t staged;
    tri_boot_rec_t r;
    uint8_t sha[WF_MODEL_HASH_BYTES];
    uint8_t flash_sha[WF_MODEL_HASH_BYTES];
    uint8_t reason = 0u;
    size_t need = 0u;
    uint8_t target;
    uint32_t at;
    uint32_t erase;
    tri_status_t st;
    st = tri_package_parse(pkg_bytes, bytes, &pkg, &reason);
    if (st == TRI_OK) {
        st = tri_package_check(&pkg, m->frame_cols, m->scratch_bytes, m->scratch, m->scratch_bytes,
                               &need, &reason);
    }
    if (st != TRI_OK) {
        return consume_and_refuse(m, arsn, reason, st);
    }
    /* 1. the target slot marked empty, the sequence number consumed */
    target = target_slot(&m->rec);
    r = m->rec;
    r.arsn = arsn;
    memset(&r.slot[slot_index(target)], 0, sizeof r.slot[0]);
    if (r.previous == target) {
        r.previous = m->factory_ok ? WF_SLOT_FACTORY : WF_SLOT_NONE;
    }
    r.last_event = 0u;
    if (tri_models_write_record(m, &r, TRI_MSTAGE_INVALIDATE) != TRI_OK) {
        return tri_models_refuse(m, WF_REFUSAL_FLASH, arsn, TRI_ERR_IO);
    }
    /* 2. erased, programmed, read back */
    at = slot_offset[slot_index(target)];
    erase = (bytes + WF_FLASH_SECTOR_BYTES - 1u) / WF_FLASH_SECTOR_BYTES * WF_FLASH_SECTOR_BYTES;
    m->flash.stage = TRI_MSTAGE_ERASE;
    st = tri_flash_erase(&m->flash, at, erase);
    if (st == TRI_OK) {
        m->flash.stage = TRI_MSTAGE_PROGRAM;
        st = tri_flash_program(&m->flash, at, pkg_bytes, bytes);
    }
    m->flash.stage = TRI_MSTAGE_IDLE;
    tri_sha256(pkg_bytes, bytes, sha);
    if (st == TRI_OK) {
        tri_sha256(tri_flash_at(&m->flash, at), bytes, flash_sha);
        if (!tri_digest_equal(sha, flash_sha, sizeof sha)) {
            st = TRI_ERR_IO;
        }
    }
    if (st == TRI_OK) {
        st = tri_package_parse(tri_flash_at(&m->flash, at), bytes, &staged, &reason);
    }
    if (st != TRI_OK) {
        return tri_models_refuse(m, WF_REFUSAL_FLASH, arsn, TRI_ERR_IO);
    }
    /* 3. its golden vectors, from the slot */
    st = tri_package_selftest(&staged, m->scratch, m->scratch_bytes, &reason);
    if (st != TRI_OK) {
        return tri_models_refuse(m, reason, arsn, st);
    }
    /* 4. on trial: active, the model it replaces its fallback */
    r = m->rec;
    r.slot[slot_index(target)].model_id = staged.model_id;
    r.slot[slot_index(target)].bytes = bytes;
    memcpy(r.slot[slot_index(target)].sha256, sha, sizeof sha);
    r.previous = r.active;
    r.active = target;
    r.trial = 1u;
    if (tri_models_write_record(m, &r, TRI_MSTAGE_SWITCH) != TRI_OK) {
        return tri_models_refuse(m, WF_REFUSAL_FLASH, arsn, TRI_ERR_IO);
    }
    activate(m, &staged, sha, need);
    m->accepted++;
    return TRI_OK;
}

/* ---- commands ------------------------------------------------------------------ */

tri_status_t tri_models_take_command(tri_models_t *m, const uint8_t *record, uint32_t arsn)
{
    const uint8_t action = record[WF_MODEL_COMMAND_ACTION_OFFSET];
    const uint32_t model_id = tri_get_be32(record + WF_MODEL_COMMAND_MODEL_ID_OFFSET);
    tri_boot_rec_t r = m->rec;
    tri_package_t pkg;
    uint8_t sha[WF_MODEL_HASH_BYTES];
    size_t need = 0u;
    uint8_t to = WF_SLOT_NONE;
    r.arsn = arsn;
    r.last_event = 0u;
    if (action == WF_MODEL_COMMIT && r.trial != 0u && m->active.data != NULL &&
        model_id == m->active.model_id) {
        r.trial = 0u;
    } else if (action == WF_MODEL_ROLLBACK && m->active.data != NULL &&
               model_id == m->active.model_id) {
        to = fallback_of(m, &r, r.active);
        if (to == WF_SLOT_NONE || verify_slot(m, &r, to, &pkg, sha, &need) != 0u) {
            return consume_and_refuse(m, arsn, WF_REFUSAL_COMMAND, TRI_ERR_STATE);
        }
        r.active = to;
        r.previous = to != WF_SLOT_FACTORY && m->factory_ok ? WF_SLOT_FACTORY : WF_SLOT_NONE;
        r.trial = 0u;
    } else if (action == WF_MODEL_FACTORY && model_id == 0u && m->factory_ok &&
               r.active != WF_SLOT_FACTORY) {
        to = WF_SLOT_FACTORY;
        if (verify_slot(m, &r, to, &pkg, sha, &need) != 0u) {
            return consume_and_refuse(m, arsn, WF_REFUSAL_COMMAND, TRI_ERR_STATE);
        }
        r.previous = r.active;
        r.active = to;
        r.trial = 0u;
    } else {
        return consume_and_refuse(m, arsn, WF_REFUSAL_COMMAND, TRI_ERR_STATE);
    }
    if (tri_models_write_record(m, &r, TRI_MSTAGE_COMMAND) != TRI_OK) {
        return tri_models_refuse(m, WF_REFUSAL_FLASH, arsn, TRI_ERR_IO);
    }
    if (action == WF_MODEL_COMMIT) {
        m->commits++;
    } else {
        activate(m, &pkg, sha, need);
        m->fallbacks++;
    }
    m->commands++;
    return TRI_OK;
}

/* ---- what the manager tells ---------------------------------------------------- */

const tri_package_t *tri_models_active(const tri_models_t *m)
{
    return m != NULL && m->active.data != NULL ? &m->active : NULL;
}

uint32_t tri_models_boot_count(const tri_models_t *m)
{
    return m != NULL ? m->rec.boot_count : 0u;
}

void tri_models_status(const tri_models_t *m, uint8_t *out)
{
    wf_model_status_t s;
    uint32_t i;
    memset(&s, 0, sizeof s);
    s.boot_count = m->rec.boot_count;
    s.active = m->rec.active;
    s.previous = m->rec.previous;
    s.trial = m->rec.trial;
    s.receiving = m->receiving;
    if (m->active.data != NULL) {
        s.active_model_id = m->active.model_id;
        memcpy(s.active_model_sha256, m->active.model_sha256, WF_MODEL_HASH_BYTES);
        memcpy(s.active_package_sha256, m->active_pkg_sha256, WF_MODEL_HASH_BYTES);
    }
    s.arsn = m->rec.arsn;
    s.upload_arsn = m->receiving != 0u ? m->up_arsn : 0u;
    s.upload_received = m->receiving != 0u ? m->up_received : 0u;
    s.slot_model_id[WF_SLOT_FACTORY] = 0u;
    if (m->factory_ok && m->factory_bytes >= WF_PACKAGE_HEADER_SIZE) {
        s.slot_model_id[WF_SLOT_FACTORY] =
            tri_get_be32(m->factory + WF_PACKAGE_HEADER_MODEL_ID_OFFSET);
    }
    s.slot_model_id[WF_SLOT_A] = m->rec.slot[0].model_id;
    s.slot_model_id[WF_SLOT_B] = m->rec.slot[1].model_id;
    s.uploads = m->uploads;
    s.accepted = m->accepted;
    s.commits = m->commits;
    s.fallbacks = m->fallbacks;
    s.commands = m->commands;
    s.last_refusal = m->last_refusal;
    s.last_refusal_arsn = m->last_refusal_arsn;
    s.boot_fallback = m->boot_fallback;
    s.scratch_bytes = (uint32_t)m->active_need;
    s.scratch_capacity = (uint32_t)m->scratch_bytes;
    s.frame_cols = m->frame_cols;
    for (i = 0; i < WF_REFUSAL_COUNT; i++) {
        s.refusals[i] = m->refusals[i];
    }
    wf_model_status_pack(&s, out);
}
