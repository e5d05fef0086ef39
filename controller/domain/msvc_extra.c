/* The per-microservice sub-resources of controller.md §3.8: port and volume mappings, lifecycle
 * (start/stop/restart, spec README "Lifecycle"), strace and image-snapshot requests. Each change
 * runs in one transaction and raises the flags the agent needs. */
#include "controller/domain/msvc_internal.h"

#include "common/clock.h"

#include <string.h>

typedef iof_err (*ref_op)(struct ctl_call *call, const struct ctl_msvc_ref *ref, void *arg);

/* Finds the microservice, runs op on it inside a transaction. */
static iof_err with_msvc(struct ctl_call *call, const char *uuid, ref_op op, void *arg) {
    bool owned = false;
    iof_err err = ctl_msvc_tx_begin(call, &owned);
    if (err != IOF_OK) {
        return err;
    }
    struct ctl_msvc_ref ref = {0};
    err = ctl_msvc_find(call, uuid, &ref);
    if (err == IOF_OK) {
        err = op(call, &ref, arg);
    }
    ctl_msvc_ref_clear(&ref);
    return ctl_msvc_tx_end(call, owned, err);
}

/* The container must be recreated: rebuild, and tell its node. */
static iof_err mark_rebuild(struct ctl_call *call, const struct ctl_msvc_ref *ref) {
    const struct ctl_db_value p[] = {CTL_DB_INT(iof_time_now_ms()), CTL_DB_TEXT(ref->uuid)};
    iof_err err = ctl_msvc_exec(
        call, "UPDATE microservices SET rebuild = 1, updated_at = ? WHERE uuid = ?", p, 2, NULL);
    return err != IOF_OK ? err : ctl_msvc_raise(call, ref->fog, CTL_MSVC_FLAGS_COMMON);
}

static iof_err port_add_op(struct ctl_call *call, const struct ctl_msvc_ref *ref, void *arg) {
    iof_err err = ctl_msvc_port_insert(call, ref->uuid, ref->user_id, arg, 0);
    if (err == IOF_OK) {
        err = ctl_msvc_check_ports(call, ref->uuid);
    }
    return err != IOF_OK ? err : mark_rebuild(call, ref);
}

iof_err ctl_msvc_port_add(struct ctl_call *call, const char *uuid, const json_t *body) {
    return with_msvc(call, uuid, port_add_op, (void *)(uintptr_t)body);
}

struct port_key {
    int64_t internal;
    const char *protocol;
};

static iof_err port_remove_op(struct ctl_call *call, const struct ctl_msvc_ref *ref, void *arg) {
    const struct port_key *k = arg;
    const struct ctl_db_value p[] = {CTL_DB_TEXT(ref->uuid),
                                     CTL_DB_INT(k->internal),
                                     CTL_DB_TEXT(k->protocol),
                                     CTL_DB_TEXT(k->protocol)};
    int64_t n = 0;
    iof_err err =
        ctl_msvc_exec(call,
                      "DELETE FROM microservice_ports WHERE microservice_uuid = ?"
                      " AND port_internal = ? AND (CAST(? AS TEXT) IS NULL OR protocol = ?)",
                      p,
                      4,
                      &n);
    if (err == IOF_OK && n == 0) {
        return iof_fail(call->d,
                        IOF_ENOENT,
                        "Port mapping for internal port %lld not found",
                        (long long)k->internal);
    }
    return err != IOF_OK ? err : mark_rebuild(call, ref);
}

iof_err ctl_msvc_port_remove(struct ctl_call *call,
                             const char *uuid,
                             int64_t internal,
                             const char *protocol) {
    struct port_key k = {internal, protocol};
    return with_msvc(call, uuid, port_remove_op, &k);
}

struct volume_arg {
    const json_t *body;
    int64_t id;
};

static iof_err volume_add_op(struct ctl_call *call, const struct ctl_msvc_ref *ref, void *arg) {
    struct volume_arg *v = arg;
    iof_err err = ctl_msvc_volume_insert(call, ref->uuid, v->body, 0, &v->id);
    return err != IOF_OK ? err : mark_rebuild(call, ref);
}

iof_err
ctl_msvc_volume_add(struct ctl_call *call, const char *uuid, const json_t *body, int64_t *id_out) {
    struct volume_arg v = {body, 0};
    iof_err err = with_msvc(call, uuid, volume_add_op, &v);
    if (err == IOF_OK) {
        *id_out = v.id;
    }
    return err;
}

static iof_err volume_remove_op(struct ctl_call *call, const struct ctl_msvc_ref *ref, void *arg) {
    const int64_t *id = arg;
    const struct ctl_db_value p[] = {CTL_DB_INT(*id), CTL_DB_TEXT(ref->uuid)};
    int64_t n = 0;
    iof_err err = ctl_msvc_exec(
        call, "DELETE FROM volume_mappings WHERE id = ? AND microservice_uuid = ?", p, 2, &n);
    if (err == IOF_OK && n == 0) {
        return iof_fail(call->d, IOF_ENOENT, "Volume mapping %lld not found", (long long)*id);
    }
    return err != IOF_OK ? err : mark_rebuild(call, ref);
}

iof_err ctl_msvc_volume_remove(struct ctl_call *call, const char *uuid, int64_t id) {
    return with_msvc(call, uuid, volume_remove_op, &id);
}

static iof_err lifecycle_op(struct ctl_call *call, const struct ctl_msvc_ref *ref, void *arg) {
    const char *action = arg;
    bool stop = strcmp(action, "stop") == 0;
    bool restart = strcmp(action, "restart") == 0;
    if (ref->system && !call->admin) {
        return iof_fail(call->d, IOF_EINVAL, "System microservices cannot be %sed", action);
    }
    const struct ctl_db_value p[] = {CTL_DB_TEXT(stop ? "STOPPED" : "RUNNING"),
                                     CTL_DB_BOOL(restart),
                                     CTL_DB_INT(iof_time_now_ms()),
                                     CTL_DB_TEXT(ref->uuid)};
    iof_err err = ctl_msvc_exec(call,
                                "UPDATE microservices SET desired_state = ?,"
                                " rebuild = CASE WHEN ? = 1 THEN 1 ELSE rebuild END,"
                                " updated_at = ? WHERE uuid = ?",
                                p,
                                4,
                                NULL);
    return err != IOF_OK ? err : ctl_msvc_raise(call, ref->fog, CTL_MSVC_FLAGS_COMMON);
}

iof_err ctl_msvc_lifecycle(struct ctl_call *call, const char *uuid, const char *action) {
    if (strcmp(action, "start") != 0 && strcmp(action, "stop") != 0 &&
        strcmp(action, "restart") != 0) {
        return iof_fail(call->d, IOF_EINVAL, "Unknown lifecycle action '%s'", action);
    }
    return with_msvc(call, uuid, lifecycle_op, (void *)(uintptr_t)action);
}

static iof_err strace_op(struct ctl_call *call, const struct ctl_msvc_ref *ref, void *arg) {
    const bool *enable = arg;
    const struct ctl_db_value p[] = {CTL_DB_TEXT(ref->uuid), CTL_DB_BOOL(*enable)};
    iof_err err = ctl_msvc_exec(call,
                                "INSERT INTO strace_diagnostics (microservice_uuid, strace_run)"
                                " VALUES (?, ?) ON CONFLICT (microservice_uuid)"
                                " DO UPDATE SET strace_run = excluded.strace_run",
                                p,
                                2,
                                NULL);
    return err != IOF_OK ? err : ctl_msvc_raise(call, ref->fog, CTL_FLAG_DIAGNOSTICS);
}

iof_err ctl_msvc_strace_set(struct ctl_call *call, const char *uuid, bool enable) {
    return with_msvc(call, uuid, strace_op, &enable);
}

static iof_err snapshot_op(struct ctl_call *call, const struct ctl_msvc_ref *ref, void *arg) {
    (void)arg;
    if (ref->fog == NULL) {
        return iof_fail(call->d,
                        IOF_EINVAL,
                        "Microservice '%s' is not placed on a node: no image to snapshot",
                        ref->name);
    }
    const struct ctl_db_value p[] = {CTL_DB_TEXT(ref->uuid)};
    iof_err err = ctl_msvc_exec(
        call, "UPDATE microservices SET image_snapshot = 'get_image' WHERE uuid = ?", p, 1, NULL);
    return err != IOF_OK ? err : ctl_msvc_raise(call, ref->fog, CTL_FLAG_IMAGE_SNAPSHOT);
}

iof_err ctl_msvc_snapshot_request(struct ctl_call *call, const char *uuid) {
    return with_msvc(call, uuid, snapshot_op, NULL);
}
