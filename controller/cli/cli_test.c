/* The iofog-controller binary against a running server: controller and user commands, exit
 * codes of the CLI error table. */
#include "controller/cli/cli_testutil.h"

#include "common/clock.h"

#include <setjmp.h>
#include <signal.h>
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

static void test_controller_commands(void **state) {
    struct api_fixture *f = *state;
    char out[8192];
    assert_int_equal(cli_run(f, true, out, sizeof out, "controller", "status", NULL), 0);
    assert_non_null(strstr(out, "\"status\": \"online\""));
    assert_int_equal(cli_run(f, true, out, sizeof out, "controller", "fog-types", NULL), 0);
    assert_non_null(strstr(out, "ARM Linux"));
    assert_int_equal(cli_run(f, false, out, sizeof out, "controller", "version", NULL), 0);
    assert_non_null(strstr(out, IOFOG_VERSION));
    assert_int_equal(cli_run(f, true, out, sizeof out, "controller", "fly", NULL), 2);
    assert_int_equal(cli_run(f, false, out, sizeof out, "nonsense", NULL), 2);
    assert_int_equal(cli_run(f, false, out, sizeof out, "--help", NULL), 0);
    assert_non_null(strstr(out, "Commands:"));
    /* Nothing listens on this port: "unavailable" (7). */
    assert_int_equal(cli_run(f,
                             false,
                             out,
                             sizeof out,
                             "controller",
                             "status",
                             "--port",
                             "1",
                             "--data-dir",
                             f->dir,
                             NULL),
                     7);
}

static void test_user_commands(void **state) {
    struct api_fixture *f = *state;
    char out[8192];
    assert_int_equal(cli_run(f,
                             true,
                             out,
                             sizeof out,
                             "user",
                             "add",
                             "-f",
                             "Linus",
                             "-l",
                             "Torvalds",
                             "-e",
                             "linus@example.com",
                             "-p",
                             "password1",
                             NULL),
                     0);
    assert_non_null(strstr(out, "\"userId\": 1"));
    /* Missing flag: usage error. Duplicate e-mail: the API's 400 becomes exit code 2. */
    assert_int_equal(cli_run(f, true, out, sizeof out, "user", "add", "-e", "x@example.com", NULL),
                     2);
    assert_int_equal(cli_run(f,
                             true,
                             out,
                             sizeof out,
                             "user",
                             "add",
                             "--first-name",
                             "Linus",
                             "--last-name",
                             "Torvalds",
                             "--email",
                             "linus@example.com",
                             "--password",
                             "password1",
                             NULL),
                     2);
    assert_int_equal(cli_run(f, true, out, sizeof out, "user", "list", NULL), 0);
    assert_non_null(strstr(out, "linus@example.com"));

    assert_int_equal(
        cli_run(
            f, true, out, sizeof out, "user", "generate-token", "-e", "linus@example.com", NULL),
        0);
    json_t *tok = json_loads(out, 0, NULL);
    const char *token = jstr(tok, "accessToken");
    assert_int_equal(strlen(token), 64);
    json_t *a = NULL;
    assert_int_equal(api_call(f, "GET", "/api/v3/user/profile", token, NULL, &a), 200);
    assert_string_equal(jstr(a, "lastName"), "Torvalds");
    json_decref(a);
    /* User tokens cannot use the admin routes. */
    assert_int_equal(api_call(f, "GET", "/api/v3/admin/users", token, NULL, NULL), 403);

    assert_int_equal(cli_run(f,
                             true,
                             out,
                             sizeof out,
                             "user",
                             "update",
                             "-e",
                             "linus@example.com",
                             "-p",
                             "password2",
                             NULL),
                     0);
    /* A password change revokes the user's tokens. */
    assert_int_equal(api_call(f, "GET", "/api/v3/user/profile", token, NULL, NULL), 401);
    json_decref(tok);
    assert_int_equal(api_call(f,
                              "POST",
                              "/api/v3/user/login",
                              NULL,
                              "{\"email\":\"linus@example.com\",\"password\":\"password2\"}",
                              NULL),
                     200);
    assert_int_equal(
        cli_run(f, true, out, sizeof out, "user", "remove", "-e", "nobody@example.com", NULL), 3);
    assert_int_equal(
        cli_run(f, true, out, sizeof out, "user", "remove", "-e", "linus@example.com", NULL), 0);
    assert_int_equal(cli_run(f, true, out, sizeof out, "user", "list", NULL), 0);
    assert_null(strstr(out, "linus@example.com"));
}

static void test_global_options(void **state) {
    struct api_fixture *f = *state;
    char out[8192], tok[65], url[128];
    assert_int_equal(api_user(f, "table@example.com", tok), 0);
    assert_int_equal(api_user(f, "chart@example.com", tok), 0);
    assert_int_equal(cli_run(f, true, out, sizeof out, "user", "list", "--output", "table", NULL),
                     0);
    assert_non_null(strstr(out, "email"));
    assert_non_null(strstr(out, "table@example.com"));
    assert_non_null(strstr(out, "chart@example.com"));
    assert_null(strstr(out, "{")); /* no JSON */
    assert_int_equal(
        cli_run(f, true, out, sizeof out, "controller", "status", "--output=table", NULL), 0);
    assert_non_null(strstr(out, "status"));
    assert_non_null(strstr(out, "online"));
    assert_int_equal(cli_run(f, true, out, sizeof out, "user", "list", "--output", "yaml", NULL),
                     2);
    /* --controller-url picks the server (the port flag is not needed), /api/v3 accepted. */
    (void)snprintf(url, sizeof url, "http://127.0.0.1:%u/api/v3/", (unsigned)f->port);
    assert_int_equal(cli_run(f,
                             false,
                             out,
                             sizeof out,
                             "--controller-url",
                             url,
                             "controller",
                             "status",
                             "--data-dir",
                             f->dir,
                             NULL),
                     0);
    assert_non_null(strstr(out, "online"));
    assert_int_equal(cli_run(f,
                             false,
                             out,
                             sizeof out,
                             "controller",
                             "status",
                             "--data-dir",
                             f->dir,
                             "--controller-url",
                             "ftp://x",
                             NULL),
                     2);
    setenv("IOFOG_CONTROLLER_URL", url, 1);
    assert_int_equal(
        cli_run(f, false, out, sizeof out, "controller", "status", "--data-dir", f->dir, NULL), 0);
    unsetenv("IOFOG_CONTROLLER_URL");
}

static void test_diagnostics_commands(void **state) {
    struct api_fixture *f = *state;
    char tok[65], out[8192];
    assert_int_equal(api_user(f, "diag@example.com", tok), 0);
    assert_int_equal(
        api_call(f, "POST", "/api/v3/iofog", tok, "{\"name\":\"edge-1\",\"fogType\":1}", NULL),
        201);
    assert_int_equal(
        api_call(f,
                 "POST",
                 "/api/v3/application",
                 tok,
                 "{\"name\":\"demo\",\"microservices\":[{\"name\":\"m\",\"agentName\":\"edge-1\","
                 "\"images\":[{\"containerImage\":\"x:1\",\"fogTypeId\":1}]}]}",
                 NULL),
        201);
    json_t *a = NULL;
    assert_int_equal(api_call(f, "GET", "/api/v3/microservices?application=demo", tok, NULL, &a),
                     200);
    char uuid[64];
    (void)snprintf(uuid,
                   sizeof uuid,
                   "%s",
                   jstr(json_array_get(json_object_get(a, "microservices"), 0), "uuid"));
    json_decref(a);
    char port[16];
    (void)snprintf(port, sizeof port, "%u", (unsigned)f->port);
#define DIAG(...)                                                                                  \
    cli_run(f,                                                                                     \
            false,                                                                                 \
            out,                                                                                   \
            sizeof out,                                                                            \
            "diagnostics",                                                                         \
            __VA_ARGS__,                                                                           \
            "--controller-port",                                                                   \
            port,                                                                                  \
            "--data-dir",                                                                          \
            f->dir,                                                                                \
            NULL)
    assert_int_equal(DIAG("strace-update", "-i", uuid, "--enable"), 0);
    assert_non_null(strstr(out, "strace enabled"));
    assert_int_equal(DIAG("strace-info", "-i", uuid, "-f", "string"), 0);
    assert_non_null(strstr(out, "\"data\""));
    assert_int_equal(DIAG("strace-update", "-i", uuid), 2);       /* neither flag */
    assert_int_equal(DIAG("strace-info", "-i", "nosuchuuid"), 3); /* not found */
    assert_int_equal(DIAG("image-snapshot-create", "-i", uuid), 0);
    assert_int_equal(DIAG("image-snapshot-get", "-i", uuid), 3); /* nothing uploaded yet */
    assert_int_equal(DIAG("strace-ftp-post",
                          "-i",
                          uuid,
                          "-h",
                          "ftp.example",
                          "-p",
                          "21",
                          "-u",
                          "u",
                          "-s",
                          "p",
                          "-d",
                          "/"),
                     7); /* refused: no FTP client in this Controller */
    assert_int_equal(DIAG("fly", "-i", uuid), 2);
#undef DIAG
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_controller_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_diagnostics_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_global_options, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
