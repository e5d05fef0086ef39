/* Test helpers for the microservice and routing REST tests (tests only, header-only): a fixture
 * with two users, their nodes and applications written straight into the store (nodes and
 * applications belong to other route groups), and readers of change flags and columns. */
#ifndef CTL_MSVC_TESTUTIL_H
#define CTL_MSVC_TESTUTIL_H

#include "controller/api/api_testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* user 1: nodes fog-x86 (x86, RUNNING), fog-x86b (x86), fog-arm (ARM); applications app1 (id 1),
 * app2 (id 2). user 2: node fog-u2 (x86), application app3 (id 3). */
struct msvc_fx {
    struct api_fixture *f;
    char t1[65];
    char t2[65];
};

static inline void fx_sql(struct api_fixture *f, const char *sql) {
    struct iof_diag d = {{0}};
    iof_err err = ctl_db_exec(ctl_store_db(f->store), sql, NULL, 0, NULL, NULL, NULL, &d);
    if (err != IOF_OK) {
        fprintf(stderr, "fx_sql %s: %s\n", sql, d.msg);
    }
    assert_int_equal(err, IOF_OK);
}

static inline int fx_setup_mode(void **state, bool inproc) {
    struct msvc_fx *x = calloc(1, sizeof *x);
    if (x == NULL || (x->f = inproc ? api_start_inproc() : api_start()) == NULL) {
        free(x);
        return -1;
    }
    if (api_user(x->f, "one@example.com", x->t1) != 0 ||
        api_user(x->f, "two@example.com", x->t2) != 0) {
        return -1;
    }
    fx_sql(x->f,
           /* last_active in 2100: the liveness job must not turn the RUNNING nodes UNKNOWN
            * (and purge their deleted microservices) while a test looks at them */
           "INSERT INTO fogs (uuid, name, user_id, fog_type_id, daemon_status, last_active) VALUES"
           " ('fog-x86', 'node-x86', 1, 1, 'RUNNING', 4102444800000),"
           " ('fog-x86b', 'node-x86b', 1, 1, 'UNKNOWN', NULL),"
           " ('fog-arm', 'node-arm', 1, 2, 'UNKNOWN', NULL),"
           " ('fog-u2', 'node-u2', 2, 1, 'RUNNING', 4102444800000)");
    fx_sql(x->f,
           "INSERT INTO applications (id, name, user_id, is_activated) VALUES"
           " (1, 'app1', 1, 1), (2, 'app2', 1, 1), (3, 'app3', 2, 1)");
    *state = x;
    return 0;
}

/* The real binary: black-box tests. */
static inline int fx_setup(void **state) {
    return fx_setup_mode(state, false);
}

/* In-process: for tests that call the service functions directly (x->f->srv). */
static inline int fx_setup_inproc(void **state) {
    return fx_setup_mode(state, true);
}

static inline int fx_teardown(void **state) {
    struct msvc_fx *x = *state;
    api_stop(x->f);
    free(x);
    return 0;
}

static inline uint32_t fx_flags(struct api_fixture *f, const char *fog) {
    uint32_t mask = 0;
    int64_t version = 0;
    struct iof_diag d = {{0}};
    assert_int_equal(ctl_store_flags_get(f->store, fog, &mask, &version, &d), IOF_OK);
    return mask;
}

/* Acknowledges everything pending on every node (so a test sees only what comes next). */
static inline void fx_ack_all(struct api_fixture *f) {
    static const char *const fogs[] = {"fog-x86", "fog-x86b", "fog-arm", "fog-u2"};
    for (size_t i = 0; i < sizeof fogs / sizeof fogs[0]; i++) {
        uint32_t mask = 0;
        int64_t version = 0;
        struct iof_diag d = {{0}};
        assert_int_equal(ctl_store_flags_get(f->store, fogs[i], &mask, &version, &d), IOF_OK);
        assert_int_equal(ctl_store_flags_ack(f->store, fogs[i], version, &d), IOF_OK);
    }
}

/* One value of a query (first row, first column) as text into buf ("" for NULL). */
static inline const char *fx_value(struct api_fixture *f, const char *sql, char *buf, size_t n) {
    json_t *rows = NULL;
    struct iof_diag d = {{0}};
    assert_int_equal(ctl_db_query_json(ctl_store_db(f->store), sql, NULL, 0, &rows, &d), IOF_OK);
    json_t *row = json_array_get(rows, 0);
    const char *key = NULL;
    json_t *v = NULL;
    buf[0] = '\0';
    json_object_foreach(row, key, v) {
        if (json_is_string(v)) {
            (void)snprintf(buf, n, "%s", json_string_value(v));
        } else if (json_is_integer(v)) {
            (void)snprintf(buf, n, "%lld", (long long)json_integer_value(v));
        }
        break;
    }
    json_decref(rows);
    return buf;
}

/* Creates a microservice from body with token; asserts 201 and copies its uuid into uuid[33]. */
static inline void
fx_create(struct api_fixture *f, const char *token, const char *body, char uuid[33]) {
    json_t *a = NULL;
    long st = api_call(f, "POST", "/api/v3/microservices", token, body, &a);
    if (st != 201) {
        fprintf(stderr, "create: %ld %s\n", st, jstr(a, "message"));
    }
    assert_int_equal(st, 201);
    assert_int_equal(strlen(jstr(a, "uuid")), 32);
    memcpy(uuid, jstr(a, "uuid"), 33);
    json_decref(a);
}

#endif
