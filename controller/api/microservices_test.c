/* REST tests of /api/v3/microservices (create, read, update, move, delete, port and volume
 * mappings, lifecycle, diagnostics, ownership) against a real server on loopback. */
#include "controller/api/msvc_testutil.h"

#define MSVC_FULL                                                                                  \
    "{\"name\":\"web\",\"application\":\"app1\",\"iofogUuid\":\"fog-x86\","                        \
    "\"config\":\"{\\\"a\\\":1}\",\"logSize\":5,\"unknownKey\":true,"                              \
    "\"images\":[{\"containerImage\":\"nginx\",\"fogTypeId\":1},"                                  \
    "{\"containerImage\":\"nginx-arm\",\"fogTypeId\":2}],"                                         \
    "\"ports\":[{\"internal\":80,\"external\":8080},"                                              \
    "{\"internal\":53,\"external\":5353,\"protocol\":\"udp\"}],"                                   \
    "\"volumeMappings\":[{\"hostDestination\":\"/data\",\"containerDestination\":\"/d\","          \
    "\"accessMode\":\"ro\"}],"                                                                     \
    "\"env\":[{\"key\":\"A\",\"value\":\"1\"}],\"cmd\":[\"run\",\"--fast\"],"                      \
    "\"extraHosts\":[{\"name\":\"db\",\"address\":\"10.0.0.5\"}]}"

static void test_create_with_images_and_get(void **state) {
    struct msvc_fx *x = *state;
    struct api_fixture *f = x->f;
    fx_ack_all(f);
    char uuid[33];
    json_t *a = NULL;
    assert_int_equal(api_call(f, "POST", "/api/v3/microservices", x->t1, MSVC_FULL, &a), 201);
    assert_string_equal(jstr(a, "name"), "web");
    memcpy(uuid, jstr(a, "uuid"), 33);
    assert_int_equal(strlen(uuid), 32);
    json_decref(a);

    assert_int_equal(api_callf(f, "GET", x->t1, NULL, &a, "/api/v3/microservices/%s", uuid), 200);
    assert_string_equal(jstr(a, "uuid"), uuid);
    assert_string_equal(jstr(a, "config"), "{\"a\":1}");
    assert_string_equal(jstr(a, "application"), "app1");
    assert_int_equal(json_integer_value(json_object_get(a, "flowId")), 1);
    assert_string_equal(jstr(a, "iofogUuid"), "fog-x86");
    assert_int_equal(json_integer_value(json_object_get(a, "logSize")), 5);
    assert_int_equal(json_integer_value(json_object_get(a, "registryId")), 1);
    assert_true(json_is_false(json_object_get(a, "rootHostAccess")));
    assert_true(json_is_null(json_object_get(a, "catalogItemId")));
    json_t *ports = json_object_get(a, "ports");
    assert_int_equal(json_array_size(ports), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(ports, 0), "internal")), 80);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(ports, 0), "external")),
                     8080);
    assert_string_equal(jstr(json_array_get(ports, 0), "protocol"), "tcp");
    assert_string_equal(jstr(json_array_get(ports, 1), "protocol"), "udp");
    json_t *vol = json_array_get(json_object_get(a, "volumeMappings"), 0);
    assert_string_equal(jstr(vol, "hostDestination"), "/data");
    assert_string_equal(jstr(vol, "accessMode"), "ro");
    assert_string_equal(jstr(vol, "type"), "bind");
    assert_string_equal(jstr(json_array_get(json_object_get(a, "env"), 0), "key"), "A");
    assert_string_equal(json_string_value(json_array_get(json_object_get(a, "cmd"), 1)), "--fast");
    assert_string_equal(jstr(json_array_get(json_object_get(a, "extraHosts"), 0), "address"),
                        "10.0.0.5");
    json_t *images = json_object_get(a, "images");
    assert_int_equal(json_array_size(images), 2);
    assert_string_equal(jstr(json_array_get(images, 1), "containerImage"), "nginx-arm");
    assert_int_equal(json_array_size(json_object_get(a, "routes")), 0);
    assert_string_equal(jstr(json_object_get(a, "status"), "status"), "QUEUED");
    json_decref(a);

    /* The node is told: list + config. */
    uint32_t fl = fx_flags(f, "fog-x86");
    assert_true(fl & CTL_FLAG_MICROSERVICE_LIST);
    assert_true(fl & CTL_FLAG_MICROSERVICE_CONFIG);
    assert_int_equal(fx_flags(f, "fog-arm"), 0);

    /* Lists: filter by application name or flowId. */
    assert_int_equal(api_call(f, "GET", "/api/v3/microservices?application=app1", x->t1, NULL, &a),
                     200);
    assert_int_equal(json_array_size(json_object_get(a, "microservices")), 1);
    json_decref(a);
    assert_int_equal(api_call(f, "GET", "/api/v3/microservices/?flowId=2", x->t1, NULL, &a), 200);
    assert_int_equal(json_array_size(json_object_get(a, "microservices")), 0);
    json_decref(a);
    assert_int_equal(api_call(f, "GET", "/api/v3/microservices", x->t1, NULL, &a), 200);
    assert_int_equal(json_array_size(json_object_get(a, "microservices")), 1);
    json_decref(a);
}

static void test_create_with_catalog_item(void **state) {
    struct msvc_fx *x = *state;
    struct api_fixture *f = x->f;
    char uuid[33];
    fx_create(f,
              x->t1,
              "{\"name\":\"hello\",\"flowId\":2,\"catalogItemId\":5,\"agentName\":\"node-arm\"}",
              uuid);
    json_t *a = NULL;
    assert_int_equal(api_callf(f, "GET", x->t1, NULL, &a, "/api/v3/microservices/%s", uuid), 200);
    assert_int_equal(json_integer_value(json_object_get(a, "catalogItemId")), 5);
    assert_string_equal(jstr(a, "iofogUuid"), "fog-arm");
    assert_string_equal(jstr(a, "config"), "{}");
    assert_int_equal(json_integer_value(json_object_get(a, "logSize")), 1);
    /* Classic lists only the microservice's own images: none for a catalog-based one (the
     * catalog item's images are what the agent gets, GET /agent/microservices). */
    json_t *images = json_object_get(a, "images");
    assert_true(json_is_array(images));
    assert_int_equal(json_array_size(images), 0);
    json_decref(a);
    /* A system catalog item is refused; an unknown one is not found. */
    assert_int_equal(api_call(f,
                              "POST",
                              "/api/v3/microservices",
                              x->t1,
                              "{\"name\":\"sys\",\"application\":\"app1\",\"catalogItemId\":3}",
                              &a),
                     400);
    json_decref(a);
    assert_int_equal(api_call(f,
                              "POST",
                              "/api/v3/microservices",
                              x->t1,
                              "{\"name\":\"nope\",\"application\":\"app1\",\"catalogItemId\":999}",
                              &a),
                     404);
    assert_string_equal(jstr(a, "message"), "Invalid catalog item id 999");
    json_decref(a);
}

static void expect_error(struct api_fixture *f,
                         const char *token,
                         const char *body,
                         long status,
                         const char *name,
                         const char *message_part) {
    json_t *a = NULL;
    assert_int_equal(api_call(f, "POST", "/api/v3/microservices", token, body, &a), status);
    assert_string_equal(jstr(a, "name"), name);
    if (strstr(jstr(a, "message"), message_part) == NULL) {
        fail_msg("message '%s' lacks '%s'", jstr(a, "message"), message_part);
    }
    json_decref(a);
}

static void test_create_validation(void **state) {
    struct msvc_fx *x = *state;
    struct api_fixture *f = x->f;
    const char *img = "\"images\":[{\"containerImage\":\"x\",\"fogTypeId\":1}]";
    char body[512];
    (void)snprintf(body, sizeof body, "{\"application\":\"app1\",%s}", img);
    expect_error(f, x->t1, body, 400, "ValidationError", "Required field 'name' is missing");
    (void)snprintf(body, sizeof body, "{\"name\":\"Bad_Name\",\"application\":\"app1\",%s}", img);
    expect_error(f, x->t1, body, 400, "ValidationError", "Invalid format for field 'name'");
    (void)snprintf(body, sizeof body, "{\"name\":\"ok\",%s}", img);
    expect_error(f, x->t1, body, 400, "ValidationError", "Required field 'application' is missing");
    expect_error(f,
                 x->t1,
                 "{\"name\":\"ok\",\"application\":\"app1\"}",
                 400,
                 "ValidationError",
                 "'catalogItemId' or 'images'");
    /* Only an x86 image, on an ARM node. */
    (void)snprintf(body,
                   sizeof body,
                   "{\"name\":\"ok\",\"application\":\"app1\",\"iofogUuid\":\"fog-arm\",%s}",
                   img);
    expect_error(f, x->t1, body, 400, "ValidationError", "no image for the node's fog type 2");
    (void)snprintf(body,
                   sizeof body,
                   "{\"name\":\"ok\",\"application\":\"app1\",%s,"
                   "\"ports\":[{\"internal\":1,\"external\":54321}]}",
                   img);
    expect_error(f, x->t1, body, 400, "ValidationError", "reserved");
    (void)snprintf(body,
                   sizeof body,
                   "{\"name\":\"ok\",\"application\":\"app1\",\"iofogUuid\":\"nowhere\",%s}",
                   img);
    expect_error(f, x->t1, body, 404, "NotFoundError", "Invalid ioFog UUID 'nowhere'");
    /* Another user's node and application are as absent. */
    (void)snprintf(body,
                   sizeof body,
                   "{\"name\":\"ok\",\"application\":\"app1\",\"iofogUuid\":\"fog-u2\",%s}",
                   img);
    expect_error(f, x->t1, body, 404, "NotFoundError", "Invalid ioFog UUID");
    (void)snprintf(body, sizeof body, "{\"name\":\"ok\",\"application\":\"app3\",%s}", img);
    expect_error(f, x->t1, body, 404, "NotFoundError", "Invalid application name 'app3'");
    /* Names are unique within an application, not across applications. */
    char uuid[33];
    (void)snprintf(body, sizeof body, "{\"name\":\"dup\",\"application\":\"app1\",%s}", img);
    fx_create(f, x->t1, body, uuid);
    expect_error(f, x->t1, body, 409, "DuplicatePropertyError", "Duplicate name 'dup'");
    (void)snprintf(body, sizeof body, "{\"name\":\"dup\",\"application\":\"app2\",%s}", img);
    fx_create(f, x->t1, body, uuid);
    /* Nothing of the failed attempts was stored. */
    char v[64];
    assert_string_equal(fx_value(f, "SELECT count(*) FROM microservices", v, sizeof v), "2");
}

static void test_patch_config_only_and_image(void **state) {
    struct msvc_fx *x = *state;
    struct api_fixture *f = x->f;
    char uuid[33], v[64], q[200];
    fx_create(f, x->t1, MSVC_FULL, uuid);
    fx_ack_all(f);
    /* Config only: no rebuild, config flag on the node, logSize kept, other fields kept. */
    assert_int_equal(api_callf(f,
                               "PATCH",
                               x->t1,
                               "{\"config\":\"{\\\"a\\\":2}\"}",
                               NULL,
                               "/api/v3/microservices/%s",
                               uuid),
                     204);
    json_t *a = NULL;
    assert_int_equal(api_callf(f, "GET", x->t1, NULL, &a, "/api/v3/microservices/%s", uuid), 200);
    assert_string_equal(jstr(a, "config"), "{\"a\":2}");
    assert_int_equal(json_integer_value(json_object_get(a, "logSize")), 5);
    assert_int_equal(json_array_size(json_object_get(a, "ports")), 2);
    assert_string_equal(jstr(a, "iofogUuid"), "fog-x86");
    json_decref(a);
    (void)snprintf(q, sizeof q, "SELECT rebuild FROM microservices WHERE uuid = '%s'", uuid);
    assert_string_equal(fx_value(f, q, v, sizeof v), "0");
    uint32_t fl = fx_flags(f, "fog-x86");
    assert_true(fl & CTL_FLAG_MICROSERVICE_CONFIG);
    assert_true(fl & CTL_FLAG_MICROSERVICE_LIST);
    assert_true(fl & CTL_FLAG_ROUTING);

    /* Same env again: still no rebuild. A new image: rebuild. */
    assert_int_equal(api_callf(f,
                               "PATCH",
                               x->t1,
                               "{\"env\":[{\"key\":\"A\",\"value\":\"1\"}]}",
                               NULL,
                               "/api/v3/microservices/%s",
                               uuid),
                     204);
    assert_string_equal(fx_value(f, q, v, sizeof v), "0");
    assert_int_equal(
        api_callf(f,
                  "PATCH",
                  x->t1,
                  "{\"images\":[{\"containerImage\":\"nginx:2\",\"fogTypeId\":1}],\"logSize\":7}",
                  NULL,
                  "/api/v3/microservices/%s",
                  uuid),
        204);
    assert_string_equal(fx_value(f, q, v, sizeof v), "1");
    assert_int_equal(api_callf(f, "GET", x->t1, NULL, &a, "/api/v3/microservices/%s", uuid), 200);
    assert_int_equal(json_integer_value(json_object_get(a, "logSize")), 7);
    assert_string_equal(jstr(json_array_get(json_object_get(a, "images"), 0), "containerImage"),
                        "nginx:2");
    json_decref(a);
    /* Bad input is refused and changes nothing. */
    assert_int_equal(
        api_callf(f, "PATCH", x->t1, "{\"name\":\"NO NO\"}", &a, "/api/v3/microservices/%s", uuid),
        400);
    json_decref(a);
    assert_int_equal(
        api_call(f, "PATCH", "/api/v3/microservices/unknownuuid", x->t1, "{\"config\":\"{}\"}", &a),
        404);
    json_decref(a);
}

static void test_move_between_nodes(void **state) {
    struct msvc_fx *x = *state;
    struct api_fixture *f = x->f;
    char uuid[33], v[64], q[200];
    fx_create(f, x->t1, MSVC_FULL, uuid);
    (void)snprintf(q,
                   sizeof q,
                   "UPDATE microservice_statuses SET status = 'RUNNING' WHERE microservice_uuid ="
                   " '%s'",
                   uuid);
    fx_sql(f, q);
    fx_ack_all(f);
    assert_int_equal(api_callf(f,
                               "PATCH",
                               x->t1,
                               "{\"agentName\":\"node-x86b\"}",
                               NULL,
                               "/api/v3/microservices/%s",
                               uuid),
                     204);
    json_t *a = NULL;
    assert_int_equal(api_callf(f, "GET", x->t1, NULL, &a, "/api/v3/microservices/%s", uuid), 200);
    assert_string_equal(jstr(a, "iofogUuid"), "fog-x86b");
    assert_string_equal(jstr(json_object_get(a, "status"), "status"), "QUEUED");
    json_decref(a);
    uint32_t want = CTL_FLAG_MICROSERVICE_LIST | CTL_FLAG_MICROSERVICE_CONFIG | CTL_FLAG_ROUTING;
    assert_int_equal(fx_flags(f, "fog-x86") & want, want);
    assert_int_equal(fx_flags(f, "fog-x86b") & want, want);
    (void)snprintf(q, sizeof q, "SELECT rebuild FROM microservices WHERE uuid = '%s'", uuid);
    assert_string_equal(fx_value(f, q, v, sizeof v), "0");
}

static void test_delete(void **state) {
    struct msvc_fx *x = *state;
    struct api_fixture *f = x->f;
    char running[33], idle[33], v[64], q[200];
    fx_create(f, x->t1, MSVC_FULL, running); /* on fog-x86, whose agent runs */
    fx_create(f,
              x->t1,
              "{\"name\":\"idle\",\"application\":\"app1\",\"iofogUuid\":\"fog-x86b\","
              "\"images\":[{\"containerImage\":\"x\",\"fogTypeId\":1}]}",
              idle);
    fx_ack_all(f);
    assert_int_equal(api_callf(f,
                               "DELETE",
                               x->t1,
                               "{\"withCleanup\":true}",
                               NULL,
                               "/api/v3/microservices/%s",
                               running),
                     204);
    assert_int_equal(api_callf(f, "GET", x->t1, NULL, NULL, "/api/v3/microservices/%s", running),
                     404);
    /* The running agent removes the container first: the row waits, marked. */
    (void)snprintf(q,
                   sizeof q,
                   "SELECT marked_for_delete + 10 * delete_with_cleanup FROM microservices"
                   " WHERE uuid = '%s'",
                   running);
    assert_string_equal(fx_value(f, q, v, sizeof v), "11");
    uint32_t fl = fx_flags(f, "fog-x86");
    assert_true(fl & CTL_FLAG_MICROSERVICE_LIST);
    assert_true(fl & CTL_FLAG_MICROSERVICE_CONFIG);
    /* Without a running agent the row goes at once. */
    assert_int_equal(api_callf(f, "DELETE", x->t1, NULL, NULL, "/api/v3/microservices/%s", idle),
                     204);
    (void)snprintf(q, sizeof q, "SELECT count(*) FROM microservices WHERE uuid = '%s'", idle);
    assert_string_equal(fx_value(f, q, v, sizeof v), "0");
    assert_true(fx_flags(f, "fog-x86b") & CTL_FLAG_MICROSERVICE_LIST);
    assert_int_equal(api_callf(f, "DELETE", x->t1, NULL, NULL, "/api/v3/microservices/%s", idle),
                     404);
    json_t *a = NULL;
    assert_int_equal(api_call(f, "GET", "/api/v3/microservices", x->t1, NULL, &a), 200);
    assert_int_equal(json_array_size(json_object_get(a, "microservices")), 0);
    json_decref(a);
}

static void test_port_and_volume_mappings(void **state) {
    struct msvc_fx *x = *state;
    struct api_fixture *f = x->f;
    char uuid[33], other[33], v[64], q[200];
    fx_create(f,
              x->t1,
              "{\"name\":\"p\",\"application\":\"app1\",\"iofogUuid\":\"fog-x86\","
              "\"images\":[{\"containerImage\":\"x\",\"fogTypeId\":1}]}",
              uuid);
    fx_create(f,
              x->t1,
              "{\"name\":\"q\",\"application\":\"app1\",\"iofogUuid\":\"fog-x86\","
              "\"images\":[{\"containerImage\":\"x\",\"fogTypeId\":1}],"
              "\"ports\":[{\"internal\":9000,\"external\":9000}]}",
              other);
    fx_ack_all(f);
    json_t *a = NULL;
    assert_int_equal(api_callf(f,
                               "POST",
                               x->t1,
                               "{\"internal\":80,\"external\":8080}",
                               &a,
                               "/api/v3/microservices/%s/port-mapping",
                               uuid),
                     201);
    json_decref(a);
    assert_true(fx_flags(f, "fog-x86") & CTL_FLAG_MICROSERVICE_LIST);
    (void)snprintf(q, sizeof q, "SELECT rebuild FROM microservices WHERE uuid = '%s'", uuid);
    assert_string_equal(fx_value(f, q, v, sizeof v), "1");
    assert_int_equal(api_callf(f,
                               "POST",
                               x->t1,
                               "{\"internal\":80,\"external\":8080,\"protocol\":\"udp\"}",
                               NULL,
                               "/api/v3/microservices/%s/port-mapping",
                               uuid),
                     201);
    /* Reserved, taken on the node, duplicate, malformed. */
    assert_int_equal(api_callf(f,
                               "POST",
                               x->t1,
                               "{\"internal\":81,\"external\":54322}",
                               &a,
                               "/api/v3/microservices/%s/port-mapping",
                               uuid),
                     400);
    assert_non_null(strstr(jstr(a, "message"), "reserved"));
    json_decref(a);
    assert_int_equal(api_callf(f,
                               "POST",
                               x->t1,
                               "{\"internal\":82,\"external\":9000}",
                               &a,
                               "/api/v3/microservices/%s/port-mapping",
                               uuid),
                     400);
    assert_non_null(strstr(jstr(a, "message"), "not available"));
    json_decref(a);
    assert_int_equal(api_callf(f,
                               "POST",
                               x->t1,
                               "{\"internal\":80,\"external\":8081}",
                               NULL,
                               "/api/v3/microservices/%s/port-mapping",
                               uuid),
                     400);
    assert_int_equal(api_callf(f,
                               "POST",
                               x->t1,
                               "{\"internal\":80}",
                               NULL,
                               "/api/v3/microservices/%s/port-mapping",
                               uuid),
                     400);
    assert_int_equal(
        api_callf(f, "GET", x->t1, NULL, &a, "/api/v3/microservices/%s/port-mapping", uuid), 200);
    json_t *ports = json_object_get(a, "ports");
    assert_int_equal(json_array_size(ports), 2);
    assert_string_equal(jstr(json_array_get(ports, 1), "protocol"), "udp");
    json_decref(a);
    assert_int_equal(api_callf(f,
                               "DELETE",
                               x->t1,
                               NULL,
                               NULL,
                               "/api/v3/microservices/%s/port-mapping/80?protocol=udp",
                               uuid),
                     204);
    assert_int_equal(
        api_callf(f, "DELETE", x->t1, NULL, NULL, "/api/v3/microservices/%s/port-mapping/80", uuid),
        204);
    assert_int_equal(
        api_callf(f, "DELETE", x->t1, NULL, NULL, "/api/v3/microservices/%s/port-mapping/80", uuid),
        404);

    /* Volumes. */
    assert_int_equal(api_callf(f,
                               "POST",
                               x->t1,
                               "{\"hostDestination\":\"vol1\",\"containerDestination\":\"/v\","
                               "\"accessMode\":\"rw\",\"type\":\"volume\"}",
                               &a,
                               "/api/v3/microservices/%s/volume-mapping",
                               uuid),
                     201);
    json_int_t id = json_integer_value(json_object_get(a, "id"));
    assert_true(id > 0);
    json_decref(a);
    assert_int_equal(api_callf(f,
                               "POST",
                               x->t1,
                               "{\"hostDestination\":\"/h\",\"containerDestination\":\"/v\","
                               "\"accessMode\":\"rx\"}",
                               NULL,
                               "/api/v3/microservices/%s/volume-mapping",
                               uuid),
                     400);
    assert_int_equal(
        api_callf(f, "GET", x->t1, NULL, &a, "/api/v3/microservices/%s/volume-mapping", uuid), 200);
    json_t *vm = json_array_get(json_object_get(a, "volumeMappings"), 0);
    assert_int_equal(json_integer_value(json_object_get(vm, "id")), id);
    assert_string_equal(jstr(vm, "type"), "volume");
    assert_string_equal(jstr(vm, "microserviceUuid"), uuid);
    json_decref(a);
    assert_int_equal(api_callf(f,
                               "DELETE",
                               x->t1,
                               NULL,
                               NULL,
                               "/api/v3/microservices/%s/volume-mapping/%lld",
                               uuid,
                               (long long)id),
                     204);
    assert_int_equal(api_callf(f,
                               "DELETE",
                               x->t1,
                               NULL,
                               NULL,
                               "/api/v3/microservices/%s/volume-mapping/%lld",
                               uuid,
                               (long long)id),
                     404);
    assert_int_equal(
        api_callf(
            f, "DELETE", x->t1, NULL, NULL, "/api/v3/microservices/%s/volume-mapping/abc", uuid),
        400);
    /* Another user cannot see or change them. */
    assert_int_equal(
        api_callf(f, "GET", x->t2, NULL, NULL, "/api/v3/microservices/%s/port-mapping", uuid), 404);
    assert_int_equal(api_callf(f,
                               "POST",
                               x->t2,
                               "{\"internal\":70,\"external\":7070}",
                               NULL,
                               "/api/v3/microservices/%s/port-mapping",
                               uuid),
                     404);
}

static void test_ownership(void **state) {
    struct msvc_fx *x = *state;
    struct api_fixture *f = x->f;
    char uuid[33], mine[33];
    fx_create(f, x->t1, MSVC_FULL, uuid);
    fx_create(f,
              x->t2,
              "{\"name\":\"web\",\"application\":\"app3\",\"iofogUuid\":\"fog-u2\","
              "\"images\":[{\"containerImage\":\"x\",\"fogTypeId\":1}]}",
              mine);
    json_t *a = NULL;
    assert_int_equal(api_callf(f, "GET", x->t2, NULL, &a, "/api/v3/microservices/%s", uuid), 404);
    assert_string_equal(jstr(a, "name"), "NotFoundError");
    json_decref(a);
    assert_int_equal(
        api_callf(f, "PATCH", x->t2, "{\"config\":\"{}\"}", NULL, "/api/v3/microservices/%s", uuid),
        404);
    assert_int_equal(api_callf(f, "DELETE", x->t2, NULL, NULL, "/api/v3/microservices/%s", uuid),
                     404);
    assert_int_equal(
        api_callf(f, "PATCH", x->t2, NULL, NULL, "/api/v3/microservices/%s/stop", uuid), 404);
    assert_int_equal(api_call(f, "GET", "/api/v3/microservices", x->t2, NULL, &a), 200);
    json_t *list = json_object_get(a, "microservices");
    assert_int_equal(json_array_size(list), 1);
    assert_string_equal(jstr(json_array_get(list, 0), "uuid"), mine);
    json_decref(a);
    assert_int_equal(api_call(f, "GET", "/api/v3/microservices?application=app1", x->t2, NULL, &a),
                     404);
    json_decref(a);
    /* The user cannot move its microservice onto another user's node. */
    assert_int_equal(api_callf(f,
                               "PATCH",
                               x->t2,
                               "{\"iofogUuid\":\"fog-x86\"}",
                               NULL,
                               "/api/v3/microservices/%s",
                               mine),
                     404);
    /* The admin credential sees everything. */
    assert_int_equal(api_callf(f, "GET", f->admin, NULL, &a, "/api/v3/microservices/%s", mine),
                     200);
    assert_string_equal(jstr(a, "application"), "app3");
    json_decref(a);
    assert_int_equal(api_call(f, "GET", "/api/v3/microservices/public-ports", x->t2, NULL, &a),
                     200);
    assert_true(json_is_array(a));
    json_decref(a);
    assert_int_equal(api_call(f, "GET", "/api/v3/microservices", NULL, NULL, NULL), 401);
}

static void test_lifecycle(void **state) {
    struct msvc_fx *x = *state;
    struct api_fixture *f = x->f;
    char uuid[33], v[64], q[200];
    fx_create(f, x->t1, MSVC_FULL, uuid);
    fx_ack_all(f);
    json_t *a = NULL;
    assert_int_equal(
        api_callf(f, "PATCH", x->t1, NULL, NULL, "/api/v3/microservices/%s/stop", uuid), 204);
    assert_int_equal(api_callf(f, "GET", x->t1, NULL, &a, "/api/v3/microservices/%s", uuid), 200);
    assert_string_equal(jstr(a, "desiredState"), "STOPPED");
    json_decref(a);
    assert_true(fx_flags(f, "fog-x86") & CTL_FLAG_MICROSERVICE_LIST);
    (void)snprintf(q, sizeof q, "SELECT rebuild FROM microservices WHERE uuid = '%s'", uuid);
    assert_string_equal(fx_value(f, q, v, sizeof v), "0");
    assert_int_equal(
        api_callf(f, "PATCH", x->t1, NULL, NULL, "/api/v3/microservices/%s/start", uuid), 204);
    assert_int_equal(api_callf(f, "GET", x->t1, NULL, &a, "/api/v3/microservices/%s", uuid), 200);
    assert_string_equal(jstr(a, "desiredState"), "RUNNING");
    json_decref(a);
    assert_string_equal(fx_value(f, q, v, sizeof v), "0");
    assert_int_equal(
        api_callf(f, "PATCH", x->t1, NULL, NULL, "/api/v3/microservices/%s/restart", uuid), 204);
    assert_string_equal(fx_value(f, q, v, sizeof v), "1");
    assert_int_equal(api_call(f, "PATCH", "/api/v3/microservices/nope/start", x->t1, NULL, NULL),
                     404);
}

static void test_diagnostics(void **state) {
    struct msvc_fx *x = *state;
    struct api_fixture *f = x->f;
    char uuid[33], unplaced[33];
    fx_create(f, x->t1, MSVC_FULL, uuid);
    fx_create(f,
              x->t1,
              "{\"name\":\"unplaced\",\"application\":\"app1\","
              "\"images\":[{\"containerImage\":\"x\",\"fogTypeId\":1}]}",
              unplaced);
    fx_ack_all(f);
    json_t *a = NULL;
    assert_int_equal(api_callf(f, "GET", x->t1, NULL, &a, "/api/v3/microservices/%s/strace", uuid),
                     404);
    json_decref(a);
    assert_int_equal(
        api_callf(
            f, "PATCH", x->t1, "{\"enable\":true}", NULL, "/api/v3/microservices/%s/strace", uuid),
        204);
    assert_int_equal(fx_flags(f, "fog-x86"), CTL_FLAG_DIAGNOSTICS);
    assert_int_equal(
        api_callf(f, "PATCH", x->t1, "{}", &a, "/api/v3/microservices/%s/strace", uuid), 400);
    assert_string_equal(jstr(a, "message"), "Required field 'enable' is missing");
    json_decref(a);
    assert_int_equal(api_callf(f, "GET", x->t1, NULL, &a, "/api/v3/microservices/%s/strace", uuid),
                     200);
    assert_string_equal(jstr(a, "data"), "");
    json_decref(a);
    assert_int_equal(api_callf(f,
                               "PUT",
                               x->t1,
                               "{\"ftpHost\":\"h\",\"ftpPort\":21,\"ftpUser\":\"u\","
                               "\"ftpPass\":\"p\",\"ftpDestDir\":\"/\"}",
                               &a,
                               "/api/v3/microservices/%s/strace",
                               uuid),
                     501);
    assert_string_equal(jstr(a, "name"), "NotImplementedError");
    json_decref(a);

    fx_ack_all(f);
    assert_int_equal(
        api_callf(f, "POST", x->t1, NULL, NULL, "/api/v3/microservices/%s/image-snapshot", uuid),
        201);
    assert_int_equal(fx_flags(f, "fog-x86"), CTL_FLAG_IMAGE_SNAPSHOT);
    char v[64], q[200];
    (void)snprintf(q, sizeof q, "SELECT image_snapshot FROM microservices WHERE uuid = '%s'", uuid);
    assert_string_equal(fx_value(f, q, v, sizeof v), "get_image");
    assert_int_equal(
        api_callf(f, "GET", x->t1, NULL, &a, "/api/v3/microservices/%s/image-snapshot", uuid), 404);
    assert_non_null(strstr(jstr(a, "message"), "not available"));
    json_decref(a);
    assert_int_equal(
        api_callf(
            f, "POST", x->t1, NULL, NULL, "/api/v3/microservices/%s/image-snapshot", unplaced),
        400);
    assert_int_equal(
        api_callf(f, "POST", x->t2, NULL, NULL, "/api/v3/microservices/%s/image-snapshot", uuid),
        404);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_with_images_and_get, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_create_with_catalog_item, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_create_validation, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_patch_config_only_and_image, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_move_between_nodes, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_delete, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_port_and_volume_mappings, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_ownership, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_lifecycle, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_diagnostics, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
