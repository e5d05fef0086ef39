/* The store's lifetime (open = connect + migrate, close) and the helpers shared by the store_*.c
 * files. */
#include "controller/store/store.h"

#include "controller/store/store_internal.h"

#include <stdlib.h>
#include <string.h>

iof_err ctl_store_open(const char *url_or_path, struct ctl_store **out, struct iof_diag *d) {
    struct ctl_store *store = calloc(1, sizeof *store);
    if (store == NULL) {
        return iof_fail(d, IOF_ENOMEM, "store: out of memory");
    }
    iof_err err = ctl_db_open(url_or_path, &store->db, d);
    if (err == IOF_OK) {
        err = ctl_db_migrate(store->db, d);
    }
    if (err != IOF_OK) {
        ctl_db_close(store->db);
        free(store);
        return err;
    }
    *out = store;
    return IOF_OK;
}

void ctl_store_close(struct ctl_store *store) {
    if (store == NULL) {
        return;
    }
    ctl_db_close(store->db);
    free(store);
}

struct ctl_db *ctl_store_db(struct ctl_store *store) {
    return store->db;
}

char *ctl_store_read_text(struct ctl_store_reader *r, size_t col) {
    const char *t = ctl_db_row_text(r->row, col);
    if (t == NULL) {
        return NULL;
    }
    char *copy = strdup(t);
    if (copy == NULL) {
        r->oom = true;
    }
    return copy;
}

iof_err ctl_store_grow(void *arr, size_t *cap, size_t n, size_t elem, void **out) {
    if (n < *cap) {
        *out = arr;
        return IOF_OK;
    }
    size_t new_cap = *cap == 0 ? 8 : *cap * 2;
    if (new_cap > SIZE_MAX / elem) {
        return IOF_ENOMEM;
    }
    void *p = realloc(arr, new_cap * elem);
    if (p == NULL) {
        return IOF_ENOMEM;
    }
    *out = p;
    *cap = new_cap;
    return IOF_OK;
}
