/* kill -9 in the middle of a write loop: after a restart the database opens and holds every write
 * that had been answered with success (SQLite WAL; a commit is answered only after it returned). */
#include "controller/api/api_testutil.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#define MAX_WRITES 2000

struct writer {
    struct api_fixture *f;
    int answered; /* ids [0, answered) were answered 201 */
    _Atomic bool stop;
};

static void *write_loop(void *arg) {
    struct writer *w = arg;
    struct iof_http_client_opts opts = {.timeout_ms = 5000, .connect_timeout_ms = 1000};
    struct iof_http_client *c = NULL;
    if (iof_http_client_new(&opts, &c) != IOF_OK) {
        return NULL;
    }
    char signup[128];
    (void)snprintf(
        signup, sizeof signup, "http://127.0.0.1:%u/api/v3/user/signup", (unsigned)w->f->port);
    for (int i = 0; i < MAX_WRITES && !w->stop; i++) {
        char body[200];
        (void)snprintf(body,
                       sizeof body,
                       "{\"firstName\":\"Dur\",\"lastName\":\"Able\",\"email\":\"u%d@example.com\","
                       "\"password\":\"password1\"}",
                       i);
        const char *headers[] = {"Content-Type: application/json", NULL};
        struct iof_http_response r;
        struct iof_diag d;
        if (iof_http_client_request(c, "POST", signup, headers, body, strlen(body), &r, &d) !=
            IOF_OK) {
            break; /* the server is gone */
        }
        long st = r.status;
        iof_http_response_free(&r);
        if (st != 201) {
            break;
        }
        w->answered = i + 1;
    }
    iof_http_client_free(c);
    return NULL;
}

static void test_kill9_keeps_answered_writes(void **state) {
    (void)state;
    struct api_fixture *f = api_start();
    assert_non_null(f);
    struct writer w = {.f = f};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, write_loop, &w), 0);
    /* Let some writes land, then kill the server while the loop is still writing. Each signup
     * hashes a password (argon2id): under a sanitizer on a loaded machine ten can take seconds. */
    for (int i = 0; i < 3000 && w.answered < 10; i++) {
        nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
    }
    assert_true(w.answered >= 10);
    api_kill9(f);
    w.stop = true;
    pthread_join(t, NULL);
    int answered = w.answered;
    print_message("durability: %d writes answered before kill -9\n", answered);

    /* The database opens at the next start and has every answered write. */
    assert_int_equal(api_spawn(f), 0);
    json_t *a = NULL;
    assert_int_equal(api_call(f, "GET", "/api/v3/admin/users", f->admin, NULL, &a), 200);
    json_t *users = json_object_get(a, "users");
    assert_true(json_array_size(users) >= (size_t)answered);
    for (int i = 0; i < answered; i++) {
        char email[64];
        (void)snprintf(email, sizeof email, "u%d@example.com", i);
        bool found = false;
        size_t k;
        json_t *u;
        json_array_foreach(users, k, u) {
            found = found || strcmp(jstr(u, "email"), email) == 0;
        }
        if (!found) {
            fail_msg("answered write %s is missing after kill -9", email);
        }
    }
    json_decref(a);
    api_stop(f);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_kill9_keeps_answered_writes)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
