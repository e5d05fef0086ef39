/* The text a log WebSocket sends must be UTF-8 (a browser fails the connection otherwise):
 * ctl_logs_ws_utf8 keeps well-formed sequences and replaces every other byte with U+FFFD. */
#include "controller/api/logs_ws.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void check(const char *in, size_t n, const char *want) {
    unsigned char out[256];
    assert_true(3 * n <= sizeof out);
    size_t len = ctl_logs_ws_utf8((const unsigned char *)in, n, out);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(out, want, len);
}

static void test_valid_passes(void **state) {
    (void)state;
    check("tick 1\n", 7, "tick 1\n");
    const char *mixed = "gr\xC3\xBC\xC3\x9F \xE2\x82\xAC \xF0\x9F\x98\x80\n";
    check(mixed, strlen(mixed), "gr\xC3\xBC\xC3\x9F \xE2\x82\xAC \xF0\x9F\x98\x80\n");
    check("", 0, "");
    unsigned char nul[3];
    assert_int_equal(ctl_logs_ws_utf8((const unsigned char *)"a\0b", 3, nul), 3);
    assert_memory_equal(nul, "a\0b", 3); /* NUL is valid UTF-8 */
}

static void test_invalid_replaced(void **state) {
    (void)state;
    check("\xFF", 1, "\xEF\xBF\xBD");
    check("a\x80z", 3, "a\xEF\xBF\xBDz");
    /* overlong "/" and a surrogate: every byte replaced */
    check("\xC0\xAF", 2, "\xEF\xBF\xBD\xEF\xBF\xBD");
    check("\xED\xA0\x80", 3, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
    /* above U+10FFFF */
    check("\xF4\x90\x80\x80", 4, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
    /* a sequence cut short by the end or by an ASCII byte */
    check("x\xE2\x82", 3, "x\xEF\xBF\xBD\xEF\xBF\xBD");
    check("\xE2\x82\n", 3, "\xEF\xBF\xBD\xEF\xBF\xBD\n");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_passes),
        cmocka_unit_test(test_invalid_replaced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
