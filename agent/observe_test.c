/* Operating a node from the Controller, against the real Controller, Agent and Docker Engine: a
 * microservice's log followed through the Controller (the Agent sends it outward over its own
 * connection) with each line arriving within a second of being printed and the stream ending
 * when the microservice is deleted; the Agent's own log; and the events of a microservice whose
 * image is missing, with the reason, also after its node went offline. */
#include "agent/agent_testutil.h"
#include "controller/cli/cli_testutil.h"

#include <pthread.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#define IMAGE_TALK "iofog-agent-e2e/talk:1"
#define IMAGE_GONE "iofog-agent-e2e/never-built:1"

struct ctx {
    struct agent_fixture *a;
};

static int setup(void **state) {
    if (system("bash scripts/dockerd.sh start >/dev/null 2>&1") != 0 ||
        system("bash scripts/test-image.sh " IMAGE_TALK " /bin/sh -c 'trap \"exit 0\" TERM; i=0; "
               "while :; do echo \"tick $i\"; i=$((i+1)); sleep 0.3 & wait $!; done' >/dev/null") !=
            0) {
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
        cmocka_unit_test(test_agent_log),
        cmocka_unit_test(test_events_of_a_missing_image),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
