/* The sync thread: keeps this node in step with the Controller (agent.md §3.3).
 *
 * After provisioning or a start, one initial cycle pushes the local settings (PATCH
 * /agent/config) and fetches registries, microservices and edge resources. Then it long-polls
 * GET /agent/config/changes?wait=N: our Controller holds the request until a change exists, so a
 * change reaches the engine and the Local API within milliseconds; a Controller that answers at
 * once with nothing (a classic one) is polled every changeFrequency seconds instead. Each flag's
 * fetch is applied, and the changes are acknowledged (PATCH with lastUpdated) only when every step
 * succeeded, so a failed step is retried with the same flags. An unreachable Controller is retried
 * with capped exponential backoff; a rejected token deprovisions the node locally. */
#include "agent/daemon_internal.h"
#include "agent/snapshot.h"

#include "agent/engine/engine.h"
#include "agent/logs.h"
#include "agent/upstream.h"
#include "common/clock.h"
#include "common/log.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

#define BACKOFF_MAX_MS 60000

/* Waits up to ms on the daemon's condition. Returns false when the daemon is stopping. The lock
 * is held on entry and on return. Returns early when resync is set. */
static bool wait_locked(struct agent_daemon *a, int64_t ms) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t ns = (int64_t)ts.tv_nsec + (ms % 1000) * 1000000;
    ts.tv_sec += (time_t)(ms / 1000 + ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    while (!a->stopping && !a->resync) {
        if (pthread_cond_timedwait(&a->cv, &a->mu, &ts) != 0) {
            break;
        }
    }
    return !a->stopping;
}

static bool sleep_ms(struct agent_daemon *a, int64_t ms) {
    pthread_mutex_lock(&a->mu);
    bool go = wait_locked(a, ms);
    pthread_mutex_unlock(&a->mu);
    return go;
}

static void set_link(struct agent_daemon *a, enum agent_link link, const char *why) {
    pthread_mutex_lock(&a->mu);
    if (a->link != link) {
        IOF_INFO("agent", "controller_link state=%d reason=\"%s\"", (int)link, why);
    }
    a->link = link;
    (void)snprintf(a->link_error, sizeof a->link_error, "%s", why);
    pthread_mutex_unlock(&a->mu);
}

/* GET path and return the array under key (new reference). */
static iof_err fetch_array(struct agent_upstream *u,
                           const struct agent_config *c,
                           const char *path,
                           const char *key,
                           json_t **out,
                           struct iof_diag *d) {
    json_t *answer = NULL;
    iof_err err =
        agent_upstream_call(u, c->controller_url, c->access_token, "GET", path, NULL, &answer, d);
    if (err != IOF_OK) {
        return err;
    }
    json_t *arr = json_object_get(answer, key);
    if (!json_is_array(arr)) {
        json_decref(answer);
        return iof_fail(d, IOF_EPROTO, "GET %s: no '%s' array in the answer", path, key);
    }
    *out = json_incref(arr);
    json_decref(answer);
    return IOF_OK;
}

static iof_err pull_config(struct agent_daemon *a,
                           struct agent_upstream *u,
                           const struct agent_config *c,
                           struct iof_diag *d) {
    json_t *answer = NULL;
    iof_err err = agent_upstream_call(
        u, c->controller_url, c->access_token, "GET", "agent/config", NULL, &answer, d);
    if (err != IOF_OK) {
        return err;
    }
    pthread_mutex_lock(&a->mu);
    struct agent_config next = a->cfg;
    bool changed = false;
    agent_config_apply_controller(&next, answer, &changed);
    if (changed) {
        err = agent_config_save(&next, d);
        if (err == IOF_OK) {
            a->cfg = next;
            IOF_INFO("agent", "config_applied source=controller");
        }
    }
    const char *nats = json_string_value(json_object_get(answer, "natsUrl"));
    bool nats_changed = nats != NULL && strcmp(nats, a->cfg.nats_url) != 0;
    pthread_mutex_unlock(&a->mu);
    if (changed && err == IOF_OK) {
        agent_status_wake(a->status); /* statusFrequency may have changed */
    }
    if (nats_changed) {
        agent_daemon_set_nats_url(a, nats);
    }
    json_decref(answer);
    return err;
}

struct wanted {
    bool config, registries, microservices, edge_resources;
};

/* Fetches what `w` names and applies it; nothing is applied unless every fetch succeeded. */
static iof_err fetch_and_apply(struct agent_daemon *a,
                               struct agent_upstream *u,
                               const struct agent_config *c,
                               struct wanted w,
                               struct iof_diag *d) {
    iof_err err = IOF_OK;
    if (w.config && (err = pull_config(a, u, c, d)) != IOF_OK) {
        return err;
    }
    json_t *regs = NULL, *ms = NULL, *ers = NULL;
    if (w.registries) {
        err = fetch_array(u, c, "agent/registries", "registries", &regs, d);
    }
    if (err == IOF_OK && w.microservices) {
        err = fetch_array(u, c, "agent/microservices?includeStopped=true", "microservices", &ms, d);
    }
    if (err == IOF_OK && w.edge_resources) {
        err = fetch_array(u, c, "agent/edgeResources", "edgeResources", &ers, d);
        if (err == IOF_ENOENT) { /* a Controller without edge resources */
            err = IOF_OK;
            ers = json_array();
        }
    }
    if (err == IOF_OK && (regs != NULL || ms != NULL || ers != NULL)) {
        agent_daemon_apply(a, ms, regs, ers, true);
    }
    json_decref(regs);
    json_decref(ms);
    json_decref(ers);
    return err;
}

static iof_err initial_cycle(struct agent_daemon *a,
                             struct agent_upstream *u,
                             const struct agent_config *c,
                             struct iof_diag *d) {
    json_t *mine = agent_config_controller_json(c);
    iof_err err =
        mine == NULL
            ? IOF_ENOMEM
            : agent_upstream_call(
                  u, c->controller_url, c->access_token, "PATCH", "agent/config", mine, NULL, d);
    json_decref(mine);
    if (err != IOF_OK) {
        return err;
    }
    struct wanted all = {
        .config = true, .registries = true, .microservices = true, .edge_resources = true};
    return fetch_and_apply(a, u, c, all, d);
}

/* The Agent's own log file: where its standard error goes when it runs in the background, ""
 * when that is not a regular file (--foreground on a terminal or under a service manager). */
static void own_log_file(char *out, size_t size) {
    struct stat st;
    out[0] = '\0';
    if (fstat(STDERR_FILENO, &st) != 0 || !S_ISREG(st.st_mode)) {
        return;
    }
    ssize_t n = readlink("/proc/self/fd/2", out, size - 1);
    out[n > 0 ? n : 0] = '\0';
}

/* Claims the log streams the Controller holds for this node and starts them (logs.h). */
static void
serve_logs(struct agent_daemon *a, struct agent_upstream *u, const struct agent_config *c) {
    json_t *answer = NULL;
    struct iof_diag d = {{0}};
    if (agent_upstream_call(
            u, c->controller_url, c->access_token, "GET", "agent/logs", NULL, &answer, &d) !=
        IOF_OK) {
        IOF_WARN("agent", "log_streams_unavailable reason=\"%s\"", d.msg);
        return;
    }
    char log_file[600];
    own_log_file(log_file, sizeof log_file);
    struct agent_logs_target t = {
        .controller_url = c->controller_url,
        .access_token = c->access_token,
        .controller_cert = c->controller_cert,
        .docker_url = c->docker_url,
        .log_file = log_file,
    };
    agent_logs_serve(a->logs, &t, json_object_get(answer, "logs"));
    json_decref(answer);
}

static bool flag(const json_t *changes, const char *name) {
    return json_is_true(json_object_get(changes, name));
}

/* Processes one answer of config/changes. *any tells whether a flag was set. */
static iof_err process_changes(struct agent_daemon *a,
                               struct agent_upstream *u,
                               const struct agent_config *c,
                               json_t *changes,
                               bool *any,
                               struct iof_diag *d) {
    /* Any flag counts, also one this agent has no use for: it is acknowledged like the others
     * instead of keeping the long-poll answering at once. */
    *any = false;
    const char *key;
    json_t *value;
    json_object_foreach(changes, key, value) {
        *any = *any || json_is_true(value);
    }
    if (!*any) {
        return IOF_OK;
    }
    pthread_mutex_lock(&a->mu);
    a->last_command_ms = iof_time_now_ms();
    pthread_mutex_unlock(&a->mu);
    if (flag(changes, "deleteNode")) {
        struct iof_diag dd = {{0}};
        if (agent_upstream_call(u,
                                c->controller_url,
                                c->access_token,
                                "DELETE",
                                "agent/delete-node",
                                NULL,
                                NULL,
                                &dd) != IOF_OK) {
            IOF_WARN("agent", "delete_node_failed reason=\"%s\"", dd.msg);
        }
        return agent_daemon_deprovision(a, false, d);
    }
    struct wanted w = {
        .config = flag(changes, "config") || flag(changes, "routerChanged"),
        .registries = flag(changes, "registries"),
        .microservices = flag(changes, "microserviceList") || flag(changes, "microserviceConfig") ||
                         flag(changes, "routing") || flag(changes, "registries"),
        .edge_resources = flag(changes, "linkedEdgeResources"),
    };
    iof_err err = fetch_and_apply(a, u, c, w, d);
    if (err != IOF_OK) {
        return err;
    }
    if (flag(changes, "prune") && agent_engine_prune(a->engine) != IOF_OK) {
        return iof_fail(d, IOF_EIO, "image prune failed");
    }
    if (flag(changes, "diagnostics")) {
        json_t *answer = NULL;
        err = agent_upstream_call(
            u, c->controller_url, c->access_token, "GET", "agent/strace", NULL, &answer, d);
        if (err == IOF_ENOENT) {
            err = IOF_OK; /* "Strace not found": no microservice here has strace set */
        } else if (err != IOF_OK) {
            return err;
        }
        IOF_INFO("agent", "strace_ignored reason=\"not supported by this agent\"");
        json_decref(answer);
    }
    if (flag(changes, "isImageSnapshot")) {
        agent_snapshot_request(a->snapshot);
    }
    if (flag(changes, "logs") && a->logs != NULL) {
        serve_logs(a, u, c);
    }
    static const char *const unsupported[] = {"version", "reboot", "tunnel"};
    for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++) {
        if (flag(changes, unsupported[i])) {
            IOF_INFO("agent", "change_ignored flag=%s reason=\"not supported\"", unsupported[i]);
        }
    }
    json_t *ack = json_pack("{sO}", "lastUpdated", json_object_get(changes, "lastUpdated"));
    if (ack == NULL) {
        return iof_fail(d, IOF_EPROTO, "changes answer without lastUpdated");
    }
    err = agent_upstream_call(
        u, c->controller_url, c->access_token, "PATCH", "agent/config/changes", ack, NULL, d);
    json_decref(ack);
    return err;
}

/* Handles a failed exchange: returns the backoff to apply (0 when none). */
static int64_t on_failure(struct agent_daemon *a, iof_err err, const char *what, int64_t backoff) {
    if (err == IOF_EAUTH) {
        IOF_WARN("agent", "token_rejected action=deprovision reason=\"%s\"", what);
        struct iof_diag dd = {{0}};
        if (agent_daemon_deprovision(a, false, &dd) != IOF_OK) {
            IOF_WARN("agent", "deprovision_failed reason=\"%s\"", dd.msg);
        }
        return 0;
    }
    bool cert = strstr(what, "certificate") != NULL || strstr(what, "SSL") != NULL;
    set_link(a, cert ? LINK_BROKEN_CERT : LINK_NOT_CONNECTED, what);
    IOF_WARN("agent",
             "controller_unreachable error=%s retry_ms=%lld reason=\"%s\"",
             iof_err_name(err),
             (long long)backoff,
             what);
    return backoff;
}

void *agent_sync_main(void *arg) {
    struct agent_daemon *a = arg;
    struct agent_upstream *u = NULL, *poll = NULL;
    char ca[512] = "";
    int poll_wait = -1;
    bool init = true;
    int64_t backoff = 1000;
    for (;;) {
        struct agent_config c;
        pthread_mutex_lock(&a->mu);
        if (a->stopping) {
            pthread_mutex_unlock(&a->mu);
            break;
        }
        if (a->resync) {
            a->resync = false;
            init = true;
        }
        c = a->cfg;
        if (c.iofog_uuid[0] == '\0') {
            a->link = LINK_NOT_PROVISIONED;
            (void)wait_locked(a, 3600 * 1000);
            pthread_mutex_unlock(&a->mu);
            continue;
        }
        pthread_mutex_unlock(&a->mu);

        /* (Re)create the clients when the certificate or the wait changed. */
        if (u == NULL || strcmp(ca, c.controller_cert) != 0 || poll_wait != c.long_poll_wait) {
            agent_upstream_free(u);
            agent_upstream_free(poll);
            u = poll = NULL;
            (void)snprintf(ca, sizeof ca, "%s", c.controller_cert);
            poll_wait = c.long_poll_wait;
            if (agent_upstream_new_cancellable(15000, ca, &a->cancel_io, &u) != IOF_OK ||
                agent_upstream_new_cancellable(
                    ((long)poll_wait + 15) * 1000, ca, &a->cancel_io, &poll) != IOF_OK) {
                IOF_ERROR("agent", "http_client_failed");
                if (!sleep_ms(a, 5000)) {
                    break;
                }
                continue;
            }
        }

        struct iof_diag d = {{0}};
        iof_err err = IOF_OK;
        if (init) {
            err = initial_cycle(a, u, &c, &d);
            if (err == IOF_OK) {
                init = false;
                backoff = 1000;
                set_link(a, LINK_OK, "");
                IOF_INFO("agent", "synced uuid=%s", c.iofog_uuid);
            }
        } else {
            char path[64];
            if (c.long_poll_wait > 0) {
                (void)snprintf(path, sizeof path, "agent/config/changes?wait=%d", c.long_poll_wait);
            } else {
                (void)snprintf(path, sizeof path, "agent/config/changes");
            }
            int64_t t0 = iof_time_mono_ms();
            json_t *changes = NULL;
            err = agent_upstream_call(
                poll, c.controller_url, c.access_token, "GET", path, NULL, &changes, &d);
            bool any = false;
            if (err == IOF_OK) {
                set_link(a, LINK_OK, "");
                backoff = 1000;
                err = process_changes(a, u, &c, changes, &any, &d);
                json_decref(changes);
            }
            int64_t elapsed = iof_time_mono_ms() - t0;
            if (err == IOF_OK && !any &&
                (c.long_poll_wait == 0 || elapsed < (int64_t)c.long_poll_wait * 500)) {
                /* No long-poll here: classic polling. */
                if (!sleep_ms(a, (int64_t)c.change_frequency * 1000)) {
                    break;
                }
            }
        }
        if (err != IOF_OK) {
            int64_t wait = on_failure(a, err, d.msg, backoff);
            if (wait > 0) {
                backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
                if (!sleep_ms(a, wait)) {
                    break;
                }
            }
        }
    }
    agent_upstream_free(u);
    agent_upstream_free(poll);
    return NULL;
}
