/* The SQLite back end of the SQL layer: connection settings, a small cache of prepared statements,
 * parameter binding, row access and the mapping of SQLite result codes to iof_err.
 * db.c serialises every call on a connection (see db_backend.h), so nothing here locks. */
#include "controller/store/db_backend.h"

#include "common/log.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define STMT_CACHE_SIZE 32
#define BUSY_TIMEOUT_MS 5000

/* A prepared statement kept for reuse, found by its SQL text. */
struct stmt_slot {
    char *sql; /* owned copy of the text; NULL when the slot is free */
    uint64_t hash;
    sqlite3_stmt *stmt;
    uint64_t last_used;
    bool busy; /* in use by a running exec (a row callback may run another statement) */
};

struct sq_conn {
    sqlite3 *db;
    uint64_t tick;
    struct stmt_slot cache[STMT_CACHE_SIZE];
};

/* A statement handed out for one exec: from a cache slot, or uncached (slot NULL). */
struct stmt_ref {
    sqlite3_stmt *stmt;
    struct stmt_slot *slot;
};

static iof_err map_code(int rc) {
    switch (rc & 0xff) {
        case SQLITE_CONSTRAINT:
            switch (rc) {
                case SQLITE_CONSTRAINT_UNIQUE:
                case SQLITE_CONSTRAINT_PRIMARYKEY:
                case SQLITE_CONSTRAINT_ROWID: return IOF_EEXIST;
                case SQLITE_CONSTRAINT_NOTNULL:
                case SQLITE_CONSTRAINT_CHECK:
                case SQLITE_CONSTRAINT_DATATYPE: return IOF_EINVAL;
                default: return IOF_ECONFLICT; /* FOREIGNKEY, TRIGGER, ... */
            }
        case SQLITE_BUSY:
        case SQLITE_LOCKED: return IOF_EBUSY;
        case SQLITE_NOMEM: return IOF_ENOMEM;
        case SQLITE_TOOBIG: return IOF_E2BIG;
        case SQLITE_MISUSE:
        case SQLITE_RANGE: return IOF_EINTERNAL;
        default: return IOF_EIO;
    }
}

/* Maps the connection's last error; call before anything else touches the connection. */
static iof_err sq_fail(struct sq_conn *c, int rc, struct iof_diag *d) {
    int ext = sqlite3_extended_errcode(c->db);
    if ((ext & 0xff) == (rc & 0xff)) {
        rc = ext; /* the extended code says which constraint */
    }
    return iof_fail(d, map_code(rc), "sqlite: %s", sqlite3_errmsg(c->db));
}

static uint64_t hash_text(const char *s) {
    uint64_t h = 14695981039346656037ull; /* FNV-1a */
    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

static iof_err
stmt_get(struct sq_conn *c, const char *sql, struct stmt_ref *ref, struct iof_diag *d) {
    uint64_t h = hash_text(sql);
    c->tick++;
    for (size_t i = 0; i < STMT_CACHE_SIZE; i++) {
        struct stmt_slot *s = &c->cache[i];
        if (s->sql != NULL && !s->busy && s->hash == h && strcmp(s->sql, sql) == 0) {
            s->busy = true;
            s->last_used = c->tick;
            ref->stmt = s->stmt;
            ref->slot = s;
            return IOF_OK;
        }
    }

    sqlite3_stmt *st = NULL;
    const char *tail = NULL;
    int rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, &tail);
    if (rc != SQLITE_OK) {
        return sq_fail(c, rc, d);
    }
    if (st == NULL) {
        return iof_fail(d, IOF_EINTERNAL, "sqlite: empty statement");
    }
    while (tail != NULL && (isspace((unsigned char)*tail) || *tail == ';')) {
        tail++;
    }
    if (tail != NULL && *tail != '\0') {
        sqlite3_finalize(st);
        return iof_fail(d, IOF_EINTERNAL, "sqlite: one statement per call");
    }

    struct stmt_slot *victim = NULL;
    for (size_t i = 0; i < STMT_CACHE_SIZE; i++) {
        struct stmt_slot *s = &c->cache[i];
        if (s->sql == NULL) {
            victim = s;
            break;
        }
        if (!s->busy && (victim == NULL || s->last_used < victim->last_used)) {
            victim = s;
        }
    }
    char *copy = victim != NULL ? strdup(sql) : NULL;
    if (copy == NULL) {
        ref->stmt = st; /* every slot busy, or no memory for the key: use once */
        ref->slot = NULL;
        return IOF_OK;
    }
    if (victim->sql != NULL) {
        sqlite3_finalize(victim->stmt);
        free(victim->sql);
    }
    victim->sql = copy;
    victim->hash = h;
    victim->stmt = st;
    victim->busy = true;
    victim->last_used = c->tick;
    ref->stmt = st;
    ref->slot = victim;
    return IOF_OK;
}

static void stmt_put(struct stmt_ref *ref) {
    sqlite3_reset(ref->stmt);
    sqlite3_clear_bindings(ref->stmt);
    if (ref->slot != NULL) {
        ref->slot->busy = false;
    } else {
        sqlite3_finalize(ref->stmt);
    }
}

static int bind_value(sqlite3_stmt *st, int idx, const struct ctl_db_value *v) {
    switch (v->type) {
        case CTL_DB_NULL: return sqlite3_bind_null(st, idx);
        case CTL_DB_INT: return sqlite3_bind_int64(st, idx, v->u.i);
        case CTL_DB_REAL: return sqlite3_bind_double(st, idx, v->u.r);
        case CTL_DB_TEXT:
            if (v->u.bytes.p == NULL) {
                return sqlite3_bind_null(st, idx);
            }
            if (v->u.bytes.len == SIZE_MAX) {
                return sqlite3_bind_text(st, idx, v->u.bytes.p, -1, SQLITE_STATIC);
            }
            return sqlite3_bind_text64(
                st, idx, v->u.bytes.p, v->u.bytes.len, SQLITE_STATIC, SQLITE_UTF8);
        case CTL_DB_BLOB:
            if (v->u.bytes.p == NULL) {
                return sqlite3_bind_null(st, idx);
            }
            return sqlite3_bind_blob64(st, idx, v->u.bytes.p, v->u.bytes.len, SQLITE_STATIC);
    }
    return SQLITE_MISUSE;
}

/* ---- rows ---- */

static size_t row_columns(void *impl) {
    return (size_t)sqlite3_column_count(impl);
}

static enum ctl_db_type row_type(void *impl, size_t col) {
    switch (sqlite3_column_type(impl, (int)col)) {
        case SQLITE_INTEGER: return CTL_DB_INT;
        case SQLITE_FLOAT: return CTL_DB_REAL;
        case SQLITE_TEXT: return CTL_DB_TEXT;
        case SQLITE_BLOB: return CTL_DB_BLOB;
        default: return CTL_DB_NULL;
    }
}

static int64_t row_int64(void *impl, size_t col) {
    return sqlite3_column_int64(impl, (int)col);
}

static double row_real(void *impl, size_t col) {
    return sqlite3_column_double(impl, (int)col);
}

static const char *row_text(void *impl, size_t col) {
    return (const char *)sqlite3_column_text(impl, (int)col);
}

static const void *row_blob(void *impl, size_t col, size_t *len) {
    const void *p = sqlite3_column_blob(impl, (int)col);
    *len = (size_t)sqlite3_column_bytes(impl, (int)col);
    return p;
}

static const char *row_name(void *impl, size_t col) {
    return sqlite3_column_name(impl, (int)col);
}

static const struct ctl_db_row_ops sq_row_ops = {
    .columns = row_columns,
    .type = row_type,
    .int64 = row_int64,
    .real = row_real,
    .text = row_text,
    .blob = row_blob,
    .name = row_name,
};

/* ---- statements ---- */

static iof_err sq_exec(void *conn,
                       const char *sql,
                       const struct ctl_db_value *params,
                       size_t n_params,
                       ctl_db_row_cb cb,
                       void *ctx,
                       int64_t *changes,
                       struct iof_diag *d) {
    struct sq_conn *c = conn;
    struct stmt_ref ref = {0};
    iof_err err = stmt_get(c, sql, &ref, d);
    if (err != IOF_OK) {
        return err;
    }
    int expected = sqlite3_bind_parameter_count(ref.stmt);
    if (expected < 0 || (size_t)expected != n_params) {
        err = iof_fail(d,
                       IOF_EINTERNAL,
                       "sqlite: statement takes %d parameters, %zu given",
                       expected,
                       n_params);
        goto out;
    }
    for (size_t i = 0; i < n_params; i++) {
        int rc = bind_value(ref.stmt, (int)i + 1, &params[i]);
        if (rc != SQLITE_OK) {
            err = sq_fail(c, rc, d);
            goto out;
        }
    }
    for (;;) {
        int rc = sqlite3_step(ref.stmt);
        if (rc == SQLITE_ROW) {
            if (cb != NULL) {
                struct ctl_db_row row = {.ops = &sq_row_ops, .impl = ref.stmt};
                err = cb(ctx, &row);
                if (err != IOF_OK) {
                    goto out;
                }
            }
            continue;
        }
        if (rc == SQLITE_DONE) {
            break;
        }
        err = sq_fail(c, rc, d);
        goto out;
    }
    if (changes != NULL) {
        *changes = sqlite3_stmt_readonly(ref.stmt) ? 0 : sqlite3_changes64(c->db);
    }
out:
    stmt_put(&ref);
    return err;
}

static iof_err sq_exec_script(void *conn, const char *sql, struct iof_diag *d) {
    struct sq_conn *c = conn;
    int rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        return sq_fail(c, rc, d);
    }
    return IOF_OK;
}

static iof_err read_exists(void *ctx, const struct ctl_db_row *row) {
    (void)row;
    *(bool *)ctx = true;
    return IOF_OK;
}

static iof_err sq_table_exists(void *conn, const char *table, bool *exists, struct iof_diag *d) {
    bool found = false;
    const struct ctl_db_value p[] = {CTL_DB_TEXT(table)};
    iof_err err = sq_exec(conn,
                          "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?",
                          p,
                          1,
                          read_exists,
                          &found,
                          NULL,
                          d);
    if (err == IOF_OK) {
        *exists = found;
    }
    return err;
}

/* ---- transactions ---- */

static iof_err sq_begin(void *conn, struct iof_diag *d) {
    return sq_exec_script(conn, "BEGIN IMMEDIATE", d);
}

static iof_err sq_rollback(void *conn, struct iof_diag *d) {
    struct sq_conn *c = conn;
    if (sqlite3_get_autocommit(c->db)) {
        return IOF_OK; /* SQLite already rolled back (after some errors it does so itself) */
    }
    return sq_exec_script(conn, "ROLLBACK", d);
}

static iof_err sq_commit(void *conn, struct iof_diag *d) {
    struct sq_conn *c = conn;
    int rc = sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);
    if (rc == SQLITE_OK) {
        return IOF_OK;
    }
    iof_err err = sq_fail(c, rc, d);
    (void)sq_rollback(conn, NULL);
    return err;
}

/* ---- connections ---- */

static iof_err read_first_text(void *ctx, const struct ctl_db_row *row) {
    char *buf = ctx;
    const char *t = ctl_db_row_text(row, 0);
    (void)snprintf(buf, 32, "%s", t != NULL ? t : "");
    return IOF_OK;
}

/* Runs a PRAGMA and returns its first result column as text in out[32]. */
static iof_err pragma(struct sq_conn *c, const char *sql, char out[32], struct iof_diag *d) {
    out[0] = '\0';
    return sq_exec(c, sql, NULL, 0, read_first_text, out, NULL, d);
}

static void sq_close(void *conn) {
    struct sq_conn *c = conn;
    if (c == NULL) {
        return;
    }
    for (size_t i = 0; i < STMT_CACHE_SIZE; i++) {
        if (c->cache[i].sql != NULL) {
            sqlite3_finalize(c->cache[i].stmt);
            free(c->cache[i].sql);
        }
    }
    sqlite3_close_v2(c->db);
    free(c);
}

static iof_err sq_configure(struct sq_conn *c, bool memory, struct iof_diag *d) {
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
    (void)sqlite3_db_config(c->db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
    char v[32];
    iof_err err = pragma(c, "PRAGMA journal_mode = WAL", v, d);
    if (err != IOF_OK) {
        return err;
    }
    if (!memory && strcasecmp(v, "wal") != 0) {
        return iof_fail(d, IOF_EIO, "sqlite: cannot switch to WAL journal (got '%s')", v);
    }
    err = sq_exec_script(c, "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL", d);
    if (err != IOF_OK) {
        return err;
    }
    err = pragma(c, "PRAGMA foreign_keys", v, d);
    if (err == IOF_OK && strcmp(v, "1") != 0) {
        err = iof_fail(d, IOF_EUNSUPPORTED, "sqlite: this build has no foreign key support");
    }
    return err;
}

/* The database holds registry passwords, the tunnel key and token digests: it is made (or made
 * again) mode 0600 before SQLite opens it, whatever the umask and the directory's mode. SQLite
 * gives the -wal and -shm files it creates the database file's mode; ones left from before are
 * narrowed too. */
static iof_err sq_private_files(const char *target, struct iof_diag *d) {
    if (strcmp(target, ":memory:") == 0 || strncmp(target, "file:", 5) == 0) {
        return IOF_OK;
    }
    int fd = open(target, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        return iof_fail(d, IOF_EIO, "sqlite: cannot open '%s': %s", target, strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && (st.st_mode & 0077) != 0 && fchmod(fd, 0600) != 0) {
        IOF_WARN("db", "database_mode_unchanged path=%s error=%s", target, strerror(errno));
    }
    (void)close(fd);
    const char *suffix[] = {"-wal", "-shm"};
    for (size_t i = 0; i < 2; i++) {
        char path[4096];
        int n = snprintf(path, sizeof path, "%s%s", target, suffix[i]);
        if (n > 0 && (size_t)n < sizeof path && stat(path, &st) == 0 && (st.st_mode & 0077) != 0 &&
            chmod(path, 0600) != 0) {
            IOF_WARN("db", "database_mode_unchanged path=%s error=%s", path, strerror(errno));
        }
    }
    return IOF_OK;
}

static iof_err sq_open(const char *target, void **conn, struct iof_diag *d) {
    iof_err perr = sq_private_files(target, d);
    if (perr != IOF_OK) {
        return perr;
    }
    struct sq_conn *c = calloc(1, sizeof *c);
    if (c == NULL) {
        return iof_fail(d, IOF_ENOMEM, "sqlite: out of memory");
    }
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(target, &c->db, flags, NULL);
    if (rc != SQLITE_OK) {
        iof_err err = iof_fail(d,
                               rc == SQLITE_NOMEM ? IOF_ENOMEM : IOF_EIO,
                               "sqlite: cannot open '%s': %s",
                               target,
                               c->db != NULL ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        sq_close(c);
        return err;
    }
    struct iof_diag inner;
    iof_diag_clear(&inner);
    iof_err err = sq_configure(c, strcmp(target, ":memory:") == 0, &inner);
    if (err != IOF_OK) {
        sq_close(c);
        return iof_fail(d, err, "cannot open '%s': %s", target, iof_diag_text(&inner, err));
    }
    *conn = c;
    return IOF_OK;
}

const struct ctl_db_backend ctl_db_backend_sqlite = {
    .name = "sqlite",
    .migrations = ctl_sql_sqlite,
    .migration_count = &ctl_sql_sqlite_count,
    .open = sq_open,
    .close = sq_close,
    .exec = sq_exec,
    .exec_script = sq_exec_script,
    .table_exists = sq_table_exists,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
};
