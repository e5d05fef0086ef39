/* What the daemon's files (daemon.c and its sync thread, sync.c) share; not for other modules.
 * The modules the daemon drives (admin, status, snapshot, metrics, logs) do not include it: the
 * daemon hands each what it needs through that module's own header (callbacks and pointers), so
 * no module depends back on the daemon (scripts/check-include-cycles.py, test
 * agent_include_cycles). */
#ifndef AGENT_DAEMON_INTERNAL_H
#define AGENT_DAEMON_INTERNAL_H

#include "agent/admin.h"
#include "agent/config.h"
#include "agent/daemon.h"
#include "agent/metrics.h"
#include "agent/status.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct agent_engine;
struct agent_localapi;
struct agent_nats;
struct agent_snapshot;
struct iof_http_server;

struct agent_daemon {
    pthread_mutex_t mu; /* guards everything below that is not marked otherwise */
    pthread_cond_t cv;  /* the sync thread waits on it */
    struct agent_config cfg;
    enum agent_link link;
    char link_error[200];
    bool stopping;
    atomic_bool cancel_io; /* set at shutdown: ends the sync and status threads' requests */
    bool remove_on_exit;   /* `stop` command: remove our containers before exiting */
    bool resync;           /* provisioned or told to fetch everything again */
    int64_t start_ms;
    int64_t last_command_ms; /* last change received from the Controller */
    json_t *microservices;   /* last desired set (Controller or cache) */
    json_t *registries;
    json_t *edge_resources;
    struct agent_logs *logs; /* log streams to the Controller (logs.h) */

    pthread_rwlock_t nats_lock; /* guards nats: the Local API sends through it from its threads */
    struct agent_nats *nats;    /* NULL without a NATS URL */

    /* set before the threads start, read-only afterwards; bridge_gateway and http_bridge when
     * still unset then: written by the status thread only (bridge_retry in daemon.c, its each_round
     * callback), freed after it was joined */
    char admin_token[64];
    char bridge_gateway[64];
    struct agent_engine *engine;
    struct agent_localapi *api;
    struct iof_http_server *http;
    struct iof_http_server *http_bridge;
    struct agent_status *status;              /* status reports and texts (status.h) */
    struct agent_snapshot *snapshot;          /* image snapshots (snapshot.h) */
    struct agent_admin_ops admin_ops;         /* handed to the admin routes (admin.h) */
    struct agent_metrics_sources metrics_src; /* handed to GET /metrics (metrics.h) */
    pthread_t sync_thread;
    bool threads_started;
};

/* Sync thread (sync.c). */
void *agent_sync_main(void *arg);

/* Operations behind the admin routes and the sync thread (daemon.c). */
IOF_NODISCARD iof_err agent_daemon_provision(struct agent_daemon *a,
                                             const char *key,
                                             json_t **result,
                                             struct iof_diag *d);
/* notify_controller false: the Controller already forgot us (token rejected, node deleted). */
IOF_NODISCARD iof_err agent_daemon_deprovision(struct agent_daemon *a,
                                               bool notify_controller,
                                               struct iof_diag *d);
IOF_NODISCARD iof_err agent_daemon_configure(struct agent_daemon *a,
                                             int argc,
                                             const char *const *argv,
                                             json_t **messages,
                                             struct iof_diag *d);
/* Applies a new desired state (sync.c and start): engine, Local API, caches. Each argument may be
 * NULL (unchanged); borrowed. */
void agent_daemon_apply(struct agent_daemon *a,
                        json_t *microservices,
                        json_t *registries,
                        json_t *edge_resources,
                        bool write_cache);

/* Connects the cross-node transport to url (from the Controller's agent config), replacing a
 * previous one; "" disconnects. Saves the URL in config.json. */
void agent_daemon_set_nats_url(struct agent_daemon *a, const char *url);

/* Copies the configuration under the lock. */
void agent_daemon_config(struct agent_daemon *a, struct agent_config *out);

#endif
