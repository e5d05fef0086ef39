/* Blocking WebSocket client: TCP connect with a deadline, the HTTP upgrade, then a session driven
 * with poll(2). Received messages are queued in a bounded inbox until the caller takes them. */
#include "ws/client.h"

#include "common/buf.h"
#include "common/clock.h"
#include "ws/handshake.h"
#include "ws/session.h"

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define DEFAULT_MAX_INBOX  ((size_t)4 << 20)
#define DEFAULT_IO_TIMEOUT 10000
#define MAX_REQUEST        16384

struct inbox_item {
    struct inbox_item *next;
    struct iof_ws_msg msg;
};

struct iof_ws_client {
    int fd;
    struct iof_ws_session *s;
    size_t max_inbox;
    int io_timeout_ms;
    struct inbox_item *head;
    struct inbox_item *tail;
    size_t inbox_bytes;
    size_t inbox_count;
    bool close_queued;    /* a CLOSE event is in the inbox (or was handed out) */
    bool close_delivered; /* the CLOSE event was handed out */
    bool discard_data;    /* closing: data messages are dropped */
    bool oom;             /* an event could not be stored */
};

/* Deadline helpers: a deadline of -1 means none. */
static int64_t deadline_after(int timeout_ms) {
    return timeout_ms < 0 ? -1 : iof_time_mono_ms() + timeout_ms;
}

static int remaining_ms(int64_t deadline) {
    if (deadline < 0) {
        return -1;
    }
    int64_t left = deadline - iof_time_mono_ms();
    if (left <= 0) {
        return 0;
    }
    return left > INT_MAX ? INT_MAX : (int)left;
}

/* ---- session I/O and events ---- */

/* Whether the inbox has room; while closing, data is dropped, so there always is. */
static bool inbox_open(const struct iof_ws_client *c) {
    return c->discard_data || c->inbox_bytes < c->max_inbox;
}

static ssize_t client_read(void *ctx, uint8_t *buf, size_t len) {
    struct iof_ws_client *c = ctx;
    if (!inbox_open(c)) {
        return IOF_WS_IO_AGAIN;
    }
    for (;;) {
        ssize_t n = recv(c->fd, buf, len, 0);
        if (n > 0) {
            return n;
        }
        if (n == 0) {
            return IOF_WS_IO_FAIL;
        }
        if (errno == EINTR) {
            continue;
        }
        return errno == EAGAIN || errno == EWOULDBLOCK ? IOF_WS_IO_AGAIN : IOF_WS_IO_FAIL;
    }
}

static ssize_t client_write(void *ctx, const uint8_t *buf, size_t len) {
    struct iof_ws_client *c = ctx;
    for (;;) {
        ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
        if (n > 0) {
            return n;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? IOF_WS_IO_AGAIN
                                                                  : IOF_WS_IO_FAIL;
    }
}

static bool push_event(struct iof_ws_client *c,
                       enum iof_ws_opcode opcode,
                       const uint8_t *data,
                       size_t len,
                       uint16_t status) {
    struct inbox_item *it = calloc(1, sizeof *it);
    uint8_t *copy = malloc(len + 1);
    if (it == NULL || copy == NULL) {
        free(it);
        free(copy);
        c->oom = true;
        return false;
    }
    if (len > 0) {
        memcpy(copy, data, len);
    }
    copy[len] = '\0';
    it->msg.opcode = opcode;
    it->msg.data = copy;
    it->msg.len = len;
    it->msg.status = status;
    if (c->tail != NULL) {
        c->tail->next = it;
    } else {
        c->head = it;
    }
    c->tail = it;
    c->inbox_bytes += len;
    c->inbox_count++;
    return true;
}

static void client_event(void *ctx, const struct iof_ws_event *ev) {
    struct iof_ws_client *c = ctx;
    switch (ev->opcode) {
        case IOF_WS_TEXT:
        case IOF_WS_BINARY:
            if (!c->discard_data) {
                (void)push_event(c, ev->opcode, ev->data, ev->len, 0);
            }
            return;
        case IOF_WS_PONG: (void)push_event(c, ev->opcode, ev->data, ev->len, 0); return;
        case IOF_WS_CLOSE:
            if (!c->close_queued && push_event(c, IOF_WS_CLOSE, ev->data, ev->len, ev->status)) {
                c->close_queued = true;
            }
            return;
        default: return; /* pings are answered by the session */
    }
}

static const struct iof_ws_session_ops client_ops = {
    .io_read = client_read,
    .io_write = client_write,
    .on_event = client_event,
};

/* Once the session is over without the server's close frame, queues the final CLOSE event. */
static void note_end(struct iof_ws_client *c) {
    if (!c->close_queued && iof_ws_session_finished(c->s) &&
        push_event(c, IOF_WS_CLOSE, NULL, 0, iof_ws_session_status(c->s))) {
        c->close_queued = true;
    }
}

/* Waits up to the deadline for the socket to be ready for what the session wants, then reads and
 * writes what it can. IOF_OK after any progress or when there is nothing to wait for,
 * IOF_ETIMEOUT, IOF_EIO when the connection broke, IOF_ENOMEM. */
static iof_err pump(struct iof_ws_client *c, int64_t deadline) {
    short events = 0;
    if (iof_ws_session_want_write(c->s)) {
        events |= POLLOUT;
    }
    if (iof_ws_session_want_read(c->s) && inbox_open(c)) {
        events |= POLLIN;
    }
    if (events == 0) {
        return IOF_OK;
    }
    struct pollfd p = {.fd = c->fd, .events = events, .revents = 0};
    int n;
    do {
        n = poll(&p, 1, remaining_ms(deadline));
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return IOF_EIO;
    }
    if (n == 0) {
        return IOF_ETIMEOUT;
    }
    iof_err err = IOF_OK;
    if ((p.revents & (POLLIN | POLLERR | POLLHUP)) != 0 && (events & POLLIN) != 0) {
        err = iof_ws_session_read(c->s);
    }
    if (err == IOF_OK && iof_ws_session_want_write(c->s)) {
        err = iof_ws_session_write(c->s);
    }
    note_end(c);
    if (err == IOF_OK && c->oom) {
        c->oom = false;
        err = IOF_ENOMEM;
    }
    return err;
}

/* Writes everything queued, reading meanwhile, until the deadline. */
static iof_err flush(struct iof_ws_client *c, int64_t deadline) {
    iof_err err = iof_ws_session_write(c->s);
    while (err == IOF_OK && iof_ws_session_want_write(c->s)) {
        err = pump(c, deadline);
    }
    note_end(c);
    return err;
}

/* ---- connecting ---- */

static bool text_ok(const char *s, bool allow_space) {
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        bool blank = *p == ' ' || *p == '\t';
        if (*p == 0x7f || (*p < 0x20 && *p != '\t') || (blank && !allow_space)) {
            return false;
        }
    }
    return true;
}

static iof_err check_args(const char *host,
                          const char *path,
                          const struct iof_ws_client_opts *o,
                          struct iof_diag *d) {
    if (host == NULL || *host == '\0' || !text_ok(host, false)) {
        return iof_fail(d, IOF_EINVAL, "WebSocket client: bad host");
    }
    if (path == NULL || path[0] != '/' || !text_ok(path, false)) {
        return iof_fail(d, IOF_EINVAL, "WebSocket client: bad path");
    }
    for (const char *const *h = o->headers; h != NULL && h[0] != NULL; h += 2) {
        if (h[1] == NULL || *h[0] == '\0' || !text_ok(h[0], false) || strchr(h[0], ':') != NULL ||
            !text_ok(h[1], true)) {
            return iof_fail(d, IOF_EINVAL, "WebSocket client: bad extra header");
        }
    }
    return IOF_OK;
}

/* Connects a non-blocking socket to one address before the deadline. */
static iof_err connect_one(const struct addrinfo *ai, int64_t deadline, int *out) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
        return IOF_EIO;
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        if (errno != EINPROGRESS) {
            close(fd);
            return IOF_EIO;
        }
        struct pollfd p = {.fd = fd, .events = POLLOUT, .revents = 0};
        int n;
        do {
            n = poll(&p, 1, remaining_ms(deadline));
        } while (n < 0 && errno == EINTR);
        int soerr = 0;
        socklen_t slen = sizeof soerr;
        if (n <= 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &slen) != 0 || soerr != 0) {
            close(fd);
            return n == 0 ? IOF_ETIMEOUT : IOF_EIO;
        }
    }
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    *out = fd;
    return IOF_OK;
}

static iof_err
connect_tcp(const char *host, uint16_t port, int64_t deadline, int *out, struct iof_diag *d) {
    char service[8];
    (void)snprintf(service, sizeof service, "%u", (unsigned)port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(host, service, &hints, &res);
    if (gai != 0) {
        return iof_fail(
            d, IOF_EIO, "WebSocket client: cannot resolve %s: %s", host, gai_strerror(gai));
    }
    iof_err err = IOF_EIO;
    for (const struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        err = connect_one(ai, deadline, out);
        if (err == IOF_OK || err == IOF_ETIMEOUT) {
            break;
        }
    }
    freeaddrinfo(res);
    if (err != IOF_OK) {
        return iof_fail(d, err, "WebSocket client: cannot connect to %s:%u", host, (unsigned)port);
    }
    return IOF_OK;
}

static iof_err write_all(int fd, const uint8_t *data, size_t len, int64_t deadline) {
    size_t off = 0;
    while (off < len) {
        ssize_t n = send(fd, data + off, len - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            return IOF_EIO;
        }
        struct pollfd p = {.fd = fd, .events = POLLOUT, .revents = 0};
        int r = poll(&p, 1, remaining_ms(deadline));
        if (r == 0) {
            return IOF_ETIMEOUT;
        }
        if (r < 0 && errno != EINTR) {
            return IOF_EIO;
        }
    }
    return IOF_OK;
}

static iof_err build_request(struct iof_buf *b,
                             const char *host,
                             uint16_t port,
                             const char *path,
                             const char *key,
                             const char *const *headers) {
    bool v6 = strchr(host, ':') != NULL;
    iof_err err = iof_buf_printf(b,
                                 "GET %s HTTP/1.1\r\nHost: %s%s%s:%u\r\nUpgrade: websocket\r\n"
                                 "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                                 "Sec-WebSocket-Version: 13\r\n",
                                 path,
                                 v6 ? "[" : "",
                                 host,
                                 v6 ? "]" : "",
                                 (unsigned)port,
                                 key);
    for (const char *const *h = headers; err == IOF_OK && h != NULL && h[0] != NULL; h += 2) {
        err = iof_buf_printf(b, "%s: %s\r\n", h[0], h[1]);
    }
    if (err == IOF_OK) {
        err = iof_buf_append(b, "\r\n", 2);
    }
    return err;
}

/* Reads the response head; bytes after it are left in buf[*head_len..*total). */
static iof_err read_head(int fd,
                         char *buf,
                         size_t size,
                         int64_t deadline,
                         size_t *head_len,
                         size_t *total,
                         struct iof_diag *d) {
    size_t len = 0;
    for (;;) {
        if (iof_ws_find_head_end(buf, len, head_len)) {
            *total = len;
            return IOF_OK;
        }
        if (len == size) {
            return iof_fail(
                d, IOF_E2BIG, "WebSocket handshake: response head over %zu bytes", size);
        }
        ssize_t n = recv(fd, buf + len, size - len, 0);
        if (n > 0) {
            len += (size_t)n;
            continue;
        }
        if (n == 0) {
            return iof_fail(d, IOF_EPROTO, "WebSocket handshake: connection closed by server");
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            return iof_fail(d, IOF_EIO, "WebSocket handshake: read failed: %s", strerror(errno));
        }
        struct pollfd p = {.fd = fd, .events = POLLIN, .revents = 0};
        int r = poll(&p, 1, remaining_ms(deadline));
        if (r == 0) {
            return iof_fail(d, IOF_ETIMEOUT, "WebSocket handshake: no response in time");
        }
        if (r < 0 && errno != EINTR) {
            return iof_fail(d, IOF_EIO, "WebSocket handshake: poll failed");
        }
    }
}

/* Upgrades the connected socket fd and creates the session. */
static iof_err handshake(struct iof_ws_client *c,
                         const char *host,
                         uint16_t port,
                         const char *path,
                         const struct iof_ws_client_opts *o,
                         int64_t deadline,
                         struct iof_diag *d) {
    char key[IOF_WS_KEY_LEN + 1];
    char accept[IOF_WS_ACCEPT_LEN + 1];
    iof_err err = iof_ws_client_key(key);
    if (err == IOF_OK) {
        err = iof_ws_accept_key(key, accept);
    }
    if (err != IOF_OK) {
        return iof_fail(d, err, "WebSocket client: cannot make a key");
    }
    struct iof_buf req;
    iof_buf_init(&req, MAX_REQUEST);
    err = build_request(&req, host, port, path, key, o->headers);
    if (err != IOF_OK) {
        iof_buf_free(&req);
        return iof_fail(d, err, "WebSocket client: request too large");
    }
    err = write_all(c->fd, req.data, req.len, deadline);
    iof_buf_free(&req);
    if (err != IOF_OK) {
        return iof_fail(d, err, "WebSocket handshake: cannot send the request");
    }
    char *buf = malloc(IOF_WS_MAX_RESPONSE_HEAD);
    if (buf == NULL) {
        return IOF_ENOMEM;
    }
    size_t head_len = 0;
    size_t total = 0;
    err = read_head(c->fd, buf, IOF_WS_MAX_RESPONSE_HEAD, deadline, &head_len, &total, d);
    if (err == IOF_OK) {
        err = iof_ws_handshake_check_response(buf, head_len, accept, d);
    }
    if (err == IOF_OK) {
        struct iof_ws_session_config sc = {
            .server = false,
            .max_message = o->max_message != 0 ? o->max_message : IOF_WS_DEFAULT_MAX_MESSAGE,
            .ops = &client_ops,
            .ctx = c,
        };
        err = iof_ws_session_new(&sc, (const uint8_t *)buf + head_len, total - head_len, &c->s);
        if (err != IOF_OK) {
            (void)iof_fail(d, err, "WebSocket client: cannot create the session");
        }
    }
    if (err == IOF_OK && total > head_len) {
        /* Frames that came with the 101 make no poll event later: take them in now, so recv and
         * iof_ws_client_pending see them (the socket is non-blocking; what else is there is
         * read too). A failure here ends the session, which recv then reports as a CLOSE. */
        (void)!iof_ws_session_read(c->s);
        note_end(c);
    }
    free(buf);
    return err;
}

iof_err iof_ws_client_connect(const char *host,
                              uint16_t port,
                              const char *path,
                              int timeout_ms,
                              const struct iof_ws_client_opts *opts,
                              struct iof_ws_client **out,
                              struct iof_diag *d) {
    static const struct iof_ws_client_opts defaults = {0, 0, 0, NULL};
    const struct iof_ws_client_opts *o = opts != NULL ? opts : &defaults;
    iof_err err = check_args(host, path, o, d);
    if (err != IOF_OK) {
        return err;
    }
    struct iof_ws_client *c = calloc(1, sizeof *c);
    if (c == NULL) {
        return IOF_ENOMEM;
    }
    c->fd = -1;
    c->max_inbox = o->max_inbox != 0 ? o->max_inbox : DEFAULT_MAX_INBOX;
    c->io_timeout_ms = o->io_timeout_ms > 0 ? o->io_timeout_ms : DEFAULT_IO_TIMEOUT;
    int64_t deadline = deadline_after(timeout_ms);
    err = connect_tcp(host, port, deadline, &c->fd, d);
    if (err == IOF_OK) {
        err = handshake(c, host, port, path, o, deadline, d);
    }
    if (err != IOF_OK) {
        iof_ws_client_free(c);
        return err;
    }
    *out = c;
    return IOF_OK;
}

/* ---- using the connection ---- */

static iof_err
send_message(struct iof_ws_client *c, enum iof_ws_opcode opcode, const void *data, size_t len) {
    if (c->close_queued || iof_ws_session_close_sent(c->s) || iof_ws_session_finished(c->s)) {
        return IOF_ECONFLICT;
    }
    iof_err err = iof_ws_session_queue(c->s, opcode, data, len);
    if (err != IOF_OK) {
        return err;
    }
    return flush(c, deadline_after(c->io_timeout_ms));
}

iof_err iof_ws_client_send(struct iof_ws_client *c,
                           enum iof_ws_opcode opcode,
                           const void *data,
                           size_t len) {
    if (opcode != IOF_WS_TEXT && opcode != IOF_WS_BINARY) {
        return IOF_EINVAL;
    }
    return send_message(c, opcode, data, len);
}

iof_err iof_ws_client_ping(struct iof_ws_client *c, const void *payload, size_t len) {
    if (len > IOF_WS_MAX_CONTROL) {
        return IOF_E2BIG;
    }
    return send_message(c, IOF_WS_PING, payload, len);
}

static void pop(struct iof_ws_client *c, struct iof_ws_msg *out) {
    struct inbox_item *it = c->head;
    c->head = it->next;
    if (c->head == NULL) {
        c->tail = NULL;
    }
    c->inbox_bytes -= it->msg.len;
    c->inbox_count--;
    if (it->msg.opcode == IOF_WS_CLOSE) {
        c->close_delivered = true;
    }
    *out = it->msg;
    free(it);
}

iof_err iof_ws_client_recv(struct iof_ws_client *c, int timeout_ms, struct iof_ws_msg *out) {
    int64_t deadline = deadline_after(timeout_ms);
    for (;;) {
        if (c->head != NULL) {
            pop(c, out);
            return IOF_OK;
        }
        if (c->close_delivered) {
            return IOF_ECONFLICT;
        }
        if (iof_ws_session_finished(c->s)) {
            note_end(c);
            if (c->head == NULL) {
                return IOF_ENOMEM;
            }
            continue;
        }
        iof_err err = pump(c, deadline);
        /* IOF_EIO: the session is finished now and the loop hands out its CLOSE event. */
        if (err != IOF_OK && err != IOF_EIO && c->head == NULL) {
            return err;
        }
    }
}

iof_err iof_ws_client_close(struct iof_ws_client *c, uint16_t status, const char *reason) {
    int64_t deadline = deadline_after(c->io_timeout_ms);
    c->discard_data = true;
    iof_err err = iof_ws_session_close(c->s, status, reason);
    if (err == IOF_EINVAL) {
        return err;
    }
    /* IOF_ECONFLICT: a close was queued already (ours, or the echo of the server's). */
    err = IOF_OK;
    while (err == IOF_OK && !iof_ws_session_close_received(c->s) &&
           !iof_ws_session_finished(c->s)) {
        err = pump(c, deadline);
    }
    if (err == IOF_OK && iof_ws_session_want_write(c->s)) {
        err = flush(c, deadline);
    }
    if (iof_ws_session_close_received(c->s)) {
        return IOF_OK;
    }
    return err != IOF_OK ? err : IOF_EIO;
}

void iof_ws_client_free(struct iof_ws_client *c) {
    if (c == NULL) {
        return;
    }
    while (c->head != NULL) {
        struct iof_ws_msg m;
        pop(c, &m);
        iof_ws_msg_free(&m);
    }
    iof_ws_session_free(c->s);
    if (c->fd >= 0) {
        close(c->fd);
    }
    free(c);
}

int iof_ws_client_fd(const struct iof_ws_client *c) {
    return c->fd;
}

size_t iof_ws_client_pending(const struct iof_ws_client *c) {
    return c->inbox_count;
}

void iof_ws_msg_free(struct iof_ws_msg *m) {
    if (m == NULL) {
        return;
    }
    free(m->data);
    m->data = NULL;
    m->len = 0;
}
