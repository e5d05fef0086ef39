/* Tenant boundaries of the REST API (docs/security.md): Controller-wide settings belong to the
 * administrator, logout revokes the presented token only, and another user's registry
 * credentials never reach a node. Against a real server on loopback. */
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

/* The first user administers the Controller; a later user gets 403 on /config and /router and
 * changes nothing; the local admin credential may. */
static void test_controller_settings_need_administrator(void **state) {
    struct api_fixture *f = *state;
    char first[65], second[65];
    assert_int_equal(api_user(f, "owner@example.com", first), 0);
    assert_int_equal(api_user(f, "tenant@example.com", second), 0);

    json_t *a = NULL;
    assert_int_equal(
        api_call(f, "PUT", "/api/v3/config", second, "{\"key\":\"k1\",\"value\":\"evil\"}", &a),
        403);
    assert_string_equal(jstr(a, "name"), "ForbiddenError");
    json_decref(a);
    assert_int_equal(api_call(f, "GET", "/api/v3/config/k1", first, NULL, NULL), 404);
    assert_int_equal(
        api_call(f, "PUT", "/api/v3/config", first, "{\"key\":\"k1\",\"value\":\"v\"}", NULL), 200);
    assert_int_equal(
        api_call(f, "PUT", "/api/v3/config", f->admin, "{\"key\":\"k2\",\"value\":\"w\"}", NULL),
        200);
    assert_int_equal(api_call(f, "GET", "/api/v3/config/k1", second, NULL, &a), 200);
    assert_string_equal(jstr(a, "value"), "v");
    json_decref(a);

    assert_int_equal(api_call(f,
                              "PUT",
                              "/api/v3/router",
                              f->admin,
                              "{\"host\":\"r2.example\",\"messagingPort\":2}",
                              NULL),
                     200);
    assert_int_equal(api_call(f,
                              "PUT",
                              "/api/v3/router",
                              first,
                              "{\"host\":\"r.example\",\"messagingPort\":1}",
                              NULL),
                     200);
    const char *router = "{\"host\":\"evil.example\",\"messagingPort\":5672}";
    assert_int_equal(api_call(f, "PUT", "/api/v3/router", second, router, NULL), 403);
    assert_int_equal(api_call(f, "GET", "/api/v3/router", second, NULL, &a), 200);
    assert_string_equal(jstr(a, "host"), "r.example");
    json_decref(a);
}

/* Two sessions of one user: logging out of one leaves the other signed in. */
static void test_logout_revokes_presented_token_only(void **state) {
    struct api_fixture *f = *state;
    char t1[65], t2[65];
    assert_int_equal(api_user(f, "two@example.com", t1), 0);
    json_t *a = NULL;
    assert_int_equal(api_call(f,
                              "POST",
                              "/api/v3/user/login",
                              NULL,
                              "{\"email\":\"two@example.com\",\"password\":\"password1\"}",
                              &a),
                     200);
    (void)snprintf(t2, sizeof t2, "%s", jstr(a, "accessToken"));
    json_decref(a);
    assert_string_not_equal(t1, t2);
    assert_int_equal(api_call(f, "POST", "/api/v3/user/logout", t1, NULL, NULL), 204);
    assert_int_equal(api_call(f, "GET", "/api/v3/user/profile", t1, NULL, NULL), 401);
    assert_int_equal(api_call(f, "GET", "/api/v3/user/profile", t2, NULL, NULL), 200);
    /* The admin credential logs nobody out. */
    assert_int_equal(api_call(f, "POST", "/api/v3/user/logout", f->admin, NULL, NULL), 204);
    assert_int_equal(api_call(f, "GET", "/api/v3/user/profile", t2, NULL, NULL), 200);
}

/* A provisioned node of the user with token `user`; its agent token into agent[]. */
static void node_of(struct api_fixture *f, const char *user, const char *name, char agent[128]) {
    json_t *a = NULL;
    char body[160];
    (void)snprintf(body, sizeof body, "{\"name\":\"%s\",\"fogType\":1}", name);
    assert_int_equal(api_call(f, "POST", "/api/v3/iofog", user, body, &a), 201);
    char uuid[64];
    (void)snprintf(uuid, sizeof uuid, "%s", jstr(a, "uuid"));
    json_decref(a);
    assert_int_equal(api_callf(f, "GET", user, NULL, &a, "/api/v3/iofog/%s/provisioning-key", uuid),
                     201);
    (void)snprintf(body, sizeof body, "{\"key\":\"%s\",\"type\":1}", jstr(a, "key"));
    json_decref(a);
    assert_int_equal(api_call(f, "POST", "/api/v3/agent/provision", NULL, body, &a), 200);
    (void)snprintf(agent, 128, "%s", jstr(a, "token"));
    json_decref(a);
}

/* The registry of url in the agent answer, or NULL. */
static json_t *registry_at(json_t *ans, const char *url) {
    json_t *regs = json_object_get(ans, "registries");
    for (size_t i = 0; i < json_array_size(regs); i++) {
        if (strcmp(jstr(json_array_get(regs, i), "url"), url) == 0) {
            return json_array_get(regs, i);
        }
    }
    return NULL;
}

/* User A's public registry with a password: A's node gets the credentials, B's node sees the
 * registry without them. */
static void test_public_registry_credentials_stay_with_owner(void **state) {
    struct api_fixture *f = *state;
    char ta[65], tb[65], agent_a[128], agent_b[128];
    assert_int_equal(api_user(f, "ann@example.com", ta), 0);
    assert_int_equal(api_user(f, "bob@example.com", tb), 0);
    node_of(f, ta, "node-a", agent_a);
    node_of(f, tb, "node-b", agent_b);
    assert_int_equal(api_call(f,
                              "POST",
                              "/api/v3/registries",
                              ta,
                              "{\"url\":\"ann.io\",\"isPublic\":true,\"username\":\"ann\","
                              "\"password\":\"s3cret\",\"email\":\"ann@example.com\"}",
                              NULL),
                     201);

    json_t *ans = NULL;
    assert_int_equal(api_call(f, "GET", "/api/v3/agent/registries", agent_a, NULL, &ans), 200);
    json_t *r = registry_at(ans, "ann.io");
    assert_non_null(r);
    assert_string_equal(jstr(r, "password"), "s3cret");
    assert_string_equal(jstr(r, "username"), "ann");
    json_decref(ans);

    assert_int_equal(api_call(f, "GET", "/api/v3/agent/registries", agent_b, NULL, &ans), 200);
    r = registry_at(ans, "ann.io");
    assert_non_null(r);
    assert_true(json_is_true(json_object_get(r, "isPublic")));
    assert_string_equal(jstr(r, "password"), "");
    assert_string_equal(jstr(r, "username"), "");
    char *text = json_dumps(ans, 0);
    assert_non_null(text);
    assert_null(strstr(text, "s3cret"));
    free(text);
    /* The system registries are still there. */
    assert_non_null(registry_at(ans, "from_cache"));
    json_decref(ans);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_controller_settings_need_administrator, setup, teardown),
        cmocka_unit_test_setup_teardown(test_logout_revokes_presented_token_only, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_public_registry_credentials_stay_with_owner, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
