/* The config directory of the CLI: IOFOG_AGENT_CONFIG_DIR works like --config-dir, and a command
 * pointed at a directory with no Agent names both in its error. Real binaries only. */
#include "agent/agent_testutil.h"
#include "common/test_cmd.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

struct fx {
    struct agent_fixture *agent; /* running in the foreground */
    char empty[400];             /* a directory where no Agent ever ran */
    char dir_env[500];
    char empty_env[500];
};

static int setup(void **state) {
    struct fx *x = calloc(1, sizeof *x);
    x->agent = agent_fixture_new("config-dir");
    if (x->agent == NULL || agent_daemon_spawn(x->agent) != 0) {
        return -1;
    }
    (void)snprintf(x->empty, sizeof x->empty, "%s/no-agent-here", x->agent->ctl->dir);
    (void)snprintf(x->dir_env, sizeof x->dir_env, "IOFOG_AGENT_CONFIG_DIR=%s", x->agent->dir);
    (void)snprintf(x->empty_env, sizeof x->empty_env, "IOFOG_AGENT_CONFIG_DIR=%s", x->empty);
    *state = x;
    return 0;
}

static int teardown(void **state) {
    struct fx *x = *state;
    (void)test_cmd_rmtree(x->empty);
    int rc = agent_fixture_free(x->agent);
    free(x);
    return rc == 0 ? 0 : -1;
}

static void expect_names_both(const char *out) {
    if (strstr(out, "--config-dir DIR") == NULL || strstr(out, "IOFOG_AGENT_CONFIG_DIR") == NULL) {
        fail_msg("the error does not name --config-dir and IOFOG_AGENT_CONFIG_DIR:\n%s", out);
    }
}

static void test_env_names_the_directory(void **state) {
    struct fx *x = *state;
    const char *status[] = {AGENT_BINARY, "status", NULL};
    const char *env[] = {x->dir_env, NULL};
    char out[8192];
    int rc = test_cmd_run(env, out, sizeof out, NULL, status);
    if (rc != 0 || strstr(out, "iofog-daemon") == NULL) {
        fail_msg("status with IOFOG_AGENT_CONFIG_DIR: %d\n%s", rc, out);
    }
    /* the flag wins over the environment */
    const char *flagged[] = {AGENT_BINARY, "status", "--config-dir", x->agent->dir, NULL};
    const char *wrong_env[] = {x->empty_env, NULL};
    rc = test_cmd_run(wrong_env, out, sizeof out, NULL, flagged);
    if (rc != 0 || strstr(out, "iofog-daemon") == NULL) {
        fail_msg("status --config-dir over a wrong IOFOG_AGENT_CONFIG_DIR: %d\n%s", rc, out);
    }
}

static void test_no_agent_there(void **state) {
    struct fx *x = *state;
    char out[8192];
    const char *status[] = {AGENT_BINARY, "status", NULL};
    const char *env[] = {x->empty_env, NULL};
    int rc = test_cmd_run(env, out, sizeof out, NULL, status);
    assert_true(rc > 0 && rc < 128);
    assert_non_null(strstr(out, "the Agent is not running"));
    assert_non_null(strstr(out, x->empty));
    expect_names_both(out);
    const char *info[] = {AGENT_BINARY, "info", "--config-dir", x->empty, NULL};
    const char *no_env[] = {"IOFOG_AGENT_CONFIG_DIR", NULL};
    rc = test_cmd_run(no_env, out, sizeof out, NULL, info);
    assert_true(rc > 0 && rc < 128);
    assert_non_null(strstr(out, x->empty));
    expect_names_both(out);
    const char *stop[] = {AGENT_BINARY, "stop", "--config-dir", x->empty, NULL};
    rc = test_cmd_run(no_env, out, sizeof out, NULL, stop);
    assert_true(rc > 0 && rc < 128);
    expect_names_both(out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_env_names_the_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_agent_there, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
