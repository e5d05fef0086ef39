/* Log streams as a WebSocket, for browsers: GET /api/v3/microservices/:uuid/logs (and
 * /api/v3/iofog/:uuid/logs) with "Upgrade: websocket" is answered 101 and the same lines as the
 * chunked form (controller/domain/logs.h) arrive as text frames, each holding one or more whole
 * lines as they came from the node (a line longer than 16 KiB is split). Bytes that are not UTF-8
 * become U+FFFD, so that a browser does not fail the connection. The stream ends with a closing
 * handshake (1000) when the log ends (the microservice is deleted or its container stops), with a
 * last text frame "-- reason --" when there is one; the session ends when the client closes or
 * vanishes (pings every 30 s, 90 s of silence). Messages from the client are ignored.
 *
 * One hub (ws/hub.h) serves every follower on one thread. Lifetime: ctl_logs_ws_stop before the
 * HTTP server stops, ctl_logs_ws_free after the log registry is freed. */
#ifndef CTL_LOGS_WS_H
#define CTL_LOGS_WS_H

#include "common/error.h"
#include "controller/domain/logs.h"
#include "http/server.h"

#include <stdbool.h>

struct ctl_logs_ws;
struct ctl_agent_wait;

IOF_NODISCARD iof_err ctl_logs_ws_new(struct ctl_logs_ws **out);

/* Whether req asks for a WebSocket (its Upgrade header names "websocket"). */
bool ctl_logs_ws_wanted(struct iof_http_request *req);

/* Upgrades req; once open, the session r is registered with logs and the node's held long-poll
 * is woken in waits (r is copied). Returns what the route handler returns: IOF_OK also when a bad
 * handshake was answered (400/426); IOF_EBUSY when too many are open (the server answers 503). */
IOF_NODISCARD iof_err ctl_logs_ws_accept(struct ctl_logs_ws *w,
                                         struct iof_http_request *req,
                                         struct ctl_logs *logs,
                                         struct ctl_agent_wait *waits,
                                         const struct ctl_log_request *r,
                                         struct iof_diag *d);

/* Closes every follower's connection (1001). NULL is a no-op. */
void ctl_logs_ws_stop(struct ctl_logs_ws *w);

/* Frees the hub and what is left (after ctl_logs_free and the HTTP server). NULL is a no-op. */
void ctl_logs_ws_free(struct ctl_logs_ws *w);

/* Exposed for the tests: writes src[0..n) into dst (at least 3 * n bytes) with every byte that is
 * not part of a well-formed UTF-8 sequence replaced by U+FFFD. Returns the bytes written. */
size_t ctl_logs_ws_utf8(const unsigned char *src, size_t n, unsigned char *dst);

#endif
