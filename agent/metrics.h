/* GET /metrics on the Agent's Local API, in the Prometheus text format (version 0.0.4):
 * microservices by status, on-node messages published/delivered/dropped/unroutable, the NATS
 * transport's counters and connection state, process resident memory.
 *
 * Nothing is counted for it on the message path: a scrape reads the counters the Local API, the
 * NATS transport and the engine keep anyway. Open like the rest of the Local API's
 * microservice-facing routes (no token), so a Prometheus server can scrape it. Does not depend on
 * the daemon: it hands over the sources. */
#ifndef AGENT_METRICS_H
#define AGENT_METRICS_H

#include "common/error.h"
#include "http/server.h"

#include <jansson.h>

struct agent_engine;
struct agent_localapi;

struct agent_metrics_sources {
    struct agent_engine *engine; /* NULL: no microservice counts */
    struct agent_localapi *api;  /* NULL: zero message counts */
    void *ctx;
    /* The NATS transport's counters (agent_nats_stats), NULL without a transport. New
     * reference. Called on HTTP threads. */
    json_t *(*nats_stats)(void *ctx);
};

/* Adds the GET /metrics route (before start); src must outlive srv's handlers. */
IOF_NODISCARD iof_err agent_metrics_register(struct agent_metrics_sources *src,
                                             struct iof_http_server *srv);

#endif
