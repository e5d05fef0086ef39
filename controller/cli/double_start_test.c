/* Two Controllers on one port: the second refuses, in the foreground and in the background, within
 * a second and with the address and how to stop the first in its message; the first keeps every
 * connection and its pid file. Real binaries only. */
#include "common/test_cmd.h"
#include "controller/api/api_testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <cmocka.h>

#define LIMIT_MS 1000 /* "exit non-zero within a second" */

struct fx {
    struct api_fixture *first; /* a Controller started with api_start (foreground) */
    char other[256];           /* a second, unused data directory */
    char port[16];
};

static int setup(void **state) {
    struct fx *x = calloc(1, sizeof *x);
    x->first = api_start();
    if (x->first == NULL || test_tmpdir_make(x->other, sizeof x->other) != 0) {
        return -1;
    }
    (void)snprintf(x->port, sizeof x->port, "%u", (unsigned)x->first->port);
    *state = x;
    return 0;
}

static int teardown(void **state) {
    struct fx *x = *state;
    api_stop(x->first);
    (void)test_cmd_rmtree(x->other);
    free(x);
    return 0;
}

/* The message every refusal carries. */
static void expect_in_use(const char *out, const struct fx *x, const char *data_dir) {
    char want[700];
    (void)snprintf(want,
                   sizeof want,
                   "address 127.0.0.1:%s is already in use (is another Controller running? "
                   "iofog-controller stop --data-dir %s)",
                   x->port,
                   data_dir);
    if (strstr(out, want) == NULL) {
        fail_msg("expected '%s' in:\n%s", want, out);
    }
}

/* The first Controller answers every authenticated call: nothing was split off to another. */
static void first_answers_all(struct fx *x) {
    for (int i = 0; i < 10; i++) {
        const char *argv[] = {
            API_BINARY, "user", "list", "--port", x->port, "--data-dir", x->first->dir, NULL};
        char out[8192];
        int rc = test_cmd_run(NULL, out, sizeof out, NULL, argv);
        if (rc != 0) {
            fail_msg("call %d against the first Controller: %d\n%s", i, rc, out);
        }
    }
}

static void test_second_in_foreground(void **state) {
    struct fx *x = *state;
    const char *argv[] = {API_BINARY,
                          "start",
                          "--foreground",
                          "--bind",
                          "127.0.0.1",
                          "--port",
                          x->port,
                          "--data-dir",
                          x->other,
                          NULL};
    char out[4096];
    int64_t ms = 0;
    int rc = test_cmd_run(NULL, out, sizeof out, &ms, argv);
    printf("second Controller (foreground): exit %d after %lld ms\n", rc, (long long)ms);
    assert_int_not_equal(rc, 0);
    assert_true(rc > 0 && rc < 128); /* an exit, not a crash or the time limit */
    expect_in_use(out, x, x->other);
    assert_true(ms < LIMIT_MS);
    assert_null(strstr(out, "listening"));
    first_answers_all(x);
}

static void test_second_in_background(void **state) {
    struct fx *x = *state;
    const char *argv[] = {API_BINARY,
                          "start",
                          "--bind",
                          "127.0.0.1",
                          "--port",
                          x->port,
                          "--data-dir",
                          x->other,
                          NULL};
    char out[4096];
    int64_t ms = 0;
    int rc = test_cmd_run(NULL, out, sizeof out, &ms, argv);
    printf("second Controller (background): exit %d after %lld ms\n", rc, (long long)ms);
    assert_true(rc > 0 && rc < 128);
    expect_in_use(out, x, x->other); /* the parent reports the daemon's own reason */
    assert_null(strstr(out, "Controller started"));
    assert_true(ms < LIMIT_MS);
    char pid[512];
    struct stat st;
    assert_int_not_equal(
        stat(test_tmpdir_path(pid, sizeof pid, x->other, "iofog-controller.pid"), &st), 0);
    /* the same data directory as the first (which runs in the foreground: no pid file) */
    const char *same[] = {API_BINARY,
                          "start",
                          "--bind",
                          "127.0.0.1",
                          "--port",
                          x->port,
                          "--data-dir",
                          x->first->dir,
                          "--db",
                          x->first->db,
                          NULL};
    rc = test_cmd_run(NULL, out, sizeof out, &ms, same);
    assert_true(rc > 0 && rc < 128);
    expect_in_use(out, x, x->first->dir);
    assert_true(ms < LIMIT_MS);
    first_answers_all(x);
}

/* A background Controller whose data directory is started again: refused by its pid file, which
 * stays intact, so `stop` still finds the first. */
static void test_same_data_dir_in_background(void **state) {
    struct fx *x = *state;
    char port[16];
    (void)snprintf(port, sizeof port, "%u", (unsigned)api_free_port());
    const char *argv[] = {
        API_BINARY, "start", "--bind", "127.0.0.1", "--port", port, "--data-dir", x->other, NULL};
    char out[4096];
    int rc = test_cmd_run(NULL, out, sizeof out, NULL, argv);
    if (rc != 0) {
        fail_msg("background start: %d\n%s", rc, out);
    }
    char pid_path[512], before[32] = "", after[32] = "";
    test_tmpdir_path(pid_path, sizeof pid_path, x->other, "iofog-controller.pid");
    FILE *f = fopen(pid_path, "re");
    assert_non_null(f);
    assert_non_null(fgets(before, sizeof before, f));
    fclose(f);

    int64_t ms = 0;
    rc = test_cmd_run(NULL, out, sizeof out, &ms, argv);
    assert_true(rc > 0 && rc < 128);
    char want[600];
    (void)snprintf(want,
                   sizeof want,
                   "a Controller with data directory %s is already running as pid %ld",
                   x->other,
                   strtol(before, NULL, 10));
    if (strstr(out, want) == NULL || strstr(out, "iofog-controller stop --data-dir") == NULL) {
        fail_msg("expected '%s' in:\n%s", want, out);
    }
    assert_true(ms < LIMIT_MS);
    f = fopen(pid_path, "re");
    assert_non_null(f);
    assert_non_null(fgets(after, sizeof after, f));
    fclose(f);
    assert_string_equal(before, after);

    const char *stop[] = {API_BINARY, "stop", "--data-dir", x->other, NULL};
    rc = test_cmd_run(NULL, out, sizeof out, NULL, stop);
    if (rc != 0 || strstr(out, "Controller stopped") == NULL) {
        fail_msg("stop: %d\n%s", rc, out);
    }
}

/* A pid file left behind whose pid now belongs to another program does not block a start. */
static void test_stale_pid_file(void **state) {
    struct fx *x = *state;
    char pid_path[512];
    test_tmpdir_path(pid_path, sizeof pid_path, x->other, "iofog-controller.pid");
    FILE *f = fopen(pid_path, "we");
    assert_non_null(f);
    fprintf(f, "%ld\n", (long)getpid()); /* alive, but this test, not a Controller */
    fclose(f);
    char port[16];
    (void)snprintf(port, sizeof port, "%u", (unsigned)api_free_port());
    const char *argv[] = {
        API_BINARY, "start", "--bind", "127.0.0.1", "--port", port, "--data-dir", x->other, NULL};
    char out[4096];
    int rc = test_cmd_run(NULL, out, sizeof out, NULL, argv);
    if (rc != 0 || strstr(out, "Controller started") == NULL) {
        fail_msg("start over a stale pid file: %d\n%s", rc, out);
    }
    const char *stop[] = {API_BINARY, "stop", "--data-dir", x->other, NULL};
    rc = test_cmd_run(NULL, out, sizeof out, NULL, stop);
    if (rc != 0 || strstr(out, "Controller stopped") == NULL) {
        fail_msg("stop: %d\n%s", rc, out);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_second_in_foreground, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_in_background, setup, teardown),
        cmocka_unit_test_setup_teardown(test_same_data_dir_in_background, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_pid_file, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
