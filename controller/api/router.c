/* /api/v3/router: the default router (controller.md §3.11), used by nodes whose upstream is
 * "default-router" when there is no system node. Its settings are stored and returned as the
 * classic API does; no router runs (messaging goes through the Agent and NATS). The default
 * router is one Controller-wide row (routers.is_default = 1, no node). */
#include "controller/api/api.h"

#include "common/clock.h"
#include "common/json.h"
#include "controller/store/db_json.h"

static const char SQL_GET[] =
    "SELECT host, messaging_port AS \"messagingPort\", edge_router_port AS \"edgeRouterPort\","
    " inter_router_port AS \"interRouterPort\" FROM routers WHERE is_default = 1";
static const char SQL_UPDATE[] =
    "UPDATE routers SET host = ?, messaging_port = ?, inter_router_port = ?,"
    " edge_router_port = ?, is_edge = 0, updated_at = ? WHERE is_default = 1";
static const char SQL_INSERT[] =
    "INSERT INTO routers (fog_uuid, is_edge, host, messaging_port, inter_router_port,"
    " edge_router_port, is_default) VALUES (NULL, 0, ?, ?, ?, ?, 1)";

static iof_err get_router(struct ctl_call *call) {
    json_t *row = NULL;
    iof_err err = ctl_db_query_json_one(ctl_store_db(call->srv->store),
                                        SQL_GET,
                                        NULL,
                                        0,
                                        "Default router not found",
                                        &row,
                                        call->d);
    return err != IOF_OK ? err : ctl_reply(call, 200, row);
}

static iof_err
port_field(struct ctl_call *call, const json_t *body, const char *key, int64_t *port) {
    iof_err err = iof_json_get_int(body, key, IOF_JSON_OPTIONAL, port, call->d);
    if (err == IOF_OK && (*port < 1 || *port > 65535)) {
        err = iof_fail(call->d, IOF_EINVAL, "Invalid format for field '%s': 1-65535", key);
    }
    return err;
}

static iof_err upsert(struct ctl_call *call, const struct ctl_db_value *p) {
    struct ctl_db *db = ctl_store_db(call->srv->store);
    int64_t changed = 0;
    struct ctl_db_value up[6] = {p[0], p[1], p[2], p[3], CTL_DB_INT(iof_time_now_ms())};
    iof_err err = ctl_db_exec(db, SQL_UPDATE, up, 5, NULL, NULL, &changed, call->d);
    if (err == IOF_OK && changed == 0) {
        err = ctl_db_exec(db, SQL_INSERT, p, 4, NULL, NULL, NULL, call->d);
    }
    return err;
}

static iof_err put_router(struct ctl_call *call) {
    json_t *body = NULL;
    const char *host = NULL;
    int64_t messaging = 5672, inter = 56721, edge = 56722;
    iof_err err = ctl_need_operator(call);
    if (err != IOF_OK || (err = ctl_body(call, &body)) != IOF_OK ||
        (err = iof_json_get_string(body, "host", IOF_JSON_REQUIRED, &host, call->d)) ||
        (err = port_field(call, body, "messagingPort", &messaging)) ||
        (err = port_field(call, body, "interRouterPort", &inter)) ||
        (err = port_field(call, body, "edgeRouterPort", &edge))) {
        return err;
    }
    if (*host == '\0') {
        return iof_fail(call->d, IOF_EINVAL, "Invalid format for field 'host'");
    }
    const struct ctl_db_value p[] = {
        CTL_DB_TEXT(host), CTL_DB_INT(messaging), CTL_DB_INT(inter), CTL_DB_INT(edge)};
    struct ctl_db *db = ctl_store_db(call->srv->store);
    if ((err = ctl_db_begin(db, call->d)) != IOF_OK) {
        return err;
    }
    if ((err = upsert(call, p)) != IOF_OK) {
        struct iof_diag ignored;
        (void)!ctl_db_rollback(db, &ignored);
        return err;
    }
    if ((err = ctl_db_commit(db, call->d)) != IOF_OK) {
        return err;
    }
    IOF_INFO("router", "default_router_set port=%lld", (long long)messaging);
    return ctl_reply(call,
                     200,
                     json_pack("{s:s, s:I, s:I, s:I}",
                               "host",
                               host,
                               "messagingPort",
                               (json_int_t)messaging,
                               "edgeRouterPort",
                               (json_int_t)edge,
                               "interRouterPort",
                               (json_int_t)inter));
}

const struct ctl_route ctl_routes_router[] = {
    {"GET", "/api/v3/router", get_router, CTL_AUTH_USER},
    {"PUT", "/api/v3/router", put_router, CTL_AUTH_USER},
};
const size_t ctl_routes_router_count = sizeof ctl_routes_router / sizeof ctl_routes_router[0];
