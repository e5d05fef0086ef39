/* The status thread and the status texts; see status.h. */
#include "agent/status.h"

#include "agent/engine/engine.h"
#include "agent/hostinfo.h"
#include "agent/localapi/localapi.h"
#include "agent/upstream.h"
#include "common/clock.h"
#include "common/log.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MIN_INTERVAL_MS 200

struct agent_status {
    struct agent_status_deps deps;
    pthread_mutex_t mu; /* guards the fields below */
    pthread_cond_t cv;
    bool soon; /* a microservice changed: report now */
    bool stopping;
    uint64_t wakes;         /* counts soon/wake calls: the thread looks again after each */
    int64_t last_status_ms; /* last report accepted (wall clock) */
    pthread_t thread;
    bool started;
    struct agent_hostinfo_state host; /* the thread's own */
};

static const char *link_text(enum agent_link l) {
    switch (l) {
        case LINK_OK: return "ok";
        case LINK_NOT_PROVISIONED: return "not provisioned";
        case LINK_BROKEN_CERT: return "broken certificate";
        case LINK_NOT_CONNECTED: break;
    }
    return "not connected";
}

json_t *agent_status_report(struct agent_status *s) {
    struct agent_status_facts f;
    s->deps.facts(s->deps.ctx, &f);
    const struct agent_config *c = &f.cfg;
    struct agent_hostinfo h;
    agent_hostinfo_sample(&s->host, c->disk_directory, &h);
    char ip[64];
    agent_hostinfo_ip_address(c->network_interface, ip, sizeof ip);

    json_t *ms = NULL;
    if (agent_engine_status_json(s->deps.engine, &ms) != IOF_OK) {
        ms = json_array();
    }
    char *ms_text = json_dumps(ms, JSON_COMPACT);
    json_decref(ms);
    json_t *stats = NULL;
    if (agent_localapi_stats(s->deps.api, &stats) != IOF_OK) {
        stats = json_object();
    }
    pthread_mutex_lock(&s->mu);
    int64_t last_status = s->last_status_ms;
    pthread_mutex_unlock(&s->mu);
    int64_t start = f.start_ms, last_cmd = f.last_command_ms;
    size_t nregs = f.registries;
    int64_t now = iof_time_now_ms();
    json_t *counts = json_object_get(stats, "microserviceMessageCounts");
    json_t *r = json_pack(
        "{ss sI sI sf sf sf ss ss ss sI sI sf ss sI ss sI sI ss ss sI ss sf sI ss ss sb sb}",
        "daemonStatus",
        "RUNNING",
        "daemonOperatingDuration",
        (json_int_t)(now - start),
        "daemonLastStart",
        (json_int_t)start,
        "memoryUsage",
        h.memory_usage_mb,
        "diskUsage",
        h.disk_usage_mb,
        "cpuUsage",
        h.cpu_usage,
        "memoryViolation",
        h.memory_usage_mb > c->memory_limit ? "yes" : "no",
        "diskViolation",
        h.disk_usage_mb > c->disk_limit * 1024 ? "yes" : "no",
        "cpuViolation",
        h.cpu_usage > c->cpu_limit ? "yes" : "no",
        "systemAvailableDisk",
        (json_int_t)h.system_available_disk,
        "systemAvailableMemory",
        (json_int_t)h.system_available_memory,
        "systemTotalCpu",
        h.system_total_cpu,
        "microserviceStatus",
        ms_text != NULL ? ms_text : "[]",
        "repositoryCount",
        (json_int_t)nregs,
        "repositoryStatus",
        "[]",
        "systemTime",
        (json_int_t)now,
        "lastStatusTime",
        (json_int_t)last_status,
        "ipAddress",
        ip,
        "ipAddressExternal",
        ip,
        "processedMessages",
        (json_int_t)json_integer_value(json_object_get(stats, "processedMessages")),
        "microserviceMessageCounts",
        json_is_string(counts) ? json_string_value(counts) : "[]",
        "messageSpeed",
        json_number_value(json_object_get(stats, "messageSpeed")),
        "lastCommandTime",
        (json_int_t)last_cmd,
        "tunnelStatus",
        "{}",
        "version",
        IOFOG_VERSION,
        "isReadyToUpgrade",
        0,
        "isReadyToRollback",
        0);
    free(ms_text);
    json_decref(stats);
    return r;
}

json_t *agent_status_lines(struct agent_status *s) {
    struct agent_status_facts f;
    s->deps.facts(s->deps.ctx, &f);
    const struct agent_config *c = &f.cfg;
    struct agent_hostinfo_state st = {0};
    struct agent_hostinfo h;
    agent_hostinfo_sample(&st, c->disk_directory, &h);
    enum agent_link link = f.link;
    const char *why = f.link_error;
    char mem[32], disk[32], cpu[32], avail_disk[32], avail_mem[32], running[16], now[40];
    (void)snprintf(mem, sizeof mem, "%.2f MB", h.memory_usage_mb);
    (void)snprintf(disk, sizeof disk, "%.2f MB", h.disk_usage_mb);
    (void)snprintf(cpu, sizeof cpu, "%.2f%%", h.cpu_usage);
    (void)snprintf(avail_disk,
                   sizeof avail_disk,
                   "%.2f MB",
                   (double)h.system_available_disk / (1024.0 * 1024.0));
    (void)snprintf(avail_mem,
                   sizeof avail_mem,
                   "%.2f MB",
                   (double)h.system_available_memory / (1024.0 * 1024.0));
    (void)snprintf(running, sizeof running, "%u", agent_engine_running_count(s->deps.engine));
    if (iof_time_format_iso8601(iof_time_now_ms(), now, sizeof now) != IOF_OK) {
        now[0] = '\0';
    }
    json_t *r = json_pack("{ss ss ss ss ss ss ss ss ss ss}",
                          "iofog-daemon",
                          "RUNNING",
                          "memory-usage",
                          mem,
                          "disk-usage",
                          disk,
                          "cpu-usage",
                          cpu,
                          "running-microservices",
                          running,
                          "connection-to-controller",
                          link_text(link),
                          "system-time",
                          now,
                          "system-available-disk",
                          avail_disk,
                          "system-available-memory",
                          avail_mem,
                          "iofog-uuid",
                          c->iofog_uuid);
    json_t *nats = s->deps.nats_stats(s->deps.ctx);
    if (r != NULL && nats != NULL) {
        char text[200];
        (void)snprintf(text,
                       sizeof text,
                       "%s, %lld published, %lld delivered, %lld dropped",
                       json_is_true(json_object_get(nats, "connected")) ? "connected"
                                                                        : "not connected",
                       (long long)json_integer_value(json_object_get(nats, "published")),
                       (long long)json_integer_value(json_object_get(nats, "delivered")),
                       (long long)json_integer_value(json_object_get(nats, "dropped")));
        json_object_set_new(r, "messaging-across-nodes", json_string(text));
    }
    json_decref(nats);
    if (r != NULL && link != LINK_OK && why[0] != '\0') {
        json_object_set_new(r, "controller-error", json_string(why));
    }
    return r;
}

/* Waits until a report is due, reading the settings again after every wake. Returns false when
 * stopping; *c gets the settings of the round. */
static bool wait_due(struct agent_status *s, int64_t last, struct agent_config *c) {
    for (;;) {
        /* A wake after this point makes the loop read the settings again instead of waiting. */
        pthread_mutex_lock(&s->mu);
        uint64_t seen = s->wakes;
        pthread_mutex_unlock(&s->mu);
        /* the daemon's lock is taken by facts(): never while holding s->mu */
        struct agent_status_facts f;
        s->deps.facts(s->deps.ctx, &f);
        *c = f.cfg;
        int64_t interval =
            agent_engine_converging(s->deps.engine) ? 1000 : (int64_t)f.cfg.status_frequency * 1000;
        pthread_mutex_lock(&s->mu);
        if (s->stopping) {
            pthread_mutex_unlock(&s->mu);
            return false;
        }
        int64_t now = iof_time_mono_ms();
        int64_t due = s->soon ? last + MIN_INTERVAL_MS : last + interval;
        if (now >= due) {
            s->soon = false;
            pthread_mutex_unlock(&s->mu);
            return true;
        }
        if (s->wakes == seen) {
            int64_t ms = due - now;
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            int64_t ns = (int64_t)ts.tv_nsec + (ms % 1000) * 1000000;
            ts.tv_sec += (time_t)(ms / 1000 + ns / 1000000000);
            ts.tv_nsec = (long)(ns % 1000000000);
            (void)pthread_cond_timedwait(&s->cv, &s->mu, &ts);
        }
        pthread_mutex_unlock(&s->mu);
    }
}

static void *status_main(void *arg) {
    struct agent_status *s = arg;
    struct agent_upstream *u = NULL;
    int64_t last = 0;
    struct agent_config c;
    while (wait_due(s, last, &c)) {
        last = iof_time_mono_ms();
        s->deps.each_round(s->deps.ctx, &c);
        if (c.iofog_uuid[0] == '\0') {
            continue;
        }
        if (u == NULL && agent_upstream_new_cancellable(
                             15000, c.controller_cert, s->deps.cancel_io, &u) != IOF_OK) {
            continue;
        }
        json_t *body = agent_status_report(s);
        struct iof_diag d = {{0}};
        iof_err err =
            body == NULL
                ? IOF_ENOMEM
                : agent_upstream_call(
                      u, c.controller_url, c.access_token, "PUT", "agent/status", body, NULL, &d);
        if (err == IOF_OK) {
            /* the journals it carried have reached the Controller */
            const char *sent = json_string_value(json_object_get(body, "microserviceStatus"));
            json_t *ms = sent != NULL ? json_loads(sent, 0, NULL) : NULL;
            agent_engine_events_sent(s->deps.engine, ms);
            json_decref(ms);
        }
        json_decref(body);
        if (err == IOF_OK) {
            IOF_DEBUG("agent", "status_sent");
            pthread_mutex_lock(&s->mu);
            s->last_status_ms = iof_time_now_ms();
            pthread_mutex_unlock(&s->mu);
        } else {
            IOF_DEBUG("agent", "status_not_sent error=%s reason=\"%s\"", iof_err_name(err), d.msg);
        }
    }
    agent_upstream_free(u);
    return NULL;
}

iof_err agent_status_new(const struct agent_status_deps *deps, struct agent_status **out) {
    struct agent_status *s = calloc(1, sizeof *s);
    if (s == NULL) {
        return IOF_ENOMEM;
    }
    s->deps = *deps;
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    *out = s;
    return IOF_OK;
}

iof_err agent_status_start(struct agent_status *s) {
    if (pthread_create(&s->thread, NULL, status_main, s) != 0) {
        return IOF_EINTERNAL;
    }
    s->started = true;
    return IOF_OK;
}

static void wake(struct agent_status *s, bool soon) {
    pthread_mutex_lock(&s->mu);
    s->soon = s->soon || soon;
    s->wakes++;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

void agent_status_soon(struct agent_status *s) {
    wake(s, true);
}

void agent_status_wake(struct agent_status *s) {
    wake(s, false);
}

void agent_status_stop(struct agent_status *s) {
    if (s == NULL) {
        return;
    }
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (s->started) {
        pthread_join(s->thread, NULL);
        s->started = false;
    }
}

void agent_status_free(struct agent_status *s) {
    if (s == NULL) {
        return;
    }
    agent_status_stop(s);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
