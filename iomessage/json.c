/* ioMessage JSON embodiment (agent.md §1.2, §2.3). */
#include "iomessage/fields.h"

#include "common/base64.h"
#include "common/utf8.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Key order of the classic agent's Message.toJson. */
static const char *const json_order[] = {
    "id",          "tag",          "groupid", "sequencenumber",   "sequencetotal", "priority",
    "timestamp",   "publisher",    "authid",  "authgroup",        "version",       "chainposition",
    "hash",        "previoushash", "nonce",   "difficultytarget", "infotype",      "infoformat",
    "contextdata", "contentdata",
};

static const struct msg_field *field_by_name(const char *name) {
    for (size_t i = 0; i < MSG_FIELD_COUNT; i++) {
        if (strcmp(iof_msg_fields[i].name, name) == 0) {
            return &iof_msg_fields[i];
        }
    }
    return NULL;
}

static json_t *field_json(const struct iof_msg *msg, const struct msg_field *f) {
    if (f->kind == FIELD_STR) {
        const char *s = iof_msg_field_str(msg, f);
        return json_stringn(s, strlen(s));
    }
    if (f->kind == FIELD_INT) {
        return json_integer((json_int_t)iof_msg_field_int(msg, f));
    }
    struct msg_span s = iof_msg_field_data(msg, f);
    size_t n = iof_base64_encoded_len(s.n) + 1;
    char *text = malloc(n);
    if (text == NULL) {
        return NULL;
    }
    json_t *v = NULL;
    if (iof_base64_encode(s.p, s.n, text, n) == IOF_OK) {
        v = json_stringn(text, n - 1);
    }
    free(text);
    return v;
}

iof_err iof_msg_to_json(const struct iof_msg *msg, json_t **out, struct iof_diag *d) {
    for (size_t i = 0; i < MSG_FIELD_COUNT; i++) {
        const struct msg_field *f = &iof_msg_fields[i];
        if (f->kind == FIELD_STR) {
            const char *s = iof_msg_field_str(msg, f);
            if (!iof_utf8_valid(s, strlen(s))) {
                return iof_fail(d, IOF_EINVAL, "field '%s' is not valid UTF-8", f->name);
            }
        }
    }
    json_t *obj = json_object();
    if (obj == NULL) {
        return iof_fail(d, IOF_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < sizeof json_order / sizeof json_order[0]; i++) {
        const char *key = json_order[i];
        const struct msg_field *f = field_by_name(key);
        json_t *v = f != NULL ? field_json(msg, f) : json_integer((json_int_t)msg->version);
        if (v == NULL || json_object_set_new(obj, key, v) != 0) {
            json_decref(obj);
            return iof_fail(d, IOF_ENOMEM, "out of memory");
        }
    }
    *out = obj;
    return IOF_OK;
}

/* Reads an integer given as a JSON number or as a string of digits (with an optional sign and,
 * when allow_fraction, a decimal part that is dropped). */
static iof_err read_int(const json_t *v, bool allow_fraction, int64_t *out) {
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return IOF_OK;
    }
    if (json_is_real(v)) {
        double r = json_real_value(v);
        if (!isfinite(r) || (!allow_fraction && r != floor(r)) || r < -9223372036854775808.0 ||
            r >= 9223372036854775808.0) {
            return IOF_EINVAL;
        }
        *out = (int64_t)r;
        return IOF_OK;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        const char *p = s;
        if (*p == '-' || *p == '+') {
            p++;
        }
        size_t digits = strspn(p, "0123456789");
        if (digits == 0) {
            return IOF_EINVAL;
        }
        const char *rest = p + digits;
        if (*rest == '.' && allow_fraction && strspn(rest + 1, "0123456789") > 0 &&
            rest[1 + strspn(rest + 1, "0123456789")] == '\0') {
            /* fraction dropped */
        } else if (*rest != '\0') {
            return IOF_EINVAL;
        }
        errno = 0;
        long long x = strtoll(s, NULL, 10);
        if (errno != 0) {
            return IOF_EINVAL;
        }
        *out = (int64_t)x;
        return IOF_OK;
    }
    return IOF_EINVAL;
}

iof_err iof_msg_from_json(const json_t *obj, struct iof_msg **out, struct iof_diag *d) {
    if (!json_is_object(obj)) {
        return iof_fail(d, IOF_EINVAL, "an ioMessage must be a JSON object");
    }
    struct msg_span spans[MSG_FIELD_COUNT] = {{0}};
    int64_t ints[MSG_FIELD_COUNT] = {0};
    uint8_t *decoded[MSG_FIELD_COUNT] = {0};
    iof_err err = IOF_OK;
    int64_t version = IOF_MSG_VERSION;

    const json_t *jv = json_object_get(obj, "version");
    if (jv != NULL && !json_is_null(jv) && read_int(jv, false, &version) != IOF_OK) {
        return iof_fail(d, IOF_EINVAL, "Invalid format for field 'version'");
    }
    for (size_t i = 0; i < MSG_FIELD_COUNT && err == IOF_OK; i++) {
        const struct msg_field *f = &iof_msg_fields[i];
        const json_t *v = json_object_get(obj, f->name);
        if (v == NULL || json_is_null(v)) {
            continue;
        }
        if (f->kind == FIELD_INT) {
            bool frac = strcmp(f->name, "difficultytarget") == 0;
            if (read_int(v, frac, &ints[i]) != IOF_OK || !iof_msg_int_in_range(f->width, ints[i])) {
                err = iof_fail(d, IOF_EINVAL, "Invalid format for field '%s'", f->name);
            }
            continue;
        }
        if (!json_is_string(v)) {
            err = iof_fail(d, IOF_EINVAL, "Invalid format for field '%s'", f->name);
            continue;
        }
        const char *s = json_string_value(v);
        size_t n = json_string_length(v);
        if (f->kind == FIELD_STR) {
            if (n > (f->len_bytes == 1 ? 0xFFu : 0xFFFFu) || !iof_utf8_valid(s, n)) {
                err = iof_fail(d, IOF_EINVAL, "Invalid format for field '%s'", f->name);
                continue;
            }
            spans[i].p = s;
            spans[i].n = n;
            continue;
        }
        size_t cap = iof_base64_decoded_max(n);
        decoded[i] = malloc(cap > 0 ? cap : 1);
        if (decoded[i] == NULL) {
            err = iof_fail(d, IOF_ENOMEM, "out of memory");
            continue;
        }
        if (iof_base64_decode(s, n, decoded[i], cap, &spans[i].n) != IOF_OK) {
            err = iof_fail(d, IOF_EINVAL, "Invalid base64 in field '%s'", f->name);
            continue;
        }
        spans[i].p = decoded[i];
    }
    if (err == IOF_OK && iof_msg_pack(spans, ints, version, out) != IOF_OK) {
        err = iof_fail(d, IOF_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < MSG_FIELD_COUNT; i++) {
        free(decoded[i]);
    }
    return err;
}
