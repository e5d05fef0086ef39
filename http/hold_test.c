/* Tests of the HTTP server's long-lived requests over loopback: holding and answering from other
 * threads (latency, volume, stale ids), stopping with held requests, and the upgrade handover used
 * by WebSockets (echo over the raw socket, extra bytes, stop with a live upgraded connection). */
#include "common/error.h"
#include "common/json.h"
#include "common/log.h"
#include "http/client.h"
#include "http/server.h"
#include "http/testutil.h"

#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#define MAX_HELD 256

struct fixture {
    struct iof_http_server *srv;
    uint16_t port;
    pthread_mutex_t mu;
    uint64_t ids[MAX_HELD];
    bool have[MAX_HELD];
    int nheld;

    /* upgrade */
    pthread_t echo;
    _Atomic bool echo_started;
    _Atomic bool echo_done;
    struct iof_http_upgraded *u;
    int fd;
    char extra[64];
    size_t extra_len;
    _Atomic int abandoned; /* upgrade callbacks with fd -1 */
    _Atomic int adopted;   /* upgrade callbacks with a socket, in the abandon test */
};

static int64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void sleep_ms(long ms) {
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* Holds the request and files its id under ?n=. */
static iof_err h_hold(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
    struct fixture *f = ctx;
    const char *n = iof_http_query(req, "n");
    int i = n != NULL ? atoi(n) : -1;
    if (i < 0 || i >= MAX_HELD) {
        return iof_fail(d, IOF_EINVAL, "bad n");
    }
    uint64_t id;
    iof_err err = iof_http_hold(req, &id);
    if (err != IOF_OK) {
        return err;
    }
    /* Headers set after holding still go out with the later answer. */
    if (iof_http_set_header(req, "X-Held", n) != IOF_OK) {
        return IOF_EINTERNAL;
    }
    pthread_mutex_lock(&f->mu);
    f->ids[i] = id;
    f->have[i] = true;
    f->nheld++;
    pthread_mutex_unlock(&f->mu);
    return IOF_OK;
}

/* Holds and answers before returning: the answer must wait for the handler to finish. */
static iof_err h_hold_now(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
    struct fixture *f = ctx;
    uint64_t id;
    iof_err err = iof_http_hold(req, &id);
    if (err != IOF_OK) {
        return err;
    }
    err = iof_http_answer(f->srv, id, 202, json_pack("{s:s}", "early", "yes"));
    if (err != IOF_OK) {
        return iof_fail(d, err, "early answer failed");
    }
    uint64_t again;
    if (iof_http_hold(req, &again) != IOF_ECONFLICT) {
        return iof_fail(d, IOF_EINTERNAL, "second hold allowed");
    }
    return IOF_OK;
}

static void *echo_main(void *arg) {
    struct fixture *f = arg;
    char buf[256];
    bool ok = f->extra_len == 0 || send(f->fd, f->extra, f->extra_len, MSG_NOSIGNAL) > 0;
    while (ok) {
        /* The socket comes non-blocking from the server. */
        struct pollfd pfd = {.fd = f->fd, .events = POLLIN};
        if (poll(&pfd, 1, 10000) <= 0) {
            break;
        }
        ssize_t n = recv(f->fd, buf, sizeof buf, 0);
        if (n <= 0) {
            break;
        }
        ok = send(f->fd, buf, (size_t)n, MSG_NOSIGNAL) == n;
    }
    iof_http_upgraded_close(f->u);
    atomic_store(&f->echo_done, true);
    return NULL;
}

static void on_upgraded(
    void *ctx, int fd, const char *extra_in, size_t extra_len, struct iof_http_upgraded *u) {
    struct fixture *f = ctx;
    f->fd = fd;
    f->u = u;
    f->extra_len = extra_len < sizeof f->extra ? extra_len : sizeof f->extra;
    memcpy(f->extra, extra_in, f->extra_len);
    if (pthread_create(&f->echo, NULL, echo_main, f) == 0) {
        atomic_store(&f->echo_started, true);
    } else {
        iof_http_upgraded_close(u);
    }
}

static void on_upgraded_close_now(
    void *ctx, int fd, const char *extra_in, size_t extra_len, struct iof_http_upgraded *u) {
    (void)ctx;
    (void)fd;
    (void)extra_in;
    (void)extra_len;
    iof_http_upgraded_close(u);
}

static void on_upgraded_counted(
    void *ctx, int fd, const char *extra_in, size_t extra_len, struct iof_http_upgraded *u) {
    struct fixture *f = ctx;
    (void)extra_in;
    (void)extra_len;
    if (fd < 0) {
        assert_null(u);
        atomic_fetch_add(&f->abandoned, 1);
        return;
    }
    atomic_fetch_add(&f->adopted, 1);
    iof_http_upgraded_close(u);
}

static iof_err h_upgrade(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
    const char *hdrs[] = {"Upgrade", "test-proto", "X-Custom", "yes", NULL};
    bool close_now = iof_http_query(req, "close") != NULL;
    bool abandon = iof_http_query(req, "abandon") != NULL;
    iof_http_upgrade_cb cb = abandon     ? on_upgraded_counted
                             : close_now ? on_upgraded_close_now
                                         : on_upgraded;
    iof_err err = iof_http_respond_upgrade(req, hdrs, cb, ctx);
    if (err != IOF_OK) {
        return iof_fail(d, err, "cannot upgrade");
    }
    if (abandon) {
        sleep_ms(150); /* the client resets the connection before the 101 can go out */
    }
    return IOF_OK;
}

static int setup(void **state) {
    struct fixture *f = calloc(1, sizeof *f);
    pthread_mutex_init(&f->mu, NULL);
    f->fd = -1;
    struct iof_http_config cfg = {.bind_addr = "127.0.0.1", .threads = 4};
    if (iof_http_server_new(&cfg, &f->srv) != IOF_OK ||
        iof_http_server_route(f->srv, "GET", "/hold", h_hold, f) != IOF_OK ||
        iof_http_server_route(f->srv, "GET", "/hold-now", h_hold_now, f) != IOF_OK ||
        iof_http_server_route(f->srv, "GET", "/ws", h_upgrade, f) != IOF_OK ||
        iof_http_server_start(f->srv) != IOF_OK) {
        return -1;
    }
    f->port = iof_http_server_port(f->srv);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    struct fixture *f = *state;
    iof_http_server_free(f->srv);
    if (atomic_load(&f->echo_started)) {
        pthread_join(f->echo, NULL);
    }
    pthread_mutex_destroy(&f->mu);
    free(f);
    return 0;
}

/* Waits until n requests are held; returns false after 5 s. */
static bool wait_held(struct fixture *f, int n) {
    for (int i = 0; i < 500; i++) {
        pthread_mutex_lock(&f->mu);
        int have = f->nheld;
        pthread_mutex_unlock(&f->mu);
        if (have >= n) {
            return true;
        }
        sleep_ms(10);
    }
    return false;
}

struct client_call {
    uint16_t port;
    const char *path;
    long status;
    char body[256];
    int64_t done_us;
    iof_err err;
};

static void *client_main(void *arg) {
    struct client_call *c = arg;
    struct iof_http_client_opts o = {.timeout_ms = 5000};
    struct iof_http_client *cli;
    c->err = iof_http_client_new(&o, &cli);
    if (c->err != IOF_OK) {
        return NULL;
    }
    char url[128];
    (void)snprintf(url, sizeof url, "http://127.0.0.1:%u%s", (unsigned)c->port, c->path);
    struct iof_http_response r;
    c->err = iof_http_client_request(cli, "GET", url, NULL, NULL, 0, &r, NULL);
    c->done_us = now_us();
    if (c->err == IOF_OK) {
        c->status = r.status;
        (void)snprintf(c->body, sizeof c->body, "%s", (const char *)r.body.data);
        iof_http_response_free(&r);
    }
    iof_http_client_free(cli);
    return NULL;
}

static void test_hold_answered_from_other_thread(void **state) {
    struct fixture *f = *state;
    struct client_call call = {.port = f->port, .path = "/hold?n=0"};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, client_main, &call), 0);
    assert_true(wait_held(f, 1));
    sleep_ms(100); /* the connection is suspended by now */
    int64_t t0 = now_us();
    assert_int_equal(iof_http_answer(f->srv, f->ids[0], 200, json_pack("{s:i}", "n", 0)), IOF_OK);
    pthread_join(t, NULL);
    assert_int_equal(call.err, IOF_OK);
    assert_int_equal(call.status, 200);
    assert_string_equal(call.body, "{\"n\":0}");
    int64_t latency = call.done_us - t0;
    print_message("answer latency: %lld us\n", (long long)latency);
    assert_true(latency >= 0 && latency < 50000);
    /* Already answered: stale, and the value is still released (leak-checked under ASan). */
    assert_int_equal(iof_http_answer(f->srv, f->ids[0], 200, json_pack("{s:i}", "n", 1)),
                     IOF_ENOENT);
}

static void test_hold_answered_inside_handler(void **state) {
    struct fixture *f = *state;
    struct client_call call = {.port = f->port, .path = "/hold-now"};
    client_main(&call);
    assert_int_equal(call.err, IOF_OK);
    assert_int_equal(call.status, 202);
    assert_string_equal(call.body, "{\"early\":\"yes\"}");
}

static void test_stale_ids(void **state) {
    struct fixture *f = *state;
    assert_int_equal(iof_http_answer(f->srv, 0, 200, NULL), IOF_ENOENT);
    assert_int_equal(iof_http_answer(f->srv, 0x1234567800000001ULL, 200, json_string("x")),
                     IOF_ENOENT);
    assert_int_equal(iof_http_answer_raw(f->srv, 99, 200, "text/plain", "x", 1), IOF_ENOENT);
    /* A slot reused by a newer hold does not accept the older id. */
    struct client_call c1 = {.port = f->port, .path = "/hold?n=1"};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, client_main, &c1), 0);
    assert_true(wait_held(f, 1));
    uint64_t old = f->ids[1];
    assert_int_equal(iof_http_answer_raw(f->srv, old, 200, "text/plain", "one", 3), IOF_OK);
    pthread_join(t, NULL);
    assert_string_equal(c1.body, "one");
    struct client_call c2 = {.port = f->port, .path = "/hold?n=2"};
    assert_int_equal(pthread_create(&t, NULL, client_main, &c2), 0);
    assert_true(wait_held(f, 2));
    assert_int_not_equal(f->ids[2], old);
    assert_int_equal(iof_http_answer_raw(f->srv, old, 200, "text/plain", "bad", 3), IOF_ENOENT);
    assert_int_equal(iof_http_answer_raw(f->srv, f->ids[2], 201, NULL, NULL, 0), IOF_OK);
    pthread_join(t, NULL);
    assert_int_equal(c2.status, 201);
    assert_string_equal(c2.body, "");
}

/* A held client that went away: answering still succeeds (the server cannot know yet) and the
 * request is cleaned up when the write fails; nothing leaks and the server keeps working. */
static void test_hold_client_gone(void **state) {
    struct fixture *f = *state;
    int fd = raw_connect(f->port);
    assert_true(fd >= 0);
    assert_true(raw_send_str(fd, "GET /hold?n=5 HTTP/1.1\r\nHost: x\r\n\r\n"));
    assert_true(wait_held(f, 1));
    close(fd);
    sleep_ms(50);
    assert_int_equal(iof_http_answer(f->srv, f->ids[5], 200, json_string("late")), IOF_OK);
    struct client_call c = {.port = f->port, .path = "/hold-now"};
    client_main(&c);
    assert_int_equal(c.status, 202);
}

struct answer_all {
    struct fixture *f;
    int n;
    int failures;
};

static void *answer_main(void *arg) {
    struct answer_all *a = arg;
    for (int i = 0; i < a->n; i++) {
        if (iof_http_answer(a->f->srv, a->f->ids[i], 200, json_pack("{s:i}", "n", i)) != IOF_OK) {
            a->failures++;
        }
    }
    return NULL;
}

static void test_many_held(void **state) {
    struct fixture *f = *state;
    enum { N = 200 };
    int fds[N];
    for (int i = 0; i < N; i++) {
        fds[i] = raw_connect(f->port);
        assert_true(fds[i] >= 0);
        char req[128];
        (void)snprintf(
            req, sizeof req, "GET /hold?n=%d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", i);
        assert_true(raw_send_str(fds[i], req));
    }
    assert_true(wait_held(f, N));
    struct answer_all a = {.f = f, .n = N};
    pthread_t t;
    int64_t t0 = now_us();
    assert_int_equal(pthread_create(&t, NULL, answer_main, &a), 0);
    struct raw_resp *r = malloc(sizeof *r);
    for (int i = 0; i < N; i++) {
        assert_true(raw_read_response(fds[i], r));
        close(fds[i]);
        assert_int_equal(r->status, 200);
        char want[32];
        (void)snprintf(want, sizeof want, "{\"n\":%d}", i);
        assert_string_equal(r->body, want);
        char held[16];
        assert_true(raw_header(r, "X-Held", held, sizeof held));
        assert_int_equal(atoi(held), i);
    }
    pthread_join(t, NULL);
    int64_t took = now_us() - t0;
    print_message("%d held requests answered in %lld us\n", N, (long long)took);
    assert_int_equal(a.failures, 0);
    assert_true(took < 2000000);
    free(r);
}

static void test_stop_answers_held(void **state) {
    struct fixture *f = *state;
    enum { N = 3 };
    int fds[N];
    for (int i = 0; i < N; i++) {
        fds[i] = raw_connect(f->port);
        assert_true(fds[i] >= 0);
        char req[128];
        (void)snprintf(req, sizeof req, "GET /hold?n=%d HTTP/1.1\r\nHost: x\r\n\r\n", i);
        assert_true(raw_send_str(fds[i], req));
    }
    assert_true(wait_held(f, N));
    int64_t t0 = now_us();
    iof_http_server_stop(f->srv);
    int64_t took = now_us() - t0;
    print_message("stop with %d held requests took %lld us\n", N, (long long)took);
    assert_true(took < 2500000);
    assert_int_equal(iof_http_server_port(f->srv), 0);
    struct raw_resp *r = malloc(sizeof *r);
    for (int i = 0; i < N; i++) {
        assert_true(raw_read_response(fds[i], r));
        close(fds[i]);
        assert_int_equal(r->status, 503);
        json_t *v;
        assert_int_equal(iof_json_parse(r->body, r->body_len, &v, NULL), IOF_OK);
        assert_string_equal(json_string_value(json_object_get(v, "name")),
                            "ServiceUnavailableError");
        json_decref(v);
        assert_int_equal(iof_http_answer(f->srv, f->ids[i], 200, json_true()), IOF_ENOENT);
    }
    free(r);
    assert_true(raw_connect(f->port) < 0); /* no longer listening */
    iof_http_server_stop(f->srv);          /* idempotent */
}

static int
upgrade_connect(struct fixture *f, const char *path, const char *extra, struct raw_resp *r) {
    int fd = raw_connect(f->port);
    if (fd < 0) {
        return -1;
    }
    char req[256];
    (void)snprintf(
        req,
        sizeof req,
        "GET %s HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: test-proto\r\n\r\n%s",
        path,
        extra);
    if (!raw_send_str(fd, req) || !raw_read_response(fd, r)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Reads exactly n bytes (after what the response reader already holds in body). */
static bool read_exact(int fd, const struct raw_resp *r, char *out, size_t n) {
    size_t have = r->body_len < n ? r->body_len : n;
    if (have > 0) {
        memcpy(out, r->body, have);
    }
    while (have < n) {
        ssize_t k = recv(fd, out + have, n - have, 0);
        if (k <= 0) {
            return false;
        }
        have += (size_t)k;
    }
    out[n] = '\0';
    return true;
}

static void test_upgrade_echo(void **state) {
    struct fixture *f = *state;
    struct raw_resp *r = malloc(sizeof *r);
    int fd = upgrade_connect(f, "/ws", "hello", r);
    assert_true(fd >= 0);
    assert_int_equal(r->status, 101);
    char v[128];
    assert_true(raw_header(r, "Upgrade", v, sizeof v));
    assert_string_equal(v, "test-proto");
    assert_true(raw_header(r, "Connection", v, sizeof v));
    assert_string_equal(v, "Upgrade");
    assert_true(raw_header(r, "X-Custom", v, sizeof v));
    assert_true(raw_header(r, "X-Request-Id", v, sizeof v));
    char got[16];
    assert_true(read_exact(fd, r, got, 5)); /* the bytes sent with the request come back */
    assert_string_equal(got, "hello");
    struct raw_resp none = {0};
    assert_true(raw_send_str(fd, "world"));
    assert_true(read_exact(fd, &none, got, 5));
    assert_string_equal(got, "world");
    close(fd); /* the echo thread sees the end and closes its handle */
    for (int i = 0; i < 500 && !atomic_load(&f->echo_done); i++) {
        sleep_ms(10);
    }
    assert_true(atomic_load(&f->echo_done));
    free(r);
}

static void test_upgrade_survives_stop(void **state) {
    struct fixture *f = *state;
    struct raw_resp *r = malloc(sizeof *r);
    int fd = upgrade_connect(f, "/ws", "", r);
    assert_true(fd >= 0);
    assert_int_equal(r->status, 101);
    struct raw_resp none = {0};
    char got[8];
    assert_true(raw_send_str(fd, "ping"));
    assert_true(read_exact(fd, &none, got, 4));
    /* Free the server while the upgraded connection is live: its socket is shut down, the echo
     * thread sees the end and closes its (now detached) handle after the server is gone. */
    int64_t t0 = now_us();
    iof_http_server_free(f->srv);
    f->srv = NULL;
    assert_true(now_us() - t0 < 2500000);
    char c;
    assert_int_equal(recv(fd, &c, 1, 0), 0); /* the client sees the end of the stream */
    close(fd);
    assert_int_equal(pthread_join(f->echo, NULL), 0);
    atomic_store(&f->echo_started, false);
    assert_true(atomic_load(&f->echo_done));
    free(r);
}

static void test_upgrade_rejected_and_closed_at_once(void **state) {
    struct fixture *f = *state;
    struct raw_resp *r = malloc(sizeof *r);
    /* No Upgrade header: the handler's error comes back as a 400. */
    assert_true(
        raw_request(f->port, "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", r));
    assert_int_equal(r->status, 400);
    /* HTTP/1.0 cannot upgrade either. */
    assert_true(raw_request(f->port, "GET /ws HTTP/1.0\r\nUpgrade: test-proto\r\n\r\n", r));
    assert_int_equal(r->status, 400);
    /* A callback that closes right away: the client gets the 101, then the end of the stream. */
    int fd = upgrade_connect(f, "/ws?close=1", "", r);
    assert_true(fd >= 0);
    assert_int_equal(r->status, 101);
    char c;
    assert_int_equal(recv(fd, &c, 1, 0), 0);
    close(fd);
    free(r);
}

/* A client that resets the connection before the 101 is sent still gets its callback resolved
 * exactly once, with fd -1, so the owner can release what it set aside for the upgrade. */
static void test_upgrade_abandoned(void **state) {
    struct fixture *f = *state;
    int fd = raw_connect(f->port);
    assert_true(fd >= 0);
    assert_true(raw_send_str(fd,
                             "GET /ws?abandon=1 HTTP/1.1\r\nHost: x\r\nUpgrade: test-proto\r\n"
                             "Connection: Upgrade\r\n\r\n"));
    sleep_ms(30); /* the request reaches the handler, which is now busy */
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    close(fd); /* RST */
    for (int i = 0; i < 200 && atomic_load(&f->abandoned) + atomic_load(&f->adopted) == 0; i++) {
        sleep_ms(10);
    }
    sleep_ms(50); /* a second, wrong call would show up by now */
    assert_int_equal(atomic_load(&f->abandoned) + atomic_load(&f->adopted), 1);
    assert_int_equal(atomic_load(&f->abandoned), 1);
}

int main(void) {
    if (iof_log_init_from_env() != IOF_OK) { /* IOFOG_LOG_LEVEL=debug shows the request lines */
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hold_answered_from_other_thread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hold_answered_inside_handler, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hold_client_gone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_held, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_answers_held, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upgrade_echo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upgrade_survives_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upgrade_rejected_and_closed_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upgrade_abandoned, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
