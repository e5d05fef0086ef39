/* The client's background thread: owns the control and message WebSockets, answers the Agent's
 * frames (ACK 0x0B for 0x0C, 0x0D, 0x0E and 0x0F; binary Ping 0x09 with Pong 0x0A), fetches the
 * configuration on change, sends queued messages (socket, or REST while the socket is down), keeps
 * the sockets alive with pings and reconnects with capped exponential backoff.
 *
 * Every callback runs here. Other threads only touch the send queue (under c->lock), the wake
 * eventfd and the atomic flags. */
#include "sdk/internal.h"

#include "common/clock.h"
#include "ws/client.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* Messages handled per socket per round, so one busy socket cannot starve the other. */
#define ROUND_BUDGET 64

struct sock {
    enum iofog_socket which;
    bool want;
    struct iof_ws_client *ws;
    unsigned attempt;     /* failed connects in a row */
    int64_t next_connect; /* monotonic ms */
    int64_t last_rx;
    int64_t last_ping;
};

struct loop {
    struct iofog_client *c;
    struct iofog_sdk_rest *rest; /* this thread's own REST connection */
    struct sock s[2];
};

static void report_error(struct loop *L, int err, const char *detail) {
    if (L->c->cb.on_error != NULL) {
        L->c->cb.on_error(L->c->cb.ctx, err, detail);
    }
}

static void set_state(struct loop *L, struct sock *s, int connected) {
    atomic_store(&L->c->connected[s->which], connected);
    if (L->c->cb.on_state != NULL) {
        L->c->cb.on_state(L->c->cb.ctx, s->which, connected);
    }
}

static void schedule_reconnect(struct loop *L, struct sock *s) {
    unsigned delay = iofog_sdk_backoff_ms(L->c->backoff_min_ms, L->c->backoff_max_ms, s->attempt);
    if (s->attempt < 32) {
        s->attempt++;
    }
    s->next_connect = iof_time_mono_ms() + delay;
}

static void drop(struct loop *L, struct sock *s, const char *why) {
    if (s->ws == NULL) {
        return;
    }
    iof_ws_client_free(s->ws);
    s->ws = NULL;
    set_state(L, s, 0);
    char detail[128];
    (void)snprintf(detail,
                   sizeof detail,
                   "%s socket lost: %s",
                   s->which == IOFOG_SOCKET_CONTROL ? "control" : "message",
                   why);
    report_error(L, IOFOG_EIO, detail);
    schedule_reconnect(L, s);
}

static void deliver_config(struct loop *L) {
    if (L->c->cb.on_config == NULL) {
        return;
    }
    struct iofog_config *cfg = NULL;
    int rc = iofog_sdk_get_config(L->c, L->rest, &cfg);
    if (rc != IOFOG_OK) {
        report_error(L, rc, iofog_last_error());
        return;
    }
    L->c->cb.on_config(L->c->cb.ctx, cfg);
    iofog_config_free(cfg);
}

static void try_connect(struct loop *L, struct sock *s) {
    struct iofog_client *c = L->c;
    struct iof_buf path;
    iof_buf_init(&path, 4096);
    iof_err err = iofog_sdk_append_escaped(
        &path,
        s->which == IOFOG_SOCKET_CONTROL ? "/v2/control/socket/id/" : "/v2/message/socket/id/",
        c->id);
    struct iof_diag d = {0};
    int timeout = c->connect_timeout_ms > 600000 ? 600000 : (int)c->connect_timeout_ms;
    struct iof_ws_client_opts opts = {
        .max_message = c->max_message + 5, /* opcode and length in front of a message */
        .io_timeout_ms = timeout,
    };
    unsigned first = atomic_load(&c->host_index) % (unsigned)c->host_count;
    for (unsigned i = 0; i < c->host_count && path.data != NULL && err == IOF_OK; i++) {
        unsigned idx = (first + i) % (unsigned)c->host_count;
        err = iof_ws_client_connect(
            c->hosts[idx], c->port, (const char *)path.data, timeout, &opts, &s->ws, &d);
        if (err == IOF_OK) {
            atomic_store(&c->host_index, idx);
            break;
        }
        if (err != IOF_EIO && err != IOF_ETIMEOUT) {
            break;
        }
        if (i + 1 < c->host_count) {
            err = IOF_OK; /* try the next host */
            iof_diag_clear(&d);
        }
    }
    iof_buf_free(&path);
    if (err != IOF_OK) {
        s->ws = NULL;
        report_error(L, iofog_sdk_fail_iof(err, &d), iofog_last_error());
        schedule_reconnect(L, s);
        return;
    }
    s->attempt = 0;
    s->last_rx = s->last_ping = iof_time_mono_ms();
    set_state(L, s, 1);
    /* A change signalled while the socket was down would be lost: fetch after every connect. */
    if (s->which == IOFOG_SOCKET_CONTROL) {
        deliver_config(L);
    }
}

static bool send_byte(struct loop *L, struct sock *s, uint8_t b) {
    if (s->ws == NULL) {
        return false;
    }
    if (iof_ws_client_send(s->ws, IOF_WS_BINARY, &b, 1) != IOF_OK) {
        drop(L, s, "send failed");
        return false;
    }
    return true;
}

static void handle_data(struct loop *L, struct sock *s, const uint8_t *data, size_t len) {
    struct iofog_client *c = L->c;
    struct iofog_sdk_frame f;
    struct iof_diag d = {0};
    iof_err err = iofog_sdk_frame_parse(data, len, c->max_message, &f, &d);
    if (err != IOF_OK) {
        /* A message that cannot be read is acknowledged anyway: the Agent would otherwise resend
         * it and finally drop the socket. */
        if (len > 0 && (data[0] == IOF_MSG_OP_MESSAGE || data[0] == IOF_MSG_OP_RECEIPT)) {
            (void)send_byte(L, s, IOF_MSG_OP_ACK);
        }
        report_error(L, iofog_sdk_fail_iof(err, &d), iofog_last_error());
        return;
    }
    switch (f.kind) {
        case SDK_FRAME_CONTROL_SIGNAL:
            if (send_byte(L, s, IOF_MSG_OP_ACK)) {
                deliver_config(L);
            }
            break;
        case SDK_FRAME_RESOURCE_SIGNAL:
            if (send_byte(L, s, IOF_MSG_OP_ACK) && c->cb.on_resource_signal != NULL) {
                c->cb.on_resource_signal(c->cb.ctx);
            }
            break;
        case SDK_FRAME_MESSAGE: {
            bool acked = send_byte(L, s, IOF_MSG_OP_ACK);
            struct iofog_message *m = NULL;
            err = iofog_sdk_msg_wrap(f.msg, &m);
            if (err != IOF_OK) {
                report_error(L, IOFOG_ENOMEM, "out of memory: a received message was lost");
            } else {
                if (acked && c->cb.on_message != NULL) {
                    c->cb.on_message(c->cb.ctx, m);
                }
                iofog_message_free(m);
            }
            break;
        }
        case SDK_FRAME_RECEIPT:
            if (send_byte(L, s, IOF_MSG_OP_ACK) && c->cb.on_receipt != NULL) {
                c->cb.on_receipt(c->cb.ctx, f.id, f.timestamp);
            }
            break;
        case SDK_FRAME_PING: (void)send_byte(L, s, IOF_MSG_OP_PONG); break;
        case SDK_FRAME_PONG:
        case SDK_FRAME_ACK: break;
    }
}

/* Reads what the socket holds, up to ROUND_BUDGET messages. */
static void read_socket(struct loop *L, struct sock *s) {
    for (int i = 0; i < ROUND_BUDGET && s->ws != NULL; i++) {
        struct iof_ws_msg m = {0};
        iof_err err = iof_ws_client_recv(s->ws, 0, &m);
        if (err == IOF_ETIMEOUT) {
            return;
        }
        if (err != IOF_OK) {
            drop(L, s, "receive failed");
            return;
        }
        s->last_rx = iof_time_mono_ms();
        if (m.opcode == IOF_WS_CLOSE) {
            iof_ws_msg_free(&m);
            drop(L, s, "closed by the agent");
            return;
        }
        if (m.opcode == IOF_WS_BINARY || m.opcode == IOF_WS_TEXT) {
            handle_data(L, s, m.data, m.len);
        }
        iof_ws_msg_free(&m);
    }
}

/* Sends one queued frame through REST (the socket is down): the body after the 5-byte header is
 * the binary message. */
static void send_rest(struct loop *L, const struct iofog_sdk_item *it) {
    struct iof_diag d = {0};
    struct iof_msg *m = NULL;
    iof_err err = iof_msg_decode(it->frame + 5, it->len - 5, &m, &d);
    if (err != IOF_OK) {
        report_error(L, iofog_sdk_fail_iof(err, &d), iofog_last_error());
        return;
    }
    struct iofog_receipt r;
    int rc = iofog_sdk_post_message(L->c, L->rest, m, &r);
    iof_msg_free(m);
    if (rc != IOFOG_OK) {
        report_error(L, rc, iofog_last_error());
    } else if (L->c->cb.on_receipt != NULL) {
        L->c->cb.on_receipt(L->c->cb.ctx, r.id, r.timestamp);
    }
}

static struct iofog_sdk_item *take_queue(struct iofog_client *c) {
    pthread_mutex_lock(&c->lock);
    struct iofog_sdk_item *head = c->queue_head;
    c->queue_head = c->queue_tail = NULL;
    c->queue_bytes = 0;
    pthread_mutex_unlock(&c->lock);
    return head;
}

static void drain_queue(struct loop *L) {
    struct sock *s = &L->s[IOFOG_SOCKET_MESSAGE];
    struct iofog_sdk_item *it = take_queue(L->c);
    while (it != NULL) {
        struct iofog_sdk_item *next = it->next;
        bool sent = false;
        if (s->ws != NULL) {
            if (iof_ws_client_send(s->ws, IOF_WS_BINARY, it->frame, it->len) == IOF_OK) {
                sent = true;
            } else {
                drop(L, s, "send failed");
            }
        }
        if (!sent) {
            send_rest(L, it);
        }
        free(it->frame);
        free(it);
        it = next;
    }
}

void iofog_sdk_queue_clear(struct iofog_client *c) {
    struct iofog_sdk_item *it = take_queue(c);
    while (it != NULL) {
        struct iofog_sdk_item *next = it->next;
        if (c->cb.on_error != NULL) {
            c->cb.on_error(
                c->cb.ctx, IOFOG_ESTATE, "client stopped before a queued message was sent");
        }
        free(it->frame);
        free(it);
        it = next;
    }
}

static int64_t min64(int64_t a, int64_t b) {
    return a < b ? a : b;
}

static void *thread_main(void *arg) {
    struct loop L = {.c = arg};
    struct iofog_client *c = L.c;
    for (int i = 0; i < 2; i++) {
        L.s[i].which = (enum iofog_socket)i;
        L.s[i].next_connect = 0;
    }
    L.s[IOFOG_SOCKET_CONTROL].want = c->want_control;
    L.s[IOFOG_SOCKET_MESSAGE].want = c->want_message;
    if (iofog_sdk_rest_new(&L.rest) != IOF_OK) {
        report_error(&L, IOFOG_ENOMEM, "out of memory: background thread cannot run");
        while (!atomic_load(&c->stop)) {
            struct pollfd p = {.fd = c->wake_fd, .events = POLLIN};
            (void)poll(&p, 1, 1000);
        }
        iofog_sdk_queue_clear(c);
        return NULL;
    }
    while (!atomic_load(&c->stop)) {
        int64_t now = iof_time_mono_ms();
        for (int i = 0; i < 2; i++) {
            struct sock *s = &L.s[i];
            if (s->want && s->ws == NULL && now >= s->next_connect) {
                try_connect(&L, s);
                now = iof_time_mono_ms();
            }
        }
        drain_queue(&L);

        /* Keep-alive: a ping every keepalive_ms; nothing received for two intervals means the
         * Agent dropped us (it may forget a socket without closing it, agent.md §1.4). */
        now = iof_time_mono_ms();
        int64_t wake_at = now + 1000;
        for (int i = 0; i < 2; i++) {
            struct sock *s = &L.s[i];
            if (s->ws == NULL) {
                if (s->want) {
                    wake_at = min64(wake_at, s->next_connect);
                }
                continue;
            }
            if (now - s->last_rx > 2 * (int64_t)c->keepalive_ms) {
                drop(&L, s, "keep-alive timeout");
                continue;
            }
            if (now - s->last_ping >= (int64_t)c->keepalive_ms) {
                static const uint8_t ping = IOF_MSG_OP_PING;
                if (iof_ws_client_ping(s->ws, &ping, 1) != IOF_OK) {
                    drop(&L, s, "ping failed");
                    continue;
                }
                s->last_ping = now;
            }
            wake_at = min64(wake_at, s->last_ping + (int64_t)c->keepalive_ms);
            if (iof_ws_client_pending(s->ws) > 0) {
                wake_at = now;
            }
        }

        struct pollfd p[3];
        struct sock *owner[3] = {NULL, NULL, NULL};
        nfds_t n = 0;
        p[n++] = (struct pollfd){.fd = c->wake_fd, .events = POLLIN};
        for (int i = 0; i < 2; i++) {
            if (L.s[i].ws != NULL) {
                owner[n] = &L.s[i];
                p[n++] = (struct pollfd){.fd = iof_ws_client_fd(L.s[i].ws), .events = POLLIN};
            }
        }
        int64_t wait = wake_at - iof_time_mono_ms();
        int timeout = wait <= 0 ? 0 : (wait > 1000 ? 1000 : (int)wait);
        int r = poll(p, n, timeout);
        if (r < 0 && errno != EINTR) {
            report_error(&L, IOFOG_EIO, "poll failed");
        }
        if (p[0].revents & POLLIN) {
            uint64_t v;
            (void)!read(c->wake_fd, &v, sizeof v);
        }
        for (nfds_t i = 1; i < n; i++) {
            if (owner[i]->ws != NULL && ((p[i].revents & (POLLIN | POLLHUP | POLLERR)) != 0 ||
                                         iof_ws_client_pending(owner[i]->ws) > 0)) {
                read_socket(&L, owner[i]);
            }
        }
    }
    for (int i = 0; i < 2; i++) {
        struct sock *s = &L.s[i];
        if (s->ws != NULL) {
            (void)!iof_ws_client_close(s->ws, IOF_WS_STATUS_NORMAL, NULL);
            iof_ws_client_free(s->ws);
            s->ws = NULL;
            set_state(&L, s, 0);
        }
    }
    iofog_sdk_queue_clear(c);
    iofog_sdk_rest_free(L.rest);
    return NULL;
}

static void wake(struct iofog_client *c) {
    uint64_t one = 1;
    (void)!write(c->wake_fd, &one, sizeof one);
}

IOFOG_API int iofog_client_start(struct iofog_client *client, const struct iofog_callbacks *cb) {
    iofog_sdk_clear_error();
    if (client == NULL) {
        return iofog_sdk_fail(IOFOG_EINVAL, 0, "client is required");
    }
    if (client->ssl) {
        return iofog_sdk_fail(IOFOG_EUNSUPPORTED, 0, "WebSockets over TLS are not supported");
    }
    pthread_mutex_lock(&client->lock);
    if (client->started || client->wake_fd >= 0) {
        pthread_mutex_unlock(&client->lock);
        return iofog_sdk_fail(IOFOG_ESTATE, 0, "client already started");
    }
    client->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (client->wake_fd < 0) {
        pthread_mutex_unlock(&client->lock);
        return iofog_sdk_fail(IOFOG_EIO, 0, "eventfd: %s", strerror(errno));
    }
    if (cb != NULL) {
        client->cb = *cb;
    } else {
        memset(&client->cb, 0, sizeof client->cb);
    }
    client->want_control = client->cb.on_config != NULL || client->cb.on_resource_signal != NULL;
    client->want_message = client->cb.on_message != NULL || client->cb.on_receipt != NULL;
    atomic_store(&client->stop, false);
    int rc = pthread_create(&client->thread, NULL, thread_main, client);
    if (rc != 0) {
        close(client->wake_fd);
        client->wake_fd = -1;
        pthread_mutex_unlock(&client->lock);
        return iofog_sdk_fail(IOFOG_EIO, 0, "cannot create the thread: %s", strerror(rc));
    }
    client->started = true;
    pthread_mutex_unlock(&client->lock);
    return IOFOG_OK;
}

IOFOG_API void iofog_client_stop(struct iofog_client *client) {
    if (client == NULL) {
        return;
    }
    pthread_mutex_lock(&client->lock);
    bool was = client->started;
    if (was && pthread_equal(pthread_self(), client->thread)) {
        /* From a callback: joining itself would deadlock. Documented as not allowed. */
        pthread_mutex_unlock(&client->lock);
        return;
    }
    client->started = false; /* from now on iofog_send_message refuses */
    pthread_mutex_unlock(&client->lock);
    if (!was) {
        return;
    }
    atomic_store(&client->stop, true);
    wake(client);
    pthread_join(client->thread, NULL);
    pthread_mutex_lock(&client->lock);
    close(client->wake_fd);
    client->wake_fd = -1;
    pthread_mutex_unlock(&client->lock);
}

IOFOG_API int iofog_send_message(struct iofog_client *client, const struct iofog_message *msg) {
    iofog_sdk_clear_error();
    if (client == NULL || msg == NULL) {
        return iofog_sdk_fail(IOFOG_EINVAL, 0, "client and msg are required");
    }
    struct iof_msg m;
    iofog_sdk_msg_view(msg, &m);
    if (m.publisher == NULL || m.publisher[0] == '\0') {
        m.publisher = client->id;
    }
    if (m.version == 0) {
        m.version = IOF_MSG_VERSION;
    }
    m.id = NULL;
    m.timestamp = 0;
    struct iofog_sdk_item *it = calloc(1, sizeof *it);
    if (it == NULL) {
        return iofog_sdk_fail(IOFOG_ENOMEM, 0, "out of memory");
    }
    struct iof_diag d = {0};
    iof_err err = iof_msg_frame_encode(&m, &it->frame, &it->len, &d);
    if (err != IOF_OK) {
        free(it);
        return iofog_sdk_fail_iof(err, &d);
    }
    if (it->len - 5 > client->max_message) {
        free(it->frame);
        free(it);
        return iofog_sdk_fail(IOFOG_E2BIG, 0, "message over max_message");
    }
    pthread_mutex_lock(&client->lock);
    int rc = IOFOG_OK;
    if (!client->started || !client->want_message) {
        rc = iofog_sdk_fail(IOFOG_ESTATE, 0, "client not started with a message socket");
    } else if (client->queue_bytes + it->len > client->max_send_queue) {
        rc = iofog_sdk_fail(IOFOG_EBUSY, 0, "send queue full");
    } else {
        if (client->queue_tail != NULL) {
            client->queue_tail->next = it;
        } else {
            client->queue_head = it;
        }
        client->queue_tail = it;
        client->queue_bytes += it->len;
        wake(client);
    }
    pthread_mutex_unlock(&client->lock);
    if (rc != IOFOG_OK) {
        free(it->frame);
        free(it);
    }
    return rc;
}

IOFOG_API int iofog_client_connected(struct iofog_client *client, enum iofog_socket socket) {
    if (client == NULL || (socket != IOFOG_SOCKET_CONTROL && socket != IOFOG_SOCKET_MESSAGE)) {
        return 0;
    }
    return atomic_load(&client->connected[socket]);
}
