/* The contract between the back-end-neutral SQL layer (db.c) and one database back end
 * (db_sqlite.c, db_pg.c). Private to controller/store/.
 *
 * db.c owns locking and transaction bookkeeping: it calls a back end's functions with the
 * handle's mutex held, never two at a time on one connection, and only in a valid order (begin
 * before commit/rollback, no nested begin). A back end therefore needs no locking of its own.
 * It maps its errors to iof_err as described in db.h and writes its message into the diag. */
#ifndef CTL_STORE_DB_BACKEND_H
#define CTL_STORE_DB_BACKEND_H

#include "controller/sql/sql_files.h"
#include "controller/store/db.h"

/* How db.c reads a row the back end hands out. Each function gets the row's impl pointer. */
struct ctl_db_row_ops {
    size_t (*columns)(void *impl);
    enum ctl_db_type (*type)(void *impl, size_t col);
    int64_t (*int64)(void *impl, size_t col);
    double (*real)(void *impl, size_t col);
    const char *(*text)(void *impl, size_t col);
    const void *(*blob)(void *impl, size_t col, size_t *len);
    const char *(*name)(void *impl, size_t col);
};

/* A row as seen by a ctl_db_row_cb: lives on the back end's stack for one callback. */
struct ctl_db_row {
    const struct ctl_db_row_ops *ops;
    void *impl;
};

struct ctl_db_backend {
    const char *name;
    /* The embedded migration files of this back end and their count. */
    const struct ctl_sql_file *migrations;
    const size_t *migration_count;

    /* target is what follows the URL scheme for SQLite (a path or ":memory:"), the whole URL
     * for PostgreSQL. On success *conn is the
     * back end's connection, released with close(). */
    iof_err (*open)(const char *target, void **conn, struct iof_diag *d);
    void (*close)(void *conn);
    /* As ctl_db_exec(). */
    iof_err (*exec)(void *conn,
                    const char *sql,
                    const struct ctl_db_value *params,
                    size_t n_params,
                    ctl_db_row_cb cb,
                    void *ctx,
                    int64_t *changes,
                    struct iof_diag *d);
    /* Runs a script of several statements without parameters (a migration file). */
    iof_err (*exec_script)(void *conn, const char *sql, struct iof_diag *d);
    /* *exists = whether a table of that name exists in the connection's schema. */
    iof_err (*table_exists)(void *conn, const char *table, bool *exists, struct iof_diag *d);
    iof_err (*begin)(void *conn, struct iof_diag *d);
    /* Must leave no transaction open, whatever it returns. */
    iof_err (*commit)(void *conn, struct iof_diag *d);
    iof_err (*rollback)(void *conn, struct iof_diag *d);

    /* Optional (NULL: not needed, as for SQLite whose BEGIN IMMEDIATE already serialises
     * migrations). Takes (lock) or releases a lock that keeps migrations of several processes
     * apart; called with no transaction open. */
    iof_err (*migrate_lock)(void *conn, bool lock, struct iof_diag *d);
    /* Optional (NULL: single-process back end, ctl_db_notify does nothing). As ctl_db_notify. */
    iof_err (*notify)(void *conn, const char *channel, const char *payload, struct iof_diag *d);
    /* Optional (NULL: always the leader). As ctl_db_try_lead. */
    iof_err (*try_lead)(void *conn, int64_t key, bool *leader, struct iof_diag *d);
    /* Optional: an id of the connection's server session, as notifications name their sender. */
    int (*session_id)(void *conn);
    /* Optional (NULL: ctl_db_listen gives no listener). Opens a separate session on target
     * LISTENing on channel and a thread calling cb for each notification with its payload and
     * the sender's session id, and with payload NULL after (re)connecting. */
    iof_err (*listen)(const char *target,
                      const char *channel,
                      void (*cb)(void *ctx, const char *payload, int sender),
                      void *ctx,
                      void **listener,
                      struct iof_diag *d);
    void (*unlisten)(void *listener);
};

extern const struct ctl_db_backend ctl_db_backend_sqlite;
extern const struct ctl_db_backend ctl_db_backend_postgres;

#endif
