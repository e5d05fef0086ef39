/* Liquid subset: results as liquidjs 9 (keepOutputType) gives them for the classic Controller. */
#include "template/tpl.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static json_t *globals;

static int setup(void **state) {
    (void)state;
    globals = json_loads("{\"name\":\"msvc-1\",\"port\":8080,\"ratio\":2.5,\"on\":true,"
                         "\"agents\":[{\"name\":\"a1\",\"arch\":\"x86\"},{\"name\":\"a2\",\"arch\":"
                         "\"arm\"}],"
                         "\"self\":{\"name\":\"app\",\"microservices\":[{\"name\":\"msvc-1\","
                         "\"env\":[{\"key\":\"http_proxy\",\"value\":\"http://p:3128\"}]}]},"
                         "\"csv\":\"a,b,,c,,\",\"padded\":\"  hi  \",\"nothing_here\":\"\"}",
                         0,
                         NULL);
    return globals != NULL ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    json_decref(globals);
    return 0;
}

static struct iof_tpl_env env_default(void) {
    struct iof_tpl_env env = {
        .globals = globals, .limits = IOF_TPL_LIMITS_DEFAULT, .keep_output_type = true};
    return env;
}

/* Renders src and returns the result as compact JSON ("<nil>" for nil, "ERR: msg" on failure). */
static char *render(const struct iof_tpl_env *env, const char *src) {
    json_t *out = NULL;
    struct iof_diag d = {0};
    iof_err err = iof_tpl_render(env, src, strlen(src), &out, &d);
    static char buf[1024];
    if (err != IOF_OK) {
        (void)snprintf(buf, sizeof buf, "ERR %d: %s", (int)err, d.msg);
        return buf;
    }
    if (out == NULL) {
        return strcpy(buf, "<nil>");
    }
    char *s = json_dumps(out, JSON_COMPACT | JSON_ENCODE_ANY);
    (void)snprintf(buf, sizeof buf, "%s", s);
    free(s);
    json_decref(out);
    return buf;
}

#define RENDERS(src, expect)                                                                       \
    do {                                                                                           \
        struct iof_tpl_env e_ = env_default();                                                     \
        assert_string_equal(render(&e_, src), expect);                                             \
    } while (0)

static void test_keep_output_type(void **state) {
    (void)state;
    RENDERS("{{ port }}", "8080");
    RENDERS("{{ on }}", "true");
    RENDERS("{{ agents | size }}", "2");
    RENDERS("{{ agents | first }}", "{\"name\":\"a1\",\"arch\":\"x86\"}");
    RENDERS("{{ name }}:{{ port }}", "\"msvc-1:8080\"");
    RENDERS(" {{ port }}", "\" 8080\"");
    RENDERS("{{ port }} ", "\"8080 \"");
    RENDERS("{{ missing }}", "<nil>");
    RENDERS("plain", "\"plain\"");
    RENDERS("{{ ratio }}", "2.5");
    RENDERS("{{ agents }}x", "\"[object Object][object Object]x\"");
    struct iof_tpl_env e = env_default();
    e.keep_output_type = false;
    assert_string_equal(render(&e, "{{ port }}"), "\"8080\"");
}

static void test_issue_examples(void **state) {
    (void)state;
    RENDERS("{{ self.name | upcase }}", "\"APP\"");
    RENDERS("{{ self.microservices | where: \"name\", \"msvc-1\" | first | map: \"env\" | first | "
            "where: \"key\", \"http_proxy\" | first | map: \"value\" | first }}",
            "\"http://p:3128\"");
    RENDERS("{% assign agent = agents | first %}{{ agent.name }}", "\"a1\"");
    RENDERS("{% assign a = agents | last %}{{ a.arch }}", "\"arm\"");
}

static void test_control_flow(void **state) {
    (void)state;
    RENDERS("{% if port > 80 and on %}big{% else %}small{% endif %}", "\"big\"");
    RENDERS("{% if port == 1 %}a{% elsif name contains \"svc\" %}b{% else %}c{% endif %}", "\"b\"");
    RENDERS("{% unless on %}off{% else %}on{% endunless %}", "\"on\"");
    RENDERS("{% if missing %}x{% endif %}", "\"\"");
    RENDERS("{% if nothing_here == empty %}e{% endif %}{% if agents != empty %}n{% endif %}",
            "\"en\"");
    RENDERS("{% if false or true and false %}t{% else %}f{% endif %}", "\"f\"");
    RENDERS("{% for a in agents %}{{ forloop.index }}={{ a.name }}{% unless forloop.last %},"
            "{% endunless %}{% endfor %}",
            "\"1=a1,2=a2\"");
    RENDERS("{% for i in (1..5) limit:2 offset:1 %}{{ i }}{% endfor %}", "\"23\"");
    RENDERS("{% for i in (1..3) reversed %}{{ i }}{% endfor %}", "\"321\"");
    RENDERS("{% for i in (1..9) %}{% if i == 3 %}{% break %}{% endif %}{{ i }}{% endfor %}",
            "\"12\"");
    RENDERS("{% for i in (1..4) %}{% if i == 2 %}{% continue %}{% endif %}{{ i }}{% endfor %}",
            "\"134\"");
    RENDERS("{% for x in missing %}x{% else %}none{% endfor %}", "\"none\"");
    RENDERS("{% capture c %}{{ name }}-{{ port }}{% endcapture %}{{ c | upcase }}",
            "\"MSVC-1-8080\"");
    RENDERS("{%- assign x = 1 -%}  {{- x -}}  ", "1");
    RENDERS("a {%- comment %}{{ nope }}{% endcomment -%} b", "\"ab\"");
    RENDERS("{% raw %}{{ x }}{% endraw %}", "\"{{ x }}\"");
}

static void test_filters(void **state) {
    (void)state;
    RENDERS("{{ csv | split: \",\" | join: \"-\" }}", "\"a-b--c\"");
    RENDERS("{{ \"hello world\" | capitalize }}", "\"Hello world\"");
    RENDERS("{{ \"ABC\" | downcase | append: \"!\" | prepend: \"<\" }}", "\"<abc!\"");
    RENDERS("{{ \"a.b.c\" | replace: \".\", \"/\" | remove: \"b\" }}", "\"a//c\"");
    RENDERS("{{ \"a.b.c\" | replace_first: \".\", \"/\" }}", "\"a/b.c\"");
    RENDERS("{{ padded | strip }}|", "\"hi|\"");
    RENDERS("{{ nothing_here | default: \"d\" }}", "\"d\"");
    RENDERS("{{ missing | default: 3 }}", "3");
    RENDERS("{{ port | plus: 1 }}", "8081");
    RENDERS("{{ \"5\" | plus: \"2\" }}", "7");
    RENDERS("{{ 10 | minus: 4 | times: 3 }}", "18");
    RENDERS("{{ 10 | divided_by: 4 }}", "2.5");
    RENDERS("{{ 10 | modulo: 4 }}", "2");
    RENDERS("{{ 2.456 | round: 2 }}", "2.46");
    RENDERS("{{ 2.5 | round }}", "3");
    RENDERS("{{ -3 | abs }}", "3");
    RENDERS("{{ agents | map: \"name\" | join: \",\" }}", "\"a1,a2\"");
    RENDERS("{{ agents | where: \"arch\", \"arm\" | map: \"name\" }}", "[\"a2\"]");
    RENDERS("{{ agents | json }}",
            "\"[{\\\"name\\\":\\\"a1\\\",\\\"arch\\\":\\\"x86\\\"},{\\\"name\\\":\\\"a2\\\","
            "\\\"arch\\\":\\\"arm\\\"}]\"");
    RENDERS("{{ \"42\" | toNumber }}", "42");
    RENDERS("{{ \"true\" | toBoolean }}", "true");
    RENDERS("{{ \"abc\" | toNumber }}", "\"abc\"");
    RENDERS("{{ port | toString }}", "\"8080\"");
    RENDERS("{{ name | size }}", "6");
    RENDERS("{{ agents.size }}/{{ agents.first.name }}/{{ agents[1].name }}/{{ agents[-1].arch }}",
            "\"2/a1/a2/arm\"");
    RENDERS("{{ name | no_such_filter }}", "\"msvc-1\"");
    RENDERS("{{ 'x' | first }}", "\"\"");
}

static void test_errors_and_limits(void **state) {
    (void)state;
    struct iof_tpl_env e = env_default();
    assert_string_equal(render(&e, "{{ name "), "ERR 1: output \"{{ name \" not closed");
    assert_non_null(strstr(render(&e, "{% if x %}a"), "not closed"));
    assert_non_null(strstr(render(&e, "{% bogus %}"), "tag \"bogus\" not found"));
    assert_non_null(strstr(render(&e, "{% endif %}"), "unexpected tag"));
    assert_non_null(strstr(render(&e, "{{ a | }}"), "ERR 1"));
    /* an error in a branch that never runs is still found (parse before render) */
    assert_non_null(strstr(render(&e, "{% if false %}{{ a[ }}{% endif %}"), "ERR 1"));
    /* unclosed brackets deep in a condition or an index: an error, never a read past the end */
    assert_non_null(strstr(render(&e, "{{ si[rlfefe.m[rlf.m[rlfe-mo| fendr}}"), "ERR 1"));
    assert_non_null(strstr(render(&e, "{% if 0 and o[n[ %}x{% endif %}"), "ERR 1"));
    assert_non_null(strstr(render(&e, "{{ a[b }}"), "expected ]"));

    e.limits.max_iterations = 100;
    assert_non_null(strstr(render(&e, "{% for i in (1..1000) %}x{% endfor %}"), "iteration limit"));
    assert_non_null(
        strstr(render(&e, "{% for i in (1..50) %}{% for j in (1..50) %}{% endfor %}{% endfor %}"),
               "iteration limit"));
    e = env_default();
    e.limits.max_output = 64;
    assert_non_null(strstr(render(&e, "{% for i in (1..100) %}abc{% endfor %}"), "output limit"));
    assert_non_null(strstr(
        render(
            &e,
            "{% assign s = 'x' %}{% for i in (1..10) %}{% assign s = s | append: s %}{% endfor %}"),
        "output limit"));
    e = env_default();
    e.limits.max_source = 16;
    assert_non_null(strstr(render(&e, "{{ name }}{{ name }}{{ name }}"), "size limit"));
    e = env_default();
    e.limits.max_depth = 4;
    assert_non_null(
        strstr(render(&e,
                      "{% if on %}{% if on %}{% if on %}{% if on %}{% if on %}x{% endif %}"
                      "{% endif %}{% endif %}{% endif %}{% endif %}"),
               "nesting limit"));
    assert_non_null(strstr(render(&e, "{{ a[a[a[a[a[a[1]]]]]] }}"), "nesting limit"));
    e = env_default();
    e.limits.max_work = 1000;
    assert_non_null(strstr(
        render(&e, "{% for i in (1..200) %}{% assign x = name | append: 'abcdefgh' %}{% endfor %}"),
        "work limit"));
}

/* A filter from the caller: "double" doubles numbers; others are not its business. */
static iof_err caller_filter(void *ctx,
                             const char *name,
                             json_t *in,
                             json_t *const *args,
                             size_t n,
                             json_t **out,
                             struct iof_diag *d) {
    (void)args, (void)n, (void)d;
    int *calls = ctx;
    if (strcmp(name, "double") != 0) {
        return IOF_ENOENT;
    }
    (*calls)++;
    *out = json_integer(json_integer_value(in) * 2);
    return IOF_OK;
}

static void test_caller_filters(void **state) {
    (void)state;
    int calls = 0;
    struct iof_tpl_env e = env_default();
    e.filter = caller_filter;
    e.filter_ctx = &calls;
    assert_string_equal(render(&e, "{{ port | double }}"), "16160");
    assert_string_equal(render(&e, "{{ name | upcase }}"), "\"MSVC-1\"");
    assert_int_equal(calls, 1);
}

static void test_tree(void **state) {
    (void)state;
    json_t *body =
        json_loads("{\"name\":\"app\",\"n\":3,\"upper\":\"{{ self.name | upcase }}\","
                   "\"again\":\"{{ self.upper }}!\",\"port\":\"{{ self.n | plus: 1 }}\","
                   "\"gone\":\"{{ nothing }}\",\"list\":[\"{{ self.n }}\",\"{{ x }}\",\"k\"],"
                   "\"copy\":\"{{ self.list }}\",\"keep\":\"no markup }}\"}",
                   0,
                   NULL);
    assert_non_null(body);
    json_t *g = json_pack("{s:O}", "self", body);
    struct iof_tpl_env e = env_default();
    e.globals = g;
    struct iof_diag d = {0};
    assert_int_equal(iof_tpl_render_tree(&e, body, &d), IOF_OK);
    char *s = json_dumps(body, JSON_COMPACT);
    assert_string_equal(
        s,
        "{\"name\":\"app\",\"n\":3,\"upper\":\"APP\",\"again\":\"APP!\",\"port\":4,"
        "\"list\":[3,null,\"k\"],\"copy\":[3,null,\"k\"],\"keep\":\"no markup }}\"}");
    free(s);
    json_object_set_new(body, "bad", json_string("{{ oops"));
    json_object_set_new(body, "bad2", json_pack("[s]", "{% nope %}"));
    assert_int_equal(iof_tpl_render_tree(&e, body, &d), IOF_EINVAL);
    assert_non_null(strstr(d.msg, "bad: output"));
    json_object_del(body, "bad");
    assert_int_equal(iof_tpl_render_tree(&e, body, &d), IOF_EINVAL);
    assert_non_null(strstr(d.msg, "bad2[0]: tag"));
    json_decref(g);
    json_decref(body);
}

/* {{ self }} copied into many fields doubles the document each time: the work budget stops it. */
static void test_tree_growth_bounded(void **state) {
    (void)state;
    json_t *body = json_object();
    for (int i = 0; i < 40; i++) {
        char k[8];
        (void)snprintf(k, sizeof k, "k%d", i);
        json_object_set_new(body, k, json_string("{{ self }}"));
    }
    json_t *g = json_pack("{s:O}", "self", body);
    struct iof_tpl_env e = env_default();
    e.globals = g;
    struct iof_diag d = {0};
    assert_int_equal(iof_tpl_render_tree(&e, body, &d), IOF_E2BIG);
    assert_non_null(strstr(d.msg, "work limit"));
    json_decref(g);
    json_decref(body);
}

static void test_has_markup(void **state) {
    (void)state;
    assert_true(iof_tpl_has_markup("a{{b", 4));
    assert_true(iof_tpl_has_markup("{%", 2));
    assert_false(iof_tpl_has_markup("{ {", 3));
    assert_false(iof_tpl_has_markup("{\"a\":1}", 7));
    assert_false(iof_tpl_has_markup("{", 1));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keep_output_type),
        cmocka_unit_test(test_issue_examples),
        cmocka_unit_test(test_control_flow),
        cmocka_unit_test(test_filters),
        cmocka_unit_test(test_errors_and_limits),
        cmocka_unit_test(test_caller_filters),
        cmocka_unit_test(test_tree),
        cmocka_unit_test(test_tree_growth_bounded),
        cmocka_unit_test(test_has_markup),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
