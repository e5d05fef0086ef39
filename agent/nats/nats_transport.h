/* Cross-node message transport: carries ioMessages between Agents through a NATS server (spec:
 * README.md "Messaging across nodes"; design: docs/design/messaging.md).
 *
 * One transport per Agent holds one NATS connection. It subscribes to the subjects of the
 * receivers this node hosts and publishes a message once per remote receiver. A subject reads
 * `iofog.<app>.<receiver uuid>`: the application name is encoded injectively into one subject
 * token, so receivers of different applications never share a subject (per-application
 * isolation) even when their uuids are equal. The payload is the binary ioMessage (classic widths),
 * so id, timestamp and publisher arrive unchanged.
 *
 * Outgoing: while the connection is down (and for a short settling delay after it comes back, so
 * that peers have re-subscribed), messages wait in a queue bounded in messages and bytes; when it
 * is full the oldest message is dropped and counted. The queue is flushed by the transport's own
 * thread, in order, once the connection is back. libnats reconnects forever by itself.
 * Incoming: a payload above max_payload, one that does not decode, one whose publisher is not
 * routed to its receiver (agent_nats_set_publishers) or one the deliver function refuses is
 * dropped and counted; nothing from the network can stop the transport. A subscription nats-server
 * refuses (permissions, docs/design/nats-security.md) is tried again later.
 *
 * Thread-safety: every function may be called from any thread, except agent_nats_free(), which
 * must not race with other calls on the same transport. The deliver function runs on a libnats
 * delivery thread, one message at a time; it may publish, but must not free the transport. */
#ifndef AGENT_NATS_TRANSPORT_H
#define AGENT_NATS_TRANSPORT_H

#include "common/error.h"
#include "iomessage/iomessage.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest accepted application name and receiver uuid, in bytes. */
#define AGENT_NATS_APP_MAX  256
#define AGENT_NATS_UUID_MAX 128
/* Enough for any subject agent_nats_subject() writes (app escaped to at most 3 bytes a byte). */
#define AGENT_NATS_SUBJECT_MAX (6 + 3 * AGENT_NATS_APP_MAX + 1 + AGENT_NATS_UUID_MAX + 1)

struct agent_nats;

/* Called for every message that arrives for a local receiver. msg is borrowed for the call (the
 * transport frees it afterwards). An error return counts the message as undeliverable. */
typedef iof_err (*agent_nats_deliver_fn)(void *ctx,
                                         const char *receiver_uuid,
                                         const struct iof_msg *msg);

/* Strings are copied by agent_nats_new(); NULL or 0 selects the default. */
struct agent_nats_config {
    const char *urls;       /* comma-separated nats:// or tls:// URLs (required) */
    const char *name;       /* connection name the server shows; NULL: "iofog-agent" */
    const char *creds_file; /* NATS .creds file (user JWT + NKey seed) */
    const char *user;       /* user/password authentication */
    const char *password;
    const char *token;     /* token authentication */
    const char *ca_file;   /* TLS: CA bundle to trust (turns TLS on); NULL: system */
    const char *cert_file; /* TLS client certificate chain (mTLS), with key_file */
    const char *key_file;
    size_t buffer_max;         /* messages queued while disconnected; 0: 10000 */
    size_t buffer_bytes_max;   /* bytes queued while disconnected; 0: 64 MiB */
    size_t max_payload;        /* larger messages are dropped (in) or refused (out); 0: 1 MiB */
    int64_t reconnect_wait_ms; /* between reconnect attempts to one server; 0: 250 */
    int64_t resume_delay_ms;   /* queue kept after a reconnect; 0: 2 x reconnect_wait + 100 */
};

/* Counters since agent_nats_new(). */
struct agent_nats_counters {
    uint64_t published;                  /* handed to the NATS connection */
    uint64_t delivered;                  /* accepted by the deliver function */
    uint64_t dropped_buffer_full;        /* oldest queued message dropped for a newer one */
    uint64_t dropped_oversized;          /* incoming payload above max_payload */
    uint64_t dropped_malformed;          /* incoming payload that is no ioMessage */
    uint64_t dropped_undeliverable;      /* refused by the deliver function */
    uint64_t dropped_slow_consumer;      /* dropped by libnats: the deliver function fell behind */
    uint64_t dropped_unrouted_publisher; /* incoming, its publisher not routed to the receiver */
    uint64_t dropped_not_permitted;      /* outgoing, refused by nats-server's permissions (also
                                            counted in published, not in the "dropped" sum) */
    uint64_t denied_subscriptions; /* refused by nats-server (tried again with a growing delay) */
    uint64_t reconnects;
    uint64_t disconnects;
    size_t buffered; /* messages queued now */
    size_t buffered_bytes;
    size_t subscriptions; /* local receivers subscribed now */
    bool connected;
};

/* Connects (or keeps trying in the background when no server answers yet: messages are queued
 * meanwhile) and starts the flush thread. fn and ctx are kept for the transport's life.
 * IOF_EINVAL for a bad configuration, IOF_EAUTH when a server refuses the credentials, IOF_EIO
 * when libnats cannot start. *out is released with agent_nats_free(). */
IOF_NODISCARD iof_err agent_nats_new(const struct agent_nats_config *cfg,
                                     agent_nats_deliver_fn fn,
                                     void *ctx,
                                     struct agent_nats **out,
                                     struct iof_diag *d);

/* Makes the subscriptions match the receivers hosted on this node: uuids[i] of application
 * apps[i] (NULL app = ""). Subjects no longer listed are unsubscribed, new ones subscribed; an
 * unchanged receiver keeps its subscription. Borrowed arrays. On IOF_EINVAL (a bad uuid or app)
 * nothing changes. */
IOF_NODISCARD iof_err agent_nats_set_local(struct agent_nats *t,
                                           const char *const *uuids,
                                           const char *const *apps,
                                           size_t n,
                                           struct iof_diag *d);

/* The publishers routed to each local receiver: pairs (receivers[i], publishers[i]). With
 * enforce, a message from NATS whose publisher is not paired with its receiver is dropped and
 * counted (dropped_unrouted_publisher) instead of delivered; without (the default, or a Controller
 * that sends no publishers), every publisher is accepted. Replaces the previous set. Borrowed
 * arrays. */
IOF_NODISCARD iof_err agent_nats_set_publishers(struct agent_nats *t,
                                                const char *const *receivers,
                                                const char *const *publishers,
                                                size_t n,
                                                bool enforce,
                                                struct iof_diag *d);

/* Sends msg to receiver receiver_uuid of application app on another node. Returns when the message
 * is handed to the connection or queued; IOF_OK also when the queue had to drop its oldest message
 * (counted). IOF_EINVAL for a bad uuid, app or message, IOF_E2BIG above max_payload or the
 * server's maximum payload, IOF_ECONFLICT after agent_nats_free() started. */
IOF_NODISCARD iof_err agent_nats_publish(struct agent_nats *t,
                                         const char *app,
                                         const char *receiver_uuid,
                                         const struct iof_msg *msg,
                                         struct iof_diag *d);

/* The receivers on other nodes that this node's publishers route to, each with its application:
 * what agent_nats_send() looks the application up in. Replaces the previous set. Borrowed
 * arrays. On IOF_EINVAL nothing changes. */
IOF_NODISCARD iof_err agent_nats_set_remote(struct agent_nats *t,
                                            const char *const *uuids,
                                            const char *const *apps,
                                            size_t n,
                                            struct iof_diag *d);

/* agent_nats_publish() with the application of receiver_uuid from agent_nats_set_remote(); the
 * shape of the Local API's remote sink (ctx is the transport). IOF_ENOENT for a receiver not in
 * the remote set. */
IOF_NODISCARD iof_err agent_nats_send(void *transport,
                                      const char *receiver_uuid,
                                      const struct iof_msg *msg);

/* Current counters (never fails). */
void agent_nats_counters(struct agent_nats *t, struct agent_nats_counters *out);

/* Counters as a JSON object: published, delivered, dropped (sum) and one key per drop reason,
 * deniedSubscriptions, buffered, bufferedBytes, subscriptions, connected, reconnects, disconnects.
 * New reference. */
IOF_NODISCARD iof_err agent_nats_stats(struct agent_nats *t, json_t **out);

/* Unsubscribes, waits (bounded) until no deliver call runs, closes the connection and frees the
 * transport; queued messages are dropped. NULL is a no-op. */
void agent_nats_free(struct agent_nats *t);

/* Releases libnats' process-wide state; call once at process exit after every transport is freed
 * (it waits, bounded, for libnats' threads to end, so leak checkers see a clean exit). */
void agent_nats_library_close(void);

/* Writes the subject of receiver uuid of application app: `iofog.<app token>.<uuid>`. The app
 * token keeps [A-Za-z0-9-] and writes every other byte as `_XX` (hex), "" as `_`; uuid must be
 * 1..AGENT_NATS_UUID_MAX bytes of [A-Za-z0-9_-]. IOF_EINVAL otherwise, IOF_E2BIG when out is
 * smaller than the subject. */
IOF_NODISCARD iof_err
agent_nats_subject(const char *app, const char *uuid, char *out, size_t size, struct iof_diag *d);

#endif
