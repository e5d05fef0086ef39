/* Black-box tests of the catalog, registry and config CLI commands: the real iofog-controller
 * binary talks to a real server (started in-process on an ephemeral port) with the admin
 * credential of the server's data directory. */
#include "controller/api/api_testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>

#include <cmocka.h>

#define CLI IOFOG_BINARY_DIR "/controller/iofog-controller"

static int setup(void **state) {
    *state = api_start();
    return *state != NULL ? 0 : -1;
}

static int teardown(void **state) {
    api_stop(*state);
    return 0;
}

/* Runs `iofog-controller <args> --port P --data-dir D` (stderr merged), output into out.
 * Returns the exit code. */
static int cli(struct api_fixture *f, char *out, size_t size, const char *args) {
    char cmd[1024];
    (void)snprintf(cmd,
                   sizeof cmd,
                   "timeout 20 %s %s --port %u --data-dir %s 2>&1",
                   CLI,
                   args,
                   (unsigned)f->port,
                   f->dir);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, size - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_catalog_cli(void **state) {
    struct api_fixture *f = *state;
    char t[65], out[16384];
    assert_int_equal(api_user(f, "ann@example.com", t), 0);
    assert_int_equal(cli(f,
                         out,
                         sizeof out,
                         "catalog add -n cli-item -x acme/x86 -a acme/arm -g 1 -p ACME "
                         "-I temp -F json -P -s 10"),
                     0);
    json_t *a = json_loads(out, 0, NULL);
    assert_non_null(a);
    json_int_t id = json_integer_value(json_object_get(a, "id"));
    assert_true(id > 17);
    json_decref(a);

    /* The item exists for the first user, as the REST API shows it. */
    assert_int_equal(
        api_callf(f, "GET", t, NULL, &a, "/api/v3/catalog/microservices/%lld", (long long)id), 200);
    assert_string_equal(jstr(a, "publisher"), "ACME");
    assert_true(json_is_true(json_object_get(a, "isPublic")));
    assert_int_equal(json_integer_value(json_object_get(a, "diskRequired")), 10);
    assert_string_equal(jstr(json_object_get(a, "inputType"), "infoType"), "temp");
    assert_string_equal(jstr(json_array_get(json_object_get(a, "images"), 1), "containerImage"),
                        "acme/arm");
    json_decref(a);

    char args[200];
    (void)snprintf(args, sizeof args, "catalog update -i %lld -d changed -V", (long long)id);
    assert_int_equal(cli(f, out, sizeof out, args), 0);
    (void)snprintf(args, sizeof args, "catalog info -i %lld", (long long)id);
    assert_int_equal(cli(f, out, sizeof out, args), 0);
    a = json_loads(out, 0, NULL);
    assert_string_equal(jstr(a, "description"), "changed");
    assert_true(json_is_false(json_object_get(a, "isPublic")));
    json_decref(a);
    assert_int_equal(cli(f, out, sizeof out, "catalog list"), 0);
    a = json_loads(out, 0, NULL);
    assert_int_equal(json_array_size(json_object_get(a, "catalogItems")), 12);
    json_decref(a);

    /* Errors: usage 2, server refusals with their message. */
    (void)snprintf(args, sizeof args, "catalog update -i %lld", (long long)id);
    assert_int_equal(cli(f, out, sizeof out, args), 2);
    assert_non_null(strstr(out, "Add some parameters"));
    assert_int_equal(cli(f, out, sizeof out, "catalog remove -i 1"), 2);
    assert_non_null(strstr(out, "systemic"));
    assert_int_equal(cli(f, out, sizeof out, "catalog info -i 999"), 3);
    assert_int_equal(cli(f, out, sizeof out, "catalog update -P -V -i 5"), 2);
    assert_int_equal(cli(f, out, sizeof out, "catalog frobnicate"), 2);
    (void)snprintf(args, sizeof args, "catalog remove -i %lld", (long long)id);
    assert_int_equal(cli(f, out, sizeof out, args), 0);
    assert_int_equal(
        api_callf(f, "GET", t, NULL, NULL, "/api/v3/catalog/microservices/%lld", (long long)id),
        404);
}

static void test_registry_cli(void **state) {
    struct api_fixture *f = *state;
    char ta[65], tb[65], out[16384];
    assert_int_equal(api_user(f, "ann@example.com", ta), 0);
    assert_int_equal(api_user(f, "bob@example.com", tb), 0);
    /* -u 2 makes Bob the owner. */
    assert_int_equal(cli(f,
                         out,
                         sizeof out,
                         "registry add -U bob.io -l bob -p hunter22 -e bob@example.com -u 2"),
                     0);
    json_t *a = json_loads(out, 0, NULL);
    json_int_t id = json_integer_value(json_object_get(a, "id"));
    assert_int_equal(id, 3);
    json_decref(a);
    assert_int_equal(api_call(f, "GET", "/api/v3/registries", tb, NULL, &a), 200);
    assert_int_equal(json_array_size(json_object_get(a, "registries")), 3);
    json_decref(a);
    assert_int_equal(api_call(f, "GET", "/api/v3/registries", ta, NULL, &a), 200);
    assert_int_equal(json_array_size(json_object_get(a, "registries")), 2); /* private to Bob */
    json_decref(a);

    assert_int_equal(cli(f, out, sizeof out, "registry update -i 3 -b -U bob2.io"), 0);
    assert_int_equal(cli(f, out, sizeof out, "registry list"), 0);
    assert_null(strstr(out, "hunter22"));
    assert_non_null(strstr(out, "bob2.io"));
    assert_int_equal(api_call(f, "GET", "/api/v3/registries", ta, NULL, &a), 200);
    assert_int_equal(json_array_size(json_object_get(a, "registries")), 3); /* now public */
    json_decref(a);
    assert_int_equal(cli(f, out, sizeof out, "registry remove -i 1"), 2);
    assert_int_equal(cli(f, out, sizeof out, "registry remove"), 2);
    assert_int_equal(cli(f, out, sizeof out, "registry remove -i 3"), 0);
    assert_int_equal(cli(f, out, sizeof out, "registry remove -i 3"), 3);
}

static void test_config_cli(void **state) {
    struct api_fixture *f = *state;
    char out[8192];
    assert_int_equal(cli(f, out, sizeof out, "config list"), 0);
    json_t *a = json_loads(out, 0, NULL);
    assert_non_null(a);
    assert_int_equal(json_integer_value(json_object_get(a, "port")), 51121);
    assert_string_equal(jstr(a, "logLevel"), "info");
    json_decref(a);
    /* --port is both the connection flag of the harness and the value written: config takes
     * the value, which is what "config add -p" means. */
    assert_int_equal(
        cli(f, out, sizeof out, "config add -L warn --http-threads 4 --token-expiration 600"), 0);
    assert_non_null(strstr(out, "restart the Controller"));
    assert_int_equal(cli(f, out, sizeof out, "config list"), 0);
    a = json_loads(out, 0, NULL);
    assert_string_equal(jstr(a, "logLevel"), "warn");
    assert_int_equal(json_integer_value(json_object_get(a, "httpThreads")), 4);
    assert_int_equal(json_integer_value(json_object_get(a, "userTokenExpirationSeconds")), 600);
    json_decref(a);
    assert_int_equal(cli(f, out, sizeof out, "config add --http-threads 0"), 2);
    assert_int_equal(cli(f, out, sizeof out, "config add -L loud"), 2);
    assert_int_equal(cli(f, out, sizeof out, "config add -a me@example.com"), 8);
    assert_non_null(strstr(out, "e-mail is not supported"));
    assert_int_equal(cli(f, out, sizeof out, "config add -c /tmp/cert.pem"), 8);
    assert_non_null(strstr(out, "TLS is not supported"));
    assert_int_equal(cli(f, out, sizeof out, "config add -t http://k"), 8);
    assert_int_equal(cli(f, out, sizeof out, "config dev-mode -o"), 8);
    assert_int_equal(cli(f, out, sizeof out, "config email-activation --on"), 8);
    /* The refused ones left the file as it was. */
    assert_int_equal(cli(f, out, sizeof out, "config list"), 0);
    a = json_loads(out, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(a, "httpThreads")), 4);
    json_decref(a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_catalog_cli, setup, teardown),
        cmocka_unit_test_setup_teardown(test_registry_cli, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_cli, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
