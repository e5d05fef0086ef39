/* Change flags, and waking the nodes' long-polls once the flags are visible: at once for a raise
 * outside a transaction, after the commit for a raise inside one (a rollback forgets them). The
 * nodes raised inside the open transaction are remembered per thread. */
#include "controller/domain/changes.h"
#include "controller/domain/logs.h"

#include "controller/domain/agent_wait.h"
#include "controller/domain/nats_auth.h"
#include "controller/store/db_json.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#define PENDING_MAX 64

static _Thread_local struct {
    char uuids[PENDING_MAX][40];
    size_t n;
    bool overflow; /* more nodes than fit: wake every held request */
} pending;

static void remember(const char *fog_uuid) {
    for (size_t i = 0; i < pending.n; i++) {
        if (strcmp(pending.uuids[i], fog_uuid) == 0) {
            return;
        }
    }
    if (pending.n == PENDING_MAX || strlen(fog_uuid) >= sizeof pending.uuids[0]) {
        pending.overflow = true;
        return;
    }
    memcpy(pending.uuids[pending.n++], fog_uuid, strlen(fog_uuid) + 1);
}

void ctl_changes_tx_hook(void *ctx, bool committed) {
    struct ctl_server *srv = ctx;
    if (committed && (pending.n > 0 || pending.overflow)) {
        /* Routes or placements may have changed: nats-server's permissions follow. */
        ctl_nats_auth_kick(srv->nats_auth);
    }
    if (committed && srv->waits != NULL) {
        if (pending.overflow) {
            ctl_agent_wait_wake_all(srv->waits);
        } else {
            for (size_t i = 0; i < pending.n; i++) {
                ctl_agent_wait_wake(srv->waits, pending.uuids[i]);
            }
        }
    }
    pending.n = 0;
    pending.overflow = false;
}

iof_err
ctl_changes_raise(struct ctl_server *srv, const char *fog_uuid, uint32_t mask, struct iof_diag *d) {
    if (fog_uuid == NULL || *fog_uuid == '\0' || mask == 0) {
        return IOF_OK; /* nothing placed, nothing to tell */
    }
    iof_err err = ctl_store_flags_raise(srv->store, fog_uuid, mask, NULL, d);
    struct ctl_db *db = ctl_store_db(srv->store);
    if (err == IOF_OK && ctl_db_shared(db)) {
        err = ctl_db_notify(db, CTL_CHANGES_CHANNEL, fog_uuid, d);
    }
    if (err != IOF_OK) {
        return err;
    }
    if (ctl_db_in_tx(db)) {
        remember(fog_uuid);
    } else {
        ctl_nats_auth_kick(srv->nats_auth);
        if (srv->waits != NULL) {
            ctl_agent_wait_wake(srv->waits, fog_uuid);
        }
    }
    return IOF_OK;
}

/* A raise by another Controller (payload = node uuid), or NULL: some may have been missed. */
static void on_remote_change(void *ctx, const char *payload) {
    struct ctl_server *srv = ctx;
    ctl_nats_auth_kick(srv->nats_auth);
    if (srv->waits == NULL) {
        return;
    }
    if (payload == NULL) {
        ctl_agent_wait_wake_all(srv->waits);
    } else {
        ctl_agent_wait_wake(srv->waits, payload);
    }
}

iof_err ctl_changes_listen(struct ctl_server *srv, struct iof_diag *d) {
    return ctl_db_listen(ctl_store_db(srv->store),
                         CTL_CHANGES_CHANNEL,
                         on_remote_change,
                         srv,
                         &srv->changes_listener,
                         d);
}

iof_err ctl_changes_raise_user_nodes(struct ctl_server *srv,
                                     int64_t user_id,
                                     uint32_t mask,
                                     struct iof_diag *d) {
    json_t *rows = NULL;
    const struct ctl_db_value p[] = {CTL_DB_INT(user_id)};
    iof_err err = ctl_db_query_json(
        ctl_store_db(srv->store), "SELECT uuid FROM fogs WHERE user_id = ?", p, 1, &rows, d);
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) {
        if (err == IOF_OK) {
            err = ctl_changes_raise(srv, json_string_value(json_object_get(row, "uuid")), mask, d);
        }
    }
    json_decref(rows);
    return err;
}

json_t *ctl_changes_json(struct ctl_server *srv, const char *fog_uuid, struct iof_diag *d) {
    uint32_t mask = 0;
    int64_t version = 0;
    if (ctl_store_flags_get(srv->store, fog_uuid, &mask, &version, d) != IOF_OK) {
        return NULL;
    }
    json_t *obj = json_object();
    for (unsigned i = 0; obj != NULL && i < CTL_FLAG_COUNT; i++) {
        if (json_object_set_new(obj, ctl_store_flag_key(i), json_boolean(mask & (1u << i))) != 0) {
            json_decref(obj);
            return NULL;
        }
    }
    /* Not a stored flag: log streams waiting for this node, in this Controller's memory. */
    if (obj != NULL && srv->logs != NULL && ctl_logs_pending(srv->logs, fog_uuid) &&
        json_object_set_new(obj, "logs", json_true()) != 0) {
        json_decref(obj);
        return NULL;
    }
    char text[24];
    (void)snprintf(text, sizeof text, "%lld", (long long)version);
    if (obj != NULL && json_object_set_new(obj, "lastUpdated", json_string(text)) != 0) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}
