/* Shared state of the Local API's files (localapi.c: bus, sockets, timer; routes.c: REST).
 * Not for use outside agent/localapi. Everything in struct agent_localapi below mu is guarded by
 * mu. */
#ifndef AGENT_LOCALAPI_INTERNAL_H
#define AGENT_LOCALAPI_INTERNAL_H

#include "agent/localapi/archive.h"
#include "agent/localapi/localapi.h"
#include "ws/hub.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#define LOCALAPI_ID_MAX 255 /* longest microservice id taken from a socket path */

/* One published message, shared by every queue it sits in: one allocation holding the frame as
 * it goes to receivers (decoded only where a JSON form is asked for, /v2/messages/next). */
struct agent_localapi_qmsg {
    atomic_uint refs;
    size_t frame_len;
    uint8_t frame[]; /* 0x0D | len32 | binary message */
};

/* A bounded FIFO of messages (ring buffer of queue_max slots, allocated on first use). */
struct agent_localapi_ring {
    struct agent_localapi_qmsg **items;
    int64_t *sent_ms; /* un-ACKed ring only: when last sent */
    unsigned *tries;  /* un-ACKed ring only: resends so far */
    size_t head;
    size_t len;
    size_t cap;   /* 0 until allocated */
    size_t bytes; /* frame bytes of the messages held */
};

/* What the module knows about one microservice id: its config and routes when it is one of the
 * node's microservices, and its sockets and queues. */
struct agent_localapi_node {
    struct agent_localapi_node *next;
    char *uuid;
    bool known;     /* in the last set_microservices list */
    char *config;   /* known only */
    json_t *routes; /* known only: array of receiver uuids */
    /* known only: routes[i]'s node when that receiver is known on this node, else NULL (a
     * receiver elsewhere); rebuilt at the end of every set_microservices, the only place where
     * nodes stop being known (and known nodes are never freed before), so the pointers stay valid
     * and publishing looks no receiver up by name. */
    struct agent_localapi_node **route_nodes;
    size_t nroute_nodes;
    bool is_consumer;
    unsigned log_size_mb; /* known only: /v2/log budget ("logSize", MB, default 1) */
    uint64_t published;   /* messages published by it (known publishers only) */

    uint64_t ctl_conn;    /* 0: none */
    unsigned ctl_pending; /* bit 0: 0x0C, bit 1: 0x0F */
    int64_t ctl_sent_ms;
    unsigned ctl_tries;

    uint64_t msg_conn; /* 0: none (messages wait in queue for /v2/messages/next) */
    bool msg_closing;  /* msg_conn is being closed for want of ACKs */
    struct agent_localapi_ring queue;
    struct agent_localapi_ring unacked;
};

/* The hub's context for one accepted socket. */
struct agent_localapi_conn {
    struct agent_localapi_conn *next;
    struct agent_localapi *api;
    bool control;
    bool bound;  /* the caller was identified as uuid: it publishes as uuid only */
    bool ts6;    /* receipts carry 6-byte timestamps (localapi.h "Receipts") */
    uint64_t id; /* 0 until on_open */
    char uuid[LOCALAPI_ID_MAX + 1];
};

struct agent_localapi {
    char *data_dir;
    char *log_dir;
    unsigned ack_timeout_ms;
    unsigned ack_retries;
    size_t queue_max;
    size_t queue_max_bytes;
    uint64_t archive_max_bytes;
    bool strict_callers;
    struct agent_localapi_hooks hooks;
    pthread_mutex_t self_mu; /* the node's own addresses, refreshed at most every second */
    char (*self_addrs)[48];
    size_t nself;
    int64_t self_ms;
    struct iof_ws_hub *hub;
    struct agent_archive *archive; /* NULL without data_dir; has its own lock */
    pthread_mutex_t log_mu;        /* /v2/log files */

    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t timer;
    bool timer_started;
    bool stopping;
    bool stopped;
    struct agent_localapi_node *nodes;
    struct agent_localapi_conn *conns;
    char *edge_resources; /* compact JSON array text */
    char gps_lat[64];
    char gps_lon[64];
    agent_localapi_remote_fn sink;
    void *sink_ctx;
    uint64_t processed;
    uint64_t delivered; /* copies queued for local receivers */
    uint64_t dropped;
    uint64_t unroutable;
    uint64_t remote_failed; /* refused by the remote sink (transport down or queue full) */
    uint64_t repaired;      /* published messages whose text had ill-formed UTF-8 (now U+FFFD) */
    uint64_t speed_count;
    int64_t speed_ms;
};

/* Assigns id and timestamp to in (borrowed; its id and timestamp are ignored), archives it and
 * routes it. id_out gets the 32-hex id. IOF_EINVAL (d says why) when the message does not encode,
 * IOF_ENOMEM. */
IOF_NODISCARD iof_err agent_localapi_publish(struct agent_localapi *api,
                                             const struct iof_msg *in,
                                             char id_out[33],
                                             int64_t *ts_out,
                                             bool *unroutable,
                                             struct iof_diag *d);

/* Counts a published message whose text fields held ill-formed UTF-8 (n sequences replaced with
 * U+FFFD, as the classic agent reads them) and logs the first ten, then every thousandth. */
void agent_localapi_count_repaired(struct agent_localapi *api, const char *publisher, size_t n);

/* The node record for uuid, or NULL. Caller holds mu. */
struct agent_localapi_node *agent_localapi_find(struct agent_localapi *api, const char *uuid);

/* Takes the next message of a ring (the caller owns the reference), NULL when empty. Caller holds
 * mu. */
struct agent_localapi_qmsg *agent_localapi_ring_pop(struct agent_localapi_ring *r);

void agent_localapi_qmsg_unref(struct agent_localapi_qmsg *q);

/* Frees nodes that are neither known nor connected nor holding messages. Caller holds mu. */
void agent_localapi_gc(struct agent_localapi *api);

/* The caller check of every microservice route (localapi.h "Callers"): true when the request may
 * act as microservice id (NULL: a route that names none; then any microservice of the node, or
 * the node itself unless strict, may call). Otherwise answers 403 with a plain text, puts what
 * the handler should return into *ret and returns false. *bound (may be NULL) tells whether the
 * caller was identified (a container address, or strict mode): then it may act as id only; false
 * for the node itself outside strict mode, which keeps the classic trust. */
bool agent_localapi_caller_ok(struct agent_localapi *api,
                              struct iof_http_request *req,
                              const char *id,
                              bool *bound,
                              iof_err *ret);

/* The WebSocket routes' work: accepts the upgrade of req for microservice uuid. Returns what the
 * route handler should return. */
IOF_NODISCARD iof_err agent_localapi_ws_accept(struct agent_localapi *api,
                                               struct iof_http_request *req,
                                               bool control,
                                               bool bound,
                                               const char *uuid,
                                               struct iof_diag *d);

#endif
