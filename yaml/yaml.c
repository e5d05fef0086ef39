/* YAML to JSON: libyaml's event parser drives an explicit stack of open collections, so deep or
 * hostile input costs no C recursion and every bound is checked as events arrive. */
#include "yaml/yaml.h"

#include <yaml.h>

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAG_PREFIX "tag:yaml.org,2002:"

struct frame {
    json_t *value;  /* the array or object being filled */
    json_t *merge;  /* object of keys from merge keys (<<), applied at the end; may be NULL */
    char *anchor;   /* owned; NULL when the collection has none */
    char *key;      /* mappings: the key waiting for its value (owned), NULL when none */
    bool merge_key; /* mappings: the waiting key is the merge key << */
    size_t nodes;   /* values in the (expanded) subtree so far, this one included */
};

struct conv {
    yaml_parser_t parser;
    size_t max_depth;
    struct frame *stack; /* max_depth entries */
    size_t depth;
    json_t *anchors;      /* name -> value of finished anchored nodes */
    json_t *anchor_nodes; /* name -> node count; -1 while the anchored collection is open */
    size_t alias_nodes;   /* values added by alias copies so far */
    json_t *docs;         /* finished documents */
    json_t *root;         /* the current document's value, NULL until it has one */
    struct iof_diag *d;
};

static iof_err fail_at(struct conv *c, const yaml_mark_t *m, iof_err err, const char *what) {
    return iof_fail(c->d,
                    err,
                    "YAML: %s at line %zu, column %zu",
                    what,
                    (size_t)m->line + 1,
                    (size_t)m->column + 1);
}

static iof_err oom(struct conv *c) {
    return iof_fail(c->d, IOF_ENOMEM, "out of memory");
}

/* ---- scalar typing ---- */

static bool all_in(const char *s, size_t n, const char *set) {
    if (n == 0) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\0' || strchr(set, s[i]) == NULL) {
            return false;
        }
    }
    return true;
}

static bool is_null_word(const char *s, size_t n) {
    return n == 0 || (n == 1 && s[0] == '~') ||
           (n == 4 &&
            (memcmp(s, "null", 4) == 0 || memcmp(s, "Null", 4) == 0 || memcmp(s, "NULL", 4) == 0));
}

/* 1 true, 0 false, -1 not a boolean word. */
static int bool_word(const char *s, size_t n) {
    if (n == 4 &&
        (memcmp(s, "true", 4) == 0 || memcmp(s, "True", 4) == 0 || memcmp(s, "TRUE", 4) == 0)) {
        return 1;
    }
    if (n == 5 &&
        (memcmp(s, "false", 5) == 0 || memcmp(s, "False", 5) == 0 || memcmp(s, "FALSE", 5) == 0)) {
        return 0;
    }
    return -1;
}

/* An integer of the core schema as JSON (integer, or real beyond 64 bits); NULL if s is none. */
static json_t *int_value(const char *s, size_t n) {
    const char *digits = s;
    size_t nd = n;
    if (nd > 0 && (s[0] == '-' || s[0] == '+')) {
        digits++;
        nd--;
    }
    int base = 10;
    const char *set = "0123456789";
    if (digits == s && n > 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'x')) {
        base = s[1] == 'o' ? 8 : 16;
        set = base == 8 ? "01234567" : "0123456789abcdefABCDEF";
        digits = s + 2;
        nd = n - 2;
    }
    if (!all_in(digits, nd, set) || n > 400) {
        return NULL;
    }
    char buf[401];
    memcpy(buf, s, n);
    buf[n] = '\0';
    errno = 0;
    if (base == 10) {
        long long v = strtoll(buf, NULL, 10);
        if (errno == 0) {
            return json_integer((json_int_t)v);
        }
        return json_real(strtod(buf, NULL));
    }
    unsigned long long v = strtoull(digits, NULL, base);
    if (errno == 0 && v <= (unsigned long long)INT64_MAX) {
        return json_integer((json_int_t)v);
    }
    return NULL; /* too large: stays a string */
}

/* A real of the core schema; NULL if s is none or has no finite value. */
static json_t *float_value(const char *s, size_t n) {
    size_t i = 0;
    if (i < n && (s[i] == '-' || s[i] == '+')) {
        i++;
    }
    size_t int_digits = 0, frac_digits = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        i++;
        int_digits++;
    }
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            i++;
            frac_digits++;
        }
    }
    if (int_digits == 0 && frac_digits == 0) {
        return NULL;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '-' || s[i] == '+')) {
            i++;
        }
        size_t exp_digits = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            i++;
            exp_digits++;
        }
        if (exp_digits == 0) {
            return NULL;
        }
    }
    if (i != n || n > 400) {
        return NULL;
    }
    char buf[401];
    memcpy(buf, s, n);
    buf[n] = '\0';
    double v = strtod(buf, NULL);
    return isfinite(v) ? json_real(v) : NULL;
}

static json_t *plain_value(const char *s, size_t n) {
    if (is_null_word(s, n)) {
        return json_null();
    }
    int b = bool_word(s, n);
    if (b >= 0) {
        return json_boolean(b);
    }
    json_t *v = int_value(s, n);
    if (v == NULL) {
        v = float_value(s, n);
    }
    return v != NULL ? v : json_stringn(s, n);
}

/* The JSON value of a scalar event; IOF_EINVAL when a core tag does not fit the text. */
static iof_err scalar_value(struct conv *c, const yaml_event_t *ev, json_t **out) {
    const char *s = (const char *)ev->data.scalar.value;
    size_t n = ev->data.scalar.length;
    const char *tag = (const char *)ev->data.scalar.tag;
    json_t *v = NULL;
    const char *want = NULL;
    if (tag != NULL && strncmp(tag, TAG_PREFIX, strlen(TAG_PREFIX)) == 0) {
        want = tag + strlen(TAG_PREFIX);
    }
    if (want != NULL && strcmp(want, "int") == 0) {
        v = int_value(s, n);
    } else if (want != NULL && strcmp(want, "float") == 0) {
        v = float_value(s, n);
        if (v == NULL) {
            v = int_value(s, n);
            if (v != NULL && json_is_integer(v)) {
                json_t *r = json_real((double)json_integer_value(v));
                json_decref(v);
                v = r;
            }
        }
    } else if (want != NULL && strcmp(want, "bool") == 0) {
        int b = bool_word(s, n);
        v = b >= 0 ? json_boolean(b) : NULL;
    } else if (want != NULL && strcmp(want, "null") == 0) {
        v = is_null_word(s, n) ? json_null() : NULL;
    } else if ((want != NULL && strcmp(want, "str") == 0) ||
               (tag != NULL && strcmp(tag, "!") == 0) ||
               ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
        v = json_stringn(s, n);
        if (v == NULL) {
            return fail_at(c, &ev->start_mark, IOF_EINVAL, "string is not valid UTF-8");
        }
    } else {
        v = plain_value(s, n);
        if (v == NULL) {
            return fail_at(c, &ev->start_mark, IOF_EINVAL, "string is not valid UTF-8");
        }
    }
    if (v == NULL) {
        return fail_at(c, &ev->start_mark, IOF_EINVAL, "value does not match its tag");
    }
    *out = v;
    return IOF_OK;
}

/* ---- building ---- */

static iof_err remember_anchor(struct conv *c, const char *anchor, json_t *value, size_t nodes) {
    if (anchor == NULL) {
        return IOF_OK;
    }
    if (json_object_set(c->anchors, anchor, value) != 0 ||
        json_object_set_new(c->anchor_nodes, anchor, json_integer((json_int_t)nodes)) != 0) {
        return oom(c);
    }
    return IOF_OK;
}

/* Merges src (an object) into dst's merge set, keeping keys already there. */
static iof_err merge_into(struct conv *c, struct frame *f, json_t *src) {
    if (f->merge == NULL && (f->merge = json_object()) == NULL) {
        return oom(c);
    }
    const char *k;
    json_t *v;
    json_object_foreach(src, k, v) {
        if (json_object_get(f->merge, k) == NULL && json_object_set(f->merge, k, v) != 0) {
            return oom(c);
        }
    }
    return IOF_OK;
}

/* Places a finished value (stolen) into the open collection or as the document root. */
static iof_err place(struct conv *c, json_t *value, size_t nodes, const yaml_mark_t *m) {
    if (c->depth == 0) {
        c->root = value;
        return IOF_OK;
    }
    struct frame *f = &c->stack[c->depth - 1];
    f->nodes += nodes;
    if (json_is_array(f->value)) {
        return json_array_append_new(f->value, value) == 0 ? IOF_OK : oom(c);
    }
    if (f->merge_key) {
        f->merge_key = false;
        iof_err err = IOF_OK;
        if (json_is_object(value)) {
            err = merge_into(c, f, value);
        } else if (json_is_array(value)) {
            size_t i;
            json_t *item;
            json_array_foreach(value, i, item) {
                if (err == IOF_OK && !json_is_object(item)) {
                    err = fail_at(c, m, IOF_EINVAL, "merge key << needs mappings");
                }
                if (err == IOF_OK) {
                    err = merge_into(c, f, item);
                }
            }
        } else {
            err = fail_at(c, m, IOF_EINVAL, "merge key << needs a mapping");
        }
        json_decref(value);
        return err;
    }
    char *key = f->key;
    f->key = NULL;
    int rc = json_object_set_new(f->value, key, value);
    free(key);
    return rc == 0 ? IOF_OK : oom(c);
}

/* A scalar (or alias) text arriving where a mapping expects a key. */
static iof_err take_key(
    struct conv *c, struct frame *f, const char *s, size_t n, bool plain, const yaml_mark_t *m) {
    if (memchr(s, '\0', n) != NULL) {
        return fail_at(c, m, IOF_EINVAL, "mapping key contains a NUL character");
    }
    if (plain && n == 2 && memcmp(s, "<<", 2) == 0) {
        f->merge_key = true;
        return IOF_OK;
    }
    char *key = malloc(n + 1);
    if (key == NULL) {
        return oom(c);
    }
    memcpy(key, s, n);
    key[n] = '\0';
    if (!json_is_object(f->value) || json_object_get(f->value, key) != NULL) {
        free(key);
        char what[200];
        (void)snprintf(what, sizeof what, "duplicate mapping key '%.120s'", s);
        return fail_at(c, m, IOF_EINVAL, what);
    }
    f->key = key;
    return IOF_OK;
}

static bool expects_key(const struct conv *c) {
    if (c->depth == 0) {
        return false;
    }
    const struct frame *f = &c->stack[c->depth - 1];
    return json_is_object(f->value) && f->key == NULL && !f->merge_key;
}

static iof_err on_scalar(struct conv *c, const yaml_event_t *ev) {
    /* A NUL (the escape "\0") would cut the text short wherever it is read as a C string. */
    if (memchr(ev->data.scalar.value, '\0', ev->data.scalar.length) != NULL) {
        const struct frame *f = c->depth > 0 ? &c->stack[c->depth - 1] : NULL;
        if (f != NULL && f->key != NULL && !expects_key(c)) {
            char what[160];
            (void)snprintf(what, sizeof what, "NUL byte in the value of field '%.100s'", f->key);
            return fail_at(c, &ev->start_mark, IOF_EINVAL, what);
        }
        return fail_at(c, &ev->start_mark, IOF_EINVAL, "NUL byte in a string");
    }
    if (expects_key(c)) {
        if (ev->data.scalar.anchor != NULL) {
            /* remember it as a string so later aliases to it still work */
            json_t *s = json_stringn((const char *)ev->data.scalar.value, ev->data.scalar.length);
            if (s == NULL) {
                return fail_at(c, &ev->start_mark, IOF_EINVAL, "string is not valid UTF-8");
            }
            iof_err err = remember_anchor(c, (const char *)ev->data.scalar.anchor, s, 1);
            json_decref(s);
            if (err != IOF_OK) {
                return err;
            }
        }
        return take_key(c,
                        &c->stack[c->depth - 1],
                        (const char *)ev->data.scalar.value,
                        ev->data.scalar.length,
                        ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE,
                        &ev->start_mark);
    }
    json_t *v = NULL;
    iof_err err = scalar_value(c, ev, &v);
    if (err == IOF_OK) {
        err = remember_anchor(c, (const char *)ev->data.scalar.anchor, v, 1);
    }
    if (err != IOF_OK) {
        json_decref(v);
        return err;
    }
    return place(c, v, 1, &ev->start_mark);
}

static iof_err on_alias(struct conv *c, const yaml_event_t *ev) {
    const char *name = (const char *)ev->data.alias.anchor;
    json_t *target = json_object_get(c->anchors, name);
    json_int_t nodes = json_integer_value(json_object_get(c->anchor_nodes, name));
    char what[200];
    if (nodes < 0) {
        (void)snprintf(what, sizeof what, "recursive alias '*%.100s' has no JSON form", name);
        return fail_at(c, &ev->start_mark, IOF_EINVAL, what);
    }
    if (target == NULL) {
        (void)snprintf(what, sizeof what, "unknown anchor '*%.100s'", name);
        return fail_at(c, &ev->start_mark, IOF_EINVAL, what);
    }
    if (expects_key(c)) {
        if (!json_is_string(target)) {
            return fail_at(
                c, &ev->start_mark, IOF_EINVAL, "an alias used as a key must be a string");
        }
        return take_key(c,
                        &c->stack[c->depth - 1],
                        json_string_value(target),
                        json_string_length(target),
                        false,
                        &ev->start_mark);
    }
    if ((size_t)nodes > IOF_YAML_MAX_ALIAS_NODES - c->alias_nodes) {
        return fail_at(
            c, &ev->start_mark, IOF_E2BIG, "aliases expand to too many values (billion laughs?)");
    }
    c->alias_nodes += (size_t)nodes;
    json_t *copy = json_deep_copy(target);
    if (copy == NULL) {
        return oom(c);
    }
    return place(c, copy, (size_t)nodes, &ev->start_mark);
}

static iof_err on_start(struct conv *c, const yaml_event_t *ev, bool mapping) {
    if (expects_key(c)) {
        return fail_at(c, &ev->start_mark, IOF_EINVAL, "complex mapping keys are not supported");
    }
    if (c->depth >= c->max_depth) {
        char what[80];
        (void)snprintf(what, sizeof what, "nesting deeper than %zu levels", c->max_depth);
        return fail_at(c, &ev->start_mark, IOF_E2BIG, what);
    }
    const char *anchor =
        (const char *)(mapping ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor);
    struct frame *f = &c->stack[c->depth];
    memset(f, 0, sizeof *f);
    f->nodes = 1;
    f->value = mapping ? json_object() : json_array();
    if (f->value == NULL || (anchor != NULL && (f->anchor = strdup(anchor)) == NULL)) {
        json_decref(f->value);
        return oom(c);
    }
    c->depth++;
    if (anchor != NULL && json_object_set_new(c->anchor_nodes, anchor, json_integer(-1)) != 0) {
        return oom(c);
    }
    return IOF_OK;
}

static void frame_clear(struct frame *f) {
    json_decref(f->value);
    json_decref(f->merge);
    free(f->anchor);
    free(f->key);
    memset(f, 0, sizeof *f);
}

static iof_err on_end(struct conv *c, const yaml_event_t *ev) {
    struct frame *f = &c->stack[c->depth - 1];
    if (f->merge != NULL) {
        const char *k;
        json_t *v;
        json_object_foreach(f->merge, k, v) {
            if (json_object_get(f->value, k) == NULL && json_object_set(f->value, k, v) != 0) {
                return oom(c);
            }
        }
    }
    json_t *value = json_incref(f->value);
    size_t nodes = f->nodes;
    iof_err err = IOF_OK;
    if (f->anchor != NULL) {
        err = remember_anchor(c, f->anchor, value, nodes);
    }
    frame_clear(f);
    c->depth--;
    if (err != IOF_OK) {
        json_decref(value);
        return err;
    }
    return place(c, value, nodes, &ev->start_mark);
}

static iof_err on_event(struct conv *c, const yaml_event_t *ev) {
    switch (ev->type) {
        case YAML_DOCUMENT_START_EVENT: c->root = NULL; return IOF_OK;
        case YAML_DOCUMENT_END_EVENT: {
            json_t *doc = c->root != NULL ? c->root : json_null();
            c->root = NULL;
            json_object_clear(c->anchors); /* anchors are per document */
            json_object_clear(c->anchor_nodes);
            return json_array_append_new(c->docs, doc) == 0 ? IOF_OK : oom(c);
        }
        case YAML_SCALAR_EVENT: return on_scalar(c, ev);
        case YAML_ALIAS_EVENT: return on_alias(c, ev);
        case YAML_SEQUENCE_START_EVENT: return on_start(c, ev, false);
        case YAML_MAPPING_START_EVENT: return on_start(c, ev, true);
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT: return on_end(c, ev);
        default: return IOF_OK;
    }
}

static iof_err parse_error(struct conv *c) {
    const yaml_parser_t *p = &c->parser;
    if (p->error == YAML_MEMORY_ERROR) {
        return oom(c);
    }
    const yaml_mark_t *m = p->problem != NULL && p->problem_mark.line + p->problem_mark.column > 0
                               ? &p->problem_mark
                               : &p->context_mark;
    char what[220];
    (void)snprintf(what,
                   sizeof what,
                   "%.100s%s%.100s",
                   p->problem != NULL ? p->problem : "syntax error",
                   p->context != NULL ? " " : "",
                   p->context != NULL ? p->context : "");
    return fail_at(c, m, IOF_EINVAL, what);
}

iof_err iof_yaml_documents_to_json(
    const char *text, size_t len, size_t max_depth, json_t **out, struct iof_diag *d) {
    if (text == NULL && len > 0) {
        return iof_fail(d, IOF_EINVAL, "YAML: no input");
    }
    struct conv c = {.max_depth = max_depth, .d = d};
    c.stack = calloc(max_depth > 0 ? max_depth : 1, sizeof *c.stack);
    c.anchors = json_object();
    c.anchor_nodes = json_object();
    c.docs = json_array();
    iof_err err = IOF_OK;
    if (c.stack == NULL || c.anchors == NULL || c.anchor_nodes == NULL || c.docs == NULL ||
        !yaml_parser_initialize(&c.parser)) {
        json_decref(c.anchors);
        json_decref(c.anchor_nodes);
        json_decref(c.docs);
        free(c.stack);
        return iof_fail(d, IOF_ENOMEM, "out of memory");
    }
    yaml_parser_set_input_string(&c.parser, (const unsigned char *)(text != NULL ? text : ""), len);
    for (bool done = false; err == IOF_OK && !done;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&c.parser, &ev)) {
            err = parse_error(&c);
            break;
        }
        done = ev.type == YAML_STREAM_END_EVENT;
        err = on_event(&c, &ev);
        yaml_event_delete(&ev);
    }
    while (c.depth > 0) {
        frame_clear(&c.stack[--c.depth]);
    }
    if (c.root != NULL) { /* a document left unfinished by an error */
        json_decref(c.root);
    }
    yaml_parser_delete(&c.parser);
    json_decref(c.anchors);
    json_decref(c.anchor_nodes);
    free(c.stack);
    if (err != IOF_OK) {
        json_decref(c.docs);
        return err;
    }
    *out = c.docs;
    return IOF_OK;
}

iof_err
iof_yaml_to_json(const char *text, size_t len, size_t max_depth, json_t **out, struct iof_diag *d) {
    json_t *docs = NULL;
    iof_err err = iof_yaml_documents_to_json(text, len, max_depth, &docs, d);
    if (err != IOF_OK) {
        return err;
    }
    json_t *first = json_array_size(docs) > 0 ? json_incref(json_array_get(docs, 0)) : json_null();
    json_decref(docs);
    *out = first;
    return IOF_OK;
}
