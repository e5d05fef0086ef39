/* A stand-in for the Agent's Local API, for tests on 127.0.0.1: a real HTTP server (http/server.h)
 * serving the /v2 microservice routes of agent.md §1.2 with canned answers, and a real WebSocket
 * hub (ws/hub.h) serving the control and message sockets of §1.4, counting ACKs and pongs and
 * answering each 0x0D frame with a receipt. Shared by the SDK tests; every wait is bounded. */
#ifndef IOFOG_SDK_TESTAGENT_H
#define IOFOG_SDK_TESTAGENT_H

#include "iofog/iofog.h"

#include "common/clock.h"
#include "http/server.h"
#include "iomessage/iomessage.h"
#include "ws/hub.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#define TESTAGENT_UNUSED __attribute__((unused))
#define WAIT_MS          10000

TESTAGENT_UNUSED static const uint8_t payload[] = {'x', 0x00, 'y', 0x00};

/* ---- the stand-in Agent ---------------------------------------------------------------------- */
struct agent {
    struct iof_http_server *srv;
    struct iof_ws_hub *hub;
    uint16_t port;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    char config[256];
    bool message_socket;
    uint64_t control_conn;
    uint64_t message_conn;
    int control_opens;
    int message_opens;
    int control_acks;
    int message_acks;
    int pongs;
    int frames;
    int rest_posts;
    char last_publisher[64];
    char last_content[256]; /* contentdata of the last 0x0D frame, as text */
};

TESTAGENT_UNUSED static void signal_change(struct agent *a) {
    pthread_cond_broadcast(&a->cond);
}

TESTAGENT_UNUSED static iof_err
config_get(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
    struct agent *a = ctx;
    json_t *body = NULL;
    iof_err err = iof_http_body_json(req, &body, d);
    if (err != IOF_OK) {
        return err;
    }
    const char *id = json_string_value(json_object_get(body, "id"));
    if (id == NULL || strcmp(id, "unknown") == 0) {
        static const char text[] = "No configuration found for the id unknown Bad Request";
        return iof_http_respond(req, 400, "text/plain", text, sizeof text - 1);
    }
    pthread_mutex_lock(&a->mu);
    json_t *ans = json_pack("{s:s, s:s}", "status", "okay", "config", a->config);
    pthread_mutex_unlock(&a->mu);
    return iof_http_respond_json(req, 200, ans);
}

TESTAGENT_UNUSED static iof_err
messages_new(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
    struct agent *a = ctx;
    json_t *body = NULL;
    iof_err err = iof_http_body_json(req, &body, d);
    if (err != IOF_OK) {
        return err;
    }
    struct iof_msg *m = NULL;
    err = iof_msg_from_json(body, &m, d);
    if (err != IOF_OK) {
        return err;
    }
    pthread_mutex_lock(&a->mu);
    int n = ++a->rest_posts;
    (void)snprintf(a->last_publisher, sizeof a->last_publisher, "%s", m->publisher);
    pthread_mutex_unlock(&a->mu);
    bool has_id = json_object_get(body, "id") != NULL;
    iof_msg_free(m);
    char id[32];
    (void)snprintf(id, sizeof id, "rest-%d%s", n, has_id ? "-with-id" : "");
    return iof_http_respond_json(
        req,
        200,
        json_pack("{s:s, s:I, s:s}", "status", "okay", "timestamp", (json_int_t)777, "id", id));
}

TESTAGENT_UNUSED static iof_err
messages_next(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
    (void)ctx;
    struct iof_msg m = {.version = 4,
                        .id = "m1",
                        .publisher = "other",
                        .infotype = "t",
                        .infoformat = "f",
                        .contentdata = payload,
                        .contentdata_len = sizeof payload};
    json_t *j = NULL;
    iof_err err = iof_msg_to_json(&m, &j, d);
    if (err != IOF_OK) {
        return err;
    }
    return iof_http_respond_json(
        req, 200, json_pack("{s:s, s:i, s:[o]}", "status", "okay", "count", 1, "messages", j));
}

TESTAGENT_UNUSED static iof_err
messages_query(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
    (void)ctx;
    json_t *body = NULL;
    iof_err err = iof_http_body_json(req, &body, d);
    if (err != IOF_OK) {
        return err;
    }
    json_t *ans = json_pack("{s:s, s:i, s:O, s:O, s:[]}",
                            "status",
                            "okay",
                            "count",
                            0,
                            "timeframestart",
                            json_object_get(body, "timeframestart"),
                            "timeframeend",
                            json_object_get(body, "timeframeend"),
                            "messages");
    if (json_array_size(json_object_get(body, "publishers")) != 2) {
        json_decref(ans);
        return iof_fail(d, IOF_EINVAL, "publishers");
    }
    return iof_http_respond_json(req, 200, ans);
}

TESTAGENT_UNUSED static iof_err
log_route(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
    (void)ctx;
    json_t *body = NULL;
    iof_err err = iof_http_body_json(req, &body, d);
    if (err != IOF_OK) {
        return err;
    }
    const char *type = json_string_value(json_object_get(body, "type"));
    if (type == NULL || strcmp(type, "warning") != 0) {
        return iof_fail(d, IOF_EINVAL, "type");
    }
    return iof_http_respond_json(req, 200, json_pack("{s:s}", "status", "okay"));
}

TESTAGENT_UNUSED static iof_err
edge_resources(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
    (void)ctx;
    (void)d;
    return iof_http_respond_json(req, 200, json_pack("{s:s}", "edgeResources", "[{\"id\":1}]"));
}

TESTAGENT_UNUSED static void ctl_open(void *ctx, uint64_t id) {
    struct agent *a = ctx;
    pthread_mutex_lock(&a->mu);
    a->control_conn = id;
    a->control_opens++;
    signal_change(a);
    pthread_mutex_unlock(&a->mu);
}

TESTAGENT_UNUSED static void msg_open(void *ctx, uint64_t id) {
    struct agent *a = ctx;
    pthread_mutex_lock(&a->mu);
    a->message_conn = id;
    a->message_opens++;
    signal_change(a);
    pthread_mutex_unlock(&a->mu);
}

TESTAGENT_UNUSED static void
ctl_message(void *ctx, uint64_t id, enum iof_ws_opcode op, const uint8_t *data, size_t len) {
    (void)id;
    (void)op;
    struct agent *a = ctx;
    pthread_mutex_lock(&a->mu);
    if (len == 1 && data[0] == 0x0B) {
        a->control_acks++;
    } else if (len == 1 && data[0] == 0x0A) {
        a->pongs++;
    }
    signal_change(a);
    pthread_mutex_unlock(&a->mu);
}

TESTAGENT_UNUSED static void
msg_message(void *ctx, uint64_t id, enum iof_ws_opcode op, const uint8_t *data, size_t len) {
    (void)op;
    struct agent *a = ctx;
    pthread_mutex_lock(&a->mu);
    if (len == 1 && data[0] == 0x0B) {
        a->message_acks++;
    } else if (len == 1 && data[0] == 0x0A) {
        a->pongs++;
    } else if (len > 0 && data[0] == 0x0D) {
        const uint8_t *body = NULL;
        size_t body_len = 0;
        struct iof_msg *m = NULL;
        if (iof_msg_frame_parse(data, len, &body, &body_len, NULL) == IOF_OK &&
            iof_msg_decode(body, body_len, &m, NULL) == IOF_OK) {
            int n = ++a->frames;
            (void)snprintf(a->last_publisher, sizeof a->last_publisher, "%s", m->publisher);
            size_t cl = m->contentdata_len < sizeof a->last_content - 1
                            ? m->contentdata_len
                            : sizeof a->last_content - 1;
            if (cl > 0) {
                memcpy(a->last_content, m->contentdata, cl);
            }
            a->last_content[cl] = '\0';
            iof_msg_free(m);
            char rid[32];
            (void)snprintf(rid, sizeof rid, "sock-%d", n);
            uint8_t receipt[64];
            size_t rlen = 0;
            if (iof_msg_receipt_encode(rid, 1000 + n, receipt, sizeof receipt, &rlen) == IOF_OK) {
                (void)!iof_ws_send(a->hub, id, IOF_WS_BINARY, receipt, rlen);
            }
        }
    }
    signal_change(a);
    pthread_mutex_unlock(&a->mu);
}

static const struct iof_ws_handlers ctl_handlers = {.on_open = ctl_open, .on_message = ctl_message};
static const struct iof_ws_handlers msg_handlers = {.on_open = msg_open, .on_message = msg_message};

TESTAGENT_UNUSED static iof_err
control_socket(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
    struct agent *a = ctx;
    return iof_ws_hub_accept(a->hub, req, &ctl_handlers, a, d);
}

TESTAGENT_UNUSED static iof_err
message_socket(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
    struct agent *a = ctx;
    pthread_mutex_lock(&a->mu);
    bool on = a->message_socket;
    pthread_mutex_unlock(&a->mu);
    if (!on) {
        return iof_fail(d, IOF_ENOENT, "Request not found");
    }
    return iof_ws_hub_accept(a->hub, req, &msg_handlers, a, d);
}

TESTAGENT_UNUSED static int setup(void **state) {
    struct agent *a = calloc(1, sizeof *a);
    assert_non_null(a);
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cond, NULL);
    (void)snprintf(a->config, sizeof a->config, "{\"frequency\":100}");
    a->message_socket = true;
    assert_int_equal(iof_ws_hub_new(NULL, &a->hub), IOF_OK);
    struct iof_http_config cfg = {.bind_addr = "127.0.0.1", .port = 0};
    assert_int_equal(iof_http_server_new(&cfg, &a->srv), IOF_OK);
    static const struct {
        const char *method;
        const char *path;
        iof_http_handler h;
    } routes[] = {
        {"POST", "/v2/config/get", config_get},
        {"POST", "/v2/messages/new", messages_new},
        {"POST", "/v2/messages/next", messages_next},
        {"POST", "/v2/messages/query", messages_query},
        {"POST", "/v2/log", log_route},
        {"GET", "/v2/edgeResources", edge_resources},
        {"GET", "/v2/control/socket/id/:id", control_socket},
        {"GET", "/v2/message/socket/id/:id", message_socket},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        assert_int_equal(
            iof_http_server_route(a->srv, routes[i].method, routes[i].path, routes[i].h, a),
            IOF_OK);
    }
    assert_int_equal(iof_http_server_start(a->srv), IOF_OK);
    a->port = iof_http_server_port(a->srv);
    *state = a;
    return 0;
}

TESTAGENT_UNUSED static int teardown(void **state) {
    struct agent *a = *state;
    iof_ws_hub_stop(a->hub);
    iof_http_server_stop(a->srv);
    iof_ws_hub_free(a->hub);
    iof_http_server_free(a->srv);
    pthread_cond_destroy(&a->cond);
    pthread_mutex_destroy(&a->mu);
    free(a);
    return 0;
}

/* Waits until *counter (read under mu) reaches want. */
TESTAGENT_UNUSED static bool
wait_count(pthread_mutex_t *mu, pthread_cond_t *cond, const int *counter, int want) {
    int64_t deadline = iof_time_mono_ms() + WAIT_MS;
    pthread_mutex_lock(mu);
    while (*counter < want && iof_time_mono_ms() < deadline) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        (void)pthread_cond_timedwait(cond, mu, &ts);
    }
    bool ok = *counter >= want;
    pthread_mutex_unlock(mu);
    return ok;
}

TESTAGENT_UNUSED static bool agent_wait(struct agent *a, const int *counter, int want) {
    return wait_count(&a->mu, &a->cond, counter, want);
}

TESTAGENT_UNUSED static void
agent_send(struct agent *a, bool control, const void *data, size_t len) {
    pthread_mutex_lock(&a->mu);
    uint64_t id = control ? a->control_conn : a->message_conn;
    pthread_mutex_unlock(&a->mu);
    assert_int_equal(iof_ws_send(a->hub, id, IOF_WS_BINARY, data, len), IOF_OK);
}

/* Replaces the configuration served from now on (no signal sent). */
TESTAGENT_UNUSED static void agent_set_config(struct agent *a, const char *config) {
    pthread_mutex_lock(&a->mu);
    (void)snprintf(a->config, sizeof a->config, "%s", config);
    pthread_mutex_unlock(&a->mu);
}

#endif
