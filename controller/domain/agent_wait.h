/* Long-poll of GET /api/v3/agent/config/changes?wait=N: at most one held request per node,
 * answered when a change flag is raised for the node (ctl_agent_wait_wake, within milliseconds of
 * the commit) or when its time runs out. A held request costs an entry here and a suspended
 * connection in the HTTP server; no thread. One timer thread answers expired waits.
 *
 * Thread rules: every function may be called from any thread, except free (controlling thread,
 * after ctl_agent_wait_stop and before the HTTP server is freed). The answer function runs on the
 * thread that wakes or times out a wait, without any lock of this module held. */
#ifndef CTL_AGENT_WAIT_H
#define CTL_AGENT_WAIT_H

#include "common/error.h"
#include "http/server.h"

#include <jansson.h>

struct ctl_agent_wait;

/* Builds the answer body for a node (a new reference), NULL on failure (answered 500). */
typedef json_t *(*ctl_agent_wait_answer_fn)(void *ctx, const char *fog_uuid);

/* Starts the registry and its timer thread. answer is called with ctx for every answer. */
IOF_NODISCARD iof_err ctl_agent_wait_new(struct iof_http_server *http,
                                         ctl_agent_wait_answer_fn answer,
                                         void *ctx,
                                         struct ctl_agent_wait **out);

/* Holds req (from its handler) for fog_uuid for up to timeout_ms (from 10 s on, a wait with no
 * change ends at a random point of its last quarter, so polls sent together return spread out). A
 * request already held for the same node is answered at once with the current state: the newer one
 * replaces it. The caller must check for pending changes AFTER this call and wake the node if there
 * are any, so a raise between its check and the hold cannot be missed. IOF_EBUSY when the registry
 * is stopping. */
IOF_NODISCARD iof_err ctl_agent_wait_hold(struct ctl_agent_wait *w,
                                          struct iof_http_request *req,
                                          const char *fog_uuid,
                                          int64_t timeout_ms);

/* Answers the node's held request, if there is one. */
void ctl_agent_wait_wake(struct ctl_agent_wait *w, const char *fog_uuid);

/* Answers every held request (each with its node's current state). */
void ctl_agent_wait_wake_all(struct ctl_agent_wait *w);

/* Number of requests held right now. */
size_t ctl_agent_wait_count(struct ctl_agent_wait *w);

/* Stops the timer thread and forgets every held request (the HTTP server answers them when it
 * stops). Idempotent. */
void ctl_agent_wait_stop(struct ctl_agent_wait *w);

/* Frees the registry (stopping it first). NULL is a no-op. */
void ctl_agent_wait_free(struct ctl_agent_wait *w);

#endif
