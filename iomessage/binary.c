/* ioMessage binary codec (agent.md §2.2) and the field table both codecs share. */
#include "iomessage/fields.h"

#include "common/utf8.h"

#include <stdlib.h>
#include <string.h>

#define STR(n, lb)                                                                                 \
    { #n, FIELD_STR, lb, 0, offsetof(struct iof_msg, n), 0 }
#define INT(n, w)                                                                                  \
    { #n, FIELD_INT, 1, w, offsetof(struct iof_msg, n), 0 }
#define DATA(n)                                                                                    \
    { #n, FIELD_DATA, 4, 0, offsetof(struct iof_msg, n), offsetof(struct iof_msg, n##_len) }

const struct msg_field iof_msg_fields[MSG_FIELD_COUNT] = {
    STR(id, 1),
    STR(tag, 2),
    STR(groupid, 1),
    INT(sequencenumber, 4),
    INT(sequencetotal, 4),
    INT(priority, 1),
    INT(timestamp, 8),
    STR(publisher, 1),
    STR(authid, 2),
    STR(authgroup, 2),
    INT(chainposition, 8),
    STR(hash, 2),
    STR(previoushash, 2),
    STR(nonce, 2),
    INT(difficultytarget, 4),
    STR(infotype, 1),
    STR(infoformat, 1),
    DATA(contextdata),
    DATA(contentdata),
};

const char *iof_msg_field_str(const struct iof_msg *m, const struct msg_field *f) {
    const char *s;
    memcpy(&s, (const char *)m + f->off, sizeof s);
    return s != NULL ? s : "";
}

int64_t iof_msg_field_int(const struct iof_msg *m, const struct msg_field *f) {
    int64_t v;
    memcpy(&v, (const char *)m + f->off, sizeof v);
    return v;
}

struct msg_span iof_msg_field_data(const struct iof_msg *m, const struct msg_field *f) {
    struct msg_span s;
    memcpy(&s.p, (const char *)m + f->off, sizeof s.p);
    memcpy(&s.n, (const char *)m + f->off_len, sizeof s.n);
    if (s.p == NULL) {
        s.n = 0;
    }
    return s;
}

bool iof_msg_int_in_range(unsigned width, int64_t v) {
    switch (width) {
        case 1: return v >= INT8_MIN && v <= INT8_MAX;
        case 4: return v >= INT32_MIN && v <= INT32_MAX;
        default: return true;
    }
}

static size_t max_len_for(unsigned len_bytes) {
    return len_bytes == 1 ? 0xFFu : len_bytes == 2 ? 0xFFFFu : 0xFFFFFFFFu;
}

void iof_msg_free(struct iof_msg *msg) {
    free(msg);
}

iof_err iof_msg_validate(const struct iof_msg *msg, struct iof_diag *d) {
    for (size_t i = 0; i < MSG_FIELD_COUNT; i++) {
        const struct msg_field *f = &iof_msg_fields[i];
        if (f->kind == FIELD_STR) {
            const char *s = iof_msg_field_str(msg, f);
            size_t n = strlen(s);
            if (n > max_len_for(f->len_bytes)) {
                return iof_fail(d,
                                IOF_EINVAL,
                                "field '%s' is %zu bytes, more than %zu",
                                f->name,
                                n,
                                max_len_for(f->len_bytes));
            }
            if (!iof_utf8_valid(s, n)) {
                return iof_fail(d, IOF_EINVAL, "field '%s' is not valid UTF-8", f->name);
            }
        } else if (f->kind == FIELD_INT) {
            if (!iof_msg_int_in_range(f->width, iof_msg_field_int(msg, f))) {
                return iof_fail(d, IOF_EINVAL, "field '%s' is out of range", f->name);
            }
        } else {
            struct msg_span s = iof_msg_field_data(msg, f);
            if (s.n > 0xFFFFFFFFu) {
                return iof_fail(d, IOF_EINVAL, "field '%s' is too long", f->name);
            }
        }
    }
    return IOF_OK;
}

/* Bytes an integer takes on the wire. */
static unsigned int_width(const struct msg_field *f, int64_t v, enum iof_msg_width mode) {
    if (mode == IOF_MSG_WIDTH_CLASSIC) {
        return v == 0 ? 0 : f->width;
    }
    if (v < 0) {
        return f->width; /* sign-extended on decode because the width is the classic one */
    }
    unsigned n = 1;
    for (uint64_t u = (uint64_t)v >> 8; u != 0; u >>= 8) {
        n++;
    }
    return n;
}

static size_t
field_size(const struct iof_msg *msg, const struct msg_field *f, enum iof_msg_width mode) {
    switch (f->kind) {
        case FIELD_STR: return strlen(iof_msg_field_str(msg, f));
        case FIELD_INT: return int_width(f, iof_msg_field_int(msg, f), mode);
        default: return iof_msg_field_data(msg, f).n;
    }
}

iof_err iof_msg_encoded_size(const struct iof_msg *msg,
                             enum iof_msg_width width,
                             size_t *out_size,
                             struct iof_diag *d) {
    iof_err err = iof_msg_validate(msg, d);
    if (err != IOF_OK) {
        return err;
    }
    size_t total = IOF_MSG_HEADER_SIZE;
    for (size_t i = 0; i < MSG_FIELD_COUNT; i++) {
        size_t n = field_size(msg, &iof_msg_fields[i], width);
        if (n > IOF_MSG_MAX_SIZE - total) {
            return iof_fail(d, IOF_E2BIG, "message larger than %zu bytes", IOF_MSG_MAX_SIZE);
        }
        total += n;
    }
    *out_size = total;
    return IOF_OK;
}

static void put_be(uint8_t *p, uint64_t v, unsigned n) {
    for (unsigned i = 0; i < n; i++) {
        p[n - 1 - i] = (uint8_t)(v >> (8 * i));
    }
}

static uint64_t get_be(const uint8_t *p, unsigned n) {
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

iof_err iof_msg_encode(const struct iof_msg *msg,
                       enum iof_msg_width width,
                       uint8_t *out,
                       size_t size,
                       size_t *out_len,
                       struct iof_diag *d) {
    size_t total;
    iof_err err = iof_msg_encoded_size(msg, width, &total, d);
    if (err != IOF_OK) {
        return err;
    }
    if (size < total) {
        return iof_fail(d, IOF_E2BIG, "output buffer of %zu bytes, %zu needed", size, total);
    }
    put_be(out, IOF_MSG_VERSION, 2);
    size_t h = 2;
    size_t b = IOF_MSG_HEADER_SIZE;
    for (size_t i = 0; i < MSG_FIELD_COUNT; i++) {
        const struct msg_field *f = &iof_msg_fields[i];
        size_t n = field_size(msg, f, width);
        put_be(out + h, n, f->len_bytes);
        h += f->len_bytes;
        if (f->kind == FIELD_STR) {
            memcpy(out + b, iof_msg_field_str(msg, f), n);
        } else if (f->kind == FIELD_INT) {
            put_be(out + b, (uint64_t)iof_msg_field_int(msg, f), (unsigned)n);
        } else if (n > 0) {
            memcpy(out + b, iof_msg_field_data(msg, f).p, n);
        }
        b += n;
    }
    *out_len = b;
    return IOF_OK;
}

iof_err iof_msg_encode_alloc(const struct iof_msg *msg,
                             enum iof_msg_width width,
                             uint8_t **out,
                             size_t *out_len,
                             struct iof_diag *d) {
    size_t total;
    iof_err err = iof_msg_encoded_size(msg, width, &total, d);
    if (err != IOF_OK) {
        return err;
    }
    uint8_t *buf = malloc(total);
    if (buf == NULL) {
        return iof_fail(d, IOF_ENOMEM, "out of memory encoding a message");
    }
    err = iof_msg_encode(msg, width, buf, total, out_len, d);
    if (err != IOF_OK) {
        free(buf);
        return err;
    }
    *out = buf;
    return IOF_OK;
}

iof_err iof_msg_pack(const struct msg_span spans[MSG_FIELD_COUNT],
                     const int64_t ints[MSG_FIELD_COUNT],
                     int64_t version,
                     struct iof_msg **out) {
    size_t total = sizeof(struct iof_msg);
    for (size_t i = 0; i < MSG_FIELD_COUNT; i++) {
        if (iof_msg_fields[i].kind == FIELD_STR) {
            total += spans[i].n + 1;
        } else if (iof_msg_fields[i].kind == FIELD_DATA) {
            total += spans[i].n;
        }
    }
    struct iof_msg *m = malloc(total);
    if (m == NULL) {
        return IOF_ENOMEM;
    }
    memset(m, 0, sizeof *m);
    m->version = version;
    char *p = (char *)(m + 1);
    for (size_t i = 0; i < MSG_FIELD_COUNT; i++) {
        const struct msg_field *f = &iof_msg_fields[i];
        char *field = (char *)m + f->off;
        if (f->kind == FIELD_INT) {
            memcpy(field, &ints[i], sizeof ints[i]);
            continue;
        }
        const void *value = NULL;
        if (spans[i].n > 0) {
            memcpy(p, spans[i].p, spans[i].n);
        }
        if (f->kind == FIELD_STR) {
            p[spans[i].n] = '\0';
            value = p;
            p += spans[i].n + 1;
        } else {
            value = spans[i].n > 0 ? p : NULL;
            memcpy((char *)m + f->off_len, &spans[i].n, sizeof spans[i].n);
            p += spans[i].n;
        }
        memcpy(field, &value, sizeof value);
    }
    *out = m;
    return IOF_OK;
}

/* Decodes; with repaired non-NULL, ill-formed UTF-8 in string fields becomes U+FFFD (counted in
 * *repaired) instead of an error. */
static iof_err decode(
    const uint8_t *data, size_t len, struct iof_msg **out, size_t *repaired, struct iof_diag *d) {
    if (len > IOF_MSG_MAX_SIZE) {
        return iof_fail(d, IOF_E2BIG, "message of %zu bytes, more than %zu", len, IOF_MSG_MAX_SIZE);
    }
    if (len < IOF_MSG_HEADER_SIZE) {
        return iof_fail(d, IOF_EINVAL, "message of %zu bytes is shorter than its header", len);
    }
    uint64_t version = get_be(data, 2);
    if (version != IOF_MSG_VERSION) {
        return iof_fail(d, IOF_EUNSUPPORTED, "unsupported ioMessage version %u", (unsigned)version);
    }
    struct msg_span spans[MSG_FIELD_COUNT] = {{0}};
    int64_t ints[MSG_FIELD_COUNT] = {0};
    char *fixed[MSG_FIELD_COUNT] = {0};
    size_t count = 0;
    iof_err err = IOF_OK;
    size_t h = 2;
    size_t b = IOF_MSG_HEADER_SIZE;
    for (size_t i = 0; i < MSG_FIELD_COUNT && err == IOF_OK; i++) {
        const struct msg_field *f = &iof_msg_fields[i];
        uint64_t n = get_be(data + h, f->len_bytes);
        h += f->len_bytes;
        if (n > len - b) {
            err = iof_fail(d,
                           IOF_EINVAL,
                           "field '%s' of %llu bytes runs past the end",
                           f->name,
                           (unsigned long long)n);
            break;
        }
        const uint8_t *v = data + b;
        if (f->kind == FIELD_INT) {
            if (n > 8) {
                err = iof_fail(
                    d, IOF_EINVAL, "number field '%s' is %u bytes wide", f->name, (unsigned)n);
                break;
            }
            uint64_t u = get_be(v, (unsigned)n);
            int64_t x;
            if (n == f->width && n < 8 && (u >> (8 * n - 1)) != 0) {
                x = (int64_t)(u - (1ULL << (8 * n))); /* two's complement at the classic width */
            } else {
                x = (int64_t)u;
            }
            if (!iof_msg_int_in_range(f->width, x) || (n == 8 && f->width < 8 && u > INT64_MAX)) {
                err = iof_fail(d, IOF_EINVAL, "number field '%s' is out of range", f->name);
                break;
            }
            ints[i] = x;
        } else {
            spans[i].p = v;
            spans[i].n = (size_t)n;
            if (f->kind == FIELD_STR && !iof_utf8_valid((const char *)v, (size_t)n)) {
                size_t fl = 0, c = 0;
                if (repaired != NULL) {
                    fixed[i] = iof_utf8_repair((const char *)v, (size_t)n, &fl, &c);
                    if (fixed[i] == NULL) {
                        err = iof_fail(d, IOF_ENOMEM, "out of memory decoding a message");
                        break;
                    }
                }
                /* Still refused: NUL bytes, or text that no longer fits its length field. */
                if (fixed[i] == NULL || c == 0 || !iof_utf8_valid(fixed[i], fl) ||
                    fl > max_len_for(f->len_bytes)) {
                    err = iof_fail(d, IOF_EINVAL, "field '%s' is not valid UTF-8", f->name);
                    break;
                }
                spans[i].p = (const uint8_t *)fixed[i];
                spans[i].n = fl;
                count += c;
            }
        }
        b += (size_t)n;
    }
    if (err == IOF_OK && b != len) {
        err = iof_fail(d, IOF_EINVAL, "%zu bytes after the last field", len - b);
    }
    if (err == IOF_OK && iof_msg_pack(spans, ints, IOF_MSG_VERSION, out) != IOF_OK) {
        err = iof_fail(d, IOF_ENOMEM, "out of memory decoding a message");
    }
    for (size_t i = 0; i < MSG_FIELD_COUNT; i++) {
        free(fixed[i]);
    }
    if (err == IOF_OK && repaired != NULL) {
        *repaired = count;
    }
    return err;
}

iof_err iof_msg_decode(const uint8_t *data, size_t len, struct iof_msg **out, struct iof_diag *d) {
    return decode(data, len, out, NULL, d);
}

iof_err iof_msg_decode_repair(
    const uint8_t *data, size_t len, struct iof_msg **out, size_t *repaired, struct iof_diag *d) {
    size_t none = 0;
    return decode(data, len, out, repaired != NULL ? repaired : &none, d);
}
