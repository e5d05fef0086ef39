/* The container engine (see engine.h): desired state, status table, reconcile and events threads.
 */
#include "agent/engine/engine.h"

#include "agent/engine/docker.h"
#include "agent/engine/spec.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MOD "engine"

#define PERIOD_MS           5000   /* reconcile pass when nothing else wakes the thread */
#define CRASH_WINDOW_MS     600000 /* crashes counted over 10 minutes */
#define CRASH_LIMIT         5      /* that many crashes in the window: STUCK_IN_RESTART */
#define BACKOFF_FIRST_MS    1000
#define BACKOFF_CAP_MS      30000
#define RETRY_FIRST_MS      5000 /* a failed pull/create/start is retried after this, doubling */
#define RETRY_CAP_MS        60000
#define STATS_EVERY_MS      10000
#define COMMAND_WAIT_MS     180000 /* bound on stop_all/remove_all/prune waiting for the thread */
#define EVENTS_WINDOW_S     2      /* each events request covers this much time, then reconnects */
#define EVENTS_RETRY_CAP_MS 10000
#define MAX_MICROSERVICES   1024
#define REQUEST_TIMEOUT_MS  60000 /* plain Docker requests; stop waits up to stop_timeout_s */
#define PULL_TIMEOUT_MS     (30L * 60 * 1000)

enum status {
    ST_QUEUED,
    ST_PULLING,
    ST_CREATING,
    ST_STARTING,
    ST_RUNNING,
    ST_RESTARTING,
    ST_UPDATING,
    ST_STOPPING,
    ST_STOPPED,
    ST_FAILED,
    ST_DELETING,
    ST_DELETED,
    ST_STUCK,
};

static const char *const status_names[] = {
    "QUEUED",
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
    "STUCK_IN_RESTART",
};

#define CALLER_REFRESH_MS        200 /* an unknown caller triggers a container list at most this often */
#define CALLER_DOCKER_TIMEOUT_MS 2000

/* One address of one of this agent's containers, for the Local API's caller check. A
 * host-network container has one entry with an empty addr. */
struct agent_engine_caller {
    char uuid[AGENT_UUID_MAX];
    char addr[48];
    bool host_network;
};

static void callers_update(struct agent_engine *e, json_t *list);

/* One microservice's record. Created by set_desired (under the lock), freed only by the reconcile
 * thread, so that thread may keep a pointer across unlocked Docker calls. Public fields (status to
 * memory) are written under the lock; the rest belong to the reconcile thread. */
/* One entry of a microservice's journal: what happened to it, for `describe`. A repeat of the
 * newest entry (same type and text) only counts up, so a retry loop cannot flood the journal. */
struct msvc_event {
    int64_t ms; /* wall clock */
    unsigned count;
    char type[24];
    char msg[200];
};

struct msvc {
    char uuid[AGENT_UUID_MAX];
    /* public */
    enum status st;
    int percentage;
    char container_id[AGENT_DOCKER_ID_MAX];
    int64_t start_ms; /* wall clock; 0 when not running */
    char error[256];
    bool desired_running;
    bool rebuild_pending; /* set by set_desired when rebuild turns true */
    double cpu;
    uint64_t mem;
    int restarts; /* container restarted after it exited (see agent_engine_status_json) */
    /* reconcile thread only */
    char hash[17]; /* hash of the spec the crash/retry history belongs to */
    int64_t crashes[CRASH_LIMIT];
    int ncrash;
    int64_t restart_at; /* mono ms of a scheduled restart; 0: none */
    bool stuck;
    bool stopped_by_us; /* an exited container we stopped is started without counting a crash */
    int64_t retry_at;   /* mono ms before which a failed microservice is left alone */
    int64_t retry_delay;
    char inspected_id[AGENT_DOCKER_ID_MAX];
    int64_t stats_at;
    uint64_t prev_cpu_total;
    uint64_t prev_sys_total;
    bool seen;
    /* journal, under e->mu: the newest AGENT_ENGINE_EVENTS entries, a ring */
    struct msvc_event events[AGENT_ENGINE_EVENTS];
    unsigned nevents;    /* entries ever written; the ring holds the last AGENT_ENGINE_EVENTS */
    uint64_t event_seq;  /* changes of the journal */
    uint64_t event_sent; /* event_seq last reported to the Controller */
};

struct bad_item {
    char uuid[AGENT_UUID_MAX];
    char error[256];
};

/* One desired state, shared by reference between set_desired and the reconcile thread. */
struct desired {
    int refs; /* under e->mu */
    struct agent_spec **specs;
    size_t nspecs;
    struct bad_item *bad;
    size_t nbad;
};

enum command { CMD_NONE, CMD_STOP_ALL, CMD_REMOVE_ALL, CMD_PRUNE };

struct agent_engine {
    char *docker_url;
    char *host_address; /* configured; NULL: the bridge gateway */
    char *time_zone;
    char *pulled_file; /* NULL: no record kept */
    uint16_t local_api_port;
    void (*on_change)(void *ctx);
    void *ctx;
    int stop_timeout_s;
    int64_t backoff_first_ms;

    pthread_mutex_t mu;
    pthread_cond_t wake;  /* reconcile thread waits here */
    pthread_cond_t done;  /* command callers wait here */
    pthread_cond_t ev_cv; /* events thread sleeps here between retries */
    char agent_uuid[AGENT_UUID_MAX];
    struct desired *desired;
    bool halted; /* after stop_all/remove_all until the next set_desired */
    bool kick;
    bool died; /* a die event came: check "running" containers live, not from the list */
    bool stopping;
    bool started;
    enum command cmd;
    uint64_t cmd_seq;      /* incremented when a command is taken */
    uint64_t cmd_done_seq; /* ... and when it is done */
    iof_err cmd_result;
    struct msvc **tab;
    size_t ntab;
    size_t captab;
    unsigned change_gen; /* bumped whenever a public status changes */
    struct agent_engine_caller
        *callers; /* this agent's containers' addresses ("Local API callers") */
    size_t ncallers;
    int64_t callers_ms; /* mono ms of the last refresh; 0: never */

    pthread_t reconcile_thread;
    pthread_t events_thread;
    /* reconcile thread only */
    char gateway[64];
};

/* snprintf that may truncate by design (messages into fixed status fields). */
static void textf(char *buf, size_t size, const char *fmt, ...) IOF_PRINTF(3, 4);
static void textf(char *buf, size_t size, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(buf, size, fmt, ap);
    va_end(ap);
}

static char *dup_or_null(const char *s) {
    return s != NULL ? strdup(s) : NULL;
}

/* ---- desired state ---------------------------------------------------------------------- */

static void desired_unref_locked(struct desired *ds) {
    if (ds == NULL || --ds->refs > 0) {
        return;
    }
    for (size_t i = 0; i < ds->nspecs; i++) {
        agent_spec_free(ds->specs[i]);
    }
    free(ds->specs);
    free(ds->bad);
    free(ds);
}

static struct msvc *find_locked(struct agent_engine *e, const char *uuid) {
    for (size_t i = 0; i < e->ntab; i++) {
        if (strcmp(e->tab[i]->uuid, uuid) == 0) {
            return e->tab[i];
        }
    }
    return NULL;
}

static struct msvc *get_locked(struct agent_engine *e, const char *uuid) {
    struct msvc *m = find_locked(e, uuid);
    if (m != NULL) {
        return m;
    }
    if (e->ntab == e->captab) {
        size_t cap = e->captab == 0 ? 16 : e->captab * 2;
        struct msvc **t = realloc(e->tab, cap * sizeof *t);
        if (t == NULL) {
            return NULL;
        }
        e->tab = t;
        e->captab = cap;
    }
    m = calloc(1, sizeof *m);
    if (m == NULL) {
        return NULL;
    }
    snprintf(m->uuid, sizeof m->uuid, "%s", uuid);
    m->st = ST_QUEUED;
    e->tab[e->ntab++] = m;
    e->change_gen++;
    return m;
}

static void remove_entry_locked(struct agent_engine *e, struct msvc *m) {
    for (size_t i = 0; i < e->ntab; i++) {
        if (e->tab[i] == m) {
            e->tab[i] = e->tab[--e->ntab];
            free(m);
            e->change_gen++;
            return;
        }
    }
}

/* Adds an entry to m's journal; with e->mu held. */
static void journal_locked(struct msvc *m, const char *type, const char *msg) {
    if (m->nevents > 0) {
        struct msvc_event *last = &m->events[(m->nevents - 1) % AGENT_ENGINE_EVENTS];
        if (strcmp(last->type, type) == 0 && strncmp(last->msg, msg, sizeof last->msg - 1) == 0) {
            last->count++;
            last->ms = iof_time_now_ms();
            m->event_seq++;
            return;
        }
    }
    struct msvc_event *ev = &m->events[m->nevents % AGENT_ENGINE_EVENTS];
    ev->ms = iof_time_now_ms();
    ev->count = 1;
    snprintf(ev->type, sizeof ev->type, "%s", type);
    snprintf(ev->msg, sizeof ev->msg, "%s", msg);
    m->nevents++;
    m->event_seq++;
}

static void journal(struct agent_engine *e, struct msvc *m, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void
journal(struct agent_engine *e, struct msvc *m, const char *type, const char *fmt, ...) {
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&e->mu);
    journal_locked(m, type, msg);
    pthread_mutex_unlock(&e->mu);
}

/* Records a status; a change is told to on_change at once (not only at the end of the pass), so
 * the Agent reports RUNNING the moment the container started. */
static void set_status(struct agent_engine *e, struct msvc *m, enum status st, const char *error) {
    pthread_mutex_lock(&e->mu);
    bool changed = m->st != st || (error != NULL && strcmp(m->error, error) != 0);
    if (changed) {
        e->change_gen++;
    }
    m->st = st;
    snprintf(m->error, sizeof m->error, "%s", error != NULL ? error : "");
    if (st != ST_RUNNING) {
        m->start_ms = 0;
        m->cpu = 0;
        m->mem = 0;
    }
    if (st != ST_PULLING) {
        m->percentage = st == ST_RUNNING ? 100 : m->percentage;
    }
    pthread_mutex_unlock(&e->mu);
    if (changed && e->on_change != NULL) {
        e->on_change(e->ctx);
    }
}

/* ---- lifecycle ------------------------------------------------------------------------- */

iof_err agent_engine_new(const struct agent_engine_config *cfg, struct agent_engine **out) {
    if (cfg == NULL || (cfg->agent_uuid != NULL && strlen(cfg->agent_uuid) >= AGENT_UUID_MAX)) {
        return IOF_EINVAL;
    }
    struct agent_docker *probe = NULL; /* checks the docker_url form; no request is made */
    iof_err err = agent_docker_new(cfg->docker_url, 1000, &probe, NULL);
    if (err != IOF_OK) {
        return err;
    }
    agent_docker_free(probe);
    struct agent_engine *e = calloc(1, sizeof *e);
    if (e == NULL) {
        return IOF_ENOMEM;
    }
    e->docker_url = strdup(cfg->docker_url != NULL ? cfg->docker_url : AGENT_DOCKER_URL_DEFAULT);
    e->host_address = dup_or_null(cfg->host_address);
    e->time_zone = dup_or_null(cfg->time_zone);
    e->pulled_file = dup_or_null(cfg->pulled_file);
    e->local_api_port = cfg->local_api_port;
    e->on_change = cfg->on_change;
    e->ctx = cfg->ctx;
    e->stop_timeout_s = cfg->stop_timeout_s > 0 ? cfg->stop_timeout_s : 10;
    e->backoff_first_ms = cfg->restart_backoff_ms > 0 ? cfg->restart_backoff_ms : BACKOFF_FIRST_MS;
    snprintf(
        e->agent_uuid, sizeof e->agent_uuid, "%s", cfg->agent_uuid != NULL ? cfg->agent_uuid : "");
    pthread_condattr_t ca;
    bool ok = e->docker_url != NULL && (cfg->host_address == NULL || e->host_address != NULL) &&
              (cfg->time_zone == NULL || e->time_zone != NULL) &&
              (cfg->pulled_file == NULL || e->pulled_file != NULL);
    ok = ok && pthread_condattr_init(&ca) == 0;
    if (ok) {
        (void)pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        ok = pthread_mutex_init(&e->mu, NULL) == 0 && pthread_cond_init(&e->wake, &ca) == 0 &&
             pthread_cond_init(&e->done, &ca) == 0 && pthread_cond_init(&e->ev_cv, &ca) == 0;
        pthread_condattr_destroy(&ca);
    }
    if (!ok) {
        free(e->docker_url);
        free(e->host_address);
        free(e->time_zone);
        free(e->pulled_file);
        free(e->pulled_file);
        free(e);
        return IOF_ENOMEM;
    }
    *out = e;
    return IOF_OK;
}

static void *reconcile_main(void *arg);
static void *events_main(void *arg);

iof_err agent_engine_start(struct agent_engine *e) {
    pthread_mutex_lock(&e->mu);
    if (e->started) {
        pthread_mutex_unlock(&e->mu);
        return IOF_ECONFLICT;
    }
    e->started = true;
    pthread_mutex_unlock(&e->mu);
    if (pthread_create(&e->reconcile_thread, NULL, reconcile_main, e) != 0) {
        pthread_mutex_lock(&e->mu);
        e->started = false;
        pthread_mutex_unlock(&e->mu);
        return IOF_ENOMEM;
    }
    if (pthread_create(&e->events_thread, NULL, events_main, e) != 0) {
        pthread_mutex_lock(&e->mu);
        e->stopping = true;
        pthread_cond_broadcast(&e->wake);
        pthread_mutex_unlock(&e->mu);
        pthread_join(e->reconcile_thread, NULL);
        pthread_mutex_lock(&e->mu);
        e->started = false;
        e->stopping = false;
        pthread_mutex_unlock(&e->mu);
        return IOF_ENOMEM;
    }
    return IOF_OK;
}

void agent_engine_free(struct agent_engine *e) {
    if (e == NULL) {
        return;
    }
    pthread_mutex_lock(&e->mu);
    bool started = e->started;
    e->stopping = true;
    pthread_cond_broadcast(&e->wake);
    pthread_cond_broadcast(&e->ev_cv);
    pthread_cond_broadcast(&e->done);
    pthread_mutex_unlock(&e->mu);
    if (started) {
        pthread_join(e->reconcile_thread, NULL);
        pthread_join(e->events_thread, NULL);
    }
    desired_unref_locked(e->desired);
    for (size_t i = 0; i < e->ntab; i++) {
        free(e->tab[i]);
    }
    free(e->tab);
    free(e->callers);
    pthread_cond_destroy(&e->wake);
    pthread_cond_destroy(&e->done);
    pthread_cond_destroy(&e->ev_cv);
    pthread_mutex_destroy(&e->mu);
    free(e->docker_url);
    free(e->host_address);
    free(e->time_zone);
    free(e->pulled_file);
    free(e);
}

iof_err agent_engine_set_agent_uuid(struct agent_engine *e, const char *uuid) {
    if (uuid == NULL || strlen(uuid) >= AGENT_UUID_MAX) {
        return IOF_EINVAL;
    }
    pthread_mutex_lock(&e->mu);
    snprintf(e->agent_uuid, sizeof e->agent_uuid, "%s", uuid);
    e->kick = true;
    pthread_cond_broadcast(&e->wake);
    pthread_mutex_unlock(&e->mu);
    return IOF_OK;
}

iof_err agent_engine_set_desired(struct agent_engine *e,
                                 const json_t *microservices,
                                 const json_t *registries) {
    if (!json_is_array(microservices)) {
        return IOF_EINVAL;
    }
    size_t n = json_array_size(microservices);
    if (n > MAX_MICROSERVICES) {
        return IOF_E2BIG;
    }
    struct desired *ds = calloc(1, sizeof *ds);
    if (ds == NULL) {
        return IOF_ENOMEM;
    }
    ds->refs = 1;
    ds->specs = calloc(n + 1, sizeof *ds->specs);
    ds->bad = calloc(n + 1, sizeof *ds->bad);
    if (ds->specs == NULL || ds->bad == NULL) {
        desired_unref_locked(ds);
        return IOF_ENOMEM;
    }
    size_t i;
    const json_t *item;
    json_array_foreach(microservices, i, item) {
        struct agent_spec *s = NULL;
        struct iof_diag d = {{0}};
        iof_err err = agent_spec_parse(item, registries, &s, &d);
        if (err == IOF_OK) {
            bool dup = false;
            for (size_t j = 0; j < ds->nspecs && !dup; j++) {
                dup = strcmp(ds->specs[j]->uuid, s->uuid) == 0;
            }
            if (dup) {
                agent_spec_free(s);
                continue;
            }
            ds->specs[ds->nspecs++] = s;
            continue;
        }
        if (err == IOF_ENOMEM) {
            desired_unref_locked(ds);
            return err;
        }
        const char *uuid = json_string_value(json_object_get(item, "uuid"));
        if (uuid == NULL || uuid[0] == '\0' || strlen(uuid) >= AGENT_UUID_MAX) {
            char q[300];
            IOF_WARN(
                MOD, "descriptor_skipped index=%zu error=%s", i, iof_log_quote(q, sizeof q, d.msg));
            continue;
        }
        struct bad_item *b = &ds->bad[ds->nbad++];
        snprintf(b->uuid, sizeof b->uuid, "%s", uuid);
        textf(b->error, sizeof b->error, "invalid microservice descriptor: %s", d.msg);
    }

    pthread_mutex_lock(&e->mu);
    struct desired *old = e->desired;
    for (i = 0; i < ds->nspecs; i++) {
        struct agent_spec *s = ds->specs[i];
        struct msvc *m = get_locked(e, s->uuid);
        if (m == NULL) {
            continue; /* out of memory: the reconcile pass creates it later */
        }
        bool was_rebuild = false;
        bool known = false;
        for (size_t j = 0; old != NULL && j < old->nspecs; j++) {
            if (strcmp(old->specs[j]->uuid, s->uuid) == 0) {
                was_rebuild = old->specs[j]->rebuild;
                known = true;
            }
        }
        if (s->rebuild && !(known && was_rebuild)) {
            m->rebuild_pending = true;
        }
        m->desired_running = s->desired_running;
    }
    for (i = 0; i < ds->nbad; i++) {
        (void)get_locked(e, ds->bad[i].uuid);
    }
    e->desired = ds;
    e->halted = false;
    e->kick = true;
    desired_unref_locked(old);
    pthread_cond_broadcast(&e->wake);
    pthread_mutex_unlock(&e->mu);
    return IOF_OK;
}

/* ---- status ---------------------------------------------------------------------------- */

iof_err agent_engine_status_json(struct agent_engine *e, json_t **out) {
    json_t *arr = json_array();
    if (arr == NULL) {
        return IOF_ENOMEM;
    }
    int64_t now = iof_time_now_ms();
    pthread_mutex_lock(&e->mu);
    bool ok = true;
    for (size_t i = 0; i < e->ntab && ok; i++) {
        const struct msvc *m = e->tab[i];
        /* Numbers, as the classic agent sends them (cpu in percent, two decimals; bytes). */
        double cpu = round(m->cpu * 100.0) / 100.0;
        json_int_t mem = m->mem > (uint64_t)INT64_MAX ? (json_int_t)INT64_MAX : (json_int_t)m->mem;
        int64_t up = m->start_ms > 0 && now > m->start_ms ? now - m->start_ms : 0;
        json_t *o = json_pack("{s:s, s:s, s:i, s:s, s:I, s:I, s:f, s:I, s:s, s:i}",
                              "id",
                              m->uuid,
                              "status",
                              status_names[m->st],
                              "percentage",
                              m->percentage,
                              "containerId",
                              m->container_id,
                              "startTime",
                              (json_int_t)m->start_ms,
                              "operatingDuration",
                              (json_int_t)up,
                              "cpuUsage",
                              cpu,
                              "memoryUsage",
                              mem,
                              "errorMessage",
                              m->error,
                              "restarts",
                              m->restarts);
        if (o != NULL && m->event_seq != m->event_sent) {
            /* the journal changed since the last report: send it whole (it is small) */
            json_t *evs = json_array();
            unsigned first =
                m->nevents > AGENT_ENGINE_EVENTS ? m->nevents - AGENT_ENGINE_EVENTS : 0;
            for (unsigned k = first; evs != NULL && k < m->nevents; k++) {
                const struct msvc_event *ev = &m->events[k % AGENT_ENGINE_EVENTS];
                json_t *item = json_pack("{s:I, s:s, s:s, s:I}",
                                         "time",
                                         (json_int_t)ev->ms,
                                         "type",
                                         ev->type,
                                         "message",
                                         ev->msg,
                                         "count",
                                         (json_int_t)ev->count);
                if (item == NULL || json_array_append_new(evs, item) != 0) {
                    json_decref(evs);
                    evs = NULL;
                }
            }
            ok = evs != NULL && json_object_set_new(o, "events", evs) == 0 &&
                 json_object_set_new(o, "eventsSeq", json_integer((json_int_t)m->event_seq)) == 0;
        }
        ok = ok && o != NULL && json_array_append_new(arr, o) == 0;
    }
    pthread_mutex_unlock(&e->mu);
    if (!ok) {
        json_decref(arr);
        return IOF_ENOMEM;
    }
    *out = arr;
    return IOF_OK;
}

bool agent_engine_converging(struct agent_engine *e) {
    bool conv = false;
    pthread_mutex_lock(&e->mu);
    for (size_t i = 0; i < e->ntab && !conv; i++) {
        const struct msvc *m = e->tab[i];
        bool settled = m->st == ST_FAILED || m->st == ST_STUCK || m->st == ST_DELETED ||
                       (m->st == ST_RUNNING && m->desired_running) ||
                       (m->st == ST_STOPPED && !m->desired_running);
        conv = !settled;
    }
    pthread_mutex_unlock(&e->mu);
    return conv;
}

unsigned agent_engine_running_count(struct agent_engine *e) {
    unsigned n = 0;
    pthread_mutex_lock(&e->mu);
    for (size_t i = 0; i < e->ntab; i++) {
        n += e->tab[i]->st == ST_RUNNING;
    }
    pthread_mutex_unlock(&e->mu);
    return n;
}

/* ---- reconcile --------------------------------------------------------------------------- */

struct pass {
    struct agent_engine *e;
    struct agent_docker *k;    /* plain requests */
    struct agent_docker *pull; /* pulls: no whole-request timeout */
    char uuid[AGENT_UUID_MAX];
    struct msvc *pulling; /* for progress updates */
    bool verify_running;  /* the container list may lag behind a die event */
};

static bool abort_requested(struct agent_engine *e) {
    pthread_mutex_lock(&e->mu);
    bool stop = e->stopping || e->cmd != CMD_NONE;
    pthread_mutex_unlock(&e->mu);
    return stop;
}

static bool on_progress(void *ctx, int pct) {
    struct pass *p = ctx;
    pthread_mutex_lock(&p->e->mu);
    if (p->pulling != NULL) {
        p->pulling->percentage = pct;
    }
    bool stop = p->e->stopping || p->e->cmd != CMD_NONE;
    pthread_mutex_unlock(&p->e->mu);
    return !stop;
}

static void log_err(const char *event, const char *uuid, const char *text) {
    char q[300];
    IOF_WARN(MOD, "%s microservice=%s error=%s", event, uuid, iof_log_quote(q, sizeof q, text));
}

static void fail(struct pass *p, struct msvc *m, const char *text) {
    int64_t now = iof_time_mono_ms();
    m->retry_delay = m->retry_delay == 0                 ? RETRY_FIRST_MS
                     : m->retry_delay * 2 > RETRY_CAP_MS ? RETRY_CAP_MS
                                                         : m->retry_delay * 2;
    m->retry_at = now + m->retry_delay;
    log_err("microservice_failed", m->uuid, text);
    journal(p->e, m, "failed", "%s", text);
    set_status(p->e, m, ST_FAILED, text);
}

static void set_container(struct agent_engine *e, struct msvc *m, const char *id) {
    pthread_mutex_lock(&e->mu);
    if (strcmp(m->container_id, id) != 0) {
        snprintf(m->container_id, sizeof m->container_id, "%s", id);
        e->change_gen++;
    }
    pthread_mutex_unlock(&e->mu);
}

/* Reads State.StartedAt of a running container once per container id. */
static void note_running(struct pass *p, struct msvc *m, const char *id) {
    set_container(p->e, m, id);
    if (m->st == ST_RUNNING && strcmp(m->inspected_id, id) == 0) {
        return;
    }
    int64_t started = 0;
    json_t *c = NULL;
    if (agent_docker_inspect(p->k, id, &c, NULL) == IOF_OK) {
        const char *at =
            json_string_value(json_object_get(json_object_get(c, "State"), "StartedAt"));
        if (at == NULL || iof_time_parse_iso8601(at, &started) != IOF_OK) {
            started = 0;
        }
        json_decref(c);
    }
    set_status(p->e, m, ST_RUNNING, NULL);
    pthread_mutex_lock(&p->e->mu);
    m->start_ms = started > 0 ? started : iof_time_now_ms();
    char msg[64];
    snprintf(msg, sizeof msg, "container %.12s running", id);
    journal_locked(m, "started", msg);
    pthread_mutex_unlock(&p->e->mu);
    snprintf(m->inspected_id, sizeof m->inspected_id, "%s", id);
    /* No stats for a container that has just started: dockerd answers a one-shot stats request
     * only after its first collection (about a second), which would hold up the whole pass. */
    m->stats_at = iof_time_mono_ms();
    m->retry_delay = 0;
    m->retry_at = 0;
}

static void sample_stats(struct pass *p, struct msvc *m) {
    int64_t now = iof_time_mono_ms();
    if (m->st != ST_RUNNING || now - m->stats_at < STATS_EVERY_MS) {
        return;
    }
    m->stats_at = now;
    char path[256];
    snprintf(path, sizeof path, "/containers/%s/stats?stream=false&one-shot=true", m->container_id);
    long status = 0;
    json_t *v = NULL;
    if (agent_docker_call(p->k, "GET", path, NULL, NULL, &status, &v, NULL) != IOF_OK) {
        return;
    }
    if (status == 200) {
        const json_t *cs = json_object_get(v, "cpu_stats");
        uint64_t total = (uint64_t)json_integer_value(
            json_object_get(json_object_get(cs, "cpu_usage"), "total_usage"));
        uint64_t sys = (uint64_t)json_integer_value(json_object_get(cs, "system_cpu_usage"));
        json_int_t cpus = json_integer_value(json_object_get(cs, "online_cpus"));
        uint64_t mem = (uint64_t)json_integer_value(
            json_object_get(json_object_get(v, "memory_stats"), "usage"));
        double cpu = 0;
        if (m->prev_sys_total > 0 && sys > m->prev_sys_total && total >= m->prev_cpu_total) {
            cpu = (double)(total - m->prev_cpu_total) / (double)(sys - m->prev_sys_total) *
                  (double)(cpus > 0 ? cpus : 1) * 100.0;
        }
        m->prev_cpu_total = total;
        m->prev_sys_total = sys;
        pthread_mutex_lock(&p->e->mu);
        m->cpu = cpu;
        m->mem = mem;
        pthread_mutex_unlock(&p->e->mu);
    }
    json_decref(v);
}

/* ---- the record of pulled images (reconcile thread only: pulls and prune run there) ---- */

/* The recorded references: a new JSON array (empty when there is no record yet). */
static json_t *pulled_load(const struct agent_engine *e) {
    json_t *v = e->pulled_file != NULL ? json_load_file(e->pulled_file, 0, NULL) : NULL;
    if (!json_is_array(v)) {
        json_decref(v);
        v = json_array();
    }
    return v;
}

static void pulled_save(const struct agent_engine *e, const json_t *list) {
    char tmp[1100];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", e->pulled_file) >= (int)sizeof tmp ||
        json_dump_file(list, tmp, JSON_COMPACT) != 0 || rename(tmp, e->pulled_file) != 0) {
        IOF_WARN(MOD, "pulled_record_not_saved file=%s", e->pulled_file);
        (void)unlink(tmp);
    }
}

/* Adds ref to the record unless it is there already. */
static void pulled_record(const struct agent_engine *e, const char *ref) {
    if (e->pulled_file == NULL) {
        return;
    }
    json_t *list = pulled_load(e);
    size_t i;
    json_t *it;
    json_array_foreach(list, i, it) {
        if (strcmp(json_string_value(it) != NULL ? json_string_value(it) : "", ref) == 0) {
            json_decref(list);
            return;
        }
    }
    if (json_array_append_new(list, json_string(ref)) == 0) {
        pulled_save(e, list);
    }
    json_decref(list);
}

/* Removes the recorded images no container uses; keeps in the record those still used. */
static iof_err prune_pulled(const struct agent_engine *e, struct agent_docker *k) {
    if (e->pulled_file == NULL) {
        return IOF_OK;
    }
    /* The image ids any container (of anyone, in any state) runs: Docker would untag an image
     * in use that has another tag, so "in use" is checked here, not left to DELETE. */
    struct iof_diag d = {{0}};
    long status = 0;
    json_t *ctrs = NULL;
    iof_err result =
        agent_docker_call(k, "GET", "/containers/json?all=1", NULL, NULL, &status, &ctrs, &d);
    if (result != IOF_OK || status != 200 || !json_is_array(ctrs)) {
        json_decref(ctrs);
        IOF_WARN(MOD, "prune_failed error=\"cannot list containers\"");
        return result != IOF_OK ? result : IOF_EREMOTE;
    }
    json_t *list = pulled_load(e);
    json_t *keep = json_array();
    result = keep != NULL ? IOF_OK : IOF_ENOMEM;
    size_t i;
    json_t *it;
    json_array_foreach(list, i, it) {
        const char *ref = json_string_value(it);
        if (ref == NULL || keep == NULL) {
            continue;
        }
        char id[160];
        iof_err err = agent_docker_image_id(k, ref, id, sizeof id, &d);
        if (err == IOF_ENOENT) {
            continue; /* gone already: leaves the record */
        }
        bool used = false;
        size_t j;
        const json_t *c;
        json_array_foreach(ctrs, j, c) {
            const char *cid = json_string_value(json_object_get(c, "ImageID"));
            used = used || (cid != NULL && strcmp(cid, id) == 0);
        }
        if (err == IOF_OK) {
            err = used ? IOF_ECONFLICT : agent_docker_image_remove(k, ref, &d);
        }
        if (err == IOF_OK) {
            IOF_INFO(MOD, "image_pruned image=%s", ref);
        } else {
            if (err != IOF_ECONFLICT) {
                char q[300];
                IOF_WARN(MOD,
                         "prune_failed image=%s error=%s",
                         ref,
                         iof_log_quote(q, sizeof q, iof_diag_text(&d, err)));
                result = err;
            }
            (void)json_array_append(keep, it);
        }
    }
    if (keep != NULL && json_array_size(keep) != json_array_size(list)) {
        pulled_save(e, keep);
    }
    json_decref(keep);
    json_decref(list);
    json_decref(ctrs);
    return result;
}

/* Makes sure the image is present: pull unless from_cache; a failed pull falls back to a local
 * copy. Returns false (status FAILED) when there is no image to run. */
static bool ensure_image(struct pass *p, struct msvc *m, const struct agent_spec *s) {
    struct iof_diag d = {{0}};
    bool present = false;
    if (s->from_cache) {
        iof_err err = agent_docker_image_exists(p->k, s->image, &present, &d);
        if (err != IOF_OK) {
            fail(p, m, iof_diag_text(&d, err));
            return false;
        }
        if (!present) {
            char msg[sizeof m->error];
            textf(msg, sizeof msg, "image %s not found in the local cache", s->image);
            fail(p, m, msg);
        }
        return present;
    }
    pthread_mutex_lock(&p->e->mu);
    m->percentage = 0;
    pthread_mutex_unlock(&p->e->mu);
    journal(p->e, m, "pulling", "pulling image %s", s->image);
    set_status(p->e, m, ST_PULLING, NULL);
    p->pulling = m;
    iof_err err = agent_docker_pull(
        p->pull, s->ref.repo, iof_imageref_pull_tag(&s->ref), s->registry_auth, on_progress, p, &d);
    p->pulling = NULL;
    if (err == IOF_OK) {
        pthread_mutex_lock(&p->e->mu);
        m->percentage = 100;
        journal_locked(m, "pulled", "image pulled");
        pthread_mutex_unlock(&p->e->mu);
        pulled_record(p->e, s->image);
        return true;
    }
    if (err == IOF_EBUSY) {
        set_status(p->e, m, ST_QUEUED, NULL); /* aborted: shutting down or a command came */
        return false;
    }
    char pull_error[sizeof d.msg];
    snprintf(pull_error, sizeof pull_error, "%s", iof_diag_text(&d, err));
    if (agent_docker_image_exists(p->k, s->image, &present, NULL) == IOF_OK && present) {
        log_err("pull_failed_using_local_image", m->uuid, pull_error);
        journal(p->e, m, "pull-failed", "%.120s; running the local copy", pull_error);
        return true;
    }
    char msg[sizeof m->error];
    textf(msg, sizeof msg, "cannot pull image %s: %s", s->image, pull_error);
    fail(p, m, msg);
    return false;
}

static void
create_and_start(struct pass *p, struct msvc *m, const struct agent_spec *s, const json_t *body) {
    if (!ensure_image(p, m, s)) {
        return;
    }
    set_status(p->e, m, ST_CREATING, NULL);
    char name[AGENT_UUID_MAX + 8];
    snprintf(name, sizeof name, AGENT_CONTAINER_PREFIX "%s", s->uuid);
    char id[AGENT_DOCKER_ID_MAX];
    struct iof_diag d = {{0}};
    iof_err err = agent_docker_create(p->k, name, body, id, &d);
    if (err != IOF_OK) {
        fail(p, m, iof_diag_text(&d, err));
        return;
    }
    set_container(p->e, m, id);
    IOF_INFO(MOD, "container_created microservice=%s container=%.12s", s->uuid, id);
    journal(p->e, m, "created", "container %.12s created from %s", id, s->image);
    set_status(p->e, m, ST_STARTING, NULL);
    err = agent_docker_start(p->k, id, &d);
    if (err != IOF_OK) {
        fail(p, m, iof_diag_text(&d, err));
        return;
    }
    m->stopped_by_us = false;
    note_running(p, m, id);
}

static bool remove_container(struct pass *p, struct msvc *m, const char *id) {
    struct iof_diag d = {{0}};
    iof_err err = agent_docker_stop(p->k, id, p->e->stop_timeout_s, &d);
    if (err == IOF_OK || err == IOF_ENOENT) {
        err = agent_docker_remove(p->k, id, true, &d);
    }
    if (err != IOF_OK) {
        log_err("container_remove_failed", m != NULL ? m->uuid : id, iof_diag_text(&d, err));
        return false;
    }
    if (m != NULL) {
        set_container(p->e, m, "");
        m->inspected_id[0] = '\0';
    }
    return true;
}

static void reset_history(struct msvc *m, const char *hash) {
    snprintf(m->hash, sizeof m->hash, "%s", hash);
    m->ncrash = 0;
    m->restart_at = 0;
    m->stuck = false;
    m->retry_at = 0;
    m->retry_delay = 0;
}

/* The exit code of container id, -1 when Docker cannot tell. */
static int exit_code(struct pass *p, const char *id) {
    json_t *info = NULL;
    int code = -1;
    if (agent_docker_inspect(p->k, id, &info, NULL) == IOF_OK) {
        const json_t *c = json_object_get(json_object_get(info, "State"), "ExitCode");
        code = json_is_integer(c) ? (int)json_integer_value(c) : -1;
    }
    json_decref(info);
    return code;
}

/* A container we manage exited while it should run: restart it after a backoff, or give up. */
static void handle_exit(struct pass *p, struct msvc *m, const char *id, int64_t now) {
    if (m->stopped_by_us) {
        set_status(p->e, m, ST_STARTING, NULL);
        struct iof_diag d = {{0}};
        iof_err err = agent_docker_start(p->k, id, &d);
        if (err != IOF_OK) {
            fail(p, m, iof_diag_text(&d, err));
            return;
        }
        m->stopped_by_us = false;
        note_running(p, m, id);
        return;
    }
    if (m->restart_at == 0) {
        int kept = 0;
        for (int i = 0; i < m->ncrash; i++) {
            if (now - m->crashes[i] < CRASH_WINDOW_MS) {
                m->crashes[kept++] = m->crashes[i];
            }
        }
        m->ncrash = kept;
        if (m->ncrash >= CRASH_LIMIT) {
            m->stuck = true;
            IOF_WARN(MOD, "stuck_in_restart microservice=%s crashes=%d", m->uuid, m->ncrash);
            journal(p->e,
                    m,
                    "stuck",
                    "exited %d times within 10 minutes: left stopped until its "
                    "descriptor changes",
                    m->ncrash);
            set_status(p->e,
                       m,
                       ST_STUCK,
                       "the container exited 5 times within 10 minutes; it is left stopped until "
                       "its descriptor changes");
            return;
        }
        int64_t delay = p->e->backoff_first_ms;
        for (int i = 0; i < m->ncrash && delay < BACKOFF_CAP_MS; i++) {
            delay *= 2;
        }
        if (delay > BACKOFF_CAP_MS) {
            delay = BACKOFF_CAP_MS;
        }
        m->crashes[m->ncrash++] = now;
        m->restart_at = now + delay;
        IOF_INFO(
            MOD, "container_exited microservice=%s restart_in_ms=%lld", m->uuid, (long long)delay);
        journal(p->e,
                m,
                "exited",
                "container exited with code %d; restarting in %lld ms",
                exit_code(p, id),
                (long long)delay);
        set_status(p->e, m, ST_RESTARTING, NULL);
        return;
    }
    if (now < m->restart_at) {
        return;
    }
    m->restart_at = 0;
    struct iof_diag d = {{0}};
    iof_err err = agent_docker_start(p->k, id, &d);
    if (err != IOF_OK) {
        fail(p, m, iof_diag_text(&d, err));
        return;
    }
    pthread_mutex_lock(&p->e->mu);
    m->restarts = m->restarts < INT_MAX ? m->restarts + 1 : INT_MAX;
    p->e->change_gen++;
    pthread_mutex_unlock(&p->e->mu);
    note_running(p, m, id);
}

static void reconcile_one(struct pass *p, const struct agent_spec *s, json_t *ctr) {
    struct agent_engine *e = p->e;
    pthread_mutex_lock(&e->mu);
    struct msvc *m = get_locked(e, s->uuid);
    bool rebuild = m != NULL && m->rebuild_pending;
    if (m != NULL) {
        m->rebuild_pending = false;
        m->desired_running = s->desired_running;
        m->seen = true;
    }
    pthread_mutex_unlock(&e->mu);
    if (m == NULL) {
        return;
    }
    const char *id = json_string_value(json_object_get(ctr, "Id"));
    const char *state = json_string_value(json_object_get(ctr, "State"));
    int64_t now = iof_time_mono_ms();
    char live_state[32];
    if (p->verify_running && id != NULL && state != NULL && strcmp(state, "running") == 0) {
        /* Docker reports a die event before its container list shows the exit. */
        json_t *c = NULL;
        if (agent_docker_inspect(p->k, id, &c, NULL) == IOF_OK) {
            const char *st =
                json_string_value(json_object_get(json_object_get(c, "State"), "Status"));
            if (st != NULL) {
                snprintf(live_state, sizeof live_state, "%s", st);
                state = live_state;
            }
            json_decref(c);
        }
    }

    if (s->remove) {
        if (id != NULL) {
            set_status(e, m, ST_DELETING, NULL);
            if (!remove_container(p, m, id)) {
                return;
            }
            IOF_INFO(MOD, "container_removed microservice=%s", s->uuid);
        }
        if (s->remove_image && (id != NULL || m->st != ST_DELETED)) {
            struct iof_diag d = {{0}};
            iof_err err = agent_docker_image_remove(p->k, s->image, &d);
            if (err != IOF_OK) {
                log_err("image_remove_failed", s->uuid, iof_diag_text(&d, err));
            }
        }
        set_status(e, m, ST_DELETED, NULL);
        return;
    }

    char hash[17];
    json_t *body = NULL;
    struct agent_spec_host host = {
        .agent_uuid = p->uuid,
        .host_address = e->host_address != NULL ? e->host_address : e->gateway,
        .time_zone = e->time_zone,
        .local_api_port = e->local_api_port,
    };
    if (agent_spec_body(s, &host, &body, hash) != IOF_OK) {
        fail(p, m, "out of memory building the container specification");
        return;
    }
    if (strcmp(hash, m->hash) != 0) {
        reset_history(m, hash);
    }
    if (m->stuck) {
        json_decref(body); /* left alone; the status was set when it got stuck */
        return;
    }
    if (m->st == ST_FAILED && now < m->retry_at) {
        json_decref(body);
        return;
    }

    if (id != NULL) {
        const char *have =
            json_string_value(json_object_get(json_object_get(ctr, "Labels"), AGENT_LABEL_HASH));
        if (rebuild || have == NULL || strcmp(have, hash) != 0) {
            IOF_INFO(MOD, "container_recreate microservice=%s rebuild=%d", s->uuid, rebuild);
            journal(e,
                    m,
                    "updating",
                    "%s: recreating the container",
                    rebuild ? "rebuild requested" : "descriptor changed");
            set_status(e, m, ST_UPDATING, NULL);
            if (!remove_container(p, m, id)) {
                fail(p, m, "cannot remove the outdated container");
                json_decref(body);
                return;
            }
            id = NULL;
        }
    }
    if (id == NULL) {
        if (s->desired_running) {
            create_and_start(p, m, s, body);
        } else {
            set_status(e, m, ST_STOPPED, NULL);
        }
        json_decref(body);
        return;
    }
    json_decref(body);
    bool running =
        state != NULL && (strcmp(state, "running") == 0 || strcmp(state, "restarting") == 0 ||
                          strcmp(state, "paused") == 0);
    if (!s->desired_running) {
        m->restart_at = 0;
        if (running) {
            set_status(e, m, ST_STOPPING, NULL);
            struct iof_diag d = {{0}};
            iof_err err = agent_docker_stop(p->k, id, e->stop_timeout_s, &d);
            if (err != IOF_OK) {
                fail(p, m, iof_diag_text(&d, err));
                return;
            }
        }
        m->stopped_by_us = true;
        m->inspected_id[0] = '\0';
        set_container(e, m, id);
        if (running) {
            journal(e, m, "stopped", "stopped by request");
        }
        set_status(e, m, ST_STOPPED, NULL);
        return;
    }
    if (running) {
        m->restart_at = 0;
        note_running(p, m, id);
        return;
    }
    set_container(e, m, id);
    m->inspected_id[0] = '\0';
    if (state != NULL && strcmp(state, "created") == 0) {
        m->stopped_by_us = true; /* never started: not a crash */
    }
    handle_exit(p, m, id, now);
}

static json_t *find_container(json_t *list, const char *uuid) {
    size_t i;
    json_t *c;
    json_array_foreach(list, i, c) {
        const char *mu = json_string_value(
            json_object_get(json_object_get(c, "Labels"), AGENT_LABEL_MICROSERVICE));
        if (mu != NULL && strcmp(mu, uuid) == 0) {
            return c;
        }
    }
    return NULL;
}

static bool desired_has(const struct desired *ds, const char *uuid) {
    for (size_t i = 0; ds != NULL && i < ds->nspecs; i++) {
        if (strcmp(ds->specs[i]->uuid, uuid) == 0) {
            return true;
        }
    }
    for (size_t i = 0; ds != NULL && i < ds->nbad; i++) {
        if (strcmp(ds->bad[i].uuid, uuid) == 0) {
            return true;
        }
    }
    return false;
}

static void run_pass(struct pass *p, struct desired *ds) {
    struct agent_engine *e = p->e;
    if (e->host_address == NULL && e->gateway[0] == '\0') {
        struct iof_diag d = {{0}};
        iof_err err = agent_docker_bridge_gateway(p->k, e->gateway, sizeof e->gateway, &d);
        if (err != IOF_OK) {
            log_err("bridge_gateway_unknown", "-", iof_diag_text(&d, err));
        }
    }
    json_t *list = NULL;
    struct iof_diag d = {{0}};
    iof_err err = agent_docker_list(p->k, p->uuid, &list, &d);
    if (err != IOF_OK) {
        char q[300];
        IOF_WARN(
            MOD, "docker_unreachable error=%s", iof_log_quote(q, sizeof q, iof_diag_text(&d, err)));
        return;
    }
    callers_update(e, list);
    pthread_mutex_lock(&e->mu);
    for (size_t i = 0; i < e->ntab; i++) {
        e->tab[i]->seen = false;
    }
    pthread_mutex_unlock(&e->mu);

    for (size_t i = 0; i < ds->nbad; i++) {
        pthread_mutex_lock(&e->mu);
        struct msvc *m = get_locked(e, ds->bad[i].uuid);
        if (m != NULL) {
            m->seen = true;
        }
        pthread_mutex_unlock(&e->mu);
        if (m != NULL) {
            set_status(e, m, ST_FAILED, ds->bad[i].error);
        }
    }
    for (size_t i = 0; i < ds->nspecs && !abort_requested(e); i++) {
        reconcile_one(p, ds->specs[i], find_container(list, ds->specs[i]->uuid));
    }
    /* Our containers nobody wants any more, and duplicates of a microservice. */
    size_t i;
    json_t *c;
    json_array_foreach(list, i, c) {
        const char *mu = json_string_value(
            json_object_get(json_object_get(c, "Labels"), AGENT_LABEL_MICROSERVICE));
        const char *id = json_string_value(json_object_get(c, "Id"));
        if (id == NULL || abort_requested(e)) {
            continue;
        }
        bool wanted = mu != NULL && desired_has(ds, mu) && find_container(list, mu) == c;
        if (!wanted) {
            pthread_mutex_lock(&e->mu);
            struct msvc *m = mu != NULL ? find_locked(e, mu) : NULL;
            pthread_mutex_unlock(&e->mu);
            if (m != NULL) {
                set_status(e, m, ST_DELETING, NULL);
            }
            IOF_INFO(MOD,
                     "container_unwanted microservice=%s container=%.12s",
                     mu != NULL ? mu : "-",
                     id);
            (void)remove_container(p, NULL, id);
        }
    }
    json_decref(list);
    pthread_mutex_lock(&e->mu);
    for (size_t j = 0; j < e->ntab;) {
        struct msvc *m = e->tab[j];
        if (!m->seen && !desired_has(ds, m->uuid)) {
            remove_entry_locked(e, m); /* swaps the last one into j */
        } else {
            j++;
        }
    }
    size_t n = e->ntab;
    struct msvc **run = n > 0 ? malloc(n * sizeof *run) : NULL;
    if (run != NULL) {
        memcpy(run, e->tab, n * sizeof *run);
    }
    pthread_mutex_unlock(&e->mu);
    for (size_t j = 0; run != NULL && j < n; j++) {
        sample_stats(p, run[j]);
    }
    free(run);
}

/* stop_all / remove_all / prune on the reconcile thread (or the caller's when none runs). */
static iof_err
run_command(struct agent_engine *e, struct agent_docker *k, enum command cmd, const char *uuid) {
    struct iof_diag d = {{0}};
    if (cmd == CMD_PRUNE) {
        return prune_pulled(e, k);
    }
    json_t *list = NULL;
    iof_err err = agent_docker_list(k, uuid, &list, &d);
    if (err != IOF_OK) {
        log_err("command_failed", "-", iof_diag_text(&d, err));
        return err;
    }
    iof_err result = IOF_OK;
    size_t i;
    json_t *c;
    json_array_foreach(list, i, c) {
        const char *id = json_string_value(json_object_get(c, "Id"));
        if (id == NULL) {
            continue;
        }
        err = agent_docker_stop(k, id, e->stop_timeout_s, &d);
        if (err == IOF_OK && cmd == CMD_REMOVE_ALL) {
            err = agent_docker_remove(k, id, true, &d);
        }
        if (err != IOF_OK && err != IOF_ENOENT) {
            log_err("command_failed", id, iof_diag_text(&d, err));
            result = err;
        }
    }
    json_decref(list);
    pthread_mutex_lock(&e->mu);
    e->halted = true;
    desired_unref_locked(e->desired);
    e->desired = NULL;
    for (size_t j = 0; j < e->ntab; j++) {
        free(e->tab[j]);
    }
    e->ntab = 0;
    e->change_gen++;
    pthread_mutex_unlock(&e->mu);
    return result;
}

static void wait_until(struct agent_engine *e, int64_t deadline_mono) {
    /* e->mu held */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    int64_t wait = deadline_mono - iof_time_mono_ms();
    if (wait <= 0) {
        return;
    }
    now += wait;
    ts.tv_sec = (time_t)(now / 1000);
    ts.tv_nsec = (long)(now % 1000) * 1000000;
    (void)pthread_cond_timedwait(&e->wake, &e->mu, &ts);
}

static int64_t next_wakeup_locked(struct agent_engine *e, int64_t now) {
    int64_t next = now + PERIOD_MS;
    for (size_t i = 0; i < e->ntab; i++) {
        const struct msvc *m = e->tab[i];
        if (m->restart_at > 0 && m->restart_at < next) {
            next = m->restart_at;
        }
        if (m->st == ST_FAILED && m->retry_at > 0 && m->retry_at < next) {
            next = m->retry_at;
        }
    }
    return next;
}

static void *reconcile_main(void *arg) {
    struct agent_engine *e = arg;
    struct pass p = {.e = e};
    struct iof_diag d = {{0}};
    if (agent_docker_new(e->docker_url, REQUEST_TIMEOUT_MS + e->stop_timeout_s * 1000L, &p.k, &d) !=
            IOF_OK ||
        agent_docker_new(e->docker_url, PULL_TIMEOUT_MS, &p.pull, &d) != IOF_OK) {
        IOF_ERROR(MOD, "engine_failed error=\"%s\"", d.msg);
        agent_docker_free(p.k);
        return NULL;
    }
    int64_t next = 0;
    unsigned reported = 0;
    pthread_mutex_lock(&e->mu);
    while (!e->stopping) {
        if (e->cmd == CMD_NONE && !e->kick && iof_time_mono_ms() < next) {
            wait_until(e, next);
            continue;
        }
        if (e->cmd != CMD_NONE) {
            enum command cmd = e->cmd;
            char uuid[AGENT_UUID_MAX];
            snprintf(uuid, sizeof uuid, "%s", e->agent_uuid);
            pthread_mutex_unlock(&e->mu);
            iof_err r = run_command(e, p.k, cmd, uuid);
            pthread_mutex_lock(&e->mu);
            e->cmd = CMD_NONE;
            e->cmd_result = r;
            e->cmd_done_seq++;
            pthread_cond_broadcast(&e->done);
            continue;
        }
        e->kick = false;
        p.verify_running = e->died;
        e->died = false;
        struct desired *ds = e->desired;
        bool active = ds != NULL && !e->halted && e->agent_uuid[0] != '\0';
        if (active) {
            ds->refs++;
            snprintf(p.uuid, sizeof p.uuid, "%s", e->agent_uuid);
        }
        pthread_mutex_unlock(&e->mu);
        if (active) {
            run_pass(&p, ds);
        }
        pthread_mutex_lock(&e->mu);
        if (active) {
            desired_unref_locked(ds);
        }
        next = next_wakeup_locked(e, iof_time_mono_ms());
        if (e->change_gen != reported && e->on_change != NULL) {
            reported = e->change_gen;
            pthread_mutex_unlock(&e->mu);
            e->on_change(e->ctx);
            pthread_mutex_lock(&e->mu);
        }
    }
    pthread_mutex_unlock(&e->mu);
    agent_docker_free(p.k);
    agent_docker_free(p.pull);
    return NULL;
}

static iof_err command(struct agent_engine *e, enum command cmd) {
    pthread_mutex_lock(&e->mu);
    if (!e->started || e->stopping) {
        char uuid[AGENT_UUID_MAX];
        snprintf(uuid, sizeof uuid, "%s", e->agent_uuid);
        pthread_mutex_unlock(&e->mu);
        struct agent_docker *k = NULL;
        iof_err err = agent_docker_new(e->docker_url, REQUEST_TIMEOUT_MS, &k, NULL);
        if (err == IOF_OK) {
            err = run_command(e, k, cmd, uuid);
            agent_docker_free(k);
        }
        return err;
    }
    int64_t deadline = iof_time_mono_ms() + COMMAND_WAIT_MS;
    while (e->cmd != CMD_NONE && !e->stopping && iof_time_mono_ms() < deadline) {
        pthread_mutex_unlock(&e->mu);
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&e->mu);
    }
    if (e->cmd != CMD_NONE || e->stopping) {
        pthread_mutex_unlock(&e->mu);
        return IOF_EBUSY;
    }
    e->cmd = cmd;
    uint64_t target = e->cmd_done_seq + 1;
    pthread_cond_broadcast(&e->wake);
    iof_err result = IOF_ETIMEOUT;
    while (!e->stopping) {
        if (e->cmd_done_seq >= target) {
            result = e->cmd_result;
            break;
        }
        int64_t left = deadline - iof_time_mono_ms();
        if (left <= 0) {
            break;
        }
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t at = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + (left < 1000 ? left : 1000);
        ts.tv_sec = (time_t)(at / 1000);
        ts.tv_nsec = (long)(at % 1000) * 1000000;
        (void)pthread_cond_timedwait(&e->done, &e->mu, &ts);
    }
    pthread_mutex_unlock(&e->mu);
    return result;
}

iof_err agent_engine_stop_all(struct agent_engine *e) {
    return command(e, CMD_STOP_ALL);
}

iof_err agent_engine_remove_all(struct agent_engine *e) {
    return command(e, CMD_REMOVE_ALL);
}

iof_err agent_engine_prune(struct agent_engine *e) {
    return command(e, CMD_PRUNE);
}

iof_err agent_engine_bridge_gateway(struct agent_engine *e, char *buf, size_t len) {
    struct agent_docker *k = NULL;
    iof_err err = agent_docker_new(e->docker_url, 10000, &k, NULL);
    if (err != IOF_OK) {
        return err;
    }
    struct iof_diag d = {{0}};
    err = agent_docker_bridge_gateway(k, buf, len, &d);
    agent_docker_free(k);
    return err;
}

/* ---- events ------------------------------------------------------------------------------ */

static bool on_event(void *ctx, const json_t *ev) {
    struct agent_engine *e = ctx;
    const char *action = json_string_value(json_object_get(ev, "Action"));
    if (action == NULL) {
        action = json_string_value(json_object_get(ev, "status"));
    }
    bool relevant =
        action != NULL && (strcmp(action, "die") == 0 || strcmp(action, "start") == 0 ||
                           strcmp(action, "stop") == 0 || strcmp(action, "destroy") == 0 ||
                           strcmp(action, "oom") == 0 || strcmp(action, "pause") == 0 ||
                           strcmp(action, "unpause") == 0);
    IOF_DEBUG(MOD, "docker_event action=%s", action != NULL ? action : "-");
    pthread_mutex_lock(&e->mu);
    if (relevant) {
        e->died = e->died || strcmp(action, "die") == 0;
        e->kick = true;
        pthread_cond_broadcast(&e->wake);
    }
    bool go = !e->stopping;
    pthread_mutex_unlock(&e->mu);
    return go;
}

static void fmt_time(int64_t ms, char *buf, size_t size) {
    snprintf(buf, size, "%lld.%03lld000000", (long long)(ms / 1000), (long long)(ms % 1000));
}

static void *events_main(void *arg) {
    struct agent_engine *e = arg;
    struct agent_docker *k = NULL;
    struct iof_diag d = {{0}};
    if (agent_docker_new(e->docker_url, (EVENTS_WINDOW_S + 10) * 1000L, &k, &d) != IOF_OK) {
        IOF_ERROR(MOD, "events_failed error=\"%s\"", d.msg);
        return NULL;
    }
    int64_t since = iof_time_now_ms();
    int64_t retry_ms = 0;
    pthread_mutex_lock(&e->mu);
    while (!e->stopping) {
        if (retry_ms > 0 || e->agent_uuid[0] == '\0') {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            int64_t wait = retry_ms > 0 ? retry_ms : 1000;
            int64_t at = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + wait;
            ts.tv_sec = (time_t)(at / 1000);
            ts.tv_nsec = (long)(at % 1000) * 1000000;
            (void)pthread_cond_timedwait(&e->ev_cv, &e->mu, &ts);
            if (e->agent_uuid[0] == '\0' || e->stopping) {
                continue;
            }
        }
        char uuid[AGENT_UUID_MAX];
        snprintf(uuid, sizeof uuid, "%s", e->agent_uuid);
        pthread_mutex_unlock(&e->mu);

        int64_t now = iof_time_now_ms();
        if (since < now - 60000) {
            since = now - 60000; /* after a long outage the reconcile pass catches up instead */
        }
        int64_t until = now + EVENTS_WINDOW_S * 1000;
        char s_since[40];
        char s_until[40];
        fmt_time(since, s_since, sizeof s_since);
        fmt_time(until, s_until, sizeof s_until);
        iof_err err = agent_docker_events(k, uuid, s_since, s_until, on_event, e, &d);

        pthread_mutex_lock(&e->mu);
        if (err == IOF_OK) {
            since = until;
            retry_ms = 0;
        } else {
            retry_ms = retry_ms == 0 ? 1000
                                     : (retry_ms * 2 > EVENTS_RETRY_CAP_MS ? EVENTS_RETRY_CAP_MS
                                                                           : retry_ms * 2);
            e->kick = true; /* events may have been missed: let the reconcile pass look */
            pthread_cond_broadcast(&e->wake);
            char q[300];
            IOF_DEBUG(MOD,
                      "events_retry in_ms=%lld error=%s",
                      (long long)retry_ms,
                      iof_log_quote(q, sizeof q, iof_diag_text(&d, err)));
        }
    }
    pthread_mutex_unlock(&e->mu);
    agent_docker_free(k);
    return NULL;
}

void agent_engine_events_sent(struct agent_engine *e, const json_t *report) {
    size_t i;
    const json_t *item;
    pthread_mutex_lock(&e->mu);
    json_array_foreach(report, i, item) {
        const json_t *seq = json_object_get(item, "eventsSeq");
        const char *uuid = json_string_value(json_object_get(item, "id"));
        if (!json_is_integer(seq) || uuid == NULL) {
            continue;
        }
        for (size_t k = 0; k < e->ntab; k++) {
            if (strcmp(e->tab[k]->uuid, uuid) == 0) {
                e->tab[k]->event_sent = (uint64_t)json_integer_value(seq);
            }
        }
    }
    pthread_mutex_unlock(&e->mu);
}

void agent_engine_note(struct agent_engine *e,
                       const char *uuid,
                       const char *type,
                       const char *msg) {
    pthread_mutex_lock(&e->mu);
    for (size_t k = 0; k < e->ntab; k++) {
        if (strcmp(e->tab[k]->uuid, uuid) == 0) {
            journal_locked(e->tab[k], type, msg);
        }
    }
    pthread_mutex_unlock(&e->mu);
}

iof_err agent_engine_events_json(struct agent_engine *e, const char *uuid, json_t **out) {
    json_t *evs = json_array();
    if (evs == NULL) {
        return IOF_ENOMEM;
    }
    iof_err err = IOF_ENOENT;
    pthread_mutex_lock(&e->mu);
    for (size_t k = 0; k < e->ntab; k++) {
        const struct msvc *m = e->tab[k];
        if (strcmp(m->uuid, uuid) != 0) {
            continue;
        }
        err = IOF_OK;
        unsigned first = m->nevents > AGENT_ENGINE_EVENTS ? m->nevents - AGENT_ENGINE_EVENTS : 0;
        for (unsigned n = first; n < m->nevents && err == IOF_OK; n++) {
            const struct msvc_event *ev = &m->events[n % AGENT_ENGINE_EVENTS];
            json_t *item = json_pack("{s:I, s:s, s:s, s:I}",
                                     "time",
                                     (json_int_t)ev->ms,
                                     "type",
                                     ev->type,
                                     "message",
                                     ev->msg,
                                     "count",
                                     (json_int_t)ev->count);
            if (item == NULL || json_array_append_new(evs, item) != 0) {
                err = IOF_ENOMEM;
            }
        }
    }
    pthread_mutex_unlock(&e->mu);
    if (err != IOF_OK) {
        json_decref(evs);
        return err;
    }
    *out = evs;
    return IOF_OK;
}

/* ---- Local API callers ----------------------------------------------------------------------- */

/* Rebuilds the caller table from a container list (GET /containers/json of this agent's
 * containers): every running container's addresses on every network, and host-network ones. */
static void callers_update(struct agent_engine *e, json_t *list) {
    size_t cap = 0, n = 0;
    struct agent_engine_caller *tab = NULL;
    size_t i;
    json_t *c;
    json_array_foreach(list, i, c) {
        const char *uuid = json_string_value(
            json_object_get(json_object_get(c, "Labels"), AGENT_LABEL_MICROSERVICE));
        const char *state = json_string_value(json_object_get(c, "State"));
        if (uuid == NULL || strlen(uuid) >= AGENT_UUID_MAX || state == NULL ||
            strcmp(state, "running") != 0) {
            continue;
        }
        const char *mode =
            json_string_value(json_object_get(json_object_get(c, "HostConfig"), "NetworkMode"));
        bool host = mode != NULL && strcmp(mode, "host") == 0;
        json_t *nets = json_object_get(json_object_get(c, "NetworkSettings"), "Networks");
        size_t want = host ? 1 : 2 * json_object_size(nets);
        if (n + want > cap) {
            size_t ncap = (n + want) * 2 + 4;
            struct agent_engine_caller *t = realloc(tab, ncap * sizeof *t);
            if (t == NULL) {
                free(tab);
                return; /* out of memory: keep the old table */
            }
            tab = t;
            cap = ncap;
        }
        if (host) {
            struct agent_engine_caller *x = &tab[n++];
            memset(x, 0, sizeof *x);
            memcpy(x->uuid, uuid, strlen(uuid) + 1);
            x->host_network = true;
            continue;
        }
        const char *name;
        json_t *net;
        json_object_foreach(nets, name, net) {
            const char *addrs[] = {
                json_string_value(json_object_get(net, "IPAddress")),
                json_string_value(json_object_get(net, "GlobalIPv6Address")),
            };
            for (size_t k = 0; k < 2; k++) {
                if (addrs[k] == NULL || addrs[k][0] == '\0' || strlen(addrs[k]) >= 48) {
                    continue;
                }
                if (n == cap) {
                    break; /* cap covers one address per network; a second one waits */
                }
                struct agent_engine_caller *x = &tab[n++];
                memset(x, 0, sizeof *x);
                memcpy(x->uuid, uuid, strlen(uuid) + 1);
                memcpy(x->addr, addrs[k], strlen(addrs[k]) + 1);
            }
        }
    }
    pthread_mutex_lock(&e->mu);
    free(e->callers);
    e->callers = tab;
    e->ncallers = n;
    e->callers_ms = iof_time_mono_ms();
    pthread_mutex_unlock(&e->mu);
}

static bool caller_find_locked(struct agent_engine *e, const char *addr, char *uuid, size_t len) {
    for (size_t i = 0; i < e->ncallers; i++) {
        if (!e->callers[i].host_network && strcmp(e->callers[i].addr, addr) == 0) {
            (void)snprintf(uuid, len, "%s", e->callers[i].uuid);
            return true;
        }
    }
    return false;
}

iof_err agent_engine_caller(struct agent_engine *e, const char *addr, char *uuid, size_t len) {
    pthread_mutex_lock(&e->mu);
    bool found = caller_find_locked(e, addr, uuid, len);
    /* A container that has just started may call before the next pass saw it: ask Docker once,
     * at most every CALLER_REFRESH_MS whatever the number of unknown callers. */
    bool refresh = !found && iof_time_mono_ms() - e->callers_ms >= CALLER_REFRESH_MS;
    char agent[AGENT_UUID_MAX];
    memcpy(agent, e->agent_uuid, sizeof agent);
    if (refresh) {
        e->callers_ms = iof_time_mono_ms();
    }
    pthread_mutex_unlock(&e->mu);
    if (found || !refresh) {
        return found ? IOF_OK : IOF_ENOENT;
    }
    struct agent_docker *k = NULL;
    json_t *list = NULL;
    struct iof_diag d = {{0}};
    if (agent_docker_new(e->docker_url, CALLER_DOCKER_TIMEOUT_MS, &k, &d) == IOF_OK &&
        agent_docker_list(k, agent, &list, &d) == IOF_OK) {
        callers_update(e, list);
    }
    json_decref(list);
    agent_docker_free(k);
    pthread_mutex_lock(&e->mu);
    found = caller_find_locked(e, addr, uuid, len);
    pthread_mutex_unlock(&e->mu);
    return found ? IOF_OK : IOF_ENOENT;
}

bool agent_engine_host_network(struct agent_engine *e, const char *uuid) {
    bool host = false;
    pthread_mutex_lock(&e->mu);
    for (size_t i = 0; i < e->ncallers && !host; i++) {
        host = e->callers[i].host_network && strcmp(e->callers[i].uuid, uuid) == 0;
    }
    pthread_mutex_unlock(&e->mu);
    return host;
}
