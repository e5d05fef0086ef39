/* The data directory of the CLI: IOFOG_CONTROLLER_DATA_DIR works like --data-dir, and a command
 * pointed at a directory with no Controller names both in its error. Real binary only. */
#include "common/test_cmd.h"
#include "controller/api/api_testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

struct fx {
    struct api_fixture *ctl;
    char empty[256]; /* a directory without a Controller */
    char port_env[64];
    char dir_env[300];
    char empty_env[300];
};

static int setup(void **state) {
    struct fx *x = calloc(1, sizeof *x);
    x->ctl = api_start();
    if (x->ctl == NULL || test_tmpdir_make(x->empty, sizeof x->empty) != 0) {
        return -1;
    }
    (void)snprintf(x->port_env, sizeof x->port_env, "IOFOG_CONTROLLER_PORT=%u", x->ctl->port);
    (void)snprintf(x->dir_env, sizeof x->dir_env, "IOFOG_CONTROLLER_DATA_DIR=%s", x->ctl->dir);
    (void)snprintf(x->empty_env, sizeof x->empty_env, "IOFOG_CONTROLLER_DATA_DIR=%s", x->empty);
    *state = x;
    return 0;
}

static int teardown(void **state) {
    struct fx *x = *state;
    api_stop(x->ctl);
    (void)test_cmd_rmtree(x->empty);
    free(x);
    return 0;
}

static void expect_names_both(const char *out) {
    if (strstr(out, "--data-dir DIR") == NULL || strstr(out, "IOFOG_CONTROLLER_DATA_DIR") == NULL) {
        fail_msg("the error does not name --data-dir and IOFOG_CONTROLLER_DATA_DIR:\n%s", out);
    }
}

static void test_env_names_the_directory(void **state) {
    struct fx *x = *state;
    const char *argv[] = {API_BINARY, "user", "list", NULL};
    char out[8192];
    /* no flag at all: the environment says where the Controller is */
    const char *env[] = {x->dir_env, x->port_env, NULL};
    int rc = test_cmd_run(env, out, sizeof out, NULL, argv);
    if (rc != 0 || strstr(out, "\"users\"") == NULL) {
        fail_msg("user list with IOFOG_CONTROLLER_DATA_DIR: %d\n%s", rc, out);
    }
    /* the flag wins over the environment */
    const char *flagged[] = {API_BINARY, "user", "list", "--data-dir", x->ctl->dir, NULL};
    const char *wrong_env[] = {x->empty_env, x->port_env, NULL};
    rc = test_cmd_run(wrong_env, out, sizeof out, NULL, flagged);
    if (rc != 0 || strstr(out, "\"users\"") == NULL) {
        fail_msg("user list --data-dir over a wrong IOFOG_CONTROLLER_DATA_DIR: %d\n%s", rc, out);
    }
}

static void test_no_controller_there(void **state) {
    struct fx *x = *state;
    char out[8192];
    /* through the environment */
    const char *list[] = {API_BINARY, "user", "list", NULL};
    const char *env[] = {x->empty_env, x->port_env, NULL};
    int rc = test_cmd_run(env, out, sizeof out, NULL, list);
    assert_true(rc > 0 && rc < 128);
    char want[400];
    (void)snprintf(want, sizeof want, "no admin credential in %s", x->empty);
    if (strstr(out, want) == NULL) {
        fail_msg("expected '%s' in:\n%s", want, out);
    }
    expect_names_both(out);
    /* through the flag, another command family */
    const char *msvc[] = {API_BINARY, "microservice", "list", "--data-dir", x->empty, NULL};
    const char *no_env[] = {"IOFOG_CONTROLLER_DATA_DIR", x->port_env, NULL};
    rc = test_cmd_run(no_env, out, sizeof out, NULL, msvc);
    assert_true(rc > 0 && rc < 128);
    assert_non_null(strstr(out, want));
    expect_names_both(out);
    /* stop */
    const char *stop[] = {API_BINARY, "stop", "--data-dir", x->empty, NULL};
    rc = test_cmd_run(no_env, out, sizeof out, NULL, stop);
    assert_true(rc > 0 && rc < 128);
    assert_non_null(strstr(out, "no running Controller"));
    expect_names_both(out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_env_names_the_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_controller_there, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
