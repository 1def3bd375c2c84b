/*
 * tri_flash.h - the model flash as NOR flash behaves: reads are memory
 * reads, an erase sets a whole sector to 0xFF, programming can only clear
 * bits (a byte becomes old & new) and is read back; every write goes
 * through here, so that the manager never assumes more than a real part
 * gives.
 *
 * On the Cortex-M4 image under QEMU the region is memory at a fixed address
 * (link.ld: MODELFLASH); on the host it is a buffer the caller owns. Both
 * run the same code, including the fault injection below.
 *
 * Fault injection (tests, and the QEMU image's reset drills): operation
 * number `fail_at` (erases of one sector and programs of at most
 * TRI_FLASH_PAGE_BYTES count one each, from 1) is cut short: TRI_FLASH_TEAR
 * leaves it half done (the first half of the page programmed, or the first
 * half of the sector erased), TRI_FLASH_AFTER completes it. Then the flash
 * goes dead - no later operation changes anything, each returns TRI_ERR_IO -
 * and on_fault(ctx) runs: the port's reset (the QEMU image saves its
 * memories and stops; the host test drops the instance and boots a new one
 * from the same bytes).
 */
#ifndef TRI_FLASH_H
#define TRI_FLASH_H

#include <stddef.h>
#include <stdint.h>

#include "tri_status.h"

/* The unit of one program operation (a NOR page). */
#define TRI_FLASH_PAGE_BYTES 256u

enum { TRI_FLASH_TEAR = 1, TRI_FLASH_AFTER = 2 };

typedef struct {
    uint8_t *base;
    uint32_t bytes;
    uint32_t sector_bytes;
    uint32_t ops;      /* operations so far */
    uint32_t fail_at;  /* 0: never */
    uint8_t fail_mode; /* TRI_FLASH_TEAR or TRI_FLASH_AFTER */
    uint8_t dead;      /* the fault fired */
    uint8_t stage;     /* what the writer was doing (tri_models.h: TRI_MSTAGE_*), for reports */
    uint8_t fault_stage;
    void (*on_fault)(void *ctx);
    void *fault_ctx;
} tri_flash_t;

/* A region of `bytes` at base, erase unit sector_bytes (a power of two
 * dividing bytes). */
tri_status_t tri_flash_init(tri_flash_t *f, uint8_t *base, uint32_t bytes, uint32_t sector_bytes);

/* Erases the sectors of [offset, offset + bytes) (both multiples of the
 * sector). */
tri_status_t tri_flash_erase(tri_flash_t *f, uint32_t offset, uint32_t bytes);

/* Programs [offset, offset + n) with data, page by page, and reads it back:
 * TRI_ERR_IO when a byte does not read back as written (it was not erased
 * where data has a 1 bit), TRI_ERR_ARG outside the region. */
tri_status_t tri_flash_program(tri_flash_t *f, uint32_t offset, const void *data, uint32_t n);

/* The bytes at offset (memory-mapped). */
const uint8_t *tri_flash_at(const tri_flash_t *f, uint32_t offset);

/* 1 when [offset, offset + n) reads all 0xFF. */
int tri_flash_blank(const tri_flash_t *f, uint32_t offset, uint32_t n);

#endif /* TRI_FLASH_H */
