/* Microservices: create, update, delete and the user API GET shape (controller.md §3.8, §5.3,
 * §7.1), plus the helpers the other service files share (msvc_internal.h). */
#include "controller/domain/msvc_internal.h"

#include "common/buf.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "controller/domain/changes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- shared helpers ---- */

static struct ctl_db *db_of(struct ctl_call *call) {
    return ctl_store_db(call->srv->store);
}

int64_t ctl_msvc_jint(const json_t *row, const char *key) {
    return (int64_t)json_integer_value(json_object_get(row, key));
}

void ctl_msvc_ref_clear(struct ctl_msvc_ref *ref) {
    json_decref(ref->row);
    memset(ref, 0, sizeof *ref);
}

iof_err ctl_msvc_find(struct ctl_call *call, const char *uuid, struct ctl_msvc_ref *out) {
    static const char sql[] =
        "SELECT m.uuid, m.name, m.fog_uuid AS fog, m.application_id AS app, m.user_id AS usr,"
        " m.catalog_item_id AS cat, m.registry_id AS reg,"
        " CASE WHEN c.category = 'SYSTEM' THEN 1 ELSE 0 END AS sys"
        " FROM microservices m LEFT JOIN catalog_items c ON c.id = m.catalog_item_id"
        " WHERE m.uuid = ? AND m.marked_for_delete = 0 AND (? = 1 OR m.user_id = ?)";
    char msg[128];
    (void)snprintf(msg, sizeof msg, "Invalid microservice UUID '%s'", uuid != NULL ? uuid : "");
    const struct ctl_db_value p[] = {
        CTL_DB_TEXT(uuid != NULL ? uuid : ""), CTL_DB_BOOL(call->admin), CTL_DB_INT(call->user_id)};
    json_t *row = NULL;
    iof_err err = ctl_db_query_json_one(db_of(call), sql, p, 3, msg, &row, call->d);
    if (err != IOF_OK) {
        return err;
    }
    out->row = row;
    out->uuid = json_string_value(json_object_get(row, "uuid"));
    out->name = json_string_value(json_object_get(row, "name"));
    out->fog = json_string_value(json_object_get(row, "fog"));
    out->app_id = ctl_msvc_jint(row, "app");
    out->user_id = ctl_msvc_jint(row, "usr");
    out->catalog_id = ctl_msvc_jint(row, "cat");
    out->registry_id = ctl_msvc_jint(row, "reg");
    out->system = ctl_msvc_jint(row, "sys") != 0;
    return IOF_OK;
}

iof_err ctl_msvc_tx_begin(struct ctl_call *call, bool *owned) {
    if (ctl_db_in_tx(db_of(call))) {
        *owned = false; /* the caller's transaction: it commits or rolls back */
        return IOF_OK;
    }
    iof_err err = ctl_db_begin(db_of(call), call->d);
    if (err == IOF_OK) {
        *owned = true;
    }
    return err;
}

iof_err ctl_msvc_tx_end(struct ctl_call *call, bool owned, iof_err err) {
    if (!owned) {
        return err;
    }
    if (err == IOF_OK) {
        return ctl_db_commit(db_of(call), call->d);
    }
    struct iof_diag tmp = {{0}};
    if (ctl_db_rollback(db_of(call), &tmp) != IOF_OK) {
        IOF_WARN("msvc", "rollback failed: %s", tmp.msg);
    }
    return err;
}

iof_err ctl_msvc_raise(struct ctl_call *call, const char *fog, uint32_t mask) {
    return ctl_changes_raise(call->srv, fog, mask, call->d);
}

iof_err ctl_msvc_exec(struct ctl_call *call,
                      const char *sql,
                      const struct ctl_db_value *params,
                      size_t n,
                      int64_t *changes) {
    return ctl_db_exec(db_of(call), sql, params, n, NULL, NULL, changes, call->d);
}

iof_err ctl_msvc_app_by_id(struct ctl_call *call, int64_t id, json_t **out) {
    char msg[64];
    (void)snprintf(msg, sizeof msg, "Invalid application id %lld", (long long)id);
    const struct ctl_db_value p[] = {
        CTL_DB_INT(id), CTL_DB_BOOL(call->admin), CTL_DB_INT(call->user_id)};
    return ctl_db_query_json_one(db_of(call),
                                 "SELECT id, name, user_id AS \"userId\" FROM applications"
                                 " WHERE id = ? AND (? = 1 OR user_id = ?)",
                                 p,
                                 3,
                                 msg,
                                 out,
                                 call->d);
}

iof_err ctl_msvc_app_by_name(struct ctl_call *call, const char *name, json_t **out) {
    char msg[160];
    (void)snprintf(msg, sizeof msg, "Invalid application name '%.120s'", name);
    const struct ctl_db_value p[] = {CTL_DB_TEXT(name),
                                     CTL_DB_BOOL(call->admin),
                                     CTL_DB_INT(call->user_id),
                                     CTL_DB_INT(call->user_id)};
    return ctl_db_query_json_one(db_of(call),
                                 "SELECT id, name, user_id AS \"userId\" FROM applications"
                                 " WHERE name = ? AND (? = 1 OR user_id = ?)"
                                 " ORDER BY CASE WHEN user_id = ? THEN 0 ELSE 1 END, id LIMIT 1",
                                 p,
                                 4,
                                 msg,
                                 out,
                                 call->d);
}

/* ---- input ---- */

/* The keys of MsvcCreate/MsvcUpdate; pointers are borrowed from the body except config. */
struct msvc_in {
    const char *name;
    char *config; /* owned */
    bool has_catalog;
    int64_t catalog_id;
    const json_t *images;
    bool has_registry;
    int64_t registry_id;
    const char *fog_uuid;
    const char *agent_name;
    bool has_root;
    bool root;
    bool has_log_size;
    int64_t log_size;
    const json_t *volumes;
    const json_t *ports;
    const json_t *extra_hosts;
    const json_t *routes;
    const json_t *env;
    const json_t *cmd;
    bool rebuild;
};

static void in_clear(struct msvc_in *in) {
    free(in->config);
    in->config = NULL;
}

static bool present(const json_t *body, const char *key) {
    const json_t *v = json_object_get(body, key);
    return v != NULL && !json_is_null(v);
}

static iof_err in_parse(struct ctl_call *call, const json_t *body, struct msvc_in *in) {
    struct iof_diag *d = call->d;
    iof_err err;
    const json_t *config = json_object_get(body, "config");
    if (config != NULL && !json_is_null(config)) {
        if (json_is_string(config)) {
            in->config = strdup(json_string_value(config));
        } else if (json_is_object(config)) {
            in->config = json_dumps(config, JSON_COMPACT);
        } else {
            return iof_fail(d, IOF_EINVAL, "Invalid format for field 'config'");
        }
        if (in->config == NULL) {
            return iof_fail(d, IOF_ENOMEM, "out of memory");
        }
    }
    int64_t cat = 0, reg = 0, log = 0;
    if ((err = iof_json_get_string(body, "name", IOF_JSON_OPTIONAL, &in->name, d)) ||
        (err = iof_json_get_int(body, "catalogItemId", IOF_JSON_OPTIONAL, &cat, d)) ||
        (err = iof_json_get_array(body, "images", IOF_JSON_OPTIONAL, &in->images, d)) ||
        (err = iof_json_get_int(body, "registryId", IOF_JSON_OPTIONAL, &reg, d)) ||
        (err = iof_json_get_string(body, "iofogUuid", IOF_JSON_OPTIONAL, &in->fog_uuid, d)) ||
        (err = iof_json_get_string(body, "agentName", IOF_JSON_OPTIONAL, &in->agent_name, d)) ||
        (err = iof_json_get_bool(body, "rootHostAccess", IOF_JSON_OPTIONAL, &in->root, d)) ||
        (err = iof_json_get_int(body, "logSize", IOF_JSON_OPTIONAL, &log, d)) ||
        (err = iof_json_get_array(body, "volumeMappings", IOF_JSON_OPTIONAL, &in->volumes, d)) ||
        (err = iof_json_get_array(body, "ports", IOF_JSON_OPTIONAL, &in->ports, d)) ||
        (err = iof_json_get_array(body, "extraHosts", IOF_JSON_OPTIONAL, &in->extra_hosts, d)) ||
        (err = iof_json_get_array(body, "routes", IOF_JSON_OPTIONAL, &in->routes, d)) ||
        (err = iof_json_get_array(body, "env", IOF_JSON_OPTIONAL, &in->env, d)) ||
        (err = iof_json_get_array(body, "cmd", IOF_JSON_OPTIONAL, &in->cmd, d)) ||
        (err = iof_json_get_bool(body, "rebuild", IOF_JSON_OPTIONAL, &in->rebuild, d))) {
        return err;
    }
    in->has_root = json_is_boolean(json_object_get(body, "rootHostAccess"));
    in->has_catalog = present(body, "catalogItemId");
    in->catalog_id = cat;
    if (cat < 0) {
        return iof_fail(d, IOF_EINVAL, "Invalid format for field 'catalogItemId'");
    }
    in->has_registry = present(body, "registryId");
    in->registry_id = reg;
    if (in->has_registry && reg < 1) {
        return iof_fail(d, IOF_EINVAL, "Invalid format for field 'registryId'");
    }
    in->has_log_size = present(body, "logSize");
    in->log_size = log;
    if (in->has_log_size && (log < 0 || log > CTL_MAX_LOG_SIZE_MB)) {
        return iof_fail(
            d, IOF_EINVAL, "Invalid format for field 'logSize': 0 to %d (MB)", CTL_MAX_LOG_SIZE_MB);
    }
    if ((err = ctl_list_check("volumeMappings", in->volumes, d)) ||
        (err = ctl_list_check("ports", in->ports, d)) ||
        (err = ctl_list_check("extraHosts", in->extra_hosts, d)) ||
        (err = ctl_list_check("routes", in->routes, d)) ||
        (err = ctl_list_check("env", in->env, d)) || (err = ctl_list_check("cmd", in->cmd, d))) {
        return err;
    }
    if (in->name != NULL && (err = ctl_name_check("name", in->name, d)) != IOF_OK) {
        return err;
    }
    if (in->images != NULL && json_array_size(in->images) > 2) {
        return iof_fail(d, IOF_EINVAL, "Invalid format for field 'images': at most 2 images");
    }
    return IOF_OK;
}

/* ---- lookups ---- */

/* The node named by iofogUuid (preferred) or agentName that the caller may use (own, or the
 * system node): *row_out gets {uuid, type, ds}. */
static iof_err find_fog(struct ctl_call *call, const struct msvc_in *in, json_t **row_out) {
    char msg[160];
    const struct ctl_db_value p[] = {
        CTL_DB_TEXT(in->fog_uuid != NULL ? in->fog_uuid : in->agent_name),
        CTL_DB_BOOL(call->admin),
        CTL_DB_INT(call->user_id),
        CTL_DB_INT(call->user_id),
    };
    if (in->fog_uuid != NULL) {
        (void)snprintf(msg, sizeof msg, "Invalid ioFog UUID '%.100s'", in->fog_uuid);
        return ctl_db_query_json_one(db_of(call),
                                     "SELECT uuid, fog_type_id AS type, daemon_status AS ds"
                                     " FROM fogs WHERE uuid = ?"
                                     " AND (? = 1 OR user_id = ? OR is_system = 1)",
                                     p,
                                     3,
                                     msg,
                                     row_out,
                                     call->d);
    }
    (void)snprintf(msg, sizeof msg, "Invalid agent name '%.100s'", in->agent_name);
    return ctl_db_query_json_one(db_of(call),
                                 "SELECT uuid, fog_type_id AS type, daemon_status AS ds"
                                 " FROM fogs WHERE name = ?"
                                 " AND (? = 1 OR user_id = ? OR is_system = 1)"
                                 " ORDER BY CASE WHEN user_id = ? THEN 0 ELSE 1 END LIMIT 1",
                                 p,
                                 4,
                                 msg,
                                 row_out,
                                 call->d);
}

/* A catalog item the caller may use for a microservice: its registry in *registry_out. */
static iof_err check_catalog(struct ctl_call *call, int64_t id, int64_t *registry_out) {
    char msg[64];
    (void)snprintf(msg, sizeof msg, "Invalid catalog item id %lld", (long long)id);
    const struct ctl_db_value p[] = {
        CTL_DB_INT(id), CTL_DB_BOOL(call->admin), CTL_DB_INT(call->user_id)};
    json_t *row = NULL;
    iof_err err =
        ctl_db_query_json_one(db_of(call),
                              "SELECT category, registry_id AS reg FROM catalog_items"
                              " WHERE id = ? AND (? = 1 OR is_public = 1 OR user_id IS NULL"
                              " OR user_id = ?)",
                              p,
                              3,
                              msg,
                              &row,
                              call->d);
    if (err != IOF_OK) {
        return err;
    }
    const char *cat = json_string_value(json_object_get(row, "category"));
    bool system = cat != NULL && strcmp(cat, "SYSTEM") == 0;
    *registry_out = ctl_msvc_jint(row, "reg");
    json_decref(row);
    if (system && !call->admin) {
        return iof_fail(call->d,
                        IOF_EINVAL,
                        "Catalog item %lld is a system item and cannot be used",
                        (long long)id);
    }
    return IOF_OK;
}

static iof_err check_registry(struct ctl_call *call, int64_t id) {
    char msg[64];
    (void)snprintf(msg, sizeof msg, "Invalid registry id %lld", (long long)id);
    const struct ctl_db_value p[] = {
        CTL_DB_INT(id), CTL_DB_BOOL(call->admin), CTL_DB_INT(call->user_id)};
    json_t *row = NULL;
    iof_err err = ctl_db_query_json_one(db_of(call),
                                        "SELECT id FROM registries WHERE id = ?"
                                        " AND (? = 1 OR is_public = 1 OR user_id IS NULL"
                                        " OR user_id = ?)",
                                        p,
                                        3,
                                        msg,
                                        &row,
                                        call->d);
    json_decref(row);
    return err;
}

static iof_err
check_name_free(struct ctl_call *call, int64_t app_id, const char *name, const char *self) {
    const struct ctl_db_value p[] = {
        CTL_DB_INT(app_id), CTL_DB_TEXT(name), CTL_DB_TEXT(self != NULL ? self : "")};
    json_t *rows = NULL;
    iof_err err = ctl_db_query_json(db_of(call),
                                    "SELECT uuid FROM microservices WHERE application_id = ?"
                                    " AND name = ? AND uuid <> ?",
                                    p,
                                    3,
                                    &rows,
                                    call->d);
    if (err != IOF_OK) {
        return err;
    }
    size_t n = json_array_size(rows);
    json_decref(rows);
    if (n > 0) {
        return iof_fail(call->d,
                        IOF_EEXIST,
                        "Duplicate name '%s': the application already has a microservice of that "
                        "name",
                        name);
    }
    return IOF_OK;
}

/* ---- children (each replaces the stored list) ---- */

static iof_err bad_item(struct ctl_call *call, const char *list, size_t i, const char *what) {
    return iof_fail(call->d, IOF_EINVAL, "Invalid format for field '%s[%zu]': %s", list, i, what);
}

static iof_err write_images(struct ctl_call *call, const char *uuid, const json_t *images) {
    const struct ctl_db_value id[] = {CTL_DB_TEXT(uuid)};
    iof_err err = ctl_msvc_exec(
        call, "DELETE FROM catalog_item_images WHERE microservice_uuid = ?", id, 1, NULL);
    size_t i;
    const json_t *it;
    json_array_foreach(images, i, it) {
        const char *image = NULL;
        int64_t type = 0;
        if (err != IOF_OK) {
            break;
        }
        if (!json_is_object(it) ||
            iof_json_get_string(it, "containerImage", IOF_JSON_REQUIRED, &image, NULL) != IOF_OK ||
            *image == '\0') {
            return bad_item(call, "images", i, "'containerImage' is required");
        }
        char field[48];
        (void)snprintf(field, sizeof field, "images[%zu].containerImage", i);
        if ((err = ctl_image_check(field, image, call->d)) != IOF_OK) {
            return err;
        }
        if (iof_json_get_int(it, "fogTypeId", IOF_JSON_REQUIRED, &type, NULL) != IOF_OK ||
            (type != 1 && type != 2)) {
            return bad_item(call, "images", i, "'fogTypeId' must be 1 (x86) or 2 (ARM)");
        }
        const struct ctl_db_value p[] = {CTL_DB_TEXT(uuid), CTL_DB_INT(type), CTL_DB_TEXT(image)};
        err = ctl_msvc_exec(call,
                            "INSERT INTO catalog_item_images"
                            " (microservice_uuid, fog_type_id, container_image) VALUES (?, ?, ?)",
                            p,
                            3,
                            NULL);
        if (err == IOF_EEXIST) {
            return bad_item(call, "images", i, "one image per fog type");
        }
    }
    return err;
}

static bool port_ok(int64_t p) {
    return p >= 1 && p <= 65535;
}

/* Adds one port mapping object ({internal, external, protocol}) of the microservice. */
iof_err ctl_msvc_port_insert(
    struct ctl_call *call, const char *uuid, int64_t user_id, const json_t *it, size_t i) {
    int64_t internal = 0, external = 0;
    const char *proto = "tcp";
    if (!json_is_object(it) ||
        iof_json_get_int(it, "internal", IOF_JSON_REQUIRED, &internal, NULL) != IOF_OK ||
        !port_ok(internal)) {
        return bad_item(call, "ports", i, "'internal' must be a port number (1-65535)");
    }
    if (iof_json_get_int(it, "external", IOF_JSON_REQUIRED, &external, NULL) != IOF_OK ||
        !port_ok(external)) {
        return bad_item(call, "ports", i, "'external' must be a port number (1-65535)");
    }
    if (iof_json_get_string(it, "protocol", IOF_JSON_OPTIONAL, &proto, NULL) != IOF_OK ||
        (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0)) {
        return bad_item(call, "ports", i, "'protocol' must be \"tcp\" or \"udp\"");
    }
    if (external == 54321 || external == 54322) {
        return iof_fail(call->d,
                        IOF_EINVAL,
                        "Port %lld is reserved by the ioFog Agent and cannot be used as an "
                        "external port",
                        (long long)external);
    }
    const struct ctl_db_value p[] = {CTL_DB_TEXT(uuid),
                                     CTL_DB_INT(internal),
                                     CTL_DB_INT(external),
                                     CTL_DB_TEXT(proto),
                                     user_id > 0 ? CTL_DB_INT(user_id) : CTL_DB_NULLV};
    iof_err err = ctl_msvc_exec(call,
                                "INSERT INTO microservice_ports"
                                " (microservice_uuid, port_internal, port_external, protocol,"
                                " user_id) VALUES (?, ?, ?, ?, ?)",
                                p,
                                5,
                                NULL);
    if (err == IOF_EEXIST) {
        return iof_fail(call->d,
                        IOF_EINVAL,
                        "Port mapping for internal port %lld/%s exists already",
                        (long long)internal,
                        proto);
    }
    return err;
}

static iof_err
write_ports(struct ctl_call *call, const char *uuid, int64_t user_id, const json_t *ports) {
    const struct ctl_db_value id[] = {CTL_DB_TEXT(uuid)};
    iof_err err = ctl_msvc_exec(
        call, "DELETE FROM microservice_ports WHERE microservice_uuid = ?", id, 1, NULL);
    size_t i;
    const json_t *it;
    json_array_foreach(ports, i, it) {
        if (err == IOF_OK) {
            err = ctl_msvc_port_insert(call, uuid, user_id, it, i);
        }
    }
    return err;
}

/* Adds one volume mapping object; its id goes to *id_out (may be NULL). */
iof_err ctl_msvc_volume_insert(
    struct ctl_call *call, const char *uuid, const json_t *it, size_t i, int64_t *id_out) {
    const char *host = NULL, *cont = NULL, *mode = NULL, *type = "bind";
    if (!json_is_object(it) ||
        iof_json_get_string(it, "hostDestination", IOF_JSON_REQUIRED, &host, NULL) != IOF_OK ||
        *host == '\0') {
        return bad_item(call, "volumeMappings", i, "'hostDestination' is required");
    }
    if (iof_json_get_string(it, "containerDestination", IOF_JSON_REQUIRED, &cont, NULL) != IOF_OK ||
        *cont == '\0') {
        return bad_item(call, "volumeMappings", i, "'containerDestination' is required");
    }
    if (iof_json_get_string(it, "accessMode", IOF_JSON_REQUIRED, &mode, NULL) != IOF_OK ||
        (strcmp(mode, "rw") != 0 && strcmp(mode, "ro") != 0)) {
        return bad_item(call, "volumeMappings", i, "'accessMode' must be \"rw\" or \"ro\"");
    }
    if (iof_json_get_string(it, "type", IOF_JSON_OPTIONAL, &type, NULL) != IOF_OK ||
        (strcmp(type, "bind") != 0 && strcmp(type, "volume") != 0)) {
        return bad_item(call, "volumeMappings", i, "'type' must be \"bind\" or \"volume\"");
    }
    char field[64];
    iof_err err;
    (void)snprintf(field, sizeof field, "volumeMappings[%zu].containerDestination", i);
    if ((err = ctl_abs_path_check(field, cont, call->d)) != IOF_OK) {
        return err;
    }
    (void)snprintf(field, sizeof field, "volumeMappings[%zu].hostDestination", i);
    err = strcmp(type, "volume") == 0 ? ctl_volume_name_check(field, host, call->d)
                                      : ctl_abs_path_check(field, host, call->d);
    if (err != IOF_OK) {
        return err;
    }
    const struct ctl_db_value p[] = {CTL_DB_TEXT(uuid),
                                     CTL_DB_TEXT(host),
                                     CTL_DB_TEXT(cont),
                                     CTL_DB_TEXT(mode),
                                     CTL_DB_TEXT(type)};
    json_t *row = NULL;
    err = ctl_db_query_json_one(db_of(call),
                                "INSERT INTO volume_mappings (microservice_uuid,"
                                " host_destination, container_destination, access_mode,"
                                " type) VALUES (?, ?, ?, ?, ?) RETURNING id",
                                p,
                                5,
                                "no id returned",
                                &row,
                                call->d);
    if (err == IOF_OK && id_out != NULL) {
        *id_out = ctl_msvc_jint(row, "id");
    }
    json_decref(row);
    return err;
}

static iof_err write_volumes(struct ctl_call *call, const char *uuid, const json_t *list) {
    const struct ctl_db_value id[] = {CTL_DB_TEXT(uuid)};
    iof_err err =
        ctl_msvc_exec(call, "DELETE FROM volume_mappings WHERE microservice_uuid = ?", id, 1, NULL);
    size_t i;
    const json_t *it;
    json_array_foreach(list, i, it) {
        if (err == IOF_OK) {
            err = ctl_msvc_volume_insert(call, uuid, it, i, NULL);
        }
    }
    return err;
}

static iof_err write_env(struct ctl_call *call, const char *uuid, const json_t *list) {
    const struct ctl_db_value id[] = {CTL_DB_TEXT(uuid)};
    iof_err err = ctl_msvc_exec(
        call, "DELETE FROM microservice_envs WHERE microservice_uuid = ?", id, 1, NULL);
    size_t i;
    const json_t *it;
    json_array_foreach(list, i, it) {
        const char *key = NULL, *value = "";
        if (err != IOF_OK) {
            break;
        }
        if (!json_is_object(it) ||
            iof_json_get_string(it, "key", IOF_JSON_REQUIRED, &key, NULL) != IOF_OK ||
            *key == '\0' ||
            iof_json_get_string(it, "value", IOF_JSON_OPTIONAL, &value, NULL) != IOF_OK) {
            return bad_item(call, "env", i, "{\"key\": string, \"value\": string} expected");
        }
        char field[48];
        (void)snprintf(field, sizeof field, "env[%zu].key", i);
        if ((err = ctl_env_key_check(field, key, call->d)) != IOF_OK) {
            return err;
        }
        const struct ctl_db_value p[] = {CTL_DB_TEXT(uuid), CTL_DB_TEXT(key), CTL_DB_TEXT(value)};
        err = ctl_msvc_exec(call,
                            "INSERT INTO microservice_envs (microservice_uuid, key, value)"
                            " VALUES (?, ?, ?)",
                            p,
                            3,
                            NULL);
    }
    return err;
}

static iof_err write_cmd(struct ctl_call *call, const char *uuid, const json_t *list) {
    const struct ctl_db_value id[] = {CTL_DB_TEXT(uuid)};
    iof_err err = ctl_msvc_exec(
        call, "DELETE FROM microservice_args WHERE microservice_uuid = ?", id, 1, NULL);
    size_t i;
    const json_t *it;
    json_array_foreach(list, i, it) {
        if (err != IOF_OK) {
            break;
        }
        if (!json_is_string(it)) {
            return bad_item(call, "cmd", i, "a string expected");
        }
        const struct ctl_db_value p[] = {CTL_DB_TEXT(uuid), CTL_DB_TEXT(json_string_value(it))};
        err = ctl_msvc_exec(call,
                            "INSERT INTO microservice_args (microservice_uuid, cmd) VALUES (?, ?)",
                            p,
                            2,
                            NULL);
    }
    return err;
}

/* Extra hosts: a literal address is stored as its own value; a template (${Agents.<name>} or
 * ${Apps.<app>.<msvc>...}) is kept with its text, resolved to the target node's address when the
 * target can be found now. */
static iof_err write_extra_hosts(struct ctl_call *call, const char *uuid, const json_t *list) {
    const struct ctl_db_value id[] = {CTL_DB_TEXT(uuid)};
    iof_err err = ctl_msvc_exec(
        call, "DELETE FROM microservice_extra_hosts WHERE microservice_uuid = ?", id, 1, NULL);
    size_t i;
    const json_t *it;
    json_array_foreach(list, i, it) {
        const char *name = NULL, *address = NULL;
        if (err != IOF_OK) {
            break;
        }
        if (!json_is_object(it) ||
            iof_json_get_string(it, "name", IOF_JSON_REQUIRED, &name, NULL) != IOF_OK ||
            *name == '\0' ||
            iof_json_get_string(it, "address", IOF_JSON_REQUIRED, &address, NULL) != IOF_OK ||
            *address == '\0') {
            return bad_item(call, "extraHosts", i, "{\"name\", \"address\"} expected");
        }
        char field[48];
        (void)snprintf(field, sizeof field, "extraHosts[%zu]", i);
        if ((err = ctl_extra_host_check(field, name, address, call->d)) != IOF_OK) {
            return err;
        }
        bool tmpl = strncmp(address, "${", 2) == 0;
        const char *type = NULL;
        if (tmpl) {
            type = strncmp(address, "${Agents.", 9) == 0 ? "Agents"
                   : strncmp(address, "${Apps.", 7) == 0 ? "Apps"
                                                         : NULL;
            if (type == NULL || address[strlen(address) - 1] != '}') {
                return bad_item(
                    call, "extraHosts", i, "template must be ${Agents.<name>} or ${Apps.<app>...}");
            }
        }
        const struct ctl_db_value p[] = {CTL_DB_TEXT(uuid),
                                         CTL_DB_TEXT(name),
                                         CTL_DB_TEXT(type),
                                         CTL_DB_TEXT(address),
                                         tmpl ? CTL_DB_NULLV : CTL_DB_TEXT(address)};
        err = ctl_msvc_exec(call,
                            "INSERT INTO microservice_extra_hosts"
                            " (microservice_uuid, name, template_type, template, value)"
                            " VALUES (?, ?, ?, ?, ?)",
                            p,
                            5,
                            NULL);
    }
    if (err == IOF_OK) {
        /* Agent templates resolve to the named node's address (the caller's nodes only). */
        const struct ctl_db_value p[] = {
            CTL_DB_BOOL(call->admin), CTL_DB_INT(call->user_id), CTL_DB_TEXT(uuid)};
        err = ctl_msvc_exec(
            call,
            "UPDATE microservice_extra_hosts SET (value, target_fog_uuid) ="
            " (SELECT CASE WHEN f.ip_address_external <> '0.0.0.0' THEN f.ip_address_external"
            " ELSE COALESCE(f.host, f.ip_address) END, f.uuid FROM fogs f"
            " WHERE '${Agents.' || f.name || '}' = microservice_extra_hosts.template"
            " AND (? = 1 OR f.user_id = ?) LIMIT 1)"
            " WHERE microservice_uuid = ? AND template_type = 'Agents'",
            p,
            3,
            NULL);
    }
    return err;
}

/* ---- checks after a change ---- */

/* An image for the node's fog type must exist (own images, else the catalog item's). */
static iof_err check_image_for(struct ctl_call *call, const char *uuid, int64_t fog_type) {
    if (fog_type <= 0) {
        return IOF_OK; /* type chosen at provisioning, which checks it then */
    }
    const struct ctl_db_value p[] = {CTL_DB_INT(fog_type), CTL_DB_TEXT(uuid), CTL_DB_TEXT(uuid)};
    json_t *rows = NULL;
    iof_err err = ctl_db_query_json(db_of(call),
                                    "SELECT id FROM catalog_item_images WHERE fog_type_id = ?"
                                    " AND (microservice_uuid = ? OR catalog_item_id ="
                                    " (SELECT catalog_item_id FROM microservices WHERE uuid = ?))",
                                    p,
                                    3,
                                    &rows,
                                    call->d);
    if (err != IOF_OK) {
        return err;
    }
    size_t n = json_array_size(rows);
    json_decref(rows);
    if (n == 0) {
        return iof_fail(call->d,
                        IOF_EINVAL,
                        "Microservice has no image for the node's fog type %lld (%s)",
                        (long long)fog_type,
                        fog_type == 1 ? "x86" : "ARM");
    }
    return IOF_OK;
}

/* No external port of the microservice may be used twice on its node (same protocol). */
iof_err ctl_msvc_check_ports(struct ctl_call *call, const char *uuid) {
    const struct ctl_db_value p[] = {CTL_DB_TEXT(uuid)};
    json_t *rows = NULL;
    iof_err err = ctl_db_query_json(
        db_of(call),
        "SELECT p.port_external AS port, p.protocol AS proto FROM microservice_ports p"
        " JOIN microservices m ON m.uuid = p.microservice_uuid"
        " JOIN microservice_ports q ON q.port_external = p.port_external"
        "  AND q.protocol = p.protocol AND q.id <> p.id"
        " JOIN microservices n ON n.uuid = q.microservice_uuid AND n.marked_for_delete = 0"
        " WHERE p.microservice_uuid = ? AND (n.uuid = m.uuid OR n.fog_uuid = m.fog_uuid) LIMIT 1",
        p,
        1,
        &rows,
        call->d);
    if (err != IOF_OK) {
        return err;
    }
    json_t *row = json_array_get(rows, 0);
    if (row != NULL) {
        err = iof_fail(call->d,
                       IOF_EINVAL,
                       "Port %lld/%s is not available: it is used on the node already",
                       (long long)ctl_msvc_jint(row, "port"),
                       json_string_value(json_object_get(row, "proto")));
    }
    json_decref(rows);
    return err;
}

/* ---- GET shape ----
 * A set of microservices is loaded with a fixed number of queries whatever its size: one for the
 * rows, one per child table (joined to the same selection), children attached in memory. */

/* The selection is "FROM microservices m LEFT JOIN applications a ... WHERE <where>"; every
 * query below repeats it with the same parameters. */
#define MSVC_FROM " FROM microservices m LEFT JOIN applications a ON a.id = m.application_id"

static const char MSVC_COLUMNS[] =
    "SELECT m.uuid, m.name, m.config, m.root_host_access AS \"rootHostAccess:bool\","
    " m.log_size AS \"logSize\", m.marked_for_delete AS \"delete:bool\","
    " m.delete_with_cleanup AS \"deleteWithCleanup:bool\", m.catalog_item_id AS \"catalogItemId\","
    " m.registry_id AS \"registryId\", m.fog_uuid AS \"iofogUuid\", m.user_id AS \"userId\","
    " m.application_id AS \"applicationId\", m.application_id AS \"flowId\", a.name AS application,"
    " m.desired_state AS \"desiredState\", m.created_at AS \"createdAt:iso\","
    " m.updated_at AS \"updatedAt:iso\"" MSVC_FROM;

static const struct {
    const char *key;
    const char *select; /* columns, "uuid" first; the child table joined to the selection */
    const char *order;
    const char *flatten; /* single column kept as the array item, or NULL for objects */
} msvc_children[] = {
    {"ports",
     "SELECT c.microservice_uuid AS uuid, c.port_internal AS internal,"
     " c.port_external AS external, c.protocol" MSVC_FROM
     " JOIN microservice_ports c ON c.microservice_uuid = m.uuid",
     " ORDER BY c.id",
     NULL},
    {"volumeMappings",
     "SELECT c.microservice_uuid AS uuid, c.id, c.host_destination AS \"hostDestination\","
     " c.container_destination AS \"containerDestination\", c.access_mode AS \"accessMode\","
     " c.type" MSVC_FROM " JOIN volume_mappings c ON c.microservice_uuid = m.uuid",
     " ORDER BY c.id",
     NULL},
    {"routes",
     "SELECT c.source_microservice_uuid AS uuid, c.dest_microservice_uuid AS d" MSVC_FROM
     " JOIN routings c ON c.source_microservice_uuid = m.uuid",
     " ORDER BY c.id",
     "d"},
    {"env",
     "SELECT c.microservice_uuid AS uuid, c.key, c.value" MSVC_FROM
     " JOIN microservice_envs c ON c.microservice_uuid = m.uuid",
     " ORDER BY c.id",
     NULL},
    {"cmd",
     "SELECT c.microservice_uuid AS uuid, c.cmd" MSVC_FROM
     " JOIN microservice_args c ON c.microservice_uuid = m.uuid",
     " ORDER BY c.id",
     "cmd"},
    {"extraHosts",
     "SELECT c.microservice_uuid AS uuid, c.name, c.template AS address, c.value" MSVC_FROM
     " JOIN microservice_extra_hosts c ON c.microservice_uuid = m.uuid",
     " ORDER BY c.id",
     NULL},
    {"images",
     "SELECT m.uuid AS uuid, c.container_image AS \"containerImage\", c.fog_type_id AS "
     "fogTypeId" MSVC_FROM " JOIN catalog_item_images c ON c.microservice_uuid = m.uuid",
     " ORDER BY c.fog_type_id",
     NULL},
};

static const char MSVC_STATUS[] =
    "SELECT c.microservice_uuid AS uuid, c.status, c.operating_duration AS \"operatingDuration\","
    " c.start_time AS \"startTime\", c.cpu_usage AS \"cpuUsage\", c.memory_usage AS "
    "\"memoryUsage\","
    " c.container_id AS \"containerId\", c.percentage, c.error_message AS "
    "\"errorMessage\", c.restarts" MSVC_FROM
    " JOIN microservice_statuses c ON c.microservice_uuid = m.uuid";

static iof_err select_rows(struct ctl_call *call,
                           const char *head,
                           const char *where,
                           const char *order,
                           const struct ctl_db_value *p,
                           size_t n,
                           json_t **rows) {
    struct iof_buf sql;
    iof_buf_init(&sql, 8192);
    iof_err err = iof_buf_printf(&sql, "%s WHERE %s%s", head, where, order);
    if (err == IOF_OK) {
        err = ctl_db_query_json(db_of(call), (const char *)sql.data, p, n, rows, call->d);
    } else {
        err = iof_fail(call->d, IOF_EINTERNAL, "query too long");
    }
    iof_buf_free(&sql);
    return err;
}

/* The GET shapes of the microservices matching where/p (no ownership check), in order. */
static iof_err msvc_json_many(struct ctl_call *call,
                              const char *where,
                              const char *order,
                              const struct ctl_db_value *p,
                              size_t n,
                              json_t **out) {
    json_t *list = NULL;
    iof_err err = select_rows(call, MSVC_COLUMNS, where, order, p, n, &list);
    if (err != IOF_OK) {
        return err;
    }
    json_t *by_uuid = json_object();
    size_t i;
    json_t *m;
    json_array_foreach(list, i, m) {
        for (size_t c = 0; c < sizeof msvc_children / sizeof msvc_children[0]; c++) {
            json_object_set_new(m, msvc_children[c].key, json_array());
        }
        json_object_set_new(m, "status", json_pack("{s:s}", "status", "QUEUED"));
        json_object_set(by_uuid, json_string_value(json_object_get(m, "uuid")), m);
    }
    for (size_t c = 0; err == IOF_OK && c <= sizeof msvc_children / sizeof msvc_children[0]; c++) {
        bool status = c == sizeof msvc_children / sizeof msvc_children[0];
        json_t *rows = NULL;
        err = select_rows(call,
                          status ? MSVC_STATUS : msvc_children[c].select,
                          where,
                          status ? "" : msvc_children[c].order,
                          p,
                          n,
                          &rows);
        json_t *row;
        json_array_foreach(rows, i, row) {
            json_t *owner =
                json_object_get(by_uuid, json_string_value(json_object_get(row, "uuid")));
            if (owner == NULL) {
                continue;
            }
            json_object_del(row, "uuid");
            if (status) {
                json_object_set(owner, "status", row);
            } else if (msvc_children[c].flatten != NULL) {
                json_array_append(json_object_get(owner, msvc_children[c].key),
                                  json_object_get(row, msvc_children[c].flatten));
            } else {
                json_array_append(json_object_get(owner, msvc_children[c].key), row);
            }
        }
        json_decref(rows);
    }
    json_decref(by_uuid);
    if (err != IOF_OK) {
        json_decref(list);
        return err;
    }
    *out = list;
    return IOF_OK;
}

/* The GET shape of a microservice known to exist (no ownership check). */
static iof_err msvc_json(struct ctl_call *call, const char *uuid, json_t **out) {
    const struct ctl_db_value p[] = {CTL_DB_TEXT(uuid)};
    json_t *list = NULL;
    iof_err err = msvc_json_many(call, "m.uuid = ?", "", p, 1, &list);
    if (err != IOF_OK) {
        return err;
    }
    json_t *one = json_incref(json_array_get(list, 0));
    json_decref(list);
    if (one == NULL) {
        return iof_fail(call->d, IOF_ENOENT, "Invalid microservice UUID");
    }
    *out = one;
    return IOF_OK;
}

iof_err ctl_msvc_get_json(struct ctl_call *call, const char *uuid, json_t **out) {
    struct ctl_msvc_ref ref = {0};
    iof_err err = ctl_msvc_find(call, uuid, &ref);
    if (err == IOF_OK) {
        err = msvc_json(call, ref.uuid, out);
    }
    ctl_msvc_ref_clear(&ref);
    return err;
}

iof_err ctl_msvc_list_json(struct ctl_call *call, int64_t application_id, json_t **out) {
    const struct ctl_db_value p[] = {CTL_DB_BOOL(call->admin),
                                     CTL_DB_INT(call->user_id),
                                     CTL_DB_INT(application_id),
                                     CTL_DB_INT(application_id)};
    return msvc_json_many(
        call,
        "a.id IS NOT NULL AND m.marked_for_delete = 0 AND (? = 1 OR m.user_id = ?)"
        " AND (? = 0 OR m.application_id = ?)",
        " ORDER BY a.name, m.name",
        p,
        4,
        out);
}

/* ---- create ---- */

static iof_err
resolve_app(struct ctl_call *call, int64_t application_id, const json_t *body, json_t **app) {
    if (application_id > 0) {
        return ctl_msvc_app_by_id(call, application_id, app);
    }
    const json_t *a = json_object_get(body, "application");
    if (a == NULL || json_is_null(a)) {
        a = json_object_get(body, "flowId");
    }
    if (json_is_string(a)) {
        return ctl_msvc_app_by_name(call, json_string_value(a), app);
    }
    if (json_is_integer(a)) {
        return ctl_msvc_app_by_id(call, (int64_t)json_integer_value(a), app);
    }
    if (a == NULL || json_is_null(a)) {
        return iof_fail(call->d, IOF_EINVAL, "Required field 'application' is missing");
    }
    return iof_fail(call->d, IOF_EINVAL, "Invalid format for field 'application'");
}

static iof_err create_in_tx(struct ctl_call *call,
                            int64_t application_id,
                            const json_t *body,
                            struct msvc_in *in,
                            char uuid[33]) {
    json_t *app = NULL, *fog = NULL;
    iof_err err = resolve_app(call, application_id, body, &app);
    int64_t app_id = ctl_msvc_jint(app, "id");
    int64_t owner = ctl_msvc_jint(app, "userId");
    json_decref(app);
    if (err != IOF_OK || (err = check_name_free(call, app_id, in->name, NULL)) != IOF_OK) {
        return err;
    }
    int64_t registry = 1;
    if (in->catalog_id > 0) {
        err = check_catalog(call, in->catalog_id, &registry);
    } else if (json_array_size(in->images) == 0) {
        err = iof_fail(call->d, IOF_EINVAL, "Either 'catalogItemId' or 'images' is required");
    }
    if (err == IOF_OK && in->has_registry) {
        registry = in->registry_id;
    }
    if (err == IOF_OK) {
        err = check_registry(call, registry);
    }
    if (err == IOF_OK && (in->fog_uuid != NULL || in->agent_name != NULL)) {
        err = find_fog(call, in, &fog);
    }
    if (err == IOF_OK) {
        err = ctl_uuid_new(uuid);
    }
    const char *fog_uuid = json_string_value(json_object_get(fog, "uuid"));
    int64_t now = iof_time_now_ms();
    if (err == IOF_OK) {
        const struct ctl_db_value p[] = {
            CTL_DB_TEXT(uuid),
            CTL_DB_TEXT(in->name),
            CTL_DB_TEXT(in->config != NULL ? in->config : "{}"),
            CTL_DB_INT(now),
            CTL_DB_BOOL(in->root),
            CTL_DB_INT(in->has_log_size ? in->log_size : 1),
            in->catalog_id > 0 ? CTL_DB_INT(in->catalog_id) : CTL_DB_NULLV,
            CTL_DB_INT(registry),
            CTL_DB_TEXT(fog_uuid),
            CTL_DB_INT(app_id),
            owner > 0 ? CTL_DB_INT(owner) : CTL_DB_NULLV,
            CTL_DB_INT(now),
            CTL_DB_INT(now),
        };
        err = ctl_msvc_exec(call,
                            "INSERT INTO microservices (uuid, name, config, config_last_updated,"
                            " root_host_access, log_size, catalog_item_id, registry_id, fog_uuid,"
                            " application_id, user_id, created_at, updated_at)"
                            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            p,
                            13,
                            NULL);
        if (err == IOF_EEXIST) {
            err = iof_fail(call->d, IOF_EEXIST, "Duplicate name '%s'", in->name);
        }
    }
    const struct ctl_db_value id[] = {CTL_DB_TEXT(uuid)};
    if (err == IOF_OK) {
        err = ctl_msvc_exec(
            call, "INSERT INTO microservice_statuses (microservice_uuid) VALUES (?)", id, 1, NULL);
    }
    if (err == IOF_OK && in->catalog_id == 0) {
        err = write_images(call, uuid, in->images);
    }
    if (err == IOF_OK && in->ports != NULL) {
        err = write_ports(call, uuid, owner, in->ports);
    }
    if (err == IOF_OK && in->volumes != NULL) {
        err = write_volumes(call, uuid, in->volumes);
    }
    if (err == IOF_OK && in->env != NULL) {
        err = write_env(call, uuid, in->env);
    }
    if (err == IOF_OK && in->cmd != NULL) {
        err = write_cmd(call, uuid, in->cmd);
    }
    if (err == IOF_OK && in->extra_hosts != NULL) {
        err = write_extra_hosts(call, uuid, in->extra_hosts);
    }
    if (err == IOF_OK && fog != NULL) {
        err = check_image_for(call, uuid, ctl_msvc_jint(fog, "type"));
    }
    if (err == IOF_OK) {
        err = ctl_msvc_check_ports(call, uuid);
    }
    size_t i;
    const json_t *dest;
    json_array_foreach(in->routes, i, dest) {
        if (err == IOF_OK && !json_is_string(dest)) {
            err = bad_item(call, "routes", i, "a microservice uuid expected");
        }
        if (err == IOF_OK) {
            err = ctl_route_create_uuids(call, NULL, uuid, json_string_value(dest));
        }
    }
    if (err == IOF_OK) {
        err = ctl_msvc_raise(call, fog_uuid, CTL_MSVC_FLAGS_COMMON);
    }
    json_decref(fog);
    return err;
}

iof_err ctl_msvc_create(struct ctl_call *call,
                        int64_t application_id,
                        const json_t *body,
                        char uuid_out[33]) {
    struct msvc_in in = {0};
    iof_err err = in_parse(call, body, &in);
    if (err == IOF_OK && in.name == NULL) {
        err = iof_fail(call->d, IOF_EINVAL, "Required field 'name' is missing");
    }
    bool owned = false;
    if (err != IOF_OK || (err = ctl_msvc_tx_begin(call, &owned)) != IOF_OK) {
        in_clear(&in);
        return err;
    }
    char uuid[CTL_UUID_LEN + 1] = {0};
    err = ctl_msvc_tx_end(call, owned, create_in_tx(call, application_id, body, &in, uuid));
    in_clear(&in);
    if (err == IOF_OK) {
        memcpy(uuid_out, uuid, sizeof uuid);
    }
    return err;
}

/* ---- update ---- */

/* Keys of the GET shape whose change means the container must be recreated. */
static bool needs_rebuild(const json_t *before, const json_t *after) {
    static const char *const keys[] = {"images",
                                       "catalogItemId",
                                       "registryId",
                                       "rootHostAccess",
                                       "env",
                                       "cmd",
                                       "volumeMappings",
                                       "ports",
                                       "extraHosts"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        json_t *a = json_object_get(before, keys[i]), *b = json_object_get(after, keys[i]);
        if (strcmp(keys[i], "volumeMappings") == 0) {
            /* ids change when the list is rewritten: compare without them */
            json_t *ca = json_deep_copy(a), *cb = json_deep_copy(b);
            size_t k;
            json_t *v;
            json_array_foreach(ca, k, v) {
                (void)json_object_del(v, "id");
            }
            json_array_foreach(cb, k, v) {
                (void)json_object_del(v, "id");
            }
            bool same = json_equal(ca, cb);
            json_decref(ca);
            json_decref(cb);
            if (!same) {
                return true;
            }
        } else if (!json_equal(a, b)) {
            return true;
        }
    }
    return false;
}

static iof_err update_in_tx(struct ctl_call *call, const char *uuid, struct msvc_in *in) {
    struct ctl_msvc_ref ref = {0};
    json_t *before = NULL, *after = NULL, *fog = NULL;
    iof_err err = ctl_msvc_find(call, uuid, &ref);
    if (err == IOF_OK && ref.system && !call->admin) {
        err = iof_fail(call->d, IOF_EINVAL, "System microservices cannot be changed");
    }
    if (err == IOF_OK) {
        err = msvc_json(call, ref.uuid, &before);
    }
    if (err == IOF_OK && in->name != NULL) {
        err = check_name_free(call, ref.app_id, in->name, ref.uuid);
    }
    int64_t registry = ref.registry_id;
    if (err == IOF_OK && in->catalog_id > 0) {
        err = check_catalog(call, in->catalog_id, &registry);
    }
    if (err == IOF_OK && in->has_registry) {
        registry = in->registry_id;
    }
    if (err == IOF_OK && registry != ref.registry_id) {
        err = check_registry(call, registry);
    }
    if (err == IOF_OK && (in->fog_uuid != NULL || in->agent_name != NULL)) {
        err = find_fog(call, in, &fog);
    }
    const char *old_fog = ref.fog;
    const char *new_fog = fog != NULL ? json_string_value(json_object_get(fog, "uuid")) : old_fog;
    bool moved = fog != NULL && (old_fog == NULL || strcmp(old_fog, new_fog) != 0);
    int64_t now = iof_time_now_ms();
    if (err == IOF_OK) {
        const struct ctl_db_value p[] = {
            CTL_DB_TEXT(in->name),
            CTL_DB_TEXT(in->config),
            CTL_DB_TEXT(in->config),
            CTL_DB_INT(now),
            in->has_root ? CTL_DB_BOOL(in->root) : CTL_DB_NULLV,
            in->has_log_size ? CTL_DB_INT(in->log_size) : CTL_DB_NULLV,
            CTL_DB_INT(registry),
            CTL_DB_TEXT(new_fog),
            CTL_DB_INT(now),
            CTL_DB_TEXT(ref.uuid),
        };
        err = ctl_msvc_exec(
            call,
            "UPDATE microservices SET name = COALESCE(?, name),"
            " config = COALESCE(?, config),"
            " config_last_updated = CASE WHEN CAST(? AS TEXT) IS NULL THEN config_last_updated"
            " ELSE ? END,"
            " root_host_access = COALESCE(?, root_host_access),"
            " log_size = COALESCE(?, log_size), registry_id = ?, fog_uuid = ?,"
            " updated_at = ? WHERE uuid = ?",
            p,
            10,
            NULL);
        if (err == IOF_EEXIST) {
            err = iof_fail(call->d, IOF_EEXIST, "Duplicate name '%s'", in->name);
        }
    }
    const struct ctl_db_value id[] = {CTL_DB_TEXT(ref.uuid)};
    if (err == IOF_OK && in->catalog_id > 0) {
        const struct ctl_db_value p[] = {CTL_DB_INT(in->catalog_id), CTL_DB_TEXT(ref.uuid)};
        if ((err = ctl_msvc_exec(call,
                                 "UPDATE microservices SET catalog_item_id = ? WHERE uuid = ?",
                                 p,
                                 2,
                                 NULL)) == IOF_OK) {
            err = ctl_msvc_exec(
                call, "DELETE FROM catalog_item_images WHERE microservice_uuid = ?", id, 1, NULL);
        }
    } else if (err == IOF_OK && in->images != NULL) {
        if (json_array_size(in->images) == 0) {
            err = iof_fail(call->d, IOF_EINVAL, "Invalid format for field 'images': empty");
        }
        if (err == IOF_OK &&
            (err = ctl_msvc_exec(call,
                                 "UPDATE microservices SET catalog_item_id = NULL WHERE uuid = ?",
                                 id,
                                 1,
                                 NULL)) == IOF_OK) {
            err = write_images(call, ref.uuid, in->images);
        }
    }
    if (err == IOF_OK && moved) {
        err = ctl_msvc_exec(call,
                            "UPDATE microservice_statuses SET status = 'QUEUED',"
                            " operating_duration = 0, start_time = 0, cpu_usage = 0,"
                            " memory_usage = 0, container_id = '', percentage = 0,"
                            " error_message = '' WHERE microservice_uuid = ?",
                            id,
                            1,
                            NULL);
    }
    if (err == IOF_OK && in->ports != NULL) {
        err = write_ports(call, ref.uuid, ref.user_id, in->ports);
    }
    if (err == IOF_OK && in->volumes != NULL) {
        err = write_volumes(call, ref.uuid, in->volumes);
    }
    if (err == IOF_OK && in->env != NULL) {
        err = write_env(call, ref.uuid, in->env);
    }
    if (err == IOF_OK && in->cmd != NULL) {
        err = write_cmd(call, ref.uuid, in->cmd);
    }
    if (err == IOF_OK && in->extra_hosts != NULL) {
        err = write_extra_hosts(call, ref.uuid, in->extra_hosts);
    }
    if (err == IOF_OK && new_fog != NULL) {
        json_t *f = NULL;
        const struct ctl_db_value fp[] = {CTL_DB_TEXT(new_fog)};
        err = ctl_db_query_json_one(db_of(call),
                                    "SELECT fog_type_id AS type FROM fogs WHERE uuid = ?",
                                    fp,
                                    1,
                                    "Invalid ioFog UUID",
                                    &f,
                                    call->d);
        if (err == IOF_OK) {
            err = check_image_for(call, ref.uuid, ctl_msvc_jint(f, "type"));
        }
        json_decref(f);
    }
    if (err == IOF_OK) {
        err = ctl_msvc_check_ports(call, ref.uuid);
    }
    if (err == IOF_OK) {
        err = msvc_json(call, ref.uuid, &after);
    }
    if (err == IOF_OK && (in->rebuild || needs_rebuild(before, after))) {
        err =
            ctl_msvc_exec(call, "UPDATE microservices SET rebuild = 1 WHERE uuid = ?", id, 1, NULL);
    }
    if (err == IOF_OK) {
        err = ctl_msvc_raise(call, old_fog, CTL_MSVC_FLAGS_FULL);
    }
    if (err == IOF_OK && moved) {
        err = ctl_msvc_raise(call, new_fog, CTL_MSVC_FLAGS_FULL);
    }
    if (err == IOF_OK && moved) {
        /* the other ends of its routes learn where it went */
        json_t *rows = NULL;
        const struct ctl_db_value rp[] = {CTL_DB_TEXT(ref.uuid), CTL_DB_TEXT(ref.uuid)};
        err = ctl_db_query_json(db_of(call),
                                "SELECT DISTINCT m.fog_uuid AS fog FROM routings r"
                                " JOIN microservices m ON m.uuid IN (r.source_microservice_uuid,"
                                " r.dest_microservice_uuid)"
                                " WHERE r.source_microservice_uuid = ? OR"
                                " r.dest_microservice_uuid = ?",
                                rp,
                                2,
                                &rows,
                                call->d);
        size_t i;
        json_t *row;
        json_array_foreach(rows, i, row) {
            if (err == IOF_OK) {
                err = ctl_msvc_raise(
                    call, json_string_value(json_object_get(row, "fog")), CTL_FLAG_ROUTING);
            }
        }
        json_decref(rows);
    }
    json_decref(before);
    json_decref(after);
    json_decref(fog);
    ctl_msvc_ref_clear(&ref);
    return err;
}

iof_err ctl_msvc_update(struct ctl_call *call, const char *uuid, const json_t *body) {
    struct msvc_in in = {0};
    iof_err err = in_parse(call, body, &in);
    bool owned = false;
    if (err != IOF_OK || (err = ctl_msvc_tx_begin(call, &owned)) != IOF_OK) {
        in_clear(&in);
        return err;
    }
    err = ctl_msvc_tx_end(call, owned, update_in_tx(call, uuid, &in));
    in_clear(&in);
    return err;
}

/* ---- delete ---- */

static iof_err delete_in_tx(struct ctl_call *call, const char *uuid, bool with_cleanup) {
    struct ctl_msvc_ref ref = {0};
    iof_err err = ctl_msvc_find(call, uuid, &ref);
    if (err == IOF_OK && ref.system && !call->admin) {
        err = iof_fail(call->d, IOF_EINVAL, "System microservices cannot be deleted");
    }
    json_t *rows = NULL;
    const struct ctl_db_value id[] = {CTL_DB_TEXT(ref.uuid)};
    const struct ctl_db_value id2[] = {CTL_DB_TEXT(ref.uuid), CTL_DB_TEXT(ref.uuid)};
    if (err == IOF_OK) {
        /* the nodes of the other ends of its routes */
        err =
            ctl_db_query_json(db_of(call),
                              "SELECT m.fog_uuid AS fog FROM routings r JOIN microservices m"
                              " ON m.uuid = CASE WHEN r.source_microservice_uuid = ?"
                              " THEN r.dest_microservice_uuid ELSE r.source_microservice_uuid END"
                              " WHERE ? IN (r.source_microservice_uuid, r.dest_microservice_uuid)",
                              id2,
                              2,
                              &rows,
                              call->d);
    }
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) {
        if (err == IOF_OK) {
            err = ctl_msvc_raise(
                call, json_string_value(json_object_get(row, "fog")), CTL_MSVC_FLAGS_FULL);
        }
    }
    bool had_routes = json_array_size(rows) > 0;
    json_decref(rows);
    if (err == IOF_OK) {
        err = ctl_msvc_exec(call,
                            "DELETE FROM routings WHERE source_microservice_uuid = ?"
                            " OR dest_microservice_uuid = ?",
                            id2,
                            2,
                            NULL);
    }
    if (err == IOF_OK) {
        /* An agent that is running removes the container and then reports it gone; without one
         * there is nothing to wait for. */
        const struct ctl_db_value p[] = {CTL_DB_BOOL(with_cleanup), CTL_DB_TEXT(ref.uuid)};
        int64_t marked = 0;
        err = ctl_msvc_exec(call,
                            "UPDATE microservices SET marked_for_delete = 1,"
                            " delete_with_cleanup = ? WHERE uuid = ? AND fog_uuid IN"
                            " (SELECT uuid FROM fogs WHERE daemon_status = 'RUNNING')",
                            p,
                            2,
                            &marked);
        if (err == IOF_OK && marked == 0) {
            err = ctl_msvc_exec(call, "DELETE FROM microservices WHERE uuid = ?", id, 1, NULL);
        }
    }
    if (err == IOF_OK) {
        err =
            ctl_msvc_raise(call, ref.fog, had_routes ? CTL_MSVC_FLAGS_FULL : CTL_MSVC_FLAGS_COMMON);
    }
    ctl_msvc_ref_clear(&ref);
    return err;
}

iof_err ctl_msvc_delete_ex(struct ctl_call *call, const char *uuid, bool with_cleanup) {
    bool owned = false;
    iof_err err = ctl_msvc_tx_begin(call, &owned);
    if (err != IOF_OK) {
        return err;
    }
    return ctl_msvc_tx_end(call, owned, delete_in_tx(call, uuid, with_cleanup));
}

iof_err ctl_msvc_delete(struct ctl_call *call, const char *uuid) {
    return ctl_msvc_delete_ex(call, uuid, false);
}
