/* Black-box test harness for the REST API (tests only, header-only): runs the real
 * iofog-controller binary (or, for tests of internals, the server in-process) on 127.0.0.1 with a
 * free port and a private data directory, sends it requests with the project's HTTP client, and
 * opens the same database for checks (f->store). The database is SQLite in the data directory, or
 * with IOFOG_TEST_DB=postgres a fresh PostgreSQL database (controller/store/test_db.h) handed to
 * the Controller with --db. One fixture per test; everything is removed in
 * teardown, and a server that does not exit cleanly fails the run. */
#ifndef CTL_API_TESTUTIL_H
#define CTL_API_TESTUTIL_H

#include "common/clock.h"
#include "controller/server/auth.h"
#include "controller/server/server.h"
#include "controller/store/db_json.h"
#include "controller/store/test_db.h"
#include "controller/store/test_tmpdir.h"
#include "http/client.h"

#include <jansson.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct api_fixture {
    char dir[256];
    char db[512];            /* the database's path or URL (--db) */
    bool db_borrowed;        /* db belongs to another fixture (replicas): not dropped here */
    struct ctl_server *srv;  /* api_start_inproc only */
    pid_t pid;               /* api_start only: the iofog-controller process */
    struct ctl_store *store; /* the server's database, opened by the test for checks */
    struct iof_http_client *http;
    uint16_t port;
    char admin[CTL_USER_TOKEN_LEN + 1]; /* the admin credential */
};

#define API_BINARY IOFOG_BINARY_DIR "/controller/iofog-controller"

/* A loopback port that was free a moment ago. */
static inline uint16_t api_free_port(void) {
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

/* A fixture with a private data directory and a fresh database, or, when db is not NULL, that
 * database (another fixture's: a second Controller on the same PostgreSQL database). */
static inline struct api_fixture *api_fixture_new_on(const char *db) {
    struct api_fixture *f = calloc(1, sizeof *f);
    struct iof_http_client_opts opts = {.timeout_ms = 10000, .connect_timeout_ms = 2000};
    if (f == NULL || test_tmpdir_make(f->dir, sizeof f->dir) != 0) {
        free(f);
        return NULL;
    }
    if (db != NULL) {
        (void)snprintf(f->db, sizeof f->db, "%s", db);
        f->db_borrowed = true;
    }
    if ((db == NULL && test_db_make(f->dir, "controller.sqlite", f->db, sizeof f->db) != 0) ||
        iof_http_client_new(&opts, &f->http) != IOF_OK) {
        if (!f->db_borrowed) {
            test_db_drop(f->db);
        }
        (void)test_tmpdir_remove(f->dir);
        free(f);
        return NULL;
    }
    return f;
}

static inline struct api_fixture *api_fixture_new(void) {
    return api_fixture_new_on(NULL);
}

static inline void api_stop(struct api_fixture *f);

/* Starts the binary on f->dir, f->db and a free port and waits until it answers. 0 on success. */
static inline int api_spawn(struct api_fixture *f) {
    for (int attempt = 0; attempt < 3 && f->pid == 0; attempt++) {
        f->port = api_free_port();
        char port[16];
        (void)snprintf(port, sizeof port, "%u", (unsigned)f->port);
        pid_t pid = fork();
        if (pid == 0) {
            (void)prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a crashed test */
            execl(API_BINARY,
                  API_BINARY,
                  "start",
                  "--foreground",
                  "--bind",
                  "127.0.0.1",
                  "--port",
                  port,
                  "--data-dir",
                  f->dir,
                  "--db",
                  f->db,
                  "--log-level",
                  "warn",
                  (char *)NULL);
            _exit(127);
        }
        if (pid < 0) {
            break;
        }
        f->pid = pid;
        char url[128];
        (void)snprintf(url, sizeof url, "http://127.0.0.1:%s/api/v3/status", port);
        bool up = false;
        for (int i = 0; i < 200 && !up; i++) {
            struct iof_http_response r;
            struct iof_diag d;
            if (iof_http_client_request(f->http, "GET", url, NULL, NULL, 0, &r, &d) == IOF_OK) {
                up = r.status == 200;
                iof_http_response_free(&r);
            }
            if (!up) {
                int status;
                if (waitpid(pid, &status, WNOHANG) == pid) { /* exited: port taken? retry */
                    f->pid = 0;
                    break;
                }
                nanosleep(&(struct timespec){.tv_nsec = 50 * 1000 * 1000}, NULL);
            }
        }
        if (!up && f->pid != 0) {
            kill(f->pid, SIGKILL);
            (void)waitpid(f->pid, NULL, 0);
            f->pid = 0;
        }
    }
    return f->pid != 0 ? 0 : -1;
}

/* Kills the server with SIGKILL (no clean-up at all) and reaps it. */
static inline void api_kill9(struct api_fixture *f) {
    if (f->pid > 0) {
        kill(f->pid, SIGKILL);
        (void)waitpid(f->pid, NULL, 0);
        f->pid = 0;
    }
}

/* Starts the real iofog-controller binary (start --foreground) on a free loopback port with a
 * private data directory and waits until it answers; returns NULL on failure (printing why).
 * api_start_on(db) runs it on an existing database (NULL: a fresh one). */
static inline struct api_fixture *api_start_on(const char *db) {
    struct api_fixture *f = api_fixture_new_on(db);
    if (f == NULL) {
        return NULL;
    }
    struct iof_diag d = {{0}};
    if (api_spawn(f) != 0 || ctl_admin_token_read(f->dir, f->admin, &d) != IOF_OK ||
        ctl_store_open(f->db, &f->store, &d) != IOF_OK) {
        fprintf(stderr, "api_start: the controller did not come up: %s\n", d.msg);
        api_stop(f);
        return NULL;
    }
    return f;
}

static inline struct api_fixture *api_start(void) {
    return api_start_on(NULL);
}

/* Runs the server inside the test process, for tests that need its internals (f->srv);
 * api_start_inproc_on(db) on an existing database (NULL: a fresh one). */
static inline struct api_fixture *api_start_inproc_on(const char *db) {
    struct api_fixture *f = api_fixture_new_on(db);
    struct iof_diag d = {{0}};
    if (f == NULL) {
        return NULL;
    }
    struct ctl_config cfg;
    ctl_config_defaults(&cfg);
    (void)snprintf(cfg.data_dir, sizeof cfg.data_dir, "%s", f->dir);
    (void)snprintf(cfg.bind, sizeof cfg.bind, "127.0.0.1");
    (void)snprintf(cfg.db, sizeof cfg.db, "%s", f->db);
    cfg.port = 0;
    if (ctl_server_new(&cfg, &f->srv, &d) != IOF_OK || ctl_server_start(f->srv, &d) != IOF_OK ||
        ctl_admin_token_read(f->dir, f->admin, &d) != IOF_OK) {
        fprintf(stderr, "api_start_inproc: %s\n", d.msg);
        api_stop(f);
        return NULL;
    }
    f->store = f->srv->store;
    f->port = iof_http_server_port(f->srv->http);
    return f;
}

static inline struct api_fixture *api_start_inproc(void) {
    return api_start_inproc_on(NULL);
}

/* Stops the server (SIGTERM, at most 10 s) and removes everything. Returns the server process's
 * exit status (0 when it stopped cleanly; under the sanitizers a leak makes it non-zero), or 0
 * in-process. */
static inline int api_stop_status(struct api_fixture *f) {
    if (f == NULL) {
        return 0;
    }
    int rc = 0;
    iof_http_client_free(f->http);
    if (f->srv != NULL) {
        ctl_server_free(f->srv);
    } else {
        ctl_store_close(f->store);
        if (f->pid > 0) {
            kill(f->pid, SIGTERM);
            int status = 0;
            int i = 0;
            while (waitpid(f->pid, &status, WNOHANG) == 0 && i++ < 200) {
                nanosleep(&(struct timespec){.tv_nsec = 50 * 1000 * 1000}, NULL);
            }
            if (i > 200) {
                kill(f->pid, SIGKILL);
                (void)waitpid(f->pid, &status, 0);
                rc = -1;
            } else {
                rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
            }
        }
    }
    if (!f->db_borrowed) {
        test_db_drop(f->db);
    }
    (void)test_tmpdir_remove(f->dir);
    free(f);
    return rc;
}

static inline void api_stop(struct api_fixture *f) {
    int rc = api_stop_status(f);
    if (rc != 0) {
        fprintf(stderr, "api_stop: the controller exited with status %d\n", rc);
        abort(); /* a server that does not stop cleanly fails the test run */
    }
}

/* Sends method path with body_json (a JSON text or NULL) and token (NULL: no Authorization).
 * Returns the status; *out (if not NULL) gets the parsed answer or NULL. -1 on transport error. */
static inline long api_call(struct api_fixture *f,
                            const char *method,
                            const char *path,
                            const char *token,
                            const char *body_json,
                            json_t **out) {
    char url[512], auth[300];
    (void)snprintf(url, sizeof url, "http://127.0.0.1:%u%s", (unsigned)f->port, path);
    (void)snprintf(auth, sizeof auth, "Authorization: %s", token != NULL ? token : "");
    const char *headers[] = {"Content-Type: application/json", token != NULL ? auth : NULL, NULL};
    struct iof_http_response r;
    struct iof_diag d = {{0}};
    if (iof_http_client_request(f->http,
                                method,
                                url,
                                headers,
                                body_json,
                                body_json != NULL ? strlen(body_json) : 0,
                                &r,
                                &d) != IOF_OK) {
        fprintf(stderr, "api_call %s %s: %s\n", method, path, d.msg);
        return -1;
    }
    if (out != NULL) {
        *out = r.body.len > 0 ? json_loadb((const char *)r.body.data, r.body.len, 0, NULL) : NULL;
    }
    long status = r.status;
    iof_http_response_free(&r);
    return status;
}

/* Like api_call with a printf-formatted path. */
static inline long api_callf(struct api_fixture *f,
                             const char *method,
                             const char *token,
                             const char *body_json,
                             json_t **out,
                             const char *path_fmt,
                             ...) __attribute__((format(printf, 6, 7)));
static inline long api_callf(struct api_fixture *f,
                             const char *method,
                             const char *token,
                             const char *body_json,
                             json_t **out,
                             const char *path_fmt,
                             ...) {
    char path[400];
    va_list ap;
    va_start(ap, path_fmt);
    (void)vsnprintf(path, sizeof path, path_fmt, ap);
    va_end(ap);
    return api_call(f, method, path, token, body_json, out);
}

/* Signs up and logs in a user; writes the access token into token[65]. Returns 0 on success. */
static inline int api_user(struct api_fixture *f, const char *email, char token[65]) {
    char body[256];
    (void)snprintf(body,
                   sizeof body,
                   "{\"firstName\":\"Test\",\"lastName\":\"User\",\"email\":\"%s\","
                   "\"password\":\"password1\"}",
                   email);
    if (api_call(f, "POST", "/api/v3/user/signup", NULL, body, NULL) != 201) {
        return -1;
    }
    (void)snprintf(body, sizeof body, "{\"email\":\"%s\",\"password\":\"password1\"}", email);
    json_t *ans = NULL;
    long st = api_call(f, "POST", "/api/v3/user/login", NULL, body, &ans);
    const char *t = json_string_value(json_object_get(ans, "accessToken"));
    int rc = st == 200 && t != NULL && strlen(t) == 64 ? 0 : -1;
    if (rc == 0) {
        memcpy(token, t, 65);
    }
    json_decref(ans);
    return rc;
}

/* The string at key of obj, or "" (for assertions). */
static inline const char *jstr(const json_t *obj, const char *key) {
    const char *s = json_string_value(json_object_get(obj, key));
    return s != NULL ? s : "";
}

/* Acknowledges every change flag the agent with agent_token sees now (GET, then PATCH with its
 * lastUpdated), so that a following long-poll has to wait. 0 on success. */
static inline int api_ack_changes(struct api_fixture *f, const char *agent_token) {
    json_t *ans = NULL;
    if (api_call(f, "GET", "/api/v3/agent/config/changes", agent_token, NULL, &ans) != 200) {
        json_decref(ans);
        return -1;
    }
    char body[96];
    (void)snprintf(body, sizeof body, "{\"lastUpdated\":\"%s\"}", jstr(ans, "lastUpdated"));
    json_decref(ans);
    return api_call(f, "PATCH", "/api/v3/agent/config/changes", agent_token, body, NULL) == 200
               ? 0
               : -1;
}

/* One agent long-poll of GET /api/v3/agent/config/changes?wait=wait_s (0: 30) on the Controller
 * at port with the agent token, for a thread: pthread_create(&t, NULL, api_long_poll_main, &p).
 * On return status is the HTTP status (-1 when the request failed), answer the parsed body (the
 * caller releases it) and done_ms the monotonic time it ended. */
struct api_long_poll {
    uint16_t port;
    const char *token;
    int wait_s;
    long status;
    json_t *answer;
    int64_t done_ms;
};

static inline void *api_long_poll_main(void *arg) {
    struct api_long_poll *p = arg;
    int wait_s = p->wait_s > 0 ? p->wait_s : 30;
    struct iof_http_client_opts opts = {.timeout_ms = (wait_s + 10) * 1000L,
                                        .connect_timeout_ms = 2000};
    struct iof_http_client *c = NULL;
    if (iof_http_client_new(&opts, &c) != IOF_OK) {
        p->status = -1;
        return NULL;
    }
    char url[128], auth[100];
    (void)snprintf(url,
                   sizeof url,
                   "http://127.0.0.1:%u/api/v3/agent/config/changes?wait=%d",
                   (unsigned)p->port,
                   wait_s);
    (void)snprintf(auth, sizeof auth, "Authorization: %s", p->token);
    const char *headers[] = {auth, NULL};
    struct iof_diag d;
    if (iof_http_client_request_json(c, "GET", url, headers, NULL, &p->status, &p->answer, &d) !=
        IOF_OK) {
        p->status = -1;
    }
    p->done_ms = iof_time_mono_ms();
    iof_http_client_free(c);
    return NULL;
}

#endif
