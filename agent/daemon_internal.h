/* What the daemon's files (daemon.c, sync.c, status.c, admin.c) share; not for other modules. */
#ifndef AGENT_DAEMON_INTERNAL_H
#define AGENT_DAEMON_INTERNAL_H

#include "agent/config.h"
#include "agent/daemon.h"
#include "agent/hostinfo.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct agent_engine;
struct agent_localapi;
struct agent_nats;
struct iof_http_server;

/* Connection to the Controller as `status` reports it. */
enum agent_link { LINK_NOT_PROVISIONED, LINK_OK, LINK_NOT_CONNECTED, LINK_BROKEN_CERT };

struct agent_daemon {
    pthread_mutex_t mu; /* guards everything below that is not marked otherwise */
    pthread_cond_t cv;  /* sync and status threads wait on it */
    struct agent_config cfg;
    enum agent_link link;
    char link_error[200];
    bool stopping;
    atomic_bool cancel_io; /* set at shutdown: ends the sync and status threads' requests */
    bool remove_on_exit;   /* `stop` command: remove our containers before exiting */
    bool resync;           /* provisioned or told to fetch everything again */
    bool status_soon;      /* a microservice status changed: report now */
    int64_t start_ms;
    int64_t last_command_ms; /* last change received from the Controller */
    int64_t last_status_ms;  /* last status report accepted */
    json_t *microservices;   /* last desired set (Controller or cache) */
    json_t *registries;
    json_t *edge_resources;
    struct agent_hostinfo_state host; /* status thread only */
    pthread_t snapshot_thread;        /* snapshot.c; valid while snapshot_started */
    struct agent_logs *logs;          /* log streams to the Controller (logs.h) */
    bool snapshot_started, snapshot_running, snapshot_again;

    pthread_rwlock_t nats_lock; /* guards nats: the Local API sends through it from its threads */
    struct agent_nats *nats;    /* NULL without a NATS URL */

    /* set before the threads start, read-only afterwards; bridge_gateway and http_bridge when
     * still unset then: written by the status thread only (agent_daemon_bridge_retry), freed after
     * it was joined */
    char admin_token[64];
    char bridge_gateway[64];
    struct agent_engine *engine;
    struct agent_localapi *api;
    struct iof_http_server *http;
    struct iof_http_server *http_bridge;
    pthread_t sync_thread, status_thread;
    bool threads_started;
};

/* Sync thread (sync.c). */
void *agent_sync_main(void *arg);
/* Status thread: when the bridge gateway was unknown at start (the Docker Engine did not answer
 * yet), looks for it again and, once found, serves the Local API there too (c: the settings). */
void agent_daemon_bridge_retry(struct agent_daemon *a, const struct agent_config *c);
/* Status thread (status.c). */
void *agent_status_main(void *arg);
/* Adds the token-protected admin routes (admin.c). */
IOF_NODISCARD iof_err agent_admin_register(struct agent_daemon *a, struct iof_http_server *srv);

/* The status report body (status.c): PUT /agent/status. New reference. */
json_t *agent_status_report(struct agent_daemon *a);
/* `iofog-agent status` lines as a flat object (status.c). New reference. */
json_t *agent_status_lines(struct agent_daemon *a);

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
void agent_daemon_request_stop(struct agent_daemon *a, bool remove_containers);

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

/* The transport's counters for `status` (a new object), NULL without a transport. */
json_t *agent_daemon_nats_stats(struct agent_daemon *a);

/* Copies the configuration under the lock. */
void agent_daemon_config(struct agent_daemon *a, struct agent_config *out);

#endif
