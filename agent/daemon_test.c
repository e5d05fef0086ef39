/* The Agent daemon against the real Controller, through its CLI: provisioning with a key from the
 * user API, `status` reporting the Controller link, the node's status visible in the user API, a
 * config change made in the Controller reaching the agent through the long-poll, a reused key
 * refused, deprovisioning, and the CLI's validation messages and exit codes. */
#include "agent/agent_testutil.h"

#include <ctype.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <cmocka.h>

static int setup(void **state) {
    struct agent_fixture *a = agent_fixture_new("edge-daemon");
    if (a == NULL) {
        return -1;
    }
    *state = a;
    return 0;
}

static int teardown(void **state) {
    return agent_fixture_free(*state) == 0 ? 0 : -1;
}

static void test_cli_without_daemon(void **state) {
    struct agent_fixture *a = *state;
    char out[4096];
    /* Not running: status says so and exits "unavailable". */
    assert_int_equal(agent_cli(a, out, sizeof out, "status"), 7);
    assert_non_null(strstr(out, "not running"));
    /* Offline config applies classic validation. */
    assert_int_equal(agent_cli(a, out, sizeof out, "config -sf abc"), 2);
    assert_non_null(strstr(out, "Option -sf has invalid value: abc"));
    assert_int_equal(agent_cli(a, out, sizeof out, "config -d 0"), 2);
    assert_non_null(strstr(out, "Disk limit range must be 1 to 1048576 GB"));
    assert_int_equal(agent_cli(a, out, sizeof out, "config -c http://x"), 2);
    assert_non_null(strstr(out, "Unsupported protocol scheme"));
    assert_int_equal(agent_cli(a, out, sizeof out, "--help"), 0);
    assert_non_null(strstr(out, "provision"));
    assert_int_equal(agent_cli(a, out, sizeof out, "start --help"), 0);
    assert_int_equal(agent_cli(a, out, sizeof out, "config --help"), 0);
    assert_non_null(strstr(out, "-sf"));
}

static void test_provision_status_and_changes(void **state) {
    struct agent_fixture *a = *state;
    char out[8192], key[64], path[512];
    struct stat st;
    /* The data and log directories (message archive, microservice logs) are private: made wider
     * beforehand, they are narrowed to 0700 when the Agent starts. */
    const char *const subdirs[] = {"data", "log"};
    for (size_t i = 0; i < 2; i++) {
        (void)snprintf(path, sizeof path, "%s/%s", a->dir, subdirs[i]);
        (void)mkdir(path, 0755);
        assert_int_equal(chmod(path, 0755), 0);
    }
    assert_int_equal(agent_daemon_spawn(a), 0);
    for (size_t i = 0; i < 2; i++) {
        (void)snprintf(path, sizeof path, "%s/%s", a->dir, subdirs[i]);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0700);
    }
    assert_int_equal(agent_cli(a, out, sizeof out, "status"), 0);
    assert_non_null(strstr(out, "not provisioned"));

    /* A wrong key: not found, exit 3. */
    assert_int_equal(agent_cli(a, out, sizeof out, "provision NOSUCHKEY"), 3);

    assert_int_equal(agent_fixture_key(a, key), 0);
    assert_int_equal(agent_cli(a, out, sizeof out, "provision %s", key), 0);
    assert_non_null(strstr(out, a->node));
    assert_int_equal(agent_wait_status(a, ": ok", 5000), 0);
    /* credentials.json is private */
    (void)snprintf(path, sizeof path, "%s/credentials.json", a->dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    (void)snprintf(path, sizeof path, "%s/local-api", a->dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    /* The status report reaches the Controller. */
    json_t *ans = NULL;
    int64_t end = iof_time_mono_ms() + 5000;
    bool running = false;
    while (!running && iof_time_mono_ms() < end) {
        assert_int_equal(api_callf(a->ctl, "GET", a->user, NULL, &ans, "/api/v3/iofog/%s", a->node),
                         200);
        running = strcmp(jstr(ans, "daemonStatus"), "RUNNING") == 0;
        json_decref(ans);
        if (!running) {
            nanosleep(&(struct timespec){.tv_nsec = 100 * 1000 * 1000}, NULL);
        }
    }
    assert_true(running);

    /* A setting changed in the Controller reaches the agent through the long-poll. */
    int64_t t0 = iof_time_mono_ms();
    char body[64];
    (void)snprintf(body, sizeof body, "{\"statusFrequency\":7}");
    assert_int_equal(api_callf(a->ctl, "PATCH", a->user, body, NULL, "/api/v3/iofog/%s", a->node),
                     204);
    bool seen = false;
    while (!seen && iof_time_mono_ms() - t0 < 5000) {
        assert_int_equal(agent_cli(a, out, sizeof out, "info"), 0);
        char *line = strstr(out, "status-update-frequency");
        seen = line != NULL && strstr(line, ": 7\n") != NULL;
        if (!seen) {
            nanosleep(&(struct timespec){.tv_nsec = 20 * 1000 * 1000}, NULL);
        }
    }
    assert_true(seen);
    printf("controller setting applied by the agent after %lld ms\n",
           (long long)(iof_time_mono_ms() - t0));

    /* A setting changed on the agent reaches the Controller. */
    assert_int_equal(agent_cli(a, out, sizeof out, "config -sf 3 -cf 11"), 0);
    end = iof_time_mono_ms() + 5000;
    bool pushed = false;
    while (!pushed && iof_time_mono_ms() < end) {
        assert_int_equal(api_callf(a->ctl, "GET", a->user, NULL, &ans, "/api/v3/iofog/%s", a->node),
                         200);
        pushed = json_integer_value(json_object_get(ans, "changeFrequency")) == 11;
        json_decref(ans);
        if (!pushed) {
            nanosleep(&(struct timespec){.tv_nsec = 50 * 1000 * 1000}, NULL);
        }
    }
    assert_true(pushed);

    /* Invalid flags through the daemon: classic message, exit 2, valid ones still applied. */
    assert_int_equal(agent_cli(a, out, sizeof out, "config -lc 1000 -ll debug"), 2);
    assert_non_null(strstr(out, "Log file count range must be 1 to 100"));
    assert_int_equal(agent_cli(a, out, sizeof out, "info"), 0);
    assert_non_null(strstr(out, "DEBUG"));

    /* The key was single-use. */
    char again[256];
    (void)snprintf(again, sizeof again, "{\"key\":\"%s\",\"type\":1}", key);
    assert_int_equal(api_call(a->ctl, "POST", "/api/v3/agent/provision", NULL, again, NULL), 404);

    /* Deprovision: the agent forgets its token, the Controller refuses it. */
    char token[256] = "";
    (void)snprintf(path, sizeof path, "%s/credentials.json", a->dir);
    json_t *cred = json_load_file(path, 0, NULL);
    assert_non_null(cred);
    (void)snprintf(token, sizeof token, "%s", jstr(cred, "accessToken"));
    json_decref(cred);
    assert_int_equal(agent_cli(a, out, sizeof out, "deprovision"), 0);
    assert_int_equal(agent_wait_status(a, "not provisioned", 3000), 0);
    assert_int_equal(api_call(a->ctl, "GET", "/api/v3/agent/config", token, NULL, NULL), 401);
    assert_int_not_equal(access(path, F_OK), 0);

    /* The admin route refuses a wrong token. */
    struct iof_http_client *http = NULL;
    assert_int_equal(iof_http_client_new(NULL, &http), IOF_OK);
    char url[128];
    (void)snprintf(url, sizeof url, "http://127.0.0.1:%u/v2/status", (unsigned)a->local_port);
    const char *hdr[] = {"Authorization: wrong", NULL};
    struct iof_http_response r;
    assert_int_equal(iof_http_client_request(http, "GET", url, hdr, NULL, 0, &r, NULL), IOF_OK);
    assert_int_equal(r.status, 401);
    iof_http_response_free(&r);

    /* The token is compared exactly: the right one with one letter's case flipped is refused. */
    char tok[128] = "";
    (void)snprintf(path, sizeof path, "%s/local-api", a->dir);
    FILE *tf = fopen(path, "r");
    assert_non_null(tf);
    assert_non_null(fgets(tok, sizeof tok, tf));
    (void)fclose(tf);
    tok[strcspn(tok, "\r\n")] = '\0';
    char good[160], flipped[160];
    (void)snprintf(good, sizeof good, "Authorization: %s", tok);
    size_t letter = strcspn(tok, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");
    assert_true(letter < strlen(tok));
    tok[letter] = (char)(islower((unsigned char)tok[letter]) ? toupper((unsigned char)tok[letter])
                                                             : tolower((unsigned char)tok[letter]));
    (void)snprintf(flipped, sizeof flipped, "Authorization: %s", tok);
    const char *hgood[] = {good, NULL}, *hflipped[] = {flipped, NULL};
    assert_int_equal(iof_http_client_request(http, "GET", url, hflipped, NULL, 0, &r, NULL),
                     IOF_OK);
    assert_int_equal(r.status, 401);
    iof_http_response_free(&r);
    assert_int_equal(iof_http_client_request(http, "GET", url, hgood, NULL, 0, &r, NULL), IOF_OK);
    assert_int_equal(r.status, 200);
    iof_http_response_free(&r);
    iof_http_client_free(http);

    assert_int_equal(agent_daemon_term(a), 0);
}

/* Bad input to a running daemon is the client's error, said clearly: a GPS coordinate that is no
 * number (was 500), a command line of more words than the daemon takes (was cut silently). */
static void test_local_api_refuses_bad_input(void **state) {
    struct agent_fixture *a = *state;
    char out[8192];
    assert_int_equal(agent_daemon_spawn(a), 0);
    assert_int_equal(agent_local_post(a, "/v2/gps", "{\"lat\":\"abc\",\"lon\":\"8\"}", NULL), 400);
    assert_int_equal(agent_local_post(a, "/v2/gps", "{\"lat\":\"47.5\",\"lon\":\"nan\"}", NULL),
                     400);
    assert_int_equal(agent_local_post(a, "/v2/gps", "{\"lat\":91,\"lon\":8}", NULL), 400);
    assert_int_equal(agent_local_post(a, "/v2/gps", "{\"lat\":\"47.5\",\"lon\":\"8.25\"}", NULL),
                     200);

    /* 66 words: "config", 31 x "-d 10", then "-sf 33". Cut at 64 it would set -sf without a
     * value (or nothing); refused whole, nothing changes. */
    char cmd[512];
    size_t n = (size_t)snprintf(cmd, sizeof cmd, "config");
    for (int i = 0; i < 31; i++) {
        n += (size_t)snprintf(cmd + n, sizeof cmd - n, " -d 10");
    }
    (void)snprintf(cmd + n, sizeof cmd - n, " -sf 33");
    assert_int_not_equal(agent_cli(a, out, sizeof out, "%s", cmd), 0);
    if (strstr(out, "more than 64 words") == NULL) {
        fail_msg("CLI output: %s", out);
    }
    assert_int_equal(agent_cli(a, out, sizeof out, "info"), 0);
    const char *sf = strstr(out, "status-update-frequency");
    if (sf == NULL) {
        fail_msg("info output: %s", out);
    }
    const char *eol = strchr(sf, '\n');
    char line[128];
    (void)snprintf(line, sizeof line, "%.*s", eol != NULL ? (int)(eol - sf) : 100, sf);
    if (strstr(line, ": 33") != NULL) {
        fail_msg("status frequency changed by a refused command: %s", line);
    }
    assert_int_equal(agent_daemon_term(a), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cli_without_daemon, setup, teardown),
        cmocka_unit_test_setup_teardown(test_provision_status_and_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_local_api_refuses_bad_input, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
