/* The built-in filters: Liquid's standard ones as liquidjs 9 computes them (JavaScript coercions:
 * Number() for arithmetic, String() for text), and ioFog's toNumber, toBoolean and toString,
 * which need no data. Case changes are ASCII only. */
#include "template/tpl_internal.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef iof_err (*filter_fn)(
    struct tpl_run *r, json_t *in, json_t *const *a, size_t n, json_t **out);

static json_t *arg(json_t *const *a, size_t n, size_t i) {
    return i < n ? a[i] : NULL;
}

static json_t *ref(json_t *v) {
    return v != NULL ? json_incref(v) : NULL;
}

static iof_err oom(struct tpl_run *r) {
    return iof_fail(r->d, IOF_ENOMEM, "out of memory");
}

/* JavaScript String(v) for array elements joined by join(): null/undefined are "". */
static iof_err js_text(struct tpl_run *r, const json_t *v, struct iof_buf *b) {
    if (v != NULL && json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i > 0 && iof_buf_append(b, ",", 1) != IOF_OK) {
                return iof_fail(r->d, IOF_E2BIG, "template output limit exceeded");
            }
            iof_err err = js_text(r, json_array_get(v, i), b);
            if (err != IOF_OK) {
                return err;
            }
        }
        return IOF_OK;
    }
    return tpl_stringify(r, v, b);
}

/* The text of v in a scratch buffer the caller releases with text_free; TD() reads it. */
static iof_err text_of(struct tpl_run *r, const json_t *v, struct iof_buf *b) {
    iof_buf_init(b, r->env->limits.max_output);
    return tpl_stringify(r, v, b);
}

#define TD(b) ((b).data != NULL ? (const char *)(b).data : "")

static void text_free(struct iof_buf *b) {
    iof_buf_free(b);
}

/* memmem without _GNU_SOURCE. */
static const char *find(const char *h, size_t hn, const char *nd, size_t nn) {
    for (size_t i = 0; nn <= hn && i <= hn - nn; i++) {
        if (h[i] == nd[0] && memcmp(h + i, nd, nn) == 0) {
            return h + i;
        }
    }
    return NULL;
}

/* Length of the UTF-8 character at s (at least 1, never past end). */
static size_t char_len(const char *s, const char *end) {
    size_t k = 1;
    while (s + k < end && ((unsigned char)s[k] & 0xC0) == 0x80) {
        k++;
    }
    return k;
}

static iof_err finish(struct tpl_run *r, struct iof_buf *b, json_t **out) {
    iof_err err = tpl_string(r, b->data != NULL ? (const char *)b->data : "", b->len, out);
    iof_buf_free(b);
    return err;
}

static iof_err append_or_big(struct tpl_run *r, struct iof_buf *b, const void *s, size_t n) {
    if (iof_buf_append(b, s, n) != IOF_OK) {
        return iof_fail(r->d,
                        IOF_E2BIG,
                        "template output limit exceeded (%zu bytes)",
                        r->env->limits.max_output);
    }
    return IOF_OK;
}

/* An array view of v (liquidjs toArray): arrays as is, nil as [], anything else as [v]. */
static json_t *to_array(json_t *v) {
    if (v != NULL && json_is_array(v)) {
        return json_incref(v);
    }
    json_t *a = json_array();
    if (a != NULL && v != NULL) {
        (void)json_array_append(a, v);
    }
    return a;
}

static iof_err new_array(struct tpl_run *r, size_t n, json_t **out) {
    iof_err err = tpl_charge(r, n + 1);
    if (err == IOF_OK && (*out = json_array()) == NULL) {
        err = oom(r);
    }
    return err;
}

/* Reads a dotted property path from obj (liquidjs getFromScope with a string path). */
static json_t *get_path(const json_t *obj, const json_t *path) {
    const char *p = json_string_value(path);
    if (p == NULL) {
        return tpl_property(obj, path);
    }
    json_t *cur = ref((json_t *)(uintptr_t)obj);
    while (cur != NULL) {
        const char *dot = strchr(p, '.');
        size_t n = dot != NULL ? (size_t)(dot - p) : strlen(p);
        json_t *key = json_stringn(p, n);
        json_t *next = tpl_property(cur, key);
        json_decref(key);
        json_decref(cur);
        cur = next;
        if (dot == NULL) {
            break;
        }
        p = dot + 1;
    }
    return cur;
}

/* ---- arrays ---- */

static iof_err f_first(struct tpl_run *r, json_t *in, json_t *const *a, size_t n, json_t **out) {
    (void)a, (void)n;
    *out = in != NULL && json_is_array(in) ? ref(json_array_get(in, 0)) : json_string("");
    return r != NULL ? IOF_OK : IOF_EINTERNAL;
}

static iof_err f_last(struct tpl_run *r, json_t *in, json_t *const *a, size_t n, json_t **out) {
    (void)a, (void)n, (void)r;
    size_t len = in != NULL && json_is_array(in) ? json_array_size(in) : 0;
    *out = in != NULL && json_is_array(in) ? (len > 0 ? ref(json_array_get(in, len - 1)) : NULL)
                                           : json_string("");
    return IOF_OK;
}

static iof_err f_size(struct tpl_run *r, json_t *in, json_t *const *a, size_t n, json_t **out) {
    (void)a, (void)n, (void)r;
    size_t len = 0;
    if (in != NULL && json_is_array(in)) {
        len = json_array_size(in);
    } else if (in != NULL && json_is_string(in)) {
        const unsigned char *s = (const unsigned char *)json_string_value(in);
        for (size_t i = 0; i < json_string_length(in); i++) {
            len += (s[i] & 0xC0) != 0x80;
        }
    }
    *out = json_integer((json_int_t)len);
    return IOF_OK;
}

static iof_err f_map(struct tpl_run *r, json_t *in, json_t *const *a, size_t n, json_t **out) {
    json_t *arr = to_array(in), *res = NULL;
    iof_err err = arr != NULL ? new_array(r, json_array_size(arr), &res) : oom(r);
    size_t i;
    json_t *x;
    json_array_foreach(arr, i, x) {
        if (err != IOF_OK) {
            break;
        }
        json_t *v = get_path(x, arg(a, n, 0));
        if (json_array_append_new(res, v != NULL ? v : json_null()) != 0) {
            err = oom(r);
        }
    }
    json_decref(arr);
    if (err != IOF_OK) {
        json_decref(res);
        return err;
    }
    *out = res;
    return IOF_OK;
}

static iof_err f_where(struct tpl_run *r, json_t *in, json_t *const *a, size_t n, json_t **out) {
    json_t *arr = to_array(in), *res = NULL;
    iof_err err = arr != NULL ? new_array(r, json_array_size(arr), &res) : oom(r);
    size_t i;
    json_t *x;
    json_array_foreach(arr, i, x) {
        if (err != IOF_OK) {
            break;
        }
        json_t *v = get_path(x, arg(a, n, 0));
        bool keep = n < 2 ? tpl_truthy(v) : tpl_equal(v, a[1]);
        json_decref(v);
        if (keep && json_array_append(res, x) != 0) {
            err = oom(r);
        }
    }
    json_decref(arr);
    if (err != IOF_OK) {
        json_decref(res);
        return err;
    }
    *out = res;
    return IOF_OK;
}

static iof_err f_join(struct tpl_run *r, json_t *in, json_t *const *a, size_t n, json_t **out) {
    json_t *arr = to_array(in);
    if (arr == NULL) {
        return oom(r);
    }
    struct iof_buf b, sep;
    iof_err err = text_of(r, n > 0 ? a[0] : NULL, &sep);
    const char *sp = n > 0 ? TD(sep) : " ";
    size_t sl = n > 0 ? sep.len : 1;
    iof_buf_init(&b, r->env->limits.max_output);
    for (size_t i = 0; err == IOF_OK && i < json_array_size(arr); i++) {
        if (i > 0) {
            err = append_or_big(r, &b, sp, sl);
        }
        if (err == IOF_OK) {
            err = js_text(r, json_array_get(arr, i), &b);
        }
    }
    text_free(&sep);
    json_decref(arr);
    if (err != IOF_OK) {
        iof_buf_free(&b);
        return err;
    }
    return finish(r, &b, out);
}

static iof_err f_concat(struct tpl_run *r, json_t *in, json_t *const *a, size_t n, json_t **out) {
    json_t *x = to_array(in), *y = to_array(arg(a, n, 0)), *res = NULL;
    iof_err err = x != NULL && y != NULL
                      ? new_array(r, json_array_size(x) + json_array_size(y), &res)
                      : oom(r);
    if (err == IOF_OK && (json_array_extend(res, x) != 0 || json_array_extend(res, y) != 0)) {
        err = oom(r);
    }
    json_decref(x);
    json_decref(y);
    if (err != IOF_OK) {
        json_decref(res);
        return err;
    }
    *out = res;
    return IOF_OK;
}

static iof_err f_reverse(struct tpl_run *r, json_t *in, json_t *const *a, size_t n, json_t **out) {
    (void)a, (void)n;
    json_t *x = to_array(in), *res = NULL;
    iof_err err = x != NULL ? new_array(r, json_array_size(x), &res) : oom(r);
    for (size_t i = json_array_size(x); err == IOF_OK && i > 0; i--) {
        if (json_array_append(res, json_array_get(x, i - 1)) != 0) {
            err = oom(r);
        }
    }
    json_decref(x);
    if (err != IOF_OK) {
        json_decref(res);
        return err;
    }
    *out = res;
    return IOF_OK;
}

/* uniq (keep the first of equal values) and compact (drop nil/null). */
static iof_err filter_array(struct tpl_run *r, json_t *in, bool uniq, json_t **out) {
    json_t *x = to_array(in), *res = NULL;
    iof_err err = x != NULL ? new_array(r, json_array_size(x), &res) : oom(r);
    size_t i;
    json_t *v;
    json_array_foreach(x, i, v) {
        if (err != IOF_OK) {
            break;
        }
        bool keep = !json_is_null(v);
        if (uniq) {
            keep = true;
            for (size_t j = 0; keep && j < json_array_size(res); j++) {
                json_t *w = json_array_get(res, j);
                keep = !(json_is_object(v) ? v == w : tpl_equal(v, w));
            }
        }
        if (keep && json_array_append(res, v) != 0) {
            err = oom(r);
        }
    }
    json_decref(x);
    if (err != IOF_OK) {
        json_decref(res);
        return err;
    }
    *out = res;
    return IOF_OK;
}

static iof_err f_uniq(struct tpl_run *r, json_t *in, json_t *const *a, size_t n, json_t **out) {
    (void)a, (void)n;
    if (in != NULL && json_array_size(in) > 4096) {
        return iof_fail(r->d, IOF_E2BIG, "uniq: array too large");
    }
    return filter_array(r, in, true, out);
}

static iof_err f_compact(struct tpl_run *r, json_t *in, json_t *const *a, size_t n, json_t **out) {
    (void)a, (void)n;
    return filter_array(r, in, false, out);
}

struct sort_item {
    json_t *item;
    json_t *key;
    size_t pos;
};

/* JavaScript's < on the sort keys (numbers numerically, strings bytewise), stable by position. */
static int sort_cmp(const void *pa, const void *pb) {
    const struct sort_item *x = pa, *y = pb;
    int c = 0;
    if (x->key != NULL && y->key != NULL && json_is_string(x->key) && json_is_string(y->key)) {
        c = strcmp(json_string_value(x->key), json_string_value(y->key));
    } else {
        double u = tpl_to_double(x->key), v = tpl_to_double(y->key);
        c = u < v ? -1 : u > v ? 1 : 0;
    }
    return c != 0 ? c : (x->pos > y->pos) - (x->pos < y->pos);
}

static iof_err f_sort(struct tpl_run *r, json_t *in, json_t *const *a, size_t n, json_t **out) {
    json_t *x = to_array(in), *res = NULL;
    size_t len = json_array_size(x);
    iof_err err = x != NULL ? new_array(r, len, &res) : oom(r);
    struct sort_item *items = err == IOF_OK && len > 0 ? calloc(len, sizeof *items) : NULL;
    if (err == IOF_OK && len > 0 && items == NULL) {
        err = oom(r);
    }
    for (size_t i = 0; err == IOF_OK && i < len; i++) {
        items[i].item = json_array_get(x, i);
        items[i].key = n > 0 ? get_path(items[i].item, a[0]) : ref(items[i].item);
        items[i].pos = i;
    }
    if (err == IOF_OK && len > 0) {
        qsort(items, len, sizeof *items, sort_cmp);
    }
    for (size_t i = 0; items != NULL && i < len; i++) {
        if (err == IOF_OK && json_array_append(res, items[i].item) != 0) {
            err = oom(r);
        }
        json_decref(items[i].key);
    }
    free(items);
    json_decref(x);
    if (err != IOF_OK) {
        json_decref(res);
        return err;
    }
    *out = res;
    return IOF_OK;
}

static iof_err f_slice(struct tpl_run *r, json_t *in, json_t *const *a, size_t n, json_t **out) {
    double b = trunc(tpl_to_double(arg(a, n, 0))), l = n > 1 ? trunc(tpl_to_double(a[1])) : 1;
    if (isnan(b)) {
        b = 0;
    }
    if (isnan(l)) {
        l = 0;
    }
    if (in != NULL && json_is_array(in)) {
        double len = (double)json_array_size(in);
        double from = fmax(0, b < 0 ? len + b : b), to = fmin(len, from + l);
        json_t *res = NULL;
        iof_err err = new_array(r, 0, &res);
        for (double i = from; err == IOF_OK && i < to; i++) {
            if (json_array_append(res, json_array_get(in, (size_t)i)) != 0) {
                err = oom(r);
            }
        }
        if (err != IOF_OK) {
            json_decref(res);
            return err;
        }
        *out = res;
        return IOF_OK;
    }
    struct iof_buf t;
    iof_err err = text_of(r, in, &t);
    if (err == IOF_OK) {
        double len = (double)t.len;
        double from = fmax(0, b < 0 ? len + b : b), to = fmin(len, from + l);
        err = tpl_string(
            r, TD(t) + (size_t)fmin(from, len), to > from ? (size_t)(to - from) : 0, out);
    }
    text_free(&t);
    return err;
}

/* ---- strings ---- */

static iof_err change_case(struct tpl_run *r, json_t *in, int mode, json_t **out) {
    struct iof_buf t;
    iof_err err = text_of(r, in, &t);
    if (err == IOF_OK) {
        char *s = malloc(t.len + 1);
        if (s == NULL) {
            err = oom(r);
        } else {
            for (size_t i = 0; i < t.len; i++) {
                int c = (unsigned char)TD(t)[i];
                bool up = mode == 1 || (mode == 2 && i == 0);
                s[i] = (char)(c < 0x80 ? (up ? toupper(c) : tolower(c)) : c);
            }
            err = tpl_string(r, s, t.len, out);
            free(s);
        }
    }
    text_free(&t);
    return err;
}

static iof_err f_upcase(struct tpl_run *r, json_t *in, json_t *const *a, size_t n, json_t **out) {
    (void)a, (void)n;
    return change_case(r, in, 1, out);
}

static iof_err f_downcase(struct tpl_run *r, json_t *in, json_t *const *a, size_t n, json_t **out) {
    (void)a, (void)n;
    return change_case(r, in, 0, out);
}

static iof_err
f_capitalize(struct tpl_run *r, json_t *in, json_t *const *a, size_t n, json_t **out) {
    (void)a, (void)n;
    return change_case(r, in, 2, out);
}

/* Concatenation of the texts of x and y. */
static iof_err cat(struct tpl_run *r, const json_t *x, const json_t *y, json_t **out) {
    struct iof_buf b;
    iof_buf_init(&b, r->env->limits.max_output);
    iof_err err = tpl_stringify(r, x, &b);
    if (err == IOF_OK) {
        err = tpl_stringify(r, y, &b);
    }
    if (err != IOF_OK) {
        iof_buf_free(&b);
        return err;
    }
    return finish(r, &b, out);
}

static iof_err f_append(struct tpl_run *r, json_t *in, json_t *const *a, size_t n, json_t **out) {
    return cat(r, in, arg(a, n, 0), out);
}

static iof_err f_prepend(struct tpl_run *r, json_t *in, json_t *const *a, size_t n, json_t **out) {
    return cat(r, arg(a, n, 0), in, out);
}

/* Replaces occurrences of pat in the text of in (all: split/join; else the first, as
 * String.replace with a string). An empty pattern goes between characters (all) or in front. */
static iof_err replace(
    struct tpl_run *r, json_t *in, const json_t *pat, const json_t *with, bool all, json_t **out) {
    struct iof_buf t, p, w, b;
    iof_err err = text_of(r, in, &t);
    iof_err e2 = text_of(r, pat, &p);
    iof_err e3 = text_of(r, with, &w);
    err = err != IOF_OK ? err : e2 != IOF_OK ? e2 : e3;
    iof_buf_init(&b, r->env->limits.max_output);
    const char *s = TD(t), *end = s + t.len;
    if (err == IOF_OK && p.len == 0 && !all) {
        err = append_or_big(r, &b, TD(w), w.len);
        if (err == IOF_OK) {
            err = append_or_big(r, &b, s, t.len);
        }
    } else if (err == IOF_OK && p.len == 0) {
        for (const char *c = s; err == IOF_OK && c < end;) {
            size_t k = char_len(c, end);
            if (c > s) {
                err = append_or_big(r, &b, TD(w), w.len);
            }
            if (err == IOF_OK) {
                err = append_or_big(r, &b, c, k);
            }
            c += k;
        }
    } else {
        bool done = false;
        while (err == IOF_OK) {
            const char *hit = done ? NULL : find(s, (size_t)(end - s), TD(p), p.len);
            if (hit == NULL) {
                err = append_or_big(r, &b, s, (size_t)(end - s));
                break;
            }
            err = append_or_big(r, &b, s, (size_t)(hit - s));
            if (err == IOF_OK) {
                err = append_or_big(r, &b, TD(w), w.len);
            }
            s = hit + p.len;
            done = !all;
        }
    }
    text_free(&t);
    text_free(&p);
    text_free(&w);
    if (err != IOF_OK) {
        iof_buf_free(&b);
        return err;
    }
    return finish(r, &b, out);
}

static iof_err f_replace(struct tpl_run *r, json_t *in, json_t *const *a, size_t n, json_t **out) {
    return replace(r, in, arg(a, n, 0), arg(a, n, 1), true, out);
}

static iof_err
f_replace_first(struct tpl_run *r, json_t *in, json_t *const *a, size_t n, json_t **out) {
    return replace(r, in, arg(a, n, 0), arg(a, n, 1), false, out);
}

static iof_err f_remove(struct tpl_run *r, json_t *in, json_t *const *a, size_t n, json_t **out) {
    return replace(r, in, arg(a, n, 0), NULL, true, out);
}

static iof_err
f_remove_first(struct tpl_run *r, json_t *in, json_t *const *a, size_t n, json_t **out) {
    return replace(r, in, arg(a, n, 0), NULL, false, out);
}

static iof_err strip(struct tpl_run *r, json_t *in, bool left, bool right, json_t **out) {
    struct iof_buf t;
    iof_err err = text_of(r, in, &t);
    if (err == IOF_OK) {
        const char *s = TD(t);
        size_t len = t.len;
        while (left && len > 0 && isspace((unsigned char)*s)) {
            s++;
            len--;
        }
        while (right && len > 0 && isspace((unsigned char)s[len - 1])) {
            len--;
        }
        err = tpl_string(r, s, len, out);
    }
    text_free(&t);
    return err;
}

static iof_err f_strip(struct tpl_run *r, json_t *in, json_t *const *a, size_t n, json_t **out) {
    (void)a, (void)n;
    return strip(r, in, true, true, out);
}

static iof_err f_lstrip(struct tpl_run *r, json_t *in, json_t *const *a, size_t n, json_t **out) {
    (void)a, (void)n;
    return strip(r, in, true, false, out);
}

static iof_err f_rstrip(struct tpl_run *r, json_t *in, json_t *const *a, size_t n, json_t **out) {
    (void)a, (void)n;
    return strip(r, in, false, true, out);
}

/* split: JavaScript's String.split, then trailing empty strings dropped (liquidjs). */
static iof_err f_split(struct tpl_run *r, json_t *in, json_t *const *a, size_t n, json_t **out) {
    struct iof_buf t, p;
    iof_err err = text_of(r, in, &t);
    iof_err e2 = text_of(r, arg(a, n, 0), &p);
    err = err != IOF_OK ? err : e2;
    json_t *res = NULL;
    if (err == IOF_OK) {
        err = new_array(r, 0, &res);
    }
    const char *s = TD(t), *end = s + t.len;
    while (err == IOF_OK && s <= end) {
        const char *hit;
        size_t skip;
        if (p.len == 0) {
            if (s == end) {
                break;
            }
            hit = s + char_len(s, end);
            skip = 0;
        } else {
            hit = find(s, (size_t)(end - s), TD(p), p.len);
            skip = p.len;
        }
        const char *stop = hit != NULL ? hit : end;
        json_t *piece = NULL;
        if ((err = tpl_string(r, s, (size_t)(stop - s), &piece)) == IOF_OK &&
            json_array_append_new(res, piece) != 0) {
            err = oom(r);
        }
        if (hit == NULL) {
            break;
        }
        s = hit + skip;
    }
    while (err == IOF_OK && json_array_size(res) > 0 &&
           json_string_length(json_array_get(res, json_array_size(res) - 1)) == 0) {
        (void)json_array_remove(res, json_array_size(res) - 1);
    }
    text_free(&t);
    text_free(&p);
    if (err != IOF_OK) {
        json_decref(res);
        return err;
    }
    *out = res;
    return IOF_OK;
}

static iof_err f_truncate(struct tpl_run *r, json_t *in, json_t *const *a, size_t n, json_t **out) {
    double l = n > 0 ? tpl_to_double(a[0]) : 50;
    struct iof_buf t, o;
    iof_err err = text_of(r, in, &t);
    iof_err e2 = text_of(r, n > 1 ? a[1] : NULL, &o);
    const char *ell = n > 1 ? TD(o) : "...";
    size_t el = n > 1 ? o.len : 3;
    err = err != IOF_OK ? err : e2;
    if (err == IOF_OK) {
        if (isnan(l) || (double)t.len <= l) {
            err = tpl_string(r, TD(t), t.len, out);
        } else {
            double keep = fmax(0, l - (double)el);
            size_t k = (size_t)keep;
            while (k > 0 && k < t.len && ((unsigned char)TD(t)[k] & 0xC0) == 0x80) {
                k--; /* never cut through a UTF-8 character */
            }
            struct iof_buf b;
            iof_buf_init(&b, r->env->limits.max_output);
            err = append_or_big(r, &b, TD(t), k);
            if (err == IOF_OK) {
                err = append_or_big(r, &b, ell, el);
            }
            err = err == IOF_OK ? finish(r, &b, out) : (iof_buf_free(&b), err);
        }
    }
    text_free(&t);
    text_free(&o);
    return err;
}

static iof_err f_default(struct tpl_run *r, json_t *in, json_t *const *a, size_t n, json_t **out) {
    (void)r;
    bool use_default;
    if (in != NULL && json_is_array(in)) {
        use_default = json_array_size(in) == 0;
    } else if (in != NULL && json_is_string(in)) {
        use_default = json_string_length(in) == 0;
    } else {
        use_default = !tpl_truthy(in);
    }
    *out = ref(use_default ? arg(a, n, 0) : in);
    return IOF_OK;
}

static iof_err f_json(struct tpl_run *r, json_t *in, json_t *const *a, size_t n, json_t **out) {
    (void)a, (void)n;
    if (in == NULL) {
        *out = NULL; /* JSON.stringify(undefined) is undefined */
        return IOF_OK;
    }
    char *s = json_dumps(in, JSON_COMPACT | JSON_ENCODE_ANY);
    if (s == NULL) {
        return oom(r);
    }
    iof_err err = tpl_string(r, s, strlen(s), out);
    free(s);
    return err;
}

/* ---- numbers ---- */

enum arith { A_PLUS, A_MINUS, A_TIMES, A_DIV, A_MOD, A_MAX, A_MIN };

static iof_err arith(enum arith op, json_t *in, json_t *const *a, size_t n, json_t **out) {
    double x = tpl_to_double(in), y = tpl_to_double(arg(a, n, 0)), z = NAN;
    switch (op) {
        case A_PLUS: z = x + y; break;
        case A_MINUS: z = x - y; break;
        case A_TIMES: z = x * y; break;
        case A_DIV: z = x / y; break;
        case A_MOD: z = fmod(x, y); break;
        case A_MAX: z = isnan(x) || isnan(y) ? NAN : fmax(x, y); break;
        case A_MIN: z = isnan(x) || isnan(y) ? NAN : fmin(x, y); break;
    }
    *out = tpl_number(z);
    return IOF_OK;
}

#define ARITH(fname, op)                                                                           \
    static iof_err fname(                                                                          \
        struct tpl_run *r, json_t *in, json_t *const *a, size_t n, json_t **out) {                 \
        (void)r;                                                                                   \
        return arith(op, in, a, n, out);                                                           \
    }
ARITH(f_plus, A_PLUS)
ARITH(f_minus, A_MINUS)
ARITH(f_times, A_TIMES)
ARITH(f_divided_by, A_DIV)
ARITH(f_modulo, A_MOD)
ARITH(f_at_least, A_MAX)
ARITH(f_at_most, A_MIN)

static iof_err f_round(struct tpl_run *r, json_t *in, json_t *const *a, size_t n, json_t **out) {
    (void)r;
    double x = tpl_to_double(in), d = n > 0 ? tpl_to_double(a[0]) : 0;
    double amp = pow(10, isnan(d) ? 0 : d);
    *out = tpl_number(floor(x * amp + 0.5) / amp); /* Math.round: halves go up */
    return IOF_OK;
}

static iof_err f_ceil(struct tpl_run *r, json_t *in, json_t *const *a, size_t n, json_t **out) {
    (void)r, (void)a, (void)n;
    *out = tpl_number(ceil(tpl_to_double(in)));
    return IOF_OK;
}

static iof_err f_floor(struct tpl_run *r, json_t *in, json_t *const *a, size_t n, json_t **out) {
    (void)r, (void)a, (void)n;
    *out = tpl_number(floor(tpl_to_double(in)));
    return IOF_OK;
}

static iof_err f_abs(struct tpl_run *r, json_t *in, json_t *const *a, size_t n, json_t **out) {
    (void)r, (void)a, (void)n;
    *out = tpl_number(fabs(tpl_to_double(in)));
    return IOF_OK;
}

/* ---- ioFog conversions ---- */

/* toNumber and toBoolean are JSON.parse(v) in the classic Controller, v itself when that fails. */
static iof_err
f_json_parse(struct tpl_run *r, json_t *in, json_t *const *a, size_t n, json_t **out) {
    (void)a, (void)n;
    if (in != NULL && json_is_string(in)) {
        iof_err err = tpl_charge(r, json_string_length(in));
        if (err != IOF_OK) {
            return err;
        }
        json_t *v =
            json_loadb(json_string_value(in), json_string_length(in), JSON_DECODE_ANY, NULL);
        *out = v != NULL ? v : json_incref(in);
        return IOF_OK;
    }
    *out = ref(in);
    return IOF_OK;
}

/* toString: the string itself, JavaScript's toString() of anything else (nil stays nil). */
static iof_err
f_to_string(struct tpl_run *r, json_t *in, json_t *const *a, size_t n, json_t **out) {
    (void)a, (void)n;
    if (in == NULL || json_is_string(in)) {
        *out = ref(in);
        return IOF_OK;
    }
    struct iof_buf b;
    iof_buf_init(&b, r->env->limits.max_output);
    iof_err err = js_text(r, in, &b);
    if (err != IOF_OK) {
        iof_buf_free(&b);
        return err;
    }
    return finish(r, &b, out);
}

static const struct {
    const char *name;
    filter_fn fn;
} filters[] = {
    {"abs", f_abs},
    {"append", f_append},
    {"at_least", f_at_least},
    {"at_most", f_at_most},
    {"capitalize", f_capitalize},
    {"ceil", f_ceil},
    {"compact", f_compact},
    {"concat", f_concat},
    {"default", f_default},
    {"divided_by", f_divided_by},
    {"downcase", f_downcase},
    {"first", f_first},
    {"floor", f_floor},
    {"join", f_join},
    {"json", f_json},
    {"last", f_last},
    {"lstrip", f_lstrip},
    {"map", f_map},
    {"minus", f_minus},
    {"modulo", f_modulo},
    {"plus", f_plus},
    {"prepend", f_prepend},
    {"remove", f_remove},
    {"remove_first", f_remove_first},
    {"replace", f_replace},
    {"replace_first", f_replace_first},
    {"reverse", f_reverse},
    {"round", f_round},
    {"rstrip", f_rstrip},
    {"size", f_size},
    {"slice", f_slice},
    {"sort", f_sort},
    {"split", f_split},
    {"strip", f_strip},
    {"times", f_times},
    {"toBoolean", f_json_parse},
    {"toNumber", f_json_parse},
    {"toString", f_to_string},
    {"truncate", f_truncate},
    {"uniq", f_uniq},
    {"upcase", f_upcase},
    {"where", f_where},
};

iof_err tpl_builtin_filter(struct tpl_run *r,
                           const char *name,
                           json_t *in,
                           json_t *const *args,
                           size_t nargs,
                           json_t **out) {
    for (size_t i = 0; i < sizeof filters / sizeof filters[0]; i++) {
        if (strcmp(filters[i].name, name) == 0) {
            *out = NULL;
            return filters[i].fn(r, in, args, nargs, out);
        }
    }
    return IOF_ENOENT;
}
