/* Request bodies rendered as Liquid templates, as the classic Controller does for the routes it
 * marks supportSubstitution, its YAML uploads and template deployments (issue 16, causes 2 and
 * 4), against the real binary: the issue's own examples, the ioFog filters and their ownership,
 * and the limits (400 naming the field). */
#include "controller/api/app_testutil.h"

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

/* A user with one node called node; the node's uuid into uuid. */
static void user_with_node(
    struct api_fixture *f, const char *email, const char *node, char tok[65], char uuid[64]) {
    assert_int_equal(api_user(f, email, tok), 0);
    json_t *a = NULL;
    char body[128];
    (void)snprintf(body, sizeof body, "{\"name\":\"%s\",\"fogType\":1}", node);
    assert_int_equal(api_call(f, "POST", "/api/v3/iofog", tok, body, &a), 201);
    (void)snprintf(uuid, 64, "%s", jstr(a, "uuid"));
    json_decref(a);
}

static const char *env_value(const json_t *msvc, const char *key) {
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(msvc, "env"), i, e) {
        if (strcmp(jstr(e, "key"), key) == 0) {
            return jstr(e, "value");
        }
    }
    return NULL;
}

static const char app_yaml[] =
    "apiVersion: iofog.org/v3\n"
    "kind: Application\n"
    "metadata:\n"
    "  name: tpl-app\n"
    "spec:\n"
    "  microservices:\n"
    "    - name: msvc-1\n"
    "      agent:\n"
    "        name: '{%% assign agent = \"%s\" | findAgent | first %%}{{ agent.name }}'\n"
    "      images:\n"
    "        x86: demo/web:1\n"
    "        registry: remote\n"
    "      container:\n"
    "        env:\n"
    "          - key: http_proxy\n"
    "            value: http://proxy:3128\n"
    "          - key: APP\n"
    "            value: '{{ self.name | upcase }}'\n"
    "          - key: PROXY\n"
    "            value: '{{ self.microservices | where: \"name\", \"msvc-1\" | first | map: "
    "\"env\" | first | where: \"key\", \"http_proxy\" | first | map: \"value\" | first }}'\n"
    "  routes: []\n";

/* Cause 2: the application YAML; the agent found through findAgent is used and the env
 * values are stored rendered. */
static void test_yaml_application_find_agent(void **state) {
    struct api_fixture *f = *state;
    char other[65], other_uuid[64], tok[65], uuid[64];
    /* another user's node sorts first: if findAgent leaked it, the microservice would land there */
    user_with_node(f, "other@example.com", "aaa-other", other, other_uuid);
    user_with_node(f, "tpl@example.com", "edge-t", tok, uuid);
    char yaml[2048];
    (void)snprintf(yaml, sizeof yaml, app_yaml, "");
    json_t *a = NULL;
    assert_int_equal(
        api_upload(f, "POST", "/api/v3/application/yaml", tok, "application", yaml, &a), 201);
    json_decref(a);
    assert_int_equal(api_call(f, "GET", "/api/v3/application/tpl-app", tok, NULL, &a), 200);
    json_t *m = json_array_get(json_object_get(a, "microservices"), 0);
    assert_non_null(m);
    assert_string_equal(jstr(m, "iofogUuid"), uuid);
    assert_string_equal(env_value(m, "APP"), "TPL-APP");
    assert_string_equal(env_value(m, "PROXY"), "http://proxy:3128");
    json_decref(a);
}

/* Ownership: another user's node is not found by name, and "" lists only one's own nodes. */
static void test_filters_see_own_objects_only(void **state) {
    struct api_fixture *f = *state;
    char tok_a[65], uuid_a[64], tok_b[65], uuid_b[64];
    user_with_node(f, "alice@example.com", "alice-node", tok_a, uuid_a);
    user_with_node(f, "bob@example.com", "bob-node", tok_b, uuid_b);
    char yaml[2048];
    (void)snprintf(yaml, sizeof yaml, app_yaml, "alice-node");
    /* Bob names Alice's node: findAgent finds nothing, so the agent name renders as nil and
     * the microservice is not placed on Alice's node. */
    json_t *a = NULL;
    long st = api_upload(f, "POST", "/api/v3/application/yaml", tok_b, "application", yaml, NULL);
    if (st == 201) {
        assert_int_equal(api_call(f, "GET", "/api/v3/application/tpl-app", tok_b, NULL, &a), 200);
        json_t *m = json_array_get(json_object_get(a, "microservices"), 0);
        const char *placed = jstr(m, "iofogUuid");
        assert_true(placed == NULL || strcmp(placed, uuid_a) != 0);
        json_decref(a);
    } else {
        assert_true(st >= 400 && st < 500);
    }
    assert_int_equal(
        api_call(f,
                 "POST",
                 "/api/v3/application",
                 tok_b,
                 "{\"name\":\"probe\",\"description\":\"{{ '' | findAgent | size }} "
                 "{{ '' | findAgent | map: 'name' | join: ',' }}|"
                 "{{ 'alice-node' | findAgent | json }}|{{ 'bob-node' | findAgent | map: 'uuid' "
                 "| first }}\"}",
                 &a),
        201);
    json_decref(a);
    assert_int_equal(api_call(f, "GET", "/api/v3/application/probe", tok_b, NULL, &a), 200);
    char want[160];
    (void)snprintf(want, sizeof want, "1 bob-node||%s", uuid_b);
    assert_string_equal(jstr(a, "description"), want);
    json_decref(a);
    /* Alice sees her own application with findApplication; Bob does not. */
    assert_int_equal(api_call(f,
                              "POST",
                              "/api/v3/application",
                              tok_a,
                              "{\"name\":\"alice-app\",\"description\":\"mine\"}",
                              NULL),
                     201);
    assert_int_equal(api_call(f,
                              "PATCH",
                              "/api/v3/application/probe",
                              tok_b,
                              "{\"description\":\"[{{ 'alice-app' | findApplication | json }}]\"}",
                              NULL),
                     204);
    assert_int_equal(api_call(f, "GET", "/api/v3/application/probe", tok_b, NULL, &a), 200);
    assert_string_equal(jstr(a, "description"), "[]");
    json_decref(a);
    assert_int_equal(
        api_call(f,
                 "POST",
                 "/api/v3/application",
                 tok_a,
                 "{\"name\":\"alice-2\",\"description\":\"{% assign x = 'alice-app' | "
                 "findApplication %}{{ x.description }}/{{ x.microservices | size }}\"}",
                 NULL),
        201);
    assert_int_equal(api_call(f, "GET", "/api/v3/application/alice-2", tok_a, NULL, &a), 200);
    assert_string_equal(jstr(a, "description"), "mine/0");
    json_decref(a);
    /* findEdgeResource: Alice's resource for Alice, nothing for Bob */
    assert_int_equal(api_call(f,
                              "POST",
                              "/api/v3/edgeResource",
                              tok_a,
                              "{\"name\":\"cam\",\"version\":\"1.0.0\",\"description\":\"a "
                              "camera\",\"interfaceProtocol\":\"https\"}",
                              NULL),
                     200);
    const char *probe = "{\"description\":\"[{% assign r = 'cam' | findEdgeResource: '1.0.0' "
                        "%}{{ r.description }}]\"}";
    assert_int_equal(api_call(f, "PATCH", "/api/v3/application/alice-2", tok_a, probe, NULL), 204);
    assert_int_equal(api_call(f, "GET", "/api/v3/application/alice-2", tok_a, NULL, &a), 200);
    assert_string_equal(jstr(a, "description"), "[a camera]");
    json_decref(a);
    assert_int_equal(api_call(f, "PATCH", "/api/v3/application/probe", tok_b, probe, NULL), 204);
    assert_int_equal(api_call(f, "GET", "/api/v3/application/probe", tok_b, NULL, &a), 200);
    assert_string_equal(jstr(a, "description"), "[]");
    json_decref(a);
}

/* JSON bodies of POST /microservices: strings rendered with self = the body; a lone {{ }} keeps
 * its type (a port becomes a number), and findMicroserviceAgent finds the node of a microservice
 * object. */
static void test_json_microservice_body(void **state) {
    struct api_fixture *f = *state;
    char tok[65], uuid[64];
    user_with_node(f, "json@example.com", "json-node", tok, uuid);
    assert_int_equal(
        api_call(f, "POST", "/api/v3/application", tok, "{\"name\":\"json-app\"}", NULL), 201);
    json_t *a = NULL;
    assert_int_equal(
        api_call(f,
                 "POST",
                 "/api/v3/microservices",
                 tok,
                 "{\"name\":\"web\",\"application\":\"json-app\","
                 "\"agentName\":\"{% assign n = '' | findAgent | first %}{{ n.name }}\","
                 "\"images\":[{\"containerImage\":\"demo/web:1\",\"fogTypeId\":1}],"
                 "\"ports\":[{\"internal\":80,\"external\":\"{{ 8000 | plus: 80 }}\"}],"
                 "\"env\":[{\"key\":\"SELF\",\"value\":\"{{ self.name | upcase }}-{{ "
                 "self.application }}\"}]}",
                 &a),
        201);
    char msvc[64];
    (void)snprintf(msvc, sizeof msvc, "%s", jstr(a, "uuid"));
    json_decref(a);
    assert_int_equal(api_callf(f, "GET", tok, NULL, &a, "/api/v3/microservices/%s", msvc), 200);
    assert_string_equal(jstr(a, "iofogUuid"), uuid);
    assert_string_equal(env_value(a, "SELF"), "WEB-json-app");
    assert_int_equal(json_integer_value(json_object_get(
                         json_array_get(json_object_get(a, "ports"), 0), "external")),
                     8080);
    json_decref(a);
    assert_int_equal(
        api_call(f,
                 "PATCH",
                 "/api/v3/application/json-app",
                 tok,
                 "{\"description\":\"{% assign app = 'json-app' | findApplication %}{% assign m "
                 "= app.microservices | first %}{% assign node = m | findMicroserviceAgent %}{{ "
                 "node.name }}\"}",
                 NULL),
        204);
    assert_int_equal(api_call(f, "GET", "/api/v3/application/json-app", tok, NULL, &a), 200);
    assert_string_equal(jstr(a, "description"), "json-node");
    json_decref(a);
}

/* Limits and syntax errors: 400 naming the field, nothing stored. */
static void test_limits_are_400(void **state) {
    struct api_fixture *f = *state;
    char tok[65];
    assert_int_equal(api_user(f, "limits@example.com", tok), 0);
    json_t *a = NULL;
    assert_int_equal(api_call(f,
                              "POST",
                              "/api/v3/application",
                              tok,
                              "{\"name\":\"lim\",\"description\":\"{% for i in (1..100000) %}x{% "
                              "endfor %}\"}",
                              &a),
                     400);
    assert_non_null(strstr(jstr(a, "message"), "description"));
    assert_non_null(strstr(jstr(a, "message"), "iteration limit"));
    json_decref(a);
    assert_int_equal(api_call(f,
                              "POST",
                              "/api/v3/application",
                              tok,
                              "{\"name\":\"lim\",\"description\":\"{% for i in (1..9000) %}{% for "
                              "j in (1..9000) %}{% endfor %}{% endfor %}\"}",
                              &a),
                     400);
    assert_non_null(strstr(jstr(a, "message"), "iteration limit"));
    json_decref(a);
    assert_int_equal(api_call(f,
                              "POST",
                              "/api/v3/application",
                              tok,
                              "{\"name\":\"lim\",\"description\":\"{% assign s = 'abcdefgh' %}{% "
                              "for i in (1..40) %}{% assign s = s | append: s %}{% endfor %}\"}",
                              &a),
                     400);
    assert_non_null(strstr(jstr(a, "message"), "limit"));
    json_decref(a);
    /* database lookups from one body are bounded too */
    assert_int_equal(api_call(f,
                              "POST",
                              "/api/v3/application",
                              tok,
                              "{\"name\":\"lim\",\"description\":\"{% for i in (1..1000) %}{% "
                              "assign n = '' | findAgent %}{% endfor %}\"}",
                              &a),
                     400);
    assert_non_null(strstr(jstr(a, "message"), "lookup limit"));
    json_decref(a);
    assert_int_equal(api_call(f,
                              "POST",
                              "/api/v3/application",
                              tok,
                              "{\"name\":\"lim\",\"microservices\":[],\"description\":\"{{ oops\"}",
                              &a),
                     400);
    assert_string_equal(jstr(a, "message"),
                        "Invalid template in field description: output \"{{ oops\" not closed");
    json_decref(a);
    /* a template over 64 KiB */
    size_t big = 70 * 1024;
    char *body = malloc(big + 64);
    assert_non_null(body);
    int n = snprintf(body, 64, "{\"name\":\"lim\",\"description\":\"{{ 1 }}");
    memset(body + n, 'x', big);
    memcpy(body + n + big, "\"}", 3);
    assert_int_equal(api_call(f, "POST", "/api/v3/application", tok, body, &a), 400);
    assert_non_null(strstr(jstr(a, "message"), "size limit"));
    json_decref(a);
    free(body);
    assert_int_equal(api_call(f, "GET", "/api/v3/application/lim", tok, NULL, NULL), 404);
    /* no markup: stored as sent, braces and all */
    assert_int_equal(api_call(f,
                              "POST",
                              "/api/v3/application",
                              tok,
                              "{\"name\":\"plain\",\"description\":\"{ not } a { template }}\"}",
                              NULL),
                     201);
    assert_int_equal(api_call(f, "GET", "/api/v3/application/plain", tok, NULL, &a), 200);
    assert_string_equal(jstr(a, "description"), "{ not } a { template }}");
    json_decref(a);
}

/* Cause 4: a template deployed with a variable it uses but does not declare renders it;
 * supplied values override defaults. */
static void test_template_undeclared_variable(void **state) {
    struct api_fixture *f = *state;
    char tok[65], uuid1[64], uuid2[64];
    user_with_node(f, "deploy@example.com", "agent-1", tok, uuid1);
    json_t *a = NULL;
    assert_int_equal(
        api_call(f, "POST", "/api/v3/iofog", tok, "{\"name\":\"agent-2\",\"fogType\":1}", &a), 201);
    (void)snprintf(uuid2, sizeof uuid2, "%s", jstr(a, "uuid"));
    json_decref(a);
    assert_int_equal(
        api_call(f,
                 "POST",
                 "/api/v3/applicationTemplate",
                 tok,
                 "{\"name\":\"two-agents\",\"variables\":[{\"key\":\"agent-1-name\","
                 "\"defaultValue\":\"nowhere\"},{\"key\":\"mode\",\"defaultValue\":\"slow\"}],"
                 "\"application\":{\"microservices\":["
                 "{\"name\":\"m1\",\"agentName\":\"{{ agent-1-name }}\",\"images\":[{"
                 "\"containerImage\":\"demo/a:1\",\"fogTypeId\":1}],\"env\":[{\"key\":\"MODE\","
                 "\"value\":\"{{ mode }}\"}]},"
                 "{\"name\":\"m2\",\"agentName\":\"{{ agent-2-name }}\",\"images\":[{"
                 "\"containerImage\":\"demo/b:1\",\"fogTypeId\":1}]}],\"routes\":[]}}",
                 NULL),
        201);
    assert_int_equal(api_call(f,
                              "POST",
                              "/api/v3/application",
                              tok,
                              "{\"name\":\"deployed\",\"template\":{\"name\":\"two-agents\","
                              "\"variables\":[{\"key\":\"agent-1-name\",\"value\":\"agent-1\"},"
                              "{\"key\":\"agent-2-name\",\"value\":\"agent-2\"}]}}",
                              &a),
                     201);
    json_decref(a);
    assert_int_equal(api_call(f, "GET", "/api/v3/application/deployed", tok, NULL, &a), 200);
    json_t *ms = json_object_get(a, "microservices");
    assert_int_equal(json_array_size(ms), 2);
    size_t i;
    json_t *m;
    json_array_foreach(ms, i, m) {
        if (strcmp(jstr(m, "name"), "m1") == 0) {
            assert_string_equal(jstr(m, "iofogUuid"), uuid1);  /* supplied beats the default */
            assert_string_equal(env_value(m, "MODE"), "slow"); /* default */
        } else {
            assert_string_equal(jstr(m, "iofogUuid"), uuid2); /* undeclared, supplied */
        }
    }
    json_decref(a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_yaml_application_find_agent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_filters_see_own_objects_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_microservice_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits_are_400, setup, teardown),
        cmocka_unit_test_setup_teardown(test_template_undeclared_variable, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
