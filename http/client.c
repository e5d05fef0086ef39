/* HTTP client on one libcurl easy handle per client: option setup shared by plain, JSON and
 * streaming requests, the bounded body sink, and the mapping of curl errors onto iof_err. */
#include "http/client.h"

#include "common/json.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_MAX_RESPONSE ((size_t)16 << 20)

struct iof_http_client {
    CURL *curl;
    char *unix_socket;
    char *ca_file;
    long timeout_ms;
    long connect_timeout_ms;
    size_t max_response;
    const atomic_bool *cancel;
    char errbuf[CURL_ERROR_SIZE];
};

/* What the write callback feeds: a bounded buffer or a streaming callback. */
struct sink {
    struct iof_buf *buf;
    iof_http_chunk_cb cb;
    void *ctx;
    bool too_big;
    bool stopped;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result = CURLE_FAILED_INIT;

static void curl_init(void) {
    curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static char *dup_opt(const char *s, bool *failed) {
    if (s == NULL) {
        return NULL;
    }
    char *c = strdup(s);
    *failed = *failed || c == NULL;
    return c;
}

iof_err iof_http_client_new(const struct iof_http_client_opts *opts, struct iof_http_client **out) {
    (void)pthread_once(&curl_once, curl_init);
    if (curl_init_result != CURLE_OK) {
        return IOF_EINTERNAL;
    }
    struct iof_http_client_opts o = opts != NULL ? *opts : (struct iof_http_client_opts){0};
    if (o.timeout_ms < 0 || o.connect_timeout_ms < 0) {
        return IOF_EINVAL;
    }
    struct iof_http_client *c = calloc(1, sizeof *c);
    if (c == NULL) {
        return IOF_ENOMEM;
    }
    bool failed = false;
    c->unix_socket = dup_opt(o.unix_socket, &failed);
    c->ca_file = dup_opt(o.ca_file, &failed);
    c->timeout_ms = o.timeout_ms;
    c->connect_timeout_ms = o.connect_timeout_ms;
    c->max_response = o.max_response != 0 ? o.max_response : DEFAULT_MAX_RESPONSE;
    c->cancel = o.cancel;
    c->curl = failed ? NULL : curl_easy_init();
    if (c->curl == NULL) {
        iof_http_client_free(c);
        return failed ? IOF_ENOMEM : IOF_EINTERNAL;
    }
    *out = c;
    return IOF_OK;
}

void iof_http_client_free(struct iof_http_client *c) {
    if (c == NULL) {
        return;
    }
    if (c->curl != NULL) {
        curl_easy_cleanup(c->curl);
    }
    free(c->unix_socket);
    free(c->ca_file);
    free(c);
}

void iof_http_response_free(struct iof_http_response *r) {
    if (r != NULL) {
        iof_buf_free(&r->body);
    }
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *userdata) {
    struct sink *s = userdata;
    size_t n = size * nmemb;
    if (s->cb != NULL) {
        if (n > 0 && !s->cb(s->ctx, data, n)) {
            s->stopped = true;
            return 0;
        }
        return n;
    }
    if (iof_buf_append(s->buf, data, n) != IOF_OK) {
        s->too_big = true;
        return 0;
    }
    return n;
}

static bool method_ok(const char *m) {
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

/* Builds the header list; IOF_EINVAL on a header with CR/LF. *out may stay NULL (no headers). */
static iof_err build_headers(const char *const *headers, struct curl_slist **out) {
    struct curl_slist *list = NULL;
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i++) {
        if (strpbrk(headers[i], "\r\n") != NULL || strchr(headers[i], ':') == NULL) {
            curl_slist_free_all(list);
            return IOF_EINVAL;
        }
        struct curl_slist *l = curl_slist_append(list, headers[i]);
        if (l == NULL) {
            curl_slist_free_all(list);
            return IOF_ENOMEM;
        }
        list = l;
    }
    *out = list;
    return IOF_OK;
}

static iof_err map_curl(CURLcode rc, const struct sink *s, const char *errbuf, struct iof_diag *d) {
    const char *text = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);
    switch (rc) {
        case CURLE_OK: return IOF_OK;
        case CURLE_WRITE_ERROR:
            if (s->stopped) {
                return IOF_OK;
            }
            if (s->too_big) {
                return iof_fail(d, IOF_E2BIG, "The response exceeds %zu bytes", s->buf->max);
            }
            return iof_fail(d, IOF_EIO, "curl: %s", text);
        case CURLE_FILESIZE_EXCEEDED:
            return iof_fail(d, IOF_E2BIG, "The response is larger than allowed (%s)", text);
        case CURLE_OPERATION_TIMEDOUT: return iof_fail(d, IOF_ETIMEOUT, "curl: %s", text);
        case CURLE_ABORTED_BY_CALLBACK: return iof_fail(d, IOF_ECONFLICT, "request cancelled");
        case CURLE_OUT_OF_MEMORY: return iof_fail(d, IOF_ENOMEM, "curl: %s", text);
        case CURLE_URL_MALFORMAT:
        case CURLE_UNSUPPORTED_PROTOCOL: return iof_fail(d, IOF_EINVAL, "curl: %s", text);
        default: return iof_fail(d, IOF_EIO, "curl: %s", text);
    }
}

/* curl's progress callback: a non-zero return ends the transfer. */
static int on_progress(void *ctx, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un) {
    (void)dt;
    (void)dn;
    (void)ut;
    (void)un;
    const atomic_bool *cancel = ctx;
    return atomic_load(cancel) ? 1 : 0;
}

/* A file sent as the single part of a multipart/form-data body. */
struct upload {
    const char *field, *path, *filename, *content_type;
};

/* Sets up and runs one transfer into s; the request body is body/len, or up when not NULL. */
static iof_err perform(struct iof_http_client *c,
                       const char *method,
                       const char *url,
                       const char *const *headers,
                       const void *body,
                       size_t len,
                       const struct upload *up,
                       struct sink *s,
                       long *status,
                       struct iof_diag *d) {
    if (!method_ok(method) || url == NULL || (body == NULL && len > 0)) {
        return iof_fail(d, IOF_EINVAL, "Invalid request method, URL or body");
    }
    struct curl_slist *list = NULL;
    iof_err err = build_headers(headers, &list);
    if (err != IOF_OK) {
        return iof_fail(d, err, "Invalid request header");
    }
    CURL *h = c->curl;
    curl_easy_reset(h); /* keeps the connection cache */
    c->errbuf[0] = '\0';
    bool ok = curl_easy_setopt(h, CURLOPT_URL, url) == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf) == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms) == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms) == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write) == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_WRITEDATA, s) == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_HTTPHEADER, list) == CURLE_OK;
    if (ok && c->unix_socket != NULL) {
        ok = curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, c->unix_socket) == CURLE_OK;
    }
    if (ok && c->cancel != NULL) {
        ok = curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress) == CURLE_OK &&
             curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *)(uintptr_t)c->cancel) == CURLE_OK &&
             curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L) == CURLE_OK;
    }
    if (ok && c->ca_file != NULL) {
        ok = curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file) == CURLE_OK;
    }
    if (ok && s->buf != NULL) {
        ok = curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)s->buf->max) == CURLE_OK;
    }
    bool is_get = strcmp(method, "GET") == 0;
    bool is_head = strcmp(method, "HEAD") == 0;
    bool is_post = strcmp(method, "POST") == 0;
    bool wants_body =
        body != NULL || is_post || strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0;
    if (ok && is_head) {
        ok = curl_easy_setopt(h, CURLOPT_NOBODY, 1L) == CURLE_OK;
    } else if (ok && !is_get && !is_post) {
        ok = curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method) == CURLE_OK;
    }
    curl_mime *mime = NULL;
    if (ok && up != NULL) {
        mime = curl_mime_init(h);
        curl_mimepart *part = mime != NULL ? curl_mime_addpart(mime) : NULL;
        ok = part != NULL && curl_mime_name(part, up->field) == CURLE_OK &&
             curl_mime_filedata(part, up->path) == CURLE_OK &&
             curl_mime_filename(part, up->filename) == CURLE_OK &&
             curl_mime_type(part, up->content_type) == CURLE_OK &&
             curl_easy_setopt(h, CURLOPT_MIMEPOST, mime) == CURLE_OK;
        if (ok && !is_post) {
            ok = curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method) == CURLE_OK;
        }
    } else if (ok && wants_body && !is_head) {
        ok = curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len) == CURLE_OK &&
             curl_easy_setopt(h, CURLOPT_POSTFIELDS, len > 0 ? body : "") == CURLE_OK;
        if (ok && is_get) {
            ok = curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method) == CURLE_OK;
        }
    }
    if (!ok) {
        curl_slist_free_all(list);
        curl_mime_free(mime);
        return iof_fail(d, IOF_EINTERNAL, "curl rejected an option");
    }
    CURLcode rc = curl_easy_perform(h);
    err = map_curl(rc, s, c->errbuf, d);
    long code = 0;
    if (err == IOF_OK) {
        (void)curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    }
    /* The handle must not keep pointers to our stack or the list for its next use. */
    (void)curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    (void)curl_easy_setopt(h, CURLOPT_WRITEDATA, NULL);
    (void)curl_easy_setopt(h, CURLOPT_MIMEPOST, NULL);
    curl_slist_free_all(list);
    curl_mime_free(mime);
    if (err == IOF_OK) {
        *status = code;
    }
    return err;
}

static iof_err request(struct iof_http_client *c,
                       const char *method,
                       const char *url,
                       const char *const *headers,
                       const void *body,
                       size_t len,
                       const struct upload *up,
                       struct iof_http_response *out,
                       struct iof_diag *d) {
    struct iof_http_response r;
    memset(&r, 0, sizeof r);
    iof_buf_init(&r.body, c->max_response);
    struct sink s = {.buf = &r.body};
    iof_err err = perform(c, method, url, headers, body, len, up, &s, &r.status, d);
    if (err == IOF_OK && r.body.data == NULL) {
        err = iof_buf_append(&r.body, "", 0); /* an empty body is still a valid string */
    }
    if (err != IOF_OK) {
        iof_buf_free(&r.body);
        return err;
    }
    char *ct = NULL;
    if (curl_easy_getinfo(c->curl, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct != NULL) {
        size_t n = strnlen(ct, sizeof r.content_type - 1);
        memcpy(r.content_type, ct, n);
        r.content_type[n] = '\0';
    }
    *out = r;
    return IOF_OK;
}

iof_err iof_http_client_request(struct iof_http_client *c,
                                const char *method,
                                const char *url,
                                const char *const *headers,
                                const void *body,
                                size_t len,
                                struct iof_http_response *out,
                                struct iof_diag *d) {
    return request(c, method, url, headers, body, len, NULL, out, d);
}

iof_err iof_http_client_upload(struct iof_http_client *c,
                               const char *method,
                               const char *url,
                               const char *const *headers,
                               const char *field,
                               const char *path,
                               const char *filename,
                               const char *content_type,
                               struct iof_http_response *out,
                               struct iof_diag *d) {
    if (field == NULL || path == NULL || filename == NULL || content_type == NULL) {
        return iof_fail(d, IOF_EINVAL, "Upload needs a field, a file, a file name and a type");
    }
    if (access(path, R_OK) != 0) {
        return iof_fail(d, IOF_ENOENT, "Cannot read %s: %s", path, strerror(errno));
    }
    const struct upload up = {field, path, filename, content_type};
    return request(c, method, url, headers, NULL, 0, &up, out, d);
}

iof_err iof_http_client_request_json(struct iof_http_client *c,
                                     const char *method,
                                     const char *url,
                                     const char *const *headers,
                                     const json_t *body,
                                     long *status,
                                     json_t **out_json,
                                     struct iof_diag *d) {
    size_t n = 0;
    while (headers != NULL && headers[n] != NULL) {
        n++;
    }
    const char **all = calloc(n + 3, sizeof *all);
    if (all == NULL) {
        return IOF_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        all[i] = headers[i];
    }
    all[n++] = "Accept: application/json";
    char *text = NULL;
    size_t len = 0;
    if (body != NULL) {
        all[n++] = "Content-Type: application/json";
        iof_err err = iof_json_dump(body, &text, &len);
        if (err != IOF_OK) {
            free(all);
            return err;
        }
    }
    struct iof_http_response r;
    iof_err err = iof_http_client_request(c, method, url, all, text, len, &r, d);
    free(text);
    free(all);
    if (err != IOF_OK) {
        return err;
    }
    json_t *v = NULL;
    if (r.body.len > 0 &&
        iof_json_parse((const char *)r.body.data, r.body.len, &v, NULL) != IOF_OK) {
        v = NULL;
    }
    iof_http_response_free(&r);
    *status = r.status;
    if (out_json != NULL) {
        *out_json = v;
    } else {
        json_decref(v);
    }
    return IOF_OK;
}

iof_err iof_http_client_stream(struct iof_http_client *c,
                               const char *method,
                               const char *url,
                               const char *const *headers,
                               const void *body,
                               size_t len,
                               iof_http_chunk_cb cb,
                               void *ctx,
                               long *status,
                               struct iof_diag *d) {
    if (cb == NULL) {
        return iof_fail(d, IOF_EINVAL, "No chunk callback");
    }
    struct sink s = {.cb = cb, .ctx = ctx};
    return perform(c, method, url, headers, body, len, NULL, &s, status, d);
}

long iof_http_client_response_status(struct iof_http_client *c) {
    long code = 0;
    if (curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK) {
        return 0;
    }
    return code;
}
