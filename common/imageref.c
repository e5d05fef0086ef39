/* Image reference parsing (see imageref.h), following the grammar of Docker's reference package. */
#include "common/imageref.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static bool is_lower_alnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_word(char c) {
    return is_lower_alnum(c) || (c >= 'A' && c <= 'Z') || c == '_';
}

/* One path component: lower-case alphanumerics separated by '.', '_', "__" or runs of '-'. */
static bool component_ok(const char *s, size_t n) {
    if (n == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1])) {
        return false;
    }
    for (size_t i = 1; i < n; i++) {
        char c = s[i];
        if (is_lower_alnum(c) || c == '-') {
            continue;
        }
        if (c == '.' && is_lower_alnum(s[i - 1])) {
            continue;
        }
        if (c == '_' &&
            (is_lower_alnum(s[i - 1]) || (s[i - 1] == '_' && i >= 2 && is_lower_alnum(s[i - 2])))) {
            continue;
        }
        return false;
    }
    return true;
}

/* A registry host: letters, digits, '.', '-', optionally ":port". */
static bool host_ok(const char *s, size_t n) {
    const char *colon = memchr(s, ':', n);
    size_t hn = colon != NULL ? (size_t)(colon - s) : n;
    if (hn == 0) {
        return false;
    }
    for (size_t i = 0; i < hn; i++) {
        char c = s[i];
        if (!(is_lower_alnum(c) || (c >= 'A' && c <= 'Z') || c == '.' || c == '-')) {
            return false;
        }
    }
    if (colon != NULL) {
        size_t pn = n - hn - 1;
        if (pn == 0 || pn > 5) {
            return false;
        }
        for (size_t i = hn + 1; i < n; i++) {
            if (s[i] < '0' || s[i] > '9') {
                return false;
            }
        }
    }
    return true;
}

static bool tag_ok(const char *s, size_t n) {
    if (n == 0 || n > 128 || !is_word(s[0])) {
        return false;
    }
    for (size_t i = 1; i < n; i++) {
        if (!(is_word(s[i]) || s[i] == '.' || s[i] == '-')) {
            return false;
        }
    }
    return true;
}

static bool digest_ok(const char *s, size_t n) {
    const char *colon = memchr(s, ':', n);
    if (colon == NULL || colon == s) {
        return false;
    }
    for (const char *p = s; p < colon; p++) {
        if (!is_lower_alnum(*p) && *p != '+' && *p != '.' && *p != '_' && *p != '-') {
            return false;
        }
    }
    size_t hn = n - (size_t)(colon - s) - 1;
    if (hn < 32) {
        return false;
    }
    for (const char *p = colon + 1; p < s + n; p++) {
        bool hex = (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f');
        if (!hex) {
            return false;
        }
    }
    return true;
}

iof_err iof_imageref_parse(const char *text, struct iof_imageref *out, struct iof_diag *d) {
    if (text == NULL || text[0] == '\0') {
        return iof_fail(d, IOF_EINVAL, "image reference is empty");
    }
    size_t len = strnlen(text, IOF_IMAGEREF_MAX);
    if (len >= IOF_IMAGEREF_MAX) {
        return iof_fail(d, IOF_EINVAL, "image reference is too long");
    }
    struct iof_imageref r;
    memset(&r, 0, sizeof r);

    size_t name_len = len;
    const char *at = memchr(text, '@', len);
    if (at != NULL) {
        size_t dn = len - (size_t)(at - text) - 1;
        if (!digest_ok(at + 1, dn) || dn >= sizeof r.digest) {
            return iof_fail(d, IOF_EINVAL, "image reference '%s' has an invalid digest", text);
        }
        memcpy(r.digest, at + 1, dn);
        name_len = (size_t)(at - text);
    }

    /* A tag is a ':' after the last '/'; a ':' before it belongs to a host:port. */
    const char *last_slash = NULL;
    for (size_t i = 0; i < name_len; i++) {
        if (text[i] == '/') {
            last_slash = text + i;
        }
    }
    const char *search = last_slash != NULL ? last_slash + 1 : text;
    const char *colon = memchr(search, ':', name_len - (size_t)(search - text));
    size_t repo_len = name_len;
    if (colon != NULL) {
        size_t tn = name_len - (size_t)(colon - text) - 1;
        if (!tag_ok(colon + 1, tn)) {
            return iof_fail(d, IOF_EINVAL, "image reference '%s' has an invalid tag", text);
        }
        memcpy(r.tag, colon + 1, tn);
        repo_len = (size_t)(colon - text);
    }
    if (repo_len == 0) {
        return iof_fail(d, IOF_EINVAL, "image reference '%s' has no repository", text);
    }

    /* The first component names a registry host when it has a '.' or ':' or is "localhost". */
    size_t pos = 0;
    const char *first_slash = memchr(text, '/', repo_len);
    if (first_slash != NULL) {
        size_t fn = (size_t)(first_slash - text);
        bool hostlike = memchr(text, '.', fn) != NULL || memchr(text, ':', fn) != NULL ||
                        (fn == 9 && memcmp(text, "localhost", 9) == 0);
        if (hostlike) {
            if (!host_ok(text, fn) || fn >= sizeof r.host) {
                return iof_fail(
                    d, IOF_EINVAL, "image reference '%s' has an invalid registry host", text);
            }
            memcpy(r.host, text, fn);
            pos = fn + 1;
        }
    }
    if (pos >= repo_len) {
        return iof_fail(d, IOF_EINVAL, "image reference '%s' has no repository", text);
    }
    size_t start = pos;
    for (size_t i = pos; i <= repo_len; i++) {
        if (i == repo_len || text[i] == '/') {
            if (!component_ok(text + start, i - start)) {
                return iof_fail(d,
                                IOF_EINVAL,
                                "image reference '%s' has an invalid repository name (lower-case "
                                "letters, digits and separators only)",
                                text);
            }
            start = i + 1;
        }
    }
    memcpy(r.repo, text, repo_len);
    if (r.tag[0] == '\0' && r.digest[0] == '\0') {
        memcpy(r.tag, "latest", 7);
    }
    *out = r;
    return IOF_OK;
}

iof_err iof_imageref_format(const struct iof_imageref *r, char *buf, size_t size) {
    int n = snprintf(buf,
                     size,
                     "%s%s%s%s%s",
                     r->repo,
                     r->tag[0] != '\0' ? ":" : "",
                     r->tag,
                     r->digest[0] != '\0' ? "@" : "",
                     r->digest);
    if (n < 0 || (size_t)n >= size) {
        return IOF_E2BIG;
    }
    return IOF_OK;
}

const char *iof_imageref_pull_tag(const struct iof_imageref *r) {
    return r->digest[0] != '\0' ? r->digest : r->tag;
}
