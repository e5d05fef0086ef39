/* Black-box test harness for the REST API (tests only, header-only): runs a real struct ctl_server
 * on 127.0.0.1 with an ephemeral port and a private data directory, and sends it requests with the
 * project's HTTP client. One fixture per test; everything is removed in teardown. */
#ifndef CTL_API_TESTUTIL_H
#define CTL_API_TESTUTIL_H

#include "controller/auth.h"
#include "controller/server.h"
#include "controller/store/db_json.h"
#include "controller/store/test_tmpdir.h"
#include "http/client.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct api_fixture {
    char dir[256];
    struct ctl_server *srv;
    struct iof_http_client *http;
    uint16_t port;
    char admin[CTL_USER_TOKEN_LEN + 1]; /* the admin credential */
};

/* Starts a server; returns NULL on failure (printing why). */
static inline struct api_fixture *api_start(void) {
    struct api_fixture *f = calloc(1, sizeof *f);
    struct iof_diag d = {{0}};
    if (f == NULL || test_tmpdir_make(f->dir, sizeof f->dir) != 0) {
        free(f);
        return NULL;
    }
    struct ctl_config cfg;
    ctl_config_defaults(&cfg);
    (void)snprintf(cfg.data_dir, sizeof cfg.data_dir, "%s", f->dir);
    (void)snprintf(cfg.bind, sizeof cfg.bind, "127.0.0.1");
    cfg.port = 0;
    struct iof_http_client_opts opts = {.timeout_ms = 10000, .connect_timeout_ms = 2000};
    if (ctl_server_new(&cfg, &f->srv, &d) != IOF_OK || ctl_server_start(f->srv, &d) != IOF_OK ||
        ctl_admin_token_read(f->dir, f->admin, &d) != IOF_OK ||
        iof_http_client_new(&opts, &f->http) != IOF_OK) {
        fprintf(stderr, "api_start: %s\n", d.msg);
        ctl_server_free(f->srv);
        (void)test_tmpdir_remove(f->dir);
        free(f);
        return NULL;
    }
    f->port = iof_http_server_port(f->srv->http);
    return f;
}

static inline void api_stop(struct api_fixture *f) {
    if (f == NULL) {
        return;
    }
    iof_http_client_free(f->http);
    ctl_server_free(f->srv);
    (void)test_tmpdir_remove(f->dir);
    free(f);
}

/* Sends method path with body_json (a JSON text or NULL) and token (NULL: no Authorization).
 * Returns the status; *out (if not NULL) gets the parsed answer or NULL. -1 on transport error. */
static inline long api_call(struct api_fixture *f,
                            const char *method,
                            const char *path,
                            const char *token,
                            const char *body_json,
                            json_t **out) {
    char url[512], auth[300];
    (void)snprintf(url, sizeof url, "http://127.0.0.1:%u%s", (unsigned)f->port, path);
    (void)snprintf(auth, sizeof auth, "Authorization: %s", token != NULL ? token : "");
    const char *headers[] = {"Content-Type: application/json", token != NULL ? auth : NULL, NULL};
    struct iof_http_response r;
    struct iof_diag d = {{0}};
    if (iof_http_client_request(f->http,
                                method,
                                url,
                                headers,
                                body_json,
                                body_json != NULL ? strlen(body_json) : 0,
                                &r,
                                &d) != IOF_OK) {
        fprintf(stderr, "api_call %s %s: %s\n", method, path, d.msg);
        return -1;
    }
    if (out != NULL) {
        *out = r.body.len > 0 ? json_loadb((const char *)r.body.data, r.body.len, 0, NULL) : NULL;
    }
    long status = r.status;
    iof_http_response_free(&r);
    return status;
}

/* Like api_call with a printf-formatted path. */
static inline long api_callf(struct api_fixture *f,
                             const char *method,
                             const char *token,
                             const char *body_json,
                             json_t **out,
                             const char *path_fmt,
                             ...) __attribute__((format(printf, 6, 7)));
static inline long api_callf(struct api_fixture *f,
                             const char *method,
                             const char *token,
                             const char *body_json,
                             json_t **out,
                             const char *path_fmt,
                             ...) {
    char path[400];
    va_list ap;
    va_start(ap, path_fmt);
    (void)vsnprintf(path, sizeof path, path_fmt, ap);
    va_end(ap);
    return api_call(f, method, path, token, body_json, out);
}

/* Signs up and logs in a user; writes the access token into token[65]. Returns 0 on success. */
static inline int api_user(struct api_fixture *f, const char *email, char token[65]) {
    char body[256];
    (void)snprintf(body,
                   sizeof body,
                   "{\"firstName\":\"Test\",\"lastName\":\"User\",\"email\":\"%s\","
                   "\"password\":\"password1\"}",
                   email);
    if (api_call(f, "POST", "/api/v3/user/signup", NULL, body, NULL) != 201) {
        return -1;
    }
    (void)snprintf(body, sizeof body, "{\"email\":\"%s\",\"password\":\"password1\"}", email);
    json_t *ans = NULL;
    long st = api_call(f, "POST", "/api/v3/user/login", NULL, body, &ans);
    const char *t = json_string_value(json_object_get(ans, "accessToken"));
    int rc = st == 200 && t != NULL && strlen(t) == 64 ? 0 : -1;
    if (rc == 0) {
        memcpy(token, t, 65);
    }
    json_decref(ans);
    return rc;
}

/* The string at key of obj, or "" (for assertions). */
static inline const char *jstr(const json_t *obj, const char *key) {
    const char *s = json_string_value(json_object_get(obj, key));
    return s != NULL ? s : "";
}

#endif
