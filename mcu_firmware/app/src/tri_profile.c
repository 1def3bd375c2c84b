/*
 * tri_profile.c - the stage names of tri_profile.h.
 */
#include "tri_profile.h"

#include <stddef.h>

#define TRI_PROFILE_NAME(name) #name,
static const char *const stage_names[] = {TRI_PROFILE_STAGES(TRI_PROFILE_NAME)};

const char *tri_profile_stage(uint32_t i)
{
    return i < (uint32_t)TRI_STAGE_COUNT ? stage_names[i] : NULL;
}
