/* PUT /api/v3/agent/status (controller.md §4.2): the agent's periodic report. Node fields are
 * copied; `microserviceStatus` (a JSON-encoded string of an array, or an array) updates the status
 * of each listed microservice that is placed on this node; microservices marked for deletion whose
 * container is gone are removed. */
#include "controller/api/agent_api.h"

#include "common/clock.h"
#include "common/json.h"
#include "common/buf.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *key;
    const char *column;
    char type; /* s text (any JSON value; non-strings stored as JSON text), n real, i integer,
                  b boolean */
} fields[] = {
    {"daemonStatus", "daemon_status", 's'},
    {"daemonOperatingDuration", "daemon_operating_duration", 'i'},
    {"daemonLastStart", "daemon_last_start", 'i'},
    {"memoryUsage", "memory_usage", 'n'},
    {"diskUsage", "disk_usage", 'n'},
    {"cpuUsage", "cpu_usage", 'n'},
    {"memoryViolation", "memory_violation", 's'},
    {"diskViolation", "disk_violation", 's'},
    {"cpuViolation", "cpu_violation", 's'},
    {"systemAvailableDisk", "system_available_disk", 'i'},
    {"systemAvailableMemory", "system_available_memory", 'i'},
    {"systemTotalCpu", "system_total_cpu", 'n'},
    {"securityStatus", "security_status", 's'},
    {"securityViolationInfo", "security_violation_info", 's'},
    {"repositoryCount", "repository_count", 'i'},
    {"repositoryStatus", "repository_status", 's'},
    {"systemTime", "system_time", 'i'},
    {"lastStatusTime", "last_status_time", 'i'},
    {"ipAddress", "ip_address", 's'},
    {"ipAddressExternal", "ip_address_external", 's'},
    {"processedMessages", "processed_messages", 'i'},
    {"microserviceMessageCounts", "catalog_item_message_counts", 's'},
    {"messageSpeed", "message_speed", 'n'},
    {"lastCommandTime", "last_command_time", 'i'},
    {"tunnelStatus", "tunnel", 's'},
    {"version", "version", 's'},
    {"isReadyToUpgrade", "is_ready_to_upgrade", 'b'},
    {"isReadyToRollback", "is_ready_to_rollback", 'b'},
};
#define NFIELDS (sizeof fields / sizeof fields[0])

static const char SQL_MSVC_STATUS[] =
    "INSERT INTO microservice_statuses (microservice_uuid, status, container_id, start_time,"
    " operating_duration, cpu_usage, memory_usage, percentage, error_message, updated_at,"
    " restarts)"
    " SELECT uuid, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM microservices WHERE uuid = ? AND fog_uuid = ?"
    " ON CONFLICT (microservice_uuid) DO UPDATE SET status = excluded.status,"
    " container_id = excluded.container_id, start_time = excluded.start_time,"
    " operating_duration = excluded.operating_duration, cpu_usage = excluded.cpu_usage,"
    " memory_usage = excluded.memory_usage, percentage = excluded.percentage,"
    " error_message = excluded.error_message, updated_at = excluded.updated_at,"
    " restarts = excluded.restarts";
static const char SQL_MSVC_EVENTS[] =
    "UPDATE microservice_statuses SET events = ? WHERE microservice_uuid = ?"
    " AND microservice_uuid IN (SELECT uuid FROM microservices WHERE fog_uuid = ?)";
static const char SQL_PURGE[] =
    "DELETE FROM microservices WHERE fog_uuid = ? AND marked_for_delete = 1 AND uuid IN ("
    " SELECT microservice_uuid FROM microservice_statuses WHERE status IN"
    " ('UNKNOWN', 'STOPPING', 'DELETING', 'DELETED', 'MARKED_FOR_DELETION'))";

/* Holds the text of non-string values bound for one statement. */
struct texts {
    char *v[NFIELDS];
};

static iof_err bind_field(const json_t *v, char type, struct ctl_db_value *out, char **text) {
    switch (type) {
        case 's':
            if (json_is_string(v)) {
                *out = CTL_DB_TEXT(json_string_value(v));
                return IOF_OK;
            }
            *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            if (*text == NULL) {
                return IOF_ENOMEM;
            }
            *out = CTL_DB_TEXT(*text);
            return IOF_OK;
        case 'n':
            if (!json_is_number(v)) {
                return IOF_EINVAL;
            }
            *out = CTL_DB_REAL(json_number_value(v));
            return IOF_OK;
        case 'i':
            if (json_is_integer(v)) {
                *out = CTL_DB_INT(json_integer_value(v));
                return IOF_OK;
            }
            if (json_is_real(v) && isfinite(json_real_value(v)) &&
                fabs(json_real_value(v)) < 9e18) {
                *out = CTL_DB_INT((int64_t)json_real_value(v));
                return IOF_OK;
            }
            return IOF_EINVAL;
        default:
            if (!json_is_boolean(v)) {
                return IOF_EINVAL;
            }
            *out = CTL_DB_BOOL(json_is_true(v));
            return IOF_OK;
    }
}

static iof_err update_node(struct ctl_call *call, struct ctl_db *db, const json_t *body) {
    struct ctl_db_value params[NFIELDS + 1];
    struct texts t = {{0}};
    struct iof_buf sql;
    iof_buf_init(&sql, 4096);
    iof_err err = iof_buf_printf(&sql, "UPDATE fogs SET updated_at = updated_at");
    size_t n = 0;
    for (size_t i = 0; err == IOF_OK && i < NFIELDS; i++) {
        const json_t *v = json_object_get(body, fields[i].key);
        if (v == NULL || json_is_null(v)) {
            continue;
        }
        err = bind_field(v, fields[i].type, &params[n], &t.v[i]);
        if (err == IOF_EINVAL) {
            err = iof_fail(call->d, err, "Invalid format for field '%s'", fields[i].key);
        } else if (err == IOF_OK) {
            err = iof_buf_printf(&sql, ", %s = ?", fields[i].column);
            n++;
        }
    }
    if (err == IOF_OK && n > 0) {
        params[n++] = CTL_DB_TEXT(call->fog_uuid);
        err = iof_buf_printf(&sql, " WHERE uuid = ?");
        if (err == IOF_OK) {
            err = ctl_db_exec(db, (const char *)sql.data, params, n, NULL, NULL, NULL, call->d);
        }
    }
    for (size_t i = 0; i < NFIELDS; i++) {
        free(t.v[i]);
    }
    iof_buf_free(&sql);
    return err;
}

/* A number of a microservice status item: a JSON number, or a string holding one (what older
 * agents of ours sent for cpuUsage and memoryUsage; classic stores either). Anything else,
 * or a value that is not finite, is 0. */
static double num_real(const json_t *o, const char *key) {
    const json_t *v = json_object_get(o, key);
    double r = 0;
    if (json_is_number(v)) {
        r = json_number_value(v);
    } else if (json_is_string(v) && json_string_length(v) > 0 && json_string_length(v) < 64) {
        const char *t = json_string_value(v);
        char *end = NULL;
        errno = 0;
        double x = strtod(t, &end);
        if (errno == 0 && end != t && *end == '\0') {
            r = x;
        }
    }
    return isfinite(r) ? r : 0;
}

static int64_t num_int(const json_t *o, const char *key) {
    const json_t *v = json_object_get(o, key);
    if (json_is_integer(v)) {
        return (int64_t)json_integer_value(v);
    }
    double r = num_real(o, key);
    return fabs(r) < 9e18 ? (int64_t)r : 0;
}

#define MAX_EVENTS     50
#define MAX_EVENT_TYPE 32
#define MAX_EVENT_TEXT 512

/* Keeps the journal the Agent reported for microservice id (our Agent's extension of the status
 * report: [{time (ms), type, message, count}], oldest first). Entries are checked and copied, so
 * only those keys, bounded, are stored. */
static iof_err
store_events(struct ctl_call *call, struct ctl_db *db, const char *id, const json_t *events) {
    if (!json_is_array(events) || json_array_size(events) > MAX_EVENTS) {
        return iof_fail(
            call->d, IOF_EINVAL, "Invalid format for field 'events': at most %d", MAX_EVENTS);
    }
    json_t *clean = json_array();
    size_t i;
    const json_t *e;
    iof_err err = clean != NULL ? IOF_OK : IOF_ENOMEM;
    json_array_foreach(events, i, e) {
        const json_t *t = json_object_get(e, "time");
        const json_t *n = json_object_get(e, "count");
        const char *type = json_string_value(json_object_get(e, "type"));
        const char *msg = json_string_value(json_object_get(e, "message"));
        if (!json_is_integer(t) || type == NULL || msg == NULL || strlen(type) > MAX_EVENT_TYPE ||
            strlen(msg) > MAX_EVENT_TEXT || (n != NULL && !json_is_integer(n))) {
            err = iof_fail(call->d, IOF_EINVAL, "Invalid format for field 'events'");
            break;
        }
        json_t *item = json_pack("{s:I, s:s, s:s, s:I}",
                                 "time",
                                 json_integer_value(t),
                                 "type",
                                 type,
                                 "message",
                                 msg,
                                 "count",
                                 n != NULL ? json_integer_value(n) : 1);
        if (item == NULL || json_array_append_new(clean, item) != 0) {
            err = IOF_ENOMEM;
            break;
        }
    }
    char *text = err == IOF_OK ? json_dumps(clean, JSON_COMPACT) : NULL;
    json_decref(clean);
    if (err != IOF_OK || text == NULL) {
        return err != IOF_OK ? err : IOF_ENOMEM;
    }
    const struct ctl_db_value p[] = {
        CTL_DB_TEXT(text), CTL_DB_TEXT(id), CTL_DB_TEXT(call->fog_uuid)};
    err = ctl_db_exec(db, SQL_MSVC_EVENTS, p, 3, NULL, NULL, NULL, call->d);
    free(text);
    return err;
}

static iof_err update_microservices(struct ctl_call *call, struct ctl_db *db, const json_t *body) {
    const json_t *v = json_object_get(body, "microserviceStatus");
    json_t *parsed = NULL;
    if (v == NULL || json_is_null(v)) {
        return IOF_OK;
    }
    if (json_is_string(v)) {
        struct iof_diag jd;
        if (iof_json_parse(json_string_value(v), json_string_length(v), &parsed, &jd) != IOF_OK) {
            return iof_fail(call->d, IOF_EINVAL, "Invalid format for field 'microserviceStatus'");
        }
        v = parsed;
    }
    if (!json_is_array(v)) {
        json_decref(parsed);
        return iof_fail(call->d, IOF_EINVAL, "Invalid format for field 'microserviceStatus'");
    }
    iof_err err = IOF_OK;
    size_t i;
    const json_t *s;
    int64_t now = iof_time_now_ms();
    json_array_foreach(v, i, s) {
        const char *id = json_string_value(json_object_get(s, "id"));
        const char *status = json_string_value(json_object_get(s, "status"));
        if (!json_is_object(s) || id == NULL || status == NULL) {
            err = iof_fail(call->d, IOF_EINVAL, "Invalid format for field 'microserviceStatus'");
            break;
        }
        const char *cid = json_string_value(json_object_get(s, "containerId"));
        const char *msg = json_string_value(json_object_get(s, "errorMessage"));
        /* ours: container restarts (classic agents send none) */
        int64_t restarts = num_int(s, "restarts");
        restarts = restarts < 0 ? 0 : restarts > INT32_MAX ? INT32_MAX : restarts;
        const struct ctl_db_value p[] = {
            CTL_DB_TEXT(status),
            CTL_DB_TEXT(cid != NULL ? cid : ""),
            CTL_DB_INT(num_int(s, "startTime")),
            CTL_DB_INT(num_int(s, "operatingDuration")),
            CTL_DB_REAL(num_real(s, "cpuUsage")),
            CTL_DB_INT(num_int(s, "memoryUsage")),
            CTL_DB_REAL(num_real(s, "percentage")),
            CTL_DB_TEXT(msg != NULL ? msg : ""),
            CTL_DB_INT(now),
            CTL_DB_INT(restarts),
            CTL_DB_TEXT(id),
            CTL_DB_TEXT(call->fog_uuid),
        };
        if ((err = ctl_db_exec(db, SQL_MSVC_STATUS, p, 12, NULL, NULL, NULL, call->d)) != IOF_OK) {
            break;
        }
        const json_t *events = json_object_get(s, "events");
        if (events != NULL && (err = store_events(call, db, id, events)) != IOF_OK) {
            break;
        }
    }
    json_decref(parsed);
    if (err == IOF_OK) {
        const struct ctl_db_value p[] = {CTL_DB_TEXT(call->fog_uuid)};
        err = ctl_db_exec(db, SQL_PURGE, p, 1, NULL, NULL, NULL, call->d);
    }
    return err;
}

iof_err ctl_agent_put_status(struct ctl_call *call) {
    json_t *body;
    iof_err err = ctl_body(call, &body);
    if (err != IOF_OK) {
        return err;
    }
    struct ctl_db *db = ctl_store_db(call->srv->store);
    if ((err = ctl_db_begin(db, call->d)) != IOF_OK) {
        return err;
    }
    if ((err = update_node(call, db, body)) != IOF_OK ||
        (err = update_microservices(call, db, body)) != IOF_OK) {
        ctl_db_abort(db);
        return err;
    }
    err = ctl_db_commit(db, call->d);
    return err != IOF_OK ? err : ctl_reply(call, 204, NULL);
}
