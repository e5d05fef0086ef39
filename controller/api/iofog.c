/* /api/v3/iofog-list and /api/v3/iofog/...: edge nodes ("fogs") as the classic Controller offers
 * them (controller.md §3.3, §5.4): create, list with filters, get, update, delete, provisioning
 * keys, upgrade/rollback, reboot, prune and the HAL reports.
 *
 * Where we differ from the classic Controller, on purpose:
 * - Ownership: a node that is not the caller's answers 404 as if absent. The system node is
 *   readable by every user (classic) but changed only by its owner or the admin credential.
 * - Routers: routerMode, ports, host, upstreamRouters and networkRouter are validated, stored and
 *   returned as classic clients expect, but no router or proxy microservice is created (there are
 *   no Qpid routers in this system). So a normal node needs no system node or default router:
 *   without one its upstreamRouters is simply empty, and `host` is required only for interior
 *   nodes (with their inter-router and edge ports), not for the default edge mode.
 * - The `config` change flag is raised by PATCH only when something the agent configures itself
 *   from actually changed (not for name, description, location or tags).
 * - Provisioning keys come from the CSPRNG, are stored as SHA-256 digests only and are single-use.
 * - DELETE removes the node with everything that cascades from it (microservices, router row,
 *   flags, tokens) in one transaction; deleteNode is raised first, in the same transaction, which
 *   matters only to a long-poll woken by the raise: once the row is gone the agent's token is gone
 *   too, so the agent learns of the deletion from the 401/404 of its next call (deprovisioning is
 *   handled on the agent-facing side).
 * - HAL and Bluetooth system microservices are created/removed when abstractedHardwareEnabled /
 *   bluetoothEnabled change, as the classic Controller does. */
#include "controller/api/iofog.h"

#include "controller/server/auth.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "common/random.h"
#include "controller/domain/changes.h"
#include "controller/store/db_json.h"
#include "controller/domain/validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_ROUTER       "default-router"
#define MAX_LIST_ITEMS       64 /* tags, upstreamRouters */
#define MAX_FILTERS          32
#define PROVISION_KEY_LEN    8
#define PROVISION_KEY_TTL_MS (20 * 60 * 1000)

/* Every stored column of a node under its classic key (§5.4), plus the router ports of its own
 * router row (FOG_SELECT, followed by a WHERE clause). */
#define FOG_COLUMNS                                                                                \
    " f.uuid, f.name, f.location, f.gps_mode AS \"gpsMode\", f.latitude, f.longitude,"             \
    " f.description, f.host, f.is_system AS \"isSystem:bool\", f.fog_type_id AS \"fogTypeId\","    \
    " f.user_id AS \"userId\", f.time_zone AS \"timeZone\", f.created_at AS \"createdAt:iso\","    \
    " f.updated_at AS \"updatedAt:iso\", f.last_active AS \"lastActive\","                         \
    " f.daemon_status AS \"daemonStatus\", f.daemon_operating_duration AS "                        \
    "\"daemonOperatingDuration\","                                                                 \
    " f.daemon_last_start AS \"daemonLastStart\", f.memory_usage AS \"memoryUsage\","              \
    " f.disk_usage AS \"diskUsage\", f.cpu_usage AS \"cpuUsage\", f.memory_violation AS "          \
    "\"memoryViolation\","                                                                         \
    " f.disk_violation AS \"diskViolation\", f.cpu_violation AS \"cpuViolation\","                 \
    " f.system_available_disk AS \"systemAvailableDisk\","                                         \
    " f.system_available_memory AS \"systemAvailableMemory\", f.system_total_cpu AS "              \
    "\"systemTotalCpu\","                                                                          \
    " f.security_status AS \"securityStatus\", f.security_violation_info AS "                      \
    "\"securityViolationInfo\","                                                                   \
    " f.catalog_item_status AS \"catalogItemStatus\", f.repository_count AS \"repositoryCount\","  \
    " f.repository_status AS \"repositoryStatus\", f.system_time AS \"systemTime\","               \
    " f.last_status_time AS \"lastStatusTime\", f.ip_address AS \"ipAddress\","                    \
    " f.ip_address_external AS \"ipAddressExternal\", f.processed_messages AS "                    \
    "\"processedMessages\","                                                                       \
    " f.catalog_item_message_counts AS \"catalogItemMessageCounts\","                              \
    " f.message_speed AS \"messageSpeed\", f.last_command_time AS \"lastCommandTime\", f.version," \
    " f.is_ready_to_upgrade AS \"isReadyToUpgrade:bool\","                                         \
    " f.is_ready_to_rollback AS \"isReadyToRollback:bool\", f.tunnel,"                             \
    " f.network_interface AS \"networkInterface\", f.docker_url AS \"dockerUrl\","                 \
    " f.disk_limit AS \"diskLimit\", f.disk_directory AS \"diskDirectory\","                       \
    " f.memory_limit AS \"memoryLimit\", f.cpu_limit AS \"cpuLimit\", f.log_limit AS "             \
    "\"logLimit\","                                                                                \
    " f.log_directory AS \"logDirectory\", f.log_file_count AS \"logFileCount\","                  \
    " f.status_frequency AS \"statusFrequency\", f.change_frequency AS \"changeFrequency\","       \
    " f.device_scan_frequency AS \"deviceScanFrequency\","                                         \
    " f.bluetooth_enabled AS \"bluetoothEnabled:bool\","                                           \
    " f.abstracted_hardware_enabled AS \"abstractedHardwareEnabled:bool\","                        \
    " f.watchdog_enabled AS \"watchdogEnabled:bool\","                                             \
    " f.docker_pruning_frequency AS \"dockerPruningFrequency\","                                   \
    " f.available_disk_threshold AS \"availableDiskThreshold\", f.log_level AS \"logLevel\","      \
    " f.router_id AS \"routerId\", f.router_mode AS \"routerMode\", r.messaging_port AS "          \
    "\"messagingPort\","                                                                           \
    " r.inter_router_port AS \"interRouterPort\", r.edge_router_port AS \"edgeRouterPort\""
#define FOG_SELECT "SELECT" FOG_COLUMNS " FROM fogs f LEFT JOIN routers r ON r.fog_uuid = f.uuid"

/* (admin, user id, system visible): admin sees all, others their own (and the system node). */
static const char SQL_FIND[] =
    FOG_SELECT " WHERE f.uuid = ? AND (? = 1 OR f.user_id = ? OR (? = 1 AND f.is_system = 1))";

/* Keys of a node whose change the agent must apply from GET /agent/config (the `config` flag). */
static const char *const config_keys[] = {
    "networkInterface",
    "dockerUrl",
    "diskLimit",
    "diskDirectory",
    "memoryLimit",
    "cpuLimit",
    "logLimit",
    "logDirectory",
    "logFileCount",
    "statusFrequency",
    "changeFrequency",
    "deviceScanFrequency",
    "watchdogEnabled",
    "latitude",
    "longitude",
    "gpsMode",
    "logLevel",
    "timeZone",
    "availableDiskThreshold",
    "dockerPruningFrequency",
    "host",
    "routerMode",
    "routerId",
    "messagingPort",
};

/* ---- transactions ------------------------------------------------------------------------ */

static struct ctl_db *db_of(struct ctl_call *call) {
    return ctl_store_db(call->srv->store);
}

/* Commits when err is IOF_OK, else rolls back keeping the first error's message. */
static iof_err tx_end(struct ctl_call *call, iof_err err) {
    if (err == IOF_OK) {
        return ctl_db_commit(db_of(call), call->d);
    }
    if (ctl_db_rollback(db_of(call), NULL) != IOF_OK) {
        IOF_WARN("iofog", "rollback failed after: %s", iof_diag_text(call->d, err));
    }
    return err;
}

/* ---- lookups ----------------------------------------------------------------------------- */

iof_err ctl_iofog_find(struct ctl_call *call,
                       const char *uuid,
                       enum ctl_iofog_access access,
                       json_t **out) {
    const struct ctl_db_value p[] = {
        CTL_DB_TEXT(uuid),
        CTL_DB_BOOL(call->admin),
        CTL_DB_INT(call->user_id),
        CTL_DB_BOOL(access == CTL_IOFOG_READ),
    };
    char msg[128];
    (void)snprintf(msg, sizeof msg, "Invalid ioFog UUID '%.64s'", uuid != NULL ? uuid : "");
    json_t *fog = NULL;
    iof_err err = ctl_db_query_json_one(db_of(call), SQL_FIND, p, 4, msg, &fog, call->d);
    if (err != IOF_OK) {
        return err;
    }
    if (out != NULL) {
        *out = fog;
    } else {
        json_decref(fog);
    }
    return IOF_OK;
}

/* One integer from the first row of sql (IOF_ENOENT when there is no row). */
static iof_err query_int(
    struct ctl_call *call, const char *sql, const struct ctl_db_value *p, size_t n, int64_t *out) {
    json_t *row = NULL;
    iof_err err = ctl_db_query_json_one(db_of(call), sql, p, n, "not found", &row, call->d);
    if (err != IOF_OK) {
        return err;
    }
    json_t *v = json_object_iter_value(json_object_iter(row));
    int64_t value = json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
    json_decref(row);
    *out = value;
    return IOF_OK;
}

/* Runs one statement that returns nothing. */
static iof_err
exec(struct ctl_call *call, const char *sql, const struct ctl_db_value *p, size_t n) {
    return ctl_db_exec(db_of(call), sql, p, n, NULL, NULL, NULL, call->d);
}

/* ---- the Fog object of GET and list ------------------------------------------------------- */

/* Adds tags, upstreamRouters / networkRouter and edgeResources to a node read with FOG_SELECT. */
static iof_err add_extras(struct ctl_call *call, json_t *fog) {
    const char *uuid = json_string_value(json_object_get(fog, "uuid"));
    const struct ctl_db_value p[] = {CTL_DB_TEXT(uuid)};
    json_t *rows = NULL;
    iof_err err = ctl_db_query_json(db_of(call),
                                    "SELECT t.name FROM fog_tags ft JOIN tags t ON t.id = ft.tag_id"
                                    " WHERE ft.fog_uuid = ? ORDER BY t.name",
                                    p,
                                    1,
                                    &rows,
                                    call->d);
    json_t *tags = json_array();
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) {
        (void)json_array_append(tags, json_object_get(row, "name"));
    }
    json_decref(rows);
    rows = NULL;
    (void)json_object_set_new(fog, "tags", tags);
    if (err != IOF_OK) {
        return err;
    }

    const char *mode = json_string_value(json_object_get(fog, "routerMode"));
    json_t *ups = json_array();
    (void)json_object_set_new(fog, "upstreamRouters", ups);
    if (mode != NULL && strcmp(mode, "none") == 0) {
        err = ctl_db_query_json(
            db_of(call),
            "SELECT CASE WHEN r.is_default = 1 THEN '" DEFAULT_ROUTER "' ELSE r.fog_uuid END AS id"
            " FROM fogs f JOIN routers r ON r.id = f.router_id WHERE f.uuid = ?",
            p,
            1,
            &rows,
            call->d);
        json_t *nr = json_object_get(json_array_get(rows, 0), "id");
        (void)json_object_set(fog, "networkRouter", nr != NULL ? nr : json_null());
    } else {
        err = ctl_db_query_json(db_of(call),
                                "SELECT CASE WHEN d.is_default = 1 THEN '" DEFAULT_ROUTER
                                "' ELSE d.fog_uuid END AS id FROM routers s"
                                " JOIN router_connections c ON c.source_router_id = s.id"
                                " JOIN routers d ON d.id = c.dest_router_id"
                                " WHERE s.fog_uuid = ? ORDER BY c.id",
                                p,
                                1,
                                &rows,
                                call->d);
        json_array_foreach(rows, i, row) {
            (void)json_array_append(ups, json_object_get(row, "id"));
        }
    }
    json_decref(rows);
    rows = NULL;
    if (err != IOF_OK) {
        return err;
    }

    err = ctl_db_query_json(db_of(call),
                            "SELECT e.name, e.version, e.description,"
                            " e.interface_protocol AS \"interfaceProtocol\", e.display_name AS dn,"
                            " e.display_icon AS di, e.display_color AS dc"
                            " FROM fog_edge_resources fe JOIN edge_resources e"
                            " ON e.id = fe.edge_resource_id WHERE fe.fog_uuid = ?"
                            " ORDER BY e.name, e.version",
                            p,
                            1,
                            &rows,
                            call->d);
    json_array_foreach(rows, i, row) {
        json_t *display = json_object();
        (void)json_object_set(display, "name", json_object_get(row, "dn"));
        (void)json_object_set(display, "icon", json_object_get(row, "di"));
        (void)json_object_set(display, "color", json_object_get(row, "dc"));
        (void)json_object_del(row, "dn");
        (void)json_object_del(row, "di");
        (void)json_object_del(row, "dc");
        (void)json_object_set_new(row, "display", display);
    }
    (void)json_object_set_new(fog, "edgeResources", rows != NULL ? rows : json_array());
    return err;
}

/* ---- input ------------------------------------------------------------------------------- */

enum kind { K_STR, K_INT, K_NUM, K_BOOL };

struct field {
    const char *key;
    enum kind kind;
    double min; /* strings: minimum length */
    double max; /* ignored when max < min */
};

/* The node columns PATCH and POST set, in the order of SQL_UPDATE's first placeholders. */
static const struct field fields[] = {
    {"name", K_STR, 1, 0},
    {"location", K_STR, 0, -1},
    {"latitude", K_NUM, -90, 90},
    {"longitude", K_NUM, -180, 180},
    {"description", K_STR, 0, -1},
    {"networkInterface", K_STR, 0, -1},
    {"dockerUrl", K_STR, 0, -1},
    {"diskLimit", K_INT, 0, 1048576},
    {"diskDirectory", K_STR, 0, -1},
    {"memoryLimit", K_INT, 0, 1048576},
    {"cpuLimit", K_INT, 0, 100},
    {"logLimit", K_INT, 0, 100},
    {"logDirectory", K_STR, 0, -1},
    {"logFileCount", K_INT, 0, 100},
    {"statusFrequency", K_INT, 0, INT32_MAX},
    {"changeFrequency", K_INT, 0, INT32_MAX},
    {"deviceScanFrequency", K_INT, 0, INT32_MAX},
    {"bluetoothEnabled", K_BOOL, 0, -1},
    {"watchdogEnabled", K_BOOL, 0, -1},
    {"abstractedHardwareEnabled", K_BOOL, 0, -1},
    {"fogType", K_INT, 0, 2},
    {"dockerPruningFrequency", K_INT, 0, INT32_MAX},
    {"availableDiskThreshold", K_INT, 0, 100},
    {"logLevel", K_STR, 0, -1},
    {"isSystem", K_BOOL, 0, -1},
    {"host", K_STR, 0, -1},
    {"timeZone", K_STR, 0, -1},
};
#define N_FIELDS (sizeof fields / sizeof fields[0])
enum { F_NAME = 0, F_LAT = 2, F_LON = 3, F_BT = 17, F_HAL = 19, F_SYSTEM = 24, F_HOST = 25 };

/* A NULL parameter keeps the column as it is. */
static const char SQL_UPDATE[] =
    "UPDATE fogs SET name = COALESCE(?, name), location = COALESCE(?, location),"
    " latitude = COALESCE(?, latitude), longitude = COALESCE(?, longitude),"
    " description = COALESCE(?, description),"
    " network_interface = COALESCE(?, network_interface), docker_url = COALESCE(?, docker_url),"
    " disk_limit = COALESCE(?, disk_limit), disk_directory = COALESCE(?, disk_directory),"
    " memory_limit = COALESCE(?, memory_limit), cpu_limit = COALESCE(?, cpu_limit),"
    " log_limit = COALESCE(?, log_limit), log_directory = COALESCE(?, log_directory),"
    " log_file_count = COALESCE(?, log_file_count),"
    " status_frequency = COALESCE(?, status_frequency),"
    " change_frequency = COALESCE(?, change_frequency),"
    " device_scan_frequency = COALESCE(?, device_scan_frequency),"
    " bluetooth_enabled = COALESCE(?, bluetooth_enabled),"
    " watchdog_enabled = COALESCE(?, watchdog_enabled),"
    " abstracted_hardware_enabled = COALESCE(?, abstracted_hardware_enabled),"
    " fog_type_id = COALESCE(?, fog_type_id),"
    " docker_pruning_frequency = COALESCE(?, docker_pruning_frequency),"
    " available_disk_threshold = COALESCE(?, available_disk_threshold),"
    " log_level = COALESCE(?, log_level), is_system = COALESCE(?, is_system),"
    " host = COALESCE(?, host), time_zone = COALESCE(?, time_zone),"
    " gps_mode = CASE WHEN ? = 1 THEN 'manual' ELSE gps_mode END,"
    " router_mode = COALESCE(?, router_mode),"
    " router_id = CASE WHEN ? = 1 THEN ? ELSE router_id END,"
    " updated_at = ? WHERE uuid = ?";

struct fog_input {
    struct ctl_db_value v[N_FIELDS];               /* CTL_DB_NULL when absent */
    const char *router_mode;                       /* NULL when absent */
    int64_t messaging_port, inter_port, edge_port; /* 0 when absent */
    const json_t *upstream;                        /* array of strings, NULL when absent */
    const char *network_router;                    /* NULL when absent */
    const json_t *tags;                            /* array of strings, NULL when absent */
};

static bool given(const struct fog_input *in, size_t f) {
    return in->v[f].type != CTL_DB_NULL;
}

static bool bool_of(const struct fog_input *in, size_t f) {
    return in->v[f].u.i != 0;
}

static iof_err bad(struct ctl_call *call, const char *key) {
    return iof_fail(call->d, IOF_EINVAL, "Invalid format for field '%s'", key);
}

static iof_err get_port(struct ctl_call *call, const json_t *body, const char *key, int64_t *out) {
    int64_t v = 0;
    iof_err err = iof_json_get_int(body, key, IOF_JSON_OPTIONAL, &v, call->d);
    if (err == IOF_OK && json_object_get(body, key) != NULL &&
        !json_is_null(json_object_get(body, key))) {
        if (v < 1 || v > 65535) {
            return bad(call, key);
        }
        *out = v;
    }
    return err;
}

static iof_err
get_strings(struct ctl_call *call, const json_t *body, const char *key, const json_t **out) {
    const json_t *arr = NULL;
    iof_err err = iof_json_get_array(body, key, IOF_JSON_OPTIONAL, &arr, call->d);
    if (err != IOF_OK || arr == NULL) {
        return err;
    }
    if (json_array_size(arr) > MAX_LIST_ITEMS) {
        return iof_fail(call->d,
                        IOF_EINVAL,
                        "Invalid value for field '%s': at most %d items",
                        key,
                        MAX_LIST_ITEMS);
    }
    size_t i;
    const json_t *s;
    json_array_foreach(arr, i, s) {
        if (!json_is_string(s) || json_string_length(s) == 0) {
            return bad(call, key);
        }
    }
    *out = arr;
    return IOF_OK;
}

/* Validates the create (create = true) or update body into *in (strings borrowed from body). */
static iof_err
parse_input(struct ctl_call *call, const json_t *body, bool create, struct fog_input *in) {
    memset(in, 0, sizeof *in);
    iof_err err = IOF_OK;
    for (size_t f = 0; f < N_FIELDS && err == IOF_OK; f++) {
        const struct field *fd = &fields[f];
        enum iof_json_need need = create && (f == F_NAME || strcmp(fd->key, "fogType") == 0)
                                      ? IOF_JSON_REQUIRED
                                      : IOF_JSON_OPTIONAL;
        const json_t *raw = json_object_get(body, fd->key);
        bool present = raw != NULL && !json_is_null(raw);
        switch (fd->kind) {
            case K_STR: {
                const char *s = NULL;
                err = iof_json_get_string(body, fd->key, need, &s, call->d);
                if (err == IOF_OK && present) {
                    if ((double)strlen(s) < fd->min) {
                        err = bad(call, fd->key);
                    } else if (f == F_NAME || f == F_HOST) {
                        err = ctl_text_check(fd->key, s, call->d);
                    }
                    in->v[f] = CTL_DB_TEXT(s);
                }
                break;
            }
            case K_INT: {
                int64_t x = 0;
                err = iof_json_get_int(body, fd->key, need, &x, call->d);
                if (err == IOF_OK && present) {
                    if ((double)x < fd->min || (fd->max >= fd->min && (double)x > fd->max)) {
                        err = bad(call, fd->key);
                    }
                    in->v[f] = CTL_DB_INT(x);
                }
                break;
            }
            case K_NUM: {
                double x = 0;
                err = iof_json_get_number(body, fd->key, need, &x, call->d);
                if (err == IOF_OK && present) {
                    if (x < fd->min || x > fd->max) {
                        err = bad(call, fd->key);
                    }
                    in->v[f] = CTL_DB_REAL(x);
                }
                break;
            }
            case K_BOOL: {
                bool b = false;
                err = iof_json_get_bool(body, fd->key, need, &b, call->d);
                if (err == IOF_OK && present) {
                    in->v[f] = CTL_DB_BOOL(b);
                }
                break;
            }
        }
    }
    if (err == IOF_OK) {
        err = iof_json_get_string(body, "routerMode", IOF_JSON_OPTIONAL, &in->router_mode, call->d);
    }
    if (err == IOF_OK && in->router_mode != NULL && strcmp(in->router_mode, "none") != 0 &&
        strcmp(in->router_mode, "edge") != 0 && strcmp(in->router_mode, "interior") != 0) {
        err = iof_fail(call->d, IOF_EINVAL, "Invalid router mode '%.32s'", in->router_mode);
    }
    if (err == IOF_OK) {
        err = get_port(call, body, "messagingPort", &in->messaging_port);
    }
    if (err == IOF_OK) {
        err = get_port(call, body, "interRouterPort", &in->inter_port);
    }
    if (err == IOF_OK) {
        err = get_port(call, body, "edgeRouterPort", &in->edge_port);
    }
    if (err == IOF_OK) {
        err = get_strings(call, body, "upstreamRouters", &in->upstream);
    }
    if (err == IOF_OK) {
        err = get_strings(call, body, "tags", &in->tags);
    }
    if (err == IOF_OK) {
        err = iof_json_get_string(
            body, "networkRouter", IOF_JSON_OPTIONAL, &in->network_router, call->d);
    }
    return err;
}

/* ---- routers ----------------------------------------------------------------------------- */

/* The router row id of the node that `ref` names ("default-router" or a node uuid the caller may
 * read); IOF_EINVAL "Invalid router '<ref>'" when there is none. *interior tells its mode. */
static iof_err resolve_router(struct ctl_call *call, const char *ref, int64_t *id, bool *interior) {
    json_t *row = NULL;
    iof_err err;
    if (strcmp(ref, DEFAULT_ROUTER) == 0) {
        err = ctl_db_query_json_one(db_of(call),
                                    "SELECT id, is_edge FROM routers WHERE is_default = 1",
                                    NULL,
                                    0,
                                    "none",
                                    &row,
                                    call->d);
    } else {
        const struct ctl_db_value p[] = {
            CTL_DB_TEXT(ref), CTL_DB_BOOL(call->admin), CTL_DB_INT(call->user_id)};
        err = ctl_db_query_json_one(db_of(call),
                                    "SELECT r.id, r.is_edge FROM routers r"
                                    " JOIN fogs f ON f.uuid = r.fog_uuid WHERE r.fog_uuid = ?"
                                    " AND (? = 1 OR f.user_id = ? OR f.is_system = 1)",
                                    p,
                                    3,
                                    "none",
                                    &row,
                                    call->d);
    }
    if (err == IOF_ENOENT) {
        return iof_fail(call->d, IOF_EINVAL, "Invalid router '%.64s'", ref);
    }
    if (err != IOF_OK) {
        return err;
    }
    *id = (int64_t)json_integer_value(json_object_get(row, "id"));
    *interior = json_integer_value(json_object_get(row, "is_edge")) == 0;
    json_decref(row);
    return IOF_OK;
}

/* What decides whether a node's router settings changed (compared before and after). */
static iof_err router_state(struct ctl_call *call, const char *uuid, json_t **out) {
    const struct ctl_db_value p[] = {CTL_DB_TEXT(uuid)};
    return ctl_db_query_json_one(
        db_of(call),
        "SELECT f.router_mode AS m, f.router_id AS rid, f.host AS fh, r.is_edge AS e,"
        " r.messaging_port AS mp, r.inter_router_port AS ip, r.edge_router_port AS ep,"
        " r.host AS h"
        " FROM fogs f LEFT JOIN routers r ON r.fog_uuid = f.uuid WHERE f.uuid = ?",
        p,
        1,
        "none",
        out,
        call->d);
}

/* Applies the router settings of *in to node uuid (whose stored state is old, NULL on create):
 * creates, updates or deletes its router row and upstream links. *mode_out is the resulting mode;
 * *set_router_id / *router_id say what fogs.router_id must become. */
static iof_err apply_router(struct ctl_call *call,
                            const char *uuid,
                            const struct fog_input *in,
                            const json_t *old,
                            bool is_system,
                            const char **mode_out,
                            bool *set_router_id,
                            int64_t *router_id) {
    const char *old_mode =
        old != NULL ? json_string_value(json_object_get(old, "routerMode")) : NULL;
    const char *mode = in->router_mode != NULL ? in->router_mode
                       : old_mode != NULL      ? old_mode
                                               : "edge";
    if (is_system && strcmp(mode, "interior") != 0) {
        return iof_fail(call->d, IOF_EINVAL, "Invalid router mode '%s'", mode);
    }
    const struct ctl_db_value pu[] = {CTL_DB_TEXT(uuid)};
    int64_t own = 0;
    iof_err err = query_int(call, "SELECT id FROM routers WHERE fog_uuid = ?", pu, 1, &own);
    if (err == IOF_ENOENT) {
        own = 0;
        err = IOF_OK;
    }
    if (err != IOF_OK) {
        return err;
    }
    int64_t downstream = 0;
    if (own != 0) {
        const struct ctl_db_value pd[] = {CTL_DB_INT(own), CTL_DB_INT(own), CTL_DB_TEXT(uuid)};
        err = query_int(call,
                        "SELECT (SELECT count(*) FROM router_connections WHERE dest_router_id = ?)"
                        " + (SELECT count(*) FROM fogs WHERE router_id = ? AND uuid <> ?) AS n",
                        pd,
                        3,
                        &downstream);
        if (err != IOF_OK) {
            return err;
        }
    }
    *mode_out = mode;

    if (strcmp(mode, "none") == 0) {
        if (downstream > 0) {
            return iof_fail(call->d,
                            IOF_EINVAL,
                            "Router of ioFog node '%s' has downstream routers or nodes",
                            uuid);
        }
        if (own != 0) {
            const struct ctl_db_value pr[] = {CTL_DB_INT(own)};
            if ((err = exec(call, "DELETE FROM routers WHERE id = ?", pr, 1)) != IOF_OK) {
                return err;
            }
        }
        bool interior = false;
        int64_t id = 0;
        if (in->network_router != NULL) {
            if (strcmp(in->network_router, uuid) == 0) {
                return iof_fail(call->d, IOF_EINVAL, "Invalid router '%s'", uuid);
            }
            err = resolve_router(call, in->network_router, &id, &interior);
        } else if (old_mode == NULL || strcmp(old_mode, "none") != 0) {
            err = resolve_router(call, DEFAULT_ROUTER, &id, &interior);
            if (err == IOF_EINVAL) { /* no default router: the node is not attached to any */
                iof_diag_clear(call->d);
                err = IOF_OK;
                id = 0;
            }
        } else {
            *set_router_id = false; /* stays attached where it is */
            return IOF_OK;
        }
        if (err == IOF_OK) {
            *set_router_id = true;
            *router_id = id;
        }
        return err;
    }

    bool edge = strcmp(mode, "edge") == 0;
    const json_t *o = old;
    int64_t mp = in->messaging_port != 0 ? in->messaging_port
                 : json_is_integer(json_object_get(o, "messagingPort"))
                     ? (int64_t)json_integer_value(json_object_get(o, "messagingPort"))
                     : 5672;
    int64_t ip = in->inter_port != 0
                     ? in->inter_port
                     : (int64_t)json_integer_value(json_object_get(o, "interRouterPort"));
    int64_t ep = in->edge_port != 0
                     ? in->edge_port
                     : (int64_t)json_integer_value(json_object_get(o, "edgeRouterPort"));
    const char *host = given(in, F_HOST) ? (const char *)in->v[F_HOST].u.bytes.p
                                         : json_string_value(json_object_get(o, "host"));
    if (!edge) {
        if (ip == 0) {
            return iof_fail(call->d, IOF_EINVAL, "Required field 'interRouterPort' is missing");
        }
        if (ep == 0) {
            return iof_fail(call->d, IOF_EINVAL, "Required field 'edgeRouterPort' is missing");
        }
        if (host == NULL || *host == '\0') {
            return iof_fail(call->d, IOF_EINVAL, "\"host\" is required");
        }
        if (ip == mp || ep == mp || ip == ep) {
            return iof_fail(call->d,
                            IOF_EINVAL,
                            "Invalid router ports: messagingPort, interRouterPort and "
                            "edgeRouterPort must differ");
        }
    } else if (own != 0 && downstream > 0) {
        const char *was = old_mode != NULL ? old_mode : "";
        if (strcmp(was, "interior") == 0) {
            return iof_fail(
                call->d, IOF_EINVAL, "Edge router %s has, or will have, downstream routers", uuid);
        }
    }
    const struct ctl_db_value ports_ip = edge ? CTL_DB_NULLV : CTL_DB_INT(ip);
    const struct ctl_db_value ports_ep = edge ? CTL_DB_NULLV : CTL_DB_INT(ep);
    int64_t now = iof_time_now_ms();
    bool created = false;
    if (own != 0) {
        const struct ctl_db_value p[] = {CTL_DB_BOOL(edge),
                                         CTL_DB_INT(mp),
                                         ports_ip,
                                         ports_ep,
                                         CTL_DB_TEXT(host),
                                         CTL_DB_INT(now),
                                         CTL_DB_INT(own)};
        err = exec(call,
                   "UPDATE routers SET is_edge = ?, messaging_port = ?, inter_router_port = ?,"
                   " edge_router_port = ?, host = ?, updated_at = ? WHERE id = ?",
                   p,
                   7);
    } else {
        const struct ctl_db_value p[] = {CTL_DB_TEXT(uuid),
                                         CTL_DB_BOOL(edge),
                                         CTL_DB_INT(mp),
                                         ports_ip,
                                         ports_ep,
                                         CTL_DB_TEXT(host),
                                         CTL_DB_BOOL(is_system)};
        err =
            query_int(call,
                      "INSERT INTO routers (fog_uuid, is_edge, messaging_port, inter_router_port,"
                      " edge_router_port, host, is_default) VALUES (?, ?, ?, ?, ?, ?,"
                      " CASE WHEN ? = 1 AND NOT EXISTS (SELECT 1 FROM routers WHERE is_default = 1)"
                      " THEN 1 ELSE 0 END)"
                      " RETURNING id",
                      p,
                      7,
                      &own);
        created = true;
    }
    if (err != IOF_OK) {
        return err;
    }
    *set_router_id = true;
    *router_id = own;

    /* Upstream links: as given, else (new router) the default router when there is one. */
    int64_t ups[MAX_LIST_ITEMS];
    size_t n_ups = 0;
    if (in->upstream != NULL) {
        size_t i;
        const json_t *s;
        json_array_foreach(in->upstream, i, s) {
            const char *ref = json_string_value(s);
            bool interior = false;
            int64_t id = 0;
            if (strcmp(ref, uuid) == 0) {
                return iof_fail(call->d, IOF_EINVAL, "Invalid router '%s'", ref);
            }
            if ((err = resolve_router(call, ref, &id, &interior)) != IOF_OK) {
                return err;
            }
            if (!interior) {
                return iof_fail(
                    call->d, IOF_EINVAL, "Upstream router must be interior '%.64s'", ref);
            }
            if (id != own) {
                ups[n_ups++] = id;
            }
        }
    } else if (created) {
        bool interior = false;
        int64_t id = 0;
        err = resolve_router(call, DEFAULT_ROUTER, &id, &interior);
        if (err == IOF_OK && interior && id != own) {
            ups[n_ups++] = id;
        } else if (err == IOF_EINVAL) {
            iof_diag_clear(call->d);
        } else if (err != IOF_OK) {
            return err;
        }
    } else {
        return IOF_OK; /* links unchanged */
    }
    const struct ctl_db_value po[] = {CTL_DB_INT(own)};
    if ((err = exec(call, "DELETE FROM router_connections WHERE source_router_id = ?", po, 1))) {
        return err;
    }
    for (size_t i = 0; i < n_ups && err == IOF_OK; i++) {
        const struct ctl_db_value p[] = {CTL_DB_INT(own), CTL_DB_INT(ups[i])};
        err = exec(call,
                   "INSERT INTO router_connections (source_router_id, dest_router_id)"
                   " VALUES (?, ?) ON CONFLICT DO NOTHING",
                   p,
                   2);
    }
    return err;
}

/* Raises routerChanged on the nodes attached to, or linked upstream to, node uuid's router. */
static iof_err raise_downstream(struct ctl_call *call, const char *uuid) {
    const struct ctl_db_value p[] = {CTL_DB_TEXT(uuid), CTL_DB_TEXT(uuid), CTL_DB_TEXT(uuid)};
    json_t *rows = NULL;
    iof_err err = ctl_db_query_json(
        db_of(call),
        "SELECT f.uuid FROM fogs f WHERE f.uuid <> ? AND ("
        " f.router_id IN (SELECT id FROM routers WHERE fog_uuid = ?) OR f.uuid IN ("
        "  SELECT s.fog_uuid FROM router_connections c JOIN routers s ON s.id = c.source_router_id"
        "  JOIN routers d ON d.id = c.dest_router_id WHERE d.fog_uuid = ?))",
        p,
        3,
        &rows,
        call->d);
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) {
        if (err == IOF_OK) {
            err = ctl_changes_raise(call->srv,
                                    json_string_value(json_object_get(row, "uuid")),
                                    CTL_FLAG_ROUTER_CHANGED,
                                    call->d);
        }
    }
    json_decref(rows);
    return err;
}

/* ---- tags and system microservices -------------------------------------------------------- */

static iof_err set_tags(struct ctl_call *call, const char *uuid, const json_t *tags) {
    if (tags == NULL) {
        return IOF_OK;
    }
    const struct ctl_db_value pu[] = {CTL_DB_TEXT(uuid)};
    iof_err err = exec(call, "DELETE FROM fog_tags WHERE fog_uuid = ?", pu, 1);
    size_t i;
    const json_t *t;
    json_array_foreach(tags, i, t) {
        const struct ctl_db_value pn[] = {CTL_DB_TEXT(json_string_value(t))};
        const struct ctl_db_value pl[] = {CTL_DB_TEXT(uuid), CTL_DB_TEXT(json_string_value(t))};
        if (err == IOF_OK) {
            err = exec(
                call, "INSERT INTO tags (name) VALUES (?) ON CONFLICT (name) DO NOTHING", pn, 1);
        }
        if (err == IOF_OK) {
            err = exec(call,
                       "INSERT INTO fog_tags (fog_uuid, tag_id) SELECT ?, id FROM tags"
                       " WHERE name = ? ON CONFLICT DO NOTHING",
                       pl,
                       2);
        }
    }
    return err;
}

/* Creates (on) or deletes (off) the node's system microservice of SYSTEM catalog item `item`
 * ("HAL" or "RESTBlue"), named as the classic Controller names it. */
static iof_err system_msvc(struct ctl_call *call,
                           const char *uuid,
                           int64_t owner,
                           const char *item,
                           const char *label,
                           bool on) {
    if (!on) {
        const struct ctl_db_value p[] = {CTL_DB_TEXT(uuid), CTL_DB_TEXT(item)};
        return exec(call,
                    "DELETE FROM microservices WHERE fog_uuid = ? AND catalog_item_id IN ("
                    " SELECT id FROM catalog_items WHERE name = ? AND category = 'SYSTEM'"
                    " AND user_id IS NULL)",
                    p,
                    2);
    }
    char msvc_uuid[CTL_UUID_LEN + 1];
    char name[128];
    iof_err err = ctl_uuid_new(msvc_uuid);
    if (err != IOF_OK) {
        return iof_fail(call->d, err, "cannot draw a uuid");
    }
    (void)snprintf(name, sizeof name, "%s for Fog %s", label, uuid);
    const struct ctl_db_value p[] = {CTL_DB_TEXT(msvc_uuid),
                                     CTL_DB_TEXT(name),
                                     CTL_DB_INT(iof_time_now_ms()),
                                     CTL_DB_TEXT(item),
                                     CTL_DB_TEXT(uuid),
                                     owner > 0 ? CTL_DB_INT(owner) : CTL_DB_NULLV};
    return exec(call,
                "INSERT INTO microservices (uuid, name, config, config_last_updated,"
                " root_host_access, log_size, catalog_item_id, fog_uuid, user_id)"
                " VALUES (?, ?, '{}', ?, 1, 50, (SELECT id FROM catalog_items WHERE name = ?"
                " AND category = 'SYSTEM' AND user_id IS NULL), ?, ?)",
                p,
                6);
}

/* HAL and Bluetooth microservices follow abstractedHardwareEnabled / bluetoothEnabled.
 * *changed is set when one was created or deleted. */
static iof_err sync_system_msvcs(struct ctl_call *call,
                                 const char *uuid,
                                 int64_t owner,
                                 const struct fog_input *in,
                                 const json_t *old,
                                 bool *changed) {
    iof_err err = IOF_OK;
    bool was_hal = old != NULL && json_is_true(json_object_get(old, "abstractedHardwareEnabled"));
    bool was_bt = old != NULL && json_is_true(json_object_get(old, "bluetoothEnabled"));
    if (given(in, F_HAL) && bool_of(in, F_HAL) != was_hal) {
        err = system_msvc(call, uuid, owner, "HAL", "Hal", bool_of(in, F_HAL));
        *changed = true;
    }
    if (err == IOF_OK && given(in, F_BT) && bool_of(in, F_BT) != was_bt) {
        err = system_msvc(call, uuid, owner, "RESTBlue", "Bluetooth", bool_of(in, F_BT));
        *changed = true;
    }
    return err;
}

/* ---- create / update --------------------------------------------------------------------- */

/* Rules on the name and the system node shared by create and update. */
static iof_err check_name_and_system(struct ctl_call *call,
                                     const char *uuid,
                                     int64_t owner,
                                     const struct fog_input *in,
                                     bool was_system) {
    int64_t n = 0;
    iof_err err = IOF_OK;
    if (given(in, F_NAME)) {
        const char *name = in->v[F_NAME].u.bytes.p;
        const struct ctl_db_value p[] = {CTL_DB_TEXT(name), CTL_DB_INT(owner), CTL_DB_TEXT(uuid)};
        err = query_int(
            call,
            "SELECT count(*) AS n FROM fogs WHERE name = ? AND user_id IS NOT DISTINCT FROM ?"
            " AND uuid <> ?",
            p,
            3,
            &n);
        if (err == IOF_OK && n > 0) {
            return iof_fail(call->d, IOF_EINVAL, "Duplicate name '%s'", name);
        }
    }
    if (err == IOF_OK && given(in, F_SYSTEM) && bool_of(in, F_SYSTEM) && !was_system) {
        const struct ctl_db_value p[] = {CTL_DB_TEXT(uuid)};
        err = query_int(
            call, "SELECT count(*) AS n FROM fogs WHERE is_system = 1 AND uuid <> ?", p, 1, &n);
        if (err == IOF_OK && n > 0) {
            return iof_fail(call->d, IOF_EINVAL, "There already is a system fog");
        }
    }
    return err;
}

/* Writes every given field, the router mode and router id. */
static iof_err write_fields(struct ctl_call *call,
                            const char *uuid,
                            const struct fog_input *in,
                            const char *mode,
                            bool set_router_id,
                            int64_t router_id) {
    struct ctl_db_value p[N_FIELDS + 6];
    memcpy(p, in->v, sizeof in->v);
    p[N_FIELDS] = CTL_DB_BOOL(given(in, F_LAT) || given(in, F_LON));
    p[N_FIELDS + 1] = CTL_DB_TEXT(mode);
    p[N_FIELDS + 2] = CTL_DB_BOOL(set_router_id);
    p[N_FIELDS + 3] = set_router_id && router_id > 0 ? CTL_DB_INT(router_id) : CTL_DB_NULLV;
    p[N_FIELDS + 4] = CTL_DB_INT(iof_time_now_ms());
    p[N_FIELDS + 5] = CTL_DB_TEXT(uuid);
    return exec(call, SQL_UPDATE, p, N_FIELDS + 6);
}

static iof_err create_fog(struct ctl_call *call) {
    json_t *body = NULL;
    struct fog_input in;
    iof_err err = ctl_body(call, &body);
    if (err == IOF_OK) {
        err = parse_input(call, body, true, &in);
    }
    if (err == IOF_OK && call->user_id == 0) {
        err = iof_fail(call->d, IOF_ENOENT, "No user exists yet");
    }
    char uuid[CTL_UUID_LEN + 1];
    if (err == IOF_OK && (err = ctl_uuid_new(uuid)) != IOF_OK) {
        err = iof_fail(call->d, err, "cannot draw a uuid");
    }
    if (err != IOF_OK) {
        return err;
    }
    bool is_system = given(&in, F_SYSTEM) && bool_of(&in, F_SYSTEM);
    if ((err = ctl_db_begin(db_of(call), call->d)) != IOF_OK) {
        return err;
    }
    err = check_name_and_system(call, uuid, call->user_id, &in, false);
    if (err == IOF_OK) {
        const struct ctl_db_value p[] = {
            CTL_DB_TEXT(uuid), in.v[F_NAME], CTL_DB_INT(call->user_id)};
        err = exec(call, "INSERT INTO fogs (uuid, name, user_id) VALUES (?, ?, ?)", p, 3);
    }
    const char *mode = "edge";
    bool set_router_id = false;
    int64_t router_id = 0;
    if (err == IOF_OK) {
        err = apply_router(call, uuid, &in, NULL, is_system, &mode, &set_router_id, &router_id);
    }
    if (err == IOF_OK) {
        err = write_fields(call, uuid, &in, mode, set_router_id, router_id);
    }
    if (err == IOF_OK) {
        err = set_tags(call, uuid, in.tags);
    }
    bool msvc_changed = false;
    if (err == IOF_OK) {
        err = sync_system_msvcs(call, uuid, call->user_id, &in, NULL, &msvc_changed);
    }
    if (err == IOF_OK) {
        err = ctl_changes_raise(
            call->srv, uuid, CTL_FLAG_MICROSERVICE_LIST | CTL_FLAG_MICROSERVICE_CONFIG, call->d);
    }
    if ((err = tx_end(call, err)) != IOF_OK) {
        return err;
    }
    IOF_INFO("iofog", "node created uuid=%s user=%lld", uuid, (long long)call->user_id);
    return ctl_reply(call, 201, json_pack("{s:s}", "uuid", uuid));
}

static bool config_changed(const json_t *before, const json_t *after) {
    for (size_t i = 0; i < sizeof config_keys / sizeof config_keys[0]; i++) {
        json_t *a = json_object_get(before, config_keys[i]);
        json_t *b = json_object_get(after, config_keys[i]);
        if ((a == NULL) != (b == NULL) || (a != NULL && !json_equal(a, b))) {
            return true;
        }
    }
    return false;
}

static iof_err update_fog(struct ctl_call *call) {
    const char *uuid = iof_http_param(call->req, "uuid");
    json_t *body = NULL;
    struct fog_input in;
    iof_err err = ctl_body(call, &body);
    if (err == IOF_OK) {
        err = parse_input(call, body, false, &in);
    }
    if (err != IOF_OK || (err = ctl_db_begin(db_of(call), call->d)) != IOF_OK) {
        return err;
    }
    json_t *before = NULL, *after = NULL, *rs_before = NULL, *rs_after = NULL;
    err = ctl_iofog_find(call, uuid, CTL_IOFOG_WRITE, &before);
    int64_t owner = 0;
    bool was_system = false;
    if (err == IOF_OK) {
        owner = (int64_t)json_integer_value(json_object_get(before, "userId"));
        was_system = json_is_true(json_object_get(before, "isSystem"));
        err = check_name_and_system(call, uuid, owner, &in, was_system);
    }
    if (err == IOF_OK) {
        err = router_state(call, uuid, &rs_before);
    }
    bool is_system = given(&in, F_SYSTEM) ? bool_of(&in, F_SYSTEM) : was_system;
    const char *mode = "edge";
    bool set_router_id = false;
    int64_t router_id = 0;
    if (err == IOF_OK) {
        err = apply_router(call, uuid, &in, before, is_system, &mode, &set_router_id, &router_id);
    }
    if (err == IOF_OK) {
        err = write_fields(call, uuid, &in, mode, set_router_id, router_id);
    }
    if (err == IOF_OK) {
        err = set_tags(call, uuid, in.tags);
    }
    bool msvc_changed = false;
    if (err == IOF_OK) {
        err = sync_system_msvcs(call, uuid, owner, &in, before, &msvc_changed);
    }
    if (err == IOF_OK) {
        err = router_state(call, uuid, &rs_after);
    }
    if (err == IOF_OK) {
        err = ctl_iofog_find(call, uuid, CTL_IOFOG_WRITE, &after);
    }
    uint32_t mask = 0;
    if (err == IOF_OK) {
        if (config_changed(before, after)) {
            mask |= CTL_FLAG_CONFIG;
        }
        if (msvc_changed) {
            mask |= CTL_FLAG_MICROSERVICE_LIST | CTL_FLAG_MICROSERVICE_CONFIG;
        }
        if (!json_equal(rs_before, rs_after)) {
            mask |= CTL_FLAG_ROUTER_CHANGED | CTL_FLAG_MICROSERVICE_LIST;
            err = raise_downstream(call, uuid);
        }
    }
    if (err == IOF_OK) {
        err = ctl_changes_raise(call->srv, uuid, mask, call->d);
    }
    json_decref(before);
    json_decref(after);
    json_decref(rs_before);
    json_decref(rs_after);
    if ((err = tx_end(call, err)) != IOF_OK) {
        return err;
    }
    return ctl_reply(call, 204, NULL);
}

/* ---- read -------------------------------------------------------------------------------- */

static iof_err get_fog(struct ctl_call *call) {
    json_t *fog = NULL;
    iof_err err = ctl_iofog_find(call, iof_http_param(call->req, "uuid"), CTL_IOFOG_READ, &fog);
    if (err == IOF_OK) {
        err = add_extras(call, fog);
    }
    if (err != IOF_OK) {
        json_decref(fog);
        return err;
    }
    return ctl_reply(call, 200, fog);
}

iof_err
ctl_iofog_template_json(struct ctl_call *call, const char *name, const char *uuid, json_t **out) {
    const struct ctl_db_value p[] = {CTL_DB_INT(call->user_id),
                                     CTL_DB_TEXT(name != NULL   ? name
                                                 : uuid != NULL ? uuid
                                                                : "")};
    const char *sql = name != NULL ? FOG_SELECT
                          " WHERE f.user_id = ? AND f.name = ? ORDER BY f.uuid"
                      : uuid != NULL ? FOG_SELECT " WHERE f.user_id = ? AND f.uuid = ?"
                                     : FOG_SELECT " WHERE f.user_id = ? AND f.is_system = 0"
                                                  " ORDER BY f.name, f.uuid";
    json_t *rows = NULL;
    iof_err err = ctl_db_query_json(
        db_of(call), sql, p, name != NULL || uuid != NULL ? 2 : 1, &rows, call->d);
    size_t i;
    json_t *fog;
    json_array_foreach(rows, i, fog) {
        if (err == IOF_OK) {
            err = add_extras(call, fog);
        }
    }
    if (err != IOF_OK) {
        json_decref(rows);
        return err;
    }
    if (name != NULL || uuid != NULL) {
        json_t *one = json_incref(json_array_get(rows, 0));
        json_decref(rows);
        *out = one;
        return IOF_OK;
    }
    *out = rows;
    return IOF_OK;
}

struct filter {
    const char *key;
    const char *value;
    bool has; /* condition "has", else "equals" */
};

/* Reads filters[i][key|value|condition] (qs encoding) for i = 0, 1, ... until an index has none
 * of the three. */
static iof_err parse_filters(struct ctl_call *call, struct filter *out, size_t *n) {
    size_t count = 0;
    for (size_t i = 0; i <= MAX_FILTERS; i++) {
        char k[40], v[40], c[40];
        (void)snprintf(k, sizeof k, "filters[%zu][key]", i);
        (void)snprintf(v, sizeof v, "filters[%zu][value]", i);
        (void)snprintf(c, sizeof c, "filters[%zu][condition]", i);
        const char *key = iof_http_query(call->req, k);
        const char *value = iof_http_query(call->req, v);
        const char *cond = iof_http_query(call->req, c);
        if (key == NULL && value == NULL && cond == NULL) {
            break;
        }
        if (i == MAX_FILTERS) {
            return iof_fail(call->d, IOF_EINVAL, "Too many filters: at most %d", MAX_FILTERS);
        }
        if (key == NULL || *key == '\0') {
            return iof_fail(call->d, IOF_EINVAL, "Required field 'key' is missing");
        }
        if (value == NULL) {
            return iof_fail(call->d, IOF_EINVAL, "Required field 'value' is missing");
        }
        if (cond == NULL) {
            return iof_fail(call->d, IOF_EINVAL, "Required field 'condition' is missing");
        }
        if (strcmp(cond, "equals") != 0 && strcmp(cond, "has") != 0) {
            return iof_fail(call->d, IOF_EINVAL, "Invalid format for field 'condition'");
        }
        out[count++] = (struct filter){.key = key, .value = value, .has = strcmp(cond, "has") == 0};
    }
    *n = count;
    return IOF_OK;
}

/* A scalar as text for comparisons ("true", "12", "1.5"); false for null, arrays, objects. */
static bool scalar_text(const json_t *v, char *buf, size_t size, const char **out) {
    if (json_is_string(v)) {
        *out = json_string_value(v);
    } else if (json_is_integer(v)) {
        (void)snprintf(buf, size, "%lld", (long long)json_integer_value(v));
        *out = buf;
    } else if (json_is_real(v)) {
        (void)snprintf(buf, size, "%.17g", json_real_value(v));
        *out = buf;
    } else if (json_is_boolean(v)) {
        *out = json_is_true(v) ? "true" : "false";
    } else {
        return false;
    }
    return true;
}

static bool filter_match(const json_t *fog, const struct filter *f) {
    const json_t *v = json_object_get(fog, f->key);
    char buf[64];
    const char *text = NULL;
    if (json_is_array(v)) { /* tags, upstreamRouters: "has" an element */
        size_t i;
        const json_t *e;
        json_array_foreach(v, i, e) {
            if (json_is_string(e) && strcmp(json_string_value(e), f->value) == 0) {
                return f->has;
            }
        }
        return false;
    }
    if (!scalar_text(v, buf, sizeof buf, &text)) {
        return false;
    }
    return f->has ? strstr(text, f->value) != NULL : strcmp(text, f->value) == 0;
}

/* IOF_EINVAL for a filter key that is not a key of the Fog object. */
static iof_err check_filter_keys(struct ctl_call *call, const struct filter *filters, size_t n) {
    if (n == 0) {
        return IOF_OK;
    }
    /* One row of NULLs carrying every column key, whether or not any node exists. */
    json_t *probe = NULL;
    iof_err err = ctl_db_query_json_one(db_of(call),
                                        "SELECT" FOG_COLUMNS " FROM (SELECT 1) AS one"
                                        " LEFT JOIN fogs f ON 1 = 0 LEFT JOIN routers r ON 1 = 0",
                                        NULL,
                                        0,
                                        "none",
                                        &probe,
                                        call->d);
    static const char *const extra_keys[] = {
        "tags", "upstreamRouters", "networkRouter", "edgeResources"};
    for (size_t k = 0; k < n && err == IOF_OK; k++) {
        bool known = json_object_get(probe, filters[k].key) != NULL;
        for (size_t e = 0; e < sizeof extra_keys / sizeof extra_keys[0]; e++) {
            known = known || strcmp(filters[k].key, extra_keys[e]) == 0;
        }
        if (!known) {
            err = iof_fail(call->d, IOF_EINVAL, "Invalid filter key '%.64s'", filters[k].key);
        }
    }
    json_decref(probe);
    return err;
}

static iof_err list_fogs(struct ctl_call *call) {
    struct filter filters[MAX_FILTERS];
    size_t n_filters = 0;
    const char *system = iof_http_query(call->req, "system");
    iof_err err = parse_filters(call, filters, &n_filters);
    if (err == IOF_OK) {
        err = check_filter_keys(call, filters, n_filters);
    }
    if (err != IOF_OK) {
        return err;
    }
    if (system != NULL && strcmp(system, "true") != 0 && strcmp(system, "false") != 0) {
        return iof_fail(call->d, IOF_EINVAL, "Invalid format for field 'system'");
    }
    bool only_system = system != NULL && strcmp(system, "true") == 0;
    /* system=true: the system node, for every user. Otherwise the caller's own non-system nodes;
     * the admin credential (the CLI) sees every node, as the classic CLI does. */
    const struct ctl_db_value p[] = {
        CTL_DB_BOOL(only_system), CTL_DB_BOOL(call->admin), CTL_DB_INT(call->user_id)};
    json_t *rows = NULL;
    err = ctl_db_query_json(db_of(call),
                            FOG_SELECT " WHERE CASE WHEN ? = 1 THEN f.is_system = 1"
                                       " ELSE (? = 1 OR (f.user_id = ? AND f.is_system = 0)) END"
                                       " ORDER BY f.name, f.uuid",
                            p,
                            3,
                            &rows,
                            call->d);
    json_t *fogs = json_array();
    size_t i;
    json_t *fog;
    json_array_foreach(rows, i, fog) {
        if (err == IOF_OK) {
            err = add_extras(call, fog);
        }
        if (err != IOF_OK) {
            break;
        }
        bool match = true;
        for (size_t k = 0; k < n_filters && match; k++) {
            match = filter_match(fog, &filters[k]);
        }
        if (err == IOF_OK && match) {
            (void)json_array_append(fogs, fog);
        }
    }
    json_decref(rows);
    if (err != IOF_OK) {
        json_decref(fogs);
        return err;
    }
    return ctl_reply(call, 200, json_pack("{s:o}", "fogs", fogs));
}

/* ---- delete ------------------------------------------------------------------------------ */

static iof_err delete_fog(struct ctl_call *call) {
    const char *uuid = iof_http_param(call->req, "uuid");
    iof_err err = ctl_db_begin(db_of(call), call->d);
    if (err != IOF_OK) {
        return err;
    }
    err = ctl_iofog_find(call, uuid, CTL_IOFOG_WRITE, NULL);
    if (err == IOF_OK) {
        err = ctl_changes_raise(call->srv, uuid, CTL_FLAG_DELETE_NODE, call->d);
    }
    if (err == IOF_OK) {
        err = raise_downstream(call, uuid);
    }
    if (err == IOF_OK) {
        const struct ctl_db_value p[] = {CTL_DB_TEXT(uuid)};
        err = exec(call, "DELETE FROM fogs WHERE uuid = ?", p, 1);
    }
    if ((err = tx_end(call, err)) != IOF_OK) {
        return err;
    }
    IOF_INFO("iofog", "node deleted uuid=%s", uuid);
    return ctl_reply(call, 202, NULL);
}

/* ---- provisioning keys and commands ------------------------------------------------------- */

/* Draws a key for node uuid, stores its digest in place of the node's previous key and writes the
 * key and its expiration time (ms since the epoch) to the out-parameters. */
static iof_err issue_key(struct ctl_call *call,
                         const char *uuid,
                         char key[PROVISION_KEY_LEN + 1],
                         int64_t *expires) {
    int64_t exp = iof_time_now_ms() + PROVISION_KEY_TTL_MS;
    iof_err err = IOF_EEXIST;
    /* A digest equal to another node's key is astronomically unlikely; redraw if it happens. */
    for (int attempt = 0; attempt < 3 && err == IOF_EEXIST; attempt++) {
        if ((err = iof_random_string(key, PROVISION_KEY_LEN, IOF_ALPHABET_FOG_TOKEN)) != IOF_OK) {
            return iof_fail(call->d, err, "cannot draw a provisioning key");
        }
        char hash[CTL_TOKEN_HASH_LEN + 1];
        ctl_token_hash(key, hash);
        const struct ctl_db_value p[] = {
            CTL_DB_TEXT(uuid), CTL_DB_TEXT(hash), CTL_DB_INT(exp), CTL_DB_INT(iof_time_now_ms())};
        err =
            exec(call,
                 "INSERT INTO fog_provision_keys (fog_uuid, key_hash, expiration_time, created_at)"
                 " VALUES (?, ?, ?, ?) ON CONFLICT (fog_uuid) DO UPDATE SET"
                 " key_hash = excluded.key_hash, expiration_time = excluded.expiration_time,"
                 " created_at = excluded.created_at",
                 p,
                 4);
    }
    if (err == IOF_OK) {
        *expires = exp;
    }
    return err;
}

static iof_err provisioning_key(struct ctl_call *call) {
    const char *uuid = iof_http_param(call->req, "uuid");
    char key[PROVISION_KEY_LEN + 1];
    int64_t expires = 0;
    iof_err err = ctl_db_begin(db_of(call), call->d);
    if (err != IOF_OK) {
        return err;
    }
    err = ctl_iofog_find(call, uuid, CTL_IOFOG_WRITE, NULL);
    if (err == IOF_OK) {
        err = issue_key(call, uuid, key, &expires);
    }
    if ((err = tx_end(call, err)) != IOF_OK) {
        return err;
    }
    return ctl_reply(
        call, 201, json_pack("{s:s, s:I}", "key", key, "expirationTime", (json_int_t)expires));
}

static iof_err version_command(struct ctl_call *call) {
    const char *uuid = iof_http_param(call->req, "uuid");
    const char *cmd = iof_http_param(call->req, "versionCommand");
    bool upgrade = cmd != NULL && strcmp(cmd, "upgrade") == 0;
    if (!upgrade && (cmd == NULL || strcmp(cmd, "rollback") != 0)) {
        return iof_fail(call->d, IOF_EINVAL, "Invalid format for field 'versionCommand'");
    }
    json_t *fog = NULL;
    iof_err err = ctl_db_begin(db_of(call), call->d);
    if (err != IOF_OK) {
        return err;
    }
    err = ctl_iofog_find(call, uuid, CTL_IOFOG_WRITE, &fog);
    if (err == IOF_OK && !upgrade && !json_is_true(json_object_get(fog, "isReadyToRollback"))) {
        err = iof_fail(
            call->d, IOF_EINVAL, "Can't rollback version now. There are no backups on agent");
    }
    if (err == IOF_OK && upgrade && !json_is_true(json_object_get(fog, "isReadyToUpgrade"))) {
        err =
            iof_fail(call->d, IOF_EINVAL, "Can't upgrade version now. Latest is already installed");
    }
    json_decref(fog);
    /* The agent re-provisions after the upgrade with a fresh key; only its digest is kept, so the
     * agent-facing GET /agent/version issues the key it hands out. This one replaces (revokes)
     * any key issued before. */
    char key[PROVISION_KEY_LEN + 1];
    int64_t expires = 0;
    if (err == IOF_OK) {
        err = issue_key(call, uuid, key, &expires);
    }
    if (err == IOF_OK) {
        const struct ctl_db_value p[] = {CTL_DB_TEXT(uuid), CTL_DB_TEXT(cmd)};
        err = exec(call,
                   "INSERT INTO fog_version_commands (fog_uuid, version_command) VALUES (?, ?)"
                   " ON CONFLICT (fog_uuid) DO UPDATE SET"
                   " version_command = excluded.version_command",
                   p,
                   2);
    }
    if (err == IOF_OK) {
        err = ctl_changes_raise(call->srv, uuid, CTL_FLAG_VERSION, call->d);
    }
    if ((err = tx_end(call, err)) != IOF_OK) {
        return err;
    }
    return ctl_reply(call, 204, NULL);
}

/* Raises one flag on a node the caller owns. */
static iof_err command(struct ctl_call *call, uint32_t flag) {
    const char *uuid = iof_http_param(call->req, "uuid");
    iof_err err = ctl_iofog_find(call, uuid, CTL_IOFOG_WRITE, NULL);
    if (err == IOF_OK) {
        err = ctl_changes_raise(call->srv, uuid, flag, call->d);
    }
    return err != IOF_OK ? err : ctl_reply(call, 204, NULL);
}

static iof_err reboot(struct ctl_call *call) {
    return command(call, CTL_FLAG_REBOOT);
}

static iof_err prune(struct ctl_call *call) {
    return command(call, CTL_FLAG_PRUNE);
}

/* GET hal/hw and hal/usb: the report row; 200 with an empty body (classic) when the node's HAL
 * has not reported yet. */
static iof_err hal_info(struct ctl_call *call, bool usb) {
    const char *uuid = iof_http_param(call->req, "uuid");
    iof_err err = ctl_iofog_find(call, uuid, CTL_IOFOG_READ, NULL);
    if (err != IOF_OK) {
        return err;
    }
    const struct ctl_db_value p[] = {CTL_DB_TEXT(uuid)};
    json_t *row = NULL;
    err = ctl_db_query_json_one(
        db_of(call),
        usb ? "SELECT id, info, fog_uuid AS \"iofogUuid\", created_at AS \"createdAt:iso\","
              " updated_at AS \"updatedAt:iso\" FROM usb_infos WHERE fog_uuid = ?"
            : "SELECT id, info, fog_uuid AS \"iofogUuid\", created_at AS \"createdAt:iso\","
              " updated_at AS \"updatedAt:iso\" FROM hw_infos WHERE fog_uuid = ?",
        p,
        1,
        NULL,
        &row,
        call->d);
    if (err == IOF_ENOENT) {
        return ctl_reply(call, 200, NULL); /* classic: 200 with an empty body */
    }
    return err != IOF_OK ? err : ctl_reply(call, 200, row);
}

static iof_err hal_hw(struct ctl_call *call) {
    return hal_info(call, false);
}

static iof_err hal_usb(struct ctl_call *call) {
    return hal_info(call, true);
}

const struct ctl_route ctl_routes_iofog[] = {
    {"GET", "/api/v3/iofog-list", list_fogs, CTL_AUTH_USER},
    {"POST", "/api/v3/iofog", create_fog, CTL_AUTH_USER},
    {"PATCH", "/api/v3/iofog/:uuid", update_fog, CTL_AUTH_USER},
    {"DELETE", "/api/v3/iofog/:uuid", delete_fog, CTL_AUTH_USER},
    {"GET", "/api/v3/iofog/:uuid", get_fog, CTL_AUTH_USER},
    {"GET", "/api/v3/iofog/:uuid/provisioning-key", provisioning_key, CTL_AUTH_USER},
    {"POST", "/api/v3/iofog/:uuid/version/:versionCommand", version_command, CTL_AUTH_USER},
    {"POST", "/api/v3/iofog/:uuid/reboot", reboot, CTL_AUTH_USER},
    {"GET", "/api/v3/iofog/:uuid/hal/hw", hal_hw, CTL_AUTH_USER},
    {"GET", "/api/v3/iofog/:uuid/hal/usb", hal_usb, CTL_AUTH_USER},
    {"POST", "/api/v3/iofog/:uuid/prune", prune, CTL_AUTH_USER},
};
const size_t ctl_routes_iofog_count = sizeof ctl_routes_iofog / sizeof ctl_routes_iofog[0];
