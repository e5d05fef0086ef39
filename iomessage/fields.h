/* The ioMessage field table shared by the binary and JSON codecs (private to this module).
 * Order is the wire order of agent.md §2.2. */
#ifndef IOF_IOMESSAGE_FIELDS_H
#define IOF_IOMESSAGE_FIELDS_H

#include "iomessage/iomessage.h"

#include <stdbool.h>

enum field_kind { FIELD_STR, FIELD_INT, FIELD_DATA };

struct msg_field {
    const char *name;
    enum field_kind kind;
    unsigned len_bytes; /* size of the length field in the header: 1, 2 or 4 */
    unsigned width;     /* FIELD_INT: classic encoded width (1, 4 or 8) */
    size_t off;         /* offset of the value (pointer or int64_t) in struct iof_msg */
    size_t off_len;     /* FIELD_DATA: offset of the size_t length */
};

#define MSG_FIELD_COUNT 19
extern const struct msg_field iof_msg_fields[MSG_FIELD_COUNT];

/* A borrowed view of one field value while a message is assembled. */
struct msg_span {
    const void *p;
    size_t n;
};

/* Value range of an integer field of the given classic width. */
bool iof_msg_int_in_range(unsigned width, int64_t v);

/* Makes one allocation holding a message whose string/data fields are copies of spans[i] (for
 * FIELD_STR and FIELD_DATA entries) and whose integers come from ints (indexed like the table),
 * with version. */
iof_err iof_msg_pack(const struct msg_span spans[MSG_FIELD_COUNT],
                     const int64_t ints[MSG_FIELD_COUNT],
                     int64_t version,
                     struct iof_msg **out);

/* Accessors by table entry. */
const char *iof_msg_field_str(const struct iof_msg *m, const struct msg_field *f);
int64_t iof_msg_field_int(const struct iof_msg *m, const struct msg_field *f);
struct msg_span iof_msg_field_data(const struct iof_msg *m, const struct msg_field *f);

#endif
