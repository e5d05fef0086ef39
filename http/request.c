/* Per-request side of the HTTP server: parsing the request target, the accessors handlers use,
 * and building responses with the common headers (request id, timestamp, CORS). */
#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "common/random.h"
#include "http/internal.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define CORS_METHODS "GET, POST, PUT, PATCH, DELETE, OPTIONS"
#define CORS_HEADERS "Authorization, Content-Type, Request-Id, X-Request-Id"
#define CORS_EXPOSE  "X-Request-Id, X-Timestamp"

int iof_http_status_for(iof_err err) {
    switch (err) {
        case IOF_EINVAL: return 400;
        case IOF_EAUTH: return 401;
        case IOF_EPERM: return 403;
        case IOF_ENOENT: return 404;
        case IOF_EUNSUPPORTED: return 405;
        case IOF_EEXIST:
        case IOF_ECONFLICT: return 409;
        case IOF_E2BIG: return 413;
        case IOF_EBUSY: return 503;
        case IOF_ETIMEOUT: return 504;
        default: return 500;
    }
}

static bool safe_request_id(const char *s) {
    if (s == NULL || *s == '\0' || strlen(s) > IOF_HTTP_REQUEST_ID_MAX) {
        return false;
    }
    for (const char *p = s; *p != '\0'; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == ':')) {
            return false;
        }
    }
    return true;
}

static void set_request_id(struct iof_http_request *req) {
    const char *names[] = {"X-Request-Id", "Request-Id"};
    for (size_t i = 0; i < 2; i++) {
        const char *v = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, names[i]);
        if (safe_request_id(v)) {
            (void)snprintf(req->id, sizeof req->id, "%s", v);
            return;
        }
    }
    char uuid[37];
    if (iof_random_uuid(uuid) == IOF_OK) {
        (void)snprintf(req->id, sizeof req->id, "%s", uuid);
    } else {
        (void)snprintf(req->id, sizeof req->id, "%" PRIx64 "-%p", iof_time_mono_ms(), (void *)req);
    }
}

static void set_remote(struct iof_http_request *req) {
    req->remote[0] = '\0';
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci == NULL || ci->client_addr == NULL) {
        return;
    }
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        (void)inet_ntop(AF_INET, &in->sin_addr, req->remote, sizeof req->remote);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        (void)inet_ntop(AF_INET6, &in6->sin6_addr, req->remote, sizeof req->remote);
    }
}

/* Splits the query string into decoded name/value pairs, in place in req->query_buf. */
static iof_err parse_query(struct iof_http_request *req, const char *q) {
    req->query_buf = strdup(q);
    if (req->query_buf == NULL) {
        return IOF_ENOMEM;
    }
    char *p = req->query_buf;
    while (*p != '\0' && req->nquery < IOF_HTTP_MAX_QUERY) {
        char *amp = strchr(p, '&');
        char *next = amp != NULL ? amp + 1 : p + strlen(p);
        if (amp != NULL) {
            *amp = '\0';
        }
        if (*p != '\0') {
            char *eq = strchr(p, '=');
            char *val = eq != NULL ? eq + 1 : p + strlen(p);
            if (eq != NULL) {
                *eq = '\0';
            }
            bool nul = strstr(p, "%00") != NULL || strstr(val, "%00") != NULL;
            (void)iof_http_url_decode(p, p, strlen(p), true);
            (void)iof_http_url_decode(val, val, strlen(val), true);
            if (nul && req->nul_query == NULL) {
                req->nul_query = p;
            }
            req->query[req->nquery].name = p;
            req->query[req->nquery].value = val;
            req->nquery++;
        }
        p = next;
    }
    return IOF_OK;
}

iof_err iof_http_request_prepare(struct iof_http_request *req) {
    set_request_id(req);
    set_remote(req);
    const char *q = strchr(req->uri, '?');
    size_t plen = q != NULL ? (size_t)(q - req->uri) : strlen(req->uri);
    /* path, its NUL, then room for the decoded parameter values */
    req->path_buf = malloc(plen + 1 + plen + IOF_HTTP_MAX_PARAMS + 1);
    if (req->path_buf == NULL) {
        return IOF_ENOMEM;
    }
    memcpy(req->path_buf, req->uri, plen);
    req->path_buf[plen] = '\0';
    req->path = req->path_buf;
    return q != NULL ? parse_query(req, q + 1) : IOF_OK;
}

void iof_http_request_free(struct iof_http_request *req) {
    if (req == NULL) {
        return;
    }
    for (size_t i = 0; i < req->nheaders; i++) {
        free(req->headers[i].name);
        free(req->headers[i].value);
    }
    iof_http_upload_free(req);
    free(req->pending.content_type);
    free(req->pending.body);
    json_decref(req->json);
    iof_buf_free(&req->body);
    free(req->query_buf);
    free(req->path_buf);
    free(req->uri);
    free(req);
}

/* ---- accessors ---- */

const char *iof_http_method(const struct iof_http_request *req) {
    return req->method;
}

const char *iof_http_path(const struct iof_http_request *req) {
    return req->path;
}

const char *iof_http_param(const struct iof_http_request *req, const char *name) {
    for (size_t i = 0; i < req->nparams; i++) {
        if (strcmp(req->params[i].name, name) == 0) {
            return req->params[i].value;
        }
    }
    return NULL;
}

const char *iof_http_query(const struct iof_http_request *req, const char *name) {
    for (size_t i = 0; i < req->nquery; i++) {
        if (strcmp(req->query[i].name, name) == 0) {
            return req->query[i].value;
        }
    }
    return NULL;
}

const char *iof_http_header(const struct iof_http_request *req, const char *name) {
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const uint8_t *iof_http_body(const struct iof_http_request *req, size_t *len) {
    static const uint8_t empty[1] = {0};
    if (len != NULL) {
        *len = req->body.len;
    }
    return req->body.data != NULL ? req->body.data : empty;
}

iof_err iof_http_body_json(struct iof_http_request *req, json_t **out, struct iof_diag *d) {
    if (req->json == NULL) {
        if (req->body.len == 0) {
            return iof_fail(d, IOF_EINVAL, "Invalid JSON: the request body is empty");
        }
        json_t *v;
        iof_err err = iof_json_parse_repair(
            (const char *)req->body.data, req->body.len, &v, &req->json_repaired, d);
        if (err != IOF_OK) {
            return err;
        }
        req->json = v;
    }
    *out = req->json;
    return IOF_OK;
}

size_t iof_http_body_repaired(const struct iof_http_request *req) {
    return req->json_repaired;
}

const char *iof_http_request_id(const struct iof_http_request *req) {
    return req->id;
}

const char *iof_http_remote_addr(const struct iof_http_request *req) {
    return req->remote;
}

/* ---- responses ---- */

static bool token_ok(const char *s) {
    if (s == NULL || *s == '\0') {
        return false;
    }
    for (const char *p = s; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= 0x20 || c >= 0x7f || strchr("()<>@,;:\\\"/[]?={}", c) != NULL) {
            return false;
        }
    }
    return true;
}

static bool value_ok(const char *s) {
    return s != NULL && strpbrk(s, "\r\n") == NULL;
}

iof_err iof_http_set_header(struct iof_http_request *req, const char *name, const char *value) {
    if (!token_ok(name) || !value_ok(value)) {
        return IOF_EINVAL;
    }
    char *v = strdup(value);
    if (v == NULL) {
        return IOF_ENOMEM;
    }
    for (size_t i = 0; i < req->nheaders; i++) {
        if (strcasecmp(req->headers[i].name, name) == 0) {
            free(req->headers[i].value);
            req->headers[i].value = v;
            return IOF_OK;
        }
    }
    if (req->nheaders == IOF_HTTP_MAX_EXTRA_HEADERS) {
        free(v);
        return IOF_E2BIG;
    }
    char *n = strdup(name);
    if (n == NULL) {
        free(v);
        return IOF_ENOMEM;
    }
    req->headers[req->nheaders].name = n;
    req->headers[req->nheaders].value = v;
    req->nheaders++;
    return IOF_OK;
}

iof_err iof_http_add_common_headers(struct iof_http_request *req, struct MHD_Response *resp) {
    char ts[24];
    (void)snprintf(ts, sizeof ts, "%" PRId64, iof_time_now_ms());
    const char *origin = req->srv->cfg.cors_origin;
    bool ok = MHD_add_response_header(resp, "X-Request-Id", req->id) == MHD_YES &&
              MHD_add_response_header(resp, "X-Timestamp", ts) == MHD_YES;
    if (ok && origin[0] != '\0') { /* "": no CORS headers, browsers keep pages out */
        ok = MHD_add_response_header(resp, "Access-Control-Allow-Origin", origin) == MHD_YES &&
             MHD_add_response_header(resp, "Access-Control-Allow-Methods", CORS_METHODS) ==
                 MHD_YES &&
             MHD_add_response_header(resp, "Access-Control-Allow-Headers", CORS_HEADERS) ==
                 MHD_YES &&
             MHD_add_response_header(resp, "Access-Control-Expose-Headers", CORS_EXPOSE) == MHD_YES;
    }
    for (size_t i = 0; ok && i < req->nheaders; i++) {
        ok = MHD_add_response_header(resp, req->headers[i].name, req->headers[i].value) == MHD_YES;
    }
    return ok ? IOF_OK : IOF_EINVAL;
}

iof_err iof_http_queue(struct iof_http_request *req, int status, struct MHD_Response *resp) {
    iof_err err = iof_http_add_common_headers(req, resp);
    if (err == IOF_OK && MHD_queue_response(req->conn, (unsigned)status, resp) != MHD_YES) {
        err = IOF_EINTERNAL;
    }
    MHD_destroy_response(resp);
    if (err != IOF_OK) {
        return err;
    }
    req->answered = true;
    req->status = status;
    if (iof_log_enabled(IOF_LOG_DEBUG)) {
        char path[256];
        IOF_DEBUG("http",
                  "request method=%s path=%s status=%d duration_ms=%" PRId64 " id=%s remote=%s",
                  req->method,
                  iof_log_quote(path, sizeof path, req->path),
                  status,
                  iof_time_mono_ms() - req->start_ms,
                  req->id,
                  req->remote);
    }
    return IOF_OK;
}

/* A response may be queued only from the handler, once, and not for a held request. */
static iof_err can_answer(const struct iof_http_request *req) {
    if (req->answered || req->hold != IOF_HTTP_HOLD_NONE || !req->in_handler) {
        return IOF_ECONFLICT;
    }
    return IOF_OK;
}

iof_err iof_http_respond(struct iof_http_request *req,
                         int status,
                         const char *content_type,
                         const void *body,
                         size_t len) {
    iof_err err = can_answer(req);
    if (err != IOF_OK) {
        return err;
    }
    if (status < 100 || status > 999 || status == 101 || (body == NULL && len > 0) ||
        (content_type != NULL && !value_ok(content_type))) {
        return IOF_EINVAL;
    }
    static char empty[1];
    /* MHD copies the bytes (MUST_COPY) although its parameter is not const. */
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        len, len > 0 ? (void *)(uintptr_t)body : empty, MHD_RESPMEM_MUST_COPY);
    if (resp == NULL) {
        return IOF_ENOMEM;
    }
    if (content_type != NULL &&
        MHD_add_response_header(resp, "Content-Type", content_type) != MHD_YES) {
        MHD_destroy_response(resp);
        return IOF_EINVAL;
    }
    return iof_http_queue(req, status, resp);
}

iof_err iof_http_respond_fd(
    struct iof_http_request *req, int status, const char *content_type, int fd, uint64_t size) {
    iof_err err = can_answer(req);
    if (err == IOF_OK && (status < 100 || status > 999 || status == 101 || fd < 0 ||
                          (content_type != NULL && !value_ok(content_type)))) {
        err = IOF_EINVAL;
    }
    if (err != IOF_OK) {
        if (fd >= 0) {
            (void)close(fd);
        }
        return err;
    }
    /* MHD closes fd when the response is destroyed, including on the failures below. */
    struct MHD_Response *resp = MHD_create_response_from_fd64(size, fd);
    if (resp == NULL) {
        (void)close(fd);
        return IOF_ENOMEM;
    }
    if (content_type != NULL &&
        MHD_add_response_header(resp, "Content-Type", content_type) != MHD_YES) {
        MHD_destroy_response(resp);
        return IOF_EINVAL;
    }
    return iof_http_queue(req, status, resp);
}

iof_err iof_http_respond_json(struct iof_http_request *req, int status, json_t *value) {
    if (value == NULL) {
        return iof_http_respond(req, status, NULL, NULL, 0);
    }
    char *text;
    size_t len;
    iof_err err = iof_json_dump(value, &text, &len);
    json_decref(value);
    if (err != IOF_OK) {
        return err;
    }
    err = iof_http_respond(req, status, "application/json", text, len);
    free(text);
    return err;
}

/* jansson insists on UTF-8; anything else in a message becomes '?'. */
static json_t *message_string(const char *message) {
    json_t *s = json_string(message);
    if (s != NULL) {
        return s;
    }
    char *copy = strdup(message);
    if (copy == NULL) {
        return NULL;
    }
    for (char *p = copy; *p != '\0'; p++) {
        if ((unsigned char)*p >= 0x80 || (unsigned char)*p < 0x20) {
            *p = '?';
        }
    }
    s = json_string(copy);
    free(copy);
    return s;
}

iof_err iof_http_error_body(iof_err err, const char *message, char **out, size_t *len) {
    json_t *obj = json_object();
    if (obj == NULL) {
        return IOF_ENOMEM;
    }
    /* json_object_set_new takes the value even when it fails. */
    if (json_object_set_new(obj, "name", json_string(iof_err_name(err))) != 0 ||
        json_object_set_new(
            obj, "message", message_string(message != NULL ? message : iof_strerror(err))) != 0) {
        json_decref(obj);
        return IOF_ENOMEM;
    }
    iof_err e = iof_json_dump(obj, out, len);
    json_decref(obj);
    return e;
}

iof_err iof_http_respond_error(struct iof_http_request *req, iof_err err, const char *message) {
    iof_err e = can_answer(req);
    if (e != IOF_OK) {
        return e;
    }
    char *text;
    size_t len;
    e = iof_http_error_body(err, message, &text, &len);
    if (e != IOF_OK) {
        return e;
    }
    e = iof_http_respond(req, iof_http_status_for(err), "application/json", text, len);
    free(text);
    return e;
}
