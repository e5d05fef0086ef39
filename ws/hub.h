/* WebSocket server side: a hub owns every connection upgraded through it and serves them all from
 * ONE event-loop thread (epoll), so a connection costs no thread of its own.
 *
 * Flow: an HTTP route handler calls iof_ws_hub_accept, which checks the handshake and answers 101
 * through the HTTP server; once the 101 is out, the connection moves to the hub, on_open reports
 * its id, on_message delivers each whole message, on_close reports the end. Any thread may send to
 * a connection by id; ids are generational, so an id that outlived its connection is simply
 * IOF_ENOENT, never a different connection.
 *
 * Thread rules: handlers run on the hub thread, one at a time, and must not block (no waiting on
 * locks held by threads that wait on the hub, no network calls); they may call iof_ws_send,
 * iof_ws_ping and iof_ws_close. iof_ws_send/ping/close/accept are thread-safe. iof_ws_hub_stop and
 * iof_ws_hub_free must not be called from a handler.
 *
 * Lifetime, in this order: iof_ws_hub_stop (optional: a clean close with 1001 for every peer),
 * then stop every HTTP server whose routes call iof_ws_hub_accept for this hub (upgrade callbacks
 * use the hub until then), then iof_ws_hub_free. */
#ifndef IOF_WS_HUB_H
#define IOF_WS_HUB_H

#include "common/error.h"
#include "http/server.h"
#include "ws/types.h"

#include <stddef.h>
#include <stdint.h>

struct iof_ws_hub;

/* Zero fields take the defaults. */
struct iof_ws_hub_config {
    size_t max_message;     /* largest message accepted from a peer (whole, after reassembly); a
                               larger one closes the connection with 1009. 0: 1 MiB */
    size_t max_queued;      /* per connection: payload bytes accepted by iof_ws_send and not yet
                               written to the socket. 0: 4 MiB */
    size_t max_connections; /* open connections; more are refused with 503.
                               0: 4096 */
    int ping_interval_ms;   /* ping a connection silent for this long; 0: no pings */
    int idle_timeout_ms;    /* close (1001) a connection silent for this long; 0: never. Pongs
                               count as traffic, so with ping_interval_ms below this, live peers
                               stay open. */
    int close_timeout_ms;   /* how long to wait for the peer's close frame, and to drain the
                               socket after the closing handshake. 0: 3000 */
};

/* What the hub reports about connections accepted with them. Any member may be NULL. ctx is the
 * one given to iof_ws_hub_accept. All run on the hub thread. */
struct iof_ws_handlers {
    /* The connection is open; conn_id is its id for sending. Called first, exactly once. */
    void (*on_open)(void *ctx, uint64_t conn_id);
    /* One whole message: opcode is IOF_WS_TEXT (UTF-8 checked) or IOF_WS_BINARY. data is borrowed
     * for the duration of the call (never NULL, even for len 0). */
    void (*on_message)(
        void *ctx, uint64_t conn_id, enum iof_ws_opcode opcode, const uint8_t *data, size_t len);
    /* The connection is over and conn_id is stale from now on (sends give IOF_ENOENT). Called
     * exactly once for every connection whose on_open was called, also at iof_ws_hub_stop/free.
     * status: the peer's close code if it sent a close frame (1005 if it had none), else the code
     * the hub sent (1009 message too big, 1002 protocol error, 1007 bad UTF-8, 1001 idle or
     * stopping, or the code given to iof_ws_close), else 1006 (the peer vanished). */
    void (*on_close)(void *ctx, uint64_t conn_id, uint16_t status);
    /* A Ping arrived with this payload (borrowed for the call, at most 125 bytes). Its RFC 6455
     * Pong, echoing the payload, is already queued; the handler may add one of its own with
     * iof_ws_pong (protocols with their own ping convention, such as ioFog's 0x09 -> 0x0A). */
    void (*on_ping)(void *ctx, uint64_t conn_id, const uint8_t *data, size_t len);
    /* After one read of the socket delivered one or more messages (on_message calls): a group
     * boundary where work gathered for them can be committed. Whatever the handlers sent for
     * those messages is written to the sockets after this returns, never before. */
    void (*on_read_end)(void *ctx, uint64_t conn_id);
};

/* Creates a hub and starts its thread. cfg may be NULL (defaults); it is copied.
 * IOF_EINVAL on negative timeouts, IOF_EIO when epoll/eventfd/thread creation fails, IOF_ENOMEM. */
IOF_NODISCARD iof_err iof_ws_hub_new(const struct iof_ws_hub_config *cfg, struct iof_ws_hub **out);

/* Closes every connection with 1001 "going away" and waits (at most about close_timeout_ms) until
 * each finished its closing handshake; on_close has been called for all of them on return.
 * Connections arriving later are dropped without on_open; sends give IOF_ENOENT. Idempotent.
 * Blocks: never call it from a handler. */
void iof_ws_hub_stop(struct iof_ws_hub *hub);

/* Stops the hub (see iof_ws_hub_stop), joins its thread and frees it. Only after the HTTP servers
 * that route to it are stopped. NULL accepted. */
void iof_ws_hub_free(struct iof_ws_hub *hub);

/* For an HTTP route handler (GET): checks the WebSocket handshake of req and starts the upgrade;
 * the connection then belongs to the hub and reports to h (copied) with ctx (borrowed: it must stay
 * valid until on_close, or until iof_ws_hub_free if on_open never comes).
 * Returns what the route handler should return:
 *   IOF_OK        101 is on its way; on_open follows (unless the client leaves first).
 *   IOF_EINVAL    bad handshake: already answered 400, d says why.
 *   IOF_EUNSUPPORTED  wrong or missing Sec-WebSocket-Version: already answered 426 with
 *                 "Sec-WebSocket-Version: 13".
 *   IOF_EBUSY     max_connections reached or hub stopping: not answered (the server answers 503).
 *   IOF_ENOMEM, or an error of iof_http_respond_upgrade: not answered. */
IOF_NODISCARD iof_err iof_ws_hub_accept(struct iof_ws_hub *hub,
                                        struct iof_http_request *req,
                                        const struct iof_ws_handlers *h,
                                        void *ctx,
                                        struct iof_diag *d);

/* Queues one unfragmented message (data copied; text is not checked for UTF-8) for conn_id, from
 * any thread. IOF_ENOENT when the connection is unknown, closed, or closing (iof_ws_close was
 * called or the hub is stopping); IOF_E2BIG when len alone exceeds max_queued; IOF_EBUSY when the
 * bytes already queued for it plus len would exceed max_queued (retry later); IOF_EINVAL for an
 * opcode other than TEXT/BINARY; IOF_ENOMEM. Messages to one connection go out in call order. */
IOF_NODISCARD iof_err iof_ws_send(struct iof_ws_hub *hub,
                                  uint64_t conn_id,
                                  enum iof_ws_opcode opcode,
                                  const void *data,
                                  size_t len);

/* Queues a ping with up to 125 bytes of payload (IOF_E2BIG beyond). Errors as iof_ws_send. The
 * pong is not reported. */
IOF_NODISCARD iof_err iof_ws_ping(struct iof_ws_hub *hub,
                                  uint64_t conn_id,
                                  const void *payload,
                                  size_t len);

/* Queues an unsolicited Pong with up to 125 bytes of payload (IOF_E2BIG beyond), which RFC 6455
 * allows as a one-way heartbeat. Errors as iof_ws_send. */
IOF_NODISCARD iof_err iof_ws_pong(struct iof_ws_hub *hub,
                                  uint64_t conn_id,
                                  const void *payload,
                                  size_t len);

/* Starts the closing handshake of conn_id with status (1000-1003, 1007-1014, 3000-4999) and an
 * optional reason (at most 123 bytes, NULL for none). Further sends give IOF_ENOENT at once;
 * on_close follows when the peer answers or after close_timeout_ms. IOF_ENOENT as iof_ws_send,
 * IOF_EINVAL for a bad status or reason, IOF_ENOMEM. */
IOF_NODISCARD iof_err iof_ws_close(struct iof_ws_hub *hub,
                                   uint64_t conn_id,
                                   uint16_t status,
                                   const char *reason);

#endif
