/* The model flash as NOR flash (tri_flash.h). */
#include "tri_flash.h"

#include <string.h>

tri_status_t tri_flash_init(tri_flash_t *f, uint8_t *base, uint32_t bytes, uint32_t sector_bytes)
{
    if (f == NULL || base == NULL || sector_bytes == 0u ||
        (sector_bytes & (sector_bytes - 1u)) != 0u || bytes % sector_bytes != 0u) {
        return TRI_ERR_ARG;
    }
    memset(f, 0, sizeof *f);
    f->base = base;
    f->bytes = bytes;
    f->sector_bytes = sector_bytes;
    return TRI_OK;
}

/* Counts one operation; 0: carry it out whole, 1: the injected fault (cut
 * it as fail_mode says), -1: the flash is dead (do nothing). */
static int next_op(tri_flash_t *f)
{
    if (f->dead != 0u) {
        return -1;
    }
    f->ops++;
    return f->fail_at != 0u && f->ops == f->fail_at ? 1 : 0;
}

static void fire(tri_flash_t *f)
{
    f->dead = 1u;
    f->fault_stage = f->stage;
    if (f->on_fault != NULL) {
        f->on_fault(f->fault_ctx);
    }
}

tri_status_t tri_flash_erase(tri_flash_t *f, uint32_t offset, uint32_t bytes)
{
    uint32_t at;
    if (f == NULL || offset % f->sector_bytes != 0u || bytes % f->sector_bytes != 0u ||
        offset > f->bytes || bytes > f->bytes - offset) {
        return TRI_ERR_ARG;
    }
    for (at = offset; at < offset + bytes; at += f->sector_bytes) {
        const int op = next_op(f);
        if (op < 0) {
            return TRI_ERR_IO;
        }
        if (op > 0) {
            const uint32_t n = f->fail_mode == TRI_FLASH_TEAR ? f->sector_bytes / 2u
                                                              : f->sector_bytes;
            memset(f->base + at, 0xFF, n);
            fire(f);
            return TRI_ERR_IO;
        }
        memset(f->base + at, 0xFF, f->sector_bytes);
    }
    return TRI_OK;
}

tri_status_t tri_flash_program(tri_flash_t *f, uint32_t offset, const void *data, uint32_t n)
{
    const uint8_t *src = (const uint8_t *)data;
    uint32_t done = 0u;
    if (f == NULL || (data == NULL && n > 0u) || offset > f->bytes || n > f->bytes - offset) {
        return TRI_ERR_ARG;
    }
    while (done < n) {
        /* a page program stays within its page */
        const uint32_t at = offset + done;
        const uint32_t room = TRI_FLASH_PAGE_BYTES - at % TRI_FLASH_PAGE_BYTES;
        const uint32_t len = n - done < room ? n - done : room;
        const int op = next_op(f);
        uint32_t i;
        uint32_t upto = len;
        if (op < 0) {
            return TRI_ERR_IO;
        }
        if (op > 0 && f->fail_mode == TRI_FLASH_TEAR) {
            upto = len / 2u;
        }
        for (i = 0; i < upto; i++) {
            f->base[at + i] = (uint8_t)(f->base[at + i] & src[done + i]);
        }
        if (op > 0) {
            fire(f);
            return TRI_ERR_IO;
        }
        if (memcmp(f->base + at, src + done, len) != 0) {
            return TRI_ERR_IO;
        }
        done += len;
    }
    return TRI_OK;
}

const uint8_t *tri_flash_at(const tri_flash_t *f, uint32_t offset)
{
    return f->base + offset;
}

int tri_flash_blank(const tri_flash_t *f, uint32_t offset, uint32_t n)
{
    uint32_t i;
    for (i = 0; i < n; i++) {
        if (f->base[offset + i] != 0xFFu) {
            return 0;
        }
    }
    return 1;
}
