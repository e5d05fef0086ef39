/* Internals of the WebSocket hub shared by hub.c (the event loop and the sending API) and
 * hub_accept.c (the HTTP side of accepting). Not part of the public API.
 *
 * Locking: hub->mu guards the slot table, the command queue, the pending list and the flags marked
 * below; everything else in struct iof_ws_hub and all of struct iof_ws_hub_conn belongs to the hub
 * thread. Handlers are never called with mu held. */
#ifndef IOF_WS_HUB_INTERNAL_H
#define IOF_WS_HUB_INTERNAL_H

#include "ws/hub.h"
#include "ws/session.h"

#include <pthread.h>
#include <stdbool.h>

#define IOF_WS_HUB_NO_SLOT UINT32_MAX

/* One entry of the id table. An id is (gen << 32) | index; gen changes whenever the slot is freed,
 * so old ids stop matching. */
struct iof_ws_hub_slot {
    uint32_t gen;
    bool used;
    bool open;                    /* accepting sends (false once closing) */
    size_t in_cmds;               /* payload bytes in queued SEND commands */
    size_t in_wire;               /* payload bytes inside the session, not yet written */
    struct iof_ws_hub_conn *conn; /* written and read by the hub thread only */
    uint32_t next_free;           /* free list link, IOF_WS_HUB_NO_SLOT at the end */
};

enum iof_ws_hub_cmd_kind {
    IOF_WS_HUB_ADOPT, /* take an upgraded socket */
    IOF_WS_HUB_SEND,  /* data message or ping */
    IOF_WS_HUB_CLOSE,
};

/* A request to the hub thread. data holds the payload (SEND), the reason (CLOSE, NUL-terminated)
 * or the bytes read past the request head (ADOPT). */
struct iof_ws_hub_cmd {
    struct iof_ws_hub_cmd *next;
    enum iof_ws_hub_cmd_kind kind;
    uint32_t index;
    uint32_t gen;
    enum iof_ws_opcode opcode;
    uint16_t status;
    int fd;
    struct iof_http_upgraded *u;
    struct iof_ws_handlers h;
    void *ctx;
    size_t len;
    uint8_t data[];
};

/* An accepted upgrade waiting for its callback; the callback's ctx. */
struct iof_ws_hub_pending {
    struct iof_ws_hub_pending *prev;
    struct iof_ws_hub_pending *next;
    struct iof_ws_hub *hub;
    struct iof_ws_handlers h;
    void *ctx;
};

struct iof_ws_hub {
    struct iof_ws_hub_config cfg; /* defaults resolved */
    pthread_t thread;
    int epfd;
    int evfd;

    pthread_mutex_t mu;
    pthread_cond_t cond; /* signalled when stop completes */
    /* guarded by mu */
    struct iof_ws_hub_slot *slots;
    uint32_t nslots;
    uint32_t free_head;
    size_t nused;    /* slots in use */
    size_t npending; /* accepted upgrades not yet adopted */
    struct iof_ws_hub_cmd *cmd_head;
    struct iof_ws_hub_cmd *cmd_tail;
    struct iof_ws_hub_pending *pending;
    bool stopping; /* no new connections, no sends */
    bool stopped;  /* the hub thread finished stopping: no connection left */
    bool quit;     /* the hub thread exits */

    /* hub thread only */
    struct iof_ws_hub_conn *conns; /* every live connection, open or draining */
    struct iof_ws_hub_conn *dead;  /* released during this loop turn, freed at its end */
    bool stop_started;
    int64_t stop_deadline;
};

/* Queues a command for the hub thread. Caller holds mu. Returns true when the caller must wake the
 * hub thread (after unlocking) because the queue was empty. */
bool iof_ws_hub_push_locked(struct iof_ws_hub *hub, struct iof_ws_hub_cmd *cmd);

/* Wakes the hub thread. Any thread, with or without mu. */
void iof_ws_hub_wake(struct iof_ws_hub *hub);

/* Frees the pending upgrade records (at iof_ws_hub_free). Caller holds mu. */
void iof_ws_hub_drop_pending_locked(struct iof_ws_hub *hub);

#endif
