/* The back-end-neutral half of the SQL layer: picks the back end from the URL, serialises calls
 * with the handle's mutex, keeps transaction state, reads rows through the back end's row ops and
 * runs the schema migrations. */
#include "controller/store/db.h"

#include "common/clock.h"
#include "common/log.h"
#include "controller/store/db_backend.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct ctl_db {
    const struct ctl_db_backend *be;
    void *conn;
    char *target; /* what be->open got, for ctl_db_listen's own session */
    /* Recursive: a thread holding a transaction keeps one level, each call takes another. */
    pthread_mutex_t lock;
    bool in_tx; /* read and written with lock held */
    void (*tx_hook)(void *ctx, bool committed);
    void *tx_hook_ctx;
};

/* The handle on which this thread holds a transaction, if any. */
static _Thread_local const struct ctl_db *tx_owner;

/* Migration bookkeeping, in the common dialect (BIGINT is 64-bit everywhere). */
static const char SQL_MIGRATIONS_TABLE[] = "CREATE TABLE IF NOT EXISTS schema_migrations ("
                                           " version BIGINT PRIMARY KEY NOT NULL,"
                                           " name TEXT NOT NULL,"
                                           " applied_at BIGINT NOT NULL)";
static const char SQL_MIGRATIONS_MAX[] = "SELECT MAX(version) FROM schema_migrations";
static const char SQL_MIGRATIONS_RECORD[] =
    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)";

static void db_lock(struct ctl_db *db) {
    (void)pthread_mutex_lock(&db->lock);
}

static void db_unlock(struct ctl_db *db) {
    (void)pthread_mutex_unlock(&db->lock);
}

/* Splits "scheme://rest"; returns false when url has no scheme. */
static bool url_scheme(const char *url, const char **scheme_end, const char **rest) {
    if (!isalpha((unsigned char)url[0])) {
        return false;
    }
    const char *p = url + 1;
    while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.') {
        p++;
    }
    if (strncmp(p, "://", 3) != 0) {
        return false;
    }
    *scheme_end = p;
    *rest = p + 3;
    return true;
}

static bool scheme_is(const char *url, const char *scheme_end, const char *name) {
    size_t n = (size_t)(scheme_end - url);
    return strlen(name) == n && strncasecmp(url, name, n) == 0;
}

iof_err ctl_db_open(const char *url_or_path, struct ctl_db **out, struct iof_diag *d) {
    if (url_or_path == NULL || url_or_path[0] == '\0' || out == NULL) {
        return iof_fail(d, IOF_EINVAL, "database: no path or URL given");
    }
    const struct ctl_db_backend *be = NULL;
    const char *target = url_or_path;
    const char *scheme_end;
    const char *rest;
    if (url_scheme(url_or_path, &scheme_end, &rest)) {
        if (scheme_is(url_or_path, scheme_end, "sqlite")) {
            be = &ctl_db_backend_sqlite;
            target = rest;
        } else if (scheme_is(url_or_path, scheme_end, "postgres") ||
                   scheme_is(url_or_path, scheme_end, "postgresql")) {
            be = &ctl_db_backend_postgres;
            target = url_or_path; /* libpq reads the URL itself */
        } else {
            return iof_fail(d,
                            IOF_EUNSUPPORTED,
                            "database: unknown URL scheme '%.*s'",
                            (int)(scheme_end - url_or_path),
                            url_or_path);
        }
    } else {
        be = &ctl_db_backend_sqlite;
    }
    if (target[0] == '\0') {
        return iof_fail(d, IOF_EINVAL, "database: URL '%s' names no file", url_or_path);
    }

    struct ctl_db *db = calloc(1, sizeof *db);
    if (db == NULL) {
        return iof_fail(d, IOF_ENOMEM, "database: out of memory");
    }
    pthread_mutexattr_t attr;
    if (pthread_mutexattr_init(&attr) != 0 ||
        pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE) != 0 ||
        pthread_mutex_init(&db->lock, &attr) != 0) {
        free(db);
        return iof_fail(d, IOF_EINTERNAL, "database: cannot create the handle's mutex");
    }
    (void)pthread_mutexattr_destroy(&attr);
    db->be = be;
    db->target = strdup(target);
    iof_err err = db->target != NULL ? be->open(target, &db->conn, d)
                                     : iof_fail(d, IOF_ENOMEM, "database: out of memory");
    if (err != IOF_OK) {
        (void)pthread_mutex_destroy(&db->lock);
        free(db->target);
        free(db);
        return err;
    }
    *out = db;
    return IOF_OK;
}

void ctl_db_close(struct ctl_db *db) {
    if (db == NULL) {
        return;
    }
    db_lock(db);
    if (db->in_tx) {
        /* Only the thread holding the transaction can get here (it owns the mutex). */
        IOF_WARN("store", "close_with_open_transaction backend=%s", db->be->name);
        (void)db->be->rollback(db->conn, NULL);
        db->in_tx = false;
        tx_owner = NULL;
        db_unlock(db); /* the level taken by ctl_db_begin() */
    }
    db_unlock(db);
    db->be->close(db->conn);
    (void)pthread_mutex_destroy(&db->lock);
    free(db->target);
    free(db);
}

const char *ctl_db_backend_name(const struct ctl_db *db) {
    return db->be->name;
}

iof_err ctl_db_exec(struct ctl_db *db,
                    const char *sql,
                    const struct ctl_db_value *params,
                    size_t n_params,
                    ctl_db_row_cb cb,
                    void *ctx,
                    int64_t *changes,
                    struct iof_diag *d) {
    if (sql == NULL || (params == NULL && n_params > 0)) {
        return iof_fail(d, IOF_EINTERNAL, "database: no SQL or no parameters given");
    }
    db_lock(db);
    iof_err err = db->be->exec(db->conn, sql, params, n_params, cb, ctx, changes, d);
    db_unlock(db);
    return err;
}

/* ---- rows ---- */

size_t ctl_db_row_columns(const struct ctl_db_row *row) {
    return row->ops->columns(row->impl);
}

enum ctl_db_type ctl_db_row_type(const struct ctl_db_row *row, size_t col) {
    if (col >= row->ops->columns(row->impl)) {
        return CTL_DB_NULL;
    }
    return row->ops->type(row->impl, col);
}

bool ctl_db_row_is_null(const struct ctl_db_row *row, size_t col) {
    return ctl_db_row_type(row, col) == CTL_DB_NULL;
}

int64_t ctl_db_row_int(const struct ctl_db_row *row, size_t col) {
    if (ctl_db_row_is_null(row, col)) {
        return 0;
    }
    return row->ops->int64(row->impl, col);
}

bool ctl_db_row_bool(const struct ctl_db_row *row, size_t col) {
    return ctl_db_row_int(row, col) != 0;
}

double ctl_db_row_real(const struct ctl_db_row *row, size_t col) {
    if (ctl_db_row_is_null(row, col)) {
        return 0.0;
    }
    return row->ops->real(row->impl, col);
}

const char *ctl_db_row_text(const struct ctl_db_row *row, size_t col) {
    if (ctl_db_row_is_null(row, col)) {
        return NULL;
    }
    return row->ops->text(row->impl, col);
}

const void *ctl_db_row_blob(const struct ctl_db_row *row, size_t col, size_t *len) {
    *len = 0;
    if (ctl_db_row_is_null(row, col)) {
        return NULL;
    }
    return row->ops->blob(row->impl, col, len);
}

const char *ctl_db_row_name(const struct ctl_db_row *row, size_t col) {
    if (col >= row->ops->columns(row->impl)) {
        return NULL;
    }
    return row->ops->name(row->impl, col);
}

/* ---- transactions ---- */

iof_err ctl_db_begin(struct ctl_db *db, struct iof_diag *d) {
    db_lock(db);
    if (db->in_tx) {
        db_unlock(db);
        return iof_fail(d, IOF_EINTERNAL, "database: transaction already open (no nesting)");
    }
    iof_err err = db->be->begin(db->conn, d);
    if (err != IOF_OK) {
        db_unlock(db);
        return err;
    }
    db->in_tx = true;
    tx_owner = db;
    return IOF_OK; /* the lock stays held until commit or rollback */
}

/* Ends the open transaction with the back end's commit or rollback. */
static iof_err db_end(struct ctl_db *db, bool commit, struct iof_diag *d) {
    db_lock(db);
    if (!db->in_tx) {
        db_unlock(db);
        return iof_fail(d,
                        IOF_EINTERNAL,
                        "database: %s without an open transaction",
                        commit ? "commit" : "rollback");
    }
    iof_err err = commit ? db->be->commit(db->conn, d) : db->be->rollback(db->conn, d);
    db->in_tx = false;
    tx_owner = NULL;
    db_unlock(db); /* this call's level */
    db_unlock(db); /* the level taken by ctl_db_begin() */
    if (db->tx_hook != NULL) {
        db->tx_hook(db->tx_hook_ctx, commit && err == IOF_OK);
    }
    return err;
}

void ctl_db_abort(struct ctl_db *db) {
    struct iof_diag d = {{0}};
    iof_err err = db_end(db, false, &d);
    if (err != IOF_OK) {
        IOF_WARN("store", "rollback_failed error=%s", iof_diag_text(&d, err));
    }
}

bool ctl_db_in_tx(const struct ctl_db *db) {
    return db != NULL && tx_owner == db;
}

void ctl_db_set_tx_hook(struct ctl_db *db, void (*hook)(void *ctx, bool committed), void *ctx) {
    db->tx_hook = hook;
    db->tx_hook_ctx = ctx;
}

iof_err ctl_db_commit(struct ctl_db *db, struct iof_diag *d) {
    return db_end(db, true, d);
}

iof_err ctl_db_rollback(struct ctl_db *db, struct iof_diag *d) {
    return db_end(db, false, d);
}

/* ---- migrations ---- */

static iof_err read_max_version(void *ctx, const struct ctl_db_row *row) {
    *(int64_t *)ctx = ctl_db_row_int(row, 0);
    return IOF_OK;
}

/* The recorded version, with the lock held. */
static iof_err recorded_version(struct ctl_db *db, int64_t *out, struct iof_diag *d) {
    int64_t v = 0;
    iof_err err =
        db->be->exec(db->conn, SQL_MIGRATIONS_MAX, NULL, 0, read_max_version, &v, NULL, d);
    if (err == IOF_OK) {
        *out = v;
    }
    return err;
}

/* Applies one file unless another process did it first; lock held, no transaction open. */
static iof_err apply_one(struct ctl_db *db, const struct ctl_sql_file *f, struct iof_diag *d) {
    iof_err err = db->be->begin(db->conn, d);
    if (err != IOF_OK) {
        return err;
    }
    int64_t current = 0;
    err = recorded_version(db, &current, d);
    if (err == IOF_OK && current >= f->version) {
        return db->be->rollback(db->conn, d); /* applied meanwhile by another connection */
    }
    if (err == IOF_OK) {
        err = db->be->exec_script(db->conn, f->sql, d);
    }
    if (err == IOF_OK) {
        const struct ctl_db_value rec[] = {
            CTL_DB_INT(f->version), CTL_DB_TEXT(f->name), CTL_DB_INT(iof_time_now_ms())};
        err = db->be->exec(db->conn, SQL_MIGRATIONS_RECORD, rec, 3, NULL, NULL, NULL, d);
    }
    if (err != IOF_OK) {
        (void)db->be->rollback(db->conn, NULL);
        return err;
    }
    return db->be->commit(db->conn, d);
}

static iof_err migrate_locked(struct ctl_db *db, struct iof_diag *d) {
    const struct ctl_sql_file *files = db->be->migrations;
    size_t n = *db->be->migration_count;
    for (size_t i = 1; i < n; i++) {
        if (files[i].version <= files[i - 1].version) {
            return iof_fail(d, IOF_EINTERNAL, "database: embedded migrations out of order");
        }
    }
    int64_t known = n > 0 ? files[n - 1].version : 0;

    iof_err err = db->be->exec(db->conn, SQL_MIGRATIONS_TABLE, NULL, 0, NULL, NULL, NULL, d);
    if (err != IOF_OK) {
        return err;
    }
    int64_t current = 0;
    err = recorded_version(db, &current, d);
    if (err != IOF_OK) {
        return err;
    }
    if (current > known) {
        return iof_fail(d,
                        IOF_EUNSUPPORTED,
                        "database schema version %lld is newer than this Controller knows (%lld); "
                        "run a Controller at least as new as the one that last used it",
                        (long long)current,
                        (long long)known);
    }
    for (size_t i = 0; i < n; i++) {
        if (files[i].version <= current) {
            continue;
        }
        struct iof_diag inner;
        iof_diag_clear(&inner);
        err = apply_one(db, &files[i], &inner);
        if (err != IOF_OK) {
            return iof_fail(d,
                            err,
                            "migration %04d_%s failed: %s",
                            files[i].version,
                            files[i].name,
                            iof_diag_text(&inner, err));
        }
        IOF_INFO("store",
                 "migrated backend=%s version=%d name=%s",
                 db->be->name,
                 files[i].version,
                 files[i].name);
    }
    return IOF_OK;
}

iof_err ctl_db_migrate(struct ctl_db *db, struct iof_diag *d) {
    db_lock(db);
    if (db->in_tx) {
        db_unlock(db);
        return iof_fail(d, IOF_EINTERNAL, "database: migrate inside a transaction");
    }
    iof_err err = db->be->migrate_lock != NULL ? db->be->migrate_lock(db->conn, true, d) : IOF_OK;
    if (err == IOF_OK) {
        err = migrate_locked(db, d);
        if (db->be->migrate_lock != NULL) {
            iof_err unlock = db->be->migrate_lock(db->conn, false, err == IOF_OK ? d : NULL);
            err = err == IOF_OK ? unlock : err;
        }
    }
    db_unlock(db);
    return err;
}

iof_err
ctl_db_schema_version(struct ctl_db *db, int64_t *recorded, int64_t *known, struct iof_diag *d) {
    size_t n = *db->be->migration_count;
    int64_t k = n > 0 ? db->be->migrations[n - 1].version : 0;
    int64_t v = 0;
    bool exists = false;
    db_lock(db);
    iof_err err = db->be->table_exists(db->conn, "schema_migrations", &exists, d);
    if (err == IOF_OK && exists) {
        err = recorded_version(db, &v, d);
    }
    db_unlock(db);
    if (err == IOF_OK) {
        *recorded = v;
        *known = k;
    }
    return err;
}

/* ---- several processes on one database ---- */

bool ctl_db_shared(const struct ctl_db *db) {
    return db->be->listen != NULL;
}

iof_err
ctl_db_notify(struct ctl_db *db, const char *channel, const char *payload, struct iof_diag *d) {
    if (db->be->notify == NULL) {
        return IOF_OK;
    }
    db_lock(db);
    iof_err err = db->be->notify(db->conn, channel, payload, d);
    db_unlock(db);
    return err;
}

iof_err ctl_db_try_lead(struct ctl_db *db, int64_t key, bool *leader, struct iof_diag *d) {
    if (db->be->try_lead == NULL) {
        *leader = true;
        return IOF_OK;
    }
    db_lock(db);
    iof_err err = db->be->try_lead(db->conn, key, leader, d);
    db_unlock(db);
    return err;
}

struct ctl_db_listener {
    const struct ctl_db_backend *be;
    void *impl;
    const struct ctl_db *db;
    ctl_db_notify_cb cb;
    void *ctx;
};

static void listener_cb(void *ctx, const char *payload, int sender) {
    struct ctl_db_listener *l = ctx;
    if (payload != NULL && l->db->be->session_id != NULL &&
        sender == l->db->be->session_id(l->db->conn)) {
        return; /* raised through this handle: the transaction hook has handled it */
    }
    l->cb(l->ctx, payload);
}

iof_err ctl_db_listen(struct ctl_db *db,
                      const char *channel,
                      ctl_db_notify_cb cb,
                      void *ctx,
                      struct ctl_db_listener **out,
                      struct iof_diag *d) {
    *out = NULL;
    if (db->be->listen == NULL) {
        return IOF_OK;
    }
    struct ctl_db_listener *l = calloc(1, sizeof *l);
    if (l == NULL) {
        return iof_fail(d, IOF_ENOMEM, "database: out of memory");
    }
    l->be = db->be;
    l->db = db;
    l->cb = cb;
    l->ctx = ctx;
    iof_err err = db->be->listen(db->target, channel, listener_cb, l, &l->impl, d);
    if (err != IOF_OK) {
        free(l);
        return err;
    }
    *out = l;
    return IOF_OK;
}

void ctl_db_listener_free(struct ctl_db_listener *l) {
    if (l == NULL) {
        return;
    }
    l->be->unlisten(l->impl);
    free(l);
}
