/* multipart/form-data: boundary from the Content-Type, then one pass over the body from delimiter
 * to delimiter, reading each part's Content-Disposition name. */
#include "http/multipart.h"

#include <stdbool.h>
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
