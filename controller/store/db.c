/* The back-end-neutral half of the SQL layer: picks the back end from the URL, hands each
 * calling thread one of the handle's connections (one for SQLite, a small pool for PostgreSQL),
 * keeps transaction state, reads rows through the back end's row ops and runs the schema
 * migrations. */
#include "controller/store/db.h"

#include "common/clock.h"
#include "common/log.h"
#include "controller/store/db_backend.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Connections per handle: SQLite has one (":memory:" is private to its connection, and its
 * writers are serialised anyway); PostgreSQL opens up to this many, on demand, so that requests
 * on different threads overlap their round trips. */
#define POOL_MAX 4

/* One connection. A slot is used by one thread at a time: from its first call until that call
 * returns (calls made meanwhile by the same thread, e.g. from a row callback, reuse it), or from
 * ctl_db_begin() until the transaction ends. */
struct db_slot {
    void *conn; /* NULL until first needed */
    bool busy;  /* taken by a thread; guarded by the handle's mutex */
    bool in_tx; /* read and written by the thread holding the slot */
};

struct ctl_db {
    const struct ctl_db_backend *be;
    char *target; /* what be->open got: for more connections and ctl_db_listen's session */
    pthread_mutex_t mu;
    pthread_cond_t freed;
    size_t n_slots;
    struct db_slot slots[POOL_MAX];
    void (*tx_hook)(void *ctx, bool committed);
    void *tx_hook_ctx;
};

/* The handle on which this thread holds a transaction, if any. */
static _Thread_local const struct ctl_db *tx_owner;

/* The slots this thread holds (on different handles), with how many calls deep. */
#define HELD_MAX 4
static _Thread_local struct {
    const struct ctl_db *db;
    size_t slot;
    int depth;
} held[HELD_MAX];

/* Migration bookkeeping, in the common dialect (BIGINT is 64-bit everywhere). */
static const char SQL_MIGRATIONS_TABLE[] = "CREATE TABLE IF NOT EXISTS schema_migrations ("
                                           " version BIGINT PRIMARY KEY NOT NULL,"
                                           " name TEXT NOT NULL,"
                                           " applied_at BIGINT NOT NULL)";
static const char SQL_MIGRATIONS_MAX[] = "SELECT MAX(version) FROM schema_migrations";
static const char SQL_MIGRATIONS_RECORD[] =
    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)";

static int held_find(const struct ctl_db *db) {
    for (int i = 0; i < HELD_MAX; i++) {
        if (held[i].db == db && held[i].depth > 0) {
            return i;
        }
    }
    return -1;
}

/* Takes a connection for the calling thread: the one it already holds on db, else slot want
 * (SIZE_MAX: any), waiting until one is free; opens it when it is not yet. Every successful call
 * is paired with slot_put(). */
static iof_err slot_get(struct ctl_db *db, size_t want, struct db_slot **out, struct iof_diag *d) {
    int h = held_find(db);
    if (h >= 0) {
        held[h].depth++;
        *out = &db->slots[held[h].slot];
        return IOF_OK;
    }
    for (h = 0; h < HELD_MAX && held[h].depth > 0; h++) {
    }
    if (h == HELD_MAX) {
        (void)iof_fail(d, IOF_EINTERNAL, "database: too many handles in use on one thread");
        return IOF_EINTERNAL;
    }
    (void)pthread_mutex_lock(&db->mu);
    size_t pick = SIZE_MAX;
    for (;;) {
        if (want != SIZE_MAX) {
            pick = db->slots[want].busy ? SIZE_MAX : want;
        } else {
            /* An open connection first; a new one only when every open one is busy. */
            for (size_t i = 0; i < db->n_slots; i++) {
                if (!db->slots[i].busy &&
                    (pick == SIZE_MAX || (db->slots[pick].conn == NULL && db->slots[i].conn))) {
                    pick = i;
                }
            }
        }
        if (pick != SIZE_MAX) {
            break;
        }
        (void)pthread_cond_wait(&db->freed, &db->mu);
    }
    db->slots[pick].busy = true;
    (void)pthread_mutex_unlock(&db->mu);
    struct db_slot *s = &db->slots[pick];
    if (s->conn == NULL) {
        void *conn = NULL;
        iof_err err = db->be->open(db->target, &conn, d);
        if (err != IOF_OK) {
            (void)pthread_mutex_lock(&db->mu);
            s->busy = false;
            (void)pthread_cond_signal(&db->freed);
            (void)pthread_mutex_unlock(&db->mu);
            return err;
        }
        __atomic_store_n(&s->conn, conn, __ATOMIC_RELEASE); /* read by ctl_db_listen's thread */
    }
    held[h].db = db;
    held[h].slot = pick;
    held[h].depth = 1;
    *out = s;
    return IOF_OK;
}

static void slot_put(struct ctl_db *db) {
    int h = held_find(db);
    if (h < 0 || --held[h].depth > 0) {
        return;
    }
    held[h].db = NULL;
    (void)pthread_mutex_lock(&db->mu);
    db->slots[held[h].slot].busy = false;
    (void)pthread_cond_signal(&db->freed);
    (void)pthread_mutex_unlock(&db->mu);
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
    if (pthread_mutex_init(&db->mu, NULL) != 0) {
        free(db);
        return iof_fail(d, IOF_EINTERNAL, "database: cannot create the handle's mutex");
    }
    if (pthread_cond_init(&db->freed, NULL) != 0) {
        (void)pthread_mutex_destroy(&db->mu);
        free(db);
        return iof_fail(d, IOF_EINTERNAL, "database: cannot create the handle's condition");
    }
    db->be = be;
    db->n_slots = be == &ctl_db_backend_postgres ? POOL_MAX : 1;
    db->target = strdup(target);
    /* The first connection at once, so that a wrong path or URL fails here. */
    iof_err err = db->target != NULL ? be->open(target, &db->slots[0].conn, d)
                                     : iof_fail(d, IOF_ENOMEM, "database: out of memory");
    if (err != IOF_OK) {
        (void)pthread_cond_destroy(&db->freed);
        (void)pthread_mutex_destroy(&db->mu);
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
    for (size_t i = 0; i < db->n_slots; i++) {
        struct db_slot *s = &db->slots[i];
        if (s->in_tx) {
            /* Only the thread holding the transaction can get here (no other may use db). */
            IOF_WARN("store", "close_with_open_transaction backend=%s", db->be->name);
            (void)db->be->rollback(s->conn, NULL);
        }
        if (s->conn != NULL) {
            db->be->close(s->conn);
        }
    }
    int h = held_find(db);
    if (h >= 0) {
        held[h].db = NULL;
        held[h].depth = 0;
    }
    if (tx_owner == db) {
        tx_owner = NULL;
    }
    (void)pthread_cond_destroy(&db->freed);
    (void)pthread_mutex_destroy(&db->mu);
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
    struct db_slot *s = NULL;
    iof_err err = slot_get(db, SIZE_MAX, &s, d);
    if (err != IOF_OK) {
        return err;
    }
    err = db->be->exec(s->conn, sql, params, n_params, cb, ctx, changes, d);
    slot_put(db);
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
    struct db_slot *s = NULL;
    iof_err err = slot_get(db, SIZE_MAX, &s, d);
    if (err != IOF_OK) {
        return err;
    }
    if (s->in_tx) {
        slot_put(db);
        return iof_fail(d, IOF_EINTERNAL, "database: transaction already open (no nesting)");
    }
    err = db->be->begin(s->conn, d);
    if (err != IOF_OK) {
        slot_put(db);
        return err;
    }
    s->in_tx = true;
    tx_owner = db;
    return IOF_OK; /* the slot stays held until commit or rollback */
}

/* Ends the open transaction with the back end's commit or rollback. */
static iof_err db_end(struct ctl_db *db, bool commit, struct iof_diag *d) {
    if (tx_owner != db) {
        return iof_fail(d,
                        IOF_EINTERNAL,
                        "database: %s without an open transaction",
                        commit ? "commit" : "rollback");
    }
    struct db_slot *s = NULL;
    iof_err err = slot_get(db, SIZE_MAX, &s, d); /* the transaction's: this thread holds it */
    if (err != IOF_OK) {
        return err;
    }
    err = commit ? db->be->commit(s->conn, d) : db->be->rollback(s->conn, d);
    s->in_tx = false;
    tx_owner = NULL;
    slot_put(db); /* this call's level */
    slot_put(db); /* the level taken by ctl_db_begin() */
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

/* The recorded version, on a connection the caller holds. */
static iof_err recorded_version(struct ctl_db *db, void *conn, int64_t *out, struct iof_diag *d) {
    int64_t v = 0;
    iof_err err = db->be->exec(conn, SQL_MIGRATIONS_MAX, NULL, 0, read_max_version, &v, NULL, d);
    if (err == IOF_OK) {
        *out = v;
    }
    return err;
}

/* Applies one file unless another process did it first; conn held, no transaction open. */
static iof_err
apply_one(struct ctl_db *db, void *conn, const struct ctl_sql_file *f, struct iof_diag *d) {
    iof_err err = db->be->begin(conn, d);
    if (err != IOF_OK) {
        return err;
    }
    int64_t current = 0;
    err = recorded_version(db, conn, &current, d);
    if (err == IOF_OK && current >= f->version) {
        return db->be->rollback(conn, d); /* applied meanwhile by another connection */
    }
    if (err == IOF_OK) {
        err = db->be->exec_script(conn, f->sql, d);
    }
    if (err == IOF_OK) {
        const struct ctl_db_value rec[] = {
            CTL_DB_INT(f->version), CTL_DB_TEXT(f->name), CTL_DB_INT(iof_time_now_ms())};
        err = db->be->exec(conn, SQL_MIGRATIONS_RECORD, rec, 3, NULL, NULL, NULL, d);
    }
    if (err != IOF_OK) {
        (void)db->be->rollback(conn, NULL);
        return err;
    }
    return db->be->commit(conn, d);
}

static iof_err migrate_locked(struct ctl_db *db, void *conn, struct iof_diag *d) {
    const struct ctl_sql_file *files = db->be->migrations;
    size_t n = *db->be->migration_count;
    for (size_t i = 1; i < n; i++) {
        if (files[i].version <= files[i - 1].version) {
            return iof_fail(d, IOF_EINTERNAL, "database: embedded migrations out of order");
        }
    }
    int64_t known = n > 0 ? files[n - 1].version : 0;

    iof_err err = db->be->exec(conn, SQL_MIGRATIONS_TABLE, NULL, 0, NULL, NULL, NULL, d);
    if (err != IOF_OK) {
        return err;
    }
    int64_t current = 0;
    err = recorded_version(db, conn, &current, d);
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
        err = apply_one(db, conn, &files[i], &inner);
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
    if (tx_owner == db) {
        return iof_fail(d, IOF_EINTERNAL, "database: migrate inside a transaction");
    }
    struct db_slot *s = NULL;
    iof_err err = slot_get(db, SIZE_MAX, &s, d);
    if (err != IOF_OK) {
        return err;
    }
    err = db->be->migrate_lock != NULL ? db->be->migrate_lock(s->conn, true, d) : IOF_OK;
    if (err == IOF_OK) {
        err = migrate_locked(db, s->conn, d);
        if (db->be->migrate_lock != NULL) {
            iof_err unlock = db->be->migrate_lock(s->conn, false, err == IOF_OK ? d : NULL);
            err = err == IOF_OK ? unlock : err;
        }
    }
    slot_put(db);
    return err;
}

iof_err
ctl_db_schema_version(struct ctl_db *db, int64_t *recorded, int64_t *known, struct iof_diag *d) {
    size_t n = *db->be->migration_count;
    int64_t k = n > 0 ? db->be->migrations[n - 1].version : 0;
    int64_t v = 0;
    bool exists = false;
    struct db_slot *s = NULL;
    iof_err err = slot_get(db, SIZE_MAX, &s, d);
    if (err != IOF_OK) {
        return err;
    }
    err = db->be->table_exists(s->conn, "schema_migrations", &exists, d);
    if (err == IOF_OK && exists) {
        err = recorded_version(db, s->conn, &v, d);
    }
    slot_put(db);
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
    iof_err (*notify)(void *, const char *, const char *, struct iof_diag *) = db->be->notify;
    if (notify == NULL) {
        return IOF_OK;
    }
    struct db_slot *s = NULL;
    iof_err err = slot_get(db, SIZE_MAX, &s, d); /* inside a transaction: the transaction's */
    if (err != IOF_OK) {
        return err;
    }
    err = notify(s->conn, channel, payload, d);
    slot_put(db);
    return err;
}

iof_err ctl_db_try_lead(struct ctl_db *db, int64_t key, bool *leader, struct iof_diag *d) {
    iof_err (*try_lead)(void *, int64_t, bool *, struct iof_diag *) = db->be->try_lead;
    if (try_lead == NULL) {
        *leader = true;
        return IOF_OK;
    }
    /* Always on the first connection: the lock belongs to one session, which keeps it. */
    struct db_slot *s = NULL;
    iof_err err = slot_get(db, 0, &s, d);
    if (err != IOF_OK) {
        return err;
    }
    err = try_lead(s->conn, key, leader, d);
    slot_put(db);
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
    if (payload != NULL && l->db->be->session_id != NULL) {
        for (size_t i = 0; i < l->db->n_slots; i++) {
            /* conn is written once, before any thread can read it here (a connection's
             * notifications follow its opening). */
            void *conn = __atomic_load_n(&l->db->slots[i].conn, __ATOMIC_ACQUIRE);
            if (conn != NULL && sender == l->db->be->session_id(conn)) {
                return; /* raised through this handle: the transaction hook has handled it */
            }
        }
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
