/* Tests of the HTTP server's connection discipline over loopback: the request-head deadline that
 * arriving bytes do not extend, the idle limit of kept-alive connections, held requests exempt
 * from it, a punctual client of a busy server kept, the per-address cap, the total cap answered
 * 503 with Retry-After, 414/431 with the error body, plain-text errors and a chunked body over
 * the limit answered 413 at once. */
#include "common/clock.h"
#include "common/error.h"
#include "common/json.h"
#include "http/server.h"
#include "http/testutil.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

struct fixture {
    struct iof_http_server *srv;
    uint16_t port;
};

static iof_err h_ok(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
    (void)d;
    (void)ctx;
    return iof_http_respond(req, 200, "text/plain", "ok", 2);
}

/* Keeps the server's only polling thread busy for 2.5 s, as an overloaded server would be. */
static iof_err h_busy(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
    (void)d;
    (void)ctx;
    struct timespec ts = {.tv_sec = 2, .tv_nsec = 500000000L};
    nanosleep(&ts, NULL);
    return iof_http_respond(req, 200, "text/plain", "busy", 4);
}

struct later {
    struct iof_http_server *srv;
    uint64_t id;
};

static void *answer_later(void *arg) {
    struct later *l = arg;
    struct timespec ts = {.tv_sec = 2, .tv_nsec = 500000000L};
    nanosleep(&ts, NULL);
    (void)!iof_http_answer_raw(l->srv, l->id, 200, "text/plain", "late", 4);
    free(l);
    return NULL;
}

/* Holds the request and answers it 2.5 s later from another thread. */
static iof_err h_hold(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
    (void)d;
    struct fixture *f = ctx;
    struct later *l = calloc(1, sizeof *l);
    if (l == NULL) {
        return IOF_ENOMEM;
    }
    l->srv = f->srv;
    iof_err err = iof_http_hold(req, &l->id);
    if (err != IOF_OK) {
        free(l);
        return err;
    }
    pthread_t t;
    if (pthread_create(&t, NULL, answer_later, l) != 0) {
        free(l);
        return IOF_EIO;
    }
    pthread_detach(t);
    return IOF_OK;
}

static struct fixture *start(const struct iof_http_config *cfg) {
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(iof_http_server_new(cfg, &f->srv), IOF_OK);
    assert_int_equal(iof_http_server_route(f->srv, "GET", "/ok", h_ok, f), IOF_OK);
    assert_int_equal(iof_http_server_route(f->srv, "POST", "/ok", h_ok, f), IOF_OK);
    assert_int_equal(iof_http_server_route(f->srv, "GET", "/hold", h_hold, f), IOF_OK);
    assert_int_equal(iof_http_server_route(f->srv, "GET", "/busy", h_busy, f), IOF_OK);
    assert_int_equal(iof_http_server_start(f->srv), IOF_OK);
    f->port = iof_http_server_port(f->srv);
    return f;
}

static void stop(struct fixture *f) {
    iof_http_server_free(f->srv);
    free(f);
}

/* A loopback connection from a chosen source address (127.0.0.x all reach 127.0.0.1). */
static int connect_from(uint16_t port, const char *src) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct timeval tv = {.tv_sec = RAW_TIMEOUT_S};
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in me = {.sin_family = AF_INET};
    assert_int_equal(inet_pton(AF_INET, src, &me.sin_addr), 1);
    assert_int_equal(bind(fd, (struct sockaddr *)&me, sizeof me), 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

/* Waits (at most max_ms) until the server closes fd; returns the time it took, -1 if it did not.
 * Whatever the server sends before closing is read and dropped. */
static int64_t wait_closed(int fd, int64_t max_ms) {
    int64_t t0 = iof_time_mono_ms();
    struct timeval tv = {.tv_usec = 100000};
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[4096];
    while (iof_time_mono_ms() - t0 < max_ms) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            return iof_time_mono_ms() - t0;
        }
    }
    return -1;
}

static void assert_json_error(const struct raw_resp *r, const char *name) {
    char ct[128];
    assert_true(raw_header(r, "Content-Type", ct, sizeof ct));
    assert_string_equal(ct, "application/json");
    json_t *v = NULL;
    assert_int_equal(iof_json_parse(r->body, r->body_len, &v, NULL), IOF_OK);
    assert_string_equal(json_string_value(json_object_get(v, "name")), name);
    assert_true(json_is_string(json_object_get(v, "message")));
    json_decref(v);
}

/* Slow headers: a header line every 300 ms keeps libmicrohttpd's idle timer fresh, but the head
 * is not complete after 1 s, so the connection goes. */
static void test_slow_head_closed_at_deadline(void **state) {
    (void)state;
    struct iof_http_config cfg = {
        .bind_addr = "127.0.0.1", .head_timeout_s = 1, .connection_timeout_s = 30};
    struct fixture *f = start(&cfg);
    int fd = raw_connect(f->port);
    assert_true(fd >= 0);
    assert_true(raw_send_str(fd, "GET /ok HTTP/1.1\r\nHost: x\r\n"));
    int64_t t0 = iof_time_mono_ms();
    bool closed = false;
    for (int i = 0; i < 20 && !closed; i++) {
        struct timespec ts = {.tv_nsec = 300000000L};
        nanosleep(&ts, NULL);
        closed = !raw_send_str(fd, "X-a: b\r\n") || wait_closed(fd, 1) >= 0;
    }
    int64_t took = iof_time_mono_ms() - t0;
    close(fd);
    assert_true(closed);
    assert_true(took >= 900 && took < 3000);
    /* The server still answers others. */
    struct raw_resp *r = malloc(sizeof *r);
    assert_true(
        raw_request(f->port, "GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", r));
    assert_int_equal(r->status, 200);
    free(r);
    stop(f);
}

/* A kept-alive connection that sends nothing after its answer is closed at the deadline; one
 * that sends nothing at all too. */
static void test_idle_connections_closed(void **state) {
    (void)state;
    struct iof_http_config cfg = {.bind_addr = "127.0.0.1", .head_timeout_s = 1};
    struct fixture *f = start(&cfg);
    int idle = raw_connect(f->port);
    int kept = raw_connect(f->port);
    assert_true(idle >= 0 && kept >= 0);
    struct raw_resp *r = malloc(sizeof *r);
    assert_true(raw_send_str(kept, "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n"));
    assert_true(raw_read_response(kept, r));
    assert_int_equal(r->status, 200);
    int64_t a = wait_closed(idle, 4000);
    int64_t b = wait_closed(kept, 4000);
    assert_true(a >= 0);
    assert_true(b >= 0);
    close(idle);
    close(kept);
    free(r);
    stop(f);
}

/* A client whose complete head waits on the socket while the server is too busy to read it is
 * not cut at the deadline: the delay is the server's. It is answered once the server catches up. */
static void test_punctual_client_of_a_busy_server_kept(void **state) {
    (void)state;
    struct iof_http_config cfg = {.bind_addr = "127.0.0.1", .head_timeout_s = 1};
    struct fixture *f = start(&cfg);
    int punctual = raw_connect(f->port);
    assert_true(punctual >= 0);
    struct timespec settle = {.tv_nsec = 200000000L}; /* accepted and tracked */
    nanosleep(&settle, NULL);
    int busy = raw_connect(f->port);
    assert_true(busy >= 0);
    assert_true(raw_send_str(busy, "GET /busy HTTP/1.1\r\nHost: x\r\n\r\n"));
    nanosleep(&settle, NULL); /* the only polling thread is now inside h_busy */
    int64_t t0 = iof_time_mono_ms();
    assert_true(raw_send_str(punctual, "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n"));
    struct raw_resp *r = malloc(sizeof *r);
    assert_non_null(r);
    /* Its deadline (1 s after the accept) passes while h_busy runs, 2.5 s in all. */
    assert_true(raw_read_response(punctual, r));
    assert_int_equal(r->status, 200);
    assert_true(iof_time_mono_ms() - t0 >= 1500);
    assert_true(raw_read_response(busy, r));
    assert_int_equal(r->status, 200);
    close(punctual);
    close(busy);
    free(r);
    stop(f);
}

/* A held request outlives the head deadline, and its connection is reusable after. */
static void test_held_request_exempt(void **state) {
    (void)state;
    struct iof_http_config cfg = {.bind_addr = "127.0.0.1", .head_timeout_s = 1};
    struct fixture *f = start(&cfg);
    int fd = raw_connect(f->port);
    assert_true(fd >= 0);
    struct raw_resp *r = malloc(sizeof *r);
    assert_true(raw_send_str(fd, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n"));
    assert_true(raw_read_response(fd, r));
    assert_int_equal(r->status, 200);
    assert_memory_equal(r->body, "late", 4);
    assert_true(raw_send_str(fd, "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n"));
    assert_true(raw_read_response(fd, r));
    assert_int_equal(r->status, 200);
    close(fd);
    free(r);
    stop(f);
}

/* One source address gets per_ip_connections; another is still served. */
static void test_per_address_cap(void **state) {
    (void)state;
    struct iof_http_config cfg = {
        .bind_addr = "127.0.0.1", .per_ip_connections = 4, .head_timeout_s = 30};
    struct fixture *f = start(&cfg);
    int fds[4];
    for (int i = 0; i < 4; i++) {
        fds[i] = connect_from(f->port, "127.0.0.2");
    }
    /* Give the server time to accept them all. */
    struct timespec ts = {.tv_nsec = 200000000L};
    nanosleep(&ts, NULL);
    int extra = connect_from(f->port, "127.0.0.2");
    assert_true(wait_closed(extra, 2000) >= 0);
    close(extra);
    int other = connect_from(f->port, "127.0.0.3");
    struct raw_resp *r = malloc(sizeof *r);
    assert_true(raw_send_str(other, "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n"));
    assert_true(raw_read_response(other, r));
    assert_int_equal(r->status, 200);
    close(other);
    for (int i = 0; i < 4; i++) {
        close(fds[i]);
    }
    free(r);
    stop(f);
}

/* Over max_connections a request is answered 503 with Retry-After and the error body. */
static void test_total_cap_answers_503(void **state) {
    (void)state;
    struct iof_http_config cfg = {.bind_addr = "127.0.0.1", .max_connections = 4};
    struct fixture *f = start(&cfg);
    int fds[4];
    for (int i = 0; i < 4; i++) {
        fds[i] = raw_connect(f->port);
        assert_true(fds[i] >= 0);
    }
    struct timespec ts = {.tv_nsec = 200000000L};
    nanosleep(&ts, NULL);
    struct raw_resp *r = malloc(sizeof *r);
    assert_true(raw_request(f->port, "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n", r));
    assert_int_equal(r->status, 503);
    char v[64];
    assert_true(raw_header(r, "Retry-After", v, sizeof v));
    assert_true(atoi(v) > 0);
    assert_json_error(r, "ServiceUnavailableError");
    for (int i = 0; i < 4; i++) {
        close(fds[i]);
    }
    nanosleep(&ts, NULL);
    assert_true(raw_request(f->port, "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n", r));
    assert_int_equal(r->status, 200);
    free(r);
    stop(f);
}

/* A URL or headers longer than max_head get 414 / 431 with the JSON error body. */
static void test_long_url_and_headers(void **state) {
    (void)state;
    struct iof_http_config cfg = {.bind_addr = "127.0.0.1", .connection_memory = 65536};
    struct fixture *f = start(&cfg);
    size_t n = 40000; /* over 64 KiB / 2, under 64 KiB */
    char *req = malloc(n + 200);
    struct raw_resp *r = malloc(sizeof *r);

    strcpy(req, "GET /ok?x=");
    memset(req + strlen(req), 'a', n);
    strcpy(req + 10 + n, " HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(raw_request(f->port, req, r));
    assert_int_equal(r->status, 414);
    assert_json_error(r, "PayloadTooLargeError");

    strcpy(req, "GET /ok HTTP/1.1\r\nHost: x\r\nX-Big: ");
    size_t at = strlen(req);
    memset(req + at, 'b', n);
    strcpy(req + at + n, "\r\n\r\n");
    assert_true(raw_request(f->port, req, r));
    assert_int_equal(r->status, 431);
    assert_json_error(r, "PayloadTooLargeError");

    /* The default pool: a head over half of it still gets the error body. */
    stop(f);
    struct iof_http_config small = {.bind_addr = "127.0.0.1"};
    f = start(&small);
    n = 20000; /* over 32 KiB / 2 */
    strcpy(req, "GET /ok?x=");
    memset(req + 10, 'a', n);
    strcpy(req + 10 + n, " HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(raw_request(f->port, req, r));
    assert_int_equal(r->status, 414);
    assert_json_error(r, "PayloadTooLargeError");
    free(req);
    free(r);
    stop(f);
}

/* The limit of the above (docs/compatibility.md, "Heads beyond the connection memory"): a head
 * that does not fit in connection_memory at all is answered by libmicrohttpd 0.9.75 itself, with
 * the right status but its compiled-in HTML body, before any callback of ours can answer. This
 * pins where our JSON answer ends; a libmicrohttpd that lets us answer makes it fail. */
static void test_head_beyond_pool_answered_by_libmicrohttpd(void **state) {
    (void)state;
    struct iof_http_config cfg = {.bind_addr = "127.0.0.1", .connection_memory = 8192};
    struct fixture *f = start(&cfg);
    char *req = malloc(20000);
    struct raw_resp *r = malloc(sizeof *r);
    size_t sizes[] = {5000, 12000}; /* over half the pool: ours; over the pool: libmicrohttpd's */
    for (size_t i = 0; i < 2; i++) {
        strcpy(req, "GET /ok?x=");
        memset(req + 10, 'a', sizes[i]);
        strcpy(req + 10 + sizes[i], " HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_true(raw_request(f->port, req, r));
        assert_int_equal(r->status, 414);
        if (i == 0) {
            assert_json_error(r, "PayloadTooLargeError");
        } else {
            assert_non_null(strstr(r->body, "<html>"));
        }
    }
    free(req);
    free(r);
    stop(f);
}

/* plain_errors: the server's own answers are text/plain. */
static void test_plain_errors(void **state) {
    (void)state;
    struct iof_http_config cfg = {.bind_addr = "127.0.0.1", .plain_errors = true};
    struct fixture *f = start(&cfg);
    struct raw_resp *r = malloc(sizeof *r);
    assert_true(raw_request(f->port, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", r));
    assert_int_equal(r->status, 404);
    char ct[64];
    assert_true(raw_header(r, "Content-Type", ct, sizeof ct));
    assert_string_equal(ct, "text/plain");
    assert_true(r->body_len > 0 && r->body[0] != '{');
    free(r);
    stop(f);
}

/* A chunked body crossing max_body is answered 413 at once, before the client finished. */
static void test_chunked_over_limit_answered_early(void **state) {
    (void)state;
    struct iof_http_config cfg = {.bind_addr = "127.0.0.1", .max_body = 1024};
    struct fixture *f = start(&cfg);
    int fd = raw_connect(f->port);
    assert_true(fd >= 0);
    assert_true(raw_send_str(fd,
                             "POST /ok HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "1000\r\n"));
    char chunk[4096];
    memset(chunk, 'c', sizeof chunk);
    assert_true(raw_send(fd, chunk, sizeof chunk));
    assert_true(raw_send_str(fd, "\r\n"));
    /* No final chunk: the body is not complete, yet the answer comes. */
    struct raw_resp *r = malloc(sizeof *r);
    assert_true(raw_read_response(fd, r));
    assert_int_equal(r->status, 413);
    assert_json_error(r, "PayloadTooLargeError");
    char v[32];
    assert_true(raw_header(r, "Connection", v, sizeof v));
    assert_string_equal(v, "close");
    close(fd);
    free(r);
    stop(f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slow_head_closed_at_deadline),
        cmocka_unit_test(test_idle_connections_closed),
        cmocka_unit_test(test_held_request_exempt),
        cmocka_unit_test(test_punctual_client_of_a_busy_server_kept),
        cmocka_unit_test(test_per_address_cap),
        cmocka_unit_test(test_total_cap_answers_503),
        cmocka_unit_test(test_long_url_and_headers),
        cmocka_unit_test(test_head_beyond_pool_answered_by_libmicrohttpd),
        cmocka_unit_test(test_plain_errors),
        cmocka_unit_test(test_chunked_over_limit_answered_early),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
