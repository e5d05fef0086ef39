/* jansson wrappers. */
#include "common/json.h"

#include "common/utf8.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

iof_err iof_json_parse(const char *data, size_t len, json_t **out, struct iof_diag *d) {
    return iof_json_parse_repair(data, len, out, NULL, d);
}

iof_err iof_json_parse_repair(
    const char *data, size_t len, json_t **out, size_t *replaced, struct iof_diag *d) {
    json_error_t e;
    /* Duplicate keys: the last one wins, as JavaScript's JSON.parse (classic Controller) and
     * Jackson (classic Agent) do; jansson's default replaces the earlier value. */
    json_t *v = json_loadb(data, len, JSON_DECODE_ANY, &e);
    if (replaced != NULL) {
        *replaced = 0;
    }
    if (v == NULL && json_error_code(&e) == json_error_invalid_utf8) {
        /* Classic servers decode the body as UTF-8 with replacement before parsing. */
        size_t n = 0, count = 0;
        char *fixed = iof_utf8_repair(data, len, &n, &count);
        if (fixed == NULL) {
            return iof_fail(d, IOF_ENOMEM, "out of memory");
        }
        v = json_loadb(fixed, n, JSON_DECODE_ANY, &e);
        free(fixed);
        if (v != NULL && replaced != NULL) {
            *replaced = count;
        }
    }
    if (v == NULL) {
        return iof_fail(
            d, IOF_EINVAL, "Invalid JSON at line %d column %d: %s", e.line, e.column, e.text);
    }
    *out = v;
    return IOF_OK;
}

iof_err iof_json_parse_object(const char *data, size_t len, json_t **out, struct iof_diag *d) {
    json_t *v;
    iof_err err = iof_json_parse(data, len, &v, d);
    if (err != IOF_OK) {
        return err;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        return iof_fail(d, IOF_EINVAL, "Invalid JSON: expected an object");
    }
    *out = v;
    return IOF_OK;
}

/* Looks up key; IOF_OK with *v NULL when absent/null and optional. */
static iof_err lookup(
    const json_t *obj, const char *key, enum iof_json_need need, json_t **v, struct iof_diag *d) {
    json_t *x = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    if (x == NULL || json_is_null(x)) {
        *v = NULL;
        if (need == IOF_JSON_REQUIRED) {
            return iof_fail(d, IOF_EINVAL, "Required field '%s' is missing", key);
        }
        return IOF_OK;
    }
    *v = x;
    return IOF_OK;
}

static iof_err bad_format(struct iof_diag *d, const char *key) {
    return iof_fail(d, IOF_EINVAL, "Invalid format for field '%s'", key);
}

iof_err iof_json_get_string(const json_t *obj,
                            const char *key,
                            enum iof_json_need need,
                            const char **out,
                            struct iof_diag *d) {
    json_t *v;
    iof_err err = lookup(obj, key, need, &v, d);
    if (err != IOF_OK || v == NULL) {
        return err;
    }
    if (!json_is_string(v)) {
        return bad_format(d, key);
    }
    *out = json_string_value(v);
    return IOF_OK;
}

iof_err iof_json_get_int(
    const json_t *obj, const char *key, enum iof_json_need need, int64_t *out, struct iof_diag *d) {
    json_t *v;
    iof_err err = lookup(obj, key, need, &v, d);
    if (err != IOF_OK || v == NULL) {
        return err;
    }
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return IOF_OK;
    }
    if (json_is_real(v)) {
        double r = json_real_value(v);
        /* 2^63 is exactly representable; anything at or beyond it does not fit in int64. */
        if (r == floor(r) && r >= -9223372036854775808.0 && r < 9223372036854775808.0) {
            *out = (int64_t)r;
            return IOF_OK;
        }
    }
    return bad_format(d, key);
}

iof_err iof_json_get_number(
    const json_t *obj, const char *key, enum iof_json_need need, double *out, struct iof_diag *d) {
    json_t *v;
    iof_err err = lookup(obj, key, need, &v, d);
    if (err != IOF_OK || v == NULL) {
        return err;
    }
    if (!json_is_number(v)) {
        return bad_format(d, key);
    }
    *out = json_number_value(v);
    return IOF_OK;
}

iof_err iof_json_get_bool(
    const json_t *obj, const char *key, enum iof_json_need need, bool *out, struct iof_diag *d) {
    json_t *v;
    iof_err err = lookup(obj, key, need, &v, d);
    if (err != IOF_OK || v == NULL) {
        return err;
    }
    if (!json_is_boolean(v)) {
        return bad_format(d, key);
    }
    *out = json_is_true(v);
    return IOF_OK;
}

iof_err iof_json_get_object(const json_t *obj,
                            const char *key,
                            enum iof_json_need need,
                            const json_t **out,
                            struct iof_diag *d) {
    json_t *v;
    iof_err err = lookup(obj, key, need, &v, d);
    if (err != IOF_OK || v == NULL) {
        return err;
    }
    if (!json_is_object(v)) {
        return bad_format(d, key);
    }
    *out = v;
    return IOF_OK;
}

iof_err iof_json_get_array(const json_t *obj,
                           const char *key,
                           enum iof_json_need need,
                           const json_t **out,
                           struct iof_diag *d) {
    json_t *v;
    iof_err err = lookup(obj, key, need, &v, d);
    if (err != IOF_OK || v == NULL) {
        return err;
    }
    if (!json_is_array(v)) {
        return bad_format(d, key);
    }
    *out = v;
    return IOF_OK;
}

iof_err iof_json_dump(const json_t *value, char **out, size_t *len) {
    char *s = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
    if (s == NULL) {
        return IOF_ENOMEM;
    }
    if (len != NULL) {
        *len = strlen(s);
    }
    *out = s;
    return IOF_OK;
}
