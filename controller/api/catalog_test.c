/* REST tests of the catalog and registry routes against a real server on loopback: seeds,
 * validation, ownership between two users, password secrecy and registry change flags. */
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

/* Runs one SQL statement on the server's database (test fixtures the other APIs would make). */
static void sql(struct api_fixture *f, const char *text, const struct ctl_db_value *p, size_t n) {
    struct iof_diag d = {{0}};
    iof_err err = ctl_db_exec(ctl_store_db(f->store), text, p, n, NULL, NULL, NULL, &d);
    if (err != IOF_OK) {
        fprintf(stderr, "sql: %s\n", d.msg);
    }
    assert_int_equal(err, IOF_OK);
}

static void add_node(struct api_fixture *f, const char *uuid, int64_t user_id) {
    const struct ctl_db_value p[] = {CTL_DB_TEXT(uuid), CTL_DB_TEXT(uuid), CTL_DB_INT(user_id)};
    sql(f, "INSERT INTO fogs (uuid, name, user_id) VALUES (?, ?, ?)", p, 3);
}

static uint32_t flags_of(struct api_fixture *f, const char *uuid) {
    uint32_t mask = 0;
    int64_t version = 0;
    struct iof_diag d = {{0}};
    assert_int_equal(ctl_store_flags_get(f->store, uuid, &mask, &version, &d), IOF_OK);
    return mask;
}

static const json_t *find_by_id(const json_t *list, json_int_t id) {
    size_t i;
    const json_t *it;
    json_array_foreach(list, i, it) {
        if (json_integer_value(json_object_get(it, "id")) == id) {
            return it;
        }
    }
    return NULL;
}

/* Asserts that every key "password" anywhere in v holds "" (the classic shape keeps the key; the
 * stored value is never returned). */
static void assert_password_blank(const json_t *v) {
    if (json_is_object(v)) {
        for (void *it = json_object_iter((json_t *)(uintptr_t)v); it != NULL;
             it = json_object_iter_next((json_t *)(uintptr_t)v, it)) {
            if (strcmp(json_object_iter_key(it), "password") == 0) {
                assert_string_equal(json_string_value(json_object_iter_value(it)), "");
            }
            assert_password_blank(json_object_iter_value(it));
        }
    } else if (json_is_array(v)) {
        size_t i;
        const json_t *x;
        json_array_foreach(v, i, x) {
            assert_password_blank(x);
        }
    }
}

static void test_catalog_seeds(void **state) {
    struct api_fixture *f = *state;
    char t[65];
    assert_int_equal(api_user(f, "ann@example.com", t), 0);
    json_t *a = NULL;
    assert_int_equal(api_call(f, "GET", "/api/v3/catalog/microservices", NULL, NULL, &a), 401);
    assert_string_equal(jstr(a, "name"), "AuthenticationError");
    json_decref(a);

    assert_int_equal(api_call(f, "GET", "/api/v3/catalog/microservices", t, NULL, &a), 200);
    const json_t *items = json_object_get(a, "catalogItems");
    assert_int_equal(json_array_size(items), 11); /* 17 seeded, 6 of them SYSTEM */
    size_t i;
    const json_t *it;
    json_array_foreach(items, i, it) {
        assert_string_not_equal(jstr(it, "category"), "SYSTEM");
        assert_null(json_object_get(it, "userId"));
    }
    const json_t *hello = find_by_id(items, 5);
    assert_non_null(hello);
    assert_string_equal(jstr(hello, "name"), "Hello Web Demo");
    assert_string_equal(jstr(hello, "publisher"), "Eclipse ioFog");
    assert_string_equal(jstr(hello, "category"), "UTILITIES");
    assert_true(json_is_true(json_object_get(hello, "isPublic")));
    assert_int_equal(json_integer_value(json_object_get(hello, "registryId")), 1);
    const json_t *imgs = json_object_get(hello, "images");
    assert_int_equal(json_array_size(imgs), 2);
    assert_string_equal(jstr(json_array_get(imgs, 0), "containerImage"), "iofog/hello-web");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(imgs, 0), "fogTypeId")), 1);
    assert_string_equal(jstr(json_array_get(imgs, 1), "containerImage"), "iofog/hello-web-arm");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(imgs, 1), "fogTypeId")), 2);
    assert_null(find_by_id(items, 1));  /* Networking Tool: SYSTEM */
    assert_null(find_by_id(items, 15)); /* Router: SYSTEM */
    json_decref(a);

    assert_int_equal(api_call(f, "GET", "/api/v3/catalog/microservices/5", t, NULL, &a), 200);
    assert_string_equal(jstr(a, "name"), "Hello Web Demo");
    assert_int_equal(json_array_size(json_object_get(a, "images")), 2);
    assert_true(json_object_get(a, "inputType") != NULL);
    assert_null(json_object_get(a, "userId"));
    json_decref(a);
    assert_int_equal(api_call(f, "GET", "/api/v3/catalog/microservices/999", t, NULL, &a), 404);
    assert_string_equal(jstr(a, "name"), "NotFoundError");
    assert_string_equal(jstr(a, "message"), "Invalid catalog item id '999'");
    json_decref(a);

    /* SYSTEM and seeded items cannot be changed or deleted by a user. */
    assert_int_equal(
        api_call(f, "PATCH", "/api/v3/catalog/microservices/3", t, "{\"name\":\"x\"}", &a), 400);
    assert_string_equal(jstr(a, "name"), "ValidationError");
    assert_non_null(strstr(jstr(a, "message"), "systemic"));
    json_decref(a);
    assert_int_equal(api_call(f, "DELETE", "/api/v3/catalog/microservices/1", t, NULL, NULL), 400);
    assert_int_equal(
        api_call(f, "PATCH", "/api/v3/catalog/microservices/5", t, "{\"name\":\"x\"}", NULL), 400);
    assert_int_equal(api_call(f, "DELETE", "/api/v3/catalog/microservices/5", t, NULL, NULL), 400);
    assert_int_equal(api_call(f, "GET", "/api/v3/catalog/microservices/5", t, NULL, &a), 200);
    assert_string_equal(jstr(a, "name"), "Hello Web Demo");
    json_decref(a);
}

static const char ITEM[] =
    "{\"name\":\"my-sensor\",\"registryId\":1,\"description\":\"reads\",\"category\":\"SENSORS\","
    "\"publisher\":\"ACME\",\"diskRequired\":5,\"ramRequired\":64,\"isPublic\":false,"
    "\"configExample\":\"{\\\"a\\\":1}\",\"picture\":\"p.png\",\"unknownField\":true,"
    "\"images\":[{\"containerImage\":\"acme/sensor\",\"fogTypeId\":1},"
    "{\"containerImage\":\"acme/sensor-arm\",\"fogTypeId\":2}],"
    "\"inputType\":{\"infoType\":\"temp\",\"infoFormat\":\"json\"},"
    "\"outputType\":{\"infoType\":\"alert\",\"infoFormat\":\"text\"}}";

static void test_catalog_crud(void **state) {
    struct api_fixture *f = *state;
    char t[65];
    assert_int_equal(api_user(f, "ann@example.com", t), 0);
    json_t *a = NULL;
    assert_int_equal(api_call(f, "POST", "/api/v3/catalog/microservices", t, ITEM, &a), 201);
    json_int_t id = json_integer_value(json_object_get(a, "id"));
    assert_true(id > 17);
    json_decref(a);

    assert_int_equal(
        api_callf(f, "GET", t, NULL, &a, "/api/v3/catalog/microservices/%lld", (long long)id), 200);
    assert_string_equal(jstr(a, "name"), "my-sensor");
    assert_string_equal(jstr(a, "description"), "reads");
    assert_string_equal(jstr(a, "category"), "SENSORS");
    assert_string_equal(jstr(a, "publisher"), "ACME");
    assert_string_equal(jstr(a, "configExample"), "{\"a\":1}");
    assert_string_equal(jstr(a, "picture"), "p.png");
    assert_int_equal(json_integer_value(json_object_get(a, "diskRequired")), 5);
    assert_int_equal(json_integer_value(json_object_get(a, "ramRequired")), 64);
    assert_true(json_is_false(json_object_get(a, "isPublic")));
    assert_null(json_object_get(a, "userId"));
    assert_null(json_object_get(a, "unknownField"));
    assert_string_equal(jstr(json_object_get(a, "inputType"), "infoType"), "temp");
    assert_string_equal(jstr(json_object_get(a, "inputType"), "infoFormat"), "json");
    assert_string_equal(jstr(json_object_get(a, "outputType"), "infoType"), "alert");
    assert_string_equal(jstr(json_object_get(a, "outputType"), "infoFormat"), "text");
    assert_string_equal(jstr(json_array_get(json_object_get(a, "images"), 1), "containerImage"),
                        "acme/sensor-arm");
    json_decref(a);

    /* Listed with the seeds. */
    assert_int_equal(api_call(f, "GET", "/api/v3/catalog/microservices", t, NULL, &a), 200);
    assert_int_equal(json_array_size(json_object_get(a, "catalogItems")), 12);
    assert_non_null(find_by_id(json_object_get(a, "catalogItems"), id));
    json_decref(a);

    /* Partial update: the arm image and the name change, the rest stays. */
    assert_int_equal(api_callf(f,
                               "PATCH",
                               t,
                               "{\"name\":\"my-sensor-2\",\"images\":[{\"containerImage\":"
                               "\"acme/sensor-arm:2\",\"fogTypeId\":2}],"
                               "\"outputType\":{\"infoFormat\":\"csv\"}}",
                               &a,
                               "/api/v3/catalog/microservices/%lld",
                               (long long)id),
                     204);
    assert_null(a);
    assert_int_equal(
        api_callf(f, "GET", t, NULL, &a, "/api/v3/catalog/microservices/%lld", (long long)id), 200);
    assert_string_equal(jstr(a, "name"), "my-sensor-2");
    assert_string_equal(jstr(a, "publisher"), "ACME");
    const json_t *imgs = json_object_get(a, "images");
    assert_string_equal(jstr(json_array_get(imgs, 0), "containerImage"), "acme/sensor");
    assert_string_equal(jstr(json_array_get(imgs, 1), "containerImage"), "acme/sensor-arm:2");
    assert_string_equal(jstr(json_object_get(a, "outputType"), "infoType"), "alert");
    assert_string_equal(jstr(json_object_get(a, "outputType"), "infoFormat"), "csv");
    json_decref(a);

    /* 409 on a duplicate name, including a seeded one; 404 on an unknown registry in PATCH. */
    assert_int_equal(api_call(f,
                              "POST",
                              "/api/v3/catalog/microservices",
                              t,
                              "{\"name\":\"my-sensor-2\",\"registryId\":1,\"images\":[{"
                              "\"containerImage\":\"a/b\",\"fogTypeId\":1}]}",
                              &a),
                     409);
    assert_string_equal(jstr(a, "name"), "DuplicatePropertyError");
    assert_string_equal(jstr(a, "message"), "Duplicate name 'my-sensor-2'");
    json_decref(a);
    assert_int_equal(api_callf(f,
                               "PATCH",
                               t,
                               "{\"name\":\"Hello Web Demo\"}",
                               &a,
                               "/api/v3/catalog/microservices/%lld",
                               (long long)id),
                     409);
    json_decref(a);
    assert_int_equal(api_callf(f,
                               "PATCH",
                               t,
                               "{\"registryId\":77}",
                               &a,
                               "/api/v3/catalog/microservices/%lld",
                               (long long)id),
                     404);
    assert_string_equal(jstr(a, "message"), "Invalid registry id '77'");
    json_decref(a);

    /* Images are frozen while a microservice of the item runs. */
    const struct ctl_db_value pa[] = {CTL_DB_INT(1)};
    sql(f, "INSERT INTO applications (id, name, user_id) VALUES (1, 'app', ?)", pa, 1);
    const struct ctl_db_value pm[] = {CTL_DB_INT(id)};
    sql(f,
        "INSERT INTO microservices (uuid, name, catalog_item_id, application_id, user_id)"
        " VALUES ('msvc1', 'm', ?, 1, 1)",
        pm,
        1);
    sql(f,
        "INSERT INTO microservice_statuses (microservice_uuid, status) VALUES ('msvc1', 'RUNNING')",
        NULL,
        0);
    assert_int_equal(api_callf(f,
                               "PATCH",
                               t,
                               "{\"images\":[{\"containerImage\":\"x/y\",\"fogTypeId\":1}]}",
                               &a,
                               "/api/v3/catalog/microservices/%lld",
                               (long long)id),
                     400);
    assert_string_equal(jstr(a, "message"),
                        "Can't update catalog item images for item used for running microservices");
    json_decref(a);
    /* ... other fields still change; and an item in use is not deleted under its microservice. */
    assert_int_equal(api_callf(f,
                               "PATCH",
                               t,
                               "{\"description\":\"new\"}",
                               NULL,
                               "/api/v3/catalog/microservices/%lld",
                               (long long)id),
                     204);
    assert_int_equal(
        api_callf(f, "DELETE", t, NULL, &a, "/api/v3/catalog/microservices/%lld", (long long)id),
        409);
    json_decref(a);
    sql(f, "DELETE FROM microservices WHERE uuid = 'msvc1'", NULL, 0);

    assert_int_equal(
        api_callf(f, "DELETE", t, NULL, NULL, "/api/v3/catalog/microservices/%lld", (long long)id),
        204);
    assert_int_equal(
        api_callf(f, "GET", t, NULL, NULL, "/api/v3/catalog/microservices/%lld", (long long)id),
        404);
    assert_int_equal(
        api_callf(f, "DELETE", t, NULL, NULL, "/api/v3/catalog/microservices/%lld", (long long)id),
        404);
    json_t *rows = NULL;
    struct iof_diag d;
    assert_int_equal(ctl_db_query_json(ctl_store_db(f->store),
                                       "SELECT count(*) AS n FROM catalog_item_images"
                                       " WHERE catalog_item_id = ?",
                                       pm,
                                       1,
                                       &rows,
                                       &d),
                     IOF_OK);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(rows, 0), "n")), 0);
    json_decref(rows);
}

static void
expect_400(struct api_fixture *f, const char *token, const char *body, const char *message) {
    json_t *a = NULL;
    assert_int_equal(api_call(f, "POST", "/api/v3/catalog/microservices", token, body, &a), 400);
    assert_string_equal(jstr(a, "name"), "ValidationError");
    if (message != NULL) {
        assert_string_equal(jstr(a, "message"), message);
    }
    json_decref(a);
}

static void test_catalog_validation(void **state) {
    struct api_fixture *f = *state;
    char t[65];
    assert_int_equal(api_user(f, "ann@example.com", t), 0);
    expect_400(f,
               t,
               "{\"registryId\":1,\"images\":[{\"containerImage\":\"a\",\"fogTypeId\":1}]}",
               "Required field 'name' is missing");
    expect_400(f,
               t,
               "{\"name\":\"n\",\"images\":[{\"containerImage\":\"a\",\"fogTypeId\":1}]}",
               "Required field 'registryId' is missing");
    expect_400(f, t, "{\"name\":\"n\",\"registryId\":1}", "Required field 'images' is missing");
    expect_400(f, t, "{\"name\":\"n\",\"registryId\":1,\"images\":[]}", NULL);
    expect_400(f,
               t,
               "{\"name\":\"n\",\"registryId\":1,\"images\":[{\"containerImage\":\"a\","
               "\"fogTypeId\":1},{\"containerImage\":\"b\",\"fogTypeId\":2},"
               "{\"containerImage\":\"c\",\"fogTypeId\":1}]}",
               NULL);
    expect_400(f,
               t,
               "{\"name\":\"n\",\"registryId\":1,\"images\":[{\"containerImage\":\"a\","
               "\"fogTypeId\":3}]}",
               NULL);
    expect_400(f,
               t,
               "{\"name\":\"n\",\"registryId\":1,\"images\":[{\"containerImage\":\"a\","
               "\"fogTypeId\":1},{\"containerImage\":\"b\",\"fogTypeId\":1}]}",
               NULL);
    expect_400(f,
               t,
               "{\"name\":\"n\",\"registryId\":1,\"images\":[{\"fogTypeId\":1}]}",
               "Required field 'containerImage' is missing");
    expect_400(f,
               t,
               "{\"name\":\"n\",\"registryId\":\"one\",\"images\":[{\"containerImage\":\"a\","
               "\"fogTypeId\":1}]}",
               "Invalid format for field 'registryId'");
    expect_400(f,
               t,
               "{\"name\":\"n\",\"registryId\":1,\"isPublic\":\"yes\",\"images\":[{"
               "\"containerImage\":\"a\",\"fogTypeId\":1}]}",
               "Invalid format for field 'isPublic'");
    expect_400(f,
               t,
               "{\"name\":\"n\",\"registryId\":1,\"publisher\":\"Eclipse ioFog\",\"images\":[{"
               "\"containerImage\":\"a\",\"fogTypeId\":1}]}",
               "You are not allowed to add catalog item as 'Eclipse ioFog' publisher");
    expect_400(f,
               t,
               "{\"name\":\"n\",\"registryId\":99,\"images\":[{\"containerImage\":\"a\","
               "\"fogTypeId\":1}]}",
               "Invalid registry id '99'");
    expect_400(f,
               t,
               "{\"name\":\"n\",\"registryId\":1,\"category\":\"SYSTEM\",\"images\":[{"
               "\"containerImage\":\"a\",\"fogTypeId\":1}]}",
               NULL);
    expect_400(f, t, "[1,2]", NULL);
    /* Nothing was created by the refused requests. */
    json_t *a = NULL;
    assert_int_equal(api_call(f, "GET", "/api/v3/catalog/microservices", t, NULL, &a), 200);
    assert_int_equal(json_array_size(json_object_get(a, "catalogItems")), 11);
    json_decref(a);
}

static void test_catalog_ownership(void **state) {
    struct api_fixture *f = *state;
    char ta[65], tb[65];
    assert_int_equal(api_user(f, "ann@example.com", ta), 0);
    assert_int_equal(api_user(f, "bob@example.com", tb), 0);
    json_t *a = NULL;
    /* A private registry of A: B cannot use it for a catalog item. */
    assert_int_equal(api_call(f,
                              "POST",
                              "/api/v3/registries",
                              ta,
                              "{\"url\":\"ann.io\",\"isPublic\":false,\"username\":\"ann\","
                              "\"password\":\"s3cret\",\"email\":\"ann@example.com\"}",
                              &a),
                     201);
    json_int_t reg = json_integer_value(json_object_get(a, "id"));
    json_decref(a);
    char body[300];
    (void)snprintf(body,
                   sizeof body,
                   "{\"name\":\"shared-name\",\"registryId\":%lld,\"images\":[{"
                   "\"containerImage\":\"a/b\",\"fogTypeId\":1}]}",
                   (long long)reg);
    assert_int_equal(api_call(f, "POST", "/api/v3/catalog/microservices", ta, body, &a), 201);
    json_int_t id = json_integer_value(json_object_get(a, "id"));
    json_decref(a);
    assert_int_equal(api_call(f, "POST", "/api/v3/catalog/microservices", tb, body, &a), 400);
    char msg[64];
    (void)snprintf(msg, sizeof msg, "Invalid registry id '%lld'", (long long)reg);
    assert_string_equal(jstr(a, "message"), msg);
    json_decref(a);

    /* B does not see A's item, cannot read, change or delete it; B may reuse its name. */
    assert_int_equal(api_call(f, "GET", "/api/v3/catalog/microservices", tb, NULL, &a), 200);
    assert_int_equal(json_array_size(json_object_get(a, "catalogItems")), 11);
    assert_null(find_by_id(json_object_get(a, "catalogItems"), id));
    json_decref(a);
    assert_int_equal(
        api_callf(f, "GET", tb, NULL, NULL, "/api/v3/catalog/microservices/%lld", (long long)id),
        404);
    assert_int_equal(api_callf(f,
                               "PATCH",
                               tb,
                               "{\"name\":\"taken\"}",
                               NULL,
                               "/api/v3/catalog/microservices/%lld",
                               (long long)id),
                     404);
    assert_int_equal(
        api_callf(f, "DELETE", tb, NULL, NULL, "/api/v3/catalog/microservices/%lld", (long long)id),
        404);
    assert_int_equal(api_call(f,
                              "POST",
                              "/api/v3/catalog/microservices",
                              tb,
                              "{\"name\":\"shared-name\",\"registryId\":1,\"images\":[{"
                              "\"containerImage\":\"a/b\",\"fogTypeId\":1}]}",
                              NULL),
                     201);
    /* A still has its item unchanged; the admin credential sees both. */
    assert_int_equal(
        api_callf(f, "GET", ta, NULL, &a, "/api/v3/catalog/microservices/%lld", (long long)id),
        200);
    assert_string_equal(jstr(a, "name"), "shared-name");
    json_decref(a);
    assert_int_equal(api_call(f, "GET", "/api/v3/catalog/microservices", f->admin, NULL, &a), 200);
    assert_int_equal(json_array_size(json_object_get(a, "catalogItems")), 13);
    json_decref(a);
}

static void test_registries(void **state) {
    struct api_fixture *f = *state;
    char ta[65], tb[65];
    assert_int_equal(api_user(f, "ann@example.com", ta), 0);
    assert_int_equal(api_user(f, "bob@example.com", tb), 0);
    add_node(f, "nodeA1", 1);
    add_node(f, "nodeA2", 1);
    add_node(f, "nodeB1", 2);
    json_t *a = NULL;

    assert_int_equal(api_call(f, "GET", "/api/v3/registries", ta, NULL, &a), 200);
    assert_int_equal(json_array_size(json_object_get(a, "registries")), 2);
    assert_string_equal(jstr(json_array_get(json_object_get(a, "registries"), 0), "url"),
                        "registry.hub.docker.com");
    assert_string_equal(jstr(json_array_get(json_object_get(a, "registries"), 1), "url"),
                        "from_cache");
    json_decref(a);

    /* Validation. */
    assert_int_equal(api_call(f,
                              "POST",
                              "/api/v3/registries",
                              ta,
                              "{\"isPublic\":false,\"username\":\"u\",\"password\":\"p\","
                              "\"email\":\"e@x.io\"}",
                              &a),
                     400);
    assert_string_equal(jstr(a, "message"), "Required field 'url' is missing");
    json_decref(a);
    assert_int_equal(api_call(f,
                              "POST",
                              "/api/v3/registries",
                              ta,
                              "{\"url\":\"r.io\",\"isPublic\":false,\"username\":\"u\","
                              "\"password\":\"p\",\"email\":\"e@x.io\",\"requiresCert\":true}",
                              &a),
                     400);
    assert_string_equal(
        jstr(a, "message"),
        "Property \"certificate\" is required if property \"requiresCert\" is set to true");
    json_decref(a);
    assert_int_equal(flags_of(f, "nodeA1"), 0);

    /* A creates a private registry: the registries flag goes up on A's nodes only. */
    assert_int_equal(api_call(f,
                              "POST",
                              "/api/v3/registries",
                              ta,
                              "{\"url\":\"ann.io\",\"isPublic\":false,\"username\":\"ann\","
                              "\"password\":\"s3cret-A\",\"email\":\"ann@example.com\","
                              "\"requiresCert\":true,\"certificate\":\"CERT\"}",
                              &a),
                     201);
    json_int_t ra = json_integer_value(json_object_get(a, "id"));
    assert_int_equal(ra, 3);
    json_decref(a);
    assert_int_equal(flags_of(f, "nodeA1"), CTL_FLAG_REGISTRIES);
    assert_int_equal(flags_of(f, "nodeA2"), CTL_FLAG_REGISTRIES);
    assert_int_equal(flags_of(f, "nodeB1"), 0);

    /* B publishes one: A sees it, without password. */
    assert_int_equal(api_call(f,
                              "POST",
                              "/api/v3/registries",
                              tb,
                              "{\"url\":\"bob.io\",\"isPublic\":true,\"username\":\"bob\","
                              "\"password\":\"s3cret-B\",\"email\":\"bob@example.com\"}",
                              &a),
                     201);
    json_int_t rb = json_integer_value(json_object_get(a, "id"));
    json_decref(a);
    assert_int_equal(flags_of(f, "nodeB1"), CTL_FLAG_REGISTRIES);

    assert_int_equal(api_call(f, "GET", "/api/v3/registries", ta, NULL, &a), 200);
    const json_t *regs = json_object_get(a, "registries");
    assert_int_equal(json_array_size(regs), 4);
    const json_t *mine = find_by_id(regs, ra);
    assert_string_equal(jstr(mine, "url"), "ann.io");
    assert_string_equal(jstr(mine, "username"), "ann");
    assert_string_equal(jstr(mine, "userEmail"), "ann@example.com");
    assert_string_equal(jstr(mine, "certificate"), "CERT");
    assert_true(json_is_true(json_object_get(mine, "requiresCert")));
    assert_true(json_is_false(json_object_get(mine, "isPublic")));
    assert_non_null(find_by_id(regs, rb));
    assert_true(json_is_string(json_object_get(mine, "password"))); /* the key is kept, blank */
    assert_password_blank(a);
    char *text = json_dumps(a, 0);
    assert_null(strstr(text, "s3cret"));
    free(text);
    json_decref(a);
    /* B does not see A's private registry, and cannot change or delete it. */
    assert_int_equal(api_call(f, "GET", "/api/v3/registries", tb, NULL, &a), 200);
    assert_int_equal(json_array_size(json_object_get(a, "registries")), 3);
    assert_null(find_by_id(json_object_get(a, "registries"), ra));
    assert_password_blank(a);
    json_decref(a);
    assert_int_equal(api_callf(f,
                               "PATCH",
                               tb,
                               "{\"url\":\"evil.io\"}",
                               NULL,
                               "/api/v3/registries/%lld",
                               (long long)ra),
                     404);
    assert_int_equal(
        api_callf(f, "DELETE", tb, NULL, NULL, "/api/v3/registries/%lld", (long long)ra), 404);
    /* Nor can anyone change the system registries. */
    assert_int_equal(api_call(f, "PATCH", "/api/v3/registries/1", ta, "{\"url\":\"x.io\"}", &a),
                     400);
    assert_string_equal(jstr(a, "name"), "ValidationError");
    json_decref(a);
    assert_int_equal(api_call(f, "DELETE", "/api/v3/registries/2", ta, NULL, NULL), 400);

    /* A's update: flags again on A's nodes (after an acknowledgement), not on B's. */
    struct iof_diag d;
    assert_int_equal(ctl_store_flags_ack(f->store, "nodeA1", 100, &d), IOF_OK);
    assert_int_equal(ctl_store_flags_ack(f->store, "nodeB1", 100, &d), IOF_OK);
    assert_int_equal(flags_of(f, "nodeA1"), 0);
    assert_int_equal(api_callf(f,
                               "PATCH",
                               ta,
                               "{\"password\":\"new-pass\",\"requiresCert\":false}",
                               NULL,
                               "/api/v3/registries/%lld",
                               (long long)ra),
                     204);
    assert_int_equal(flags_of(f, "nodeA1"), CTL_FLAG_REGISTRIES);
    assert_int_equal(flags_of(f, "nodeB1"), 0);
    json_t *rows = NULL;
    const struct ctl_db_value p[] = {CTL_DB_INT(ra)};
    assert_int_equal(ctl_db_query_json(ctl_store_db(f->store),
                                       "SELECT password, url, requires_cert AS rc FROM registries"
                                       " WHERE id = ?",
                                       p,
                                       1,
                                       &rows,
                                       &d),
                     IOF_OK);
    assert_string_equal(jstr(json_array_get(rows, 0), "password"), "new-pass");
    assert_string_equal(jstr(json_array_get(rows, 0), "url"), "ann.io");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(rows, 0), "rc")), 0);
    json_decref(rows);
    assert_int_equal(api_callf(f,
                               "PATCH",
                               ta,
                               "{\"requiresCert\":true,\"certificate\":\"\"}",
                               NULL,
                               "/api/v3/registries/%lld",
                               (long long)ra),
                     400);

    /* A registry in use by a catalog item is not deleted. */
    char body[300];
    (void)snprintf(body,
                   sizeof body,
                   "{\"name\":\"uses-reg\",\"registryId\":%lld,\"images\":[{"
                   "\"containerImage\":\"a/b\",\"fogTypeId\":1}]}",
                   (long long)ra);
    assert_int_equal(api_call(f, "POST", "/api/v3/catalog/microservices", ta, body, &a), 201);
    json_int_t item = json_integer_value(json_object_get(a, "id"));
    json_decref(a);
    assert_int_equal(api_callf(f, "DELETE", ta, NULL, &a, "/api/v3/registries/%lld", (long long)ra),
                     409);
    assert_non_null(strstr(jstr(a, "message"), "still used by 1 catalog item"));
    json_decref(a);
    assert_int_equal(
        api_callf(
            f, "DELETE", ta, NULL, NULL, "/api/v3/catalog/microservices/%lld", (long long)item),
        204);
    assert_int_equal(ctl_store_flags_ack(f->store, "nodeA1", 100, &d), IOF_OK);
    assert_int_equal(
        api_callf(f, "DELETE", ta, NULL, NULL, "/api/v3/registries/%lld", (long long)ra), 204);
    assert_int_equal(flags_of(f, "nodeA1"), CTL_FLAG_REGISTRIES);
    assert_int_equal(flags_of(f, "nodeB1"), 0);
    assert_int_equal(
        api_callf(f, "DELETE", ta, NULL, NULL, "/api/v3/registries/%lld", (long long)ra), 404);
    assert_int_equal(api_call(f, "GET", "/api/v3/registries", ta, NULL, &a), 200);
    assert_int_equal(json_array_size(json_object_get(a, "registries")), 3);
    json_decref(a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_catalog_seeds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_catalog_crud, setup, teardown),
        cmocka_unit_test_setup_teardown(test_catalog_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_catalog_ownership, setup, teardown),
        cmocka_unit_test_setup_teardown(test_registries, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
