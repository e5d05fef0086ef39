/* GET /metrics on a real iofog-agent daemon: the text passes the strict format check, every
 * microservice status has a series (0 with nothing deployed), a message published over the Local
 * API with no route counts as published and unroutable (not delivered), NATS shows as not
 * connected when none is configured, and the resident memory is reported. */
#include "agent/agent_testutil.h"
#include "common/prom_testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

static char *scrape(struct agent_fixture *a) {
    struct iof_http_client *http = NULL;
    assert_int_equal(iof_http_client_new(NULL, &http), IOF_OK);
    char url[128];
    (void)snprintf(url, sizeof url, "http://127.0.0.1:%u/metrics", (unsigned)a->local_port);
    struct iof_http_response r;
    struct iof_diag d = {{0}};
    assert_int_equal(iof_http_client_request(http, "GET", url, NULL, NULL, 0, &r, &d), IOF_OK);
    assert_int_equal(r.status, 200);
    char *text = calloc(1, r.body.len + 1);
    assert_non_null(text);
    if (r.body.len > 0) {
        memcpy(text, r.body.data, r.body.len);
    }
    iof_http_response_free(&r);
    iof_http_client_free(http);
    const char *err = prom_check(text);
    if (err != NULL) {
        fail_msg("metrics format: %s\n%s", err, text);
    }
    return text;
}

/* The value of the series written exactly as `series`, -1 when absent. */
static double value_of(const char *text, const char *series) {
    size_t n = strlen(series);
    for (const char *p = text; (p = strstr(p, series)) != NULL; p += n) {
        if ((p == text || p[-1] == '\n') && p[n] == ' ') {
            return strtod(p + n + 1, NULL);
        }
    }
    return -1;
}

static int setup(void **state) {
    struct agent_fixture *a = agent_fixture_new("metrics-node");
    if (a == NULL || agent_daemon_spawn(a) != 0) {
        return -1;
    }
    *state = a;
    return 0;
}

static int teardown(void **state) {
    return agent_fixture_free(*state) == 0 ? 0 : -1;
}

static void test_agent_metrics(void **state) {
    struct agent_fixture *a = *state;
    char *t0 = scrape(a);
    assert_true(value_of(t0, "iofog_agent_microservices{status=\"RUNNING\"}") == 0);
    assert_true(value_of(t0, "iofog_agent_microservices{status=\"FAILED\"}") == 0);
    assert_true(value_of(t0, "iofog_agent_messages_published_total") == 0);
    assert_true(value_of(t0, "iofog_agent_nats_connected") == 0);
    assert_true(value_of(t0, "iofog_agent_nats_messages_dropped_total{reason=\"buffer_full\"}") ==
                0);
    assert_true(value_of(t0, "process_resident_memory_bytes") > 100000);
    free(t0);

    assert_int_equal(agent_local_post(a,
                                      "/v2/messages/new",
                                      "{\"publisher\":\"nobody\",\"version\":4,\"infotype\":"
                                      "\"text\",\"infoformat\":\"utf-8\",\"contentdata\":\"aGk=\"}",
                                      NULL),
                     200);
    char *t1 = scrape(a);
    assert_true(value_of(t1, "iofog_agent_messages_published_total") == 1);
    assert_true(value_of(t1, "iofog_agent_messages_unroutable_total") == 1);
    assert_true(value_of(t1, "iofog_agent_messages_delivered_total") == 0);
    assert_true(value_of(t1, "iofog_agent_messages_dropped_total") == 0);
    free(t1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_agent_metrics, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
