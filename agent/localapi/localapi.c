/* The Local API's message bus and WebSockets: node records, routing, per-receiver queues, the
 * control and message sockets, the redelivery timer and the status counters (see localapi.h). */
#include "agent/localapi/internal.h"

#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "common/random.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <malloc.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define CTL_SIGNAL   1u
#define CTL_RESOURCE 2u
#define NO_ACK_CLOSE 4000 /* close status for a peer that stopped ACKing */

/* ---- messages and rings ---- */

/* Bytes of messages freed since the last malloc_trim. glibc keeps
 * freed memory of a drained queue in its heaps (hundreds of MB after a full queue); the timer
 * thread hands it back to the system once this passes TRIM_AFTER_BYTES. */
#define TRIM_AFTER_BYTES (8u << 20)
static atomic_size_t freed_since_trim;

void agent_localapi_qmsg_unref(struct agent_localapi_qmsg *q) {
    if (q != NULL && atomic_fetch_sub(&q->refs, 1) == 1) {
        atomic_fetch_add(&freed_since_trim, q->frame_len);
        free(q);
    }
}

/* One allocation for a frame of frame_len bytes, one reference. */
static struct agent_localapi_qmsg *qmsg_alloc(size_t frame_len) {
    struct agent_localapi_qmsg *q = malloc(sizeof *q + frame_len);
    if (q != NULL) {
        atomic_init(&q->refs, 1);
        q->frame_len = frame_len;
    }
    return q;
}

static struct agent_localapi_qmsg *qmsg_ref(struct agent_localapi_qmsg *q) {
    atomic_fetch_add(&q->refs, 1);
    return q;
}

/* A shared frame of msg as it is (id and timestamp included): one allocation, encoded in place. */
#define QMSG_SCRATCH 8192
static iof_err
qmsg_new(const struct iof_msg *msg, struct agent_localapi_qmsg **out, struct iof_diag *d) {
    /* Most messages are small: encoded once into a per-thread buffer and copied (encoding
     * validates the message; sizing first and then encoding in place did that twice). */
    static _Thread_local uint8_t scratch[QMSG_SCRATCH];
    size_t len = 0;
    struct iof_diag sd = {{0}};
    iof_err err = iof_msg_encode(msg, IOF_MSG_WIDTH_CLASSIC, scratch, sizeof scratch, &len, &sd);
    if (err == IOF_OK) {
        struct agent_localapi_qmsg *q = qmsg_alloc(5 + len);
        if (q == NULL) {
            return IOF_ENOMEM;
        }
        q->frame[0] = IOF_MSG_OP_MESSAGE;
        q->frame[1] = (uint8_t)(len >> 24);
        q->frame[2] = (uint8_t)(len >> 16);
        q->frame[3] = (uint8_t)(len >> 8);
        q->frame[4] = (uint8_t)len;
        memcpy(q->frame + 5, scratch, len);
        *out = q;
        return IOF_OK;
    }
    if (err != IOF_E2BIG) {
        if (d != NULL) {
            *d = sd;
        }
        return err;
    }
    size_t size = 0;
    err = iof_msg_encoded_size(msg, IOF_MSG_WIDTH_CLASSIC, &size, d);
    if (err != IOF_OK) {
        return err;
    }
    if (size > UINT32_MAX) {
        return iof_fail(d, IOF_EINVAL, "message too large for a frame");
    }
    struct agent_localapi_qmsg *q = qmsg_alloc(5 + size);
    if (q == NULL) {
        return IOF_ENOMEM;
    }
    err = iof_msg_encode(msg, IOF_MSG_WIDTH_CLASSIC, q->frame + 5, size, &len, d);
    if (err != IOF_OK) {
        agent_localapi_qmsg_unref(q);
        return err;
    }
    q->frame[0] = IOF_MSG_OP_MESSAGE;
    q->frame[1] = (uint8_t)(len >> 24);
    q->frame[2] = (uint8_t)(len >> 16);
    q->frame[3] = (uint8_t)(len >> 8);
    q->frame[4] = (uint8_t)len;
    q->frame_len = 5 + len;
    *out = q;
    return IOF_OK;
}

static bool ring_alloc(struct agent_localapi_ring *r, size_t cap, bool timed) {
    if (r->items != NULL) {
        return true;
    }
    r->items = calloc(cap, sizeof *r->items);
    if (timed) {
        r->sent_ms = calloc(cap, sizeof *r->sent_ms);
        r->tries = calloc(cap, sizeof *r->tries);
    }
    if (r->items == NULL || (timed && (r->sent_ms == NULL || r->tries == NULL))) {
        free(r->items);
        free(r->sent_ms);
        free(r->tries);
        r->items = NULL;
        r->sent_ms = NULL;
        r->tries = NULL;
        return false;
    }
    r->cap = cap;
    r->head = 0;
    return true;
}

struct agent_localapi_qmsg *agent_localapi_ring_pop(struct agent_localapi_ring *r) {
    if (r->len == 0) {
        return NULL;
    }
    struct agent_localapi_qmsg *q = r->items[r->head];
    r->items[r->head] = NULL;
    r->len--;
    r->bytes -= q->frame_len;
    r->head = (r->head + 1) % r->cap;
    return q;
}

/* Appends (taking the reference q holds for the ring); when full, the oldest is dropped and
 * counted first. Caller holds mu. */
static void ring_push(struct agent_localapi *api,
                      struct agent_localapi_ring *r,
                      struct agent_localapi_qmsg *q,
                      bool timed) {
    size_t cap = api->queue_max;
    if (!ring_alloc(r, cap, timed)) {
        api->dropped++;
        agent_localapi_qmsg_unref(q);
        return;
    }
    while (r->len > 0 && (r->len == cap || r->bytes + q->frame_len > api->queue_max_bytes)) {
        agent_localapi_qmsg_unref(agent_localapi_ring_pop(r));
        api->dropped++;
    }
    size_t slot = (r->head + r->len) % cap;
    r->items[slot] = q;
    if (timed) {
        r->sent_ms[slot] = iof_time_mono_ms();
        r->tries[slot] = 0;
    }
    r->len++;
    r->bytes += q->frame_len;
}

/* Puts q in front of the ring (returning un-ACKed messages to the queue); when full the message
 * is dropped and counted instead (it is older than everything in the ring). */
static void ring_push_front(struct agent_localapi *api,
                            struct agent_localapi_ring *r,
                            struct agent_localapi_qmsg *q) {
    size_t cap = api->queue_max;
    if (!ring_alloc(r, cap, false) || r->len == cap ||
        r->bytes + q->frame_len > api->queue_max_bytes) {
        api->dropped++;
        agent_localapi_qmsg_unref(q);
        return;
    }
    r->head = (r->head + cap - 1) % cap;
    r->items[r->head] = q;
    r->len++;
    r->bytes += q->frame_len;
}

static size_t ring_slot(const struct agent_localapi_ring *r, size_t i) {
    return (r->head + i) % r->cap;
}

static void ring_clear(struct agent_localapi_ring *r) {
    struct agent_localapi_qmsg *q;
    while ((q = agent_localapi_ring_pop(r)) != NULL) {
        agent_localapi_qmsg_unref(q);
    }
}

static void ring_free(struct agent_localapi_ring *r) {
    ring_clear(r);
    free(r->items);
    free(r->sent_ms);
    free(r->tries);
    memset(r, 0, sizeof *r);
}

/* ---- nodes ---- */

struct agent_localapi_node *agent_localapi_find(struct agent_localapi *api, const char *uuid) {
    for (struct agent_localapi_node *n = api->nodes; n != NULL; n = n->next) {
        if (strcmp(n->uuid, uuid) == 0) {
            return n;
        }
    }
    return NULL;
}

static struct agent_localapi_node *node_get(struct agent_localapi *api, const char *uuid) {
    struct agent_localapi_node *n = agent_localapi_find(api, uuid);
    if (n != NULL) {
        return n;
    }
    n = calloc(1, sizeof *n);
    if (n == NULL || (n->uuid = strdup(uuid)) == NULL) {
        free(n);
        return NULL;
    }
    n->next = api->nodes;
    api->nodes = n;
    return n;
}

static void node_forget(struct agent_localapi_node *n) {
    free(n->route_nodes);
    n->route_nodes = NULL;
    n->nroute_nodes = 0;
    free(n->config);
    n->config = NULL;
    json_decref(n->routes);
    n->routes = NULL;
    n->known = false;
    n->is_consumer = false;
}

static void node_free(struct agent_localapi_node *n) {
    node_forget(n);
    ring_free(&n->queue);
    ring_free(&n->unacked);
    free(n->uuid);
    free(n);
}

void agent_localapi_gc(struct agent_localapi *api) {
    struct agent_localapi_node **p = &api->nodes;
    while (*p != NULL) {
        struct agent_localapi_node *n = *p;
        if (!n->known && n->ctl_conn == 0 && n->msg_conn == 0 && n->queue.len == 0 &&
            n->unacked.len == 0) {
            *p = n->next;
            node_free(n);
        } else {
            p = &n->next;
        }
    }
}

/* ---- delivery ---- */

static void send_frame(struct agent_localapi *api,
                       struct agent_localapi_node *n,
                       struct agent_localapi_qmsg *q) {
    iof_err err = iof_ws_send(api->hub, n->msg_conn, IOF_WS_BINARY, q->frame, q->frame_len);
    if (err != IOF_OK) {
        /* A peer that does not read: it stays un-ACKed and the timer resends it. */
        IOF_DEBUG("localapi", "push_deferred receiver=%s err=%s", n->uuid, iof_strerror(err));
    }
}

/* Hands q (a new reference for n) to receiver n: pushed when it has a message socket, else queued.
 * Caller holds mu. */
static void deliver_locked(struct agent_localapi *api,
                           struct agent_localapi_node *n,
                           struct agent_localapi_qmsg *q) {
    if (n->msg_conn != 0) {
        send_frame(api, n, q);
        ring_push(api, &n->unacked, q, true);
    } else {
        ring_push(api, &n->queue, q, false);
    }
}

/* A fresh message id: 32 lowercase hex digits from 16 random bytes. The bytes come from a
 * per-thread pool filled by the system's generator 4 KiB at a time, not one getrandom(2)
 * per message. */
#define ID_POOL 4096
static iof_err new_message_id(char id[33]) {
    static _Thread_local uint8_t pool[ID_POOL];
    static _Thread_local size_t used = ID_POOL;
    static const char hex[] = "0123456789abcdef";
    if (used + 16 > ID_POOL) {
        iof_err err = iof_random_bytes(pool, sizeof pool);
        if (err != IOF_OK) {
            return err;
        }
        used = 0;
    }
    for (size_t i = 0; i < 16; i++) {
        uint8_t b = pool[used + i];
        id[2 * i] = hex[b >> 4];
        id[2 * i + 1] = hex[b & 15];
    }
    memset(pool + used, 0, 16); /* an id's bytes are not kept */
    used += 16;
    id[32] = '\0';
    return IOF_OK;
}

/* agent_localapi_publish; flush false leaves the archive's group to the caller (the socket path
 * flushes at the end of each read, before any receipt or delivery is written). */
static iof_err publish_msg(struct agent_localapi *api,
                           const struct iof_msg *in,
                           bool flush,
                           char id_out[33],
                           int64_t *ts_out,
                           bool *unroutable,
                           struct iof_diag *d) {
    char id[33];
    iof_err err = new_message_id(id);
    if (err != IOF_OK) {
        return err;
    }
    struct iof_msg m = *in;
    m.id = id;
    m.timestamp = iof_time_now_ms();
    m.version = IOF_MSG_VERSION;
    struct agent_localapi_qmsg *q;
    err = qmsg_new(&m, &q, d);
    if (err != IOF_OK) {
        return err;
    }
    const char *publisher = m.publisher != NULL ? m.publisher : "";
    if (api->archive != NULL) {
        struct iof_diag ad = {{0}};
        iof_err aerr = agent_archive_append(
            api->archive, publisher, m.timestamp, q->frame + 5, q->frame_len - 5, &ad);
        if (aerr == IOF_OK && flush) {
            aerr = agent_archive_flush(api->archive, &ad);
        }
        if (aerr != IOF_OK) {
            char qp[160];
            char qr[300];
            IOF_WARN("localapi",
                     "archive_failed publisher=%s reason=%s",
                     iof_log_quote(qp, sizeof qp, publisher),
                     iof_log_quote(qr, sizeof qr, ad.msg));
        }
    }

    /* Remote receivers are collected under the lock and handed to the sink after it. */
    char **remote = NULL;
    size_t nremote = 0;
    size_t reached = 0;
    pthread_mutex_lock(&api->mu);
    api->processed++;
    agent_localapi_remote_fn sink = api->sink;
    void *sink_ctx = api->sink_ctx;
    struct agent_localapi_node *pub = agent_localapi_find(api, publisher);
    if (pub != NULL && pub->known) {
        pub->published++;
        size_t nroutes = json_array_size(pub->routes);
        if (sink != NULL && nroutes > 0) {
            remote = calloc(nroutes, sizeof *remote);
        }
        size_t i;
        const json_t *v;
        json_array_foreach(pub->routes, i, v) {
            const char *r = json_string_value(v);
            if (r == NULL) {
                continue;
            }
            struct agent_localapi_node *rn =
                i < pub->nroute_nodes ? pub->route_nodes[i] : agent_localapi_find(api, r);
            if (rn != NULL && rn->known) {
                deliver_locked(api, rn, qmsg_ref(q));
                reached++;
            } else if (remote != NULL && (remote[nremote] = strdup(r)) != NULL) {
                nremote++;
            }
        }
    }
    bool none = reached == 0 && nremote == 0;
    api->delivered += reached; /* under the lock already held for routing */
    uint64_t unroutable_count = 0;
    if (none) {
        unroutable_count = ++api->unroutable;
    }
    pthread_mutex_unlock(&api->mu);

    for (size_t i = 0; i < nremote; i++) {
        iof_err serr = sink(sink_ctx, remote[i], &m);
        if (serr != IOF_OK) {
            /* Counted; logged like unroutable ones (first ten, then every thousandth), so a
             * transport outage cannot flood the log. */
            pthread_mutex_lock(&api->mu);
            uint64_t n = ++api->remote_failed;
            pthread_mutex_unlock(&api->mu);
            if (n <= 10 || n % 1000 == 0) {
                char qt[160];
                IOF_WARN("localapi",
                         "remote_failed receiver=%s err=\"%s\" count=%" PRIu64,
                         iof_log_quote(qt, sizeof qt, remote[i]),
                         iof_strerror(serr),
                         n);
            }
        }
        free(remote[i]);
    }
    free(remote);
    /* Logged, but a publisher without routes cannot flood the log: the first ten, then every
     * thousandth (the count says how many there were). */
    if (none && (unroutable_count <= 10 || unroutable_count % 1000 == 0)) {
        char qt[160];
        IOF_INFO("localapi",
                 "unroutable id=%s publisher=%s count=%" PRIu64,
                 id,
                 iof_log_quote(qt, sizeof qt, publisher),
                 unroutable_count);
    }
    memcpy(id_out, id, sizeof id);
    *ts_out = m.timestamp;
    *unroutable = none;
    agent_localapi_qmsg_unref(q);
    return IOF_OK;
}

iof_err agent_localapi_publish(struct agent_localapi *api,
                               const struct iof_msg *in,
                               char id_out[33],
                               int64_t *ts_out,
                               bool *unroutable,
                               struct iof_diag *d) {
    return publish_msg(api, in, true, id_out, ts_out, unroutable, d);
}

iof_err agent_localapi_deliver(struct agent_localapi *api,
                               const char *receiver_uuid,
                               const struct iof_msg *msg) {
    struct agent_localapi_qmsg *q;
    iof_err err = qmsg_new(msg, &q, NULL);
    if (err != IOF_OK) {
        return err;
    }
    pthread_mutex_lock(&api->mu);
    struct agent_localapi_node *n = agent_localapi_find(api, receiver_uuid);
    if (n != NULL && n->known) {
        deliver_locked(api, n, q);
    } else {
        err = IOF_ENOENT;
    }
    pthread_mutex_unlock(&api->mu);
    if (err != IOF_OK) {
        agent_localapi_qmsg_unref(q);
    }
    return err;
}

void agent_localapi_set_remote_sink(struct agent_localapi *api,
                                    agent_localapi_remote_fn fn,
                                    void *ctx) {
    pthread_mutex_lock(&api->mu);
    api->sink = fn;
    api->sink_ctx = ctx;
    pthread_mutex_unlock(&api->mu);
}

/* ---- control signals ---- */

static void send_signal(struct agent_localapi *api, struct agent_localapi_node *n, unsigned bit) {
    uint8_t op = bit == CTL_SIGNAL ? IOF_MSG_OP_CONTROL_SIGNAL : IOF_MSG_OP_RESOURCE_SIGNAL;
    iof_err err = iof_ws_send(api->hub, n->ctl_conn, IOF_WS_BINARY, &op, 1);
    if (err != IOF_OK) {
        IOF_DEBUG("localapi", "signal_deferred id=%s err=%s", n->uuid, iof_strerror(err));
    }
    n->ctl_pending |= bit;
    n->ctl_sent_ms = iof_time_mono_ms();
    n->ctl_tries = 0;
}

/* The config text of one descriptor item: a string as is, anything else serialised. */
static char *config_text(const json_t *item) {
    const json_t *c = json_object_get(item, "config");
    if (json_is_string(c)) {
        return strdup(json_string_value(c));
    }
    if (c == NULL || json_is_null(c)) {
        return strdup("{}");
    }
    char *s = NULL;
    return iof_json_dump(c, &s, NULL) == IOF_OK ? s : NULL;
}

iof_err agent_localapi_set_microservices(struct agent_localapi *api, const json_t *microservices) {
    if (!json_is_array(microservices)) {
        return IOF_EINVAL;
    }
    pthread_mutex_lock(&api->mu);
    /* Old configs stay readable while the new list is applied, to diff against. */
    for (struct agent_localapi_node *n = api->nodes; n != NULL; n = n->next) {
        n->known = false;
    }
    iof_err err = IOF_OK;
    size_t i;
    const json_t *item;
    size_t signals = 0;
    json_array_foreach(microservices, i, item) {
        const char *uuid = json_string_value(json_object_get(item, "uuid"));
        if (uuid == NULL || uuid[0] == '\0' || strlen(uuid) > LOCALAPI_ID_MAX) {
            continue;
        }
        char *config = config_text(item);
        struct agent_localapi_node *n = config != NULL ? node_get(api, uuid) : NULL;
        if (n == NULL) {
            free(config);
            err = IOF_ENOMEM;
            break;
        }
        if (n->known) {
            free(config); /* a duplicate uuid: the first item wins */
            continue;
        }
        bool changed = n->config == NULL || strcmp(n->config, config) != 0;
        free(n->config);
        n->config = config;
        const json_t *routes = json_object_get(item, "routes");
        json_decref(n->routes);
        n->routes = json_is_array(routes) ? json_deep_copy(routes) : json_array();
        n->is_consumer = json_is_true(json_object_get(item, "isConsumer"));
        json_int_t log_size = json_integer_value(json_object_get(item, "logSize"));
        n->log_size_mb = log_size < 1 ? 1 : log_size > 1024 ? 1024 : (unsigned)log_size;
        n->known = true;
        if (changed && n->ctl_conn != 0) {
            send_signal(api, n, CTL_SIGNAL);
            signals++;
        }
    }
    if (err != IOF_OK) {
        /* Keep the previous state rather than half a list: nothing becomes unknown. */
        for (struct agent_localapi_node *n = api->nodes; n != NULL; n = n->next) {
            n->known = n->known || n->config != NULL;
        }
    } else {
        for (struct agent_localapi_node *n = api->nodes; n != NULL; n = n->next) {
            if (!n->known && n->config != NULL) {
                node_forget(n);
                api->dropped += n->queue.len;
                ring_clear(&n->queue);
            }
        }
        agent_localapi_gc(api);
    }
    /* The route receivers of every known node (see route_nodes); a node without the memory for
     * it looks its receivers up by name. */
    for (struct agent_localapi_node *n = api->nodes; n != NULL; n = n->next) {
        free(n->route_nodes);
        n->route_nodes = NULL;
        n->nroute_nodes = 0;
        size_t nr = n->known ? json_array_size(n->routes) : 0;
        if (nr == 0 || (n->route_nodes = calloc(nr, sizeof *n->route_nodes)) == NULL) {
            continue;
        }
        n->nroute_nodes = nr;
        for (size_t k = 0; k < nr; k++) {
            const char *r = json_string_value(json_array_get(n->routes, k));
            struct agent_localapi_node *rn = r != NULL ? agent_localapi_find(api, r) : NULL;
            n->route_nodes[k] = rn != NULL && rn->known ? rn : NULL;
        }
    }
    pthread_mutex_unlock(&api->mu);
    IOF_DEBUG(
        "localapi", "microservices count=%zu signals=%zu", json_array_size(microservices), signals);
    return err;
}

iof_err agent_localapi_set_edge_resources(struct agent_localapi *api,
                                          const json_t *edge_resources) {
    char *text = NULL;
    if (edge_resources == NULL || iof_json_dump(edge_resources, &text, NULL) != IOF_OK) {
        return edge_resources == NULL ? IOF_EINVAL : IOF_ENOMEM;
    }
    pthread_mutex_lock(&api->mu);
    if (strcmp(text, api->edge_resources) == 0) {
        free(text);
    } else {
        free(api->edge_resources);
        api->edge_resources = text;
        for (struct agent_localapi_node *n = api->nodes; n != NULL; n = n->next) {
            if (n->ctl_conn != 0) {
                send_signal(api, n, CTL_RESOURCE);
            }
        }
    }
    pthread_mutex_unlock(&api->mu);
    return IOF_OK;
}

/* ---- sockets ---- */

static void replace_conn(struct agent_localapi *api, uint64_t *slot, uint64_t id) {
    if (*slot != 0 && *slot != id) {
        (void)!iof_ws_close(
            api->hub, *slot, IOF_WS_STATUS_NORMAL, "replaced by a newer connection");
    }
    *slot = id;
}

/* Un-ACKed messages go back in front of the queue (newest first, so order is kept), for the next
 * socket or /v2/messages/next. Caller holds mu. */
static void requeue_unacked(struct agent_localapi *api, struct agent_localapi_node *n) {
    while (n->unacked.len > 0) {
        size_t last = ring_slot(&n->unacked, n->unacked.len - 1);
        struct agent_localapi_qmsg *q = n->unacked.items[last];
        n->unacked.items[last] = NULL;
        n->unacked.len--;
        n->unacked.bytes -= q->frame_len;
        if (n->known) {
            ring_push_front(api, &n->queue, q);
        } else {
            agent_localapi_qmsg_unref(q);
        }
    }
}

static void on_open(void *ctx, uint64_t conn_id) {
    struct agent_localapi_conn *c = ctx;
    struct agent_localapi *api = c->api;
    pthread_mutex_lock(&api->mu);
    c->id = conn_id;
    struct agent_localapi_node *n = node_get(api, c->uuid);
    if (n == NULL) {
        pthread_mutex_unlock(&api->mu);
        (void)!iof_ws_close(api->hub, conn_id, IOF_WS_STATUS_INTERNAL, NULL);
        return;
    }
    if (c->control) {
        replace_conn(api, &n->ctl_conn, conn_id);
        n->ctl_pending = 0;
        n->ctl_tries = 0;
    } else {
        replace_conn(api, &n->msg_conn, conn_id);
        n->msg_closing = false;
        /* Real-time mode: what waited for /v2/messages/next is pushed now, after what a
         * replaced socket left un-ACKed. */
        requeue_unacked(api, n);
        struct agent_localapi_qmsg *q;
        while ((q = agent_localapi_ring_pop(&n->queue)) != NULL) {
            deliver_locked(api, n, q);
        }
    }
    pthread_mutex_unlock(&api->mu);
    IOF_DEBUG("localapi", "socket_open kind=%s id=%s", c->control ? "control" : "message", c->uuid);
}

static void on_publish(struct agent_localapi *api,
                       uint64_t conn_id,
                       const char *uuid,
                       bool bound,
                       bool ts6,
                       const uint8_t *data,
                       size_t len) {
    struct iof_diag d = {{0}};
    const uint8_t *body;
    size_t body_len;
    struct iof_msg *msg = NULL;
    size_t repaired = 0;
    iof_err err = iof_msg_frame_parse(data, len, &body, &body_len, &d);
    if (err == IOF_OK) {
        /* Text as the classic agent reads it: a Node SDK sends strings as Latin-1. */
        err = iof_msg_decode_repair(body, body_len, &msg, &repaired, &d);
    }
    if (err == IOF_OK && repaired > 0) {
        agent_localapi_count_repaired(api, uuid, repaired);
    }
    /* An identified caller publishes as itself only (localapi.h "Callers"). */
    if (err == IOF_OK && bound && (msg->publisher == NULL || strcmp(msg->publisher, uuid) != 0)) {
        err = iof_fail(&d, IOF_EPERM, "publisher is not the socket's microservice");
    }
    char id[33];
    int64_t ts = 0;
    bool unroutable = false;
    if (err == IOF_OK) {
        err = publish_msg(api, msg, false, id, &ts, &unroutable, &d);
    }
    iof_msg_free(msg);
    if (err != IOF_OK) {
        char qt[160];
        char qr[300];
        IOF_WARN("localapi",
                 "socket_publish_failed id=%s reason=%s",
                 iof_log_quote(qt, sizeof qt, uuid),
                 iof_log_quote(qr, sizeof qr, iof_diag_text(&d, err)));
        return;
    }
    uint8_t receipt[3 + 32 + 8];
    size_t rlen = 0;
    if (iof_msg_receipt_encode_width(id, ts, ts6 ? 6 : 8, receipt, sizeof receipt, &rlen) ==
        IOF_OK) {
        (void)!iof_ws_send(api->hub, conn_id, IOF_WS_BINARY, receipt, rlen);
    }
}

static void on_message(
    void *ctx, uint64_t conn_id, enum iof_ws_opcode opcode, const uint8_t *data, size_t len) {
    struct agent_localapi_conn *c = ctx;
    struct agent_localapi *api = c->api;
    if (opcode != IOF_WS_BINARY || len == 0) {
        return;
    }
    if (!c->control && data[0] == IOF_MSG_OP_MESSAGE) {
        on_publish(api, conn_id, c->uuid, c->bound, c->ts6, data, len);
        return;
    }
    if (data[0] != IOF_MSG_OP_ACK) {
        return; /* the classic agent ignores everything else, binary 0x09 included */
    }
    pthread_mutex_lock(&api->mu);
    struct agent_localapi_node *n = agent_localapi_find(api, c->uuid);
    if (n != NULL && c->control && n->ctl_conn == conn_id) {
        n->ctl_pending = 0;
        n->ctl_tries = 0;
    } else if (n != NULL && !c->control && n->msg_conn == conn_id) {
        /* ACKs carry no id: each one settles the oldest outstanding delivery. */
        agent_localapi_qmsg_unref(agent_localapi_ring_pop(&n->unacked));
    }
    pthread_mutex_unlock(&api->mu);
}

static void on_close(void *ctx, uint64_t conn_id, uint16_t status) {
    struct agent_localapi_conn *c = ctx;
    struct agent_localapi *api = c->api;
    pthread_mutex_lock(&api->mu);
    struct agent_localapi_node *n = agent_localapi_find(api, c->uuid);
    if (n != NULL && c->control && n->ctl_conn == conn_id) {
        n->ctl_conn = 0;
        n->ctl_pending = 0;
    } else if (n != NULL && !c->control && n->msg_conn == conn_id) {
        n->msg_conn = 0;
        n->msg_closing = false;
        requeue_unacked(api, n);
    }
    for (struct agent_localapi_conn **p = &api->conns; *p != NULL; p = &(*p)->next) {
        if (*p == c) {
            *p = c->next;
            break;
        }
    }
    agent_localapi_gc(api);
    pthread_mutex_unlock(&api->mu);
    IOF_DEBUG("localapi",
              "socket_closed kind=%s status=%u",
              c->control ? "control" : "message",
              (unsigned)status);
    free(c);
}

/* The classic agent answers a Ping whose payload is the single byte 0x09 with a Pong carrying
 * 0x0A, and SDKs written against it may look for that byte. The hub has already echoed the
 * payload (RFC 6455); the classic Pong follows it. */
static void on_ping(void *ctx, uint64_t conn_id, const uint8_t *data, size_t len) {
    struct agent_localapi_conn *c = ctx;
    if (len == 1 && data[0] == IOF_MSG_OP_PING) {
        static const uint8_t pong = IOF_MSG_OP_PONG;
        (void)!iof_ws_pong(c->api->hub, conn_id, &pong, 1);
    }
}

/* The group commit of the archive: what this read published is written before its receipts and
 * deliveries leave (they are written by the hub after this returns). */
static void on_read_end(void *ctx, uint64_t conn_id) {
    (void)conn_id;
    struct agent_localapi_conn *c = ctx;
    struct iof_diag d = {{0}};
    if (!c->control && c->api->archive != NULL &&
        agent_archive_flush(c->api->archive, &d) != IOF_OK) {
        char qr[300];
        IOF_WARN("localapi", "archive_failed reason=%s", iof_log_quote(qr, sizeof qr, d.msg));
    }
}

static const struct iof_ws_handlers ws_handlers = {.on_open = on_open,
                                                   .on_message = on_message,
                                                   .on_close = on_close,
                                                   .on_ping = on_ping,
                                                   .on_read_end = on_read_end};

/* The upgrade offers permessage-deflate (localapi.h "Receipts"); the offer itself is not taken
 * up. */
static bool offers_deflate(struct iof_http_request *req) {
    const char *ext = iof_http_header(req, "Sec-WebSocket-Extensions");
    if (ext == NULL) {
        return false;
    }
    static const char token[] = "permessage-deflate";
    for (const char *p = ext; *p != '\0'; p++) {
        if (strncasecmp(p, token, sizeof token - 1) == 0) {
            return true;
        }
    }
    return false;
}

iof_err agent_localapi_ws_accept(struct agent_localapi *api,
                                 struct iof_http_request *req,
                                 bool control,
                                 bool bound,
                                 const char *uuid,
                                 struct iof_diag *d) {
    struct agent_localapi_conn *c = calloc(1, sizeof *c);
    if (c == NULL) {
        return IOF_ENOMEM;
    }
    c->api = api;
    c->control = control;
    c->bound = bound;
    c->ts6 = !control && offers_deflate(req);
    (void)snprintf(c->uuid, sizeof c->uuid, "%s", uuid);
    pthread_mutex_lock(&api->mu);
    c->next = api->conns;
    api->conns = c;
    pthread_mutex_unlock(&api->mu);
    iof_err err = iof_ws_hub_accept(api->hub, req, &ws_handlers, c, d);
    if (err != IOF_OK) {
        pthread_mutex_lock(&api->mu);
        for (struct agent_localapi_conn **p = &api->conns; *p != NULL; p = &(*p)->next) {
            if (*p == c) {
                *p = c->next;
                break;
            }
        }
        pthread_mutex_unlock(&api->mu);
        free(c);
        /* A bad handshake was answered already (400 or 426). */
        if (err == IOF_EINVAL || err == IOF_EUNSUPPORTED) {
            return IOF_OK;
        }
    }
    return err;
}

/* ---- redelivery timer ---- */

static void redeliver_locked(struct agent_localapi *api, int64_t now) {
    int64_t timeout = api->ack_timeout_ms;
    for (struct agent_localapi_node *n = api->nodes; n != NULL; n = n->next) {
        if (n->ctl_conn != 0 && n->ctl_pending != 0 && now - n->ctl_sent_ms >= timeout) {
            if (n->ctl_tries >= api->ack_retries) {
                IOF_WARN("localapi", "control_no_ack id=%s tries=%u", n->uuid, n->ctl_tries);
                (void)!iof_ws_close(api->hub, n->ctl_conn, NO_ACK_CLOSE, "no ACK");
                n->ctl_pending = 0;
            } else {
                unsigned pending = n->ctl_pending;
                unsigned tries = n->ctl_tries + 1;
                for (unsigned bit = CTL_SIGNAL; bit <= CTL_RESOURCE; bit <<= 1) {
                    if (pending & bit) {
                        send_signal(api, n, bit);
                    }
                }
                n->ctl_pending = pending;
                n->ctl_tries = tries;
            }
        }
        if (n->msg_conn == 0 || n->msg_closing) {
            continue;
        }
        for (size_t i = 0; i < n->unacked.len; i++) {
            size_t slot = ring_slot(&n->unacked, i);
            if (now - n->unacked.sent_ms[slot] < timeout) {
                continue;
            }
            if (n->unacked.tries[slot] >= api->ack_retries) {
                IOF_WARN(
                    "localapi", "message_no_ack id=%s tries=%u", n->uuid, n->unacked.tries[slot]);
                (void)!iof_ws_close(api->hub, n->msg_conn, NO_ACK_CLOSE, "no ACK");
                n->msg_closing = true;
                break;
            }
            send_frame(api, n, n->unacked.items[slot]);
            n->unacked.sent_ms[slot] = now;
            n->unacked.tries[slot]++;
        }
    }
}

static void *timer_main(void *arg) {
    struct agent_localapi *api = arg;
    long tick = (long)api->ack_timeout_ms / 4;
    tick = tick < 5 ? 5 : tick > 1000 ? 1000 : tick;
    int64_t retrim_at = 0;
    pthread_mutex_lock(&api->mu);
    while (!api->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += tick * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        (void)pthread_cond_timedwait(&api->cv, &api->mu, &ts);
        if (!api->stopping) {
            redeliver_locked(api, iof_time_mono_ms());
        }
        if (api->archive != NULL) {
            /* Not under mu: the archive's lock is taken without it everywhere else too. */
            pthread_mutex_unlock(&api->mu);
            agent_archive_release_idle(api->archive);
            pthread_mutex_lock(&api->mu);
        }
        int64_t now = iof_time_mono_ms();
        bool drained = atomic_load(&freed_since_trim) >= TRIM_AFTER_BYTES;
        if (drained || (retrim_at != 0 && now >= retrim_at)) {
            /* Once more a little later: the answer that carried the messages (a /next body
             * of the queue's size) is freed only after it was sent. */
            retrim_at = drained ? now + 1500 : 0;
            atomic_store(&freed_since_trim, 0);
            pthread_mutex_unlock(&api->mu); /* trimming takes a few ms; nobody waits for it */
            int released = malloc_trim(0);
            IOF_DEBUG("localapi", "memory_trim released=%d", released);
            pthread_mutex_lock(&api->mu);
        }
    }
    pthread_mutex_unlock(&api->mu);
    return NULL;
}

/* ---- status ---- */

void agent_localapi_count_repaired(struct agent_localapi *api, const char *publisher, size_t n) {
    pthread_mutex_lock(&api->mu);
    uint64_t count = ++api->repaired;
    pthread_mutex_unlock(&api->mu);
    if (count <= 10 || count % 1000 == 0) {
        char qp[160];
        IOF_INFO("localapi",
                 "text_repaired publisher=%s sequences=%zu count=%" PRIu64,
                 iof_log_quote(qp, sizeof qp, publisher != NULL ? publisher : ""),
                 n,
                 count);
    }
}

void agent_localapi_counters(struct agent_localapi *api, struct agent_localapi_counters *out) {
    pthread_mutex_lock(&api->mu);
    out->published = api->processed;
    out->delivered = api->delivered;
    out->dropped = api->dropped;
    out->unroutable = api->unroutable;
    out->remote_failed = api->remote_failed;
    pthread_mutex_unlock(&api->mu);
}

iof_err agent_localapi_stats(struct agent_localapi *api, json_t **out) {
    json_t *counts = json_array();
    json_t *o = json_object();
    if (counts == NULL || o == NULL) {
        json_decref(counts);
        json_decref(o);
        return IOF_ENOMEM;
    }
    pthread_mutex_lock(&api->mu);
    for (struct agent_localapi_node *n = api->nodes; n != NULL; n = n->next) {
        if (n->known) {
            (void)json_array_append_new(
                counts,
                json_pack("{s:s, s:I}", "id", n->uuid, "messagecount", (json_int_t)n->published));
        }
    }
    int64_t now = iof_time_mono_ms();
    double secs = (double)(now - api->speed_ms) / 1000.0;
    double speed = secs > 0 ? (double)(api->processed - api->speed_count) / secs : 0.0;
    api->speed_ms = now;
    api->speed_count = api->processed;
    (void)json_object_set_new(o, "processedMessages", json_integer((json_int_t)api->processed));
    (void)json_object_set_new(o, "messageSpeed", json_real(speed));
    (void)json_object_set_new(o, "droppedMessages", json_integer((json_int_t)api->dropped));
    (void)json_object_set_new(o, "unroutableMessages", json_integer((json_int_t)api->unroutable));
    (void)json_object_set_new(
        o, "remoteFailedMessages", json_integer((json_int_t)api->remote_failed));
    (void)json_object_set_new(o, "repairedTextMessages", json_integer((json_int_t)api->repaired));
    pthread_mutex_unlock(&api->mu);
    char *text = NULL;
    iof_err err = iof_json_dump(counts, &text, NULL);
    json_decref(counts);
    if (err != IOF_OK || json_object_set_new(o, "microserviceMessageCounts", json_string(text))) {
        free(text);
        json_decref(o);
        return IOF_ENOMEM;
    }
    free(text);
    *out = o;
    return IOF_OK;
}

/* ---- lifecycle ---- */

static char *dup_or_null(const char *s) {
    return s != NULL ? strdup(s) : NULL;
}

iof_err agent_localapi_new(const struct agent_localapi_config *cfg, struct agent_localapi **out) {
    struct agent_localapi *api = calloc(1, sizeof *api);
    if (api == NULL) {
        return IOF_ENOMEM;
    }
    api->ack_timeout_ms = cfg->ack_timeout_ms != 0 ? cfg->ack_timeout_ms : 20000;
    api->ack_retries = cfg->ack_retries != 0 ? cfg->ack_retries : 10;
    api->queue_max = cfg->queue_max != 0 ? cfg->queue_max : 1000;
    api->queue_max_bytes = cfg->queue_max_bytes != 0 ? cfg->queue_max_bytes : (size_t)64 << 20;
    api->archive_max_bytes =
        cfg->archive_max_bytes != 0 ? cfg->archive_max_bytes : (uint64_t)1 << 30;
    api->hooks = cfg->hooks;
    api->strict_callers = cfg->strict_callers;
    api->data_dir = dup_or_null(cfg->data_dir);
    api->log_dir = dup_or_null(cfg->log_dir);
    api->edge_resources = strdup("[]");
    (void)snprintf(api->gps_lat, sizeof api->gps_lat, "0");
    (void)snprintf(api->gps_lon, sizeof api->gps_lon, "0");
    api->speed_ms = iof_time_mono_ms();
    pthread_mutex_init(&api->mu, NULL);
    pthread_mutex_init(&api->log_mu, NULL);
    pthread_mutex_init(&api->self_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&api->cv, &ca);
    pthread_condattr_destroy(&ca);
    iof_err err = IOF_OK;
    if (api->edge_resources == NULL || (cfg->data_dir != NULL && api->data_dir == NULL) ||
        (cfg->log_dir != NULL && api->log_dir == NULL)) {
        err = IOF_ENOMEM;
    }
    if (err == IOF_OK && api->data_dir != NULL) {
        char dir[PATH_MAX];
        (void)snprintf(dir, sizeof dir, "%s/messages/archive", api->data_dir);
        /* Segments of 1 MiB as the classic agent, smaller when the whole archive is small, so
         * rotation can still keep most of it. */
        uint64_t seg = api->archive_max_bytes / 16;
        seg = seg < 4096 ? 4096 : seg > ((uint64_t)1 << 20) ? (uint64_t)1 << 20 : seg;
        struct agent_archive_config ac = {
            .dir = dir, .max_bytes = api->archive_max_bytes, .segment_bytes = seg};
        struct iof_diag d = {{0}};
        err = agent_archive_open(&ac, &api->archive, &d);
        if (err != IOF_OK) {
            char qt[300];
            IOF_ERROR("localapi",
                      "archive_open_failed reason=%s",
                      iof_log_quote(qt, sizeof qt, iof_diag_text(&d, err)));
        }
    }
    if (err == IOF_OK) {
        /* A socket that answers neither pings nor sends anything for 90 s is closed, so idle
         * WebSockets cannot pile up (live SDK clients answer the pings). */
        struct iof_ws_hub_config hc = {.ping_interval_ms = 30000, .idle_timeout_ms = 90000};
        err = iof_ws_hub_new(&hc, &api->hub);
    }
    if (err == IOF_OK) {
        if (pthread_create(&api->timer, NULL, timer_main, api) != 0) {
            err = IOF_EIO;
        } else {
            api->timer_started = true;
        }
    }
    if (err != IOF_OK) {
        agent_localapi_free(api);
        return err;
    }
    *out = api;
    return IOF_OK;
}

void agent_localapi_stop(struct agent_localapi *api) {
    pthread_mutex_lock(&api->mu);
    bool first = !api->stopped;
    api->stopping = true;
    api->stopped = true;
    pthread_cond_broadcast(&api->cv);
    pthread_mutex_unlock(&api->mu);
    if (!first) {
        return;
    }
    if (api->timer_started) {
        pthread_join(api->timer, NULL);
        api->timer_started = false;
    }
    if (api->hub != NULL) {
        iof_ws_hub_stop(api->hub);
    }
}

void agent_localapi_free(struct agent_localapi *api) {
    if (api == NULL) {
        return;
    }
    agent_localapi_stop(api);
    iof_ws_hub_free(api->hub);
    while (api->conns != NULL) { /* accepted, but the upgrade never completed */
        struct agent_localapi_conn *c = api->conns;
        api->conns = c->next;
        free(c);
    }
    while (api->nodes != NULL) {
        struct agent_localapi_node *n = api->nodes;
        api->nodes = n->next;
        node_free(n);
    }
    agent_archive_close(api->archive);
    pthread_cond_destroy(&api->cv);
    pthread_mutex_destroy(&api->mu);
    pthread_mutex_destroy(&api->log_mu);
    pthread_mutex_destroy(&api->self_mu);
    free(api->self_addrs);
    free(api->edge_resources);
    free(api->data_dir);
    free(api->log_dir);
    free(api);
}
