/* Tests of the client against the stand-in Agent of sdk/testagent.h on 127.0.0.1. They cover the
 * synchronous REST calls and the host fallback, the background thread (ACKs, config on change and
 * on reconnect, pushed messages, socket send with receipts in order, Ping 0x09 -> Pong 0x0A,
 * resource signal), the REST fallback of iofog_send_message, keep-alive, and a clean stop. */
#include "sdk/testagent.h"

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
