/* Log streams from nodes to users. A user asks for a microservice's (or a node's own) log; the
 * Controller answers with a streamed response and opens a session here; the node's Agent learns
 * of it through its long-poll ("logs": true in config/changes), claims it (GET agent/logs) and
 * sends the lines outward, chunk by chunk (POST agent/logs/:id), so a node behind NAT needs no
 * inbound port. Each session is bounded in bytes and time and ends when the client goes, the
 * Agent ends it (container gone, log read), or its bounds are reached; a session no Agent claims
 * within the claim timeout ends with a line saying so.
 *
 * Sessions live in the memory of the Controller the user asked: with several Controllers, the
 * node's Agent must reach the same one (docs/design/logs.md).
 *
 * Thread rules: every function may be called from any thread. */
#ifndef CTL_LOGS_H
#define CTL_LOGS_H

#include "common/error.h"
#include "http/server.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct ctl_logs;

struct ctl_logs_limits {
    size_t max_sessions;     /* at once, all nodes (0: 256) */
    size_t max_per_node;     /* at once, per node (0: 8) */
    uint64_t max_bytes;      /* per session (0: 64 MiB) */
    int64_t max_duration_ms; /* per session (0: 1 hour) */
    int64_t claim_ms;        /* for the Agent to claim a session (0: 15 s) */
};

/* Starts the registry and its sweeper thread. */
IOF_NODISCARD iof_err ctl_logs_new(const struct ctl_logs_limits *limits, struct ctl_logs **out);

/* Ends every session and frees the registry. NULL is a no-op. */
void ctl_logs_free(struct ctl_logs *l);

struct ctl_log_request {
    const char *fog_uuid;
    const char *msvc_uuid; /* "" or NULL: the Agent's own log */
    long tail;             /* lines, < 0: all */
    int64_t since_s;       /* Unix seconds, 0: from the start */
    bool follow;
};

/* Registers a session that feeds stream (the registry takes the producer's handle: it ends the
 * stream in every case, also on failure). IOF_EBUSY when the limits are reached. */
IOF_NODISCARD iof_err ctl_logs_open(struct ctl_logs *l,
                                    const struct ctl_log_request *r,
                                    struct iof_http_stream *stream);

/* Where a session's bytes go when it is not a streamed response (a WebSocket). Called from any
 * thread, one call at a time per session, never with a lock of the caller's that the callee
 * could wait on. */
struct ctl_log_sink_ops {
    /* All of data or nothing: IOF_OK; IOF_EBUSY the reader is slower (the Agent retries);
     * IOF_EIO the reader has gone. */
    iof_err (*write)(void *ctx, const void *data, size_t len);
    /* The reader has gone (checked by the sweeper every 250 ms). */
    bool (*gone)(void *ctx);
    /* The last call: no more bytes; ctx is the sink's to release. */
    void (*end)(void *ctx);
};

/* As ctl_logs_open, into a sink (ops is borrowed for the session's life, ctx is handed over: end
 * is called in every case, also on failure). */
IOF_NODISCARD iof_err ctl_logs_open_sink(struct ctl_logs *l,
                                         const struct ctl_log_request *r,
                                         const struct ctl_log_sink_ops *ops,
                                         void *ctx);

/* Whether the node has sessions it has not claimed yet. */
bool ctl_logs_pending(struct ctl_logs *l, const char *fog_uuid);

/* Claims the node's unclaimed sessions: [{"id","microserviceUuid","tail","since","follow"}]
 * (new reference, maybe empty; NULL on no memory). */
json_t *ctl_logs_claim(struct ctl_logs *l, const char *fog_uuid);

/* Appends a chunk from the node's Agent to session id. IOF_ENOENT: no such session of this node
 * (ended: the Agent stops); IOF_EBUSY: the client reads slower, retry soon; IOF_E2BIG: the byte
 * bound was reached (the session ends). */
IOF_NODISCARD iof_err ctl_logs_write(
    struct ctl_logs *l, const char *fog_uuid, const char *id, const void *data, size_t len);

/* The Agent ends session id (the log ended, or it cannot be read: reason, may be NULL, is
 * written as the last line). IOF_ENOENT as above. */
IOF_NODISCARD iof_err ctl_logs_end(struct ctl_logs *l,
                                   const char *fog_uuid,
                                   const char *id,
                                   const char *reason);

/* Sessions open now. */
size_t ctl_logs_count(struct ctl_logs *l);

#endif
