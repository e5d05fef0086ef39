/* Tests of `iofog-controller application` against a real server: add from flags and from a YAML
 * file, update, info, list, remove, the `flow` alias's argument handling and usage errors. */
#include "controller/api/app_testutil.h"
#include "controller/cli/commands.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

static int setup(void **state) {
    *state = api_start();
    return *state != NULL ? 0 : -1;
}

static int teardown(void **state) {
    api_stop(*state);
    return 0;
}

/* Runs the command with args (NULL-terminated) plus --port/--data-dir of the fixture. */
static iof_err run(struct api_fixture *f, const char *const *args) {
    char port[16];
    (void)snprintf(port, sizeof port, "%u", (unsigned)f->port);
    char *argv[32];
    int argc = 0;
    argv[argc++] = (char *)(uintptr_t) "application";
    for (size_t i = 0; args[i] != NULL && argc < 27; i++) {
        argv[argc++] = (char *)(uintptr_t)args[i];
    }
    argv[argc++] = (char *)(uintptr_t) "--port";
    argv[argc++] = port;
    argv[argc++] = (char *)(uintptr_t) "--data-dir";
    argv[argc++] = f->dir;
    argv[argc] = NULL;
    return ctl_cmd_application(argc, argv, NULL);
}

static void test_cli(void **state) {
    struct api_fixture *f = *state;
    char t1[65], t2[65];
    assert_int_equal(api_user(f, "first@example.com", t1), 0);
    assert_int_equal(api_user(f, "second@example.com", t2), 0);

    assert_int_equal(run(f, (const char *[]){"add", "-n", "cli-app", "-d", "by cli", "-a", NULL}),
                     IOF_OK);
    json_t *a = NULL;
    assert_int_equal(api_call(f, "GET", "/api/v3/application/cli-app", t1, NULL, &a), 200);
    assert_string_equal(jstr(a, "description"), "by cli");
    assert_true(json_is_true(json_object_get(a, "isActivated")));
    json_decref(a);

    /* -u acts for another user; a YAML file gives the content. */
    char path[300];
    (void)snprintf(path, sizeof path, "%s/app.yaml", f->dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("apiVersion: iofog.org/v3\nkind: Application\nmetadata:\n  name: yaml-app\n"
          "spec:\n  description: from file\n",
          fp);
    fclose(fp);
    assert_int_equal(run(f, (const char *[]){"add", "-f", path, "-u", "2", NULL}), IOF_OK);
    assert_int_equal(api_call(f, "GET", "/api/v3/application/yaml-app", t2, NULL, &a), 200);
    assert_string_equal(jstr(a, "description"), "from file");
    json_decref(a);
    assert_int_equal(api_call(f, "GET", "/api/v3/application/yaml-app", t1, NULL, NULL), 404);

    /* A JSON file works too. */
    (void)snprintf(path, sizeof path, "%s/app.json", f->dir);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("{\"name\": \"json-app\", \"description\": \"j\"}", fp);
    fclose(fp);
    assert_int_equal(run(f, (const char *[]){"add", "--file", path, NULL}), IOF_OK);
    assert_int_equal(api_call(f, "GET", "/api/v3/application/json-app", t1, NULL, NULL), 200);

    assert_int_equal(run(f, (const char *[]){"update", "-n", "cli-app", "-D", "-d", "new", NULL}),
                     IOF_OK);
    assert_int_equal(api_call(f, "GET", "/api/v3/application/cli-app", t1, NULL, &a), 200);
    assert_true(json_is_false(json_object_get(a, "isActivated")));
    assert_string_equal(jstr(a, "description"), "new");
    json_decref(a);
    assert_int_equal(run(f, (const char *[]){"info", "-n", "cli-app", NULL}), IOF_OK);
    assert_int_equal(run(f, (const char *[]){"list", NULL}), IOF_OK);

    /* Errors map to categories (exit codes). */
    assert_int_equal(run(f, (const char *[]){"add", "-n", "cli-app", NULL}), IOF_EEXIST);
    assert_int_equal(run(f, (const char *[]){"info", "-n", "absent", NULL}), IOF_ENOENT);
    assert_int_equal(run(f, (const char *[]){"info", NULL}), IOF_EINVAL);
    assert_int_equal(run(f, (const char *[]){"add", "-a", "-D", "-n", "x", NULL}), IOF_EINVAL);
    assert_int_equal(run(f, (const char *[]){"frobnicate", NULL}), IOF_EINVAL);
    assert_int_equal(run(f, (const char *[]){"add", "-f", "/nonexistent/file.yaml", NULL}),
                     IOF_ENOENT);

    assert_int_equal(run(f, (const char *[]){"remove", "-n", "cli-app", NULL}), IOF_OK);
    assert_int_equal(api_call(f, "GET", "/api/v3/application/cli-app", t1, NULL, NULL), 404);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cli, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
