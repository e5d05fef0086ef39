/* Unit tests of the common module: errors, logging helpers, time, random, base64, buffers, JSON. */
#include "common/base64.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/json.h"
#include "common/utf8.h"
#include "common/log.h"
#include "common/random.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void test_error_names(void **state) {
    (void)state;
    assert_string_equal(iof_err_name(IOF_EINVAL), "ValidationError");
    assert_string_equal(iof_err_name(IOF_ENOENT), "NotFoundError");
    assert_string_equal(iof_err_name(IOF_EAUTH), "AuthenticationError");
    assert_string_equal(iof_strerror(IOF_ENOENT), "not found");
    assert_string_equal(iof_strerror((iof_err)999), "unknown error");
    for (int e = 0; e < IOF_ERR_COUNT; e++) {
        assert_non_null(iof_strerror((iof_err)e));
        assert_non_null(iof_err_name((iof_err)e));
    }
    struct iof_diag d;
    iof_diag_clear(&d);
    assert_string_equal(iof_diag_text(&d, IOF_EIO), "input/output error");
    assert_int_equal(iof_fail(&d, IOF_EINVAL, "field '%s'", "x"), IOF_EINVAL);
    assert_string_equal(iof_diag_text(&d, IOF_EINVAL), "field 'x'");
    assert_int_equal(iof_fail(NULL, IOF_EIO, "ignored"), IOF_EIO);
}

static void test_log_level_and_quote(void **state) {
    (void)state;
    enum iof_log_level l;
    assert_int_equal(iof_log_level_parse("DEBUG", &l), IOF_OK);
    assert_int_equal(l, IOF_LOG_DEBUG);
    assert_int_equal(iof_log_level_parse("warning", &l), IOF_OK);
    assert_int_equal(l, IOF_LOG_WARN);
    assert_int_equal(iof_log_level_parse("verbose", &l), IOF_EINVAL);
    iof_log_set_level(IOF_LOG_WARN);
    assert_false(iof_log_enabled(IOF_LOG_INFO));
    assert_true(iof_log_enabled(IOF_LOG_ERROR));
    assert_false(iof_log_enabled(IOF_LOG_OFF));
    setenv("IOFOG_LOG_LEVEL", "nonsense", 1);
    assert_int_equal(iof_log_init_from_env(), IOF_EINVAL);
    assert_int_equal(iof_log_get_level(), IOF_LOG_WARN);
    setenv("IOFOG_LOG_LEVEL", "error", 1);
    assert_int_equal(iof_log_init_from_env(), IOF_OK);
    assert_int_equal(iof_log_get_level(), IOF_LOG_ERROR);
    unsetenv("IOFOG_LOG_LEVEL");

    char q[32];
    assert_string_equal(iof_log_quote(q, sizeof q, "a \"b\"\n"), "\"a \\\"b\\\"\\n\"");
    /* Truncation keeps the quotes balanced. */
    iof_log_quote(q, 8, "abcdefghij");
    assert_int_equal(strlen(q), 7);
    assert_int_equal(q[0], '"');
    assert_int_equal(q[6], '"');
}

static void test_time(void **state) {
    (void)state;
    char s[32];
    assert_int_equal(iof_time_format_iso8601(1452214777495, s, sizeof s), IOF_OK);
    assert_string_equal(s, "2016-01-08T00:59:37.495Z");
    assert_int_equal(iof_time_format_iso8601(0, s, sizeof s), IOF_OK);
    assert_string_equal(s, "1970-01-01T00:00:00.000Z");
    assert_int_equal(iof_time_format_iso8601(0, s, 10), IOF_E2BIG);

    int64_t ms;
    assert_int_equal(iof_time_parse_iso8601("2016-01-08T00:59:37.495Z", &ms), IOF_OK);
    assert_int_equal(ms, 1452214777495);
    assert_int_equal(iof_time_parse_iso8601("2016-01-08T01:59:37.495+01:00", &ms), IOF_OK);
    assert_int_equal(ms, 1452214777495);
    assert_int_equal(iof_time_parse_iso8601("2024-02-29T00:00:00Z", &ms), IOF_OK);
    assert_int_equal(iof_time_parse_iso8601("2023-02-29T00:00:00Z", &ms), IOF_EINVAL);
    assert_int_equal(iof_time_parse_iso8601("2016-01-08", &ms), IOF_EINVAL);
    assert_int_equal(iof_time_parse_iso8601("2016-01-08T00:59:37.495Zjunk", &ms), IOF_EINVAL);
    /* Round trip over a range of instants, including before the epoch. */
    for (int64_t t = -86400000LL * 400; t < 4102444800000LL; t += 86400000LL * 97 + 12345) {
        assert_int_equal(iof_time_format_iso8601(t, s, sizeof s), IOF_OK);
        assert_int_equal(iof_time_parse_iso8601(s, &ms), IOF_OK);
        assert_int_equal(ms, t);
    }
    int64_t a = iof_time_mono_ms();
    assert_true(iof_time_mono_ms() >= a);
    assert_true(iof_time_now_ms() > 1700000000000LL);
}

static void test_random(void **state) {
    (void)state;
    char a[65], b[65];
    assert_int_equal(iof_random_string(a, 64, IOF_ALPHABET_HEX), IOF_OK);
    assert_int_equal(iof_random_string(b, 64, IOF_ALPHABET_HEX), IOF_OK);
    assert_int_equal(strlen(a), 64);
    assert_int_equal(strspn(a, IOF_ALPHABET_HEX), 64);
    assert_string_not_equal(a, b);
    assert_int_equal(iof_random_string(a, 16, IOF_ALPHABET_FOG_TOKEN), IOF_OK);
    assert_int_equal(strspn(a, IOF_ALPHABET_FOG_TOKEN), 16);
    assert_int_equal(iof_random_string(a, 4, "x"), IOF_EINVAL);

    /* Every symbol of a 46-character alphabet shows up over enough draws, none outside it. */
    static char big[46 * 200 + 1];
    assert_int_equal(iof_random_string(big, sizeof big - 1, IOF_ALPHABET_FOG_TOKEN), IOF_OK);
    for (const char *c = IOF_ALPHABET_FOG_TOKEN; *c != '\0'; c++) {
        assert_non_null(strchr(big, *c));
    }

    char u[37];
    assert_int_equal(iof_random_uuid(u), IOF_OK);
    assert_int_equal(strlen(u), 36);
    assert_int_equal(u[8], '-');
    assert_int_equal(u[14], '4');
    assert_non_null(strchr("89ab", u[19]));
}

static void test_base64(void **state) {
    (void)state;
    /* RFC 4648 §10 vectors. */
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const coded[] = {
        "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        char out[16];
        assert_int_equal(
            iof_base64_encode((const uint8_t *)plain[i], strlen(plain[i]), out, sizeof out),
            IOF_OK);
        assert_string_equal(out, coded[i]);
        uint8_t back[16];
        size_t n = 99;
        assert_int_equal(iof_base64_decode(coded[i], strlen(coded[i]), back, sizeof back, &n),
                         IOF_OK);
        assert_int_equal(n, strlen(plain[i]));
        assert_memory_equal(back, plain[i], n);
    }
    uint8_t out[16];
    size_t n;
    static const char *const bad[] = {
        "Zg=", "Zg==\n", "Z===", "Zm9v\nYmFy", "Zm-_", "=Zg=", "Zg==Zg=="};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(iof_base64_decode(bad[i], strlen(bad[i]), out, sizeof out, &n),
                         IOF_EINVAL);
    }
    assert_int_equal(iof_base64_decode("Zm9vYmFy", 8, out, 5, &n), IOF_E2BIG);
    char small[4];
    assert_int_equal(iof_base64_encode((const uint8_t *)"foo", 3, small, sizeof small), IOF_E2BIG);
}

static void test_buf(void **state) {
    (void)state;
    struct iof_buf b;
    iof_buf_init(&b, 10);
    assert_int_equal(iof_buf_append(&b, "hello", 5), IOF_OK);
    assert_int_equal(iof_buf_printf(&b, "%d", 1234), IOF_OK);
    assert_string_equal((char *)b.data, "hello1234");
    assert_int_equal(iof_buf_append(&b, "xy", 2), IOF_E2BIG);
    assert_int_equal(b.len, 9);
    assert_int_equal(iof_buf_append(&b, "x", 1), IOF_OK);
    assert_int_equal(iof_buf_printf(&b, "y"), IOF_E2BIG);
    size_t len;
    uint8_t *p = iof_buf_steal(&b, &len);
    assert_int_equal(len, 10);
    assert_string_equal((char *)p, "hello1234x");
    free(p);
    assert_null(b.data);
    iof_buf_free(&b);
}

static void test_utf8_repair(void **state) {
    (void)state;
    static const struct {
        const char *in, *out;
        size_t replaced;
    } cases[] = {
        {"caf\xE9", "caf\xEF\xBF\xBD", 1},
        {"\xE2\x82"
         "a",
         "\xEF\xBF\xBD"
         "a",
         1}, /* truncated 3-byte sequence: one */
        {"\xF0\x80\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD", 3}, /* overlong */
        {"\xED\xA0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD", 3}, /* surrogate */
        {"ok \xE2\x82\xAC", "ok \xE2\x82\xAC", 0},
        {"\xF4\x90", "\xEF\xBF\xBD\xEF\xBF\xBD", 2}, /* above U+10FFFF */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = 99, r = 99;
        char *o = iof_utf8_repair(cases[i].in, strlen(cases[i].in), &n, &r);
        assert_non_null(o);
        assert_string_equal(o, cases[i].out);
        assert_int_equal(n, strlen(cases[i].out));
        assert_int_equal(r, cases[i].replaced);
        assert_true(iof_utf8_valid(o, n));
        free(o);
    }
}

static void test_json(void **state) {
    (void)state;
    struct iof_diag d;
    json_t *v = NULL;
    /* Classic (JSON.parse): a duplicate key keeps its last value. */
    const char *dup = "{\"a\":1,\"b\":{\"c\":1,\"c\":\"x\"},\"a\":2}";
    assert_int_equal(iof_json_parse(dup, strlen(dup), &v, &d), IOF_OK);
    assert_int_equal(json_object_size(v), 2);
    assert_int_equal(json_integer_value(json_object_get(v, "a")), 2);
    assert_string_equal(json_string_value(json_object_get(json_object_get(v, "b"), "c")), "x");
    json_decref(v);
    /* Latin-1 text (0xE9 is "é"): each ill-formed byte becomes U+FFFD, counted. */
    const char *latin1 = "{\"tag\":\"caf\xE9\",\"x\":\"\xC3\xA9\xE9\xE9!\"}";
    size_t fixed = 0;
    assert_int_equal(iof_json_parse_repair(latin1, strlen(latin1), &v, &fixed, &d), IOF_OK);
    assert_int_equal(fixed, 3);
    assert_string_equal(json_string_value(json_object_get(v, "tag")), "caf\xEF\xBF\xBD");
    assert_string_equal(json_string_value(json_object_get(v, "x")),
                        "\xC3\xA9\xEF\xBF\xBD\xEF\xBF\xBD!");
    json_decref(v);
    const char *bad = "{\"a\":";
    assert_int_equal(iof_json_parse(bad, strlen(bad), &v, &d), IOF_EINVAL);
    assert_non_null(strstr(d.msg, "line 1"));
    assert_int_equal(iof_json_parse_object("[1]", 3, &v, &d), IOF_EINVAL);
    assert_int_equal(iof_json_parse("{} x", 4, &v, &d), IOF_EINVAL);

    const char *ok = "{\"name\":\"n\",\"n\":5,\"r\":3.0,\"f\":2.5,\"b\":true,\"o\":{},\"a\":[],"
                     "\"z\":null}";
    assert_int_equal(iof_json_parse_object(ok, strlen(ok), &v, &d), IOF_OK);
    const char *s = NULL;
    assert_int_equal(iof_json_get_string(v, "name", IOF_JSON_REQUIRED, &s, &d), IOF_OK);
    assert_string_equal(s, "n");
    assert_int_equal(iof_json_get_string(v, "missing", IOF_JSON_REQUIRED, &s, &d), IOF_EINVAL);
    assert_string_equal(d.msg, "Required field 'missing' is missing");
    assert_int_equal(iof_json_get_string(v, "z", IOF_JSON_REQUIRED, &s, &d), IOF_EINVAL);
    s = "unchanged";
    assert_int_equal(iof_json_get_string(v, "z", IOF_JSON_OPTIONAL, &s, &d), IOF_OK);
    assert_string_equal(s, "unchanged");
    assert_int_equal(iof_json_get_string(v, "n", IOF_JSON_OPTIONAL, &s, &d), IOF_EINVAL);
    assert_string_equal(d.msg, "Invalid format for field 'n'");

    int64_t i = 0;
    assert_int_equal(iof_json_get_int(v, "n", IOF_JSON_REQUIRED, &i, &d), IOF_OK);
    assert_int_equal(i, 5);
    assert_int_equal(iof_json_get_int(v, "r", IOF_JSON_REQUIRED, &i, &d), IOF_OK);
    assert_int_equal(i, 3);
    assert_int_equal(iof_json_get_int(v, "f", IOF_JSON_REQUIRED, &i, &d), IOF_EINVAL);
    double f = 0;
    assert_int_equal(iof_json_get_number(v, "f", IOF_JSON_REQUIRED, &f, &d), IOF_OK);
    assert_true(f == 2.5);
    bool b = false;
    assert_int_equal(iof_json_get_bool(v, "b", IOF_JSON_REQUIRED, &b, &d), IOF_OK);
    assert_true(b);
    assert_int_equal(iof_json_get_bool(v, "n", IOF_JSON_REQUIRED, &b, &d), IOF_EINVAL);
    const json_t *o = NULL;
    assert_int_equal(iof_json_get_object(v, "o", IOF_JSON_REQUIRED, &o, &d), IOF_OK);
    assert_non_null(o);
    assert_int_equal(iof_json_get_array(v, "a", IOF_JSON_REQUIRED, &o, &d), IOF_OK);
    assert_int_equal(iof_json_get_array(v, "o", IOF_JSON_REQUIRED, &o, &d), IOF_EINVAL);

    char *text = NULL;
    size_t len = 0;
    assert_int_equal(iof_json_dump(o, &text, &len), IOF_OK);
    assert_string_equal(text, "[]");
    assert_int_equal(len, 2);
    free(text);
    json_decref(v);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_names),
        cmocka_unit_test(test_log_level_and_quote),
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_buf),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_utf8_repair),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
