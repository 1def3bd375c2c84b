#include "tri_status.h"

const char *tri_status_str(tri_status_t status)
{
    switch (status) {
    case TRI_OK:
        return "ok";
    case TRI_ERR_ARG:
        return "argument error";
    case TRI_ERR_NO_IMPL:
        return "not implemented";
    case TRI_ERR_ALIGN:
        return "misaligned buffer";
    case TRI_ERR_SIZE:
        return "buffer too small";
    case TRI_ERR_SHAPE:
        return "inconsistent shape";
    case TRI_ERR_FORMAT:
        return "malformed input";
    case TRI_ERR_CRC:
        return "CRC mismatch";
    case TRI_ERR_FULL:
        return "store full";
    case TRI_ERR_IO:
        return "I/O error";
    case TRI_ERR_NODATA:
        return "no valid data";
    }
    return "unknown status";
}
