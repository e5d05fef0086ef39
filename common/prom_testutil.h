/* A strict checker of the Prometheus text exposition format (version 0.0.4), for tests (header
 * only). It checks what `promtool check metrics` checks that our output could get wrong: every line
 * parses (comment, HELP, TYPE or sample; no timestamps, as we never write them), metric and label
 * names are valid, label values are quoted with only \\ \" \n escapes, values are numbers, each
 * family has one HELP and one TYPE before its samples and its samples are contiguous, no series
 * repeats, counters end in _total, histograms have _bucket series with cumulative counts ending in
 * le="+Inf" equal to _count, plus _sum; the text ends with a newline.
 * prom_check returns NULL when the text is valid, else a message naming the line (static buffer).
 */
#ifndef IOF_PROM_TESTUTIL_H
#define IOF_PROM_TESTUTIL_H

#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROM_CHECK_MAX_SERIES 4096

struct prom_check_state {
    char family[128];    /* current family (name from TYPE) */
    char type[16];       /* its type */
    bool help, typed;    /* seen for the current family */
    char done[256][128]; /* families finished */
    size_t ndone;
    char *series[PROM_CHECK_MAX_SERIES];
    size_t nseries;
    /* histogram: the bucket run of the current label set */
    char hist_labels[1024];
    double last_bucket;
    bool have_inf;
    double inf_value;
    char err[512];
};

static inline bool prom_name_ok(const char *s, size_t n, bool label) {
    if (n == 0) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = isalpha((unsigned char)c) || c == '_' || (!label && c == ':') ||
                  (i > 0 && isdigit((unsigned char)c));
        if (!ok) {
            return false;
        }
    }
    return true;
}

static inline bool prom_value_ok(const char *s, double *v) {
    if (strcmp(s, "+Inf") == 0 || strcmp(s, "-Inf") == 0 || strcmp(s, "NaN") == 0) {
        *v = strcmp(s, "-Inf") == 0 ? -INFINITY : strcmp(s, "NaN") == 0 ? NAN : INFINITY;
        return true;
    }
    char *end = NULL;
    *v = strtod(s, &end);
    return end != s && *end == '\0' && !isspace((unsigned char)s[0]);
}

static inline const char *prom_fail(struct prom_check_state *st, int line, const char *what) {
    (void)snprintf(st->err, sizeof st->err, "line %d: %s", line, what);
    return st->err;
}

static inline bool prom_family_done(struct prom_check_state *st, const char *name) {
    for (size_t i = 0; i < st->ndone; i++) {
        if (strcmp(st->done[i], name) == 0) {
            return true;
        }
    }
    return false;
}

/* Closes the current family; false if a histogram run is incomplete. */
static inline bool prom_close_family(struct prom_check_state *st) {
    if (st->family[0] == '\0') {
        return true;
    }
    if (st->ndone < sizeof st->done / sizeof st->done[0]) {
        memcpy(st->done[st->ndone++], st->family, sizeof st->done[0]);
    }
    st->family[0] = '\0';
    st->help = st->typed = false;
    return true;
}

/* Parses `name{labels} value`: fills name, the labels text without le (sorted as written), le.
 */
static inline const char *prom_check_sample(struct prom_check_state *st, int ln, char *line) {
    char *p = line;
    size_t n = strcspn(p, "{ ");
    char name[128];
    if (n == 0 || n >= sizeof name || !prom_name_ok(p, n, false)) {
        return prom_fail(st, ln, "bad metric name");
    }
    memcpy(name, p, n);
    name[n] = '\0';
    p += n;
    char labels[1024] = "";
    size_t llen = 0;
    char le[64] = "";
    bool has_le = false;
    if (*p == '{') {
        p++;
        char seen[32][64];
        size_t nseen = 0;
        while (*p != '}') {
            size_t k = strcspn(p, "=");
            if (p[k] != '=' || !prom_name_ok(p, k, true) || k >= 64) {
                return prom_fail(st, ln, "bad label name");
            }
            char lname[64];
            memcpy(lname, p, k);
            lname[k] = '\0';
            for (size_t i = 0; i < nseen; i++) {
                if (strcmp(seen[i], lname) == 0) {
                    return prom_fail(st, ln, "repeated label");
                }
            }
            if (nseen < 32) {
                (void)snprintf(seen[nseen++], sizeof seen[0], "%s", lname);
            }
            p += k + 1;
            if (*p != '"') {
                return prom_fail(st, ln, "label value not quoted");
            }
            p++;
            char val[512];
            size_t vl = 0;
            while (*p != '"') {
                if (*p == '\0') {
                    return prom_fail(st, ln, "unterminated label value");
                }
                if (*p == '\\') {
                    p++;
                    if (*p != '\\' && *p != '"' && *p != 'n') {
                        return prom_fail(st, ln, "bad escape in label value");
                    }
                }
                if (vl + 1 < sizeof val) {
                    val[vl++] = *p;
                }
                p++;
            }
            val[vl] = '\0';
            p++;
            if (strcmp(lname, "le") == 0) {
                has_le = true;
                if (vl >= sizeof le) {
                    return prom_fail(st, ln, "le value too long");
                }
                memcpy(le, val, vl + 1);
            } else {
                int w = snprintf(labels + llen, sizeof labels - llen, "%s=%s,", lname, val);
                if (w < 0 || (size_t)w >= sizeof labels - llen) {
                    return prom_fail(st, ln, "labels too long for the checker");
                }
                llen += (size_t)w;
            }
            if (*p == ',') {
                p++;
            } else if (*p != '}') {
                return prom_fail(st, ln, "expected , or } after a label");
            }
        }
        p++;
    }
    if (*p != ' ') {
        return prom_fail(st, ln, "expected one space before the value");
    }
    p++;
    double v;
    if (strchr(p, ' ') != NULL) {
        return prom_fail(st, ln, "timestamp or trailing text after the value");
    }
    if (!prom_value_ok(p, &v)) {
        return prom_fail(st, ln, "bad value");
    }

    /* family membership */
    if (!st->typed) {
        return prom_fail(st, ln, "sample before its # TYPE");
    }
    const char *fam = st->family;
    size_t fl = strlen(fam);
    bool member = strcmp(name, fam) == 0;
    const char *suffix = "";
    if (!member && strcmp(st->type, "histogram") == 0 && strncmp(name, fam, fl) == 0) {
        suffix = name + fl;
        member = strcmp(suffix, "_bucket") == 0 || strcmp(suffix, "_sum") == 0 ||
                 strcmp(suffix, "_count") == 0;
    }
    if (!member) {
        return prom_fail(st, ln, "sample outside its family (families must be contiguous)");
    }
    if (strcmp(st->type, "histogram") == 0) {
        if (strcmp(name, fam) == 0) {
            return prom_fail(st, ln, "histogram sample without _bucket/_sum/_count");
        }
        if (strcmp(suffix, "_bucket") == 0) {
            double lev;
            if (!has_le || !prom_value_ok(le, &lev)) {
                return prom_fail(st, ln, "bucket without a numeric le");
            }
            if (strcmp(labels, st->hist_labels) != 0) {
                if (st->hist_labels[0] != '\0' && !st->have_inf) {
                    return prom_fail(st, ln, "bucket run ended without le=\"+Inf\"");
                }
                (void)snprintf(st->hist_labels, sizeof st->hist_labels, "%s", labels);
                st->last_bucket = 0;
                st->have_inf = false;
            }
            if (v < st->last_bucket) {
                return prom_fail(st, ln, "bucket counts not cumulative");
            }
            st->last_bucket = v;
            if (isinf(lev) && lev > 0) {
                st->have_inf = true;
                st->inf_value = v;
            }
        } else {
            if (has_le) {
                return prom_fail(st, ln, "le label on _sum/_count");
            }
            if (strcmp(labels, st->hist_labels) != 0 || !st->have_inf) {
                return prom_fail(st, ln, "_sum/_count without a complete bucket run");
            }
            if (strcmp(suffix, "_count") == 0 && v != st->inf_value) {
                return prom_fail(st, ln, "_count differs from the +Inf bucket");
            }
        }
    } else if (has_le) {
        return prom_fail(st, ln, "le label outside a histogram");
    }
    if (strcmp(st->type, "counter") == 0 && (v < 0 || isnan(v))) {
        return prom_fail(st, ln, "negative counter");
    }
    /* duplicates */
    char key[1200];
    int kn = snprintf(key, sizeof key, "%s{%s%s%s}", name, labels, has_le ? "le=" : "", le);
    if (kn < 0 || (size_t)kn >= sizeof key) {
        return prom_fail(st, ln, "series name and labels too long to check");
    }
    for (size_t i = 0; i < st->nseries; i++) {
        if (strcmp(st->series[i], key) == 0) {
            return prom_fail(st, ln, "duplicate series");
        }
    }
    if (st->nseries < PROM_CHECK_MAX_SERIES) {
        st->series[st->nseries++] = strdup(key);
    }
    return NULL;
}

static inline const char *prom_check_line(struct prom_check_state *st, int ln, char *line) {
    if (line[0] == '\0') {
        return prom_fail(st, ln, "empty line");
    }
    if (line[0] != '#') {
        return prom_check_sample(st, ln, line);
    }
    bool help = strncmp(line, "# HELP ", 7) == 0;
    bool type = strncmp(line, "# TYPE ", 7) == 0;
    if (!help && !type) {
        return NULL; /* a plain comment */
    }
    char *name = line + 7;
    size_t n = strcspn(name, " ");
    if (name[n] != ' ' || !prom_name_ok(name, n, false) || n >= 128) {
        return prom_fail(st, ln, "bad metric name in HELP/TYPE");
    }
    char fam[128];
    memcpy(fam, name, n);
    fam[n] = '\0';
    const char *rest = name + n + 1;
    if (strcmp(fam, st->family) != 0) {
        if (st->family[0] != '\0' && strcmp(st->type, "histogram") == 0 &&
            st->hist_labels[0] != '\0' && !st->have_inf) {
            return prom_fail(st, ln, "histogram ended without le=\"+Inf\"");
        }
        (void)prom_close_family(st);
        if (prom_family_done(st, fam)) {
            return prom_fail(st, ln, "family described twice");
        }
        (void)snprintf(st->family, sizeof st->family, "%s", fam);
        st->hist_labels[0] = '\0';
        st->have_inf = false;
    }
    if (help) {
        if (st->help || rest[0] == '\0') {
            return prom_fail(st, ln, "repeated or empty HELP");
        }
        st->help = true;
        return NULL;
    }
    if (st->typed) {
        return prom_fail(st, ln, "repeated TYPE");
    }
    if (strcmp(rest, "counter") != 0 && strcmp(rest, "gauge") != 0 &&
        strcmp(rest, "histogram") != 0 && strcmp(rest, "summary") != 0 &&
        strcmp(rest, "untyped") != 0) {
        return prom_fail(st, ln, "unknown TYPE");
    }
    if (strcmp(rest, "counter") == 0 && (n < 6 || strcmp(fam + n - 6, "_total") != 0)) {
        return prom_fail(st, ln, "counter name does not end in _total");
    }
    if (!st->help) {
        return prom_fail(st, ln, "TYPE before HELP (we always write HELP first)");
    }
    memcpy(st->type, rest, strlen(rest) + 1); /* one of the names above: fits */
    st->typed = true;
    return NULL;
}

/* NULL when text is valid, else a message (valid until the next call). */
static inline const char *prom_check(const char *text) {
    static struct prom_check_state st;
    for (size_t i = 0; i < st.nseries; i++) {
        free(st.series[i]);
    }
    memset(&st, 0, sizeof st);
    size_t len = strlen(text);
    if (len == 0 || text[len - 1] != '\n') {
        return prom_fail(&st, 0, "text does not end with a newline");
    }
    char *copy = strdup(text);
    const char *err = NULL;
    int ln = 0;
    for (char *save = NULL, *line = strtok_r(copy, "\n", &save); line != NULL && err == NULL;
         line = strtok_r(NULL, "\n", &save)) {
        ln++;
        err = prom_check_line(&st, ln, line);
    }
    if (err == NULL && strcmp(st.type, "histogram") == 0 && st.hist_labels[0] != '\0' &&
        !st.have_inf) {
        err = prom_fail(&st, ln, "histogram ended without le=\"+Inf\"");
    }
    free(copy);
    for (size_t i = 0; i < st.nseries; i++) {
        free(st.series[i]);
    }
    st.nseries = 0;
    return err;
}

#endif
