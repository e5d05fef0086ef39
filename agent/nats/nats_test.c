/* NATS transport against a real nats-server on 127.0.0.1: subjects, two "nodes" exchanging
 * messages with their identity, per-application isolation, moving a receiver, bad input from the
 * NATS side, start before the server, credentials and TLS. */
#include "agent/nats/nats_testutil.h"

#include <nats/nats.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

static void
publish_n(struct agent_nats *t, const char *app, const char *rcv, const char *prefix, int n) {
    for (int i = 0; i < n; i++) {
        char id[64];
        struct iof_msg m = test_msg(id, prefix, i, "publisher-uuid-1");
        struct iof_diag d = {{0}};
        iof_err err = agent_nats_publish(t, app, rcv, &m, &d);
        if (err != IOF_OK) {
            fprintf(stderr, "publish: %s\n", iof_diag_text(&d, err));
        }
        assert_int_equal(err, IOF_OK);
    }
}

static void set_local1(struct agent_nats *t, const char *uuid, const char *app) {
    struct iof_diag d = {{0}};
    const char *u[] = {uuid};
    const char *a[] = {app};
    assert_int_equal(agent_nats_set_local(t, u, a, uuid != NULL ? 1 : 0, &d), IOF_OK);
}

static void test_subject(void **state) {
    (void)state;
    char s[AGENT_NATS_SUBJECT_MAX];
    assert_int_equal(agent_nats_subject("demo", "abc-123_X", s, sizeof s, NULL), IOF_OK);
    assert_string_equal(s, "iofog.demo.abc-123_X");
    assert_int_equal(agent_nats_subject("a.b c*>", "u1", s, sizeof s, NULL), IOF_OK);
    assert_string_equal(s, "iofog.a_2Eb_20c_2A_3E.u1");
    /* '_' is escaped too, so "a_2E" and "a." stay apart. */
    assert_int_equal(agent_nats_subject("a_2E", "u1", s, sizeof s, NULL), IOF_OK);
    assert_string_equal(s, "iofog.a_5F2E.u1");
    assert_int_equal(agent_nats_subject("", "u1", s, sizeof s, NULL), IOF_OK);
    assert_string_equal(s, "iofog._.u1");
    assert_int_equal(agent_nats_subject(NULL, "u1", s, sizeof s, NULL), IOF_OK);
    assert_string_equal(s, "iofog._.u1");
    assert_int_equal(agent_nats_subject("\xc3\xa9t\xc3\xa9", "u1", s, sizeof s, NULL), IOF_OK);
    assert_string_equal(s, "iofog._C3_A9t_C3_A9.u1");
    /* The longest app fits AGENT_NATS_SUBJECT_MAX. */
    char app[AGENT_NATS_APP_MAX + 2];
    memset(app, '.', AGENT_NATS_APP_MAX);
    app[AGENT_NATS_APP_MAX] = '\0';
    char uuid[AGENT_NATS_UUID_MAX + 2];
    memset(uuid, 'u', AGENT_NATS_UUID_MAX);
    uuid[AGENT_NATS_UUID_MAX] = '\0';
    assert_int_equal(agent_nats_subject(app, uuid, s, sizeof s, NULL), IOF_OK);
    assert_int_equal(strlen(s) + 1, sizeof s);
    app[AGENT_NATS_APP_MAX] = 'x';
    app[AGENT_NATS_APP_MAX + 1] = '\0';
    assert_int_equal(agent_nats_subject(app, "u1", s, sizeof s, NULL), IOF_EINVAL);
    uuid[AGENT_NATS_UUID_MAX] = 'u';
    uuid[AGENT_NATS_UUID_MAX + 1] = '\0';
    assert_int_equal(agent_nats_subject("a", uuid, s, sizeof s, NULL), IOF_EINVAL);
    const char *bad[] = {"", "a.b", "*", ">", "a b", "a\tb", NULL};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(agent_nats_subject("a", bad[i], s, sizeof s, NULL), IOF_EINVAL);
    }
    assert_int_equal(agent_nats_subject("demo", "u1", s, 10, NULL), IOF_E2BIG);
}

static void test_config_errors(void **state) {
    (void)state;
    struct agent_nats *t = NULL;
    struct iof_diag d = {{0}};
    struct rec *r = rec_new();
    struct agent_nats_config c = {.urls = "http://127.0.0.1:1"};
    assert_int_equal(agent_nats_new(&c, rec_deliver, r, &t, &d), IOF_EINVAL);
    c.urls = " , ";
    assert_int_equal(agent_nats_new(&c, rec_deliver, r, &t, &d), IOF_EINVAL);
    c.urls = NULL;
    assert_int_equal(agent_nats_new(&c, rec_deliver, r, &t, &d), IOF_EINVAL);
    c.urls = "nats://127.0.0.1:1";
    c.cert_file = "/nonexistent.pem";
    assert_int_not_equal(agent_nats_new(&c, rec_deliver, r, &t, &d), IOF_OK);
    assert_null(t);
    rec_free(r);
}

/* Node A publishes to a receiver hosted on node B: every message arrives once, with the id,
 * timestamp, publisher and content it was sent with. */
static void test_exchange_identity(void **state) {
    (void)state;
    struct nats_server srv = {0};
    assert_int_equal(nats_server_start(&srv, 0, NULL), 0);
    struct rec *ra = rec_new(), *rb = rec_new();
    struct agent_nats *a = test_transport(&srv, ra, NULL);
    struct agent_nats *b = test_transport(&srv, rb, NULL);
    assert_non_null(a);
    assert_non_null(b);
    set_local1(b, "viewer-uuid", "demo app");

    publish_n(a, "demo app", "viewer-uuid", "m", 500);
    assert_int_equal(rec_wait(rb, 500, 5000), 500);
    nats_sleep_ms(100);
    assert_int_equal(rec_count(rb), 500);
    assert_int_equal(rec_count(ra), 0);
    for (size_t i = 0; i < 500; i++) {
        char id[64];
        (void)snprintf(id, sizeof id, "m-%06zu", i);
        const struct rec_entry *e = &rb->e[i];
        assert_string_equal(e->id, id); /* one publisher, one subscriber: in order */
        assert_string_equal(e->receiver, "viewer-uuid");
        assert_string_equal(e->publisher, "publisher-uuid-1");
        assert_int_equal(e->timestamp, 1700000000000 + (int64_t)i);
        assert_int_equal(e->seq, (int64_t)i);
        assert_int_equal(e->content_len, 7);
    }

    /* agent_nats_send: the Local API's remote sink, the application looked up by receiver. */
    struct iof_diag d = {{0}};
    const char *ru[] = {"viewer-uuid", "other"};
    const char *rapp[] = {"demo app", "x"};
    assert_int_equal(agent_nats_set_remote(a, ru, rapp, 2, &d), IOF_OK);
    char id[64];
    struct iof_msg m = test_msg(id, "sent", 1, "publisher-uuid-1");
    assert_int_equal(agent_nats_send(a, "viewer-uuid", &m), IOF_OK);
    assert_int_equal(agent_nats_send(a, "nobody", &m), IOF_ENOENT);
    assert_int_equal(rec_wait(rb, 501, 5000), 501);
    assert_string_equal(rb->e[500].id, "sent-000001");

    /* Outgoing size limit and invalid messages are refused, not queued. */
    static uint8_t big[2 * 1024 * 1024];
    m.contentdata = big;
    m.contentdata_len = sizeof big;
    assert_int_equal(agent_nats_publish(a, "demo app", "viewer-uuid", &m, &d), IOF_E2BIG);
    m.contentdata_len = 0;
    m.id = "\xff\xfe";
    assert_int_equal(agent_nats_publish(a, "demo app", "viewer-uuid", &m, &d), IOF_EINVAL);
    assert_int_equal(agent_nats_publish(a, "demo app", "bad.uuid", &m, &d), IOF_EINVAL);

    struct agent_nats_counters ca, cb;
    agent_nats_counters(a, &ca);
    agent_nats_counters(b, &cb);
    assert_int_equal(ca.published, 501);
    assert_int_equal(cb.delivered, 501);
    assert_true(ca.connected);
    assert_int_equal(cb.subscriptions, 1);
    json_t *js = NULL;
    assert_int_equal(agent_nats_stats(b, &js), IOF_OK);
    assert_int_equal(json_integer_value(json_object_get(js, "delivered")), 501);
    assert_int_equal(json_integer_value(json_object_get(js, "dropped")), 0);
    assert_true(json_is_true(json_object_get(js, "connected")));
    json_decref(js);

    agent_nats_free(a);
    agent_nats_free(b);
    rec_free(ra);
    rec_free(rb);
    nats_server_cleanup(&srv);
}

/* The same receiver uuid in two applications on two nodes: each gets only its application's
 * messages. */
static void test_app_isolation(void **state) {
    (void)state;
    struct nats_server srv = {0};
    assert_int_equal(nats_server_start(&srv, 0, NULL), 0);
    struct rec *ra = rec_new(), *rx = rec_new(), *ry = rec_new();
    struct agent_nats *a = test_transport(&srv, ra, NULL);
    struct agent_nats *x = test_transport(&srv, rx, NULL);
    struct agent_nats *y = test_transport(&srv, ry, NULL);
    assert_non_null(a);
    assert_non_null(x);
    assert_non_null(y);
    set_local1(x, "same-uuid", "app.x");
    set_local1(y, "same-uuid", "app_2Ex"); /* would collide with a naive '.'->'_' mapping */

    publish_n(a, "app_2Ex", "same-uuid", "y", 20);
    publish_n(a, "app.x", "same-uuid", "x", 10);
    assert_int_equal(rec_wait(rx, 10, 5000), 10);
    assert_int_equal(rec_wait(ry, 20, 5000), 20);
    nats_sleep_ms(200);
    assert_int_equal(rec_count(rx), 10);
    assert_int_equal(rec_count(ry), 20);
    for (size_t i = 0; i < 10; i++) {
        assert_memory_equal(rx->e[i].id, "x-", 2);
    }
    for (size_t i = 0; i < 20; i++) {
        assert_memory_equal(ry->e[i].id, "y-", 2);
    }
    agent_nats_free(a);
    agent_nats_free(x);
    agent_nats_free(y);
    rec_free(ra);
    rec_free(rx);
    rec_free(ry);
    nats_server_cleanup(&srv);
}

/* A microservice moves from node B to node C: its messages follow without touching the
 * publisher's transport. */
static void test_move_receiver(void **state) {
    (void)state;
    struct nats_server srv = {0};
    assert_int_equal(nats_server_start(&srv, 0, NULL), 0);
    struct rec *ra = rec_new(), *rb = rec_new(), *rc = rec_new();
    struct agent_nats *a = test_transport(&srv, ra, NULL);
    struct agent_nats *b = test_transport(&srv, rb, NULL);
    struct agent_nats *c = test_transport(&srv, rc, NULL);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    struct iof_diag d = {{0}};
    const char *u[] = {"r1", "r2", "r2", "r3"};
    const char *ap[] = {"demo", "demo", "demo", NULL};
    assert_int_equal(agent_nats_set_local(b, u, ap, 4, &d), IOF_OK);
    struct agent_nats_counters cb;
    agent_nats_counters(b, &cb);
    assert_int_equal(cb.subscriptions, 3); /* the duplicate once */

    publish_n(a, "demo", "r1", "before", 5);
    publish_n(a, "", "r3", "noapp", 1);
    assert_int_equal(rec_wait(rb, 6, 5000), 6);

    /* Bad input changes nothing. */
    const char *badu[] = {"r1", "bad uuid"};
    assert_int_equal(agent_nats_set_local(b, badu, NULL, 2, &d), IOF_EINVAL);
    agent_nats_counters(b, &cb);
    assert_int_equal(cb.subscriptions, 3);

    /* Move r1: B keeps r2, C takes r1. */
    const char *bu[] = {"r2"};
    const char *ba[] = {"demo"};
    assert_int_equal(agent_nats_set_local(b, bu, ba, 1, &d), IOF_OK);
    set_local1(c, "r1", "demo");
    publish_n(a, "demo", "r1", "after", 5);
    publish_n(a, "demo", "r2", "kept", 2);
    assert_int_equal(rec_wait(rc, 5, 5000), 5);
    assert_int_equal(rec_wait(rb, 8, 5000), 8);
    nats_sleep_ms(200);
    assert_int_equal(rec_count(rc), 5);
    assert_int_equal(rec_count(rb), 8);
    for (size_t i = 0; i < 5; i++) {
        assert_string_equal(rc->e[i].receiver, "r1");
        assert_memory_equal(rc->e[i].id, "after-", 6);
    }
    assert_memory_equal(rb->e[6].id, "kept-", 5);
    assert_memory_equal(rb->e[7].id, "kept-", 5);

    /* Empty set: no subscriptions. */
    assert_int_equal(agent_nats_set_local(c, NULL, NULL, 0, &d), IOF_OK);
    agent_nats_counters(c, &cb);
    assert_int_equal(cb.subscriptions, 0);
    publish_n(a, "demo", "r1", "gone", 3);
    nats_sleep_ms(200);
    assert_int_equal(rec_count(rc), 5);

    agent_nats_free(a);
    agent_nats_free(b);
    agent_nats_free(c);
    rec_free(ra);
    rec_free(rb);
    rec_free(rc);
    nats_server_cleanup(&srv);
}

/* Garbage, truncated and oversized payloads published by a raw NATS client on a receiver's subject
 * are dropped and counted; delivery goes on. */
static void test_bad_input(void **state) {
    (void)state;
    struct nats_server srv = {0};
    assert_int_equal(nats_server_start(&srv, 0, NULL), 0);
    struct rec *rb = rec_new();
    struct agent_nats_config cfg = {.max_payload = 4096};
    struct agent_nats *b = test_transport(&srv, rb, &cfg);
    assert_non_null(b);
    set_local1(b, "viewer", "demo");

    char url[64];
    (void)snprintf(url, sizeof url, "nats://127.0.0.1:%u", (unsigned)srv.port);
    natsConnection *raw = NULL;
    assert_int_equal(natsConnection_ConnectTo(&raw, url), NATS_OK);
    const char *subj = "iofog.demo.viewer";
    assert_int_equal(natsConnection_PublishString(raw, subj, "garbage, not an ioMessage"), NATS_OK);
    assert_int_equal(natsConnection_Publish(raw, subj, NULL, 0), NATS_OK);
    /* A valid message cut short, and one with a byte too many. */
    char id[64];
    struct iof_msg m = test_msg(id, "ok", 1, "pub");
    uint8_t *enc = NULL;
    size_t enc_len = 0;
    assert_int_equal(iof_msg_encode_alloc(&m, IOF_MSG_WIDTH_CLASSIC, &enc, &enc_len, NULL), IOF_OK);
    assert_int_equal(natsConnection_Publish(raw, subj, enc, (int)enc_len - 3), NATS_OK);
    uint8_t longer[512];
    memcpy(longer, enc, enc_len);
    longer[enc_len] = 0;
    assert_int_equal(natsConnection_Publish(raw, subj, longer, (int)enc_len + 1), NATS_OK);
    /* Header lengths claiming far more than there is. */
    uint8_t liar[64];
    memset(liar, 0xff, sizeof liar);
    liar[0] = 0;
    liar[1] = 4;
    assert_int_equal(natsConnection_Publish(raw, subj, liar, (int)sizeof liar), NATS_OK);
    /* Oversized for this transport (4 KiB limit), well within the server's. */
    static uint8_t big[64 * 1024];
    memcpy(big, enc, enc_len);
    assert_int_equal(natsConnection_Publish(raw, subj, big, (int)sizeof big), NATS_OK);
    /* A good one last: still delivered. */
    assert_int_equal(natsConnection_Publish(raw, subj, enc, (int)enc_len), NATS_OK);
    assert_int_equal(natsConnection_FlushTimeout(raw, 2000), NATS_OK);
    assert_int_equal(rec_wait(rb, 1, 5000), 1);
    assert_string_equal(rb->e[0].id, "ok-000001");

    /* A deliver function that refuses: counted as undeliverable. */
    pthread_mutex_lock(&rb->mu);
    rb->refuse = true;
    pthread_mutex_unlock(&rb->mu);
    assert_int_equal(natsConnection_Publish(raw, subj, enc, (int)enc_len), NATS_OK);
    assert_int_equal(natsConnection_FlushTimeout(raw, 2000), NATS_OK);
    struct agent_nats_counters c;
    for (int i = 0; i < 100; i++) {
        agent_nats_counters(b, &c);
        if (c.dropped_undeliverable == 1) {
            break;
        }
        nats_sleep_ms(20);
    }
    assert_int_equal(c.dropped_malformed, 5);
    assert_int_equal(c.dropped_oversized, 1);
    assert_int_equal(c.dropped_undeliverable, 1);
    assert_int_equal(c.delivered, 1);
    json_t *js = NULL;
    assert_int_equal(agent_nats_stats(b, &js), IOF_OK);
    assert_int_equal(json_integer_value(json_object_get(js, "dropped")), 7);
    json_decref(js);

    free(enc);
    natsConnection_Destroy(raw);
    agent_nats_free(b);
    rec_free(rb);
    nats_server_cleanup(&srv);
}

/* Both transports exist before the server runs: publishing queues, subscriptions wait, and
 * everything is delivered once the server is up. */
static void test_start_before_server(void **state) {
    (void)state;
    struct nats_server srv = {.port = nats_free_port()};
    struct rec *ra = rec_new(), *rb = rec_new();
    struct agent_nats *a = test_transport(&srv, ra, NULL);
    struct agent_nats *b = test_transport(&srv, rb, NULL);
    assert_non_null(a);
    assert_non_null(b);
    set_local1(b, "viewer", "demo");
    publish_n(a, "demo", "viewer", "early", 50);
    struct agent_nats_counters c;
    agent_nats_counters(a, &c);
    assert_false(c.connected);
    assert_int_equal(c.buffered, 50);
    assert_int_equal(c.published, 0);

    assert_int_equal(nats_server_start(&srv, srv.port, NULL), 0);
    assert_int_equal(rec_wait(rb, 50, 10000), 50);
    agent_nats_counters(a, &c);
    assert_true(c.connected);
    assert_int_equal(c.buffered, 0);
    assert_int_equal(c.published, 50);
    assert_string_equal(rb->e[0].id, "early-000000");
    assert_string_equal(rb->e[49].id, "early-000049");

    agent_nats_free(a);
    agent_nats_free(b);
    rec_free(ra);
    rec_free(rb);
    nats_server_cleanup(&srv);
}

/* user/password and token authentication. */
static void test_credentials(void **state) {
    (void)state;
    struct nats_server srv = {0};
    const char *args[] = {"--user", "agent", "--pass", "s3cret", NULL};
    assert_int_equal(nats_server_start(&srv, 0, args), 0);
    struct rec *ra = rec_new(), *rb = rec_new();
    struct agent_nats_config cfg = {.user = "agent", .password = "s3cret"};
    struct agent_nats *a = test_transport(&srv, ra, &cfg);
    struct agent_nats *b = test_transport(&srv, rb, &cfg);
    assert_non_null(a);
    assert_non_null(b);
    set_local1(b, "viewer", "demo");
    publish_n(a, "demo", "viewer", "auth", 3);
    assert_int_equal(rec_wait(rb, 3, 5000), 3);
    agent_nats_free(a);
    agent_nats_free(b);

    /* Wrong password: refused at connect. */
    struct iof_diag d = {{0}};
    char url[64];
    (void)snprintf(url, sizeof url, "nats://127.0.0.1:%u", (unsigned)srv.port);
    struct agent_nats_config bad = {.urls = url, .user = "agent", .password = "wrong"};
    struct agent_nats *t = NULL;
    assert_int_equal(agent_nats_new(&bad, rec_deliver, ra, &t, &d), IOF_EAUTH);
    assert_null(t);
    nats_server_cleanup(&srv);

    const char *targs[] = {"--auth", "tok-123", NULL};
    assert_int_equal(nats_server_start(&srv, 0, targs), 0);
    struct agent_nats_config tc = {.token = "tok-123"};
    a = test_transport(&srv, ra, &tc);
    b = test_transport(&srv, rb, &tc);
    assert_non_null(a);
    assert_non_null(b);
    set_local1(b, "viewer", "demo");
    publish_n(a, "demo", "viewer", "tok", 2);
    assert_int_equal(rec_wait(rb, 5, 5000), 5);
    agent_nats_free(a);
    agent_nats_free(b);
    rec_free(ra);
    rec_free(rb);
    nats_server_cleanup(&srv);
}

/* TLS with a CA of the test's own making; the server name is checked against the certificate. */
static void test_tls(void **state) {
    (void)state;
    char dir[] = "/tmp/iofog-nats-tls-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char cmd[1024];
    (void)snprintf(cmd,
                   sizeof cmd,
                   "cd %s && openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=test-ca "
                   "-keyout ca.key -out ca.pem 2>/dev/null && "
                   "openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout srv.key "
                   "-out srv.csr 2>/dev/null && printf 'subjectAltName=IP:127.0.0.1' > ext && "
                   "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
                   "-days 1 -extfile ext -out srv.pem 2>/dev/null",
                   dir);
    if (system(cmd) != 0) {
        skip();
    }
    char cert[128], key[128], ca[128];
    (void)snprintf(cert, sizeof cert, "%s/srv.pem", dir);
    (void)snprintf(key, sizeof key, "%s/srv.key", dir);
    (void)snprintf(ca, sizeof ca, "%s/ca.pem", dir);
    const char *args[] = {"--tls", "--tlscert", cert, "--tlskey", key, NULL};
    struct nats_server srv = {0};
    assert_int_equal(nats_server_start(&srv, 0, args), 0);
    char url[64];
    (void)snprintf(url, sizeof url, "tls://127.0.0.1:%u", (unsigned)srv.port);
    struct rec *ra = rec_new(), *rb = rec_new();
    struct agent_nats_config cfg = {.urls = url, .ca_file = ca};
    struct agent_nats *a = test_transport(&srv, ra, &cfg);
    struct agent_nats *b = test_transport(&srv, rb, &cfg);
    assert_non_null(a);
    assert_non_null(b);
    set_local1(b, "viewer", "demo");
    publish_n(a, "demo", "viewer", "tls", 3);
    assert_int_equal(rec_wait(rb, 3, 5000), 3);
    agent_nats_free(a);
    agent_nats_free(b);

    /* Without the CA the server's certificate is not trusted. */
    struct agent_nats_config untrusted = {.urls = url, .reconnect_wait_ms = 100};
    struct agent_nats *t = NULL;
    struct iof_diag d = {{0}};
    iof_err err = agent_nats_new(&untrusted, rec_deliver, ra, &t, &d);
    if (err == IOF_OK) {
        /* libnats may keep retrying in the background instead: it must not get connected. */
        nats_sleep_ms(300);
        struct agent_nats_counters c;
        agent_nats_counters(t, &c);
        assert_false(c.connected);
        agent_nats_free(t);
    }
    rec_free(ra);
    rec_free(rb);
    nats_server_cleanup(&srv);
    (void)snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_subject),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_exchange_identity),
        cmocka_unit_test(test_app_isolation),
        cmocka_unit_test(test_move_receiver),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_start_before_server),
        cmocka_unit_test(test_credentials),
        cmocka_unit_test(test_tls),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    agent_nats_library_close();
    return rc;
}
