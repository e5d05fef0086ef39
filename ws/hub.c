/* The hub thread: one epoll loop over every upgraded connection plus an eventfd through which
 * other threads hand in commands. Per connection it drives a session on the non-blocking socket,
 * keeps the id table's queue accounting current, runs the ping/idle/close timers and, after a
 * closing handshake, drains the socket briefly so the peer reads our close frame instead of a
 * reset. */
#include "common/clock.h"
#include "common/log.h"
#include "ws/hub_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define DEFAULT_MAX_QUEUED      ((size_t)4 << 20)
#define DEFAULT_MAX_CONNECTIONS 4096
#define DEFAULT_CLOSE_TIMEOUT   3000
#define TICK_MS                 100
#define READ_BUDGET             ((size_t)256 * 1024) /* per connection and loop turn: fairness */
#define MAX_EVENTS              64

enum conn_state { CONN_OPEN, CONN_DRAIN, CONN_DEAD };

struct iof_ws_hub_conn {
    struct iof_ws_hub_conn *prev;
    struct iof_ws_hub_conn *next;
    uint64_t id;
    uint32_t index;
    int fd;
    struct iof_http_upgraded *u;
    struct iof_ws_session *s;
    struct iof_ws_handlers h;
    void *ctx;
    enum conn_state state;
    uint32_t events;   /* registered with epoll */
    size_t budget;     /* bytes this turn may still read */
    bool got_data;     /* something was read this turn */
    bool got_msg;      /* a message was reported this turn */
    int64_t last_rx;   /* last time anything arrived */
    int64_t last_ping; /* last ping sent by the timer */
    int64_t deadline;  /* OPEN: give up waiting for the peer's close; DRAIN: stop draining */
    size_t wire_reported;
    struct iof_ws_hub_conn *dirty_next; /* run_commands: queued to, not yet written */
    bool dirty;
};

/* ---- session I/O on the socket ---- */

static ssize_t conn_read(void *ctx, uint8_t *buf, size_t len) {
    struct iof_ws_hub_conn *c = ctx;
    if (c->budget == 0) {
        return IOF_WS_IO_AGAIN;
    }
    if (len > c->budget) {
        len = c->budget;
    }
    for (;;) {
        ssize_t n = recv(c->fd, buf, len, 0);
        if (n > 0) {
            c->budget -= (size_t)n;
            c->got_data = true;
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

static ssize_t conn_write(void *ctx, const uint8_t *buf, size_t len) {
    struct iof_ws_hub_conn *c = ctx;
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

static void conn_event(void *ctx, const struct iof_ws_event *ev) {
    struct iof_ws_hub_conn *c = ctx;
    if ((ev->opcode == IOF_WS_TEXT || ev->opcode == IOF_WS_BINARY) && c->h.on_message != NULL) {
        c->got_msg = true;
        c->h.on_message(c->ctx, c->id, ev->opcode, ev->data, ev->len);
    } else if (ev->opcode == IOF_WS_PING && c->h.on_ping != NULL) {
        c->h.on_ping(c->ctx, c->id, ev->data, ev->len);
    }
}

static const struct iof_ws_session_ops conn_ops = {
    .io_read = conn_read,
    .io_write = conn_write,
    .on_event = conn_event,
};

/* ---- connection lifecycle (hub thread) ---- */

static void set_events(struct iof_ws_hub *hub, struct iof_ws_hub_conn *c, uint32_t events) {
    if (events == c->events) {
        return;
    }
    struct epoll_event ev = {.events = events, .data.ptr = c};
    if (epoll_ctl(hub->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0) {
        c->events = events;
    }
}

/* Gives the socket back to the HTTP server and retires c (freed at the end of the loop turn). */
static void conn_release(struct iof_ws_hub *hub, struct iof_ws_hub_conn *c) {
    (void)epoll_ctl(hub->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    iof_http_upgraded_close(c->u);
    c->u = NULL;
    c->fd = -1;
    iof_ws_session_free(c->s);
    c->s = NULL;
    c->state = CONN_DEAD;
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        hub->conns = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    c->prev = NULL;
    c->next = hub->dead;
    hub->dead = c;
}

/* The WebSocket connection is over: frees its id, reports on_close, then either drains the socket
 * for a while (linger: after a closing handshake) or releases it right away. */
static void conn_finish(struct iof_ws_hub *hub, struct iof_ws_hub_conn *c, bool linger) {
    uint16_t status = iof_ws_session_status(c->s);
    pthread_mutex_lock(&hub->mu);
    struct iof_ws_hub_slot *slot = &hub->slots[c->index];
    slot->used = false;
    slot->open = false;
    slot->in_cmds = 0;
    slot->in_wire = 0;
    slot->conn = NULL;
    slot->gen = slot->gen == UINT32_MAX ? 1 : slot->gen + 1;
    slot->next_free = hub->free_head;
    hub->free_head = c->index;
    hub->nused--;
    pthread_mutex_unlock(&hub->mu);
    IOF_DEBUG("ws", "close conn=%llu status=%u", (unsigned long long)c->id, (unsigned)status);
    if (c->h.on_close != NULL) {
        c->h.on_close(c->ctx, c->id, status);
    }
    if (linger && iof_ws_session_close_sent(c->s)) {
        (void)shutdown(c->fd, SHUT_WR);
        c->state = CONN_DRAIN;
        c->deadline = iof_time_mono_ms() + hub->cfg.close_timeout_ms;
        set_events(hub, c, EPOLLIN);
    } else {
        conn_release(hub, c);
    }
}

/* After any activity: finishes a completed session, arms the close timer, updates the epoll
 * interest and the queue accounting seen by senders. */
static void conn_update(struct iof_ws_hub *hub, struct iof_ws_hub_conn *c) {
    if (iof_ws_session_finished(c->s)) {
        conn_finish(hub, c, true);
        return;
    }
    /* Closing (our close queued or sent, or reading stopped after the peer's close or a protocol
     * failure): the rest of the handshake gets close_timeout_ms. */
    if (c->deadline == 0 && (iof_ws_session_close_sent(c->s) || !iof_ws_session_want_read(c->s))) {
        c->deadline = iof_time_mono_ms() + hub->cfg.close_timeout_ms;
    }
    uint32_t events = (iof_ws_session_want_read(c->s) ? (uint32_t)EPOLLIN : 0u) |
                      (iof_ws_session_want_write(c->s) ? (uint32_t)EPOLLOUT : 0u);
    set_events(hub, c, events);
    size_t wire = iof_ws_session_queued_bytes(c->s);
    if (wire != c->wire_reported) {
        pthread_mutex_lock(&hub->mu);
        hub->slots[c->index].in_wire = wire;
        pthread_mutex_unlock(&hub->mu);
        c->wire_reported = wire;
    }
}

static void arm_close_deadline(struct iof_ws_hub *hub, struct iof_ws_hub_conn *c) {
    if (c->deadline == 0) {
        c->deadline = iof_time_mono_ms() + hub->cfg.close_timeout_ms;
    }
}

static void conn_drain(struct iof_ws_hub *hub, struct iof_ws_hub_conn *c) {
    uint8_t buf[4096];
    size_t budget = READ_BUDGET;
    while (budget > 0) {
        ssize_t n = recv(c->fd, buf, sizeof buf, 0);
        if (n > 0) {
            budget -= (size_t)n < budget ? (size_t)n : budget;
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        }
        break; /* end of stream or error: the peer is done */
    }
    if (budget > 0) {
        conn_release(hub, c);
    }
}

static void conn_io(struct iof_ws_hub *hub, struct iof_ws_hub_conn *c, uint32_t events) {
    if (c->state == CONN_DRAIN) {
        conn_drain(hub, c);
        return;
    }
    if (c->state != CONN_OPEN) {
        return;
    }
    iof_err err = IOF_OK;
    if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0 && iof_ws_session_want_read(c->s)) {
        c->budget = READ_BUDGET;
        c->got_data = false;
        c->got_msg = false;
        err = iof_ws_session_read(c->s);
        if (c->got_data) {
            c->last_rx = iof_time_mono_ms();
        }
        if (c->got_msg && c->h.on_read_end != NULL) {
            c->h.on_read_end(c->ctx, c->id);
        }
    }
    if (err == IOF_OK && iof_ws_session_want_write(c->s)) {
        err = iof_ws_session_write(c->s);
    }
    if (err != IOF_OK) {
        conn_finish(hub, c, false); /* the stream failed: nothing to linger for */
        return;
    }
    conn_update(hub, c);
}

/* Takes an upgraded socket: new id, on_open, then whatever the peer already sent. */
static void conn_adopt(struct iof_ws_hub *hub, struct iof_ws_hub_cmd *cmd, bool stopping) {
    struct iof_ws_hub_conn *c = stopping ? NULL : calloc(1, sizeof *c);
    if (c == NULL) {
        iof_http_upgraded_close(cmd->u);
        return;
    }
    c->fd = cmd->fd;
    c->u = cmd->u;
    c->h = cmd->h;
    c->ctx = cmd->ctx;
    c->last_rx = c->last_ping = iof_time_mono_ms();
    struct iof_ws_session_config sc = {
        .server = true,
        .read_ahead = true,
        .max_message = hub->cfg.max_message,
        .ops = &conn_ops,
        .ctx = c,
    };
    int flags = fcntl(c->fd, F_GETFL);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (flags < 0 || fcntl(c->fd, F_SETFL, flags | O_NONBLOCK) != 0 ||
        iof_ws_session_new(&sc, cmd->data, cmd->len, &c->s) != IOF_OK ||
        epoll_ctl(hub->epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
        IOF_ERROR("ws", "adopt_failed errno=%d", errno);
        iof_ws_session_free(c->s);
        iof_http_upgraded_close(c->u);
        free(c);
        return;
    }
    c->events = EPOLLIN;
    /* wslay writes a frame's header and payload separately: without this, Nagle and delayed ACKs
     * add tens of milliseconds to small messages. */
    int one = 1;
    (void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

    pthread_mutex_lock(&hub->mu);
    uint32_t index = hub->free_head;
    if (index == IOF_WS_HUB_NO_SLOT) {
        uint32_t cap = hub->nslots == 0 ? 16 : hub->nslots * 2;
        struct iof_ws_hub_slot *slots =
            hub->nslots < UINT32_MAX / 2 ? realloc(hub->slots, cap * sizeof(struct iof_ws_hub_slot))
                                         : NULL;
        if (slots == NULL) {
            pthread_mutex_unlock(&hub->mu);
            IOF_ERROR("ws", "adopt_failed reason=\"no memory\"");
            (void)epoll_ctl(hub->epfd, EPOLL_CTL_DEL, c->fd, NULL);
            iof_ws_session_free(c->s);
            iof_http_upgraded_close(c->u);
            free(c);
            return;
        }
        for (uint32_t i = hub->nslots; i < cap; i++) {
            slots[i] = (struct iof_ws_hub_slot){
                .gen = 1, .next_free = i + 1 < cap ? i + 1 : IOF_WS_HUB_NO_SLOT};
        }
        hub->slots = slots;
        hub->free_head = hub->nslots;
        hub->nslots = cap;
        index = hub->free_head;
    }
    struct iof_ws_hub_slot *slot = &hub->slots[index];
    hub->free_head = slot->next_free;
    slot->used = true;
    slot->open = true;
    slot->in_cmds = 0;
    slot->in_wire = 0;
    slot->conn = c;
    hub->nused++;
    c->index = index;
    c->id = ((uint64_t)slot->gen << 32) | index;
    pthread_mutex_unlock(&hub->mu);

    c->next = hub->conns;
    if (c->next != NULL) {
        c->next->prev = c;
    }
    hub->conns = c;
    IOF_DEBUG("ws", "open conn=%llu", (unsigned long long)c->id);
    if (c->h.on_open != NULL) {
        c->h.on_open(c->ctx, c->id);
    }
    conn_io(hub, c, EPOLLIN);
}

/* ---- commands from other threads ---- */

/* The open connection a command is for, or NULL when its id went stale. Also settles the
 * command's share of the queue accounting. */
static struct iof_ws_hub_conn *cmd_target(struct iof_ws_hub *hub,
                                          const struct iof_ws_hub_cmd *cmd) {
    struct iof_ws_hub_conn *c = NULL;
    pthread_mutex_lock(&hub->mu);
    struct iof_ws_hub_slot *slot = &hub->slots[cmd->index];
    if (slot->used && slot->gen == cmd->gen) {
        if (cmd->kind == IOF_WS_HUB_SEND) {
            slot->in_cmds -= cmd->len;
        }
        c = slot->conn;
    }
    pthread_mutex_unlock(&hub->mu);
    return c != NULL && c->state == CONN_OPEN ? c : NULL;
}

/* Runs one command. Sends and closes only queue into the session and put the connection on
 * *dirty: the writing is done once per connection after the whole batch (run_commands). */
static void run_command(struct iof_ws_hub *hub,
                        struct iof_ws_hub_cmd *cmd,
                        bool stopping,
                        struct iof_ws_hub_conn **dirty) {
    if (cmd->kind == IOF_WS_HUB_ADOPT) {
        conn_adopt(hub, cmd, stopping);
        return;
    }
    struct iof_ws_hub_conn *c = cmd_target(hub, cmd);
    if (c == NULL) {
        return;
    }
    iof_err err;
    if (cmd->kind == IOF_WS_HUB_SEND) {
        err = iof_ws_session_queue(c->s, cmd->opcode, cmd->data, cmd->len);
    } else {
        /* wslay sends a queued close ahead of queued data: what was sent before the close is
         * written first. */
        if (c->dirty) {
            conn_io(hub, c, 0);
            if (c->state != CONN_OPEN) {
                return;
            }
        }
        err = iof_ws_session_close(c->s, cmd->status, (const char *)cmd->data);
        arm_close_deadline(hub, c);
    }
    if (err == IOF_ENOMEM) {
        IOF_WARN("ws", "send_dropped conn=%llu reason=\"no memory\"", (unsigned long long)c->id);
    }
    if (!c->dirty) {
        c->dirty = true;
        c->dirty_next = *dirty;
        *dirty = c;
    }
}

/* Most rounds of commands run in one loop turn; commands that handlers queue while the last
 * round is written wait for the wake-up that iof_ws_hub_wake then sends. */
#define COMMAND_ROUNDS 4

/* Runs the queued commands, then writes each connection they touched once, so a batch of
 * messages for one peer leaves in one write (a relayed burst: the receipts to the publisher and
 * the deliveries to each receiver). Commands queued by the hub thread itself (handlers) need no
 * wake-up: they are picked up here, in the same turn. Reports the stop/quit flags. */
static void run_commands(struct iof_ws_hub *hub, bool *stopping, bool *quit) {
    for (int round = 0;; round++) {
        pthread_mutex_lock(&hub->mu);
        struct iof_ws_hub_cmd *list = hub->cmd_head;
        hub->cmd_head = hub->cmd_tail = NULL;
        *stopping = hub->stopping;
        *quit = hub->quit;
        pthread_mutex_unlock(&hub->mu);
        if (list == NULL) {
            return;
        }
        if (round == COMMAND_ROUNDS) {
            /* Put them back and come again after the timers. */
            pthread_mutex_lock(&hub->mu);
            struct iof_ws_hub_cmd *tail = list;
            while (tail->next != NULL) {
                tail = tail->next;
            }
            tail->next = hub->cmd_head;
            hub->cmd_head = list;
            if (hub->cmd_tail == NULL) {
                hub->cmd_tail = tail;
            }
            pthread_mutex_unlock(&hub->mu);
            iof_ws_hub_wake(hub);
            return;
        }
        struct iof_ws_hub_conn *dirty = NULL;
        while (list != NULL) {
            struct iof_ws_hub_cmd *next = list->next;
            run_command(hub, list, *stopping, &dirty);
            free(list);
            list = next;
        }
        while (dirty != NULL) {
            struct iof_ws_hub_conn *c = dirty;
            dirty = c->dirty_next;
            c->dirty = false;
            c->dirty_next = NULL;
            conn_io(hub, c, 0);
        }
    }
}

/* ---- timers and stopping ---- */

static void
close_conn(struct iof_ws_hub *hub, struct iof_ws_hub_conn *c, uint16_t status, const char *reason) {
    (void)!iof_ws_session_close(c->s, status, reason);
    arm_close_deadline(hub, c);
    pthread_mutex_lock(&hub->mu);
    hub->slots[c->index].open = false;
    pthread_mutex_unlock(&hub->mu);
    conn_io(hub, c, 0);
}

static void run_timers(struct iof_ws_hub *hub, int64_t now) {
    const struct iof_ws_hub_config *cfg = &hub->cfg;
    struct iof_ws_hub_conn *next;
    for (struct iof_ws_hub_conn *c = hub->conns; c != NULL; c = next) {
        next = c->next;
        if (c->s != NULL) {
            iof_ws_session_release_idle(c->s);
        }
        if (c->state == CONN_DRAIN) {
            if (now >= c->deadline) {
                conn_release(hub, c);
            }
        } else if (c->deadline != 0 && now >= c->deadline) {
            iof_ws_session_abort(c->s); /* the peer never answered our close */
            conn_finish(hub, c, false);
        } else if (c->deadline != 0) {
            continue; /* closing */
        } else if (cfg->idle_timeout_ms > 0 && now - c->last_rx >= cfg->idle_timeout_ms) {
            close_conn(hub, c, IOF_WS_STATUS_GOING_AWAY, "idle");
        } else if (cfg->ping_interval_ms > 0 && now - c->last_rx >= cfg->ping_interval_ms &&
                   now - c->last_ping >= cfg->ping_interval_ms) {
            c->last_ping = now;
            (void)!iof_ws_session_queue(c->s, IOF_WS_PING, NULL, 0);
            conn_io(hub, c, 0);
        }
    }
}

/* One step of stopping: close everything once, force what is left after the deadline, and tell
 * iof_ws_hub_stop when no connection remains. */
static void run_stop(struct iof_ws_hub *hub, int64_t now) {
    if (!hub->stop_started) {
        hub->stop_started = true;
        hub->stop_deadline = now + hub->cfg.close_timeout_ms;
        struct iof_ws_hub_conn *next;
        for (struct iof_ws_hub_conn *c = hub->conns; c != NULL; c = next) {
            next = c->next;
            if (c->state == CONN_OPEN) {
                close_conn(hub, c, IOF_WS_STATUS_GOING_AWAY, "server stopping");
            }
        }
    } else if (now >= hub->stop_deadline) {
        while (hub->conns != NULL) {
            struct iof_ws_hub_conn *c = hub->conns;
            if (c->state == CONN_OPEN) {
                iof_ws_session_abort(c->s);
                conn_finish(hub, c, false);
            } else {
                conn_release(hub, c);
            }
        }
    }
    if (hub->conns == NULL) {
        pthread_mutex_lock(&hub->mu);
        if (!hub->stopped) {
            hub->stopped = true;
            pthread_cond_broadcast(&hub->cond);
        }
        pthread_mutex_unlock(&hub->mu);
    }
}

static void free_dead(struct iof_ws_hub *hub) {
    while (hub->dead != NULL) {
        struct iof_ws_hub_conn *c = hub->dead;
        hub->dead = c->next;
        free(c);
    }
}

static void *hub_main(void *arg) {
    struct iof_ws_hub *hub = arg;
    struct epoll_event evs[MAX_EVENTS];
    int64_t last_tick = iof_time_mono_ms();
    for (;;) {
        int timeout = hub->conns != NULL || hub->stop_started ? TICK_MS : -1;
        int n = epoll_wait(hub->epfd, evs, MAX_EVENTS, timeout);
        if (n < 0) {
            if (errno != EINTR) {
                IOF_ERROR("ws", "epoll_wait_failed errno=%d", errno);
                (void)usleep(10000);
            }
            n = 0;
        }
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == NULL) {
                uint64_t v;
                (void)!read(hub->evfd, &v, sizeof v);
            } else {
                conn_io(hub, evs[i].data.ptr, evs[i].events);
            }
        }
        bool stopping;
        bool quit;
        run_commands(hub, &stopping, &quit);
        int64_t now = iof_time_mono_ms();
        if (now - last_tick >= TICK_MS) {
            last_tick = now;
            run_timers(hub, now);
        }
        if (stopping) {
            run_stop(hub, now);
        }
        free_dead(hub);
        if (quit) {
            break;
        }
    }
    return NULL;
}

/* ---- lifecycle ---- */

iof_err iof_ws_hub_new(const struct iof_ws_hub_config *cfg, struct iof_ws_hub **out) {
    struct iof_ws_hub_config c = {0};
    if (cfg != NULL) {
        c = *cfg;
    }
    if (c.ping_interval_ms < 0 || c.idle_timeout_ms < 0 || c.close_timeout_ms < 0) {
        return IOF_EINVAL;
    }
    c.max_message = c.max_message != 0 ? c.max_message : IOF_WS_DEFAULT_MAX_MESSAGE;
    c.max_queued = c.max_queued != 0 ? c.max_queued : DEFAULT_MAX_QUEUED;
    c.max_connections = c.max_connections != 0 ? c.max_connections : DEFAULT_MAX_CONNECTIONS;
    c.close_timeout_ms = c.close_timeout_ms != 0 ? c.close_timeout_ms : DEFAULT_CLOSE_TIMEOUT;

    struct iof_ws_hub *hub = calloc(1, sizeof *hub);
    if (hub == NULL) {
        return IOF_ENOMEM;
    }
    hub->cfg = c;
    hub->free_head = IOF_WS_HUB_NO_SLOT;
    hub->epfd = epoll_create1(EPOLL_CLOEXEC);
    hub->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (hub->epfd < 0 || hub->evfd < 0 ||
        epoll_ctl(hub->epfd, EPOLL_CTL_ADD, hub->evfd, &ev) != 0) {
        goto fail_fds;
    }
    if (pthread_mutex_init(&hub->mu, NULL) != 0) {
        goto fail_fds;
    }
    if (pthread_cond_init(&hub->cond, NULL) != 0) {
        goto fail_mu;
    }
    if (pthread_create(&hub->thread, NULL, hub_main, hub) != 0) {
        goto fail_cond;
    }
    *out = hub;
    return IOF_OK;

fail_cond:
    pthread_cond_destroy(&hub->cond);
fail_mu:
    pthread_mutex_destroy(&hub->mu);
fail_fds:
    if (hub->epfd >= 0) {
        close(hub->epfd);
    }
    if (hub->evfd >= 0) {
        close(hub->evfd);
    }
    free(hub);
    return IOF_EIO;
}

void iof_ws_hub_stop(struct iof_ws_hub *hub) {
    pthread_mutex_lock(&hub->mu);
    hub->stopping = true;
    pthread_mutex_unlock(&hub->mu);
    iof_ws_hub_wake(hub);
    pthread_mutex_lock(&hub->mu);
    while (!hub->stopped) {
        pthread_cond_wait(&hub->cond, &hub->mu);
    }
    pthread_mutex_unlock(&hub->mu);
}

void iof_ws_hub_free(struct iof_ws_hub *hub) {
    if (hub == NULL) {
        return;
    }
    iof_ws_hub_stop(hub);
    pthread_mutex_lock(&hub->mu);
    hub->quit = true;
    pthread_mutex_unlock(&hub->mu);
    iof_ws_hub_wake(hub);
    pthread_join(hub->thread, NULL);

    pthread_mutex_lock(&hub->mu);
    struct iof_ws_hub_cmd *list = hub->cmd_head;
    hub->cmd_head = hub->cmd_tail = NULL;
    iof_ws_hub_drop_pending_locked(hub);
    pthread_mutex_unlock(&hub->mu);
    while (list != NULL) {
        struct iof_ws_hub_cmd *next = list->next;
        if (list->kind == IOF_WS_HUB_ADOPT) {
            iof_http_upgraded_close(list->u);
        }
        free(list);
        list = next;
    }
    close(hub->epfd);
    close(hub->evfd);
    free(hub->slots);
    pthread_cond_destroy(&hub->cond);
    pthread_mutex_destroy(&hub->mu);
    free(hub);
}
