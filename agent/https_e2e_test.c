/* Controller over HTTPS with a test CA the test makes (openssl CLI): the Controller serves TLS
 * from --tls-cert/--tls-key, plain HTTP to that port gets no answer, the CLI's
 * --controller-url https://... works with --ca-cert and refuses without it, and an Agent
 * configured with the CA (-ac) provisions and keeps its link and long-poll over HTTPS while one
 * without it (system store only) cannot provision. */
#include "agent/agent_testutil.h"

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

struct tls_ctx {
    struct agent_fixture *a;
    struct iof_http_client *https; /* verifies with the test CA */
    char ca[600], cert[600], key[600];
};

static int run(const char *fmt, ...) IOF_PRINTF(1, 2);
static int run(const char *fmt, ...) {
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd);
}

/* A CA and a certificate for 127.0.0.1 signed by it, in dir. */
static int make_certs(struct tls_ctx *t, const char *dir) {
    (void)snprintf(t->ca, sizeof t->ca, "%s/ca.pem", dir);
    (void)snprintf(t->cert, sizeof t->cert, "%s/server.pem", dir);
    (void)snprintf(t->key, sizeof t->key, "%s/server.key", dir);
    return run("cd %s && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem "
               "-days 2 -subj '/CN=iofog test CA' >/dev/null 2>&1 && "
               "openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr "
               "-subj '/CN=127.0.0.1' >/dev/null 2>&1 && "
               "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' >ext && "
               "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
               "-out server.pem -days 2 -extfile ext >/dev/null 2>&1",
               dir);
}

/* Starts the Controller with TLS on f (its dir and db) and waits until it answers over HTTPS. */
static int spawn_tls(struct tls_ctx *t, struct api_fixture *f) {
    f->port = api_free_port();
    char port[16];
    (void)snprintf(port, sizeof port, "%u", (unsigned)f->port);
    pid_t pid = fork();
    if (pid == 0) {
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
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
              "--tls-cert",
              t->cert,
              "--tls-key",
              t->key,
              (char *)NULL);
        _exit(127);
    }
    if (pid < 0) {
        return -1;
    }
    f->pid = pid;
    char url[128];
    (void)snprintf(url, sizeof url, "https://127.0.0.1:%s/api/v3/status", port);
    for (int i = 0; i < 200; i++) {
        struct iof_http_response r;
        if (iof_http_client_request(t->https, "GET", url, NULL, NULL, 0, &r, NULL) == IOF_OK) {
            bool up = r.status == 200;
            iof_http_response_free(&r);
            if (up) {
                return 0;
            }
        }
        nanosleep(&(struct timespec){.tv_nsec = 50 * 1000 * 1000}, NULL);
    }
    return -1;
}

/* An HTTPS call to the Controller; like api_call. */
static long tls_call(struct tls_ctx *t,
                     const char *method,
                     const char *path,
                     const char *token,
                     const char *body,
                     json_t **out) {
    char url[512], auth[300];
    (void)snprintf(url, sizeof url, "https://127.0.0.1:%u%s", (unsigned)t->a->ctl->port, path);
    (void)snprintf(auth, sizeof auth, "Authorization: %s", token != NULL ? token : "");
    const char *headers[] = {"Content-Type: application/json", token != NULL ? auth : NULL, NULL};
    struct iof_http_response r;
    if (iof_http_client_request(
            t->https, method, url, headers, body, body != NULL ? strlen(body) : 0, &r, NULL) !=
        IOF_OK) {
        return -1;
    }
    if (out != NULL) {
        *out = json_loadb((const char *)r.body.data, r.body.len, 0, NULL);
    }
    long st = r.status;
    iof_http_response_free(&r);
    return st;
}

static int setup(void **state) {
    struct tls_ctx *t = calloc(1, sizeof *t);
    struct agent_fixture *a = calloc(1, sizeof *a);
    if (t == NULL || a == NULL) {
        return -1;
    }
    t->a = a;
    a->ctl = api_fixture_new();
    if (a->ctl == NULL || make_certs(t, a->ctl->dir) != 0) {
        fprintf(stderr, "https test: cannot make the test CA (openssl)\n");
        return -1;
    }
    struct iof_http_client_opts opts = {
        .timeout_ms = 10000, .connect_timeout_ms = 2000, .ca_file = t->ca};
    if (iof_http_client_new(&opts, &t->https) != IOF_OK || spawn_tls(t, a->ctl) != 0) {
        fprintf(stderr, "https test: the Controller did not come up over HTTPS\n");
        return -1;
    }
    struct iof_diag d = {{0}};
    if (ctl_admin_token_read(a->ctl->dir, a->ctl->admin, &d) != IOF_OK) {
        return -1;
    }
    (void)snprintf(a->dir, sizeof a->dir, "%s/agent", a->ctl->dir);
    *state = t;
    return 0;
}

static int teardown(void **state) {
    struct tls_ctx *t = *state;
    int rc = agent_daemon_stop(t->a);
    int frc = agent_fixture_free(t->a);
    iof_http_client_free(t->https);
    free(t);
    return rc == 0 && frc == 0 ? 0 : -1;
}

static void test_controller_and_agent_over_https(void **state) {
    struct tls_ctx *t = *state;
    struct agent_fixture *a = t->a;
    json_t *ans = NULL;

    /* Plain HTTP to the HTTPS port gets no HTTP answer. */
    char url[128];
    (void)snprintf(url, sizeof url, "http://127.0.0.1:%u/api/v3/status", (unsigned)a->ctl->port);
    struct iof_http_response r;
    iof_err err = iof_http_client_request(a->ctl->http, "GET", url, NULL, NULL, 0, &r, NULL);
    if (err == IOF_OK) {
        assert_int_not_equal(r.status, 200);
        iof_http_response_free(&r);
    }

    /* The user API over HTTPS. */
    assert_int_equal(tls_call(t,
                              "POST",
                              "/api/v3/user/signup",
                              NULL,
                              "{\"firstName\":\"Tls\",\"lastName\":\"User\",\"email\":"
                              "\"tls@example.com\",\"password\":\"password1\"}",
                              NULL),
                     201);
    assert_int_equal(tls_call(t,
                              "POST",
                              "/api/v3/user/login",
                              NULL,
                              "{\"email\":\"tls@example.com\",\"password\":\"password1\"}",
                              &ans),
                     200);
    (void)snprintf(a->user, sizeof a->user, "%s", jstr(ans, "accessToken"));
    json_decref(ans);
    assert_int_equal(
        tls_call(
            t, "POST", "/api/v3/iofog", a->user, "{\"name\":\"tls-node\",\"fogType\":1}", &ans),
        201);
    (void)snprintf(a->node, sizeof a->node, "%s", jstr(ans, "uuid"));
    json_decref(ans);

    /* The CLI: --controller-url https://... with the CA, and refused without it. */
    char cmd[2048];
    (void)snprintf(cmd,
                   sizeof cmd,
                   "%s controller status --controller-url https://127.0.0.1:%u --ca-cert %s "
                   "--data-dir %s >/dev/null 2>&1",
                   API_BINARY,
                   (unsigned)a->ctl->port,
                   t->ca,
                   a->ctl->dir);
    assert_int_equal(system(cmd), 0);
    (void)snprintf(cmd,
                   sizeof cmd,
                   "%s iofog list --controller-url https://127.0.0.1:%u/api/v3 --data-dir %s "
                   ">/dev/null 2>&1",
                   API_BINARY,
                   (unsigned)a->ctl->port,
                   a->ctl->dir);
    assert_int_not_equal(system(cmd), 0);

    /* An agent that trusts only the system store cannot provision against the test CA. */
    a->local_port = api_free_port();
    char out[4096];
    assert_int_equal(agent_cli(a,
                               out,
                               sizeof out,
                               "config -a https://127.0.0.1:%u/api/v3/ -dl %s/data -ld %s/log "
                               "-lp %u -sf 2",
                               (unsigned)a->ctl->port,
                               a->dir,
                               a->dir,
                               (unsigned)a->local_port),
                     0);
    assert_int_equal(agent_daemon_spawn(a), 0);
    char path[300], key[64];
    (void)snprintf(path, sizeof path, "/api/v3/iofog/%s/provisioning-key", a->node);
    assert_int_equal(tls_call(t, "GET", path, a->user, NULL, &ans), 201);
    (void)snprintf(key, sizeof key, "%s", jstr(ans, "key"));
    json_decref(ans);
    assert_int_not_equal(agent_cli(a, out, sizeof out, "provision %s", key), 0);
    printf("provisioning without the CA: %s\n", out);

    /* With the CA (-ac): provisioning, the status report and the long-poll over HTTPS. */
    assert_int_equal(agent_cli(a, out, sizeof out, "config -ac %s", t->ca), 0);
    assert_int_equal(agent_cli(a, out, sizeof out, "provision %s", key), 0);
    assert_int_equal(agent_wait_status(a, ": ok", 10000), 0);
    (void)snprintf(path, sizeof path, "/api/v3/iofog/%s", a->node);
    int64_t end = iof_time_mono_ms() + 10000;
    bool running = false;
    while (!running && iof_time_mono_ms() < end) {
        assert_int_equal(tls_call(t, "GET", path, a->user, NULL, &ans), 200);
        running = strcmp(jstr(ans, "daemonStatus"), "RUNNING") == 0;
        json_decref(ans);
        if (!running) {
            nanosleep(&(struct timespec){.tv_nsec = 100 * 1000 * 1000}, NULL);
        }
    }
    assert_true(running);
    int64_t t0 = iof_time_mono_ms();
    assert_int_equal(tls_call(t, "PATCH", path, a->user, "{\"statusFrequency\":7}", NULL), 204);
    bool seen = false;
    while (!seen && iof_time_mono_ms() - t0 < 10000) {
        assert_int_equal(agent_cli(a, out, sizeof out, "info"), 0);
        char *line = strstr(out, "status-update-frequency");
        seen = line != NULL && strstr(line, ": 7\n") != NULL;
        if (!seen) {
            nanosleep(&(struct timespec){.tv_nsec = 50 * 1000 * 1000}, NULL);
        }
    }
    assert_true(seen);
    printf("setting reached the agent over HTTPS after %lld ms\n",
           (long long)(iof_time_mono_ms() - t0));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_controller_and_agent_over_https, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
