/* Tests of the client against a stand-in Agent on 127.0.0.1: a real HTTP server (http/server.h)
 * serving the /v2 microservice routes of agent.md §1.2 and a real WebSocket hub (ws/hub.h)
 * serving the control and message sockets of §1.4. They cover the synchronous REST calls and the
 * host fallback, the background thread (ACKs, config on change and on reconnect, pushed messages,
 * socket send with receipts in order, Ping 0x09 -> Pong 0x0A, resource signal), the REST fallback
 * of iofog_send_message, and a clean stop. Every wait is bounded. */
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

#define WAIT_MS 10000

static const uint8_t payload[] = {'x', 0x00, 'y', 0x00};

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
};

static void signal_change(struct agent *a) {
    pthread_cond_broadcast(&a->cond);
}

static iof_err config_get(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
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

static iof_err messages_new(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
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

static iof_err messages_next(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
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

static iof_err messages_query(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
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

static iof_err log_route(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
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

static iof_err edge_resources(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
    (void)ctx;
    (void)d;
    return iof_http_respond_json(req, 200, json_pack("{s:s}", "edgeResources", "[{\"id\":1}]"));
}

static void ctl_open(void *ctx, uint64_t id) {
    struct agent *a = ctx;
    pthread_mutex_lock(&a->mu);
    a->control_conn = id;
    a->control_opens++;
    signal_change(a);
    pthread_mutex_unlock(&a->mu);
}

static void msg_open(void *ctx, uint64_t id) {
    struct agent *a = ctx;
    pthread_mutex_lock(&a->mu);
    a->message_conn = id;
    a->message_opens++;
    signal_change(a);
    pthread_mutex_unlock(&a->mu);
}

static void
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

static void
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

static iof_err control_socket(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
    struct agent *a = ctx;
    return iof_ws_hub_accept(a->hub, req, &ctl_handlers, a, d);
}

static iof_err message_socket(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
    struct agent *a = ctx;
    pthread_mutex_lock(&a->mu);
    bool on = a->message_socket;
    pthread_mutex_unlock(&a->mu);
    if (!on) {
        return iof_fail(d, IOF_ENOENT, "Request not found");
    }
    return iof_ws_hub_accept(a->hub, req, &msg_handlers, a, d);
}

static int setup(void **state) {
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

static int teardown(void **state) {
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
static bool wait_count(pthread_mutex_t *mu, pthread_cond_t *cond, const int *counter, int want) {
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

static bool agent_wait(struct agent *a, const int *counter, int want) {
    return wait_count(&a->mu, &a->cond, counter, want);
}

static struct iofog_client *new_client(const struct agent *a, const char *id, unsigned keepalive) {
    /* "::1" refuses (the server listens on 127.0.0.1 only): the client must fall back. */
    static const char *const hosts[] = {"::1", "127.0.0.1", NULL};
    struct iofog_options o;
    iofog_options_init(&o);
    o.id = id;
    o.hosts = hosts;
    o.port = a->port;
    o.backoff_min_ms = 50;
    o.backoff_max_ms = 400;
    o.keepalive_ms = keepalive;
    o.request_timeout_ms = 5000;
    struct iofog_client *c = NULL;
    assert_int_equal(iofog_client_new(&o, &c), IOFOG_OK);
    return c;
}

/* ---- synchronous calls ----------------------------------------------------------------------- */
static void test_sync_calls(void **state) {
    struct agent *a = *state;
    struct iofog_client *c = new_client(a, "ms-1", 0);

    struct iofog_config *cfg = NULL;
    assert_int_equal(iofog_get_config(c, &cfg), IOFOG_OK);
    assert_string_equal(iofog_config_raw(cfg), "{\"frequency\":100}");
    int64_t freq = 0;
    assert_int_equal(iofog_config_get_int(cfg, "frequency", &freq), IOFOG_OK);
    assert_int_equal(freq, 100);
    iofog_config_free(cfg);
    char url[64];
    (void)iofog_client_base_url(c, url, sizeof url);
    char want[64];
    (void)snprintf(want, sizeof want, "http://127.0.0.1:%u", (unsigned)a->port);
    assert_string_equal(url, want); /* fell back from ::1 and stays there */

    struct iofog_message m;
    iofog_message_init(&m);
    m.infotype = "t";
    m.infoformat = "f";
    m.contentdata = payload;
    m.contentdata_len = sizeof payload;
    struct iofog_receipt r;
    assert_int_equal(iofog_post_message(c, &m, &r), IOFOG_OK);
    assert_string_equal(r.id, "rest-1"); /* no id key was sent */
    assert_int_equal(r.timestamp, 777);
    assert_string_equal(a->last_publisher, "ms-1"); /* publisher defaults to the client id */

    struct iofog_message_list *list = NULL;
    assert_int_equal(iofog_next_messages(c, &list), IOFOG_OK);
    assert_int_equal(list->count, 1);
    assert_int_equal(list->items[0]->contentdata_len, sizeof payload);
    assert_memory_equal(list->items[0]->contentdata, payload, sizeof payload);
    assert_string_equal(list->items[0]->publisher, "other");
    iofog_message_list_free(list);

    const char *const pubs[] = {"p1", "p2"};
    assert_int_equal(iofog_query_messages(c, 10, 20, pubs, 2, &list), IOFOG_OK);
    assert_int_equal(list->count, 0);
    assert_int_equal(list->timeframestart, 10);
    assert_int_equal(list->timeframeend, 20);
    iofog_message_list_free(list);

    assert_int_equal(iofog_log(c, IOFOG_LOG_WARNING, "disk almost full"), IOFOG_OK);
    char *res = NULL;
    assert_int_equal(iofog_get_edge_resources(c, &res), IOFOG_OK);
    assert_string_equal(res, "[{\"id\":1}]");
    iofog_free(res);

    /* iofog_send_message needs the background thread. */
    assert_int_equal(iofog_send_message(c, &m), IOFOG_ESTATE);
    iofog_client_free(c);

    /* The Agent's plain-text error answer. */
    c = new_client(a, "unknown", 0);
    assert_int_equal(iofog_get_config(c, &cfg), IOFOG_EREMOTE);
    assert_int_equal(iofog_last_http_status(), 400);
    assert_non_null(strstr(iofog_last_error(), "No configuration found"));
    iofog_client_free(c);

    /* Nobody listening anywhere. */
    struct iofog_options o;
    iofog_options_init(&o);
    o.id = "x";
    const char *const dead[] = {"127.0.0.1", NULL};
    o.hosts = dead;
    o.port = 1; /* nothing listens on port 1 here */
    assert_int_equal(iofog_client_new(&o, &c), IOFOG_OK);
    assert_int_equal(iofog_get_config(c, &cfg), IOFOG_EIO);
    assert_int_equal(iofog_last_http_status(), 0);
    iofog_client_free(c);
}

/* ---- background thread ----------------------------------------------------------------------- */
struct recorder {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int configs;
    char last_config[256];
    int messages;
    bool payload_ok;
    int receipts;
    char receipt_ids[8][32];
    int64_t receipt_ts[8];
    int resources;
    int ups;
    int downs;
    int errors;
};

static void rec_config(void *ctx, const struct iofog_config *cfg) {
    struct recorder *r = ctx;
    pthread_mutex_lock(&r->mu);
    r->configs++;
    (void)snprintf(r->last_config, sizeof r->last_config, "%s", iofog_config_raw(cfg));
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->mu);
}

static void rec_message(void *ctx, const struct iofog_message *m) {
    struct recorder *r = ctx;
    pthread_mutex_lock(&r->mu);
    r->messages++;
    r->payload_ok = m->contentdata_len == sizeof payload &&
                    memcmp(m->contentdata, payload, sizeof payload) == 0;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->mu);
}

static void rec_receipt(void *ctx, const char *id, int64_t ts) {
    struct recorder *r = ctx;
    pthread_mutex_lock(&r->mu);
    if (r->receipts < 8) {
        (void)snprintf(r->receipt_ids[r->receipts], sizeof r->receipt_ids[0], "%s", id);
        r->receipt_ts[r->receipts] = ts;
    }
    r->receipts++;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->mu);
}

static void rec_resource(void *ctx) {
    struct recorder *r = ctx;
    pthread_mutex_lock(&r->mu);
    r->resources++;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->mu);
}

static void rec_state(void *ctx, enum iofog_socket s, int up) {
    (void)s;
    struct recorder *r = ctx;
    pthread_mutex_lock(&r->mu);
    if (up) {
        r->ups++;
    } else {
        r->downs++;
    }
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->mu);
}

static void rec_error(void *ctx, int err, const char *detail) {
    fprintf(stderr, "on_error: %s: %s\n", iofog_strerror(err), detail);
    struct recorder *r = ctx;
    pthread_mutex_lock(&r->mu);
    r->errors++;
    pthread_mutex_unlock(&r->mu);
}

static struct iofog_callbacks callbacks(struct recorder *r) {
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cond, NULL);
    return (struct iofog_callbacks){.ctx = r,
                                    .on_config = rec_config,
                                    .on_message = rec_message,
                                    .on_receipt = rec_receipt,
                                    .on_resource_signal = rec_resource,
                                    .on_state = rec_state,
                                    .on_error = rec_error};
}

static bool rec_wait(struct recorder *r, const int *counter, int want) {
    return wait_count(&r->mu, &r->cond, counter, want);
}

static void agent_send(struct agent *a, bool control, const void *data, size_t len) {
    pthread_mutex_lock(&a->mu);
    uint64_t id = control ? a->control_conn : a->message_conn;
    pthread_mutex_unlock(&a->mu);
    assert_int_equal(iof_ws_send(a->hub, id, IOF_WS_BINARY, data, len), IOF_OK);
}

static void test_sockets(void **state) {
    struct agent *a = *state;
    struct iofog_client *c = new_client(a, "ms-2", 0);
    struct recorder r = {0};
    struct iofog_callbacks cb = callbacks(&r);
    assert_int_equal(iofog_client_start(c, &cb), IOFOG_OK);
    assert_int_equal(iofog_client_start(c, &cb), IOFOG_ESTATE);

    /* Both sockets open; the configuration is fetched once the control socket is up. */
    assert_true(agent_wait(a, &a->control_opens, 1));
    assert_true(agent_wait(a, &a->message_opens, 1));
    assert_true(rec_wait(&r, &r.configs, 1));
    assert_true(rec_wait(&r, &r.ups, 2));
    assert_int_equal(iofog_client_connected(c, IOFOG_SOCKET_CONTROL), 1);
    assert_int_equal(iofog_client_connected(c, IOFOG_SOCKET_MESSAGE), 1);

    /* A change: 0x0C is acknowledged and the new configuration delivered. */
    pthread_mutex_lock(&a->mu);
    (void)snprintf(a->config, sizeof a->config, "{\"frequency\":5}");
    pthread_mutex_unlock(&a->mu);
    const uint8_t signal = 0x0C;
    agent_send(a, true, &signal, 1);
    assert_true(agent_wait(a, &a->control_acks, 1));
    assert_true(rec_wait(&r, &r.configs, 2));
    pthread_mutex_lock(&r.mu);
    assert_string_equal(r.last_config, "{\"frequency\":5}");
    pthread_mutex_unlock(&r.mu);

    /* Resource signal 0x0F: acknowledged and reported. */
    const uint8_t resource = 0x0F;
    agent_send(a, true, &resource, 1);
    assert_true(agent_wait(a, &a->control_acks, 2));
    assert_true(rec_wait(&r, &r.resources, 1));

    /* A pushed message with NUL bytes: acknowledged, delivered whole. */
    struct iof_msg pm = {.version = 4,
                         .id = "pushed",
                         .timestamp = 5,
                         .publisher = "other",
                         .infotype = "t",
                         .infoformat = "f",
                         .contentdata = payload,
                         .contentdata_len = sizeof payload};
    uint8_t *frame = NULL;
    size_t flen = 0;
    assert_int_equal(iof_msg_frame_encode(&pm, &frame, &flen, NULL), IOF_OK);
    agent_send(a, false, frame, flen);
    free(frame);
    assert_true(agent_wait(a, &a->message_acks, 1));
    assert_true(rec_wait(&r, &r.messages, 1));
    assert_true(r.payload_ok);

    /* Sends over the socket: receipts in order, each acknowledged. */
    struct iofog_message m;
    iofog_message_init(&m);
    m.infotype = "t";
    m.infoformat = "f";
    m.contentdata = payload;
    m.contentdata_len = sizeof payload;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(iofog_send_message(c, &m), IOFOG_OK);
    }
    assert_true(rec_wait(&r, &r.receipts, 3));
    assert_true(agent_wait(a, &a->message_acks, 4));
    pthread_mutex_lock(&r.mu);
    assert_string_equal(r.receipt_ids[0], "sock-1");
    assert_string_equal(r.receipt_ids[1], "sock-2");
    assert_string_equal(r.receipt_ids[2], "sock-3");
    assert_int_equal(r.receipt_ts[2], 1003);
    pthread_mutex_unlock(&r.mu);
    assert_string_equal(a->last_publisher, "ms-2");

    /* Application-level ping from the Agent. */
    const uint8_t ping = 0x09;
    agent_send(a, false, &ping, 1);
    assert_true(agent_wait(a, &a->pongs, 1));

    /* The Agent drops the control socket: the client reconnects and fetches the configuration
     * again, since a change may have been missed meanwhile. */
    pthread_mutex_lock(&a->mu);
    uint64_t ctl = a->control_conn;
    pthread_mutex_unlock(&a->mu);
    assert_int_equal(iof_ws_close(a->hub, ctl, 1001, NULL), IOF_OK);
    assert_true(rec_wait(&r, &r.downs, 1));
    assert_true(agent_wait(a, &a->control_opens, 2));
    assert_true(rec_wait(&r, &r.configs, 3));

    iofog_client_stop(c);
    assert_int_equal(iofog_client_connected(c, IOFOG_SOCKET_CONTROL), 0);
    assert_int_equal(iofog_client_connected(c, IOFOG_SOCKET_MESSAGE), 0);
    assert_int_equal(iofog_send_message(c, &m), IOFOG_ESTATE);
    /* Restartable. */
    assert_int_equal(iofog_client_start(c, &cb), IOFOG_OK);
    assert_true(agent_wait(a, &a->control_opens, 3));
    iofog_client_free(c);
    pthread_mutex_destroy(&r.mu);
    pthread_cond_destroy(&r.cond);
}

static void test_rest_fallback(void **state) {
    struct agent *a = *state;
    pthread_mutex_lock(&a->mu);
    a->message_socket = false; /* the message socket is refused: sends go through REST */
    pthread_mutex_unlock(&a->mu);
    struct iofog_client *c = new_client(a, "ms-3", 0);
    struct recorder r = {0};
    struct iofog_callbacks cb = callbacks(&r);
    cb.on_config = NULL;
    cb.on_resource_signal = NULL;
    assert_int_equal(iofog_client_start(c, &cb), IOFOG_OK);
    struct iofog_message m;
    iofog_message_init(&m);
    m.infotype = "t";
    m.infoformat = "f";
    assert_int_equal(iofog_send_message(c, &m), IOFOG_OK);
    assert_int_equal(iofog_send_message(c, &m), IOFOG_OK);
    assert_true(rec_wait(&r, &r.receipts, 2));
    pthread_mutex_lock(&r.mu);
    assert_string_equal(r.receipt_ids[0], "rest-1");
    assert_string_equal(r.receipt_ids[1], "rest-2");
    assert_true(r.errors >= 1); /* the refused socket was reported */
    pthread_mutex_unlock(&r.mu);
    assert_int_equal(a->control_opens, 0); /* no config callback: no control socket */
    iofog_client_free(c);
    pthread_mutex_destroy(&r.mu);
    pthread_cond_destroy(&r.cond);
}

static void test_keepalive(void **state) {
    struct agent *a = *state;
    struct iofog_client *c = new_client(a, "ms-4", 100);
    struct recorder r = {0};
    struct iofog_callbacks cb = callbacks(&r);
    cb.on_message = NULL;
    cb.on_receipt = NULL;
    assert_int_equal(iofog_client_start(c, &cb), IOFOG_OK);
    assert_true(rec_wait(&r, &r.configs, 1));
    /* Pings every 100 ms are answered by the hub, so the socket stays: one open, no drop. */
    struct timespec ts = {.tv_sec = 0, .tv_nsec = 800 * 1000000L};
    nanosleep(&ts, NULL);
    pthread_mutex_lock(&a->mu);
    assert_int_equal(a->control_opens, 1);
    pthread_mutex_unlock(&a->mu);
    pthread_mutex_lock(&r.mu);
    assert_int_equal(r.downs, 0);
    pthread_mutex_unlock(&r.mu);
    iofog_client_free(c);
    pthread_mutex_destroy(&r.mu);
    pthread_cond_destroy(&r.cond);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sync_calls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sockets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rest_fallback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keepalive, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
