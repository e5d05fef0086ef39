/* Connection discipline of the HTTP server: every connection is tracked from accept to close so
 * that
 *   - a request head must be complete within head_timeout_s of the accept (or of the previous
 *     answer on a kept-alive connection), whatever the pace of its bytes: a sweeper thread shuts
 *     down connections past that deadline (libmicrohttpd's own timeout restarts on every byte),
 *     unless bytes the server has not read yet wait on the socket (the server is behind, not the
 *     client: an overloaded server must not cut its punctual clients);
 *   - connections whose head is complete (a handler runs, a body arrives, a request is held) and
 *     upgraded ones are exempt: held long-polls have their own time limit, upgraded sockets their
 *     owner's timers (ws/hub: pings and idle timeout);
 *   - the number of open connections is known, so that a request arriving over max_connections is
 *     answered 503 with Retry-After (server.c) rather than met with silence. libmicrohttpd's own
 *     hard limit sits a reserve above it; only past that reserve are connections closed unseen;
 *   - memory freed after a flood goes back to the system (malloc_trim), so RSS falls again.
 *
 * Lock order: guard->mu is taken alone; the sweeper never calls into libmicrohttpd. A record is
 * unlinked (under mu) in the CLOSED notification, which libmicrohttpd sends before it closes the
 * socket, so a descriptor seen under mu is still the connection's own. */
#include "common/clock.h"
#include "common/log.h"
#include "http/internal.h"

#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>

#define DEFAULT_HEAD_TIMEOUT_S 10u
#define DEFAULT_PER_IP         256u
#define DEFAULT_MAX_CONN       4096u
#define SWEEP_MS               250
/* Give memory back once this many connections closed since the last peak. */
#define TRIM_AFTER 256u

unsigned iof_http_connection_ceiling(unsigned max_connections) {
    unsigned cap = max_connections != 0 ? max_connections : DEFAULT_MAX_CONN;
    unsigned reserve = cap / 8 < 16 ? 16 : cap / 8;
    return cap + reserve;
}

struct iof_http_conn {
    struct iof_http_conn *prev, *next; /* the queue of connections waiting for a head */
    int fd;
    int64_t since_ms;  /* start of the current wait for a request head */
    bool waiting_head; /* no complete head yet for the current request */
    bool exempt;       /* upgraded: no head deadline any more */
    bool cut;          /* shut down by the sweeper */
    bool queued;       /* in the queue */
};

/* The queue holds only connections waiting for a head, in the order their wait began: each
 * enters at the tail with since_ms = now, so the sweeper reads from the head only as far as the
 * deadlines that have passed, whatever the number of connections held open (long-polls,
 * WebSockets). g->mu held. */
static void enqueue_locked(struct iof_http_guard *g, struct iof_http_conn *c) {
    c->next = NULL;
    c->prev = g->tail;
    if (g->tail != NULL) {
        g->tail->next = c;
    } else {
        g->head = c;
    }
    g->tail = c;
    c->queued = true;
}

static void dequeue_locked(struct iof_http_guard *g, struct iof_http_conn *c) {
    if (!c->queued) {
        return;
    }
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        g->head = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    } else {
        g->tail = c->prev;
    }
    c->prev = c->next = NULL;
    c->queued = false;
}

/* Bytes the client sent that the server has not read yet: then the server is the one behind
 * (its polling threads busy), not the client, and the connection is not cut for it. A slow
 * client's bytes are read as they come, so its buffer is empty when the sweeper looks; it is cut
 * at the first sweep that finds nothing waiting. */
static bool unread_bytes(int fd) {
    int n = 0;
    return ioctl(fd, FIONREAD, &n) == 0 && n > 0;
}

static void on_connection(void *cls,
                          struct MHD_Connection *conn,
                          void **socket_context,
                          enum MHD_ConnectionNotificationCode toe) {
    struct iof_http_server *srv = cls;
    struct iof_http_guard *g = &srv->guard;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        struct iof_http_conn *c = calloc(1, sizeof *c);
        *socket_context = c;
        if (c == NULL) {
            return; /* untracked: no head deadline, still under MHD's own limits */
        }
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        c->fd = ci != NULL ? ci->connect_fd : -1;
        c->since_ms = iof_time_mono_ms();
        c->waiting_head = true;
        pthread_mutex_lock(&g->mu);
        enqueue_locked(g, c);
        g->open++;
        if (g->open > g->peak) {
            g->peak = g->open;
        }
        pthread_mutex_unlock(&g->mu);
        return;
    }
    struct iof_http_conn *c = *socket_context;
    if (c == NULL) {
        return;
    }
    pthread_mutex_lock(&g->mu);
    dequeue_locked(g, c);
    g->open--;
    pthread_mutex_unlock(&g->mu);
    free(c);
    *socket_context = NULL;
}

static struct iof_http_conn *conn_of(struct MHD_Connection *conn) {
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci != NULL ? ci->socket_context : NULL;
}

static void
set_state(struct iof_http_server *srv, struct MHD_Connection *conn, bool waiting, bool exempt) {
    struct iof_http_conn *c = conn_of(conn);
    if (c == NULL) {
        return;
    }
    pthread_mutex_lock(&srv->guard.mu);
    c->exempt = c->exempt || exempt;
    c->waiting_head = waiting;
    c->since_ms = iof_time_mono_ms();
    dequeue_locked(&srv->guard, c);
    if (waiting && !c->exempt && !c->cut) {
        enqueue_locked(&srv->guard, c);
    }
    pthread_mutex_unlock(&srv->guard.mu);
}

void iof_http_guard_head_done(struct iof_http_server *srv, struct MHD_Connection *conn) {
    set_state(srv, conn, false, false);
}

void iof_http_guard_request_done(struct iof_http_server *srv, struct MHD_Connection *conn) {
    set_state(srv, conn, true, false);
}

void iof_http_guard_exempt(struct iof_http_server *srv, struct MHD_Connection *conn) {
    set_state(srv, conn, false, true);
}

bool iof_http_guard_over_cap(struct iof_http_server *srv) {
    unsigned cap = srv->cfg.max_connections != 0 ? srv->cfg.max_connections : DEFAULT_MAX_CONN;
    pthread_mutex_lock(&srv->guard.mu);
    bool over = srv->guard.open > cap;
    pthread_mutex_unlock(&srv->guard.mu);
    return over;
}

size_t iof_http_guard_fill_options(struct iof_http_server *srv,
                                   struct MHD_OptionItem opts[IOF_HTTP_GUARD_OPTIONS]) {
    size_t n = 0;
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, srv};
    opts[n++] =
        (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT,
                                (intptr_t)iof_http_connection_ceiling(srv->cfg.max_connections),
                                NULL};
    opts[n++] = (struct MHD_OptionItem){
        MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (intptr_t)(srv->cfg.per_ip_connections != 0 ? srv->cfg.per_ip_connections : DEFAULT_PER_IP),
        NULL};
    opts[n++] = (struct MHD_OptionItem){
        MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)srv->cfg.connection_timeout_s, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    return n;
}

static void *sweeper(void *arg) {
    struct iof_http_server *srv = arg;
    struct iof_http_guard *g = &srv->guard;
    int64_t limit_ms =
        (int64_t)(srv->cfg.head_timeout_s != 0 ? srv->cfg.head_timeout_s : DEFAULT_HEAD_TIMEOUT_S) *
        1000;
    pthread_mutex_lock(&g->mu);
    while (!g->quit) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += SWEEP_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        (void)pthread_cond_timedwait(&g->cv, &g->mu, &ts);
        if (g->quit) {
            break;
        }
        int64_t now = iof_time_mono_ms();
        size_t cut = 0;
        for (struct iof_http_conn *c = g->head, *next; c != NULL && now - c->since_ms > limit_ms;
             c = next) {
            next = c->next;
            if (c->fd < 0) {
                dequeue_locked(g, c); /* untracked descriptor: nothing to cut */
            } else if (!unread_bytes(c->fd)) {
                /* libmicrohttpd sees the end of stream and closes the connection itself. */
                (void)shutdown(c->fd, SHUT_RDWR);
                c->cut = true;
                dequeue_locked(g, c);
                cut++;
            }
        }
        g->cut_total += cut;
        bool trim = g->peak > g->open + TRIM_AFTER;
        if (trim) {
            g->peak = g->open;
        }
        size_t open = g->open;
        pthread_mutex_unlock(&g->mu);
        if (cut > 0) {
            IOF_DEBUG("http", "head_deadline_closed count=%zu open=%zu", cut, open);
        }
        if (trim) {
            (void)malloc_trim(0);
        }
        pthread_mutex_lock(&g->mu);
    }
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

iof_err iof_http_guard_init(struct iof_http_server *srv) {
    struct iof_http_guard *g = &srv->guard;
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) != 0) {
        return IOF_ENOMEM;
    }
    bool ok =
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 && pthread_cond_init(&g->cv, &ca) == 0;
    pthread_condattr_destroy(&ca);
    if (!ok) {
        return IOF_ENOMEM;
    }
    if (pthread_mutex_init(&g->mu, NULL) != 0) {
        pthread_cond_destroy(&g->cv);
        return IOF_ENOMEM;
    }
    return IOF_OK;
}

iof_err iof_http_guard_start(struct iof_http_server *srv) {
    struct iof_http_guard *g = &srv->guard;
    if (pthread_create(&g->thread, NULL, sweeper, srv) != 0) {
        return IOF_EIO;
    }
    g->running = true;
    return IOF_OK;
}

void iof_http_guard_stop(struct iof_http_server *srv) {
    struct iof_http_guard *g = &srv->guard;
    if (!g->running) {
        return;
    }
    pthread_mutex_lock(&g->mu);
    g->quit = true;
    pthread_cond_signal(&g->cv);
    pthread_mutex_unlock(&g->mu);
    pthread_join(g->thread, NULL);
    g->running = false;
}

void iof_http_guard_destroy(struct iof_http_server *srv) {
    pthread_cond_destroy(&srv->guard.cv);
    pthread_mutex_destroy(&srv->guard.mu);
}
