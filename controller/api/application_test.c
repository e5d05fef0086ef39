/* REST tests of /application and the legacy /flow routes against a real server on loopback:
 * create/list/get/patch/put/delete, validation and duplicate errors, ownership isolation, change
 * flags on activation and deletion, YAML uploads and the iofogctl document mapping. */
#include "controller/api/app_testutil.h"

#include "controller/api/application.h"
#include "controller/store/store.h"
#include "yaml/yaml.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#define FLAGS_APP (CTL_FLAG_MICROSERVICE_LIST | CTL_FLAG_MICROSERVICE_CONFIG | CTL_FLAG_ROUTING)
#define FOG_A     "fogaaaaaaaaaaaaaaaaaaaaaaaaaaaa1"
#define FOG_B     "fogbbbbbbbbbbbbbbbbbbbbbbbbbbbb2"
#define FOG_C     "fogccccccccccccccccccccccccccccc3"

static int setup(void **state) {
    *state = api_start();
    return *state != NULL ? 0 : -1;
}

static int teardown(void **state) {
    api_stop(*state);
    return 0;
}

static void expect_error(long status, json_t *a, long want, const char *name, const char *msg) {
    assert_int_equal(status, want);
    assert_string_equal(jstr(a, "name"), name);
    if (msg != NULL) {
        assert_string_equal(jstr(a, "message"), msg);
    }
    json_decref(a);
}

static int cmp_names(const void *x, const void *y) {
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* The first column of the first row of sql as text into out ("" when none). */
static void api_sql_text(struct api_fixture *f, const char *sql, char *out, size_t len) {
    json_t *rows = NULL;
    struct iof_diag d = {{0}};
    assert_int_equal(ctl_db_query_json(ctl_store_db(f->store), sql, NULL, 0, &rows, &d), IOF_OK);
    const char *key;
    json_t *v;
    out[0] = '\0';
    json_object_foreach(json_array_get(rows, 0), key, v) {
        (void)snprintf(out, len, "%s", json_is_string(v) ? json_string_value(v) : "");
        break;
    }
    json_decref(rows);
}

static int64_t app_id(struct api_fixture *f, const char *token, const char *name) {
    json_t *a = NULL;
    if (api_callf(f, "GET", token, NULL, &a, "/api/v3/application/%s", name) != 200) {
        json_decref(a);
        return -1;
    }
    int64_t id = (int64_t)json_integer_value(json_object_get(a, "id"));
    json_decref(a);
    return id;
}

static void test_create_list_get(void **state) {
    struct api_fixture *f = *state;
    char tok[65];
    assert_int_equal(api_user(f, "ann@example.com", tok), 0);
    json_t *a = NULL;
    assert_int_equal(api_call(f,
                              "POST",
                              "/api/v3/application",
                              tok,
                              "{\"name\":\"demo-app\",\"description\":\"first\",\"unknown\":1}",
                              &a),
                     201);
    assert_true(json_integer_value(json_object_get(a, "id")) > 0);
    assert_string_equal(jstr(a, "name"), "demo-app");
    json_decref(a);
    assert_int_equal(api_call(f,
                              "POST",
                              "/api/v3/application",
                              tok,
                              "{\"name\":\"sys.app\",\"isSystem\":true,\"isActivated\":true}",
                              &a),
                     201);
    json_decref(a);

    /* The list holds the caller's non-system applications, with their (empty) children. */
    assert_int_equal(api_call(f, "GET", "/api/v3/application", tok, NULL, &a), 200);
    json_t *apps = json_object_get(a, "applications");
    assert_int_equal(json_array_size(apps), 1);
    json_t *app = json_array_get(apps, 0);
    assert_string_equal(jstr(app, "name"), "demo-app");
    assert_string_equal(jstr(app, "description"), "first");
    assert_true(json_is_false(json_object_get(app, "isActivated")));
    assert_true(json_is_false(json_object_get(app, "isSystem")));
    assert_int_equal(json_integer_value(json_object_get(app, "userId")), 1);
    assert_int_equal(json_array_size(json_object_get(app, "microservices")), 0);
    assert_true(json_is_array(json_object_get(app, "routes")));
    json_decref(a);

    assert_int_equal(api_call(f, "GET", "/api/v3/application/demo-app", tok, NULL, &a), 200);
    assert_string_equal(jstr(a, "name"), "demo-app");
    assert_true(json_is_array(json_object_get(a, "microservices")));
    assert_int_equal(json_array_size(json_object_get(a, "routes")), 0);
    assert_null(json_object_get(a, "created_at"));
    json_decref(a);
    /* System applications are hidden from the list only: their owner reads them by name, as
     * classic (its getApplication has no isSystem condition). */
    assert_int_equal(api_call(f, "GET", "/api/v3/application/sys.app", tok, NULL, &a), 200);
    assert_true(json_is_true(json_object_get(a, "isSystem")));
    json_decref(a);

    long st = api_call(f, "GET", "/api/v3/application/nope", tok, NULL, &a);
    expect_error(st, a, 404, "NotFoundError", "Invalid application id 'nope'");
    st = api_call(f, "GET", "/api/v3/application", NULL, NULL, &a);
    expect_error(st, a, 401, "AuthenticationError", NULL);
}

static void test_validation_and_duplicates(void **state) {
    struct api_fixture *f = *state;
    char tok[65];
    assert_int_equal(api_user(f, "bob@example.com", tok), 0);
    json_t *a = NULL;
    long st = api_call(f, "POST", "/api/v3/application", tok, "{\"description\":\"x\"}", &a);
    expect_error(st, a, 400, "ValidationError", "Required field 'name' is missing");
    st = api_call(f, "POST", "/api/v3/application", tok, "{\"name\":\"Bad_Name\"}", &a);
    expect_error(st, a, 400, "ValidationError", NULL);
    st = api_call(
        f, "POST", "/api/v3/application", tok, "{\"name\":\"ok\",\"isActivated\":\"yes\"}", &a);
    expect_error(st, a, 400, "ValidationError", "Invalid format for field 'isActivated'");
    st = api_call(
        f, "POST", "/api/v3/application", tok, "{\"name\":\"ok\",\"microservices\":{}}", &a);
    expect_error(st, a, 400, "ValidationError", "Invalid format for field 'microservices'");
    st = api_call(f, "POST", "/api/v3/application", tok, "[1]", &a);
    expect_error(st, a, 400, "ValidationError", NULL);
    st = api_call(f, "POST", "/api/v3/application", tok, "{\"name\":\"dup\"}", &a);
    assert_int_equal(st, 201);
    json_decref(a);
    st = api_call(f, "POST", "/api/v3/application", tok, "{\"name\":\"dup\"}", &a);
    expect_error(st, a, 409, "DuplicatePropertyError", "Duplicate name 'dup'");
    st = api_call(f, "POST", "/api/v3/application", tok, "{\"name\":\"other\"}", &a);
    assert_int_equal(st, 201);
    json_decref(a);
    /* Renaming onto an existing name is refused the same way; nothing changes. */
    st = api_call(f, "PATCH", "/api/v3/application/other", tok, "{\"name\":\"dup\"}", &a);
    expect_error(st, a, 409, "DuplicatePropertyError", "Duplicate name 'dup'");
    st = api_call(f, "PATCH", "/api/v3/application/other", tok, "{\"isSystem\":1}", &a);
    expect_error(st, a, 400, "ValidationError", "Invalid format for field 'isSystem'");
    st = api_call(f, "PATCH", "/api/v3/application/ghost", tok, "{}", &a);
    expect_error(st, a, 404, "NotFoundError", "Invalid application id 'ghost'");
    assert_true(app_id(f, tok, "other") > 0);
    /* A microservice that cannot be created (no image, no node) fails the whole deployment: the
     * application is not left behind. */
    st = api_call(f,
                  "POST",
                  "/api/v3/application",
                  tok,
                  "{\"name\":\"with-ms\",\"microservices\":[{\"name\":\"m\"}]}",
                  &a);
    assert_int_equal(st, 400);
    json_decref(a);
    assert_int_equal(api_call(f, "GET", "/api/v3/application/with-ms", tok, NULL, NULL), 404);
}

static void test_ownership(void **state) {
    struct api_fixture *f = *state;
    char t1[65], t2[65];
    assert_int_equal(api_user(f, "one@example.com", t1), 0);
    assert_int_equal(api_user(f, "two@example.com", t2), 0);
    assert_int_equal(api_call(f, "POST", "/api/v3/application", t1, "{\"name\":\"mine\"}", NULL),
                     201);
    int64_t id = app_id(f, t1, "mine");
    assert_true(id > 0);
    json_t *a = NULL;
    long st = api_call(f, "GET", "/api/v3/application/mine", t2, NULL, &a);
    expect_error(st, a, 404, "NotFoundError", "Invalid application id 'mine'");
    assert_int_equal(
        api_call(f, "PATCH", "/api/v3/application/mine", t2, "{\"description\":\"x\"}", NULL), 404);
    assert_int_equal(api_call(f, "PUT", "/api/v3/application/mine", t2, "{}", NULL), 404);
    assert_int_equal(api_call(f, "DELETE", "/api/v3/application/mine", t2, NULL, NULL), 404);
    assert_int_equal(api_callf(f, "GET", t2, NULL, NULL, "/api/v3/flow/%lld", (long long)id), 404);
    assert_int_equal(api_callf(f, "DELETE", t2, NULL, NULL, "/api/v3/flow/%lld", (long long)id),
                     404);
    /* Names are unique per user: the second user may use the same one. */
    assert_int_equal(api_call(f, "POST", "/api/v3/application", t2, "{\"name\":\"mine\"}", NULL),
                     201);
    assert_int_equal(api_call(f, "GET", "/api/v3/application", t2, NULL, &a), 200);
    json_t *apps = json_object_get(a, "applications");
    assert_int_equal(json_array_size(apps), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(apps, 0), "userId")), 2);
    json_decref(a);
    assert_int_equal(api_call(f, "GET", "/api/v3/flow", t2, NULL, &a), 200);
    assert_int_equal(json_array_size(json_object_get(a, "flows")), 1);
    json_decref(a);
    /* The first user's application is untouched; the admin sees both. */
    assert_int_equal(api_call(f, "GET", "/api/v3/application/mine", t1, NULL, &a), 200);
    assert_int_equal(json_integer_value(json_object_get(a, "userId")), 1);
    json_decref(a);
    assert_int_equal(api_call(f, "GET", "/api/v3/application", f->admin, NULL, &a), 200);
    assert_int_equal(json_array_size(json_object_get(a, "applications")), 2);
    json_decref(a);
}

/* A node of user 1 and microservices of app_id on it, with a route, as the microservice routes
 * would store them. */
static void seed_msvcs(struct api_fixture *f, int64_t app) {
    const char *fogs[] = {FOG_A, FOG_B, FOG_C};
    for (int i = 0; i < 3; i++) {
        char name[16];
        (void)snprintf(name, sizeof name, "node-%d", i);
        const struct ctl_db_value p[] = {CTL_DB_TEXT(fogs[i]), CTL_DB_TEXT(name), CTL_DB_INT(1)};
        assert_int_equal(
            api_sql(f, "INSERT INTO fogs (uuid, name, user_id) VALUES (?, ?, ?)", p, 3), 0);
    }
    static const char msvc[] = "INSERT INTO microservices (uuid, name, config, application_id, "
                               "user_id, fog_uuid, catalog_item_id, created_at) "
                               "VALUES (?, ?, ?, ?, 1, ?, ?, ?)";
    const struct ctl_db_value m1[] = {CTL_DB_TEXT("msvc1aaaaaaaaaaaaaaaaaaaaaaaaaaa"),
                                      CTL_DB_TEXT("sensor"),
                                      CTL_DB_TEXT("{\"frequency\":2000}"),
                                      CTL_DB_INT(app),
                                      CTL_DB_TEXT(FOG_A),
                                      CTL_DB_NULLV,
                                      CTL_DB_INT(1)};
    const struct ctl_db_value m2[] = {CTL_DB_TEXT("msvc2bbbbbbbbbbbbbbbbbbbbbbbbbbb"),
                                      CTL_DB_TEXT("viewer"),
                                      CTL_DB_TEXT("{}"),
                                      CTL_DB_INT(app),
                                      CTL_DB_TEXT(FOG_B),
                                      CTL_DB_INT(7),
                                      CTL_DB_INT(2)};
    assert_int_equal(api_sql(f, msvc, m1, 7), 0);
    assert_int_equal(api_sql(f, msvc, m2, 7), 0);
    const struct ctl_db_value img[] = {CTL_DB_TEXT("msvc1aaaaaaaaaaaaaaaaaaaaaaaaaaa")};
    assert_int_equal(api_sql(f,
                             "INSERT INTO catalog_item_images (microservice_uuid, fog_type_id, "
                             "container_image) VALUES (?, 1, 'iofog/sensor')",
                             img,
                             1),
                     0);
    assert_int_equal(api_sql(f,
                             "INSERT INTO microservice_envs (microservice_uuid, key, value) "
                             "VALUES (?, 'LOG', 'info')",
                             img,
                             1),
                     0);
    const struct ctl_db_value port[] = {CTL_DB_TEXT("msvc2bbbbbbbbbbbbbbbbbbbbbbbbbbb")};
    assert_int_equal(api_sql(f,
                             "INSERT INTO microservice_ports (microservice_uuid, port_internal, "
                             "port_external) VALUES (?, 80, 5555)",
                             port,
                             1),
                     0);
    const struct ctl_db_value r[] = {CTL_DB_INT(app)};
    assert_int_equal(api_sql(f,
                             "INSERT INTO routings (name, application_id, "
                             "source_microservice_uuid, dest_microservice_uuid) VALUES "
                             "('sensor-to-viewer', ?, 'msvc1aaaaaaaaaaaaaaaaaaaaaaaaaaa', "
                             "'msvc2bbbbbbbbbbbbbbbbbbbbbbbbbbb')",
                             r,
                             1),
                     0);
}

static void test_children_flags_and_delete(void **state) {
    struct api_fixture *f = *state;
    char tok[65];
    assert_int_equal(api_user(f, "cat@example.com", tok), 0);
    assert_int_equal(api_call(f, "POST", "/api/v3/application", tok, "{\"name\":\"live\"}", NULL),
                     201);
    int64_t id = app_id(f, tok, "live");
    seed_msvcs(f, id);
    for (int i = 0; i < 3; i++) {
        api_flags_clear(f, (const char *[]){FOG_A, FOG_B, FOG_C}[i]);
    }

    json_t *a = NULL;
    assert_int_equal(api_call(f, "GET", "/api/v3/application/live", tok, NULL, &a), 200);
    json_t *ms = json_object_get(a, "microservices");
    assert_int_equal(json_array_size(ms), 2);
    json_t *sensor = json_array_get(ms, 0);
    assert_string_equal(jstr(sensor, "name"), "sensor");
    assert_string_equal(jstr(sensor, "iofogUuid"), FOG_A);
    assert_string_equal(jstr(sensor, "application"), "live");
    assert_int_equal(json_integer_value(json_object_get(sensor, "flowId")), id);
    assert_string_equal(jstr(sensor, "config"), "{\"frequency\":2000}");
    assert_string_equal(
        jstr(json_array_get(json_object_get(sensor, "images"), 0), "containerImage"),
        "iofog/sensor");
    assert_string_equal(jstr(json_array_get(json_object_get(sensor, "env"), 0), "value"), "info");
    assert_string_equal(json_string_value(json_array_get(json_object_get(sensor, "routes"), 0)),
                        "msvc2bbbbbbbbbbbbbbbbbbbbbbbbbbb");
    assert_string_equal(jstr(json_object_get(sensor, "status"), "status"), "QUEUED");
    json_t *viewer = json_array_get(ms, 1);
    assert_int_equal(json_integer_value(json_object_get(viewer, "catalogItemId")), 7);
    /* Own images only, as classic: none for a catalog-based microservice. */
    assert_int_equal(json_array_size(json_object_get(viewer, "images")), 0);
    assert_int_equal(json_integer_value(json_object_get(
                         json_array_get(json_object_get(viewer, "ports"), 0), "external")),
                     5555);
    json_t *route = json_array_get(json_object_get(a, "routes"), 0);
    assert_string_equal(jstr(route, "name"), "sensor-to-viewer");
    assert_string_equal(jstr(route, "from"), "sensor");
    assert_string_equal(jstr(route, "to"), "viewer");
    json_decref(a);

    /* Metadata changes raise nothing. */
    assert_int_equal(
        api_call(f, "PATCH", "/api/v3/application/live", tok, "{\"description\":\"d\"}", NULL),
        204);
    assert_int_equal(api_flags(f, FOG_A), 0);
    /* Activation raises microserviceList+microserviceConfig+routing on the app's nodes only. */
    assert_int_equal(
        api_call(f, "PATCH", "/api/v3/application/live", tok, "{\"isActivated\":true}", NULL), 204);
    assert_int_equal(api_flags(f, FOG_A), FLAGS_APP);
    assert_int_equal(api_flags(f, FOG_B), FLAGS_APP);
    assert_int_equal(api_flags(f, FOG_C), 0);
    api_flags_clear(f, FOG_A);
    api_flags_clear(f, FOG_B);
    /* The same value again is no change. */
    assert_int_equal(
        api_call(f, "PATCH", "/api/v3/application/live", tok, "{\"isActivated\":true}", NULL), 204);
    assert_int_equal(api_flags(f, FOG_A), 0);
    assert_int_equal(api_call(f, "GET", "/api/v3/application/live", tok, NULL, &a), 200);
    assert_true(json_is_true(json_object_get(a, "isActivated")));
    assert_string_equal(jstr(a, "description"), "d");
    json_decref(a);

    /* Rename through PATCH; the old name is gone. */
    assert_int_equal(
        api_call(f, "PATCH", "/api/v3/application/live", tok, "{\"name\":\"live2\"}", NULL), 204);
    assert_int_equal(api_call(f, "GET", "/api/v3/application/live", tok, NULL, NULL), 404);
    assert_int_equal(app_id(f, tok, "live2"), id);

    /* PUT with metadata only. */
    assert_int_equal(api_call(f,
                              "PUT",
                              "/api/v3/application/live2",
                              tok,
                              "{\"description\":\"put\",\"isActivated\":false}",
                              NULL),
                     204);
    assert_int_equal(api_flags(f, FOG_A), FLAGS_APP);
    api_flags_clear(f, FOG_A);
    api_flags_clear(f, FOG_B);

    /* DELETE removes the app, its microservices and routes in one go and tells the nodes. */
    assert_int_equal(api_call(f, "DELETE", "/api/v3/application/live2", tok, NULL, NULL), 204);
    assert_int_equal(api_flags(f, FOG_A), FLAGS_APP);
    assert_int_equal(api_flags(f, FOG_B), FLAGS_APP);
    assert_int_equal(api_flags(f, FOG_C), 0);
    assert_int_equal(api_count(f, "SELECT count(*) AS n FROM microservices", NULL, 0), 0);
    assert_int_equal(api_count(f, "SELECT count(*) AS n FROM routings", NULL, 0), 0);
    assert_int_equal(api_count(f, "SELECT count(*) AS n FROM microservice_envs", NULL, 0), 0);
    assert_int_equal(api_count(f, "SELECT count(*) AS n FROM fogs", NULL, 0), 3);
    assert_int_equal(api_call(f, "GET", "/api/v3/application/live2", tok, NULL, NULL), 404);
    assert_int_equal(api_call(f, "DELETE", "/api/v3/application/live2", tok, NULL, NULL), 404);
}

/* POST /application with microservices and routes creates them all; PUT reconciles by name
 * (removes, updates, adds microservices and routes) and tells the nodes. */
static void test_deploy_and_reconcile(void **state) {
    struct api_fixture *f = *state;
    char tok[65];
    assert_int_equal(api_user(f, "dora@example.com", tok), 0);
    const struct ctl_db_value p[] = {CTL_DB_TEXT(FOG_A)};
    assert_int_equal(api_sql(f,
                             "INSERT INTO fogs (uuid, name, user_id, fog_type_id) VALUES"
                             " (?, 'edge-1', 1, 1)",
                             p,
                             1),
                     0);
    const char *app = "{\"name\":\"demo\",\"isActivated\":true,\"microservices\":["
                      "{\"name\":\"sensor\",\"agentName\":\"edge-1\",\"config\":\"{\\\"f\\\":1}\","
                      "\"images\":[{\"containerImage\":\"demo/sensor\",\"fogTypeId\":1}]},"
                      "{\"name\":\"viewer\",\"agentName\":\"edge-1\","
                      "\"images\":[{\"containerImage\":\"demo/viewer\",\"fogTypeId\":1}]}],"
                      "\"routes\":[{\"from\":\"sensor\",\"to\":\"viewer\"}]}";
    json_t *a = NULL;
    assert_int_equal(api_call(f, "POST", "/api/v3/application", tok, app, &a), 201);
    json_decref(a);
    assert_int_equal(api_flags(f, FOG_A) & FLAGS_APP, FLAGS_APP);
    api_flags_clear(f, FOG_A);
    assert_int_equal(api_call(f, "GET", "/api/v3/application/demo", tok, NULL, &a), 200);
    json_t *ms = json_object_get(a, "microservices");
    assert_int_equal(json_array_size(ms), 2);
    json_t *routes = json_object_get(a, "routes");
    assert_int_equal(json_array_size(routes), 1);
    assert_string_equal(jstr(json_array_get(routes, 0), "name"), "r-sensor-viewer");
    assert_string_equal(jstr(json_array_get(routes, 0), "from"), "sensor");
    json_decref(a);

    /* Reconcile: viewer goes, logger comes, sensor's config changes, the route goes with viewer
     * and a new one to logger is made. */
    const char *desired =
        "{\"microservices\":["
        "{\"name\":\"sensor\",\"agentName\":\"edge-1\",\"config\":\"{\\\"f\\\":2}\","
        "\"images\":[{\"containerImage\":\"demo/sensor\",\"fogTypeId\":1}]},"
        "{\"name\":\"logger\",\"agentName\":\"edge-1\","
        "\"images\":[{\"containerImage\":\"demo/logger\",\"fogTypeId\":1}]}],"
        "\"routes\":[{\"name\":\"to-log\",\"from\":\"sensor\",\"to\":\"logger\"}]}";
    assert_int_equal(api_call(f, "PUT", "/api/v3/application/demo", tok, desired, NULL), 204);
    assert_int_equal(api_flags(f, FOG_A) & FLAGS_APP, FLAGS_APP);
    assert_int_equal(api_call(f, "GET", "/api/v3/application/demo", tok, NULL, &a), 200);
    ms = json_object_get(a, "microservices");
    assert_int_equal(json_array_size(ms), 2);
    bool saw_sensor = false, saw_logger = false;
    size_t i;
    json_t *m;
    json_array_foreach(ms, i, m) {
        if (strcmp(jstr(m, "name"), "sensor") == 0) {
            saw_sensor = true;
            assert_string_equal(jstr(m, "config"), "{\"f\":2}");
        }
        saw_logger = saw_logger || strcmp(jstr(m, "name"), "logger") == 0;
        assert_string_not_equal(jstr(m, "name"), "viewer");
    }
    assert_true(saw_sensor && saw_logger);
    routes = json_object_get(a, "routes");
    assert_int_equal(json_array_size(routes), 1);
    assert_string_equal(jstr(json_array_get(routes, 0), "name"), "to-log");
    assert_string_equal(jstr(json_array_get(routes, 0), "to"), "logger");
    json_decref(a);

    /* A reconcile that fails half-way (unknown node for a new microservice) changes nothing. */
    const char *bad = "{\"microservices\":[{\"name\":\"ghost\",\"agentName\":\"nowhere\","
                      "\"images\":[{\"containerImage\":\"x\",\"fogTypeId\":1}]}]}";
    long st = api_call(f, "PUT", "/api/v3/application/demo", tok, bad, &a);
    assert_true(st == 400 || st == 404);
    json_decref(a);
    assert_int_equal(api_call(f, "GET", "/api/v3/application/demo", tok, NULL, &a), 200);
    assert_int_equal(json_array_size(json_object_get(a, "microservices")), 2);
    json_decref(a);
}

static void test_flows(void **state) {
    struct api_fixture *f = *state;
    char tok[65];
    assert_int_equal(api_user(f, "dan@example.com", tok), 0);
    json_t *a = NULL;
    assert_int_equal(
        api_call(
            f, "POST", "/api/v3/flow", tok, "{\"name\":\"legacy\",\"description\":\"old\"}", &a),
        201);
    json_int_t id = json_integer_value(json_object_get(a, "id"));
    assert_true(id > 0);
    json_decref(a);
    assert_int_equal(api_call(f, "GET", "/api/v3/flow", tok, NULL, &a), 200);
    json_t *flow = json_array_get(json_object_get(a, "flows"), 0);
    assert_string_equal(jstr(flow, "name"), "legacy");
    assert_int_equal(json_integer_value(json_object_get(flow, "id")), id);
    json_decref(a);
    assert_int_equal(api_callf(f, "GET", tok, NULL, &a, "/api/v3/flow/%lld", (long long)id), 200);
    assert_string_equal(jstr(a, "description"), "old");
    assert_true(json_is_false(json_object_get(a, "isActivated")));
    json_decref(a);
    /* iofogctl starts and renames applications through the legacy routes. */
    assert_int_equal(api_callf(f,
                               "PATCH",
                               tok,
                               "{\"isActivated\":true,\"name\":\"renamed\"}",
                               NULL,
                               "/api/v3/flow/%lld",
                               (long long)id),
                     204);
    assert_int_equal(api_call(f, "GET", "/api/v3/application/renamed", tok, NULL, &a), 200);
    assert_true(json_is_true(json_object_get(a, "isActivated")));
    json_decref(a);
    long st = api_call(f, "GET", "/api/v3/flow/abc", tok, NULL, &a);
    expect_error(st, a, 404, "NotFoundError", "Invalid flow id 'abc'");
    st = api_call(f, "GET", "/api/v3/flow/999", tok, NULL, &a);
    expect_error(st, a, 404, "NotFoundError", "Invalid flow id '999'");
    assert_int_equal(api_callf(f, "DELETE", tok, NULL, NULL, "/api/v3/flow/%lld", (long long)id),
                     204);
    assert_int_equal(api_callf(f, "GET", tok, NULL, NULL, "/api/v3/flow/%lld", (long long)id), 404);
}

static void test_yaml_upload(void **state) {
    struct api_fixture *f = *state;
    char tok[65];
    assert_int_equal(api_user(f, "eve@example.com", tok), 0);
    json_t *a = NULL;
    const char *yaml = "apiVersion: iofog.org/v3\nkind: Application\nmetadata:\n  name: from-yaml\n"
                       "spec:\n  description: uploaded\n  microservices: []\n  routes: []\n";
    assert_int_equal(
        api_upload(f, "POST", "/api/v3/application/yaml", tok, "application", yaml, &a), 201);
    assert_string_equal(jstr(a, "name"), "from-yaml");
    json_decref(a);
    assert_int_equal(api_call(f, "GET", "/api/v3/application/from-yaml", tok, NULL, &a), 200);
    assert_string_equal(jstr(a, "description"), "uploaded");
    assert_true(json_is_true(json_object_get(a, "isActivated"))); /* uploads start activated */
    json_decref(a);

    const char *upd = "kind: Application\nmetadata:\n  name: from-yaml\nspec:\n  description: v2\n";
    assert_int_equal(
        api_upload(f, "PUT", "/api/v3/application/yaml/from-yaml", tok, "application", upd, &a),
        204);
    assert_int_equal(api_call(f, "GET", "/api/v3/application/from-yaml", tok, NULL, &a), 200);
    assert_string_equal(jstr(a, "description"), "v2");
    json_decref(a);
    assert_int_equal(
        api_upload(f, "PUT", "/api/v3/application/yaml/missing", tok, "application", upd, NULL),
        404);

    long st = api_upload(f,
                         "POST",
                         "/api/v3/application/yaml",
                         tok,
                         "application",
                         "kind: Microservice\nmetadata: {name: x}\n",
                         &a);
    expect_error(st, a, 400, "ValidationError", "Invalid kind Microservice");
    st = api_upload(f, "POST", "/api/v3/application/yaml", tok, "file", yaml, &a);
    expect_error(st, a, 400, "ValidationError", "Required field 'application' is missing");
    st = api_upload(f,
                    "POST",
                    "/api/v3/application/yaml",
                    tok,
                    "application",
                    "kind: Application\nmetadata: [\n",
                    &a);
    assert_int_equal(st, 400);
    assert_non_null(strstr(jstr(a, "message"), "line "));
    json_decref(a);
    st = api_upload(f,
                    "POST",
                    "/api/v3/application/yaml",
                    tok,
                    "application",
                    "kind: Application\nspec: {}\n",
                    &a);
    expect_error(
        st, a, 400, "ValidationError", "Invalid YAML format: missing metadata.name property");
    st = api_upload(f,
                    "POST",
                    "/api/v3/application/yaml",
                    tok,
                    "application",
                    "kind: Application\nmetadata: {name: Not_Valid}\n",
                    &a);
    expect_error(st, a, 400, "ValidationError", NULL);
    /* Not multipart at all: a JSON body is no upload. */
    st = api_call(f, "POST", "/api/v3/application/yaml", tok, "{\"name\":\"x\"}", &a);
    expect_error(st, a, 400, "ValidationError", NULL);
}

static void test_yaml_mapping(void **state) {
    (void)state;
    FILE *fp = fopen("yaml/fuzz-corpus/yaml/application.yaml", "rb");
    assert_non_null(fp);
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    json_t *doc = NULL, *body = NULL;
    struct iof_diag d = {{0}};
    assert_int_equal(iof_yaml_to_json(buf, n, 32, &doc, &d), IOF_OK);
    assert_int_equal(ctl_yaml_application_body(doc, &body, &d), IOF_OK);
    json_decref(doc);
    assert_string_equal(jstr(body, "name"), "temp-demo");
    assert_true(json_is_true(json_object_get(body, "isActivated")));
    json_t *ms = json_object_get(body, "microservices");
    assert_int_equal(json_array_size(ms), 2);
    json_t *sensor = json_array_get(ms, 0);
    assert_string_equal(jstr(sensor, "name"), "sensor");
    assert_string_equal(jstr(sensor, "agentName"), "edge-1");
    assert_string_equal(jstr(sensor, "application"), "temp-demo");
    assert_int_equal(json_integer_value(json_object_get(sensor, "registryId")), 1);
    json_t *images = json_object_get(sensor, "images");
    assert_int_equal(json_array_size(images), 2);
    assert_string_equal(jstr(json_array_get(images, 1), "containerImage"),
                        "iofog/temperature-sensor-simulator-arm");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(images, 1), "fogTypeId")),
                     2);
    json_t *cfg = json_loads(jstr(sensor, "config"), 0, NULL);
    assert_non_null(cfg);
    assert_int_equal(json_integer_value(json_object_get(cfg, "frequency")), 2000);
    json_decref(cfg);
    assert_string_equal(jstr(json_array_get(json_object_get(sensor, "env"), 0), "key"),
                        "LOG_LEVEL");
    assert_true(json_is_false(json_object_get(sensor, "rootHostAccess")));
    json_t *viewer = json_array_get(ms, 1);
    assert_int_equal(json_integer_value(json_object_get(viewer, "catalogItemId")), 7);
    assert_int_equal(json_integer_value(json_object_get(
                         json_array_get(json_object_get(viewer, "ports"), 0), "internal")),
                     80);
    assert_string_equal(jstr(json_array_get(json_object_get(body, "routes"), 0), "to"), "viewer");
    json_decref(body);

    /* registry local = 2, numeric strings are ids, volumes/commands are renamed, env values
     * become text. */
    const char *m = "name: m\nimages: {x86: img, registry: local}\ncontainer:\n  volumes:\n"
                    "    - {hostDestination: /a, containerDestination: /b, accessMode: ro}\n"
                    "  commands: [--verbose]\n  env: [{key: N, value: 5}]\n";
    json_t *spec = NULL, *mb = NULL;
    assert_int_equal(iof_yaml_to_json(m, strlen(m), 32, &spec, &d), IOF_OK);
    assert_int_equal(ctl_yaml_microservice_body(spec, NULL, &mb, &d), IOF_OK);
    assert_int_equal(json_integer_value(json_object_get(mb, "registryId")), 2);
    assert_string_equal(
        jstr(json_array_get(json_object_get(mb, "volumeMappings"), 0), "accessMode"), "ro");
    assert_string_equal(json_string_value(json_array_get(json_object_get(mb, "cmd"), 0)),
                        "--verbose");
    assert_string_equal(jstr(json_array_get(json_object_get(mb, "env"), 0), "value"), "5");
    assert_null(json_object_get(mb, "application"));
    json_decref(mb);
    json_decref(spec);
    json_t *one = json_integer(1);
    assert_int_equal(ctl_yaml_microservice_body(one, NULL, &mb, &d), IOF_EINVAL);
    json_decref(one);
}

/* A PUT body of application "pend" with microservices <prefix>0..<prefix>9 on edge-run. */
static char *pend_body(char prefix) {
    size_t cap = 4096;
    char *s = malloc(cap);
    assert_non_null(s);
    size_t n = (size_t)snprintf(s, cap, "{\"microservices\":[");
    for (int i = 0; i < 10; i++) {
        n += (size_t)snprintf(s + n,
                              cap - n,
                              "%s{\"name\":\"%c%d\",\"agentName\":\"edge-run\","
                              "\"images\":[{\"containerImage\":\"demo/m\",\"fogTypeId\":1}]}",
                              i > 0 ? "," : "",
                              prefix,
                              i);
    }
    (void)snprintf(s + n, cap - n, "],\"routes\":[]}");
    return s;
}

/* The names of the application's microservices, sorted and joined with ' '. */
static void pend_names(struct api_fixture *f, const char *tok, char *out, size_t len) {
    json_t *a = NULL;
    assert_int_equal(api_call(f, "GET", "/api/v3/application/pend", tok, NULL, &a), 200);
    json_t *ms = json_object_get(a, "microservices");
    const char *names[64];
    size_t n = 0;
    size_t i;
    json_t *m;
    json_array_foreach(ms, i, m) {
        if (n < 64) {
            names[n++] = jstr(m, "name");
        }
    }
    qsort(names, n, sizeof names[0], cmp_names);
    out[0] = '\0';
    for (i = 0; i < n; i++) {
        size_t l = strlen(out);
        (void)snprintf(out + l, len - l, "%s%s", i > 0 ? " " : "", names[i]);
    }
    json_decref(a);
}

/* With the node RUNNING, deletions wait for the agent: PUT a0-a9, then b0-b9 (a* pending), then
 * a0-a9 again takes the pending ones back (same uuids) instead of failing, and GET never lists a
 * pending deletion as a live microservice. */
static void test_put_while_deletions_pending(void **state) {
    struct api_fixture *f = *state;
    char tok[65];
    assert_int_equal(api_user(f, "pend@example.com", tok), 0);
    const struct ctl_db_value p[] = {CTL_DB_TEXT(FOG_C)};
    assert_int_equal(api_sql(f,
                             "INSERT INTO fogs (uuid, name, user_id, fog_type_id, daemon_status,"
                             " last_active) VALUES (?, 'edge-run', 1, 1, 'RUNNING', 4102444800000)",
                             p,
                             1),
                     0);
    assert_int_equal(api_call(f,
                              "POST",
                              "/api/v3/application",
                              tok,
                              "{\"name\":\"pend\",\"isActivated\":true}",
                              NULL),
                     201);
    char *a_body = pend_body('a'), *b_body = pend_body('b');
    char names[512], a0[64];
    assert_int_equal(api_call(f, "PUT", "/api/v3/application/pend", tok, a_body, NULL), 204);
    api_sql_text(f, "SELECT uuid FROM microservices WHERE name = 'a0'", a0, sizeof a0);
    assert_int_equal(strlen(a0), 32);

    assert_int_equal(api_call(f, "PUT", "/api/v3/application/pend", tok, b_body, NULL), 204);
    assert_int_equal(
        api_count(
            f, "SELECT count(*) AS n FROM microservices WHERE marked_for_delete = 1", NULL, 0),
        10);
    pend_names(f, tok, names, sizeof names);
    assert_string_equal(names, "b0 b1 b2 b3 b4 b5 b6 b7 b8 b9");

    json_t *a = NULL;
    long st = api_call(f, "PUT", "/api/v3/application/pend", tok, a_body, &a);
    if (st != 204) {
        fail_msg("third PUT: %ld %s", st, a != NULL ? jstr(a, "message") : "");
    }
    json_decref(a);
    pend_names(f, tok, names, sizeof names);
    assert_string_equal(names, "a0 a1 a2 a3 a4 a5 a6 a7 a8 a9");
    char again[64];
    api_sql_text(f, "SELECT uuid FROM microservices WHERE name = 'a0'", again, sizeof again);
    assert_string_equal(again, a0); /* taken back, not a second row */
    assert_int_equal(
        api_count(
            f, "SELECT count(*) AS n FROM microservices WHERE marked_for_delete = 0", NULL, 0),
        10);
    free(a_body);
    free(b_body);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_list_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_validation_and_duplicates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ownership, setup, teardown),
        cmocka_unit_test_setup_teardown(test_children_flags_and_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deploy_and_reconcile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_while_deletions_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_yaml_upload, setup, teardown),
        cmocka_unit_test(test_yaml_mapping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
