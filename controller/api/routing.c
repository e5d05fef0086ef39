/* /api/v3/routes: ioMessage routes between microservices of one application (controller.md §3.9).
 * Every read is filtered by the caller's applications (the classic list and lookups are not). */
#include "controller/api/api.h"

#include "common/json.h"
#include "controller/domain/msvc.h"
#include "controller/domain/msvc_internal.h"
#include "controller/store/db_json.h"

#include <string.h>

#define ROUTE_JSON_SELECT                                                                          \
    "SELECT a.name AS application, r.name, s.name AS \"from\", t.name AS \"to\","                  \
    " r.source_microservice_uuid AS \"sourceMicroserviceUuid\","                                   \
    " r.dest_microservice_uuid AS \"destMicroserviceUuid\""                                        \
    " FROM routings r JOIN applications a ON a.id = r.application_id"                              \
    " JOIN microservices s ON s.uuid = r.source_microservice_uuid"                                 \
    " JOIN microservices t ON t.uuid = r.dest_microservice_uuid"                                   \
    " WHERE (? = 1 OR a.user_id = ?)"

static iof_err list(struct ctl_call *call) {
    const struct ctl_db_value p[] = {CTL_DB_BOOL(call->admin), CTL_DB_INT(call->user_id)};
    json_t *rows = NULL;
    iof_err err = ctl_db_query_json(ctl_store_db(call->srv->store),
                                    ROUTE_JSON_SELECT " ORDER BY a.name, r.name",
                                    p,
                                    2,
                                    &rows,
                                    call->d);
    return err != IOF_OK ? err : ctl_reply(call, 200, json_pack("{s:o}", "routes", rows));
}

/* The application named by the :appName parameter (the caller's). */
static iof_err app_id_of(struct ctl_call *call, const char *name, int64_t *out) {
    json_t *app = NULL;
    iof_err err = ctl_msvc_app_by_name(call, name, &app);
    if (err == IOF_OK) {
        *out = ctl_msvc_jint(app, "id");
    }
    json_decref(app);
    return err;
}

static iof_err reply_route(struct ctl_call *call, int status, int64_t app_id, const char *name) {
    const struct ctl_db_value p[] = {
        CTL_DB_BOOL(call->admin), CTL_DB_INT(call->user_id), CTL_DB_INT(app_id), CTL_DB_TEXT(name)};
    json_t *row = NULL;
    iof_err err = ctl_db_query_json_one(ctl_store_db(call->srv->store),
                                        ROUTE_JSON_SELECT " AND a.id = ? AND r.name = ?",
                                        p,
                                        4,
                                        "Invalid route name",
                                        &row,
                                        call->d);
    if (err == IOF_ENOENT) {
        return iof_fail(call->d, IOF_ENOENT, "Invalid route name '%s'", name);
    }
    return err != IOF_OK ? err : ctl_reply(call, status, row);
}

static iof_err get_one(struct ctl_call *call) {
    int64_t app_id = 0;
    iof_err err = app_id_of(call, iof_http_param(call->req, "appName"), &app_id);
    return err != IOF_OK ? err : reply_route(call, 200, app_id, iof_http_param(call->req, "name"));
}

static iof_err create(struct ctl_call *call) {
    json_t *body = NULL;
    const char *name = NULL, *app = NULL, *from = NULL, *to = NULL, *src = NULL, *dst = NULL;
    iof_err err = ctl_body(call, &body);
    if (err != IOF_OK ||
        (err = iof_json_get_string(body, "name", IOF_JSON_OPTIONAL, &name, call->d)) ||
        (err = iof_json_get_string(body, "application", IOF_JSON_OPTIONAL, &app, call->d)) ||
        (err = iof_json_get_string(body, "from", IOF_JSON_OPTIONAL, &from, call->d)) ||
        (err = iof_json_get_string(body, "to", IOF_JSON_OPTIONAL, &to, call->d)) ||
        (err = iof_json_get_string(
             body, "sourceMicroserviceUuid", IOF_JSON_OPTIONAL, &src, call->d)) ||
        (err =
             iof_json_get_string(body, "destMicroserviceUuid", IOF_JSON_OPTIONAL, &dst, call->d))) {
        return err;
    }
    if (name == NULL) {
        return iof_fail(call->d, IOF_EINVAL, "Required field 'name' is missing");
    }
    int64_t app_id = 0;
    if (src != NULL || dst != NULL) {
        if (src == NULL || dst == NULL) {
            return iof_fail(call->d,
                            IOF_EINVAL,
                            "Required field '%s' is missing",
                            src == NULL ? "sourceMicroserviceUuid" : "destMicroserviceUuid");
        }
        struct ctl_msvc_ref ref = {0};
        if ((err = ctl_route_create_uuids(call, name, src, dst)) ||
            (err = ctl_msvc_find(call, src, &ref))) {
            return err;
        }
        app_id = ref.app_id;
        ctl_msvc_ref_clear(&ref);
    } else {
        if (app == NULL) {
            return iof_fail(call->d, IOF_EINVAL, "Required field 'application' is missing");
        }
        if ((err = app_id_of(call, app, &app_id)) ||
            (err = ctl_route_create(call, app_id, name, from, to))) {
            return err;
        }
    }
    return reply_route(call, 200, app_id, name);
}

static iof_err patch(struct ctl_call *call) {
    json_t *body = NULL;
    int64_t app_id = 0;
    iof_err err = ctl_body(call, &body);
    if (err != IOF_OK || (err = app_id_of(call, iof_http_param(call->req, "appName"), &app_id)) ||
        (err = ctl_route_update(call, app_id, iof_http_param(call->req, "name"), body))) {
        return err;
    }
    return ctl_reply(call, 204, NULL);
}

static iof_err delete_one(struct ctl_call *call) {
    int64_t app_id = 0;
    iof_err err = app_id_of(call, iof_http_param(call->req, "appName"), &app_id);
    if (err != IOF_OK ||
        (err = ctl_route_delete(call, app_id, iof_http_param(call->req, "name"))) != IOF_OK) {
        return err;
    }
    return ctl_reply(call, 204, NULL);
}

const struct ctl_route ctl_routes_routing[] = {
    {"GET", "/api/v3/routes", list, CTL_AUTH_USER},
    {"POST", "/api/v3/routes", create, CTL_AUTH_USER},
    {"GET", "/api/v3/routes/:appName/:name", get_one, CTL_AUTH_USER},
    {"PATCH", "/api/v3/routes/:appName/:name", patch, CTL_AUTH_USER},
    {"DELETE", "/api/v3/routes/:appName/:name", delete_one, CTL_AUTH_USER},
};
const size_t ctl_routes_routing_count = sizeof ctl_routes_routing / sizeof ctl_routes_routing[0];
