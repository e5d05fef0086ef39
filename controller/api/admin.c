/* /api/v3/admin/users: user management for the iofog-controller CLI, which the classic Controller
 * did by writing to its database directly. Only the local admin credential may call these routes;
 * a user token gets 403. Not part of the classic API. */
#include "controller/api/api.h"

#include "common/clock.h"
#include "common/json.h"
#include "controller/store/db_json.h"
#include "controller/store/store_user.h"

#include <string.h>

static iof_err need_admin(struct ctl_call *call) {
    if (!call->admin) {
        return iof_fail(call->d, IOF_EPERM, "Only the local admin credential may manage users");
    }
    return IOF_OK;
}

static iof_err list_users(struct ctl_call *call) {
    iof_err err = need_admin(call);
    json_t *rows = NULL;
    if (err == IOF_OK) {
        err = ctl_db_query_json(
            ctl_store_db(call->srv->store),
            "SELECT id, first_name AS \"firstName\", last_name AS \"lastName\", email,"
            " email_activated AS \"emailActivated:bool\" FROM users ORDER BY id",
            NULL,
            0,
            &rows,
            call->d);
    }
    return err != IOF_OK ? err : ctl_reply(call, 200, json_pack("{s:o}", "users", rows));
}

/* The user named by the :email parameter. */
static iof_err user_by_email(struct ctl_call *call, struct ctl_store_user *u) {
    const char *email = iof_http_param(call->req, "email");
    iof_err err = ctl_store_user_get_by_email(call->srv->store, email, u, call->d);
    if (err == IOF_ENOENT) {
        return iof_fail(call->d, IOF_ENOENT, "Invalid user email: %s", email);
    }
    return err;
}

static iof_err patch_user(struct ctl_call *call) {
    json_t *body = NULL;
    const char *first = NULL, *last = NULL, *password = NULL;
    struct ctl_store_user u = {0};
    iof_err err = need_admin(call);
    if (err != IOF_OK || (err = ctl_body(call, &body)) ||
        (err = iof_json_get_string(body, "firstName", IOF_JSON_OPTIONAL, &first, call->d)) ||
        (err = iof_json_get_string(body, "lastName", IOF_JSON_OPTIONAL, &last, call->d)) ||
        (err = iof_json_get_string(body, "password", IOF_JSON_OPTIONAL, &password, call->d)) ||
        (err = user_by_email(call, &u))) {
        return err;
    }
    if (password != NULL && strlen(password) < 8) {
        err = iof_fail(call->d,
                       IOF_EINVAL,
                       "Invalid value for field 'password': at least 8 "
                       "characters are required");
    }
    if (err == IOF_OK && (first != NULL || last != NULL)) {
        err = ctl_store_user_update_names(call->srv->store, u.id, first, last, call->d);
    }
    if (err == IOF_OK && password != NULL) {
        char hash[CTL_PASSWORD_HASH_MAX];
        err = ctl_password_hash(password, hash);
        if (err == IOF_OK) {
            err = ctl_store_user_set_password(call->srv->store, u.id, hash, call->d);
        }
        if (err == IOF_OK) {
            err = ctl_store_tokens_delete_user(call->srv->store, u.id, call->d);
        }
    }
    ctl_store_user_clear(&u);
    return err != IOF_OK ? err : ctl_reply(call, 204, NULL);
}

static iof_err delete_user(struct ctl_call *call) {
    struct ctl_store_user u = {0};
    iof_err err = need_admin(call);
    if (err != IOF_OK || (err = user_by_email(call, &u))) {
        return err;
    }
    bool force = iof_http_query(call->req, "force") != NULL;
    if (!force) {
        json_t *row = NULL;
        const struct ctl_db_value p[] = {CTL_DB_INT(u.id)};
        err = ctl_db_query_json_one(ctl_store_db(call->srv->store),
                                    "SELECT count(*) AS n FROM fogs WHERE user_id = ?"
                                    " AND daemon_status = 'RUNNING'",
                                    p,
                                    1,
                                    NULL,
                                    &row,
                                    call->d);
        if (err == IOF_OK && json_integer_value(json_object_get(row, "n")) > 0) {
            err = iof_fail(call->d,
                           IOF_EINVAL,
                           "The user has running ioFog-Agents: stop them first or use --force");
        }
        json_decref(row);
    }
    if (err == IOF_OK) {
        err = ctl_store_user_delete(call->srv->store, u.id, call->d);
    }
    ctl_store_user_clear(&u);
    return err != IOF_OK ? err : ctl_reply(call, 204, NULL);
}

static iof_err new_token(struct ctl_call *call) {
    struct ctl_store_user u = {0};
    iof_err err = need_admin(call);
    if (err != IOF_OK || (err = user_by_email(call, &u))) {
        return err;
    }
    char token[CTL_USER_TOKEN_LEN + 1];
    char hash[CTL_TOKEN_HASH_LEN + 1];
    int64_t expires = iof_time_now_ms() + call->srv->cfg.user_token_ttl_s * 1000;
    err = ctl_token_new(token);
    if (err == IOF_OK) {
        ctl_token_hash(token, hash);
        err = ctl_store_token_add(call->srv->store, u.id, hash, expires, call->d);
    }
    ctl_store_user_clear(&u);
    if (err != IOF_OK) {
        return err;
    }
    return ctl_reply(
        call,
        201,
        json_pack("{s:s, s:I}", "accessToken", token, "expirationTime", (json_int_t)expires));
}

const struct ctl_route ctl_routes_admin[] = {
    {"GET", "/api/v3/admin/users", list_users, CTL_AUTH_USER},
    {"PATCH", "/api/v3/admin/users/:email", patch_user, CTL_AUTH_USER},
    {"DELETE", "/api/v3/admin/users/:email", delete_user, CTL_AUTH_USER},
    {"POST", "/api/v3/admin/users/:email/token", new_token, CTL_AUTH_USER},
};
const size_t ctl_routes_admin_count = sizeof ctl_routes_admin / sizeof ctl_routes_admin[0];
