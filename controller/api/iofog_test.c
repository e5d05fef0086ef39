/* REST tests of the node routes (/api/v3/iofog-list, /api/v3/iofog/...) and the tunnel routes
 * against a real server on loopback, plus the iofog/tunnel CLI against that server. */
#include "controller/api/api_testutil.h"
#include "controller/store/store.h"

#include "common/clock.h"
#include "common/random.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

static int setup(void **state) {
    *state = api_start();
    return *state != NULL ? 0 : -1;
}

static int teardown(void **state) {
    api_stop(*state);
    return 0;
}

/* POSTs body as token and copies the new node's uuid into uuid[33]; asserts 201. */
static void create(struct api_fixture *f, const char *token, const char *body, char uuid[33]) {
    json_t *a = NULL;
    long st = api_call(f, "POST", "/api/v3/iofog", token, body, &a);
    if (st != 201) {
        fprintf(stderr, "create %s -> %ld %s\n", body, st, jstr(a, "message"));
    }
    assert_int_equal(st, 201);
    assert_int_equal(strlen(jstr(a, "uuid")), 32);
    memcpy(uuid, jstr(a, "uuid"), 33);
    json_decref(a);
}

/* Asserts status and {"name","message"} of an error answer. */
static void expect_error(struct api_fixture *f,
                         const char *method,
                         const char *path,
                         const char *token,
                         const char *body,
                         long status,
                         const char *name,
                         const char *message) {
    json_t *a = NULL;
    long st = api_call(f, method, path, token, body, &a);
    if (st != status) {
        fprintf(
            stderr, "%s %s %s -> %ld %s\n", method, path, body ? body : "", st, jstr(a, "message"));
    }
    assert_int_equal(st, status);
    assert_string_equal(jstr(a, "name"), name);
    if (message != NULL) {
        assert_string_equal(jstr(a, "message"), message);
    }
    json_decref(a);
}

static uint32_t flags_of(struct api_fixture *f, const char *uuid) {
    uint32_t mask = 0;
    int64_t version = 0;
    struct iof_diag d;
    assert_int_equal(ctl_store_flags_get(f->store, uuid, &mask, &version, &d), IOF_OK);
    return mask;
}

/* Acknowledges every flag raised so far, as an agent would. */
static void ack_all(struct api_fixture *f, const char *uuid) {
    uint32_t mask = 0;
    int64_t version = 0;
    struct iof_diag d;
    assert_int_equal(ctl_store_flags_get(f->store, uuid, &mask, &version, &d), IOF_OK);
    assert_int_equal(ctl_store_flags_ack(f->store, uuid, version, &d), IOF_OK);
    assert_int_equal(flags_of(f, uuid), 0);
}

static json_t *query(struct api_fixture *f, const char *sql, const char *param) {
    json_t *rows = NULL;
    struct iof_diag d;
    const struct ctl_db_value p[] = {CTL_DB_TEXT(param)};
    assert_int_equal(
        ctl_db_query_json(ctl_store_db(f->store), sql, p, param != NULL ? 1 : 0, &rows, &d),
        IOF_OK);
    return rows;
}

static void sql_exec(struct api_fixture *f, const char *sql, const char *param) {
    struct iof_diag d;
    const struct ctl_db_value p[] = {CTL_DB_TEXT(param)};
    assert_int_equal(ctl_db_exec(ctl_store_db(f->store), sql, p, 1, NULL, NULL, NULL, &d), IOF_OK);
}

static void test_create_and_get_defaults(void **state) {
    struct api_fixture *f = *state;
    char t[65], uuid[33], uuid2[33];
    assert_int_equal(api_user(f, "ann@example.com", t), 0);
    create(f, t, "{\"name\":\"node-a\",\"fogType\":1}", uuid);
    /* A new node is told to fetch its (empty) microservice list. */
    assert_int_equal(flags_of(f, uuid), CTL_FLAG_MICROSERVICE_LIST | CTL_FLAG_MICROSERVICE_CONFIG);

    json_t *a = NULL;
    assert_int_equal(api_callf(f, "GET", t, NULL, &a, "/api/v3/iofog/%s", uuid), 200);
    assert_string_equal(jstr(a, "uuid"), uuid);
    assert_string_equal(jstr(a, "name"), "node-a");
    assert_int_equal(json_integer_value(json_object_get(a, "fogTypeId")), 1);
    assert_true(json_is_false(json_object_get(a, "isSystem")));
    assert_string_equal(jstr(a, "daemonStatus"), "UNKNOWN");
    assert_string_equal(jstr(a, "ipAddress"), "0.0.0.0");
    assert_string_equal(jstr(a, "ipAddressExternal"), "0.0.0.0");
    assert_string_equal(jstr(a, "securityStatus"), "OK");
    assert_string_equal(jstr(a, "securityViolationInfo"), "No violation");
    assert_string_equal(jstr(a, "networkInterface"), "eth0");
    assert_string_equal(jstr(a, "dockerUrl"), "unix:///var/run/docker.sock");
    assert_string_equal(jstr(a, "diskDirectory"), "/var/lib/iofog/");
    assert_string_equal(jstr(a, "logDirectory"), "/var/log/iofog/");
    assert_string_equal(jstr(a, "logLevel"), "INFO");
    assert_true(json_number_value(json_object_get(a, "diskLimit")) == 50);
    assert_true(json_number_value(json_object_get(a, "memoryLimit")) == 4096);
    assert_true(json_number_value(json_object_get(a, "cpuLimit")) == 80);
    assert_true(json_number_value(json_object_get(a, "logLimit")) == 10);
    assert_true(json_number_value(json_object_get(a, "availableDiskThreshold")) == 20);
    assert_int_equal(json_integer_value(json_object_get(a, "logFileCount")), 10);
    assert_int_equal(json_integer_value(json_object_get(a, "statusFrequency")), 10);
    assert_int_equal(json_integer_value(json_object_get(a, "changeFrequency")), 20);
    assert_int_equal(json_integer_value(json_object_get(a, "deviceScanFrequency")), 20);
    assert_int_equal(json_integer_value(json_object_get(a, "dockerPruningFrequency")), 1);
    assert_true(json_is_true(json_object_get(a, "watchdogEnabled")));
    assert_true(json_is_false(json_object_get(a, "bluetoothEnabled")));
    assert_true(json_is_false(json_object_get(a, "abstractedHardwareEnabled")));
    assert_true(json_is_true(json_object_get(a, "isReadyToUpgrade")));
    assert_true(json_is_false(json_object_get(a, "isReadyToRollback")));
    assert_true(json_is_null(json_object_get(a, "gpsMode")));
    assert_true(json_is_null(json_object_get(a, "lastActive")));
    assert_non_null(strstr(jstr(a, "createdAt"), "Z"));
    /* Router settings: edge by default, with no default router no upstream; no router runs. */
    assert_string_equal(jstr(a, "routerMode"), "edge");
    assert_int_equal(json_integer_value(json_object_get(a, "messagingPort")), 5672);
    assert_true(json_is_null(json_object_get(a, "interRouterPort")));
    assert_true(json_is_null(json_object_get(a, "edgeRouterPort")));
    assert_int_equal(json_array_size(json_object_get(a, "upstreamRouters")), 0);
    assert_true(json_is_array(json_object_get(a, "tags")));
    assert_int_equal(json_array_size(json_object_get(a, "tags")), 0);
    assert_true(json_is_array(json_object_get(a, "edgeResources")));
    json_decref(a);
    json_t *rows = query(f, "SELECT count(*) AS n FROM microservices WHERE fog_uuid = ?", uuid);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(rows, 0), "n")), 0);
    json_decref(rows);

    /* Coordinates set gpsMode manual; tags come back sorted; unknown fields are ignored. */
    create(f,
           t,
           "{\"name\":\"node-b\",\"fogType\":2,\"latitude\":48.1,\"longitude\":-11.5,"
           "\"description\":\"lab\",\"tags\":[\"zeta\",\"alpha\"],\"whatever\":{\"x\":1},"
           "\"host\":\"10.0.0.7\",\"abstractedHardwareEnabled\":true}",
           uuid2);
    assert_int_equal(api_callf(f, "GET", t, NULL, &a, "/api/v3/iofog/%s", uuid2), 200);
    assert_string_equal(jstr(a, "gpsMode"), "manual");
    assert_true(json_real_value(json_object_get(a, "latitude")) == 48.1);
    assert_string_equal(jstr(a, "description"), "lab");
    assert_string_equal(jstr(a, "host"), "10.0.0.7");
    assert_string_equal(json_string_value(json_array_get(json_object_get(a, "tags"), 0)), "alpha");
    assert_string_equal(json_string_value(json_array_get(json_object_get(a, "tags"), 1)), "zeta");
    json_decref(a);
    /* abstractedHardwareEnabled brings the node's HAL system microservice. */
    rows =
        query(f, "SELECT name, root_host_access AS r FROM microservices WHERE fog_uuid = ?", uuid2);
    assert_int_equal(json_array_size(rows), 1);
    char expect[80];
    (void)snprintf(expect, sizeof expect, "Hal for Fog %s", uuid2);
    assert_string_equal(jstr(json_array_get(rows, 0), "name"), expect);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(rows, 0), "r")), 1);
    json_decref(rows);

    expect_error(
        f, "GET", "/api/v3/iofog/nope", t, NULL, 404, "NotFoundError", "Invalid ioFog UUID 'nope'");
    expect_error(f, "GET", "/api/v3/iofog-list", NULL, NULL, 401, "AuthenticationError", NULL);
}

static void test_create_validation(void **state) {
    struct api_fixture *f = *state;
    char t[65], uuid[33];
    assert_int_equal(api_user(f, "val@example.com", t), 0);
    const char *p = "/api/v3/iofog";
    expect_error(f,
                 "POST",
                 p,
                 t,
                 "{\"fogType\":1}",
                 400,
                 "ValidationError",
                 "Required field 'name' is missing");
    expect_error(f,
                 "POST",
                 p,
                 t,
                 "{\"name\":\"x\"}",
                 400,
                 "ValidationError",
                 "Required field 'fogType' is missing");
    expect_error(f,
                 "POST",
                 p,
                 t,
                 "{\"name\":\"\",\"fogType\":1}",
                 400,
                 "ValidationError",
                 "Invalid format for field 'name'");
    expect_error(f,
                 "POST",
                 p,
                 t,
                 "{\"name\":\"x\",\"fogType\":3}",
                 400,
                 "ValidationError",
                 "Invalid format for field 'fogType'");
    expect_error(f,
                 "POST",
                 p,
                 t,
                 "{\"name\":\"x\",\"fogType\":\"1\"}",
                 400,
                 "ValidationError",
                 "Invalid format for field 'fogType'");
    expect_error(f,
                 "POST",
                 p,
                 t,
                 "{\"name\":\"x\",\"fogType\":1,\"latitude\":90.5}",
                 400,
                 "ValidationError",
                 "Invalid format for field 'latitude'");
    expect_error(f,
                 "POST",
                 p,
                 t,
                 "{\"name\":\"x\",\"fogType\":1,\"longitude\":-180.1}",
                 400,
                 "ValidationError",
                 "Invalid format for field 'longitude'");
    expect_error(f,
                 "POST",
                 p,
                 t,
                 "{\"name\":\"x\",\"fogType\":1,\"diskLimit\":-1}",
                 400,
                 "ValidationError",
                 "Invalid format for field 'diskLimit'");
    expect_error(f,
                 "POST",
                 p,
                 t,
                 "{\"name\":\"x\",\"fogType\":1,\"watchdogEnabled\":1}",
                 400,
                 "ValidationError",
                 "Invalid format for field 'watchdogEnabled'");
    expect_error(f,
                 "POST",
                 p,
                 t,
                 "{\"name\":\"x\",\"fogType\":1,\"routerMode\":\"mesh\"}",
                 400,
                 "ValidationError",
                 "Invalid router mode 'mesh'");
    expect_error(f,
                 "POST",
                 p,
                 t,
                 "{\"name\":\"x\",\"fogType\":1,\"messagingPort\":70000}",
                 400,
                 "ValidationError",
                 "Invalid format for field 'messagingPort'");
    expect_error(f,
                 "POST",
                 p,
                 t,
                 "{\"name\":\"x\",\"fogType\":1,\"tags\":[\"a\",3]}",
                 400,
                 "ValidationError",
                 "Invalid format for field 'tags'");
    /* Interior nodes need their ports and host, and the ports must differ. */
    expect_error(f,
                 "POST",
                 p,
                 t,
                 "{\"name\":\"x\",\"fogType\":1,\"routerMode\":\"interior\",\"host\":\"h\","
                 "\"edgeRouterPort\":56722}",
                 400,
                 "ValidationError",
                 "Required field 'interRouterPort' is missing");
    expect_error(f,
                 "POST",
                 p,
                 t,
                 "{\"name\":\"x\",\"fogType\":1,\"routerMode\":\"interior\","
                 "\"interRouterPort\":56721,\"edgeRouterPort\":56722}",
                 400,
                 "ValidationError",
                 "\"host\" is required");
    expect_error(f,
                 "POST",
                 p,
                 t,
                 "{\"name\":\"x\",\"fogType\":1,\"routerMode\":\"interior\",\"host\":\"h\","
                 "\"interRouterPort\":56721,\"edgeRouterPort\":56721}",
                 400,
                 "ValidationError",
                 NULL);
    expect_error(f,
                 "POST",
                 p,
                 t,
                 "{\"name\":\"x\",\"fogType\":1,\"upstreamRouters\":[\"nosuchnode\"]}",
                 400,
                 "ValidationError",
                 "Invalid router 'nosuchnode'");
    expect_error(f, "POST", p, t, "[1]", 400, "ValidationError", NULL);
    /* Nothing half-made survives a refused create. */
    json_t *rows = query(f, "SELECT count(*) AS n FROM fogs", NULL);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(rows, 0), "n")), 0);
    json_decref(rows);

    create(f, t, "{\"name\":\"dup\",\"fogType\":0}", uuid);
    expect_error(f,
                 "POST",
                 p,
                 t,
                 "{\"name\":\"dup\",\"fogType\":1}",
                 400,
                 "ValidationError",
                 "Duplicate name 'dup'");
    /* An edge node below an interior one; an edge node cannot be an upstream. */
    char interior[33], edge[33], body[256];
    create(f,
           t,
           "{\"name\":\"core\",\"fogType\":1,\"routerMode\":\"interior\",\"host\":\"10.1.1.1\","
           "\"interRouterPort\":56721,\"edgeRouterPort\":56722}",
           interior);
    (void)snprintf(body,
                   sizeof body,
                   "{\"name\":\"leaf\",\"fogType\":1,\"upstreamRouters\":[\"%s\"]}",
                   interior);
    create(f, t, body, edge);
    json_t *a = NULL;
    assert_int_equal(api_callf(f, "GET", t, NULL, &a, "/api/v3/iofog/%s", interior), 200);
    assert_string_equal(jstr(a, "routerMode"), "interior");
    assert_int_equal(json_integer_value(json_object_get(a, "interRouterPort")), 56721);
    assert_int_equal(json_integer_value(json_object_get(a, "edgeRouterPort")), 56722);
    json_decref(a);
    assert_int_equal(api_callf(f, "GET", t, NULL, &a, "/api/v3/iofog/%s", edge), 200);
    assert_int_equal(json_array_size(json_object_get(a, "upstreamRouters")), 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(a, "upstreamRouters"), 0)),
                        interior);
    json_decref(a);
    (void)snprintf(
        body, sizeof body, "{\"name\":\"leaf2\",\"fogType\":1,\"upstreamRouters\":[\"%s\"]}", edge);
    char msg[100];
    (void)snprintf(msg, sizeof msg, "Upstream router must be interior '%s'", edge);
    expect_error(f, "POST", p, t, body, 400, "ValidationError", msg);
}

static void test_list_filters_and_system(void **state) {
    struct api_fixture *f = *state;
    char t[65], t2[65], a_uuid[33], b_uuid[33], sys[33];
    assert_int_equal(api_user(f, "one@example.com", t), 0);
    assert_int_equal(api_user(f, "two@example.com", t2), 0);
    create(f, t, "{\"name\":\"bravo\",\"fogType\":1,\"location\":\"Berlin\"}", b_uuid);
    create(f,
           t,
           "{\"name\":\"alpha\",\"fogType\":2,\"location\":\"Bern\",\"tags\":[\"gpu\",\"lab\"]}",
           a_uuid);
    expect_error(f,
                 "POST",
                 "/api/v3/iofog",
                 t,
                 "{\"name\":\"sys3\",\"fogType\":1,\"isSystem\":true}",
                 400,
                 "ValidationError",
                 "Invalid router mode 'edge'");
    create(f,
           t,
           "{\"name\":\"sys\",\"fogType\":1,\"isSystem\":true,\"routerMode\":\"interior\","
           "\"host\":\"ctl.example.com\",\"interRouterPort\":56721,\"edgeRouterPort\":56722}",
           sys);
    expect_error(f,
                 "POST",
                 "/api/v3/iofog",
                 t,
                 "{\"name\":\"sys2\",\"fogType\":1,\"isSystem\":true,\"routerMode\":\"interior\","
                 "\"host\":\"h\",\"interRouterPort\":1,\"edgeRouterPort\":2}",
                 400,
                 "ValidationError",
                 "There already is a system fog");

    json_t *a = NULL;
    assert_int_equal(api_call(f, "GET", "/api/v3/iofog-list", t, NULL, &a), 200);
    json_t *fogs = json_object_get(a, "fogs");
    assert_int_equal(json_array_size(fogs), 2); /* sorted by name, system node apart */
    assert_string_equal(jstr(json_array_get(fogs, 0), "name"), "alpha");
    assert_string_equal(jstr(json_array_get(fogs, 1), "name"), "bravo");
    assert_int_equal(json_array_size(json_object_get(json_array_get(fogs, 0), "tags")), 2);
    assert_non_null(json_object_get(json_array_get(fogs, 0), "routerMode"));
    json_decref(a);
    /* The first interior system node became the default router: new edge nodes link to it. */
    char c_uuid[33];
    create(f, t, "{\"name\":\"charlie\",\"fogType\":1}", c_uuid);
    assert_int_equal(api_callf(f, "GET", t, NULL, &a, "/api/v3/iofog/%s", c_uuid), 200);
    assert_string_equal(json_string_value(json_array_get(json_object_get(a, "upstreamRouters"), 0)),
                        "default-router");
    json_decref(a);

    assert_int_equal(api_call(f, "GET", "/api/v3/iofog-list?system=true", t, NULL, &a), 200);
    assert_int_equal(json_array_size(json_object_get(a, "fogs")), 1);
    assert_string_equal(jstr(json_array_get(json_object_get(a, "fogs"), 0), "uuid"), sys);
    json_decref(a);
    /* The system node is visible to every user, but only its owner changes it. */
    assert_int_equal(api_call(f, "GET", "/api/v3/iofog-list?system=true", t2, NULL, &a), 200);
    assert_int_equal(json_array_size(json_object_get(a, "fogs")), 1);
    json_decref(a);
    assert_int_equal(api_callf(f, "GET", t2, NULL, NULL, "/api/v3/iofog/%s", sys), 200);
    assert_int_equal(
        api_callf(f, "PATCH", t2, "{\"name\":\"mine\"}", NULL, "/api/v3/iofog/%s", sys), 404);
    assert_int_equal(api_callf(f, "POST", t2, NULL, NULL, "/api/v3/iofog/%s/reboot", sys), 404);
    expect_error(f,
                 "GET",
                 "/api/v3/iofog-list?system=maybe",
                 t,
                 NULL,
                 400,
                 "ValidationError",
                 "Invalid format for field 'system'");

    /* qs-encoded filters: equals, has (substring and tag), several are ANDed. */
    assert_int_equal(api_call(f,
                              "GET",
                              "/api/v3/iofog-list?filters%5B0%5D%5Bkey%5D=name&filters%5B0%5D%5B"
                              "value%5D=bravo&filters%5B0%5D%5Bcondition%5D=equals",
                              t,
                              NULL,
                              &a),
                     200);
    assert_int_equal(json_array_size(json_object_get(a, "fogs")), 1);
    assert_string_equal(jstr(json_array_get(json_object_get(a, "fogs"), 0), "uuid"), b_uuid);
    json_decref(a);
    assert_int_equal(api_call(f,
                              "GET",
                              "/api/v3/iofog-list?filters[0][key]=location&filters[0][value]=Ber"
                              "&filters[0][condition]=has",
                              t,
                              NULL,
                              &a),
                     200);
    assert_int_equal(json_array_size(json_object_get(a, "fogs")), 2);
    json_decref(a);
    assert_int_equal(api_call(f,
                              "GET",
                              "/api/v3/iofog-list?filters[0][key]=location&filters[0][value]=Ber"
                              "&filters[0][condition]=has&filters[1][key]=tags&filters[1][value]="
                              "gpu&filters[1][condition]=has",
                              t,
                              NULL,
                              &a),
                     200);
    assert_int_equal(json_array_size(json_object_get(a, "fogs")), 1);
    assert_string_equal(jstr(json_array_get(json_object_get(a, "fogs"), 0), "uuid"), a_uuid);
    json_decref(a);
    assert_int_equal(api_call(f,
                              "GET",
                              "/api/v3/iofog-list?filters[0][key]=fogTypeId&filters[0][value]=2"
                              "&filters[0][condition]=equals",
                              t,
                              NULL,
                              &a),
                     200);
    assert_int_equal(json_array_size(json_object_get(a, "fogs")), 1);
    json_decref(a);
    expect_error(f,
                 "GET",
                 "/api/v3/iofog-list?filters[0][key]=colour&filters[0][value]=x"
                 "&filters[0][condition]=equals",
                 t,
                 NULL,
                 400,
                 "ValidationError",
                 "Invalid filter key 'colour'");
    expect_error(f,
                 "GET",
                 "/api/v3/iofog-list?filters[0][key]=name&filters[0][value]=x"
                 "&filters[0][condition]=like",
                 t,
                 NULL,
                 400,
                 "ValidationError",
                 "Invalid format for field 'condition'");
    expect_error(f,
                 "GET",
                 "/api/v3/iofog-list?filters[0][key]=name&filters[0][condition]=has",
                 t,
                 NULL,
                 400,
                 "ValidationError",
                 "Required field 'value' is missing");
    /* The unknown key is refused even for a user with no nodes at all. */
    expect_error(f,
                 "GET",
                 "/api/v3/iofog-list?filters[0][key]=colour&filters[0][value]=x"
                 "&filters[0][condition]=equals",
                 t2,
                 NULL,
                 400,
                 "ValidationError",
                 "Invalid filter key 'colour'");
}

static void test_ownership_isolation(void **state) {
    struct api_fixture *f = *state;
    char t1[65], t2[65], uuid[33], other[33];
    assert_int_equal(api_user(f, "owner@example.com", t1), 0);
    assert_int_equal(api_user(f, "intruder@example.com", t2), 0);
    create(f, t1, "{\"name\":\"private\",\"fogType\":1}", uuid);
    char msg[80];
    (void)snprintf(msg, sizeof msg, "Invalid ioFog UUID '%s'", uuid);
    char path[200];
    static const struct {
        const char *method;
        const char *suffix;
        const char *body;
    } calls[] = {
        {"GET", "", NULL},
        {"PATCH", "", "{\"name\":\"taken\"}"},
        {"DELETE", "", NULL},
        {"GET", "/provisioning-key", NULL},
        {"POST", "/version/upgrade", NULL},
        {"POST", "/reboot", NULL},
        {"POST", "/prune", NULL},
        {"GET", "/hal/hw", NULL},
        {"GET", "/hal/usb", NULL},
        {"PATCH", "/tunnel", "{\"action\":\"open\"}"},
        {"GET", "/tunnel", NULL},
    };
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        (void)snprintf(path, sizeof path, "/api/v3/iofog/%s%s", uuid, calls[i].suffix);
        expect_error(f, calls[i].method, path, t2, calls[i].body, 404, "NotFoundError", msg);
    }
    /* Nothing was raised or changed by the refused calls. */
    assert_int_equal(flags_of(f, uuid), CTL_FLAG_MICROSERVICE_LIST | CTL_FLAG_MICROSERVICE_CONFIG);
    json_t *rows =
        query(f, "SELECT count(*) AS n FROM fog_provision_keys WHERE fog_uuid = ?", uuid);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(rows, 0), "n")), 0);
    json_decref(rows);

    json_t *a = NULL;
    assert_int_equal(api_call(f, "GET", "/api/v3/iofog-list", t2, NULL, &a), 200);
    assert_int_equal(json_array_size(json_object_get(a, "fogs")), 0);
    json_decref(a);
    /* Names are unique per user only. */
    create(f, t2, "{\"name\":\"private\",\"fogType\":1}", other);
    assert_int_equal(api_call(f, "GET", "/api/v3/iofog-list", t1, NULL, &a), 200);
    assert_int_equal(json_array_size(json_object_get(a, "fogs")), 1);
    assert_string_equal(jstr(json_array_get(json_object_get(a, "fogs"), 0), "uuid"), uuid);
    json_decref(a);
    /* The admin credential (the CLI) sees and reaches every node. */
    assert_int_equal(api_call(f, "GET", "/api/v3/iofog-list", f->admin, NULL, &a), 200);
    assert_int_equal(json_array_size(json_object_get(a, "fogs")), 2);
    json_decref(a);
    assert_int_equal(api_callf(f, "GET", f->admin, NULL, NULL, "/api/v3/iofog/%s", other), 200);
    /* Another user's node cannot be named as an upstream router either. */
    assert_int_equal(api_callf(f,
                               "PATCH",
                               t1,
                               "{\"routerMode\":\"interior\",\"host\":\"h\",\"interRouterPort\":"
                               "5001,\"edgeRouterPort\":5002}",
                               NULL,
                               "/api/v3/iofog/%s",
                               uuid),
                     204);
    char body[200];
    (void)snprintf(body, sizeof body, "{\"upstreamRouters\":[\"%s\"]}", uuid);
    (void)snprintf(path, sizeof path, "/api/v3/iofog/%s", other);
    expect_error(f, "PATCH", path, t2, body, 400, "ValidationError", NULL);
}

static void test_patch_and_flags(void **state) {
    struct api_fixture *f = *state;
    char t[65], uuid[33], path[120];
    assert_int_equal(api_user(f, "patch@example.com", t), 0);
    create(f, t, "{\"name\":\"pn\",\"fogType\":1}", uuid);
    (void)snprintf(path, sizeof path, "/api/v3/iofog/%s", uuid);
    ack_all(f, uuid);

    /* Metadata only: no flag for the agent. */
    assert_int_equal(api_call(f,
                              "PATCH",
                              path,
                              t,
                              "{\"name\":\"renamed\",\"description\":\"d\",\"location\":\"L\","
                              "\"tags\":[\"t1\"]}",
                              NULL),
                     204);
    assert_int_equal(flags_of(f, uuid), 0);
    json_t *a = NULL;
    assert_int_equal(api_call(f, "GET", path, t, NULL, &a), 200);
    assert_string_equal(jstr(a, "name"), "renamed");
    assert_string_equal(jstr(a, "description"), "d");
    assert_string_equal(jstr(a, "location"), "L");
    assert_string_equal(json_string_value(json_array_get(json_object_get(a, "tags"), 0)), "t1");
    assert_int_equal(json_integer_value(json_object_get(a, "fogTypeId")), 1); /* kept */
    json_decref(a);

    /* Agent configuration: config flag; the same value again: nothing. */
    assert_int_equal(api_call(f, "PATCH", path, t, "{\"statusFrequency\":30}", NULL), 204);
    assert_int_equal(flags_of(f, uuid), CTL_FLAG_CONFIG);
    ack_all(f, uuid);
    assert_int_equal(api_call(f, "PATCH", path, t, "{\"statusFrequency\":30}", NULL), 204);
    assert_int_equal(flags_of(f, uuid), 0);
    assert_int_equal(api_call(f, "PATCH", path, t, "{\"latitude\":10.5}", NULL), 204);
    assert_int_equal(flags_of(f, uuid), CTL_FLAG_CONFIG);
    ack_all(f, uuid);
    assert_int_equal(api_call(f, "GET", path, t, NULL, &a), 200);
    assert_string_equal(jstr(a, "gpsMode"), "manual");
    assert_int_equal(json_integer_value(json_object_get(a, "statusFrequency")), 30);
    json_decref(a);

    /* Router changes: routerChanged (and config, the agent's router settings moved). */
    assert_int_equal(api_call(f,
                              "PATCH",
                              path,
                              t,
                              "{\"routerMode\":\"interior\",\"host\":\"10.2.2.2\","
                              "\"interRouterPort\":56721,\"edgeRouterPort\":56722}",
                              NULL),
                     204);
    assert_true((flags_of(f, uuid) & CTL_FLAG_ROUTER_CHANGED) != 0);
    ack_all(f, uuid);
    assert_int_equal(api_call(f, "GET", path, t, NULL, &a), 200);
    assert_string_equal(jstr(a, "routerMode"), "interior");
    assert_string_equal(jstr(a, "host"), "10.2.2.2");
    json_decref(a);
    assert_int_equal(api_call(f, "PATCH", path, t, "{\"routerMode\":\"none\"}", NULL), 204);
    assert_int_equal(api_call(f, "GET", path, t, NULL, &a), 200);
    assert_string_equal(jstr(a, "routerMode"), "none");
    assert_true(json_is_null(json_object_get(a, "messagingPort")));
    assert_true(json_object_get(a, "networkRouter") != NULL);
    json_decref(a);
    ack_all(f, uuid);

    /* HAL switched on and off: its system microservice follows, microservice flags raised. */
    assert_int_equal(api_call(f, "PATCH", path, t, "{\"abstractedHardwareEnabled\":true}", NULL),
                     204);
    assert_int_equal(flags_of(f, uuid), CTL_FLAG_MICROSERVICE_LIST | CTL_FLAG_MICROSERVICE_CONFIG);
    json_t *rows = query(f, "SELECT count(*) AS n FROM microservices WHERE fog_uuid = ?", uuid);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(rows, 0), "n")), 1);
    json_decref(rows);
    ack_all(f, uuid);
    assert_int_equal(api_call(f, "PATCH", path, t, "{\"abstractedHardwareEnabled\":false}", NULL),
                     204);
    rows = query(f, "SELECT count(*) AS n FROM microservices WHERE fog_uuid = ?", uuid);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(rows, 0), "n")), 0);
    json_decref(rows);

    /* Refused updates change nothing. */
    char other[33];
    create(f, t, "{\"name\":\"other\",\"fogType\":1}", other);
    expect_error(f,
                 "PATCH",
                 path,
                 t,
                 "{\"name\":\"other\",\"statusFrequency\":99}",
                 400,
                 "ValidationError",
                 "Duplicate name 'other'");
    expect_error(f,
                 "PATCH",
                 path,
                 t,
                 "{\"cpuLimit\":\"lots\"}",
                 400,
                 "ValidationError",
                 "Invalid format for field 'cpuLimit'");
    assert_int_equal(api_call(f, "GET", path, t, NULL, &a), 200);
    assert_int_equal(json_integer_value(json_object_get(a, "statusFrequency")), 30);
    assert_string_equal(jstr(a, "name"), "renamed");
    json_decref(a);
    expect_error(f,
                 "PATCH",
                 "/api/v3/iofog/unknown",
                 t,
                 "{\"name\":\"z\"}",
                 404,
                 "NotFoundError",
                 "Invalid ioFog UUID 'unknown'");
}

static void test_delete_cascades(void **state) {
    struct api_fixture *f = *state;
    char t[65], uuid[33], path[120];
    assert_int_equal(api_user(f, "del@example.com", t), 0);
    create(f,
           t,
           "{\"name\":\"gone\",\"fogType\":1,\"abstractedHardwareEnabled\":true,"
           "\"bluetoothEnabled\":true,\"tags\":[\"x\"]}",
           uuid);
    (void)snprintf(path, sizeof path, "/api/v3/iofog/%s", uuid);
    json_t *rows = query(f, "SELECT count(*) AS n FROM microservices WHERE fog_uuid = ?", uuid);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(rows, 0), "n")), 2);
    json_decref(rows);
    assert_int_equal(api_callf(f, "GET", t, NULL, NULL, "%s/provisioning-key", path), 201);

    json_t *a = NULL;
    assert_int_equal(api_call(f, "DELETE", path, t, NULL, &a), 202);
    assert_null(a);
    assert_int_equal(api_call(f, "GET", path, t, NULL, NULL), 404);
    static const char *const checks[] = {
        "SELECT count(*) AS n FROM microservices WHERE fog_uuid = ?",
        "SELECT count(*) AS n FROM fog_changes WHERE fog_uuid = ?",
        "SELECT count(*) AS n FROM fog_provision_keys WHERE fog_uuid = ?",
        "SELECT count(*) AS n FROM routers WHERE fog_uuid = ?",
        "SELECT count(*) AS n FROM fog_tags WHERE fog_uuid = ?",
    };
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
        rows = query(f, checks[i], uuid);
        assert_int_equal(json_integer_value(json_object_get(json_array_get(rows, 0), "n")), 0);
        json_decref(rows);
    }
    expect_error(f, "DELETE", path, t, NULL, 404, "NotFoundError", NULL);
}

static void test_provisioning_key(void **state) {
    struct api_fixture *f = *state;
    char t[65], uuid[33];
    assert_int_equal(api_user(f, "prov@example.com", t), 0);
    create(f, t, "{\"name\":\"prov\",\"fogType\":0}", uuid);
    json_t *a = NULL;
    int64_t before = iof_time_now_ms();
    assert_int_equal(api_callf(f, "GET", t, NULL, &a, "/api/v3/iofog/%s/provisioning-key", uuid),
                     201);
    int64_t after = iof_time_now_ms();
    char key1[9];
    const char *key = jstr(a, "key");
    assert_int_equal(strlen(key), 8);
    assert_int_equal(strspn(key, IOF_ALPHABET_FOG_TOKEN), 8);
    memcpy(key1, key, 9);
    int64_t exp = (int64_t)json_integer_value(json_object_get(a, "expirationTime"));
    assert_true(exp >= before + 20 * 60 * 1000 && exp <= after + 20 * 60 * 1000);
    json_decref(a);

    /* Only the digest is stored, with the expiry. */
    char digest[65];
    ctl_token_hash(key1, digest);
    json_t *rows = query(
        f,
        "SELECT key_hash AS h, expiration_time AS e FROM fog_provision_keys WHERE fog_uuid = ?",
        uuid);
    assert_int_equal(json_array_size(rows), 1);
    assert_string_equal(jstr(json_array_get(rows, 0), "h"), digest);
    assert_string_not_equal(jstr(json_array_get(rows, 0), "h"), key1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(rows, 0), "e")), exp);
    json_decref(rows);

    /* A new key replaces the old one. */
    assert_int_equal(api_callf(f, "GET", t, NULL, &a, "/api/v3/iofog/%s/provisioning-key", uuid),
                     201);
    assert_string_not_equal(jstr(a, "key"), key1);
    ctl_token_hash(jstr(a, "key"), digest);
    json_decref(a);
    rows = query(f, "SELECT key_hash AS h FROM fog_provision_keys WHERE fog_uuid = ?", uuid);
    assert_int_equal(json_array_size(rows), 1);
    assert_string_equal(jstr(json_array_get(rows, 0), "h"), digest);
    json_decref(rows);
}

static void test_commands_and_hal(void **state) {
    struct api_fixture *f = *state;
    char t[65], uuid[33];
    assert_int_equal(api_user(f, "cmd@example.com", t), 0);
    create(f, t, "{\"name\":\"cmd\",\"fogType\":1}", uuid);
    ack_all(f, uuid);
    json_t *a = NULL;
    assert_int_equal(api_callf(f, "POST", t, NULL, &a, "/api/v3/iofog/%s/reboot", uuid), 204);
    assert_null(a);
    assert_int_equal(flags_of(f, uuid), CTL_FLAG_REBOOT);
    ack_all(f, uuid);
    assert_int_equal(api_callf(f, "POST", t, NULL, NULL, "/api/v3/iofog/%s/prune", uuid), 204);
    assert_int_equal(flags_of(f, uuid), CTL_FLAG_PRUNE);
    ack_all(f, uuid);

    /* Version: upgrade allowed by default, rollback only once the agent reports a backup. */
    assert_int_equal(api_callf(f, "POST", t, NULL, NULL, "/api/v3/iofog/%s/version/upgrade", uuid),
                     204);
    assert_int_equal(flags_of(f, uuid), CTL_FLAG_VERSION);
    json_t *rows =
        query(f,
              "SELECT v.version_command AS c, (SELECT count(*) FROM fog_provision_keys k WHERE"
              " k.fog_uuid = v.fog_uuid) AS k FROM fog_version_commands v WHERE v.fog_uuid = ?",
              uuid);
    assert_string_equal(jstr(json_array_get(rows, 0), "c"), "upgrade");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(rows, 0), "k")), 1);
    json_decref(rows);
    ack_all(f, uuid);
    char path[160];
    (void)snprintf(path, sizeof path, "/api/v3/iofog/%s/version/rollback", uuid);
    expect_error(f,
                 "POST",
                 path,
                 t,
                 NULL,
                 400,
                 "ValidationError",
                 "Can't rollback version now. There are no backups on agent");
    assert_int_equal(flags_of(f, uuid), 0);
    sql_exec(f,
             "UPDATE fogs SET is_ready_to_rollback = 1, is_ready_to_upgrade = 0 WHERE uuid = ?",
             uuid);
    assert_int_equal(api_call(f, "POST", path, t, NULL, NULL), 204);
    assert_int_equal(flags_of(f, uuid), CTL_FLAG_VERSION);
    (void)snprintf(path, sizeof path, "/api/v3/iofog/%s/version/upgrade", uuid);
    expect_error(f,
                 "POST",
                 path,
                 t,
                 NULL,
                 400,
                 "ValidationError",
                 "Can't upgrade version now. Latest is already installed");
    (void)snprintf(path, sizeof path, "/api/v3/iofog/%s/version/sideways", uuid);
    expect_error(f, "POST", path, t, NULL, 400, "ValidationError", NULL);

    /* HAL reports: 200 with an empty body until the node's HAL has reported (classic). */
    (void)snprintf(path, sizeof path, "/api/v3/iofog/%s/hal/hw", uuid);
    a = NULL;
    assert_int_equal(api_call(f, "GET", path, t, NULL, &a), 200);
    assert_null(a);
    sql_exec(f, "INSERT INTO hw_infos (fog_uuid, info) VALUES (?, '{\"cpus\":4}')", uuid);
    assert_int_equal(api_call(f, "GET", path, t, NULL, &a), 200);
    assert_string_equal(jstr(a, "info"), "{\"cpus\":4}");
    assert_string_equal(jstr(a, "iofogUuid"), uuid);
    assert_true(json_is_integer(json_object_get(a, "id")));
    json_decref(a);
    (void)snprintf(path, sizeof path, "/api/v3/iofog/%s/hal/usb", uuid);
    a = NULL;
    assert_int_equal(api_call(f, "GET", path, t, NULL, &a), 200);
    assert_null(a);
    sql_exec(f, "INSERT INTO usb_infos (fog_uuid, info) VALUES (?, '[]')", uuid);
    assert_int_equal(api_call(f, "GET", path, t, NULL, &a), 200);
    assert_string_equal(jstr(a, "info"), "[]");
    json_decref(a);
}

static void test_tunnel(void **state) {
    struct api_fixture *f = *state;
    char t[65], uuid[33], path[120];
    assert_int_equal(api_user(f, "tun@example.com", t), 0);
    create(f, t, "{\"name\":\"tun\",\"fogType\":1}", uuid);
    ack_all(f, uuid);
    (void)snprintf(path, sizeof path, "/api/v3/iofog/%s/tunnel", uuid);
    expect_error(f, "GET", path, t, NULL, 404, "NotFoundError", "Tunnel not found");
    expect_error(
        f, "PATCH", path, t, "{\"action\":\"close\"}", 404, "NotFoundError", "Tunnel not found");
    expect_error(f,
                 "PATCH",
                 path,
                 t,
                 "{\"action\":\"ajar\"}",
                 400,
                 "ValidationError",
                 "Unknown action property. Action can be \"open\" or \"close\"");
    expect_error(
        f, "PATCH", path, t, "{}", 400, "ValidationError", "Required field 'action' is missing");
    assert_int_equal(flags_of(f, uuid), 0);

    assert_int_equal(
        api_call(f,
                 "PATCH",
                 path,
                 t,
                 "{\"action\":\"open\",\"username\":\"tunnel\",\"password\":\"s3cret\","
                 "\"host\":\"relay.example.com\",\"rport\":6001}",
                 NULL),
        204);
    assert_int_equal(flags_of(f, uuid), CTL_FLAG_TUNNEL);
    ack_all(f, uuid);
    json_t *a = NULL;
    assert_int_equal(api_call(f, "GET", path, t, NULL, &a), 200);
    assert_string_equal(jstr(a, "username"), "tunnel");
    assert_string_equal(jstr(a, "host"), "relay.example.com");
    assert_int_equal(json_integer_value(json_object_get(a, "remotePort")), 6001);
    assert_int_equal(json_integer_value(json_object_get(a, "localPort")), 22);
    assert_string_equal(jstr(a, "status"), "open");
    assert_null(json_object_get(a, "password"));
    json_decref(a);

    assert_int_equal(api_call(f, "PATCH", path, t, "{\"action\":\"close\"}", NULL), 204);
    assert_int_equal(flags_of(f, uuid), CTL_FLAG_TUNNEL);
    assert_int_equal(api_call(f, "GET", path, t, NULL, &a), 200);
    assert_string_equal(jstr(a, "status"), "closed");
    assert_string_equal(jstr(a, "username"), "tunnel"); /* settings kept */
    json_decref(a);
    /* Reopening keeps the settings given before. */
    assert_int_equal(api_call(f, "PATCH", path, t, "{\"action\":\"open\"}", NULL), 204);
    assert_int_equal(api_call(f, "GET", path, t, NULL, &a), 200);
    assert_string_equal(jstr(a, "status"), "open");
    assert_int_equal(json_integer_value(json_object_get(a, "remotePort")), 6001);
    json_decref(a);
}

/* Runs the iofog-controller binary with args against the fixture's server; returns its exit
 * status and its stdout parsed as JSON (or NULL) in *out. */
static int run_cli(struct api_fixture *f, const char *args, json_t **out) {
    char cmd[1024];
    (void)snprintf(cmd,
                   sizeof cmd,
                   "IOFOG_CONTROLLER_PORT=%u '%s/controller/iofog-controller' %s --data-dir '%s'",
                   (unsigned)f->port,
                   IOFOG_BINARY_DIR,
                   args,
                   f->dir);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char buf[65536];
    size_t len = fread(buf, 1, sizeof buf - 1, p);
    buf[len] = '\0';
    int st = pclose(p);
    if (out != NULL) {
        *out = json_loads(buf, 0, NULL);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_cli(void **state) {
    struct api_fixture *f = *state;
    char bin[512];
    (void)snprintf(bin, sizeof bin, "%s/controller/iofog-controller", IOFOG_BINARY_DIR);
    if (access(bin, X_OK) != 0) {
        skip();
    }
    char t[65], t2[65];
    assert_int_equal(api_user(f, "cli@example.com", t), 0);
    assert_int_equal(api_user(f, "cli2@example.com", t2), 0);
    json_t *a = NULL;
    /* add acts for -u/--user-id (the second user here). */
    assert_int_equal(
        run_cli(f, "iofog add -n cli-node -y 1 --latitude 12.5 -W -A --tags a,b -u 2", &a), 0);
    char uuid[33];
    assert_int_equal(strlen(jstr(a, "uuid")), 32);
    memcpy(uuid, jstr(a, "uuid"), 33);
    json_decref(a);
    assert_int_equal(api_callf(f, "GET", t2, NULL, &a, "/api/v3/iofog/%s", uuid), 200);
    assert_string_equal(jstr(a, "name"), "cli-node");
    assert_string_equal(jstr(a, "gpsMode"), "manual");
    assert_true(json_is_true(json_object_get(a, "abstractedHardwareEnabled")));
    assert_int_equal(json_array_size(json_object_get(a, "tags")), 2);
    json_decref(a);

    char args[256];
    (void)snprintf(args, sizeof args, "iofog update -i %s --status-frequency 15 -o", uuid);
    assert_int_equal(run_cli(f, args, NULL), 0);
    assert_true((flags_of(f, uuid) & (CTL_FLAG_CONFIG | CTL_FLAG_REBOOT)) ==
                (CTL_FLAG_CONFIG | CTL_FLAG_REBOOT));
    (void)snprintf(args, sizeof args, "iofog info --iofog-uuid=%s", uuid);
    assert_int_equal(run_cli(f, args, &a), 0);
    assert_int_equal(json_integer_value(json_object_get(a, "statusFrequency")), 15);
    json_decref(a);
    assert_int_equal(run_cli(f, "iofog list", &a), 0);
    assert_int_equal(json_array_size(json_object_get(a, "fogs")), 1);
    json_decref(a);
    (void)snprintf(args, sizeof args, "iofog provisioning-key -i %s", uuid);
    assert_int_equal(run_cli(f, args, &a), 0);
    assert_int_equal(strlen(jstr(a, "key")), 8);
    json_decref(a);
    (void)snprintf(args, sizeof args, "iofog version -i %s -v rollback 2>/dev/null", uuid);
    assert_int_equal(run_cli(f, args, NULL), 2); /* 400: not ready to roll back */
    (void)snprintf(args, sizeof args, "iofog hal-hw -i %s 2>/dev/null", uuid);
    assert_int_equal(run_cli(f, args, NULL), 0); /* 200, empty: nothing reported yet */
    (void)snprintf(
        args, sizeof args, "tunnel update -i %s -a open -u relay -s r.example.com", uuid);
    assert_int_equal(run_cli(f, args, NULL), 0);
    assert_int_equal(run_cli(f, "tunnel list", &a), 0);
    json_t *tun = json_array_get(json_object_get(a, "tunnels"), 0);
    assert_string_equal(jstr(tun, "iofogUuid"), uuid);
    assert_string_equal(jstr(tun, "status"), "open");
    assert_string_equal(jstr(tun, "username"), "relay");
    json_decref(a);
    assert_int_equal(run_cli(f, "iofog info 2>/dev/null", NULL), 2); /* -i missing */
    assert_int_equal(run_cli(f, "iofog add --bogus 1 2>/dev/null", NULL), 2);
    (void)snprintf(args, sizeof args, "iofog remove -i %s", uuid);
    assert_int_equal(run_cli(f, args, NULL), 0);
    assert_int_equal(api_callf(f, "GET", t2, NULL, NULL, "/api/v3/iofog/%s", uuid), 404);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_and_get_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_filters_and_system, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ownership_isolation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_patch_and_flags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_cascades, setup, teardown),
        cmocka_unit_test_setup_teardown(test_provisioning_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commands_and_hal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tunnel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
