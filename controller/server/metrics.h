/* GET /metrics on the Controller, in the Prometheus text format (version 0.0.4): HTTP requests by
 * route and status, request latency histograms by route, requests held right now (agents'
 * long-polls), edge nodes by daemon status, process resident memory.
 *
 * Counting happens on the HTTP server's threads through iof_http_server_set_observer: relaxed
 * atomic increments into arrays sized once, after every route is registered; no lock is taken
 * per request. A scrape reads the counters (each is exact; a scrape racing a request may see its
 * count but not yet its histogram bucket) and asks the store for the node counts. */
#ifndef CTL_METRICS_H
#define CTL_METRICS_H

#include "common/error.h"
#include "http/server.h"

struct ctl_metrics;
struct ctl_store;

/* Adds the GET /metrics route to http (before start), then sizes the counters for every route
 * registered so far (so register /metrics after the other routes) and installs the observer. The
 * store is read at each scrape; it and http must outlive the metrics. *out is freed with
 * ctl_metrics_free after the HTTP server is stopped. */
IOF_NODISCARD iof_err ctl_metrics_new(struct iof_http_server *http,
                                      struct ctl_store *store,
                                      struct ctl_metrics **out);

/* NULL is a no-op. */
void ctl_metrics_free(struct ctl_metrics *m);

#endif
