/*
 * tri_models_priv.h - what the model manager's two halves share (private to
 * the application): tri_models.c keeps the boot record and the slots,
 * tri_uplink.c takes the telecommands and authenticates their units.
 */
#ifndef TRI_MODELS_PRIV_H
#define TRI_MODELS_PRIV_H

#include "tri_models.h"

/* Counts a refusal (reason WF_REFUSAL_*) of the unit with sequence number
 * arsn (0: none) and returns status. */
tri_status_t tri_models_refuse(tri_models_t *m, uint8_t reason, uint32_t arsn,
                               tri_status_t status);

/* Appends boot record r (its generation set here) to the log; on success it
 * becomes m->rec. stage: TRI_MSTAGE_*. */
tri_status_t tri_models_write_record(tri_models_t *m, tri_boot_rec_t *r, uint8_t stage);

/* A whole, authenticated unit holding a package (in the staging buffer,
 * sequence number arsn, not yet consumed): the checks, staging into a slot,
 * the self-test and the switch to trial. */
tri_status_t tri_models_take_package(tri_models_t *m, const uint8_t *pkg, uint32_t bytes,
                                     uint32_t arsn);

/* An authenticated MODEL_COMMAND record (sequence number arsn, not yet
 * consumed). */
tri_status_t tri_models_take_command(tri_models_t *m, const uint8_t *record, uint32_t arsn);

#endif /* TRI_MODELS_PRIV_H */
