/* The Agent daemon's lifecycle and the operations the CLI asks for: provision, deprovision,
 * configure, stop. The sync and status threads live in sync.c and status.c. */
#include "agent/daemon_internal.h"
#include "agent/hostinfo.h"
#include "agent/snapshot.h"

#include "agent/cache.h"
#include "agent/engine/engine.h"
#include "agent/localapi/localapi.h"
#include "agent/logs.h"
#include "agent/nats/nats_transport.h"
#include "agent/upstream.h"
#include "common/log.h"
#include "http/server.h"

#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"

void agent_daemon_config(struct agent_daemon *a, struct agent_config *out) {
    pthread_mutex_lock(&a->mu);
    *out = a->cfg;
    pthread_mutex_unlock(&a->mu);
}

/* The status module's view of the daemon (status.h). */
static void status_facts(void *ctx, struct agent_status_facts *out) {
    struct agent_daemon *a = ctx;
    pthread_mutex_lock(&a->mu);
    out->cfg = a->cfg;
    out->start_ms = a->start_ms;
    out->last_command_ms = a->last_command_ms;
    out->registries = a->registries != NULL ? json_array_size(a->registries) : 0;
    out->link = a->link;
    memcpy(out->link_error, a->link_error, sizeof out->link_error);
    pthread_mutex_unlock(&a->mu);
}

/* Wakes the status thread to read the settings again (after a->mu was released). */
static void status_wake(struct agent_daemon *a) {
    if (a->status != NULL) {
        agent_status_wake(a->status);
    }
}

static void on_engine_change(void *ctx) {
    struct agent_daemon *a = ctx;
    if (a->status != NULL) {
        agent_status_soon(a->status);
    }
}

static iof_err gps_get(void *ctx, char *lat, size_t lat_len, char *lon, size_t lon_len) {
    struct agent_daemon *a = ctx;
    char coords[64];
    pthread_mutex_lock(&a->mu);
    memcpy(coords, a->cfg.gps_coordinates, sizeof coords);
    pthread_mutex_unlock(&a->mu);
    char *comma = strchr(coords, ',');
    if (comma == NULL) {
        (void)snprintf(lat, lat_len, "0");
        (void)snprintf(lon, lon_len, "0");
        return IOF_OK;
    }
    *comma = '\0';
    (void)snprintf(lat, lat_len, "%s", coords);
    (void)snprintf(lon, lon_len, "%s", comma + 1);
    return IOF_OK;
}

static iof_err gps_set(void *ctx, const char *lat, const char *lon) {
    struct agent_daemon *a = ctx;
    char coords[80];
    (void)snprintf(coords, sizeof coords, "%s,%s", lat, lon);
    struct iof_diag d = {{0}};
    pthread_mutex_lock(&a->mu);
    struct agent_config c = a->cfg;
    iof_err err = agent_config_set(&c, "gps", coords, &d);
    if (err == IOF_OK) {
        (void)snprintf(c.gps_mode, sizeof c.gps_mode, "dynamic");
        err = agent_config_save(&c, &d);
        if (err == IOF_OK) {
            a->cfg = c;
        }
    }
    pthread_mutex_unlock(&a->mu);
    if (err != IOF_OK) {
        IOF_WARN("agent", "gps_set_failed reason=\"%s\"", d.msg);
    }
    return err;
}

/* The application a microservice belongs to, as the subject token ("" when unknown). */
static void app_of(const json_t *m, char *out, size_t len) {
    const json_t *id = json_object_get(m, "applicationId");
    if (json_is_integer(id)) {
        (void)snprintf(out, len, "%lld", (long long)json_integer_value(id));
    } else {
        const char *name = json_string_value(json_object_get(m, "application"));
        (void)snprintf(out, len, "%s", name != NULL ? name : "");
    }
}

/* The application of microservice uuid of this node; false when it is not one. */
static bool app_of_local(struct agent_daemon *a, const char *uuid, char *out, size_t len) {
    bool found = false;
    pthread_mutex_lock(&a->mu);
    size_t i;
    const json_t *m;
    json_array_foreach(a->microservices, i, m) {
        const char *u = json_string_value(json_object_get(m, "uuid"));
        if (uuid != NULL && u != NULL && strcmp(u, uuid) == 0) {
            app_of(m, out, len);
            found = true;
            break;
        }
    }
    pthread_mutex_unlock(&a->mu);
    return found;
}

/* Local API -> NATS: a message for a route receiver on another node. A receiver the transport
 * does not know yet (the Local API learnt the new placement a moment before nats_routes() ran)
 * is sent in its publisher's application: routes stay within one application. */
static iof_err to_nats(void *ctx, const char *receiver_uuid, const struct iof_msg *msg) {
    struct agent_daemon *a = ctx;
    pthread_rwlock_rdlock(&a->nats_lock);
    iof_err err = a->nats != NULL ? agent_nats_send(a->nats, receiver_uuid, msg) : IOF_ENOENT;
    pthread_rwlock_unlock(&a->nats_lock);
    char app[AGENT_NATS_APP_MAX + 1];
    if (err == IOF_ENOENT && app_of_local(a, msg->publisher, app, sizeof app)) {
        pthread_rwlock_rdlock(&a->nats_lock);
        err = a->nats != NULL ? agent_nats_publish(a->nats, app, receiver_uuid, msg, NULL)
                              : IOF_ENOENT;
        pthread_rwlock_unlock(&a->nats_lock);
    }
    return err;
}

/* NATS -> Local API: a message for a receiver on this node. */
static iof_err from_nats(void *ctx, const char *receiver_uuid, const struct iof_msg *msg) {
    struct agent_daemon *a = ctx;
    return agent_localapi_deliver(a->api, receiver_uuid, msg);
}

/* Connects to the NATS URL of the configuration unless a transport exists already. The
 * connection is made only once messages could cross nodes (see nats_routes): a node without
 * consumers or remote route targets does not carry libnats' threads and buffers. */
static void nats_ensure(struct agent_daemon *a) {
    char url[sizeof a->cfg.nats_url];
    char user[sizeof a->cfg.nats_user], password[sizeof a->cfg.nats_password];
    pthread_mutex_lock(&a->mu);
    memcpy(url, a->cfg.nats_url, sizeof url);
    memcpy(user, a->cfg.nats_user, sizeof user);
    memcpy(password, a->cfg.nats_password, sizeof password);
    pthread_mutex_unlock(&a->mu);
    pthread_rwlock_rdlock(&a->nats_lock);
    bool exists = a->nats != NULL;
    pthread_rwlock_unlock(&a->nats_lock);
    if (exists || url[0] == '\0') {
        return;
    }
    struct agent_nats *next = NULL;
    struct agent_nats_config nc = {.urls = url,
                                   .name = "iofog-agent",
                                   .user = user[0] != '\0' ? user : NULL,
                                   .password = user[0] != '\0' ? password : NULL};
    struct iof_diag d = {{0}};
    iof_err made = agent_nats_new(&nc, from_nats, a, &next, &d);
    explicit_bzero(password, sizeof password);
    if (made != IOF_OK) {
        IOF_ERROR("agent", "nats_unavailable url=%s reason=\"%s\"", url, d.msg);
        return;
    }
    pthread_rwlock_wrlock(&a->nats_lock);
    a->nats = next;
    pthread_rwlock_unlock(&a->nats_lock);
    agent_localapi_set_remote_sink(a->api, to_nats, a);
    struct agent_nats_counters c;
    agent_nats_counters(next, &c);
    if (c.connected) {
        IOF_INFO("agent", "nats_connected url=%s", url);
    } else {
        /* The transport keeps retrying in the background and queues meanwhile; its own
         * "connected" line says when a server answers. */
        IOF_WARN("agent", "nats_connect_failed url=%s retrying=true", url);
    }
}

/* Tells the transport which receivers live here (the node's route receivers, isConsumer), which
 * publishers are routed to each of them (from our Controller's "publishers" key: a message from
 * NATS naming another publisher is dropped), and which route targets live elsewhere (routes stay
 * within one application, so a remote receiver is in its publisher's application). */
static void nats_routes(struct agent_daemon *a, const json_t *ms) {
    size_t n = json_array_size(ms), nl = 0, nr = 0, np = 0, cap_r = 0, cap_p = 0;
    size_t i;
    const json_t *m;
    bool enforce = true;
    json_array_foreach(ms, i, m) {
        cap_r += json_array_size(json_object_get(m, "routes"));
        const json_t *pubs = json_object_get(m, "publishers");
        cap_p += json_array_size(pubs);
        enforce = enforce && json_is_array(pubs); /* a Controller without it: no check */
    }
    const char **lu = calloc(n + 1, sizeof *lu), **la = calloc(n + 1, sizeof *la);
    const char **au = calloc(n + 1, sizeof *au);
    const char **ru = calloc(cap_r + 1, sizeof *ru), **ra = calloc(cap_r + 1, sizeof *ra);
    const char **pr = calloc(cap_p + 1, sizeof *pr), **pp = calloc(cap_p + 1, sizeof *pp);
    char(*apps)[AGENT_NATS_APP_MAX + 1] = calloc(n + 1, sizeof *apps);
    if (lu == NULL || la == NULL || au == NULL || ru == NULL || ra == NULL || pr == NULL ||
        pp == NULL || apps == NULL) {
        IOF_ERROR("agent", "nats_routes_failed reason=\"out of memory\"");
        goto out;
    }
    size_t na = 0;
    json_array_foreach(ms, i, m) {
        const char *uuid = json_string_value(json_object_get(m, "uuid"));
        if (uuid == NULL) {
            continue;
        }
        app_of(m, apps[i], sizeof apps[i]);
        au[na++] = uuid;
        if (!json_is_true(json_object_get(m, "isConsumer"))) {
            continue; /* nothing is routed to it: nats-server would refuse the subscription */
        }
        lu[nl] = uuid;
        la[nl++] = apps[i];
        size_t k;
        const json_t *p;
        json_array_foreach(json_object_get(m, "publishers"), k, p) {
            if (json_is_string(p)) {
                pr[np] = uuid;
                pp[np++] = json_string_value(p);
            }
        }
    }
    json_array_foreach(ms, i, m) {
        size_t k;
        const json_t *r;
        json_array_foreach(json_object_get(m, "routes"), k, r) {
            const char *target = json_string_value(r);
            bool local = false;
            for (size_t j = 0; target != NULL && j < na && !local; j++) {
                local = strcmp(au[j], target) == 0;
            }
            if (target != NULL && !local) {
                ru[nr] = target;
                ra[nr++] = apps[i];
            }
        }
    }
    if (nl > 0 || nr > 0) {
        nats_ensure(a);
    }
    struct iof_diag d = {{0}};
    pthread_rwlock_rdlock(&a->nats_lock);
    if (a->nats != NULL && (agent_nats_set_publishers(a->nats, pr, pp, np, enforce, &d) != IOF_OK ||
                            agent_nats_set_local(a->nats, lu, la, nl, &d) != IOF_OK ||
                            agent_nats_set_remote(a->nats, ru, ra, nr, &d) != IOF_OK)) {
        IOF_WARN("agent", "nats_routes_failed reason=\"%s\"", d.msg);
    }
    pthread_rwlock_unlock(&a->nats_lock);
out:
    free(lu);
    free(la);
    free(au);
    free(ru);
    free(ra);
    free(pr);
    free(pp);
    free(apps);
}

/* Closes the transport (if any); the next nats_routes() makes a new one when needed. */
static void nats_close(struct agent_daemon *a) {
    /* Without a transport, receivers on other nodes count as unroutable in the Local API (counted,
     * logged sparingly) instead of failing in the sink. */
    agent_localapi_set_remote_sink(a->api, NULL, a);
    pthread_rwlock_wrlock(&a->nats_lock);
    struct agent_nats *old = a->nats;
    a->nats = NULL;
    pthread_rwlock_unlock(&a->nats_lock);
    agent_nats_free(old);
}

void agent_daemon_set_nats_url(struct agent_daemon *a, const char *url) {
    nats_close(a);
    pthread_mutex_lock(&a->mu);
    json_t *ms = json_incref(a->microservices);
    if (strcmp(a->cfg.nats_url, url) != 0) {
        struct agent_config c = a->cfg;
        (void)snprintf(c.nats_url, sizeof c.nats_url, "%s", url);
        struct iof_diag d = {{0}};
        if (agent_config_save(&c, &d) == IOF_OK) {
            a->cfg = c;
        }
    }
    pthread_mutex_unlock(&a->mu);
    if (ms != NULL) {
        nats_routes(a, ms); /* connects when messages can cross nodes */
    }
    json_decref(ms);
    IOF_INFO("agent", "nats url=%s", url[0] != '\0' ? url : "-");
}

/* The transport's counters for `status` and /metrics (a new object), NULL without one. */
static json_t *nats_stats(void *ctx) {
    struct agent_daemon *a = ctx;
    json_t *out = NULL;
    pthread_rwlock_rdlock(&a->nats_lock);
    if (a->nats != NULL && agent_nats_stats(a->nats, &out) != IOF_OK) {
        out = NULL;
    }
    pthread_rwlock_unlock(&a->nats_lock);
    return out;
}

iof_err
agent_daemon_new(const struct agent_config *cfg, struct agent_daemon **out, struct iof_diag *d) {
    struct agent_daemon *a = calloc(1, sizeof *a);
    if (a == NULL) {
        return iof_fail(d, IOF_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&a->mu, NULL);
    pthread_rwlock_init(&a->nats_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&a->cv, &ca);
    pthread_condattr_destroy(&ca);
    a->cfg = *cfg;
    a->start_ms = iof_time_now_ms();
    a->link = cfg->iofog_uuid[0] != '\0' ? LINK_NOT_CONNECTED : LINK_NOT_PROVISIONED;
    a->resync = true;
    iof_err err =
        agent_config_admin_token(cfg->config_dir, true, a->admin_token, sizeof a->admin_token, d);
    if (err != IOF_OK) {
        agent_daemon_free(a);
        return err;
    }
    *out = a;
    return IOF_OK;
}

/* The data and log directories are the agent's own (message archive, microservice logs): made
 * 0700, and narrowed to 0700 when they exist with wider access and belong to this user. */
static iof_err make_dirs(const struct agent_config *c, struct iof_diag *d) {
    const char *dirs[] = {c->disk_directory, c->log_directory};
    for (size_t i = 0; i < 2; i++) {
        if (mkdir(dirs[i], 0700) != 0 && errno != EEXIST) {
            return iof_fail(d, IOF_EIO, "cannot create %s: %s", dirs[i], strerror(errno));
        }
        struct stat st;
        if (stat(dirs[i], &st) == 0 && st.st_uid == geteuid() && (st.st_mode & 0077) != 0 &&
            chmod(dirs[i], 0700) != 0) {
            IOF_WARN(
                "agent", "directory_mode_unchanged path=%s error=%s", dirs[i], strerror(errno));
        }
    }
    return IOF_OK;
}

static iof_err
local_api_in_use(const struct agent_config *c, const char *bind, struct iof_diag *d) {
    return iof_fail(d,
                    IOF_EBUSY,
                    "address %s:%u is already in use (is another Agent running? iofog-agent stop "
                    "--config-dir %s)",
                    bind,
                    (unsigned)c->local_api_port,
                    c->config_dir);
}

static iof_err start_server(struct agent_daemon *a,
                            const char *bind,
                            struct iof_http_server **out,
                            struct iof_diag *d) {
    struct iof_http_config hc = {
        .bind_addr = bind,
        .port = a->cfg.local_api_port,
        .max_body = 4u << 20,
        .threads = 2,
        .max_connections = 1024,
        .connection_memory = 16384,
        /* Connection discipline (issue: 1,030 idle sockets used to stop the Local API): heads
         * within 10 s, idle bodies cut after 60 s, 256 sockets per source address (a node's
         * host-network microservices and the CLI share 127.0.0.1), errors in plain text as the
         * classic Agent answers them. */
        .head_timeout_s = 10,
        .connection_timeout_s = 60,
        .per_ip_connections = 256,
        .plain_errors = true,
        .cors_origin = "", /* no CORS: web pages in a browser on the node stay out */
    };
    struct iof_http_server *srv = NULL;
    iof_err err = iof_http_server_new(&hc, &srv);
    if (err == IOF_OK) {
        err = agent_admin_register(&a->admin_ops, srv);
    }
    if (err == IOF_OK) {
        err = agent_metrics_register(&a->metrics_src, srv);
    }
    if (err == IOF_OK) {
        err = agent_localapi_register(a->api, srv);
    }
    if (err == IOF_OK) {
        err = iof_http_server_start(srv);
    }
    if (err != IOF_OK) {
        iof_http_server_free(srv);
        if (err == IOF_EBUSY) {
            return local_api_in_use(&a->cfg, bind, d);
        }
        return iof_fail(
            d, err, "cannot serve the Local API on %s:%u", bind, (unsigned)a->cfg.local_api_port);
    }
    *out = srv;
    return IOF_OK;
}

/* The Local API on the bridge gateway, besides loopback; see daemon.h. */
static iof_err start_bridge(struct agent_daemon *a, struct iof_diag *d) {
    struct iof_diag bd = {{0}};
    iof_err err = start_server(a, a->bridge_gateway, &a->http_bridge, &bd);
    if (err == IOF_EBUSY) { /* someone else serves the containers there: refuse, as on loopback */
        return iof_fail(d, err, "%s", bd.msg);
    }
    if (err != IOF_OK) { /* e.g. a gateway taken from the subnet that is not on this host */
        IOF_WARN(
            "agent", "bridge_listen_failed address=%s reason=\"%s\"", a->bridge_gateway, bd.msg);
    }
    return IOF_OK;
}

/* The status thread's each_round: when the bridge gateway was unknown at start (the Docker
 * Engine did not answer yet), looks for it again and, once found, serves the Local API there too
 * (c: the settings). */
static void bridge_retry(void *ctx, const struct agent_config *c) {
    struct agent_daemon *a = ctx;
    if (a->http_bridge != NULL || a->bridge_gateway[0] != '\0' ||
        strcmp(c->local_api_bind, "127.0.0.1") != 0) {
        return; /* serving there, or tried once with a known address, or not wanted */
    }
    char gw[sizeof a->bridge_gateway];
    if (agent_engine_bridge_gateway(a->engine, gw, sizeof gw) != IOF_OK) {
        return;
    }
    memcpy(a->bridge_gateway, gw, sizeof gw);
    struct iof_diag d = {{0}};
    if (start_bridge(a, &d) != IOF_OK) {
        IOF_WARN("agent", "bridge_listen_failed address=%s reason=\"%s\"", gw, d.msg);
    } else if (a->http_bridge != NULL) {
        IOF_INFO("agent", "bridge_listening address=%s port=%u", gw, (unsigned)c->local_api_port);
    }
}

/* The Local API's caller check asks the engine, which knows the containers' addresses. */
static iof_err api_caller(void *ctx, const char *addr, char *uuid, size_t len) {
    struct agent_daemon *a = ctx;
    return a->engine != NULL ? agent_engine_caller(a->engine, addr, uuid, len) : IOF_ENOENT;
}

static bool api_host_network(void *ctx, const char *uuid) {
    struct agent_daemon *a = ctx;
    return a->engine != NULL && agent_engine_host_network(a->engine, uuid);
}

/* The admin routes' operations (admin.h). */
static json_t *admin_status_lines(void *ctx) {
    struct agent_daemon *a = ctx;
    return agent_status_lines(a->status);
}

static void admin_config(void *ctx, struct agent_config *out) {
    agent_daemon_config(ctx, out);
}

static iof_err admin_provision(void *ctx, const char *key, json_t **result, struct iof_diag *d) {
    return agent_daemon_provision(ctx, key, result, d);
}

static iof_err admin_deprovision(void *ctx, struct iof_diag *d) {
    return agent_daemon_deprovision(ctx, true, d);
}

static iof_err admin_configure(
    void *ctx, int argc, const char *const *argv, json_t **messages, struct iof_diag *d) {
    return agent_daemon_configure(ctx, argc, argv, messages, d);
}

static iof_err admin_prune(void *ctx) {
    struct agent_daemon *a = ctx;
    return agent_engine_prune(a->engine);
}

/* `stop`: exits through the signal agent_daemon_wait takes, removing our containers. */
static void admin_request_stop(void *ctx) {
    struct agent_daemon *a = ctx;
    pthread_mutex_lock(&a->mu);
    a->remove_on_exit = true;
    pthread_mutex_unlock(&a->mu);
    kill(getpid(), SIGTERM);
}

iof_err agent_daemon_start(struct agent_daemon *a, struct iof_diag *d) {
    /* Fixed thresholds (setting them turns glibc's dynamic ones off): once a large block was
     * freed, glibc would raise the mmap threshold up to 32 MiB and the trim threshold to twice
     * that, so a drained message queue or a large /v2/messages/next answer stayed in a thread's
     * heap (up to ~64 MB, which malloc_trim does not shrink at a heap's top). Blocks of 256 KiB
     * and more are mapped on their own and unmapped when freed. */
    (void)mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    (void)mallopt(M_TRIM_THRESHOLD, 1024 * 1024);
    struct agent_config c = a->cfg;
    iof_err err = make_dirs(&c, d);
    if (err != IOF_OK) {
        return err;
    }
    /* A second Agent on a port in use refuses at once, before touching Docker or its caches. */
    if (iof_http_address_check(c.local_api_bind, c.local_api_port, NULL) == IOF_EBUSY) {
        return local_api_in_use(&c, c.local_api_bind, d);
    }
    const char *docker_url = c.docker_url;
    char pulled[sizeof c.config_dir + 32];
    (void)snprintf(pulled, sizeof pulled, "%s/pulled-images.json", c.config_dir);
    struct agent_engine_config ec = {
        .pulled_file = pulled,
        .docker_url = docker_url,
        .agent_uuid = c.iofog_uuid,
        .host_address = NULL,
        .time_zone = c.time_zone,
        .local_api_port = c.local_api_port,
        .on_change = on_engine_change,
        .ctx = a,
    };
    if ((err = agent_engine_new(&ec, &a->engine)) != IOF_OK) {
        return iof_fail(d, err, "cannot create the container engine");
    }
    if ((err = agent_logs_new(&a->cancel_io, &a->logs)) != IOF_OK) {
        return iof_fail(d, err, "cannot create the log stream registry");
    }
    if (agent_engine_bridge_gateway(a->engine, a->bridge_gateway, sizeof a->bridge_gateway) !=
        IOF_OK) {
        a->bridge_gateway[0] = '\0';
    }
    struct agent_localapi_config lc = {
        .data_dir = c.disk_directory,
        .log_dir = c.log_directory,
        .ack_timeout_ms = (unsigned)c.ack_timeout_ms,
        .strict_callers = c.local_api_strict,
        .hooks = {.ctx = a,
                  .gps_get = gps_get,
                  .gps_set = gps_set,
                  .caller = api_caller,
                  .host_network = api_host_network},
    };
    if ((err = agent_localapi_new(&lc, &a->api)) != IOF_OK) {
        return iof_fail(d, err, "cannot create the Local API");
    }
    struct agent_status_deps sd = {.engine = a->engine,
                                   .api = a->api,
                                   .cancel_io = &a->cancel_io,
                                   .ctx = a,
                                   .facts = status_facts,
                                   .nats_stats = nats_stats,
                                   .each_round = bridge_retry};
    if ((err = agent_status_new(&sd, &a->status)) != IOF_OK) {
        return iof_fail(d, err, "cannot create the status reporter");
    }
    struct agent_snapshot_deps nd = {.ctx = a, .config = admin_config, .cancel = &a->cancel_io};
    if ((err = agent_snapshot_new(&nd, &a->snapshot)) != IOF_OK) {
        return iof_fail(d, err, "cannot create the image snapshot service");
    }
    a->admin_ops = (struct agent_admin_ops){.ctx = a,
                                            .token = a->admin_token,
                                            .status_lines = admin_status_lines,
                                            .config = admin_config,
                                            .provision = admin_provision,
                                            .deprovision = admin_deprovision,
                                            .configure = admin_configure,
                                            .prune = admin_prune,
                                            .request_stop = admin_request_stop};
    a->metrics_src = (struct agent_metrics_sources){
        .engine = a->engine, .api = a->api, .ctx = a, .nats_stats = nats_stats};
    if (c.nats_url[0] != '\0') {
        agent_daemon_set_nats_url(a, c.nats_url);
    }
    if ((err = start_server(a, c.local_api_bind, &a->http, d)) != IOF_OK) {
        return err;
    }
    if (strcmp(c.local_api_bind, "127.0.0.1") == 0 && a->bridge_gateway[0] != '\0' &&
        (err = start_bridge(a, d)) != IOF_OK) {
        return err;
    }

    /* Offline start: run what ran before until the Controller says otherwise. */
    json_t *ms = NULL, *regs = NULL, *ers = NULL;
    struct iof_diag cd = {{0}};
    if (agent_cache_read(c.config_dir, "microservices", &ms, &cd) != IOF_OK && cd.msg[0] != '\0') {
        IOF_DEBUG("agent", "cache_unused reason=\"%s\"", cd.msg);
    }
    if (agent_cache_read(c.config_dir, "registries", &regs, NULL) != IOF_OK) {
        regs = NULL;
    }
    if (agent_cache_read(c.config_dir, "edge_resources", &ers, NULL) != IOF_OK) {
        ers = NULL;
    }
    if (c.iofog_uuid[0] != '\0' && (ms != NULL || regs != NULL || ers != NULL)) {
        IOF_INFO("agent",
                 "cache_loaded microservices=%zu",
                 ms != NULL ? json_array_size(ms) : (size_t)0);
        agent_daemon_apply(a, ms, regs != NULL ? regs : json_array(), ers, false);
    }
    json_decref(ms);
    json_decref(regs);
    json_decref(ers);

    if ((err = agent_engine_start(a->engine)) != IOF_OK) {
        return iof_fail(d, err, "cannot start the container engine");
    }
    if (pthread_create(&a->sync_thread, NULL, agent_sync_main, a) != 0) {
        return iof_fail(d, IOF_EINTERNAL, "cannot start the sync thread");
    }
    if (agent_status_start(a->status) != IOF_OK) {
        pthread_mutex_lock(&a->mu);
        a->stopping = true;
        pthread_cond_broadcast(&a->cv);
        pthread_mutex_unlock(&a->mu);
        pthread_join(a->sync_thread, NULL);
        return iof_fail(d, IOF_EINTERNAL, "cannot start the status thread");
    }
    a->threads_started = true;
    IOF_INFO("agent",
             "started port=%u bind=%s bridge=%s uuid=%s",
             (unsigned)c.local_api_port,
             c.local_api_bind,
             a->bridge_gateway[0] != '\0' ? a->bridge_gateway : "-",
             c.iofog_uuid[0] != '\0' ? c.iofog_uuid : "-");
    return IOF_OK;
}

void agent_daemon_wait(struct agent_daemon *a) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    int sig = 0;
    while (sigwait(&set, &sig) == 0 && sig == SIGHUP) {
        agent_daemon_reload(a);
    }
    IOF_INFO("agent", "stopping signal=%d", sig);
}

void agent_daemon_free(struct agent_daemon *a) {
    if (a == NULL) {
        return;
    }
    pthread_mutex_lock(&a->mu);
    a->stopping = true;
    atomic_store(&a->cancel_io, true);
    bool remove = a->remove_on_exit;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
    if (a->threads_started) {
        pthread_join(a->sync_thread, NULL);
    }
    agent_status_stop(a->status); /* joins the status thread */
    agent_snapshot_free(a->snapshot);
    a->snapshot = NULL;
    agent_logs_free(a->logs); /* cancel_io is set: every stream ends within about a second */
    a->logs = NULL;
    if (a->api != NULL) {
        agent_localapi_stop(a->api);
    }
    pthread_rwlock_wrlock(&a->nats_lock);
    agent_nats_free(a->nats); /* no delivery into the Local API after this */
    a->nats = NULL;
    pthread_rwlock_unlock(&a->nats_lock);
    iof_http_server_free(a->http_bridge);
    iof_http_server_free(a->http);
    if (a->engine != NULL && remove && agent_engine_remove_all(a->engine) != IOF_OK) {
        IOF_WARN("agent", "remove_containers_failed");
    }
    agent_engine_free(a->engine);
    agent_localapi_free(a->api);
    /* after the HTTP servers (admin routes) and the engine (its change callback) */
    agent_status_free(a->status);
    json_decref(a->microservices);
    json_decref(a->registries);
    json_decref(a->edge_resources);
    pthread_rwlock_destroy(&a->nats_lock);
    pthread_cond_destroy(&a->cv);
    pthread_mutex_destroy(&a->mu);
    free(a);
}

/* Journals (engine.h) a configuration change of every microservice whose config differs from
 * the previous desired state; a microservice new to the node has none to compare. */
static void note_config_changes(struct agent_daemon *a, const json_t *before, const json_t *after) {
    size_t i, j;
    const json_t *m, *o;
    json_array_foreach(after, i, m) {
        const char *uuid = json_string_value(json_object_get(m, "uuid"));
        const json_t *cfg = json_object_get(m, "config");
        json_array_foreach(before, j, o) {
            const char *ou = json_string_value(json_object_get(o, "uuid"));
            const json_t *old_cfg = json_object_get(o, "config");
            if (uuid != NULL && ou != NULL && strcmp(uuid, ou) == 0 &&
                (cfg != NULL || old_cfg != NULL) && !json_equal(cfg, old_cfg)) {
                agent_engine_note(a->engine, uuid, "config-changed", "configuration changed");
            }
        }
    }
}

void agent_daemon_apply(struct agent_daemon *a,
                        json_t *microservices,
                        json_t *registries,
                        json_t *edge_resources,
                        bool write_cache) {
    pthread_mutex_lock(&a->mu);
    if (registries != NULL) {
        json_decref(a->registries);
        a->registries = json_incref(registries);
    }
    json_t *before = NULL;
    if (microservices != NULL) {
        before = a->microservices; /* kept to tell configuration changes apart */
        a->microservices = json_incref(microservices);
    }
    if (edge_resources != NULL) {
        json_decref(a->edge_resources);
        a->edge_resources = json_incref(edge_resources);
    }
    json_t *ms = json_incref(a->microservices);
    json_t *regs = a->registries != NULL ? json_incref(a->registries) : json_array();
    char config_dir[512];
    memcpy(config_dir, a->cfg.config_dir, sizeof config_dir);
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
    on_engine_change(a); /* report the new state soon */

    struct iof_diag d = {{0}};
    if ((microservices != NULL || registries != NULL) && ms != NULL &&
        agent_engine_set_desired(a->engine, ms, regs) != IOF_OK) {
        IOF_ERROR("agent", "engine_rejected_desired_state");
    }
    if (microservices != NULL &&
        agent_localapi_set_microservices(a->api, microservices) != IOF_OK) {
        IOF_ERROR("agent", "localapi_rejected_microservices");
    }
    if (microservices != NULL) {
        nats_routes(a, microservices);
        note_config_changes(a, before, microservices);
    }
    json_decref(before);
    if (edge_resources != NULL &&
        agent_localapi_set_edge_resources(a->api, edge_resources) != IOF_OK) {
        IOF_ERROR("agent", "localapi_rejected_edge_resources");
    }
    if (write_cache) {
        const struct {
            const char *name;
            json_t *v;
        } caches[] = {{"microservices", microservices},
                      {"registries", registries},
                      {"edge_resources", edge_resources}};
        for (size_t i = 0; i < 3; i++) {
            if (caches[i].v != NULL &&
                agent_cache_write(config_dir, caches[i].name, caches[i].v, &d) != IOF_OK) {
                IOF_WARN(
                    "agent", "cache_write_failed name=%s reason=\"%s\"", caches[i].name, d.msg);
            }
        }
    }
    json_decref(ms);
    json_decref(regs);
}

iof_err agent_daemon_provision(struct agent_daemon *a,
                               const char *key,
                               json_t **result,
                               struct iof_diag *d) {
    if (key == NULL || key[0] == '\0') {
        return iof_fail(d, IOF_EINVAL, "a provisioning key is required");
    }
    struct agent_config c;
    agent_daemon_config(a, &c);
    if (c.iofog_uuid[0] != '\0') {
        struct iof_diag dd = {{0}};
        if (agent_daemon_deprovision(a, true, &dd) != IOF_OK) {
            IOF_WARN("agent", "deprovision_before_provision_failed reason=\"%s\"", dd.msg);
        }
        agent_daemon_config(a, &c);
    }
    struct agent_upstream *u = NULL;
    iof_err err = agent_upstream_new(15000, c.controller_cert, &u);
    if (err != IOF_OK) {
        return iof_fail(d, err, "cannot create an HTTP client");
    }
    json_t *body = json_pack("{sssi}", "key", key, "type", agent_config_fog_type_code(&c));
    json_t *answer = NULL;
    err = body == NULL ? IOF_ENOMEM
                       : agent_upstream_call(
                             u, c.controller_url, "", "POST", "agent/provision", body, &answer, d);
    json_decref(body);
    agent_upstream_free(u);
    if (err != IOF_OK) {
        return err;
    }
    const char *uuid = json_string_value(json_object_get(answer, "uuid"));
    const char *token = json_string_value(json_object_get(answer, "token"));
    if (uuid == NULL || token == NULL || strlen(uuid) >= sizeof c.iofog_uuid ||
        strlen(token) >= sizeof c.access_token) {
        json_decref(answer);
        return iof_fail(d, IOF_EPROTO, "the Controller's provisioning answer lacks uuid or token");
    }
    pthread_mutex_lock(&a->mu);
    c = a->cfg;
    (void)snprintf(c.iofog_uuid, sizeof c.iofog_uuid, "%s", uuid);
    (void)snprintf(c.access_token, sizeof c.access_token, "%s", token);
    /* Ours: the node's NATS identity (a classic Controller sends none: connect without one). */
    const char *nu = json_string_value(json_object_get(answer, "natsUser"));
    const char *np = json_string_value(json_object_get(answer, "natsPassword"));
    explicit_bzero(c.nats_user, sizeof c.nats_user);
    explicit_bzero(c.nats_password, sizeof c.nats_password);
    if (nu != NULL && np != NULL && strlen(nu) < sizeof c.nats_user &&
        strlen(np) < sizeof c.nats_password) {
        (void)snprintf(c.nats_user, sizeof c.nats_user, "%s", nu);
        (void)snprintf(c.nats_password, sizeof c.nats_password, "%s", np);
    }
    err = agent_config_save_credentials(&c, d);
    if (err == IOF_OK) {
        a->cfg = c;
        a->link = LINK_NOT_CONNECTED;
        a->resync = true;
        pthread_cond_broadcast(&a->cv);
    }
    pthread_mutex_unlock(&a->mu);
    if (err == IOF_OK) {
        status_wake(a);
        nats_close(a); /* reconnects with the new credential when messages cross nodes */
    }
    if (err == IOF_OK && agent_engine_set_agent_uuid(a->engine, uuid) != IOF_OK) {
        IOF_WARN("agent", "engine_uuid_not_set");
    }
    if (err == IOF_OK) {
        IOF_INFO("agent", "provisioned uuid=%s", uuid);
        *result = json_pack("{ssss}", "status", "ok", "uuid", uuid);
    }
    json_decref(answer);
    return err;
}

iof_err
agent_daemon_deprovision(struct agent_daemon *a, bool notify_controller, struct iof_diag *d) {
    struct agent_config c;
    agent_daemon_config(a, &c);
    if (c.iofog_uuid[0] == '\0') {
        return iof_fail(d, IOF_ECONFLICT, "this Agent is not provisioned");
    }
    if (notify_controller) {
        struct agent_upstream *u = NULL;
        if (agent_upstream_new(15000, c.controller_cert, &u) == IOF_OK) {
            json_t *uuids = json_array();
            pthread_mutex_lock(&a->mu);
            size_t i;
            json_t *m;
            json_array_foreach(a->microservices, i, m) {
                json_t *id = json_object_get(m, "uuid");
                if (json_is_string(id)) {
                    json_array_append(uuids, id);
                }
            }
            pthread_mutex_unlock(&a->mu);
            json_t *body = json_pack("{so}", "microserviceUuids", uuids);
            struct iof_diag ud = {{0}};
            if (agent_upstream_call(u,
                                    c.controller_url,
                                    c.access_token,
                                    "POST",
                                    "agent/deprovision",
                                    body,
                                    NULL,
                                    &ud) != IOF_OK) {
                IOF_WARN("agent", "controller_deprovision_failed reason=\"%s\"", ud.msg);
            }
            json_decref(body);
            agent_upstream_free(u);
        }
    }
    pthread_mutex_lock(&a->mu);
    c = a->cfg;
    c.iofog_uuid[0] = '\0';
    c.access_token[0] = '\0';
    explicit_bzero(c.nats_user, sizeof c.nats_user);
    explicit_bzero(c.nats_password, sizeof c.nats_password);
    iof_err err = agent_config_save_credentials(&c, d);
    if (err == IOF_OK) {
        a->cfg = c;
        a->link = LINK_NOT_PROVISIONED;
        json_decref(a->microservices);
        a->microservices = NULL;
        pthread_cond_broadcast(&a->cv);
    }
    pthread_mutex_unlock(&a->mu);
    if (err != IOF_OK) {
        return err;
    }
    status_wake(a);
    /* This node's containers go with it (classic only stopped them, leaving them to whoever
     * provisions next), and so do the offline caches: the registries one holds passwords. */
    if (agent_engine_remove_all(a->engine) != IOF_OK) {
        IOF_WARN("agent", "remove_containers_failed");
    }
    static const char *const caches[] = {"microservices", "registries", "edge_resources"};
    for (size_t i = 0; i < sizeof caches / sizeof caches[0]; i++) {
        if (agent_cache_remove(c.config_dir, caches[i]) != IOF_OK) {
            IOF_WARN("agent", "cache_not_removed name=%s", caches[i]);
        }
    }
    json_t *none = json_array();
    if (agent_localapi_set_microservices(a->api, none) != IOF_OK) {
        IOF_WARN("agent", "localapi_reset_failed");
    }
    json_decref(none);
    nats_close(a); /* its credential is revoked */
    IOF_INFO("agent", "deprovisioned notified=%s", notify_controller ? "true" : "false");
    return IOF_OK;
}

/* Tells the Controller the node's settings now rather than after the sync thread's long-poll
 * returns (when provisioned). */
static void push_config(const struct agent_config *c) {
    struct agent_upstream *u = NULL;
    if (c->iofog_uuid[0] != '\0' && agent_upstream_new(10000, c->controller_cert, &u) == IOF_OK) {
        json_t *mine = agent_config_controller_json(c);
        struct iof_diag ud = {{0}};
        if (mine != NULL &&
            agent_upstream_call(
                u, c->controller_url, c->access_token, "PATCH", "agent/config", mine, NULL, &ud) !=
                IOF_OK) {
            IOF_WARN("agent", "config_push_failed reason=\"%s\"", ud.msg);
        }
        json_decref(mine);
        agent_upstream_free(u);
    }
}

/* Makes c the running configuration (a->mu held) and wakes the threads; a new Controller URL
 * means syncing again from the start. */
static void adopt_config(struct agent_daemon *a, const struct agent_config *c) {
    bool url_changed = strcmp(c->controller_url, a->cfg.controller_url) != 0;
    a->cfg = *c;
    if (url_changed) {
        a->resync = true;
        a->link = c->iofog_uuid[0] != '\0' ? LINK_NOT_CONNECTED : LINK_NOT_PROVISIONED;
    }
    pthread_cond_broadcast(&a->cv);
}

iof_err agent_daemon_configure(struct agent_daemon *a,
                               int argc,
                               const char *const *argv,
                               json_t **messages,
                               struct iof_diag *d) {
    pthread_mutex_lock(&a->mu);
    struct agent_config c = a->cfg;
    json_t *msgs = NULL;
    iof_err err = agent_config_apply_args(&c, argc, argv, &msgs, d);
    if (err == IOF_OK) {
        err = agent_config_save(&c, d);
        if (err == IOF_OK) {
            adopt_config(a, &c);
        }
    }
    pthread_mutex_unlock(&a->mu);
    if (err != IOF_OK) {
        json_decref(msgs);
        return err;
    }
    status_wake(a); /* statusFrequency may have changed */
    push_config(&c);
    *messages = msgs;
    return IOF_OK;
}

/* Appends ",name" (or "name") to out[size]. */
static void note_field(char *out, size_t size, const char *name) {
    size_t used = strlen(out);
    (void)snprintf(out + used, size - used, "%s%s", used > 0 ? "," : "", name);
}

void agent_daemon_reload(struct agent_daemon *a) {
    char dir[sizeof a->cfg.config_dir];
    pthread_mutex_lock(&a->mu);
    memcpy(dir, a->cfg.config_dir, sizeof dir);
    pthread_mutex_unlock(&a->mu);
    struct agent_config c;
    struct iof_diag d = {{0}};
    char q[300];
    if (agent_config_load(&c, dir, &d) != IOF_OK) {
        IOF_WARN("agent",
                 "reload_failed reason=%s (the running configuration stays)",
                 iof_log_quote(q, sizeof q, d.msg));
        return;
    }
    char restart[256] = "";
    pthread_mutex_lock(&a->mu);
    /* Bound at start (listening socket, engine client, storage): the running values stay. */
    if (c.local_api_port != a->cfg.local_api_port) {
        note_field(restart, sizeof restart, "localApiPort");
        c.local_api_port = a->cfg.local_api_port;
    }
    if (strcmp(c.local_api_bind, a->cfg.local_api_bind) != 0) {
        note_field(restart, sizeof restart, "localApiBind");
        memcpy(c.local_api_bind, a->cfg.local_api_bind, sizeof c.local_api_bind);
    }
    if (strcmp(c.docker_url, a->cfg.docker_url) != 0) {
        note_field(restart, sizeof restart, "dockerUrl");
        memcpy(c.docker_url, a->cfg.docker_url, sizeof c.docker_url);
    }
    if (strcmp(c.disk_directory, a->cfg.disk_directory) != 0) {
        note_field(restart, sizeof restart, "diskDirectory");
        memcpy(c.disk_directory, a->cfg.disk_directory, sizeof c.disk_directory);
    }
    if (strcmp(c.log_directory, a->cfg.log_directory) != 0) {
        note_field(restart, sizeof restart, "logDirectory");
        memcpy(c.log_directory, a->cfg.log_directory, sizeof c.log_directory);
    }
    /* Credentials and what the Controller hands over are the daemon's own, not the file's. */
    memcpy(c.iofog_uuid, a->cfg.iofog_uuid, sizeof c.iofog_uuid);
    memcpy(c.access_token, a->cfg.access_token, sizeof c.access_token);
    memcpy(c.nats_user, a->cfg.nats_user, sizeof c.nats_user);
    memcpy(c.nats_password, a->cfg.nats_password, sizeof c.nats_password);
    memcpy(c.nats_url, a->cfg.nats_url, sizeof c.nats_url);
    adopt_config(a, &c);
    pthread_mutex_unlock(&a->mu);
    enum iof_log_level lvl;
    /* As at start: IOFOG_LOG_LEVEL, when set, wins over the file. */
    if (getenv("IOFOG_LOG_LEVEL") == NULL && iof_log_level_parse(c.log_level, &lvl) == IOF_OK) {
        iof_log_set_level(lvl);
    }
    IOF_WARN("agent",
             "reloaded logLevel=%s controller=%s restart_needed=%s",
             c.log_level,
             iof_log_quote(q, sizeof q, c.controller_url),
             restart[0] != '\0' ? restart : "-");
    status_wake(a); /* statusFrequency may have changed */
    push_config(&c);
}
