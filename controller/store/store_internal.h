/* Pieces shared by the store_*.c files: the store struct and helpers for copying row values into
 * owned structs and growing result arrays. Private to controller/store/.
 *
 * Rule for every store function: never open a transaction itself (the caller may hold one, and
 * transactions do not nest); what must be atomic is done in one statement. */
#ifndef CTL_STORE_INTERNAL_H
#define CTL_STORE_INTERNAL_H

#include "controller/store/db.h"
#include "controller/store/store.h"

#include <stdbool.h>
#include <stddef.h>

struct ctl_store {
    struct ctl_db *db;
};

/* Copies values out of one row; remembers an allocation failure instead of failing each call. */
struct ctl_store_reader {
    const struct ctl_db_row *row;
    bool oom;
};

/* A heap copy of column col, NULL for SQL NULL (and on allocation failure, which sets r->oom). */
char *ctl_store_read_text(struct ctl_store_reader *r, size_t col);

/* Makes room for one more element in the array arr holding n elements of size elem with capacity
 * *cap, growing by doubling. On success *out is the (possibly moved) array and *cap its capacity;
 * IOF_ENOMEM leaves arr and *cap as they were. */
IOF_NODISCARD iof_err ctl_store_grow(void *arr, size_t *cap, size_t n, size_t elem, void **out);

#endif
