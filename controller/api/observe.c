/* What happened to a microservice, for operators anywhere:
 *   GET    /api/v3/microservices/:uuid/events   the journal its Agent reported last, newest last
 *
 * Logs through the Agent's own connection (controller/domain/logs.h):
 *   GET    /api/v3/microservices/:uuid/logs?tail=N&since=T&follow=true   a microservice's container
 *   GET    /api/v3/iofog/:uuid/logs?tail=N&follow=true                    the node's Agent
 * answered as text/plain, chunked, or, with "Upgrade: websocket" (a browser; the token may come as
 * the query parameter "token"), as a WebSocket of text frames (logs_ws.h), while the node's Agent
 * sends the lines with
 *   GET    /api/v3/agent/logs          the sessions waiting for this node (claims them)
 *   POST   /api/v3/agent/logs/:id      a chunk of log bytes (204; 429 + Retry-After: slow down;
 *                                      404: the session is over, stop)
 *   DELETE /api/v3/agent/logs/:id      the log ended (body {"reason"} optional)
 * Only the owner of the microservice or node (or the admin credential) may read. */
#include "controller/api/api.h"
#include "controller/api/iofog.h"
#include "controller/api/logs_ws.h"
#include "controller/domain/agent_wait.h"
#include "controller/domain/logs.h"
#include "controller/domain/msvc_internal.h"
#include "controller/store/db.h"
#include "controller/store/store.h"

#include "common/clock.h"
#include "common/json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STREAM_BUFFER (256 * 1024) /* per follower: what a slow reader may leave unread */
#define MAX_TAIL      100000

/* tail (default 100), since (Unix seconds or ISO 8601, default none), follow (default false). */
static iof_err log_params(struct ctl_call *call, struct ctl_log_request *r) {
    const char *tail = iof_http_query(call->req, "tail");
    const char *since = iof_http_query(call->req, "since");
    const char *follow = iof_http_query(call->req, "follow");
    r->tail = 100;
    if (tail != NULL && strcmp(tail, "all") == 0) {
        r->tail = -1;
    } else if (tail != NULL) {
        char *end = NULL;
        errno = 0;
        long v = strtol(tail, &end, 10);
        if (errno != 0 || end == tail || *end != '\0' || v < 0 || v > MAX_TAIL) {
            return iof_fail(
                call->d, IOF_EINVAL, "Invalid value for 'tail': 0 to %d, or all", MAX_TAIL);
        }
        r->tail = v;
    }
    if (since != NULL) {
        char *end = NULL;
        errno = 0;
        long long v = strtoll(since, &end, 10);
        int64_t ms = 0;
        if (errno == 0 && end != since && *end == '\0' && v >= 0) {
            r->since_s = (int64_t)v;
        } else if (iof_time_parse_iso8601(since, &ms) == IOF_OK && ms >= 0) {
            r->since_s = ms / 1000;
        } else {
            return iof_fail(
                call->d, IOF_EINVAL, "Invalid value for 'since': Unix seconds or an ISO 8601 time");
        }
    }
    if (follow != NULL) {
        if (strcmp(follow, "true") == 0 || strcmp(follow, "1") == 0 || follow[0] == '\0') {
            r->follow = true;
        } else if (strcmp(follow, "false") != 0 && strcmp(follow, "0") != 0) {
            return iof_fail(call->d, IOF_EINVAL, "Invalid value for 'follow': true or false");
        }
    }
    return IOF_OK;
}

/* Opens the stream for r and tells the node's Agent. */
static iof_err start_stream(struct ctl_call *call, struct ctl_log_request *r) {
    if (ctl_logs_ws_wanted(call->req)) {
        return ctl_logs_ws_accept(
            call->srv->logs_ws, call->req, call->srv->logs, call->srv->waits, r, call->d);
    }
    struct iof_http_stream *stream = NULL;
    iof_err err = iof_http_respond_stream(
        call->req, 200, "text/plain; charset=utf-8", STREAM_BUFFER, &stream);
    if (err != IOF_OK) {
        return err;
    }
    /* From here the request is answered: a failure only ends the body with a note. */
    if (ctl_logs_open(call->srv->logs, r, stream) == IOF_OK) {
        ctl_agent_wait_wake(call->srv->waits, r->fog_uuid);
    }
    return IOF_OK;
}

static iof_err get_msvc_logs(struct ctl_call *call) {
    struct ctl_log_request r = {0};
    iof_err err = log_params(call, &r);
    if (err != IOF_OK) {
        return err;
    }
    struct ctl_msvc_ref ref = {0};
    if ((err = ctl_msvc_find(call, iof_http_param(call->req, "uuid"), &ref)) != IOF_OK) {
        return err;
    }
    char fog[64] = "", uuid[65] = "";
    if (ref.fog != NULL) {
        (void)snprintf(fog, sizeof fog, "%s", ref.fog);
    }
    (void)snprintf(uuid, sizeof uuid, "%s", ref.uuid);
    ctl_msvc_ref_clear(&ref);
    if (fog[0] == '\0') {
        return iof_fail(call->d, IOF_ECONFLICT, "Microservice %s is not placed on a node", uuid);
    }
    r.fog_uuid = fog;
    r.msvc_uuid = uuid;
    return start_stream(call, &r);
}

static iof_err get_node_logs(struct ctl_call *call) {
    struct ctl_log_request r = {0};
    iof_err err = log_params(call, &r);
    if (err != IOF_OK) {
        return err;
    }
    const char *uuid = iof_http_param(call->req, "uuid");
    if ((err = ctl_iofog_find(call, uuid, CTL_IOFOG_WRITE, NULL)) != IOF_OK) {
        return err;
    }
    r.fog_uuid = uuid;
    r.msvc_uuid = "";
    return start_stream(call, &r);
}

static iof_err agent_claim(struct ctl_call *call) {
    json_t *list = ctl_logs_claim(call->srv->logs, call->fog_uuid);
    if (list == NULL) {
        return IOF_ENOMEM;
    }
    return ctl_reply(call, 200, json_pack("{s:o}", "logs", list));
}

static iof_err agent_chunk(struct ctl_call *call) {
    size_t len = 0;
    const uint8_t *data = iof_http_body(call->req, &len);
    const char *id = iof_http_param(call->req, "id");
    iof_err err =
        len == 0 ? IOF_OK : ctl_logs_write(call->srv->logs, call->fog_uuid, id, data, len);
    if (err == IOF_EBUSY) {
        if (iof_http_set_header(call->req, "Retry-After", "1") != IOF_OK) {
            return IOF_ENOMEM;
        }
        return ctl_reply_error(call, 429, "TooManyRequestsError", "The reader is slower: retry");
    }
    if (err == IOF_ENOENT || err == IOF_E2BIG) {
        return iof_fail(call->d, IOF_ENOENT, "Log session %s is over", id);
    }
    return err != IOF_OK ? err : ctl_reply(call, 204, NULL);
}

static iof_err agent_end(struct ctl_call *call) {
    size_t len = 0;
    (void)iof_http_body(call->req, &len);
    json_t *body = NULL;
    const char *reason = NULL;
    if (len > 0 && ctl_body(call, &body) == IOF_OK) {
        reason = json_string_value(json_object_get(body, "reason"));
    }
    const char *id = iof_http_param(call->req, "id");
    if (ctl_logs_end(call->srv->logs, call->fog_uuid, id, reason) != IOF_OK) {
        return iof_fail(call->d, IOF_ENOENT, "Log session %s is over", id);
    }
    return ctl_reply(call, 204, NULL);
}

/* The stored journal with times in ISO 8601. */
static iof_err get_events(struct ctl_call *call) {
    struct ctl_msvc_ref ref = {0};
    iof_err err = ctl_msvc_find(call, iof_http_param(call->req, "uuid"), &ref);
    json_t *rows = NULL;
    if (err == IOF_OK) {
        const struct ctl_db_value p[] = {CTL_DB_TEXT(ref.uuid)};
        err = ctl_db_query_json(
            ctl_store_db(call->srv->store),
            "SELECT events FROM microservice_statuses WHERE microservice_uuid = ?",
            p,
            1,
            &rows,
            call->d);
    }
    ctl_msvc_ref_clear(&ref);
    if (err != IOF_OK) {
        return err;
    }
    const char *text = json_string_value(json_object_get(json_array_get(rows, 0), "events"));
    json_t *stored = text != NULL ? json_loads(text, 0, NULL) : NULL;
    json_decref(rows);
    json_t *out = json_array();
    size_t i;
    const json_t *e;
    json_array_foreach(stored, i, e) {
        char when[32] = "";
        if (iof_time_format_iso8601(
                json_integer_value(json_object_get(e, "time")), when, sizeof when) != IOF_OK) {
            (void)snprintf(when, sizeof when, "-");
        }
        json_t *item = json_pack("{s:s, s:O, s:O, s:O}",
                                 "time",
                                 when,
                                 "type",
                                 json_object_get(e, "type"),
                                 "message",
                                 json_object_get(e, "message"),
                                 "count",
                                 json_object_get(e, "count"));
        if (item != NULL) {
            (void)json_array_append_new(out, item);
        }
    }
    json_decref(stored);
    return ctl_reply(call, 200, json_pack("{s:o}", "events", out));
}

const struct ctl_route ctl_routes_logs[] = {
    {"GET", "/api/v3/microservices/:uuid/events", get_events, CTL_AUTH_USER},
    {"GET", "/api/v3/microservices/:uuid/logs", get_msvc_logs, CTL_AUTH_USER},
    {"GET", "/api/v3/iofog/:uuid/logs", get_node_logs, CTL_AUTH_USER},
    {"GET", "/api/v3/agent/logs", agent_claim, CTL_AUTH_AGENT},
    {"POST", "/api/v3/agent/logs/:id", agent_chunk, CTL_AUTH_AGENT},
    {"DELETE", "/api/v3/agent/logs/:id", agent_end, CTL_AUTH_AGENT},
};
const size_t ctl_routes_logs_count = sizeof ctl_routes_logs / sizeof ctl_routes_logs[0];
