/* The microservices and routes of an application as JSON, read straight from the tables, and the
 * change flags for the nodes that run them. Interim: once the microservice service (msvc.h) is
 * merged, ctl_app_msvcs_json should call ctl_msvc_list_json so both routes give one shape. */
#include "controller/api/application.h"

#include "controller/domain/changes.h"
#include "controller/store/db_json.h"

static const char msvc_sql[] =
    "SELECT m.uuid, m.name, m.config, m.root_host_access AS \"rootHostAccess:bool\", "
    "m.log_size AS \"logSize\", m.marked_for_delete AS \"delete:bool\", "
    "m.delete_with_cleanup AS \"deleteWithCleanup:bool\", m.catalog_item_id AS \"catalogItemId\", "
    "m.registry_id AS \"registryId\", m.fog_uuid AS \"iofogUuid\", m.user_id AS \"userId\", "
    "m.application_id AS \"applicationId\", m.application_id AS \"flowId\", a.name AS application, "
    "m.created_at AS \"createdAt:iso\", m.updated_at AS \"updatedAt:iso\" "
    "FROM microservices m JOIN applications a ON a.id = m.application_id "
    "WHERE m.application_id = ? AND m.marked_for_delete = 0 ORDER BY m.created_at, m.uuid";

/* Runs sql with (uuid) or (uuid, catalog item id) and sets the rows as key of m. */
static iof_err child(struct ctl_call *call,
                     json_t *m,
                     const char *key,
                     const char *sql,
                     size_t n_params,
                     const char *only_column) {
    const char *uuid = json_string_value(json_object_get(m, "uuid"));
    json_t *item = json_object_get(m, "catalogItemId");
    const struct ctl_db_value p[] = {
        CTL_DB_TEXT(uuid),
        json_is_integer(item) ? CTL_DB_INT(json_integer_value(item)) : CTL_DB_NULLV,
    };
    json_t *rows = NULL;
    iof_err err =
        ctl_db_query_json(ctl_store_db(call->srv->store), sql, p, n_params, &rows, call->d);
    if (err != IOF_OK) {
        return err;
    }
    if (only_column != NULL) { /* [{"x": v}, ...] -> [v, ...] */
        json_t *flat = json_array();
        size_t i;
        json_t *row;
        json_array_foreach(rows, i, row) {
            if (flat != NULL && json_array_append(flat, json_object_get(row, only_column)) != 0) {
                json_decref(flat);
                flat = NULL;
            }
        }
        json_decref(rows);
        rows = flat;
    }
    if (rows == NULL || json_object_set_new(m, key, rows) != 0) {
        return iof_fail(call->d, IOF_ENOMEM, "out of memory");
    }
    return IOF_OK;
}

static iof_err status(struct ctl_call *call, json_t *m) {
    static const char sql[] =
        "SELECT status, operating_duration AS \"operatingDuration\", start_time AS \"startTime\", "
        "cpu_usage AS \"cpuUsage\", memory_usage AS \"memoryUsage\", container_id AS "
        "\"containerId\", "
        "percentage, error_message AS \"errorMessage\", restarts FROM microservice_statuses "
        "WHERE microservice_uuid = ?";
    const struct ctl_db_value p[] = {CTL_DB_TEXT(json_string_value(json_object_get(m, "uuid")))};
    json_t *st = NULL;
    iof_err err =
        ctl_db_query_json_one(ctl_store_db(call->srv->store), sql, p, 1, "", &st, call->d);
    if (err == IOF_ENOENT) {
        st = json_pack("{s:s, s:i, s:i, s:f, s:i, s:s, s:f, s:s, s:i}",
                       "status",
                       "QUEUED",
                       "operatingDuration",
                       0,
                       "startTime",
                       0,
                       "cpuUsage",
                       0.0,
                       "memoryUsage",
                       0,
                       "containerId",
                       "",
                       "percentage",
                       0.0,
                       "errorMessage",
                       "",
                       "restarts",
                       0);
        err = IOF_OK;
    }
    if (err != IOF_OK) {
        return err;
    }
    if (st == NULL || json_object_set_new(m, "status", st) != 0) {
        return iof_fail(call->d, IOF_ENOMEM, "out of memory");
    }
    return IOF_OK;
}

iof_err ctl_app_msvcs_json(struct ctl_call *call, int64_t app_id, json_t **out) {
    const struct ctl_db_value p[] = {CTL_DB_INT(app_id)};
    json_t *list = NULL;
    iof_err err = ctl_db_query_json(ctl_store_db(call->srv->store), msvc_sql, p, 1, &list, call->d);
    size_t i;
    json_t *m;
    json_array_foreach(list, i, m) {
        if (err != IOF_OK) {
            break;
        }
        if ((err =
                 child(call,
                       m,
                       "images",
                       "SELECT container_image AS \"containerImage\", fog_type_id AS \"fogTypeId\" "
                       "FROM catalog_item_images WHERE microservice_uuid = ? "
                       "ORDER BY fog_type_id",
                       1,
                       NULL)) ||
            (err = child(call,
                         m,
                         "ports",
                         "SELECT port_internal AS internal, port_external AS external, protocol "
                         "FROM microservice_ports WHERE microservice_uuid = ? ORDER BY id",
                         1,
                         NULL)) ||
            (err =
                 child(call,
                       m,
                       "volumeMappings",
                       "SELECT id, host_destination AS \"hostDestination\", container_destination "
                       "AS \"containerDestination\", access_mode AS \"accessMode\", type, "
                       "microservice_uuid AS \"microserviceUuid\" FROM volume_mappings "
                       "WHERE microservice_uuid = ? ORDER BY id",
                       1,
                       NULL)) ||
            (err = child(call,
                         m,
                         "routes",
                         "SELECT dest_microservice_uuid AS d FROM routings "
                         "WHERE source_microservice_uuid = ? ORDER BY id",
                         1,
                         "d")) ||
            (err = child(call,
                         m,
                         "env",
                         "SELECT key, value FROM microservice_envs WHERE microservice_uuid = ? "
                         "ORDER BY id",
                         1,
                         NULL)) ||
            (err = child(call,
                         m,
                         "cmd",
                         "SELECT cmd FROM microservice_args WHERE microservice_uuid = ? "
                         "ORDER BY id",
                         1,
                         "cmd")) ||
            (err = child(call,
                         m,
                         "extraHosts",
                         "SELECT name, COALESCE(template, value) AS address, value "
                         "FROM microservice_extra_hosts WHERE microservice_uuid = ? ORDER BY id",
                         1,
                         NULL)) ||
            (err = status(call, m))) {
            break;
        }
    }
    if (err != IOF_OK) {
        json_decref(list);
        return err;
    }
    *out = list;
    return IOF_OK;
}

iof_err ctl_app_routes_json(struct ctl_call *call, int64_t app_id, json_t **out) {
    static const char sql[] = "SELECT r.name, s.name AS \"from\", t.name AS \"to\" FROM routings r "
                              "JOIN microservices s ON s.uuid = r.source_microservice_uuid "
                              "JOIN microservices t ON t.uuid = r.dest_microservice_uuid "
                              "WHERE r.application_id = ? ORDER BY r.id";
    const struct ctl_db_value p[] = {CTL_DB_INT(app_id)};
    return ctl_db_query_json(ctl_store_db(call->srv->store), sql, p, 1, out, call->d);
}

iof_err ctl_app_raise_nodes(struct ctl_call *call, int64_t app_id, uint32_t mask) {
    static const char sql[] = "SELECT DISTINCT fog_uuid AS uuid FROM microservices "
                              "WHERE application_id = ? AND fog_uuid IS NOT NULL";
    const struct ctl_db_value p[] = {CTL_DB_INT(app_id)};
    json_t *rows = NULL;
    iof_err err = ctl_db_query_json(ctl_store_db(call->srv->store), sql, p, 1, &rows, call->d);
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) {
        if (err == IOF_OK) {
            err = ctl_changes_raise(
                call->srv, json_string_value(json_object_get(row, "uuid")), mask, call->d);
        }
    }
    json_decref(rows);
    return err;
}
