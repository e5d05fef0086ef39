/* Integration tests of the WebSocket hub and client over real loopback sockets: an HTTP server on
 * 127.0.0.1 (ephemeral port) routes "/echo/:id" to iof_ws_hub_accept with an echo handler, and the
 * blocking client talks to it. Every wait is bounded. */
#include "common/clock.h"
#include "http/server.h"
#include "ws/client.h"
#include "ws/hub.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define WAIT_MS    10000
#define MAX_EVENTS 256

struct closed {
    uint64_t id;
    uint16_t status;
};

struct fixture {
    struct iof_ws_hub *hub;
    struct iof_http_server *srv;
    uint16_t port;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    uint64_t opened[MAX_EVENTS];
    size_t nopened;
    struct closed closed[MAX_EVENTS];
    size_t nclosed;
    size_t send_failures;
    char last_param[64];
    atomic_size_t received;  /* commit_handlers: messages seen */
    atomic_size_t committed; /* commit_handlers: messages seen at the last on_read_end */
    atomic_size_t read_ends;
};

static void on_open(void *ctx, uint64_t id) {
    struct fixture *f = ctx;
    pthread_mutex_lock(&f->mu);
    if (f->nopened < MAX_EVENTS) {
        f->opened[f->nopened++] = id;
    }
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->mu);
}

static void
on_message(void *ctx, uint64_t id, enum iof_ws_opcode opcode, const uint8_t *data, size_t len) {
    struct fixture *f = ctx;
    if (iof_ws_send(f->hub, id, opcode, data, len) != IOF_OK) {
        pthread_mutex_lock(&f->mu);
        f->send_failures++;
        pthread_mutex_unlock(&f->mu);
    }
}

static void on_close(void *ctx, uint64_t id, uint16_t status) {
    struct fixture *f = ctx;
    pthread_mutex_lock(&f->mu);
    if (f->nclosed < MAX_EVENTS) {
        f->closed[f->nclosed++] = (struct closed){id, status};
    }
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->mu);
}

/* Adds a Pong of its own to a Ping saying "answer", as a protocol with its own convention would. */
static void on_ping(void *ctx, uint64_t id, const uint8_t *data, size_t len) {
    struct fixture *f = ctx;
    if (len == 6 && memcmp(data, "answer", 6) == 0 &&
        iof_ws_pong(f->hub, id, "answered", 8) != IOF_OK) {
        pthread_mutex_lock(&f->mu);
        f->send_failures++;
        pthread_mutex_unlock(&f->mu);
    }
}

static const struct iof_ws_handlers echo_handlers = {
    .on_open = on_open, .on_message = on_message, .on_close = on_close, .on_ping = on_ping};

/* Echo handlers that also "commit" at each read end: what was received so far. */
static void on_commit_message(
    void *ctx, uint64_t id, enum iof_ws_opcode opcode, const uint8_t *data, size_t len) {
    struct fixture *f = ctx;
    atomic_fetch_add(&f->received, 1);
    on_message(ctx, id, opcode, data, len);
}

static void on_read_end(void *ctx, uint64_t id) {
    (void)id;
    struct fixture *f = ctx;
    atomic_store(&f->committed, atomic_load(&f->received));
    atomic_fetch_add(&f->read_ends, 1);
}

static const struct iof_ws_handlers commit_handlers = {.on_open = on_open,
                                                       .on_message = on_commit_message,
                                                       .on_close = on_close,
                                                       .on_read_end = on_read_end};

static iof_err commit_route(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
    return iof_ws_hub_accept(((struct fixture *)ctx)->hub, req, &commit_handlers, ctx, d);
}

static iof_err echo_route(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
    struct fixture *f = ctx;
    const char *id = iof_http_param(req, "id");
    pthread_mutex_lock(&f->mu);
    (void)snprintf(f->last_param, sizeof f->last_param, "%s", id != NULL ? id : "");
    pthread_mutex_unlock(&f->mu);
    return iof_ws_hub_accept(f->hub, req, &echo_handlers, f, d);
}

static int setup_with(void **state, const struct iof_ws_hub_config *hc) {
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cond, NULL);
    assert_int_equal(iof_ws_hub_new(hc, &f->hub), IOF_OK);
    struct iof_http_config cfg = {.bind_addr = "127.0.0.1", .port = 0};
    assert_int_equal(iof_http_server_new(&cfg, &f->srv), IOF_OK);
    assert_int_equal(iof_http_server_route(f->srv, "GET", "/echo/:id", echo_route, f), IOF_OK);
    assert_int_equal(iof_http_server_route(f->srv, "POST", "/echo/:id", echo_route, f), IOF_OK);
    assert_int_equal(iof_http_server_route(f->srv, "GET", "/commit", commit_route, f), IOF_OK);
    assert_int_equal(iof_http_server_start(f->srv), IOF_OK);
    f->port = iof_http_server_port(f->srv);
    assert_true(f->port != 0);
    *state = f;
    return 0;
}

static int setup(void **state) {
    struct iof_ws_hub_config hc = {.close_timeout_ms = 2000};
    return setup_with(state, &hc);
}

static int setup_timers(void **state) {
    struct iof_ws_hub_config hc = {
        .ping_interval_ms = 100,
        .idle_timeout_ms = 400,
        .close_timeout_ms = 300,
    };
    return setup_with(state, &hc);
}

static int teardown(void **state) {
    struct fixture *f = *state;
    iof_ws_hub_stop(f->hub);
    iof_http_server_free(f->srv);
    iof_ws_hub_free(f->hub);
    pthread_cond_destroy(&f->cond);
    pthread_mutex_destroy(&f->mu);
    free(f);
    return 0;
}

/* Waits until at least n connections opened (or closed); returns the count seen. */
static size_t wait_count(struct fixture *f, const size_t *counter, size_t n) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += WAIT_MS / 1000;
    pthread_mutex_lock(&f->mu);
    while (*counter < n) {
        if (pthread_cond_timedwait(&f->cond, &f->mu, &until) != 0) {
            break;
        }
    }
    size_t got = *counter;
    pthread_mutex_unlock(&f->mu);
    return got;
}

static uint16_t closed_status(struct fixture *f, uint64_t id) {
    uint16_t status = 0;
    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < f->nclosed; i++) {
        if (f->closed[i].id == id) {
            status = f->closed[i].status;
        }
    }
    pthread_mutex_unlock(&f->mu);
    return status;
}

static struct iof_ws_client *connect_echo(struct fixture *f, const char *path) {
    struct iof_ws_client *c = NULL;
    struct iof_diag d;
    iof_diag_clear(&d);
    iof_err err = iof_ws_client_connect("127.0.0.1", f->port, path, WAIT_MS, NULL, &c, &d);
    if (err != IOF_OK) {
        fail_msg("connect failed: %s", iof_diag_text(&d, err));
    }
    return c;
}

/* Connects and waits for on_open; returns the connection's id through *id. */
static struct iof_ws_client *open_echo(struct fixture *f, uint64_t *id) {
    pthread_mutex_lock(&f->mu);
    size_t before = f->nopened;
    pthread_mutex_unlock(&f->mu);
    struct iof_ws_client *c = connect_echo(f, "/echo/abc");
    assert_int_equal(wait_count(f, &f->nopened, before + 1), before + 1);
    pthread_mutex_lock(&f->mu);
    *id = f->opened[before];
    pthread_mutex_unlock(&f->mu);
    return c;
}

static void
expect_message(struct iof_ws_client *c, enum iof_ws_opcode opcode, const void *data, size_t len) {
    struct iof_ws_msg m = {0};
    assert_int_equal(iof_ws_client_recv(c, WAIT_MS, &m), IOF_OK);
    assert_int_equal(m.opcode, opcode);
    assert_int_equal(m.len, len);
    if (len > 0) {
        assert_memory_equal(m.data, data, len);
    }
    iof_ws_msg_free(&m);
}

static void expect_close(struct iof_ws_client *c, uint16_t status) {
    struct iof_ws_msg m = {0};
    assert_int_equal(iof_ws_client_recv(c, WAIT_MS, &m), IOF_OK);
    assert_int_equal(m.opcode, IOF_WS_CLOSE);
    assert_int_equal(m.status, status);
    iof_ws_msg_free(&m);
    assert_int_equal(iof_ws_client_recv(c, 0, &m), IOF_ECONFLICT);
}

/* ---- tests ---- */

static void test_echo_sizes(void **state) {
    struct fixture *f = *state;
    uint64_t id = 0;
    struct iof_ws_client *c = open_echo(f, &id);
    pthread_mutex_lock(&f->mu);
    assert_string_equal(f->last_param, "abc");
    pthread_mutex_unlock(&f->mu);
    const size_t sizes[] = {0, 1, 125, 126, 65535, 65536, (size_t)1 << 20};
    uint8_t *data = malloc((size_t)1 << 20);
    assert_non_null(data);
    for (size_t i = 0; i < ((size_t)1 << 20); i++) {
        data[i] = (uint8_t)(i * 31 + 7);
    }
    char *text = malloc(((size_t)1 << 20) + 1);
    assert_non_null(text);
    for (size_t i = 0; i < ((size_t)1 << 20); i++) {
        text[i] = (char)('a' + i % 26);
    }
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        assert_int_equal(iof_ws_client_send(c, IOF_WS_TEXT, text, sizes[k]), IOF_OK);
        expect_message(c, IOF_WS_TEXT, text, sizes[k]);
        assert_int_equal(iof_ws_client_send(c, IOF_WS_BINARY, data, sizes[k]), IOF_OK);
        expect_message(c, IOF_WS_BINARY, data, sizes[k]);
    }
    free(data);
    free(text);
    assert_int_equal(f->send_failures, 0);
    assert_int_equal(iof_ws_client_close(c, 1000, NULL), IOF_OK);
    iof_ws_client_free(c);
    assert_int_equal(wait_count(f, &f->nclosed, 1), 1);
    assert_int_equal(closed_status(f, id), 1000);
    assert_int_equal(f->nopened, 1);
}

/* A burst sent before anything is read back: the hub gathers the echoes into few writes (sizes
 * chosen to cross its 64 KiB gathering buffer and its direct-write threshold); every echo arrives
 * whole and in order, and only after the on_read_end that followed its message (a handler's
 * commit point comes before the sends it caused are written). */
static void test_burst_order_and_read_end(void **state) {
    struct fixture *f = *state;
    struct iof_ws_client *c = connect_echo(f, "/commit");
    enum { N = 300 };
    static uint8_t buf[70000];
    size_t sizes[N];
    for (size_t i = 0; i < N; i++) {
        sizes[i] = i % 50 == 7 ? 20000 + i * 100 : 4 + (i * 37) % 300;
        assert_true(sizes[i] <= sizeof buf);
    }
    for (size_t i = 0; i < N; i++) {
        memset(buf, (int)(i & 0xff), sizes[i]);
        memcpy(buf, &i, sizeof i < sizes[i] ? sizeof i : sizes[i]);
        assert_int_equal(iof_ws_client_send(c, IOF_WS_BINARY, buf, sizes[i]), IOF_OK);
    }
    for (size_t i = 0; i < N; i++) {
        struct iof_ws_msg m = {0};
        assert_int_equal(iof_ws_client_recv(c, WAIT_MS, &m), IOF_OK);
        assert_int_equal(m.opcode, IOF_WS_BINARY);
        assert_int_equal(m.len, sizes[i]);
        memset(buf, (int)(i & 0xff), sizes[i]);
        memcpy(buf, &i, sizeof i < sizes[i] ? sizeof i : sizes[i]);
        assert_memory_equal(m.data, buf, sizes[i]);
        iof_ws_msg_free(&m);
        assert_true(atomic_load(&f->committed) >= i + 1);
    }
    assert_true(atomic_load(&f->read_ends) >= 1);
    assert_true(atomic_load(&f->read_ends) <= N);
    assert_int_equal(f->send_failures, 0);
    iof_ws_client_free(c);
}

static void test_ping_pong(void **state) {
    struct fixture *f = *state;
    uint64_t id = 0;
    struct iof_ws_client *c = open_echo(f, &id);
    assert_int_equal(iof_ws_client_ping(c, "hello", 5), IOF_OK);
    expect_message(c, IOF_WS_PONG, "hello", 5);
    assert_int_equal(iof_ws_client_ping(c, NULL, 0), IOF_OK);
    expect_message(c, IOF_WS_PONG, NULL, 0);
    char big[126] = {0};
    assert_int_equal(iof_ws_client_ping(c, big, sizeof big), IOF_E2BIG);
    /* a ping from the hub is answered by the client without showing up */
    assert_int_equal(iof_ws_ping(f->hub, id, "hub", 3), IOF_OK);
    assert_int_equal(iof_ws_client_send(c, IOF_WS_TEXT, "after", 5), IOF_OK);
    expect_message(c, IOF_WS_TEXT, "after", 5);
    /* on_ping: the RFC echo first, then the handler's own Pong; nothing extra for other pings
     * (the text sent after "hello" is the next thing after its echo) */
    assert_int_equal(iof_ws_client_ping(c, "answer", 6), IOF_OK);
    expect_message(c, IOF_WS_PONG, "answer", 6);
    expect_message(c, IOF_WS_PONG, "answered", 8);
    assert_int_equal(iof_ws_client_ping(c, "hello", 5), IOF_OK);
    assert_int_equal(iof_ws_client_send(c, IOF_WS_TEXT, "next", 4), IOF_OK);
    expect_message(c, IOF_WS_PONG, "hello", 5);
    expect_message(c, IOF_WS_TEXT, "next", 4);
    assert_int_equal(iof_ws_pong(f->hub, id, big, sizeof big), IOF_E2BIG);
    assert_int_equal(f->send_failures, 0);
    iof_ws_client_free(c);
    assert_int_equal(wait_count(f, &f->nclosed, 1), 1);
    assert_int_equal(iof_ws_pong(f->hub, id, "late", 4), IOF_ENOENT);
}

static void test_close_status_echoed(void **state) {
    struct fixture *f = *state;
    uint64_t id = 0;
    struct iof_ws_client *c = open_echo(f, &id);
    assert_int_equal(iof_ws_client_close(c, 4001, "bye"), IOF_OK);
    expect_close(c, 4001); /* the server's echo of our close */
    assert_int_equal(iof_ws_client_send(c, IOF_WS_TEXT, "x", 1), IOF_ECONFLICT);
    iof_ws_client_free(c);
    assert_int_equal(wait_count(f, &f->nclosed, 1), 1);
    assert_int_equal(closed_status(f, id), 4001);
}

static void test_message_too_big(void **state) {
    struct fixture *f = *state;
    uint64_t id = 0;
    struct iof_ws_client *c = open_echo(f, &id);
    size_t n = ((size_t)1 << 20) + 1;
    uint8_t *data = calloc(1, n);
    assert_non_null(data);
    iof_err err = iof_ws_client_send(c, IOF_WS_BINARY, data, n);
    assert_true(err == IOF_OK || err == IOF_EIO);
    free(data);
    expect_close(c, 1009);
    iof_ws_client_free(c);
    assert_int_equal(wait_count(f, &f->nclosed, 1), 1);
    assert_int_equal(closed_status(f, id), 1009);
}

static void test_stale_id(void **state) {
    struct fixture *f = *state;
    uint64_t id = 0;
    struct iof_ws_client *c = open_echo(f, &id);
    assert_int_equal(iof_ws_send(f->hub, id, IOF_WS_TEXT, "ok", 2), IOF_OK);
    expect_message(c, IOF_WS_TEXT, "ok", 2);
    assert_int_equal(iof_ws_client_close(c, 1000, NULL), IOF_OK);
    iof_ws_client_free(c);
    assert_int_equal(wait_count(f, &f->nclosed, 1), 1);
    assert_int_equal(iof_ws_send(f->hub, id, IOF_WS_TEXT, "late", 4), IOF_ENOENT);
    assert_int_equal(iof_ws_ping(f->hub, id, NULL, 0), IOF_ENOENT);
    assert_int_equal(iof_ws_close(f->hub, id, 1000, NULL), IOF_ENOENT);
    assert_int_equal(iof_ws_send(f->hub, 0, IOF_WS_TEXT, "x", 1), IOF_ENOENT);
    assert_int_equal(iof_ws_send(f->hub, UINT64_MAX, IOF_WS_TEXT, "x", 1), IOF_ENOENT);
    /* the next connection may reuse the slot, but not the id */
    uint64_t id2 = 0;
    c = open_echo(f, &id2);
    assert_true(id2 != id);
    assert_int_equal(iof_ws_send(f->hub, id, IOF_WS_TEXT, "late", 4), IOF_ENOENT);
    assert_int_equal(iof_ws_send(f->hub, id2, IOF_WS_CLOSE, "x", 1), IOF_EINVAL);
    assert_int_equal(iof_ws_close(f->hub, id2, 1006, NULL), IOF_EINVAL);
    iof_ws_client_free(c);
}

struct worker {
    struct fixture *f;
    int index;
    int ok;
};

static void *client_worker(void *arg) {
    struct worker *w = arg;
    struct iof_ws_client *c = NULL;
    struct iof_diag d;
    char path[32];
    (void)snprintf(path, sizeof path, "/echo/w%d", w->index);
    if (iof_ws_client_connect("127.0.0.1", w->f->port, path, WAIT_MS, NULL, &c, &d) != IOF_OK) {
        return NULL;
    }
    int good = 0;
    for (int i = 0; i < 50; i++) {
        char msg[64];
        int len = snprintf(msg, sizeof msg, "client %d message %d", w->index, i);
        struct iof_ws_msg m = {0};
        if (iof_ws_client_send(c, IOF_WS_TEXT, msg, (size_t)len) == IOF_OK &&
            iof_ws_client_recv(c, WAIT_MS, &m) == IOF_OK && m.opcode == IOF_WS_TEXT &&
            m.len == (size_t)len && memcmp(m.data, msg, m.len) == 0) {
            good++;
        }
        iof_ws_msg_free(&m);
    }
    if (iof_ws_client_close(c, 1000, NULL) == IOF_OK) {
        good++;
    }
    iof_ws_client_free(c);
    w->ok = good == 51;
    return NULL;
}

static void test_concurrent_clients(void **state) {
    struct fixture *f = *state;
    enum { N = 8 };
    pthread_t threads[N];
    struct worker workers[N];
    for (int i = 0; i < N; i++) {
        workers[i] = (struct worker){f, i, 0};
        assert_int_equal(pthread_create(&threads[i], NULL, client_worker, &workers[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(threads[i], NULL);
        assert_true(workers[i].ok);
    }
    assert_int_equal(wait_count(f, &f->nclosed, N), N);
    assert_int_equal(f->nopened, N);
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(f->closed[i].status, 1000);
    }
}

struct pusher {
    struct iof_ws_hub *hub;
    uint64_t id;
    iof_err send_err;
    iof_err close_err;
};

static void *push_from_thread(void *arg) {
    struct pusher *p = arg;
    p->send_err = iof_ws_send(p->hub, p->id, IOF_WS_TEXT, "pushed", 6);
    p->close_err = iof_ws_close(p->hub, p->id, 4002, "done");
    return NULL;
}

static void test_server_push_from_thread(void **state) {
    struct fixture *f = *state;
    uint64_t id = 0;
    struct iof_ws_client *c = open_echo(f, &id);
    struct pusher p = {f->hub, id, IOF_EINTERNAL, IOF_EINTERNAL};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, push_from_thread, &p), 0);
    pthread_join(t, NULL);
    assert_int_equal(p.send_err, IOF_OK);
    assert_int_equal(p.close_err, IOF_OK);
    assert_int_equal(iof_ws_send(f->hub, id, IOF_WS_TEXT, "closing", 7), IOF_ENOENT);
    expect_message(c, IOF_WS_TEXT, "pushed", 6);
    expect_close(c, 4002);
    iof_ws_client_free(c);
    assert_int_equal(wait_count(f, &f->nclosed, 1), 1);
    assert_int_equal(closed_status(f, id), 4002);
}

static void test_vanishing_client(void **state) {
    struct fixture *f = *state;
    uint64_t id = 0;
    struct iof_ws_client *c = open_echo(f, &id);
    iof_ws_client_free(c); /* no close frame */
    assert_int_equal(wait_count(f, &f->nclosed, 1), 1);
    assert_int_equal(closed_status(f, id), 1006);
    assert_int_equal(iof_ws_send(f->hub, id, IOF_WS_TEXT, "x", 1), IOF_ENOENT);
}

static void test_backpressure(void **state) {
    struct fixture *f = *state;
    uint64_t id = 0;
    struct iof_ws_client *c = open_echo(f, &id); /* never reads */
    size_t n = (size_t)1 << 20;
    uint8_t *data = calloc(1, ((size_t)4 << 20) + 1);
    assert_non_null(data);
    assert_int_equal(iof_ws_send(f->hub, id, IOF_WS_BINARY, data, ((size_t)4 << 20) + 1),
                     IOF_E2BIG);
    iof_err err = IOF_OK;
    for (int i = 0; i < 200 && err == IOF_OK; i++) {
        err = iof_ws_send(f->hub, id, IOF_WS_BINARY, data, n);
    }
    assert_int_equal(err, IOF_EBUSY);
    free(data);
    iof_ws_client_free(c);
    assert_int_equal(wait_count(f, &f->nclosed, 1), 1);
}

/* Sends a raw request and returns the response head (first read) in buf. */
static void raw_request(uint16_t port, const char *request, char *buf, size_t size) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    struct timeval tv = {.tv_sec = WAIT_MS / 1000};
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    size_t len = strlen(request);
    assert_int_equal(send(fd, request, len, MSG_NOSIGNAL), (ssize_t)len);
    size_t got = 0;
    while (got + 1 < size) {
        ssize_t n = recv(fd, buf + got, size - 1 - got, 0);
        if (n <= 0) {
            break;
        }
        got += (size_t)n;
        buf[got] = '\0';
        if (strstr(buf, "\r\n\r\n") != NULL) {
            break;
        }
    }
    buf[got] = '\0';
    close(fd);
}

static void test_handshake_rejections(void **state) {
    struct fixture *f = *state;
    char resp[4096];
    raw_request(f->port,
                "GET /echo/x HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n",
                resp,
                sizeof resp);
    assert_non_null(strstr(resp, "HTTP/1.1 400"));
    raw_request(f->port,
                "GET /echo/x HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
                resp,
                sizeof resp);
    assert_non_null(strstr(resp, "HTTP/1.1 426"));
    assert_non_null(strstr(resp, "Sec-WebSocket-Version: 13"));
    raw_request(f->port,
                "POST /echo/x HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                "Content-Length: 0\r\n\r\n",
                resp,
                sizeof resp);
    assert_non_null(strstr(resp, "HTTP/1.1 400"));
    /* the client reports a refused handshake */
    struct iof_ws_client *c = NULL;
    struct iof_diag d;
    assert_int_equal(iof_ws_client_connect("127.0.0.1", f->port, "/nowhere", WAIT_MS, NULL, &c, &d),
                     IOF_EREMOTE);
    assert_null(c);
    assert_int_equal(f->nopened, 0);
}

/* Reads until the close arrives, then drops the connection; reports the close status. */
struct closer {
    struct iof_ws_client *c;
    uint16_t status;
};

static void *read_close(void *arg) {
    struct closer *cl = arg;
    struct iof_ws_msg m = {0};
    if (iof_ws_client_recv(cl->c, WAIT_MS, &m) == IOF_OK && m.opcode == IOF_WS_CLOSE) {
        cl->status = m.status;
    }
    iof_ws_msg_free(&m);
    iof_ws_client_free(cl->c);
    return NULL;
}

static void test_hub_stop_closes(void **state) {
    struct fixture *f = *state;
    uint64_t id = 0;
    struct closer cl = {open_echo(f, &id), 0};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, read_close, &cl), 0);
    int64_t start = iof_time_mono_ms();
    iof_ws_hub_stop(f->hub);
    int64_t took = iof_time_mono_ms() - start;
    pthread_join(t, NULL);
    assert_true(took < 1500); /* the client answered: no waiting for the close timeout */
    assert_int_equal(cl.status, 1001);
    assert_int_equal(f->nclosed, 1); /* on_close ran before stop returned */
    assert_int_equal(closed_status(f, id), 1001);
    assert_int_equal(iof_ws_send(f->hub, id, IOF_WS_TEXT, "x", 1), IOF_ENOENT);
}

static void test_hub_stop_unresponsive_peer(void **state) {
    struct fixture *f = *state;
    uint64_t id = 0;
    struct iof_ws_client *c = open_echo(f, &id); /* never reads: the close timeout applies */
    iof_ws_hub_stop(f->hub);
    assert_int_equal(closed_status(f, id), 1001);
    expect_close(c, 1001);
    iof_ws_client_free(c);
}

/* With pings every 100 ms and a 400 ms idle timeout, a client that keeps reading answers the
 * pings and stays open; one that does not is closed with 1001. */
static void test_ping_and_idle(void **state) {
    struct fixture *f = *state;
    uint64_t live_id = 0;
    struct iof_ws_client *live = open_echo(f, &live_id);
    uint64_t idle_id = 0;
    struct iof_ws_client *idle = open_echo(f, &idle_id);
    int64_t until = iof_time_mono_ms() + 1200;
    while (iof_time_mono_ms() < until) {
        struct iof_ws_msg m = {0};
        assert_int_equal(iof_ws_client_recv(live, 50, &m), IOF_ETIMEOUT);
    }
    assert_int_equal(wait_count(f, &f->nclosed, 1), 1);
    assert_int_equal(closed_status(f, idle_id), 1001);
    assert_int_equal(closed_status(f, live_id), 0); /* still open */
    assert_int_equal(iof_ws_send(f->hub, live_id, IOF_WS_TEXT, "alive", 5), IOF_OK);
    expect_message(live, IOF_WS_TEXT, "alive", 5);
    expect_close(idle, 1001);
    iof_ws_client_free(idle);
    iof_ws_client_free(live);
}

static void test_hub_config(void **state) {
    (void)state;
    struct iof_ws_hub *hub = NULL;
    struct iof_ws_hub_config bad = {.close_timeout_ms = -1};
    assert_int_equal(iof_ws_hub_new(&bad, &hub), IOF_EINVAL);
    assert_null(hub);
    assert_int_equal(iof_ws_hub_new(NULL, &hub), IOF_OK);
    iof_ws_hub_stop(hub);
    iof_ws_hub_stop(hub); /* idempotent */
    iof_ws_hub_free(hub);
    iof_ws_hub_free(NULL);
}

static void test_client_arguments(void **state) {
    struct fixture *f = *state;
    struct iof_ws_client *c = NULL;
    struct iof_diag d;
    assert_int_equal(iof_ws_client_connect("127.0.0.1", f->port, "no-slash", 1000, NULL, &c, &d),
                     IOF_EINVAL);
    assert_int_equal(iof_ws_client_connect("127.0.0.1", f->port, "/a b", 1000, NULL, &c, &d),
                     IOF_EINVAL);
    const char *const bad_headers[] = {"X-Bad", "a\r\nb", NULL};
    struct iof_ws_client_opts o = {.headers = bad_headers};
    assert_int_equal(iof_ws_client_connect("127.0.0.1", f->port, "/echo/x", 1000, &o, &c, &d),
                     IOF_EINVAL);
    assert_null(c);
    const char *const headers[] = {"Authorization", "Bearer abc", NULL};
    o.headers = headers;
    assert_int_equal(iof_ws_client_connect("127.0.0.1", f->port, "/echo/x", 1000, &o, &c, &d),
                     IOF_OK);
    assert_true(iof_ws_client_fd(c) >= 0);
    assert_int_equal(iof_ws_client_pending(c), 0);
    struct iof_ws_msg m = {0};
    assert_int_equal(iof_ws_client_recv(c, 0, &m), IOF_ETIMEOUT);
    assert_int_equal(iof_ws_client_send(c, IOF_WS_PING, "x", 1), IOF_EINVAL);
    iof_ws_client_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_echo_sizes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_burst_order_and_read_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ping_pong, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_status_echoed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_message_too_big, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_clients, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_push_from_thread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vanishing_client, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backpressure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handshake_rejections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hub_stop_closes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hub_stop_unresponsive_peer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ping_and_idle, setup_timers, teardown),
        cmocka_unit_test(test_hub_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
