/* Tests of the multipart/form-data part finder. */
#include "http/multipart.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static iof_err get(const char *ct,
                   const char *body,
                   size_t len,
                   const char *field,
                   char *out,
                   size_t cap,
                   struct iof_diag *d) {
    const uint8_t *p = NULL;
    size_t n = 0;
    iof_err err = iof_http_multipart_part(ct, (const uint8_t *)body, len, field, &p, &n, d);
    if (err == IOF_OK) {
        assert_true(n < cap);
        assert_true(p >= (const uint8_t *)body && p + n <= (const uint8_t *)body + len);
        memcpy(out, p, n);
        out[n] = '\0';
    }
    return err;
}

static const char curl_body[] = "--------------------------d74496d66958873e\r\n"
                                "Content-Disposition: form-data; name=\"other\"\r\n"
                                "\r\n"
                                "ignored\r\n"
                                "--------------------------d74496d66958873e\r\n"
                                "Content-Disposition: form-data; name=\"application\"; "
                                "filename=\"app.yaml\"\r\n"
                                "Content-Type: application/octet-stream\r\n"
                                "\r\n"
                                "kind: Application\r\nmetadata:\r\n  name: a\r\n"
                                "--------------------------d74496d66958873e--\r\n";
static const char curl_ct[] =
    "multipart/form-data; boundary=------------------------d74496d66958873e";

static void test_finds_named_part(void **state) {
    (void)state;
    char out[256];
    struct iof_diag d = {{0}};
    assert_int_equal(
        get(curl_ct, curl_body, sizeof curl_body - 1, "application", out, sizeof out, &d), IOF_OK);
    assert_string_equal(out, "kind: Application\r\nmetadata:\r\n  name: a");
    assert_int_equal(get(curl_ct, curl_body, sizeof curl_body - 1, "other", out, sizeof out, &d),
                     IOF_OK);
    assert_string_equal(out, "ignored");
    assert_int_equal(get(curl_ct, curl_body, sizeof curl_body - 1, "template", out, sizeof out, &d),
                     IOF_ENOENT);
    assert_string_equal(d.msg, "Required field 'template' is missing");
}

static void test_variants(void **state) {
    (void)state;
    char out[256];
    struct iof_diag d = {{0}};
    /* Quoted boundary, preamble, LF-only headers, empty part, binary bytes with NUL. */
    static const char body[] = "preamble text\r\n--AaB03x\r\n"
                               "content-disposition: form-data; name=empty\n\n"
                               "\r\n--AaB03x  \r\n"
                               "Content-Disposition: form-data; name=\"f\\\"q\"\r\n\r\n"
                               "a\0b\r\n--AaB03x--";
    const char *ct = "Multipart/Form-Data; charset=utf-8; boundary=\"AaB03x\"";
    assert_int_equal(get(ct, body, sizeof body - 1, "empty", out, sizeof out, &d), IOF_OK);
    assert_string_equal(out, "");
    const uint8_t *p = NULL;
    size_t n = 0;
    assert_int_equal(
        iof_http_multipart_part(ct, (const uint8_t *)body, sizeof body - 1, "f\"q", &p, &n, &d),
        IOF_OK);
    assert_int_equal(n, 3);
    assert_memory_equal(p, "a\0b", 3);
}

static void test_malformed(void **state) {
    (void)state;
    char out[64];
    struct iof_diag d = {{0}};
    assert_int_equal(get("application/json", "{}", 2, "a", out, sizeof out, &d), IOF_EINVAL);
    assert_string_equal(d.msg, "Invalid content type: multipart/form-data expected");
    assert_int_equal(get(NULL, "{}", 2, "a", out, sizeof out, &d), IOF_EINVAL);
    assert_int_equal(get("multipart/form-data", "x", 1, "a", out, sizeof out, &d), IOF_EINVAL);
    assert_non_null(strstr(d.msg, "boundary"));
    const char *ct = "multipart/form-data; boundary=XX";
    static const char unclosed[] = "--XX\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nabc";
    assert_int_equal(get(ct, unclosed, sizeof unclosed - 1, "a", out, sizeof out, &d), IOF_EINVAL);
    assert_string_equal(d.msg, "Invalid multipart body: no closing boundary");
    static const char noheaders_end[] = "--XX\r\nContent-Disposition: form-data; name=\"a\"";
    assert_int_equal(get(ct, noheaders_end, sizeof noheaders_end - 1, "a", out, sizeof out, &d),
                     IOF_EINVAL);
    static const char not_form[] = "--XX\r\nContent-Disposition: attachment\r\n\r\nx\r\n--XX--";
    assert_int_equal(get(ct, not_form, sizeof not_form - 1, "a", out, sizeof out, &d), IOF_EINVAL);
    assert_int_equal(get(ct, "", 0, "a", out, sizeof out, &d), IOF_EINVAL);
    static const char nocrlf[] = "--XXjunk\r\n\r\nx\r\n--XX--";
    assert_int_equal(get(ct, nocrlf, sizeof nocrlf - 1, "a", out, sizeof out, &d), IOF_EINVAL);
    /* A boundary over 70 characters is refused. */
    char longct[200];
    (void)snprintf(longct, sizeof longct, "multipart/form-data; boundary=%0100d", 7);
    assert_int_equal(get(longct, "x", 1, "a", out, sizeof out, &d), IOF_EINVAL);
    /* Too many parts. */
    size_t cap = 100 * 64;
    char *many = malloc(cap);
    assert_non_null(many);
    size_t len = 0;
    for (int i = 0; i < 70; i++) {
        len += (size_t)snprintf(many + len,
                                cap - len,
                                "--XX\r\nContent-Disposition: form-data; name=\"p%d\"\r\n\r\nv\r\n",
                                i);
    }
    len += (size_t)snprintf(many + len, cap - len, "--XX--\r\n");
    assert_int_equal(get(ct, many, len, "p69", out, sizeof out, &d), IOF_EINVAL);
    assert_string_equal(d.msg, "Invalid multipart body: too many parts");
    assert_int_equal(get(ct, many, len, "p3", out, sizeof out, &d), IOF_OK);
    assert_string_equal(out, "v");
    free(many);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_finds_named_part),
        cmocka_unit_test(test_variants),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
