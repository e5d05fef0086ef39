/* Unit tests of the SQL layer (db.h) on SQLite: opening and URLs, connection settings, values and
 * rows, error mapping, transactions, the statement cache and use from several threads. */
#include "controller/store/db.h"

#include "controller/store/test_tmpdir.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

struct fixture {
    char dir[512];
    char path[600];
};

static int setup(void **state) {
    struct fixture *f = calloc(1, sizeof *f);
    if (f == NULL || test_tmpdir_make(f->dir, sizeof f->dir) != 0) {
        free(f);
        return -1;
    }
    test_tmpdir_path(f->path, sizeof f->path, f->dir, "test.db");
    *state = f;
    return 0;
}

static int teardown(void **state) {
    struct fixture *f = *state;
    int rc = test_tmpdir_remove(f->dir);
    free(f);
    return rc;
}

static struct ctl_db *open_ok(const char *path) {
    struct ctl_db *db = NULL;
    struct iof_diag d;
    iof_diag_clear(&d);
    iof_err err = ctl_db_open(path, &db, &d);
    if (err != IOF_OK) {
        fail_msg("open %s: %s", path, iof_diag_text(&d, err));
    }
    return db;
}

static void exec_ok(struct ctl_db *db, const char *sql) {
    struct iof_diag d;
    iof_diag_clear(&d);
    iof_err err = ctl_db_exec(db, sql, NULL, 0, NULL, NULL, NULL, &d);
    if (err != IOF_OK) {
        fail_msg("%s: %s", sql, iof_diag_text(&d, err));
    }
}

static iof_err read_int(void *ctx, const struct ctl_db_row *row) {
    *(int64_t *)ctx = ctl_db_row_int(row, 0);
    return IOF_OK;
}

static int64_t query_int(struct ctl_db *db, const char *sql) {
    int64_t v = -1;
    struct iof_diag d;
    iof_diag_clear(&d);
    iof_err err = ctl_db_exec(db, sql, NULL, 0, read_int, &v, NULL, &d);
    if (err != IOF_OK) {
        fail_msg("%s: %s", sql, iof_diag_text(&d, err));
    }
    return v;
}

static iof_err read_text(void *ctx, const struct ctl_db_row *row) {
    const char *t = ctl_db_row_text(row, 0);
    (void)snprintf(ctx, 64, "%s", t != NULL ? t : "(null)");
    return IOF_OK;
}

static void test_open_urls(void **state) {
    struct fixture *f = *state;
    struct ctl_db *db = NULL;
    struct iof_diag d;
    iof_diag_clear(&d);

    assert_int_equal(ctl_db_open(NULL, &db, &d), IOF_EINVAL);
    assert_int_equal(ctl_db_open("", &db, &d), IOF_EINVAL);
    assert_int_equal(ctl_db_open("sqlite://", &db, &d), IOF_EINVAL);
    /* PostgreSQL URLs go to libpq: a server that is not there is an I/O error with its reason
     * (port 1 on loopback refuses at once). */
    assert_int_equal(ctl_db_open("postgres://u:p@127.0.0.1:1/db", &db, &d), IOF_EIO);
    assert_non_null(strstr(d.msg, "postgres: cannot connect"));
    assert_int_equal(ctl_db_open("postgresql://127.0.0.1:1/db?connect_timeout=2", &db, &d),
                     IOF_EIO);
    assert_int_equal(ctl_db_open("mysql://host/db", &db, &d), IOF_EUNSUPPORTED);
    assert_null(db); /* untouched on failure */

    /* A directory and a file that is not a database are refused with the reason. */
    assert_int_equal(ctl_db_open(f->dir, &db, &d), IOF_EIO);
    char junk[700];
    test_tmpdir_path(junk, sizeof junk, f->dir, "junk.db");
    FILE *fp = fopen(junk, "w");
    assert_non_null(fp);
    fputs("this is not a database, just some text long enough to look like a header....", fp);
    fclose(fp);
    assert_int_equal(ctl_db_open(junk, &db, &d), IOF_EIO);
    assert_non_null(strstr(d.msg, "junk.db"));
    assert_null(db);

    db = open_ok(":memory:");
    assert_string_equal(ctl_db_backend_name(db), "sqlite");
    assert_int_equal(query_int(db, "SELECT 40 + 2"), 42);
    ctl_db_close(db);

    char url[700];
    (void)snprintf(url, sizeof url, "sqlite://%s", f->path); /* f->path is absolute: sqlite:/// */
    assert_int_equal(strncmp(url, "sqlite:///", 10), 0);
    db = open_ok(url);
    exec_ok(db, "CREATE TABLE t (x INTEGER)");
    ctl_db_close(db);
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);

    db = open_ok(f->path); /* the same file by plain path */
    assert_int_equal(query_int(db, "SELECT COUNT(*) FROM sqlite_schema WHERE name = 't'"), 1);
    ctl_db_close(db);
    ctl_db_close(NULL);
}

static void test_connection_settings(void **state) {
    struct fixture *f = *state;
    struct ctl_db *db = open_ok(f->path);
    char mode[64];
    assert_int_equal(ctl_db_exec(db, "PRAGMA journal_mode", NULL, 0, read_text, mode, NULL, NULL),
                     IOF_OK);
    assert_string_equal(mode, "wal");
    assert_int_equal(query_int(db, "PRAGMA foreign_keys"), 1);
    assert_int_equal(query_int(db, "PRAGMA synchronous"), 1); /* NORMAL */
    assert_int_equal(query_int(db, "PRAGMA busy_timeout"), 5000);
    ctl_db_close(db);
}

/* The database and its -wal and -shm are private (0600) whatever the umask and the directory's
 * mode: a new file, and one left world-readable by an older version. */
static void test_files_private(void **state) {
    struct fixture *f = *state;
    assert_int_equal(chmod(f->dir, 0755), 0);
    mode_t old = umask(022);
    struct ctl_db *db = open_ok(f->path);
    exec_ok(db, "CREATE TABLE secrets (x TEXT)");
    exec_ok(db, "INSERT INTO secrets VALUES ('registry password')");
    const char *suffix[] = {"", "-wal", "-shm"};
    char path[700];
    struct stat st;
    for (size_t i = 0; i < 3; i++) {
        (void)snprintf(path, sizeof path, "%s%s", f->path, suffix[i]);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
    }
    ctl_db_close(db);

    /* An existing world-readable database is narrowed when opened. */
    assert_int_equal(chmod(f->path, 0644), 0);
    db = open_ok(f->path);
    exec_ok(db, "INSERT INTO secrets VALUES ('again')");
    for (size_t i = 0; i < 3; i++) {
        (void)snprintf(path, sizeof path, "%s%s", f->path, suffix[i]);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
    }
    ctl_db_close(db);
    (void)umask(old);
}

struct row_seen {
    int rows;
    int64_t i;
    double r;
    char s[64];
    char name0[16];
    char name2[16];
    unsigned char blob[8];
    size_t blob_len;
    bool s_null;
    enum ctl_db_type types[6];
    size_t columns;
    bool out_of_range_null;
};

static iof_err read_row(void *ctx, const struct ctl_db_row *row) {
    struct row_seen *rs = ctx;
    rs->rows++;
    rs->columns = ctl_db_row_columns(row);
    for (size_t c = 0; c < 6; c++) {
        rs->types[c] = ctl_db_row_type(row, c);
    }
    rs->i = ctl_db_row_int(row, 0);
    rs->r = ctl_db_row_real(row, 1);
    const char *s = ctl_db_row_text(row, 2);
    (void)snprintf(rs->s, sizeof rs->s, "%s", s != NULL ? s : "");
    size_t len = 0;
    const void *b = ctl_db_row_blob(row, 3, &len);
    rs->blob_len = len;
    if (b != NULL && len <= sizeof rs->blob) {
        memcpy(rs->blob, b, len);
    }
    rs->s_null = ctl_db_row_text(row, 4) == NULL && ctl_db_row_is_null(row, 4);
    (void)snprintf(rs->name0, sizeof rs->name0, "%s", ctl_db_row_name(row, 0));
    (void)snprintf(rs->name2, sizeof rs->name2, "%s", ctl_db_row_name(row, 2));
    rs->out_of_range_null = ctl_db_row_is_null(row, 99) && ctl_db_row_text(row, 99) == NULL &&
                            ctl_db_row_int(row, 99) == 0 && ctl_db_row_name(row, 99) == NULL;
    return IOF_OK;
}

static iof_err stop_after_first(void *ctx, const struct ctl_db_row *row) {
    (void)row;
    (*(int *)ctx)++;
    return IOF_ECONFLICT;
}

static void test_values_and_rows(void **state) {
    (void)state;
    struct ctl_db *db = open_ok(":memory:");
    exec_ok(db,
            "CREATE TABLE v (id INTEGER PRIMARY KEY, i INTEGER, r REAL, s TEXT, b BLOB, n TEXT,"
            " flag INTEGER)");
    struct iof_diag d;
    iof_diag_clear(&d);

    /* RETURNING hands the generated id back as a row; changes counts the insert. */
    const unsigned char bytes[] = {0x00, 0xff, 0x10};
    const char *null_text = NULL;
    const struct ctl_db_value p[] = {
        CTL_DB_INT(INT64_C(-9007199254740993)),
        CTL_DB_REAL(2.5),
        CTL_DB_TEXTN("hello, world", 5),
        CTL_DB_BLOB(bytes, sizeof bytes),
        CTL_DB_TEXT(null_text),
        CTL_DB_BOOL(7),
    };
    int64_t id = 0;
    int64_t changes = -1;
    assert_int_equal(ctl_db_exec(db,
                                 "INSERT INTO v (i, r, s, b, n, flag) VALUES (?, ?, ?, ?, ?, ?)"
                                 " RETURNING id",
                                 p,
                                 6,
                                 read_int,
                                 &id,
                                 &changes,
                                 &d),
                     IOF_OK);
    assert_int_equal(id, 1);
    assert_int_equal(changes, 1);

    struct row_seen rs = {0};
    const struct ctl_db_value key[] = {CTL_DB_INT(id)};
    changes = -1;
    assert_int_equal(ctl_db_exec(db,
                                 "SELECT i AS the_int, r, s, b, n, flag FROM v WHERE id = ?",
                                 key,
                                 1,
                                 read_row,
                                 &rs,
                                 &changes,
                                 &d),
                     IOF_OK);
    assert_int_equal(rs.rows, 1);
    assert_int_equal(changes, 0); /* a query changes nothing */
    assert_int_equal(rs.columns, 6);
    assert_int_equal(rs.types[0], CTL_DB_INT);
    assert_int_equal(rs.types[1], CTL_DB_REAL);
    assert_int_equal(rs.types[2], CTL_DB_TEXT);
    assert_int_equal(rs.types[3], CTL_DB_BLOB);
    assert_int_equal(rs.types[4], CTL_DB_NULL);
    assert_int_equal(rs.types[5], CTL_DB_INT);
    assert_int_equal(rs.i, INT64_C(-9007199254740993));
    assert_true(rs.r == 2.5);
    assert_string_equal(rs.s, "hello");
    assert_int_equal(rs.blob_len, 3);
    assert_memory_equal(rs.blob, bytes, 3);
    assert_true(rs.s_null);
    assert_string_equal(rs.name0, "the_int");
    assert_string_equal(rs.name2, "s");
    assert_true(rs.out_of_range_null);
    assert_int_equal(query_int(db, "SELECT flag FROM v WHERE id = 1"), 1);

    /* A callback's error stops the statement and is returned as is. */
    exec_ok(db, "INSERT INTO v (i) VALUES (2), (3), (4)");
    int seen = 0;
    assert_int_equal(ctl_db_exec(db, "SELECT i FROM v", NULL, 0, stop_after_first, &seen, NULL, &d),
                     IOF_ECONFLICT);
    assert_int_equal(seen, 1);

    /* changes counts the rows an UPDATE or DELETE touched. */
    assert_int_equal(
        ctl_db_exec(db, "UPDATE v SET flag = 0 WHERE i >= 2", NULL, 0, NULL, NULL, &changes, &d),
        IOF_OK);
    assert_int_equal(changes, 3);
    ctl_db_close(db);
}

static void test_error_mapping(void **state) {
    (void)state;
    struct ctl_db *db = open_ok(":memory:");
    exec_ok(db, "CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE) STRICT");
    exec_ok(db,
            "CREATE TABLE child (id INTEGER PRIMARY KEY,"
            " parent_id INTEGER NOT NULL REFERENCES parent (id) ON DELETE CASCADE,"
            " mode TEXT NOT NULL CHECK (mode IN ('rw', 'ro')), n INTEGER) STRICT");
    exec_ok(db,
            "CREATE TABLE keeper (id INTEGER PRIMARY KEY,"
            " parent_id INTEGER REFERENCES parent (id) ON DELETE RESTRICT) STRICT");
    exec_ok(db, "INSERT INTO parent (id, name) VALUES (1, 'a'), (2, 'b')");
    struct iof_diag d;

    iof_diag_clear(&d);
    const struct ctl_db_value dup[] = {CTL_DB_TEXT("a")};
    assert_int_equal(
        ctl_db_exec(db, "INSERT INTO parent (name) VALUES (?)", dup, 1, NULL, NULL, NULL, &d),
        IOF_EEXIST);
    assert_non_null(strstr(d.msg, "UNIQUE constraint failed: parent.name"));
    assert_int_equal(
        ctl_db_exec(
            db, "INSERT INTO parent (id, name) VALUES (1, 'z')", NULL, 0, NULL, NULL, NULL, &d),
        IOF_EEXIST);

    iof_diag_clear(&d);
    assert_int_equal(ctl_db_exec(db,
                                 "INSERT INTO child (parent_id, mode) VALUES (99, 'rw')",
                                 NULL,
                                 0,
                                 NULL,
                                 NULL,
                                 NULL,
                                 &d),
                     IOF_ECONFLICT);
    assert_non_null(strstr(d.msg, "FOREIGN KEY"));
    assert_int_equal(ctl_db_exec(db,
                                 "INSERT INTO child (parent_id, mode) VALUES (1, 'rx')",
                                 NULL,
                                 0,
                                 NULL,
                                 NULL,
                                 NULL,
                                 &d),
                     IOF_EINVAL);
    assert_non_null(strstr(d.msg, "CHECK"));
    assert_int_equal(
        ctl_db_exec(db, "INSERT INTO child (parent_id) VALUES (1)", NULL, 0, NULL, NULL, NULL, &d),
        IOF_EINVAL);
    assert_non_null(strstr(d.msg, "NOT NULL"));
    assert_int_equal(ctl_db_exec(db,
                                 "INSERT INTO child (parent_id, mode, n) VALUES (1, 'rw', 'many')",
                                 NULL,
                                 0,
                                 NULL,
                                 NULL,
                                 NULL,
                                 &d),
                     IOF_EINVAL); /* STRICT table: wrong type */

    /* Cascade and restrict. */
    exec_ok(db, "INSERT INTO child (parent_id, mode) VALUES (1, 'rw'), (1, 'ro'), (2, 'ro')");
    exec_ok(db, "DELETE FROM parent WHERE id = 1");
    assert_int_equal(query_int(db, "SELECT COUNT(*) FROM child"), 1);
    exec_ok(db, "INSERT INTO keeper (parent_id) VALUES (2)");
    assert_int_equal(
        ctl_db_exec(db, "DELETE FROM parent WHERE id = 2", NULL, 0, NULL, NULL, NULL, &d),
        IOF_ECONFLICT);
    assert_int_equal(query_int(db, "SELECT COUNT(*) FROM child"), 1);

    /* Misuse and plain SQL errors. */
    assert_int_equal(ctl_db_exec(db, "SELEKT 1", NULL, 0, NULL, NULL, NULL, &d), IOF_EIO);
    assert_non_null(strstr(d.msg, "syntax error"));
    assert_int_equal(ctl_db_exec(db, "SELECT * FROM missing_table", NULL, 0, NULL, NULL, NULL, &d),
                     IOF_EIO);
    assert_int_equal(ctl_db_exec(db, "SELECT ?", NULL, 0, NULL, NULL, NULL, &d), IOF_EINTERNAL);
    const struct ctl_db_value two[] = {CTL_DB_INT(1), CTL_DB_INT(2)};
    assert_int_equal(ctl_db_exec(db, "SELECT ?", two, 2, NULL, NULL, NULL, &d), IOF_EINTERNAL);
    assert_int_equal(ctl_db_exec(db, "SELECT 1; SELECT 2", NULL, 0, NULL, NULL, NULL, &d),
                     IOF_EINTERNAL);
    assert_int_equal(ctl_db_exec(db, "  ", NULL, 0, NULL, NULL, NULL, &d), IOF_EINTERNAL);
    assert_int_equal(ctl_db_exec(db, "SELECT 1;  ", NULL, 0, NULL, NULL, NULL, &d), IOF_OK);
    ctl_db_close(db);
}

static void test_transactions(void **state) {
    struct fixture *f = *state;
    struct ctl_db *db = open_ok(f->path);
    exec_ok(db, "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)");
    struct iof_diag d;
    iof_diag_clear(&d);

    /* Rolled back: nothing stays. */
    assert_int_equal(ctl_db_begin(db, &d), IOF_OK);
    exec_ok(db, "INSERT INTO t (name) VALUES ('a')");
    exec_ok(db, "INSERT INTO t (name) VALUES ('b')");
    assert_int_equal(query_int(db, "SELECT COUNT(*) FROM t"), 2); /* visible inside */
    assert_int_equal(ctl_db_rollback(db, &d), IOF_OK);
    assert_int_equal(query_int(db, "SELECT COUNT(*) FROM t"), 0);

    /* Committed: everything stays. */
    assert_int_equal(ctl_db_begin(db, &d), IOF_OK);
    exec_ok(db, "INSERT INTO t (name) VALUES ('a')");
    exec_ok(db, "INSERT INTO t (name) VALUES ('b')");
    assert_int_equal(ctl_db_commit(db, &d), IOF_OK);
    assert_int_equal(query_int(db, "SELECT COUNT(*) FROM t"), 2);

    /* A multi-statement change that fails half-way is rolled back completely. */
    assert_int_equal(ctl_db_begin(db, &d), IOF_OK);
    exec_ok(db, "INSERT INTO t (name) VALUES ('c')");
    exec_ok(db, "UPDATE t SET name = 'a2' WHERE name = 'a'");
    assert_int_equal(
        ctl_db_exec(db, "INSERT INTO t (name) VALUES ('b')", NULL, 0, NULL, NULL, NULL, &d),
        IOF_EEXIST);
    assert_int_equal(ctl_db_rollback(db, &d), IOF_OK);
    assert_int_equal(query_int(db, "SELECT COUNT(*) FROM t"), 2);
    assert_int_equal(query_int(db, "SELECT COUNT(*) FROM t WHERE name = 'a'"), 1);
    assert_int_equal(query_int(db, "SELECT COUNT(*) FROM t WHERE name = 'c'"), 0);

    /* Nesting and unmatched ends are programming errors; the open transaction survives. */
    assert_int_equal(ctl_db_commit(db, &d), IOF_EINTERNAL);
    assert_int_equal(ctl_db_rollback(db, &d), IOF_EINTERNAL);
    assert_int_equal(ctl_db_begin(db, &d), IOF_OK);
    assert_int_equal(ctl_db_begin(db, &d), IOF_EINTERNAL);
    assert_non_null(strstr(d.msg, "nesting"));
    assert_int_equal(ctl_db_migrate(db, &d), IOF_EINTERNAL);
    exec_ok(db, "INSERT INTO t (name) VALUES ('d')");
    assert_int_equal(ctl_db_commit(db, &d), IOF_OK);
    assert_int_equal(query_int(db, "SELECT COUNT(*) FROM t"), 3);

    /* Closing with a transaction open rolls it back. */
    assert_int_equal(ctl_db_begin(db, &d), IOF_OK);
    exec_ok(db, "INSERT INTO t (name) VALUES ('lost')");
    ctl_db_close(db);
    db = open_ok(f->path);
    assert_int_equal(query_int(db, "SELECT COUNT(*) FROM t"), 3);
    ctl_db_close(db);
}

/* Each row runs another statement through the same handle; the second one has the same text as
 * the outer statement, so the cache must hand out a second statement for it. */
struct nested {
    struct ctl_db *db;
    int64_t sum;
    iof_err inner;
};

static iof_err nested_row(void *ctx, const struct ctl_db_row *row) {
    struct nested *n = ctx;
    int64_t v = 0;
    const struct ctl_db_value p[] = {CTL_DB_INT(ctl_db_row_int(row, 0))};
    n->inner =
        ctl_db_exec(n->db, "SELECT x FROM t WHERE x >= ? LIMIT 1", p, 1, read_int, &v, NULL, NULL);
    n->sum += v;
    return n->inner;
}

static void test_statement_cache(void **state) {
    (void)state;
    struct ctl_db *db = open_ok(":memory:");
    exec_ok(db, "CREATE TABLE t (x INTEGER)");
    exec_ok(db, "INSERT INTO t (x) VALUES (1), (2), (3)");
    /* More distinct statements than the cache holds, twice over: evictions stay correct. */
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 80; i++) {
            char sql[64];
            (void)snprintf(sql, sizeof sql, "SELECT %d + COUNT(*) FROM t", i);
            assert_int_equal(query_int(db, sql), i + 3);
        }
    }
    struct nested n = {.db = db};
    const struct ctl_db_value p[] = {CTL_DB_INT(0)};
    assert_int_equal(
        ctl_db_exec(db, "SELECT x FROM t WHERE x >= ? LIMIT 1", p, 1, nested_row, &n, NULL, NULL),
        IOF_OK);
    assert_int_equal(n.inner, IOF_OK);
    assert_int_equal(n.sum, 1);
    /* A table dropped and recreated with other columns: cached statements are re-prepared. */
    assert_int_equal(query_int(db, "SELECT COUNT(*) FROM t"), 3);
    exec_ok(db, "DROP TABLE t");
    exec_ok(db, "CREATE TABLE t (y TEXT, x INTEGER)");
    assert_int_equal(query_int(db, "SELECT COUNT(*) FROM t"), 0);
    ctl_db_close(db);
}

/* ---- threads ---- */

#define THREAD_ROUNDS 150

struct writer {
    struct ctl_db *db;
    int id;
    int done;
    iof_err err;
    char msg[256];
};

static void *writer_main(void *arg) {
    struct writer *w = arg;
    for (int i = 0; i < THREAD_ROUNDS; i++) {
        struct iof_diag d;
        iof_diag_clear(&d);
        iof_err err = ctl_db_begin(w->db, &d);
        int64_t n = -1;
        if (err == IOF_OK) {
            err = ctl_db_exec(
                w->db, "SELECT n FROM counter WHERE id = 1", NULL, 0, read_int, &n, NULL, &d);
        }
        if (err == IOF_OK) {
            const struct ctl_db_value p[] = {CTL_DB_INT(n + 1)};
            err = ctl_db_exec(
                w->db, "UPDATE counter SET n = ? WHERE id = 1", p, 1, NULL, NULL, NULL, &d);
        }
        if (err == IOF_OK) {
            /* seq is UNIQUE: a lost update would make two transactions insert the same value. */
            const struct ctl_db_value p[] = {CTL_DB_INT(w->id), CTL_DB_INT(n + 1)};
            err = ctl_db_exec(w->db,
                              "INSERT INTO journal (writer, seq) VALUES (?, ?)",
                              p,
                              2,
                              NULL,
                              NULL,
                              NULL,
                              &d);
        }
        if (err == IOF_OK) {
            err = ctl_db_commit(w->db, &d);
        } else {
            iof_err rb = ctl_db_rollback(w->db, NULL);
            (void)rb;
        }
        if (err != IOF_OK) {
            w->err = err;
            (void)snprintf(w->msg, sizeof w->msg, "%s", iof_diag_text(&d, err));
            return NULL;
        }
        w->done++;
    }
    return NULL;
}

static void *reader_main(void *arg) {
    struct writer *w = arg;
    for (int i = 0; i < THREAD_ROUNDS; i++) {
        int64_t n = -1;
        iof_err err =
            ctl_db_exec(w->db, "SELECT COUNT(*) FROM journal", NULL, 0, read_int, &n, NULL, NULL);
        if (err != IOF_OK || n < 0) {
            w->err = err != IOF_OK ? err : IOF_EINTERNAL;
            return NULL;
        }
        w->done++;
    }
    return NULL;
}

static void create_counter(struct ctl_db *db) {
    exec_ok(db, "CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)");
    exec_ok(db, "INSERT INTO counter (id, n) VALUES (1, 0)");
    exec_ok(db,
            "CREATE TABLE journal (id INTEGER PRIMARY KEY, writer INTEGER NOT NULL,"
            " seq INTEGER NOT NULL UNIQUE)");
}

static void test_threads_one_handle(void **state) {
    struct fixture *f = *state;
    struct ctl_db *db = open_ok(f->path);
    create_counter(db);
    struct writer w[3] = {{.db = db, .id = 1}, {.db = db, .id = 2}, {.db = db, .id = 3}};
    pthread_t t[3];
    alarm(60); /* a deadlock fails the test instead of hanging it */
    assert_int_equal(pthread_create(&t[0], NULL, writer_main, &w[0]), 0);
    assert_int_equal(pthread_create(&t[1], NULL, writer_main, &w[1]), 0);
    assert_int_equal(pthread_create(&t[2], NULL, reader_main, &w[2]), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
    }
    alarm(0);
    for (int i = 0; i < 3; i++) {
        if (w[i].err != IOF_OK) {
            fail_msg("thread %d: %s", i, w[i].msg);
        }
        assert_int_equal(w[i].done, THREAD_ROUNDS);
    }
    assert_int_equal(query_int(db, "SELECT n FROM counter"), 2 * THREAD_ROUNDS);
    assert_int_equal(query_int(db, "SELECT COUNT(*) FROM journal"), 2 * THREAD_ROUNDS);
    assert_int_equal(query_int(db, "SELECT COUNT(*) FROM journal WHERE writer = 1"), THREAD_ROUNDS);
    assert_int_equal(query_int(db, "SELECT MAX(seq) FROM journal"), 2 * THREAD_ROUNDS);
    char ok[64];
    assert_int_equal(ctl_db_exec(db, "PRAGMA integrity_check", NULL, 0, read_text, ok, NULL, NULL),
                     IOF_OK);
    assert_string_equal(ok, "ok");
    ctl_db_close(db);
}

/* Two handles on one file are two connections: SQLite serialises their writers. */
static void test_threads_two_handles(void **state) {
    struct fixture *f = *state;
    struct ctl_db *db1 = open_ok(f->path);
    create_counter(db1);
    struct ctl_db *db2 = open_ok(f->path);
    struct writer w[2] = {{.db = db1, .id = 1}, {.db = db2, .id = 2}};
    pthread_t t[2];
    alarm(60);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_create(&t[i], NULL, writer_main, &w[i]), 0);
    }
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
    }
    alarm(0);
    for (int i = 0; i < 2; i++) {
        if (w[i].err != IOF_OK) {
            fail_msg("thread %d: %s", i, w[i].msg);
        }
    }
    assert_int_equal(query_int(db2, "SELECT n FROM counter"), 2 * THREAD_ROUNDS);
    assert_int_equal(query_int(db1, "SELECT COUNT(*) FROM journal"), 2 * THREAD_ROUNDS);
    ctl_db_close(db1);
    ctl_db_close(db2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_urls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_settings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_files_private, setup, teardown),
        cmocka_unit_test_setup_teardown(test_values_and_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_mapping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transactions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_statement_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads_one_handle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads_two_handles, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
