/* Tests of the subcommand dispatcher and the exit-code table. */
#include "common/cli.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

static int calls;

static iof_err cmd_ok(int argc, char **argv, void *ctx) {
    (void)argv;
    calls++;
    *(int *)ctx = argc;
    return IOF_OK;
}

static iof_err cmd_missing(int argc, char **argv, void *ctx) {
    (void)argc;
    (void)argv;
    (void)ctx;
    calls++;
    return IOF_ENOENT;
}

static void test_dispatch(void **state) {
    (void)state;
    const struct iof_cli_command cmds[] = {{"run", "runs", cmd_ok}, {"find", "finds", cmd_missing}};
    int seen = 0;
    char prog[] = "prog", run_[] = "run", a[] = "a", b[] = "b", find_[] = "find", fly[] = "fly",
         help_[] = "--help";
    char *run[] = {prog, run_, a, b, NULL};
    calls = 0;
    assert_int_equal(iof_cli_dispatch("prog", "about", cmds, 2, 4, run, &seen), 0);
    assert_int_equal(calls, 1);
    assert_int_equal(seen, 3); /* the command sees its own name and two arguments */
    char *find[] = {prog, find_, NULL};
    assert_int_equal(iof_cli_dispatch("prog", "about", cmds, 2, 2, find, &seen), 3);
    char *unknown[] = {prog, fly, NULL};
    assert_int_equal(iof_cli_dispatch("prog", "about", cmds, 2, 2, unknown, &seen), 2);
    char *help[] = {prog, help_, NULL};
    assert_int_equal(iof_cli_dispatch("prog", "about", cmds, 2, 2, help, &seen), 0);
    char *none[] = {prog, NULL};
    assert_int_equal(iof_cli_dispatch("prog", "about", cmds, 2, 1, none, &seen), 2);
    assert_int_equal(calls, 2);
}

static void test_exit_codes(void **state) {
    (void)state;
    assert_int_equal(iof_cli_exit_code(IOF_OK), 0);
    assert_int_equal(iof_cli_exit_code(IOF_EINVAL), 2);
    assert_int_equal(iof_cli_exit_code(IOF_EAUTH), 5);
    assert_int_equal(iof_cli_exit_code(IOF_EINTERNAL), 1);
    for (int e = 1; e < IOF_ERR_COUNT; e++) {
        assert_int_not_equal(iof_cli_exit_code((iof_err)e), 0);
    }
}

static void test_version(void **state) {
    (void)state;
    char version[] = "version", now[] = "now";
    char *ok[] = {version, NULL};
    assert_int_equal(iof_cli_version("prog", "Prog", 1, ok), IOF_OK);
    char *extra[] = {version, now, NULL};
    assert_int_equal(iof_cli_version("prog", "Prog", 2, extra), IOF_EINVAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dispatch),
        cmocka_unit_test(test_exit_codes),
        cmocka_unit_test(test_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
