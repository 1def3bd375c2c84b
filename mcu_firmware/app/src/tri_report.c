/*
 * tri_report.c - the per-frame report and the lifetime counters as packed
 * words and named fields (tri_report.h), and the frame record
 * (tri_onboard_frame_record: the report, then the tile grid).
 */
#include "tri_report.h"

#include <stddef.h>

#include "tri_be.h"
#include "tri_onboard.h"

#define NCLASSES ((uint32_t)TRI_CFG_NUM_CLASSES)

typedef struct {
    const char *name;
    uint8_t by_class; /* one word per class */
} field_t;

#define FIELD_ONE(name) {#name, 0u},
#define FIELD_BY_CLASS(name) {#name, 1u},
static const field_t report_fields[] = {TRI_REPORT_FIELDS(FIELD_ONE, FIELD_BY_CLASS)};

#define FIELD_NAME(name) #name,
static const char *const counter_names[] = {TRI_COUNTER_FIELDS(FIELD_NAME)};

#define WORDS_ONE(name) +1u
#define WORDS_BY_CLASS(name) +NCLASSES
#define REPORT_WORDS (0u TRI_REPORT_FIELDS(WORDS_ONE, WORDS_BY_CLASS))

/* Every report field is u32 words: the packed words are the struct's. */
typedef char report_words_match[sizeof(tri_frame_report_t) == 4u * REPORT_WORDS ? 1 : -1];

uint32_t tri_frame_report_words(void)
{
    return REPORT_WORDS;
}

uint32_t tri_onboard_counter_words(void)
{
    return (uint32_t)(sizeof counter_names / sizeof counter_names[0]);
}

const char *tri_frame_report_field(uint32_t index, int32_t *class_id)
{
    uint32_t first = 0; /* the first word of field f */
    size_t f;
    for (f = 0; f < sizeof report_fields / sizeof report_fields[0]; f++) {
        uint32_t n = report_fields[f].by_class != 0u ? NCLASSES : 1u;
        if (index < first + n) {
            if (class_id != NULL) {
                *class_id = report_fields[f].by_class != 0u ? (int32_t)(index - first) : -1;
            }
            return report_fields[f].name;
        }
        first += n;
    }
    if (class_id != NULL) {
        *class_id = -1;
    }
    return NULL;
}

const char *tri_onboard_counter_field(uint32_t index)
{
    return index < tri_onboard_counter_words() ? counter_names[index] : NULL;
}

#define PACK_ONE(name)                                                                             \
    tri_put_be32(out + i, src->name);                                                              \
    i += 4u;
#define PACK_BY_CLASS(name)                                                                        \
    for (k = 0; k < NCLASSES; k++) {                                                               \
        tri_put_be32(out + i, src->name[k]);                                                       \
        i += 4u;                                                                                   \
    }

void tri_frame_report_pack(const tri_frame_report_t *src, uint8_t *out)
{
    size_t i = 0;
    uint32_t k;
    TRI_REPORT_FIELDS(PACK_ONE, PACK_BY_CLASS)
}

void tri_onboard_counters_pack(const tri_onboard_counters_t *src, uint8_t *out)
{
    size_t i = 0;
    TRI_COUNTER_FIELDS(PACK_ONE)
}

tri_status_t tri_onboard_frame_record(const tri_onboard_t *ob, const tri_frame_report_t *report,
                                      const tri_sink_t *sink)
{
    uint8_t words[sizeof(tri_frame_report_t)];
    const uint8_t *cls;
    const uint8_t *conf;
    const uint8_t *act;
    uint32_t n;
    tri_status_t st;
    if (ob == NULL || report == NULL || sink == NULL || sink->write == NULL || ob->work == NULL) {
        return TRI_ERR_ARG;
    }
    tri_frame_report_pack(report, words);
    n = tri_onboard_grid(ob, &cls, &conf, &act);
    st = sink->write(sink->ctx, words, 4u * tri_frame_report_words());
    if (st == TRI_OK && n > 0u) {
        st = sink->write(sink->ctx, cls, n);
    }
    if (st == TRI_OK && n > 0u) {
        st = sink->write(sink->ctx, conf, n);
    }
    if (st == TRI_OK && n > 0u) {
        st = sink->write(sink->ctx, act, n);
    }
    return st;
}
