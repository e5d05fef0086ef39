/* The liveness job. */
#include "controller/domain/liveness.h"

#include "common/clock.h"
#include "common/log.h"
#include "controller/domain/snapshot.h"
#include "controller/store/db_json.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct ctl_liveness {
    struct ctl_server *srv;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool stopping;
};

static const char SQL_STALE[] = "UPDATE fogs SET daemon_status = 'UNKNOWN'"
                                " WHERE daemon_status = 'RUNNING' AND (last_active IS NULL"
                                " OR last_active < ? - status_frequency * 3000) RETURNING uuid";
static const char SQL_MSVC_UNKNOWN[] =
    "UPDATE microservice_statuses SET status = 'UNKNOWN', updated_at = ?"
    " WHERE microservice_uuid IN (SELECT uuid FROM microservices WHERE fog_uuid = ?)";
static const char SQL_MSVC_PURGE[] =
    "DELETE FROM microservices WHERE fog_uuid = ? AND marked_for_delete = 1";

iof_err ctl_liveness_check(struct ctl_server *srv, int64_t *changed, struct iof_diag *d) {
    struct ctl_db *db = ctl_store_db(srv->store);
    bool leader = false;
    iof_err err = ctl_db_try_lead(db, CTL_LIVENESS_LOCK_KEY, &leader, d);
    if (err != IOF_OK) {
        return err;
    }
    if (!leader) {
        if (changed != NULL) {
            *changed = -1;
        }
        return IOF_OK; /* another Controller on the database runs the job */
    }
    int64_t now = iof_time_now_ms();
    err = ctl_db_begin(db, d);
    if (err != IOF_OK) {
        return err;
    }
    json_t *stale = NULL;
    const struct ctl_db_value p[] = {CTL_DB_INT(now)};
    err = ctl_db_query_json(db, SQL_STALE, p, 1, &stale, d);
    size_t i;
    json_t *row;
    json_array_foreach(stale, i, row) {
        const char *uuid = json_string_value(json_object_get(row, "uuid"));
        const struct ctl_db_value q[] = {CTL_DB_INT(now), CTL_DB_TEXT(uuid)};
        const struct ctl_db_value r[] = {CTL_DB_TEXT(uuid)};
        if (err == IOF_OK) {
            err = ctl_db_exec(db, SQL_MSVC_UNKNOWN, q, 2, NULL, NULL, NULL, d);
        }
        if (err == IOF_OK) {
            err = ctl_db_exec(db, SQL_MSVC_PURGE, r, 1, NULL, NULL, NULL, d);
        }
        if (err == IOF_OK) {
            IOF_INFO("controller", "node_unknown fog=%s reason=silent", uuid);
        }
    }
    size_t n = json_array_size(stale);
    json_decref(stale);
    if (err != IOF_OK) {
        ctl_db_abort(db);
        return err;
    }
    err = ctl_db_commit(db, d);
    if (err == IOF_OK && changed != NULL) {
        *changed = (int64_t)n;
    }
    return err;
}

static void *run(void *arg) {
    struct ctl_liveness *l = arg;
    bool leading = false; /* for the log line on each change of leadership */
    pthread_mutex_lock(&l->mu);
    while (!l->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t ms = l->srv->cfg.liveness_interval_ms;
        ts.tv_sec += (time_t)(ms / 1000);
        ts.tv_nsec += (long)(ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        (void)pthread_cond_timedwait(&l->cond, &l->mu, &ts);
        if (l->stopping) {
            break;
        }
        pthread_mutex_unlock(&l->mu);
        struct iof_diag d = {{0}};
        int64_t changed = 0;
        iof_err err = ctl_liveness_check(l->srv, &changed, &d);
        if (err != IOF_OK) {
            IOF_WARN("controller", "liveness_check_failed error=%s", iof_diag_text(&d, err));
        } else if ((changed >= 0) != leading) {
            /* Operators (and the scale-out fault test) see which replica runs the job. */
            leading = changed >= 0;
            IOF_INFO("controller", "liveness_leader state=%s", leading ? "acquired" : "released");
        }
        /* Microservices also go with their application, node or user: their snapshot files are
         * collected here rather than at each of those places. */
        iof_diag_clear(&d);
        err = ctl_snapshot_sweep(l->srv, NULL, &d);
        if (err != IOF_OK) {
            IOF_WARN("controller", "snapshot_sweep_failed error=%s", iof_diag_text(&d, err));
        }
        pthread_mutex_lock(&l->mu);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

iof_err ctl_liveness_start(struct ctl_server *srv, struct ctl_liveness **out) {
    struct ctl_liveness *l = calloc(1, sizeof *l);
    if (l == NULL) {
        return IOF_ENOMEM;
    }
    l->srv = srv;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&l->thread, NULL, run, l) != 0) {
        pthread_cond_destroy(&l->cond);
        pthread_mutex_destroy(&l->mu);
        free(l);
        return IOF_ENOMEM;
    }
    *out = l;
    return IOF_OK;
}

void ctl_liveness_stop(struct ctl_liveness *l) {
    if (l == NULL) {
        return;
    }
    pthread_mutex_lock(&l->mu);
    l->stopping = true;
    pthread_cond_broadcast(&l->cond);
    pthread_mutex_unlock(&l->mu);
    pthread_join(l->thread, NULL);
    pthread_cond_destroy(&l->cond);
    pthread_mutex_destroy(&l->mu);
    free(l);
}
