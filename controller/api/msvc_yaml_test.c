/* POST /api/v3/microservices/yaml and PATCH /api/v3/microservices/yaml/:uuid: iofogctl's kind
 * Microservice documents, uploaded as multipart, against the real binary. */
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

static void test_microservice_yaml(void **state) {
    struct api_fixture *f = *state;
    char tok[65];
    assert_int_equal(api_user(f, "yaml@example.com", tok), 0);
    assert_int_equal(
        api_call(f, "POST", "/api/v3/iofog", tok, "{\"name\":\"edge-1\",\"fogType\":1}", NULL),
        201);
    assert_int_equal(api_call(f, "POST", "/api/v3/application", tok, "{\"name\":\"demo\"}", NULL),
                     201);
    const char *yaml = "apiVersion: iofog.org/v3\n"
                       "kind: Microservice\n"
                       "metadata:\n"
                       "  name: demo/sensor\n"
                       "spec:\n"
                       "  agent:\n"
                       "    name: edge-1\n"
                       "  images:\n"
                       "    x86: demo/sensor:1\n"
                       "    registry: local\n"
                       "  container:\n"
                       "    rootHostAccess: false\n"
                       "    ports:\n"
                       "      - internal: 80\n"
                       "        external: 8080\n"
                       "    env:\n"
                       "      - key: MODE\n"
                       "        value: fast\n"
                       "  config:\n"
                       "    frequency: 1000\n";
    json_t *a = NULL;
    assert_int_equal(
        api_upload(f, "POST", "/api/v3/microservices/yaml", tok, "microservice", yaml, &a), 201);
    assert_string_equal(jstr(a, "name"), "sensor");
    char uuid[64];
    (void)snprintf(uuid, sizeof uuid, "%s", jstr(a, "uuid"));
    json_decref(a);
    assert_int_equal(api_callf(f, "GET", tok, NULL, &a, "/api/v3/microservices/%s", uuid), 200);
    assert_string_equal(jstr(a, "application"), "demo");
    assert_string_equal(jstr(a, "config"), "{\"frequency\":1000}");
    assert_int_equal(json_integer_value(json_object_get(
                         json_array_get(json_object_get(a, "ports"), 0), "external")),
                     8080);
    assert_string_equal(jstr(json_array_get(json_object_get(a, "env"), 0), "value"), "fast");
    assert_string_equal(jstr(json_array_get(json_object_get(a, "images"), 0), "containerImage"),
                        "demo/sensor:1");
    assert_int_equal(json_integer_value(json_object_get(a, "registryId")),
                     2); /* local = from_cache */
    json_decref(a);

    const char *update = "kind: Microservice\nmetadata:\n  name: demo/sensor\nspec:\n"
                         "  config:\n    frequency: 250\n";
    char path[128];
    (void)snprintf(path, sizeof path, "/api/v3/microservices/yaml/%s", uuid);
    assert_int_equal(api_upload(f, "PATCH", path, tok, "microservice", update, NULL), 204);
    assert_int_equal(api_callf(f, "GET", tok, NULL, &a, "/api/v3/microservices/%s", uuid), 200);
    assert_string_equal(jstr(a, "config"), "{\"frequency\":250}");
    json_decref(a);

    long st = api_upload(f,
                         "POST",
                         "/api/v3/microservices/yaml",
                         tok,
                         "microservice",
                         "kind: Application\nmetadata: {name: x}\n",
                         &a);
    assert_int_equal(st, 400);
    assert_string_equal(jstr(a, "message"), "Invalid kind Application");
    json_decref(a);
    st = api_upload(f,
                    "POST",
                    "/api/v3/microservices/yaml",
                    tok,
                    "microservice",
                    "kind: Microservice\nspec: {}\n",
                    &a);
    assert_int_equal(st, 400);
    json_decref(a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_microservice_yaml, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
