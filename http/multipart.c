/* multipart/form-data: boundary from the Content-Type, then one pass over the body from delimiter
 * to delimiter, reading each part's Content-Disposition name; once over a body in memory, or as a
 * state machine over a body fed in pieces (delimiters found with a KMP automaton, so no byte is
 * looked at twice and nothing but a delimiter prefix is ever held back). */
#include "http/multipart.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define MAX_BOUNDARY 70

static iof_err bad(struct iof_diag *d, const char *why) {
    return iof_fail(d, IOF_EINVAL, "Invalid multipart body: %s", why);
}

static const char *skip_ws(const char *s) {
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    return s;
}

/* Reads the value of parameter `name` from a header value's ";"-separated parameter list
 * (params points after the main value). Quoted values may use backslash escapes. Writes at most
 * cap-1 bytes and a NUL; returns false when absent, too long or malformed. */
static bool header_param(const char *params, size_t plen, const char *name, char *out, size_t cap) {
    const char *p = params, *end = params + plen;
    size_t nlen = strlen(name);
    while (p < end) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        if (semi == NULL) {
            return false;
        }
        p = semi + 1;
        while (p < end && (*p == ' ' || *p == '\t')) {
            p++;
        }
        if ((size_t)(end - p) > nlen && strncasecmp(p, name, nlen) == 0) {
            const char *q = p + nlen;
            while (q < end && (*q == ' ' || *q == '\t')) {
                q++;
            }
            if (q < end && *q == '=') {
                q++;
                while (q < end && (*q == ' ' || *q == '\t')) {
                    q++;
                }
                size_t n = 0;
                if (q < end && *q == '"') {
                    for (q++; q < end && *q != '"'; q++) {
                        if (*q == '\\' && q + 1 < end) {
                            q++;
                        }
                        if (n + 1 >= cap) {
                            return false;
                        }
                        out[n++] = *q;
                    }
                    if (q >= end) {
                        return false; /* unterminated quote */
                    }
                } else {
                    for (; q < end && *q != ';' && *q != ' ' && *q != '\t'; q++) {
                        if (n + 1 >= cap) {
                            return false;
                        }
                        out[n++] = *q;
                    }
                }
                out[n] = '\0';
                return true;
            }
        }
    }
    return false;
}

/* The boundary of a multipart/form-data content type. */
static iof_err boundary_of(const char *ct, char out[MAX_BOUNDARY + 1], struct iof_diag *d) {
    static const char type[] = "multipart/form-data";
    if (ct == NULL) {
        return bad(d, "no Content-Type");
    }
    ct = skip_ws(ct);
    if (strncasecmp(ct, type, sizeof type - 1) != 0) {
        return iof_fail(d, IOF_EINVAL, "Invalid content type: multipart/form-data expected");
    }
    const char *params = ct + sizeof type - 1;
    if (!header_param(params, strlen(params), "boundary", out, MAX_BOUNDARY + 1) ||
        out[0] == '\0') {
        return bad(d, "no boundary (or one over 70 characters) in the Content-Type");
    }
    return IOF_OK;
}

static const uint8_t *find(const uint8_t *hay, size_t n, const char *needle, size_t m) {
    return memmem(hay, n, needle, m);
}

/* The name="..." of a part's Content-Disposition: form-data header, "" when it has none. */
static iof_err part_name(const uint8_t *hdr, size_t n, char *name, size_t cap, struct iof_diag *d) {
    name[0] = '\0';
    const uint8_t *p = hdr, *end = hdr + n;
    while (p < end) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        const uint8_t *line_end = nl != NULL ? nl : end;
        size_t ll = (size_t)(line_end - p);
        if (ll > 0 && p[ll - 1] == '\r') {
            ll--;
        }
        static const char cd[] = "content-disposition:";
        if (ll >= sizeof cd - 1 && strncasecmp((const char *)p, cd, sizeof cd - 1) == 0) {
            const char *v = (const char *)p + sizeof cd - 1;
            const char *vend = (const char *)p + ll;
            while (v < vend && (*v == ' ' || *v == '\t')) {
                v++;
            }
            if ((size_t)(vend - v) < 9 || strncasecmp(v, "form-data", 9) != 0) {
                return bad(d, "a part is not form-data");
            }
            v += 9;
            if (!header_param(v, (size_t)(vend - v), "name", name, cap)) {
                name[0] = '\0';
            }
            return IOF_OK;
        }
        p = line_end + (nl != NULL ? 1 : 0);
    }
    return IOF_OK;
}

iof_err iof_http_multipart_part(const char *content_type,
                                const uint8_t *body,
                                size_t len,
                                const char *field_name,
                                const uint8_t **part,
                                size_t *part_len,
                                struct iof_diag *d) {
    char boundary[MAX_BOUNDARY + 1];
    iof_err err = boundary_of(content_type, boundary, d);
    if (err != IOF_OK) {
        return err;
    }
    if (body == NULL) {
        body = (const uint8_t *)"";
        len = 0;
    }
    /* dash = "--" boundary; the first delimiter may start the body, the others follow CRLF. */
    char delim[MAX_BOUNDARY + 5];
    int dl = snprintf(delim, sizeof delim, "\r\n--%s", boundary);
    size_t delim_len = (size_t)dl;
    const uint8_t *end = body + len;
    const uint8_t *p;
    if (len >= delim_len - 2 && memcmp(body, delim + 2, delim_len - 2) == 0) {
        p = body + delim_len - 2;
    } else {
        const uint8_t *first = find(body, len, delim, delim_len);
        if (first == NULL) {
            return bad(d, "no boundary line");
        }
        p = first + delim_len;
    }
    for (unsigned parts = 0;; parts++) {
        /* p is just after a delimiter: "--" closes, else transport padding then CRLF. */
        if (end - p >= 2 && p[0] == '-' && p[1] == '-') {
            return iof_fail(d, IOF_ENOENT, "Required field '%s' is missing", field_name);
        }
        if (parts >= IOF_MULTIPART_MAX_PARTS) {
            return bad(d, "too many parts");
        }
        while (p < end && (*p == ' ' || *p == '\t')) {
            p++;
        }
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n') {
            return bad(d, "delimiter line not ended by CRLF");
        }
        p += 2;
        /* Headers end at an empty line. */
        size_t window = (size_t)(end - p);
        if (window > IOF_MULTIPART_MAX_HEADER + 4) {
            window = IOF_MULTIPART_MAX_HEADER + 4;
        }
        const uint8_t *hend = NULL;
        size_t sep = 0;
        if (window >= 2 && p[0] == '\r' && p[1] == '\n') {
            hend = p, sep = 2; /* no headers at all */
        } else if (window >= 1 && p[0] == '\n') {
            hend = p, sep = 1;
        } else {
            const uint8_t *crlf = find(p, window, "\r\n\r\n", 4);
            const uint8_t *lf = find(p, window, "\n\n", 2);
            if (crlf != NULL && (lf == NULL || crlf < lf)) {
                hend = crlf + 2, sep = 2;
            } else if (lf != NULL) {
                hend = lf + 1, sep = 1;
            }
        }
        if (hend == NULL) {
            return bad(d, "part headers not ended by an empty line or too long");
        }
        char name[256];
        err = part_name(p, (size_t)(hend - p), name, sizeof name, d);
        if (err != IOF_OK) {
            return err;
        }
        const uint8_t *data = hend + sep;
        const uint8_t *next = find(data, (size_t)(end - data), delim, delim_len);
        if (next == NULL) {
            return bad(d, "no closing boundary");
        }
        if (strcmp(name, field_name) == 0) {
            *part = data;
            *part_len = (size_t)(next - data);
            return IOF_OK;
        }
        p = next + delim_len;
    }
}

/* ---- streaming ---- */

enum stream_state {
    ST_PREAMBLE,    /* looking for the first delimiter */
    ST_AFTER_DELIM, /* the two bytes after a delimiter decide: "--" closes */
    ST_PADDING,     /* transport padding, then CR */
    ST_PADDING_LF,  /* the LF ending the delimiter line */
    ST_HEADERS,     /* a part's header block, up to the empty line */
    ST_DATA,        /* a part's bytes, up to the next delimiter */
    ST_FOUND,       /* the named part is complete: the rest is ignored */
    ST_END,         /* the closing delimiter came first: the named part is missing */
    ST_FAILED,
};

struct iof_http_multipart_stream {
    iof_http_multipart_sink sink;
    void *sink_ctx;
    char *field;
    char delim[MAX_BOUNDARY + 5]; /* CRLF "--" boundary */
    size_t dlen;
    size_t kmp[MAX_BOUNDARY + 5]; /* prefix function of delim */
    size_t match;                 /* delim bytes matched so far (held back, not yet emitted) */
    enum stream_state st;
    unsigned parts;
    bool wanted; /* the current part is the named one */
    uint8_t after[2];
    size_t nafter;
    size_t nhdr;
    uint64_t part_len;
    iof_err err;
    struct iof_diag diag;
    size_t nout;
    uint8_t hdr[IOF_MULTIPART_MAX_HEADER + 4];
    uint8_t out[IOF_MULTIPART_STREAM_OUT];
};

static iof_err stream_fail(struct iof_http_multipart_stream *s, iof_err err) {
    s->st = ST_FAILED;
    s->err = err;
    return err;
}

static iof_err stream_bad(struct iof_http_multipart_stream *s, const char *why) {
    return stream_fail(s, bad(&s->diag, why));
}

static iof_err flush_out(struct iof_http_multipart_stream *s) {
    if (s->nout == 0) {
        return IOF_OK;
    }
    size_t n = s->nout;
    s->nout = 0;
    iof_err err = s->sink(s->sink_ctx, s->out, n, &s->diag);
    return err != IOF_OK ? stream_fail(s, err) : IOF_OK;
}

/* Part bytes: staged so that the sink sees large pieces even when the data is cut up by CRs. */
static iof_err emit(struct iof_http_multipart_stream *s, const uint8_t *p, size_t n) {
    if (!s->wanted || n == 0) {
        return IOF_OK;
    }
    s->part_len += n;
    if (s->nout + n > sizeof s->out) {
        iof_err err = flush_out(s);
        if (err != IOF_OK) {
            return err;
        }
    }
    if (n >= sizeof s->out) {
        iof_err err = s->sink(s->sink_ctx, p, n, &s->diag);
        return err != IOF_OK ? stream_fail(s, err) : IOF_OK;
    }
    memcpy(s->out + s->nout, p, n);
    s->nout += n;
    return IOF_OK;
}

/* Looks for the delimiter in p[0..n), emitting the bytes that can no longer start one. *used is
 * how many bytes were consumed; *found says the delimiter ended at the last of them. */
static iof_err
scan(struct iof_http_multipart_stream *s, const uint8_t *p, size_t n, size_t *used, bool *found) {
    size_t i = 0, run = 0;
    iof_err err = IOF_OK;
    *found = false;
    while (i < n && err == IOF_OK) {
        if (s->match == 0) {
            const uint8_t *cr = memchr(p + i, s->delim[0], n - i);
            if (cr == NULL) {
                i = n;
                break;
            }
            i = (size_t)(cr - p);
            err = emit(s, p + run, i - run);
            s->match = 1;
            run = ++i;
            continue;
        }
        uint8_t c = p[i];
        while (s->match > 0 && (uint8_t)s->delim[s->match] != c && err == IOF_OK) {
            size_t f = s->kmp[s->match - 1];
            err = emit(s, (const uint8_t *)s->delim, s->match - f);
            s->match = f;
        }
        if ((uint8_t)s->delim[s->match] == c) {
            s->match++;
            run = ++i;
            if (s->match == s->dlen) {
                s->match = 0;
                *used = i;
                *found = true;
                return err;
            }
        } else {
            run = i++; /* c starts the next run of part bytes */
        }
    }
    if (err == IOF_OK) {
        err = emit(s, p + run, n - run);
    }
    *used = n;
    return err;
}

iof_err iof_http_multipart_stream_new(const char *content_type,
                                      const char *field_name,
                                      iof_http_multipart_sink sink,
                                      void *sink_ctx,
                                      struct iof_http_multipart_stream **out,
                                      struct iof_diag *d) {
    char boundary[MAX_BOUNDARY + 1];
    iof_err err = boundary_of(content_type, boundary, d);
    if (err != IOF_OK) {
        return err;
    }
    struct iof_http_multipart_stream *s = malloc(sizeof *s);
    if (s == NULL) {
        return iof_fail(d, IOF_ENOMEM, "out of memory");
    }
    memset(s, 0, offsetof(struct iof_http_multipart_stream, hdr));
    s->field = strdup(field_name);
    if (s->field == NULL) {
        free(s);
        return iof_fail(d, IOF_ENOMEM, "out of memory");
    }
    s->sink = sink;
    s->sink_ctx = sink_ctx;
    s->dlen = (size_t)snprintf(s->delim, sizeof s->delim, "\r\n--%s", boundary);
    s->kmp[0] = 0;
    for (size_t i = 1, k = 0; i < s->dlen; i++) {
        while (k > 0 && s->delim[i] != s->delim[k]) {
            k = s->kmp[k - 1];
        }
        if (s->delim[i] == s->delim[k]) {
            k++;
        }
        s->kmp[i] = k;
    }
    s->st = ST_PREAMBLE;
    /* A body may start with the delimiter without the CRLF in front: feeding one first makes that
     * case the same as every other delimiter. */
    size_t used;
    bool found;
    err = scan(s, (const uint8_t *)"\r\n", 2, &used, &found);
    (void)err; /* nothing is emitted in the preamble */
    *out = s;
    return IOF_OK;
}

/* The first two bytes after a delimiter are in s->after. */
static iof_err after_delimiter(struct iof_http_multipart_stream *s) {
    if (s->after[0] == '-' && s->after[1] == '-') {
        s->st = ST_END;
        return IOF_OK;
    }
    if (s->parts >= IOF_MULTIPART_MAX_PARTS) {
        return stream_bad(s, "too many parts");
    }
    s->parts++;
    s->st = ST_PADDING;
    return IOF_OK;
}

static iof_err padding_byte(struct iof_http_multipart_stream *s, uint8_t c) {
    if (s->st == ST_PADDING) {
        if (c == ' ' || c == '\t') {
            return IOF_OK;
        }
        if (c == '\r') {
            s->st = ST_PADDING_LF;
            return IOF_OK;
        }
    } else if (c == '\n') {
        s->st = ST_HEADERS;
        s->nhdr = 0;
        return IOF_OK;
    }
    return stream_bad(s, "delimiter line not ended by CRLF");
}

static iof_err header_byte(struct iof_http_multipart_stream *s, uint8_t c) {
    s->hdr[s->nhdr++] = c;
    size_t n = s->nhdr, hlen;
    const uint8_t *h = s->hdr;
    if ((n == 1 && c == '\n') || (n == 2 && h[0] == '\r' && c == '\n')) {
        hlen = 0; /* no headers at all */
    } else if (n >= 4 && memcmp(h + n - 4, "\r\n\r\n", 4) == 0) {
        hlen = n - 2;
    } else if (n >= 2 && h[n - 2] == '\n' && c == '\n') {
        hlen = n - 1;
    } else if (n == sizeof s->hdr) {
        return stream_bad(s, "part headers not ended by an empty line or too long");
    } else {
        return IOF_OK;
    }
    char name[256];
    iof_err err = part_name(h, hlen, name, sizeof name, &s->diag);
    if (err != IOF_OK) {
        return stream_fail(s, err);
    }
    s->wanted = strcmp(name, s->field) == 0;
    s->st = ST_DATA;
    s->match = 0;
    return IOF_OK;
}

iof_err iof_http_multipart_stream_feed(struct iof_http_multipart_stream *s,
                                       const uint8_t *data,
                                       size_t len,
                                       struct iof_diag *d) {
    iof_err err = IOF_OK;
    while (len > 0 && err == IOF_OK) {
        switch (s->st) {
            case ST_PREAMBLE:
            case ST_DATA: {
                size_t used = 0;
                bool found = false;
                err = scan(s, data, len, &used, &found);
                data += used;
                len -= used;
                if (err == IOF_OK && found) {
                    if (s->st == ST_DATA && s->wanted) {
                        s->st = ST_FOUND;
                        err = flush_out(s);
                    } else {
                        s->st = ST_AFTER_DELIM;
                        s->nafter = 0;
                    }
                }
                break;
            }
            case ST_AFTER_DELIM:
                s->after[s->nafter++] = *data++;
                len--;
                if (s->nafter == 2) {
                    err = after_delimiter(s);
                    for (size_t i = 0; i < 2 && err == IOF_OK && s->st != ST_END; i++) {
                        err = padding_byte(s, s->after[i]);
                    }
                }
                break;
            case ST_PADDING:
            case ST_PADDING_LF:
                err = padding_byte(s, *data++);
                len--;
                break;
            case ST_HEADERS:
                err = header_byte(s, *data++);
                len--;
                break;
            case ST_FOUND:
            case ST_END: len = 0; break;
            case ST_FAILED: err = s->err; break;
        }
    }
    if (s->st == ST_FAILED) {
        if (d != NULL) {
            *d = s->diag;
        }
        return s->err;
    }
    return IOF_OK;
}

iof_err iof_http_multipart_stream_finish(struct iof_http_multipart_stream *s, struct iof_diag *d) {
    switch (s->st) {
        case ST_FOUND: return IOF_OK;
        case ST_END: return iof_fail(d, IOF_ENOENT, "Required field '%s' is missing", s->field);
        case ST_PREAMBLE: return bad(d, "no boundary line");
        case ST_AFTER_DELIM:
        case ST_PADDING:
        case ST_PADDING_LF: return bad(d, "delimiter line not ended by CRLF");
        case ST_HEADERS: return bad(d, "part headers not ended by an empty line or too long");
        case ST_DATA: return bad(d, "no closing boundary");
        case ST_FAILED: break;
    }
    if (d != NULL) {
        *d = s->diag;
    }
    return s->err;
}

uint64_t iof_http_multipart_stream_part_len(const struct iof_http_multipart_stream *s) {
    return s->part_len;
}

void iof_http_multipart_stream_free(struct iof_http_multipart_stream *s) {
    if (s != NULL) {
        free(s->field);
        free(s);
    }
}
