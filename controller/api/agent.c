/* The agent-facing API, /api/v3/agent/... (controller.md §4): provisioning, configuration, change
 * flags with long-poll (`?wait=N`), status reports. The agent's view of its microservices and the
 * smaller resources are in agent_msvc.c and agent_misc.c. */
#include "controller/api/agent_api.h"

#include "common/clock.h"
#include "common/json.h"
#include "common/random.h"
#include "controller/domain/agent_wait.h"
#include "controller/domain/changes.h"
#include "controller/domain/logs.h"
#include "controller/domain/nats_auth.h"
#include "controller/store/db_json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Agent tokens do not expire by time: they are revoked by deprovisioning or node deletion, so a
 * node that was offline for long comes back without being provisioned again. */
#define AGENT_TOKEN_LEN   48                     /* 48 symbols of 46: 265 bits */
#define AGENT_TOKEN_NEVER INT64_C(4102444800000) /* 2100-01-01 */
#define MAX_WAIT_S        60

static const char SQL_KEY_FIND[] =
    "SELECT k.fog_uuid AS uuid, k.expiration_time AS exp, f.user_id AS \"userId\""
    " FROM fog_provision_keys k JOIN fogs f ON f.uuid = k.fog_uuid WHERE k.key_hash = ?";
/* Microservices on the node that would have no image for the given fog type. */
static const char SQL_MISSING_IMAGES[] =
    "SELECT count(*) AS n FROM microservices m WHERE m.fog_uuid = ?1 AND NOT EXISTS ("
    " SELECT 1 FROM catalog_item_images i WHERE i.fog_type_id = ?2 AND"
    " (i.microservice_uuid = m.uuid OR i.catalog_item_id = m.catalog_item_id))";

static iof_err provision(struct ctl_call *call) {
    json_t *body;
    const char *key = NULL;
    int64_t type = 0;
    iof_err err = ctl_body(call, &body);
    if (err != IOF_OK ||
        (err = iof_json_get_string(body, "key", IOF_JSON_REQUIRED, &key, call->d)) ||
        (err = iof_json_get_int(body, "type", IOF_JSON_OPTIONAL, &type, call->d))) {
        return err;
    }
    if (type < 0 || type > 2) {
        return iof_fail(call->d, IOF_EINVAL, "Invalid format for field 'type'");
    }
    char key_hash[CTL_TOKEN_HASH_LEN + 1];
    ctl_token_hash(key, key_hash);
    struct ctl_db *db = ctl_store_db(call->srv->store);
    if ((err = ctl_db_begin(db, call->d)) != IOF_OK) {
        return err;
    }
    json_t *row = NULL;
    const struct ctl_db_value p[] = {CTL_DB_TEXT(key_hash)};
    err = ctl_db_query_json_one(db, SQL_KEY_FIND, p, 1, "Invalid Provisioning Key", &row, call->d);
    if (err == IOF_OK && json_integer_value(json_object_get(row, "exp")) <= iof_time_now_ms()) {
        err = iof_fail(call->d, IOF_EAUTH, "Expired Provisioning Key");
    }
    const char *uuid = json_string_value(json_object_get(row, "uuid"));
    if (err == IOF_OK && type != 0) {
        json_t *missing = NULL;
        const struct ctl_db_value q[] = {CTL_DB_TEXT(uuid), CTL_DB_INT(type)};
        err = ctl_db_query_json_one(db, SQL_MISSING_IMAGES, q, 2, NULL, &missing, call->d);
        if (err == IOF_OK && json_integer_value(json_object_get(missing, "n")) > 0) {
            err = iof_fail(call->d,
                           IOF_EINVAL,
                           "Some microservices on this node have no image for fog type %lld",
                           (long long)type);
        }
        json_decref(missing);
    }
    char token[AGENT_TOKEN_LEN + 1];
    char token_hash[CTL_TOKEN_HASH_LEN + 1];
    char nats_password[CTL_NATS_PASSWORD_LEN + 1] = {0};
    if (err == IOF_OK) {
        err = iof_random_string(token, AGENT_TOKEN_LEN, IOF_ALPHABET_FOG_TOKEN);
    }
    if (err == IOF_OK) { /* ours: a new NATS identity, the previous one stops working */
        err = ctl_nats_credential_issue(db, uuid, nats_password, call->d);
    }
    if (err == IOF_OK) {
        ctl_token_hash(token, token_hash);
        const struct ctl_db_value del[] = {CTL_DB_TEXT(uuid)};
        const struct ctl_db_value tok[] = {
            CTL_DB_TEXT(uuid),
            json_is_integer(json_object_get(row, "userId"))
                ? CTL_DB_INT(json_integer_value(json_object_get(row, "userId")))
                : CTL_DB_NULLV,
            CTL_DB_TEXT(token_hash),
            CTL_DB_INT(AGENT_TOKEN_NEVER)};
        const struct ctl_db_value ft[] = {CTL_DB_INT(type), CTL_DB_TEXT(uuid)};
        /* The key is single-use; the node has exactly one token. */
        if ((err = ctl_db_exec(db,
                               "DELETE FROM fog_provision_keys WHERE fog_uuid = ?",
                               del,
                               1,
                               NULL,
                               NULL,
                               NULL,
                               call->d)) == IOF_OK &&
            (err = ctl_db_exec(db,
                               "DELETE FROM fog_access_tokens WHERE fog_uuid = ?",
                               del,
                               1,
                               NULL,
                               NULL,
                               NULL,
                               call->d)) == IOF_OK &&
            (err = ctl_db_exec(db,
                               "INSERT INTO fog_access_tokens (fog_uuid, user_id, token_hash,"
                               " expiration_time) VALUES (?, ?, ?, ?)",
                               tok,
                               4,
                               NULL,
                               NULL,
                               NULL,
                               call->d)) == IOF_OK &&
            type != 0) {
            err = ctl_db_exec(db,
                              "UPDATE fogs SET fog_type_id = ? WHERE uuid = ?",
                              ft,
                              2,
                              NULL,
                              NULL,
                              NULL,
                              call->d);
        }
    }
    /* natsUser/natsPassword are ours (classic agents ignore them): the node's NATS credential. */
    json_t *answer = err == IOF_OK ? json_pack("{s:s, s:s, s:s, s:s}",
                                               "uuid",
                                               uuid,
                                               "token",
                                               token,
                                               "natsUser",
                                               uuid,
                                               "natsPassword",
                                               nats_password)
                                   : NULL;
    explicit_bzero(nats_password, sizeof nats_password);
    json_decref(row);
    if (err != IOF_OK) {
        ctl_db_abort(db);
        return err;
    }
    if ((err = ctl_db_commit(db, call->d)) != IOF_OK) {
        json_decref(answer);
        return err;
    }
    ctl_nats_auth_kick(call->srv->nats_auth);
    return ctl_reply(call, 200, answer);
}

static iof_err deprovision(struct ctl_call *call) {
    json_t *body = NULL;
    const json_t *uuids = NULL;
    size_t len = 0;
    (void)iof_http_body(call->req, &len);
    iof_err err = IOF_OK;
    if (len > 0 && ((err = ctl_body(call, &body)) ||
                    (err = iof_json_get_array(
                         body, "microserviceUuids", IOF_JSON_OPTIONAL, &uuids, call->d)))) {
        return err;
    }
    struct ctl_db *db = ctl_store_db(call->srv->store);
    if ((err = ctl_db_begin(db, call->d)) != IOF_OK) {
        return err;
    }
    size_t i;
    const json_t *u;
    json_array_foreach(uuids, i, u) {
        if (err == IOF_OK && json_is_string(u)) {
            const struct ctl_db_value p[] = {CTL_DB_INT(iof_time_now_ms()),
                                             CTL_DB_TEXT(json_string_value(u)),
                                             CTL_DB_TEXT(call->fog_uuid)};
            err = ctl_db_exec(db,
                              "UPDATE microservice_statuses SET status = 'DELETING', updated_at = ?"
                              " WHERE microservice_uuid = (SELECT uuid FROM microservices"
                              " WHERE uuid = ? AND fog_uuid = ?)",
                              p,
                              3,
                              NULL,
                              NULL,
                              NULL,
                              call->d);
        }
    }
    const struct ctl_db_value f[] = {CTL_DB_TEXT(call->fog_uuid)};
    if (err == IOF_OK) {
        err = ctl_db_exec(db,
                          "UPDATE fogs SET daemon_status = 'UNKNOWN', ip_address = '0.0.0.0',"
                          " ip_address_external = '0.0.0.0' WHERE uuid = ?",
                          f,
                          1,
                          NULL,
                          NULL,
                          NULL,
                          call->d);
    }
    if (err == IOF_OK) { /* unlike the classic Controller, the token stops working */
        err = ctl_db_exec(db,
                          "DELETE FROM fog_access_tokens WHERE fog_uuid = ?",
                          f,
                          1,
                          NULL,
                          NULL,
                          NULL,
                          call->d);
    }
    if (err == IOF_OK) { /* and so does the NATS credential */
        err = ctl_nats_credential_revoke(db, call->fog_uuid, call->d);
    }
    if (err != IOF_OK) {
        ctl_db_abort(db);
        return err;
    }
    err = ctl_db_commit(db, call->d);
    if (err == IOF_OK) {
        ctl_nats_auth_kick(call->srv->nats_auth);
    }
    return err != IOF_OK ? err : ctl_reply(call, 204, NULL);
}

static const char SQL_AGENT_CONFIG[] =
    "SELECT f.network_interface AS \"networkInterface\", f.docker_url AS \"dockerUrl\","
    " f.disk_limit AS \"diskLimit\", f.disk_directory AS \"diskDirectory\","
    " f.memory_limit AS \"memoryLimit\", f.cpu_limit AS \"cpuLimit\", f.log_limit AS \"logLimit\","
    " f.log_directory AS \"logDirectory\", f.log_file_count AS \"logFileCount\","
    " f.status_frequency AS \"statusFrequency\", f.change_frequency AS \"changeFrequency\","
    " f.device_scan_frequency AS \"deviceScanFrequency\","
    " f.watchdog_enabled AS \"watchdogEnabled:bool\", f.latitude, f.longitude,"
    " f.log_level AS \"logLevel\", f.available_disk_threshold AS \"availableDiskThreshold\","
    " f.docker_pruning_frequency AS \"dockerPruningFrequency\","
    " coalesce(r.host, 'localhost') AS \"routerHost\", coalesce(r.messaging_port, 5672) AS "
    "\"routerPort\","
    " f.time_zone AS \"timeZone\""
    " FROM fogs f LEFT JOIN routers r ON r.id = f.router_id WHERE f.uuid = ?";

static iof_err get_config(struct ctl_call *call) {
    json_t *cfg = NULL;
    const struct ctl_db_value p[] = {CTL_DB_TEXT(call->fog_uuid)};
    iof_err err = ctl_db_query_json_one(
        ctl_store_db(call->srv->store), SQL_AGENT_CONFIG, p, 1, "Node not found", &cfg, call->d);
    if (err != IOF_OK) {
        return err;
    }
    /* Ours: where agents reach NATS for messages across nodes. */
    json_object_set_new(cfg, "natsUrl", json_string(call->srv->cfg.nats_url));
    return ctl_reply(call, 200, cfg);
}

/* PATCH config: agent-side changes of its own configuration (agent.md §5.2 keys). */
static const struct {
    const char *key;
    const char *column;
    char type; /* s string, n number, i integer, b boolean */
} patchable[] = {
    {"networkInterface", "network_interface", 's'},
    {"dockerUrl", "docker_url", 's'},
    {"diskLimit", "disk_limit", 'n'},
    {"diskDirectory", "disk_directory", 's'},
    {"memoryLimit", "memory_limit", 'n'},
    {"cpuLimit", "cpu_limit", 'n'},
    {"logLimit", "log_limit", 'n'},
    {"logDirectory", "log_directory", 's'},
    {"logFileCount", "log_file_count", 'i'},
    {"statusFrequency", "status_frequency", 'i'},
    {"changeFrequency", "change_frequency", 'i'},
    {"deviceScanFrequency", "device_scan_frequency", 'i'},
    {"watchdogEnabled", "watchdog_enabled", 'b'},
    {"latitude", "latitude", 'n'},
    {"longitude", "longitude", 'n'},
    {"gpsMode", "gps_mode", 's'},
    {"logLevel", "log_level", 's'},
    {"availableDiskThreshold", "available_disk_threshold", 'n'},
    {"dockerPruningFrequency", "docker_pruning_frequency", 'i'},
    {"timeZone", "time_zone", 's'},
};

static iof_err patch_config(struct ctl_call *call) {
    json_t *body;
    iof_err err = ctl_body(call, &body);
    if (err != IOF_OK) {
        return err;
    }
    struct ctl_db *db = ctl_store_db(call->srv->store);
    if ((err = ctl_db_begin(db, call->d)) != IOF_OK) {
        return err;
    }
    for (size_t i = 0; err == IOF_OK && i < sizeof patchable / sizeof patchable[0]; i++) {
        const json_t *v = json_object_get(body, patchable[i].key);
        if (v == NULL || json_is_null(v)) {
            continue;
        }
        struct ctl_db_value val;
        bool ok = true;
        switch (patchable[i].type) {
            case 's':
                ok = json_is_string(v);
                val = CTL_DB_TEXT(json_string_value(v));
                break;
            case 'n':
                ok = json_is_number(v);
                val = CTL_DB_REAL(json_number_value(v));
                break;
            case 'i':
                ok = json_is_integer(v) && json_integer_value(v) >= 0;
                val = CTL_DB_INT(json_integer_value(v));
                break;
            default:
                ok = json_is_boolean(v);
                val = CTL_DB_BOOL(json_is_true(v));
                break;
        }
        if (!ok) {
            err = iof_fail(call->d, IOF_EINVAL, "Invalid format for field '%s'", patchable[i].key);
            break;
        }
        char sql[128];
        (void)snprintf(
            sql, sizeof sql, "UPDATE fogs SET %s = ? WHERE uuid = ?", patchable[i].column);
        const struct ctl_db_value p[] = {val, CTL_DB_TEXT(call->fog_uuid)};
        err = ctl_db_exec(db, sql, p, 2, NULL, NULL, NULL, call->d);
    }
    if (err != IOF_OK) {
        ctl_db_abort(db);
        return err;
    }
    err = ctl_db_commit(db, call->d);
    return err != IOF_OK ? err : ctl_reply(call, 204, NULL);
}

static iof_err get_changes(struct ctl_call *call) {
    const char *wait = iof_http_query(call->req, "wait");
    long wait_s = 0;
    if (wait != NULL) {
        char *end = NULL;
        errno = 0;
        wait_s = strtol(wait, &end, 10);
        if (errno != 0 || end == wait || *end != '\0' || wait_s < 0 || wait_s > MAX_WAIT_S) {
            return iof_fail(
                call->d, IOF_EINVAL, "Invalid value for 'wait': 0 to %d seconds", MAX_WAIT_S);
        }
    }
    if (wait_s > 0) {
        /* Hold first, then look: a raise committed after the look finds the held request. */
        iof_err err = ctl_agent_wait_hold(
            call->srv->waits, call->req, call->fog_uuid, (int64_t)wait_s * 1000);
        if (err != IOF_OK) {
            return iof_fail(call->d, err, "cannot hold the request");
        }
        uint32_t mask = 0;
        int64_t version = 0;
        if (ctl_store_flags_get(call->srv->store, call->fog_uuid, &mask, &version, call->d) !=
                IOF_OK ||
            mask != 0 || ctl_logs_pending(call->srv->logs, call->fog_uuid)) {
            ctl_agent_wait_wake(call->srv->waits, call->fog_uuid);
        }
        return IOF_OK;
    }
    json_t *body = ctl_changes_json(call->srv, call->fog_uuid, call->d);
    if (body == NULL) {
        return IOF_EIO;
    }
    return ctl_reply(call, 200, body);
}

static iof_err patch_changes(struct ctl_call *call) {
    json_t *body;
    iof_err err = ctl_body(call, &body);
    if (err != IOF_OK) {
        return err;
    }
    const json_t *v = json_object_get(body, "lastUpdated");
    int64_t version = -1;
    if (json_is_integer(v)) {
        version = (int64_t)json_integer_value(v);
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end = NULL;
        errno = 0;
        long long x = strtoll(s, &end, 10);
        if (errno == 0 && end != s && *end == '\0') {
            version = x;
        }
    } else if (v == NULL || json_is_null(v)) {
        return iof_fail(call->d, IOF_EINVAL, "Required field 'lastUpdated' is missing");
    }
    if (version < 0) {
        return iof_fail(call->d, IOF_EINVAL, "Invalid format for field 'lastUpdated'");
    }
    if ((err = ctl_store_flags_ack(call->srv->store, call->fog_uuid, version, call->d)) != IOF_OK) {
        return err;
    }
    return ctl_reply(call, 200, json_object());
}

const struct ctl_route ctl_routes_agent[] = {
    {"POST", "/api/v3/agent/provision", provision, CTL_AUTH_NONE},
    {"POST", "/api/v3/agent/deprovision", deprovision, CTL_AUTH_AGENT},
    {"GET", "/api/v3/agent/config", get_config, CTL_AUTH_AGENT},
    {"PATCH", "/api/v3/agent/config", patch_config, CTL_AUTH_AGENT},
    {"GET", "/api/v3/agent/config/changes", get_changes, CTL_AUTH_AGENT},
    {"PATCH", "/api/v3/agent/config/changes", patch_changes, CTL_AUTH_AGENT},
    {"PUT", "/api/v3/agent/status", ctl_agent_put_status, CTL_AUTH_AGENT},
    {"GET", "/api/v3/agent/microservices", ctl_agent_get_microservices, CTL_AUTH_AGENT},
    {"GET", "/api/v3/agent/microservices/:uuid", ctl_agent_get_microservice, CTL_AUTH_AGENT},
};
const size_t ctl_routes_agent_count = sizeof ctl_routes_agent / sizeof ctl_routes_agent[0];
