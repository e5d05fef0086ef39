/* GET /metrics on the Agent; see metrics.h. */
#include "agent/metrics.h"

#include "agent/engine/engine.h"
#include "agent/localapi/localapi.h"
#include "common/buf.h"
#include "common/prom.h"

#include <jansson.h>
#include <string.h>

#define MAX_BODY ((size_t)1 << 20)

/* Every status the engine reports, so each series exists (as 0) from the first scrape. */
static const char *const STATUSES[] = {"QUEUED",
                                       "PULLING",
                                       "CREATING",
                                       "STARTING",
                                       "RUNNING",
                                       "RESTARTING",
                                       "UPDATING",
                                       "STOPPING",
                                       "STOPPED",
                                       "FAILED",
                                       "DELETING",
                                       "DELETED",
                                       "STUCK_IN_RESTART"};
#define NSTATUS (sizeof STATUSES / sizeof STATUSES[0])

static iof_err write_microservices(const struct agent_metrics_sources *src, struct iof_buf *b) {
    size_t counts[NSTATUS] = {0};
    json_t *arr = NULL;
    if (src->engine != NULL) {
        iof_err err = agent_engine_status_json(src->engine, &arr);
        if (err != IOF_OK) {
            return err;
        }
    }
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        const char *st = json_string_value(json_object_get(v, "status"));
        for (size_t k = 0; st != NULL && k < NSTATUS; k++) {
            if (strcmp(st, STATUSES[k]) == 0) {
                counts[k]++;
                break;
            }
        }
    }
    json_decref(arr);
    iof_err err = iof_buf_printf(b,
                                 "# HELP iofog_agent_microservices Microservices on this node by "
                                 "status.\n"
                                 "# TYPE iofog_agent_microservices gauge\n");
    for (size_t k = 0; k < NSTATUS && err == IOF_OK; k++) {
        err = iof_buf_printf(
            b, "iofog_agent_microservices{status=\"%s\"} %zu\n", STATUSES[k], counts[k]);
    }
    return err;
}

static iof_err write_messages(const struct agent_metrics_sources *src, struct iof_buf *b) {
    struct agent_localapi_counters c = {0};
    if (src->api != NULL) {
        agent_localapi_counters(src->api, &c);
    }
    return iof_buf_printf(
        b,
        "# HELP iofog_agent_messages_published_total Messages published by this node's "
        "microservices.\n"
        "# TYPE iofog_agent_messages_published_total counter\n"
        "iofog_agent_messages_published_total %llu\n"
        "# HELP iofog_agent_messages_delivered_total Message copies queued for receivers on this "
        "node.\n"
        "# TYPE iofog_agent_messages_delivered_total counter\n"
        "iofog_agent_messages_delivered_total %llu\n"
        "# HELP iofog_agent_messages_dropped_total Messages dropped on this node (queue or "
        "unacknowledged overflow).\n"
        "# TYPE iofog_agent_messages_dropped_total counter\n"
        "iofog_agent_messages_dropped_total %llu\n"
        "# HELP iofog_agent_messages_unroutable_total Published messages that reached no "
        "receiver.\n"
        "# TYPE iofog_agent_messages_unroutable_total counter\n"
        "iofog_agent_messages_unroutable_total %llu\n"
        "# HELP iofog_agent_messages_remote_failed_total Messages for other nodes the transport "
        "refused.\n"
        "# TYPE iofog_agent_messages_remote_failed_total counter\n"
        "iofog_agent_messages_remote_failed_total %llu\n",
        (unsigned long long)c.published,
        (unsigned long long)c.delivered,
        (unsigned long long)c.dropped,
        (unsigned long long)c.unroutable,
        (unsigned long long)c.remote_failed);
}

static unsigned long long num(const json_t *o, const char *key) {
    json_int_t v = json_integer_value(json_object_get(o, key));
    return v > 0 ? (unsigned long long)v : 0;
}

static iof_err write_nats(const struct agent_metrics_sources *src, struct iof_buf *b) {
    json_t *s = src->nats_stats(src->ctx); /* NULL without a NATS URL */
    iof_err err = iof_buf_printf(
        b,
        "# HELP iofog_agent_nats_configured 1 when a NATS server is configured for this node.\n"
        "# TYPE iofog_agent_nats_configured gauge\n"
        "iofog_agent_nats_configured %d\n"
        "# HELP iofog_agent_nats_connected 1 while the NATS connection is up.\n"
        "# TYPE iofog_agent_nats_connected gauge\n"
        "iofog_agent_nats_connected %d\n"
        "# HELP iofog_agent_nats_messages_published_total Messages handed to the NATS "
        "connection.\n"
        "# TYPE iofog_agent_nats_messages_published_total counter\n"
        "iofog_agent_nats_messages_published_total %llu\n"
        "# HELP iofog_agent_nats_messages_delivered_total Messages from NATS delivered on this "
        "node.\n"
        "# TYPE iofog_agent_nats_messages_delivered_total counter\n"
        "iofog_agent_nats_messages_delivered_total %llu\n"
        "# HELP iofog_agent_nats_messages_dropped_total Messages the NATS transport dropped, by "
        "reason.\n"
        "# TYPE iofog_agent_nats_messages_dropped_total counter\n"
        "iofog_agent_nats_messages_dropped_total{reason=\"buffer_full\"} %llu\n"
        "iofog_agent_nats_messages_dropped_total{reason=\"oversized\"} %llu\n"
        "iofog_agent_nats_messages_dropped_total{reason=\"malformed\"} %llu\n"
        "iofog_agent_nats_messages_dropped_total{reason=\"undeliverable\"} %llu\n"
        "iofog_agent_nats_messages_dropped_total{reason=\"slow_consumer\"} %llu\n"
        "# HELP iofog_agent_nats_buffered_messages Messages queued while NATS is unreachable.\n"
        "# TYPE iofog_agent_nats_buffered_messages gauge\n"
        "iofog_agent_nats_buffered_messages %llu\n"
        "# HELP iofog_agent_nats_reconnects_total NATS reconnections.\n"
        "# TYPE iofog_agent_nats_reconnects_total counter\n"
        "iofog_agent_nats_reconnects_total %llu\n",
        s != NULL,
        json_is_true(json_object_get(s, "connected")),
        num(s, "published"),
        num(s, "delivered"),
        num(s, "droppedBufferFull"),
        num(s, "droppedOversized"),
        num(s, "droppedMalformed"),
        num(s, "droppedUndeliverable"),
        num(s, "droppedSlowConsumer"),
        num(s, "buffered"),
        num(s, "reconnects"));
    json_decref(s);
    return err;
}

static iof_err handle(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
    (void)d;
    const struct agent_metrics_sources *src = ctx;
    struct iof_buf b;
    iof_buf_init(&b, MAX_BODY);
    iof_err err = write_microservices(src, &b);
    if (err == IOF_OK) {
        err = write_messages(src, &b);
    }
    if (err == IOF_OK) {
        err = write_nats(src, &b);
    }
    if (err == IOF_OK) {
        err = iof_buf_printf(&b,
                             "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
                             "# TYPE process_resident_memory_bytes gauge\n"
                             "process_resident_memory_bytes %llu\n",
                             (unsigned long long)iof_prom_rss_bytes());
    }
    if (err == IOF_OK) {
        err = iof_http_respond(req, 200, IOF_PROM_CONTENT_TYPE, b.data, b.len);
    }
    iof_buf_free(&b);
    return err;
}

iof_err agent_metrics_register(struct agent_metrics_sources *src, struct iof_http_server *srv) {
    return iof_http_server_route(srv, "GET", "/metrics", handle, src);
}
