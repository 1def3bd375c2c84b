/*
 * tri_models.h - the model manager: which streaming model the satellite
 * runs, and how a new one gets there (triage/WIRE_FORMAT.md, "Uplink";
 * mcu_firmware/app/README.md has the state machine).
 *
 * Models live in the factory slot (a package compiled into the image,
 * read-only), or in slot A or B of the model flash (tri_flash.h: a region of
 * its own beside the code flash). A boot record, appended to a log over two
 * flash sectors, says which slot is active, which it falls back to, whether
 * the active model is on trial, the boot count and the last anti-replay
 * sequence number accepted. Every write is a whole record or a whole page
 * whose result is read back, and no record names a slot whose package has
 * not verified: a reset at any point leaves a bootable, valid model.
 *
 *   tri_models_init          once: memories, the factory package
 *   tri_models_boot          at every boot: newest valid boot record, boot
 *                            count + 1, a trial found falls back (a reset
 *                            during the trial), the active package verified
 *                            (SHA-256, plan, golden vectors) or fallen back
 *                            from, a new record
 *   tri_models_telecommand   a MODEL_UPLOAD or MODEL_COMMAND packet
 *   tri_models_end_of_pass   an upload still open is truncated
 *   tri_models_active        the package to run (NULL: none)
 *   tri_models_status        the MODEL_STATUS record
 *
 * An upload: segments in order into the staging buffer (PSRAM); once whole,
 * the unit's key, MAC and sequence number; the package's structure, CRC,
 * ABI, kernels, spec, scratch at the widest frame; then the slot that is
 * neither active nor the fallback is marked empty, erased, programmed and
 * read back; the golden vectors run from it; a record puts it on trial
 * (active, the old one its fallback). A MODEL_COMMAND commits the trial,
 * rolls back, or goes to the factory default. Every refusal is counted by
 * reason (WF_REFUSAL_*) and leaves the previous model running.
 *
 * Memory: the caller owns all of it - the model flash, the staging buffer
 * (at least the unit of the largest package: WF_MAX_UNIT_BYTES fits any),
 * and the streaming scratch the self-tests use and the frame pipeline will
 * (the ARENA check: a plan must fit it at frame_cols); every buffer 8-byte
 * aligned.
 */
#ifndef TRI_MODELS_H
#define TRI_MODELS_H

#include <stddef.h>
#include <stdint.h>

#include "tri_flash.h"
#include "tri_package.h"
#include "tri_status.h"
#include "wire_format.h"

/* What the manager writes when a flash operation runs (tri_flash_t.stage),
 * named in the reset drills' reports. */
enum {
    TRI_MSTAGE_IDLE = 0,
    TRI_MSTAGE_BOOT = 1,       /* the boot record of a boot */
    TRI_MSTAGE_CONSUME = 2,    /* a refused unit's sequence number */
    TRI_MSTAGE_INVALIDATE = 3, /* the target slot marked empty (and the number consumed) */
    TRI_MSTAGE_ERASE = 4,      /* the target slot's sectors erased */
    TRI_MSTAGE_PROGRAM = 5,    /* the package programmed, page by page */
    TRI_MSTAGE_SWITCH = 6,     /* the record that puts the new model on trial */
    TRI_MSTAGE_COMMAND = 7,    /* a command's record: commit, roll back, factory */
    TRI_MSTAGE_COUNT = 8
};

/* A boot record, decoded (BOOT_RECORD). */
typedef struct {
    uint32_t model_id; /* 0: empty */
    uint32_t bytes;
    uint8_t sha256[WF_MODEL_HASH_BYTES]; /* of the package's bytes */
} tri_slot_rec_t;

typedef struct {
    uint8_t active, previous, trial, last_event; /* WF_SLOT_*, WF_REFUSAL_* */
    uint32_t generation, boot_count, arsn;
    tri_slot_rec_t slot[2]; /* A, B */
} tri_boot_rec_t;

typedef struct {
    tri_flash_t flash;
    const uint8_t *factory;
    uint32_t factory_bytes;
    uint8_t *staging;
    uint32_t staging_bytes;
    void *scratch;
    size_t scratch_bytes;
    uint32_t frame_cols;
    /* the newest boot record and where it is */
    tri_boot_rec_t rec;
    uint32_t rec_sector, rec_index;
    uint8_t have_rec;
    uint8_t booted;
    uint8_t factory_ok; /* the factory package verified at this boot */
    uint8_t key_count;  /* keys of a valid key store (0: none: every unit refused) */
    /* the active model */
    tri_package_t active;
    uint8_t active_pkg_sha256[WF_MODEL_HASH_BYTES];
    size_t active_need; /* its scratch at frame_cols */
    /* the upload being received */
    uint8_t receiving;
    uint16_t up_next, up_count;
    uint32_t up_arsn, up_bytes, up_received;
    uint32_t dropped_arsn; /* an upload refused mid-way: its later segments are dropped */
    /* since boot */
    uint32_t refusals[WF_REFUSAL_COUNT];
    uint32_t uploads, accepted, commits, fallbacks, commands;
    uint8_t last_refusal, boot_fallback;
    uint32_t last_refusal_arsn;
} tri_models_t;

/*
 * flash: the model flash (WF_MODEL_FLASH_BYTES, layout WF_FLASH_*), as it
 * is (it persists across resets); factory: the factory package or NULL;
 * staging: the upload buffer; scratch: the streaming scratch (the plan's
 * need at frame_cols must fit it). Nothing is read until tri_models_boot.
 */
tri_status_t tri_models_init(tri_models_t *m, uint8_t *flash, uint32_t flash_bytes,
                             const uint8_t *factory, uint32_t factory_bytes, uint8_t *staging,
                             uint32_t staging_bytes, void *scratch, size_t scratch_bytes,
                             uint32_t frame_cols);

/* The boot procedure above; TRI_OK whenever a record could be written
 * (even with no model: tri_models_active then returns NULL), TRI_ERR_IO when
 * the model flash could not be written (the model chosen still runs). */
tri_status_t tri_models_boot(tri_models_t *m);

/* One telecommand packet of APID WF_APID_MODEL_UPLOAD or
 * WF_APID_MODEL_COMMAND: TRI_OK when taken (a segment stored, a package on
 * trial, a command carried out), else the status of the refusal, which is
 * counted (tri_models_status). */
tri_status_t tri_models_telecommand(tri_models_t *m, const uint8_t *packet, size_t len);

/* The pass is over: an upload not yet whole is refused (TRUNCATED). */
tri_status_t tri_models_end_of_pass(tri_models_t *m);

/* The active model's package (its plan to bind with tnn_stream_begin), or
 * NULL when there is none. */
const tri_package_t *tri_models_active(const tri_models_t *m);

/* The MODEL_STATUS record (WF_MODEL_STATUS_SIZE bytes). */
void tri_models_status(const tri_models_t *m, uint8_t *out);

/* Boots since the model flash was provisioned (the directories' boot count
 * is its low 16 bits: tri_onboard_set_boot_count). */
uint32_t tri_models_boot_count(const tri_models_t *m);

#endif /* TRI_MODELS_H */
