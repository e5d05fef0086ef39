/* Users and access tokens. */
#include "controller/store/store_user.h"

#include "controller/store/store_internal.h"

#include "common/clock.h"

#include <stdlib.h>

#define USER_COLUMNS                                                                               \
    "SELECT id, first_name, last_name, email, password_hash, temp_password_hash, email_activated"  \
    " FROM users"

static const char SQL_USER_INSERT[] =
    "INSERT INTO users (first_name, last_name, email, password_hash, email_activated)"
    " VALUES (?, ?, ?, ?, ?) RETURNING id";
static const char SQL_USER_BY_ID[] = USER_COLUMNS " WHERE id = ?";
/* lower() on both sides: e-mail addresses match without regard to ASCII case on every back end. */
static const char SQL_USER_BY_EMAIL[] = USER_COLUMNS " WHERE lower(email) = lower(?)";
static const char SQL_USER_FIRST[] = USER_COLUMNS " ORDER BY id LIMIT 1";
static const char SQL_USER_NAMES[] =
    "UPDATE users SET first_name = coalesce(?, first_name), last_name = coalesce(?, last_name),"
    " updated_at = ? WHERE id = ?";
static const char SQL_USER_PASSWORD[] =
    "UPDATE users SET password_hash = ?, temp_password_hash = NULL, updated_at = ? WHERE id = ?";
static const char SQL_USER_DELETE[] = "DELETE FROM users WHERE id = ?";
static const char SQL_TOKEN_INSERT[] =
    "INSERT INTO access_tokens (user_id, token_hash, expiration_time) VALUES (?, ?, ?)";
static const char SQL_TOKEN_USE[] =
    "UPDATE access_tokens SET expiration_time = ? WHERE token_hash = ? AND expiration_time > ?"
    " AND created_at > ? RETURNING user_id";
static const char SQL_TOKENS_DELETE[] = "DELETE FROM access_tokens WHERE user_id = ?";

void ctl_store_user_clear(struct ctl_store_user *u) {
    if (u == NULL) {
        return;
    }
    free(u->first_name);
    free(u->last_name);
    free(u->email);
    free(u->password_hash);
    free(u->temp_password_hash);
    *u = (struct ctl_store_user){0};
}

static iof_err read_id(void *ctx, const struct ctl_db_row *row) {
    *(int64_t *)ctx = ctl_db_row_int(row, 0);
    return IOF_OK;
}

iof_err ctl_store_user_create(struct ctl_store *store,
                              const char *first_name,
                              const char *last_name,
                              const char *email,
                              const char *password_hash,
                              bool email_activated,
                              int64_t *id_out,
                              struct iof_diag *d) {
    const struct ctl_db_value p[] = {CTL_DB_TEXT(first_name),
                                     CTL_DB_TEXT(last_name),
                                     CTL_DB_TEXT(email),
                                     CTL_DB_TEXT(password_hash),
                                     CTL_DB_BOOL(email_activated)};
    int64_t id = 0;
    iof_err err = ctl_db_exec(store->db, SQL_USER_INSERT, p, 5, read_id, &id, NULL, d);
    if (err == IOF_EEXIST) {
        return iof_fail(d,
                        err,
                        "Registration failed: There is already an account associated with "
                        "your email address. Please try logging in instead.");
    }
    if (err == IOF_OK) {
        *id_out = id;
    }
    return err;
}

struct user_result {
    struct ctl_store_user user;
    bool found;
};

static iof_err read_user(void *ctx, const struct ctl_db_row *row) {
    struct user_result *res = ctx;
    struct ctl_store_reader r = {.row = row};
    struct ctl_store_user u = {
        .id = ctl_db_row_int(row, 0),
        .first_name = ctl_store_read_text(&r, 1),
        .last_name = ctl_store_read_text(&r, 2),
        .email = ctl_store_read_text(&r, 3),
        .password_hash = ctl_store_read_text(&r, 4),
        .temp_password_hash = ctl_store_read_text(&r, 5),
        .email_activated = ctl_db_row_bool(row, 6),
    };
    if (r.oom) {
        ctl_store_user_clear(&u);
        return IOF_ENOMEM;
    }
    res->user = u;
    res->found = true;
    return IOF_OK;
}

static iof_err user_query(struct ctl_store *store,
                          const char *sql,
                          const struct ctl_db_value *p,
                          size_t n,
                          struct ctl_store_user *out,
                          struct iof_diag *d) {
    struct user_result res = {0};
    iof_err err = ctl_db_exec(store->db, sql, p, n, read_user, &res, NULL, d);
    if (err != IOF_OK) {
        ctl_store_user_clear(&res.user);
        return err == IOF_ENOMEM ? iof_fail(d, err, "store: out of memory") : err;
    }
    if (!res.found) {
        return iof_fail(d, IOF_ENOENT, "User not found");
    }
    *out = res.user;
    return IOF_OK;
}

iof_err ctl_store_user_get(struct ctl_store *store,
                           int64_t id,
                           struct ctl_store_user *out,
                           struct iof_diag *d) {
    const struct ctl_db_value p[] = {CTL_DB_INT(id)};
    return user_query(store, SQL_USER_BY_ID, p, 1, out, d);
}

iof_err ctl_store_user_get_by_email(struct ctl_store *store,
                                    const char *email,
                                    struct ctl_store_user *out,
                                    struct iof_diag *d) {
    const struct ctl_db_value p[] = {CTL_DB_TEXT(email)};
    return user_query(store, SQL_USER_BY_EMAIL, p, 1, out, d);
}

iof_err
ctl_store_user_first(struct ctl_store *store, struct ctl_store_user *out, struct iof_diag *d) {
    return user_query(store, SQL_USER_FIRST, NULL, 0, out, d);
}

static iof_err change_one(struct ctl_store *store,
                          const char *sql,
                          const struct ctl_db_value *p,
                          size_t n,
                          struct iof_diag *d) {
    int64_t changes = 0;
    iof_err err = ctl_db_exec(store->db, sql, p, n, NULL, NULL, &changes, d);
    if (err == IOF_OK && changes == 0) {
        return iof_fail(d, IOF_ENOENT, "User not found");
    }
    return err;
}

iof_err ctl_store_user_update_names(struct ctl_store *store,
                                    int64_t id,
                                    const char *first_name,
                                    const char *last_name,
                                    struct iof_diag *d) {
    const struct ctl_db_value p[] = {CTL_DB_TEXT(first_name),
                                     CTL_DB_TEXT(last_name),
                                     CTL_DB_INT(iof_time_now_ms()),
                                     CTL_DB_INT(id)};
    return change_one(store, SQL_USER_NAMES, p, 4, d);
}

iof_err ctl_store_user_set_password(struct ctl_store *store,
                                    int64_t id,
                                    const char *password_hash,
                                    struct iof_diag *d) {
    const struct ctl_db_value p[] = {
        CTL_DB_TEXT(password_hash), CTL_DB_INT(iof_time_now_ms()), CTL_DB_INT(id)};
    return change_one(store, SQL_USER_PASSWORD, p, 3, d);
}

iof_err ctl_store_user_delete(struct ctl_store *store, int64_t id, struct iof_diag *d) {
    const struct ctl_db_value p[] = {CTL_DB_INT(id)};
    return change_one(store, SQL_USER_DELETE, p, 1, d);
}

iof_err ctl_store_token_add(struct ctl_store *store,
                            int64_t user_id,
                            const char *token_hash,
                            int64_t expires_ms,
                            struct iof_diag *d) {
    const struct ctl_db_value p[] = {
        CTL_DB_INT(user_id), CTL_DB_TEXT(token_hash), CTL_DB_INT(expires_ms)};
    return ctl_db_exec(store->db, SQL_TOKEN_INSERT, p, 3, NULL, NULL, NULL, d);
}

iof_err ctl_store_token_use(struct ctl_store *store,
                            const char *token_hash,
                            int64_t now_ms,
                            int64_t new_expires_ms,
                            int64_t issued_after_ms,
                            int64_t *user_id,
                            struct iof_diag *d) {
    const struct ctl_db_value p[] = {CTL_DB_INT(new_expires_ms),
                                     CTL_DB_TEXT(token_hash),
                                     CTL_DB_INT(now_ms),
                                     CTL_DB_INT(issued_after_ms)};
    int64_t id = 0;
    iof_err err = ctl_db_exec(store->db, SQL_TOKEN_USE, p, 4, read_id, &id, NULL, d);
    if (err != IOF_OK) {
        return err;
    }
    if (id == 0) {
        return iof_fail(d, IOF_EAUTH, "authorization failed");
    }
    *user_id = id;
    return IOF_OK;
}

iof_err
ctl_store_token_delete(struct ctl_store *store, const char *token_hash, struct iof_diag *d) {
    const struct ctl_db_value p[] = {CTL_DB_TEXT(token_hash)};
    return ctl_db_exec(
        store->db, "DELETE FROM access_tokens WHERE token_hash = ?", p, 1, NULL, NULL, NULL, d);
}

iof_err ctl_store_tokens_delete_user(struct ctl_store *store, int64_t user_id, struct iof_diag *d) {
    const struct ctl_db_value p[] = {CTL_DB_INT(user_id)};
    return ctl_db_exec(store->db, SQL_TOKENS_DELETE, p, 1, NULL, NULL, NULL, d);
}
