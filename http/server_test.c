/* Tests of the HTTP server's request side over loopback: routing and parameters, query decoding,
 * built-in 404/405/413 answers, JSON errors, the error table, request ids, CORS and the fallback.
 * Requests go through the module's own client or, where headers matter, a raw socket. */
#include "common/error.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "http/client.h"
#include "http/server.h"
#include "http/testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

struct fixture {
    struct iof_http_server *srv;
    struct iof_http_client *cli;
    uint16_t port;
    _Atomic int calls; /* handler invocations */
};

static char url_buf[512];

static const char *url(const struct fixture *f, const char *path) {
    (void)snprintf(url_buf, sizeof url_buf, "http://127.0.0.1:%u%s", (unsigned)f->port, path);
    return url_buf;
}

/* Echoes what the handler saw as JSON. */
static iof_err h_echo(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
    (void)d;
    struct fixture *f = ctx;
    f->calls++;
    json_t *o = json_object();
    json_object_set_new(o, "method", json_string(iof_http_method(req)));
    json_object_set_new(o, "path", json_string(iof_http_path(req)));
    const char *names[] = {"uuid", "x", "y", "*"};
    for (size_t i = 0; i < 4; i++) {
        const char *v = iof_http_param(req, names[i]);
        if (v != NULL) {
            json_object_set_new(o, names[i], json_string(v));
        }
    }
    const char *qn[] = {"filters", "x", "flag", "missing"};
    json_t *q = json_object();
    for (size_t i = 0; i < 4; i++) {
        const char *v = iof_http_query(req, qn[i]);
        if (v != NULL) {
            json_object_set_new(q, qn[i], json_string(v));
        }
    }
    json_object_set_new(o, "query", q);
    const char *auth = iof_http_header(req, "authorization");
    if (auth != NULL) {
        json_object_set_new(o, "auth", json_string(auth));
    }
    size_t len;
    const uint8_t *body = iof_http_body(req, &len);
    json_object_set_new(o, "body", json_stringn((const char *)body, len));
    json_object_set_new(o, "remote", json_string(iof_http_remote_addr(req)));
    return iof_http_respond_json(req, 200, o);
}

static iof_err h_json(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
    (void)ctx;
    json_t *v;
    iof_err err = iof_http_body_json(req, &v, d);
    if (err != IOF_OK) {
        return err;
    }
    json_t *again;
    err = iof_http_body_json(req, &again, d);
    if (err != IOF_OK || again != v) {
        return iof_fail(d, IOF_EINTERNAL, "second parse differs");
    }
    return iof_http_respond_json(req, 201, json_incref(v));
}

/* Fails with the category given in ?err=N. */
static iof_err h_fail(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
    (void)ctx;
    const char *e = iof_http_query(req, "err");
    int n = e != NULL ? atoi(e) : (int)IOF_EINTERNAL;
    if (iof_http_set_header(req, "X-Extra", "kept") != IOF_OK) {
        return IOF_EINTERNAL;
    }
    return iof_fail(d, (iof_err)n, "failure number %d", n);
}

static iof_err h_silent(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
    (void)req;
    (void)d;
    (void)ctx;
    return IOF_OK; /* a bug: neither answered nor held */
}

/* Sets a header libmicrohttpd refuses to take from the application. */
static iof_err h_bad_header(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
    (void)ctx;
    iof_err err = iof_http_set_header(req, "Content-Length", "3");
    if (err != IOF_OK) {
        return iof_fail(d, err, "set_header refused");
    }
    return iof_http_respond_json(req, 200, json_true());
}

static iof_err h_fallback(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
    (void)d;
    (void)ctx;
    return iof_http_respond(req, 404, "text/plain", "classic: no such thing", 22);
}

static int setup_opts(void **state, size_t max_body, bool fallback) {
    struct fixture *f = calloc(1, sizeof *f);
    struct iof_http_config cfg = {.bind_addr = "127.0.0.1", .max_body = max_body, .threads = 2};
    if (iof_http_server_new(&cfg, &f->srv) != IOF_OK) {
        return -1;
    }
    iof_err e = IOF_OK;
    e = e != IOF_OK ? e
                    : iof_http_server_route(f->srv, "GET", "/api/v3/iofog/:uuid/tunnel", h_echo, f);
    e = e != IOF_OK ? e : iof_http_server_route(f->srv, "GET", "/a/:x/b/:y", h_echo, f);
    e = e != IOF_OK ? e : iof_http_server_route(f->srv, "GET", "/files/*", h_echo, f);
    e = e != IOF_OK ? e : iof_http_server_route(f->srv, "GET", "/q", h_echo, f);
    e = e != IOF_OK ? e : iof_http_server_route(f->srv, "POST", "/echo", h_echo, f);
    e = e != IOF_OK ? e : iof_http_server_route(f->srv, "PUT", "/echo", h_echo, f);
    e = e != IOF_OK ? e : iof_http_server_route(f->srv, "POST", "/json", h_json, f);
    e = e != IOF_OK ? e : iof_http_server_route(f->srv, "GET", "/fail", h_fail, f);
    e = e != IOF_OK ? e : iof_http_server_route(f->srv, "GET", "/silent", h_silent, f);
    e = e != IOF_OK ? e : iof_http_server_route(f->srv, "GET", "/bad-header", h_bad_header, f);
    if (fallback) {
        iof_http_server_set_fallback(f->srv, h_fallback, f);
    }
    struct iof_http_client_opts co = {.timeout_ms = 5000};
    if (e != IOF_OK || iof_http_server_start(f->srv) != IOF_OK ||
        iof_http_client_new(&co, &f->cli) != IOF_OK) {
        return -1;
    }
    f->port = iof_http_server_port(f->srv);
    *state = f;
    return f->port != 0 ? 0 : -1;
}

static int setup(void **state) {
    return setup_opts(state, 1024, false);
}

static int setup_fallback(void **state) {
    return setup_opts(state, 0, true);
}

static int teardown(void **state) {
    struct fixture *f = *state;
    iof_http_client_free(f->cli);
    iof_http_server_free(f->srv);
    free(f);
    return 0;
}

/* GETs path and returns the parsed JSON body; asserts the status. */
static json_t *get_json(struct fixture *f, const char *path, long want_status) {
    long status = 0;
    json_t *v = NULL;
    struct iof_diag d;
    iof_diag_clear(&d);
    assert_int_equal(
        iof_http_client_request_json(f->cli, "GET", url(f, path), NULL, NULL, &status, &v, &d),
        IOF_OK);
    assert_int_equal(status, want_status);
    assert_non_null(v);
    return v;
}

static void assert_str_field(const json_t *o, const char *key, const char *want) {
    const json_t *v = json_object_get(o, key);
    assert_non_null(v);
    assert_string_equal(json_string_value(v), want);
}

static void test_routing_params(void **state) {
    struct fixture *f = *state;
    json_t *v = get_json(f, "/api/v3/iofog/ab%20c-1/tunnel", 200);
    assert_str_field(v, "uuid", "ab c-1");
    assert_str_field(v, "path", "/api/v3/iofog/ab%20c-1/tunnel");
    assert_str_field(v, "method", "GET");
    assert_str_field(v, "remote", "127.0.0.1");
    json_decref(v);

    v = get_json(f, "/a/1/b/2/", 200); /* one trailing slash is tolerated */
    assert_str_field(v, "x", "1");
    assert_str_field(v, "y", "2");
    json_decref(v);

    v = get_json(f, "/files/dir/sub/file.txt", 200);
    assert_str_field(v, "*", "dir/sub/file.txt");
    json_decref(v);
    v = get_json(f, "/files", 200);
    assert_str_field(v, "*", "");
    json_decref(v);

    /* Near misses are not routed: an empty parameter segment, an extra segment. */
    v = get_json(f, "/api/v3/iofog//tunnel", 404);
    json_decref(v);
    v = get_json(f, "/a/1/b/2/c", 404);
    json_decref(v);
    assert_int_equal(f->calls, 4);
}

static void test_route_patterns_rejected(void **state) {
    struct fixture *f = *state;
    assert_int_equal(iof_http_server_route(f->srv, "GET", "/x", h_echo, f), IOF_ECONFLICT);
    struct iof_http_server *s;
    assert_int_equal(iof_http_server_new(NULL, &s), IOF_OK);
    assert_int_equal(iof_http_server_route(s, "GET", "no-slash", h_echo, f), IOF_EINVAL);
    assert_int_equal(iof_http_server_route(s, "GET", "/a/*/b", h_echo, f), IOF_EINVAL);
    assert_int_equal(iof_http_server_route(s, "GET", "/a/:/b", h_echo, f), IOF_EINVAL);
    assert_int_equal(iof_http_server_route(s, "GET", "/a/:x/:x", h_echo, f), IOF_EINVAL);
    assert_int_equal(iof_http_server_route(s, "get", "/a", h_echo, f), IOF_EINVAL);
    assert_int_equal(iof_http_server_route(s, "GET", "/a/:x/*", h_echo, f), IOF_OK);
    iof_http_server_free(s);
    struct iof_http_config bad = {.bind_addr = "localhost"};
    assert_int_equal(iof_http_server_new(&bad, &s), IOF_EINVAL);
    iof_http_server_free(NULL);
}

static void test_query_decoding(void **state) {
    struct fixture *f = *state;
    json_t *v = get_json(f, "/q?filters=a%20b%2Bc%3D&x=1+2&flag&empty=", 200);
    const json_t *q = json_object_get(v, "query");
    assert_str_field(q, "filters", "a b+c=");
    assert_str_field(q, "x", "1 2");
    assert_str_field(q, "flag", "");
    assert_null(json_object_get(q, "missing"));
    json_decref(v);
}

static void assert_error_body(const struct raw_resp *r, const char *name) {
    json_t *v;
    assert_int_equal(iof_json_parse(r->body, r->body_len, &v, NULL), IOF_OK);
    assert_str_field(v, "name", name);
    assert_true(json_is_string(json_object_get(v, "message")));
    json_decref(v);
}

static void test_not_found_and_method(void **state) {
    struct fixture *f = *state;
    struct raw_resp *r = malloc(sizeof *r);
    char v[256];
    assert_true(
        raw_request(f->port, "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", r));
    assert_int_equal(r->status, 404);
    assert_true(raw_header(r, "Content-Type", v, sizeof v));
    assert_string_equal(v, "application/json");
    assert_error_body(r, "NotFoundError");

    assert_true(
        raw_request(f->port, "DELETE /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", r));
    assert_int_equal(r->status, 405);
    assert_true(raw_header(r, "Allow", v, sizeof v));
    assert_string_equal(v, "POST, PUT, OPTIONS");
    assert_error_body(r, "NotSupportedError");

    /* HEAD is served by the GET route, without a body. */
    assert_true(
        raw_request(f->port, "HEAD /q HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", r));
    assert_int_equal(r->status, 200);
    assert_int_equal(r->body_len, 0);
    assert_int_equal(f->calls, 1);
    free(r);
}

static void test_body_limit_content_length(void **state) {
    struct fixture *f = *state;
    char body[4096];
    memset(body, 'a', sizeof body);
    struct iof_http_response resp;
    struct iof_diag d;
    assert_int_equal(iof_http_client_request(
                         f->cli, "POST", url(f, "/echo"), NULL, body, sizeof body, &resp, &d),
                     IOF_OK);
    assert_int_equal(resp.status, 413);
    json_t *v;
    assert_int_equal(iof_json_parse((const char *)resp.body.data, resp.body.len, &v, NULL), IOF_OK);
    assert_str_field(v, "name", "PayloadTooLargeError");
    json_decref(v);
    iof_http_response_free(&resp);

    /* Exactly the limit is fine. */
    assert_int_equal(
        iof_http_client_request(f->cli, "POST", url(f, "/echo"), NULL, body, 1024, &resp, &d),
        IOF_OK);
    assert_int_equal(resp.status, 200);
    iof_http_response_free(&resp);
    assert_int_equal(f->calls, 1);
}

static void test_body_limit_chunked(void **state) {
    struct fixture *f = *state;
    int fd = raw_connect(f->port);
    assert_true(fd >= 0);
    assert_true(raw_send_str(fd,
                             "POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                             "Transfer-Encoding: chunked\r\n\r\n"));
    char chunk[600];
    memset(chunk, 'b', sizeof chunk);
    for (int i = 0; i < 4; i++) { /* 2400 bytes > 1024 */
        assert_true(raw_send_str(fd, "258\r\n"));
        assert_true(raw_send(fd, chunk, sizeof chunk));
        assert_true(raw_send_str(fd, "\r\n"));
    }
    assert_true(raw_send_str(fd, "0\r\n\r\n"));
    struct raw_resp *r = malloc(sizeof *r);
    assert_true(raw_read_response(fd, r));
    close(fd);
    assert_int_equal(r->status, 413);
    assert_error_body(r, "PayloadTooLargeError");
    free(r);
    assert_int_equal(f->calls, 0);
}

static void test_json_body(void **state) {
    struct fixture *f = *state;
    struct iof_diag d;
    struct {
        const char *body;
        long status;
        json_int_t a;
    } cases[] = {
        {"{\"a\":1,\"b\":[true]}", 201, 1},
        {"{bad", 400, 0},
        {"{\"a\":1,\"a\":2}", 201, 2}, /* a duplicate key keeps its last value (classic) */
        {"{\"a\":1} trailing", 400, 0},
        {"", 400, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct iof_http_response resp;
        const char *hdr[] = {"Content-Type: application/json", NULL};
        assert_int_equal(iof_http_client_request(f->cli,
                                                 "POST",
                                                 url(f, "/json"),
                                                 hdr,
                                                 cases[i].body,
                                                 strlen(cases[i].body),
                                                 &resp,
                                                 &d),
                         IOF_OK);
        assert_int_equal(resp.status, cases[i].status);
        assert_string_equal(resp.content_type, "application/json");
        json_t *v;
        assert_int_equal(iof_json_parse((const char *)resp.body.data, resp.body.len, &v, NULL),
                         IOF_OK);
        if (cases[i].status == 400) {
            assert_str_field(v, "name", "ValidationError");
            const char *msg = json_string_value(json_object_get(v, "message"));
            assert_non_null(msg);
            assert_memory_equal(msg, "Invalid JSON", 12);
        } else {
            assert_int_equal(json_integer_value(json_object_get(v, "a")), cases[i].a);
        }
        json_decref(v);
        iof_http_response_free(&resp);
    }
}

static void test_error_table(void **state) {
    struct fixture *f = *state;
    struct {
        iof_err err;
        int status;
    } table[] = {
        {IOF_EINVAL, 400},
        {IOF_EAUTH, 401},
        {IOF_EPERM, 403},
        {IOF_ENOENT, 404},
        {IOF_EUNSUPPORTED, 405},
        {IOF_EEXIST, 409},
        {IOF_ECONFLICT, 409},
        {IOF_E2BIG, 413},
        {IOF_EBUSY, 503},
        {IOF_ETIMEOUT, 504},
        {IOF_EIO, 500},
        {IOF_ENOMEM, 500},
        {IOF_EPROTO, 500},
        {IOF_EREMOTE, 500},
        {IOF_EINTERNAL, 500},
    };
    struct raw_resp *r = malloc(sizeof *r);
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        assert_int_equal(iof_http_status_for(table[i].err), table[i].status);
        char req[128];
        (void)snprintf(req,
                       sizeof req,
                       "GET /fail?err=%d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                       (int)table[i].err);
        assert_true(raw_request(f->port, req, r));
        assert_int_equal(r->status, table[i].status);
        json_t *v;
        assert_int_equal(iof_json_parse(r->body, r->body_len, &v, NULL), IOF_OK);
        assert_str_field(v, "name", iof_err_name(table[i].err));
        char msg[64];
        (void)snprintf(msg, sizeof msg, "failure number %d", (int)table[i].err);
        assert_str_field(v, "message", msg);
        json_decref(v);
        char extra[32];
        assert_true(raw_header(r, "X-Extra", extra, sizeof extra));
        assert_string_equal(extra, "kept");
    }
    assert_int_equal(iof_http_status_for(IOF_OK), 500);

    /* A header MHD refuses fails the answer; the server still gets a bare 500 out. */
    assert_true(raw_request(
        f->port, "GET /bad-header HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", r));
    assert_int_equal(r->status, 500);

    /* A handler that neither answers nor fails gets a 500. */
    assert_true(
        raw_request(f->port, "GET /silent HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", r));
    assert_int_equal(r->status, 500);
    assert_error_body(r, "InternalServerError");
    free(r);
}

static void test_request_id_and_headers(void **state) {
    struct fixture *f = *state;
    struct raw_resp *r = malloc(sizeof *r);
    char v[256];
    int64_t before = iof_time_now_ms();
    assert_true(raw_request(f->port,
                            "GET /q HTTP/1.1\r\nHost: x\r\nX-Request-Id: abc-123.def:9\r\n"
                            "Connection: close\r\n\r\n",
                            r));
    assert_int_equal(r->status, 200);
    assert_true(raw_header(r, "X-Request-Id", v, sizeof v));
    assert_string_equal(v, "abc-123.def:9");
    assert_true(raw_header(r, "X-Timestamp", v, sizeof v));
    long long ts = atoll(v);
    assert_true(ts >= before && ts <= iof_time_now_ms());
    assert_true(raw_header(r, "Access-Control-Allow-Origin", v, sizeof v));
    assert_string_equal(v, "*");

    assert_true(raw_request(f->port,
                            "GET /nope HTTP/1.1\r\nHost: x\r\nRequest-Id: classic-id\r\n"
                            "Connection: close\r\n\r\n",
                            r));
    assert_true(raw_header(r, "X-Request-Id", v, sizeof v));
    assert_string_equal(v, "classic-id");

    /* Unsafe or over-long ids are replaced by fresh random ones. */
    char req[512];
    char longid[66];
    memset(longid, 'a', 65);
    longid[65] = '\0';
    (void)snprintf(req,
                   sizeof req,
                   "GET /q HTTP/1.1\r\nHost: x\r\nX-Request-Id: %s\r\nConnection: close\r\n\r\n",
                   longid);
    assert_true(raw_request(f->port, req, r));
    assert_true(raw_header(r, "X-Request-Id", v, sizeof v));
    assert_int_equal(strlen(v), 36);
    char first[256];
    memcpy(first, v, sizeof first);
    assert_true(raw_request(f->port,
                            "GET /q HTTP/1.1\r\nHost: x\r\nX-Request-Id: a<b>\r\n"
                            "Connection: close\r\n\r\n",
                            r));
    assert_true(raw_header(r, "X-Request-Id", v, sizeof v));
    assert_int_equal(strlen(v), 36);
    assert_string_not_equal(v, first);

    /* Header lookup is case-insensitive and the body reaches the handler. */
    assert_true(raw_request(f->port,
                            "POST /echo HTTP/1.1\r\nHost: x\r\nAUTHORIZATION: Bearer t\r\n"
                            "Content-Length: 5\r\nConnection: close\r\n\r\nhello",
                            r));
    assert_int_equal(r->status, 200);
    json_t *j;
    assert_int_equal(iof_json_parse(r->body, r->body_len, &j, NULL), IOF_OK);
    assert_str_field(j, "auth", "Bearer t");
    assert_str_field(j, "body", "hello");
    json_decref(j);
    free(r);
}

static void test_cors_preflight(void **state) {
    struct fixture *f = *state;
    struct raw_resp *r = malloc(sizeof *r);
    char v[256];
    assert_true(raw_request(f->port,
                            "OPTIONS /any/path/at/all HTTP/1.1\r\nHost: x\r\n"
                            "Origin: http://ui\r\nAccess-Control-Request-Method: POST\r\n"
                            "Connection: close\r\n\r\n",
                            r));
    assert_int_equal(r->status, 204);
    assert_true(raw_header(r, "Access-Control-Allow-Origin", v, sizeof v));
    assert_string_equal(v, "*");
    assert_true(raw_header(r, "Access-Control-Allow-Methods", v, sizeof v));
    assert_non_null(strstr(v, "POST"));
    assert_non_null(strstr(v, "DELETE"));
    assert_true(raw_header(r, "Access-Control-Allow-Headers", v, sizeof v));
    assert_non_null(strstr(v, "Authorization"));
    assert_non_null(strstr(v, "Content-Type"));
    assert_non_null(strstr(v, "Request-Id"));
    assert_true(raw_header(r, "X-Request-Id", v, sizeof v));
    assert_int_equal(f->calls, 0);
    free(r);
}

static void test_fallback(void **state) {
    struct fixture *f = *state;
    struct iof_http_response resp;
    struct iof_diag d;
    assert_int_equal(
        iof_http_client_request(f->cli, "GET", url(f, "/v2/unknown"), NULL, NULL, 0, &resp, &d),
        IOF_OK);
    assert_int_equal(resp.status, 404);
    assert_string_equal((const char *)resp.body.data, "classic: no such thing");
    assert_string_equal(resp.content_type, "text/plain");
    iof_http_response_free(&resp);
    /* Wrong method on a known path goes to the fallback too. */
    assert_int_equal(
        iof_http_client_request(f->cli, "DELETE", url(f, "/echo"), NULL, NULL, 0, &resp, &d),
        IOF_OK);
    assert_int_equal(resp.status, 404);
    iof_http_response_free(&resp);
    /* Routes still win. */
    json_t *v = get_json(f, "/q?x=1", 200);
    json_decref(v);
}

/* Requests MHD rejects itself or that the client abandons must not leak (checked under ASan). */
static void test_broken_clients(void **state) {
    struct fixture *f = *state;
    struct raw_resp *r = malloc(sizeof *r);
    assert_true(raw_request(f->port, "GET /q HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n", r));
    assert_int_equal(r->status, 400);
    int fd = raw_connect(f->port);
    assert_true(fd >= 0);
    assert_true(
        raw_send_str(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc"));
    close(fd);
    fd = raw_connect(f->port);
    assert_true(fd >= 0);
    assert_true(raw_send_str(fd, "GET /q HTTP/1.1\r\nHost: x\r\n"));
    close(fd);
    /* The server is still fine. */
    assert_true(raw_request(f->port, "GET /q HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", r));
    assert_int_equal(r->status, 200);
    assert_int_equal(f->calls, 1);
    free(r);
}

/* A second server on a port in use fails with IOF_EBUSY instead of sharing it (no SO_REUSEPORT):
 * the first keeps every connection. Once the first is gone the port is free again at once. */
static void test_port_in_use(void **state) {
    struct fixture *f = *state;
    struct iof_http_config cfg = {.bind_addr = "127.0.0.1", .port = f->port};
    struct iof_http_server *second = NULL;
    assert_int_equal(iof_http_server_new(&cfg, &second), IOF_OK);
    assert_int_equal(iof_http_server_start(second), IOF_EBUSY);
    assert_int_equal(iof_http_server_port(second), 0);
    iof_http_server_free(second);
    /* the wildcard address conflicts with the loopback listener too */
    struct iof_http_config any = {.port = f->port};
    assert_int_equal(iof_http_server_new(&any, &second), IOF_OK);
    assert_int_equal(iof_http_server_start(second), IOF_EBUSY);
    iof_http_server_free(second);
    /* an address that is not this host's is another failure */
    struct iof_http_config foreign = {.bind_addr = "203.0.113.77", .port = f->port};
    assert_int_equal(iof_http_server_new(&foreign, &second), IOF_OK);
    assert_int_equal(iof_http_server_start(second), IOF_EIO);
    iof_http_server_free(second);
    /* every request still reaches the first server */
    for (int i = 0; i < 10; i++) {
        json_t *v = get_json(f, "/q", 200);
        json_decref(v);
    }
    assert_int_equal(f->calls, 10);
    /* after the first stops (with a connection just used: TIME_WAIT), the port can be taken */
    iof_http_server_free(f->srv);
    f->srv = NULL;
    assert_int_equal(iof_http_server_new(&cfg, &second), IOF_OK);
    assert_int_equal(iof_http_server_start(second), IOF_OK);
    assert_int_equal(iof_http_server_port(second), f->port);
    iof_http_server_free(second);
}

int main(void) {
    if (iof_log_init_from_env() != IOF_OK) { /* IOFOG_LOG_LEVEL=debug shows the request lines */
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_routing_params, setup, teardown),
        cmocka_unit_test_setup_teardown(test_route_patterns_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query_decoding, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_found_and_method, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_limit_content_length, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_limit_chunked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_id_and_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cors_preflight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fallback, setup_fallback, teardown),
        cmocka_unit_test_setup_teardown(test_broken_clients, setup, teardown),
        cmocka_unit_test_setup_teardown(test_port_in_use, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
