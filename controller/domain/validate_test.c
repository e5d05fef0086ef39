/* Tests of the shared validation rules. */
#include "controller/domain/validate.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void test_names(void **state) {
    (void)state;
    static const char *const good[] = {"a", "app", "my-app", "a1.b2", "sensor-1.v2", "0"};
    static const char *const bad[] = {"", "-a", "a-", "A", "a_b", "a..b", ".a", "a.", "a b", "é"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_true(ctl_name_valid(good[i]));
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (ctl_name_valid(bad[i])) {
            fail_msg("accepted '%s'", bad[i]);
        }
    }
    assert_false(ctl_name_valid(NULL));
    struct iof_diag d;
    assert_int_equal(ctl_name_check("name", "Bad", &d), IOF_EINVAL);
    assert_non_null(strstr(d.msg, "'name'"));
}

static void test_uuid(void **state) {
    (void)state;
    char a[CTL_UUID_LEN + 1], b[CTL_UUID_LEN + 1];
    assert_int_equal(ctl_uuid_new(a), IOF_OK);
    assert_int_equal(ctl_uuid_new(b), IOF_OK);
    assert_int_equal(strlen(a), CTL_UUID_LEN);
    assert_string_not_equal(a, b);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_names), cmocka_unit_test(test_uuid)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
