/* HTTP server lifecycle and the libmicrohttpd callbacks: request creation, body accumulation with
 * the size limit (or, for upload routes, admission at the head and the body streamed to a file),
 * dispatch to routes or the built-in answers, and the ordered shutdown. */
#include "common/clock.h"
#include "common/log.h"
#include "http/internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define DEFAULT_MAX_BODY ((size_t)1 << 20)
/* After the body limit is hit the rest of an upload is read and dropped, so the client can get its
 * 413; a client that keeps sending beyond this much more is cut off instead. */
#define DISCARD_MAX ((size_t)16 << 20)

static char *dup_or_null(const char *s, bool *failed) {
    if (s == NULL) {
        return NULL;
    }
    char *c = strdup(s);
    if (c == NULL) {
        *failed = true;
    }
    return c;
}

bool iof_http_tls_supported(void) {
    return MHD_is_feature_supported(MHD_FEATURE_TLS) == MHD_YES;
}

iof_err iof_http_server_new(const struct iof_http_config *config, struct iof_http_server **out) {
    struct iof_http_config cfg = config != NULL ? *config : (struct iof_http_config){0};
    struct in_addr probe;
    if (cfg.bind_addr != NULL && inet_pton(AF_INET, cfg.bind_addr, &probe) != 1) {
        return IOF_EINVAL;
    }
    if (cfg.cors_origin != NULL && strpbrk(cfg.cors_origin, "\r\n") != NULL) {
        return IOF_EINVAL;
    }
    if ((cfg.tls_cert_pem == NULL) != (cfg.tls_key_pem == NULL)) {
        return IOF_EINVAL;
    }
    if (cfg.tls_cert_pem != NULL && !iof_http_tls_supported()) {
        return IOF_EUNSUPPORTED;
    }
    struct iof_http_server *srv = calloc(1, sizeof *srv);
    if (srv == NULL) {
        return IOF_ENOMEM;
    }
    bool failed = false;
    srv->bind_addr = dup_or_null(cfg.bind_addr, &failed);
    srv->cors_origin = dup_or_null(cfg.cors_origin != NULL ? cfg.cors_origin : "*", &failed);
    srv->tls_cert_pem = dup_or_null(cfg.tls_cert_pem, &failed);
    srv->tls_key_pem = dup_or_null(cfg.tls_key_pem, &failed);
    pthread_condattr_t ca;
    bool cond_ok = pthread_condattr_init(&ca) == 0;
    if (cond_ok) {
        cond_ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
                  pthread_cond_init(&srv->drained, &ca) == 0;
        pthread_condattr_destroy(&ca);
    }
    bool mu_ok = !failed && cond_ok && pthread_mutex_init(&srv->mu, NULL) == 0;
    bool guard_ok = mu_ok && iof_http_guard_init(srv) == IOF_OK;
    if (!guard_ok) {
        if (mu_ok) {
            pthread_mutex_destroy(&srv->mu);
        }
        if (cond_ok) {
            pthread_cond_destroy(&srv->drained);
        }
        free(srv->bind_addr);
        free(srv->cors_origin);
        free(srv->tls_cert_pem);
        free(srv->tls_key_pem);
        free(srv);
        return IOF_ENOMEM;
    }
    cfg.bind_addr = srv->bind_addr;
    cfg.cors_origin = srv->cors_origin;
    cfg.tls_cert_pem = srv->tls_cert_pem;
    cfg.tls_key_pem = srv->tls_key_pem;
    if (cfg.max_body == 0) {
        cfg.max_body = DEFAULT_MAX_BODY;
    }
    if (cfg.threads == 0) {
        cfg.threads = 1;
    }
    srv->cfg = cfg;
    *out = srv;
    return IOF_OK;
}

iof_err iof_http_server_route(struct iof_http_server *srv,
                              const char *method,
                              const char *pattern,
                              iof_http_handler h,
                              void *ctx) {
    if (srv->started) {
        return IOF_ECONFLICT;
    }
    return iof_http_router_add(&srv->router, method, pattern, h, ctx);
}

iof_err iof_http_server_route_upload(struct iof_http_server *srv,
                                     const char *method,
                                     const char *pattern,
                                     const struct iof_http_upload_opts *opts,
                                     iof_http_handler h,
                                     void *ctx) {
    if (srv->started) {
        return IOF_ECONFLICT;
    }
    if (opts == NULL) {
        return IOF_EINVAL;
    }
    const char *dir = opts->dir;
    if (dir == NULL || *dir == '\0') {
        dir = getenv("TMPDIR");
    }
    if (dir == NULL || *dir == '\0') {
        dir = "/tmp";
    }
    char *dir_copy = strdup(dir);
    char *field_copy = opts->multipart_field != NULL ? strdup(opts->multipart_field) : NULL;
    if (dir_copy == NULL || (opts->multipart_field != NULL && field_copy == NULL)) {
        free(dir_copy);
        free(field_copy);
        return IOF_ENOMEM;
    }
    iof_err err = iof_http_router_add(&srv->router, method, pattern, h, ctx);
    if (err != IOF_OK) {
        free(dir_copy);
        free(field_copy);
        return err;
    }
    struct iof_http_route *rt = &srv->router.routes[srv->router.count - 1];
    rt->upload = true;
    rt->upload_max = opts->max_bytes != 0 ? opts->max_bytes : srv->cfg.max_body;
    rt->upload_dir = dir_copy;
    rt->upload_field = field_copy;
    rt->admit = opts->admit;
    return IOF_OK;
}

void iof_http_server_set_fallback(struct iof_http_server *srv, iof_http_handler h, void *ctx) {
    if (srv->started) {
        IOF_ERROR("http", "bug_set_fallback_after_start");
        return;
    }
    srv->fallback = h;
    srv->fallback_ctx = ctx;
}

void iof_http_server_set_observer(struct iof_http_server *srv, iof_http_observer fn, void *ctx) {
    srv->observer = fn;
    srv->observer_ctx = ctx;
}

size_t iof_http_server_route_count(const struct iof_http_server *srv) {
    return srv->router.count;
}

const char *iof_http_server_route_method(const struct iof_http_server *srv, size_t i) {
    return i < srv->router.count ? srv->router.routes[i].method : NULL;
}

const char *iof_http_server_route_pattern(const struct iof_http_server *srv, size_t i) {
    return i < srv->router.count ? srv->router.routes[i].pattern : NULL;
}

size_t iof_http_server_held(struct iof_http_server *srv) {
    pthread_mutex_lock(&srv->mu);
    size_t n = srv->held_live;
    pthread_mutex_unlock(&srv->mu);
    return n;
}

static int64_t mono_us(void) {
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- MHD callbacks ---- */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn) {
    struct iof_http_server *srv = cls;
    struct iof_http_request *req = calloc(1, sizeof *req);
    if (req == NULL) {
        return NULL;
    }
    req->uri = strdup(uri != NULL ? uri : "");
    if (req->uri == NULL) {
        free(req);
        return NULL;
    }
    req->srv = srv;
    req->conn = conn;
    req->method = "";
    req->path = req->uri;
    req->start_ms = iof_time_mono_ms();
    req->start_us = srv->observer != NULL ? mono_us() : 0;
    req->route_index = -1;
    iof_buf_init(&req->body, srv->cfg.max_body);
    return req;
}

static void on_completed(void *cls,
                         struct MHD_Connection *conn,
                         void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    struct iof_http_server *srv = cls;
    iof_http_guard_request_done(srv, conn);
    struct iof_http_request *req = *con_cls;
    if (req == NULL) {
        return;
    }
    iof_http_hold_forget(req);
    iof_http_upgrade_abandon(req);
    if (req->answered && srv->observer != NULL) {
        srv->observer(srv->observer_ctx, req->route_index, req->status, mono_us() - req->start_us);
    }
    if (!req->answered && req->started) {
        char path[256];
        IOF_DEBUG("http",
                  "request_aborted method=%s path=%s reason=%d id=%s",
                  req->method,
                  iof_log_quote(path, sizeof path, req->path),
                  (int)toe,
                  req->id);
    }
    iof_http_request_free(req);
    *con_cls = NULL;
}

__attribute__((format(printf, 2, 0))) static void
on_mhd_log(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    char msg[512];
    (void)vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) {
        msg[--n] = '\0';
    }
    char q[600];
    IOF_DEBUG("http", "mhd message=%s", iof_log_quote(q, sizeof q, msg));
}

/* The server's own error answer: the JSON error body, or with plain_errors the message as
 * text/plain. status 0: from the error table. */
static iof_err
respond_error_as(struct iof_http_request *req, int status, iof_err err, const char *message) {
    if (status == 0) {
        status = iof_http_status_for(err);
    }
    if (message == NULL) {
        message = iof_strerror(err);
    }
    if (req->srv->cfg.plain_errors) {
        return iof_http_respond(req, status, "text/plain", message, strlen(message));
    }
    char *text;
    size_t len;
    iof_err e = iof_http_error_body(err, message, &text, &len);
    if (e == IOF_OK) {
        e = iof_http_respond(req, status, "application/json", text, len);
        free(text);
    }
    return e;
}

/* Answers with the error table and the error body; the last resort is a bare 500. */
static bool
answer_status(struct iof_http_request *req, int status, iof_err err, const char *message) {
    bool was_in_handler = req->in_handler;
    req->in_handler = true; /* the server answers on the handler's behalf */
    iof_err e = respond_error_as(req, status, err, message);
    if (e != IOF_OK) {
        /* Perhaps a header the handler set is what MHD refuses: drop them for the bare 500. */
        for (size_t i = 0; i < req->nheaders; i++) {
            free(req->headers[i].name);
            free(req->headers[i].value);
        }
        req->nheaders = 0;
        e = iof_http_respond(req, 500, NULL, NULL, 0);
    }
    req->in_handler = was_in_handler;
    return e == IOF_OK;
}

static bool answer_error(struct iof_http_request *req, iof_err err, const char *message) {
    return answer_status(req, 0, err, message);
}

/* An error answered before the body was read: the connection is closed after it. */
static bool
answer_and_close(struct iof_http_request *req, int status, iof_err err, const char *message) {
    (void)!iof_http_set_header(req, "Connection", "close");
    return answer_status(req, status, err, message);
}

/* Writes a complete error answer straight to the socket, for the moments libmicrohttpd no longer
 * lets a response be queued (a chunked body found too large half-way). The connection is closed
 * once the client stops sending (or at DISCARD_MAX). */
static void answer_raw(struct iof_http_request *req, int status, iof_err err, const char *message) {
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    req->answered = true;
    req->raw_answered = true;
    req->status = status;
    if (ci == NULL || req->srv->cfg.tls_cert_pem != NULL) {
        return; /* under TLS the socket carries records, not plain bytes: just close */
    }
    char *body = NULL;
    size_t len = 0;
    const char *ctype = "text/plain";
    if (req->srv->cfg.plain_errors || iof_http_error_body(err, message, &body, &len) != IOF_OK) {
        free(body);
        body = strdup(message);
        len = body != NULL ? strlen(body) : 0;
    } else {
        ctype = "application/json";
    }
    char head[512];
    int n = snprintf(head,
                     sizeof head,
                     "HTTP/1.1 %d %s\r\nConnection: close\r\nContent-Type: %s\r\n"
                     "Content-Length: %zu\r\nX-Request-Id: %s\r\n"
                     "Access-Control-Allow-Origin: %s\r\n\r\n",
                     status,
                     status == 413 ? "Payload Too Large" : "Error",
                     ctype,
                     len,
                     req->id,
                     req->srv->cfg.cors_origin);
    if (n > 0 && (size_t)n < sizeof head) {
        (void)send(ci->connect_fd, head, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (body != NULL && len > 0) {
            (void)send(ci->connect_fd, body, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        }
        (void)shutdown(ci->connect_fd, SHUT_WR);
    }
    free(body);
}
static bool answer_preflight(struct iof_http_request *req) {
    req->in_handler = true;
    iof_err e = iof_http_respond(req, 204, NULL, NULL, 0);
    req->in_handler = false;
    return e == IOF_OK;
}

/* The parameter of the matched route whose raw path segment holds an encoded NUL (%00), or NULL.
 * Decoded, such a value would be cut short where it is read as a C string, so it is refused. */
static const char *nul_param(const struct iof_http_route *rt, const char *path) {
    const char *p = path;
    for (size_t i = 0; i < rt->nsegments && *p != '\0'; i++) {
        const char *seg = rt->segments[i];
        p += *p == '/';
        bool last = rt->tail && i + 1 == rt->nsegments;
        const char *end = last ? NULL : strchr(p, '/');
        size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
        for (size_t k = 0; k + 3 <= n; k++) {
            if (p[k] == '%' && p[k + 1] == '0' && p[k + 2] == '0') {
                return seg[0] == ':' ? seg + 1 : seg;
            }
        }
        p += n;
    }
    return NULL;
}

/* Finds the handler and runs it; returns false when not even an error answer could be queued. */
static bool dispatch(struct iof_http_request *req) {
    struct iof_http_server *srv = req->srv;
    const struct iof_http_route *route = NULL;
    char allow[IOF_HTTP_ALLOW_MAX];
    enum iof_http_match m = iof_http_router_match(&srv->router,
                                                  req->method,
                                                  req->path,
                                                  &route,
                                                  req->params,
                                                  &req->nparams,
                                                  req->path_buf + strlen(req->path) + 1,
                                                  allow);
    iof_http_handler h;
    void *ctx;
    const char *nul_field = req->nul_query;
    if (m == IOF_HTTP_MATCH_FOUND && nul_field == NULL) {
        nul_field = nul_param(route, req->path);
    }
    if (nul_field != NULL) {
        req->nparams = 0;
        char msg[160];
        (void)snprintf(msg,
                       sizeof msg,
                       "Invalid format for field '%.64s': NUL bytes are not allowed",
                       nul_field);
        return answer_error(req, IOF_EINVAL, msg);
    }
    if (m == IOF_HTTP_MATCH_FOUND) {
        h = route->handler;
        ctx = route->ctx;
        req->route_index = (int)(route - srv->router.routes);
    } else if (srv->fallback != NULL) {
        req->nparams = 0;
        h = srv->fallback;
        ctx = srv->fallback_ctx;
    } else if (m == IOF_HTTP_MATCH_NO_METHOD) {
        req->nparams = 0;
        if (iof_http_set_header(req, "Allow", allow) != IOF_OK) {
            return answer_error(req, IOF_ENOMEM, NULL);
        }
        char msg[128];
        (void)snprintf(msg, sizeof msg, "Method %.32s is not allowed here", req->method);
        return answer_error(req, IOF_EUNSUPPORTED, msg);
    } else {
        return answer_error(req, IOF_ENOENT, "Not found");
    }

    struct iof_diag d;
    iof_diag_clear(&d);
    req->in_handler = true;
    iof_err err = h(req, &d, ctx);
    req->in_handler = false;
    if (req->hold != IOF_HTTP_HOLD_NONE) {
        if (err != IOF_OK) {
            IOF_ERROR("http", "bug_error_after_hold id=%s err=%s", req->id, iof_err_name(err));
        }
        iof_http_hold_after_handler(req);
        return true;
    }
    if (req->answered) {
        if (err != IOF_OK) {
            char q[300];
            IOF_WARN("http",
                     "error_after_answer id=%s err=%s message=%s",
                     req->id,
                     iof_err_name(err),
                     iof_log_quote(q, sizeof q, iof_diag_text(&d, err)));
        }
        return true;
    }
    if (err == IOF_OK) {
        char q[256];
        IOF_ERROR("http",
                  "bug_handler_did_not_answer method=%s path=%s id=%s",
                  req->method,
                  iof_log_quote(q, sizeof q, req->path),
                  req->id);
        err = iof_fail(&d, IOF_EINTERNAL, "The handler did not answer");
    } else if (iof_http_status_for(err) >= 500) {
        /* Logged here once; 503/504 are expected under load, a 500 is not. */
        char q[300];
        char p[256];
        enum iof_log_level level = iof_http_status_for(err) == 500 ? IOF_LOG_ERROR : IOF_LOG_WARN;
        IOF_LOG_AT(level,
                   "http",
                   "handler_failed method=%s path=%s id=%s err=%s message=%s",
                   req->method,
                   iof_log_quote(p, sizeof p, req->path),
                   req->id,
                   iof_err_name(err),
                   iof_log_quote(q, sizeof q, iof_diag_text(&d, err)));
    }
    return answer_error(req, err, iof_diag_text(&d, err));
}

/* The body limit of the request: the upload route's, else max_body. */
static uint64_t body_limit(const struct iof_http_request *req) {
    return req->upload_route != NULL ? req->upload_route->upload_max
                                     : (uint64_t)req->srv->cfg.max_body;
}

static bool answer_too_big(struct iof_http_request *req) {
    char msg[96];
    (void)snprintf(msg, sizeof msg, "The request body exceeds %" PRIu64 " bytes", body_limit(req));
    return answer_error(req, IOF_E2BIG, msg);
}

/* An upload route's head: admit runs, then the file is made. Returns false when not even an
 * error answer could be queued. */
static bool admit_upload(struct iof_http_request *req) {
    const struct iof_http_route *rt = req->upload_route;
    struct iof_diag d;
    iof_diag_clear(&d);
    iof_err err = IOF_OK;
    if (rt->admit != NULL) {
        req->in_handler = true;
        err = rt->admit(req, &d, rt->ctx);
        req->in_handler = false;
        if (req->answered) {
            return true;
        }
        if (req->hold != IOF_HTTP_HOLD_NONE || req->upgrade_cb != NULL) {
            IOF_ERROR("http", "bug_admit_held_or_upgraded id=%s", req->id);
            return false;
        }
    }
    if (err == IOF_OK) {
        err = iof_http_upload_begin(req, &d);
        if (err == IOF_EINVAL) {
            return answer_error(req, err, iof_diag_text(&d, err));
        }
    }
    return err == IOF_OK || answer_error(req, err, iof_diag_text(&d, err));
}

/* First call for a request: the headers are in. Finds an upload route, checks Content-Length,
 * admits uploads and answers preflights. */
static enum MHD_Result
add_header_size(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
    (void)kind;
    *(size_t *)cls += strlen(key) + (value != NULL ? strlen(value) : 0) + 4;
    return MHD_YES;
}

/* The head limits and the connection cap; true when the request was answered here. */
static bool refuse_head(struct iof_http_request *req, bool *ok) {
    struct iof_http_server *srv = req->srv;
    size_t max_head = srv->cfg.max_head;
    if (max_head == 0) {
        max_head = (srv->cfg.connection_memory != 0 ? srv->cfg.connection_memory : 32768) / 2;
    }
    size_t line = strlen(req->method) + strlen(req->uri) + strlen(req->version) + 4;
    size_t head = line;
    (void)MHD_get_connection_values(req->conn, MHD_HEADER_KIND, add_header_size, &head);
    char msg[128];
    if (line > max_head) {
        (void)snprintf(msg, sizeof msg, "The request URL exceeds %zu bytes", max_head);
        *ok = answer_and_close(req, 414, IOF_E2BIG, msg);
        return true;
    }
    if (head > max_head) {
        (void)snprintf(msg, sizeof msg, "The request headers exceed %zu bytes", max_head);
        *ok = answer_and_close(req, 431, IOF_E2BIG, msg);
        return true;
    }
    if (iof_http_guard_over_cap(srv)) {
        (void)!iof_http_set_header(req, "Retry-After", "5");
        *ok = answer_and_close(req, 503, IOF_EBUSY, "Too many open connections, retry later");
        return true;
    }
    return false;
}

static enum MHD_Result
on_headers(struct iof_http_request *req, const char *method, const char *version) {
    req->started = true;
    req->method = method;
    req->version = version;
    iof_http_guard_head_done(req->srv, req->conn);
    if (iof_http_request_prepare(req) != IOF_OK) {
        return MHD_NO;
    }
    bool ok = true;
    if (refuse_head(req, &ok)) {
        req->too_big = true; /* the body, if any, is not read */
        return ok ? MHD_YES : MHD_NO;
    }
    bool preflight = strcmp(method, MHD_HTTP_METHOD_OPTIONS) == 0;
    if (!preflight) {
        const struct iof_http_route *route = NULL;
        char allow[IOF_HTTP_ALLOW_MAX];
        if (iof_http_router_match(&req->srv->router,
                                  method,
                                  req->path,
                                  &route,
                                  req->params,
                                  &req->nparams,
                                  req->path_buf + strlen(req->path) + 1,
                                  allow) == IOF_HTTP_MATCH_FOUND &&
            route->upload) {
            req->upload_route = route;
            req->route_index = (int)(route - req->srv->router.routes);
        }
    }
    const char *cl = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Content-Length");
    if (cl != NULL) {
        errno = 0;
        char *end;
        unsigned long long n = strtoull(cl, &end, 10);
        if (errno != 0 || end == cl || n > body_limit(req)) {
            req->too_big = true;
            return answer_too_big(req) ? MHD_YES : MHD_NO;
        }
    }
    if (preflight) {
        return answer_preflight(req) ? MHD_YES : MHD_NO;
    }
    if (req->upload_route != NULL) {
        return admit_upload(req) ? MHD_YES : MHD_NO;
    }
    return MHD_YES;
}

static enum MHD_Result on_access(void *cls,
                                 struct MHD_Connection *conn,
                                 const char *url,
                                 const char *method,
                                 const char *version,
                                 const char *upload_data,
                                 size_t *upload_data_size,
                                 void **con_cls) {
    (void)cls;
    (void)conn;
    (void)url;
    struct iof_http_request *req = *con_cls;
    if (req == NULL) {
        return MHD_NO; /* on_uri could not allocate */
    }
    if (!req->started) {
        return on_headers(req, method, version);
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (!req->too_big && !req->answered && req->upload != NULL) {
            req->too_big = !iof_http_upload_data(req, upload_data, n);
        } else if (!req->too_big && !req->answered) {
            iof_err err = iof_buf_append(&req->body, upload_data, n);
            if (err == IOF_E2BIG) {
                /* Only a body without Content-Length gets here (a declared length over the
                 * limit was answered at the head): answer 413 now and close when the client
                 * stops, rather than read on for an answer it may never wait for. */
                req->too_big = true;
                iof_buf_free(&req->body);
                char msg[96];
                (void)snprintf(
                    msg, sizeof msg, "The request body exceeds %" PRIu64 " bytes", body_limit(req));
                answer_raw(req, 413, IOF_E2BIG, msg);
            } else if (err != IOF_OK) {
                return MHD_NO;
            }
        }
        if (req->too_big) {
            req->discarded += n;
            if (req->discarded > DISCARD_MAX) {
                if (!req->answered) {
                    char msg[96];
                    (void)snprintf(msg,
                                   sizeof msg,
                                   "The request body exceeds %" PRIu64 " bytes",
                                   body_limit(req));
                    answer_raw(req, 413, IOF_E2BIG, msg);
                }
                return MHD_NO;
            }
        }
        return MHD_YES;
    }
    if (req->raw_answered) {
        return MHD_NO; /* the answer went out on the socket: close */
    }
    if (req->answered) {
        return MHD_YES;
    }
    if (req->hold != IOF_HTTP_HOLD_NONE) {
        iof_http_hold_deliver(req); /* resumed with an answer */
        return req->answered ? MHD_YES : MHD_NO;
    }
    if (req->too_big) {
        return answer_too_big(req) ? MHD_YES : MHD_NO;
    }
    if (req->upload != NULL) {
        iof_http_upload_end(req);
    }
    return dispatch(req) ? MHD_YES : MHD_NO;
}

/* ---- lifecycle ---- */

/* Why the listening socket could not be had, once libmicrohttpd failed to start: a bind of our
 * own, with SO_REUSEADDR as libmicrohttpd sets it, tells an address in use (EADDRINUSE: another
 * socket listens there) from an address that is not ours (EADDRNOTAVAIL) and the like. 0 when
 * the bind works now, so the failure was something else. The listener itself never sets
 * SO_REUSEPORT: with it a second server on the same port would start and the kernel would split
 * the connections between the two. */
static int bind_errno(const struct sockaddr_in *sa) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return errno;
    }
    int on = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    int why = bind(fd, (const struct sockaddr *)sa, sizeof *sa) == 0 ? 0 : errno;
    close(fd);
    return why;
}

iof_err iof_http_address_check(const char *bind_addr, uint16_t port, struct iof_diag *d) {
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_ANY);
    if (bind_addr != NULL && inet_pton(AF_INET, bind_addr, &sa.sin_addr) != 1) {
        return iof_fail(d, IOF_EINVAL, "'%s' is not an IPv4 address", bind_addr);
    }
    if (port == 0) {
        return IOF_OK;
    }
    int why = bind_errno(&sa);
    if (why == EADDRINUSE) {
        return iof_fail(d, IOF_EBUSY, "address in use");
    }
    return why == 0 ? IOF_OK : iof_fail(d, IOF_EIO, "%s", strerror(why));
}

iof_err iof_http_server_start(struct iof_http_server *srv) {
    if (srv->started) {
        return IOF_ECONFLICT;
    }
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(srv->cfg.port);
    sa.sin_addr.s_addr = htonl(INADDR_ANY);
    if (srv->cfg.bind_addr != NULL && inet_pton(AF_INET, srv->cfg.bind_addr, &sa.sin_addr) != 1) {
        return IOF_EINVAL;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_ALLOW_UPGRADE | MHD_USE_ERROR_LOG;
#ifdef __linux__
    flags |= MHD_USE_EPOLL;
#endif
    unsigned pool = srv->cfg.threads > 1 ? srv->cfg.threads : 0;
    struct MHD_OptionItem guard_opts[IOF_HTTP_GUARD_OPTIONS];
    (void)iof_http_guard_fill_options(srv, guard_opts);
    bool tls = srv->cfg.tls_cert_pem != NULL;
    if (tls) {
        flags |= MHD_USE_TLS;
    }
    struct MHD_OptionItem tls_opts[] = {
        {tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, (void *)srv->tls_cert_pem},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)srv->tls_key_pem},
        {MHD_OPTION_END, 0, NULL},
    };
    srv->daemon = MHD_start_daemon(flags,
                                   srv->cfg.port,
                                   NULL,
                                   NULL,
                                   on_access,
                                   srv,
                                   MHD_OPTION_EXTERNAL_LOGGER, /* first, to catch every message */
                                   on_mhd_log,
                                   srv,
                                   MHD_OPTION_SOCK_ADDR,
                                   (struct sockaddr *)&sa,
                                   MHD_OPTION_URI_LOG_CALLBACK,
                                   on_uri,
                                   srv,
                                   MHD_OPTION_NOTIFY_COMPLETED,
                                   on_completed,
                                   srv,
                                   MHD_OPTION_ARRAY,
                                   guard_opts,
                                   MHD_OPTION_THREAD_POOL_SIZE,
                                   pool,
                                   MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                                   srv->cfg.connection_memory != 0 ? srv->cfg.connection_memory
                                                                   : (size_t)32768,
                                   MHD_OPTION_ARRAY,
                                   tls_opts,
                                   MHD_OPTION_END);
    if (srv->daemon == NULL) {
        int why = bind_errno(&sa);
        IOF_ERROR("http",
                  "start_failed bind=%s port=%u reason=\"%s\"",
                  srv->cfg.bind_addr != NULL ? srv->cfg.bind_addr : "0.0.0.0",
                  (unsigned)srv->cfg.port,
                  why != 0 ? strerror(why) : "libmicrohttpd could not start");
        return why == EADDRINUSE ? IOF_EBUSY : IOF_EIO;
    }
    if (iof_http_guard_start(srv) != IOF_OK) {
        MHD_stop_daemon(srv->daemon);
        srv->daemon = NULL;
        IOF_ERROR("http", "start_failed reason=\"no thread\"");
        return IOF_EIO;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = di != NULL ? di->port : srv->cfg.port;
    srv->started = true;
    IOF_INFO("http",
             "listening bind=%s port=%u threads=%u",
             srv->cfg.bind_addr != NULL ? srv->cfg.bind_addr : "0.0.0.0",
             (unsigned)srv->port,
             srv->cfg.threads);
    return IOF_OK;
}

uint16_t iof_http_server_port(const struct iof_http_server *srv) {
    return srv->started && !srv->stopped ? srv->port : 0;
}

void iof_http_server_stop(struct iof_http_server *srv) {
    if (srv == NULL || !srv->started || srv->stopped) {
        return;
    }
    srv->stopped = true;
    /* MHD_quiesce_daemon is not used: with epoll and a thread pool it races the worker threads
     * removing the listening socket from their epoll sets and panics (MHD 0.9.75). Requests that
     * arrive during the short drain are served normally; new holds are refused with 503. */
    iof_http_hold_stop(srv);
    iof_http_upgrade_stop(srv);
    iof_http_stream_stop(srv);
    iof_http_guard_stop(srv);
    MHD_stop_daemon(srv->daemon);
    srv->daemon = NULL;
    IOF_INFO("http", "stopped port=%u", (unsigned)srv->port);
}

void iof_http_server_free(struct iof_http_server *srv) {
    if (srv == NULL) {
        return;
    }
    iof_http_server_stop(srv);
    iof_http_router_free(&srv->router);
    iof_http_guard_destroy(srv);
    pthread_cond_destroy(&srv->drained);
    pthread_mutex_destroy(&srv->mu);
    free(srv->slots);
    free(srv->bind_addr);
    free(srv->cors_origin);
    if (srv->tls_key_pem != NULL) {
        explicit_bzero(srv->tls_key_pem, strlen(srv->tls_key_pem));
    }
    free(srv->tls_cert_pem);
    free(srv->tls_key_pem);
    free(srv);
}
