/* Tests of `iofog-controller microservice ...` against a real server: the command function runs
 * in-process with --data-dir/--port pointing at the test server (controller.md §7.1). */
#include "controller/api/msvc_testutil.h"

#include "controller/cli/commands.h"

/* Runs the command with the fixture's --data-dir and --port appended. */
static iof_err cli(struct api_fixture *f, const char *const *args) {
    char *argv[40];
    char port[16];
    int argc = 0;
    argv[argc++] = (char *)(uintptr_t) "microservice";
    for (size_t i = 0; args[i] != NULL; i++) {
        argv[argc++] = (char *)(uintptr_t)args[i];
    }
    (void)snprintf(port, sizeof port, "%u", (unsigned)f->port);
    argv[argc++] = (char *)(uintptr_t) "--data-dir";
    argv[argc++] = f->dir;
    argv[argc++] = (char *)(uintptr_t) "--port";
    argv[argc++] = port;
    argv[argc] = NULL;
    return ctl_cmd_microservice(argc, argv, NULL);
}

static void test_update_config_only(void **state) {
    struct msvc_fx *x = *state;
    struct api_fixture *f = x->f;
    char uuid[33], v[64], q[200];
    fx_create(f,
              x->t1,
              "{\"name\":\"m\",\"application\":\"app1\",\"iofogUuid\":\"fog-x86\",\"logSize\":9,"
              "\"images\":[{\"containerImage\":\"x\",\"fogTypeId\":1}]}",
              uuid);
    fx_ack_all(f);
    const char *long_form[] = {"update", "--microservice-id", uuid, "--config", "{\"x\":1}", NULL};
    assert_int_equal(cli(f, long_form), IOF_OK);
    json_t *a = NULL;
    assert_int_equal(api_callf(f, "GET", x->t1, NULL, &a, "/api/v3/microservices/%s", uuid), 200);
    assert_string_equal(jstr(a, "config"), "{\"x\":1}");
    assert_int_equal(json_integer_value(json_object_get(a, "logSize")), 9);
    json_decref(a);
    (void)snprintf(q, sizeof q, "SELECT rebuild FROM microservices WHERE uuid = '%s'", uuid);
    assert_string_equal(fx_value(f, q, v, sizeof v), "0");
    assert_true(fx_flags(f, "fog-x86") & CTL_FLAG_MICROSERVICE_CONFIG);

    const char *short_form[] = {"update", "-i", uuid, "-g", "{\"x\":2}", NULL};
    assert_int_equal(cli(f, short_form), IOF_OK);
    const char *uuid_form[] = {"update", "--microservice-uuid", uuid, "--config={\"x\":3}", NULL};
    assert_int_equal(cli(f, uuid_form), IOF_OK);
    assert_int_equal(api_callf(f, "GET", x->t1, NULL, &a, "/api/v3/microservices/%s", uuid), 200);
    assert_string_equal(jstr(a, "config"), "{\"x\":3}");
    assert_int_equal(json_integer_value(json_object_get(a, "logSize")), 9);
    json_decref(a);
    assert_string_equal(fx_value(f, q, v, sizeof v), "0");

    /* Errors: unknown uuid (not found), missing uuid (usage). */
    const char *unknown[] = {"update", "-i", "nope", "-g", "{}", NULL};
    assert_int_equal(cli(f, unknown), IOF_ENOENT);
    const char *missing[] = {"update", "-g", "{}", NULL};
    assert_int_equal(cli(f, missing), IOF_EINVAL);
    const char *bad[] = {"frobnicate", NULL};
    assert_int_equal(cli(f, bad), IOF_EINVAL);
}

static void test_add_mappings_and_remove(void **state) {
    struct msvc_fx *x = *state;
    struct api_fixture *f = x->f;
    char v[64];
    const char *add[] = {"add", "-n",  "cli-made", "-F",     "app1",     "-x",
                         "img", "-I",  "fog-x86",  "-p",     "80:8080",  "53:5353:udp",
                         "-e",  "A=1", "B=x=y",    "-v",     "/h:/c:ro", "-l",
                         "3",   "-C",  "run",      "--fast", NULL};
    assert_int_equal(cli(f, add), IOF_OK);
    char uuid[33];
    (void)snprintf(
        uuid,
        sizeof uuid,
        "%s",
        fx_value(f, "SELECT uuid FROM microservices WHERE name = 'cli-made'", v, sizeof v));
    json_t *a = NULL;
    assert_int_equal(api_callf(f, "GET", x->t1, NULL, &a, "/api/v3/microservices/%s", uuid), 200);
    assert_int_equal(json_array_size(json_object_get(a, "ports")), 2);
    assert_string_equal(jstr(json_array_get(json_object_get(a, "ports"), 1), "protocol"), "udp");
    assert_string_equal(jstr(json_array_get(json_object_get(a, "env"), 1), "value"), "x=y");
    assert_string_equal(jstr(json_array_get(json_object_get(a, "volumeMappings"), 0), "accessMode"),
                        "ro");
    assert_int_equal(json_array_size(json_object_get(a, "cmd")), 2);
    assert_int_equal(json_integer_value(json_object_get(a, "logSize")), 3);
    json_decref(a);

    const char *pm[] = {"port-mapping-create", "-i", uuid, "-P", "90:9090", NULL};
    assert_int_equal(cli(f, pm), IOF_OK);
    const char *pm_bad[] = {"port-mapping-create", "-i", uuid, "-P", "91:54321", NULL};
    assert_int_equal(cli(f, pm_bad), IOF_EINVAL);
    const char *pr[] = {"port-mapping-remove", "-i", uuid, "-b", "80", NULL};
    assert_int_equal(cli(f, pr), IOF_OK);
    const char *vm[] = {"volume-mapping-create", "-i", uuid, "-P", "/a:/b:rw:bind", NULL};
    assert_int_equal(cli(f, vm), IOF_OK);
    const char *pl[] = {"port-mapping-list", "-i", uuid, NULL};
    assert_int_equal(cli(f, pl), IOF_OK);
    assert_int_equal(api_callf(f, "GET", x->t1, NULL, &a, "/api/v3/microservices/%s", uuid), 200);
    assert_int_equal(json_array_size(json_object_get(a, "ports")), 2); /* 53/udp and 90 */
    assert_int_equal(json_array_size(json_object_get(a, "volumeMappings")), 2);
    json_decref(a);

    const char *rm[] = {"remove", "-i", uuid, NULL};
    assert_int_equal(cli(f, rm), IOF_OK);
    assert_int_equal(api_callf(f, "GET", x->t1, NULL, NULL, "/api/v3/microservices/%s", uuid), 404);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_update_config_only, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_add_mappings_and_remove, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
