/* Out-of-memory behaviour: every allocation made by the SDK and the shared modules it uses is made
 * to fail in turn, the first, then the second, and so on, while a scenario runs the codec,
 * configuration, client creation, message lists and the frame parser. Each call must fail cleanly
 * with an error code (no abort, no crash) and leave nothing allocated: ASan's leak check runs at
 * exit. The hooks come from -Wl,--wrap (see sdk/CMakeLists.txt), so only this test executable is
 * affected, and only allocations made from statically linked code: jansson keeps its own malloc,
 * because jansson 2.14's parser itself crashes when one of its allocations fails (json_loads of a
 * 21-key object, 15th allocation), which no caller can prevent. */
#include "iofog/iofog.h"
#include "sdk/internal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);

static long alloc_count;
static long fail_at = -1; /* index of the allocation that fails; -1: none */
static bool failed;

static bool should_fail(void) {
    if (fail_at >= 0 && alloc_count++ == fail_at) {
        failed = true;
        return true;
    }
    return false;
}

void *__wrap_malloc(size_t n) {
    return should_fail() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size) {
    return should_fail() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n) {
    return should_fail() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = __wrap_malloc(n);
    if (p != NULL) {
        memcpy(p, s, n);
    }
    return p;
}

/* A result is acceptable when it is success or a clean failure code. */
static void acceptable(int rc) {
    assert_true(rc == IOFOG_OK || rc == IOFOG_ENOMEM || rc == IOFOG_EPROTO || rc == IOFOG_EINVAL);
}

static const uint8_t payload[] = {1, 0, 2, 0};

static void scenario(void) {
    struct iofog_message m;
    iofog_message_init(&m);
    m.publisher = "pub";
    m.infotype = "t";
    m.infoformat = "f";
    m.contentdata = payload;
    m.contentdata_len = sizeof payload;

    uint8_t *bytes = NULL;
    size_t len = 0;
    int rc = iofog_message_encode(&m, &bytes, &len);
    acceptable(rc);
    if (rc == IOFOG_OK) {
        struct iofog_message *back = NULL;
        rc = iofog_message_decode(bytes, len, &back);
        acceptable(rc);
        if (rc == IOFOG_OK) {
            struct iofog_message *copy = NULL;
            acceptable(iofog_message_copy(back, &copy));
            iofog_message_free(copy);
        }
        iofog_message_free(back);
        iofog_free(bytes);
    }

    char *json = NULL;
    rc = iofog_message_to_json(&m, &json);
    acceptable(rc);
    if (rc == IOFOG_OK) {
        struct iofog_message *back = NULL;
        acceptable(iofog_message_from_json(json, strlen(json), &back));
        iofog_message_free(back);
        iofog_free(json);
    }

    static const char cfg_text[] = "{\"frequency\":100,\"name\":\"x\",\"list\":[1,2,3]}";
    struct iofog_config *cfg = NULL;
    rc = iofog_config_parse(cfg_text, sizeof cfg_text - 1, &cfg);
    acceptable(rc);
    if (rc == IOFOG_OK) {
        int64_t f = 0;
        assert_int_equal(iofog_config_get_int(cfg, "frequency", &f), IOFOG_OK);
        iofog_config_free(cfg);
    }

    struct iofog_options o;
    iofog_options_init(&o);
    o.id = "ms";
    struct iofog_client *c = NULL;
    rc = iofog_client_new(&o, &c);
    acceptable(rc);
    iofog_client_free(c);

    static const char list_text[] =
        "[{\"publisher\":\"a\",\"contentdata\":\"AQA=\"},{\"publisher\":\"b\"},{\"tag\":\"c\"}]";
    json_t *arr = json_loads(list_text, 0, NULL);
    if (arr != NULL) {
        struct iofog_message_list *list = NULL;
        iof_err err = iofog_sdk_msg_list_from_json(arr, &list, NULL);
        assert_true(err == IOF_OK || err == IOF_ENOMEM || err == IOF_EPROTO);
        iofog_message_list_free(list);
        json_decref(arr);
    }

    struct iof_msg im;
    iofog_sdk_msg_view(&m, &im);
    uint8_t *frame = NULL;
    if (iof_msg_frame_encode(&im, &frame, &len, NULL) == IOF_OK) {
        struct iofog_sdk_frame f;
        iof_err err = iofog_sdk_frame_parse(frame, len, 1 << 20, &f, NULL);
        assert_true(err == IOF_OK || err == IOF_ENOMEM);
        if (err == IOF_OK) {
            iof_msg_free(f.msg);
        }
        free(frame);
    }
}

static void test_every_allocation_fails_once(void **state) {
    (void)state;
    long runs = 0;
    for (long n = 0; n < 100000; n++) {
        alloc_count = 0;
        fail_at = n;
        failed = false;
        scenario();
        runs++;
        if (!failed) {
            break; /* the scenario made fewer than n + 1 allocations: every point was covered */
        }
    }
    fail_at = -1;
    print_message("failure points covered: %ld\n", runs - 1);
    assert_true(runs > 10);
    assert_false(failed);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_allocation_fails_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
