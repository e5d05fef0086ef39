/* ioMessage routes between two microservices of one application (controller.md §3.9): create,
 * change and delete, with the routing flags on the nodes of both ends. Unlike the classic
 * Controller we do not set `rebuild` on the two microservices: a route lives in the agent's
 * message bus, not in the container, so recreating containers for it is needless. */
#include "controller/domain/msvc_internal.h"

#include "common/clock.h"
#include "common/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct ctl_db *db_of(struct ctl_call *call) {
    return ctl_store_db(call->srv->store);
}

/* Inside a transaction: the route from src to dst (found and owned already). */
static iof_err route_add(struct ctl_call *call,
                         const char *name,
                         const struct ctl_msvc_ref *src,
                         const struct ctl_msvc_ref *dst) {
    /* A route from a microservice to itself is accepted, as classic does: the Agent hands the
     * microservice its own messages (one delivery each, nothing is republished). */
    if (src->app_id == 0 || src->app_id != dst->app_id) {
        return iof_fail(call->d, IOF_EINVAL, "microservices on different applications");
    }
    char *made = NULL;
    if (name == NULL) {
        size_t n = strlen(src->name) + strlen(dst->name) + 4;
        made = malloc(n);
        if (made == NULL) {
            return iof_fail(call->d, IOF_ENOMEM, "out of memory");
        }
        (void)snprintf(made, n, "r-%s-%s", src->name, dst->name);
        name = made;
    }
    iof_err err = ctl_name_check("name", name, call->d);
    json_t *rows = NULL;
    const struct ctl_db_value pair[] = {CTL_DB_TEXT(src->uuid), CTL_DB_TEXT(dst->uuid)};
    if (err == IOF_OK) {
        err = ctl_db_query_json(db_of(call),
                                "SELECT name FROM routings WHERE source_microservice_uuid = ?"
                                " AND dest_microservice_uuid = ?",
                                pair,
                                2,
                                &rows,
                                call->d);
    }
    if (err == IOF_OK && json_array_size(rows) > 0) {
        err = iof_fail(call->d, IOF_EEXIST, "route already exists"); /* classic's texts */
    }
    json_decref(rows);
    int64_t now = iof_time_now_ms();
    if (err == IOF_OK) {
        const struct ctl_db_value p[] = {CTL_DB_TEXT(name),
                                         CTL_DB_INT(src->app_id),
                                         CTL_DB_TEXT(src->uuid),
                                         CTL_DB_TEXT(dst->uuid),
                                         CTL_DB_INT(now),
                                         CTL_DB_INT(now)};
        err = ctl_msvc_exec(call,
                            "INSERT INTO routings (name, application_id,"
                            " source_microservice_uuid, dest_microservice_uuid, created_at,"
                            " updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                            p,
                            6,
                            NULL);
        if (err == IOF_EEXIST) {
            err =
                iof_fail(call->d, IOF_EEXIST, "Route '%s' exists already in the application", name);
        }
    }
    if (err == IOF_OK) {
        err = ctl_msvc_raise(call, src->fog, CTL_MSVC_FLAGS_FULL);
    }
    if (err == IOF_OK) {
        err = ctl_msvc_raise(call, dst->fog, CTL_MSVC_FLAGS_FULL);
    }
    free(made);
    return err;
}

static iof_err add_uuids_in_tx(struct ctl_call *call,
                               const char *name,
                               const char *src_uuid,
                               const char *dst_uuid) {
    struct ctl_msvc_ref src = {0}, dst = {0};
    iof_err err = ctl_msvc_find(call, src_uuid, &src);
    if (err == IOF_OK) {
        err = ctl_msvc_find(call, dst_uuid, &dst);
    }
    if (err == IOF_OK) {
        err = route_add(call, name, &src, &dst);
    }
    ctl_msvc_ref_clear(&src);
    ctl_msvc_ref_clear(&dst);
    return err;
}

iof_err ctl_route_create_uuids(struct ctl_call *call,
                               const char *name,
                               const char *src_uuid,
                               const char *dst_uuid) {
    bool owned = false;
    iof_err err = ctl_msvc_tx_begin(call, &owned);
    if (err != IOF_OK) {
        return err;
    }
    return ctl_msvc_tx_end(call, owned, add_uuids_in_tx(call, name, src_uuid, dst_uuid));
}

/* The uuid of the microservice called name in application app_id (no ownership check: the
 * application was checked). */
static iof_err uuid_by_name(
    struct ctl_call *call, int64_t app_id, const char *name, const char *field, json_t **row) {
    if (name == NULL) {
        return iof_fail(call->d, IOF_EINVAL, "Required field '%s' is missing", field);
    }
    char msg[200];
    (void)snprintf(msg, sizeof msg, "Invalid microservice name '%.150s'", name);
    const struct ctl_db_value p[] = {CTL_DB_INT(app_id), CTL_DB_TEXT(name)};
    return ctl_db_query_json_one(db_of(call),
                                 "SELECT uuid FROM microservices WHERE application_id = ?"
                                 " AND name = ? AND marked_for_delete = 0",
                                 p,
                                 2,
                                 msg,
                                 row,
                                 call->d);
}

static iof_err add_names_in_tx(
    struct ctl_call *call, int64_t app_id, const char *name, const char *from, const char *to) {
    json_t *app = NULL, *a = NULL, *b = NULL;
    iof_err err = ctl_msvc_app_by_id(call, app_id, &app);
    json_decref(app);
    if (err == IOF_OK) {
        err = uuid_by_name(call, app_id, from, "from", &a);
    }
    if (err == IOF_OK) {
        err = uuid_by_name(call, app_id, to, "to", &b);
    }
    if (err == IOF_OK) {
        err = add_uuids_in_tx(call,
                              name,
                              json_string_value(json_object_get(a, "uuid")),
                              json_string_value(json_object_get(b, "uuid")));
    }
    json_decref(a);
    json_decref(b);
    return err;
}

iof_err ctl_route_create(struct ctl_call *call,
                         int64_t application_id,
                         const char *name,
                         const char *from_name,
                         const char *to_name) {
    bool owned = false;
    iof_err err = ctl_msvc_tx_begin(call, &owned);
    if (err != IOF_OK) {
        return err;
    }
    return ctl_msvc_tx_end(
        call, owned, add_names_in_tx(call, application_id, name, from_name, to_name));
}

/* Inside a transaction: deletes the route row (given as {id, src, dst} fogs) and raises flags. */
static iof_err remove_row(struct ctl_call *call, const json_t *route) {
    const struct ctl_db_value p[] = {CTL_DB_INT(ctl_msvc_jint(route, "id"))};
    iof_err err = ctl_msvc_exec(call, "DELETE FROM routings WHERE id = ?", p, 1, NULL);
    if (err == IOF_OK) {
        err = ctl_msvc_raise(
            call, json_string_value(json_object_get(route, "srcFog")), CTL_MSVC_FLAGS_FULL);
    }
    if (err == IOF_OK) {
        err = ctl_msvc_raise(
            call, json_string_value(json_object_get(route, "dstFog")), CTL_MSVC_FLAGS_FULL);
    }
    return err;
}

#define ROUTE_SELECT                                                                               \
    "SELECT r.id, r.name, r.application_id AS app, s.uuid AS src, s.name AS \"srcName\","          \
    " s.fog_uuid AS \"srcFog\", t.uuid AS dst, t.name AS \"dstName\", t.fog_uuid AS \"dstFog\""    \
    " FROM routings r JOIN microservices s ON s.uuid = r.source_microservice_uuid"                 \
    " JOIN microservices t ON t.uuid = r.dest_microservice_uuid"                                   \
    " JOIN applications a ON a.id = r.application_id"

/* The route name of the caller's application app_id. */
static iof_err find_route(struct ctl_call *call, int64_t app_id, const char *name, json_t **out) {
    json_t *app = NULL;
    iof_err err = ctl_msvc_app_by_id(call, app_id, &app);
    json_decref(app);
    if (err != IOF_OK) {
        return err;
    }
    char msg[200];
    (void)snprintf(msg, sizeof msg, "Invalid route name '%.150s'", name != NULL ? name : "");
    const struct ctl_db_value p[] = {CTL_DB_INT(app_id), CTL_DB_TEXT(name != NULL ? name : "")};
    return ctl_db_query_json_one(db_of(call),
                                 ROUTE_SELECT " WHERE r.application_id = ? AND r.name = ?",
                                 p,
                                 2,
                                 msg,
                                 out,
                                 call->d);
}

static iof_err delete_in_tx(struct ctl_call *call, int64_t app_id, const char *name) {
    json_t *route = NULL;
    iof_err err = find_route(call, app_id, name, &route);
    if (err == IOF_OK) {
        err = remove_row(call, route);
    }
    json_decref(route);
    return err;
}

iof_err ctl_route_delete(struct ctl_call *call, int64_t application_id, const char *name) {
    bool owned = false;
    iof_err err = ctl_msvc_tx_begin(call, &owned);
    if (err != IOF_OK) {
        return err;
    }
    return ctl_msvc_tx_end(call, owned, delete_in_tx(call, application_id, name));
}

static iof_err delete_pair_in_tx(struct ctl_call *call, const char *src, const char *dst) {
    struct ctl_msvc_ref a = {0}, b = {0};
    json_t *route = NULL;
    iof_err err = ctl_msvc_find(call, src, &a);
    if (err == IOF_OK) {
        err = ctl_msvc_find(call, dst, &b);
    }
    if (err == IOF_OK) {
        const struct ctl_db_value p[] = {CTL_DB_TEXT(a.uuid), CTL_DB_TEXT(b.uuid)};
        err = ctl_db_query_json_one(db_of(call),
                                    ROUTE_SELECT " WHERE r.source_microservice_uuid = ?"
                                                 " AND r.dest_microservice_uuid = ?",
                                    p,
                                    2,
                                    "There is no route between these microservices",
                                    &route,
                                    call->d);
    }
    if (err == IOF_OK) {
        err = remove_row(call, route);
    }
    json_decref(route);
    ctl_msvc_ref_clear(&a);
    ctl_msvc_ref_clear(&b);
    return err;
}

iof_err ctl_route_delete_uuids(struct ctl_call *call, const char *src_uuid, const char *dst_uuid) {
    bool owned = false;
    iof_err err = ctl_msvc_tx_begin(call, &owned);
    if (err != IOF_OK) {
        return err;
    }
    return ctl_msvc_tx_end(call, owned, delete_pair_in_tx(call, src_uuid, dst_uuid));
}

/* An end of the route in an update body: by uuid key, else by name key, else the old one. */
static iof_err end_uuid(struct ctl_call *call,
                        int64_t app_id,
                        const json_t *body,
                        const char *uuid_key,
                        const char *name_key,
                        const char *old,
                        json_t **hold,
                        const char **out) {
    const char *v = NULL;
    iof_err err = iof_json_get_string(body, uuid_key, IOF_JSON_OPTIONAL, &v, call->d);
    if (err != IOF_OK || v != NULL) {
        *out = v;
        return err;
    }
    if ((err = iof_json_get_string(body, name_key, IOF_JSON_OPTIONAL, &v, call->d)) != IOF_OK) {
        return err;
    }
    if (v == NULL) {
        *out = old;
        return IOF_OK;
    }
    if ((err = uuid_by_name(call, app_id, v, name_key, hold)) == IOF_OK) {
        *out = json_string_value(json_object_get(*hold, "uuid"));
    }
    return err;
}

static iof_err
update_in_tx(struct ctl_call *call, int64_t app_id, const char *name, const json_t *body) {
    json_t *route = NULL, *ha = NULL, *hb = NULL;
    const char *new_name = NULL, *src = NULL, *dst = NULL;
    iof_err err = find_route(call, app_id, name, &route);
    if (err == IOF_OK) {
        err = iof_json_get_string(body, "name", IOF_JSON_OPTIONAL, &new_name, call->d);
    }
    if (err == IOF_OK) {
        err = end_uuid(call,
                       app_id,
                       body,
                       "sourceMicroserviceUuid",
                       "from",
                       json_string_value(json_object_get(route, "src")),
                       &ha,
                       &src);
    }
    if (err == IOF_OK) {
        err = end_uuid(call,
                       app_id,
                       body,
                       "destMicroserviceUuid",
                       "to",
                       json_string_value(json_object_get(route, "dst")),
                       &hb,
                       &dst);
    }
    /* Replace the row: the old ends and the new ends all get the flags. */
    if (err == IOF_OK) {
        err = remove_row(call, route);
    }
    if (err == IOF_OK) {
        err = add_uuids_in_tx(call,
                              new_name != NULL ? new_name
                                               : json_string_value(json_object_get(route, "name")),
                              src,
                              dst);
    }
    json_decref(route);
    json_decref(ha);
    json_decref(hb);
    return err;
}

iof_err ctl_route_update(struct ctl_call *call,
                         int64_t application_id,
                         const char *name,
                         const json_t *body) {
    bool owned = false;
    iof_err err = ctl_msvc_tx_begin(call, &owned);
    if (err != IOF_OK) {
        return err;
    }
    return ctl_msvc_tx_end(call, owned, update_in_tx(call, application_id, name, body));
}
