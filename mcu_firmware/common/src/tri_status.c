/*
 * tri_status.c - the names of the status codes (tri_status.h, generated from
 * the contract's Status table).
 */
#include "tri_status.h"

#define TRI_STATUS_CASE(code, name)                                                                \
    case code:                                                                                     \
        return name;

const char *tri_status_str(tri_status_t status)
{
    switch (status) {
        TRI_STATUS_LIST(TRI_STATUS_CASE)
    }
    return "unknown status";
}
