/* /api/v3/config: the Controller's key/value settings kept in the database (controller.md §3.11),
 * e.g. default-proxy-host. Not the CLI's `config` command, which edits <data-dir>/controller.json.
 * The table is Controller-wide, as in the classic Controller; only the administrator
 * (ctl_need_operator) changes it. */
#include "controller/api/api.h"

#include "common/clock.h"
#include "common/json.h"
#include "controller/store/db_json.h"

#include <stdio.h>

static const char SQL_LIST[] = "SELECT key, value FROM config ORDER BY key";
static const char SQL_GET[] = "SELECT key, value FROM config WHERE key = ?";
static const char SQL_UPSERT[] = "INSERT INTO config (key, value) VALUES (?, ?) ON CONFLICT (key)"
                                 " DO UPDATE SET value = excluded.value, updated_at = ?";

static iof_err list_config(struct ctl_call *call) {
    json_t *rows = NULL;
    iof_err err =
        ctl_db_query_json(ctl_store_db(call->srv->store), SQL_LIST, NULL, 0, &rows, call->d);
    return err != IOF_OK ? err : ctl_reply(call, 200, json_pack("{s:o}", "config", rows));
}

static iof_err get_config(struct ctl_call *call) {
    const char *key = iof_http_param(call->req, "key");
    char nf[200];
    /* Classic's text, its spelling included. */
    (void)snprintf(nf, sizeof nf, "Unkown config key '%.150s'", key != NULL ? key : "");
    const struct ctl_db_value p[] = {CTL_DB_TEXT(key)};
    json_t *row = NULL;
    iof_err err =
        ctl_db_query_json_one(ctl_store_db(call->srv->store), SQL_GET, p, 1, nf, &row, call->d);
    return err != IOF_OK ? err : ctl_reply(call, 200, row);
}

static iof_err put_config(struct ctl_call *call) {
    json_t *body = NULL;
    const char *key = NULL, *value = NULL;
    iof_err err = ctl_need_operator(call);
    if (err != IOF_OK || (err = ctl_body(call, &body)) != IOF_OK ||
        (err = iof_json_get_string(body, "key", IOF_JSON_REQUIRED, &key, call->d)) ||
        (err = iof_json_get_string(body, "value", IOF_JSON_REQUIRED, &value, call->d))) {
        return err;
    }
    if (*key == '\0') {
        return iof_fail(call->d, IOF_EINVAL, "Invalid format for field 'key'");
    }
    const struct ctl_db_value p[] = {
        CTL_DB_TEXT(key), CTL_DB_TEXT(value), CTL_DB_INT(iof_time_now_ms())};
    err = ctl_db_exec(ctl_store_db(call->srv->store), SQL_UPSERT, p, 3, NULL, NULL, NULL, call->d);
    if (err != IOF_OK) {
        return err;
    }
    return ctl_reply(call, 200, json_pack("{s:s, s:s}", "key", key, "value", value));
}

const struct ctl_route ctl_routes_config[] = {
    {"GET", "/api/v3/config", list_config, CTL_AUTH_USER},
    {"GET", "/api/v3/config/:key", get_config, CTL_AUTH_USER},
    {"PUT", "/api/v3/config", put_config, CTL_AUTH_USER},
};
const size_t ctl_routes_config_count = sizeof ctl_routes_config / sizeof ctl_routes_config[0];
