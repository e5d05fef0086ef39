/* GET /metrics on the Agent's Local API, in the Prometheus text format (version 0.0.4):
 * microservices by status, on-node messages published/delivered/dropped/unroutable, the NATS
 * transport's counters and connection state, process resident memory.
 *
 * Nothing is counted for it on the message path: a scrape reads the counters the Local API, the
 * NATS transport and the engine keep anyway. Open like the rest of the Local API's
 * microservice-facing routes (no token), so a Prometheus server can scrape it. */
#ifndef AGENT_METRICS_H
#define AGENT_METRICS_H

#include "common/error.h"
#include "http/server.h"

struct agent_daemon;

/* Adds the GET /metrics route (before start); a must outlive srv's handlers. */
IOF_NODISCARD iof_err agent_metrics_register(struct agent_daemon *a, struct iof_http_server *srv);

#endif
