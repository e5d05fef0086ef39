/* Route registration and authentication in front of every handler. */
#include "controller/api/api.h"

#include "controller/api/substitute.h"
#include "common/clock.h"
#include "common/log.h"
#include "controller/store/store_user.h"
#include "ws/handshake.h"

#include <stdlib.h>
#include <string.h>

struct ctl_route_ctx {
    struct ctl_server *srv;
    const struct ctl_route *route;
    ctl_handler admit; /* upload routes: checks made when the head arrives, NULL: none */
    bool subst;        /* bodies are rendered as templates (substitute.h) */
    struct ctl_route_ctx *next;
};

static iof_err deny(struct ctl_call *call) {
    return ctl_reply_error(call, 401, "AuthenticationError", "authorization failed");
}

/* The user the admin acts for: the X-Iofog-User-Id header, else the first user (0 if none). */
static iof_err admin_user(struct ctl_call *call) {
    const char *hdr = iof_http_header(call->req, "X-Iofog-User-Id");
    struct ctl_store_user u = {0};
    iof_err err;
    if (hdr != NULL) {
        char *end = NULL;
        long long id = strtoll(hdr, &end, 10);
        if (end == hdr || *end != '\0' || id <= 0) {
            return iof_fail(call->d, IOF_EINVAL, "Invalid user id '%s'", hdr);
        }
        err = ctl_store_user_get(call->srv->store, id, &u, call->d);
        if (err == IOF_ENOENT) {
            return iof_fail(call->d, IOF_ENOENT, "Invalid user id %lld", id);
        }
    } else {
        err = ctl_store_user_first(call->srv->store, &u, call->d);
        if (err == IOF_ENOENT) {
            return IOF_OK; /* no users yet: admin calls that need one will say so */
        }
    }
    if (err == IOF_OK) {
        call->user_id = u.id;
    }
    ctl_store_user_clear(&u);
    return err;
}

/* The user's token: the Authorization header, else, on a WebSocket upgrade only, the query
 * parameter "token", as classic takes it (a browser's WebSocket cannot set headers). */
static const char *presented_token(struct ctl_call *call, size_t *len) {
    const char *h = iof_http_header(call->req, "Authorization");
    if (h == NULL && iof_ws_header_has_token(iof_http_header(call->req, "Upgrade"), "websocket")) {
        h = iof_http_query(call->req, "token");
    }
    return ctl_auth_header_token(h, len);
}

static iof_err authenticate(struct ctl_call *call) {
    size_t len = 0;
    const char *tok = presented_token(call, &len);
    if (tok == NULL || len > 256) {
        return IOF_EAUTH;
    }
    char token[257];
    memcpy(token, tok, len);
    token[len] = '\0';
    char hash[CTL_TOKEN_HASH_LEN + 1];
    ctl_token_hash(token, hash);
    if (strcmp(hash, call->srv->admin_hash) == 0) {
        call->admin = true;
        return admin_user(call);
    }
    memcpy(call->token_hash, hash, sizeof hash);
    int64_t now = iof_time_now_ms();
    int64_t ttl_ms = call->srv->cfg.user_token_ttl_s * 1000;
    int64_t max_ms = call->srv->cfg.user_token_max_lifetime_s * 1000;
    return ctl_store_token_use(
        call->srv->store, hash, now, now + ttl_ms, now - max_ms, &call->user_id, call->d);
}

iof_err ctl_need_operator(struct ctl_call *call) {
    if (call->admin) {
        return IOF_OK;
    }
    struct ctl_store_user first = {0};
    iof_err err = ctl_store_user_first(call->srv->store, &first, call->d);
    bool ok = err == IOF_OK && call->user_id != 0 && first.id == call->user_id;
    ctl_store_user_clear(&first);
    if (err != IOF_OK && err != IOF_ENOENT) {
        return err;
    }
    if (!ok) {
        return iof_fail(call->d,
                        IOF_EPERM,
                        "Only the Controller's administrator may change Controller-wide settings");
    }
    return IOF_OK;
}

/* An agent token names its node; every authenticated agent request also records the Controller's
 * receive time as the node's last_active (liveness does not trust the agent's clock). */
static const char SQL_AGENT_AUTH[] =
    "UPDATE fogs SET last_active = ?1 WHERE uuid ="
    " (SELECT fog_uuid FROM fog_access_tokens WHERE token_hash = ?2 AND expiration_time > ?1)"
    " RETURNING uuid";

static iof_err read_fog_uuid(void *ctx, const struct ctl_db_row *row) {
    struct ctl_call *call = ctx;
    const char *uuid = ctl_db_row_text(row, 0);
    if (uuid != NULL && strlen(uuid) < sizeof call->fog_uuid) {
        memcpy(call->fog_uuid, uuid, strlen(uuid) + 1);
    }
    return IOF_OK;
}

static iof_err authenticate_agent(struct ctl_call *call) {
    size_t len = 0;
    const char *tok = ctl_auth_header_token(iof_http_header(call->req, "Authorization"), &len);
    if (tok == NULL || len > 256) {
        return IOF_EAUTH;
    }
    char token[257];
    memcpy(token, tok, len);
    token[len] = '\0';
    char hash[CTL_TOKEN_HASH_LEN + 1];
    ctl_token_hash(token, hash);
    const struct ctl_db_value p[] = {CTL_DB_INT(iof_time_now_ms()), CTL_DB_TEXT(hash)};
    iof_err err = ctl_db_exec(
        ctl_store_db(call->srv->store), SQL_AGENT_AUTH, p, 2, read_fog_uuid, call, NULL, call->d);
    if (err != IOF_OK) {
        return err;
    }
    return call->fog_uuid[0] != '\0' ? IOF_OK : IOF_EAUTH;
}

/* Authenticates as the route asks; *denied when the 401 was answered. */
static iof_err check_auth(const struct ctl_route_ctx *rc, struct ctl_call *call, bool *denied) {
    *denied = false;
    if (rc->route->auth == CTL_AUTH_NONE) {
        return IOF_OK;
    }
    iof_err err = rc->route->auth == CTL_AUTH_AGENT ? authenticate_agent(call) : authenticate(call);
    if (err == IOF_EAUTH) {
        *denied = true;
        return deny(call);
    }
    return err;
}

static iof_err dispatch(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
    struct ctl_route_ctx *rc = ctx;
    struct ctl_call call = {.srv = rc->srv, .req = req, .d = d};
    bool denied;
    iof_err err = check_auth(rc, &call, &denied);
    if (err != IOF_OK || denied) {
        return err;
    }
    if (rc->subst && (err = ctl_subst_request(&call)) != IOF_OK) {
        return err;
    }
    return rc->route->handler(&call);
}

/* An upload's head: credentials and the route's own checks before any body byte is read. */
static iof_err admit_upload(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
    struct ctl_route_ctx *rc = ctx;
    struct ctl_call call = {.srv = rc->srv, .req = req, .d = d};
    bool denied;
    iof_err err = check_auth(rc, &call, &denied);
    if (err != IOF_OK || denied) {
        return err;
    }
    return rc->admit != NULL ? rc->admit(&call) : IOF_OK;
}

iof_err ctl_api_register(struct ctl_server *srv,
                         const struct ctl_route *routes,
                         size_t n,
                         struct iof_diag *d) {
    for (size_t i = 0; i < n; i++) {
        struct ctl_route_ctx *rc = calloc(1, sizeof *rc);
        if (rc == NULL) {
            return iof_fail(d, IOF_ENOMEM, "out of memory");
        }
        rc->srv = srv;
        rc->route = &routes[i];
        rc->subst = ctl_subst_route(&routes[i]);
        rc->next = srv->routes;
        srv->routes = rc;
        iof_err err =
            iof_http_server_route(srv->http, routes[i].method, routes[i].path, dispatch, rc);
        if (err != IOF_OK) {
            return iof_fail(d, err, "cannot register %s %s", routes[i].method, routes[i].path);
        }
    }
    return IOF_OK;
}

iof_err ctl_api_register_upload(struct ctl_server *srv,
                                const struct ctl_route *route,
                                ctl_handler admit,
                                const struct iof_http_upload_opts *opts,
                                struct iof_diag *d) {
    struct ctl_route_ctx *rc = calloc(1, sizeof *rc);
    if (rc == NULL) {
        return iof_fail(d, IOF_ENOMEM, "out of memory");
    }
    rc->srv = srv;
    rc->route = route;
    rc->admit = admit;
    rc->next = srv->routes;
    srv->routes = rc;
    struct iof_http_upload_opts o = *opts;
    o.admit = admit_upload;
    iof_err err =
        iof_http_server_route_upload(srv->http, route->method, route->path, &o, dispatch, rc);
    if (err != IOF_OK) {
        return iof_fail(d, err, "cannot register %s %s", route->method, route->path);
    }
    return IOF_OK;
}

void ctl_api_release(struct ctl_server *srv) {
    while (srv->routes != NULL) {
        struct ctl_route_ctx *next = srv->routes->next;
        free(srv->routes);
        srv->routes = next;
    }
}

iof_err ctl_reply(struct ctl_call *call, int status, json_t *body) {
    return iof_http_respond_json(call->req, status, body);
}

iof_err ctl_reply_error(struct ctl_call *call, int status, const char *name, const char *message) {
    json_t *body = json_pack("{s:s, s:s}", "name", name, "message", message);
    if (body == NULL) {
        return IOF_ENOMEM;
    }
    return iof_http_respond_json(call->req, status, body);
}

iof_err ctl_body(struct ctl_call *call, json_t **out) {
    json_t *body = NULL;
    iof_err err = iof_http_body_json(call->req, &body, call->d);
    if (err != IOF_OK) {
        return err;
    }
    if (!json_is_object(body)) {
        return iof_fail(call->d, IOF_EINVAL, "Invalid JSON: expected an object");
    }
    *out = body;
    return IOF_OK;
}
