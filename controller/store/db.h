/* The Controller's SQL layer: one interface over the database back ends (SQLite, PostgreSQL), with
 * bound parameters, rows handed to a callback, real transactions and versioned schema migrations.
 *
 * SQL dialect. Statements given to ctl_db_exec() are written once for every back end: `?`
 * placeholders (a back end that numbers them, like PostgreSQL's $1, rewrites them), standard
 * types, `INSERT ... RETURNING id` to learn generated keys, `ON CONFLICT ... DO UPDATE` for
 * upserts. Values always travel as bound parameters, never inside the SQL text. One statement per
 * call. Schema and seed data are not written this way: they live in per-back-end .sql files
 * (controller/sql/<backend>/NNNN_<name>.sql) applied by ctl_db_migrate().
 *
 * Threads. One struct ctl_db may be shared by several threads. Each call runs on one of the
 * handle's connections, taken for the call's duration: SQLite has one, so calls are serialised;
 * PostgreSQL has a small pool (up to 4, opened on demand), so calls of different threads overlap.
 * A transaction keeps its connection for the calling thread from ctl_db_begin() until
 * ctl_db_commit() or ctl_db_rollback(): on SQLite other threads' calls wait meanwhile, so keep
 * transactions short and never wait on another thread that uses the same handle while one is
 * open. Calls made by the thread that holds the transaction (including from inside a row callback)
 * run inside it; other threads never see its changes before it commits. Different handles on the
 * same database are separate connections; the database itself serialises their writers (SQLite:
 * busy timeout 5 s; PostgreSQL: see below).
 *
 * Errors. Constraint violations map to categories: UNIQUE or PRIMARY KEY -> IOF_EEXIST; FOREIGN
 * KEY -> IOF_ECONFLICT (the row refers to a missing parent, or a parent still has children that
 * do not cascade); NOT NULL, CHECK or a value of the wrong type -> IOF_EINVAL (the row is invalid
 * by itself, whatever else is stored). Busy or locked database -> IOF_EBUSY. Misuse of this API
 * (parameter count mismatch, several statements in one call, nested transactions) ->
 * IOF_EINTERNAL. Anything else -> IOF_EIO. The back end's message goes into the diag. */
#ifndef CTL_STORE_DB_H
#define CTL_STORE_DB_H

#include "common/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ctl_db;
struct ctl_db_row;

enum ctl_db_type {
    CTL_DB_NULL = 0,
    CTL_DB_INT,
    CTL_DB_REAL,
    CTL_DB_TEXT,
    CTL_DB_BLOB,
};

/* A parameter value. Text and blob point at caller memory that must stay valid for the duration
 * of the ctl_db_exec() call only; nothing is copied or kept after it returns. Build values with
 * the constructors below rather than by hand. */
struct ctl_db_value {
    enum ctl_db_type type;
    union {
        int64_t i;
        double r;
        struct {
            const void *p; /* NULL binds SQL NULL */
            size_t len;    /* bytes; SIZE_MAX for text means "up to the NUL" */
        } bytes;
    } u;
};

#define CTL_DB_NULLV   ((struct ctl_db_value){.type = CTL_DB_NULL})
#define CTL_DB_INT(x)  ((struct ctl_db_value){.type = CTL_DB_INT, .u.i = (int64_t)(x)})
#define CTL_DB_BOOL(b) ((struct ctl_db_value){.type = CTL_DB_INT, .u.i = (b) ? 1 : 0})
#define CTL_DB_REAL(x) ((struct ctl_db_value){.type = CTL_DB_REAL, .u.r = (double)(x)})
/* NUL-terminated text; a NULL pointer binds SQL NULL. */
#define CTL_DB_TEXT(s)                                                                             \
    ((struct ctl_db_value){.type = CTL_DB_TEXT, .u.bytes = {.p = (s), .len = SIZE_MAX}})
/* Text of n bytes (need not be NUL-terminated). */
#define CTL_DB_TEXTN(s, n)                                                                         \
    ((struct ctl_db_value){.type = CTL_DB_TEXT, .u.bytes = {.p = (s), .len = (size_t)(n)}})
#define CTL_DB_BLOB(p_, n)                                                                         \
    ((struct ctl_db_value){.type = CTL_DB_BLOB, .u.bytes = {.p = (p_), .len = (size_t)(n)}})

/* Receives each result row. The row and everything read from it are borrowed until the callback
 * returns. Returning anything but IOF_OK stops the statement; ctl_db_exec() then returns that
 * value (the callback fills the diag itself if it wants one). Runs with the handle's mutex held. */
typedef iof_err (*ctl_db_row_cb)(void *ctx, const struct ctl_db_row *row);

/* Opens a database. url_or_path is a file path, "sqlite:///absolute/path", "sqlite://relative",
 * or ":memory:" (a private in-memory database), all SQLite; or a libpq URL "postgres://..." or
 * "postgresql://..." (user, password, host, port, database and ?parameters as libpq reads them);
 * any other "scheme://" gives IOF_EUNSUPPORTED. SQLite files are created when missing and opened
 * with WAL journal, foreign keys on, synchronous=NORMAL and a 5 s busy timeout. A PostgreSQL
 * handle is one session (reconnected outside transactions when it breaks); its database must
 * exist. The schema is not touched: call ctl_db_migrate(). On success *out is a handle the caller
 * closes with ctl_db_close().
 *
 * PostgreSQL specifics. Every write transaction first takes one advisory lock shared by all
 * Controllers on the database, so write transactions run one at a time as on SQLite. Inside a
 * transaction each writing statement is covered by a savepoint, so a failed statement is undone
 * alone and the transaction goes on, as on SQLite. */
IOF_NODISCARD iof_err ctl_db_open(const char *url_or_path, struct ctl_db **out, struct iof_diag *d);

/* Closes the handle (rolling back a transaction left open). NULL is a no-op. No other thread may
 * be using the handle. */
void ctl_db_close(struct ctl_db *db);

/* Name of the back end: "sqlite" or "postgres". Static storage. */
const char *ctl_db_backend_name(const struct ctl_db *db);

/* Runs one statement with n_params bound parameters (which must match its placeholders), handing
 * each result row to cb (NULL: rows are ignored). *changes (if not NULL) receives the number of
 * rows inserted, updated or deleted by the statement (0 for a query), written only on success. */
IOF_NODISCARD iof_err ctl_db_exec(struct ctl_db *db,
                                  const char *sql,
                                  const struct ctl_db_value *params,
                                  size_t n_params,
                                  ctl_db_row_cb cb,
                                  void *ctx,
                                  int64_t *changes,
                                  struct iof_diag *d);

/* Row accessors, valid inside a row callback only. Columns count from 0; a column out of range
 * reads as SQL NULL. Numbers read from NULL are 0. Text is NUL-terminated, borrowed until the
 * callback returns, and NULL for SQL NULL (other types are converted to text). */
size_t ctl_db_row_columns(const struct ctl_db_row *row);
enum ctl_db_type ctl_db_row_type(const struct ctl_db_row *row, size_t col);
bool ctl_db_row_is_null(const struct ctl_db_row *row, size_t col);
int64_t ctl_db_row_int(const struct ctl_db_row *row, size_t col);
bool ctl_db_row_bool(const struct ctl_db_row *row, size_t col); /* int != 0 */
double ctl_db_row_real(const struct ctl_db_row *row, size_t col);
const char *ctl_db_row_text(const struct ctl_db_row *row, size_t col);
/* Bytes of a blob (or text) column, *len set to their count; NULL (and *len 0) for SQL NULL. */
const void *ctl_db_row_blob(const struct ctl_db_row *row, size_t col, size_t *len);
/* The column's name as the statement gives it ("id", or the AS alias). NULL when out of range. */
const char *ctl_db_row_name(const struct ctl_db_row *row, size_t col);

/* Transactions. ctl_db_begin() starts a write transaction (BEGIN IMMEDIATE on SQLite: the write
 * lock is taken at once, so a transaction never fails half-way for lock reasons) and keeps the
 * handle's mutex for the calling thread (see Threads above). Beginning while the handle already has
 * an open transaction is a programming error: IOF_EINTERNAL. ctl_db_commit() and ctl_db_rollback()
 * end the transaction whatever they return (a failed commit rolls back); called with no open
 * transaction they return IOF_EINTERNAL. */
IOF_NODISCARD iof_err ctl_db_begin(struct ctl_db *db, struct iof_diag *d);

/* Rolls back the open transaction on an error path where the rollback's own result does not
 * change what the caller reports; a failure is logged. */
void ctl_db_abort(struct ctl_db *db);

/* True when the calling thread has a transaction open on db. */
bool ctl_db_in_tx(const struct ctl_db *db);

/* Registers one hook run after every transaction on db ends (commit or rollback), on the thread
 * that ended it, after the handle's lock is released; committed tells which. Set it before other
 * threads use db; NULL removes it. Used to act on changes only once they are visible to readers. */
void ctl_db_set_tx_hook(struct ctl_db *db, void (*hook)(void *ctx, bool committed), void *ctx);
IOF_NODISCARD iof_err ctl_db_commit(struct ctl_db *db, struct iof_diag *d);
IOF_NODISCARD iof_err ctl_db_rollback(struct ctl_db *db, struct iof_diag *d);

/* Brings the schema up to date: applies, in order, each embedded migration file of this back end
 * whose version is above the highest one recorded in the table schema_migrations (created when
 * missing), each in its own transaction together with its record (version, name, applied_at in ms
 * since the epoch). Safe to run at every start and from several processes at once (each file is
 * applied once). A database whose recorded version is above the highest this binary knows gives
 * IOF_EUNSUPPORTED and is left untouched. Must not be called inside a transaction
 * (IOF_EINTERNAL). */
IOF_NODISCARD iof_err ctl_db_migrate(struct ctl_db *db, struct iof_diag *d);

/* The highest migration version recorded in the database (0 when none, also when the table does
 * not exist yet) and the highest this binary knows for the handle's back end. */
IOF_NODISCARD iof_err ctl_db_schema_version(struct ctl_db *db,
                                            int64_t *recorded,
                                            int64_t *known,
                                            struct iof_diag *d);

/* ---- several processes on one database (PostgreSQL) ---- */

/* True when other processes may share the database (PostgreSQL), so changes must be announced
 * with ctl_db_notify() to be seen by them. */
bool ctl_db_shared(const struct ctl_db *db);

/* Sends payload on channel to every ctl_db_listen()er of the database, when the current
 * transaction commits (at once outside one); nothing on a back end that is not shared. */
IOF_NODISCARD iof_err ctl_db_notify(struct ctl_db *db,
                                    const char *channel,
                                    const char *payload,
                                    struct iof_diag *d);

/* Leadership among the processes sharing the database, for jobs that must run in one place:
 * *leader = whether this handle holds the lock named by key. Once taken the lock stays with the
 * handle's session until it closes or breaks, when another process's next call takes it over.
 * Always true on a back end that is not shared. */
IOF_NODISCARD iof_err ctl_db_try_lead(struct ctl_db *db,
                                      int64_t key,
                                      bool *leader,
                                      struct iof_diag *d);

/* Receives a notification's payload on the listener's thread; NULL when notifications may have
 * been missed (the listener's session was (re)established), so the receiver should act as if
 * everything changed. */
typedef void (*ctl_db_notify_cb)(void *ctx, const char *payload);
struct ctl_db_listener;

/* Starts listening on channel with a separate session and thread, calling cb for every
 * notification sent by other handles (those sent through db itself are skipped: the sender acts
 * on its own changes). Lost sessions are re-established with back-off. *out is NULL (and the
 * result IOF_OK) on a back end that is not shared. db must outlive the listener. Free with
 * ctl_db_listener_free(), which stops the thread (cb is not running once it returns). */
IOF_NODISCARD iof_err ctl_db_listen(struct ctl_db *db,
                                    const char *channel,
                                    ctl_db_notify_cb cb,
                                    void *ctx,
                                    struct ctl_db_listener **out,
                                    struct iof_diag *d);
void ctl_db_listener_free(struct ctl_db_listener *l);

#endif
