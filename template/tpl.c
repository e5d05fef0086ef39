/* The Liquid interpreter: template text -> tokens -> a tree of nodes (parse errors are found
 * before anything renders, as liquidjs does), then the tree rendered into an emitter that keeps
 * the type of a lone first value (keepOutputType). Expressions are lexed once at parse time and
 * checked by a dry evaluation, then evaluated on the token array at render time. */
#include "template/tpl_internal.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- values ------------------------------------------------------------------------------ */

iof_err tpl_charge(struct tpl_run *r, size_t n) {
    if (*r->work > r->env->limits.max_work || n > r->env->limits.max_work - *r->work) {
        return iof_fail(
            r->d, IOF_E2BIG, "template work limit exceeded (%zu)", r->env->limits.max_work);
    }
    *r->work += n;
    return IOF_OK;
}

json_t *tpl_number(double x) {
    if (!isfinite(x)) {
        return NULL;
    }
    if (x == floor(x) && fabs(x) <= 9007199254740992.0) {
        return json_integer((json_int_t)x);
    }
    return json_real(x);
}

double tpl_to_double(const json_t *v) {
    if (v == NULL) {
        return NAN;
    }
    if (json_is_number(v)) {
        return json_number_value(v);
    }
    if (json_is_boolean(v)) {
        return json_is_true(v) ? 1 : 0;
    }
    if (json_is_null(v)) {
        return 0;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        while (isspace((unsigned char)*s)) {
            s++;
        }
        if (*s == '\0') {
            return 0;
        }
        char *end = NULL;
        double x = strtod(s, &end);
        while (end != NULL && isspace((unsigned char)*end)) {
            end++;
        }
        /* strtod also takes hex, "inf" and "nan"; JavaScript's Number() takes only decimals
         * and "Infinity", which are not worth the difference here */
        return end != s && end != NULL && *end == '\0' ? x : NAN;
    }
    if (json_is_array(v) && json_array_size(v) <= 1) {
        return json_array_size(v) == 0 ? 0 : tpl_to_double(json_array_get(v, 0));
    }
    return NAN;
}

/* JavaScript's shortest round-trip text of a double. */
static void js_number(double x, char *buf, size_t size) {
    if (isnan(x)) {
        (void)snprintf(buf, size, "NaN");
        return;
    }
    if (isinf(x)) {
        (void)snprintf(buf, size, x > 0 ? "Infinity" : "-Infinity");
        return;
    }
    if (x == floor(x) && fabs(x) < 1e21) {
        (void)snprintf(buf, size, "%.0f", x == 0 ? 0.0 : x);
        return;
    }
    for (int p = 1; p <= 17; p++) {
        (void)snprintf(buf, size, "%.*g", p, x);
        if (strtod(buf, NULL) == x) {
            return;
        }
    }
}

iof_err tpl_stringify(struct tpl_run *r, const json_t *v, struct iof_buf *out) {
    char num[40];
    iof_err err = IOF_OK;
    switch (v == NULL ? JSON_NULL : json_typeof(v)) {
        case JSON_STRING:
            err = iof_buf_append(out, json_string_value(v), json_string_length(v));
            break;
        case JSON_INTEGER:
            (void)snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
            err = iof_buf_append(out, num, strlen(num));
            break;
        case JSON_REAL:
            js_number(json_real_value(v), num, sizeof num);
            err = iof_buf_append(out, num, strlen(num));
            break;
        case JSON_TRUE: err = iof_buf_append(out, "true", 4); break;
        case JSON_FALSE: err = iof_buf_append(out, "false", 5); break;
        case JSON_ARRAY: {
            size_t i;
            json_t *e;
            json_array_foreach(v, i, e) {
                if ((err = tpl_stringify(r, e, out)) != IOF_OK) {
                    break;
                }
            }
            break;
        }
        case JSON_OBJECT: err = iof_buf_append(out, "[object Object]", 15); break;
        case JSON_NULL: break;
    }
    if (err == IOF_E2BIG) {
        return iof_fail(r->d,
                        IOF_E2BIG,
                        "template output limit exceeded (%zu bytes)",
                        r->env->limits.max_output);
    }
    return err == IOF_OK ? IOF_OK : iof_fail(r->d, err, "out of memory");
}

iof_err tpl_string(struct tpl_run *r, const char *s, size_t n, json_t **out) {
    if (n > r->env->limits.max_output) {
        return iof_fail(r->d,
                        IOF_E2BIG,
                        "template output limit exceeded (%zu bytes)",
                        r->env->limits.max_output);
    }
    iof_err err = tpl_charge(r, n + 1);
    if (err != IOF_OK) {
        return err;
    }
    json_t *j = json_stringn(s, n);
    if (j == NULL) { /* jansson refuses invalid UTF-8 (a slice through a character) */
        return iof_fail(r->d, IOF_EINVAL, "template produced invalid UTF-8");
    }
    *out = j;
    return IOF_OK;
}

iof_err tpl_to_string(struct tpl_run *r, const json_t *v, json_t **out) {
    if (v != NULL && json_is_string(v)) {
        *out = json_incref((json_t *)(uintptr_t)v);
        return IOF_OK;
    }
    struct iof_buf b;
    iof_buf_init(&b, r->env->limits.max_output);
    iof_err err = tpl_stringify(r, v, &b);
    if (err == IOF_OK) {
        err = tpl_string(r, b.data != NULL ? (const char *)b.data : "", b.len, out);
    }
    iof_buf_free(&b);
    return err;
}

bool tpl_truthy(const json_t *v) {
    return v != NULL && !json_is_false(v) && !json_is_null(v);
}

bool tpl_equal(const json_t *a, const json_t *b) {
    if (a == NULL || b == NULL || json_is_null(a) || json_is_null(b)) {
        return (a == NULL || json_is_null(a)) && (b == NULL || json_is_null(b));
    }
    if (json_is_number(a) && json_is_number(b)) {
        return json_number_value(a) == json_number_value(b);
    }
    if (json_is_array(a) && json_is_array(b)) {
        if (json_array_size(a) != json_array_size(b)) {
            return false;
        }
        for (size_t i = 0; i < json_array_size(a); i++) {
            if (!tpl_equal(json_array_get(a, i), json_array_get(b, i))) {
                return false;
            }
        }
        return true;
    }
    if (json_is_object(a) || json_is_object(b)) {
        return a == b; /* JavaScript compares objects by identity */
    }
    return json_equal((json_t *)(uintptr_t)a, (json_t *)(uintptr_t)b);
}

static json_t *ref(json_t *v) {
    return v != NULL ? json_incref(v) : NULL;
}

json_t *tpl_property(const json_t *obj, const json_t *key) {
    if (obj == NULL || key == NULL) {
        return NULL;
    }
    json_t *o = (json_t *)(uintptr_t)obj;
    const char *k = json_string_value(key);
    if (json_is_array(o)) {
        if (json_is_number(key)) {
            double x = json_number_value(key);
            double n = (double)json_array_size(o);
            if (x < 0) {
                x += n;
            }
            return x >= 0 && x < n && x == floor(x) ? ref(json_array_get(o, (size_t)x)) : NULL;
        }
        if (k != NULL && strcmp(k, "size") == 0) {
            return json_integer((json_int_t)json_array_size(o));
        }
        if (k != NULL && strcmp(k, "first") == 0) {
            return ref(json_array_get(o, 0));
        }
        if (k != NULL && strcmp(k, "last") == 0) {
            size_t n = json_array_size(o);
            return n > 0 ? ref(json_array_get(o, n - 1)) : NULL;
        }
        return NULL;
    }
    if (json_is_object(o)) {
        char idx[32];
        if (k == NULL && json_is_integer(key)) {
            (void)snprintf(idx, sizeof idx, "%" JSON_INTEGER_FORMAT, json_integer_value(key));
            k = idx;
        }
        if (k == NULL) {
            return NULL;
        }
        json_t *v = json_object_get(o, k);
        if (v == NULL && strcmp(k, "size") == 0) {
            return json_integer((json_int_t)json_object_size(o));
        }
        return ref(v);
    }
    if (json_is_string(o)) {
        size_t n = json_string_length(o);
        if (k != NULL && (strcmp(k, "size") == 0 || strcmp(k, "length") == 0)) {
            return json_integer((json_int_t)n);
        }
        if (json_is_integer(key) && json_integer_value(key) >= 0 &&
            (size_t)json_integer_value(key) < n) {
            return json_stringn(json_string_value(o) + json_integer_value(key), 1);
        }
    }
    return NULL;
}

/* ---- expression lexer --------------------------------------------------------------------- */

enum tk {
    T_END = 0,
    T_ID,
    T_NUM,
    T_STR,
    T_DOT,
    T_LBR,
    T_RBR,
    T_LP,
    T_RP,
    T_RANGE,
    T_PIPE,
    T_COLON,
    T_COMMA,
    T_CMP,
    T_AND,
    T_OR,
    T_CONTAINS,
    T_EQ, /* '=' of assign */
};

enum cmp { C_EQ, C_NE, C_LT, C_GT, C_LE, C_GE };

struct tok {
    enum tk k;
    enum cmp op;
    const char *s; /* identifier or string (raw, escapes resolved at evaluation) */
    size_t n;
    double num;
};

struct toks {
    struct tok *v;
    size_t n;
};

static bool id_start(char c) {
    return isalpha((unsigned char)c) || c == '_';
}

static bool id_char(char c) {
    return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '?';
}

static iof_err lex(const char *s, size_t n, struct toks *out, struct iof_diag *d) {
    size_t cap = 8, cnt = 0;
    struct tok *v = malloc(cap * sizeof *v);
    if (v == NULL) {
        return iof_fail(d, IOF_ENOMEM, "out of memory");
    }
    size_t i = 0;
    iof_err err = IOF_OK;
    while (err == IOF_OK) {
        while (i < n && isspace((unsigned char)s[i])) {
            i++;
        }
        if (cnt + 1 >= cap) {
            struct tok *nv = realloc(v, cap * 2 * sizeof *v);
            if (nv == NULL) {
                err = iof_fail(d, IOF_ENOMEM, "out of memory");
                break;
            }
            v = nv;
            cap *= 2;
        }
        struct tok t = {.k = T_END, .s = s + i};
        if (i >= n) {
            v[cnt++] = t;
            break;
        }
        char c = s[i];
        if (c == '"' || c == '\'') {
            size_t j = i + 1;
            while (j < n && s[j] != c) {
                j += s[j] == '\\' && j + 1 < n ? 2 : 1;
            }
            if (j >= n) {
                err = iof_fail(d, IOF_EINVAL, "unterminated string in \"%.*s\"", (int)n, s);
                break;
            }
            t.k = T_STR;
            t.s = s + i + 1;
            t.n = j - i - 1;
            i = j + 1;
        } else if (isdigit((unsigned char)c) ||
                   (c == '-' && i + 1 < n && isdigit((unsigned char)s[i + 1]))) {
            size_t j = i + 1;
            while (j < n && isdigit((unsigned char)s[j])) {
                j++;
            }
            if (j + 1 < n && s[j] == '.' && isdigit((unsigned char)s[j + 1])) {
                j++;
                while (j < n && isdigit((unsigned char)s[j])) {
                    j++;
                }
            }
            char num[64];
            size_t len = j - i < sizeof num ? j - i : sizeof num - 1;
            memcpy(num, s + i, len);
            num[len] = '\0';
            t.k = T_NUM;
            t.num = strtod(num, NULL);
            i = j;
        } else if (id_start(c)) {
            size_t j = i;
            while (j < n && id_char(s[j])) {
                j++;
            }
            t.n = j - i;
            t.k = T_ID;
            if (t.n == 3 && memcmp(t.s, "and", 3) == 0) {
                t.k = T_AND;
            } else if (t.n == 2 && memcmp(t.s, "or", 2) == 0) {
                t.k = T_OR;
            } else if (t.n == 8 && memcmp(t.s, "contains", 8) == 0) {
                t.k = T_CONTAINS;
            }
            i = j;
        } else if (c == '.' && i + 1 < n && s[i + 1] == '.') {
            t.k = T_RANGE;
            i += 2;
        } else if (c == '=' && i + 1 < n && s[i + 1] == '=') {
            t.k = T_CMP;
            t.op = C_EQ;
            i += 2;
        } else if ((c == '!' && i + 1 < n && s[i + 1] == '=') ||
                   (c == '<' && i + 1 < n && s[i + 1] == '>')) {
            t.k = T_CMP;
            t.op = C_NE;
            i += 2;
        } else if (c == '<' || c == '>') {
            bool eq = i + 1 < n && s[i + 1] == '=';
            t.k = T_CMP;
            t.op = c == '<' ? (eq ? C_LE : C_LT) : (eq ? C_GE : C_GT);
            i += eq ? 2 : 1;
        } else {
            static const char punct[] = ".[]()|:,=";
            static const enum tk kinds[] = {
                T_DOT, T_LBR, T_RBR, T_LP, T_RP, T_PIPE, T_COLON, T_COMMA, T_EQ};
            const char *p = strchr(punct, c);
            if (p == NULL || c == '\0') {
                err = iof_fail(d, IOF_EINVAL, "unexpected '%c' in \"%.*s\"", c, (int)n, s);
                break;
            }
            t.k = kinds[p - punct];
            i++;
        }
        v[cnt++] = t;
    }
    if (err != IOF_OK) {
        free(v);
        return err;
    }
    out->v = v;
    out->n = cnt;
    return IOF_OK;
}

/* ---- expression evaluation ---------------------------------------------------------------- */

/* A cursor over a token array. With dry set nothing is looked up or called: the walk only checks
 * the syntax (used at parse time). */
struct ev {
    struct tpl_run *r;
    const struct tok *t;
    size_t nt; /* number of tokens; the last is T_END */
    size_t i;
    size_t depth;
    bool dry;
};

enum special { SP_NONE, SP_EMPTY, SP_BLANK };

/* Never reads past the closing T_END, whatever a failed parse left in i. */
static const struct tok *peek(const struct ev *e) {
    return &e->t[e->i < e->nt ? e->i : e->nt - 1];
}

static iof_err syntax(struct ev *e, const char *what) {
    const struct tok *t = peek(e);
    if (t->k == T_ID || t->k == T_STR) {
        return iof_fail(
            e->r->d, IOF_EINVAL, "%s near \"%.*s\"", what, (int)(t->n < 30 ? t->n : 30), t->s);
    }
    return iof_fail(e->r->d, IOF_EINVAL, "%s%s", what, t->k == T_END ? " at the end" : "");
}

static iof_err enter(struct ev *e) {
    if (++e->depth > e->r->env->limits.max_depth) {
        return iof_fail(e->r->d,
                        IOF_E2BIG,
                        "template nesting limit exceeded (%zu)",
                        e->r->env->limits.max_depth);
    }
    return IOF_OK;
}

/* A string literal with backslash escapes resolved. */
static iof_err unquote(struct ev *e, const struct tok *t, json_t **out) {
    char *buf = malloc(t->n + 1);
    if (buf == NULL) {
        return iof_fail(e->r->d, IOF_ENOMEM, "out of memory");
    }
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++) {
        char c = t->s[i];
        if (c == '\\' && i + 1 < t->n) {
            c = t->s[++i];
            c = c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c;
        }
        buf[n++] = c;
    }
    iof_err err = tpl_string(e->r, buf, n, out);
    free(buf);
    return err;
}

static json_t *lookup(struct tpl_run *r, const char *name, size_t n);
static iof_err value(struct ev *e, json_t **out, enum special *sp);

/* primary := literal | '(' value '..' value ')' | ID ('.' ID | '[' value ']')* */
static iof_err primary(struct ev *e, json_t **out, enum special *sp) {
    const struct tok *t = peek(e);
    *sp = SP_NONE;
    *out = NULL;
    iof_err err = enter(e);
    if (err != IOF_OK) {
        return err;
    }
    if (t->k == T_STR) {
        e->i++;
        err = e->dry ? IOF_OK : unquote(e, t, out);
    } else if (t->k == T_NUM) {
        e->i++;
        *out = e->dry ? NULL : tpl_number(t->num);
    } else if (t->k == T_LP) {
        e->i++;
        json_t *lo = NULL, *hi = NULL;
        enum special s2;
        if ((err = value(e, &lo, &s2)) == IOF_OK) {
            if (peek(e)->k == T_RANGE) {
                e->i++;
                err = value(e, &hi, &s2);
            } else {
                err = syntax(e, "expected ..");
            }
        }
        if (err == IOF_OK) {
            if (peek(e)->k == T_RP) {
                e->i++;
            } else {
                err = syntax(e, "expected )");
            }
        }
        if (err == IOF_OK && !e->dry) {
            double a = trunc(tpl_to_double(lo)), b = trunc(tpl_to_double(hi));
            size_t cnt = isfinite(a) && isfinite(b) && b >= a ? (size_t)fmin(b - a + 1, 1e12) : 0;
            if (cnt > e->r->env->limits.max_iterations) {
                err = iof_fail(e->r->d,
                               IOF_E2BIG,
                               "template iteration limit exceeded (%zu)",
                               e->r->env->limits.max_iterations);
            } else if ((err = tpl_charge(e->r, cnt)) == IOF_OK) {
                json_t *arr = json_array();
                for (size_t k = 0; arr != NULL && k < cnt; k++) {
                    (void)json_array_append_new(arr, json_integer((json_int_t)(a + (double)k)));
                }
                *out = arr;
            }
        }
        json_decref(lo);
        json_decref(hi);
    } else if (t->k == T_ID) {
        e->i++;
        bool bare = peek(e)->k != T_DOT && peek(e)->k != T_LBR;
        if (bare && t->n == 4 && memcmp(t->s, "true", 4) == 0) {
            *out = json_true();
        } else if (bare && t->n == 5 && memcmp(t->s, "false", 5) == 0) {
            *out = json_false();
        } else if (bare && ((t->n == 3 && memcmp(t->s, "nil", 3) == 0) ||
                            (t->n == 4 && memcmp(t->s, "null", 4) == 0))) {
            *out = NULL;
        } else if (bare && t->n == 5 && memcmp(t->s, "empty", 5) == 0) {
            *sp = SP_EMPTY;
        } else if (bare && t->n == 5 && memcmp(t->s, "blank", 5) == 0) {
            *sp = SP_BLANK;
        } else {
            json_t *cur = e->dry ? NULL : lookup(e->r, t->s, t->n);
            while (err == IOF_OK && (peek(e)->k == T_DOT || peek(e)->k == T_LBR)) {
                json_t *key = NULL;
                if (peek(e)->k == T_DOT) {
                    e->i++;
                    const struct tok *k = peek(e);
                    if (k->k != T_ID && k->k != T_AND && k->k != T_OR && k->k != T_CONTAINS) {
                        err = syntax(e, "expected a property name");
                        break;
                    }
                    e->i++;
                    key = e->dry ? NULL : json_stringn_nocheck(k->s, k->n);
                } else {
                    e->i++;
                    enum special s2;
                    err = value(e, &key, &s2);
                    if (err == IOF_OK) {
                        if (peek(e)->k == T_RBR) {
                            e->i++;
                        } else {
                            err = syntax(e, "expected ]");
                        }
                    }
                }
                if (err == IOF_OK && !e->dry) {
                    json_t *next = tpl_property(cur, key);
                    json_decref(cur);
                    cur = next;
                }
                json_decref(key);
            }
            if (err != IOF_OK) {
                json_decref(cur);
                cur = NULL;
            }
            *out = cur;
        }
    } else {
        err = syntax(e, "expected a value");
    }
    e->depth--;
    return err;
}

static bool is_empty_like(const json_t *v, enum special sp) {
    if (v == NULL) {
        return sp == SP_BLANK;
    }
    if (json_is_string(v)) {
        if (sp == SP_EMPTY) {
            return json_string_length(v) == 0;
        }
        for (const char *s = json_string_value(v); *s != '\0'; s++) {
            if (!isspace((unsigned char)*s)) {
                return false;
            }
        }
        return true;
    }
    if (json_is_array(v)) {
        return json_array_size(v) == 0;
    }
    if (json_is_object(v)) {
        return json_object_size(v) == 0;
    }
    return sp == SP_BLANK && (json_is_false(v) || json_is_null(v));
}

static bool
compare(enum cmp op, const json_t *a, enum special sa, const json_t *b, enum special sb) {
    if (sa != SP_NONE || sb != SP_NONE) {
        bool eq = sa != SP_NONE ? is_empty_like(b, sa) : is_empty_like(a, sb);
        return op == C_EQ ? eq : op == C_NE ? !eq : false;
    }
    if (op == C_EQ || op == C_NE) {
        return tpl_equal(a, b) == (op == C_EQ);
    }
    int c;
    if (a != NULL && b != NULL && json_is_number(a) && json_is_number(b)) {
        double x = json_number_value(a), y = json_number_value(b);
        c = x < y ? -1 : x > y ? 1 : 0;
    } else if (a != NULL && b != NULL && json_is_string(a) && json_is_string(b)) {
        c = strcmp(json_string_value(a), json_string_value(b));
    } else {
        double x = tpl_to_double(a), y = tpl_to_double(b);
        if (isnan(x) || isnan(y)) {
            return false;
        }
        c = x < y ? -1 : x > y ? 1 : 0;
    }
    switch (op) {
        case C_LT: return c < 0;
        case C_GT: return c > 0;
        case C_LE: return c <= 0;
        case C_GE: return c >= 0;
        default: return false;
    }
}

static bool contains(const json_t *a, const json_t *b) {
    if (a == NULL) {
        return false;
    }
    if (json_is_string(a)) {
        if (b == NULL || !json_is_string(b)) {
            return false;
        }
        return strstr(json_string_value(a), json_string_value(b)) != NULL;
    }
    if (json_is_array(a)) {
        size_t i;
        json_t *x;
        json_array_foreach(a, i, x) {
            if (tpl_equal(x, b) && (b == NULL || !json_is_object(b) || x == b)) {
                return true;
            }
        }
    }
    return false;
}

/* comparison := primary (op primary)? */
static iof_err comparison(struct ev *e, json_t **out, enum special *sp) {
    iof_err err = primary(e, out, sp);
    const struct tok *t = peek(e);
    if (err != IOF_OK || (t->k != T_CMP && t->k != T_CONTAINS)) {
        return err;
    }
    e->i++;
    json_t *rhs = NULL;
    enum special sr;
    err = primary(e, &rhs, &sr);
    if (err == IOF_OK && !e->dry) {
        bool res = t->k == T_CONTAINS ? contains(*out, rhs) : compare(t->op, *out, *sp, rhs, sr);
        json_decref(*out);
        *out = json_boolean(res);
        *sp = SP_NONE;
    }
    json_decref(rhs);
    return err;
}

/* condition := comparison ((and|or) condition)?, grouped to the right as Liquid does. */
static iof_err condition(struct ev *e, json_t **out, enum special *sp) {
    iof_err err = enter(e);
    if (err == IOF_OK) {
        err = comparison(e, out, sp);
    }
    enum tk k = peek(e)->k;
    if (err == IOF_OK && (k == T_AND || k == T_OR)) {
        e->i++;
        json_t *rhs = NULL;
        enum special sr;
        err = condition(e, &rhs, &sr);
        if (err == IOF_OK && !e->dry) {
            bool l = tpl_truthy(*out) || *sp != SP_NONE, rr = tpl_truthy(rhs) || sr != SP_NONE;
            json_decref(*out);
            *out = json_boolean(k == T_AND ? l && rr : l || rr);
            *sp = SP_NONE;
        }
        json_decref(rhs);
    }
    e->depth--;
    if (err != IOF_OK) {
        json_decref(*out);
        *out = NULL;
    }
    return err;
}

#define MAX_ARGS 8

static iof_err apply_filter(
    struct ev *e, const struct tok *name, json_t *in, json_t **args, size_t n, json_t **out) {
    char fname[64];
    if (name->n >= sizeof fname) {
        *out = ref(in);
        return IOF_OK; /* no filter has such a long name: unknown filters pass through */
    }
    memcpy(fname, name->s, name->n);
    fname[name->n] = '\0';
    const struct iof_tpl_env *env = e->r->env;
    iof_err err = IOF_ENOENT;
    if (env->filter != NULL) {
        err = env->filter(env->filter_ctx, fname, in, args, n, out, e->r->d);
    }
    if (err == IOF_ENOENT) {
        err = tpl_builtin_filter(e->r, fname, in, args, n, out);
    }
    if (err == IOF_ENOENT) {
        *out = ref(in);
        err = IOF_OK;
    }
    return err;
}

/* value := condition ('|' ID (':' arg (',' arg)*)?)*  (an arg may be named: key: value) */
static iof_err value(struct ev *e, json_t **out, enum special *sp) {
    iof_err err = enter(e);
    json_t *cur = NULL;
    if (err == IOF_OK) {
        err = condition(e, &cur, sp);
    }
    while (err == IOF_OK && peek(e)->k == T_PIPE) {
        e->i++;
        const struct tok *name = peek(e);
        if (name->k != T_ID) {
            err = syntax(e, "expected a filter name");
            break;
        }
        e->i++;
        json_t *args[MAX_ARGS] = {0};
        size_t n = 0;
        if (peek(e)->k == T_COLON) {
            do {
                e->i++;
                if (peek(e)->k == T_ID && e->t[e->i + 1].k == T_COLON) {
                    e->i += 2; /* a keyword argument: liquidjs passes it as a pair; ignored */
                }
                if (n == MAX_ARGS) {
                    err = syntax(e, "too many filter arguments");
                    break;
                }
                enum special s2;
                err = condition(e, &args[n++], &s2);
            } while (err == IOF_OK && peek(e)->k == T_COMMA);
        }
        if (err == IOF_OK && !e->dry) {
            if (*sp != SP_NONE) {
                json_decref(cur);
                cur = json_string("");
                *sp = SP_NONE;
            }
            json_t *next = NULL;
            err = apply_filter(e, name, cur, args, n, &next);
            json_decref(cur);
            cur = err == IOF_OK ? next : NULL;
        }
        for (size_t k = 0; k < n; k++) {
            json_decref(args[k]);
        }
    }
    e->depth--;
    if (err != IOF_OK) {
        json_decref(cur);
        return err;
    }
    *out = cur;
    return IOF_OK;
}

/* Evaluates a whole token array as one value (nothing may follow). */
static iof_err
eval_all(struct tpl_run *r, const struct toks *t, size_t from, bool dry, json_t **out) {
    struct ev e = {.r = r, .t = t->v, .nt = t->n, .i = from, .dry = dry};
    enum special sp;
    json_t *v = NULL;
    iof_err err = value(&e, &v, &sp);
    if (err == IOF_OK && peek(&e)->k != T_END) {
        err = syntax(&e, "unexpected token");
    }
    if (err != IOF_OK) {
        json_decref(v);
        return err;
    }
    if (sp != SP_NONE && !dry) {
        v = json_string(""); /* empty/blank as a value print as "" */
    }
    *out = v;
    return IOF_OK;
}

/* ---- scopes ------------------------------------------------------------------------------- */

struct tpl_frame {
    const char *name; /* loop variable */
    size_t n;
    json_t *item;    /* borrowed */
    json_t *forloop; /* owned */
    struct tpl_frame *up;
};

static json_t *lookup(struct tpl_run *r, const char *name, size_t n) {
    for (struct tpl_frame *f = r->frames; f != NULL; f = f->up) {
        if (f->n == n && memcmp(f->name, name, n) == 0) {
            return ref(f->item);
        }
        if (n == 7 && memcmp(name, "forloop", 7) == 0) {
            return ref(f->forloop);
        }
    }
    char key[128];
    if (n >= sizeof key) {
        return NULL;
    }
    memcpy(key, name, n);
    key[n] = '\0';
    json_t *v = r->locals != NULL ? json_object_get(r->locals, key) : NULL;
    if (v == NULL && r->env->globals != NULL) {
        v = json_object_get(r->env->globals, key);
    }
    return ref(v);
}

/* ---- template tokens and nodes ------------------------------------------------------------ */

enum nk { N_TEXT, N_OUT, N_ASSIGN, N_CAPTURE, N_IF, N_FOR, N_BREAK, N_CONTINUE };

struct node;

struct block {
    struct node **v;
    size_t n, cap;
};

struct branch {
    struct toks cond; /* n == 0: else */
    bool negate;      /* unless */
    struct block body;
};

struct node {
    enum nk k;
    const char *s; /* N_TEXT */
    size_t n;
    struct toks expr;
    char name[128];   /* assign, capture, for variable */
    size_t expr_from; /* first token of the value in expr */
    struct branch *br;
    size_t nbr;
    struct block body, other; /* capture/for body; for's else */
    /* for options, as token ranges in expr */
    bool reversed;
    size_t limit_at, offset_at; /* 0: none, else index of the option's value */
};

struct parser {
    struct tpl_run *r;
    const char *src;
    size_t len;
    size_t pos;
    bool trim_next; /* the previous tag ended with -%} / -}} */
    size_t depth;
};

static void free_block(struct block *b);

static void free_node(struct node *n) {
    if (n == NULL) {
        return;
    }
    free(n->expr.v);
    for (size_t i = 0; i < n->nbr; i++) {
        free(n->br[i].cond.v);
        free_block(&n->br[i].body);
    }
    free(n->br);
    free_block(&n->body);
    free_block(&n->other);
    free(n);
}

static void free_block(struct block *b) {
    for (size_t i = 0; i < b->n; i++) {
        free_node(b->v[i]);
    }
    free(b->v);
    b->v = NULL;
    b->n = b->cap = 0;
}

static iof_err push(struct parser *p, struct block *b, struct node *n) {
    if (b->n == b->cap) {
        size_t cap = b->cap != 0 ? b->cap * 2 : 8;
        struct node **v = realloc(b->v, cap * sizeof *v);
        if (v == NULL) {
            free_node(n);
            return iof_fail(p->r->d, IOF_ENOMEM, "out of memory");
        }
        b->v = v;
        b->cap = cap;
    }
    b->v[b->n++] = n;
    return IOF_OK;
}

/* One markup token: text, {{ output }} or {% tag %}; inner/inner_len is what lies between the
 * delimiters without the - markers. */
enum mk { M_EOF, M_TEXT, M_OUT, M_TAG };

struct mtok {
    enum mk k;
    const char *s;
    size_t n;
};

/* Finds the closing delimiter from i, skipping quoted strings. */
static size_t find_close(const char *s, size_t len, size_t i, char c1) {
    char q = 0;
    for (; i + 1 < len; i++) {
        if (q != 0) {
            q = s[i] == q ? 0 : q;
        } else if (s[i] == '"' || s[i] == '\'') {
            q = s[i];
        } else if (s[i] == c1 && s[i + 1] == '}') {
            return i;
        }
    }
    return SIZE_MAX; /* not closed (a quote left open counts as not closed, as in liquidjs) */
}

static iof_err next_mtok(struct parser *p, struct mtok *t) {
    const char *s = p->src;
    size_t len = p->len, i = p->pos;
    if (i >= len) {
        t->k = M_EOF;
        return IOF_OK;
    }
    if (i + 1 < len && s[i] == '{' && (s[i + 1] == '{' || s[i + 1] == '%')) {
        char c1 = s[i + 1] == '{' ? '}' : '%';
        size_t close = find_close(s, len, i + 2, c1);
        if (close == SIZE_MAX) {
            size_t show = len - i < 30 ? len - i : 30;
            return iof_fail(p->r->d,
                            IOF_EINVAL,
                            "%s \"%.*s\" not closed",
                            c1 == '}' ? "output" : "tag",
                            (int)show,
                            s + i);
        }
        size_t a = i + 2, b = close;
        if (a < b && s[a] == '-') {
            a++;
        }
        bool trim_after = b > a && s[b - 1] == '-';
        if (trim_after) {
            b--;
        }
        t->k = c1 == '}' ? M_OUT : M_TAG;
        t->s = s + a;
        t->n = b - a;
        p->pos = close + 2;
        p->trim_next = trim_after;
        return IOF_OK;
    }
    size_t j = i;
    while (j < len && !(j + 1 < len && s[j] == '{' && (s[j + 1] == '{' || s[j + 1] == '%'))) {
        j++;
    }
    const char *ts = s + i;
    size_t tn = j - i;
    if (p->trim_next) {
        while (tn > 0 && isspace((unsigned char)*ts)) {
            ts++;
            tn--;
        }
    }
    if (j + 2 < len && s[j + 2] == '-') {
        while (tn > 0 && isspace((unsigned char)ts[tn - 1])) {
            tn--;
        }
    }
    p->trim_next = false;
    p->pos = j;
    t->k = M_TEXT;
    t->s = ts;
    t->n = tn;
    return IOF_OK;
}

static void trim_view(const char **s, size_t *n) {
    while (*n > 0 && isspace((unsigned char)**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && isspace((unsigned char)(*s)[*n - 1])) {
        (*n)--;
    }
}

/* Splits a tag's inside into its name and the rest. */
static void
tag_name(const struct mtok *t, const char **name, size_t *nn, const char **rest, size_t *rn) {
    const char *s = t->s;
    size_t n = t->n;
    trim_view(&s, &n);
    size_t i = 0;
    while (i < n && !isspace((unsigned char)s[i])) {
        i++;
    }
    *name = s;
    *nn = i;
    *rest = s + i;
    *rn = n - i;
    trim_view(rest, rn);
}

static bool is(const char *s, size_t n, const char *word) {
    return strlen(word) == n && memcmp(s, word, n) == 0;
}

static iof_err parse_block(struct parser *p,
                           struct block *b,
                           const char *const *ends,
                           char *ended,
                           size_t ended_size,
                           struct mtok *end_tok);

static iof_err dry_check(struct parser *p, const struct toks *t, size_t from) {
    json_t *v = NULL;
    iof_err err = eval_all(p->r, t, from, true, &v);
    json_decref(v);
    return err;
}

static iof_err new_node(struct parser *p, enum nk k, struct node **out) {
    struct node *n = calloc(1, sizeof *n);
    *out = n;
    if (n == NULL) {
        return iof_fail(p->r->d, IOF_ENOMEM, "out of memory");
    }
    n->k = k;
    return IOF_OK;
}

/* Appends a text node for s..s+len to b. */
static iof_err push_text(struct parser *p, struct block *b, const char *s, size_t len) {
    struct node *n = calloc(1, sizeof *n);
    if (n == NULL) {
        return iof_fail(p->r->d, IOF_ENOMEM, "out of memory");
    }
    n->k = N_TEXT;
    n->s = s;
    n->n = len;
    return push(p, b, n);
}

static iof_err copy_name(struct parser *p, struct node *n, const struct tok *t) {
    if (t->k != T_ID || t->n >= sizeof n->name) {
        return iof_fail(p->r->d, IOF_EINVAL, "invalid variable name");
    }
    memcpy(n->name, t->s, t->n);
    n->name[t->n] = '\0';
    return IOF_OK;
}

static iof_err
parse_if(struct parser *p, struct node *n, bool unless, const char *rest, size_t rn) {
    static const char *const ends_if[] = {"elsif", "else", "endif", NULL};
    static const char *const ends_unless[] = {"elsif", "else", "endunless", NULL};
    const char *const *ends = unless ? ends_unless : ends_if;
    iof_err err = IOF_OK;
    bool negate = unless, seen_else = false;
    for (;;) {
        struct branch *br = realloc(n->br, (n->nbr + 1) * sizeof *br);
        if (br == NULL) {
            return iof_fail(p->r->d, IOF_ENOMEM, "out of memory");
        }
        n->br = br;
        struct branch *cur = &n->br[n->nbr++];
        memset(cur, 0, sizeof *cur);
        cur->negate = negate;
        negate = false;
        if (!seen_else) {
            if (rn == 0) {
                return iof_fail(p->r->d, IOF_EINVAL, "missing condition");
            }
            if ((err = lex(rest, rn, &cur->cond, p->r->d)) != IOF_OK ||
                (err = dry_check(p, &cur->cond, 0)) != IOF_OK) {
                return err;
            }
        }
        char ended[16];
        struct mtok end;
        err = parse_block(p, &cur->body, ends, ended, sizeof ended, &end);
        if (err != IOF_OK) {
            return err;
        }
        if (strcmp(ended, "endif") == 0 || strcmp(ended, "endunless") == 0) {
            return IOF_OK;
        }
        if (seen_else) {
            return iof_fail(p->r->d, IOF_EINVAL, "unexpected %s after else", ended);
        }
        const char *nm;
        size_t nn;
        tag_name(&end, &nm, &nn, &rest, &rn);
        seen_else = strcmp(ended, "else") == 0;
    }
}

static iof_err parse_for(struct parser *p, struct node *n, const char *rest, size_t rn) {
    iof_err err = lex(rest, rn, &n->expr, p->r->d);
    if (err != IOF_OK) {
        return err;
    }
    const struct tok *t = n->expr.v;
    if ((err = copy_name(p, n, &t[0])) != IOF_OK) {
        return err;
    }
    if (t[1].k != T_ID || !is(t[1].s, t[1].n, "in")) {
        return iof_fail(p->r->d, IOF_EINVAL, "illegal tag: for %.*s", (int)rn, rest);
    }
    n->expr_from = 2;
    /* the collection is one primary; options follow: limit:v offset:v reversed */
    struct ev e = {.r = p->r, .t = t, .nt = n->expr.n, .i = 2, .dry = true};
    json_t *v = NULL;
    enum special sp;
    if ((err = primary(&e, &v, &sp)) != IOF_OK) {
        return err;
    }
    while (peek(&e)->k == T_ID) {
        const struct tok *o = peek(&e);
        e.i++;
        if (is(o->s, o->n, "reversed")) {
            n->reversed = true;
            continue;
        }
        bool lim = is(o->s, o->n, "limit");
        if ((!lim && !is(o->s, o->n, "offset")) || peek(&e)->k != T_COLON) {
            return syntax(&e, "unknown for option");
        }
        e.i++;
        *(lim ? &n->limit_at : &n->offset_at) = e.i;
        if ((err = primary(&e, &v, &sp)) != IOF_OK) {
            return err;
        }
        if (peek(&e)->k == T_COMMA) {
            e.i++;
        }
    }
    if (peek(&e)->k != T_END) {
        return syntax(&e, "unexpected token in for");
    }
    static const char *const ends[] = {"else", "endfor", NULL};
    char ended[16];
    struct mtok end;
    if ((err = parse_block(p, &n->body, ends, ended, sizeof ended, &end)) != IOF_OK) {
        return err;
    }
    if (strcmp(ended, "else") == 0) {
        static const char *const ends2[] = {"endfor", NULL};
        err = parse_block(p, &n->other, ends2, ended, sizeof ended, &end);
    }
    return err;
}

/* Skips to {% endcomment %} / {% endraw %}; for raw, the skipped text becomes a text node. */
static iof_err skip_to(struct parser *p, const char *end_tag, struct block *b, bool keep) {
    size_t start = p->pos;
    for (size_t i = p->pos; i + 1 < p->len; i++) {
        if (p->src[i] != '{' || p->src[i + 1] != '%') {
            continue;
        }
        size_t close = find_close(p->src, p->len, i + 2, '%');
        if (close == SIZE_MAX) {
            break;
        }
        struct mtok t = {M_TAG, p->src + i + 2, close - i - 2};
        if (t.n > 0 && t.s[0] == '-') {
            t.s++;
            t.n--;
        }
        bool trim_after = t.n > 0 && t.s[t.n - 1] == '-';
        if (trim_after) {
            t.n--;
        }
        const char *nm, *rest;
        size_t nn, rn;
        tag_name(&t, &nm, &nn, &rest, &rn);
        if (is(nm, nn, end_tag)) {
            p->pos = close + 2;
            p->trim_next = trim_after;
            if (!keep) {
                return IOF_OK;
            }
            return push_text(p, b, p->src + start, i - start);
        }
    }
    return iof_fail(p->r->d, IOF_EINVAL, "tag %s not closed", keep ? "raw" : "comment");
}

static iof_err parse_tag(struct parser *p, struct block *b, const struct mtok *t) {
    const char *nm, *rest;
    size_t nn, rn;
    tag_name(t, &nm, &nn, &rest, &rn);
    struct node *n = NULL;
    iof_err err;
    if (is(nm, nn, "comment")) {
        return skip_to(p, "endcomment", b, false);
    }
    if (is(nm, nn, "raw")) {
        return skip_to(p, "endraw", b, true);
    }
    if (is(nm, nn, "assign")) {
        if ((err = new_node(p, N_ASSIGN, &n)) == IOF_OK &&
            (err = lex(rest, rn, &n->expr, p->r->d)) == IOF_OK &&
            (err = copy_name(p, n, &n->expr.v[0])) == IOF_OK) {
            err = n->expr.v[1].k == T_EQ
                      ? dry_check(p, &n->expr, 2)
                      : iof_fail(p->r->d, IOF_EINVAL, "illegal tag: assign %.*s", (int)rn, rest);
            n->expr_from = 2;
        }
    } else if (is(nm, nn, "capture")) {
        static const char *const ends[] = {"endcapture", NULL};
        char ended[16];
        struct mtok end;
        struct toks tk = {0};
        if ((err = new_node(p, N_CAPTURE, &n)) == IOF_OK &&
            (err = lex(rest, rn, &tk, p->r->d)) == IOF_OK) {
            const struct tok *v = &tk.v[0];
            if (v->k == T_STR) {
                struct tok as_id = *v;
                as_id.k = T_ID;
                v = &as_id;
                err = copy_name(p, n, v);
            } else {
                err = copy_name(p, n, v);
            }
        }
        free(tk.v);
        if (err == IOF_OK) {
            err = parse_block(p, &n->body, ends, ended, sizeof ended, &end);
        }
    } else if (is(nm, nn, "if") || is(nm, nn, "unless")) {
        if ((err = new_node(p, N_IF, &n)) == IOF_OK) {
            err = parse_if(p, n, is(nm, nn, "unless"), rest, rn);
        }
    } else if (is(nm, nn, "for")) {
        if ((err = new_node(p, N_FOR, &n)) == IOF_OK) {
            err = parse_for(p, n, rest, rn);
        }
    } else if (is(nm, nn, "break") || is(nm, nn, "continue")) {
        err = new_node(p, is(nm, nn, "break") ? N_BREAK : N_CONTINUE, &n);
    } else {
        return iof_fail(
            p->r->d, IOF_EINVAL, "tag \"%.*s\" not found", (int)(nn < 40 ? nn : 40), nm);
    }
    if (err != IOF_OK) {
        free_node(n);
        return err;
    }
    return push(p, b, n);
}

/* Parses nodes into b until one of ends (NULL-terminated; ends == NULL: until the end of the
 * source), whose name goes to ended and whose token to end_tok. */
static iof_err parse_block(struct parser *p,
                           struct block *b,
                           const char *const *ends,
                           char *ended,
                           size_t ended_size,
                           struct mtok *end_tok) {
    if (++p->depth > p->r->env->limits.max_depth) {
        return iof_fail(p->r->d,
                        IOF_E2BIG,
                        "template nesting limit exceeded (%zu)",
                        p->r->env->limits.max_depth);
    }
    iof_err err = IOF_OK;
    for (;;) {
        struct mtok t;
        if ((err = next_mtok(p, &t)) != IOF_OK) {
            break;
        }
        if (t.k == M_EOF) {
            if (ends != NULL) {
                err = iof_fail(p->r->d, IOF_EINVAL, "tag {%% %s %%} not closed", ends[0]);
            }
            break;
        }
        struct node *n = NULL;
        if (t.k == M_TEXT) {
            if (t.n == 0) {
                continue;
            }
            err = push_text(p, b, t.s, t.n);
        } else if (t.k == M_OUT) {
            if ((err = new_node(p, N_OUT, &n)) == IOF_OK &&
                (err = lex(t.s, t.n, &n->expr, p->r->d)) == IOF_OK &&
                (err = n->expr.v[0].k == T_END ? IOF_OK : dry_check(p, &n->expr, 0)) == IOF_OK) {
                err = push(p, b, n);
                n = NULL;
            }
            free_node(n);
        } else {
            const char *nm, *rest;
            size_t nn, rn;
            tag_name(&t, &nm, &nn, &rest, &rn);
            bool is_end = false;
            for (size_t i = 0; ends != NULL && ends[i] != NULL; i++) {
                if (is(nm, nn, ends[i])) {
                    (void)snprintf(ended, ended_size, "%s", ends[i]);
                    *end_tok = t;
                    is_end = true;
                }
            }
            if (is_end) {
                break;
            }
            if (nn >= 3 && memcmp(nm, "end", 3) == 0) {
                err = iof_fail(
                    p->r->d, IOF_EINVAL, "unexpected tag \"%.*s\"", (int)(nn < 40 ? nn : 40), nm);
            } else if (is(nm, nn, "else") || is(nm, nn, "elsif")) {
                err = iof_fail(p->r->d, IOF_EINVAL, "unexpected tag \"%.*s\"", (int)nn, nm);
            } else {
                err = parse_tag(p, b, &t);
            }
        }
        if (err != IOF_OK) {
            break;
        }
    }
    p->depth--;
    return err;
}

/* ---- rendering ---------------------------------------------------------------------------- */

/* The output of a render: empty, one kept value (may be nil), or text. */
struct emitter {
    bool keep;
    bool has_value;
    json_t *value;
    struct iof_buf text;
};

static iof_err emit(struct tpl_run *r, struct emitter *em, json_t *v) {
    if (em->keep && !em->has_value && em->text.len == 0 && (v == NULL || !json_is_string(v))) {
        em->has_value = true;
        em->value = ref(v);
        return IOF_OK;
    }
    iof_err err = IOF_OK;
    if (em->has_value) {
        err = tpl_stringify(r, em->value, &em->text);
        json_decref(em->value);
        em->value = NULL;
        em->has_value = false;
    }
    return err == IOF_OK ? tpl_stringify(r, v, &em->text) : err;
}

static iof_err emit_text(struct tpl_run *r, struct emitter *em, const char *s, size_t n) {
    iof_err err = IOF_OK;
    if (em->has_value) {
        err = tpl_stringify(r, em->value, &em->text);
        json_decref(em->value);
        em->value = NULL;
        em->has_value = false;
    }
    if (err == IOF_OK && iof_buf_append(&em->text, s, n) != IOF_OK) {
        err = iof_fail(r->d,
                       IOF_E2BIG,
                       "template output limit exceeded (%zu bytes)",
                       r->env->limits.max_output);
    }
    return err;
}

enum flow { F_NORMAL, F_BREAK, F_CONTINUE };

static iof_err
render_block(struct tpl_run *r, const struct block *b, struct emitter *em, enum flow *fl);

/* A nil result is stored as JSON null, which reads back as nil everywhere that matters
 * (falsy, prints as "", equals nil) and hides a global of the same name as liquidjs does. */
static iof_err set_local(struct tpl_run *r, const char *name, json_t *v) {
    if (r->locals == NULL && (r->locals = json_object()) == NULL) {
        json_decref(v);
        return iof_fail(r->d, IOF_ENOMEM, "out of memory");
    }
    if (json_object_set_new(r->locals, name, v != NULL ? v : json_null()) != 0) {
        return iof_fail(r->d, IOF_ENOMEM, "out of memory");
    }
    return IOF_OK;
}

static json_t *enumerable(json_t *v) {
    if (v == NULL) {
        return json_array();
    }
    if (json_is_array(v)) {
        return json_incref(v);
    }
    json_t *a = json_array();
    if (a == NULL) {
        return NULL;
    }
    if (json_is_string(v) && json_string_length(v) > 0) {
        (void)json_array_append(a, v);
    } else if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) {
            (void)json_array_append_new(a, json_pack("[sO]", k, x));
        }
    }
    return a;
}

static iof_err render_for(struct tpl_run *r, const struct node *n, struct emitter *em) {
    json_t *coll = NULL;
    struct ev e = {.r = r, .t = n->expr.v, .nt = n->expr.n, .i = n->expr_from};
    enum special sp;
    iof_err err = primary(&e, &coll, &sp);
    double off = 0, lim = INFINITY;
    if (err == IOF_OK && n->offset_at != 0) {
        json_t *v = NULL;
        e.i = n->offset_at;
        err = primary(&e, &v, &sp);
        off = tpl_to_double(v);
        json_decref(v);
    }
    if (err == IOF_OK && n->limit_at != 0) {
        json_t *v = NULL;
        e.i = n->limit_at;
        err = primary(&e, &v, &sp);
        lim = tpl_to_double(v);
        json_decref(v);
    }
    json_t *items = err == IOF_OK ? enumerable(coll) : NULL;
    json_decref(coll);
    if (err != IOF_OK) {
        return err;
    }
    if (items == NULL) {
        return iof_fail(r->d, IOF_ENOMEM, "out of memory");
    }
    size_t total = json_array_size(items);
    size_t from = isnan(off) || off <= 0 ? 0 : off >= (double)total ? total : (size_t)off;
    size_t cnt = total - from;
    if (!isnan(lim) && lim < (double)cnt) {
        cnt = lim <= 0 ? 0 : (size_t)lim;
    }
    if (cnt == 0) {
        json_decref(items);
        enum flow fl = F_NORMAL;
        return render_block(r, &n->other, em, &fl);
    }
    struct tpl_frame f = {.name = n->name, .n = strlen(n->name), .up = r->frames};
    r->frames = &f;
    for (size_t k = 0; k < cnt && err == IOF_OK; k++) {
        if (++r->iterations > r->env->limits.max_iterations) {
            err = iof_fail(r->d,
                           IOF_E2BIG,
                           "template iteration limit exceeded (%zu)",
                           r->env->limits.max_iterations);
            break;
        }
        size_t idx = n->reversed ? from + cnt - 1 - k : from + k;
        f.item = json_array_get(items, idx);
        f.forloop = json_pack("{s:I,s:I,s:b,s:b,s:I,s:I,s:I,s:s}",
                              "index",
                              (json_int_t)k + 1,
                              "index0",
                              (json_int_t)k,
                              "first",
                              k == 0,
                              "last",
                              k + 1 == cnt,
                              "length",
                              (json_int_t)cnt,
                              "rindex",
                              (json_int_t)(cnt - k),
                              "rindex0",
                              (json_int_t)(cnt - k - 1),
                              "name",
                              n->name);
        if (f.forloop == NULL) {
            err = iof_fail(r->d, IOF_ENOMEM, "out of memory");
            break;
        }
        enum flow fl = F_NORMAL;
        err = render_block(r, &n->body, em, &fl);
        json_decref(f.forloop);
        f.forloop = NULL;
        if (fl == F_BREAK) {
            break;
        }
    }
    r->frames = f.up;
    json_decref(items);
    return err;
}

static iof_err
render_node(struct tpl_run *r, const struct node *n, struct emitter *em, enum flow *fl) {
    iof_err err = IOF_OK;
    json_t *v = NULL;
    switch (n->k) {
        case N_TEXT: return emit_text(r, em, n->s, n->n);
        case N_OUT:
            if (n->expr.v[0].k == T_END) {
                return emit(r, em, NULL);
            }
            if ((err = eval_all(r, &n->expr, 0, false, &v)) == IOF_OK) {
                err = emit(r, em, v);
            }
            json_decref(v);
            return err;
        case N_ASSIGN:
            if ((err = eval_all(r, &n->expr, n->expr_from, false, &v)) == IOF_OK) {
                err = set_local(r, n->name, v);
            }
            return err;
        case N_CAPTURE: {
            struct emitter sub = {.keep = false};
            iof_buf_init(&sub.text, r->env->limits.max_output);
            enum flow f2 = F_NORMAL;
            err = render_block(r, &n->body, &sub, &f2);
            if (err == IOF_OK) {
                err = tpl_string(
                    r, sub.text.data != NULL ? (const char *)sub.text.data : "", sub.text.len, &v);
            }
            iof_buf_free(&sub.text);
            return err == IOF_OK ? set_local(r, n->name, v) : err;
        }
        case N_IF:
            for (size_t i = 0; i < n->nbr; i++) {
                const struct branch *b = &n->br[i];
                bool take = true;
                if (b->cond.n > 0) {
                    if ((err = eval_all(r, &b->cond, 0, false, &v)) != IOF_OK) {
                        return err;
                    }
                    take = tpl_truthy(v) != b->negate;
                    json_decref(v);
                    v = NULL;
                }
                if (take) {
                    return render_block(r, &b->body, em, fl);
                }
            }
            return IOF_OK;
        case N_FOR: return render_for(r, n, em);
        case N_BREAK: *fl = F_BREAK; return IOF_OK;
        case N_CONTINUE: *fl = F_CONTINUE; return IOF_OK;
    }
    return IOF_OK;
}

static iof_err
render_block(struct tpl_run *r, const struct block *b, struct emitter *em, enum flow *fl) {
    for (size_t i = 0; i < b->n; i++) {
        iof_err err = render_node(r, b->v[i], em, fl);
        if (err != IOF_OK || *fl != F_NORMAL) {
            return err;
        }
    }
    return IOF_OK;
}

/* ---- entry points ------------------------------------------------------------------------- */

bool iof_tpl_has_markup(const char *s, size_t len) {
    const char *p = s, *end = s + len;
    while (p < end && (p = memchr(p, '{', (size_t)(end - p))) != NULL) {
        if (p + 1 < end && (p[1] == '{' || p[1] == '%')) {
            return true;
        }
        p++;
    }
    return false;
}

static iof_err render_with(struct tpl_run *r, const char *src, size_t len, json_t **out) {
    const struct iof_tpl_limits *lim = &r->env->limits;
    if (len > lim->max_source) {
        return iof_fail(
            r->d, IOF_E2BIG, "template size limit exceeded (%zu bytes)", lim->max_source);
    }
    struct parser p = {.r = r, .src = src, .len = len};
    struct block root = {0};
    char ended[16];
    struct mtok end;
    iof_err err = parse_block(&p, &root, NULL, ended, sizeof ended, &end);
    struct emitter em = {.keep = r->env->keep_output_type};
    iof_buf_init(&em.text, lim->max_output);
    if (err == IOF_OK) {
        enum flow fl = F_NORMAL;
        err = render_block(r, &root, &em, &fl);
    }
    free_block(&root);
    json_decref(r->locals);
    r->locals = NULL;
    if (err == IOF_OK) {
        if (em.has_value) {
            *out = em.value;
            em.value = NULL;
        } else {
            err = tpl_string(
                r, em.text.data != NULL ? (const char *)em.text.data : "", em.text.len, out);
        }
    }
    json_decref(em.value);
    iof_buf_free(&em.text);
    return err;
}

iof_err iof_tpl_render(
    const struct iof_tpl_env *env, const char *src, size_t len, json_t **out, struct iof_diag *d) {
    size_t work = 0;
    struct tpl_run r = {.env = env, .d = d, .work = &work};
    return render_with(&r, src, len, out);
}

/* Units charged for storing a copy of v: its nodes and string bytes (stops counting past cap). */
static size_t weight(const json_t *v, size_t cap) {
    size_t w = 1;
    if (json_is_string(v)) {
        return w + json_string_length(v);
    }
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)(uintptr_t)v, k, x) {
            w += strlen(k) + weight(x, cap);
            if (w > cap) {
                break;
            }
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) {
            w += weight(x, cap);
            if (w > cap) {
                break;
            }
        }
    }
    return w;
}

struct path {
    const struct path *up;
    const char *key; /* object member, or NULL for an array index */
    size_t index;
};

static void path_text(const struct path *p, char *buf, size_t size) {
    const struct path *chain[64];
    size_t n = 0;
    for (; p != NULL && n < 64; p = p->up) {
        chain[n++] = p;
    }
    size_t len = 0;
    buf[0] = '\0';
    while (n-- > 0 && len < size) {
        const struct path *c = chain[n];
        int w = c->key != NULL ? snprintf(buf + len, size - len, "%s%s", len > 0 ? "." : "", c->key)
                               : snprintf(buf + len, size - len, "[%zu]", c->index);
        len += w > 0 ? (size_t)w : 0;
    }
}

/* Renders one string; *out as iof_tpl_render, failures prefixed with the field's path. */
static iof_err render_field(struct tpl_run *r, json_t *str, const struct path *at, json_t **out) {
    json_incref(str); /* the rendered text may replace it while globals still point at it */
    iof_err err = render_with(r, json_string_value(str), json_string_length(str), out);
    json_decref(str);
    if (err == IOF_OK && *out != NULL && (json_is_object(*out) || json_is_array(*out))) {
        json_t *copy = NULL;
        size_t w = weight(*out, r->env->limits.max_work);
        if ((err = tpl_charge(r, w)) == IOF_OK && (copy = json_deep_copy(*out)) == NULL) {
            err = iof_fail(r->d, IOF_ENOMEM, "out of memory");
        }
        json_decref(*out);
        *out = copy;
    }
    if (err != IOF_OK) {
        char where[200], msg[sizeof r->d->msg];
        path_text(at, where, sizeof where);
        (void)snprintf(msg, sizeof msg, "%s", iof_diag_text(r->d, err));
        (void)iof_fail(r->d, err, "%s: %s", where, msg);
    }
    return err;
}

static iof_err render_tree(struct tpl_run *r, json_t *v, const struct path *at, size_t depth) {
    if (depth > 128) {
        return iof_fail(r->d, IOF_E2BIG, "document nested too deeply");
    }
    iof_err err = IOF_OK;
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        void *tmp;
        json_object_foreach_safe(v, tmp, k, x) {
            struct path p = {.up = at, .key = k};
            if (json_is_string(x)) {
                if (!iof_tpl_has_markup(json_string_value(x), json_string_length(x))) {
                    continue;
                }
                json_t *res = NULL;
                if ((err = render_field(r, x, &p, &res)) != IOF_OK) {
                    return err;
                }
                if (res == NULL) {
                    json_object_del(v, k);
                } else if (json_object_set_new(v, k, res) != 0) {
                    return iof_fail(r->d, IOF_ENOMEM, "out of memory");
                }
            } else if ((err = render_tree(r, x, &p, depth + 1)) != IOF_OK) {
                return err;
            }
        }
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            json_t *x = json_array_get(v, i);
            struct path p = {.up = at, .index = i};
            if (json_is_string(x)) {
                if (!iof_tpl_has_markup(json_string_value(x), json_string_length(x))) {
                    continue;
                }
                json_t *res = NULL;
                if ((err = render_field(r, x, &p, &res)) != IOF_OK) {
                    return err;
                }
                if (json_array_set_new(v, i, res != NULL ? res : json_null()) != 0) {
                    return iof_fail(r->d, IOF_ENOMEM, "out of memory");
                }
            } else if ((err = render_tree(r, x, &p, depth + 1)) != IOF_OK) {
                return err;
            }
        }
    }
    return IOF_OK;
}

iof_err iof_tpl_render_tree(const struct iof_tpl_env *env, json_t *root, struct iof_diag *d) {
    size_t work = 0;
    struct tpl_run r = {.env = env, .d = d, .work = &work};
    return render_tree(&r, root, NULL, 0);
}
