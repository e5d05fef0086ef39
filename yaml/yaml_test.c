/* Tests of the YAML to JSON converter: typing, collections, anchors and their bounds,
 * multi-document streams and error positions. */
#include "yaml/yaml.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* Converts text and compares with the JSON expected (parsed with jansson). */
static void expect_json(const char *yaml, const char *json) {
    json_t *got = NULL;
    struct iof_diag d = {{0}};
    iof_err err = iof_yaml_to_json(yaml, strlen(yaml), 32, &got, &d);
    if (err != IOF_OK) {
        fail_msg("%s: %s", yaml, d.msg);
    }
    json_t *want = json_loads(json, JSON_DECODE_ANY, NULL);
    assert_non_null(want);
    if (!json_equal(got, want)) {
        char *s = json_dumps(got, JSON_ENCODE_ANY);
        fail_msg("%s gave %s, wanted %s", yaml, s, json);
    }
    json_decref(got);
    json_decref(want);
}

static iof_err convert_err(const char *yaml, size_t depth, struct iof_diag *d) {
    json_t *got = NULL;
    iof_err err = iof_yaml_to_json(yaml, strlen(yaml), depth, &got, d);
    assert_null(got);
    return err;
}

static void test_scalar_typing(void **state) {
    (void)state;
    expect_json("[null, Null, NULL, ~, true, True, FALSE, yes, no, on, off]",
                "[null, null, null, null, true, true, false, \"yes\", \"no\", \"on\", \"off\"]");
    expect_json("[0, -17, +5, 0o17, 0x1F, 0x, 012, 1_000]",
                "[0, -17, 5, 15, 31, \"0x\", 12, \"1_000\"]");
    expect_json("[1.5, -0.25, .5, 1., 1e3, 2.5E-1, .inf, .nan, 1e999, 1.2.3]",
                "[1.5, -0.25, 0.5, 1.0, 1000.0, 0.25, \".inf\", \".nan\", \"1e999\", \"1.2.3\"]");
    expect_json("[\"true\", '12', \"null\", '', \"\"]", "[\"true\", \"12\", \"null\", \"\", \"\"]");
    expect_json("{a: , b: ~}", "{\"a\": null, \"b\": null}");
    expect_json("[!!str 12, !!int \"12\", !!float 3, !!bool \"true\", !!null '', ! 7]",
                "[\"12\", 12, 3.0, true, null, \"7\"]");
    /* 64-bit limits: beyond them a decimal integer becomes a real. */
    expect_json("[9223372036854775807, 99999999999999999999]", "[9223372036854775807, 1e20]");
    expect_json("\"caf\\u00e9 \\t\"", "\"caf\\u00e9 \\t\"");
    expect_json("s: |\n  one\n  two\nf: >\n  a\n  b\n",
                "{\"s\": \"one\\ntwo\\n\", \"f\": \"a b\\n\"}");
    expect_json("1: one\ntrue: yes\n", "{\"1\": \"one\", \"true\": \"yes\"}");
}

static void test_iofogctl_application(void **state) {
    (void)state;
    FILE *fp = fopen("yaml/fuzz-corpus/yaml/application.yaml", "rb");
    assert_non_null(fp);
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    json_t *app = NULL;
    struct iof_diag d = {{0}};
    assert_int_equal(iof_yaml_to_json(buf, n, 32, &app, &d), IOF_OK);
    assert_string_equal(json_string_value(json_object_get(app, "kind")), "Application");
    assert_string_equal(json_string_value(json_object_get(app, "apiVersion")), "iofog.org/v3");
    json_t *spec = json_object_get(app, "spec");
    json_t *ms = json_object_get(spec, "microservices");
    assert_int_equal(json_array_size(ms), 2);
    json_t *sensor = json_array_get(ms, 0);
    json_t *cfg = json_object_get(sensor, "config");
    assert_int_equal(json_integer_value(json_object_get(cfg, "frequency")), 2000);
    assert_true(json_is_real(json_object_get(cfg, "maximumvalue")));
    assert_true(
        json_is_false(json_object_get(json_object_get(sensor, "container"), "rootHostAccess")));
    assert_int_equal(
        json_array_size(json_object_get(json_object_get(sensor, "container"), "ports")), 0);
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(json_array_get(ms, 1), "images"), "catalogId")),
                     7);
    json_t *route = json_array_get(json_object_get(spec, "routes"), 0);
    assert_string_equal(json_string_value(json_object_get(route, "from")), "sensor");
    json_decref(app);
}

static void test_anchors_and_merge(void **state) {
    (void)state;
    expect_json("base: &b {a: 1, c: [x]}\nuse: *b\n",
                "{\"base\": {\"a\": 1, \"c\": [\"x\"]}, \"use\": {\"a\": 1, \"c\": [\"x\"]}}");
    expect_json("- &s hello\n- *s\n", "[\"hello\", \"hello\"]");
    expect_json("b: &b {a: 1, b: 2}\nm:\n  <<: *b\n  b: 3\n",
                "{\"b\": {\"a\": 1, \"b\": 2}, \"m\": {\"a\": 1, \"b\": 3}}");
    expect_json("x: &x {a: 1}\ny: &y {a: 2, b: 2}\nm:\n  <<: [*x, *y]\n",
                "{\"x\": {\"a\": 1}, \"y\": {\"a\": 2, \"b\": 2}, \"m\": {\"a\": 1, \"b\": 2}}");
    /* An alias is a copy: changing one occurrence leaves the other alone. */
    json_t *v = NULL;
    const char *y = "a: &a {k: 1}\nb: *a\n";
    assert_int_equal(iof_yaml_to_json(y, strlen(y), 8, &v, NULL), IOF_OK);
    assert_ptr_not_equal(json_object_get(v, "a"), json_object_get(v, "b"));
    json_decref(v);
    /* A key that is an anchored string can be aliased as a key. */
    expect_json("? &k name\n: 1\nother: {*k : 2}\n", "{\"name\": 1, \"other\": {\"name\": 2}}");
}

static void test_bounds(void **state) {
    (void)state;
    struct iof_diag d = {{0}};
    FILE *fp = fopen("yaml/fuzz-corpus/yaml/laughs.yaml", "rb");
    assert_non_null(fp);
    char buf[2048];
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    assert_int_equal(convert_err(buf, 32, &d), IOF_E2BIG);
    assert_non_null(strstr(d.msg, "too many"));
    assert_non_null(strstr(d.msg, "line 6"));

    assert_int_equal(convert_err("&r [1, *r]\n", 32, &d), IOF_EINVAL);
    assert_non_null(strstr(d.msg, "recursive alias"));
    assert_int_equal(convert_err("[*nope]\n", 32, &d), IOF_EINVAL);
    assert_non_null(strstr(d.msg, "unknown anchor"));

    assert_int_equal(convert_err("[[[[1]]]]", 3, &d), IOF_E2BIG);
    assert_non_null(strstr(d.msg, "deeper than 3"));
    expect_json("[[[1]]]", "[[[1]]]");
    /* 100k nested brackets: bounded, no recursion. */
    size_t deep = 100000;
    char *big = malloc(deep + 1);
    assert_non_null(big);
    memset(big, '[', deep);
    big[deep] = '\0';
    json_t *out = NULL;
    assert_int_equal(iof_yaml_to_json(big, deep, 64, &out, &d), IOF_E2BIG);
    free(big);
}

static void test_errors(void **state) {
    (void)state;
    struct iof_diag d = {{0}};
    assert_int_equal(convert_err("a: 1\nb: [1, 2\nc: 3\n", 32, &d), IOF_EINVAL);
    assert_non_null(strstr(d.msg, "YAML: "));
    assert_non_null(strstr(d.msg, "line "));
    assert_non_null(strstr(d.msg, "column "));
    assert_int_equal(convert_err("a: 1\na: 2\n", 32, &d), IOF_EINVAL);
    assert_string_equal(d.msg, "YAML: duplicate mapping key 'a' at line 2, column 1");
    assert_int_equal(convert_err("? [a]\n: 1\n", 32, &d), IOF_EINVAL);
    assert_non_null(strstr(d.msg, "complex mapping keys"));
    assert_int_equal(convert_err("x: !!int abc\n", 32, &d), IOF_EINVAL);
    assert_string_equal(d.msg, "YAML: value does not match its tag at line 1, column 4");
    assert_int_equal(convert_err("k: \"a\\0b\"\n\"\\0\": 1\n", 32, &d), IOF_EINVAL);
    assert_non_null(strstr(d.msg, "NUL"));
    const char bad_utf8[] = "a: \xff\xfe\n";
    json_t *out = NULL;
    assert_int_equal(iof_yaml_to_json(bad_utf8, sizeof bad_utf8 - 1, 8, &out, &d), IOF_EINVAL);
    assert_null(out);
    assert_int_equal(convert_err("a: b: c\n", 32, &d), IOF_EINVAL);
    assert_non_null(strstr(d.msg, "line 1"));
}

static void test_multi_document(void **state) {
    (void)state;
    const char *y = "---\nkind: A\n---\nkind: B\n...\n---\n";
    json_t *all = NULL, *first = NULL;
    assert_int_equal(iof_yaml_documents_to_json(y, strlen(y), 8, &all, NULL), IOF_OK);
    assert_int_equal(json_array_size(all), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(all, 1), "kind")), "B");
    assert_true(json_is_null(json_array_get(all, 2)));
    assert_int_equal(iof_yaml_to_json(y, strlen(y), 8, &first, NULL), IOF_OK);
    assert_string_equal(json_string_value(json_object_get(first, "kind")), "A");
    json_decref(all);
    json_decref(first);
    /* An error in a later document fails the whole stream. */
    const char *bad = "kind: A\n---\nkind: [\n";
    struct iof_diag d = {{0}};
    assert_int_equal(convert_err(bad, 8, &d), IOF_EINVAL);
    assert_non_null(strstr(d.msg, "line "));
    /* Empty stream: null, and an empty array of documents. */
    assert_int_equal(iof_yaml_to_json("", 0, 8, &first, NULL), IOF_OK);
    assert_true(json_is_null(first));
    assert_int_equal(iof_yaml_documents_to_json("", 0, 8, &all, NULL), IOF_OK);
    assert_int_equal(json_array_size(all), 0);
    json_decref(all);
    /* Anchors do not leak from one document into the next. */
    assert_int_equal(convert_err("a: &x 1\n---\nb: *x\n", 8, &d), IOF_EINVAL);
    assert_non_null(strstr(d.msg, "unknown anchor"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalar_typing),
        cmocka_unit_test(test_iofogctl_application),
        cmocka_unit_test(test_anchors_and_merge),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_multi_document),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
