/* Configuration precedence: defaults < <data-dir>/controller.json < environment < flags, and the
 * errors for bad values. */
#include "controller/server/config.h"
#include "controller/store/test_tmpdir.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

static char dir[256];

static int setup(void **state) {
    (void)state;
    unsetenv("IOFOG_CONTROLLER_PORT");
    unsetenv("IOFOG_CONTROLLER_BIND");
    unsetenv("IOFOG_CONTROLLER_DATA_DIR");
    unsetenv("IOFOG_CONTROLLER_NATS_URL");
    unsetenv("IOFOG_LOG_LEVEL");
    return test_tmpdir_make(dir, sizeof dir);
}

static int teardown(void **state) {
    (void)state;
    return test_tmpdir_remove(dir);
}

static void write_file(const char *text) {
    char path[300];
    FILE *f = fopen(test_tmpdir_path(path, sizeof path, dir, "controller.json"), "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_defaults(void **state) {
    (void)state;
    struct ctl_config c;
    char cmd[] = "start", dd[] = "--data-dir";
    char *argv[] = {cmd, dd, dir, NULL};
    struct iof_diag d;
    assert_int_equal(ctl_config_load(&c, 3, argv, NULL, NULL, &d), IOF_OK);
    assert_int_equal(c.port, 51121);
    assert_string_equal(c.bind, "0.0.0.0");
    assert_string_equal(c.data_dir, dir);
    assert_int_equal(c.log_level, IOF_LOG_INFO);
    assert_string_equal(c.nats_url, "nats://127.0.0.1:4222");
    assert_int_equal(c.user_token_ttl_s, 3600);
    assert_int_equal(c.connection_memory, 8192);
}

static void test_precedence(void **state) {
    (void)state;
    write_file("{\"port\": 6000, \"bind\": \"127.0.0.1\", \"logLevel\": \"warn\","
               " \"natsUrl\": \"nats://file:4222\", \"httpThreads\": 4}");
    struct ctl_config c;
    struct iof_diag d;
    char cmd[] = "start", dd[] = "--data-dir", pf[] = "--port", pv[] = "7000",
         fg[] = "--foreground";
    char *argv[] = {cmd, dd, dir, NULL};
    assert_int_equal(ctl_config_load(&c, 3, argv, NULL, NULL, &d), IOF_OK);
    assert_int_equal(c.port, 6000); /* file over default */
    assert_string_equal(c.bind, "127.0.0.1");
    assert_int_equal(c.log_level, IOF_LOG_WARN);
    assert_int_equal(c.http_threads, 4);
    assert_string_equal(c.nats_url, "nats://file:4222");

    setenv("IOFOG_CONTROLLER_PORT", "6500", 1); /* environment over file */
    setenv("IOFOG_CONTROLLER_NATS_URL", "nats://env:4222", 1);
    assert_int_equal(ctl_config_load(&c, 3, argv, NULL, NULL, &d), IOF_OK);
    assert_int_equal(c.port, 6500);
    assert_string_equal(c.nats_url, "nats://env:4222");

    char *argv2[] = {cmd, dd, dir, pf, pv, fg, NULL}; /* flags over environment */
    static const char *const extra[] = {"--foreground", NULL};
    bool seen[1] = {false};
    assert_int_equal(ctl_config_load(&c, 6, argv2, extra, seen, &d), IOF_OK);
    assert_int_equal(c.port, 7000);
    assert_true(seen[0]);

    /* The data directory itself can come from the environment. */
    setenv("IOFOG_CONTROLLER_DATA_DIR", dir, 1);
    char *argv3[] = {cmd, NULL};
    assert_int_equal(ctl_config_load(&c, 1, argv3, NULL, NULL, &d), IOF_OK);
    assert_string_equal(c.data_dir, dir);
    assert_int_equal(c.port, 6500);
    unsetenv("IOFOG_CONTROLLER_DATA_DIR");
    unsetenv("IOFOG_CONTROLLER_PORT");
    unsetenv("IOFOG_CONTROLLER_NATS_URL");
}

/* The NATS authorization file and nats-server's pid file: file, environment, flags. */
static void test_nats_auth(void **state) {
    (void)state;
    write_file("{\"natsAuthFile\": \"/f/auth.conf\", \"natsPidFile\": \"/f/nats.pid\"}");
    struct ctl_config c;
    struct iof_diag d;
    char cmd[] = "start", dd[] = "--data-dir", af[] = "--nats-auth-file", av[] = "/x/auth.conf",
         pf[] = "--nats-pid-file=/x/nats.pid";
    char *argv[] = {cmd, dd, dir, NULL};
    assert_int_equal(ctl_config_load(&c, 3, argv, NULL, NULL, &d), IOF_OK);
    assert_string_equal(c.nats_auth_file, "/f/auth.conf");
    assert_string_equal(c.nats_pid_file, "/f/nats.pid");
    setenv("IOFOG_CONTROLLER_NATS_AUTH_FILE", "/e/auth.conf", 1);
    assert_int_equal(ctl_config_load(&c, 3, argv, NULL, NULL, &d), IOF_OK);
    assert_string_equal(c.nats_auth_file, "/e/auth.conf");
    char *argv2[] = {cmd, dd, dir, af, av, pf, NULL};
    assert_int_equal(ctl_config_load(&c, 6, argv2, NULL, NULL, &d), IOF_OK);
    assert_string_equal(c.nats_auth_file, "/x/auth.conf");
    assert_string_equal(c.nats_pid_file, "/x/nats.pid");
    unsetenv("IOFOG_CONTROLLER_NATS_AUTH_FILE");
    write_file("{}");
    assert_int_equal(ctl_config_load(&c, 3, argv, NULL, NULL, &d), IOF_OK);
    assert_string_equal(c.nats_auth_file, ""); /* default: no file, no per-node users */
}

static void test_errors(void **state) {
    (void)state;
    struct ctl_config c;
    struct iof_diag d;
    char cmd[] = "start", dd[] = "--data-dir", pf[] = "--port", bad[] = "70000", unk[] = "--fly",
         lvl[] = "--log-level", loud[] = "loud";
    char *a1[] = {cmd, dd, dir, pf, bad, NULL};
    assert_int_equal(ctl_config_load(&c, 5, a1, NULL, NULL, &d), IOF_EINVAL);
    assert_non_null(strstr(d.msg, "--port"));
    char *a2[] = {cmd, dd, dir, unk, NULL};
    assert_int_equal(ctl_config_load(&c, 4, a2, NULL, NULL, &d), IOF_EINVAL);
    assert_non_null(strstr(d.msg, "--fly"));
    char *a3[] = {cmd, dd, dir, lvl, loud, NULL};
    assert_int_equal(ctl_config_load(&c, 5, a3, NULL, NULL, &d), IOF_EINVAL);
    char *a4[] = {cmd, dd, dir, NULL};
    write_file("{\"port\": \"many\"}");
    assert_int_equal(ctl_config_load(&c, 3, a4, NULL, NULL, &d), IOF_EINVAL);
    assert_non_null(strstr(d.msg, "port"));
    write_file("{\"port\": 1, ");
    assert_int_equal(ctl_config_load(&c, 3, a4, NULL, NULL, &d), IOF_EINVAL);
    assert_non_null(strstr(d.msg, "controller.json"));
    write_file("{\"connectionMemoryBytes\": 100}");
    assert_int_equal(ctl_config_load(&c, 3, a4, NULL, NULL, &d), IOF_EINVAL);
    setenv("IOFOG_CONTROLLER_PORT", "zero", 1);
    write_file("{}");
    assert_int_equal(ctl_config_load(&c, 3, a4, NULL, NULL, &d), IOF_EINVAL);
    assert_non_null(strstr(d.msg, "IOFOG_CONTROLLER_PORT"));
    unsetenv("IOFOG_CONTROLLER_PORT");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_precedence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nats_auth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
