/* PATCH/GET /api/v3/iofog/:id/tunnel: the SSH reverse tunnel settings of a node (controller.md
 * §3.3). This system runs no SSH tunnel server: the routes keep the classic API shape and state
 * (username, host, ports, open/closed) and raise the `tunnel` change flag so an agent that
 * supports tunnels fetches the settings from GET /agent/tunnel; nothing else opens a port. The
 * settings (username, password, host, rsakey, lport, rport) may be given in the PATCH body, as
 * the classic CLI gives them; the password and key are never returned by this API. */
#include "controller/api/iofog.h"

#include "common/json.h"
#include "common/log.h"
#include "controller/domain/changes.h"
#include "controller/store/db_json.h"

#include <string.h>

static iof_err
get_port(struct ctl_call *call, const json_t *body, const char *key, struct ctl_db_value *out) {
    int64_t v = 0;
    const json_t *raw = json_object_get(body, key);
    iof_err err = iof_json_get_int(body, key, IOF_JSON_OPTIONAL, &v, call->d);
    if (err != IOF_OK || raw == NULL || json_is_null(raw)) {
        return err;
    }
    if (v < 1 || v > 65535) {
        return iof_fail(call->d, IOF_EINVAL, "Invalid format for field '%s'", key);
    }
    *out = CTL_DB_INT(v);
    return IOF_OK;
}

static iof_err patch_tunnel(struct ctl_call *call) {
    const char *uuid = iof_http_param(call->req, "id");
    json_t *body = NULL;
    const char *action = NULL;
    iof_err err = ctl_body(call, &body);
    if (err == IOF_OK) {
        err = iof_json_get_string(body, "action", IOF_JSON_REQUIRED, &action, call->d);
    }
    if (err != IOF_OK) {
        return err;
    }
    bool open = strcmp(action, "open") == 0;
    if (!open && strcmp(action, "close") != 0) {
        return iof_fail(
            call->d, IOF_EINVAL, "Unknown action property. Action can be \"open\" or \"close\"");
    }
    const char *username = NULL, *password = NULL, *host = NULL, *rsakey = NULL;
    struct ctl_db_value lport = CTL_DB_NULLV, rport = CTL_DB_NULLV;
    if ((err = iof_json_get_string(body, "username", IOF_JSON_OPTIONAL, &username, call->d)) ||
        (err = iof_json_get_string(body, "password", IOF_JSON_OPTIONAL, &password, call->d)) ||
        (err = iof_json_get_string(body, "host", IOF_JSON_OPTIONAL, &host, call->d)) ||
        (err = iof_json_get_string(body, "rsakey", IOF_JSON_OPTIONAL, &rsakey, call->d)) ||
        (err = get_port(call, body, "lport", &lport)) ||
        (err = get_port(call, body, "rport", &rport))) {
        return err;
    }
    struct ctl_db *db = ctl_store_db(call->srv->store);
    if ((err = ctl_db_begin(db, call->d)) != IOF_OK) {
        return err;
    }
    err = ctl_iofog_find(call, uuid, CTL_IOFOG_WRITE, NULL);
    int64_t changes = 0;
    if (err == IOF_OK && open) {
        const struct ctl_db_value p[] = {CTL_DB_TEXT(uuid),
                                         CTL_DB_TEXT(username),
                                         CTL_DB_TEXT(password),
                                         CTL_DB_TEXT(host),
                                         CTL_DB_TEXT(rsakey),
                                         lport,
                                         rport,
                                         lport};
        err = ctl_db_exec(db,
                          "INSERT INTO tunnels (fog_uuid, username, password, host, rsa_key,"
                          " local_port, remote_port, closed) VALUES (?, ?, ?, ?, ?,"
                          " COALESCE(?, 22), ?, 0) ON CONFLICT (fog_uuid) DO UPDATE SET"
                          " username = COALESCE(excluded.username, tunnels.username),"
                          " password = COALESCE(excluded.password, tunnels.password),"
                          " host = COALESCE(excluded.host, tunnels.host),"
                          " rsa_key = COALESCE(excluded.rsa_key, tunnels.rsa_key),"
                          " local_port = CASE WHEN CAST(? AS TEXT) IS NULL THEN tunnels.local_port"
                          " ELSE excluded.local_port END,"
                          " remote_port = COALESCE(excluded.remote_port, tunnels.remote_port),"
                          " closed = 0",
                          p,
                          8,
                          NULL,
                          NULL,
                          NULL,
                          call->d);
    } else if (err == IOF_OK) {
        const struct ctl_db_value p[] = {CTL_DB_TEXT(uuid)};
        err = ctl_db_exec(db,
                          "UPDATE tunnels SET closed = 1 WHERE fog_uuid = ?",
                          p,
                          1,
                          NULL,
                          NULL,
                          &changes,
                          call->d);
        if (err == IOF_OK && changes == 0) {
            err = iof_fail(call->d, IOF_ENOENT, "Tunnel not found");
        }
    }
    if (err == IOF_OK) {
        err = ctl_changes_raise(call->srv, uuid, CTL_FLAG_TUNNEL, call->d);
    }
    if (err == IOF_OK) {
        err = ctl_db_commit(db, call->d);
    } else {
        if (ctl_db_rollback(db, NULL) != IOF_OK) {
            IOF_WARN("tunnel", "rollback failed after: %s", iof_diag_text(call->d, err));
        }
    }
    return err != IOF_OK ? err : ctl_reply(call, 204, NULL);
}

static iof_err get_tunnel(struct ctl_call *call) {
    const char *uuid = iof_http_param(call->req, "id");
    iof_err err = ctl_iofog_find(call, uuid, CTL_IOFOG_READ, NULL);
    if (err != IOF_OK) {
        return err;
    }
    const struct ctl_db_value p[] = {CTL_DB_TEXT(uuid)};
    json_t *row = NULL;
    err = ctl_db_query_json_one(ctl_store_db(call->srv->store),
                                "SELECT username, host, remote_port AS \"remotePort\","
                                " local_port AS \"localPort\","
                                " CASE WHEN closed = 1 THEN 'closed' ELSE 'open' END AS status"
                                " FROM tunnels WHERE fog_uuid = ?",
                                p,
                                1,
                                "Tunnel not found",
                                &row,
                                call->d);
    return err != IOF_OK ? err : ctl_reply(call, 200, row);
}

const struct ctl_route ctl_routes_tunnel[] = {
    {"PATCH", "/api/v3/iofog/:id/tunnel", patch_tunnel, CTL_AUTH_USER},
    {"GET", "/api/v3/iofog/:id/tunnel", get_tunnel, CTL_AUTH_USER},
};
const size_t ctl_routes_tunnel_count = sizeof ctl_routes_tunnel / sizeof ctl_routes_tunnel[0];
