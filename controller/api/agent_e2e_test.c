/* The agent-facing API played end to end against the real binary: a node made with the user API,
 * its provisioning key from the user API, the agent's view of a deployed microservice, status
 * reports visible in the user API, stop/start reflected in the agent's view, and a long-poll
 * answered when `iofog-controller microservice update --microservice-id ... --config ...` runs. */
#include "controller/cli/cli_testutil.h"

#include "common/clock.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

struct e2e {
    struct api_fixture *f;
    char user[65];
    char node[64];
    char agent[64];
    char msvc[64];
};

static int setup(void **state) {
    struct e2e *e = calloc(1, sizeof *e);
    e->f = api_start();
    if (e->f == NULL || api_user(e->f, "edge-ops@example.com", e->user) != 0) {
        return -1;
    }
    *state = e;
    return 0;
}

static int teardown(void **state) {
    struct e2e *e = *state;
    api_stop(e->f);
    free(e);
    return 0;
}

/* Node and provisioning through the user API, then an application with one microservice. */
static void provision_and_deploy(struct e2e *e) {
    struct api_fixture *f = e->f;
    json_t *a = NULL;
    assert_int_equal(
        api_call(f, "POST", "/api/v3/iofog", e->user, "{\"name\":\"edge-1\",\"fogType\":1}", &a),
        201);
    (void)snprintf(e->node, sizeof e->node, "%s", jstr(a, "uuid"));
    json_decref(a);
    assert_int_equal(
        api_callf(f, "GET", e->user, NULL, &a, "/api/v3/iofog/%s/provisioning-key", e->node), 201);
    char body[128];
    (void)snprintf(body, sizeof body, "{\"key\":\"%s\",\"type\":1}", jstr(a, "key"));
    json_decref(a);
    assert_int_equal(api_call(f, "POST", "/api/v3/agent/provision", NULL, body, &a), 200);
    assert_string_equal(jstr(a, "uuid"), e->node);
    (void)snprintf(e->agent, sizeof e->agent, "%s", jstr(a, "token"));
    json_decref(a);
    /* A provisioning key works once. */
    assert_int_equal(api_call(f, "POST", "/api/v3/agent/provision", NULL, body, NULL), 404);

    assert_int_equal(
        api_call(f,
                 "POST",
                 "/api/v3/application",
                 e->user,
                 "{\"name\":\"demo\",\"isActivated\":true,\"microservices\":[{\"name\":\"sensor\","
                 "\"agentName\":\"edge-1\",\"config\":\"{\\\"frequency\\\":1000}\","
                 "\"images\":[{\"containerImage\":\"demo/sensor:1\",\"fogTypeId\":1}]}]}",
                 NULL),
        201);
    assert_int_equal(
        api_call(f, "GET", "/api/v3/microservices?application=demo", e->user, NULL, &a), 200);
    json_t *m = json_array_get(json_object_get(a, "microservices"), 0);
    (void)snprintf(e->msvc, sizeof e->msvc, "%s", jstr(m, "uuid"));
    json_decref(a);
    assert_int_equal(strlen(e->msvc), 32);
}

static void test_agent_view_status_and_lifecycle(void **state) {
    struct e2e *e = *state;
    struct api_fixture *f = e->f;
    provision_and_deploy(e);
    json_t *a = NULL;
    assert_int_equal(api_call(f, "GET", "/api/v3/agent/microservices", e->agent, NULL, &a), 200);
    json_t *list = json_object_get(a, "microservices");
    assert_int_equal(json_array_size(list), 1);
    assert_string_equal(jstr(json_array_get(list, 0), "imageId"), "demo/sensor:1");
    assert_string_equal(jstr(json_array_get(list, 0), "config"), "{\"frequency\":1000}");
    json_decref(a);

    char report[1024];
    (void)snprintf(
        report,
        sizeof report,
        "{\"daemonStatus\":\"RUNNING\",\"cpuUsage\":3.5,\"memoryUsage\":64,"
        "\"microserviceStatus\":\"[{\\\"id\\\":\\\"%s\\\",\\\"status\\\":\\\"PULLING\\\","
        "\\\"percentage\\\":37,\\\"containerId\\\":\\\"\\\",\\\"errorMessage\\\":"
        "\\\"slow registry\\\"}]\"}",
        e->msvc);
    assert_int_equal(api_call(f, "PUT", "/api/v3/agent/status", e->agent, report, NULL), 204);
    assert_int_equal(api_callf(f, "GET", e->user, NULL, &a, "/api/v3/microservices/%s", e->msvc),
                     200);
    json_t *status = json_object_get(a, "status");
    assert_string_equal(jstr(status, "status"), "PULLING");
    assert_true(json_number_value(json_object_get(status, "percentage")) == 37);
    assert_string_equal(jstr(status, "errorMessage"), "slow registry");
    /* a classic agent's report has no restart count: 0 */
    assert_int_equal(json_integer_value(json_object_get(status, "restarts")), 0);
    assert_true(json_is_integer(json_object_get(status, "restarts")));
    json_decref(a);

    /* ours reports it (a negative one is taken as 0); the application view shows it too */
    const long long sent[][2] = {{3, 3}, {-5, 0}};
    for (size_t i = 0; i < 2; i++) {
        (void)snprintf(report,
                       sizeof report,
                       "{\"microserviceStatus\":\"[{\\\"id\\\":\\\"%s\\\",\\\"status\\\":"
                       "\\\"RUNNING\\\",\\\"restarts\\\":%lld}]\"}",
                       e->msvc,
                       sent[i][0]);
        assert_int_equal(api_call(f, "PUT", "/api/v3/agent/status", e->agent, report, NULL), 204);
        assert_int_equal(
            api_callf(f, "GET", e->user, NULL, &a, "/api/v3/microservices/%s", e->msvc), 200);
        status = json_object_get(a, "status");
        assert_int_equal(json_integer_value(json_object_get(status, "restarts")), sent[i][1]);
        json_decref(a);
        assert_int_equal(api_call(f, "GET", "/api/v3/application/demo", e->user, NULL, &a), 200);
        status = json_object_get(json_array_get(json_object_get(a, "microservices"), 0), "status");
        assert_int_equal(json_integer_value(json_object_get(status, "restarts")), sent[i][1]);
        json_decref(a);
    }
    assert_int_equal(api_callf(f, "GET", e->user, NULL, &a, "/api/v3/iofog/%s", e->node), 200);
    assert_string_equal(jstr(a, "daemonStatus"), "RUNNING");
    json_decref(a);

    /* Stop: the agent no longer gets the microservice; start: it is back. */
    assert_int_equal(
        api_callf(f, "PATCH", e->user, NULL, NULL, "/api/v3/microservices/%s/stop", e->msvc), 204);
    assert_int_equal(api_call(f, "GET", "/api/v3/agent/microservices", e->agent, NULL, &a), 200);
    assert_int_equal(json_array_size(json_object_get(a, "microservices")), 0);
    json_decref(a);
    assert_int_equal(
        api_callf(f, "PATCH", e->user, NULL, NULL, "/api/v3/microservices/%s/start", e->msvc), 204);
    assert_int_equal(api_call(f, "GET", "/api/v3/agent/microservices", e->agent, NULL, &a), 200);
    assert_int_equal(json_array_size(json_object_get(a, "microservices")), 1);
    json_decref(a);

    /* Deprovisioned: the token is refused. */
    assert_int_equal(api_call(f, "POST", "/api/v3/agent/deprovision", e->agent, "{}", NULL), 204);
    assert_int_equal(api_call(f, "GET", "/api/v3/agent/config", e->agent, NULL, NULL), 401);
}

static void test_cli_update_wakes_long_poll(void **state) {
    struct e2e *e = *state;
    struct api_fixture *f = e->f;
    provision_and_deploy(e);
    /* Acknowledge what deployment raised, so the poll has to wait. */
    assert_int_equal(api_ack_changes(f, e->agent), 0);

    struct api_long_poll p = {.port = f->port, .token = e->agent};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, api_long_poll_main, &p), 0);
    nanosleep(&(struct timespec){.tv_nsec = 300 * 1000 * 1000}, NULL);
    assert_int_equal(p.done_ms, 0); /* held */
    char out[4096];
    int64_t cli_start = iof_time_mono_ms();
    assert_int_equal(cli_run(f,
                             true,
                             out,
                             sizeof out,
                             "microservice",
                             "update",
                             "--microservice-id",
                             e->msvc,
                             "--config",
                             "{\"myCustomValue\": true, \"someSecretKey\": \"private-value\"}",
                             NULL),
                     0);
    int64_t cli_end = iof_time_mono_ms();
    pthread_join(t, NULL);
    assert_int_equal(p.status, 200);
    assert_true(json_is_true(json_object_get(p.answer, "microserviceConfig")));
    json_decref(p.answer);
    print_message("long-poll answered %lld ms after the CLI started (CLI ran %lld ms)\n",
                  (long long)(p.done_ms - cli_start),
                  (long long)(cli_end - cli_start));
    /* The change is committed before the CLI gets its answer, and wakes the poll at once. */
    assert_true(p.done_ms - cli_end <= 100);

    json_t *a = NULL;
    assert_int_equal(
        api_callf(f, "GET", e->agent, NULL, &a, "/api/v3/agent/microservices/%s", e->msvc), 200);
    assert_non_null(strstr(jstr(json_object_get(a, "microservice"), "config"), "private-value"));
    json_decref(a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_agent_view_status_and_lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_update_wakes_long_poll, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
