/* Tests of application templates: the {{ var }} substitution, rendering with defaults and user
 * values, and the /applicationTemplate routes (JSON and YAML, ownership, errors). */
#include "controller/api/app_testutil.h"

#include "controller/api/application.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

static int setup(void **state) {
    *state = api_start();
    return *state != NULL ? 0 : -1;
}

/* For the test that calls the render function directly: the server runs in-process. */
static int setup_inproc(void **state) {
    *state = api_start_inproc();
    return *state != NULL ? 0 : -1;
}

static int teardown(void **state) {
    api_stop(*state);
    return 0;
}

static void expect_subst(const char *in, const char *values, const char *want) {
    json_t *i = json_loads(in, JSON_DECODE_ANY, NULL);
    json_t *v = json_loads(values, 0, NULL);
    json_t *w = json_loads(want, JSON_DECODE_ANY, NULL);
    assert_non_null(i);
    assert_non_null(v);
    assert_non_null(w);
    json_t *out = NULL;
    struct iof_diag d = {{0}};
    if (ctl_template_substitute(i, v, &out, &d) != IOF_OK) {
        fail_msg("%s: %s", in, d.msg);
    }
    if (!json_equal(out, w)) {
        char *s = json_dumps(out, JSON_ENCODE_ANY);
        fail_msg("%s gave %s, wanted %s", in, s, want);
    }
    json_decref(i);
    json_decref(v);
    json_decref(w);
    json_decref(out);
}

static iof_err subst_err(const char *in, const char *values, struct iof_diag *d) {
    json_t *i = json_loads(in, JSON_DECODE_ANY, NULL);
    json_t *v = json_loads(values, 0, NULL);
    json_t *out = NULL;
    iof_err err = ctl_template_substitute(i, v, &out, d);
    assert_null(out);
    json_decref(i);
    json_decref(v);
    return err;
}

static void test_substitution(void **state) {
    (void)state;
    const char *vals = "{\"agent\":\"edge-1\",\"port\":8080,\"on\":true,\"obj\":{\"a\":1},"
                       "\"num\":\"42\"}";
    /* A whole-string placeholder keeps the value's type; inline ones become text. */
    expect_subst(
        "{\"a\":\"{{ agent }}\",\"p\":\"{{port}}\",\"b\":\"{{ on }}\",\"o\":\"{{ obj }}\"}",
        vals,
        "{\"a\":\"edge-1\",\"p\":8080,\"b\":true,\"o\":{\"a\":1}}");
    /* inside text an object prints as JavaScript's String() does (liquidjs) */
    expect_subst("\"http://{{ agent }}:{{ port }}/x {{obj}}\"",
                 vals,
                 "\"http://edge-1:8080/x [object Object]\"");
    expect_subst(
        "[\"{{ num | toNumber }}\", \"{{ port | toString }}\", \"{{ num|toNumber|toString }}\"]",
        vals,
        "[42, \"8080\", \"42\"]");
    expect_subst("\"{{ on | toBoolean }}\"", vals, "true");
    /* Keys, numbers and text without placeholders are left alone; nesting is walked. */
    expect_subst("{\"{{ agent }}\":[1,{\"x\":[\"{{agent}}\"]},null,\"plain } {\"]}",
                 vals,
                 "{\"{{ agent }}\":[1,{\"x\":[\"edge-1\"]},null,\"plain } {\"]}");
    /* As liquidjs: a missing variable is nil (null in an array, a member removed), an unknown
     * filter passes its input through, toNumber keeps what is not JSON; only syntax errors and
     * limits fail, naming the field. */
    expect_subst("[\"{{ nope }}\", \"{{  }}\"]", vals, "[null, null]");
    expect_subst("{\"a\":\"{{ nope }}\",\"b\":1}", vals, "{\"b\":1}");
    expect_subst("\"{{ agent | upcase | no_such_filter }}\"", vals, "\"EDGE-1\"");
    expect_subst("\"{{ agent | toNumber }}\"", vals, "\"edge-1\"");
    struct iof_diag d = {{0}};
    assert_int_equal(subst_err("{\"x\":[\"ok\", \"x {{ agent \"]}", vals, &d), IOF_EINVAL);
    assert_string_equal(d.msg, "x[1]: output \"{{ agent \" not closed");
    assert_int_equal(subst_err("\"{% for i in (1..20000) %}{% endfor %}\"", vals, &d), IOF_EINVAL);
    assert_non_null(strstr(d.msg, "iteration limit"));
}

static const char tpl_body[] =
    "{\"name\":\"sensor-tpl\",\"description\":\"a sensor\","
    "\"variables\":[{\"key\":\"agent-name\",\"description\":\"where\",\"defaultValue\":\"edge-1\"},"
    "{\"key\":\"freq\",\"defaultValue\":1000},{\"key\":\"label\"}],"
    "\"application\":{\"microservices\":[{\"name\":\"sensor\",\"agentName\":\"{{ agent-name }}\","
    "\"config\":\"{\\\"frequency\\\":{{ freq }},\\\"label\\\":\\\"{{label}}\\\"}\","
    "\"logSize\":\"{{ freq }}\"}],\"routes\":[]}}";

static void test_crud(void **state) {
    struct api_fixture *f = *state;
    char tok[65], other[65];
    assert_int_equal(api_user(f, "tina@example.com", tok), 0);
    assert_int_equal(api_user(f, "otto@example.com", other), 0);
    json_t *a = NULL;
    assert_int_equal(api_call(f, "POST", "/api/v3/applicationTemplate", tok, tpl_body, &a), 201);
    assert_string_equal(jstr(a, "name"), "sensor-tpl");
    assert_true(json_integer_value(json_object_get(a, "id")) > 0);
    json_decref(a);
    assert_int_equal(api_call(f, "POST", "/api/v3/applicationTemplate", tok, tpl_body, &a), 409);
    assert_string_equal(jstr(a, "name"), "DuplicatePropertyError");
    assert_string_equal(jstr(a, "message"), "Duplicate name 'sensor-tpl'");
    json_decref(a);

    assert_int_equal(api_call(f, "GET", "/api/v3/applicationTemplate/sensor-tpl", tok, NULL, &a),
                     200);
    assert_string_equal(jstr(a, "description"), "a sensor");
    json_t *vars = json_object_get(a, "variables");
    assert_int_equal(json_array_size(vars), 3);
    assert_string_equal(jstr(json_array_get(vars, 0), "defaultValue"), "edge-1");
    assert_string_equal(jstr(json_array_get(vars, 0), "description"), "where");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(vars, 1), "defaultValue")),
                     1000);
    assert_true(json_is_null(json_object_get(json_array_get(vars, 2), "defaultValue")));
    json_t *ms = json_object_get(json_object_get(a, "application"), "microservices");
    assert_string_equal(jstr(json_array_get(ms, 0), "agentName"), "{{ agent-name }}");
    json_decref(a);

    assert_int_equal(api_call(f, "GET", "/api/v3/applicationTemplates", tok, NULL, &a), 200);
    assert_int_equal(json_array_size(json_object_get(a, "applicationTemplates")), 1);
    json_decref(a);
    /* Another user sees nothing of it and may use the same name. */
    assert_int_equal(api_call(f, "GET", "/api/v3/applicationTemplates", other, NULL, &a), 200);
    assert_int_equal(json_array_size(json_object_get(a, "applicationTemplates")), 0);
    json_decref(a);
    assert_int_equal(api_call(f, "GET", "/api/v3/applicationTemplate/sensor-tpl", other, NULL, &a),
                     404);
    assert_string_equal(jstr(a, "name"), "NotFoundError");
    json_decref(a);
    assert_int_equal(
        api_call(f, "DELETE", "/api/v3/applicationTemplate/sensor-tpl", other, NULL, NULL), 404);
    assert_int_equal(
        api_call(f, "PATCH", "/api/v3/applicationTemplate/sensor-tpl", other, "{}", NULL), 404);
    assert_int_equal(api_call(f, "POST", "/api/v3/applicationTemplate", other, tpl_body, NULL),
                     201);

    /* Validation. */
    assert_int_equal(
        api_call(f, "POST", "/api/v3/applicationTemplate", tok, "{\"description\":\"x\"}", &a),
        400);
    assert_string_equal(jstr(a, "message"), "Required field 'name' is missing");
    json_decref(a);
    assert_int_equal(api_call(f,
                              "POST",
                              "/api/v3/applicationTemplate",
                              tok,
                              "{\"name\":\"t\",\"variables\":[{\"key\":\"Bad Key\"}]}",
                              &a),
                     400);
    assert_string_equal(jstr(a, "name"), "ValidationError");
    json_decref(a);
    assert_int_equal(api_call(f,
                              "POST",
                              "/api/v3/applicationTemplate",
                              tok,
                              "{\"name\":\"t\",\"variables\":[{\"key\":\"k\"},{\"key\":\"k\"}]}",
                              &a),
                     400);
    assert_string_equal(jstr(a, "message"), "Duplicate template variable 'k'");
    json_decref(a);
    assert_int_equal(api_call(f,
                              "POST",
                              "/api/v3/applicationTemplate",
                              tok,
                              "{\"name\":\"t\",\"application\":[]}",
                              &a),
                     400);
    assert_string_equal(jstr(a, "message"), "Invalid format for field 'application'");
    json_decref(a);

    /* PATCH renames and describes; PUT replaces content and variables; PUT creates when absent. */
    assert_int_equal(api_call(f,
                              "PATCH",
                              "/api/v3/applicationTemplate/sensor-tpl",
                              tok,
                              "{\"name\":\"sensor-v2\",\"description\":\"patched\"}",
                              NULL),
                     204);
    assert_int_equal(api_call(f, "GET", "/api/v3/applicationTemplate/sensor-tpl", tok, NULL, NULL),
                     404);
    assert_int_equal(api_call(f,
                              "PUT",
                              "/api/v3/applicationTemplate/sensor-v2",
                              tok,
                              "{\"variables\":[{\"key\":\"only\",\"defaultValue\":true}],"
                              "\"application\":{\"routes\":[]}}",
                              &a),
                     200);
    assert_string_equal(jstr(a, "name"), "sensor-v2");
    json_decref(a);
    assert_int_equal(api_call(f, "GET", "/api/v3/applicationTemplate/sensor-v2", tok, NULL, &a),
                     200);
    assert_string_equal(jstr(a, "description"), "patched");
    assert_int_equal(json_array_size(json_object_get(a, "variables")), 1);
    assert_true(json_is_true(
        json_object_get(json_array_get(json_object_get(a, "variables"), 0), "defaultValue")));
    assert_null(json_object_get(json_object_get(a, "application"), "microservices"));
    json_decref(a);
    assert_int_equal(api_call(f,
                              "PUT",
                              "/api/v3/applicationTemplate/brand-new",
                              tok,
                              "{\"description\":\"made by put\"}",
                              &a),
                     200);
    json_decref(a);
    assert_int_equal(api_call(f, "GET", "/api/v3/applicationTemplate/brand-new", tok, NULL, &a),
                     200);
    assert_string_equal(jstr(a, "description"), "made by put");
    json_decref(a);

    assert_int_equal(
        api_call(f, "DELETE", "/api/v3/applicationTemplate/sensor-v2", tok, NULL, NULL), 204);
    assert_int_equal(api_call(f, "GET", "/api/v3/applicationTemplate/sensor-v2", tok, NULL, NULL),
                     404);
    assert_int_equal(api_count(f,
                               "SELECT count(*) AS n FROM application_template_variables v JOIN "
                               "application_templates t ON t.id = v.application_template_id "
                               "WHERE t.user_id = 1",
                               NULL,
                               0),
                     0);
    /* The other user's copy is untouched. */
    assert_int_equal(
        api_call(f, "GET", "/api/v3/applicationTemplate/sensor-tpl", other, NULL, NULL), 200);
}

static void test_render(void **state) {
    struct api_fixture *f = *state;
    char tok[65];
    assert_int_equal(api_user(f, "rita@example.com", tok), 0);
    assert_int_equal(api_call(f, "POST", "/api/v3/applicationTemplate", tok, tpl_body, NULL), 201);
    struct iof_diag d = {{0}};
    struct ctl_call call = {.srv = f->srv, .d = &d, .user_id = 1};
    json_t *dep = json_loads("{\"name\":\"sensor-tpl\",\"variables\":[{\"key\":\"label\","
                             "\"value\":\"hall\"},{\"key\":\"freq\",\"value\":250}]}",
                             0,
                             NULL);
    json_t *app = NULL;
    assert_int_equal(ctl_template_render(&call, dep, &app), IOF_OK);
    json_decref(dep);
    json_t *m = json_array_get(json_object_get(app, "microservices"), 0);
    assert_string_equal(jstr(m, "agentName"), "edge-1");                              /* default */
    assert_string_equal(jstr(m, "config"), "{\"frequency\":250,\"label\":\"hall\"}"); /* user */
    assert_int_equal(json_integer_value(json_object_get(m, "logSize")), 250);
    json_decref(app);

    /* As the classic: a declared variable without default or value renders as nil, and a
     * supplied variable the template does not declare is used. */
    dep = json_loads("{\"name\":\"sensor-tpl\"}", 0, NULL);
    assert_int_equal(ctl_template_render(&call, dep, &app), IOF_OK);
    m = json_array_get(json_object_get(app, "microservices"), 0);
    assert_string_equal(jstr(m, "config"), "{\"frequency\":1000,\"label\":\"\"}");
    json_decref(app);
    json_decref(dep);
    dep = json_loads("{\"name\":\"sensor-tpl\",\"variables\":[{\"key\":\"label\",\"value\":\"x\"},"
                     "{\"key\":\"nope\",\"value\":1}]}",
                     0,
                     NULL);
    assert_int_equal(ctl_template_render(&call, dep, &app), IOF_OK);
    json_decref(app);
    json_decref(dep);
    dep = json_loads("{\"name\":\"missing\"}", 0, NULL);
    assert_int_equal(ctl_template_render(&call, dep, &app), IOF_ENOENT);
    json_decref(dep);
    /* Another user cannot render it. */
    call.user_id = 2;
    dep = json_loads(
        "{\"name\":\"sensor-tpl\",\"variables\":[{\"key\":\"label\",\"value\":\"x\"}]}", 0, NULL);
    assert_int_equal(ctl_template_render(&call, dep, &app), IOF_ENOENT);
    json_decref(dep);

    /* Deploying through POST /application: errors come back as 400/404; a template whose
     * application is empty deploys. */
    json_t *a = NULL;
    assert_int_equal(api_call(f,
                              "POST",
                              "/api/v3/application",
                              tok,
                              "{\"name\":\"from-tpl\",\"template\":{\"name\":\"sensor-tpl\","
                              "\"variables\":[{\"key\":\"bogus\",\"value\":1}]}}",
                              &a),
                     400);
    /* the undeclared variable is accepted (classic); the rendered microservice has no image */
    assert_string_equal(jstr(a, "message"), "Either 'catalogItemId' or 'images' is required");
    json_decref(a);
    assert_int_equal(api_call(f,
                              "POST",
                              "/api/v3/application",
                              tok,
                              "{\"name\":\"from-tpl\",\"template\":{\"name\":\"absent\"}}",
                              &a),
                     404);
    assert_string_equal(jstr(a, "message"), "Invalid application template name 'absent'");
    json_decref(a);
    assert_int_equal(
        api_call(f,
                 "POST",
                 "/api/v3/applicationTemplate",
                 tok,
                 "{\"name\":\"empty\",\"variables\":[{\"key\":\"x\",\"defaultValue\":1}],"
                 "\"application\":{\"microservices\":[],\"routes\":[]}}",
                 NULL),
        201);
    assert_int_equal(api_call(f,
                              "POST",
                              "/api/v3/application",
                              tok,
                              "{\"name\":\"from-tpl\",\"description\":\"t\","
                              "\"template\":{\"name\":\"empty\"}}",
                              &a),
                     201);
    assert_string_equal(jstr(a, "name"), "from-tpl");
    json_decref(a);
    assert_int_equal(api_call(f, "GET", "/api/v3/application/from-tpl", tok, NULL, &a), 200);
    assert_string_equal(jstr(a, "description"), "t");
    json_decref(a);
}

static void test_yaml_templates(void **state) {
    struct api_fixture *f = *state;
    char tok[65];
    assert_int_equal(api_user(f, "yana@example.com", tok), 0);
    const char *yaml = "apiVersion: iofog.org/v3\nkind: ApplicationTemplate\n"
                       "metadata:\n  name: yaml-tpl\n"
                       "spec:\n  description: from yaml\n  variables:\n"
                       "    - key: agent-name\n      defaultValue: edge-1\n"
                       "  application:\n    microservices:\n      - name: m\n"
                       "        agent: {name: \"{{ agent-name }}\"}\n"
                       "        images: {x86: img, registry: remote}\n"
                       "        config: {level: 3}\n    routes: []\n";
    json_t *a = NULL;
    assert_int_equal(
        api_upload(f, "POST", "/api/v3/applicationTemplate/yaml", tok, "template", yaml, &a), 201);
    assert_string_equal(jstr(a, "name"), "yaml-tpl");
    json_decref(a);
    assert_int_equal(api_call(f, "GET", "/api/v3/applicationTemplate/yaml-tpl", tok, NULL, &a),
                     200);
    assert_string_equal(jstr(a, "description"), "from yaml");
    json_t *m =
        json_array_get(json_object_get(json_object_get(a, "application"), "microservices"), 0);
    assert_string_equal(jstr(m, "agentName"), "{{ agent-name }}");
    assert_string_equal(jstr(m, "config"), "{\"level\":3}");
    assert_int_equal(json_integer_value(json_object_get(m, "registryId")), 1);
    assert_null(json_object_get(m, "application"));
    json_decref(a);

    const char *v2 = "kind: ApplicationTemplate\nmetadata: {name: yaml-tpl}\n"
                     "spec: {description: second}\n";
    assert_int_equal(
        api_upload(f, "PUT", "/api/v3/applicationTemplate/yaml/yaml-tpl", tok, "template", v2, &a),
        200);
    json_decref(a);
    assert_int_equal(api_call(f, "GET", "/api/v3/applicationTemplate/yaml-tpl", tok, NULL, &a),
                     200);
    assert_string_equal(jstr(a, "description"), "second");
    json_decref(a);
    long st = api_upload(f,
                         "POST",
                         "/api/v3/applicationTemplate/yaml",
                         tok,
                         "template",
                         "kind: Application\nmetadata: {name: x}\n",
                         &a);
    assert_int_equal(st, 400);
    assert_string_equal(jstr(a, "message"), "Invalid kind Application");
    json_decref(a);
    st = api_upload(f, "POST", "/api/v3/applicationTemplate/yaml", tok, "application", yaml, &a);
    assert_int_equal(st, 400);
    assert_string_equal(jstr(a, "message"), "Required field 'template' is missing");
    json_decref(a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_substitution),
        cmocka_unit_test_setup_teardown(test_crud, setup, teardown),
        cmocka_unit_test_setup_teardown(test_render, setup_inproc, teardown),
        cmocka_unit_test_setup_teardown(test_yaml_templates, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
