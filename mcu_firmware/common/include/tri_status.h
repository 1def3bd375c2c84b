/*
 * tri_status.h - the one status type returned by every fallible entry point
 * of the firmware (engine, kernels, triage application, ports).
 *
 * Zero is success; every error is negative so that callers can write
 * `if (st != TRI_OK)` or `if (st < 0)`. Codes are stable: they cross the
 * host bindings (ctypes) and appear in logs and test expectations.
 */
#ifndef TRI_STATUS_H
#define TRI_STATUS_H

typedef enum {
    TRI_OK = 0,
    TRI_ERR_ARG = -1,      /* null pointer or argument out of its legal range */
    TRI_ERR_NO_IMPL = -2,  /* operator, type or feature not implemented */
    TRI_ERR_ALIGN = -3,    /* buffer not aligned as required */
    TRI_ERR_SIZE = -4,     /* buffer, arena or store too small */
    TRI_ERR_SHAPE = -5,    /* tensor or frame geometry inconsistent */
    TRI_ERR_FORMAT = -6,   /* malformed model, metadata, header or packet */
    TRI_ERR_CRC = -7,      /* checksum mismatch */
    TRI_ERR_FULL = -8,     /* product store full (lowest priority evicted) */
    TRI_ERR_IO = -9,       /* port-level input/output failure */
    TRI_ERR_NODATA = -10   /* frame holds no valid data (every tile no-data) */
} tri_status_t;

/* A short, constant, human-readable name for a status code. */
const char *tri_status_str(tri_status_t status);

#endif /* TRI_STATUS_H */
