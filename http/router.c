/* Route table of the HTTP server: pattern parsing, path matching with ":name" and "*" segments,
 * the Allow list for 405 answers, and URL decoding. */
#include "http/internal.h"

#include <stdlib.h>
#include <string.h>

static void route_clear(struct iof_http_route *rt) {
    for (size_t i = 0; i < rt->nsegments; i++) {
        free(rt->segments[i]);
    }
    free(rt->segments);
    free(rt->method);
    free(rt->pattern);
    free(rt->upload_dir);
    free(rt->upload_field);
}

void iof_http_router_free(struct iof_http_router *r) {
    for (size_t i = 0; i < r->count; i++) {
        route_clear(&r->routes[i]);
    }
    free(r->routes);
    r->routes = NULL;
    r->count = 0;
    r->cap = 0;
}

static bool valid_method(const char *m) {
    if (m == NULL || *m == '\0' || strlen(m) > 32) {
        return false;
    }
    for (const char *p = m; *p != '\0'; p++) {
        if (!((*p >= 'A' && *p <= 'Z') || *p == '-' || *p == '_')) {
            return false;
        }
    }
    return true;
}

/* Splits pattern into segments and checks the parameter rules. */
static iof_err parse_pattern(const char *pattern, struct iof_http_route *rt) {
    if (pattern == NULL || pattern[0] != '/') {
        return IOF_EINVAL;
    }
    size_t max = 1;
    for (const char *p = pattern; *p != '\0'; p++) {
        max += *p == '/';
    }
    rt->segments = calloc(max, sizeof *rt->segments);
    if (rt->segments == NULL) {
        return IOF_ENOMEM;
    }
    size_t nparams = 0;
    const char *p = pattern;
    while (*p != '\0') {
        while (*p == '/') {
            p++;
        }
        if (*p == '\0') {
            break;
        }
        const char *end = strchr(p, '/');
        size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
        if (rt->tail) {
            return IOF_EINVAL; /* "*" must be the last segment */
        }
        char *seg = strndup(p, n);
        if (seg == NULL) {
            return IOF_ENOMEM;
        }
        rt->segments[rt->nsegments++] = seg;
        if (strcmp(seg, "*") == 0) {
            rt->tail = true;
            nparams++;
        } else if (seg[0] == ':') {
            if (seg[1] == '\0' || strchr(seg, '*') != NULL) {
                return IOF_EINVAL;
            }
            for (size_t i = 0; i + 1 < rt->nsegments; i++) {
                if (strcmp(rt->segments[i], seg) == 0) {
                    return IOF_EINVAL; /* duplicate parameter name */
                }
            }
            nparams++;
        } else if (strchr(seg, '*') != NULL || strchr(seg, '?') != NULL) {
            return IOF_EINVAL;
        }
        p += n;
    }
    if (nparams > IOF_HTTP_MAX_PARAMS) {
        return IOF_EINVAL;
    }
    return IOF_OK;
}

iof_err iof_http_router_add(struct iof_http_router *r,
                            const char *method,
                            const char *pattern,
                            iof_http_handler h,
                            void *ctx) {
    if (!valid_method(method) || h == NULL) {
        return IOF_EINVAL;
    }
    if (r->count == r->cap) {
        size_t cap = r->cap != 0 ? r->cap * 2 : 16;
        struct iof_http_route *routes = realloc(r->routes, cap * sizeof *routes);
        if (routes == NULL) {
            return IOF_ENOMEM;
        }
        r->routes = routes;
        r->cap = cap;
    }
    struct iof_http_route rt = {.handler = h, .ctx = ctx};
    iof_err err = parse_pattern(pattern, &rt);
    if (err == IOF_OK) {
        rt.method = strdup(method);
        rt.pattern = strdup(pattern);
        if (rt.method == NULL || rt.pattern == NULL) {
            err = IOF_ENOMEM;
        }
    }
    if (err != IOF_OK) {
        route_clear(&rt);
        return err;
    }
    r->routes[r->count++] = rt;
    return IOF_OK;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

size_t iof_http_url_decode(char *dst, const char *src, size_t n, bool plus_space) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = src[i];
        if (c == '%' && n - i >= 3) {
            int hi = hexval(src[i + 1]);
            int lo = hexval(src[i + 2]);
            if (hi >= 0 && lo >= 0) {
                dst[o++] = (char)(hi << 4 | lo);
                i += 2;
                continue;
            }
        } else if (c == '+' && plus_space) {
            c = ' ';
        }
        dst[o++] = c;
    }
    dst[o] = '\0';
    return o;
}

/* Matches one route against path; on success fills params and writes values into vbuf. */
static bool match_route(const struct iof_http_route *rt,
                        const char *path,
                        struct iof_http_param_kv *params,
                        size_t *nparams,
                        char *vbuf) {
    const char *p = path;
    size_t np = 0;
    char *w = vbuf;
    for (size_t i = 0; i < rt->nsegments; i++) {
        const char *seg = rt->segments[i];
        if (rt->tail && i + 1 == rt->nsegments) {
            if (*p == '/') {
                p++;
            }
            params[np].name = "*";
            params[np].value = w;
            w += iof_http_url_decode(w, p, strlen(p), false) + 1;
            *nparams = np + 1;
            return true;
        }
        if (*p != '/') {
            return false;
        }
        p++;
        const char *end = strchr(p, '/');
        size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
        if (n == 0) {
            return false;
        }
        if (seg[0] == ':') {
            params[np].name = seg + 1;
            params[np].value = w;
            w += iof_http_url_decode(w, p, n, false) + 1;
            np++;
        } else if (strlen(seg) != n || memcmp(seg, p, n) != 0) {
            return false;
        }
        p += n;
    }
    if (*p != '\0' && !(p[0] == '/' && p[1] == '\0')) {
        return false;
    }
    *nparams = np;
    return true;
}

static void allow_add(char allow[IOF_HTTP_ALLOW_MAX], const char *method) {
    size_t len = strlen(allow);
    size_t n = strlen(method);
    /* Skip methods already listed (as a whole word). */
    for (const char *p = allow; (p = strstr(p, method)) != NULL; p += n) {
        if ((p == allow || p[-1] == ' ') && (p[n] == ',' || p[n] == '\0')) {
            return;
        }
    }
    if (len + n + 3 > IOF_HTTP_ALLOW_MAX) {
        return;
    }
    if (len > 0) {
        memcpy(allow + len, ", ", 2);
        len += 2;
    }
    memcpy(allow + len, method, n + 1);
}

enum iof_http_match iof_http_router_match(const struct iof_http_router *r,
                                          const char *method,
                                          const char *path,
                                          const struct iof_http_route **route,
                                          struct iof_http_param_kv *params,
                                          size_t *nparams,
                                          char *values_buf,
                                          char allow[IOF_HTTP_ALLOW_MAX]) {
    allow[0] = '\0';
    bool head = strcmp(method, "HEAD") == 0;
    /* Pass 0: the exact method; pass 1: HEAD served by GET routes. */
    for (int pass = 0; pass < (head ? 2 : 1); pass++) {
        const char *want = pass == 0 ? method : "GET";
        for (size_t i = 0; i < r->count; i++) {
            const struct iof_http_route *rt = &r->routes[i];
            if (strcmp(rt->method, want) != 0) {
                continue;
            }
            if (match_route(rt, path, params, nparams, values_buf)) {
                *route = rt;
                return IOF_HTTP_MATCH_FOUND;
            }
        }
    }
    bool any = false;
    size_t scratch_n;
    for (size_t i = 0; i < r->count; i++) {
        const struct iof_http_route *rt = &r->routes[i];
        if (match_route(rt, path, params, &scratch_n, values_buf)) {
            any = true;
            allow_add(allow, rt->method);
            if (strcmp(rt->method, "GET") == 0) {
                allow_add(allow, "HEAD");
            }
        }
    }
    if (!any) {
        return IOF_HTTP_MATCH_NO_PATH;
    }
    allow_add(allow, "OPTIONS");
    return IOF_HTTP_MATCH_NO_METHOD;
}
