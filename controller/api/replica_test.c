/* Several Controllers on one PostgreSQL database (runs as controller_replica_test_pg; skipped on
 * SQLite, which one Controller owns): credentials made through one replica work on the other, a
 * config change made through one wakes an agent's long-poll held by the other within 100 ms, and
 * the liveness job runs on one replica only, handed over when that one stops. */
#include "common/clock.h"
#include "controller/domain/agent_wait.h"
#include "controller/api/api_testutil.h"
#include "controller/domain/liveness.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#define ROUNDS 20

static void sleep_ms(long ms) {
    nanosleep(&(struct timespec){.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L}, NULL);
}

/* Creates a node through f as token; its uuid goes into uuid[33]. */
static void make_node(struct api_fixture *f, const char *token, const char *name, char uuid[33]) {
    char body[128];
    (void)snprintf(body, sizeof body, "{\"name\":\"%s\",\"fogType\":1}", name);
    json_t *ans = NULL;
    assert_int_equal(api_call(f, "POST", "/api/v3/iofog", token, body, &ans), 201);
    (void)snprintf(uuid, 33, "%s", jstr(ans, "uuid"));
    json_decref(ans);
}

/* Gets a provisioning key for the node through from and provisions it through to; the agent's
 * token goes into agent_token[128]. */
static void provision(struct api_fixture *from,
                      struct api_fixture *to,
                      const char *token,
                      const char *uuid,
                      char agent_token[128]) {
    json_t *ans = NULL;
    assert_int_equal(
        api_callf(from, "GET", token, NULL, &ans, "/api/v3/iofog/%s/provisioning-key", uuid), 201);
    char body[80];
    (void)snprintf(body, sizeof body, "{\"key\":\"%s\",\"type\":1}", jstr(ans, "key"));
    json_decref(ans);
    assert_int_equal(api_call(to, "POST", "/api/v3/agent/provision", NULL, body, &ans), 200);
    (void)snprintf(agent_token, 128, "%s", jstr(ans, "token"));
    json_decref(ans);
    assert_true(strlen(agent_token) > 0);
}

static void test_credentials_and_wake_across_replicas(void **state) {
    (void)state;
    if (!test_db_is_pg()) {
        skip(); /* SQLite: one Controller per database */
    }
    struct api_fixture *a = api_start();
    assert_non_null(a);
    struct api_fixture *b = api_start_on(a->db);
    assert_non_null(b);

    /* A user token issued by A works on B. */
    char tok[65];
    assert_int_equal(api_user(a, "replica@example.com", tok), 0);
    assert_int_equal(api_call(b, "GET", "/api/v3/iofog-list", tok, NULL, NULL), 200);

    /* A key drawn on B provisions through A, and one drawn on A through B; both agents' tokens
     * work on both replicas. */
    char n1[33], n2[33], t1[128], t2[128];
    make_node(a, tok, "node-one", n1);
    make_node(b, tok, "node-two", n2);
    provision(a, a, tok, n1, t1);
    provision(b, a, tok, n2, t2);
    assert_int_equal(api_call(b, "GET", "/api/v3/agent/config", t1, NULL, NULL), 200);
    assert_int_equal(api_call(a, "GET", "/api/v3/agent/config", t2, NULL, NULL), 200);

    /* The agent of node-one long-polls B; config changes go through A. */
    assert_int_equal(api_ack_changes(b, t1), 0);
    int64_t worst = 0;
    int64_t total = 0;
    for (int round = 0; round < ROUNDS; round++) {
        struct api_long_poll p = {.port = b->port, .token = t1};
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, api_long_poll_main, &p), 0);
        sleep_ms(100); /* the poll reaches B and is held (B is another process) */
        assert_int_equal(p.done_ms, 0);
        char body[64];
        (void)snprintf(body, sizeof body, "{\"cpuLimit\":%d}", 50 + round);
        int64_t sent = iof_time_mono_ms();
        assert_int_equal(api_callf(a, "PATCH", tok, body, NULL, "/api/v3/iofog/%s", n1), 204);
        pthread_join(t, NULL);
        assert_int_equal(p.status, 200);
        assert_true(json_is_true(json_object_get(p.answer, "config")));
        json_decref(p.answer);
        int64_t delay = p.done_ms - sent;
        worst = delay > worst ? delay : worst;
        total += delay;
        assert_int_equal(api_ack_changes(b, t1), 0);
    }
    print_message("replicas: config change via A -> long-poll on B answered: mean %.1f ms, "
                  "worst %lld ms over %d rounds\n",
                  (double)total / ROUNDS,
                  (long long)worst,
                  ROUNDS);
    assert_true(worst < 100);

    api_stop(b);
    api_stop(a);
}

static void test_liveness_runs_once(void **state) {
    (void)state;
    if (!test_db_is_pg()) {
        skip();
    }
    struct api_fixture *a = api_start_inproc();
    assert_non_null(a);
    struct iof_diag d = {{0}};
    int64_t changed = -2;
    /* A silent RUNNING node: whichever replica runs the job turns it UNKNOWN, once. */
    assert_int_equal(ctl_db_exec(ctl_store_db(a->store),
                                 "INSERT INTO fogs (uuid, name, daemon_status, last_active)"
                                 " VALUES ('silentnode', 'silent', 'RUNNING', 1)",
                                 NULL,
                                 0,
                                 NULL,
                                 NULL,
                                 NULL,
                                 &d),
                     IOF_OK);
    assert_int_equal(ctl_liveness_check(a->srv, &changed, &d), IOF_OK);
    assert_int_equal(changed, 1); /* A leads */

    struct api_fixture *b = api_start_inproc_on(a->db);
    assert_non_null(b);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ctl_liveness_check(b->srv, &changed, &d), IOF_OK);
        assert_int_equal(changed, -1); /* B does not run the job while A is there */
        assert_int_equal(ctl_liveness_check(a->srv, &changed, &d), IOF_OK);
        assert_int_equal(changed, 0);
    }

    a->db_borrowed = true; /* the database stays for b */
    b->db_borrowed = false;
    api_stop(a); /* its session ends, and with it the lock */
    assert_int_equal(
        ctl_db_exec(ctl_store_db(b->store),
                    "UPDATE fogs SET daemon_status = 'RUNNING' WHERE uuid = 'silentnode'",
                    NULL,
                    0,
                    NULL,
                    NULL,
                    NULL,
                    &d),
        IOF_OK);
    /* B takes over at its next check once A's session has ended on the server (soon after). */
    changed = -1;
    for (int i = 0; i < 100 && changed == -1; i++) {
        assert_int_equal(ctl_liveness_check(b->srv, &changed, &d), IOF_OK);
        if (changed == -1) {
            sleep_ms(20);
        }
    }
    assert_int_equal(changed, 1); /* B took over */
    api_stop(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_credentials_and_wake_across_replicas),
        cmocka_unit_test(test_liveness_runs_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
