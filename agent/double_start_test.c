/* Two Agents on one Local API port: the second refuses, in the foreground and in the background,
 * within a second and with the address and how to stop the first in its message; the first keeps
 * answering its CLI. Real binaries only (agent_testutil.h). */
#include "agent/agent_testutil.h"
#include "common/test_cmd.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#define LIMIT_MS 1000 /* "exit non-zero within a second" */

struct fx {
    struct agent_fixture *first; /* running in the foreground on first->local_port */
    char other[400];             /* a second config directory, same Local API port */
    char port[16];
};

static int setup(void **state) {
    struct fx *x = calloc(1, sizeof *x);
    x->first = agent_fixture_new("double-start");
    if (x->first == NULL || agent_daemon_spawn(x->first) != 0) {
        fprintf(stderr, "setup: the first Agent did not start\n");
        return -1;
    }
    (void)snprintf(x->port, sizeof x->port, "%u", (unsigned)x->first->local_port);
    (void)snprintf(x->other, sizeof x->other, "%s/second-agent", x->first->ctl->dir);
    char data[500], log[500];
    (void)snprintf(data, sizeof data, "%s/data", x->other);
    (void)snprintf(log, sizeof log, "%s/log", x->other);
    const char *argv[] = {AGENT_BINARY,
                          "config",
                          "-dl",
                          data,
                          "-ld",
                          log,
                          "-lp",
                          x->port,
                          "--config-dir",
                          x->other,
                          NULL};
    char out[4096];
    int rc = test_cmd_run(NULL, out, sizeof out, NULL, argv);
    if (rc != 0) {
        fprintf(stderr, "setup: config of the second Agent: %d\n%s", rc, out);
        return -1;
    }
    *state = x;
    return 0;
}

static int teardown(void **state) {
    struct fx *x = *state;
    (void)test_cmd_rmtree(x->other);
    int rc = agent_fixture_free(x->first);
    free(x);
    return rc == 0 ? 0 : -1;
}

static void expect_in_use(const char *out, const struct fx *x, const char *config_dir) {
    char want[900];
    (void)snprintf(want,
                   sizeof want,
                   "address 127.0.0.1:%s is already in use (is another Agent running? "
                   "iofog-agent stop --config-dir %s)",
                   x->port,
                   config_dir);
    if (strstr(out, want) == NULL) {
        fail_msg("expected '%s' in:\n%s", want, out);
    }
}

/* The first Agent still answers its CLI, every time. */
static void first_answers_all(struct fx *x) {
    for (int i = 0; i < 10; i++) {
        char out[4096];
        int rc = agent_cli(x->first, out, sizeof out, "status");
        if (rc != 0) {
            fail_msg("status %d of the first Agent: %d\n%s", i, rc, out);
        }
    }
}

static void test_second_in_foreground(void **state) {
    struct fx *x = *state;
    const char *argv[] = {AGENT_BINARY, "start", "--foreground", "--config-dir", x->other, NULL};
    char out[8192];
    int64_t ms = 0;
    int rc = test_cmd_run(NULL, out, sizeof out, &ms, argv);
    printf("second Agent (foreground): exit %d after %lld ms\n", rc, (long long)ms);
    assert_true(rc > 0 && rc < 128); /* an exit, not a crash or the time limit */
    expect_in_use(out, x, x->other);
    assert_true(ms < LIMIT_MS);
    first_answers_all(x);
}

static void test_second_in_background(void **state) {
    struct fx *x = *state;
    const char *argv[] = {AGENT_BINARY, "start", "--config-dir", x->other, NULL};
    char out[8192];
    int64_t ms = 0;
    int rc = test_cmd_run(NULL, out, sizeof out, &ms, argv);
    printf("second Agent (background): exit %d after %lld ms\n", rc, (long long)ms);
    assert_true(rc > 0 && rc < 128);
    expect_in_use(out, x, x->other); /* the parent reports the daemon's own reason */
    assert_null(strstr(out, "Agent started"));
    assert_true(ms < LIMIT_MS);
    char pid[600];
    (void)snprintf(pid, sizeof pid, "%s/iofog-agent.pid", x->other);
    assert_int_not_equal(access(pid, F_OK), 0);
    /* the first one's own config directory (it runs in the foreground: no pid file to find) */
    const char *same[] = {AGENT_BINARY, "start", "--config-dir", x->first->dir, NULL};
    rc = test_cmd_run(NULL, out, sizeof out, &ms, same);
    assert_true(rc > 0 && rc < 128);
    expect_in_use(out, x, x->first->dir);
    assert_true(ms < LIMIT_MS);
    first_answers_all(x);
}

/* The --local-api-port flag on the command line is refused the same way. */
static void test_port_flag(void **state) {
    struct fx *x = *state;
    char third[500];
    (void)snprintf(third, sizeof third, "%s/third", x->other);
    char data[600], log[600];
    (void)snprintf(data, sizeof data, "%s/data", third);
    (void)snprintf(log, sizeof log, "%s/log", third);
    const char *cfg[] = {
        AGENT_BINARY, "config", "-dl", data, "-ld", log, "--config-dir", third, NULL};
    char out[8192];
    assert_int_equal(test_cmd_run(NULL, out, sizeof out, NULL, cfg), 0);
    const char *argv[] = {AGENT_BINARY,
                          "start",
                          "--foreground",
                          "--local-api-port",
                          x->port,
                          "--config-dir",
                          third,
                          NULL};
    int64_t ms = 0;
    int rc = test_cmd_run(NULL, out, sizeof out, &ms, argv);
    assert_true(rc > 0 && rc < 128);
    expect_in_use(out, x, third);
    assert_true(ms < LIMIT_MS);
    first_answers_all(x);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_second_in_foreground, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_in_background, setup, teardown),
        cmocka_unit_test_setup_teardown(test_port_flag, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
