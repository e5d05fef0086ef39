/* The Agent's Local API for microservices (agent.md §1: the classic /v2 REST routes and the
 * control and message WebSockets) and the on-node message bus behind it (agent.md §6.1 and the
 * "Messaging" points of the spec README).
 *
 * The daemon owns the HTTP server; this module adds its routes to it (agent_localapi_register)
 * and serves the WebSockets on a hub of its own. What the bus does:
 *   - every published message gets a fresh id (32 lowercase hex) and the agent's wall-clock
 *     timestamp, is archived on disk under its publisher (archive.h) and goes, in memory, to every
 *     receiver of the publisher's routes that is known on this node: pushed over the receiver's
 *     message socket when it has one (then kept as un-ACKed until a 0x0B, resent after
 *     ack_timeout_ms, at most ack_retries times), otherwise queued for /v2/messages/next;
 *   - queues and un-ACKed lists hold at most queue_max messages (and queue_max_bytes) per
 *     receiver; the oldest is dropped and counted when a new one does not fit;
 *   - receivers not known on this node go to the remote sink, or count as unroutable without one;
 *     a message that reached no receiver still gets the classic "okay" answer, with an added
 *     "unroutable": true, and is counted and logged.
 *
 * Callers (docs/security.md): a request or socket that names microservice X (the "id" of a body,
 * a message's publisher, a socket path's id) is served only when it comes from X. A caller whose
 * source address is a container address of microservice Y acts as Y only; any other address that
 * is not the node's own (loopback or one of its interfaces) gets 403 with a plain message. The
 * node itself (host-network microservices and local processes, which classic SDKs cannot tell
 * apart) is served as the classic agent does, unless strict_callers: then only with the id of a
 * host-network microservice. WebSocket upgrades that carry an Origin other than the Agent's own
 * (http://<Host>) are refused (403): a web page in a browser on the node is not a microservice.
 *
 * Differences from the classic agent, on purpose:
 *   - un-ACKed deliveries are a bounded queue per receiver (the classic remembers only the last);
 *     an ACK clears the oldest. A receiver that never ACKs has its message socket closed (4000)
 *     after ack_retries resends instead of being silently orphaned; its un-ACKed messages go back
 *     to the front of its queue, so a reconnecting SDK gets them again.
 *   - a control socket that does not ACK is closed the same way; a resent signal keeps its opcode
 *     (the classic resends 0x0C for an un-ACKed 0x0F).
 *   - a second socket with the same id replaces the first, which is closed (1000) rather than left
 *     open and ignored.
 *   - /v2/messages/query on a publisher without messages answers an empty list, not 500.
 *   - /v2/restblue answers as the classic agent does when the RESTblue container is unreachable.
 *   - Receipts: a message socket whose upgrade offers permessage-deflate (the Node.js `ws` client
 *     of the classic Node.js SDK; the Go, Java, Python and C SDKs offer no extension) gets its
 *     receipt timestamps in 6 bytes, not the classic 8: the Node.js SDK reads them with
 *     Buffer.readUIntBE, which throws beyond 6 bytes on Node.js 10 and later and ended the
 *     microservice at its first receipt. Other clients get the classic 8 (the Go SDK needs 8).
 *
 * Threads: every function may be called from any thread; HTTP handlers, hub handlers, the
 * redelivery timer and the daemon's calls share one lock. The remote sink is called without it. */
#ifndef AGENT_LOCALAPI_H
#define AGENT_LOCALAPI_H

#include "common/error.h"
#include "http/server.h"
#include "iomessage/iomessage.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct agent_localapi;

/* Provided by the daemon; all may be NULL (then GPS lives in memory only, and no container
 * address is known: only the node itself may call). */
struct agent_localapi_hooks {
    void *ctx;
    iof_err (*gps_get)(void *ctx, char *lat, size_t lat_len, char *lon, size_t lon_len);
    iof_err (*gps_set)(void *ctx, const char *lat, const char *lon);
    /* The microservice whose container has address addr: uuid into uuid[len], IOF_OK, or
     * IOF_ENOENT. May block briefly (one Docker request). */
    iof_err (*caller)(void *ctx, const char *addr, char *uuid, size_t len);
    /* True when uuid is a host-network microservice of this node. */
    bool (*host_network)(void *ctx, const char *uuid);
};

struct agent_localapi_config {
    const char *data_dir;       /* message archive under <data_dir>/messages/archive; NULL: none */
    const char *log_dir;        /* /v2/log files <log_dir>/<uuid>.<n>.log; NULL: /v2/log fails */
    unsigned ack_timeout_ms;    /* 0: 20000 (classic); resend un-ACKed after this */
    unsigned ack_retries;       /* 0: 10 */
    size_t queue_max;           /* per-receiver queue / un-ACKed bound, 0: 1000 messages */
    size_t queue_max_bytes;     /* the same in frame bytes, 0: 64 MiB */
    uint64_t archive_max_bytes; /* 0: 1 GiB */
    bool strict_callers;        /* localApiStrict: the node itself may only act as a host-network
                                   microservice (see "Callers" above) */
    struct agent_localapi_hooks hooks;
};

/* Creates the Local API: opens (and creates) the archive, starts the WebSocket hub and the
 * redelivery timer. cfg and its strings are copied. *out is released with agent_localapi_free.
 * IOF_EIO when the archive directory cannot be created or read, IOF_ENOMEM. */
IOF_NODISCARD iof_err agent_localapi_new(const struct agent_localapi_config *cfg,
                                         struct agent_localapi **out);

/* Adds every /v2 microservice route and the two WebSocket routes to srv (before
 * iof_http_server_start), and a fallback so unknown paths get the classic 404 " Request not
 * found ". The daemon adds its admin routes (/v2/commandline, /v2/config (POST), /v2/provision,
 * /v2/deprovision, /v2/status, /v2/info, /v2/version) before calling this; they are not
 * registered here. api must outlive srv's running time. Errors of iof_http_server_route. */
IOF_NODISCARD iof_err agent_localapi_register(struct agent_localapi *api,
                                              struct iof_http_server *srv);

/* The node's microservices: the array of GET /api/v3/agent/microservices (per item "uuid",
 * "config" (a string; an object is serialised), "routes" (receiver uuids), "isConsumer"; other
 * keys ignored). Replaces the config map and the routing table and sends 0x0C on every open
 * control socket whose config is new or changed. Borrowed. IOF_EINVAL when it is not an array
 * (nothing changes then); items without a uuid are skipped. */
IOF_NODISCARD iof_err agent_localapi_set_microservices(struct agent_localapi *api,
                                                       const json_t *microservices);

/* The array of GET /api/v3/agent/edgeResources, served double-encoded by /v2/edgeResources;
 * sends 0x0F to every control socket when it differs from the last one. Borrowed. */
IOF_NODISCARD iof_err agent_localapi_set_edge_resources(struct agent_localapi *api,
                                                        const json_t *edge_resources);

/* For the status report: a new object the caller releases with json_decref, holding
 * "processedMessages" (number), "microserviceMessageCounts" (a JSON-encoded string of
 * [{"id","messagecount"}], messages published per publisher), "messageSpeed" (messages per second
 * since the previous call), and our counters "droppedMessages" (queue and un-ACKed overflow),
 * "unroutableMessages" (messages that reached no receiver), "remoteFailedMessages" and
 * "repairedTextMessages" (published messages whose text held ill-formed UTF-8, kept with U+FFFD
 * as the classic agent keeps them). IOF_ENOMEM. */
IOF_NODISCARD iof_err agent_localapi_stats(struct agent_localapi *api, json_t **out);

/* The message counters, read without side effects (for GET /metrics): messages published by the
 * node's microservices, copies delivered to receivers on this node (queued for their sockets),
 * dropped (queue and un-ACKed overflow), unroutable (no receiver) and refused by the remote sink.
 */
struct agent_localapi_counters {
    uint64_t published;
    uint64_t delivered;
    uint64_t dropped;
    uint64_t unroutable;
    uint64_t remote_failed;
};
void agent_localapi_counters(struct agent_localapi *api, struct agent_localapi_counters *out);

/* Receivers on other nodes are handed to fn when set (cross-node transport); fn runs on the
 * publishing thread without the module's lock and must not block for long; msg is borrowed for
 * the call. Until a sink is set they count as unroutable. fn NULL removes the sink. */
typedef iof_err (*agent_localapi_remote_fn)(void *ctx,
                                            const char *receiver_uuid,
                                            const struct iof_msg *msg);
void agent_localapi_set_remote_sink(struct agent_localapi *api,
                                    agent_localapi_remote_fn fn,
                                    void *ctx);

/* Delivers a message that arrived from another node to a local receiver, keeping its id and
 * timestamp (it is neither archived nor counted again here). msg is borrowed.
 * IOF_ENOENT when receiver_uuid is not a microservice of this node, IOF_EINVAL when msg does not
 * encode, IOF_ENOMEM. */
IOF_NODISCARD iof_err agent_localapi_deliver(struct agent_localapi *api,
                                             const char *receiver_uuid,
                                             const struct iof_msg *msg);

/* Closes every WebSocket (1001) and stops the redelivery timer. Call before the HTTP server
 * stops; idempotent. Never from a handler. */
void agent_localapi_stop(struct agent_localapi *api);

/* Stops if needed and frees; after the HTTP server was stopped. NULL accepted. */
void agent_localapi_free(struct agent_localapi *api);

#endif
