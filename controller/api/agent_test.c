/* Agent-facing API against a real server: provisioning, config, change flags and their
 * acknowledgement, the long-poll (wake-up latency, commit visibility, replacement, timeout),
 * status reports and liveness. Nodes are created with SQL here; the node API has its own tests. */
#include "controller/api/api_testutil.h"

#include "common/clock.h"
#include "controller/domain/agent_wait.h"
#include "controller/domain/changes.h"
#include "controller/domain/liveness.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#define FOG "fogAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

struct agent_fixture {
    struct api_fixture *f;
    char token[65];
};

static void sql(struct api_fixture *f, const char *text) {
    struct iof_diag d = {{0}};
    if (ctl_db_exec(ctl_store_db(f->store), text, NULL, 0, NULL, NULL, NULL, &d) != IOF_OK) {
        fail_msg("SQL failed: %s: %s", text, d.msg);
    }
}

/* A node of user 1 with a provisioning key `key` that expires at exp_ms. */
static void make_node(struct api_fixture *f, const char *key, int64_t exp_ms) {
    char hash[65], text[512];
    ctl_token_hash(key, hash);
    sql(f, "INSERT INTO fogs (uuid, name, user_id) VALUES ('" FOG "', 'node-1', 1)");
    (void)snprintf(text,
                   sizeof text,
                   "INSERT INTO fog_provision_keys (fog_uuid, key_hash, expiration_time)"
                   " VALUES ('" FOG "', '%s', %lld)",
                   hash,
                   (long long)exp_ms);
    sql(f, text);
}

static int setup(void **state) {
    struct agent_fixture *a = calloc(1, sizeof *a);
    a->f = api_start_inproc();
    char user_token[65];
    if (a->f == NULL || api_user(a->f, "agent-owner@example.com", user_token) != 0) {
        return -1;
    }
    make_node(a->f, "KEY23456", iof_time_now_ms() + 20 * 60 * 1000);
    json_t *ans = NULL;
    long st = api_call(
        a->f, "POST", "/api/v3/agent/provision", NULL, "{\"key\":\"KEY23456\",\"type\":1}", &ans);
    const char *t = jstr(ans, "token");
    if (st != 200 || strcmp(jstr(ans, "uuid"), FOG) != 0 || strlen(t) != 48) {
        json_decref(ans);
        return -1;
    }
    memcpy(a->token, t, strlen(t) + 1);
    json_decref(ans);
    *state = a;
    return 0;
}

static int teardown(void **state) {
    struct agent_fixture *a = *state;
    api_stop(a->f);
    free(a);
    return 0;
}

static void test_provisioning(void **state) {
    struct agent_fixture *a = *state;
    struct api_fixture *f = a->f;
    json_t *ans = NULL;
    /* The key was used by setup: single use. */
    assert_int_equal(
        api_call(
            f, "POST", "/api/v3/agent/provision", NULL, "{\"key\":\"KEY23456\",\"type\":1}", &ans),
        404);
    assert_string_equal(jstr(ans, "name"), "NotFoundError");
    json_decref(ans);
    /* An expired key is 401. */
    char hash[65], text[256];
    ctl_token_hash("OLDKEY99", hash);
    (void)snprintf(text,
                   sizeof text,
                   "INSERT INTO fog_provision_keys (fog_uuid, key_hash, expiration_time)"
                   " VALUES ('" FOG "', '%s', %lld)",
                   hash,
                   (long long)iof_time_now_ms() - 1);
    sql(f, text);
    assert_int_equal(
        api_call(
            f, "POST", "/api/v3/agent/provision", NULL, "{\"key\":\"OLDKEY99\",\"type\":1}", &ans),
        401);
    assert_string_equal(jstr(ans, "message"), "Expired Provisioning Key");
    json_decref(ans);
    assert_int_equal(api_call(f, "POST", "/api/v3/agent/provision", NULL, "{\"type\":1}", NULL),
                     400);
    /* The token is stored as a digest only; the node's fog type was set. */
    json_t *rows = NULL;
    struct iof_diag d;
    assert_int_equal(
        ctl_db_query_json(ctl_store_db(f->store),
                          "SELECT t.token_hash AS h, f.fog_type_id AS type"
                          " FROM fog_access_tokens t JOIN fogs f ON f.uuid = t.fog_uuid",
                          NULL,
                          0,
                          &rows,
                          &d),
        IOF_OK);
    assert_int_equal(json_array_size(rows), 1);
    ctl_token_hash(a->token, hash);
    assert_string_equal(jstr(json_array_get(rows, 0), "h"), hash);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(rows, 0), "type")), 1);
    json_decref(rows);
}

static void test_config(void **state) {
    struct agent_fixture *a = *state;
    struct api_fixture *f = a->f;
    json_t *cfg = NULL;
    assert_int_equal(api_call(f, "GET", "/api/v3/agent/config", NULL, NULL, &cfg), 401);
    json_decref(cfg);
    assert_int_equal(api_call(f, "GET", "/api/v3/agent/config", "not-a-token", NULL, NULL), 401);
    char bearer[80];
    (void)snprintf(bearer, sizeof bearer, "Bearer %s", a->token);
    assert_int_equal(api_call(f, "GET", "/api/v3/agent/config", bearer, NULL, &cfg), 200);
    assert_string_equal(jstr(cfg, "dockerUrl"), "unix:///var/run/docker.sock");
    assert_int_equal(json_integer_value(json_object_get(cfg, "statusFrequency")), 10);
    assert_int_equal(json_integer_value(json_object_get(cfg, "changeFrequency")), 20);
    assert_true(json_is_true(json_object_get(cfg, "watchdogEnabled")));
    assert_string_equal(jstr(cfg, "natsUrl"), "nats://127.0.0.1:4222");
    assert_non_null(json_object_get(cfg, "routerHost"));
    json_decref(cfg);

    assert_int_equal(api_call(f,
                              "PATCH",
                              "/api/v3/agent/config",
                              a->token,
                              "{\"statusFrequency\":5,\"logLevel\":\"DEBUG\"}",
                              NULL),
                     204);
    assert_int_equal(
        api_call(
            f, "PATCH", "/api/v3/agent/config", a->token, "{\"statusFrequency\":\"often\"}", NULL),
        400);
    assert_int_equal(api_call(f, "GET", "/api/v3/agent/config", a->token, NULL, &cfg), 200);
    assert_int_equal(json_integer_value(json_object_get(cfg, "statusFrequency")), 5);
    assert_string_equal(jstr(cfg, "logLevel"), "DEBUG");
    json_decref(cfg);
    /* Every agent request records the Controller's receive time. */
    json_t *row = NULL;
    struct iof_diag d;
    assert_int_equal(
        ctl_db_query_json_one(
            ctl_store_db(f->store), "SELECT last_active AS t FROM fogs", NULL, 0, NULL, &row, &d),
        IOF_OK);
    assert_true(json_integer_value(json_object_get(row, "t")) > iof_time_now_ms() - 10000);
    json_decref(row);
}

static void test_changes_and_ack(void **state) {
    struct agent_fixture *a = *state;
    struct api_fixture *f = a->f;
    json_t *ch = NULL;
    assert_int_equal(api_call(f, "GET", "/api/v3/agent/config/changes", a->token, NULL, &ch), 200);
    assert_true(json_is_false(json_object_get(ch, "config")));
    assert_true(json_is_false(json_object_get(ch, "microserviceConfig")));
    assert_true(json_is_false(json_object_get(ch, "isImageSnapshot")));
    assert_true(json_is_string(json_object_get(ch, "lastUpdated")));
    json_decref(ch);

    struct iof_diag d;
    assert_int_equal(ctl_changes_raise(f->srv, FOG, CTL_FLAG_CONFIG, &d), IOF_OK);
    assert_int_equal(api_call(f, "GET", "/api/v3/agent/config/changes", a->token, NULL, &ch), 200);
    assert_true(json_is_true(json_object_get(ch, "config")));
    char seen[32];
    (void)snprintf(seen, sizeof seen, "%s", jstr(ch, "lastUpdated"));
    json_decref(ch);
    /* Raised while the agent works on what it saw: survives the acknowledgement. */
    assert_int_equal(ctl_changes_raise(f->srv, FOG, CTL_FLAG_MICROSERVICE_CONFIG, &d), IOF_OK);
    char body[64];
    (void)snprintf(body, sizeof body, "{\"lastUpdated\":\"%s\"}", seen);
    assert_int_equal(api_call(f, "PATCH", "/api/v3/agent/config/changes", a->token, body, &ch),
                     200);
    assert_true(json_is_object(ch));
    json_decref(ch);
    assert_int_equal(api_call(f, "GET", "/api/v3/agent/config/changes", a->token, NULL, &ch), 200);
    assert_true(json_is_false(json_object_get(ch, "config")));
    assert_true(json_is_true(json_object_get(ch, "microserviceConfig")));
    json_decref(ch);
    assert_int_equal(api_call(f,
                              "PATCH",
                              "/api/v3/agent/config/changes",
                              a->token,
                              "{\"lastUpdated\":\"yesterday\"}",
                              NULL),
                     400);
    assert_int_equal(
        api_call(f, "GET", "/api/v3/agent/config/changes?wait=61", a->token, NULL, NULL), 400);
}

static void sleep_ms(long ms) {
    nanosleep(&(struct timespec){.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L}, NULL);
}

/* Waits until the registry holds n requests (bounded). */
static void wait_held(struct api_fixture *f, size_t n) {
    for (int i = 0; i < 500 && ctl_agent_wait_count(f->srv->waits) != n; i++) {
        sleep_ms(2);
    }
    assert_int_equal(ctl_agent_wait_count(f->srv->waits), n);
}

static void test_long_poll_wakes_fast(void **state) {
    struct agent_fixture *a = *state;
    struct api_fixture *f = a->f;
    int64_t worst = 0;
    for (int round = 0; round < 20; round++) {
        struct api_long_poll p = {.port = f->port, .token = a->token, .wait_s = 30};
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, api_long_poll_main, &p), 0);
        wait_held(f, 1);
        struct iof_diag d;
        int64_t raised = iof_time_mono_ms();
        assert_int_equal(ctl_changes_raise(f->srv, FOG, CTL_FLAG_MICROSERVICE_CONFIG, &d), IOF_OK);
        pthread_join(t, NULL);
        assert_int_equal(p.status, 200);
        assert_true(json_is_true(json_object_get(p.answer, "microserviceConfig")));
        char body[64];
        (void)snprintf(
            body, sizeof body, "{\"lastUpdated\":\"%s\"}", jstr(p.answer, "lastUpdated"));
        assert_int_equal(api_call(f, "PATCH", "/api/v3/agent/config/changes", a->token, body, NULL),
                         200);
        json_decref(p.answer);
        if (p.done_ms - raised > worst) {
            worst = p.done_ms - raised;
        }
    }
    print_message("long-poll: worst raise-to-answer over 20 rounds %lld ms\n", (long long)worst);
    assert_true(worst <= 50);
}

static void test_long_poll_sees_only_committed(void **state) {
    struct agent_fixture *a = *state;
    struct api_fixture *f = a->f;
    struct api_long_poll p = {.port = f->port, .token = a->token, .wait_s = 30};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, api_long_poll_main, &p), 0);
    wait_held(f, 1);
    struct ctl_db *db = ctl_store_db(f->store);
    struct iof_diag d;
    assert_int_equal(ctl_db_begin(db, &d), IOF_OK);
    assert_int_equal(ctl_changes_raise(f->srv, FOG, CTL_FLAG_ROUTING, &d), IOF_OK);
    sleep_ms(150);
    assert_int_equal(p.done_ms, 0); /* not answered before the commit */
    int64_t committed = iof_time_mono_ms();
    assert_int_equal(ctl_db_commit(db, &d), IOF_OK);
    pthread_join(t, NULL);
    assert_int_equal(p.status, 200);
    assert_true(json_is_true(json_object_get(p.answer, "routing")));
    assert_true(p.done_ms - committed <= 50);
    json_decref(p.answer);

    /* A rolled-back raise wakes nobody. */
    struct api_long_poll q = {.port = f->port, .token = a->token, .wait_s = 1};
    assert_int_equal(pthread_create(&t, NULL, api_long_poll_main, &q), 0);
    /* The routing flag is still pending (not acknowledged): the poll answers at once. */
    pthread_join(t, NULL);
    assert_int_equal(q.status, 200);
    assert_true(json_is_true(json_object_get(q.answer, "routing")));
    json_decref(q.answer);
}

static void test_long_poll_timeout_and_replace(void **state) {
    struct agent_fixture *a = *state;
    struct api_fixture *f = a->f;
    struct api_long_poll p1 = {.port = f->port, .token = a->token, .wait_s = 1};
    int64_t start = iof_time_mono_ms();
    pthread_t t1, t2;
    assert_int_equal(pthread_create(&t1, NULL, api_long_poll_main, &p1), 0);
    pthread_join(t1, NULL);
    int64_t took = p1.done_ms - start;
    assert_int_equal(p1.status, 200);
    assert_true(json_is_false(json_object_get(p1.answer, "config")));
    assert_true(took >= 900 && took <= 1800);
    json_decref(p1.answer);

    /* A newer request from the same node replaces the older one, which is answered at once. */
    struct api_long_poll older = {.port = f->port, .token = a->token, .wait_s = 30};
    struct api_long_poll newer = {.port = f->port, .token = a->token, .wait_s = 30};
    assert_int_equal(pthread_create(&t1, NULL, api_long_poll_main, &older), 0);
    wait_held(f, 1);
    assert_int_equal(pthread_create(&t2, NULL, api_long_poll_main, &newer), 0);
    pthread_join(t1, NULL);
    assert_int_equal(older.status, 200);
    wait_held(f, 1);
    assert_int_equal(newer.done_ms, 0);
    struct iof_diag d;
    assert_int_equal(ctl_changes_raise(f->srv, FOG, CTL_FLAG_REBOOT, &d), IOF_OK);
    pthread_join(t2, NULL);
    assert_int_equal(newer.status, 200);
    assert_true(json_is_true(json_object_get(newer.answer, "reboot")));
    json_decref(older.answer);
    json_decref(newer.answer);
}

/* Polls sent together by a fleet come back spread over the last quarter of their wait, not in
 * the same instant (a replica that took over every agent at once would otherwise get all their
 * polls again in one burst every period). */
static void test_long_poll_expiries_spread(void **state) {
    struct agent_fixture *a = *state;
    struct api_fixture *f = a->f;
    enum { NODES = 6, WAIT_S = 12 };
    char tokens[NODES][32];
    struct api_long_poll p[NODES];
    pthread_t t[NODES];
    for (int i = 0; i < NODES; i++) {
        char text[512], hash[65];
        (void)snprintf(tokens[i], sizeof tokens[i], "spread-token-%d", i);
        ctl_token_hash(tokens[i], hash);
        (void)snprintf(text,
                       sizeof text,
                       "INSERT INTO fogs (uuid, name, user_id) VALUES"
                       " ('spread%dAAAAAAAAAAAAAAAAAAAAAAAA', 'spread-%d', 1)",
                       i,
                       i);
        sql(f, text);
        (void)snprintf(text,
                       sizeof text,
                       "INSERT INTO fog_access_tokens (fog_uuid, user_id, token_hash,"
                       " expiration_time) VALUES ('spread%dAAAAAAAAAAAAAAAAAAAAAAAA', 1, '%s',"
                       " %lld)",
                       i,
                       hash,
                       (long long)(iof_time_now_ms() + 3600 * 1000));
        sql(f, text);
    }
    /* Nothing pending for these nodes: each poll is held until its time runs out. */
    int64_t start = iof_time_mono_ms();
    for (int i = 0; i < NODES; i++) {
        p[i] = (struct api_long_poll){.port = f->port, .token = tokens[i], .wait_s = WAIT_S};
        assert_int_equal(pthread_create(&t[i], NULL, api_long_poll_main, &p[i]), 0);
    }
    wait_held(f, NODES);
    int64_t first = INT64_MAX, last = 0;
    for (int i = 0; i < NODES; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(p[i].status, 200);
        assert_true(json_is_false(json_object_get(p[i].answer, "config")));
        json_decref(p[i].answer);
        int64_t took = p[i].done_ms - start;
        print_message("long-poll wait=%d answered after %lld ms\n", WAIT_S, (long long)took);
        assert_true(took >= WAIT_S * 1000 * 3 / 4 - 100 && took <= WAIT_S * 1000 + 1000);
        first = took < first ? took : first;
        last = took > last ? took : last;
    }
    /* Six draws over 3 s all within 200 ms of each other: about one chance in 100,000. */
    assert_true(last - first >= 200);
}

static void test_status_and_liveness(void **state) {
    struct agent_fixture *a = *state;
    struct api_fixture *f = a->f;
    sql(f, "INSERT INTO applications (name, user_id, is_activated) VALUES ('app', 1, 1)");
    sql(f,
        "INSERT INTO microservices (uuid, name, fog_uuid, application_id, user_id)"
        " VALUES ('msvcAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'm1', '" FOG "', 1, 1)");
    sql(f,
        "INSERT INTO fogs (uuid, name, user_id) VALUES ('otherAAAAAAAAAAAAAAAAAAAAAAAAAAA',"
        " 'node-2', 1)");
    sql(f,
        "INSERT INTO microservices (uuid, name, fog_uuid, application_id, user_id)"
        " VALUES ('msvcBBBBBBBBBBBBBBBBBBBBBBBBBBBB', 'm2', 'otherAAAAAAAAAAAAAAAAAAAAAAAAAAA',"
        " 1, 1)");
    const char *report =
        "{\"daemonStatus\":\"RUNNING\",\"cpuUsage\":12.5,\"memoryUsage\":100,"
        "\"systemTotalCpu\":2,\"ipAddress\":\"10.0.0.5\",\"processedMessages\":7,"
        "\"lastStatusTime\":1,\"isReadyToUpgrade\":false,\"version\":\"0.1.0\","
        "\"microserviceStatus\":\"[{\\\"id\\\":\\\"msvcAAAAAAAAAAAAAAAAAAAAAAAAAAAA\\\","
        "\\\"status\\\":\\\"PULLING\\\",\\\"percentage\\\":42.5,\\\"containerId\\\":\\\"\\\","
        "\\\"errorMessage\\\":\\\"\\\"},{\\\"id\\\":\\\"msvcBBBBBBBBBBBBBBBBBBBBBBBBBBBB\\\","
        "\\\"status\\\":\\\"RUNNING\\\"}]\"}";
    assert_int_equal(api_call(f, "PUT", "/api/v3/agent/status", a->token, report, NULL), 204);
    json_t *rows = NULL;
    struct iof_diag d;
    assert_int_equal(ctl_db_query_json(ctl_store_db(f->store),
                                       "SELECT microservice_uuid AS id, status, percentage"
                                       " FROM microservice_statuses ORDER BY id",
                                       NULL,
                                       0,
                                       &rows,
                                       &d),
                     IOF_OK);
    /* Only the microservice placed on this node took the report. */
    assert_int_equal(json_array_size(rows), 1);
    assert_string_equal(jstr(json_array_get(rows, 0), "status"), "PULLING");
    assert_true(json_real_value(json_object_get(json_array_get(rows, 0), "percentage")) == 42.5);
    json_decref(rows);
    json_t *node = NULL;
    assert_int_equal(ctl_db_query_json_one(ctl_store_db(f->store),
                                           "SELECT daemon_status AS s, ip_address AS ip,"
                                           " processed_messages AS pm, is_ready_to_upgrade AS up"
                                           " FROM fogs WHERE uuid = '" FOG "'",
                                           NULL,
                                           0,
                                           NULL,
                                           &node,
                                           &d),
                     IOF_OK);
    assert_string_equal(jstr(node, "s"), "RUNNING");
    assert_string_equal(jstr(node, "ip"), "10.0.0.5");
    assert_int_equal(json_integer_value(json_object_get(node, "pm")), 7);
    assert_int_equal(json_integer_value(json_object_get(node, "up")), 0);
    json_decref(node);
    assert_int_equal(api_call(f,
                              "PUT",
                              "/api/v3/agent/status",
                              a->token,
                              "{\"microserviceStatus\":\"not json\"}",
                              NULL),
                     400);

    /* Liveness by receive time: the agent's own clock (lastStatusTime 1) does not matter. */
    int64_t changed = -1;
    assert_int_equal(ctl_liveness_check(f->srv, &changed, &d), IOF_OK);
    assert_int_equal(changed, 0);
    sql(f, "UPDATE fogs SET last_active = last_active - 31000 WHERE uuid = '" FOG "'");
    assert_int_equal(ctl_liveness_check(f->srv, &changed, &d), IOF_OK);
    assert_int_equal(changed, 1);
    assert_int_equal(
        ctl_db_query_json_one(ctl_store_db(f->store),
                              "SELECT f.daemon_status AS s, m.status AS ms FROM fogs f,"
                              " microservice_statuses m WHERE f.uuid = '" FOG "'",
                              NULL,
                              0,
                              NULL,
                              &node,
                              &d),
        IOF_OK);
    assert_string_equal(jstr(node, "s"), "UNKNOWN");
    assert_string_equal(jstr(node, "ms"), "UNKNOWN");
    json_decref(node);
}

static void test_microservices_view(void **state) {
    struct agent_fixture *a = *state;
    struct api_fixture *f = a->f;
    sql(f,
        "INSERT INTO applications (id, name, user_id, is_activated) VALUES (1, 'on', 1, 1),"
        " (2, 'off', 1, 0)");
    sql(f,
        "INSERT INTO microservices (uuid, name, fog_uuid, application_id, user_id, config,"
        " rebuild, log_size) VALUES"
        " ('m1AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'sensor', '" FOG "', 1, 1, '{\"f\":1}', 1, 5),"
        " ('m2AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'viewer', '" FOG "', 1, 1, '{}', 0, 1),"
        " ('m3AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'idle', '" FOG "', 2, 1, '{}', 0, 1),"
        " ('m4AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'armonly', '" FOG "', 1, 1, '{}', 0, 1)");
    sql(f,
        "INSERT INTO catalog_item_images (microservice_uuid, fog_type_id, container_image) VALUES"
        " ('m1AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 1, 'sensor:1'),"
        " ('m3AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 1, 'idle:1'),"
        " ('m4AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 2, 'arm:1')");
    /* viewer takes its image from catalog item 5 (Hello Web Demo: iofog/hello-web for x86). */
    sql(f, "UPDATE microservices SET catalog_item_id = 5 WHERE name = 'viewer'");
    sql(f,
        "INSERT INTO microservice_ports (microservice_uuid, port_internal, port_external,"
        " protocol) VALUES ('m2AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 80, 8080, 'tcp'),"
        " ('m2AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 53, 5353, 'udp')");
    sql(f,
        "INSERT INTO microservice_envs (microservice_uuid, key, value) VALUES"
        " ('m1AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'A', '1'), ('m1AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', "
        "'B', '2')");
    sql(f,
        "INSERT INTO microservice_args (microservice_uuid, cmd) VALUES"
        " ('m1AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', '--fast'), ('m1AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', "
        "'-v')");
    sql(f,
        "INSERT INTO microservice_extra_hosts (microservice_uuid, name, value) VALUES"
        " ('m1AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'db', '10.1.1.1')");
    sql(f,
        "INSERT INTO volume_mappings (microservice_uuid, host_destination,"
        " container_destination, access_mode, type) VALUES"
        " ('m1AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', '/data', '/in', 'ro', 'bind')");
    sql(f,
        "INSERT INTO routings (name, application_id, source_microservice_uuid,"
        " dest_microservice_uuid) VALUES ('r1', 1, 'm1AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',"
        " 'm2AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')");

    json_t *ans = NULL;
    assert_int_equal(api_call(f, "GET", "/api/v3/agent/microservices", a->token, NULL, &ans), 200);
    json_t *list = json_object_get(ans, "microservices");
    /* Not sent: the one of the deactivated application, the one without an x86 image. */
    assert_int_equal(json_array_size(list), 2);
    json_t *m1 = json_array_get(list, 0), *m2 = json_array_get(list, 1);
    assert_string_equal(jstr(m1, "uuid"), "m1AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    assert_string_equal(jstr(m1, "imageId"), "sensor:1");
    assert_string_equal(jstr(m1, "config"), "{\"f\":1}");
    assert_true(json_is_true(json_object_get(m1, "rebuild")));
    assert_int_equal(json_integer_value(json_object_get(m1, "logSize")), 5);
    assert_int_equal(json_array_size(json_object_get(m1, "env")), 2);
    assert_string_equal(jstr(json_array_get(json_object_get(m1, "env"), 1), "key"), "B");
    assert_string_equal(json_string_value(json_array_get(json_object_get(m1, "cmd"), 0)), "--fast");
    assert_string_equal(json_string_value(json_array_get(json_object_get(m1, "extraHosts"), 0)),
                        "db:10.1.1.1");
    assert_string_equal(
        jstr(json_array_get(json_object_get(m1, "volumeMappings"), 0), "accessMode"), "ro");
    assert_string_equal(json_string_value(json_array_get(json_object_get(m1, "routes"), 0)),
                        "m2AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    assert_true(json_is_false(json_object_get(m1, "isConsumer")));
    assert_string_equal(jstr(m2, "imageId"), "iofog/hello-web");
    assert_true(json_is_true(json_object_get(m2, "isConsumer")));
    json_t *ports = json_object_get(m2, "portMappings");
    assert_int_equal(json_array_size(ports), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(ports, 0), "portExternal")),
                     8080);
    assert_true(json_is_false(json_object_get(json_array_get(ports, 0), "isUdp")));
    assert_true(json_is_true(json_object_get(json_array_get(ports, 1), "isUdp")));
    json_decref(ans);

    /* rebuild was cleared by serving it. */
    assert_int_equal(api_callf(f,
                               "GET",
                               a->token,
                               NULL,
                               &ans,
                               "/api/v3/agent/microservices/%s",
                               "m1AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
                     200);
    assert_true(json_is_false(json_object_get(json_object_get(ans, "microservice"), "rebuild")));
    json_decref(ans);
    assert_int_equal(api_callf(f,
                               "GET",
                               a->token,
                               NULL,
                               NULL,
                               "/api/v3/agent/microservices/%s",
                               "m3AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
                     404);
}

static void test_misc_resources(void **state) {
    struct agent_fixture *a = *state;
    struct api_fixture *f = a->f;
    sql(f,
        "INSERT INTO registries (url, is_public, user_name, password, user_id) VALUES"
        " ('private.example:5000', 0, 'me', 'secret', 1)");
    json_t *ans = NULL;
    assert_int_equal(api_call(f, "GET", "/api/v3/agent/registries", a->token, NULL, &ans), 200);
    json_t *regs = json_object_get(ans, "registries");
    assert_int_equal(json_array_size(regs), 3);
    assert_string_equal(jstr(json_array_get(regs, 2), "password"), "secret");
    assert_string_equal(jstr(json_array_get(regs, 1), "url"), "from_cache");
    json_decref(ans);

    assert_int_equal(api_call(f, "GET", "/api/v3/agent/version", a->token, NULL, NULL), 404);
    sql(f,
        "INSERT INTO fog_version_commands (fog_uuid, version_command) VALUES ('" FOG
        "', 'upgrade')");
    assert_int_equal(api_call(f, "GET", "/api/v3/agent/version", a->token, NULL, &ans), 200);
    assert_string_equal(jstr(ans, "versionCommand"), "upgrade");
    char body[80];
    (void)snprintf(body, sizeof body, "{\"key\":\"%s\",\"type\":1}", jstr(ans, "provisionKey"));
    assert_int_equal(strlen(jstr(ans, "provisionKey")), 8);
    json_decref(ans);
    /* The key handed out with the version command provisions the node again. */
    assert_int_equal(api_call(f, "POST", "/api/v3/agent/provision", NULL, body, &ans), 200);
    char token[64];
    (void)snprintf(token, sizeof token, "%s", jstr(ans, "token"));
    json_decref(ans);
    assert_int_equal(api_call(f, "GET", "/api/v3/agent/config", a->token, NULL, NULL), 401);

    assert_int_equal(
        api_call(f, "PUT", "/api/v3/agent/hal/hw", token, "{\"info\":\"{\\\"cpu\\\":4}\"}", NULL),
        204);
    assert_int_equal(api_call(f, "PUT", "/api/v3/agent/hal/hw", token, "{}", NULL), 400);
    assert_int_equal(api_call(f, "GET", "/api/v3/agent/tunnel", token, NULL, NULL), 404);
    assert_int_equal(api_call(f, "GET", "/api/v3/agent/image-snapshot", token, NULL, NULL), 404);
    assert_int_equal(api_call(f, "GET", "/api/v3/agent/edgeResources", token, NULL, &ans), 200);
    assert_int_equal(json_array_size(json_object_get(ans, "edgeResources")), 0);
    json_decref(ans);
    assert_int_equal(api_call(f, "DELETE", "/api/v3/agent/delete-node", token, NULL, NULL), 204);
    assert_int_equal(api_call(f, "GET", "/api/v3/agent/config", token, NULL, NULL), 401);
}

static void test_deprovision_revokes(void **state) {
    struct agent_fixture *a = *state;
    struct api_fixture *f = a->f;
    assert_int_equal(
        api_call(
            f, "POST", "/api/v3/agent/deprovision", a->token, "{\"microserviceUuids\":[]}", NULL),
        204);
    assert_int_equal(api_call(f, "GET", "/api/v3/agent/config", a->token, NULL, NULL), 401);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_provisioning, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_changes_and_ack, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_poll_wakes_fast, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_poll_sees_only_committed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_poll_timeout_and_replace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_poll_expiries_spread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_and_liveness, setup, teardown),
        cmocka_unit_test_setup_teardown(test_microservices_view, setup, teardown),
        cmocka_unit_test_setup_teardown(test_misc_resources, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deprovision_revokes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
