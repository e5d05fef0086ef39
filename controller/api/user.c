/* /api/v3/user: signup, login, logout, profile and password (controller.md §3.2). Passwords are
 * kept as argon2id hashes; tokens as SHA-256 digests. E-mail delivery is not part of this
 * Controller, so activation is off (accounts are active at signup) and the e-mailed temporary
 * password is refused with an explanation instead of pretending to send one. */
#include "controller/api/api.h"

#include "common/clock.h"
#include "common/json.h"
#include "controller/server/login.h"
#include "controller/store/db_json.h"
#include "controller/store/store_user.h"

#include <stdio.h>
#include <string.h>

static iof_err min_length(struct ctl_call *call, const char *key, const char *value, size_t min) {
    if (strlen(value) < min) {
        return iof_fail(call->d,
                        IOF_EINVAL,
                        "Invalid value for field '%s': at least %zu characters are required",
                        key,
                        min);
    }
    return IOF_OK;
}

static bool email_valid(const char *e) {
    const char *at = strchr(e, '@');
    return at != NULL && at != e && strchr(at + 1, '.') != NULL && strchr(at + 1, '@') == NULL &&
           strpbrk(e, " \t\r\n") == NULL && at[1] != '.' && e[strlen(e) - 1] != '.';
}

static json_t *user_json(const struct ctl_store_user *u) {
    return json_pack(
        "{s:s, s:s, s:s}", "firstName", u->first_name, "lastName", u->last_name, "email", u->email);
}

static iof_err signup(struct ctl_call *call) {
    json_t *body;
    iof_err err = ctl_body(call, &body);
    const char *first = NULL, *last = NULL, *email = NULL, *password = NULL;
    if (err != IOF_OK ||
        (err = iof_json_get_string(body, "firstName", IOF_JSON_REQUIRED, &first, call->d)) ||
        (err = iof_json_get_string(body, "lastName", IOF_JSON_REQUIRED, &last, call->d)) ||
        (err = iof_json_get_string(body, "email", IOF_JSON_REQUIRED, &email, call->d)) ||
        (err = iof_json_get_string(body, "password", IOF_JSON_REQUIRED, &password, call->d)) ||
        (err = min_length(call, "firstName", first, 3)) ||
        (err = min_length(call, "lastName", last, 3)) ||
        (err = min_length(call, "password", password, 8))) {
        return err;
    }
    if (!email_valid(email)) {
        return iof_fail(call->d, IOF_EINVAL, "Invalid format for field 'email'");
    }
    char hash[CTL_PASSWORD_HASH_MAX];
    if ((err = ctl_password_hash(password, hash)) != IOF_OK) {
        return iof_fail(call->d, err, "cannot hash the password");
    }
    int64_t id = 0;
    err = ctl_store_user_create(call->srv->store, first, last, email, hash, true, &id, call->d);
    if (err == IOF_EEXIST) {
        return IOF_EINVAL; /* classic: a ValidationError, message set by the store */
    }
    if (err != IOF_OK) {
        return err;
    }
    return ctl_reply(call,
                     201,
                     json_pack("{s:I, s:s, s:s, s:s, s:b}",
                               "userId",
                               (json_int_t)id,
                               "firstName",
                               first,
                               "lastName",
                               last,
                               "email",
                               email,
                               "emailActivated",
                               1));
}

static iof_err login(struct ctl_call *call) {
    json_t *body;
    iof_err err = ctl_body(call, &body);
    const char *email = NULL, *password = NULL;
    if (err != IOF_OK ||
        (err = iof_json_get_string(body, "email", IOF_JSON_REQUIRED, &email, call->d)) ||
        (err = iof_json_get_string(body, "password", IOF_JSON_REQUIRED, &password, call->d))) {
        return err;
    }
    /* The check runs on the login workers (controller/server/login.h), which answer. */
    int64_t wait_s = ctl_login_wait_s(call->srv->login, iof_http_remote_addr(call->req), email);
    if (wait_s > 0) {
        char v[24];
        (void)snprintf(v, sizeof v, "%lld", (long long)wait_s);
        (void)!iof_http_set_header(call->req, "Retry-After", v);
        return ctl_reply_error(
            call, 429, "TooManyRequestsError", "Too many login attempts, retry later");
    }
    err = ctl_login_submit(call->srv->login, call->req, email, password);
    if (err == IOF_EBUSY) {
        (void)!iof_http_set_header(call->req, "Retry-After", "1");
        return iof_fail(call->d, IOF_EBUSY, "Too many logins in progress, retry later");
    }
    return err;
}

static iof_err need_user(struct ctl_call *call) {
    if (call->user_id == 0) {
        return iof_fail(call->d, IOF_ENOENT, "No user exists yet");
    }
    return IOF_OK;
}

static iof_err logout(struct ctl_call *call) {
    iof_err err = need_user(call);
    if (err == IOF_OK) {
        /* The presented token only: the user's other sessions stay signed in. The admin
         * credential has no token to revoke. */
        err = call->token_hash[0] != '\0'
                  ? ctl_store_token_delete(call->srv->store, call->token_hash, call->d)
                  : IOF_OK;
    }
    return err != IOF_OK ? err : ctl_reply(call, 204, NULL);
}

static iof_err get_profile(struct ctl_call *call) {
    struct ctl_store_user u = {0};
    iof_err err = need_user(call);
    if (err == IOF_OK) {
        err = ctl_store_user_get(call->srv->store, call->user_id, &u, call->d);
    }
    if (err != IOF_OK) {
        return err;
    }
    json_t *body = user_json(&u);
    ctl_store_user_clear(&u);
    return ctl_reply(call, 200, body);
}

static iof_err patch_profile(struct ctl_call *call) {
    json_t *body;
    const char *first = NULL, *last = NULL;
    iof_err err = need_user(call);
    if (err != IOF_OK || (err = ctl_body(call, &body)) ||
        (err = iof_json_get_string(body, "firstName", IOF_JSON_OPTIONAL, &first, call->d)) ||
        (err = iof_json_get_string(body, "lastName", IOF_JSON_OPTIONAL, &last, call->d)) ||
        (first != NULL && (err = min_length(call, "firstName", first, 3))) ||
        (last != NULL && (err = min_length(call, "lastName", last, 3)))) {
        return err;
    }
    err = ctl_store_user_update_names(call->srv->store, call->user_id, first, last, call->d);
    return err != IOF_OK ? err : get_profile(call);
}

static iof_err delete_profile(struct ctl_call *call) {
    iof_err err = need_user(call);
    bool force = false;
    json_t *body = NULL;
    size_t len = 0;
    (void)iof_http_body(call->req, &len);
    if (err == IOF_OK && len > 0 && (err = ctl_body(call, &body)) == IOF_OK) {
        err = iof_json_get_bool(body, "force", IOF_JSON_OPTIONAL, &force, call->d);
    }
    if (err != IOF_OK) {
        return err;
    }
    if (!force) {
        static const char sql[] =
            "SELECT count(*) AS n FROM fogs WHERE user_id = ? AND daemon_status = 'RUNNING'";
        json_t *row = NULL;
        const struct ctl_db_value p[] = {CTL_DB_INT(call->user_id)};
        err = ctl_db_query_json_one(ctl_store_db(call->srv->store), sql, p, 1, NULL, &row, call->d);
        if (err != IOF_OK) {
            return err;
        }
        json_int_t running = json_integer_value(json_object_get(row, "n"));
        json_decref(row);
        if (running > 0) {
            return iof_fail(call->d,
                            IOF_EINVAL,
                            "There are running ioFog-Agents, stop them before removal or pass "
                            "force=true");
        }
    }
    err = ctl_store_user_delete(call->srv->store, call->user_id, call->d);
    return err != IOF_OK ? err : ctl_reply(call, 204, NULL);
}

static iof_err patch_password(struct ctl_call *call) {
    json_t *body;
    const char *old_pw = NULL, *new_pw = NULL;
    iof_err err = need_user(call);
    if (err != IOF_OK || (err = ctl_body(call, &body)) ||
        (err = iof_json_get_string(body, "oldPassword", IOF_JSON_REQUIRED, &old_pw, call->d)) ||
        (err = iof_json_get_string(body, "newPassword", IOF_JSON_REQUIRED, &new_pw, call->d)) ||
        (err = min_length(call, "newPassword", new_pw, 8))) {
        return err;
    }
    struct ctl_store_user u = {0};
    if ((err = ctl_store_user_get(call->srv->store, call->user_id, &u, call->d)) != IOF_OK) {
        return err;
    }
    bool ok = ctl_password_verify(u.password_hash, old_pw) ||
              ctl_password_verify(u.temp_password_hash, old_pw);
    ctl_store_user_clear(&u);
    if (!ok) {
        return iof_fail(call->d, IOF_EINVAL, "Old password is incorrect");
    }
    char hash[CTL_PASSWORD_HASH_MAX];
    if ((err = ctl_password_hash(new_pw, hash)) != IOF_OK) {
        return iof_fail(call->d, err, "cannot hash the password");
    }
    if ((err = ctl_store_user_set_password(call->srv->store, call->user_id, hash, call->d)) ||
        (err = ctl_store_tokens_delete_user(call->srv->store, call->user_id, call->d))) {
        return err;
    }
    return ctl_reply(call, 204, NULL);
}

static iof_err reset_password(struct ctl_call *call) {
    json_t *body;
    const char *email = NULL;
    iof_err err = ctl_body(call, &body);
    if (err != IOF_OK ||
        (err = iof_json_get_string(body, "email", IOF_JSON_REQUIRED, &email, call->d))) {
        return err;
    }
    struct ctl_store_user u = {0};
    err = ctl_store_user_get_by_email(call->srv->store, email, &u, call->d);
    ctl_store_user_clear(&u);
    if (err == IOF_ENOENT) {
        return iof_fail(call->d, IOF_ENOENT, "Invalid user email: %s", email);
    }
    if (err != IOF_OK) {
        return err;
    }
    return iof_fail(call->d,
                    IOF_EUNSUPPORTED,
                    "E-mail delivery is not configured on this Controller: change the password "
                    "with PATCH /api/v3/user/password or the iofog-controller CLI");
}

static iof_err resend_activation(struct ctl_call *call) {
    return iof_fail(call->d, IOF_EINVAL, "E-mail activation is not enabled: accounts are active");
}

static iof_err activate(struct ctl_call *call) {
    return iof_fail(call->d, IOF_ENOENT, "Activation code not found");
}

const struct ctl_route ctl_routes_user[] = {
    {"POST", "/api/v3/user/signup", signup, CTL_AUTH_NONE},
    {"POST", "/api/v3/user/login", login, CTL_AUTH_NONE},
    {"POST", "/api/v3/user/logout", logout, CTL_AUTH_USER},
    {"GET", "/api/v3/user/signup/resend-activation", resend_activation, CTL_AUTH_NONE},
    {"POST", "/api/v3/user/activate", activate, CTL_AUTH_NONE},
    {"GET", "/api/v3/user/profile", get_profile, CTL_AUTH_USER},
    {"PATCH", "/api/v3/user/profile", patch_profile, CTL_AUTH_USER},
    {"DELETE", "/api/v3/user/profile", delete_profile, CTL_AUTH_USER},
    {"PATCH", "/api/v3/user/password", patch_password, CTL_AUTH_USER},
    {"DELETE", "/api/v3/user/password", reset_password, CTL_AUTH_NONE},
};
const size_t ctl_routes_user_count = sizeof ctl_routes_user / sizeof ctl_routes_user[0];
