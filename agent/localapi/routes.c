/* The Local API's REST side: the classic /v2 microservice routes (agent.md §1.1, §1.2) with their
 * content-type rule, plain-text error bodies and status codes, and the fallback that answers
 * unknown paths as the classic agent does. */
#include "agent/localapi/internal.h"

#include "common/buf.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_FILE_MAX    ((off_t)1 << 20) /* one /v2/log file before rotation */
#define LOG_FILE_COUNT  10
#define QUERY_MAX_MSGS  100000      /* one /v2/messages/query answer at most */
#define QUERY_MAX_BYTES (32u << 20) /* of message payloads */

static const char *status_text(int status) {
    switch (status) {
        case 400: return "400 Bad Request";
        case 403: return "403 Forbidden";
        case 404: return "404 Not Found";
        case 405: return "405 Method Not Allowed";
        default: return "500 Internal Server Error";
    }
}

/* The classic error answer: the text, then the status line text, as plain text, and the
 * connection closed. */
IOF_PRINTF(3, 4)
static iof_err classic_fail(struct iof_http_request *req, int status, const char *fmt, ...) {
    char body[1024];
    int n = 0;
    if (fmt != NULL) {
        va_list ap;
        va_start(ap, fmt);
        n = vsnprintf(body, sizeof body, fmt, ap);
        va_end(ap);
        if (n < 0) {
            n = 0;
        }
        if ((size_t)n >= sizeof body) {
            n = (int)sizeof body - 1;
        }
    }
    (void)snprintf(body + n, sizeof body - (size_t)n, "%s", status_text(status));
    (void)!iof_http_set_header(req, "Connection", "close");
    return iof_http_respond(req, status, "text/plain", body, strlen(body));
}

static iof_err respond_okay(struct iof_http_request *req, json_t *o) {
    if (o == NULL) {
        return IOF_ENOMEM;
    }
    return iof_http_respond_json(req, 200, o);
}

/* Content-Type must be application/json; parameters after ';' are ignored. */
static bool json_content(struct iof_http_request *req) {
    const char *ct = iof_http_header(req, "Content-Type");
    if (ct == NULL) {
        return false;
    }
    while (*ct == ' ' || *ct == '\t') {
        ct++;
    }
    size_t n = strcspn(ct, ";");
    while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t')) {
        n--;
    }
    return n == strlen("application/json") && strncasecmp(ct, "application/json", n) == 0;
}

static iof_err bad_content_type(struct iof_http_request *req) {
    const char *ct = iof_http_header(req, "Content-Type");
    return classic_fail(req, 400, "Incorrect content type %s", ct != NULL ? ct : "null");
}

/* The body as a JSON object, or NULL after answering 400. */
static json_t *body_object(struct iof_http_request *req) {
    json_t *body = NULL;
    struct iof_diag d = {{0}};
    if (iof_http_body_json(req, &body, &d) != IOF_OK || !json_is_object(body)) {
        return NULL;
    }
    return body;
}

/* A required non-blank string member, or NULL. */
static const char *id_of(const json_t *body, const char *key) {
    const char *s = json_string_value(json_object_get(body, key));
    if (s == NULL) {
        return NULL;
    }
    for (const char *p = s; *p != '\0'; p++) {
        if (!isspace((unsigned char)*p)) {
            return s;
        }
    }
    return NULL;
}

/* ---- /v2/config/get ---- */

static iof_err config_get(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
    (void)d;
    struct agent_localapi *api = ctx;
    if (!json_content(req)) {
        return bad_content_type(req);
    }
    json_t *body = body_object(req);
    const char *id = body != NULL ? id_of(body, "id") : NULL;
    if (id == NULL) {
        return classic_fail(req, 400, "Incorrect content/data");
    }
    iof_err refused = IOF_OK;
    if (!agent_localapi_caller_ok(api, req, id, NULL, &refused)) {
        return refused;
    }
    pthread_mutex_lock(&api->mu);
    struct agent_localapi_node *n = agent_localapi_find(api, id);
    json_t *config = n != NULL && n->known ? json_string(n->config) : NULL;
    pthread_mutex_unlock(&api->mu);
    if (config == NULL) {
        return classic_fail(req, 400, "No configuration found for the id %s", id);
    }
    return respond_okay(req, json_pack("{s:s, s:o}", "status", "okay", "config", config));
}

/* ---- /v2/messages/next ---- */

static iof_err messages_next(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
    struct agent_localapi *api = ctx;
    if (!json_content(req)) {
        return bad_content_type(req);
    }
    json_t *body = body_object(req);
    const char *id = body != NULL ? id_of(body, "id") : NULL;
    if (id == NULL) {
        return classic_fail(req, 400, "Incorrect content/data");
    }
    iof_err refused = IOF_OK;
    if (!agent_localapi_caller_ok(api, req, id, NULL, &refused)) {
        return refused;
    }
    json_t *messages = json_array();
    if (messages == NULL) {
        return IOF_ENOMEM;
    }
    iof_err err = IOF_OK;
    pthread_mutex_lock(&api->mu);
    struct agent_localapi_node *n = agent_localapi_find(api, id);
    /* A receiver with a message socket gets its messages there (real-time mode). */
    if (n != NULL && n->msg_conn == 0) {
        struct agent_localapi_qmsg *q;
        while (err == IOF_OK && (q = agent_localapi_ring_pop(&n->queue)) != NULL) {
            json_t *m = NULL;
            struct iof_msg *msg = NULL;
            err = iof_msg_decode(q->frame + 5, q->frame_len - 5, &msg, d);
            if (err == IOF_OK) {
                err = iof_msg_to_json(msg, &m, d);
                iof_msg_free(msg);
            }
            if (err == IOF_OK && json_array_append_new(messages, m) != 0) {
                err = IOF_ENOMEM;
            }
            agent_localapi_qmsg_unref(q);
        }
        agent_localapi_gc(api);
    }
    pthread_mutex_unlock(&api->mu);
    if (err != IOF_OK) {
        json_decref(messages);
        return err;
    }
    return respond_okay(req,
                        json_pack("{s:s, s:I, s:o}",
                                  "status",
                                  "okay",
                                  "count",
                                  (json_int_t)json_array_size(messages),
                                  "messages",
                                  messages));
}

/* ---- /v2/messages/new ---- */

/* The JSON value as the classic agent's regex checks see it: numbers and strings as text. */
static bool value_text(const json_t *v, char *out, size_t size) {
    if (json_is_string(v)) {
        return snprintf(out, size, "%s", json_string_value(v)) < (int)size;
    }
    if (json_is_integer(v)) {
        return snprintf(out, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v)) < (int)size;
    }
    if (json_is_real(v)) {
        return snprintf(out, size, "%.17g", json_real_value(v)) < (int)size;
    }
    return false;
}

static bool all_digits(const char *s) {
    if (*s == '\0') {
        return false;
    }
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9') {
            return false;
        }
    }
    return true;
}

/* digits with an optional decimal part */
static bool decimal(const char *s) {
    const char *dot = strchr(s, '.');
    if (dot == NULL) {
        return all_digits(s);
    }
    char head[64];
    size_t n = (size_t)(dot - s);
    if (n == 0 || n >= sizeof head) {
        return false;
    }
    memcpy(head, s, n);
    head[n] = '\0';
    return all_digits(head) && (dot[1] == '\0' || all_digits(dot + 1));
}

/* The classic agent's checks of a new message; false after answering 400. */
static bool validate_new(struct iof_http_request *req, const json_t *body, iof_err *err) {
    static const char *const required[] = {
        "publisher", "version", "infotype", "infoformat", "contentdata"};
    for (size_t i = 0; i < sizeof required / sizeof *required; i++) {
        const json_t *v = json_object_get(body, required[i]);
        if (v == NULL || json_is_null(v)) {
            *err = classic_fail(
                req, 400, "Incorrect content/data: missing input field %s", required[i]);
            return false;
        }
    }
    static const char *const blank[] = {"publisher", "infotype", "infoformat"};
    for (size_t i = 0; i < sizeof blank / sizeof *blank; i++) {
        if (id_of(body, blank[i]) == NULL) {
            *err = classic_fail(req, 400, "Incorrect content/data: %s must not be blank", blank[i]);
            return false;
        }
    }
    static const char *const digits[] = {"version",
                                         "sequencenumber",
                                         "sequencetotal",
                                         "priority",
                                         "chainposition",
                                         "difficultytarget"};
    for (size_t i = 0; i < sizeof digits / sizeof *digits; i++) {
        const json_t *v = json_object_get(body, digits[i]);
        if (v == NULL || json_is_null(v)) {
            continue;
        }
        char text[64];
        bool real_ok = strcmp(digits[i], "difficultytarget") == 0;
        if (!value_text(v, text, sizeof text) || !(real_ok ? decimal(text) : all_digits(text))) {
            *err =
                classic_fail(req, 400, "Incorrect content/data: invalid value for %s", digits[i]);
            return false;
        }
    }
    return true;
}

static iof_err messages_new(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
    struct agent_localapi *api = ctx;
    if (!json_content(req)) {
        return bad_content_type(req);
    }
    json_t *body = body_object(req);
    if (body == NULL) {
        return classic_fail(req, 400, "Incorrect content/data");
    }
    iof_err err = IOF_OK;
    if (!validate_new(req, body, &err)) {
        return err;
    }
    if (!agent_localapi_caller_ok(
            api, req, json_string_value(json_object_get(body, "publisher")), NULL, &err)) {
        return err;
    }
    struct iof_msg *msg = NULL;
    err = iof_msg_from_json(body, &msg, d);
    if (err == IOF_OK && iof_http_body_repaired(req) > 0) {
        agent_localapi_count_repaired(api,
                                      json_string_value(json_object_get(body, "publisher")),
                                      iof_http_body_repaired(req));
    }
    char id[33];
    int64_t ts = 0;
    bool unroutable = false;
    if (err == IOF_OK) {
        err = agent_localapi_publish(api, msg, id, &ts, &unroutable, d);
    }
    iof_msg_free(msg);
    if (err == IOF_EINVAL) {
        return classic_fail(req, 400, "Incorrect content/data: %s", iof_diag_text(d, err));
    }
    if (err != IOF_OK) {
        return err;
    }
    json_t *o =
        json_pack("{s:s, s:I, s:s}", "status", "okay", "timestamp", (json_int_t)ts, "id", id);
    if (o != NULL && unroutable) {
        (void)json_object_set_new(o, "unroutable", json_true());
    }
    return respond_okay(req, o);
}

/* ---- /v2/messages/query ---- */

struct query_ctx {
    json_t *messages;
    size_t bytes;
    int64_t last_ts;
    bool any;
    iof_err err;
};

static bool query_visit(void *ctx, int64_t timestamp, const uint8_t *payload, size_t len) {
    struct query_ctx *qc = ctx;
    if (json_array_size(qc->messages) >= QUERY_MAX_MSGS || qc->bytes + len > QUERY_MAX_BYTES) {
        return false;
    }
    struct iof_msg *msg = NULL;
    json_t *m = NULL;
    if (iof_msg_decode(payload, len, &msg, NULL) != IOF_OK ||
        iof_msg_to_json(msg, &m, NULL) != IOF_OK) {
        iof_msg_free(msg);
        return true; /* damaged beyond the checksum's reach: skipped */
    }
    iof_msg_free(msg);
    if (json_array_append_new(qc->messages, m) != 0) {
        qc->err = IOF_ENOMEM;
        return false;
    }
    qc->bytes += len;
    qc->last_ts = timestamp;
    qc->any = true;
    return true;
}

static iof_err messages_query(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
    struct agent_localapi *api = ctx;
    if (!json_content(req)) {
        return bad_content_type(req);
    }
    json_t *body = body_object(req);
    const char *id = body != NULL ? id_of(body, "id") : NULL;
    int64_t start = 0;
    int64_t end = 0;
    const json_t *publishers = NULL;
    if (id == NULL ||
        iof_json_get_int(body, "timeframestart", IOF_JSON_REQUIRED, &start, NULL) != IOF_OK ||
        iof_json_get_int(body, "timeframeend", IOF_JSON_REQUIRED, &end, NULL) != IOF_OK ||
        iof_json_get_array(body, "publishers", IOF_JSON_REQUIRED, &publishers, NULL) != IOF_OK) {
        return classic_fail(req, 400, "Incorrect content/data");
    }
    iof_err refused = IOF_OK;
    if (!agent_localapi_caller_ok(api, req, id, NULL, &refused)) {
        return refused;
    }
    struct query_ctx qc = {.messages = json_array(), .err = IOF_OK};
    if (qc.messages == NULL) {
        return IOF_ENOMEM;
    }
    int64_t frame_end = end;
    size_t i;
    const json_t *p;
    json_array_foreach(publishers, i, p) {
        const char *pub = json_string_value(p);
        if (pub == NULL || api->archive == NULL) {
            continue;
        }
        pthread_mutex_lock(&api->mu);
        struct agent_localapi_node *n = agent_localapi_find(api, pub);
        bool allowed = false;
        if (n != NULL && n->known) {
            size_t k;
            const json_t *r;
            json_array_foreach(n->routes, k, r) {
                if (json_is_string(r) && strcmp(json_string_value(r), id) == 0) {
                    allowed = true;
                }
            }
        }
        pthread_mutex_unlock(&api->mu);
        if (!allowed) {
            continue;
        }
        qc.any = false;
        iof_err err = agent_archive_query(api->archive, pub, start, end, query_visit, &qc, d);
        if (err == IOF_OK) {
            err = qc.err;
        }
        if (err != IOF_OK) {
            json_decref(qc.messages);
            return err;
        }
        if (qc.any) {
            frame_end = qc.last_ts; /* classic: the last message of the last publisher */
        }
    }
    return respond_okay(req,
                        json_pack("{s:s, s:I, s:I, s:I, s:o}",
                                  "status",
                                  "okay",
                                  "count",
                                  (json_int_t)json_array_size(qc.messages),
                                  "timeframestart",
                                  (json_int_t)start,
                                  "timeframeend",
                                  (json_int_t)frame_end,
                                  "messages",
                                  qc.messages));
}

/* ---- /v2/log ---- */

static bool safe_file_id(const char *id) {
    size_t n = strlen(id);
    if (n == 0 || n > 128) {
        return false;
    }
    for (const char *p = id; *p != '\0'; p++) {
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_') {
            return false;
        }
    }
    return true;
}

/* Appends one line to <log_dir>/<id>.0.log, shifting .0..8 to .1..9 when it holds file_max bytes
 * or more. */
static bool append_log(
    struct agent_localapi *api, const char *id, off_t file_max, const char *line, size_t len) {
    char path[PATH_MAX];
    (void)snprintf(path, sizeof path, "%s/%s.0.log", api->log_dir, id);
    pthread_mutex_lock(&api->log_mu);
    struct stat st;
    if (stat(path, &st) == 0 && st.st_size >= file_max) {
        char from[PATH_MAX];
        char to[PATH_MAX];
        for (int k = LOG_FILE_COUNT - 1; k > 0; k--) {
            (void)snprintf(from, sizeof from, "%s/%s.%d.log", api->log_dir, id, k - 1);
            (void)snprintf(to, sizeof to, "%s/%s.%d.log", api->log_dir, id, k);
            (void)rename(from, to);
        }
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    bool ok = fd >= 0 && write(fd, line, len) == (ssize_t)len;
    if (fd >= 0) {
        close(fd);
    }
    pthread_mutex_unlock(&api->log_mu);
    return ok;
}

static iof_err log_post(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
    (void)d;
    struct agent_localapi *api = ctx;
    if (!json_content(req)) {
        return bad_content_type(req);
    }
    json_t *body = body_object(req);
    const char *id = body != NULL ? id_of(body, "id") : NULL;
    const char *message = body != NULL ? json_string_value(json_object_get(body, "message")) : NULL;
    const char *type = body != NULL ? json_string_value(json_object_get(body, "type")) : NULL;
    if (id == NULL || message == NULL) {
        return classic_fail(req, 400, "Log message parsing error, Incorrect content/data");
    }
    iof_err refused = IOF_OK;
    if (!agent_localapi_caller_ok(api, req, id, NULL, &refused)) {
        return refused;
    }
    pthread_mutex_lock(&api->mu);
    struct agent_localapi_node *n = agent_localapi_find(api, id);
    bool known = n != NULL && n->known;
    off_t file_max = known ? (off_t)n->log_size_mb * (1 << 20) / LOG_FILE_COUNT : 0;
    pthread_mutex_unlock(&api->mu);
    if (!known || api->log_dir == NULL || !safe_file_id(id)) {
        return classic_fail(req, 400, "Log message parsing error, Logger initialization error");
    }
    char ts[32];
    if (iof_time_format_iso8601(iof_time_now_ms(), ts, sizeof ts) != IOF_OK) {
        ts[0] = '\0';
    }
    struct iof_buf line;
    iof_buf_init(&line, (size_t)1 << 20);
    bool info = type != NULL && strcmp(type, "info") == 0;
    iof_err err = iof_buf_printf(&line, "%s %s %s\n", ts, info ? "INFO" : "WARNING", message);
    if (err == IOF_OK && !append_log(api, id, file_max, (const char *)line.data, line.len)) {
        err = IOF_EIO;
    }
    iof_buf_free(&line);
    if (err != IOF_OK) {
        return classic_fail(req, 400, "Log message parsing error, %s", iof_strerror(err));
    }
    return respond_okay(req, json_pack("{s:s}", "status", "okay"));
}

/* ---- /v2/gps ---- */

static iof_err gps_get(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
    (void)d;
    struct agent_localapi *api = ctx;
    iof_err refused = IOF_OK;
    if (!agent_localapi_caller_ok(api, req, NULL, NULL, &refused)) {
        return refused;
    }
    if (!json_content(req)) {
        return bad_content_type(req);
    }
    char lat[64];
    char lon[64];
    if (api->hooks.gps_get != NULL) {
        iof_err err = api->hooks.gps_get(api->hooks.ctx, lat, sizeof lat, lon, sizeof lon);
        if (err != IOF_OK) {
            return classic_fail(req, 500, "Unable to get GPS coordinates ");
        }
    } else {
        pthread_mutex_lock(&api->mu);
        memcpy(lat, api->gps_lat, sizeof lat);
        memcpy(lon, api->gps_lon, sizeof lon);
        pthread_mutex_unlock(&api->mu);
    }
    return respond_okay(req,
                        json_pack("{s:s, s:I, s:s, s:s}",
                                  "status",
                                  "okay",
                                  "timestamp",
                                  (json_int_t)iof_time_now_ms(),
                                  "lat",
                                  lat,
                                  "lon",
                                  lon));
}

/* A coordinate as text: strings as they are, numbers printed. Either must read as a decimal number
 * within -limit..limit (latitude 90, longitude 180); anything else is the client's error. */
static bool coordinate(const json_t *body, const char *key, double limit, char out[64]) {
    const json_t *v = json_object_get(body, key);
    double x;
    if (json_is_string(v) && strlen(json_string_value(v)) < 64) {
        const char *s = json_string_value(v);
        char *end = NULL;
        errno = 0;
        x = strtod(s, &end);
        if (errno != 0 || end == s || *end != '\0' || isspace((unsigned char)s[0]) ||
            strpbrk(s, "xXnNiI") != NULL) {
            return false; /* not a number, or hex, nan, inf */
        }
        (void)snprintf(out, 64, "%s", s);
    } else if (json_is_number(v)) {
        x = json_number_value(v);
        (void)snprintf(out, 64, "%.10g", x);
    } else {
        return false;
    }
    return x >= -limit && x <= limit;
}

static iof_err gps_post(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
    (void)d;
    struct agent_localapi *api = ctx;
    iof_err refused = IOF_OK;
    if (!agent_localapi_caller_ok(api, req, NULL, NULL, &refused)) {
        return refused;
    }
    if (!json_content(req)) {
        return bad_content_type(req);
    }
    json_t *body = body_object(req);
    char lat[64];
    char lon[64];
    if (body == NULL || !coordinate(body, "lat", 90, lat) || !coordinate(body, "lon", 180, lon)) {
        return classic_fail(req, 400, "Incorrect content/data");
    }
    if (api->hooks.gps_set != NULL) {
        if (api->hooks.gps_set(api->hooks.ctx, lat, lon) != IOF_OK) {
            return classic_fail(req, 500, "Unable to set GPS coordinates ");
        }
    }
    pthread_mutex_lock(&api->mu);
    memcpy(api->gps_lat, lat, sizeof lat);
    memcpy(api->gps_lon, lon, sizeof lon);
    pthread_mutex_unlock(&api->mu);
    return respond_okay(req, json_pack("{s:s}", "status", "okay"));
}

/* ---- /v2/edgeResources ---- */

static iof_err edge_resources(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
    (void)d;
    struct agent_localapi *api = ctx;
    iof_err refused = IOF_OK;
    if (!agent_localapi_caller_ok(api, req, NULL, NULL, &refused)) {
        return refused;
    }
    pthread_mutex_lock(&api->mu);
    json_t *o = json_pack("{s:s}", "edgeResources", api->edge_resources);
    pthread_mutex_unlock(&api->mu);
    return respond_okay(req, o);
}

/* ---- WebSockets ---- */

/* The 5th path segment (/v2/<kind>/socket/id/<ID>), as the classic agent takes it. */
static bool socket_id(const char *path, char out[LOCALAPI_ID_MAX + 1]) {
    const char *p = path;
    for (int seg = 0; seg < 5; seg++) {
        p = strchr(p, '/');
        if (p == NULL) {
            return false;
        }
        p++;
    }
    size_t n = strcspn(p, "/");
    if (n == 0 || n > LOCALAPI_ID_MAX) {
        return false;
    }
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

/* A WebSocket upgrade without Origin (SDKs, other programs) or with the Agent's own origin
 * (http(s)://<the Host it asked for>, which clients that always send one use). Browsers always
 * send the origin of the page: a page served elsewhere is refused. */
static bool same_origin(struct iof_http_request *req) {
    const char *origin = iof_http_header(req, "Origin");
    if (origin == NULL) {
        return true;
    }
    const char *host = iof_http_header(req, "Host");
    if (host == NULL || host[0] == '\0') {
        return false;
    }
    const char *rest = NULL;
    if (strncasecmp(origin, "http://", 7) == 0) {
        rest = origin + 7;
    } else if (strncasecmp(origin, "https://", 8) == 0) {
        rest = origin + 8;
    } else {
        return false;
    }
    return strcasecmp(rest, host) == 0;
}

static iof_err socket_route(struct iof_http_request *req,
                            struct iof_diag *d,
                            struct agent_localapi *api,
                            bool control) {
    char id[LOCALAPI_ID_MAX + 1];
    if (strcmp(iof_http_method(req), "GET") != 0) {
        return classic_fail(req, 405, NULL);
    }
    if (!socket_id(iof_http_path(req), id)) {
        return classic_fail(req, 400, "Incorrect content/data");
    }
    if (!same_origin(req)) {
        return classic_fail(req, 403, "Forbidden: cross-origin WebSocket ");
    }
    bool bound = true;
    iof_err refused = IOF_OK;
    if (!agent_localapi_caller_ok(api, req, id, &bound, &refused)) {
        return refused;
    }
    return agent_localapi_ws_accept(api, req, control, bound, id, d);
}

static iof_err control_socket(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
    return socket_route(req, d, ctx, true);
}

static iof_err message_socket(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
    return socket_route(req, d, ctx, false);
}

/* ---- fallback: prefixes and wrong methods, as the classic dispatcher ---- */

static bool has_prefix(const char *path, const char *prefix) {
    return strncmp(path, prefix, strlen(prefix)) == 0;
}

static iof_err fallback(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
    struct agent_localapi *api = ctx;
    const char *path = iof_http_path(req);
    const char *method = iof_http_method(req);
    bool post = strcmp(method, "POST") == 0;
    bool get = strcmp(method, "GET") == 0;
    static const char *const exact[] = {
        "/v2/config/get", "/v2/messages/next", "/v2/messages/new", "/v2/messages/query", "/v2/gps"};
    for (size_t i = 0; i < sizeof exact / sizeof *exact; i++) {
        if (strcmp(path, exact[i]) == 0) {
            return classic_fail(req, 405, NULL);
        }
    }
    if (has_prefix(path, "/v2/restblue")) {
        /* No RESTblue proxy: the classic answer when its container is unreachable, with the
         * status text appended as to every classic non-200 body. */
        return classic_fail(req, 404, "{\"error\":\"unable to reach RESTblue container!\"}");
    }
    if (has_prefix(path, "/v2/log")) {
        return post ? log_post(req, d, ctx) : classic_fail(req, 405, NULL);
    }
    if (has_prefix(path, "/v2/control/socket")) {
        return socket_route(req, d, api, true);
    }
    if (has_prefix(path, "/v2/message/socket")) {
        return socket_route(req, d, api, false);
    }
    if (has_prefix(path, "/v2/edgeResources")) {
        return get ? edge_resources(req, d, ctx) : classic_fail(req, 405, NULL);
    }
    return classic_fail(req, 404, " Request not found ");
}

iof_err agent_localapi_register(struct agent_localapi *api, struct iof_http_server *srv) {
    static const struct {
        const char *method;
        const char *pattern;
        iof_http_handler h;
    } routes[] = {
        {"POST", "/v2/config/get", config_get},
        {"POST", "/v2/messages/next", messages_next},
        {"POST", "/v2/messages/new", messages_new},
        {"POST", "/v2/messages/query", messages_query},
        {"POST", "/v2/log", log_post},
        {"GET", "/v2/gps", gps_get},
        {"POST", "/v2/gps", gps_post},
        {"GET", "/v2/edgeResources", edge_resources},
        {"GET", "/v2/control/socket/id/:id", control_socket},
        {"GET", "/v2/message/socket/id/:id", message_socket},
    };
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++) {
        iof_err err =
            iof_http_server_route(srv, routes[i].method, routes[i].pattern, routes[i].h, api);
        if (err != IOF_OK) {
            return err;
        }
    }
    iof_http_server_set_fallback(srv, fallback, api);
    return IOF_OK;
}
