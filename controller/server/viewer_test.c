/* The web console: a Controller configured with a viewer directory (a small stand-in for the
 * ECN Viewer package: package.json, build/index.html, build/static/...) serves it on its viewer
 * port, with controller-config.js generated from the Controller's REST port, index.html for the
 * single-page app's own routes, and nothing outside build/ (.., hidden files, symbolic links);
 * /api/v3/status reports the package's version. A directory that is not a viewer package, or a
 * viewer port in use, fails the start with the reason. */
#include "controller/api/api_testutil.h"
#include "controller/server/viewer.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/stat.h>

#include <cmocka.h>

struct fx {
    struct api_fixture *f;
    char pkg[300]; /* the stand-in viewer package */
    uint16_t viewer_port;
};

static void write_file(const char *dir, const char *rel, const char *text) {
    char path[600];
    (void)snprintf(path, sizeof path, "%s/%s", dir, rel);
    FILE *f = fopen(path, "we");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void make_package(const char *pkg) {
    char p[600];
    assert_int_equal(mkdir(pkg, 0755), 0);
    (void)snprintf(p, sizeof p, "%s/build", pkg);
    assert_int_equal(mkdir(p, 0755), 0);
    (void)snprintf(p, sizeof p, "%s/build/static", pkg);
    assert_int_equal(mkdir(p, 0755), 0);
    (void)snprintf(p, sizeof p, "%s/build/static/js", pkg);
    assert_int_equal(mkdir(p, 0755), 0);
    write_file(pkg, "package.json", "{\"name\": \"@iofog/ecn-viewer\", \"version\": \"9.8.7\"}\n");
    write_file(pkg, "build/index.html", "<html>the console</html>\n");
    write_file(pkg, "build/controller-config.js", "window.controllerConfig = {port: '1'}\n");
    write_file(pkg, "build/static/js/main.js", "console.log('main')\n");
    write_file(pkg, "build/.hidden", "secret\n");
    char target[600];
    (void)snprintf(target, sizeof target, "%s/package.json", pkg);
    (void)snprintf(p, sizeof p, "%s/build/link.json", pkg);
    assert_int_equal(symlink(target, p), 0);
}

/* Starts an in-process Controller on f's directory with the viewer package pkg on viewer_port. */
static iof_err start_with_viewer(struct api_fixture *f,
                                 const char *pkg,
                                 uint16_t viewer_port,
                                 struct iof_diag *d) {
    struct ctl_config cfg;
    ctl_config_defaults(&cfg);
    (void)snprintf(cfg.data_dir, sizeof cfg.data_dir, "%s", f->dir);
    (void)snprintf(cfg.bind, sizeof cfg.bind, "127.0.0.1");
    (void)snprintf(cfg.db, sizeof cfg.db, "%s", f->db);
    (void)snprintf(cfg.viewer_dir, sizeof cfg.viewer_dir, "%s", pkg);
    cfg.viewer_port = viewer_port;
    cfg.port = 0;
    iof_err err = ctl_server_new(&cfg, &f->srv, d);
    if (err == IOF_OK) {
        err = ctl_server_start(f->srv, d);
    }
    if (err == IOF_OK) {
        f->store = f->srv->store;
        f->port = iof_http_server_port(f->srv->http);
    }
    return err;
}

static int setup(void **state) {
    struct fx *x = calloc(1, sizeof *x);
    x->f = api_fixture_new();
    if (x == NULL || x->f == NULL) {
        return -1;
    }
    (void)snprintf(x->pkg, sizeof x->pkg, "%s/ecn-viewer", x->f->dir);
    make_package(x->pkg);
    x->viewer_port = api_free_port();
    struct iof_diag d = {{0}};
    if (start_with_viewer(x->f, x->pkg, x->viewer_port, &d) != IOF_OK) {
        fprintf(stderr, "setup: %s\n", d.msg);
        return -1;
    }
    *state = x;
    return 0;
}

static int teardown(void **state) {
    struct fx *x = *state;
    api_stop(x->f);
    free(x);
    return 0;
}

/* GET path on the viewer port: the status; body and content type into out (may be NULL). */
static long get(struct fx *x, const char *path, struct iof_http_response *out) {
    char url[600];
    (void)snprintf(url, sizeof url, "http://127.0.0.1:%u%s", (unsigned)x->viewer_port, path);
    struct iof_http_response r;
    struct iof_diag d = {{0}};
    if (iof_http_client_request(x->f->http, "GET", url, NULL, NULL, 0, &r, &d) != IOF_OK) {
        fail_msg("GET %s: %s", url, d.msg);
    }
    long st = r.status;
    if (out != NULL) {
        *out = r;
    } else {
        iof_http_response_free(&r);
    }
    return st;
}

static void expect_body(struct fx *x, const char *path, const char *type, const char *text) {
    struct iof_http_response r;
    long st = get(x, path, &r);
    if (st != 200 || strstr((const char *)r.body.data, text) == NULL ||
        strncmp(r.content_type, type, strlen(type)) != 0) {
        fail_msg("GET %s: %ld %s '%s', expected 200 %s with '%s'",
                 path,
                 st,
                 r.content_type,
                 r.body.data,
                 type,
                 text);
    }
    iof_http_response_free(&r);
}

static void test_serves_the_bundle(void **state) {
    struct fx *x = *state;
    expect_body(x, "/", "text/html", "the console");
    expect_body(x, "/index.html", "text/html", "the console");
    expect_body(x, "/static/js/main.js", "application/javascript", "console.log('main')");
    /* The single-page app's own routes get index.html; a missing asset does not. */
    expect_body(x, "/applications", "text/html", "the console");
    expect_body(x, "/nodes/some-node", "text/html", "the console");
    assert_int_equal(get(x, "/static/js/missing.js", NULL), 404);
}

static void test_controller_config_is_generated(void **state) {
    struct fx *x = *state;
    char want[64];
    (void)snprintf(want, sizeof want, "port: '%u'", (unsigned)x->f->port);
    expect_body(x, "/controller-config.js", "application/javascript", want);
    expect_body(x, "/controller-config.js", "application/javascript", "window.controllerConfig");
    struct iof_http_response r;
    assert_int_equal(get(x, "/controller-config.js", &r), 200);
    assert_null(strstr((const char *)r.body.data, "port: '1'")); /* never the bundle's own copy */
    iof_http_response_free(&r);
}

static void test_nothing_outside_build(void **state) {
    struct fx *x = *state;
    assert_int_equal(get(x, "/%2e%2e/package.json", NULL), 404);
    assert_int_equal(get(x, "/static/%2e%2e/%2e%2e/package.json", NULL), 404);
    assert_int_equal(get(x, "/.hidden", NULL), 404);
    assert_int_equal(get(x, "/link.json", NULL), 404);     /* a symbolic link out of build/ */
    expect_body(x, "/static", "text/html", "the console"); /* a directory is never listed */
}

static void test_status_reports_the_version(void **state) {
    struct fx *x = *state;
    json_t *a = NULL;
    assert_int_equal(api_call(x->f, "GET", "/api/v3/status", NULL, NULL, &a), 200);
    assert_string_equal(jstr(json_object_get(a, "versions"), "ecnViewer"), "9.8.7");
    json_decref(a);
    /* The REST port does not serve the console. */
    char url[128];
    (void)snprintf(url, sizeof url, "http://127.0.0.1:%u/index.html", (unsigned)x->f->port);
    struct iof_http_response r;
    struct iof_diag d = {{0}};
    assert_int_equal(iof_http_client_request(x->f->http, "GET", url, NULL, NULL, 0, &r, &d),
                     IOF_OK);
    assert_int_equal(r.status, 404);
    iof_http_response_free(&r);
}

static void test_bad_package_or_busy_port_fails_the_start(void **state) {
    struct fx *x = *state;
    struct api_fixture *g = api_fixture_new();
    assert_non_null(g);
    struct iof_diag d = {{0}};
    char empty[400];
    (void)snprintf(empty, sizeof empty, "%s/not-a-viewer", g->dir);
    assert_int_equal(mkdir(empty, 0755), 0);
    assert_int_equal(start_with_viewer(g, empty, api_free_port(), &d), IOF_ENOENT);
    assert_non_null(strstr(d.msg, "package.json"));
    ctl_server_free(g->srv);
    g->srv = NULL;
    g->store = NULL;

    memset(&d, 0, sizeof d);
    assert_int_equal(start_with_viewer(g, x->pkg, x->viewer_port, &d), IOF_EBUSY);
    assert_non_null(strstr(d.msg, "--viewer-port 0"));
    ctl_server_free(g->srv);
    g->srv = NULL;
    g->store = NULL;
    api_stop(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_serves_the_bundle),
        cmocka_unit_test(test_controller_config_is_generated),
        cmocka_unit_test(test_nothing_outside_build),
        cmocka_unit_test(test_status_reports_the_version),
        cmocka_unit_test(test_bad_package_or_busy_port_fails_the_start),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
