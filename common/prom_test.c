/* The Prometheus helpers (histogram buckets, escaping) and the strict format checker the metrics
 * tests rely on: it accepts what the helpers write and rejects each kind of mistake. */
#include "common/prom.h"
#include "common/prom_testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

static void test_histogram_written_cumulative(void **state) {
    (void)state;
    struct iof_prom_hist h = {0};
    iof_prom_hist_observe(&h, 500);      /* 0.5 ms: first bucket */
    iof_prom_hist_observe(&h, 1000);     /* exactly 1 ms: first bucket (le is inclusive) */
    iof_prom_hist_observe(&h, 30000);    /* 30 ms: le 0.05 */
    iof_prom_hist_observe(&h, 90000000); /* 90 s: only +Inf */
    iof_prom_hist_observe(&h, -5);       /* counted as 0 */
    struct iof_buf b;
    iof_buf_init(&b, 1 << 16);
    assert_int_equal(iof_buf_printf(&b, "# HELP t_seconds Test.\n# TYPE t_seconds histogram\n"),
                     IOF_OK);
    assert_int_equal(iof_prom_hist_write(&b, "t_seconds", "a=\"x\"", &h), IOF_OK);
    assert_int_equal(iof_buf_append(&b, "", 1), IOF_OK);
    const char *text = (const char *)b.data;
    assert_non_null(strstr(text, "t_seconds_bucket{a=\"x\",le=\"0.001\"} 3\n"));
    assert_non_null(strstr(text, "t_seconds_bucket{a=\"x\",le=\"0.025\"} 3\n"));
    assert_non_null(strstr(text, "t_seconds_bucket{a=\"x\",le=\"0.05\"} 4\n"));
    assert_non_null(strstr(text, "t_seconds_bucket{a=\"x\",le=\"60\"} 4\n"));
    assert_non_null(strstr(text, "t_seconds_bucket{a=\"x\",le=\"+Inf\"} 5\n"));
    assert_non_null(strstr(text, "t_seconds_count{a=\"x\"} 5\n"));
    assert_non_null(strstr(text, "t_seconds_sum{a=\"x\"} 90.031500\n"));
    const char *err = prom_check(text);
    assert_null(err);
    iof_buf_free(&b);
}

static void test_escape(void **state) {
    (void)state;
    struct iof_buf b;
    iof_buf_init(&b, 256);
    assert_int_equal(iof_prom_escape(&b, "a\"b\\c\nd"), IOF_OK);
    assert_int_equal(iof_buf_append(&b, "", 1), IOF_OK);
    assert_string_equal((const char *)b.data, "a\\\"b\\\\c\\nd");
    iof_buf_free(&b);
}

static void test_checker_accepts_and_rejects(void **state) {
    (void)state;
    const char *good = "# HELP x_total X.\n# TYPE x_total counter\nx_total{a=\"1\"} 2\n"
                       "x_total{a=\"2\\\"q\"} 0\n# HELP g G.\n# TYPE g gauge\ng 1.5e3\n";
    assert_null(prom_check(good));
    static const char *const bad[] = {
        "# HELP x_total X.\n# TYPE x_total counter\nx_total 1",      /* no final newline */
        "x 1\n",                                                     /* no TYPE */
        "# HELP x X.\n# TYPE x counter\nx 1\n",                      /* counter w/o _total */
        "# HELP g G.\n# TYPE g gauge\ng abc\n",                      /* value */
        "# HELP g G.\n# TYPE g gauge\ng 1 1700000000\n",             /* timestamp */
        "# HELP g G.\n# TYPE g gauge\ng{a=\"1\"} 1\ng{a=\"1\"} 2\n", /* duplicate */
        "# HELP g G.\n# TYPE g gauge\ng{a=1} 1\n",                   /* unquoted */
        "# HELP g G.\n# TYPE g gauge\ng{a=\"\\t\"} 1\n",             /* escape */
        "# HELP g G.\n# TYPE g gauge\ng{1a=\"x\"} 1\n",              /* label name */
        "# HELP g G.\n# TYPE g gauge\nh 1\n",                        /* other family */
        "# HELP g G.\n# TYPE g gauge\n# HELP h H.\n# TYPE h gauge\n"
        "# HELP g G.\n# TYPE g gauge\n",    /* family twice */
        "# HELP g G.\n# TYPE g nonsense\n", /* type */
        "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\n"
        "h_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n", /* not cumulative */
        "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n", /* no +Inf */
        "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\n"
        "h_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n", /* count != +Inf */
        "# HELP g G.\n# TYPE g gauge\ng{le=\"1\"} 1\n",  /* le outside hist */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (prom_check(bad[i]) == NULL) {
            fail_msg("accepted bad text #%zu:\n%s", i, bad[i]);
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_histogram_written_cumulative),
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_checker_accepts_and_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
