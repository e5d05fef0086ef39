/* CLI side of the REST API. */
#include "controller/cli_client.h"

#include "controller/auth.h"
#include "http/client.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

iof_err ctl_cli_request(const struct ctl_config *cfg,
                        const char *method,
                        const char *path,
                        const json_t *body,
                        long user_id,
                        long *status,
                        json_t **out,
                        struct iof_diag *d) {
    char token[CTL_USER_TOKEN_LEN + 1];
    iof_err err = ctl_admin_token_read(cfg->data_dir, token, d);
    if (err != IOF_OK) {
        return err == IOF_ENOENT ? iof_fail(d,
                                            err,
                                            "no admin credential in %s: start the Controller "
                                            "first (iofog-controller start)",
                                            cfg->data_dir)
                                 : err;
    }
    char url[256], auth[CTL_USER_TOKEN_LEN + 32], who[64];
    (void)snprintf(url, sizeof url, "http://127.0.0.1:%u%s", (unsigned)cfg->port, path);
    (void)snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    (void)snprintf(who, sizeof who, "X-Iofog-User-Id: %ld", user_id);
    const char *headers[] = {auth, user_id > 0 ? who : NULL, NULL};
    struct iof_http_client_opts opts = {.timeout_ms = 30000, .connect_timeout_ms = 3000};
    struct iof_http_client *c = NULL;
    if ((err = iof_http_client_new(&opts, &c)) != IOF_OK) {
        return iof_fail(d, err, "cannot create an HTTP client");
    }
    err = iof_http_client_request_json(c, method, url, headers, body, status, out, d);
    iof_http_client_free(c);
    if (err == IOF_EIO) {
        return iof_fail(d,
                        err,
                        "cannot reach the Controller at 127.0.0.1:%u; is it running? "
                        "(iofog-controller start)",
                        (unsigned)cfg->port);
    }
    return err;
}

void ctl_cli_print_json(const json_t *value) {
    char *text = json_dumps(value, JSON_INDENT(2) | JSON_ENCODE_ANY);
    if (text != NULL) {
        puts(text);
        free(text);
    }
}

iof_err ctl_cli_check(long status, const json_t *answer) {
    if (status >= 200 && status < 300) {
        return IOF_OK;
    }
    const char *msg = json_string_value(json_object_get(answer, "message"));
    fprintf(stderr, "error: %s (HTTP %ld)\n", msg != NULL ? msg : "request failed", status);
    switch (status) {
        case 400: return IOF_EINVAL;
        case 401: return IOF_EAUTH;
        case 403: return IOF_EPERM;
        case 404: return IOF_ENOENT;
        case 409: return IOF_EEXIST;
        case 413: return IOF_E2BIG;
        case 503: return IOF_EBUSY;
        case 504: return IOF_ETIMEOUT;
        default: return IOF_EREMOTE;
    }
}

iof_err
ctl_cli_config(const char *port, const char *data_dir, struct ctl_config *cfg, struct iof_diag *d) {
    char p_flag[] = "--port", d_flag[] = "--data-dir", cmd[] = "cli";
    char *argv[5] = {cmd};
    int argc = 1;
    if (port != NULL) {
        argv[argc++] = p_flag;
        argv[argc++] = (char *)(uintptr_t)port;
    }
    if (data_dir != NULL) {
        argv[argc++] = d_flag;
        argv[argc++] = (char *)(uintptr_t)data_dir;
    }
    return ctl_config_load(cfg, argc, argv, NULL, NULL, d);
}

iof_err ctl_cli_run(const struct ctl_config *cfg,
                    const char *method,
                    const char *path,
                    const json_t *body,
                    long user_id,
                    const char *what) {
    struct iof_diag d = {{0}};
    long status = 0;
    json_t *answer = NULL;
    iof_err err = ctl_cli_request(cfg, method, path, body, user_id, &status, &answer, &d);
    if (err != IOF_OK) {
        fprintf(stderr, "iofog-controller %s: %s\n", what, iof_diag_text(&d, err));
        return err;
    }
    err = ctl_cli_check(status, answer);
    if (err == IOF_OK && answer != NULL) {
        ctl_cli_print_json(answer);
    }
    json_decref(answer);
    return err;
}

iof_err ctl_cli_download(const struct ctl_config *cfg, const char *path, const char *out_path) {
    struct iof_diag d = {{0}};
    char token[CTL_USER_TOKEN_LEN + 1];
    iof_err err = ctl_admin_token_read(cfg->data_dir, token, &d);
    if (err != IOF_OK) {
        fprintf(stderr, "iofog-controller: %s\n", iof_diag_text(&d, err));
        return err;
    }
    char url[256], auth[CTL_USER_TOKEN_LEN + 32];
    (void)snprintf(url, sizeof url, "http://127.0.0.1:%u%s", (unsigned)cfg->port, path);
    (void)snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    const char *headers[] = {auth, NULL};
    struct iof_http_client_opts opts = {
        .timeout_ms = 300000, .connect_timeout_ms = 3000, .max_response = (size_t)600 << 20};
    struct iof_http_client *c = NULL;
    struct iof_http_response r;
    if ((err = iof_http_client_new(&opts, &c)) != IOF_OK ||
        (err = iof_http_client_request(c, "GET", url, headers, NULL, 0, &r, &d)) != IOF_OK) {
        iof_http_client_free(c);
        fprintf(stderr, "iofog-controller: %s\n", iof_diag_text(&d, err));
        return err;
    }
    iof_http_client_free(c);
    if (r.status < 200 || r.status >= 300) {
        json_t *ans = json_loadb((const char *)r.body.data, r.body.len, 0, NULL);
        err = ctl_cli_check(r.status, ans);
        json_decref(ans);
    } else {
        FILE *f = fopen(out_path, "wbe");
        if (f == NULL || fwrite(r.body.data, 1, r.body.len, f) != r.body.len) {
            fprintf(stderr, "iofog-controller: cannot write %s\n", out_path);
            err = IOF_EIO;
        } else {
            printf("%s (%zu bytes)\n", out_path, r.body.len);
        }
        if (f != NULL && fclose(f) != 0) {
            err = IOF_EIO;
        }
    }
    iof_http_response_free(&r);
    return err;
}
