/* Test harness for the Agent's integration tests: a real Controller (controller/api/api_testutil.h)
 * with a user and a node, and a real iofog-agent daemon started in the foreground with its own
 * config directory and free Local API port, driven through its CLI. */
#ifndef AGENT_TESTUTIL_H
#define AGENT_TESTUTIL_H

#include "controller/api/api_testutil.h"

#include "common/clock.h"
#include "http/client.h"
#include "iomessage/iomessage.h"
#include "ws/client.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define AGENT_BINARY IOFOG_BINARY_DIR "/agent/iofog-agent"

struct agent_fixture {
    struct api_fixture *ctl;
    char user[65];       /* user token */
    char node[64];       /* node uuid */
    char dir[400];       /* agent config dir (data and logs below it) */
    uint16_t local_port; /* agent Local API port */
    pid_t pid;           /* agent daemon, 0 when not running */
    bool ctl_borrowed;   /* ctl belongs to another fixture (agent_fixture_new_peer) */
};

/* Runs `iofog-agent <args>` with --config-dir; stdout+stderr into out (may be NULL). Returns the
 * exit code (-1 if it could not run). */
static inline int
agent_cli(struct agent_fixture *a, char *out, size_t out_len, const char *fmt, ...)
    IOF_PRINTF(4, 5);
static inline int
agent_cli(struct agent_fixture *a, char *out, size_t out_len, const char *fmt, ...) {
    char args[1024], cmd[1600];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    (void)snprintf(cmd, sizeof cmd, "%s %s --config-dir %s 2>&1", AGENT_BINARY, args, a->dir);
    FILE *p = popen(cmd, "r");
    if (p == NULL) {
        return -1;
    }
    size_t n = 0;
    char buf[4096];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, p)) > 0) {
        if (out != NULL && n + 1 < out_len) {
            size_t k = got < out_len - 1 - n ? got : out_len - 1 - n;
            memcpy(out + n, buf, k);
            n += k;
        }
    }
    if (out != NULL) {
        out[n] = '\0';
    }
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Creates node `node_name` on a->ctl for a->user and configures the agent config dir a->dir to
 * reach the Controller with a free Local API port. 0 on success. */
static inline int agent_fixture_node(struct agent_fixture *a, const char *node_name) {
    char body[256];
    (void)snprintf(body, sizeof body, "{\"name\":\"%s\",\"fogType\":1}", node_name);
    json_t *ans = NULL;
    if (api_call(a->ctl, "POST", "/api/v3/iofog", a->user, body, &ans) != 201) {
        json_decref(ans);
        return -1;
    }
    (void)snprintf(a->node, sizeof a->node, "%s", jstr(ans, "uuid"));
    json_decref(ans);
    a->local_port = api_free_port();
    char out[2048];
    int rc = agent_cli(a,
                       out,
                       sizeof out,
                       "config -a http://127.0.0.1:%u/api/v3/ -dl %s/data -ld %s/log -lp %u -sf 2",
                       (unsigned)a->ctl->port,
                       a->dir,
                       a->dir,
                       (unsigned)a->local_port);
    if (rc != 0) {
        fprintf(stderr, "agent config failed (%d): %s\n", rc, out);
        return -1;
    }
    return 0;
}

/* A Controller with a user "agent-tests@example.com" and a node named `node_name`; the agent's
 * config dir configured to reach it (not started). NULL on failure. */
static inline struct agent_fixture *agent_fixture_new(const char *node_name) {
    struct agent_fixture *a = calloc(1, sizeof *a);
    a->ctl = api_start();
    if (a->ctl == NULL || api_user(a->ctl, "agent-tests@example.com", a->user) != 0) {
        return NULL;
    }
    (void)snprintf(a->dir, sizeof a->dir, "%s/agent", a->ctl->dir);
    return agent_fixture_node(a, node_name) == 0 ? a : NULL;
}

/* A second agent on first's Controller and user: its own node `node_name`, config dir and Local
 * API port (not started). Free it with agent_fixture_free before first. NULL on failure. */
static inline struct agent_fixture *agent_fixture_new_peer(struct agent_fixture *first,
                                                           const char *node_name) {
    struct agent_fixture *a = calloc(1, sizeof *a);
    if (a == NULL) {
        return NULL;
    }
    a->ctl = first->ctl;
    a->ctl_borrowed = true;
    memcpy(a->user, first->user, sizeof a->user);
    (void)snprintf(a->dir, sizeof a->dir, "%s/agent-%s", first->ctl->dir, node_name);
    if (agent_fixture_node(a, node_name) != 0) {
        free(a);
        return NULL;
    }
    return a;
}

/* A fresh provisioning key for the fixture's node. */
static inline int agent_fixture_key(struct agent_fixture *a, char key[64]) {
    json_t *ans = NULL;
    if (api_callf(
            a->ctl, "GET", a->user, NULL, &ans, "/api/v3/iofog/%s/provisioning-key", a->node) !=
        201) {
        return -1;
    }
    (void)snprintf(key, 64, "%s", jstr(ans, "key"));
    json_decref(ans);
    return 0;
}

/* Starts the daemon in the foreground as a child and waits (≤ 10 s) until its CLI answers. */
static inline int agent_daemon_spawn(struct agent_fixture *a) {
    pid_t pid = fork();
    if (pid == 0) {
        /* A test that dies (or whose setup fails before its teardown) takes the agent along. */
        (void)prctl(PR_SET_PDEATHSIG, SIGTERM);
        char log[500];
        (void)snprintf(log, sizeof log, "%s.log", a->dir);
        FILE *lf = fopen(log, "a");
        if (lf != NULL) {
            dup2(fileno(lf), STDERR_FILENO);
        }
        execl(AGENT_BINARY,
              AGENT_BINARY,
              "start",
              "--foreground",
              "--config-dir",
              a->dir,
              (char *)NULL);
        _exit(127);
    }
    a->pid = pid;
    for (int i = 0; i < 100; i++) {
        if (agent_cli(a, NULL, 0, "status") == 0) {
            return 0;
        }
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            a->pid = 0;
            return -1;
        }
        nanosleep(&(struct timespec){.tv_nsec = 100 * 1000 * 1000}, NULL);
    }
    return -1;
}

/* Waits (≤ 30 s) for the daemon to exit. Returns its exit status (128 + signal when killed by
 * one), -1 when it is still running. */
static inline int agent_daemon_wait_exit(struct agent_fixture *a) {
    for (int i = 0; i < 300; i++) {
        int st;
        if (waitpid(a->pid, &st, WNOHANG) == a->pid) {
            a->pid = 0;
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        nanosleep(&(struct timespec){.tv_nsec = 100 * 1000 * 1000}, NULL);
    }
    return -1;
}

/* SIGTERM and wait (≤ 30 s). Returns the exit status (0 clean), -1 if it had to be killed. */
static inline int agent_daemon_term(struct agent_fixture *a) {
    if (a->pid == 0) {
        return 0;
    }
    kill(a->pid, SIGTERM);
    int rc = agent_daemon_wait_exit(a);
    if (rc < 0) {
        kill(a->pid, SIGKILL);
        waitpid(a->pid, NULL, 0);
        a->pid = 0;
    }
    return rc;
}

/* `iofog-agent stop` (the daemon removes its containers and exits), then waits (≤ 30 s) for the
 * foreground daemon to end. Returns the CLI's exit code; 0 when no daemon runs. */
static inline int agent_daemon_stop(struct agent_fixture *a) {
    if (a == NULL || a->pid == 0) {
        return 0;
    }
    char out[256];
    int rc = agent_cli(a, out, sizeof out, "stop");
    (void)agent_daemon_wait_exit(a);
    return rc;
}

static inline void agent_daemon_kill9(struct agent_fixture *a) {
    if (a->pid != 0) {
        kill(a->pid, SIGKILL);
        waitpid(a->pid, NULL, 0);
        a->pid = 0;
    }
}

/* Polls `iofog-agent status` until it contains needle or timeout_ms passes; 0 when found. */
static inline int agent_wait_status(struct agent_fixture *a, const char *needle, int timeout_ms) {
    int64_t end = iof_time_mono_ms() + timeout_ms;
    char out[8192];
    do {
        if (agent_cli(a, out, sizeof out, "status") == 0 && strstr(out, needle) != NULL) {
            return 0;
        }
        nanosleep(&(struct timespec){.tv_nsec = 50 * 1000 * 1000}, NULL);
    } while (iof_time_mono_ms() < end);
    fprintf(stderr, "status never showed '%s'; last:\n%s\n", needle, out);
    return -1;
}

/* Output of a shell command, trailing newlines and spaces trimmed; "" on failure. */
static inline void agent_sh(char *out, size_t len, const char *fmt, ...) IOF_PRINTF(3, 4);
static inline void agent_sh(char *out, size_t len, const char *fmt, ...) {
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    out[0] = '\0';
    FILE *p = popen(cmd, "r");
    if (p == NULL) {
        return;
    }
    size_t n = fread(out, 1, len - 1, p);
    out[n] = '\0';
    (void)pclose(p);
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' ')) {
        out[--n] = '\0';
    }
}

/* POSTs a JSON body to the agent's Local API. Returns the HTTP status (-1 when no answer); *out
 * (when not NULL) receives the parsed answer, a new reference or NULL. */
static inline long
agent_local_post(struct agent_fixture *a, const char *path, const char *body, json_t **out) {
    struct iof_http_client *http = NULL;
    if (out != NULL) {
        *out = NULL;
    }
    if (iof_http_client_new(NULL, &http) != IOF_OK) {
        return -1;
    }
    char url[256];
    (void)snprintf(url, sizeof url, "http://127.0.0.1:%u%s", (unsigned)a->local_port, path);
    const char *hdr[] = {"Content-Type: application/json", NULL};
    struct iof_http_response r;
    long st = -1;
    if (iof_http_client_request(http, "POST", url, hdr, body, strlen(body), &r, NULL) == IOF_OK) {
        st = r.status;
        if (out != NULL) {
            *out = json_loads((const char *)r.body.data, 0, NULL);
        }
        iof_http_response_free(&r);
    }
    iof_http_client_free(http);
    return st;
}

/* Starts the daemon, provisions it with a fresh key and waits (≤ timeout_ms) until `status`
 * shows the Controller link ok. 0 on success. */
static inline int agent_fixture_provision(struct agent_fixture *a, int timeout_ms) {
    char key[64], out[1024];
    if (agent_daemon_spawn(a) != 0 || agent_fixture_key(a, key) != 0) {
        return -1;
    }
    if (agent_cli(a, out, sizeof out, "provision %s", key) != 0) {
        fprintf(stderr, "provision failed: %s\n", out);
        return -1;
    }
    return agent_wait_status(a, ": ok", timeout_ms);
}

/* Opens the Local API socket of kind "control" or "message" for id; NULL (said on stderr) when
 * it cannot. */
static inline struct iof_ws_client *
agent_ws_open(struct agent_fixture *a, const char *kind, const char *id) {
    char path[200];
    (void)snprintf(path, sizeof path, "/v2/%s/socket/id/%s", kind, id);
    struct iof_ws_client *c = NULL;
    struct iof_diag d = {{0}};
    if (iof_ws_client_connect("127.0.0.1", a->local_port, path, 5000, NULL, &c, &d) != IOF_OK) {
        fprintf(stderr, "ws connect %s: %s\n", path, d.msg);
        return NULL;
    }
    return c;
}

/* Publishes len bytes of text content as publisher over the message socket tx and waits
 * (≤ 5 s) for the receipt: id (id_len bytes, 33 suffice) and *ts get the message's identity.
 * 0 on success, -1 (said on stderr) otherwise. */
static inline int agent_ws_publish(struct iof_ws_client *tx,
                                   const char *publisher,
                                   const void *content,
                                   size_t len,
                                   char *id,
                                   size_t id_len,
                                   int64_t *ts) {
    struct iof_msg msg = {.version = 4,
                          .publisher = publisher,
                          .infotype = "text",
                          .infoformat = "utf-8",
                          .contentdata = content,
                          .contentdata_len = len};
    uint8_t *frame = NULL;
    size_t frame_len = 0;
    if (iof_msg_frame_encode(&msg, &frame, &frame_len, NULL) != IOF_OK) {
        fprintf(stderr, "publish: cannot encode\n");
        return -1;
    }
    iof_err err = iof_ws_client_send(tx, IOF_WS_BINARY, frame, frame_len);
    free(frame);
    struct iof_ws_msg m = {0};
    if (err == IOF_OK) {
        err = iof_ws_client_recv(tx, 5000, &m);
    }
    if (err == IOF_OK) {
        err = iof_msg_receipt_parse(m.data, m.len, id, id_len, ts, NULL);
        iof_ws_msg_free(&m);
    }
    if (err != IOF_OK) {
        fprintf(stderr, "publish: no receipt (%s)\n", iof_err_name(err));
        return -1;
    }
    return 0;
}

/* Creates the activated application `name` owned by the fixture's user. 0 on success. */
static inline int agent_fixture_app(struct agent_fixture *a, const char *name) {
    char body[256];
    (void)snprintf(body, sizeof body, "{\"name\":\"%s\",\"isActivated\":true}", name);
    long st = api_call(a->ctl, "POST", "/api/v3/application", a->user, body, NULL);
    if (st != 201) {
        fprintf(stderr, "application %s: HTTP %ld\n", name, st);
        return -1;
    }
    return 0;
}

/* Stops the daemon (a non-clean exit fails the test through the return value) and the
 * Controller unless it is borrowed. */
static inline int agent_fixture_free(struct agent_fixture *a) {
    if (a == NULL) {
        return 0;
    }
    int rc = agent_daemon_term(a);
    if (a->ctl != NULL && !a->ctl_borrowed) {
        api_stop(a->ctl);
    }
    free(a);
    return rc;
}

#endif
