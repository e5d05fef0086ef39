/* Agent settings: defaults, classic validation texts, file round trip and permissions, the
 * Controller's keys both ways, and the offline cache's checksum. */
#include "agent/cache.h"
#include "agent/config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static char dir[64];

static int setup(void **state) {
    (void)state;
    (void)snprintf(dir, sizeof dir, "/tmp/agent-config-test.XXXXXX");
    return mkdtemp(dir) != NULL ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[128];
    (void)snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_defaults(void **state) {
    (void)state;
    struct agent_config c;
    agent_config_defaults(&c, NULL);
    assert_string_equal(c.config_dir, "/etc/iofog-agent");
    assert_string_equal(c.docker_url, "unix:///var/run/docker.sock");
    assert_string_equal(c.disk_directory, "/var/lib/iofog-agent/");
    assert_int_equal(c.local_api_port, 54321);
    assert_int_equal(c.status_frequency, 10);
    assert_int_equal(c.change_frequency, 20);
    assert_true(c.long_poll_wait > 0);
    assert_false(c.secure_mode);
}

static void
expect_invalid(struct agent_config *c, const char *flag, const char *value, const char *msg) {
    struct agent_config before = *c;
    struct iof_diag d = {{0}};
    assert_int_equal(agent_config_set(c, flag, value, &d), IOF_EINVAL);
    assert_string_equal(d.msg, msg);
    assert_memory_equal(&before, c, sizeof before);
}

static void test_validation(void **state) {
    (void)state;
    struct agent_config c;
    agent_config_defaults(&c, dir);
    expect_invalid(&c, "d", "abc", "Option -d has invalid value: abc");
    expect_invalid(&c, "d", "0", "Disk limit range must be 1 to 1048576 GB");
    expect_invalid(&c, "m", "64", "Memory limit range must be 128 to 1048576 MB");
    expect_invalid(&c, "p", "101", "CPU limit range must be 5% to 100%");
    expect_invalid(&c, "sf", "0", "Status update frequency must be greater than 1");
    expect_invalid(&c, "lc", "1000", "Log file count range must be 1 to 100");
    expect_invalid(
        &c, "c", "http://x", "Unsupported protocol scheme. Only 'tcp://' or 'unix://' supported.");
    expect_invalid(&c, "idc", "maybe", "Option -idc has invalid value: maybe");
    expect_invalid(&c, "gps", "200,0", "Option -gps has invalid value: 200,0");
    expect_invalid(&c, "a", "ftp://x", "Option -a has invalid value: ftp://x");
    expect_invalid(&c, "sec", "on", "Secure mode requires an https Controller URL");

    struct iof_diag d = {{0}};
    assert_int_equal(agent_config_set(&c, "nosuch", "1", &d), IOF_ENOENT);
    assert_int_equal(agent_config_set(&c, "a", "https://ctl.example:51121/api/v3", &d), IOF_OK);
    assert_string_equal(c.controller_url, "https://ctl.example:51121/api/v3/");
    assert_int_equal(agent_config_set(&c, "dl", "/srv/x", &d), IOF_OK);
    assert_string_equal(c.disk_directory, "/srv/x/");
    assert_int_equal(agent_config_set(&c, "ll", "debug", &d), IOF_OK);
    assert_string_equal(c.log_level, "DEBUG");
    assert_int_equal(agent_config_set(&c, "gps", "45.5,-73.6", &d), IOF_OK);
    assert_string_equal(c.gps_mode, "manual");
    assert_string_equal(c.gps_coordinates, "45.5,-73.6");
    assert_int_equal(agent_config_set(&c, "sf", "+5", &d), IOF_OK); /* classic: leading + */
    assert_int_equal(c.status_frequency, 5);
}

static void test_args(void **state) {
    (void)state;
    struct agent_config c;
    agent_config_defaults(&c, dir);
    const char *argv[] = {"-sf", "7", "-lc", "0", "-ac", "-cf", "9"};
    json_t *msgs = NULL;
    struct iof_diag d = {{0}};
    assert_int_equal(agent_config_apply_args(&c, 7, argv, &msgs, &d), IOF_OK);
    assert_int_equal(c.status_frequency, 7);
    assert_int_equal(c.change_frequency, 9);
    assert_string_equal(c.controller_cert, ""); /* -ac without a value */
    assert_int_equal(json_object_size(msgs), 1);
    assert_string_equal(json_string_value(json_object_get(msgs, "lc")),
                        "Log file count range must be 1 to 100");
    json_decref(msgs);
    const char *missing[] = {"-sf"};
    assert_int_equal(agent_config_apply_args(&c, 1, missing, &msgs, &d), IOF_EINVAL);

    const char *defs[] = {"defaults"};
    assert_int_equal(agent_config_apply_args(&c, 1, defs, &msgs, &d), IOF_OK);
    json_decref(msgs);
    assert_int_equal(c.status_frequency, 10);
}

static void test_files(void **state) {
    (void)state;
    struct agent_config c, back;
    struct iof_diag d = {{0}};
    agent_config_defaults(&c, dir);
    c.status_frequency = 42;
    c.disk_limit = 2.5;
    c.watchdog_enabled = true;
    (void)snprintf(c.iofog_uuid, sizeof c.iofog_uuid, "node-1");
    (void)snprintf(c.access_token, sizeof c.access_token, "secret");
    assert_int_equal(agent_config_save(&c, &d), IOF_OK);
    assert_int_equal(agent_config_save_credentials(&c, &d), IOF_OK);
    assert_int_equal(agent_config_load(&back, dir, &d), IOF_OK);
    assert_int_equal(back.status_frequency, 42);
    assert_true(back.disk_limit > 2.49 && back.disk_limit < 2.51);
    assert_true(back.watchdog_enabled);
    assert_string_equal(back.iofog_uuid, "node-1");
    assert_string_equal(back.access_token, "secret");
    char path[128];
    struct stat st;
    (void)snprintf(path, sizeof path, "%s/credentials.json", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    /* A bad value in the file is reported with the file and the key. */
    (void)snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"statusFrequency\":\"soon\"}", f);
    fclose(f);
    assert_int_equal(agent_config_load(&back, dir, &d), IOF_EINVAL);
    assert_non_null(strstr(d.msg, "statusFrequency"));
    f = fopen(path, "w");
    fputs("{\"nosuch\":1}", f);
    fclose(f);
    assert_int_equal(agent_config_load(&back, dir, &d), IOF_EINVAL);
    assert_non_null(strstr(d.msg, "unknown key"));

    /* Admin token: created once, 32 characters, private, then read back. */
    char tok[64], again[64];
    assert_int_equal(agent_config_admin_token(dir, true, tok, sizeof tok, &d), IOF_OK);
    assert_int_equal(strlen(tok), 32);
    assert_int_equal(agent_config_admin_token(dir, false, again, sizeof again, &d), IOF_OK);
    assert_string_equal(tok, again);
    (void)snprintf(path, sizeof path, "%s/local-api", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
}

static void test_controller_keys(void **state) {
    (void)state;
    struct agent_config c;
    agent_config_defaults(&c, dir);
    json_t *mine = agent_config_controller_json(&c);
    assert_int_equal(json_integer_value(json_object_get(mine, "statusFrequency")), 10);
    assert_true(json_is_false(json_object_get(mine, "watchdogEnabled")));
    assert_string_equal(json_string_value(json_object_get(mine, "dockerUrl")),
                        "unix:///var/run/docker.sock");
    assert_null(json_object_get(mine, "controllerUrl"));
    json_decref(mine);

    bool changed = false;
    json_t *theirs = json_pack("{sisbsssi}",
                               "statusFrequency",
                               3,
                               "watchdogEnabled",
                               1,
                               "logLevel",
                               "warning",
                               "changeFrequency",
                               -5);
    agent_config_apply_controller(&c, theirs, &changed);
    assert_true(changed);
    assert_int_equal(c.status_frequency, 3);
    assert_true(c.watchdog_enabled);
    assert_string_equal(c.log_level, "WARNING");
    assert_int_equal(c.change_frequency, 20); /* invalid value skipped */
    agent_config_apply_controller(&c, theirs, &changed);
    assert_false(changed);
    json_decref(theirs);
}

static void test_cache(void **state) {
    (void)state;
    struct iof_diag d = {{0}};
    json_t *data = json_pack("[{ss si}]", "uuid", "m1", "logSize", 2);
    json_t *back = NULL;
    assert_int_equal(agent_cache_read(dir, "microservices", &back, &d), IOF_ENOENT);
    assert_int_equal(agent_cache_write(dir, "microservices", data, &d), IOF_OK);
    assert_int_equal(agent_cache_read(dir, "microservices", &back, &d), IOF_OK);
    assert_true(json_equal(back, data));
    json_decref(back);

    /* A tampered file fails its checksum. */
    char path[128];
    (void)snprintf(path, sizeof path, "%s/cache/microservices.json", dir);
    json_t *doc = json_load_file(path, 0, NULL);
    assert_non_null(doc);
    json_object_set_new(
        json_array_get(json_object_get(doc, "data"), 0), "logSize", json_integer(3));
    assert_int_equal(json_dump_file(doc, path, 0), 0);
    json_decref(doc);
    assert_int_equal(agent_cache_read(dir, "microservices", &back, &d), IOF_EPROTO);
    /* Garbage too. */
    FILE *f = fopen(path, "w");
    fputs("{\"checksum\":", f);
    fclose(f);
    assert_int_equal(agent_cache_read(dir, "microservices", &back, &d), IOF_EPROTO);
    json_decref(data);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test_setup_teardown(test_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_args, setup, teardown),
        cmocka_unit_test_setup_teardown(test_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_controller_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
