/* The status thread and the status texts: PUT /api/v3/agent/status every statusFrequency seconds,
 * every second while microservices are converging, and at once (at most every 200 ms) when a
 * microservice status changes, so the Controller sees RUNNING within a moment of it happening.
 * Does not depend on the daemon: the daemon hands it what the reports need. */
#ifndef AGENT_STATUS_H
#define AGENT_STATUS_H

#include "agent/config.h"
#include "common/error.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct agent_engine;
struct agent_localapi;
struct agent_status;

/* Connection to the Controller as `status` reports it. */
enum agent_link { LINK_NOT_PROVISIONED, LINK_OK, LINK_NOT_CONNECTED, LINK_BROKEN_CERT };

/* The daemon's state a report reads, taken together under the daemon's lock. */
struct agent_status_facts {
    struct agent_config cfg;
    int64_t start_ms;        /* wall clock */
    int64_t last_command_ms; /* last change received from the Controller */
    size_t registries;
    enum agent_link link;
    char link_error[200];
};

struct agent_status_deps {
    struct agent_engine *engine;
    struct agent_localapi *api;
    const atomic_bool *cancel_io; /* set at shutdown: ends a report in flight */
    void *ctx;
    void (*facts)(void *ctx, struct agent_status_facts *out);
    /* The NATS transport's counters, NULL without one. New reference. */
    json_t *(*nats_stats)(void *ctx);
    /* Called by the status thread at each round, before the report (c: the settings). */
    void (*each_round)(void *ctx, const struct agent_config *c);
};

/* deps is copied; what it points to must outlive *out. The thread starts with
 * agent_status_start. The callbacks are called without any lock of this module held. */
IOF_NODISCARD iof_err agent_status_new(const struct agent_status_deps *deps,
                                       struct agent_status **out);
IOF_NODISCARD iof_err agent_status_start(struct agent_status *s);

/* A microservice changed: report now (at most every 200 ms). Thread-safe. */
void agent_status_soon(struct agent_status *s);
/* The settings changed: the thread reads them again (statusFrequency). Thread-safe. */
void agent_status_wake(struct agent_status *s);

/* The status report body (PUT /agent/status). New reference. */
json_t *agent_status_report(struct agent_status *s);
/* `iofog-agent status` lines as a flat object. New reference. Thread-safe. */
json_t *agent_status_lines(struct agent_status *s);

/* Stops and joins the thread (idempotent). The other calls stay valid until agent_status_free. */
void agent_status_stop(struct agent_status *s);

/* Stops the thread if still running and frees s, once no other thread can call into it (the
 * engine's change callback, the admin routes). NULL is a no-op. */
void agent_status_free(struct agent_status *s);

#endif
