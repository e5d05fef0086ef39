/* The PostgreSQL back end of the SQL layer (libpq): `?` placeholders rewritten to $n, a cache of
 * prepared statements, text-format results read through the row ops, SQLSTATE mapped to iof_err,
 * statement-level rollback inside transactions, a global writer lock that gives transactions the
 * same one-writer-at-a-time semantics as SQLite, the session advisory lock behind
 * ctl_db_try_lead() and the LISTEN connection behind ctl_db_listen().
 * db.c serialises every call on a connection (see db_backend.h); only the listener has a thread. */
#include "controller/store/db_backend.h"

#include "common/clock.h"
#include "common/log.h"

#include <ctype.h>
#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define STMT_CACHE_SIZE 128
#define MAX_PARAMS      256
#define MAX_SQL         65536

/* Every write transaction takes this transaction-level advisory lock first (pg_advisory_xact_lock),
 * so write transactions run one at a time across every Controller sharing the database, as on
 * SQLite (BEGIN IMMEDIATE). The store's read-check-write sequences rely on that. */
#define WRITER_LOCK_KEY 0x696f666f67303031LL /* "iofog001" */

/* PostgreSQL type OIDs (catalog/pg_type.h is not part of libpq's API). */
enum {
    OID_BOOL = 16,
    OID_BYTEA = 17,
    OID_INT8 = 20,
    OID_INT2 = 21,
    OID_INT4 = 23,
    OID_OID = 26,
    OID_FLOAT4 = 700,
    OID_FLOAT8 = 701,
    OID_NUMERIC = 1700,
};

/* A prepared statement on the connection, found by the caller's SQL text. */
struct stmt_slot {
    char *sql; /* owned copy of the caller's text; NULL when the slot is free */
    uint64_t hash;
    char name[24];
    int n_params;
    bool write; /* not a plain SELECT: protected by a savepoint inside transactions */
    uint64_t last_used;
};

struct pg_conn {
    PGconn *pc;
    char *conninfo; /* for reconnecting */
    uint64_t tick;
    unsigned next_name;
    bool in_tx;
    bool savepoint;  /* a savepoint "s" is set in the open transaction */
    bool leader;     /* this session holds a leadership lock (ctl_db_try_lead) */
    _Atomic int pid; /* server process id of the session, for ctl_db_listen's own-filter */
    struct stmt_slot cache[STMT_CACHE_SIZE];
};

static uint64_t hash_text(const char *s) {
    uint64_t h = 14695981039346656037ull; /* FNV-1a */
    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

static void quiet_notices(void *arg, const char *message) {
    (void)arg;
    IOF_DEBUG("store", "postgres_notice text=\"%.200s\"", message);
}

/* Maps a failed result's SQLSTATE (db.h: Errors). */
static iof_err map_sqlstate(const char *state) {
    if (state == NULL || strlen(state) != 5) {
        return IOF_EIO;
    }
    if (strcmp(state, "23505") == 0) {
        return IOF_EEXIST; /* unique_violation */
    }
    if (strcmp(state, "23503") == 0 || strcmp(state, "23001") == 0) {
        return IOF_ECONFLICT; /* foreign_key_violation, restrict_violation */
    }
    if (strncmp(state, "23", 2) == 0 || strncmp(state, "22", 2) == 0) {
        return IOF_EINVAL; /* not null, check, invalid values */
    }
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 || strcmp(state, "55P03") == 0) {
        return IOF_EBUSY; /* serialization failure, deadlock, lock not available */
    }
    if (strcmp(state, "53200") == 0) {
        return IOF_ENOMEM;
    }
    if (strcmp(state, "42P18") == 0 || strcmp(state, "08P01") == 0 || strcmp(state, "42601") == 0) {
        return IOF_EINTERNAL; /* indeterminate parameter type, protocol misuse, syntax */
    }
    return IOF_EIO;
}

/* Fails with the result's (or else the connection's) message, trimmed of its newline. */
static iof_err pg_fail(struct pg_conn *c, const PGresult *res, struct iof_diag *d) {
    const char *msg = res != NULL ? PQresultErrorMessage(res) : "";
    if (msg == NULL || *msg == '\0') {
        msg = PQerrorMessage(c->pc);
    }
    size_t n = strcspn(msg, "\n");
    iof_err err = res != NULL ? map_sqlstate(PQresultErrorField(res, PG_DIAG_SQLSTATE)) : IOF_EIO;
    if (PQstatus(c->pc) == CONNECTION_BAD) {
        err = IOF_EIO;
    }
    return iof_fail(d, err, "postgres: %.*s", (int)n, msg);
}

/* Runs SQL without parameters through the simple protocol (several statements allowed). */
static iof_err simple(struct pg_conn *c, const char *sql, PGresult **keep, struct iof_diag *d) {
    PGresult *res = PQexec(c->pc, sql);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        iof_err err = pg_fail(c, res, d);
        PQclear(res);
        return err;
    }
    if (keep != NULL) {
        *keep = res;
    } else {
        PQclear(res);
    }
    return IOF_OK;
}

static void cache_clear(struct pg_conn *c) {
    for (size_t i = 0; i < STMT_CACHE_SIZE; i++) {
        free(c->cache[i].sql);
        c->cache[i].sql = NULL;
    }
}

/* Reconnects a broken session outside transactions (a server restart, a dropped connection).
 * Prepared statements and session locks are gone with the old session. */
static iof_err ensure_connected(struct pg_conn *c, struct iof_diag *d) {
    if (PQstatus(c->pc) == CONNECTION_OK) {
        return IOF_OK;
    }
    if (c->in_tx) {
        return iof_fail(d, IOF_EIO, "postgres: connection lost inside a transaction");
    }
    PQreset(c->pc);
    cache_clear(c);
    c->leader = false;
    if (PQstatus(c->pc) != CONNECTION_OK) {
        return iof_fail(d, IOF_EIO, "postgres: reconnect failed: %s", PQerrorMessage(c->pc));
    }
    atomic_store(&c->pid, PQbackendPID(c->pc));
    IOF_WARN("store", "postgres_reconnected");
    return IOF_OK;
}

/* Rewrites `?` and `?NNN` placeholders to $n outside string literals, quoted identifiers and
 * comments, into out[cap]. *n_params = the highest parameter number. A `;` followed by more SQL
 * is refused (one statement per call). */
static iof_err rewrite(const char *sql, char *out, size_t cap, int *n_params, struct iof_diag *d) {
    size_t o = 0;
    int max = 0;
    const char *p = sql;
    while (*p != '\0') {
        if (o + 16 >= cap) {
            return iof_fail(d, IOF_E2BIG, "postgres: statement too long");
        }
        char ch = *p;
        if (ch == '\'' || ch == '"') {
            char q = ch;
            out[o++] = *p++;
            while (*p != '\0') {
                if (o + 2 >= cap) {
                    return iof_fail(d, IOF_E2BIG, "postgres: statement too long");
                }
                if (*p == q && p[1] == q) { /* doubled quote inside */
                    out[o++] = *p++;
                    out[o++] = *p++;
                    continue;
                }
                if (*p == q) {
                    break;
                }
                out[o++] = *p++;
            }
            if (*p == q) {
                out[o++] = *p++;
            }
            continue;
        }
        if (ch == '-' && p[1] == '-') {
            while (*p != '\0' && *p != '\n') {
                p++;
            }
            continue;
        }
        if (ch == '?') {
            p++;
            int num;
            if (isdigit((unsigned char)*p)) {
                char *end = NULL;
                long v = strtol(p, &end, 10);
                p = end;
                if (v < 1 || v > MAX_PARAMS) {
                    return iof_fail(d, IOF_EINTERNAL, "postgres: parameter ?%ld out of range", v);
                }
                num = (int)v;
            } else {
                num = max + 1;
            }
            if (num > max) {
                max = num;
            }
            if (max > MAX_PARAMS) {
                return iof_fail(d, IOF_EINTERNAL, "postgres: too many parameters");
            }
            o += (size_t)snprintf(out + o, cap - o, "$%d", num);
            continue;
        }
        if (ch == ';') {
            const char *t = p + 1;
            while (isspace((unsigned char)*t) || *t == ';') {
                t++;
            }
            if (*t != '\0') {
                return iof_fail(d, IOF_EINTERNAL, "postgres: one statement per call");
            }
            break;
        }
        out[o++] = *p++;
    }
    out[o] = '\0';
    *n_params = max;
    return IOF_OK;
}

/* True for a statement that only reads: it needs no savepoint. */
static bool is_plain_select(const char *sql) {
    while (isspace((unsigned char)*sql) || *sql == '(') {
        sql++;
    }
    return strncasecmp(sql, "SELECT", 6) == 0 && !isalnum((unsigned char)sql[6]);
}

static Oid param_type(const struct ctl_db_value *v) {
    switch (v->type) {
        case CTL_DB_INT: return OID_INT8;
        case CTL_DB_REAL: return OID_FLOAT8;
        case CTL_DB_BLOB: return OID_BYTEA;
        default: return 0; /* text and NULL: the server infers the type from the context */
    }
}

/* The prepared statement for sql, preparing it (with the parameter types of this call) when it is
 * not cached. */
static iof_err stmt_get(struct pg_conn *c,
                        const char *sql,
                        const struct ctl_db_value *params,
                        size_t n_params,
                        struct stmt_slot **out,
                        struct iof_diag *d) {
    uint64_t h = hash_text(sql);
    c->tick++;
    struct stmt_slot *victim = NULL;
    for (size_t i = 0; i < STMT_CACHE_SIZE; i++) {
        struct stmt_slot *s = &c->cache[i];
        if (s->sql != NULL && s->hash == h && strcmp(s->sql, sql) == 0) {
            s->last_used = c->tick;
            *out = s;
            return IOF_OK;
        }
        if (s->sql == NULL) {
            if (victim == NULL || victim->sql != NULL) {
                victim = s;
            }
        } else if (victim == NULL || (victim->sql != NULL && s->last_used < victim->last_used)) {
            victim = s;
        }
    }

    char *text = malloc(MAX_SQL);
    if (text == NULL) {
        return iof_fail(d, IOF_ENOMEM, "postgres: out of memory");
    }
    int n = 0;
    iof_err err = rewrite(sql, text, MAX_SQL, &n, d);
    if (err != IOF_OK) {
        free(text);
        return err;
    }
    if ((size_t)n != n_params) {
        free(text);
        return iof_fail(
            d, IOF_EINTERNAL, "postgres: statement takes %d parameters, %zu given", n, n_params);
    }
    char *copy = strdup(sql);
    if (copy == NULL) {
        free(text);
        return iof_fail(d, IOF_ENOMEM, "postgres: out of memory");
    }
    Oid types[MAX_PARAMS];
    for (size_t i = 0; i < n_params; i++) {
        types[i] = param_type(&params[i]);
    }
    if (victim->sql != NULL) {
        char dealloc[48];
        (void)snprintf(dealloc, sizeof dealloc, "DEALLOCATE %s", victim->name);
        (void)simple(c, dealloc, NULL, NULL);
        free(victim->sql);
        victim->sql = NULL;
    }
    char name[24];
    (void)snprintf(name, sizeof name, "iof%u", c->next_name++);
    PGresult *res = PQprepare(c->pc, name, text, n, types);
    free(text);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        err = pg_fail(c, res, d);
        IOF_DEBUG("store", "postgres_prepare_failed sql=\"%.300s\"", sql);
        PQclear(res);
        free(copy);
        return err;
    }
    PQclear(res);
    victim->sql = copy;
    victim->hash = h;
    memcpy(victim->name, name, sizeof name);
    victim->n_params = n;
    victim->write = !is_plain_select(sql);
    victim->last_used = c->tick;
    *out = victim;
    return IOF_OK;
}

/* ---- rows ---- */

struct pg_row {
    PGresult *res;
    int row;
    unsigned char *scratch; /* the last unescaped bytea, freed after the callback */
};

static size_t row_columns(void *impl) {
    struct pg_row *r = impl;
    return (size_t)PQnfields(r->res);
}

static enum ctl_db_type row_type(void *impl, size_t col) {
    struct pg_row *r = impl;
    if (PQgetisnull(r->res, r->row, (int)col)) {
        return CTL_DB_NULL;
    }
    switch (PQftype(r->res, (int)col)) {
        case OID_BOOL:
        case OID_INT2:
        case OID_INT4:
        case OID_INT8:
        case OID_OID: return CTL_DB_INT;
        case OID_FLOAT4:
        case OID_FLOAT8: return CTL_DB_REAL;
        case OID_NUMERIC: {
            /* SUM() of integers is numeric here but an integer on SQLite: keep whole values
             * integers. */
            const char *v = PQgetvalue(r->res, r->row, (int)col);
            return strpbrk(v, ".eEnN") != NULL ? CTL_DB_REAL : CTL_DB_INT;
        }
        case OID_BYTEA: return CTL_DB_BLOB;
        default: return CTL_DB_TEXT;
    }
}

static int64_t row_int64(void *impl, size_t col) {
    struct pg_row *r = impl;
    const char *v = PQgetvalue(r->res, r->row, (int)col);
    if (PQftype(r->res, (int)col) == OID_BOOL) {
        return v[0] == 't' ? 1 : 0;
    }
    if (strpbrk(v, ".eE") != NULL) {
        return (int64_t)strtod(v, NULL);
    }
    return (int64_t)strtoll(v, NULL, 10);
}

static double row_real(void *impl, size_t col) {
    struct pg_row *r = impl;
    if (PQftype(r->res, (int)col) == OID_BOOL) {
        return (double)row_int64(impl, col);
    }
    return strtod(PQgetvalue(r->res, r->row, (int)col), NULL);
}

static const char *row_text(void *impl, size_t col) {
    struct pg_row *r = impl;
    const char *v = PQgetvalue(r->res, r->row, (int)col);
    if (PQftype(r->res, (int)col) == OID_BOOL) {
        return v[0] == 't' ? "1" : "0"; /* as SQLite shows a boolean */
    }
    return v;
}

static const void *row_blob(void *impl, size_t col, size_t *len) {
    struct pg_row *r = impl;
    const char *v = PQgetvalue(r->res, r->row, (int)col);
    if (PQftype(r->res, (int)col) != OID_BYTEA) {
        *len = (size_t)PQgetlength(r->res, r->row, (int)col);
        return v;
    }
    PQfreemem(r->scratch);
    size_t n = 0;
    r->scratch = PQunescapeBytea((const unsigned char *)v, &n);
    *len = r->scratch != NULL ? n : 0;
    return r->scratch != NULL ? (const void *)r->scratch : (const void *)"";
}

static const char *row_name(void *impl, size_t col) {
    struct pg_row *r = impl;
    return PQfname(r->res, (int)col);
}

static const struct ctl_db_row_ops pg_row_ops = {
    .columns = row_columns,
    .type = row_type,
    .int64 = row_int64,
    .real = row_real,
    .text = row_text,
    .blob = row_blob,
    .name = row_name,
};

/* ---- statements ---- */

/* Sets (or moves) the savepoint "s" before a write inside a transaction, so that a failing
 * statement can be undone alone, as on SQLite, instead of aborting the whole transaction. */
static iof_err savepoint_set(struct pg_conn *c, struct iof_diag *d) {
    iof_err err =
        simple(c, c->savepoint ? "RELEASE SAVEPOINT s; SAVEPOINT s" : "SAVEPOINT s", NULL, d);
    if (err == IOF_OK) {
        c->savepoint = true;
    }
    return err;
}

static iof_err pg_exec(void *conn,
                       const char *sql,
                       const struct ctl_db_value *params,
                       size_t n_params,
                       ctl_db_row_cb cb,
                       void *ctx,
                       int64_t *changes,
                       struct iof_diag *d) {
    struct pg_conn *c = conn;
    if (n_params > MAX_PARAMS) {
        return iof_fail(d, IOF_EINTERNAL, "postgres: too many parameters");
    }
    iof_err err = ensure_connected(c, d);
    struct stmt_slot *s = NULL;
    if (err == IOF_OK) {
        err = stmt_get(c, sql, params, n_params, &s, d);
    }
    if (err != IOF_OK) {
        return err;
    }

    const char *values[MAX_PARAMS];
    int lengths[MAX_PARAMS];
    int formats[MAX_PARAMS];
    char numbers[MAX_PARAMS][32];
    char *owned[MAX_PARAMS];
    size_t n_owned = 0;
    for (size_t i = 0; i < n_params; i++) {
        const struct ctl_db_value *v = &params[i];
        values[i] = NULL;
        lengths[i] = 0;
        formats[i] = 0;
        switch (v->type) {
            case CTL_DB_NULL: break;
            case CTL_DB_INT:
                (void)snprintf(numbers[i], sizeof numbers[i], "%lld", (long long)v->u.i);
                values[i] = numbers[i];
                break;
            case CTL_DB_REAL:
                (void)snprintf(numbers[i], sizeof numbers[i], "%.17g", v->u.r);
                values[i] = numbers[i];
                break;
            case CTL_DB_TEXT:
                if (v->u.bytes.p == NULL) {
                    break;
                }
                if (v->u.bytes.len == SIZE_MAX) {
                    values[i] = v->u.bytes.p;
                } else {
                    /* Text parameters travel NUL-terminated: copy a counted one. */
                    char *t = malloc(v->u.bytes.len + 1);
                    if (t == NULL) {
                        err = iof_fail(d, IOF_ENOMEM, "postgres: out of memory");
                        goto out;
                    }
                    memcpy(t, v->u.bytes.p, v->u.bytes.len);
                    t[v->u.bytes.len] = '\0';
                    if (strlen(t) != v->u.bytes.len) {
                        free(t);
                        err = iof_fail(d, IOF_EINVAL, "postgres: text with a NUL byte");
                        goto out;
                    }
                    owned[n_owned++] = t;
                    values[i] = t;
                }
                break;
            case CTL_DB_BLOB:
                if (v->u.bytes.p == NULL) {
                    break;
                }
                if (v->u.bytes.len > INT32_MAX) {
                    err = iof_fail(d, IOF_E2BIG, "postgres: blob too large");
                    goto out;
                }
                values[i] = v->u.bytes.p;
                lengths[i] = (int)v->u.bytes.len;
                formats[i] = 1; /* binary */
                break;
        }
    }

    bool guarded = c->in_tx && s->write;
    if (guarded && (err = savepoint_set(c, d)) != IOF_OK) {
        goto out;
    }
    PGresult *res = PQexecPrepared(c->pc, s->name, (int)n_params, values, lengths, formats, 0);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        err = pg_fail(c, res, d);
        IOF_DEBUG("store", "postgres_statement_failed sql=\"%.300s\"", sql);
        PQclear(res);
        if (guarded) {
            (void)simple(c, "ROLLBACK TO SAVEPOINT s", NULL, NULL);
        }
        if (strstr(d != NULL ? d->msg : "", "does not exist") != NULL &&
            strstr(d != NULL ? d->msg : "", "prepared statement") != NULL) {
            cache_clear(c); /* the session lost its statements (DISCARD ALL, pooler) */
        }
        goto out;
    }
    if (st == PGRES_TUPLES_OK && cb != NULL) {
        int rows = PQntuples(res);
        for (int i = 0; i < rows && err == IOF_OK; i++) {
            struct pg_row r = {.res = res, .row = i};
            struct ctl_db_row row = {.ops = &pg_row_ops, .impl = &r};
            err = cb(ctx, &row);
            PQfreemem(r.scratch);
        }
    }
    if (err == IOF_OK && changes != NULL) {
        const char *tag = PQcmdStatus(res);
        bool counts = strncmp(tag, "INSERT", 6) == 0 || strncmp(tag, "UPDATE", 6) == 0 ||
                      strncmp(tag, "DELETE", 6) == 0 || strncmp(tag, "MERGE", 5) == 0;
        *changes = counts ? strtoll(PQcmdTuples(res), NULL, 10) : 0;
    }
    PQclear(res);
out:
    for (size_t i = 0; i < n_owned; i++) {
        free(owned[i]);
    }
    return err;
}

static iof_err pg_exec_script(void *conn, const char *sql, struct iof_diag *d) {
    struct pg_conn *c = conn;
    iof_err err = ensure_connected(c, d);
    return err != IOF_OK ? err : simple(c, sql, NULL, d);
}

static iof_err read_exists(void *ctx, const struct ctl_db_row *row) {
    *(bool *)ctx = ctl_db_row_bool(row, 0);
    return IOF_OK;
}

static iof_err pg_table_exists(void *conn, const char *table, bool *exists, struct iof_diag *d) {
    bool found = false;
    const struct ctl_db_value p[] = {CTL_DB_TEXT(table)};
    iof_err err = pg_exec(conn,
                          "SELECT EXISTS (SELECT 1 FROM information_schema.tables"
                          " WHERE table_schema = current_schema() AND table_name = ?)",
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

static iof_err pg_begin(void *conn, struct iof_diag *d) {
    struct pg_conn *c = conn;
    iof_err err = ensure_connected(c, d);
    char sql[96];
    (void)snprintf(
        sql, sizeof sql, "BEGIN; SELECT pg_advisory_xact_lock(%lld)", (long long)WRITER_LOCK_KEY);
    if (err == IOF_OK) {
        err = simple(c, sql, NULL, d);
    }
    if (err != IOF_OK) {
        (void)simple(c, "ROLLBACK", NULL, NULL);
        return err;
    }
    c->in_tx = true;
    c->savepoint = false;
    return IOF_OK;
}

static iof_err pg_rollback(void *conn, struct iof_diag *d) {
    struct pg_conn *c = conn;
    c->in_tx = false;
    c->savepoint = false;
    if (PQtransactionStatus(c->pc) == PQTRANS_IDLE) {
        return IOF_OK;
    }
    return simple(c, "ROLLBACK", NULL, d);
}

static iof_err pg_commit(void *conn, struct iof_diag *d) {
    struct pg_conn *c = conn;
    PGresult *res = NULL;
    iof_err err = simple(c, "COMMIT", &res, d);
    if (err == IOF_OK) {
        /* COMMIT of a failed transaction "succeeds" with the tag ROLLBACK. */
        if (strcmp(PQcmdStatus(res), "COMMIT") != 0) {
            err = iof_fail(d, IOF_EIO, "postgres: the transaction was rolled back");
        }
        PQclear(res);
    }
    if (err != IOF_OK) {
        (void)pg_rollback(conn, NULL);
    }
    c->in_tx = false;
    c->savepoint = false;
    return err;
}

/* ---- connections ---- */

static void pg_close(void *conn) {
    struct pg_conn *c = conn;
    if (c == NULL) {
        return;
    }
    cache_clear(c);
    PQfinish(c->pc);
    free(c->conninfo);
    free(c);
}

/* Connects with the Controller's session settings. */
static iof_err connect_to(const char *conninfo, PGconn **out, struct iof_diag *d) {
    PGconn *pc = PQconnectdb(conninfo);
    if (pc == NULL) {
        return iof_fail(d, IOF_ENOMEM, "postgres: out of memory");
    }
    if (PQstatus(pc) != CONNECTION_OK) {
        const char *msg = PQerrorMessage(pc);
        iof_err err =
            iof_fail(d, IOF_EIO, "postgres: cannot connect: %.*s", (int)strcspn(msg, "\n"), msg);
        PQfinish(pc);
        return err;
    }
    PQsetNoticeProcessor(pc, quiet_notices, NULL);
    PGresult *res = PQexec(pc, "SET client_min_messages = warning; SET TIME ZONE 'UTC'");
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    if (!ok) {
        PQfinish(pc);
        return iof_fail(d, IOF_EIO, "postgres: cannot set up the session");
    }
    *out = pc;
    return IOF_OK;
}

static iof_err pg_open(const char *target, void **conn, struct iof_diag *d) {
    struct pg_conn *c = calloc(1, sizeof *c);
    if (c == NULL || (c->conninfo = strdup(target)) == NULL) {
        free(c);
        return iof_fail(d, IOF_ENOMEM, "postgres: out of memory");
    }
    iof_err err = connect_to(target, &c->pc, d);
    if (err != IOF_OK) {
        free(c->conninfo);
        free(c);
        return err;
    }
    atomic_store(&c->pid, PQbackendPID(c->pc));
    *conn = c;
    return IOF_OK;
}

/* ---- extras: migrations lock, notifications, leadership ---- */

#define MIGRATION_LOCK_KEY 0x696f666f67303032LL /* "iofog002" */

static iof_err pg_migrate_lock(void *conn, bool lock, struct iof_diag *d) {
    char sql[80];
    (void)snprintf(sql,
                   sizeof sql,
                   "SELECT pg_advisory_%s(%lld)",
                   lock ? "lock" : "unlock",
                   (long long)MIGRATION_LOCK_KEY);
    return pg_exec_script(conn, sql, d);
}

static iof_err pg_notify(void *conn, const char *channel, const char *payload, struct iof_diag *d) {
    const struct ctl_db_value p[] = {CTL_DB_TEXT(channel), CTL_DB_TEXT(payload)};
    return pg_exec(
        conn, "SELECT pg_notify(CAST(? AS TEXT), CAST(? AS TEXT))", p, 2, NULL, NULL, NULL, d);
}

static iof_err read_lock(void *ctx, const struct ctl_db_row *row) {
    *(bool *)ctx = ctl_db_row_bool(row, 0);
    return IOF_OK;
}

static iof_err pg_try_lead(void *conn, int64_t key, bool *leader, struct iof_diag *d) {
    struct pg_conn *c = conn;
    iof_err err = ensure_connected(c, d); /* a lost session lost its lock */
    if (err != IOF_OK) {
        return err;
    }
    if (!c->leader) {
        /* Session-level: held until the session ends, so a replica that dies hands the job on.
         * Taken once (a session lock counts re-acquisitions). */
        bool got = false;
        const struct ctl_db_value p[] = {CTL_DB_INT(key)};
        err = pg_exec(conn, "SELECT pg_try_advisory_lock(?)", p, 1, read_lock, &got, NULL, d);
        if (err != IOF_OK) {
            return err;
        }
        c->leader = got;
    }
    *leader = c->leader;
    return IOF_OK;
}

static int pg_session_id(void *conn) {
    struct pg_conn *c = conn;
    return atomic_load(&c->pid);
}

/* The listener: its own session, LISTENing on one channel, on its own thread. */
struct pg_listener {
    char *conninfo;
    char *channel;
    void (*cb)(void *ctx, const char *payload, int sender);
    void *ctx;
    int stop_fd; /* eventfd: written to stop the thread */
    pthread_t thread;
};

static iof_err listen_connect(struct pg_listener *l, PGconn **out, struct iof_diag *d) {
    PGconn *pc = NULL;
    iof_err err = connect_to(l->conninfo, &pc, d);
    if (err != IOF_OK) {
        return err;
    }
    char *ident = PQescapeIdentifier(pc, l->channel, strlen(l->channel));
    char sql[256];
    int n = ident != NULL ? snprintf(sql, sizeof sql, "LISTEN %s", ident) : -1;
    PQfreemem(ident);
    PGresult *res = n > 0 && (size_t)n < sizeof sql ? PQexec(pc, sql) : NULL;
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    if (!ok) {
        PQfinish(pc);
        return iof_fail(d, IOF_EIO, "postgres: LISTEN %s failed", l->channel);
    }
    *out = pc;
    return IOF_OK;
}

/* Waits up to ms for the stop signal; true when stopping. */
static bool stop_wait(struct pg_listener *l, int ms) {
    struct pollfd p = {.fd = l->stop_fd, .events = POLLIN};
    return poll(&p, 1, ms) > 0;
}

static void *listen_run(void *arg) {
    struct pg_listener *l = arg;
    PGconn *pc = NULL;
    int backoff_ms = 100;
    for (;;) {
        if (pc == NULL) {
            struct iof_diag d = {{0}};
            if (listen_connect(l, &pc, &d) != IOF_OK) {
                IOF_WARN("store", "listen_connect_failed error=\"%s\"", d.msg);
                if (stop_wait(l, backoff_ms)) {
                    break;
                }
                backoff_ms = backoff_ms < 5000 ? backoff_ms * 2 : 5000;
                continue;
            }
            backoff_ms = 100;
            l->cb(l->ctx, NULL, 0); /* notifications may have been missed meanwhile */
        }
        struct pollfd p[2] = {{.fd = PQsocket(pc), .events = POLLIN},
                              {.fd = l->stop_fd, .events = POLLIN}};
        int rc = poll(p, 2, 1000);
        if (rc < 0 && errno != EINTR) {
            break;
        }
        if (p[1].revents != 0) {
            break;
        }
        if (rc > 0 && PQconsumeInput(pc) == 0) {
            IOF_WARN("store", "listen_connection_lost");
            PQfinish(pc);
            pc = NULL;
            continue;
        }
        PGnotify *n;
        while ((n = PQnotifies(pc)) != NULL) {
            l->cb(l->ctx, n->extra, n->be_pid);
            PQfreemem(n);
        }
    }
    PQfinish(pc);
    return NULL;
}

static iof_err pg_listen(const char *target,
                         const char *channel,
                         void (*cb)(void *ctx, const char *payload, int sender),
                         void *ctx,
                         void **out,
                         struct iof_diag *d) {
    struct pg_listener *l = calloc(1, sizeof *l);
    if (l == NULL) {
        return iof_fail(d, IOF_ENOMEM, "postgres: out of memory");
    }
    l->cb = cb;
    l->ctx = ctx;
    l->stop_fd = eventfd(0, EFD_CLOEXEC);
    l->conninfo = strdup(target);
    l->channel = strdup(channel);
    if (l->stop_fd < 0 || l->conninfo == NULL || l->channel == NULL) {
        if (l->stop_fd >= 0) {
            close(l->stop_fd);
        }
        free(l->conninfo);
        free(l->channel);
        free(l);
        return iof_fail(d, IOF_ENOMEM, "postgres: cannot set up the listener");
    }
    /* Connect once here so a wrong URL fails at start, not later on the thread. */
    PGconn *probe = NULL;
    iof_err err = listen_connect(l, &probe, d);
    PQfinish(probe);
    if (err == IOF_OK && pthread_create(&l->thread, NULL, listen_run, l) != 0) {
        err = iof_fail(d, IOF_ENOMEM, "postgres: cannot start the listener thread");
    }
    if (err != IOF_OK) {
        close(l->stop_fd);
        free(l->conninfo);
        free(l->channel);
        free(l);
        return err;
    }
    *out = l;
    return IOF_OK;
}

static void pg_unlisten(void *listener) {
    struct pg_listener *l = listener;
    uint64_t one = 1;
    (void)!write(l->stop_fd, &one, sizeof one);
    (void)pthread_join(l->thread, NULL);
    close(l->stop_fd);
    free(l->conninfo);
    free(l->channel);
    free(l);
}

const struct ctl_db_backend ctl_db_backend_postgres = {
    .name = "postgres",
    .migrations = ctl_sql_postgres,
    .migration_count = &ctl_sql_postgres_count,
    .open = pg_open,
    .close = pg_close,
    .exec = pg_exec,
    .exec_script = pg_exec_script,
    .table_exists = pg_table_exists,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .migrate_lock = pg_migrate_lock,
    .notify = pg_notify,
    .try_lead = pg_try_lead,
    .session_id = pg_session_id,
    .listen = pg_listen,
    .unlisten = pg_unlisten,
};
