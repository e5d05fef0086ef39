/* GET /metrics on the Controller; see metrics.h. */
#include "controller/server/metrics.h"

#include "common/buf.h"
#include "common/prom.h"
#include "controller/store/db.h"
#include "controller/store/store.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Status codes counted one by one; any other lands in its class ("1xx" .. "5xx"). */
static const int STATUSES[] = {200, 201, 202, 204, 206, 301, 302, 304, 400, 401, 403, 404,
                               405, 409, 410, 413, 415, 422, 429, 500, 501, 502, 503, 504};
#define NSTATUS  (sizeof STATUSES / sizeof STATUSES[0])
#define NSLOTS   (NSTATUS + 5) /* + one per class */
#define MAX_BODY ((size_t)8 << 20)

struct route_counters {
    _Atomic uint64_t by_status[NSLOTS];
    struct iof_prom_hist latency;
};

struct ctl_metrics {
    struct iof_http_server *http;
    struct ctl_store *store;
    size_t nroutes;               /* routes counted; index nroutes: requests matching none */
    struct route_counters *route; /* nroutes + 1 */
    struct ctl_metrics **slot;    /* the route's ctx, owned */
};

static size_t status_slot(int status) {
    for (size_t i = 0; i < NSTATUS; i++) {
        if (STATUSES[i] == status) {
            return i;
        }
    }
    int cls = status / 100;
    return NSTATUS + (size_t)(cls >= 1 && cls <= 5 ? cls - 1 : 4);
}

static void observe(void *ctx, int route, int status, int64_t elapsed_us) {
    struct ctl_metrics *m = ctx;
    size_t i = route >= 0 && (size_t)route < m->nroutes ? (size_t)route : m->nroutes;
    atomic_fetch_add_explicit(&m->route[i].by_status[status_slot(status)], 1, memory_order_relaxed);
    iof_prom_hist_observe(&m->route[i].latency, elapsed_us);
}

/* method="GET",route="/api/v3/..." for route i (the unmatched slot: method="",route="none"). */
static iof_err route_labels(const struct ctl_metrics *m, size_t i, struct iof_buf *b) {
    const char *method = iof_http_server_route_method(m->http, i);
    const char *pattern = iof_http_server_route_pattern(m->http, i);
    iof_err err = iof_buf_printf(b, "method=\"");
    if (err == IOF_OK) {
        err = iof_prom_escape(b, method != NULL ? method : "");
    }
    if (err == IOF_OK) {
        err = iof_buf_printf(b, "\",route=\"");
    }
    if (err == IOF_OK) {
        err = iof_prom_escape(b, pattern != NULL ? pattern : "none");
    }
    if (err == IOF_OK) {
        err = iof_buf_append(b, "\"", 2); /* with the NUL: the labels are used as a string */
    }
    return err;
}

struct node_rows {
    struct iof_buf *b;
    iof_err err;
};

static iof_err node_row(void *ctx, const struct ctl_db_row *row) {
    struct node_rows *r = ctx;
    const char *status = ctl_db_row_text(row, 0);
    iof_err err = iof_buf_printf(r->b, "iofog_controller_nodes{status=\"");
    if (err == IOF_OK) {
        err = iof_prom_escape(r->b, status != NULL ? status : "UNKNOWN");
    }
    if (err == IOF_OK) {
        err = iof_buf_printf(r->b, "\"} %lld\n", (long long)ctl_db_row_int(row, 1));
    }
    r->err = err;
    return err;
}

static iof_err write_requests(const struct ctl_metrics *m, struct iof_buf *b) {
    iof_err err = iof_buf_printf(
        b,
        "# HELP iofog_controller_http_requests_total HTTP requests answered, by route and status.\n"
        "# TYPE iofog_controller_http_requests_total counter\n");
    struct iof_buf labels;
    iof_buf_init(&labels, 4096);
    for (size_t i = 0; i <= m->nroutes && err == IOF_OK; i++) {
        iof_buf_reset(&labels);
        err = route_labels(m, i, &labels);
        for (size_t s = 0; s < NSLOTS && err == IOF_OK; s++) {
            uint64_t n = atomic_load_explicit(&m->route[i].by_status[s], memory_order_relaxed);
            if (n == 0) {
                continue;
            }
            char code[8];
            if (s < NSTATUS) {
                (void)snprintf(code, sizeof code, "%d", STATUSES[s]);
            } else {
                (void)snprintf(code, sizeof code, "%zuxx", s - NSTATUS + 1);
            }
            err = iof_buf_printf(b,
                                 "iofog_controller_http_requests_total{%s,status=\"%s\"} %llu\n",
                                 (const char *)labels.data,
                                 code,
                                 (unsigned long long)n);
        }
    }
    if (err == IOF_OK) {
        err = iof_buf_printf(b,
                             "# HELP iofog_controller_http_request_duration_seconds Time from a "
                             "request's arrival to its completion (held time included), by route.\n"
                             "# TYPE iofog_controller_http_request_duration_seconds histogram\n");
    }
    for (size_t i = 0; i <= m->nroutes && err == IOF_OK; i++) {
        if (atomic_load_explicit(&m->route[i].latency.count, memory_order_relaxed) == 0) {
            continue;
        }
        iof_buf_reset(&labels);
        err = route_labels(m, i, &labels);
        if (err == IOF_OK) {
            err = iof_prom_hist_write(b,
                                      "iofog_controller_http_request_duration_seconds",
                                      (const char *)labels.data,
                                      &m->route[i].latency);
        }
    }
    iof_buf_free(&labels);
    return err;
}

static iof_err render(struct ctl_metrics *m, struct iof_buf *b, struct iof_diag *d) {
    iof_err err = write_requests(m, b);
    if (err == IOF_OK) {
        err = iof_buf_printf(b,
                             "# HELP iofog_controller_http_held_requests Requests held open right "
                             "now (agents' long-polls).\n"
                             "# TYPE iofog_controller_http_held_requests gauge\n"
                             "iofog_controller_http_held_requests %zu\n"
                             "# HELP iofog_controller_nodes Edge nodes by daemon status.\n"
                             "# TYPE iofog_controller_nodes gauge\n",
                             iof_http_server_held(m->http));
    }
    if (err == IOF_OK) {
        struct node_rows r = {b, IOF_OK};
        err = ctl_db_exec(ctl_store_db(m->store),
                          "SELECT daemon_status, COUNT(*) FROM fogs GROUP BY daemon_status"
                          " ORDER BY daemon_status",
                          NULL,
                          0,
                          node_row,
                          &r,
                          NULL,
                          d);
    }
    if (err == IOF_OK) {
        err = iof_buf_printf(b,
                             "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
                             "# TYPE process_resident_memory_bytes gauge\n"
                             "process_resident_memory_bytes %llu\n",
                             (unsigned long long)iof_prom_rss_bytes());
    }
    return err;
}

static iof_err handle(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
    struct ctl_metrics *m = *(struct ctl_metrics **)ctx;
    if (m == NULL) {
        return iof_fail(d, IOF_EBUSY, "metrics are not ready");
    }
    struct iof_buf b;
    iof_buf_init(&b, MAX_BODY);
    iof_err err = render(m, &b, d);
    if (err == IOF_OK) {
        err = iof_http_respond(req, 200, IOF_PROM_CONTENT_TYPE, b.data, b.len);
    }
    iof_buf_free(&b);
    return err;
}

iof_err
ctl_metrics_new(struct iof_http_server *http, struct ctl_store *store, struct ctl_metrics **out) {
    *out = NULL;
    /* The route's ctx is a slot that gets the metrics once they exist: the route has to be added
     * before the counters are sized, so that it is counted too. */
    struct ctl_metrics **slot = calloc(1, sizeof *slot);
    if (slot == NULL) {
        return IOF_ENOMEM;
    }
    iof_err err = iof_http_server_route(http, "GET", "/metrics", handle, slot);
    if (err != IOF_OK) {
        free(slot);
        return err;
    }
    struct ctl_metrics *m = calloc(1, sizeof *m);
    size_t n = iof_http_server_route_count(http);
    struct route_counters *rc = calloc(n + 1, sizeof *rc);
    if (m == NULL || rc == NULL) {
        free(m);
        free(rc);
        free(slot); /* the server is not started and is freed by the caller's failure path */
        return IOF_ENOMEM;
    }
    m->slot = slot;
    m->http = http;
    m->store = store;
    m->nroutes = n;
    m->route = rc;
    *slot = m;
    iof_http_server_set_observer(http, observe, m);
    *out = m;
    return IOF_OK;
}

void ctl_metrics_free(struct ctl_metrics *m) {
    if (m == NULL) {
        return;
    }
    free(m->route);
    free(m->slot);
    free(m);
}
