/* Operating a node from the Controller, against the real Controller, Agent and Docker Engine: a
 * microservice's log followed through the Controller (the Agent sends it outward over its own
 * connection) with each line arriving within a second of being printed and the stream ending
 * when the microservice is deleted, also as a WebSocket for browsers (token in the query, text
 * frames of whole lines); the Agent's own log; and the events of a microservice whose
 * image is missing, with the reason, also after its node went offline. */
#include "agent/agent_testutil.h"
#include "controller/cli/cli_testutil.h"

#include <pthread.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#define IMAGE_TALK  "iofog-agent-e2e/talk:1"
#define IMAGE_GONE  "iofog-agent-e2e/never-built:1"
#define IMAGE_CRASH "iofog-agent-e2e/crash:1"

struct ctx {
    struct agent_fixture *a;
};

static int setup(void **state) {
    if (system("bash scripts/dockerd.sh start >/dev/null 2>&1") != 0 ||
        system("bash scripts/test-image.sh " IMAGE_TALK " /bin/sh -c 'trap \"exit 0\" TERM; i=0; "
               "while :; do echo \"tick $i\"; i=$((i+1)); sleep 0.3 & wait $!; done' >/dev/null") !=
            0 ||
        system("bash scripts/test-image.sh " IMAGE_CRASH
               " /bin/sh -c 'echo bye; sleep 0.3; exit 3' >/dev/null") != 0) {
        fprintf(stderr, "no Docker Engine or no test image\n");
        return -1;
    }
    struct ctx *c = calloc(1, sizeof *c);
    c->a = agent_fixture_new("edge-observe");
    if (c->a == NULL || agent_fixture_app(c->a, "obs") != 0 ||
        agent_fixture_provision(c->a, 5000) != 0) {
        fprintf(stderr, "agent did not come up\n");
        return -1;
    }
    *state = c;
    return 0;
}

static int teardown(void **state) {
    struct ctx *c = *state;
    char out[256];
    agent_sh(out,
             sizeof out,
             "docker rm -f $(docker ps -aq --filter label=iofog-uuid=%s) 2>/dev/null",
             c->a->node);
    int rc = agent_fixture_free(c->a);
    free(c);
    return rc == 0 ? 0 : -1;
}

static void add_msvc(struct agent_fixture *a, const char *name, const char *image, char out[64]) {
    char body[512];
    (void)snprintf(body,
                   sizeof body,
                   "{\"name\":\"%s\",\"application\":\"obs\",\"iofogUuid\":\"%s\","
                   "\"registryId\":2,\"images\":[{\"containerImage\":\"%s\",\"fogTypeId\":1}]}",
                   name,
                   a->node,
                   image);
    json_t *ans = NULL;
    assert_int_equal(api_call(a->ctl, "POST", "/api/v3/microservices", a->user, body, &ans), 201);
    (void)snprintf(out, 64, "%s", jstr(ans, "uuid"));
    json_decref(ans);
}

static const char *msvc_status(struct agent_fixture *a, const char *uuid, char *st, size_t len) {
    json_t *ans = NULL;
    st[0] = '\0';
    if (api_callf(a->ctl, "GET", a->user, NULL, &ans, "/api/v3/microservices/%s", uuid) == 200) {
        const char *s =
            json_string_value(json_object_get(json_object_get(ans, "status"), "status"));
        (void)snprintf(st, len, "%s", s != NULL ? s : "");
    }
    json_decref(ans);
    return st;
}

static int
wait_status(struct agent_fixture *a, const char *uuid, const char *want, int timeout_ms) {
    char st[32];
    int64_t t0 = iof_time_mono_ms();
    while (iof_time_mono_ms() - t0 < timeout_ms) {
        if (strcmp(msvc_status(a, uuid, st, sizeof st), want) == 0) {
            return 0;
        }
        nanosleep(&(struct timespec){.tv_nsec = 50 * 1000 * 1000}, NULL);
    }
    fprintf(stderr, "microservice %s: wanted %s, last %s\n", uuid, want, st);
    return -1;
}

/* A follower of GET .../logs?follow=true on a thread of its own. */
struct follower {
    struct agent_fixture *a;
    char path[256];
    pthread_mutex_t mu;
    char text[1 << 16];
    size_t len;
    int lines;
    int64_t started_ms, first_ms; /* wall clock: request sent, first byte */
    int64_t worst_ms; /* worst delay between a line's Docker timestamp and its arrival */
    bool done;
    long status;
    iof_err err;
};

static bool on_chunk(void *ctx, const char *data, size_t len) {
    struct follower *f = ctx;
    int64_t now = iof_time_now_ms();
    pthread_mutex_lock(&f->mu);
    if (f->first_ms == 0) {
        f->first_ms = now;
    }
    size_t take = len < sizeof f->text - 1 - f->len ? len : sizeof f->text - 1 - f->len;
    memcpy(f->text + f->len, data, take);
    f->len += take;
    f->text[f->len] = '\0';
    /* each complete line "2026-...Z tick N": its delay from Docker's timestamp */
    for (const char *p = data; p < data + len;) {
        const char *nl = memchr(p, '\n', (size_t)(data + len - p));
        if (nl == NULL) {
            break;
        }
        char stamp[40] = "";
        const char *sp = memchr(p, ' ', (size_t)(nl - p));
        if (sp != NULL && sp - p < (ptrdiff_t)sizeof stamp &&
            memmem(p, (size_t)(nl - p), "tick", 4)) {
            memcpy(stamp, p, (size_t)(sp - p));
            int64_t ts = 0;
            if (iof_time_parse_iso8601(stamp, &ts) == IOF_OK && f->lines > 0) {
                /* the first line may come from before the request (tail) */
                f->worst_ms = now - ts > f->worst_ms ? now - ts : f->worst_ms;
            }
            f->lines++;
        }
        p = nl + 1;
    }
    pthread_mutex_unlock(&f->mu);
    return true;
}

static void *follow_main(void *arg) {
    struct follower *f = arg;
    char url[512], auth[128];
    (void)snprintf(url, sizeof url, "http://127.0.0.1:%u%s", (unsigned)f->a->ctl->port, f->path);
    (void)snprintf(auth, sizeof auth, "Authorization: %s", f->a->user);
    const char *headers[] = {auth, NULL};
    struct iof_http_client_opts o = {.timeout_ms = 60000};
    struct iof_http_client *c = NULL;
    struct iof_diag d = {{0}};
    f->started_ms = iof_time_now_ms();
    iof_err err = iof_http_client_new(&o, &c);
    if (err == IOF_OK) {
        err = iof_http_client_stream(c, "GET", url, headers, NULL, 0, on_chunk, f, &f->status, &d);
    }
    iof_http_client_free(c);
    pthread_mutex_lock(&f->mu);
    f->err = err;
    f->done = true;
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

static int follower_lines(struct follower *f, bool *done) {
    pthread_mutex_lock(&f->mu);
    int n = f->lines;
    *done = f->done;
    pthread_mutex_unlock(&f->mu);
    return n;
}

static void test_follow_logs_until_deleted(void **state) {
    struct ctx *c = *state;
    struct agent_fixture *a = c->a;
    char uuid[64];
    add_msvc(a, "talker", IMAGE_TALK, uuid);
    assert_int_equal(wait_status(a, uuid, "RUNNING", 15000), 0);

    /* Without follow: the last lines, then the body ends. */
    nanosleep(&(struct timespec){.tv_sec = 1}, NULL);
    struct follower once = {.a = a};
    pthread_mutex_init(&once.mu, NULL);
    (void)snprintf(once.path, sizeof once.path, "/api/v3/microservices/%s/logs?tail=2", uuid);
    follow_main(&once);
    assert_int_equal(once.err, IOF_OK);
    assert_int_equal(once.status, 200);
    assert_int_equal(once.lines, 2);

    /* Another user cannot read it. */
    char other[65];
    assert_int_equal(api_user(a->ctl, "observer-other@example.com", other), 0);
    assert_int_equal(
        api_callf(a->ctl, "GET", other, NULL, NULL, "/api/v3/microservices/%s/logs", uuid), 404);

    struct follower *f = calloc(1, sizeof *f);
    f->a = a;
    pthread_mutex_init(&f->mu, NULL);
    (void)snprintf(
        f->path, sizeof f->path, "/api/v3/microservices/%s/logs?follow=true&tail=1", uuid);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, follow_main, f), 0);
    bool done = false;
    int64_t t0 = iof_time_mono_ms();
    while (follower_lines(f, &done) < 8 && !done && iof_time_mono_ms() - t0 < 15000) {
        nanosleep(&(struct timespec){.tv_nsec = 50 * 1000 * 1000}, NULL);
    }
    pthread_mutex_lock(&f->mu);
    int lines = f->lines;
    int64_t first = f->first_ms - f->started_ms, worst = f->worst_ms;
    pthread_mutex_unlock(&f->mu);
    printf(
        "log stream: first bytes %lld ms after the request; %d lines; worst line delay %lld ms\n",
        (long long)first,
        lines,
        (long long)worst);
    if (done) {
        fprintf(stderr,
                "stream ended early (status %ld, %s): %s\n",
                f->status,
                iof_err_name(f->err),
                f->text);
    }
    assert_false(done);
    assert_true(lines >= 8);
    assert_true(worst < 1000);

    /* The CLI shows the same through the Controller, by name. */
    char out[8192], port[16];
    (void)snprintf(port, sizeof port, "%u", (unsigned)a->ctl->port);
    assert_int_equal(
        cli_run(
            a->ctl, true, out, sizeof out, "microservice", "logs", "talker", "--tail", "3", NULL),
        0);
    assert_non_null(strstr(out, "tick"));

    /* On the node itself, without the Controller. */
    assert_int_equal(agent_cli(a, out, sizeof out, "logs %s --tail 2", uuid), 0);
    assert_non_null(strstr(out, "tick"));

    /* Deleting the microservice ends the stream. */
    assert_int_equal(
        api_callf(a->ctl, "DELETE", a->user, NULL, NULL, "/api/v3/microservices/%s", uuid), 204);
    t0 = iof_time_mono_ms();
    while (!done && iof_time_mono_ms() - t0 < 20000) {
        (void)follower_lines(f, &done);
        nanosleep(&(struct timespec){.tv_nsec = 50 * 1000 * 1000}, NULL);
    }
    printf("stream ended %lld ms after the delete\n", (long long)(iof_time_mono_ms() - t0));
    assert_true(done);
    pthread_join(th, NULL);
    assert_int_equal(f->status, 200);
    assert_non_null(strstr(f->text, "-- the container stopped or was removed --"));
    pthread_mutex_destroy(&f->mu);
    free(f);
    pthread_mutex_destroy(&once.mu);
}

/* Docker timestamp of a line "2026-...Z tick N" -> its delay until now; -1 if not such a line. */
static int64_t line_delay(const char *line, size_t len, int64_t now) {
    char stamp[40] = "";
    const char *sp = memchr(line, ' ', len);
    if (sp == NULL || sp - line >= (ptrdiff_t)sizeof stamp || !memmem(line, len, "tick", 4)) {
        return -1;
    }
    memcpy(stamp, line, (size_t)(sp - line));
    int64_t ts = 0;
    return iof_time_parse_iso8601(stamp, &ts) == IOF_OK ? now - ts : -1;
}

static iof_err ws_follow(struct agent_fixture *a,
                         const char *uuid,
                         const char *token,
                         const char *const *headers,
                         struct iof_ws_client **out,
                         struct iof_diag *d) {
    char path[512];
    (void)snprintf(path,
                   sizeof path,
                   "/api/v3/microservices/%s/logs?follow=true&tail=1%s%s",
                   uuid,
                   token != NULL ? "&token=" : "",
                   token != NULL ? token : "");
    struct iof_ws_client_opts o = {.headers = headers};
    return iof_ws_client_connect("127.0.0.1", a->ctl->port, path, 5000, &o, out, d);
}

/* A browser's WebSocket: the token as a query parameter, text frames of whole lines, a clean
 * close when the microservice is deleted, and a client that leaves frees its session. */
static void test_ws_logs_until_deleted(void **state) {
    struct ctx *c = *state;
    struct agent_fixture *a = c->a;
    char uuid[64];
    add_msvc(a, "wstalker", IMAGE_TALK, uuid);
    assert_int_equal(wait_status(a, uuid, "RUNNING", 15000), 0);

    /* A wrong token, another user's token, and a query token without an upgrade are refused. */
    struct iof_ws_client *w = NULL;
    struct iof_diag d = {{0}};
    assert_int_equal(ws_follow(a, uuid, "not-a-token", NULL, &w, &d), IOF_EREMOTE);
    assert_non_null(strstr(d.msg, "401"));
    char other[65];
    assert_int_equal(api_user(a->ctl, "ws-other@example.com", other), 0);
    memset(&d, 0, sizeof d);
    assert_int_equal(ws_follow(a, uuid, other, NULL, &w, &d), IOF_EREMOTE);
    assert_non_null(strstr(d.msg, "404"));
    char plain[256];
    (void)snprintf(plain, sizeof plain, "/api/v3/microservices/%s/logs?token=%s", uuid, a->user);
    assert_int_equal(api_call(a->ctl, "GET", plain, NULL, NULL, NULL), 401);

    /* Clients that leave: more than the per-node limit (8) one after the other. */
    for (int i = 0; i < 10; i++) {
        memset(&d, 0, sizeof d);
        assert_int_equal(ws_follow(a, uuid, a->user, NULL, &w, &d), IOF_OK);
        struct iof_ws_msg m = {0};
        assert_int_equal(iof_ws_client_recv(w, 5000, &m), IOF_OK);
        assert_int_equal(m.opcode, IOF_WS_TEXT);
        /* not "-- too many log streams are open --": the earlier sessions were released */
        if (strstr((const char *)m.data, "tick") == NULL) {
            fprintf(stderr, "follower %d got: %s\n", i, (const char *)m.data);
        }
        assert_non_null(strstr((const char *)m.data, "tick"));
        iof_ws_msg_free(&m);
        assert_int_equal(iof_ws_client_close(w, 1000, NULL), IOF_OK);
        iof_ws_client_free(w);
        w = NULL;
        nanosleep(&(struct timespec){.tv_nsec = 400 * 1000 * 1000}, NULL); /* sweeper: 250 ms */
    }

    /* The Authorization header works too, as for every route. */
    char auth[128];
    (void)snprintf(auth, sizeof auth, "%s", a->user);
    const char *headers[] = {"Authorization", auth, NULL};
    int64_t t0 = iof_time_now_ms();
    memset(&d, 0, sizeof d);
    assert_int_equal(ws_follow(a, uuid, NULL, headers, &w, &d), IOF_OK);
    int lines = 0, frames = 0;
    int64_t first = -1, worst = 0;
    int64_t m0 = iof_time_mono_ms();
    while (lines < 8 && iof_time_mono_ms() - m0 < 15000) {
        struct iof_ws_msg m = {0};
        if (iof_ws_client_recv(w, 200, &m) != IOF_OK) {
            continue;
        }
        int64_t now = iof_time_now_ms();
        assert_int_equal(m.opcode, IOF_WS_TEXT);
        assert_true(m.len > 0 && m.data[m.len - 1] == '\n'); /* whole lines only */
        first = first < 0 ? now - t0 : first;
        frames++;
        for (const char *p = (const char *)m.data; *p != '\0';) {
            const char *nl = strchr(p, '\n');
            int64_t delay = line_delay(p, (size_t)(nl - p), now);
            if (delay >= 0 && lines > 0) { /* the first line may be from before (tail) */
                worst = delay > worst ? delay : worst;
            }
            lines += delay >= 0;
            p = nl + 1;
        }
        iof_ws_msg_free(&m);
    }
    printf("log WebSocket: first frame %lld ms after connecting; %d lines in %d frames; worst "
           "line delay %lld ms\n",
           (long long)first,
           lines,
           frames,
           (long long)worst);
    assert_true(lines >= 8);
    assert_true(worst < 1000);

    /* Deleting the microservice ends it: a last line saying why, then a clean close. */
    assert_int_equal(
        api_callf(a->ctl, "DELETE", a->user, NULL, NULL, "/api/v3/microservices/%s", uuid), 204);
    m0 = iof_time_mono_ms();
    bool noted = false;
    uint16_t status = 0;
    while (status == 0 && iof_time_mono_ms() - m0 < 20000) {
        struct iof_ws_msg m = {0};
        if (iof_ws_client_recv(w, 200, &m) != IOF_OK) {
            continue;
        }
        if (m.opcode == IOF_WS_CLOSE) {
            status = m.status;
        } else {
            noted = noted || strstr((const char *)m.data,
                                    "-- the container stopped or was "
                                    "removed --") != NULL;
        }
        iof_ws_msg_free(&m);
    }
    printf("log WebSocket closed (%u) %lld ms after the delete\n",
           (unsigned)status,
           (long long)(iof_time_mono_ms() - m0));
    assert_true(noted);
    assert_int_equal(status, 1000);
    iof_ws_client_free(w);
}

/* A container that keeps exiting: the Agent counts its restarts, the Controller stores them and
 * the CLI's table shows them. */
static void test_restarts_column(void **state) {
    struct ctx *c = *state;
    struct agent_fixture *a = c->a;
    char uuid[64];
    add_msvc(a, "crasher", IMAGE_CRASH, uuid);
    json_int_t restarts = -1;
    int64_t t0 = iof_time_mono_ms();
    while (restarts < 2 && iof_time_mono_ms() - t0 < 30000) {
        json_t *ans = NULL;
        if (api_callf(a->ctl, "GET", a->user, NULL, &ans, "/api/v3/microservices/%s", uuid) ==
            200) {
            const json_t *r = json_object_get(json_object_get(ans, "status"), "restarts");
            restarts = json_is_integer(r) ? json_integer_value(r) : -1;
        }
        json_decref(ans);
        nanosleep(&(struct timespec){.tv_nsec = 200 * 1000 * 1000}, NULL);
    }
    printf("restarts reported: %lld after %lld ms\n",
           (long long)restarts,
           (long long)(iof_time_mono_ms() - t0));
    assert_true(restarts >= 2);

    char out[8192];
    assert_int_equal(
        cli_run(a->ctl, true, out, sizeof out, "microservice", "list", "--output", "table", NULL),
        0);
    assert_non_null(strstr(out, "RESTARTS"));
    const char *row = strstr(out, "crasher");
    assert_non_null(row);
    const char *eol = strchr(row, '\n');
    size_t len = eol != NULL ? (size_t)(eol - row) : strlen(row);
    while (len > 0 && row[len - 1] == ' ') {
        len--;
    }
    size_t start = len;
    while (start > 0 && row[start - 1] != ' ') {
        start--;
    }
    long shown = strtol(row + start, NULL, 10);
    printf("table row: %.*s\n", (int)len, row);
    assert_true(shown >= 2);
    assert_int_equal(
        api_callf(a->ctl, "DELETE", a->user, NULL, NULL, "/api/v3/microservices/%s", uuid), 204);
}

static void test_agent_log(void **state) {
    struct ctx *c = *state;
    struct agent_fixture *a = c->a;
    struct follower once = {.a = a};
    pthread_mutex_init(&once.mu, NULL);
    (void)snprintf(once.path, sizeof once.path, "/api/v3/iofog/%s/logs?tail=20", a->node);
    follow_main(&once);
    assert_int_equal(once.err, IOF_OK);
    assert_int_equal(once.status, 200);
    /* the fixture sends the Agent's stderr to a file: its own lines are there */
    assert_non_null(strstr(once.text, "agent"));
    pthread_mutex_destroy(&once.mu);
}

static void test_events_of_a_missing_image(void **state) {
    struct ctx *c = *state;
    struct agent_fixture *a = c->a;
    char uuid[64];
    add_msvc(a, "ghost", IMAGE_GONE, uuid);
    assert_int_equal(wait_status(a, uuid, "FAILED", 15000), 0);
    json_t *ans = NULL;
    const char *reason = NULL;
    int64_t t0 = iof_time_mono_ms();
    while (reason == NULL && iof_time_mono_ms() - t0 < 15000) {
        json_decref(ans);
        ans = NULL;
        assert_int_equal(
            api_callf(a->ctl, "GET", a->user, NULL, &ans, "/api/v3/microservices/%s/events", uuid),
            200);
        size_t i;
        const json_t *e;
        json_array_foreach(json_object_get(ans, "events"), i, e) {
            if (strcmp(jstr(e, "type"), "failed") == 0 && strstr(jstr(e, "message"), "not found")) {
                reason = jstr(e, "message");
            }
        }
        if (reason == NULL) {
            nanosleep(&(struct timespec){.tv_nsec = 200 * 1000 * 1000}, NULL);
        }
    }
    assert_non_null(reason);
    assert_non_null(strstr(reason, IMAGE_GONE));
    json_decref(ans);

    char out[8192];
    assert_int_equal(
        cli_run(a->ctl, true, out, sizeof out, "microservice", "describe", "ghost", NULL), 0);
    assert_non_null(strstr(out, "FAILED"));
    assert_non_null(strstr(out, "failed"));
    assert_non_null(strstr(out, "not found in the local cache"));

    /* The node goes offline: what it reported last is still there. */
    assert_int_equal(agent_daemon_term(a), 0);
    assert_int_equal(
        cli_run(a->ctl, true, out, sizeof out, "microservice", "describe", "ghost", NULL), 0);
    assert_non_null(strstr(out, "not found in the local cache"));
    assert_int_equal(agent_daemon_spawn(a), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_follow_logs_until_deleted),
        cmocka_unit_test(test_ws_logs_until_deleted),
        cmocka_unit_test(test_restarts_column),
        cmocka_unit_test(test_agent_log),
        cmocka_unit_test(test_events_of_a_missing_image),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
