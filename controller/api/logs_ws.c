/* Log streams as a WebSocket; see logs_ws.h.
 *
 * A follower has two owners: the hub (from the accept until on_close, or until the registry is
 * freed when the connection never opened) and the log session (from on_open until the sink's
 * end). Both are counted in refs under w->mu; the last one frees it. */
#include "controller/api/logs_ws.h"

#include "common/log.h"
#include "controller/domain/agent_wait.h"
#include "ws/handshake.h"
#include "ws/hub.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define PENDING_MAX   (16 * 1024)  /* a line without its end waits at most this long */
#define QUEUE_MAX     (256 * 1024) /* per follower: what a slow reader may leave unread */
#define MAX_FOLLOWERS 256          /* as the log registry's session limit */

struct follower {
    struct follower *next; /* in w->list, under w->mu */
    struct ctl_logs_ws *w;
    int refs;      /* under w->mu */
    uint64_t conn; /* 0 until on_open */
    struct ctl_logs *logs;
    struct ctl_agent_wait *waits;
    char fog[64], msvc[65];
    struct ctl_log_request r;

    pthread_mutex_t mu; /* guards what follows: the session's calls and on_close */
    bool gone;          /* the client closed or vanished */
    size_t plen;
    unsigned char pending[PENDING_MAX]; /* the start of a line whose end has not come yet */
};

struct ctl_logs_ws {
    struct iof_ws_hub *hub;
    pthread_mutex_t mu;
    struct follower *list;
};

static void unref(struct follower *f) {
    struct ctl_logs_ws *w = f->w;
    pthread_mutex_lock(&w->mu);
    bool last = --f->refs == 0;
    if (last) {
        for (struct follower **p = &w->list; *p != NULL; p = &(*p)->next) {
            if (*p == f) {
                *p = f->next;
                break;
            }
        }
    }
    pthread_mutex_unlock(&w->mu);
    if (last) {
        pthread_mutex_destroy(&f->mu);
        free(f);
    }
}

size_t ctl_logs_ws_utf8(const unsigned char *src, size_t n, unsigned char *dst) {
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = src[i];
        size_t len = c < 0x80             ? 1
                     : (c & 0xE0) == 0xC0 ? 2
                     : (c & 0xF0) == 0xE0 ? 3
                     : (c & 0xF8) == 0xF0 ? 4
                                          : 0;
        bool ok = len != 0 && i + len <= n;
        uint32_t cp = len == 1 ? c : len == 2 ? c & 0x1Fu : len == 3 ? c & 0x0Fu : c & 0x07u;
        for (size_t k = 1; ok && k < len; k++) {
            ok = (src[i + k] & 0xC0) == 0x80;
            cp = (cp << 6) | (src[i + k] & 0x3Fu);
        }
        /* no overlong forms, no surrogates, nothing above U+10FFFF */
        ok = ok && !(len == 2 && cp < 0x80) && !(len == 3 && cp < 0x800) &&
             !(len == 4 && cp < 0x10000) && !(cp >= 0xD800 && cp <= 0xDFFF) && cp <= 0x10FFFF;
        if (ok) {
            memcpy(dst + o, src + i, len);
            o += len;
            i += len;
        } else {
            memcpy(dst + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        }
    }
    return o;
}

/* Where a text frame may end in buf[0..n) when no line end is in sight: before a multi-byte
 * sequence that is not complete yet. */
static size_t utf8_cut(const unsigned char *buf, size_t n) {
    for (size_t k = 1; k <= 3 && k <= n; k++) {
        unsigned char c = buf[n - k];
        if ((c & 0xC0) == 0x80) {
            continue; /* a continuation byte: look further back */
        }
        size_t len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
        return len > k ? n - k : n;
    }
    return n;
}

/* Sends pending + data[0..take) as one text frame; on success pending becomes data[take..len).
 * With f->mu held. */
static iof_err send_frame(struct follower *f, const unsigned char *data, size_t take, size_t len) {
    size_t n = f->plen + take;
    unsigned char *raw = malloc(n > 0 ? n : 1), *out = malloc(3 * n + 1);
    if (raw == NULL || out == NULL) {
        free(raw);
        free(out);
        return IOF_EBUSY; /* the Agent retries the chunk */
    }
    memcpy(raw, f->pending, f->plen);
    memcpy(raw + f->plen, data, take);
    size_t olen = ctl_logs_ws_utf8(raw, n, out);
    iof_err err = olen == 0 ? IOF_OK : iof_ws_send(f->w->hub, f->conn, IOF_WS_TEXT, out, olen);
    free(raw);
    free(out);
    if (err == IOF_OK) {
        f->plen = len - take;
        memcpy(f->pending, data + take, f->plen);
        return IOF_OK;
    }
    return err == IOF_EBUSY || err == IOF_E2BIG || err == IOF_ENOMEM ? IOF_EBUSY : IOF_EIO;
}

static iof_err sink_write(void *ctx, const void *data, size_t len) {
    struct follower *f = ctx;
    const unsigned char *d = data;
    size_t last_nl = 0; /* just after the last line end, 0 without one */
    for (size_t i = len; i > 0 && last_nl == 0; i--) {
        last_nl = d[i - 1] == '\n' ? i : 0;
    }
    pthread_mutex_lock(&f->mu);
    iof_err err = IOF_OK;
    if (f->gone) {
        err = IOF_EIO;
    } else if (len > QUEUE_MAX / 4) {
        err = IOF_EBUSY; /* more than a frame may carry: the Agent sends smaller chunks */
    } else if (last_nl > 0 && len - last_nl <= PENDING_MAX) {
        err = send_frame(f, d, last_nl, len); /* whole lines; the rest waits for its end */
    } else if (last_nl == 0 && f->plen + len <= PENDING_MAX) {
        memcpy(f->pending + f->plen, d, len);
        f->plen += len;
    } else {
        err = send_frame(f, d, utf8_cut(d, len), len); /* a line too long to wait: in parts */
    }
    pthread_mutex_unlock(&f->mu);
    return err;
}

static bool sink_gone(void *ctx) {
    struct follower *f = ctx;
    pthread_mutex_lock(&f->mu);
    bool gone = f->gone;
    pthread_mutex_unlock(&f->mu);
    return gone;
}

static void sink_end(void *ctx) {
    struct follower *f = ctx;
    pthread_mutex_lock(&f->mu);
    if (!f->gone) {
        if (f->plen > 0 && send_frame(f, (const unsigned char *)"", 0, 0) != IOF_OK) {
            IOF_DEBUG("logs", "log_ws_tail_lost bytes=%zu", f->plen);
        }
        if (iof_ws_close(f->w->hub, f->conn, 1000, "log ended") != IOF_OK) {
            IOF_DEBUG("logs", "log_ws_close_failed");
        }
    }
    pthread_mutex_unlock(&f->mu);
    unref(f);
}

static const struct ctl_log_sink_ops sink_ops = {sink_write, sink_gone, sink_end};

static void on_open(void *ctx, uint64_t conn_id) {
    struct follower *f = ctx;
    f->conn = conn_id;
    pthread_mutex_lock(&f->w->mu);
    f->refs++; /* the session's */
    pthread_mutex_unlock(&f->w->mu);
    /* On failure the sink was ended: the client gets the reason and a close. */
    if (ctl_logs_open_sink(f->logs, &f->r, &sink_ops, f) == IOF_OK) {
        ctl_agent_wait_wake(f->waits, f->fog);
    }
}

static void on_close(void *ctx, uint64_t conn_id, uint16_t status) {
    (void)conn_id;
    struct follower *f = ctx;
    pthread_mutex_lock(&f->mu);
    f->gone = true;
    pthread_mutex_unlock(&f->mu);
    IOF_DEBUG("logs", "log_ws_closed status=%u", (unsigned)status);
    unref(f);
}

static const struct iof_ws_handlers handlers = {.on_open = on_open, .on_close = on_close};

iof_err ctl_logs_ws_new(struct ctl_logs_ws **out) {
    struct ctl_logs_ws *w = calloc(1, sizeof *w);
    if (w == NULL) {
        return IOF_ENOMEM;
    }
    pthread_mutex_init(&w->mu, NULL);
    struct iof_ws_hub_config hc = {.max_message = 4096,
                                   .max_queued = QUEUE_MAX,
                                   .max_connections = MAX_FOLLOWERS,
                                   .ping_interval_ms = 30000,
                                   .idle_timeout_ms = 90000};
    iof_err err = iof_ws_hub_new(&hc, &w->hub);
    if (err != IOF_OK) {
        pthread_mutex_destroy(&w->mu);
        free(w);
        return err;
    }
    *out = w;
    return IOF_OK;
}

bool ctl_logs_ws_wanted(struct iof_http_request *req) {
    return iof_ws_header_has_token(iof_http_header(req, "Upgrade"), "websocket");
}

iof_err ctl_logs_ws_accept(struct ctl_logs_ws *w,
                           struct iof_http_request *req,
                           struct ctl_logs *logs,
                           struct ctl_agent_wait *waits,
                           const struct ctl_log_request *r,
                           struct iof_diag *d) {
    const char *msvc = r->msvc_uuid != NULL ? r->msvc_uuid : "";
    struct follower *f = calloc(1, sizeof *f);
    if (f == NULL) {
        return IOF_ENOMEM;
    }
    if (strlen(r->fog_uuid) >= sizeof f->fog || strlen(msvc) >= sizeof f->msvc) {
        free(f);
        return iof_fail(d, IOF_EINVAL, "uuid too long");
    }
    memcpy(f->fog, r->fog_uuid, strlen(r->fog_uuid) + 1);
    memcpy(f->msvc, msvc, strlen(msvc) + 1);
    f->r = *r;
    f->r.fog_uuid = f->fog;
    f->r.msvc_uuid = f->msvc;
    f->w = w;
    f->logs = logs;
    f->waits = waits;
    f->refs = 1; /* the hub's */
    pthread_mutex_init(&f->mu, NULL);
    pthread_mutex_lock(&w->mu);
    f->next = w->list;
    w->list = f;
    pthread_mutex_unlock(&w->mu);
    iof_err err = iof_ws_hub_accept(w->hub, req, &handlers, f, d);
    if (err != IOF_OK) {
        unref(f);
        if (err == IOF_EINVAL || err == IOF_EUNSUPPORTED) {
            return IOF_OK; /* answered 400 or 426 */
        }
    }
    return err;
}

void ctl_logs_ws_stop(struct ctl_logs_ws *w) {
    if (w != NULL) {
        iof_ws_hub_stop(w->hub);
    }
}

void ctl_logs_ws_free(struct ctl_logs_ws *w) {
    if (w == NULL) {
        return;
    }
    iof_ws_hub_free(w->hub);
    /* Left: followers whose connection never opened (the hub's reference only). */
    struct follower *f = w->list;
    while (f != NULL) {
        struct follower *next = f->next;
        pthread_mutex_destroy(&f->mu);
        free(f);
        f = next;
    }
    pthread_mutex_destroy(&w->mu);
    free(w);
}
