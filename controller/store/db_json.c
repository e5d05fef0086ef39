/* Rows to JSON objects. */
#include "controller/store/db_json.h"

#include "common/clock.h"

#include <string.h>

static json_t *column_json(const struct ctl_db_row *row, size_t col, const char *tag) {
    if (ctl_db_row_is_null(row, col)) {
        return json_null();
    }
    if (strcmp(tag, "bool") == 0) {
        return json_boolean(ctl_db_row_int(row, col) != 0);
    }
    if (strcmp(tag, "json") == 0) {
        const char *text = ctl_db_row_text(row, col);
        json_t *v = text != NULL ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
        return v != NULL ? v : json_string(text != NULL ? text : "");
    }
    if (strcmp(tag, "iso") == 0) {
        char ts[32];
        if (iof_time_format_iso8601(ctl_db_row_int(row, col), ts, sizeof ts) != IOF_OK) {
            return json_null();
        }
        return json_string(ts);
    }
    switch (ctl_db_row_type(row, col)) {
        case CTL_DB_INT: return json_integer((json_int_t)ctl_db_row_int(row, col));
        case CTL_DB_REAL: return json_real(ctl_db_row_real(row, col));
        case CTL_DB_TEXT: {
            const char *text = ctl_db_row_text(row, col);
            return json_string(text != NULL ? text : "");
        }
        default: return json_null();
    }
}

static iof_err row_to_json(void *ctx, const struct ctl_db_row *row) {
    json_t *arr = ctx;
    json_t *obj = json_object();
    if (obj == NULL) {
        return IOF_ENOMEM;
    }
    size_t n = ctl_db_row_columns(row);
    for (size_t c = 0; c < n; c++) {
        const char *name = ctl_db_row_name(row, c);
        const char *colon = name != NULL ? strchr(name, ':') : NULL;
        char key[128];
        size_t klen = colon != NULL ? (size_t)(colon - name) : (name != NULL ? strlen(name) : 0);
        if (klen == 0 || klen >= sizeof key) {
            json_decref(obj);
            return IOF_EINTERNAL;
        }
        memcpy(key, name, klen);
        key[klen] = '\0';
        json_t *v = column_json(row, c, colon != NULL ? colon + 1 : "");
        if (v == NULL || json_object_set_new(obj, key, v) != 0) {
            json_decref(obj);
            return IOF_ENOMEM;
        }
    }
    if (json_array_append_new(arr, obj) != 0) {
        return IOF_ENOMEM;
    }
    return IOF_OK;
}

iof_err ctl_db_query_json(struct ctl_db *db,
                          const char *sql,
                          const struct ctl_db_value *params,
                          size_t n_params,
                          json_t **out,
                          struct iof_diag *d) {
    json_t *arr = json_array();
    if (arr == NULL) {
        return iof_fail(d, IOF_ENOMEM, "out of memory");
    }
    iof_err err = ctl_db_exec(db, sql, params, n_params, row_to_json, arr, NULL, d);
    if (err != IOF_OK) {
        json_decref(arr);
        if (err == IOF_ENOMEM) {
            return iof_fail(d, err, "out of memory");
        }
        if (err == IOF_EINTERNAL) {
            return iof_fail(d, err, "a result column has no usable name");
        }
        return err;
    }
    *out = arr;
    return IOF_OK;
}

iof_err ctl_db_query_json_one(struct ctl_db *db,
                              const char *sql,
                              const struct ctl_db_value *params,
                              size_t n_params,
                              const char *not_found,
                              json_t **out,
                              struct iof_diag *d) {
    json_t *arr;
    iof_err err = ctl_db_query_json(db, sql, params, n_params, &arr, d);
    if (err != IOF_OK) {
        return err;
    }
    if (json_array_size(arr) == 0) {
        json_decref(arr);
        return iof_fail(d, IOF_ENOENT, "%s", not_found != NULL ? not_found : "Not found");
    }
    json_t *first = json_incref(json_array_get(arr, 0));
    json_decref(arr);
    *out = first;
    return IOF_OK;
}
