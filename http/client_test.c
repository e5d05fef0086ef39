/* Tests of the HTTP client against scripted servers on loopback and on a Unix socket: Docker-style
 * Unix-socket requests, connection reuse, chunked streaming, timeouts, response limits, refused
 * connections, JSON requests (against the module's own server) and argument checks. */
#include "common/error.h"
#include "common/json.h"
#include "http/client.h"
#include "http/server.h"
#include "http/testutil.h"

#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>

#include <cmocka.h>

/* A one-thread server that reads requests and answers with a fixed script. */
struct canned {
    int lfd;
    uint16_t port;
    char unix_path[108];
    const char *parts[8]; /* written in order, delay_ms apart */
    int delay_ms;
    int conns;        /* connections to accept */
    int per_conn;     /* requests to serve on each connection */
    bool hang;        /* never answer; wait for the client to go away */
    int accepts;      /* connections accepted */
    char first[2048]; /* the first request's head */
    pthread_t thread;
};

static void sleep_ms(long ms) {
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool wait_readable(int fd, int ms) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, ms) == 1;
}

/* Reads one request head plus its Content-Length body. */
static bool read_request(int fd, char *head, size_t size) {
    size_t len = 0;
    char *end = NULL;
    while (end == NULL) {
        if (len + 1 >= size || !wait_readable(fd, 5000)) {
            return false;
        }
        ssize_t n = recv(fd, head + len, size - 1 - len, 0);
        if (n <= 0) {
            return false;
        }
        len += (size_t)n;
        head[len] = '\0';
        end = strstr(head, "\r\n\r\n");
    }
    const char *cl = strcasestr(head, "\r\nContent-Length:");
    size_t body = cl != NULL ? (size_t)strtoul(cl + 17, NULL, 10) : 0;
    size_t have = len - (size_t)(end + 4 - head);
    char sink[512];
    while (have < body) {
        if (!wait_readable(fd, 5000)) {
            return false;
        }
        ssize_t n = recv(fd, sink, sizeof sink, 0);
        if (n <= 0) {
            return false;
        }
        have += (size_t)n;
    }
    end[4] = '\0';
    return true;
}

static void *canned_main(void *arg) {
    struct canned *c = arg;
    for (int k = 0; k < c->conns; k++) {
        if (!wait_readable(c->lfd, 5000)) {
            break;
        }
        int fd = accept(c->lfd, NULL, NULL);
        if (fd < 0) {
            break;
        }
        c->accepts++;
        for (int r = 0; r < c->per_conn; r++) {
            char head[2048];
            if (!read_request(fd, head, sizeof head)) {
                break;
            }
            if (c->accepts == 1 && r == 0) {
                (void)snprintf(c->first, sizeof c->first, "%s", head);
            }
            if (c->hang) {
                char b;
                (void)wait_readable(fd, 5000); /* until the client gives up */
                (void)recv(fd, &b, 1, 0);
                break;
            }
            for (size_t i = 0; i < 8 && c->parts[i] != NULL; i++) {
                if (i > 0 && c->delay_ms > 0) {
                    sleep_ms(c->delay_ms);
                }
                if (!raw_send_str(fd, c->parts[i])) {
                    break;
                }
            }
        }
        close(fd);
    }
    return NULL;
}

static void canned_start_tcp(struct canned *c) {
    c->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(c->lfd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(c->lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t sl = sizeof sa;
    assert_int_equal(getsockname(c->lfd, (struct sockaddr *)&sa, &sl), 0);
    c->port = ntohs(sa.sin_port);
    assert_int_equal(listen(c->lfd, 8), 0);
    if (c->conns == 0) {
        c->conns = 1;
    }
    if (c->per_conn == 0) {
        c->per_conn = 1;
    }
    assert_int_equal(pthread_create(&c->thread, NULL, canned_main, c), 0);
}

static void canned_start_unix(struct canned *c) {
    (void)snprintf(c->unix_path, sizeof c->unix_path, "/tmp/iof-http-test-%d.sock", (int)getpid());
    (void)unlink(c->unix_path);
    c->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(c->lfd >= 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, c->unix_path, strlen(c->unix_path) + 1);
    assert_int_equal(bind(c->lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(c->lfd, 8), 0);
    c->conns = c->per_conn = 1;
    assert_int_equal(pthread_create(&c->thread, NULL, canned_main, c), 0);
}

static void canned_finish(struct canned *c) {
    pthread_join(c->thread, NULL);
    close(c->lfd);
    if (c->unix_path[0] != '\0') {
        (void)unlink(c->unix_path);
    }
}

static char url_buf[256];

static const char *url(uint16_t port, const char *path) {
    (void)snprintf(url_buf, sizeof url_buf, "http://127.0.0.1:%u%s", (unsigned)port, path);
    return url_buf;
}

static struct iof_http_client *client(const struct iof_http_client_opts *o) {
    struct iof_http_client *c = NULL;
    assert_int_equal(iof_http_client_new(o, &c), IOF_OK);
    return c;
}

#define JSON_200                                                                                   \
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 21\r\n\r\n"              \
    "{\"ApiVersion\":\"1.41\"}"

static void test_unix_socket(void **state) {
    (void)state;
    struct canned c = {.parts = {JSON_200}};
    canned_start_unix(&c);
    struct iof_http_client_opts o = {.unix_socket = c.unix_path, .timeout_ms = 5000};
    struct iof_http_client *cli = client(&o);
    long status = 0;
    json_t *v = NULL;
    struct iof_diag d;
    assert_int_equal(iof_http_client_request_json(
                         cli, "GET", "http://docker/v1.41/version", NULL, NULL, &status, &v, &d),
                     IOF_OK);
    assert_int_equal(status, 200);
    assert_non_null(v);
    assert_string_equal(json_string_value(json_object_get(v, "ApiVersion")), "1.41");
    json_decref(v);
    iof_http_client_free(cli);
    canned_finish(&c);
    assert_int_equal(c.accepts, 1);
    assert_memory_equal(c.first, "GET /v1.41/version HTTP/1.1\r\n", 29);
    assert_non_null(strcasestr(c.first, "\r\nAccept: application/json\r\n"));
}

static void test_connection_reuse(void **state) {
    (void)state;
    struct canned c = {.parts = {JSON_200}, .per_conn = 2};
    canned_start_tcp(&c);
    struct iof_http_client_opts o = {.timeout_ms = 5000};
    struct iof_http_client *cli = client(&o);
    for (int i = 0; i < 2; i++) {
        struct iof_http_response r;
        const char *hdrs[] = {"X-Test: yes", NULL};
        assert_int_equal(
            iof_http_client_request(cli, "GET", url(c.port, "/v"), hdrs, NULL, 0, &r, NULL),
            IOF_OK);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.content_type, "application/json");
        assert_int_equal(r.body.len, 21);
        iof_http_response_free(&r);
    }
    iof_http_client_free(cli);
    canned_finish(&c);
    assert_int_equal(c.accepts, 1);
    assert_non_null(strstr(c.first, "\r\nX-Test: yes\r\n"));
}

struct chunks {
    int calls;
    int stop_after;
    char data[256];
    size_t len;
};

static bool on_chunk(void *ctx, const char *data, size_t len) {
    struct chunks *ch = ctx;
    ch->calls++;
    if (ch->len + len < sizeof ch->data) {
        memcpy(ch->data + ch->len, data, len);
        ch->len += len;
        ch->data[ch->len] = '\0';
    }
    return ch->stop_after == 0 || ch->calls < ch->stop_after;
}

#define CHUNKED_HEAD "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"

static void test_stream_chunked(void **state) {
    (void)state;
    struct canned c = {.parts = {CHUNKED_HEAD,
                                 "e\r\n{\"status\":\"a\"}\r\n",
                                 "e\r\n{\"status\":\"b\"}\r\n",
                                 "e\r\n{\"status\":\"c\"}\r\n",
                                 "0\r\n\r\n"},
                       .delay_ms = 60};
    canned_start_tcp(&c);
    struct iof_http_client_opts o = {.timeout_ms = 5000};
    struct iof_http_client *cli = client(&o);
    struct chunks ch = {0};
    long status = 0;
    assert_int_equal(iof_http_client_stream(cli,
                                            "POST",
                                            url(c.port, "/images/create"),
                                            NULL,
                                            NULL,
                                            0,
                                            on_chunk,
                                            &ch,
                                            &status,
                                            NULL),
                     IOF_OK);
    assert_int_equal(status, 200);
    assert_true(ch.calls >= 3);
    assert_string_equal(ch.data, "{\"status\":\"a\"}{\"status\":\"b\"}{\"status\":\"c\"}");
    iof_http_client_free(cli);
    canned_finish(&c);
    assert_memory_equal(c.first, "POST /images/create HTTP/1.1\r\n", 30);
}

static void test_stream_stopped_by_callback(void **state) {
    (void)state;
    struct canned c = {.parts = {CHUNKED_HEAD,
                                 "e\r\n{\"status\":\"a\"}\r\n",
                                 "e\r\n{\"status\":\"b\"}\r\n",
                                 "0\r\n\r\n"},
                       .delay_ms = 60};
    canned_start_tcp(&c);
    struct iof_http_client *cli = client(NULL);
    struct chunks ch = {.stop_after = 1};
    long status = 0;
    assert_int_equal(
        iof_http_client_stream(
            cli, "GET", url(c.port, "/events"), NULL, NULL, 0, on_chunk, &ch, &status, NULL),
        IOF_OK);
    assert_int_equal(status, 200);
    assert_int_equal(ch.calls, 1);
    assert_string_equal(ch.data, "{\"status\":\"a\"}");
    iof_http_client_free(cli);
    canned_finish(&c);
}

static void test_timeout(void **state) {
    (void)state;
    struct canned c = {.hang = true};
    canned_start_tcp(&c);
    struct iof_http_client_opts o = {.timeout_ms = 300, .connect_timeout_ms = 1000};
    struct iof_http_client *cli = client(&o);
    struct iof_http_response r;
    r.status = -7;
    struct iof_diag d;
    iof_diag_clear(&d);
    int64_t t0 = now_ms();
    assert_int_equal(
        iof_http_client_request(cli, "GET", url(c.port, "/slow"), NULL, NULL, 0, &r, &d),
        IOF_ETIMEOUT);
    int64_t took = now_ms() - t0;
    assert_true(took >= 250 && took < 2000);
    assert_int_equal(r.status, -7); /* out-parameter untouched on failure */
    assert_true(strlen(d.msg) > 0);
    iof_http_client_free(cli);
    canned_finish(&c);
}

static void test_max_response(void **state) {
    (void)state;
    static char big_len[2200];
    static char big_chunked[3300];
    char body[2000];
    memset(body, 'x', sizeof body);
    (void)snprintf(
        big_len, sizeof big_len, "HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n%.*s", 2000, body);
    (void)snprintf(
        big_chunked, sizeof big_chunked, CHUNKED_HEAD "7d0\r\n%.*s\r\n0\r\n\r\n", 2000, body);
    const char *cases[] = {big_len, big_chunked};
    for (size_t i = 0; i < 2; i++) {
        struct canned c = {.parts = {cases[i]}};
        canned_start_tcp(&c);
        struct iof_http_client_opts o = {.timeout_ms = 5000, .max_response = 1000};
        struct iof_http_client *cli = client(&o);
        struct iof_http_response r;
        struct iof_diag d;
        assert_int_equal(
            iof_http_client_request(cli, "GET", url(c.port, "/big"), NULL, NULL, 0, &r, &d),
            IOF_E2BIG);
        iof_http_client_free(cli);
        canned_finish(&c);
    }
    /* At the limit it fits. */
    struct canned c = {.parts = {big_len}};
    canned_start_tcp(&c);
    struct iof_http_client_opts o = {.timeout_ms = 5000, .max_response = 2000};
    struct iof_http_client *cli = client(&o);
    struct iof_http_response r;
    assert_int_equal(
        iof_http_client_request(cli, "GET", url(c.port, "/big"), NULL, NULL, 0, &r, NULL), IOF_OK);
    assert_int_equal(r.body.len, 2000);
    iof_http_response_free(&r);
    iof_http_client_free(cli);
    canned_finish(&c);
}

static void test_connection_refused(void **state) {
    (void)state;
    struct canned c = {0};
    c.lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(c.lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t sl = sizeof sa;
    assert_int_equal(getsockname(c.lfd, (struct sockaddr *)&sa, &sl), 0);
    close(c.lfd); /* bound once, now nobody listens there */
    struct iof_http_client_opts o = {.timeout_ms = 2000};
    struct iof_http_client *cli = client(&o);
    struct iof_http_response r;
    struct iof_diag d;
    iof_diag_clear(&d);
    assert_int_equal(
        iof_http_client_request(cli, "GET", url(ntohs(sa.sin_port), "/"), NULL, NULL, 0, &r, &d),
        IOF_EIO);
    assert_non_null(strstr(d.msg, "onnect"));
    iof_diag_clear(&d);
    assert_int_equal(
        iof_http_client_request(cli, "GET", "http://no-such-host.invalid/", NULL, NULL, 0, &r, &d),
        IOF_EIO);
    assert_true(strlen(d.msg) > 0);
    iof_http_client_free(cli);
}

static iof_err h_json_echo(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
    (void)ctx;
    json_t *v;
    iof_err err = iof_http_body_json(req, &v, d);
    if (err != IOF_OK) {
        return err;
    }
    const char *ct = iof_http_header(req, "Content-Type");
    json_t *o = json_pack("{s:O,s:s}", "got", v, "ct", ct != NULL ? ct : "");
    return iof_http_respond_json(req, 201, o);
}

static iof_err h_text(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
    (void)d;
    (void)ctx;
    return iof_http_respond(req, 200, "text/plain", "not json", 8);
}

static void test_json_roundtrip(void **state) {
    (void)state;
    struct iof_http_server *srv;
    struct iof_http_config cfg = {.bind_addr = "127.0.0.1"};
    assert_int_equal(iof_http_server_new(&cfg, &srv), IOF_OK);
    assert_int_equal(iof_http_server_route(srv, "POST", "/j", h_json_echo, NULL), IOF_OK);
    assert_int_equal(iof_http_server_route(srv, "GET", "/t", h_text, NULL), IOF_OK);
    assert_int_equal(iof_http_server_start(srv), IOF_OK);
    uint16_t port = iof_http_server_port(srv);
    struct iof_http_client *cli = client(NULL);
    json_t *body = json_pack("{s:s,s:i}", "name", "x", "n", 3);
    long status = 0;
    json_t *out = NULL;
    assert_int_equal(
        iof_http_client_request_json(cli, "POST", url(port, "/j"), NULL, body, &status, &out, NULL),
        IOF_OK);
    assert_int_equal(status, 201);
    assert_true(json_equal(json_object_get(out, "got"), body));
    assert_string_equal(json_string_value(json_object_get(out, "ct")), "application/json");
    json_decref(out);
    json_decref(body);
    /* Not JSON, or not wanted: no value. */
    out = json_true();
    assert_int_equal(
        iof_http_client_request_json(cli, "GET", url(port, "/t"), NULL, NULL, &status, &out, NULL),
        IOF_OK);
    assert_int_equal(status, 200);
    assert_null(out);
    assert_int_equal(
        iof_http_client_request_json(cli, "GET", url(port, "/t"), NULL, NULL, &status, NULL, NULL),
        IOF_OK);
    iof_http_client_free(cli);
    iof_http_server_free(srv);
}

static void test_invalid_arguments(void **state) {
    (void)state;
    struct iof_http_client *cli = client(NULL);
    struct iof_http_response r;
    const char *bad_hdr[] = {"X-A: 1\r\nX-B: 2", NULL};
    const char *no_colon[] = {"X-A", NULL};
    assert_int_equal(
        iof_http_client_request(cli, "get", "http://127.0.0.1:1/", NULL, NULL, 0, &r, NULL),
        IOF_EINVAL);
    assert_int_equal(
        iof_http_client_request(cli, "GET", "http://127.0.0.1:1/", bad_hdr, NULL, 0, &r, NULL),
        IOF_EINVAL);
    assert_int_equal(
        iof_http_client_request(cli, "GET", "http://127.0.0.1:1/", no_colon, NULL, 0, &r, NULL),
        IOF_EINVAL);
    assert_int_equal(
        iof_http_client_request(cli, "GET", "ftp://127.0.0.1/", NULL, NULL, 0, &r, NULL),
        IOF_EINVAL);
    assert_int_equal(
        iof_http_client_request(cli, "POST", "http://127.0.0.1:1/", NULL, NULL, 5, &r, NULL),
        IOF_EINVAL);
    assert_int_equal(iof_http_client_stream(
                         cli, "GET", "http://127.0.0.1:1/", NULL, NULL, 0, NULL, NULL, NULL, NULL),
                     IOF_EINVAL);
    struct iof_http_client_opts o = {.timeout_ms = -1};
    struct iof_http_client *c2;
    assert_int_equal(iof_http_client_new(&o, &c2), IOF_EINVAL);
    iof_http_client_free(cli);
    iof_http_client_free(NULL);
    iof_http_response_free(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unix_socket),
        cmocka_unit_test(test_connection_reuse),
        cmocka_unit_test(test_stream_chunked),
        cmocka_unit_test(test_stream_stopped_by_callback),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_max_response),
        cmocka_unit_test(test_connection_refused),
        cmocka_unit_test(test_json_roundtrip),
        cmocka_unit_test(test_invalid_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
