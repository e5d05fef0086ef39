/* The status thread and the status texts: PUT /api/v3/agent/status every statusFrequency seconds,
 * every second while microservices are converging, and at once (at most every 200 ms) when a
 * microservice status changes, so the Controller sees RUNNING within a moment of it happening. */
#include "agent/daemon_internal.h"

#include "agent/engine/engine.h"
#include "agent/localapi/localapi.h"
#include "agent/upstream.h"
#include "common/clock.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MIN_INTERVAL_MS 200

static const char *link_text(enum agent_link l) {
    switch (l) {
        case LINK_OK: return "ok";
        case LINK_NOT_PROVISIONED: return "not provisioned";
        case LINK_BROKEN_CERT: return "broken certificate";
        case LINK_NOT_CONNECTED: break;
    }
    return "not connected";
}

json_t *agent_status_report(struct agent_daemon *a) {
    struct agent_config c;
    agent_daemon_config(a, &c);
    struct agent_hostinfo h;
    agent_hostinfo_sample(&a->host, c.disk_directory, &h);
    char ip[64];
    agent_hostinfo_ip_address(c.network_interface, ip, sizeof ip);

    json_t *ms = NULL;
    if (agent_engine_status_json(a->engine, &ms) != IOF_OK) {
        ms = json_array();
    }
    char *ms_text = json_dumps(ms, JSON_COMPACT);
    json_decref(ms);
    json_t *stats = NULL;
    if (agent_localapi_stats(a->api, &stats) != IOF_OK) {
        stats = json_object();
    }
    pthread_mutex_lock(&a->mu);
    int64_t start = a->start_ms, last_cmd = a->last_command_ms, last_status = a->last_status_ms;
    size_t nregs = a->registries != NULL ? json_array_size(a->registries) : 0;
    pthread_mutex_unlock(&a->mu);
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
        h.memory_usage_mb > c.memory_limit ? "yes" : "no",
        "diskViolation",
        h.disk_usage_mb > c.disk_limit * 1024 ? "yes" : "no",
        "cpuViolation",
        h.cpu_usage > c.cpu_limit ? "yes" : "no",
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

json_t *agent_status_lines(struct agent_daemon *a) {
    struct agent_config c;
    agent_daemon_config(a, &c);
    struct agent_hostinfo_state st = {0};
    struct agent_hostinfo h;
    agent_hostinfo_sample(&st, c.disk_directory, &h);
    pthread_mutex_lock(&a->mu);
    enum agent_link link = a->link;
    char why[200];
    memcpy(why, a->link_error, sizeof why);
    pthread_mutex_unlock(&a->mu);
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
    (void)snprintf(running, sizeof running, "%u", agent_engine_running_count(a->engine));
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
                          c.iofog_uuid);
    json_t *nats = agent_daemon_nats_stats(a);
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

void *agent_status_main(void *arg) {
    struct agent_daemon *a = arg;
    struct agent_upstream *u = NULL;
    int64_t last = 0;
    for (;;) {
        pthread_mutex_lock(&a->mu);
        for (;;) {
            if (a->stopping) {
                break;
            }
            int64_t interval =
                agent_engine_converging(a->engine) ? 1000 : (int64_t)a->cfg.status_frequency * 1000;
            int64_t now = iof_time_mono_ms();
            int64_t due = a->status_soon ? last + MIN_INTERVAL_MS : last + interval;
            if (now >= due) {
                break;
            }
            int64_t ms = due - now;
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            int64_t ns = (int64_t)ts.tv_nsec + (ms % 1000) * 1000000;
            ts.tv_sec += (time_t)(ms / 1000 + ns / 1000000000);
            ts.tv_nsec = (long)(ns % 1000000000);
            (void)pthread_cond_timedwait(&a->cv, &a->mu, &ts);
        }
        bool stop = a->stopping;
        a->status_soon = false;
        struct agent_config c = a->cfg;
        pthread_mutex_unlock(&a->mu);
        if (stop) {
            break;
        }
        last = iof_time_mono_ms();
        agent_daemon_bridge_retry(a, &c);
        if (c.iofog_uuid[0] == '\0') {
            continue;
        }
        if (u == NULL &&
            agent_upstream_new_cancellable(15000, c.controller_cert, &a->cancel_io, &u) != IOF_OK) {
            continue;
        }
        json_t *body = agent_status_report(a);
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
            agent_engine_events_sent(a->engine, ms);
            json_decref(ms);
        }
        json_decref(body);
        if (err == IOF_OK) {
            IOF_DEBUG("agent", "status_sent");
            pthread_mutex_lock(&a->mu);
            a->last_status_ms = iof_time_now_ms();
            pthread_mutex_unlock(&a->mu);
        } else {
            IOF_DEBUG("agent", "status_not_sent error=%s reason=\"%s\"", iof_err_name(err), d.msg);
        }
    }
    agent_upstream_free(u);
    return NULL;
}
