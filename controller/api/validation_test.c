/* What the API refuses because the Agent could never run it (image references, env keys, paths,
 * extra hosts, list sizes, integer ranges, control characters and NUL bytes in names, paths,
 * queries and YAML), each a 400 ValidationError naming the field, while the classic bodies that
 * can run keep working. Against the real binary on loopback. */
#include "controller/api/app_testutil.h"
#include "controller/api/msvc_testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* Sends method path body and expects 400 ValidationError whose message holds field. */
static void expect_400(struct api_fixture *f,
                       const char *token,
                       const char *method,
                       const char *path,
                       const char *body,
                       const char *field) {
    json_t *a = NULL;
    long st = api_call(f, method, path, token, body, &a);
    if (st != 400) {
        fail_msg("%s %s %.200s: status %ld, expected 400", method, path, body, st);
    }
    assert_non_null(a);
    assert_string_equal(jstr(a, "name"), "ValidationError");
    if (strstr(jstr(a, "message"), field) == NULL) {
        fail_msg("message '%s' does not name '%s'", jstr(a, "message"), field);
    }
    json_decref(a);
}

/* A microservice body of app1 on fog-x86 with one extra member (a JSON fragment; one naming
 * "images" replaces the default image). */
static char *msvc_body(const char *extra) {
    char *s = NULL;
    const char *images = strncmp(extra, "\"images\"", 8) == 0
                             ? ""
                             : "\"images\":[{\"containerImage\":\"nginx:1.25\",\"fogTypeId\":1}],";
    if (asprintf(&s,
                 "{\"name\":\"m\",\"application\":\"app1\",\"iofogUuid\":\"fog-x86\",%s%s}",
                 images,
                 extra) < 0) {
        return NULL;
    }
    return s;
}

static void expect_msvc_400(struct msvc_fx *x, const char *extra, const char *field) {
    char *body = msvc_body(extra);
    assert_non_null(body);
    expect_400(x->f, x->t1, "POST", "/api/v3/microservices", body, field);
    free(body);
}

static void test_msvc_refuses_what_cannot_run(void **state) {
    struct msvc_fx *x = *state;
    /* image references Docker's grammar refuses */
    expect_msvc_400(
        x,
        "\"images\":[{\"containerImage\":\"accd/ms:1\\r\\nX-Evil: 1\",\"fogTypeId\":1}]",
        "images[0].containerImage");
    expect_msvc_400(x,
                    "\"images\":[{\"containerImage\":\"../../containers/json?\",\"fogTypeId\":1}]",
                    "images[0].containerImage");
    expect_msvc_400(x,
                    "\"images\":[{\"containerImage\":\"Upper/Case\",\"fogTypeId\":1}]",
                    "images[0].containerImage");
    /* env keys with '=' or control characters */
    expect_msvc_400(x, "\"env\":[{\"key\":\"A=B\\nC\",\"value\":\"1\"}]", "env[0].key");
    expect_msvc_400(x,
                    "\"env\":[{\"key\":\"OK\",\"value\":\"1\"},{\"key\":\"B\\tC\",\"value\":\"\"}]",
                    "env[1].key");
    /* relative or ':'-holding paths */
    expect_msvc_400(x,
                    "\"volumeMappings\":[{\"hostDestination\":\"data\",\"containerDestination\":"
                    "\"/d\",\"accessMode\":\"rw\"}]",
                    "volumeMappings[0].hostDestination");
    expect_msvc_400(x,
                    "\"volumeMappings\":[{\"hostDestination\":\"/data\",\"containerDestination\":"
                    "\"d\",\"accessMode\":\"rw\"}]",
                    "volumeMappings[0].containerDestination");
    expect_msvc_400(x,
                    "\"volumeMappings\":[{\"hostDestination\":\"/a:/b\",\"containerDestination\":"
                    "\"/d\",\"accessMode\":\"rw\"}]",
                    "volumeMappings[0].hostDestination");
    expect_msvc_400(x,
                    "\"volumeMappings\":[{\"hostDestination\":\"../v\",\"containerDestination\":"
                    "\"/d\",\"accessMode\":\"rw\",\"type\":\"volume\"}]",
                    "volumeMappings[0].hostDestination");
    /* extra hosts that do not make one "name:address" line */
    expect_msvc_400(x,
                    "\"extraHosts\":[{\"name\":\"db\",\"address\":\"1.2.3.4\\n5\"}]",
                    "extraHosts[0].address");
    expect_msvc_400(
        x, "\"extraHosts\":[{\"name\":\"d:b\",\"address\":\"1.2.3.4\"}]", "extraHosts[0].name");
    /* integer range */
    expect_msvc_400(x, "\"logSize\":9223372036854775807", "logSize");

    /* 5,000 cmd arguments: more than the Agent takes */
    size_t cap = 5000 * 4 + 64;
    char *extra = malloc(cap);
    assert_non_null(extra);
    size_t n = (size_t)snprintf(extra, cap, "\"cmd\":[");
    for (int i = 0; i < 5000; i++) {
        n += (size_t)snprintf(extra + n, cap - n, "%s\"a\"", i > 0 ? "," : "");
    }
    (void)snprintf(extra + n, cap - n, "]");
    expect_msvc_400(x, extra, "cmd");
    free(extra);

    /* Nothing was created by the refused requests. */
    char buf[32];
    assert_string_equal(fx_value(x->f, "SELECT COUNT(*) FROM microservices", buf, sizeof buf), "0");

    /* What can run keeps working: a classic body with every list, a named volume, a digest,
     * an IPv6 extra host, a template extra host, a registry host with a port. */
    char uuid[33];
    fx_create(
        x->f,
        x->t1,
        "{\"name\":\"ok\",\"application\":\"app1\",\"iofogUuid\":\"fog-x86\","
        "\"images\":[{\"containerImage\":\"registry.local:5000/ns/img:v1.2-rc_3\","
        "\"fogTypeId\":1},{\"containerImage\":\"img@sha256:"
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\",\"fogTypeId\":2}],"
        "\"volumeMappings\":[{\"hostDestination\":\"/var/data\",\"containerDestination\":"
        "\"/data\",\"accessMode\":\"ro\"},{\"hostDestination\":\"my_vol.1\","
        "\"containerDestination\":\"/v\",\"accessMode\":\"rw\",\"type\":\"volume\"}],"
        "\"env\":[{\"key\":\"PATH_X\",\"value\":\"a=b\\nc\"}],"
        "\"cmd\":[\"sh\",\"-c\",\"echo a\\necho b\"],"
        "\"extraHosts\":[{\"name\":\"v6\",\"address\":\"fe80::1\"},"
        "{\"name\":\"peer\",\"address\":\"${Agents.node-x86}\"}],\"logSize\":10}",
        uuid);
    /* an update is checked the same way */
    char path[80];
    (void)snprintf(path, sizeof path, "/api/v3/microservices/%s", uuid);
    expect_400(x->f,
               x->t1,
               "PATCH",
               path,
               "{\"images\":[{\"containerImage\":\"bad image\",\"fogTypeId\":1}]}",
               "images[0].containerImage");
    (void)snprintf(path, sizeof path, "/api/v3/microservices/%s/volume-mapping", uuid);
    expect_400(
        x->f,
        x->t1,
        "POST",
        path,
        "{\"hostDestination\":\"rel\",\"containerDestination\":\"/d\",\"accessMode\":\"rw\"}",
        "hostDestination");
}

static void test_catalog_and_node_refusals(void **state) {
    struct msvc_fx *x = *state;
    expect_400(x->f,
               x->t1,
               "POST",
               "/api/v3/catalog/microservices",
               "{\"name\":\"c1\",\"registryId\":1,"
               "\"images\":[{\"containerImage\":\"a/b:1\\r\\nX: y\",\"fogTypeId\":1}]}",
               "images[0].containerImage");
    expect_400(x->f,
               x->t1,
               "POST",
               "/api/v3/catalog/microservices",
               "{\"name\":\"c\\u0007x\",\"registryId\":1,"
               "\"images\":[{\"containerImage\":\"a/b:1\",\"fogTypeId\":1}]}",
               "name");
    json_t *a = NULL;
    assert_int_equal(api_call(x->f,
                              "POST",
                              "/api/v3/catalog/microservices",
                              x->t1,
                              "{\"name\":\"Fine Name\",\"registryId\":1,"
                              "\"images\":[{\"containerImage\":\"a/b:1\",\"fogTypeId\":1}]}",
                              &a),
                     201);
    json_decref(a);

    expect_400(x->f,
               x->t1,
               "POST",
               "/api/v3/iofog",
               "{\"name\":\"n1\",\"fogType\":1,\"statusFrequency\":9223372036854775807}",
               "statusFrequency");
    expect_400(x->f,
               x->t1,
               "POST",
               "/api/v3/iofog",
               "{\"name\":\"n1\",\"fogType\":1,\"cpuLimit\":1000}",
               "cpuLimit");
    expect_400(
        x->f, x->t1, "POST", "/api/v3/iofog", "{\"name\":\"n\\r\\n1\",\"fogType\":1}", "name");
    expect_400(x->f,
               x->t1,
               "PATCH",
               "/api/v3/iofog/fog-x86",
               "{\"changeFrequency\":4294967296}",
               "changeFrequency");
    /* iofogctl's usual node body still works */
    assert_int_equal(api_call(x->f,
                              "POST",
                              "/api/v3/iofog",
                              x->t1,
                              "{\"name\":\"edge-2\",\"fogType\":0,\"host\":\"10.0.0.2\","
                              "\"statusFrequency\":10,\"changeFrequency\":20,\"cpuLimit\":80,"
                              "\"memoryLimit\":4096,\"diskLimit\":50,\"logLimit\":10,"
                              "\"logFileCount\":10,\"availableDiskThreshold\":20,"
                              "\"dockerPruningFrequency\":1,\"deviceScanFrequency\":60,"
                              "\"description\":\"line1\\nline2\"}",
                              &a),
                     201);
    json_decref(a);
}

static void test_nul_in_path_query_body_yaml(void **state) {
    struct msvc_fx *x = *state;
    struct api_fixture *f = x->f;
    /* path parameter: not looked up as "fog" */
    expect_400(f, x->t1, "GET", "/api/v3/iofog/fog-x86%00def", NULL, "uuid");
    /* query argument: not filtered as "app1" */
    expect_400(
        f, x->t1, "GET", "/api/v3/microservices?application=app1%00zzz", NULL, "application");
    expect_400(f, x->t1, "GET", "/api/v3/microservices?x%00y=1", NULL, "x");
    /* the same without NUL still answers */
    json_t *a = NULL;
    assert_int_equal(api_call(f, "GET", "/api/v3/microservices?application=app1", x->t1, NULL, &a),
                     200);
    json_decref(a);
    /* JSON body string */
    a = NULL;
    assert_int_equal(
        api_call(f, "POST", "/api/v3/application", x->t1, "{\"name\":\"nul\\u0000x\"}", &a), 400);
    assert_string_equal(jstr(a, "name"), "ValidationError");
    json_decref(a);
    /* YAML: "\0" is a NUL; the application must not be created as "nul" */
    const char *yaml = "apiVersion: iofog.org/v3\nkind: Application\nmetadata:\n"
                       "  name: \"nul\\0x\"\nspec:\n  microservices: []\n  routes: []\n";
    a = NULL;
    assert_int_equal(
        api_upload(f, "POST", "/api/v3/application/yaml", x->t1, "application", yaml, &a), 400);
    assert_string_equal(jstr(a, "name"), "ValidationError");
    if (strstr(jstr(a, "message"), "name") == NULL || strstr(jstr(a, "message"), "NUL") == NULL) {
        fail_msg("message '%s'", jstr(a, "message"));
    }
    json_decref(a);
    assert_int_equal(api_call(f, "GET", "/api/v3/application/nul", x->t1, NULL, NULL), 404);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_msvc_refuses_what_cannot_run, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_catalog_and_node_refusals, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_nul_in_path_query_body_yaml, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
