/* Server assembly: data directory, store, admin credential, HTTP server and route groups. */
#include "controller/server/server.h"
#include "controller/server/viewer.h"

#include "common/clock.h"
#include "common/log.h"
#include "controller/domain/agent_wait.h"
#include "controller/api/api.h"
#include "controller/domain/changes.h"
#include "controller/domain/liveness.h"
#include "controller/api/logs_ws.h"
#include "controller/domain/logs.h"
#include "controller/domain/nats_auth.h"
#include "controller/server/login.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *changes_answer(void *ctx, const char *fog_uuid) {
    struct iof_diag d = {{0}};
    json_t *body = ctl_changes_json(ctx, fog_uuid, &d);
    if (body == NULL) {
        IOF_WARN("agent", "changes_unavailable fog=%s error=%s", fog_uuid, d.msg);
    }
    return body;
}

/* The whole of a PEM file (at most 1 MiB) into *out, a string the caller frees. */
static iof_err read_pem(const char *path, const char *what, char **out, struct iof_diag *d) {
    *out = NULL;
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        return iof_fail(d, IOF_EIO, "%s '%s': %s", what, path, strerror(errno));
    }
    size_t cap = (size_t)1 << 20;
    char *buf = malloc(cap + 1);
    size_t n = buf != NULL ? fread(buf, 1, cap + 1, f) : 0;
    (void)fclose(f);
    if (buf == NULL) {
        return iof_fail(d, IOF_ENOMEM, "out of memory");
    }
    if (n == 0 || n > cap) {
        free(buf);
        return iof_fail(d, IOF_EINVAL, "%s '%s': empty or larger than 1 MiB", what, path);
    }
    buf[n] = '\0';
    *out = buf;
    return IOF_OK;
}

/* The HTTP server, with TLS when cfg names a certificate and key. */
static iof_err new_http(const struct ctl_config *cfg, struct ctl_server *srv, struct iof_diag *d) {
    struct iof_http_config hc = {
        .bind_addr = cfg->bind,
        .port = cfg->port,
        .threads = cfg->http_threads,
        .max_body = 4 * 1024 * 1024,
        .connection_timeout_s = 120,
        .max_connections = cfg->max_connections,
        .connection_memory = cfg->connection_memory,
        .per_ip_connections = cfg->max_connections_per_address,
    };
    char *cert = NULL, *key = NULL;
    if (cfg->tls_cert[0] != '\0') {
        if (!iof_http_tls_supported()) {
            return iof_fail(d, IOF_EUNSUPPORTED, "this libmicrohttpd has no TLS support");
        }
        iof_err rerr = read_pem(cfg->tls_cert, "--tls-cert", &cert, d);
        if (rerr == IOF_OK) {
            rerr = read_pem(cfg->tls_key, "--tls-key", &key, d);
        }
        if (rerr != IOF_OK) {
            free(cert);
            return rerr;
        }
        hc.tls_cert_pem = cert;
        hc.tls_key_pem = key;
    }
    iof_err err = iof_http_server_new(&hc, &srv->http);
    if (key != NULL) {
        explicit_bzero(key, strlen(key));
    }
    free(cert);
    free(key);
    if (err != IOF_OK) {
        return iof_fail(d, err, "invalid listen address '%s'", cfg->bind);
    }
    return IOF_OK;
}

iof_err ctl_server_new(const struct ctl_config *cfg, struct ctl_server **out, struct iof_diag *d) {
    struct ctl_server *srv = calloc(1, sizeof *srv);
    if (srv == NULL) {
        return iof_fail(d, IOF_ENOMEM, "out of memory");
    }
    srv->cfg = *cfg;
    char db_path[1100];
    ctl_config_db_url(cfg, db_path, sizeof db_path);
    iof_err err = ctl_config_make_data_dir(cfg, d);
    if (err == IOF_OK) {
        err = ctl_store_open(db_path, &srv->store, d);
    }
    if (err == IOF_OK) {
        err = ctl_admin_token_ensure(cfg->data_dir, srv->admin_hash, d);
    }
    if (err == IOF_OK) {
        err = new_http(cfg, srv, d);
    }
    if (err == IOF_OK) {
        err = ctl_agent_wait_new(srv->http, changes_answer, srv, &srv->waits);
        if (err != IOF_OK) {
            err = iof_fail(d, err, "cannot start the long-poll registry");
        }
    }
    if (err == IOF_OK && ctl_logs_new(NULL, &srv->logs) != IOF_OK) {
        err = iof_fail(d, IOF_ENOMEM, "cannot start the log stream registry");
    }
    if (err == IOF_OK && ctl_logs_ws_new(&srv->logs_ws) != IOF_OK) {
        err = iof_fail(d, IOF_EIO, "cannot start the log WebSocket hub");
    }
    if (err == IOF_OK) {
        ctl_db_set_tx_hook(ctl_store_db(srv->store), ctl_changes_tx_hook, srv);
        err = ctl_login_new(srv, &srv->login);
        if (err != IOF_OK) {
            err = iof_fail(d, err, "cannot start the login workers");
        }
    }
    static const struct {
        const struct ctl_route *routes;
        const size_t *count;
    } groups[] = {
        {ctl_routes_status, &ctl_routes_status_count},
        {ctl_routes_user, &ctl_routes_user_count},
        {ctl_routes_admin, &ctl_routes_admin_count},
        {ctl_routes_agent, &ctl_routes_agent_count},
        {ctl_routes_agent_misc, &ctl_routes_agent_misc_count},
        {ctl_routes_catalog, &ctl_routes_catalog_count},
        {ctl_routes_registries, &ctl_routes_registries_count},
        {ctl_routes_edge_resource, &ctl_routes_edge_resource_count},
        {ctl_routes_router, &ctl_routes_router_count},
        {ctl_routes_config, &ctl_routes_config_count},
        {ctl_routes_application, &ctl_routes_application_count},
        {ctl_routes_application_template, &ctl_routes_application_template_count},
        {ctl_routes_iofog, &ctl_routes_iofog_count},
        {ctl_routes_tunnel, &ctl_routes_tunnel_count},
        {ctl_routes_diagnostics, &ctl_routes_diagnostics_count},
        {ctl_routes_microservices, &ctl_routes_microservices_count},
        {ctl_routes_routing, &ctl_routes_routing_count},
        {ctl_routes_logs, &ctl_routes_logs_count},
    };
    for (size_t i = 0; err == IOF_OK && i < sizeof groups / sizeof groups[0]; i++) {
        err = ctl_api_register(srv, groups[i].routes, *groups[i].count, d);
    }
    if (err == IOF_OK) {
        err = ctl_api_register_agent_uploads(srv, d);
    }
    if (err == IOF_OK && (err = ctl_metrics_new(srv->http, srv->store, &srv->metrics)) != IOF_OK) {
        err = iof_fail(d, err, "cannot set up /metrics");
    }
    if (err != IOF_OK) {
        ctl_server_free(srv);
        return err;
    }
    *out = srv;
    return IOF_OK;
}

static iof_err in_use(const struct ctl_config *cfg, struct iof_diag *d) {
    return iof_fail(d,
                    IOF_EBUSY,
                    "address %s:%u is already in use (is another Controller running? "
                    "iofog-controller stop --data-dir %s)",
                    cfg->bind,
                    (unsigned)cfg->port,
                    cfg->data_dir);
}

iof_err ctl_server_check_address(const struct ctl_config *cfg, struct iof_diag *d) {
    iof_err err = iof_http_address_check(cfg->bind, cfg->port, NULL);
    return err == IOF_EBUSY ? in_use(cfg, d) : IOF_OK; /* other failures: the start says why */
}

iof_err ctl_server_start(struct ctl_server *srv, struct iof_diag *d) {
    /* Before any request or notification can kick it. */
    iof_err err = ctl_nats_auth_start(srv, &srv->nats_auth, d);
    if (err != IOF_OK) {
        return err;
    }
    err = iof_http_server_start(srv->http);
    if (err == IOF_EBUSY) {
        return in_use(&srv->cfg, d);
    }
    if (err != IOF_OK) {
        return iof_fail(d, err, "cannot listen on %s:%u", srv->cfg.bind, (unsigned)srv->cfg.port);
    }
    srv->started_ms = iof_time_mono_ms();
    if ((err = ctl_changes_listen(srv, d)) != IOF_OK) {
        return err;
    }
    if ((err = ctl_liveness_start(srv, &srv->liveness)) != IOF_OK) {
        return iof_fail(d, err, "cannot start the liveness job");
    }
    if (srv->cfg.viewer_dir[0] != '\0' && srv->cfg.viewer_port != 0 &&
        (err = ctl_viewer_start(srv->cfg.viewer_dir,
                                srv->cfg.bind,
                                srv->cfg.viewer_port,
                                iof_http_server_port(srv->http),
                                &srv->viewer,
                                d)) != IOF_OK) {
        return err;
    }
    IOF_INFO("controller",
             "listening bind=%s port=%u data_dir=%s db=%s",
             srv->cfg.bind,
             (unsigned)iof_http_server_port(srv->http),
             srv->cfg.data_dir,
             ctl_db_backend_name(ctl_store_db(srv->store)));
    return IOF_OK;
}

void ctl_server_free(struct ctl_server *srv) {
    if (srv == NULL) {
        return;
    }
    ctl_viewer_free(srv->viewer); /* its own server: nothing else reaches it */
    ctl_liveness_stop(srv->liveness);
    ctl_db_listener_free(srv->changes_listener); /* no more wakes from other Controllers */
    ctl_agent_wait_stop(srv->waits);             /* no more answers from its timer */
    ctl_logs_ws_stop(srv->logs_ws);              /* closes log WebSockets (1001) */
    iof_http_server_stop(srv->http);             /* answers what is still held with 503 */
    ctl_login_free(srv->login);                  /* its workers answer through srv->http */
    iof_http_server_free(srv->http);
    ctl_agent_wait_free(srv->waits);
    ctl_logs_free(srv->logs);           /* after the server: no handler can reach it any more */
    ctl_logs_ws_free(srv->logs_ws);     /* after the sessions that wrote into it ended */
    ctl_nats_auth_stop(srv->nats_auth); /* nothing can kick it any more */
    ctl_metrics_free(srv->metrics);     /* after the HTTP server: its observer counts into them */
    if (srv->store != NULL) {
        ctl_db_set_tx_hook(ctl_store_db(srv->store), NULL, NULL);
    }
    ctl_api_release(srv);
    ctl_store_close(srv->store);
    free(srv);
}
