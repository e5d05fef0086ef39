/* REST tests of /api/v3/routes and the legacy /microservices/:uuid/routes/:receiverUuid routes,
 * and of the route functions the application service calls (controller/msvc.h). */
#include "controller/api/msvc_testutil.h"

#include "controller/domain/msvc.h"

#define IMG "\"images\":[{\"containerImage\":\"x\",\"fogTypeId\":1}]"

struct three {
    char a[33], b[33], c[33];
};

/* a (fog-x86) and b (fog-x86b) in app1, c in app2. */
static void make_three(struct msvc_fx *x, struct three *t) {
    fx_create(x->f,
              x->t1,
              "{\"name\":\"a\",\"application\":\"app1\",\"iofogUuid\":\"fog-x86\"," IMG "}",
              t->a);
    fx_create(x->f,
              x->t1,
              "{\"name\":\"b\",\"application\":\"app1\",\"iofogUuid\":\"fog-x86b\"," IMG "}",
              t->b);
    fx_create(x->f,
              x->t1,
              "{\"name\":\"c\",\"application\":\"app2\",\"iofogUuid\":\"fog-x86\"," IMG "}",
              t->c);
    fx_ack_all(x->f);
}

static void test_route_create_get_delete(void **state) {
    struct msvc_fx *x = *state;
    struct api_fixture *f = x->f;
    struct three t;
    make_three(x, &t);
    json_t *r = NULL;
    assert_int_equal(api_call(f,
                              "POST",
                              "/api/v3/routes",
                              x->t1,
                              "{\"name\":\"ab\",\"application\":\"app1\",\"from\":\"a\",\"to\":"
                              "\"b\"}",
                              &r),
                     200);
    assert_string_equal(jstr(r, "name"), "ab");
    assert_string_equal(jstr(r, "application"), "app1");
    assert_string_equal(jstr(r, "from"), "a");
    assert_string_equal(jstr(r, "to"), "b");
    assert_string_equal(jstr(r, "sourceMicroserviceUuid"), t.a);
    assert_string_equal(jstr(r, "destMicroserviceUuid"), t.b);
    json_decref(r);
    uint32_t want = CTL_FLAG_ROUTING | CTL_FLAG_MICROSERVICE_LIST | CTL_FLAG_MICROSERVICE_CONFIG;
    assert_int_equal(fx_flags(f, "fog-x86"), want);
    assert_int_equal(fx_flags(f, "fog-x86b"), want);
    /* The source's GET shape lists the destination. */
    assert_int_equal(api_callf(f, "GET", x->t1, NULL, &r, "/api/v3/microservices/%s", t.a), 200);
    assert_string_equal(json_string_value(json_array_get(json_object_get(r, "routes"), 0)), t.b);
    json_decref(r);

    /* The same pair again, under another name: 409. */
    assert_int_equal(api_call(f,
                              "POST",
                              "/api/v3/routes",
                              x->t1,
                              "{\"name\":\"ab2\",\"application\":\"app1\",\"from\":\"a\",\"to\":"
                              "\"b\"}",
                              &r),
                     409);
    assert_string_equal(jstr(r, "name"), "DuplicatePropertyError");
    json_decref(r);
    /* Across applications (legacy uuid form): refused. */
    char body[256];
    (void)snprintf(body,
                   sizeof body,
                   "{\"name\":\"ac\",\"sourceMicroserviceUuid\":\"%s\",\"destMicroserviceUuid\":"
                   "\"%s\"}",
                   t.a,
                   t.c);
    assert_int_equal(api_call(f, "POST", "/api/v3/routes", x->t1, body, &r), 400);
    assert_string_equal(jstr(r, "message"), "microservices on different applications");
    json_decref(r);
    /* Unknown microservice name, missing name. */
    assert_int_equal(api_call(f,
                              "POST",
                              "/api/v3/routes",
                              x->t1,
                              "{\"name\":\"ax\",\"application\":\"app1\",\"from\":\"a\",\"to\":"
                              "\"zz\"}",
                              &r),
                     404);
    json_decref(r);
    assert_int_equal(api_call(f,
                              "POST",
                              "/api/v3/routes",
                              x->t1,
                              "{\"application\":\"app1\",\"from\":\"a\",\"to\":\"b\"}",
                              &r),
                     400);
    assert_string_equal(jstr(r, "message"), "Required field 'name' is missing");
    json_decref(r);

    assert_int_equal(api_call(f, "GET", "/api/v3/routes", x->t1, NULL, &r), 200);
    assert_int_equal(json_array_size(json_object_get(r, "routes")), 1);
    json_decref(r);
    assert_int_equal(api_call(f, "GET", "/api/v3/routes/app1/ab", x->t1, NULL, &r), 200);
    assert_string_equal(jstr(r, "to"), "b");
    json_decref(r);

    /* Rename and redirect: b -> a becomes the route "ba". */
    fx_ack_all(f);
    assert_int_equal(api_call(f,
                              "PATCH",
                              "/api/v3/routes/app1/ab",
                              x->t1,
                              "{\"name\":\"ba\",\"from\":\"b\",\"to\":\"a\"}",
                              NULL),
                     204);
    assert_true(fx_flags(f, "fog-x86") & CTL_FLAG_ROUTING);
    assert_int_equal(api_call(f, "GET", "/api/v3/routes/app1/ab", x->t1, NULL, NULL), 404);
    assert_int_equal(api_call(f, "GET", "/api/v3/routes/app1/ba", x->t1, NULL, &r), 200);
    assert_string_equal(jstr(r, "sourceMicroserviceUuid"), t.b);
    json_decref(r);

    fx_ack_all(f);
    assert_int_equal(api_call(f, "DELETE", "/api/v3/routes/app1/ba", x->t1, NULL, NULL), 204);
    assert_int_equal(fx_flags(f, "fog-x86"), want);
    assert_int_equal(fx_flags(f, "fog-x86b"), want);
    assert_int_equal(api_call(f, "DELETE", "/api/v3/routes/app1/ba", x->t1, NULL, NULL), 404);
    assert_int_equal(api_call(f, "GET", "/api/v3/routes", x->t1, NULL, &r), 200);
    assert_int_equal(json_array_size(json_object_get(r, "routes")), 0);
    json_decref(r);
}

static void test_legacy_routes_and_ownership(void **state) {
    struct msvc_fx *x = *state;
    struct api_fixture *f = x->f;
    struct three t;
    make_three(x, &t);
    json_t *r = NULL;
    assert_int_equal(
        api_callf(f, "POST", x->t1, NULL, NULL, "/api/v3/microservices/%s/routes/%s", t.a, t.b),
        201);
    assert_int_equal(api_call(f, "GET", "/api/v3/routes/app1/r-a-b", x->t1, NULL, &r), 200);
    json_decref(r);
    assert_int_equal(
        api_callf(f, "POST", x->t1, NULL, NULL, "/api/v3/microservices/%s/routes/%s", t.a, t.c),
        400);
    /* Another user sees none of it. */
    assert_int_equal(api_call(f, "GET", "/api/v3/routes", x->t2, NULL, &r), 200);
    assert_int_equal(json_array_size(json_object_get(r, "routes")), 0);
    json_decref(r);
    assert_int_equal(api_call(f, "GET", "/api/v3/routes/app1/r-a-b", x->t2, NULL, NULL), 404);
    assert_int_equal(api_call(f, "DELETE", "/api/v3/routes/app1/r-a-b", x->t2, NULL, NULL), 404);
    assert_int_equal(
        api_callf(f, "DELETE", x->t2, NULL, NULL, "/api/v3/microservices/%s/routes/%s", t.a, t.b),
        404);
    fx_ack_all(f);
    assert_int_equal(
        api_callf(f, "DELETE", x->t1, NULL, NULL, "/api/v3/microservices/%s/routes/%s", t.a, t.b),
        204);
    assert_true(fx_flags(f, "fog-x86b") & CTL_FLAG_ROUTING);
    assert_int_equal(
        api_callf(f, "DELETE", x->t1, NULL, NULL, "/api/v3/microservices/%s/routes/%s", t.a, t.b),
        404);
}

static void test_routes_go_with_deleted_microservice(void **state) {
    struct msvc_fx *x = *state;
    struct api_fixture *f = x->f;
    struct three t;
    make_three(x, &t);
    assert_int_equal(
        api_callf(f, "POST", x->t1, NULL, NULL, "/api/v3/microservices/%s/routes/%s", t.a, t.b),
        201);
    fx_ack_all(f);
    assert_int_equal(api_callf(f, "DELETE", x->t1, NULL, NULL, "/api/v3/microservices/%s", t.b),
                     204);
    assert_true(fx_flags(f, "fog-x86") & CTL_FLAG_ROUTING); /* the other end's node */
    json_t *r = NULL;
    assert_int_equal(api_call(f, "GET", "/api/v3/routes", x->t1, NULL, &r), 200);
    assert_int_equal(json_array_size(json_object_get(r, "routes")), 0);
    json_decref(r);
}

/* The service functions join a transaction the caller holds: a rollback undoes them. */
static void test_service_in_caller_transaction(void **state) {
    struct msvc_fx *x = *state;
    struct api_fixture *f = x->f;
    struct three t;
    make_three(x, &t);
    struct iof_diag d = {{0}};
    struct ctl_call call = {.srv = f->srv, .d = &d, .user_id = 1};
    struct ctl_db *db = ctl_store_db(f->store);
    assert_int_equal(ctl_db_begin(db, &d), IOF_OK);
    assert_int_equal(ctl_route_create(&call, 1, NULL, "a", "b"), IOF_OK);
    json_t *body = json_pack(
        "{s:s, s:[{s:s, s:i}]}", "name", "d", "images", "containerImage", "y", "fogTypeId", 1);
    char uuid[33];
    assert_int_equal(ctl_msvc_create(&call, 1, body, uuid), IOF_OK);
    json_decref(body);
    assert_int_equal(ctl_db_rollback(db, &d), IOF_OK);
    char v[64];
    assert_string_equal(fx_value(f, "SELECT count(*) FROM routings", v, sizeof v), "0");
    assert_string_equal(fx_value(f, "SELECT count(*) FROM microservices", v, sizeof v), "3");
    assert_int_equal(fx_flags(f, "fog-x86"), 0);
    /* Without a transaction they commit on their own; user 2 cannot touch user 1's app. */
    assert_int_equal(ctl_route_create(&call, 1, NULL, "a", "b"), IOF_OK);
    assert_string_equal(fx_value(f, "SELECT name FROM routings", v, sizeof v), "r-a-b");
    struct ctl_call other = {.srv = f->srv, .d = &d, .user_id = 2};
    assert_int_equal(ctl_route_delete(&other, 1, "r-a-b"), IOF_ENOENT);
    assert_int_equal(ctl_route_delete(&call, 1, "r-a-b"), IOF_OK);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_route_create_get_delete, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_legacy_routes_and_ownership, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(
            test_routes_go_with_deleted_microservice, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(
            test_service_in_caller_transaction, fx_setup_inproc, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
