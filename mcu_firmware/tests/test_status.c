#include <string.h>

#include "tri_status.h"
#include "tt.h"

TT_TEST(status_names_are_distinct)
{
    static const tri_status_t codes[] = {TRI_OK,         TRI_ERR_ARG,   TRI_ERR_NO_IMPL,
                                         TRI_ERR_ALIGN,  TRI_ERR_SIZE,  TRI_ERR_SHAPE,
                                         TRI_ERR_FORMAT, TRI_ERR_CRC,   TRI_ERR_FULL,
                                         TRI_ERR_IO};
    size_t i;
    size_t j;
    for (i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        TT_CHECK(strcmp(tri_status_str(codes[i]), "unknown status") != 0);
        for (j = i + 1; j < sizeof codes / sizeof codes[0]; j++) {
            TT_CHECK(strcmp(tri_status_str(codes[i]), tri_status_str(codes[j])) != 0);
        }
    }
}

TT_TEST(status_unknown_code_is_named)
{
    TT_CHECK(strcmp(tri_status_str((tri_status_t)-99), "unknown status") == 0);
    TT_CHECK_EQ(TRI_OK, 0);
}
