/* Classic clients unchanged (issue 16): one test per cause, each written from what the classic
 * Controller 3.0.4 answers (request, status, body shape), against the real binary. The node is
 * made and provisioned through the API as the classic suite does. */
#include "controller/api/app_testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

struct compat {
    struct api_fixture *f;
    char user[65];
    char node[64];
    char agent[160];
};

static int setup(void **state) {
    struct compat *c = calloc(1, sizeof *c);
    if (c == NULL || (c->f = api_start()) == NULL) {
        free(c);
        return -1;
    }
    if (api_user(c->f, "compat@example.com", c->user) != 0) {
        return -1;
    }
    *state = c;
    return 0;
}

static int teardown(void **state) {
    struct compat *c = *state;
    api_stop(c->f);
    free(c);
    return 0;
}

/* POST /iofog with "host" twice, as the classic suite's node bodies carry it, then provisioning
 * with "type" twice: both keep the last value (JavaScript's JSON.parse). */
static void make_node(struct compat *c) {
    json_t *a = NULL;
    assert_int_equal(api_call(c->f,
                              "POST",
                              "/api/v3/iofog",
                              c->user,
                              "{\"name\":\"edge-1\",\"fogType\":1,\"host\":\"localhost\","
                              "\"description\":\"d\",\"host\":\"1.2.3.4\"}",
                              &a),
                     201);
    (void)snprintf(c->node, sizeof c->node, "%s", jstr(a, "uuid"));
    json_decref(a);
    assert_int_equal(strlen(c->node), 32);
    assert_int_equal(
        api_callf(c->f, "GET", c->user, NULL, &a, "/api/v3/iofog/%s/provisioning-key", c->node),
        201);
    char body[160];
    (void)snprintf(body, sizeof body, "{\"type\":2,\"key\":\"%s\",\"type\":1}", jstr(a, "key"));
    json_decref(a);
    assert_int_equal(api_call(c->f, "POST", "/api/v3/agent/provision", NULL, body, &a), 200);
    assert_string_equal(jstr(a, "uuid"), c->node);
    (void)snprintf(c->agent, sizeof c->agent, "%s", jstr(a, "token"));
    json_decref(a);
}

/* An application "app" with microservice "m" on the node (own images). */
static void make_app(struct compat *c, char uuid[64]) {
    json_t *a = NULL;
    assert_int_equal(
        api_call(c->f,
                 "POST",
                 "/api/v3/application",
                 c->user,
                 "{\"name\":\"app\",\"isActivated\":true,\"microservices\":[{\"name\":\"m\","
                 "\"agentName\":\"edge-1\",\"images\":[{\"containerImage\":\"a/m:1\","
                 "\"fogTypeId\":1}]}]}",
                 NULL),
        201);
    assert_int_equal(
        api_call(c->f, "GET", "/api/v3/microservices?application=app", c->user, NULL, &a), 200);
    (void)snprintf(
        uuid, 64, "%s", jstr(json_array_get(json_object_get(a, "microservices"), 0), "uuid"));
    json_decref(a);
    assert_int_equal(strlen(uuid), 32);
}

/* Cause 1: a duplicate key keeps its last value in the user API and the agent API; a YAML
 * upload with a duplicate key (classic: js-yaml's "duplicated mapping key", a 500) is a 400 that
 * names the key. */
static void test_duplicate_keys_last_wins(void **state) {
    struct compat *c = *state;
    make_node(c);
    json_t *a = NULL;
    assert_int_equal(api_callf(c->f, "GET", c->user, NULL, &a, "/api/v3/iofog/%s", c->node), 200);
    assert_string_equal(jstr(a, "host"), "1.2.3.4");
    assert_int_equal(json_integer_value(json_object_get(a, "fogTypeId")), 1);
    json_decref(a);
    /* Nested objects too: the last "name" of the application, the last env value. */
    assert_int_equal(
        api_call(c->f,
                 "POST",
                 "/api/v3/application",
                 c->user,
                 "{\"name\":\"first\",\"microservices\":[{\"name\":\"m\",\"agentName\":\"edge-1\","
                 "\"env\":[{\"key\":\"K\",\"value\":\"1\",\"value\":\"2\"}],"
                 "\"images\":[{\"containerImage\":\"a/m:1\",\"fogTypeId\":1}]}],\"name\":\"dup\"}",
                 NULL),
        201);
    assert_int_equal(api_call(c->f, "GET", "/api/v3/application/dup", c->user, NULL, &a), 200);
    json_t *env = json_object_get(json_array_get(json_object_get(a, "microservices"), 0), "env");
    assert_string_equal(jstr(json_array_get(env, 0), "value"), "2");
    json_decref(a);
    assert_int_equal(api_call(c->f, "GET", "/api/v3/application/first", c->user, NULL, NULL), 404);

    /* Agent API: the status report's last daemonStatus is the one stored. */
    assert_int_equal(api_call(c->f,
                              "PUT",
                              "/api/v3/agent/status",
                              c->agent,
                              "{\"daemonStatus\":\"STOPPED\",\"ipAddress\":\"10.0.0.9\","
                              "\"daemonStatus\":\"RUNNING\"}",
                              NULL),
                     204);
    assert_int_equal(api_callf(c->f, "GET", c->user, NULL, &a, "/api/v3/iofog/%s", c->node), 200);
    assert_string_equal(jstr(a, "daemonStatus"), "RUNNING");
    json_decref(a);
    /* And the agent config PATCH. */
    assert_int_equal(api_call(c->f,
                              "PATCH",
                              "/api/v3/agent/config",
                              c->agent,
                              "{\"logLevel\":\"DEBUG\",\"logLevel\":\"WARNING\"}",
                              NULL),
                     204);
    assert_int_equal(api_call(c->f, "GET", "/api/v3/agent/config", c->agent, NULL, &a), 200);
    assert_string_equal(jstr(a, "logLevel"), "WARNING");
    json_decref(a);

    /* YAML (js-yaml refuses duplicates; classic answers 500): 400 naming the key. */
    const char *yaml = "apiVersion: iofog.org/v3\n"
                       "kind: Application\n"
                       "metadata:\n"
                       "  name: y\n"
                       "spec:\n"
                       "  microservices: []\n"
                       "  microservices: []\n";
    assert_int_equal(
        api_upload(c->f, "POST", "/api/v3/application/yaml", c->user, "application", yaml, &a),
        400);
    assert_string_equal(jstr(a, "name"), "ValidationError");
    assert_non_null(strstr(jstr(a, "message"), "duplicate mapping key 'microservices'"));
    json_decref(a);
}

/* Cause 3: a route from a microservice to itself is accepted (200 with the route), also inside
 * an application PUT, and the agent is handed it (the microservice receives its own
 * messages). */
static void test_self_route_accepted(void **state) {
    struct compat *c = *state;
    make_node(c);
    char m[64];
    make_app(c, m);
    json_t *a = NULL;
    assert_int_equal(api_call(c->f,
                              "POST",
                              "/api/v3/routes",
                              c->user,
                              "{\"name\":\"self\",\"application\":\"app\",\"from\":\"m\","
                              "\"to\":\"m\"}",
                              &a),
                     200);
    assert_string_equal(jstr(a, "name"), "self");
    assert_string_equal(jstr(a, "from"), "m");
    assert_string_equal(jstr(a, "to"), "m");
    json_decref(a);
    assert_int_equal(api_call(c->f, "GET", "/api/v3/agent/microservices", c->agent, NULL, &a), 200);
    json_t *routes =
        json_object_get(json_array_get(json_object_get(a, "microservices"), 0), "routes");
    assert_int_equal(json_array_size(routes), 1);
    assert_string_equal(json_string_value(json_array_get(routes, 0)), m);
    json_decref(a);

    /* An application PUT whose routes hold a self-route (renamed) is accepted whole. */
    assert_int_equal(
        api_call(
            c->f,
            "PUT",
            "/api/v3/application/app",
            c->user,
            "{\"name\":\"app\",\"isActivated\":true,\"microservices\":[{\"name\":\"m\","
            "\"agentName\":\"edge-1\",\"images\":[{\"containerImage\":\"a/m:1\","
            "\"fogTypeId\":1}]}],\"routes\":[{\"name\":\"loop\",\"from\":\"m\",\"to\":\"m\"}]}",
            &a),
        204);
    json_decref(a);
    assert_int_equal(api_call(c->f, "GET", "/api/v3/application/app", c->user, NULL, &a), 200);
    routes = json_object_get(a, "routes");
    assert_int_equal(json_array_size(routes), 1);
    assert_string_equal(jstr(json_array_get(routes, 0), "name"), "loop");
    assert_string_equal(jstr(json_array_get(routes, 0), "from"), "m");
    assert_string_equal(jstr(json_array_get(routes, 0), "to"), "m");
    json_decref(a);
}

/* Cause 5: isSystem hides an application from its owner's list only; the owner reads and deletes
 * it (classic: 204). */
static void test_system_application_deletable(void **state) {
    struct compat *c = *state;
    json_t *a = NULL;
    assert_int_equal(
        api_call(c->f, "POST", "/api/v3/application", c->user, "{\"name\":\"sys\"}", &a), 201);
    json_decref(a);
    assert_int_equal(
        api_call(c->f, "PATCH", "/api/v3/application/sys", c->user, "{\"isSystem\":true}", NULL),
        204);
    assert_int_equal(api_call(c->f, "GET", "/api/v3/application", c->user, NULL, &a), 200);
    assert_int_equal(json_array_size(json_object_get(a, "applications")), 0);
    json_decref(a);
    assert_int_equal(api_call(c->f, "GET", "/api/v3/application/sys", c->user, NULL, &a), 200);
    assert_true(json_is_true(json_object_get(a, "isSystem")));
    json_decref(a);
    assert_int_equal(api_call(c->f, "DELETE", "/api/v3/application/sys", c->user, NULL, &a), 204);
    assert_null(a);
    assert_int_equal(api_call(c->f, "GET", "/api/v3/application/sys", c->user, NULL, NULL), 404);
    /* Another user still cannot touch it. */
    char other[65];
    assert_int_equal(api_user(c->f, "other@example.com", other), 0);
    assert_int_equal(
        api_call(c->f, "POST", "/api/v3/application", c->user, "{\"name\":\"sys2\"}", NULL), 201);
    assert_int_equal(api_call(c->f, "DELETE", "/api/v3/application/sys2", other, NULL, NULL), 404);
}

static void expect_error(long got, json_t *a, long status, const char *name, const char *message) {
    assert_int_equal(got, status);
    assert_string_equal(jstr(a, "name"), name);
    assert_string_equal(jstr(a, "message"), message);
    json_decref(a);
}

/* Cause 6: the agent API's error texts and check order are classic's. */
static void test_agent_error_texts(void **state) {
    struct compat *c = *state;
    make_node(c);
    json_t *a = NULL;
    long st = api_call(c->f, "GET", "/api/v3/agent/image-snapshot", c->agent, NULL, &a);
    expect_error(st, a, 404, "NotFoundError", "Image snapshot not found");
    st = api_call(c->f, "GET", "/api/v3/agent/microservices/abcedf", c->agent, NULL, &a);
    expect_error(st, a, 404, "NotFoundError", "Invalid microservice UUID 'abcedf'");
    st = api_call(c->f, "GET", "/api/v3/agent/version", c->agent, NULL, &a);
    expect_error(st, a, 404, "NotFoundError", "Version command not found");
    /* A JSON body: the content type is checked before anything else. */
    st = api_call(c->f, "PUT", "/api/v3/agent/image-snapshot", c->agent, "{}", &a);
    expect_error(st, a, 400, "ValidationError", "Invalid content type");
    /* Multipart with nothing requested: refused (classic stores the file and changes nothing). */
    st = api_upload(c->f, "PUT", "/api/v3/agent/image-snapshot", c->agent, "upstream", "x", &a);
    assert_int_equal(st, 400);
    assert_string_equal(jstr(a, "name"), "ValidationError");
    json_decref(a);
}

/* Cause 7: strace 404 when none is set; a catalog-based microservice lists only its own images
 * (none); HAL info 200 with an empty body before any report; registries keep "password": "". */
static void test_smaller_classic_shapes(void **state) {
    struct compat *c = *state;
    make_node(c);
    json_t *a = NULL;
    long st = api_call(c->f, "GET", "/api/v3/agent/strace", c->agent, NULL, &a);
    expect_error(st, a, 404, "NotFoundError", "Strace not found");

    assert_int_equal(
        api_call(c->f, "POST", "/api/v3/application", c->user, "{\"name\":\"cat\"}", NULL), 201);
    assert_int_equal(api_call(c->f,
                              "POST",
                              "/api/v3/microservices",
                              c->user,
                              "{\"name\":\"hello\",\"application\":\"cat\",\"catalogItemId\":5,"
                              "\"agentName\":\"edge-1\"}",
                              &a),
                     201);
    char uuid[64];
    (void)snprintf(uuid, sizeof uuid, "%s", jstr(a, "uuid"));
    json_decref(a);
    assert_int_equal(api_callf(c->f, "GET", c->user, NULL, &a, "/api/v3/microservices/%s", uuid),
                     200);
    assert_int_equal(json_integer_value(json_object_get(a, "catalogItemId")), 5);
    assert_true(json_is_array(json_object_get(a, "images")));
    assert_int_equal(json_array_size(json_object_get(a, "images")), 0);
    json_decref(a);
    /* With strace set it is listed. */
    assert_int_equal(api_callf(c->f,
                               "PATCH",
                               c->user,
                               "{\"enable\":true}",
                               NULL,
                               "/api/v3/microservices/%s/strace",
                               uuid),
                     204);
    assert_int_equal(api_call(c->f, "GET", "/api/v3/agent/strace", c->agent, NULL, &a), 200);
    json_t *sv = json_object_get(a, "straceValues");
    assert_int_equal(json_array_size(sv), 1);
    assert_string_equal(jstr(json_array_get(sv, 0), "microserviceUuid"), uuid);
    json_decref(a);

    a = NULL;
    assert_int_equal(api_callf(c->f, "GET", c->user, NULL, &a, "/api/v3/iofog/%s/hal/hw", c->node),
                     200);
    assert_null(a);
    assert_int_equal(api_callf(c->f, "GET", c->user, NULL, &a, "/api/v3/iofog/%s/hal/usb", c->node),
                     200);
    assert_null(a);

    assert_int_equal(api_call(c->f,
                              "POST",
                              "/api/v3/registries",
                              c->user,
                              "{\"url\":\"r.example.com\",\"isPublic\":false,\"username\":\"u\","
                              "\"password\":\"s3cret\",\"email\":\"u@example.com\"}",
                              NULL),
                     201);
    assert_int_equal(api_call(c->f, "GET", "/api/v3/registries", c->user, NULL, &a), 200);
    json_t *regs = json_object_get(a, "registries");
    assert_true(json_array_size(regs) >= 3);
    size_t i;
    json_t *r;
    json_array_foreach(regs, i, r) {
        assert_true(json_is_string(json_object_get(r, "password")));
        assert_string_equal(jstr(r, "password"), "");
    }
    json_decref(a);
}

/* An ISO-8601 UTC timestamp as Sequelize serialises dates ("2026-01-02T03:04:05.678Z"). */
static void assert_iso(const json_t *o, const char *key) {
    const char *s = jstr(o, key);
    assert_int_equal(strlen(s), 24);
    assert_int_equal(s[10], 'T');
    assert_int_equal(s[23], 'Z');
}

/* ECN Viewer 3.0.2's gaps: createdAt/updatedAt on applications and microservices; microservice
 * cpuUsage/memoryUsage reported as numbers or numeric strings both shown; /status names the
 * viewer version; /config/ecn-viewer-config is classic's 404 until the viewer saves it. */
static void test_ecn_viewer_fields(void **state) {
    struct compat *c = *state;
    make_node(c);
    char m[64];
    make_app(c, m);
    json_t *a = NULL;
    assert_int_equal(api_call(c->f, "GET", "/api/v3/application/app", c->user, NULL, &a), 200);
    assert_iso(a, "createdAt");
    assert_iso(a, "updatedAt");
    assert_iso(json_array_get(json_object_get(a, "microservices"), 0), "createdAt");
    json_decref(a);
    assert_int_equal(api_call(c->f, "GET", "/api/v3/application", c->user, NULL, &a), 200);
    assert_iso(json_array_get(json_object_get(a, "applications"), 0), "updatedAt");
    json_decref(a);

    /* Numbers (classic agent), then numeric strings (older agents of ours). */
    static const char *const values[] = {
        "\\\"cpuUsage\\\":0.4,\\\"memoryUsage\\\":9060000",
        "\\\"cpuUsage\\\":\\\"0.40\\\",\\\"memoryUsage\\\":\\\"9060000\\\"",
    };
    for (size_t i = 0; i < 2; i++) {
        char body[400];
        (void)snprintf(body,
                       sizeof body,
                       "{\"microserviceStatus\":\"[{\\\"id\\\":\\\"%s\\\","
                       "\\\"status\\\":\\\"RUNNING\\\",%s}]\"}",
                       m,
                       values[i]);
        assert_int_equal(api_call(c->f, "PUT", "/api/v3/agent/status", c->agent, body, NULL), 204);
        assert_int_equal(api_callf(c->f, "GET", c->user, NULL, &a, "/api/v3/microservices/%s", m),
                         200);
        json_t *s = json_object_get(a, "status");
        assert_string_equal(jstr(s, "status"), "RUNNING");
        assert_true(json_is_number(json_object_get(s, "cpuUsage")));
        assert_float_equal(json_number_value(json_object_get(s, "cpuUsage")), 0.4, 1e-9);
        assert_int_equal((long long)json_number_value(json_object_get(s, "memoryUsage")), 9060000);
        json_decref(a);
    }

    assert_int_equal(api_call(c->f, "GET", "/api/v3/status", NULL, NULL, &a), 200);
    assert_string_equal(jstr(json_object_get(a, "versions"), "ecnViewer"), "3.0.2");
    assert_true(strlen(jstr(json_object_get(a, "versions"), "controller")) > 0);
    json_decref(a);

    long st = api_call(c->f, "GET", "/api/v3/config/ecn-viewer-config", c->user, NULL, &a);
    expect_error(st, a, 404, "NotFoundError", "Unkown config key 'ecn-viewer-config'");
    assert_int_equal(
        api_call(c->f,
                 "PUT",
                 "/api/v3/config",
                 c->user,
                 "{\"key\":\"ecn-viewer-config\",\"value\":\"{\\\"refresh\\\":3000}\"}",
                 NULL),
        200);
    assert_int_equal(api_call(c->f, "GET", "/api/v3/config/ecn-viewer-config", c->user, NULL, &a),
                     200);
    assert_string_equal(jstr(a, "key"), "ecn-viewer-config");
    assert_string_equal(jstr(a, "value"), "{\"refresh\":3000}");
    json_decref(a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_duplicate_keys_last_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_self_route_accepted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_system_application_deletable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_agent_error_texts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_smaller_classic_shapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ecn_viewer_fields, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
