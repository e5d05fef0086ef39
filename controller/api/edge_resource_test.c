/* REST tests of the edge resource, router and config routes against a real server on loopback:
 * shapes, versions, validation, ownership, node links and their change flag. */
#include "controller/api/api_testutil.h"

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

static void add_node(struct api_fixture *f, const char *uuid, int64_t user_id) {
    const struct ctl_db_value p[] = {CTL_DB_TEXT(uuid), CTL_DB_TEXT(uuid), CTL_DB_INT(user_id)};
    struct iof_diag d = {{0}};
    assert_int_equal(ctl_db_exec(ctl_store_db(f->store),
                                 "INSERT INTO fogs (uuid, name, user_id) VALUES (?, ?, ?)",
                                 p,
                                 3,
                                 NULL,
                                 NULL,
                                 NULL,
                                 &d),
                     IOF_OK);
}

static uint32_t flags_of(struct api_fixture *f, const char *uuid) {
    uint32_t mask = 0;
    int64_t version = 0;
    struct iof_diag d = {{0}};
    assert_int_equal(ctl_store_flags_get(f->store, uuid, &mask, &version, &d), IOF_OK);
    return mask;
}

static void ack(struct api_fixture *f, const char *uuid) {
    struct iof_diag d = {{0}};
    assert_int_equal(ctl_store_flags_ack(f->store, uuid, INT64_MAX / 2, &d), IOF_OK);
}

/* The tags of a node, comma-separated in name order, into buf. */
static const char *node_tags(struct api_fixture *f, const char *uuid, char *buf, size_t size) {
    json_t *rows = NULL;
    struct iof_diag d = {{0}};
    const struct ctl_db_value p[] = {CTL_DB_TEXT(uuid)};
    assert_int_equal(ctl_db_query_json(ctl_store_db(f->store),
                                       "SELECT t.name AS name FROM fog_tags ft JOIN tags t"
                                       " ON t.id = ft.tag_id WHERE ft.fog_uuid = ? ORDER BY t.name",
                                       p,
                                       1,
                                       &rows,
                                       &d),
                     IOF_OK);
    buf[0] = '\0';
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) {
        size_t len = strlen(buf);
        (void)snprintf(buf + len, size - len, "%s%s", i > 0 ? "," : "", jstr(row, "name"));
    }
    json_decref(rows);
    return buf;
}

static const char CAMERA_V1[] =
    "{\"name\":\"camera\",\"version\":\"1.0.0\",\"description\":\"a camera\","
    "\"interfaceProtocol\":\"https\",\"display\":{\"name\":\"Camera\",\"icon\":\"camera-icon\","
    "\"color\":\"#ff0000\"},\"custom\":{\"resolution\":\"4k\",\"fps\":30},"
    "\"orchestrationTags\":[\"video\",\"edge\"],"
    "\"endpoints\":[{\"name\":\"snapshot\",\"description\":\"take one\",\"method\":\"GET\","
    "\"url\":\"/snap\",\"requestType\":\"none\",\"responseType\":\"image/jpeg\","
    "\"requestPayloadExample\":\"\",\"responsePayloadExample\":\"<jpeg>\"}]}";

static void test_edge_resource_crud(void **state) {
    struct api_fixture *f = *state;
    char t[65];
    assert_int_equal(api_user(f, "ann@example.com", t), 0);
    json_t *a = NULL;
    assert_int_equal(api_call(f, "GET", "/api/v3/edgeResources", NULL, NULL, NULL), 401);
    assert_int_equal(api_call(f, "GET", "/api/v3/edgeResources", t, NULL, &a), 200);
    assert_int_equal(json_array_size(json_object_get(a, "edgeResources")), 0);
    json_decref(a);

    assert_int_equal(api_call(f, "POST", "/api/v3/edgeResource", t, CAMERA_V1, &a), 200);
    assert_true(json_integer_value(json_object_get(a, "id")) > 0);
    assert_string_equal(jstr(a, "name"), "camera");
    assert_string_equal(jstr(a, "version"), "1.0.0");
    assert_string_equal(jstr(a, "description"), "a camera");
    assert_string_equal(jstr(a, "interfaceProtocol"), "https");
    const json_t *display = json_object_get(a, "display");
    assert_string_equal(jstr(display, "name"), "Camera");
    assert_string_equal(jstr(display, "icon"), "camera-icon");
    assert_string_equal(jstr(display, "color"), "#ff0000");
    assert_string_equal(jstr(json_object_get(a, "custom"), "resolution"), "4k");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(a, "custom"), "fps")), 30);
    const json_t *tags = json_object_get(a, "orchestrationTags");
    assert_int_equal(json_array_size(tags), 2);
    assert_string_equal(json_string_value(json_array_get(tags, 0)), "edge");
    assert_string_equal(json_string_value(json_array_get(tags, 1)), "video");
    const json_t *eps = json_object_get(json_object_get(a, "interface"), "endpoints");
    assert_int_equal(json_array_size(eps), 1);
    const json_t *ep = json_array_get(eps, 0);
    assert_string_equal(jstr(ep, "name"), "snapshot");
    assert_string_equal(jstr(ep, "method"), "GET");
    assert_string_equal(jstr(ep, "url"), "/snap");
    assert_string_equal(jstr(ep, "responseType"), "image/jpeg");
    assert_string_equal(jstr(ep, "responsePayloadExample"), "<jpeg>");
    json_decref(a);

    /* A second version, endpoints given inside "interface". */
    assert_int_equal(api_call(f,
                              "POST",
                              "/api/v3/edgeResource",
                              t,
                              "{\"name\":\"camera\",\"version\":\"2.0.0-beta.1\","
                              "\"interfaceProtocol\":\"ws\",\"interface\":{\"endpoints\":["
                              "{\"name\":\"stream\",\"method\":\"GET\",\"url\":\"/s\"},"
                              "{\"name\":\"reset\",\"method\":\"POST\",\"url\":\"/r\"}]}}",
                              &a),
                     200);
    assert_int_equal(json_array_size(json_object_get(json_object_get(a, "interface"), "endpoints")),
                     2);
    json_decref(a);
    assert_int_equal(api_call(f, "POST", "/api/v3/edgeResource", t, CAMERA_V1, &a), 400);
    assert_string_equal(jstr(a, "name"), "ValidationError");
    assert_non_null(strstr(jstr(a, "message"), "already exists"));
    json_decref(a);

    assert_int_equal(api_call(f, "GET", "/api/v3/edgeResource/camera", t, NULL, &a), 200);
    const json_t *versions = json_object_get(a, "edgeResources");
    assert_int_equal(json_array_size(versions), 2);
    assert_string_equal(jstr(json_array_get(versions, 0), "version"), "1.0.0");
    assert_string_equal(jstr(json_array_get(versions, 1), "version"), "2.0.0-beta.1");
    json_decref(a);
    assert_int_equal(api_call(f, "GET", "/api/v3/edgeResource/camera/2.0.0-beta.1", t, NULL, &a),
                     200);
    assert_string_equal(jstr(a, "interfaceProtocol"), "ws");
    assert_int_equal(json_array_size(json_object_get(a, "orchestrationTags")), 0);
    json_decref(a);
    assert_int_equal(api_call(f, "GET", "/api/v3/edgeResource/camera/9.9.9", t, NULL, &a), 404);
    assert_string_equal(jstr(a, "name"), "NotFoundError");
    json_decref(a);
    assert_int_equal(api_call(f, "GET", "/api/v3/edgeResource/nothing", t, NULL, NULL), 404);
    assert_int_equal(api_call(f, "GET", "/api/v3/edgeResources", t, NULL, &a), 200);
    assert_int_equal(json_array_size(json_object_get(a, "edgeResources")), 2);
    json_decref(a);

    /* PUT: partial, replaces endpoints and tags when given; the version cannot change. */
    assert_int_equal(api_call(f,
                              "PUT",
                              "/api/v3/edgeResource/camera/1.0.0",
                              t,
                              "{\"description\":\"better camera\",\"orchestrationTags\":"
                              "[\"video\"],\"endpoints\":[],\"display\":{\"color\":\"#00ff00\"}}",
                              &a),
                     200);
    assert_string_equal(jstr(a, "description"), "better camera");
    assert_string_equal(jstr(json_object_get(a, "display"), "name"), "Camera");
    assert_string_equal(jstr(json_object_get(a, "display"), "color"), "#00ff00");
    assert_string_equal(jstr(json_object_get(a, "custom"), "resolution"), "4k");
    assert_int_equal(json_array_size(json_object_get(a, "orchestrationTags")), 1);
    assert_int_equal(json_array_size(json_object_get(json_object_get(a, "interface"), "endpoints")),
                     0);
    json_decref(a);
    assert_int_equal(
        api_call(f, "PUT", "/api/v3/edgeResource/camera/1.0.0", t, "{\"version\":\"1.0.1\"}", &a),
        400);
    json_decref(a);
    assert_int_equal(
        api_call(f, "PUT", "/api/v3/edgeResource/camera/3.0.0", t, "{\"description\":\"x\"}", &a),
        404);
    json_decref(a);
    /* Renaming: to a free name works and the old name is gone. */
    assert_int_equal(
        api_call(
            f, "PUT", "/api/v3/edgeResource/camera/2.0.0-beta.1", t, "{\"name\":\"webcam\"}", &a),
        200);
    assert_string_equal(jstr(a, "name"), "webcam");
    json_decref(a);
    assert_int_equal(api_call(f, "GET", "/api/v3/edgeResource/webcam/2.0.0-beta.1", t, NULL, NULL),
                     200);
    assert_int_equal(api_call(f, "GET", "/api/v3/edgeResource/camera/2.0.0-beta.1", t, NULL, NULL),
                     404);

    assert_int_equal(api_call(f, "DELETE", "/api/v3/edgeResource/camera/1.0.0", t, NULL, &a), 202);
    json_decref(a);
    assert_int_equal(api_call(f, "GET", "/api/v3/edgeResource/camera/1.0.0", t, NULL, NULL), 404);
    assert_int_equal(api_call(f, "DELETE", "/api/v3/edgeResource/camera/1.0.0", t, NULL, NULL),
                     404);
    assert_int_equal(api_call(f, "GET", "/api/v3/edgeResources", t, NULL, &a), 200);
    assert_int_equal(json_array_size(json_object_get(a, "edgeResources")), 1);
    json_decref(a);
}

static void
expect_400(struct api_fixture *f, const char *token, const char *body, const char *message) {
    json_t *a = NULL;
    assert_int_equal(api_call(f, "POST", "/api/v3/edgeResource", token, body, &a), 400);
    assert_string_equal(jstr(a, "name"), "ValidationError");
    if (message != NULL) {
        assert_string_equal(jstr(a, "message"), message);
    }
    json_decref(a);
}

static void test_edge_resource_validation(void **state) {
    struct api_fixture *f = *state;
    char t[65];
    assert_int_equal(api_user(f, "ann@example.com", t), 0);
    expect_400(f, t, "{\"version\":\"1.0.0\"}", "Required field 'name' is missing");
    expect_400(f, t, "{\"name\":\"a\"}", "Required field 'version' is missing");
    expect_400(f, t, "{\"name\":\"Bad_Name\",\"version\":\"1.0.0\"}", NULL);
    expect_400(f, t, "{\"name\":\"a\",\"version\":\"1.0\"}", NULL);
    expect_400(f, t, "{\"name\":\"a\",\"version\":\"01.0.0\"}", NULL);
    expect_400(f, t, "{\"name\":\"a\",\"version\":\"1.0.0-\"}", NULL);
    expect_400(f,
               t,
               "{\"name\":\"a\",\"version\":\"1.0.0\",\"interfaceProtocol\":\"ftp\"}",
               "Invalid format for field 'interfaceProtocol'");
    expect_400(f, t, "{\"name\":\"a\",\"version\":\"1.0.0\",\"orchestrationTags\":[1]}", NULL);
    expect_400(f,
               t,
               "{\"name\":\"a\",\"version\":\"1.0.0\",\"endpoints\":[{\"method\":\"FETCH\"}]}",
               "Invalid format for field 'method'");
    expect_400(f,
               t,
               "{\"name\":\"a\",\"version\":\"1.0.0\",\"custom\":[1]}",
               "Invalid format for field 'custom'");
    json_t *a = NULL;
    assert_int_equal(api_call(f,
                              "POST",
                              "/api/v3/edgeResource",
                              t,
                              "{\"name\":\"a\",\"version\":\"1.0.0+build.5\",\"extra\":1}",
                              &a),
                     200);
    assert_true(json_is_object(json_object_get(a, "custom")));
    assert_int_equal(json_object_size(json_object_get(a, "custom")), 0);
    json_decref(a);
    assert_int_equal(api_call(f, "GET", "/api/v3/edgeResources", t, NULL, &a), 200);
    assert_int_equal(json_array_size(json_object_get(a, "edgeResources")), 1);
    json_decref(a);
}

static void test_edge_resource_links(void **state) {
    struct api_fixture *f = *state;
    char ta[65], tb[65], buf[200];
    assert_int_equal(api_user(f, "ann@example.com", ta), 0);
    assert_int_equal(api_user(f, "bob@example.com", tb), 0);
    add_node(f, "nodeA", 1);
    add_node(f, "nodeA2", 1);
    add_node(f, "nodeB", 2);
    json_t *a = NULL;
    assert_int_equal(api_call(f, "POST", "/api/v3/edgeResource", ta, CAMERA_V1, NULL), 200);
    assert_int_equal(api_call(f,
                              "POST",
                              "/api/v3/edgeResource",
                              ta,
                              "{\"name\":\"lamp\",\"version\":\"1.0.0\","
                              "\"orchestrationTags\":[\"edge\"]}",
                              NULL),
                     200);

    /* B sees none of A's resources and cannot touch or link them. */
    assert_int_equal(api_call(f, "GET", "/api/v3/edgeResources", tb, NULL, &a), 200);
    assert_int_equal(json_array_size(json_object_get(a, "edgeResources")), 0);
    json_decref(a);
    assert_int_equal(api_call(f, "GET", "/api/v3/edgeResource/camera", tb, NULL, NULL), 404);
    assert_int_equal(api_call(f, "GET", "/api/v3/edgeResource/camera/1.0.0", tb, NULL, NULL), 404);
    assert_int_equal(
        api_call(
            f, "PUT", "/api/v3/edgeResource/camera/1.0.0", tb, "{\"description\":\"x\"}", NULL),
        404);
    assert_int_equal(api_call(f, "DELETE", "/api/v3/edgeResource/camera/1.0.0", tb, NULL, NULL),
                     404);
    assert_int_equal(
        api_call(
            f, "POST", "/api/v3/edgeResource/camera/1.0.0/link", tb, "{\"uuid\":\"nodeB\"}", NULL),
        404);
    /* B may create its own resource of the same name and version. */
    assert_int_equal(api_call(f, "POST", "/api/v3/edgeResource", tb, CAMERA_V1, NULL), 200);

    /* A cannot link to B's node or an unknown one; the body needs a uuid. */
    assert_int_equal(
        api_call(
            f, "POST", "/api/v3/edgeResource/camera/1.0.0/link", ta, "{\"uuid\":\"nodeB\"}", &a),
        404);
    assert_string_equal(jstr(a, "message"), "Invalid ioFog UUID 'nodeB'");
    json_decref(a);
    assert_int_equal(api_call(f, "POST", "/api/v3/edgeResource/camera/1.0.0/link", ta, "{}", &a),
                     400);
    assert_string_equal(jstr(a, "message"), "Required field 'uuid' is missing");
    json_decref(a);
    assert_int_equal(flags_of(f, "nodeB"), 0);

    /* Link: the node gets the flag and the resource's tags; only that node. */
    assert_int_equal(
        api_call(
            f, "POST", "/api/v3/edgeResource/camera/1.0.0/link", ta, "{\"uuid\":\"nodeA\"}", &a),
        200);
    json_decref(a);
    assert_int_equal(flags_of(f, "nodeA"), CTL_FLAG_LINKED_EDGE_RESOURCES);
    assert_int_equal(flags_of(f, "nodeA2"), 0);
    assert_int_equal(flags_of(f, "nodeB"), 0);
    assert_string_equal(node_tags(f, "nodeA", buf, sizeof buf), "edge,video");
    assert_int_equal(
        api_call(
            f, "POST", "/api/v3/edgeResource/lamp/1.0.0/link", ta, "{\"uuid\":\"nodeA\"}", NULL),
        200);

    /* Updating a linked resource tells its node again. */
    ack(f, "nodeA");
    assert_int_equal(flags_of(f, "nodeA"), 0);
    assert_int_equal(
        api_call(
            f, "PUT", "/api/v3/edgeResource/camera/1.0.0", ta, "{\"description\":\"v2\"}", NULL),
        200);
    assert_int_equal(flags_of(f, "nodeA"), CTL_FLAG_LINKED_EDGE_RESOURCES);
    assert_int_equal(flags_of(f, "nodeA2"), 0);

    /* Unlink: the flag again; the camera's tags go except "edge", which the lamp still gives. */
    ack(f, "nodeA");
    assert_int_equal(api_call(f,
                              "DELETE",
                              "/api/v3/edgeResource/camera/1.0.0/link",
                              ta,
                              "{\"uuid\":\"nodeA\"}",
                              NULL),
                     200);
    assert_int_equal(flags_of(f, "nodeA"), CTL_FLAG_LINKED_EDGE_RESOURCES);
    assert_string_equal(node_tags(f, "nodeA", buf, sizeof buf), "edge");
    json_t *rows = NULL;
    struct iof_diag d;
    assert_int_equal(ctl_db_query_json(ctl_store_db(f->store),
                                       "SELECT count(*) AS n FROM fog_edge_resources",
                                       NULL,
                                       0,
                                       &rows,
                                       &d),
                     IOF_OK);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(rows, 0), "n")), 1);
    json_decref(rows);

    /* Deleting a linked resource tells its node and removes the link. */
    ack(f, "nodeA");
    assert_int_equal(api_call(f, "DELETE", "/api/v3/edgeResource/lamp/1.0.0", ta, NULL, NULL), 202);
    assert_int_equal(flags_of(f, "nodeA"), CTL_FLAG_LINKED_EDGE_RESOURCES);
    assert_int_equal(ctl_db_query_json(ctl_store_db(f->store),
                                       "SELECT count(*) AS n FROM fog_edge_resources",
                                       NULL,
                                       0,
                                       &rows,
                                       &d),
                     IOF_OK);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(rows, 0), "n")), 0);
    json_decref(rows);
    assert_int_equal(flags_of(f, "nodeB"), 0);
}

static void test_router_and_config(void **state) {
    struct api_fixture *f = *state;
    char t[65];
    assert_int_equal(api_user(f, "ann@example.com", t), 0);
    json_t *a = NULL;
    assert_int_equal(api_call(f, "GET", "/api/v3/router", NULL, NULL, NULL), 401);
    assert_int_equal(api_call(f, "GET", "/api/v3/router", t, NULL, &a), 404);
    assert_string_equal(jstr(a, "name"), "NotFoundError");
    json_decref(a);
    assert_int_equal(api_call(f, "PUT", "/api/v3/router", t, "{\"messagingPort\":1}", &a), 400);
    assert_string_equal(jstr(a, "message"), "Required field 'host' is missing");
    json_decref(a);
    assert_int_equal(
        api_call(
            f, "PUT", "/api/v3/router", t, "{\"host\":\"r.io\",\"messagingPort\":70000}", NULL),
        400);

    assert_int_equal(api_call(f, "PUT", "/api/v3/router", t, "{\"host\":\"r.example.com\"}", &a),
                     200);
    assert_string_equal(jstr(a, "host"), "r.example.com");
    json_decref(a);
    assert_int_equal(api_call(f, "GET", "/api/v3/router", t, NULL, &a), 200);
    assert_string_equal(jstr(a, "host"), "r.example.com");
    assert_int_equal(json_integer_value(json_object_get(a, "messagingPort")), 5672);
    assert_int_equal(json_integer_value(json_object_get(a, "interRouterPort")), 56721);
    assert_int_equal(json_integer_value(json_object_get(a, "edgeRouterPort")), 56722);
    json_decref(a);
    /* A second PUT updates the one default router. */
    assert_int_equal(api_call(f,
                              "PUT",
                              "/api/v3/router",
                              t,
                              "{\"host\":\"10.0.0.1\",\"messagingPort\":5673,"
                              "\"interRouterPort\":1000,\"edgeRouterPort\":1001}",
                              NULL),
                     200);
    assert_int_equal(api_call(f, "GET", "/api/v3/router", t, NULL, &a), 200);
    assert_string_equal(jstr(a, "host"), "10.0.0.1");
    assert_int_equal(json_integer_value(json_object_get(a, "messagingPort")), 5673);
    assert_int_equal(json_integer_value(json_object_get(a, "interRouterPort")), 1000);
    assert_int_equal(json_integer_value(json_object_get(a, "edgeRouterPort")), 1001);
    json_decref(a);
    json_t *rows = NULL;
    struct iof_diag d;
    assert_int_equal(
        ctl_db_query_json(
            ctl_store_db(f->store), "SELECT count(*) AS n FROM routers", NULL, 0, &rows, &d),
        IOF_OK);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(rows, 0), "n")), 1);
    json_decref(rows);

    /* Config key/value table. */
    assert_int_equal(api_call(f, "GET", "/api/v3/config", t, NULL, &a), 200);
    assert_int_equal(json_array_size(json_object_get(a, "config")), 0);
    json_decref(a);
    assert_int_equal(api_call(f, "GET", "/api/v3/config/default-proxy-host", t, NULL, &a), 404);
    assert_string_equal(jstr(a, "name"), "NotFoundError");
    json_decref(a);
    assert_int_equal(api_call(f, "PUT", "/api/v3/config", t, "{\"key\":\"k\"}", &a), 400);
    assert_string_equal(jstr(a, "message"), "Required field 'value' is missing");
    json_decref(a);
    assert_int_equal(api_call(f,
                              "PUT",
                              "/api/v3/config",
                              t,
                              "{\"key\":\"default-proxy-host\",\"value\":\"proxy.io\"}",
                              &a),
                     200);
    assert_string_equal(jstr(a, "value"), "proxy.io");
    json_decref(a);
    assert_int_equal(api_call(f,
                              "PUT",
                              "/api/v3/config",
                              t,
                              "{\"key\":\"default-proxy-host\",\"value\":\"proxy2.io\"}",
                              NULL),
                     200);
    assert_int_equal(
        api_call(f, "PUT", "/api/v3/config", t, "{\"key\":\"another\",\"value\":\"1\"}", NULL),
        200);
    assert_int_equal(api_call(f, "GET", "/api/v3/config/default-proxy-host", t, NULL, &a), 200);
    assert_string_equal(jstr(a, "key"), "default-proxy-host");
    assert_string_equal(jstr(a, "value"), "proxy2.io");
    json_decref(a);
    assert_int_equal(api_call(f, "GET", "/api/v3/config", t, NULL, &a), 200);
    const json_t *cfg = json_object_get(a, "config");
    assert_int_equal(json_array_size(cfg), 2);
    assert_string_equal(jstr(json_array_get(cfg, 0), "key"), "another");
    assert_string_equal(jstr(json_array_get(cfg, 1), "value"), "proxy2.io");
    json_decref(a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_edge_resource_crud, setup, teardown),
        cmocka_unit_test_setup_teardown(test_edge_resource_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_edge_resource_links, setup, teardown),
        cmocka_unit_test_setup_teardown(test_router_and_config, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
