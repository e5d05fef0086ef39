/* The Controller server: its configuration, store and HTTP server, and every REST route group
 * registered on it. One struct ctl_server is the context every handler gets; nothing is global. */
#ifndef CTL_SERVER_H
#define CTL_SERVER_H

#include "controller/server/auth.h"
#include "controller/server/config.h"
#include "controller/server/metrics.h"
#include "controller/store/store.h"
#include "http/server.h"

struct ctl_route_ctx;
struct ctl_agent_wait;
struct ctl_nats_auth;
struct ctl_logs_ws;
struct ctl_viewer;

struct ctl_server {
    struct ctl_config cfg;
    struct ctl_store *store;
    struct iof_http_server *http;
    int64_t started_ms;
    char admin_hash[CTL_TOKEN_HASH_LEN + 1];  /* digest of <data-dir>/admin-token */
    struct ctl_route_ctx *routes;             /* one per registered route, owned */
    struct ctl_agent_wait *waits;             /* held long-polls of agents */
    struct ctl_metrics *metrics;              /* GET /metrics counters, owned */
    struct ctl_liveness *liveness;            /* the node liveness job */
    struct ctl_logs *logs;                    /* log streams from nodes to users */
    struct ctl_logs_ws *logs_ws;              /* their WebSocket form (api/logs_ws.h) */
    struct ctl_db_listener *changes_listener; /* changes raised by other Controllers sharing
                                                 the database (NULL on SQLite) */
    struct ctl_nats_auth *nats_auth;          /* writes nats-server's per-node users (NULL
                                                 without cfg.nats_auth_file) */
    struct ctl_login *login;                  /* password checks (controller/server/login.h) */
    struct ctl_viewer *viewer;                /* the web console (NULL: none configured) */
};

/* Creates the data directory if needed (mode 0700), opens and migrates the store, makes sure the
 * admin credential exists, and registers every route on a stopped HTTP server. On success *out is
 * freed with ctl_server_free(). */
IOF_NODISCARD iof_err ctl_server_new(const struct ctl_config *cfg,
                                     struct ctl_server **out,
                                     struct iof_diag *d);

/* Starts listening, and serves the web console when cfg names a viewer directory and a viewer
 * port (a console that cannot start fails the start, saying why). IOF_EBUSY when another process
 * listens on the address ("address 127.0.0.1:51121 is already in use (is another Controller
 * running? iofog-controller stop
 * --data-dir DIR)"), IOF_EIO when it cannot be bound otherwise. */
IOF_NODISCARD iof_err ctl_server_start(struct ctl_server *srv, struct iof_diag *d);

/* Before ctl_server_new: IOF_EBUSY with the text above when cfg's address is already in use, so a
 * second Controller refuses at once instead of after opening its database. IOF_OK otherwise
 * (other bind problems are reported by ctl_server_start). */
IOF_NODISCARD iof_err ctl_server_check_address(const struct ctl_config *cfg, struct iof_diag *d);

/* Stops listening and answers held requests; then frees everything. NULL is a no-op. */
void ctl_server_free(struct ctl_server *srv);

#endif
