/* Unit tests of the image reference parser: hosts with ports, namespaces, tags, digests, and the
 * references Docker rejects. */
#include "common/imageref.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static void expect_ref(
    const char *text, const char *host, const char *repo, const char *tag, const char *digest) {
    struct iof_imageref r;
    struct iof_diag d = {{0}};
    iof_err err = iof_imageref_parse(text, &r, &d);
    if (err != IOF_OK) {
        fail_msg("%s: %s", text, d.msg);
    }
    assert_string_equal(r.host, host);
    assert_string_equal(r.repo, repo);
    assert_string_equal(r.tag, tag);
    assert_string_equal(r.digest, digest);
}

static void expect_bad(const char *text, const char *needle) {
    struct iof_imageref r;
    struct iof_diag d = {{0}};
    assert_int_equal(iof_imageref_parse(text, &r, &d), IOF_EINVAL);
    if (strstr(d.msg, needle) == NULL) {
        fail_msg("%s: '%s' does not mention '%s'", text, d.msg, needle);
    }
}

static void test_plain_names(void **state) {
    (void)state;
    expect_ref("busybox", "", "busybox", "latest", "");
    expect_ref("busybox:1.36", "", "busybox", "1.36", "");
    expect_ref("iofog/agent-demo:v3", "", "iofog/agent-demo", "v3", "");
    expect_ref("a/b/c", "", "a/b/c", "latest", "");
    expect_ref("my_img__x.y-z:TAG_1.0-rc", "", "my_img__x.y-z", "TAG_1.0-rc", "");
}

static void test_hosts(void **state) {
    (void)state;
    expect_ref("host:5000/ns/img:tag", "host:5000", "host:5000/ns/img", "tag", "");
    expect_ref("127.0.0.1:5000/img", "127.0.0.1:5000", "127.0.0.1:5000/img", "latest", "");
    expect_ref(
        "registry.example.com/img:1", "registry.example.com", "registry.example.com/img", "1", "");
    expect_ref("localhost/img", "localhost", "localhost/img", "latest", "");
    /* a first component without '.' or ':' is a namespace, not a host */
    expect_ref("library/img", "", "library/img", "latest", "");
}

static void test_digests(void **state) {
    (void)state;
    const char *hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    char text[256];
    snprintf(text, sizeof text, "img@sha256:%s", hex);
    char digest[128];
    snprintf(digest, sizeof digest, "sha256:%s", hex);
    expect_ref(text, "", "img", "", digest);
    struct iof_imageref r;
    assert_int_equal(iof_imageref_parse(text, &r, NULL), IOF_OK);
    assert_string_equal(iof_imageref_pull_tag(&r), digest);
    char out[256];
    assert_int_equal(iof_imageref_format(&r, out, sizeof out), IOF_OK);
    assert_string_equal(out, text);

    snprintf(text, sizeof text, "h:1/img:t@sha256:%s", hex);
    expect_ref(text, "h:1", "h:1/img", "t", digest);
}

static void test_format(void **state) {
    (void)state;
    struct iof_imageref r;
    assert_int_equal(iof_imageref_parse("host:5000/img", &r, NULL), IOF_OK);
    char out[64];
    assert_int_equal(iof_imageref_format(&r, out, sizeof out), IOF_OK);
    assert_string_equal(out, "host:5000/img:latest");
    assert_string_equal(iof_imageref_pull_tag(&r), "latest");
    assert_int_equal(iof_imageref_format(&r, out, 5), IOF_E2BIG);
}

static void test_invalid(void **state) {
    (void)state;
    expect_bad("", "empty");
    expect_bad("Busybox", "repository name");
    expect_bad("img:", "tag");
    expect_bad("img:bad/tag", "host"); /* the ':' is taken as a host port */
    expect_bad("ns//img", "repository name");
    expect_bad("img@sha256:xyz", "digest");
    expect_bad("img@", "digest");
    expect_bad(":tag", "repository");
    expect_bad("host:port/img", "host");
    expect_bad("host:5000/", "repository");
    expect_bad("img-", "repository name");
    expect_bad("img with space", "repository name");
    char longref[600];
    memset(longref, 'a', sizeof longref - 1);
    longref[sizeof longref - 1] = '\0';
    expect_bad(longref, "too long");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_names),
        cmocka_unit_test(test_hosts),
        cmocka_unit_test(test_digests),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
