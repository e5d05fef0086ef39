/* GET /metrics on a real Controller binary: the text passes the strict format check, requests are
 * counted by route and status (an unknown path as route "none"), the latency histogram counts the
 * same requests, a held long-poll shows in the gauge while it is held, and nodes are counted by
 * daemon status. */
#include "common/prom_testutil.h"
#include "controller/api/api_testutil.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#define FOG "fogMMMMMMMMMMMMMMMMMMMMMMMMMMMMM"
#define STATUS_200                                                                                 \
    "iofog_controller_http_requests_total{method=\"GET\",route=\"/api/v3/status\",status=\"200\"}"
#define NONE_404 "iofog_controller_http_requests_total{method=\"\",route=\"none\",status=\"404\"}"
#define STATUS_COUNT                                                                               \
    "iofog_controller_http_request_duration_seconds_count{method=\"GET\",route=\"/api/v3/"         \
    "status\"}"

static void sql(struct api_fixture *f, const char *text) {
    struct iof_diag d = {{0}};
    if (ctl_db_exec(ctl_store_db(f->store), text, NULL, 0, NULL, NULL, NULL, &d) != IOF_OK) {
        fail_msg("SQL failed: %s: %s", text, d.msg);
    }
}

/* The /metrics text (caller frees), after checking the status and the format. */
static char *scrape(struct api_fixture *f) {
    char url[128];
    (void)snprintf(url, sizeof url, "http://127.0.0.1:%u/metrics", (unsigned)f->port);
    struct iof_http_response r;
    struct iof_diag d = {{0}};
    assert_int_equal(iof_http_client_request(f->http, "GET", url, NULL, NULL, 0, &r, &d), IOF_OK);
    assert_int_equal(r.status, 200);
    char *text = calloc(1, r.body.len + 1);
    assert_non_null(text);
    if (r.body.len > 0) {
        memcpy(text, r.body.data, r.body.len);
    }
    iof_http_response_free(&r);
    const char *err = prom_check(text);
    if (err != NULL) {
        fail_msg("metrics format: %s\n%s", err, text);
    }
    return text;
}

/* The value of the series written exactly as `series` (name{labels}), -1 when absent. */
static double value_of(const char *text, const char *series) {
    size_t n = strlen(series);
    for (const char *p = text; (p = strstr(p, series)) != NULL; p += n) {
        if ((p == text || p[-1] == '\n') && p[n] == ' ') {
            return strtod(p + n + 1, NULL);
        }
    }
    return -1;
}

static void sleep_ms(long ms) {
    nanosleep(&(struct timespec){.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L}, NULL);
}

static int setup(void **state) {
    *state = api_start();
    return *state != NULL ? 0 : -1;
}

static int teardown(void **state) {
    api_stop(*state);
    return 0;
}

static void test_controller_metrics(void **state) {
    struct api_fixture *f = *state;
    char user_token[65];
    assert_int_equal(api_user(f, "metrics@example.com", user_token), 0);

    /* the fixture's own start-up probes were counted already: compare with this first scrape */
    char *t0 = scrape(f);
    double status0 = value_of(t0, STATUS_200);
    double none0 = value_of(t0, NONE_404);
    double hist0 = value_of(t0, STATUS_COUNT);
    status0 = status0 < 0 ? 0 : status0;
    none0 = none0 < 0 ? 0 : none0;
    hist0 = hist0 < 0 ? 0 : hist0;
    assert_true(value_of(t0, "iofog_controller_http_held_requests") == 0);
    assert_true(value_of(t0, "process_resident_memory_bytes") > 100000);
    free(t0);

    for (int i = 0; i < 3; i++) {
        assert_int_equal(api_call(f, "GET", "/api/v3/status", NULL, NULL, NULL), 200);
    }
    assert_int_equal(api_call(f, "GET", "/api/v3/no-such-thing", NULL, NULL, NULL), 404);
    assert_int_equal(api_call(f, "GET", "/api/v3/iofog-list", NULL, NULL, NULL), 401);

    /* Two nodes: one RUNNING, one provisioned (below; UNKNOWN until it reports). */
    char hash[65], text[512];
    /* active "now" with a long status frequency, so liveness leaves it RUNNING during the test */
    (void)snprintf(text,
                   sizeof text,
                   "INSERT INTO fogs (uuid, name, user_id, daemon_status, last_active,"
                   " status_frequency) VALUES ('fogRRRRRRRRRRRRRRRRRRRRRRRRRRRRR', 'running', 1,"
                   " 'RUNNING', %lld, 600)",
                   (long long)iof_time_now_ms());
    sql(f, text);
    ctl_token_hash("KEYMETR1", hash);
    sql(f, "INSERT INTO fogs (uuid, name, user_id) VALUES ('" FOG "', 'node-m', 1)");
    (void)snprintf(text,
                   sizeof text,
                   "INSERT INTO fog_provision_keys (fog_uuid, key_hash, expiration_time)"
                   " VALUES ('" FOG "', '%s', %lld)",
                   hash,
                   (long long)(iof_time_now_ms() + 600000));
    sql(f, text);
    json_t *ans = NULL;
    assert_int_equal(
        api_call(
            f, "POST", "/api/v3/agent/provision", NULL, "{\"key\":\"KEYMETR1\",\"type\":1}", &ans),
        200);
    char token[65];
    (void)snprintf(token, sizeof token, "%s", jstr(ans, "token"));
    json_decref(ans);
    /* the first long-poll answers at once (changes pending after provisioning): acknowledge */
    assert_int_equal(api_ack_changes(f, token), 0);

    char *t1 = scrape(f);
    assert_true(value_of(t1, STATUS_200) - status0 == 3);
    assert_true(value_of(t1, NONE_404) - none0 == 1);
    assert_true(value_of(t1,
                         "iofog_controller_http_requests_total{method=\"GET\",route=\"/api/v3/"
                         "iofog-list\",status=\"401\"}") == 1);
    assert_true(value_of(t1, STATUS_COUNT) - hist0 == 3);
    assert_true(value_of(t1,
                         "iofog_controller_http_request_duration_seconds_bucket{method=\"GET\","
                         "route=\"/api/v3/status\",le=\"+Inf\"}") == value_of(t1, STATUS_COUNT));
    /* the first scrape is counted once it completed */
    assert_true(value_of(t1,
                         "iofog_controller_http_requests_total{method=\"GET\",route=\"/metrics\","
                         "status=\"200\"}") == 1);
    assert_true(value_of(t1, "iofog_controller_nodes{status=\"RUNNING\"}") == 1);
    assert_true(value_of(t1, "iofog_controller_nodes{status=\"UNKNOWN\"}") == 1);
    free(t1);

    /* A held long-poll shows in the gauge while it is held, and is gone once answered. */
    struct api_long_poll lp = {.port = f->port, .token = token, .wait_s = 3};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, api_long_poll_main, &lp), 0);
    double held = 0;
    for (int i = 0; i < 100 && held != 1; i++) {
        char *t = scrape(f);
        held = value_of(t, "iofog_controller_http_held_requests");
        free(t);
        if (held != 1) {
            sleep_ms(20);
        }
    }
    assert_true(held == 1);
    pthread_join(th, NULL);
    assert_int_equal(lp.status, 200);
    json_decref(lp.answer);
    /* The server counts a request as done once its answer is sent, which may be a moment after the
     * client has read it: look again for up to 1 s. */
#define CHANGES_LE(b)                                                                              \
    "iofog_controller_http_request_duration_seconds_bucket{method=\"GET\","                        \
    "route=\"/api/v3/agent/config/changes\",le=\"" b "\"}"
    char *t2 = scrape(f);
    for (int i = 0;
         i < 50 && (value_of(t2, "iofog_controller_http_held_requests") != 0 ||
                    value_of(t2, CHANGES_LE("5")) - value_of(t2, CHANGES_LE("2.5")) != 1);
         i++) {
        free(t2);
        sleep_ms(20);
        t2 = scrape(f);
    }
    assert_true(value_of(t2, "iofog_controller_http_held_requests") == 0);
    assert_true(value_of(t2,
                         "iofog_controller_http_request_duration_seconds_bucket{method=\"GET\","
                         "route=\"/api/v3/agent/config/changes\",le=\"1\"}") >= 0);
    /* the held request took ~3 s: counted above the 2.5 s bound, within 5 s */
    double le25 = value_of(t2,
                           "iofog_controller_http_request_duration_seconds_bucket{method=\"GET\","
                           "route=\"/api/v3/agent/config/changes\",le=\"2.5\"}");
    double le5 = value_of(t2,
                          "iofog_controller_http_request_duration_seconds_bucket{method=\"GET\","
                          "route=\"/api/v3/agent/config/changes\",le=\"5\"}");
    assert_true(le5 - le25 == 1);
    free(t2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_controller_metrics, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
