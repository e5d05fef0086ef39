/* iofog-controller login / logout from another machine's point of view: a Controller started with
 * its own data directory, and a CLI that knows nothing of it but the URL and a user's e-mail and
 * password. Every command then runs with the stored session only (no --data-dir, no --port). */
#include "controller/cli/cli_testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <cmocka.h>

struct session_fixture {
    struct api_fixture *api;
    char home[64];
    char url[64];
    char token[65];
};

/* Runs "iofog-controller <args>" through the shell with stderr folded into out (bounded);
 * returns the exit code. args is trusted test text. */
static int sh(char *out, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int sh(char *out, size_t size, const char *fmt, ...) {
    char args[1024], cmd[1400];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    (void)snprintf(cmd, sizeof cmd, "%s 2>&1", args);
    FILE *p = popen(cmd, "r");
    if (p == NULL) {
        return -1;
    }
    size_t used = fread(out, 1, size - 1, p);
    out[used] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int setup(void **state) {
    struct session_fixture *s = calloc(1, sizeof *s);
    if (s == NULL || (s->api = api_start()) == NULL) {
        free(s);
        return -1;
    }
    (void)snprintf(s->home, sizeof s->home, "/tmp/iofog-cli-session.XXXXXX");
    if (mkdtemp(s->home) == NULL || api_user(s->api, "ops@example.com", s->token) != 0) {
        return -1;
    }
    (void)snprintf(s->url, sizeof s->url, "http://127.0.0.1:%u", (unsigned)s->api->port);
    /* This process and the CLIs it runs: a home of its own, no credential from the environment. */
    setenv("HOME", s->home, 1);
    unsetenv("XDG_CONFIG_HOME");
    unsetenv("IOFOG_CONTROLLER_DATA_DIR");
    unsetenv("IOFOG_CONTROLLER_URL");
    unsetenv("IOFOG_CONTROLLER_TOKEN");
    unsetenv("IOFOG_CONTROLLER_PORT");
    *state = s;
    return 0;
}

static int teardown(void **state) {
    struct session_fixture *s = *state;
    api_stop(s->api);
    char cmd[128];
    (void)snprintf(cmd, sizeof cmd, "rm -rf %s", s->home);
    int rc = system(cmd);
    free(s);
    return rc == 0 ? 0 : -1;
}

#define CLI CLI_BINARY

static void test_login_then_operate_with_the_session_only(void **state) {
    struct session_fixture *s = *state;
    char out[16384], path[256];
    (void)snprintf(path, sizeof path, "%s/.config/iofog/controller-session.json", s->home);

    /* A wrong password stores nothing. */
    assert_int_equal(
        sh(out,
           sizeof out,
           "printf 'nope\\n' | " CLI
           " login --controller-url %s/api/v3 --email ops@example.com --password-stdin",
           s->url),
        5);
    assert_int_not_equal(access(path, F_OK), 0);

    assert_int_equal(
        sh(out,
           sizeof out,
           "printf 'password1\\n' | " CLI
           " login --controller-url %s/api/v3 --email ops@example.com --password-stdin",
           s->url),
        0);
    assert_non_null(strstr(out, "Logged in to"));
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    /* add / list / update / remove with nothing but the session. */
    assert_int_equal(sh(out, sizeof out, CLI " application add -n sessapp"), 0);
    assert_int_equal(sh(out, sizeof out, CLI " iofog add -n edge-1 -y 1"), 0);
    assert_int_equal(
        sh(out, sizeof out, CLI " microservice add -n probe -F sessapp -x busybox:1 -I edge-1"), 0);
    json_t *made = json_loads(out, 0, NULL);
    char uuid[64];
    (void)snprintf(uuid, sizeof uuid, "%s", jstr(made, "uuid"));
    json_decref(made);
    assert_int_equal(strlen(uuid), 32);
    assert_int_equal(sh(out, sizeof out, CLI " microservice list --output table"), 0);
    assert_non_null(strstr(out, "NAME"));
    assert_non_null(strstr(out, "probe"));
    assert_non_null(strstr(out, "sessapp"));
    assert_non_null(strstr(out, "edge-1")); /* the node's name, not its uuid */
    assert_int_equal(sh(out, sizeof out, CLI " microservice update -i %s -g '{\"rate\":5}'", uuid),
                     0);
    /* The objects belong to the user who logged in, not to an admin identity. */
    json_t *m = NULL;
    assert_int_equal(api_callf(s->api, "GET", s->token, NULL, &m, "/api/v3/microservices/%s", uuid),
                     200);
    assert_string_equal(jstr(m, "config"), "{\"rate\":5}");
    json_decref(m);
    assert_int_equal(sh(out, sizeof out, CLI " microservice remove -i %s", uuid), 0);
    assert_int_equal(sh(out, sizeof out, CLI " application remove -n sessapp"), 0);
    assert_int_equal(api_call(s->api, "GET", "/api/v3/application/sessapp", s->token, NULL, NULL),
                     404);

    /* A revoked token: the command says so and how to log in again (exit 5). */
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    json_t *saved = json_loadf(f, 0, NULL);
    fclose(f);
    assert_int_equal(
        api_call(s->api, "POST", "/api/v3/user/logout", jstr(saved, "token"), NULL, NULL), 204);
    json_decref(saved);
    assert_int_equal(sh(out, sizeof out, CLI " application list"), 5);
    assert_non_null(strstr(out, "log in again"));
    assert_non_null(strstr(out, "iofog-controller login --controller-url"));

    /* logout revokes and removes the session; a token given explicitly still works. */
    assert_int_equal(sh(out,
                        sizeof out,
                        CLI
                        " login --controller-url %s --email ops@example.com --password password1",
                        s->url),
                     0);
    assert_int_equal(sh(out, sizeof out, CLI " logout"), 0);
    assert_non_null(strstr(out, "Logged out"));
    assert_int_not_equal(access(path, F_OK), 0);
    assert_int_equal(sh(out, sizeof out, CLI " logout"), 3);
    char token[65];
    assert_int_equal(api_user(s->api, "second@example.com", token), 0);
    assert_int_equal(
        sh(out, sizeof out, CLI " application list --controller-url %s --token %s", s->url, token),
        0);
    assert_non_null(strstr(out, "\"applications\""));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_login_then_operate_with_the_session_only),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
