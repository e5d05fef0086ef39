/* Test helper: the database a test runs on. SQLite by default; with IOFOG_TEST_DB=postgres every
 * test database is a fresh database in one throw-away PostgreSQL cluster per test process, so the
 * same test binary checks both back ends (CTest registers the PostgreSQL runs as <test>_pg).
 * Header-only; tests only.
 *
 * The cluster: initdb into a private directory below /tmp (scripts/pgtest.sh), the postmaster
 * started as a child of the test process on a free 127.0.0.1 port (TCP only, trust auth, fsync
 * off), stopped (fast shutdown) and removed at exit. As root, PostgreSQL runs as the unprivileged
 * user "nobody" (IOFOG_PG_USER), see the script. The server gets SIGQUIT when the test process
 * dies, so a crashed test leaves no server behind (only its directory under /tmp). */
#ifndef CTL_STORE_TEST_DB_H
#define CTL_STORE_TEST_DB_H

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

#define TEST_PG_SCRIPT IOFOG_SOURCE_DIR "/scripts/pgtest.sh"

/* True when this test process runs on PostgreSQL. */
static inline bool test_db_is_pg(void) {
    const char *v = getenv("IOFOG_TEST_DB");
    return v != NULL && strcmp(v, "postgres") == 0;
}

static struct {
    pid_t owner;  /* the process that started the cluster (forked children never stop it) */
    pid_t server; /* the postmaster */
    char dir[64];
    uint16_t port;
    PGconn *admin; /* to the "postgres" database, for CREATE/DROP DATABASE */
    unsigned next;
} test_pg;

static inline int test_pg_run(char *const argv[]) {
    pid_t pid = fork();
    if (pid == 0) {
        execv(argv[0], argv);
        _exit(127);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid) {
        return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static inline void test_pg_stop(void) {
    if (test_pg.owner != getpid()) {
        return;
    }
    test_pg.owner = 0;
    PQfinish(test_pg.admin);
    test_pg.admin = NULL;
    if (test_pg.server > 0) {
        kill(test_pg.server, SIGINT); /* fast shutdown */
        int i = 0;
        while (waitpid(test_pg.server, NULL, WNOHANG) == 0 && i++ < 300) {
            nanosleep(&(struct timespec){.tv_nsec = 20 * 1000 * 1000}, NULL);
        }
        if (i > 300) {
            kill(test_pg.server, SIGKILL);
            (void)waitpid(test_pg.server, NULL, 0);
        }
        test_pg.server = 0;
    }
    char a0[] = "/bin/rm", a1[] = "-rf";
    char *const rm[] = {a0, a1, test_pg.dir, NULL};
    (void)test_pg_run(rm);
}

static inline uint16_t test_pg_free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    uint16_t port = 0;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0) {
        port = ntohs(a.sin_port);
    }
    if (fd >= 0) {
        close(fd);
    }
    return port;
}

/* Starts the postmaster on a free port and waits (at most 15 s) until it takes connections. */
static inline int test_pg_launch(void) {
    test_pg.port = test_pg_free_port();
    char port[8];
    (void)snprintf(port, sizeof port, "%u", (unsigned)test_pg.port);
    char log[96];
    (void)snprintf(log, sizeof log, "%s/server.log", test_pg.dir);
    pid_t pid = fork();
    if (pid == 0) {
        (void)prctl(PR_SET_PDEATHSIG, SIGQUIT); /* kept when not root; else set by the script */
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd >= 0) {
            (void)dup2(fd, 1);
            (void)dup2(fd, 2);
        }
        execl("/bin/bash", "bash", TEST_PG_SCRIPT, "run", test_pg.dir, port, (char *)NULL);
        _exit(127);
    }
    if (pid < 0) {
        return -1;
    }
    test_pg.server = pid;
    char conninfo[128];
    (void)snprintf(conninfo,
                   sizeof conninfo,
                   "host=127.0.0.1 port=%u user=postgres dbname=postgres connect_timeout=2",
                   (unsigned)test_pg.port);
    for (int i = 0; i < 300; i++) {
        if (PQping(conninfo) == PQPING_OK) {
            test_pg.admin = PQconnectdb(conninfo);
            return PQstatus(test_pg.admin) == CONNECTION_OK ? 0 : -1;
        }
        if (waitpid(pid, NULL, WNOHANG) == pid) { /* exited: port taken meanwhile? */
            test_pg.server = 0;
            return -1;
        }
        nanosleep(&(struct timespec){.tv_nsec = 50 * 1000 * 1000}, NULL);
    }
    return -1;
}

/* The cluster of this process, started at the first call. 0 on success. */
static inline int test_pg_cluster(void) {
    if (test_pg.owner == getpid()) {
        return 0;
    }
    memset(&test_pg, 0, sizeof test_pg);
    /* Below /tmp whatever TMPDIR says: the unprivileged server user must reach it. */
    (void)snprintf(test_pg.dir, sizeof test_pg.dir, "/tmp/iofog-pg.XXXXXX");
    if (mkdtemp(test_pg.dir) == NULL) {
        return -1;
    }
    test_pg.owner = getpid();
    atexit(test_pg_stop);
    char a0[] = "/bin/bash", a1[] = TEST_PG_SCRIPT, a2[] = "initdb";
    char *const init[] = {a0, a1, a2, test_pg.dir, NULL};
    if (test_pg_run(init) != 0) {
        fprintf(stderr, "test_db: initdb failed\n");
        return -1;
    }
    for (int attempt = 0; attempt < 3; attempt++) {
        if (test_pg_launch() == 0) {
            return 0;
        }
        PQfinish(test_pg.admin);
        test_pg.admin = NULL;
    }
    fprintf(
        stderr, "test_db: the PostgreSQL server did not start (see %s/server.log)\n", test_pg.dir);
    return -1;
}

/* A fresh, empty database for one test: on SQLite the file <dir>/<name> (dir is the test's
 * private directory), on PostgreSQL a new database of the cluster. Its path or URL goes into
 * out[size]. 0 on success. */
static inline int test_db_make(const char *dir, const char *name, char *out, size_t size) {
    if (!test_db_is_pg()) {
        return (size_t)snprintf(out, size, "%s/%s", dir, name) < size ? 0 : -1;
    }
    if (test_pg_cluster() != 0) {
        return -1;
    }
    char db[48], sql[96];
    (void)snprintf(db, sizeof db, "t%d_%u", (int)getpid(), test_pg.next++);
    (void)snprintf(sql, sizeof sql, "CREATE DATABASE %s", db);
    PGresult *res = PQexec(test_pg.admin, sql);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok) {
        fprintf(stderr, "test_db: %s: %s", sql, PQerrorMessage(test_pg.admin));
    }
    PQclear(res);
    return ok && (size_t)snprintf(
                     out, size, "postgres://postgres@127.0.0.1:%u/%s", (unsigned)test_pg.port, db) <
                       size
               ? 0
               : -1;
}

/* Drops a database made by test_db_make (nothing to do on SQLite: the directory goes). */
static inline void test_db_drop(const char *url) {
    if (!test_db_is_pg() || test_pg.admin == NULL || strncmp(url, "postgres://", 11) != 0) {
        return;
    }
    const char *name = strrchr(url, '/');
    char sql[96];
    (void)snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", name + 1);
    PQclear(PQexec(test_pg.admin, sql));
}

#endif
