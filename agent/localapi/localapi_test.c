/* Integration tests of the Local API: the real module on a real HTTP server on 127.0.0.1 (ephemeral
 * port), driven over loopback by the WebSocket test client (ws/client.h) and the HTTP client
 * (http/client.h), with a temporary data directory. Every wait is bounded. */
#include "agent/localapi/localapi.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "http/client.h"
#include "http/server.h"
#include "iomessage/iomessage.h"
#include "ws/client.h"

#include <arpa/inet.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#define WAIT_MS  5000
#define QUIET_MS 300

struct fx {
    char dir[64];
    struct agent_localapi_config cfg;
    struct agent_localapi *api;
    struct iof_http_server *srv;
    uint16_t port;
    struct iof_http_client *http;
};

static const char *const microservices_json =
    "[{\"uuid\":\"pub\",\"config\":\"{\\\"a\\\":1}\",\"routes\":[\"recv\",\"remote1\"],"
    "\"isConsumer\":false},"
    "{\"uuid\":\"recv\",\"config\":\"{\\\"b\\\":2}\",\"routes\":[],\"isConsumer\":true},"
    "{\"uuid\":\"other\",\"config\":\"{}\",\"routes\":[]}]";

static void set_microservices(struct fx *f, const char *text) {
    json_t *j = NULL;
    assert_int_equal(iof_json_parse(text, strlen(text), &j, NULL), IOF_OK);
    assert_int_equal(agent_localapi_set_microservices(f->api, j), IOF_OK);
    json_decref(j);
}

static void fx_start(struct fx *f) {
    assert_int_equal(agent_localapi_new(&f->cfg, &f->api), IOF_OK);
    struct iof_http_config hc = {.bind_addr = "127.0.0.1"};
    assert_int_equal(iof_http_server_new(&hc, &f->srv), IOF_OK);
    assert_int_equal(agent_localapi_register(f->api, f->srv), IOF_OK);
    assert_int_equal(iof_http_server_start(f->srv), IOF_OK);
    f->port = iof_http_server_port(f->srv);
    struct iof_http_client_opts co = {.timeout_ms = WAIT_MS};
    assert_int_equal(iof_http_client_new(&co, &f->http), IOF_OK);
    set_microservices(f, microservices_json);
}

static void fx_stop(struct fx *f) {
    iof_http_client_free(f->http);
    f->http = NULL;
    agent_localapi_stop(f->api);
    iof_http_server_free(f->srv);
    f->srv = NULL;
    agent_localapi_free(f->api);
    f->api = NULL;
}

static int setup_with(void **state,
                      unsigned ack_timeout_ms,
                      unsigned retries,
                      size_t queue_max,
                      size_t queue_max_bytes) {
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    (void)snprintf(f->dir, sizeof f->dir, "/tmp/iofog-localapi-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->cfg.data_dir = f->dir;
    f->cfg.log_dir = f->dir;
    f->cfg.ack_timeout_ms = ack_timeout_ms;
    f->cfg.ack_retries = retries;
    f->cfg.queue_max = queue_max;
    f->cfg.queue_max_bytes = queue_max_bytes;
    fx_start(f);
    *state = f;
    return 0;
}

static int setup(void **state) {
    return setup_with(state, 0, 0, 0, 0);
}

static int setup_fast_ack(void **state) {
    return setup_with(state, 150, 2, 0, 0);
}

static int setup_small_queue(void **state) {
    return setup_with(state, 0, 0, 3, 0);
}

static int setup_small_queue_bytes(void **state) {
    return setup_with(state, 0, 0, 0, 300);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int teardown(void **state) {
    struct fx *f = *state;
    if (f->api != NULL) {
        fx_stop(f);
    }
    (void)nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* ---- helpers ---- */

struct resp {
    long status;
    char *body;
    json_t *json;
};

static void resp_free(struct resp *r) {
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

static struct resp request(struct fx *f,
                           const char *method,
                           const char *path,
                           const char *content_type,
                           const char *body) {
    char url[256];
    (void)snprintf(url, sizeof url, "http://127.0.0.1:%u%s", (unsigned)f->port, path);
    char ct[128];
    /* "Content-Type:" alone makes curl send none (it would add a form type to a POST) */
    (void)snprintf(ct,
                   sizeof ct,
                   "Content-Type:%s%s",
                   content_type != NULL ? " " : "",
                   content_type != NULL ? content_type : "");
    const char *headers[] = {ct, NULL};
    struct iof_http_response r;
    assert_int_equal(
        iof_http_client_request(
            f->http, method, url, headers, body, body != NULL ? strlen(body) : 0, &r, NULL),
        IOF_OK);
    struct resp out = {.status = r.status};
    out.body = strdup((const char *)r.body.data);
    assert_non_null(out.body);
    if (iof_json_parse(out.body, strlen(out.body), &out.json, NULL) != IOF_OK) {
        out.json = NULL; /* plain-text answers */
    }
    iof_http_response_free(&r);
    return out;
}

static struct resp post(struct fx *f, const char *path, const char *body) {
    return request(f, "POST", path, "application/json", body);
}

static struct iof_ws_client *ws_connect(struct fx *f, const char *kind, const char *id) {
    char path[256];
    (void)snprintf(path, sizeof path, "/v2/%s/socket/id/%s", kind, id);
    struct iof_ws_client *c = NULL;
    struct iof_diag d = {{0}};
    iof_err err = iof_ws_client_connect("127.0.0.1", f->port, path, WAIT_MS, NULL, &c, &d);
    if (err != IOF_OK) {
        fail_msg("connect %s: %s", path, d.msg);
    }
    return c;
}

/* Connects a socket and waits for a pong, so the server has registered it. */
static struct iof_ws_client *ws_open(struct fx *f, const char *kind, const char *id) {
    struct iof_ws_client *c = ws_connect(f, kind, id);
    uint8_t ping = IOF_MSG_OP_PING;
    assert_int_equal(iof_ws_client_ping(c, &ping, 1), IOF_OK);
    struct iof_ws_msg m = {0};
    assert_int_equal(iof_ws_client_recv(c, WAIT_MS, &m), IOF_OK);
    assert_int_equal(m.opcode, IOF_WS_PONG);
    iof_ws_msg_free(&m);
    return c;
}

/* Next binary message within timeout_ms; IOF_ETIMEOUT when none. */
static iof_err ws_recv(struct iof_ws_client *c, int timeout_ms, struct iof_ws_msg *m) {
    int64_t deadline = iof_time_mono_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - iof_time_mono_ms();
        iof_err err = iof_ws_client_recv(c, left > 0 ? (int)left : 0, m);
        if (err != IOF_OK || m->opcode != IOF_WS_PONG) {
            return err;
        }
        iof_ws_msg_free(m);
    }
}

static void expect_signal(struct iof_ws_client *c, uint8_t opcode) {
    struct iof_ws_msg m = {0};
    assert_int_equal(ws_recv(c, WAIT_MS, &m), IOF_OK);
    assert_int_equal(m.opcode, IOF_WS_BINARY);
    assert_int_equal(m.len, 1);
    assert_int_equal(m.data[0], opcode);
    iof_ws_msg_free(&m);
}

static void expect_quiet(struct iof_ws_client *c, int ms) {
    struct iof_ws_msg m = {0};
    iof_err err = ws_recv(c, ms, &m);
    if (err == IOF_OK) {
        fail_msg("unexpected message opcode=%d len=%zu first=0x%02x",
                 (int)m.opcode,
                 m.len,
                 m.len > 0 ? m.data[0] : 0);
    }
    assert_int_equal(err, IOF_ETIMEOUT);
}

static void send_ack(struct iof_ws_client *c) {
    uint8_t ack = IOF_MSG_OP_ACK;
    assert_int_equal(iof_ws_client_send(c, IOF_WS_BINARY, &ack, 1), IOF_OK);
}

static void close_ws(struct iof_ws_client *c) {
    (void)!iof_ws_client_close(c, IOF_WS_STATUS_NORMAL, NULL);
    iof_ws_client_free(c);
}

static const char *new_message_body(const char *publisher, const char *content_b64) {
    static char buf[512];
    (void)snprintf(buf,
                   sizeof buf,
                   "{\"publisher\":\"%s\",\"version\":4,\"infotype\":\"text\","
                   "\"infoformat\":\"utf-8\",\"contentdata\":\"%s\",\"tag\":\"t\"}",
                   publisher,
                   content_b64);
    return buf;
}

/* Publishes over REST; returns the id (static). */
static const char *publish_rest(struct fx *f, const char *publisher, bool *unroutable) {
    static char id[64];
    struct resp r = post(f, "/v2/messages/new", new_message_body(publisher, "aGk="));
    assert_int_equal(r.status, 200);
    assert_non_null(r.json);
    assert_string_equal(json_string_value(json_object_get(r.json, "status")), "okay");
    const char *s = json_string_value(json_object_get(r.json, "id"));
    assert_non_null(s);
    assert_int_equal(strlen(s), 32);
    assert_int_equal(strspn(s, "0123456789abcdef"), 32);
    assert_true(json_integer_value(json_object_get(r.json, "timestamp")) > 1600000000000);
    if (unroutable != NULL) {
        *unroutable = json_is_true(json_object_get(r.json, "unroutable"));
    }
    (void)snprintf(id, sizeof id, "%s", s);
    resp_free(&r);
    return id;
}

/* Decodes a 0x0D frame; caller frees. */
static struct iof_msg *expect_message(struct iof_ws_client *c) {
    struct iof_ws_msg m = {0};
    assert_int_equal(ws_recv(c, WAIT_MS, &m), IOF_OK);
    assert_int_equal(m.opcode, IOF_WS_BINARY);
    const uint8_t *body;
    size_t len;
    assert_int_equal(iof_msg_frame_parse(m.data, m.len, &body, &len, NULL), IOF_OK);
    struct iof_msg *msg = NULL;
    assert_int_equal(iof_msg_decode(body, len, &msg, NULL), IOF_OK);
    iof_ws_msg_free(&m);
    return msg;
}

static json_t *stats(struct fx *f) {
    json_t *s = NULL;
    assert_int_equal(agent_localapi_stats(f->api, &s), IOF_OK);
    return s;
}

/* Sends a raw request and reads until the server closes; returns the bytes read (static), or NULL
 * when the connection was still open after WAIT_MS. */
static const char *raw_until_close(struct fx *f, const char *request_text) {
    static char buf[8192];
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct timeval tv = {.tv_sec = WAIT_MS / 1000};
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(f->port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    size_t len = strlen(request_text);
    assert_int_equal(send(fd, request_text, len, MSG_NOSIGNAL), (ssize_t)len);
    size_t got = 0;
    for (;;) {
        ssize_t n = recv(fd, buf + got, sizeof buf - 1 - got, 0);
        if (n == 0) {
            break;
        }
        if (n < 0 || got + (size_t)n >= sizeof buf - 1) {
            close(fd);
            return NULL;
        }
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    return buf;
}

/* ---- tests ---- */

static void test_config_get(void **state) {
    struct fx *f = *state;
    struct resp r = post(f, "/v2/config/get", "{\"id\":\"pub\"}");
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "status")), "okay");
    /* double-encoded: the config is a string holding JSON */
    assert_string_equal(json_string_value(json_object_get(r.json, "config")), "{\"a\":1}");
    resp_free(&r);

    r = post(f, "/v2/config/get", "{\"id\":\"nope\"}");
    assert_int_equal(r.status, 400);
    assert_string_equal(r.body, "No configuration found for the id nope400 Bad Request");
    resp_free(&r);

    r = post(f, "/v2/config/get", "{\"id\":\"\"}");
    assert_int_equal(r.status, 400);
    assert_string_equal(r.body, "Incorrect content/data400 Bad Request");
    resp_free(&r);

    r = request(f, "POST", "/v2/config/get", "text/plain", "{\"id\":\"pub\"}");
    assert_int_equal(r.status, 400);
    assert_string_equal(r.body, "Incorrect content type text/plain400 Bad Request");
    resp_free(&r);

    /* parameters after ';' are ignored */
    r = request(
        f, "POST", "/v2/config/get", "application/json; charset=utf-8", "{\"id\":\"recv\"}");
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "config")), "{\"b\":2}");
    resp_free(&r);

    r = request(f, "GET", "/v2/config/get", "application/json", NULL);
    assert_int_equal(r.status, 405);
    assert_string_equal(r.body, "405 Method Not Allowed");
    resp_free(&r);

    r = request(f, "GET", "/v2/nothing/here", NULL, NULL);
    assert_int_equal(r.status, 404);
    assert_string_equal(r.body, " Request not found 404 Not Found");
    resp_free(&r);

    /* an error answer closes the connection, even a keep-alive one */
    const char *raw = raw_until_close(f,
                                      "POST /v2/config/get HTTP/1.1\r\nHost: iofog\r\n"
                                      "Connection: keep-alive\r\nContent-Type: text/plain\r\n"
                                      "Content-Length: 2\r\n\r\n{}");
    assert_non_null(raw);
    assert_true(strncmp(raw, "HTTP/1.1 400", 12) == 0);
    assert_non_null(strstr(raw, "\r\n\r\nIncorrect content type text/plain400 Bad Request"));

    r = request(f, "GET", "/v2/restblue/x", NULL, NULL);
    assert_int_equal(r.status, 404);
    assert_string_equal(r.body, "{\"error\":\"unable to reach RESTblue container!\"}404 Not Found");
    resp_free(&r);
}

static void test_control_signal_latency(void **state) {
    struct fx *f = *state;
    struct iof_ws_client *pub = ws_open(f, "control", "pub");
    struct iof_ws_client *recv = ws_open(f, "control", "recv");
    int64_t worst = 0;
    for (int round = 0; round < 5; round++) {
        char text[512];
        (void)snprintf(text,
                       sizeof text,
                       "[{\"uuid\":\"pub\",\"config\":\"{\\\"a\\\":%d}\",\"routes\":[\"recv\"]},"
                       "{\"uuid\":\"recv\",\"config\":\"{\\\"b\\\":2}\",\"routes\":[]}]",
                       100 + round);
        int64_t t0 = iof_time_mono_ms();
        set_microservices(f, text);
        expect_signal(pub, IOF_MSG_OP_CONTROL_SIGNAL);
        int64_t dt = iof_time_mono_ms() - t0;
        worst = dt > worst ? dt : worst;
        send_ack(pub);
        struct resp r = post(f, "/v2/config/get", "{\"id\":\"pub\"}");
        char want[32];
        (void)snprintf(want, sizeof want, "{\"a\":%d}", 100 + round);
        assert_string_equal(json_string_value(json_object_get(r.json, "config")), want);
        resp_free(&r);
    }
    print_message("0x0C after set_microservices: worst of 5 rounds %lld ms\n", (long long)worst);
    assert_true(worst < 100);
    /* recv's config never changed: no signal */
    expect_quiet(recv, QUIET_MS);
    close_ws(pub);
    close_ws(recv);
}

static void test_resource_signal(void **state) {
    struct fx *f = *state;
    struct iof_ws_client *a = ws_open(f, "control", "pub");
    struct iof_ws_client *b = ws_open(f, "control", "recv");
    struct resp r = request(f, "GET", "/v2/edgeResources", NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "edgeResources")), "[]");
    resp_free(&r);

    const char *text = "[{\"id\":1,\"name\":\"cam\",\"version\":\"1.0\",\"custom\":{}}]";
    json_t *res = NULL;
    assert_int_equal(iof_json_parse(text, strlen(text), &res, NULL), IOF_OK);
    assert_int_equal(agent_localapi_set_edge_resources(f->api, res), IOF_OK);
    expect_signal(a, IOF_MSG_OP_RESOURCE_SIGNAL);
    expect_signal(b, IOF_MSG_OP_RESOURCE_SIGNAL);
    send_ack(a);
    send_ack(b);
    /* the same list again: no signal */
    assert_int_equal(agent_localapi_set_edge_resources(f->api, res), IOF_OK);
    json_decref(res);
    expect_quiet(a, QUIET_MS);

    r = request(f, "GET", "/v2/edgeResources", NULL, NULL);
    const char *s = json_string_value(json_object_get(r.json, "edgeResources"));
    assert_non_null(s);
    json_t *inner = NULL;
    assert_int_equal(iof_json_parse(s, strlen(s), &inner, NULL), IOF_OK);
    assert_string_equal(json_string_value(json_object_get(json_array_get(inner, 0), "name")),
                        "cam");
    json_decref(inner);
    resp_free(&r);
    close_ws(a);
    close_ws(b);
}

static void test_control_redelivery(void **state) {
    struct fx *f = *state; /* ack timeout 150 ms, 2 retries */
    struct iof_ws_client *c = ws_open(f, "control", "pub");
    set_microservices(f, "[{\"uuid\":\"pub\",\"config\":\"{\\\"x\\\":1}\"}]");
    expect_signal(c, IOF_MSG_OP_CONTROL_SIGNAL);
    int64_t t0 = iof_time_mono_ms();
    expect_signal(c, IOF_MSG_OP_CONTROL_SIGNAL); /* not ACKed: resent */
    int64_t dt = iof_time_mono_ms() - t0;
    print_message("control signal resent after %lld ms (timeout 150)\n", (long long)dt);
    assert_true(dt >= 100 && dt < 1000);
    send_ack(c);
    expect_quiet(c, 500);

    /* never ACKed: after 2 resends the socket is closed with 4000 */
    set_microservices(f, "[{\"uuid\":\"pub\",\"config\":\"{\\\"x\\\":2}\"}]");
    for (int i = 0; i < 3; i++) {
        expect_signal(c, IOF_MSG_OP_CONTROL_SIGNAL);
    }
    struct iof_ws_msg m = {0};
    assert_int_equal(ws_recv(c, WAIT_MS, &m), IOF_OK);
    assert_int_equal(m.opcode, IOF_WS_CLOSE);
    assert_int_equal(m.status, 4000);
    iof_ws_msg_free(&m);
    iof_ws_client_free(c);
}

static void test_replaced_socket(void **state) {
    struct fx *f = *state;
    struct iof_ws_client *first = ws_open(f, "control", "pub");
    struct iof_ws_client *second = ws_open(f, "control", "pub");
    struct iof_ws_msg m = {0};
    assert_int_equal(ws_recv(first, WAIT_MS, &m), IOF_OK);
    assert_int_equal(m.opcode, IOF_WS_CLOSE);
    assert_int_equal(m.status, IOF_WS_STATUS_NORMAL);
    iof_ws_msg_free(&m);
    set_microservices(f, "[{\"uuid\":\"pub\",\"config\":\"{\\\"y\\\":1}\"}]");
    expect_signal(second, IOF_MSG_OP_CONTROL_SIGNAL);
    iof_ws_client_free(first);
    close_ws(second);

    /* a replaced message socket: what it left un-ACKed goes to the new one right away */
    set_microservices(f, microservices_json);
    struct iof_ws_client *m1 = ws_open(f, "message", "recv");
    char id[33];
    (void)snprintf(id, sizeof id, "%s", publish_rest(f, "pub", NULL));
    struct iof_msg *got = expect_message(m1);
    assert_string_equal(got->id, id);
    iof_msg_free(got);
    int64_t t0 = iof_time_mono_ms();
    struct iof_ws_client *m2 = ws_connect(f, "message", "recv");
    got = expect_message(m2);
    assert_string_equal(got->id, id);
    iof_msg_free(got);
    assert_true(iof_time_mono_ms() - t0 < 1000); /* not the 20 s redelivery */
    send_ack(m2);
    assert_int_equal(ws_recv(m1, WAIT_MS, &m), IOF_OK);
    assert_int_equal(m.opcode, IOF_WS_CLOSE);
    iof_ws_msg_free(&m);
    iof_ws_client_free(m1);
    expect_quiet(m2, QUIET_MS);
    close_ws(m2);
}

/* The Node.js SDK's socket (its `ws` client offers permessage-deflate) gets receipts with 6-byte
 * timestamps, which Buffer.readUIntBE reads; a socket without the offer keeps the classic 8. */
static void test_receipt_width_node_client(void **state) {
    struct fx *f = *state;
    static const char *const node_hdr[] = {
        "Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits", NULL};
    struct iof_ws_client_opts o = {.headers = node_hdr};
    struct iof_ws_client *node = NULL;
    struct iof_diag d = {{0}};
    assert_int_equal(iof_ws_client_connect(
                         "127.0.0.1", f->port, "/v2/message/socket/id/pub", WAIT_MS, &o, &node, &d),
                     IOF_OK);
    struct iof_ws_client *plain = ws_open(f, "message", "other");
    struct iof_ws_client *sockets[] = {node, plain};
    const char *publishers[] = {"pub", "other"};
    static const size_t widths[] = {6, 8};
    for (int k = 0; k < 2; k++) {
        struct iof_msg msg = {.version = 4,
                              .publisher = publishers[k],
                              .infotype = "text",
                              .infoformat = "utf-8",
                              .contentdata = (const uint8_t *)"x",
                              .contentdata_len = 1};
        uint8_t *frame = NULL;
        size_t frame_len = 0;
        assert_int_equal(iof_msg_frame_encode(&msg, &frame, &frame_len, NULL), IOF_OK);
        int64_t before = iof_time_now_ms();
        assert_int_equal(iof_ws_client_send(sockets[k], IOF_WS_BINARY, frame, frame_len), IOF_OK);
        free(frame);
        struct iof_ws_msg m = {0};
        assert_int_equal(ws_recv(sockets[k], WAIT_MS, &m), IOF_OK);
        assert_int_equal(m.len, 3 + 32 + widths[k]);
        assert_int_equal(m.data[0], 0x0E);
        assert_int_equal(m.data[2], widths[k]);
        char id[64];
        int64_t ts = 0;
        assert_int_equal(iof_msg_receipt_parse(m.data, m.len, id, sizeof id, &ts, NULL), IOF_OK);
        assert_true(ts >= before && ts <= iof_time_now_ms());
        iof_ws_msg_free(&m);
        send_ack(sockets[k]);
    }
    close_ws(node);
    close_ws(plain);
}

static void test_publish_over_socket(void **state) {
    struct fx *f = *state;
    struct iof_ws_client *pub = ws_open(f, "message", "pub");
    struct iof_ws_client *recv = ws_open(f, "message", "recv");
    struct iof_ws_client *other = ws_open(f, "message", "other");

    static const uint8_t content[] = {'h', 'e', 'l', 'l', 'o', 0, 1, 2};
    struct iof_msg msg = {.version = 4,
                          .id = "ignored",
                          .timestamp = 5,
                          .publisher = "pub",
                          .infotype = "application/octet-stream",
                          .infoformat = "bytes",
                          .sequencenumber = 7,
                          .contentdata = content,
                          .contentdata_len = sizeof content};
    uint8_t *frame = NULL;
    size_t frame_len = 0;
    assert_int_equal(iof_msg_frame_encode(&msg, &frame, &frame_len, NULL), IOF_OK);
    int64_t before = iof_time_now_ms();
    assert_int_equal(iof_ws_client_send(pub, IOF_WS_BINARY, frame, frame_len), IOF_OK);
    free(frame);

    /* receipt: 0x0E | idLen | tsLen=8 | id | ts big-endian */
    struct iof_ws_msg m = {0};
    assert_int_equal(ws_recv(pub, WAIT_MS, &m), IOF_OK);
    assert_int_equal(m.opcode, IOF_WS_BINARY);
    assert_int_equal(m.len, 3 + 32 + 8);
    assert_int_equal(m.data[0], 0x0E);
    assert_int_equal(m.data[1], 32);
    assert_int_equal(m.data[2], 8);
    char id[33];
    memcpy(id, m.data + 3, 32);
    id[32] = '\0';
    assert_int_equal(strspn(id, "0123456789abcdef"), 32);
    int64_t ts = 0;
    for (int i = 0; i < 8; i++) {
        ts = (int64_t)((uint64_t)ts << 8 | m.data[35 + i]);
    }
    assert_true(ts >= before && ts <= iof_time_now_ms());
    uint8_t expect[64];
    size_t elen = 0;
    assert_int_equal(iof_msg_receipt_encode(id, ts, expect, sizeof expect, &elen), IOF_OK);
    assert_memory_equal(m.data, expect, elen);
    iof_ws_msg_free(&m);
    send_ack(pub); /* SDKs ACK receipts */

    /* the spec's vector for the same framing */
    assert_int_equal(
        iof_msg_receipt_encode("f9y43trfdsSDF", 1452214777495, expect, sizeof expect, &elen),
        IOF_OK);
    static const uint8_t vector[] = {0x0e, 0x0d, 0x08, 0x66, 0x39, 0x79, 0x34, 0x33,
                                     0x74, 0x72, 0x66, 0x64, 0x73, 0x53, 0x44, 0x46,
                                     0x00, 0x00, 0x01, 0x52, 0x1e, 0xbe, 0xf6, 0x97};
    assert_int_equal(elen, sizeof vector);
    assert_memory_equal(expect, vector, sizeof vector);

    /* delivered to the routed receiver with the agent's id and timestamp */
    struct iof_msg *got = expect_message(recv);
    assert_string_equal(got->id, id);
    assert_int_equal(got->timestamp, ts);
    assert_string_equal(got->publisher, "pub");
    assert_int_equal(got->sequencenumber, 7);
    assert_int_equal(got->contentdata_len, sizeof content);
    assert_memory_equal(got->contentdata, content, sizeof content);
    iof_msg_free(got);
    send_ack(recv);
    /* and to nobody else */
    expect_quiet(other, QUIET_MS);
    expect_quiet(recv, QUIET_MS);

    /* a frame that does not parse: no receipt */
    static const uint8_t junk[] = {0x0D, 0, 0, 0, 3, 1, 2, 3};
    assert_int_equal(iof_ws_client_send(pub, IOF_WS_BINARY, junk, sizeof junk), IOF_OK);
    expect_quiet(pub, QUIET_MS);

    json_t *s = stats(f);
    assert_int_equal(json_integer_value(json_object_get(s, "processedMessages")), 1);
    assert_int_equal(json_integer_value(json_object_get(s, "unroutableMessages")), 0);
    json_decref(s);
    close_ws(pub);
    close_ws(recv);
    close_ws(other);
}

static void test_message_ack_redelivery(void **state) {
    struct fx *f = *state; /* ack timeout 150 ms, 2 retries */
    struct iof_ws_client *recv = ws_open(f, "message", "recv");
    const char *id1 = publish_rest(f, "pub", NULL);
    char first[33];
    (void)snprintf(first, sizeof first, "%s", id1);
    struct iof_msg *m = expect_message(recv);
    assert_string_equal(m->id, first);
    iof_msg_free(m);
    int64_t t0 = iof_time_mono_ms();
    m = expect_message(recv); /* not ACKed: resent */
    int64_t dt = iof_time_mono_ms() - t0;
    print_message("message resent after %lld ms (timeout 150)\n", (long long)dt);
    assert_true(dt >= 100 && dt < 1000);
    assert_string_equal(m->id, first);
    iof_msg_free(m);
    send_ack(recv);
    expect_quiet(recv, 500);

    /* never ACKed: 1 + 2 sends, then the socket closes and the message waits for REST */
    const char *id2 = publish_rest(f, "pub", NULL);
    char second[33];
    (void)snprintf(second, sizeof second, "%s", id2);
    for (int i = 0; i < 3; i++) {
        m = expect_message(recv);
        assert_string_equal(m->id, second);
        iof_msg_free(m);
    }
    struct iof_ws_msg cm = {0};
    assert_int_equal(ws_recv(recv, WAIT_MS, &cm), IOF_OK);
    assert_int_equal(cm.opcode, IOF_WS_CLOSE);
    assert_int_equal(cm.status, 4000);
    iof_ws_msg_free(&cm);
    iof_ws_client_free(recv);
    json_t *next = NULL;
    for (int i = 0; i < 100; i++) { /* the close reaches the server shortly */
        struct resp r = post(f, "/v2/messages/next", "{\"id\":\"recv\"}");
        if (json_integer_value(json_object_get(r.json, "count")) == 1) {
            next = json_incref(r.json);
            resp_free(&r);
            break;
        }
        resp_free(&r);
        usleep(10000);
    }
    assert_non_null(next);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(next, "messages"), 0), "id")),
                        second);
    json_decref(next);
}

static void test_queue_bound(void **state) {
    struct fx *f = *state; /* queue_max 3 */
    char ids[5][33];
    for (int i = 0; i < 5; i++) {
        (void)snprintf(ids[i], sizeof ids[i], "%s", publish_rest(f, "pub", NULL));
    }
    struct resp r = post(f, "/v2/messages/next", "{\"id\":\"recv\"}");
    assert_int_equal(r.status, 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "count")), 3);
    json_t *msgs = json_object_get(r.json, "messages");
    for (int i = 0; i < 3; i++) { /* the oldest two were dropped */
        assert_string_equal(
            json_string_value(json_object_get(json_array_get(msgs, (size_t)i), "id")), ids[i + 2]);
    }
    resp_free(&r);
    json_t *s = stats(f);
    assert_int_equal(json_integer_value(json_object_get(s, "processedMessages")), 5);
    assert_int_equal(json_integer_value(json_object_get(s, "droppedMessages")), 2);
    assert_true(json_is_number(json_object_get(s, "messageSpeed")));
    const char *counts = json_string_value(json_object_get(s, "microserviceMessageCounts"));
    assert_non_null(counts);
    json_t *cj = NULL;
    assert_int_equal(iof_json_parse(counts, strlen(counts), &cj, NULL), IOF_OK);
    bool found = false;
    size_t i;
    json_t *v;
    json_array_foreach(cj, i, v) {
        if (strcmp(json_string_value(json_object_get(v, "id")), "pub") == 0) {
            assert_int_equal(json_integer_value(json_object_get(v, "messagecount")), 5);
            found = true;
        }
    }
    assert_true(found);
    json_decref(cj);
    json_decref(s);
}

static void test_queue_byte_bound(void **state) {
    struct fx *f = *state; /* queue_max_bytes 300 */
    for (int i = 0; i < 5; i++) {
        (void)publish_rest(f, "pub", NULL);
    }
    struct resp r = post(f, "/v2/messages/next", "{\"id\":\"recv\"}");
    json_int_t count = json_integer_value(json_object_get(r.json, "count"));
    resp_free(&r);
    /* each message is one frame of 5 + 33 + 32 (id) + 1 + 8 + 3 + 4 + 5 + 2 bytes */
    size_t frame = 5 + 33 + 32 + 1 + 8 + 3 + 4 + 5 + 2;
    assert_int_equal(count, 300 / frame);
    json_t *s = stats(f);
    assert_int_equal(json_integer_value(json_object_get(s, "droppedMessages")), 5 - count);
    json_decref(s);
}

static iof_err remote_sink(void *ctx, const char *receiver, const struct iof_msg *msg) {
    char *out = ctx;
    (void)snprintf(out, 128, "%s:%s", receiver, msg->publisher);
    return IOF_OK;
}

static void test_rest_new_next_query(void **state) {
    struct fx *f = *state;
    int64_t t0 = iof_time_now_ms();
    char ids[3][33];
    for (int i = 0; i < 3; i++) {
        bool unroutable = true;
        (void)snprintf(ids[i], sizeof ids[i], "%s", publish_rest(f, "pub", &unroutable));
        assert_false(unroutable);
    }
    struct resp r = post(f, "/v2/messages/next", "{\"id\":\"recv\"}");
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "status")), "okay");
    assert_int_equal(json_integer_value(json_object_get(r.json, "count")), 3);
    json_t *first = json_array_get(json_object_get(r.json, "messages"), 0);
    assert_string_equal(json_string_value(json_object_get(first, "id")), ids[0]);
    assert_string_equal(json_string_value(json_object_get(first, "contentdata")), "aGk=");
    assert_string_equal(json_string_value(json_object_get(first, "publisher")), "pub");
    assert_int_equal(json_integer_value(json_object_get(first, "version")), 4);
    resp_free(&r);
    r = post(f, "/v2/messages/next", "{\"id\":\"recv\"}");
    assert_int_equal(json_integer_value(json_object_get(r.json, "count")), 0);
    resp_free(&r);
    /* "other" is not on pub's route */
    r = post(f, "/v2/messages/next", "{\"id\":\"other\"}");
    assert_int_equal(json_integer_value(json_object_get(r.json, "count")), 0);
    resp_free(&r);

    /* with a message socket open, REST next returns nothing (real-time mode) */
    struct iof_ws_client *ws = ws_open(f, "message", "recv");
    (void)publish_rest(f, "pub", NULL);
    r = post(f, "/v2/messages/next", "{\"id\":\"recv\"}");
    assert_int_equal(json_integer_value(json_object_get(r.json, "count")), 0);
    resp_free(&r);
    struct iof_msg *m = expect_message(ws);
    iof_msg_free(m);
    send_ack(ws);
    close_ws(ws);

    char body[256];
    (void)snprintf(body,
                   sizeof body,
                   "{\"id\":\"recv\",\"timeframestart\":%lld,\"timeframeend\":%lld,"
                   "\"publishers\":[\"pub\",\"other\",\"ghost\"]}",
                   (long long)t0,
                   (long long)(iof_time_now_ms() + 60000));
    r = post(f, "/v2/messages/query", body);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "count")), 4);
    json_t *msgs = json_object_get(r.json, "messages");
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 0), "id")), ids[0]);
    json_int_t last_ts = json_integer_value(json_object_get(json_array_get(msgs, 3), "timestamp"));
    assert_int_equal(json_integer_value(json_object_get(r.json, "timeframeend")), last_ts);
    assert_int_equal(json_integer_value(json_object_get(r.json, "timeframestart")), t0);
    resp_free(&r);
    /* "other" is not a receiver of pub: nothing */
    (void)snprintf(body,
                   sizeof body,
                   "{\"id\":\"other\",\"timeframestart\":0,\"timeframeend\":%lld,"
                   "\"publishers\":[\"pub\"]}",
                   (long long)(iof_time_now_ms() + 60000));
    r = post(f, "/v2/messages/query", body);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "count")), 0);
    resp_free(&r);

    /* no route: still okay, but flagged and counted */
    bool unroutable = false;
    (void)publish_rest(f, "other", &unroutable);
    assert_true(unroutable);
    json_t *s = stats(f);
    assert_int_equal(json_integer_value(json_object_get(s, "unroutableMessages")), 1);
    json_decref(s);

    /* the remote receiver goes to the sink once one is set */
    char seen[128] = "";
    agent_localapi_set_remote_sink(f->api, remote_sink, seen);
    (void)publish_rest(f, "pub", NULL);
    assert_string_equal(seen, "remote1:pub");
    agent_localapi_set_remote_sink(f->api, NULL, NULL);

    /* a message from another node goes to a local receiver as it is */
    struct iof_msg in = {.version = 4,
                         .id = "0123456789abcdef0123456789abcdef",
                         .timestamp = 1452214777495,
                         .publisher = "far",
                         .infotype = "text",
                         .infoformat = "utf-8"};
    assert_int_equal(agent_localapi_deliver(f->api, "recv", &in), IOF_OK);
    assert_int_equal(agent_localapi_deliver(f->api, "ghost", &in), IOF_ENOENT);
    r = post(f, "/v2/messages/next", "{\"id\":\"recv\"}");
    msgs = json_object_get(r.json, "messages");
    json_t *lastm = json_array_get(msgs, json_array_size(msgs) - 1);
    assert_string_equal(json_string_value(json_object_get(lastm, "id")), in.id);
    assert_int_equal(json_integer_value(json_object_get(lastm, "timestamp")), in.timestamp);
    resp_free(&r);
}

static void test_validation(void **state) {
    struct fx *f = *state;
    static const struct {
        const char *body;
        const char *needle;
    } cases[] = {
        {"{\"version\":4,\"infotype\":\"t\",\"infoformat\":\"f\",\"contentdata\":\"\"}",
         "publisher"},
        {"{\"publisher\":\"pub\",\"infotype\":\"t\",\"infoformat\":\"f\",\"contentdata\":\"\"}",
         "version"},
        {"{\"publisher\":\"pub\",\"version\":4,\"infoformat\":\"f\",\"contentdata\":\"\"}",
         "infotype"},
        {"{\"publisher\":\"pub\",\"version\":4,\"infotype\":\"t\",\"infoformat\":\"f\"}",
         "contentdata"},
        {"{\"publisher\":\"  \",\"version\":4,\"infotype\":\"t\",\"infoformat\":\"f\","
         "\"contentdata\":\"\"}",
         "publisher"},
        {"{\"publisher\":\"pub\",\"version\":\"4a\",\"infotype\":\"t\",\"infoformat\":\"f\","
         "\"contentdata\":\"\"}",
         "version"},
        {"{\"publisher\":\"pub\",\"version\":4,\"infotype\":\"t\",\"infoformat\":\"f\","
         "\"contentdata\":\"\",\"priority\":-1}",
         "priority"},
        {"{\"publisher\":\"pub\",\"version\":4,\"infotype\":\"t\",\"infoformat\":\"f\","
         "\"contentdata\":\"!!\"}",
         "contentdata"},
        {"not json", "Incorrect content/data"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct resp r = post(f, "/v2/messages/new", cases[i].body);
        assert_int_equal(r.status, 400);
        if (strstr(r.body, cases[i].needle) == NULL) {
            fail_msg("case %zu: %s", i, r.body);
        }
        assert_non_null(strstr(r.body, "400 Bad Request"));
        resp_free(&r);
    }
    /* difficultytarget may have a decimal part */
    struct resp r = post(f,
                         "/v2/messages/new",
                         "{\"publisher\":\"pub\",\"version\":\"4\",\"infotype\":\"t\","
                         "\"infoformat\":\"f\",\"contentdata\":\"\",\"difficultytarget\":0.0}");
    assert_int_equal(r.status, 200);
    resp_free(&r);
    r = request(f, "POST", "/v2/messages/new", "text/plain", new_message_body("pub", ""));
    assert_int_equal(r.status, 400);
    assert_string_equal(r.body, "Incorrect content type text/plain400 Bad Request");
    resp_free(&r);
    r = request(f, "POST", "/v2/messages/next", NULL, "{\"id\":\"recv\"}");
    assert_int_equal(r.status, 400);
    assert_string_equal(r.body, "Incorrect content type null400 Bad Request");
    resp_free(&r);
    r = post(f, "/v2/messages/query", "{\"id\":\"recv\",\"publishers\":[]}");
    assert_int_equal(r.status, 400);
    resp_free(&r);
}

static void test_archive_across_restart(void **state) {
    struct fx *f = *state;
    int64_t t0 = iof_time_now_ms();
    char ids[4][33];
    for (int i = 0; i < 3; i++) {
        (void)snprintf(ids[i], sizeof ids[i], "%s", publish_rest(f, "pub", NULL));
    }
    fx_stop(f);
    fx_start(f); /* same data_dir */
    (void)snprintf(ids[3], sizeof ids[3], "%s", publish_rest(f, "pub", NULL));
    char body[256];
    (void)snprintf(body,
                   sizeof body,
                   "{\"id\":\"recv\",\"timeframestart\":%lld,\"timeframeend\":%lld,"
                   "\"publishers\":[\"pub\"]}",
                   (long long)t0,
                   (long long)(iof_time_now_ms() + 1000));
    struct resp r = post(f, "/v2/messages/query", body);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "count")), 4);
    json_t *msgs = json_object_get(r.json, "messages");
    for (size_t i = 0; i < 4; i++) {
        assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, i), "id")),
                            ids[i]);
    }
    resp_free(&r);
}

static void test_log_and_gps(void **state) {
    struct fx *f = *state;
    mode_t old_mask = umask(022);
    struct resp r = post(f, "/v2/log", "{\"id\":\"pub\",\"type\":\"info\",\"message\":\"hello\"}");
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "status")), "okay");
    resp_free(&r);
    r = post(f, "/v2/log", "{\"id\":\"ghost\",\"type\":\"info\",\"message\":\"x\"}");
    assert_int_equal(r.status, 400);
    resp_free(&r);
    char path[128];
    (void)snprintf(path, sizeof path, "%s/pub.0.log", f->dir);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    char line[256] = "";
    assert_non_null(fgets(line, sizeof line, fp));
    fclose(fp);
    assert_non_null(strstr(line, "INFO hello"));
    /* logSize 1 MB over 10 files: 12 lines of 10 kB rotate once */
    static char big[10300];
    int n = snprintf(big, sizeof big, "{\"id\":\"pub\",\"type\":\"warn\",\"message\":\"");
    memset(big + n, 'x', 10000);
    (void)snprintf(big + n + 10000, sizeof big - (size_t)n - 10000, "\"}");
    for (int i = 0; i < 12; i++) {
        r = post(f, "/v2/log", big);
        assert_int_equal(r.status, 200);
        resp_free(&r);
    }
    struct stat st;
    (void)snprintf(path, sizeof path, "%s/pub.1.log", f->dir);
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size >= (1 << 20) / 10);
    (void)snprintf(path, sizeof path, "%s/pub.0.log", f->dir);
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size < (1 << 20) / 10);
    /* Microservice logs are private under the usual umask. */
    (void)umask(old_mask);
    assert_int_equal(st.st_mode & 0777, 0600);
    (void)snprintf(path, sizeof path, "%s/pub.1.log", f->dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    r = post(f, "/v2/gps", "{\"lat\":\"47.5\",\"lon\":\"8.25\"}");
    assert_int_equal(r.status, 200);
    resp_free(&r);
    r = request(f, "GET", "/v2/gps", "application/json", NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "lat")), "47.5");
    assert_string_equal(json_string_value(json_object_get(r.json, "lon")), "8.25");
    assert_true(json_is_integer(json_object_get(r.json, "timestamp")));
    resp_free(&r);
    r = request(f, "GET", "/v2/gps", NULL, NULL);
    assert_int_equal(r.status, 400);
    resp_free(&r);
}

static void test_ping(void **state) {
    struct fx *f = *state;
    struct iof_ws_client *c = ws_connect(f, "message", "recv");
    /* a Ping control frame carrying 0x09 gets its RFC echo, then the classic Pong 0x0A */
    uint8_t op = IOF_MSG_OP_PING;
    assert_int_equal(iof_ws_client_ping(c, &op, 1), IOF_OK);
    static const uint8_t want[] = {IOF_MSG_OP_PING, IOF_MSG_OP_PONG};
    for (size_t i = 0; i < sizeof want; i++) {
        struct iof_ws_msg m = {0};
        assert_int_equal(iof_ws_client_recv(c, WAIT_MS, &m), IOF_OK);
        assert_int_equal(m.opcode, IOF_WS_PONG);
        assert_int_equal(m.len, 1);
        assert_int_equal(m.data[0], want[i]);
        iof_ws_msg_free(&m);
    }
    /* any other Ping gets only its echo; a binary 0x09 is ignored, as the classic agent does */
    assert_int_equal(iof_ws_client_ping(c, "other", 5), IOF_OK);
    struct iof_ws_msg m = {0};
    assert_int_equal(iof_ws_client_recv(c, WAIT_MS, &m), IOF_OK);
    assert_int_equal(m.opcode, IOF_WS_PONG);
    assert_int_equal(m.len, 5);
    assert_memory_equal(m.data, "other", 5);
    iof_ws_msg_free(&m);
    assert_int_equal(iof_ws_client_send(c, IOF_WS_BINARY, &op, 1), IOF_OK);
    assert_int_equal(iof_ws_client_recv(c, QUIET_MS, &m), IOF_ETIMEOUT);
    close_ws(c);
}

static void test_socket_throughput(void **state) {
    struct fx *f = *state;
    enum { N = 2000 };
    struct iof_ws_client *pub = ws_open(f, "message", "pub");
    struct iof_ws_client *recv = ws_open(f, "message", "recv");
    struct iof_msg msg = {.version = 4,
                          .publisher = "pub",
                          .infotype = "text",
                          .infoformat = "utf-8",
                          .contentdata = (const uint8_t *)"0123456789abcdef",
                          .contentdata_len = 16};
    uint8_t *frame = NULL;
    size_t frame_len = 0;
    assert_int_equal(iof_msg_frame_encode(&msg, &frame, &frame_len, NULL), IOF_OK);
    /* in batches below the un-ACKed bound (1000), so nothing is dropped */
    int64_t t0 = iof_time_mono_ms();
    for (int batch = 0; batch < N / 500; batch++) {
        for (int i = 0; i < 500; i++) {
            assert_int_equal(iof_ws_client_send(pub, IOF_WS_BINARY, frame, frame_len), IOF_OK);
        }
        for (int i = 0; i < 500; i++) {
            struct iof_ws_msg m = {0};
            assert_int_equal(ws_recv(pub, WAIT_MS, &m), IOF_OK);
            assert_int_equal(m.data[0], IOF_MSG_OP_RECEIPT);
            iof_ws_msg_free(&m);
        }
        for (int i = 0; i < 500; i++) {
            struct iof_msg *got = expect_message(recv);
            iof_msg_free(got);
            send_ack(recv);
        }
    }
    free(frame);
    int64_t dt = iof_time_mono_ms() - t0;
    print_message("%d messages published over a socket, receipted and delivered in %lld ms\n",
                  N,
                  (long long)dt);
    json_t *s = stats(f);
    assert_int_equal(json_integer_value(json_object_get(s, "processedMessages")), N);
    assert_int_equal(json_integer_value(json_object_get(s, "droppedMessages")), 0);
    json_decref(s);
    expect_quiet(recv, QUIET_MS);
    close_ws(pub);
    close_ws(recv);
}

struct poster {
    struct fx *f;
    int count;
    int ok;
};

static void *poster_main(void *arg) {
    struct poster *p = arg;
    char url[128];
    (void)snprintf(url, sizeof url, "http://127.0.0.1:%u/v2/messages/new", (unsigned)p->f->port);
    struct iof_http_client_opts co = {.timeout_ms = WAIT_MS};
    struct iof_http_client *c = NULL;
    if (iof_http_client_new(&co, &c) != IOF_OK) {
        return NULL;
    }
    const char *headers[] = {"Content-Type: application/json", NULL};
    const char *body = "{\"publisher\":\"pub\",\"version\":4,\"infotype\":\"t\","
                       "\"infoformat\":\"f\",\"contentdata\":\"aGk=\"}";
    for (int i = 0; i < p->count; i++) {
        struct iof_http_response r;
        if (iof_http_client_request(c, "POST", url, headers, body, strlen(body), &r, NULL) ==
            IOF_OK) {
            p->ok += r.status == 200;
            iof_http_response_free(&r);
        }
    }
    iof_http_client_free(c);
    return NULL;
}

struct churner {
    struct fx *f;
    atomic_bool stop;
    int rounds;
};

static void *churn_main(void *arg) {
    struct churner *c = arg;
    while (!atomic_load(&c->stop) && c->rounds < 1000) {
        char text[512];
        (void)snprintf(text,
                       sizeof text,
                       "[{\"uuid\":\"pub\",\"config\":\"{}\",\"routes\":[\"recv\"]},"
                       "{\"uuid\":\"recv\",\"config\":\"{}\"},"
                       "{\"uuid\":\"other\",\"config\":\"{\\\"n\\\":%d}\"}]",
                       c->rounds);
        json_t *j = NULL;
        if (iof_json_parse(text, strlen(text), &j, NULL) == IOF_OK) {
            (void)!agent_localapi_set_microservices(c->f->api, j);
            json_decref(j);
        }
        c->rounds++;
        usleep(2000);
    }
    return NULL;
}

static void test_concurrent_publishers(void **state) {
    struct fx *f = *state;
    enum { PER_THREAD = 300, THREADS = 2 };
    struct iof_ws_client *recv = ws_open(f, "message", "recv");
    struct iof_ws_client *ctl = ws_open(f, "control", "other");
    struct poster posters[THREADS];
    pthread_t tids[THREADS];
    struct churner churn = {.f = f};
    atomic_init(&churn.stop, false);
    pthread_t churn_tid;
    assert_int_equal(pthread_create(&churn_tid, NULL, churn_main, &churn), 0);
    for (int i = 0; i < THREADS; i++) {
        posters[i] = (struct poster){.f = f, .count = PER_THREAD};
        assert_int_equal(pthread_create(&tids[i], NULL, poster_main, &posters[i]), 0);
    }
    int got = 0;
    for (; got < PER_THREAD * THREADS; got++) {
        struct iof_msg *m = expect_message(recv);
        iof_msg_free(m);
        send_ack(recv);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(tids[i], NULL);
        assert_int_equal(posters[i].ok, PER_THREAD);
    }
    atomic_store(&churn.stop, true);
    pthread_join(churn_tid, NULL);
    print_message(
        "%d messages from %d threads during %d config updates\n", got, THREADS, churn.rounds);
    json_t *s = stats(f);
    assert_int_equal(json_integer_value(json_object_get(s, "processedMessages")),
                     PER_THREAD * THREADS);
    assert_int_equal(json_integer_value(json_object_get(s, "droppedMessages")), 0);
    json_decref(s);
    expect_quiet(recv, QUIET_MS);
    close_ws(recv);
    iof_ws_client_free(ctl); /* signals it got were never ACKed: just drop it */
}

/* Classic (Jackson, JSON.parse): a duplicate key in a Local API body keeps its last value. */
static void test_duplicate_keys_last_wins(void **state) {
    struct fx *f = *state;
    struct resp r = post(f, "/v2/config/get", "{\"id\":\"other\",\"id\":\"pub\"}");
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "config")), "{\"a\":1}");
    resp_free(&r);

    struct iof_ws_client *recv = ws_open(f, "message", "recv");
    r = post(f,
             "/v2/messages/new",
             "{\"publisher\":\"pub\",\"version\":4,\"infotype\":\"text\",\"infoformat\":\"utf-8\","
             "\"contentdata\":\"aGk=\",\"tag\":\"first\",\"tag\":\"last\"}");
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "status")), "okay");
    resp_free(&r);
    struct iof_msg *got = expect_message(recv);
    assert_string_equal(got->tag, "last");
    iof_msg_free(got);
    send_ack(recv);
    close_ws(recv);
}

/* A Node SDK writes strings as Latin-1: "café" arrives with the byte 0xE9. The classic agent
 * reads it with `new String(bytes)` (U+FFFD) and answers as usual; so do we, and count it. */
static void test_latin1_text_accepted(void **state) {
    struct fx *f = *state;
    struct iof_ws_client *pub = ws_open(f, "message", "pub");
    struct iof_ws_client *recv = ws_open(f, "message", "recv");
    struct iof_msg msg = {.version = 4,
                          .publisher = "pub",
                          .infotype = "text",
                          .infoformat = "utf-8",
                          .tag = "cafX",
                          .contentdata = (const uint8_t *)"hi",
                          .contentdata_len = 2};
    uint8_t *frame = NULL;
    size_t frame_len = 0;
    assert_int_equal(iof_msg_frame_encode(&msg, &frame, &frame_len, NULL), IOF_OK);
    uint8_t *at = memmem(frame, frame_len, "cafX", 4);
    assert_non_null(at);
    at[3] = 0xE9; /* the exact bytes a Node SDK sends for "café" */
    assert_int_equal(iof_ws_client_send(pub, IOF_WS_BINARY, frame, frame_len), IOF_OK);
    free(frame);
    struct iof_ws_msg m = {0};
    assert_int_equal(ws_recv(pub, WAIT_MS, &m), IOF_OK);
    assert_int_equal(m.len, 3 + 32 + 8);
    assert_int_equal(m.data[0], 0x0E); /* the receipt */
    iof_ws_msg_free(&m);
    send_ack(pub);
    struct iof_msg *got = expect_message(recv);
    assert_string_equal(got->tag, "caf\xEF\xBF\xBD");
    iof_msg_free(got);
    send_ack(recv);

    /* REST: the same bytes inside the JSON body. */
    struct resp r = post(f,
                         "/v2/messages/new",
                         "{\"publisher\":\"pub\",\"version\":4,\"infotype\":\"text\","
                         "\"infoformat\":\"utf-8\",\"contentdata\":\"aGk=\",\"tag\":\"caf\xE9\"}");
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "status")), "okay");
    resp_free(&r);
    got = expect_message(recv);
    assert_string_equal(got->tag, "caf\xEF\xBF\xBD");
    iof_msg_free(got);
    send_ack(recv);

    json_t *s = stats(f);
    assert_int_equal(json_integer_value(json_object_get(s, "processedMessages")), 2);
    assert_int_equal(json_integer_value(json_object_get(s, "repairedTextMessages")), 2);
    json_decref(s);
    /* A NUL byte in a text field is still refused: no receipt. */
    msg.tag = "nulX";
    assert_int_equal(iof_msg_frame_encode(&msg, &frame, &frame_len, NULL), IOF_OK);
    at = memmem(frame, frame_len, "nulX", 4);
    assert_non_null(at);
    at[3] = 0;
    assert_int_equal(iof_ws_client_send(pub, IOF_WS_BINARY, frame, frame_len), IOF_OK);
    free(frame);
    expect_quiet(pub, QUIET_MS);
    close_ws(pub);
    close_ws(recv);
}

/* A route from a microservice to itself (accepted by the classic Controller): each message is
 * delivered to its publisher once, and nothing loops. */
static void test_self_route_delivers_once(void **state) {
    struct fx *f = *state;
    set_microservices(f,
                      "[{\"uuid\":\"loop\",\"config\":\"{}\",\"routes\":[\"loop\"]},"
                      "{\"uuid\":\"recv\",\"config\":\"{}\",\"routes\":[]}]");
    struct iof_ws_client *loop = ws_open(f, "message", "loop");
    struct resp r = post(f, "/v2/messages/new", new_message_body("loop", "aGk="));
    assert_int_equal(r.status, 200);
    assert_null(json_object_get(r.json, "unroutable"));
    resp_free(&r);
    struct iof_msg *got = expect_message(loop);
    assert_string_equal(got->publisher, "loop");
    iof_msg_free(got);
    send_ack(loop);
    expect_quiet(loop, QUIET_MS);
    json_t *s = stats(f);
    assert_int_equal(json_integer_value(json_object_get(s, "processedMessages")), 1);
    assert_int_equal(json_integer_value(json_object_get(s, "unroutableMessages")), 0);
    json_decref(s);
    close_ws(loop);
}

static bool host_network_pub(void *ctx, const char *uuid) {
    (void)ctx;
    return strcmp(uuid, "pub") == 0;
}

/* localApiStrict: a caller on the node itself (here 127.0.0.1) is served only for the id of a
 * host-network microservice ("pub"); without the option it may name any id. */
static void test_strict_callers(void **state) {
    struct fx *f = *state;
    struct resp r = post(f, "/v2/config/get", "{\"id\":\"recv\"}");
    assert_int_equal(r.status, 200);
    resp_free(&r);
    fx_stop(f);
    f->cfg.strict_callers = true;
    f->cfg.hooks.host_network = host_network_pub;
    fx_start(f);
    r = post(f, "/v2/config/get", "{\"id\":\"pub\"}");
    assert_int_equal(r.status, 200);
    resp_free(&r);
    r = post(f, "/v2/config/get", "{\"id\":\"recv\"}");
    assert_int_equal(r.status, 403);
    resp_free(&r);
    r = post(f, "/v2/messages/next", "{\"id\":\"recv\"}");
    assert_int_equal(r.status, 403);
    resp_free(&r);
    r = request(f, "GET", "/v2/gps", "application/json", NULL);
    assert_int_equal(r.status, 403);
    resp_free(&r);
}

int main(void) {
    (void)!iof_log_init_from_env(); /* IOFOG_LOG_LEVEL=debug to trace a failure */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_config_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_control_signal_latency, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resource_signal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_control_redelivery, setup_fast_ack, teardown),
        cmocka_unit_test_setup_teardown(test_replaced_socket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_publish_over_socket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_receipt_width_node_client, setup, teardown),
        cmocka_unit_test_setup_teardown(test_message_ack_redelivery, setup_fast_ack, teardown),
        cmocka_unit_test_setup_teardown(test_queue_bound, setup_small_queue, teardown),
        cmocka_unit_test_setup_teardown(test_queue_byte_bound, setup_small_queue_bytes, teardown),
        cmocka_unit_test_setup_teardown(test_rest_new_next_query, setup, teardown),
        cmocka_unit_test_setup_teardown(test_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_archive_across_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_and_gps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_socket_throughput, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_publishers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_keys_last_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_latin1_text_accepted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_self_route_delivers_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strict_callers, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
