/* CLI side of the REST API. */
#include "controller/cli/cli_client.h"

#include "controller/server/auth.h"
#include "http/client.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The command's shared options (ctl_cli_take_global_options). */
static bool output_table;
static char controller_url[512];

static void base_url(const struct ctl_config *cfg, const char *path, char *out, size_t size) {
    const char *base = controller_url[0] != '\0' ? controller_url : getenv("IOFOG_CONTROLLER_URL");
    if (base == NULL || *base == '\0') {
        (void)snprintf(out, size, "http://127.0.0.1:%u%s", (unsigned)cfg->port, path);
        return;
    }
    size_t n = strlen(base);
    while (n > 0 && base[n - 1] == '/') {
        n--;
    }
    if (n >= 7 && strncmp(base + n - 7, "/api/v3", 7) == 0) {
        n -= 7;
    }
    (void)snprintf(out, size, "%.*s%s", (int)n, base, path);
}

iof_err ctl_cli_take_global_options(int *argc, char **argv) {
    int out = 0;
    for (int i = 0; i < *argc; i++) {
        const char *v = NULL;
        bool is_output = false, is_url = false;
        if (strncmp(argv[i], "--output=", 9) == 0) {
            v = argv[i] + 9;
            is_output = true;
        } else if (strncmp(argv[i], "--controller-url=", 17) == 0) {
            v = argv[i] + 17;
            is_url = true;
        } else if ((strcmp(argv[i], "--output") == 0 || strcmp(argv[i], "--controller-url") == 0) &&
                   i + 1 < *argc) {
            is_output = argv[i][2] == 'o';
            is_url = !is_output;
            v = argv[++i];
        }
        if (is_output) {
            if (strcmp(v, "table") != 0 && strcmp(v, "json") != 0) {
                fprintf(stderr, "iofog-controller: --output must be json or table\n");
                return IOF_EINVAL;
            }
            output_table = strcmp(v, "table") == 0;
        } else if (is_url) {
            if ((strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0) ||
                strlen(v) >= sizeof controller_url) {
                fprintf(stderr, "iofog-controller: --controller-url must be an http(s) URL\n");
                return IOF_EINVAL;
            }
            (void)snprintf(controller_url, sizeof controller_url, "%s", v);
        } else {
            argv[out++] = argv[i];
        }
    }
    argv[out] = NULL;
    *argc = out;
    return IOF_OK;
}

/* The admin credential of the Controller whose data directory is cfg's. When there is none, the
 * text says how to name another directory: the CLI only knows the one it is given. */
static iof_err
admin_token(const struct ctl_config *cfg, char token[CTL_USER_TOKEN_LEN + 1], struct iof_diag *d) {
    iof_err err = ctl_admin_token_read(cfg->data_dir, token, d);
    if (err == IOF_ENOENT) {
        return iof_fail(d,
                        err,
                        "no admin credential in %s: start the Controller first (iofog-controller "
                        "start), or name its data directory with --data-dir DIR or "
                        "IOFOG_CONTROLLER_DATA_DIR",
                        cfg->data_dir);
    }
    if (err == IOF_EIO) { /* e.g. not allowed to read it */
        char why[sizeof d->msg];
        (void)snprintf(why, sizeof why, "%s", d != NULL ? d->msg : "");
        return iof_fail(d,
                        err,
                        "%s (the Controller's data directory: --data-dir DIR or "
                        "IOFOG_CONTROLLER_DATA_DIR)",
                        why);
    }
    return err;
}

iof_err ctl_cli_request(const struct ctl_config *cfg,
                        const char *method,
                        const char *path,
                        const json_t *body,
                        long user_id,
                        long *status,
                        json_t **out,
                        struct iof_diag *d) {
    char token[CTL_USER_TOKEN_LEN + 1];
    iof_err err = admin_token(cfg, token, d);
    if (err != IOF_OK) {
        return err;
    }
    char url[1024], auth[CTL_USER_TOKEN_LEN + 32], who[64];
    base_url(cfg, path, url, sizeof url);
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
                        "cannot reach the Controller at %s; is it running? "
                        "(iofog-controller start)",
                        url);
    }
    return err;
}

/* One scalar as table text (strings as they are, others as JSON), truncated to width. */
static void cell(const json_t *v, char *out, size_t size, size_t width) {
    if (json_is_string(v)) {
        (void)snprintf(out, size, "%s", json_string_value(v));
    } else if (v == NULL || json_is_null(v)) {
        (void)snprintf(out, size, "-");
    } else {
        char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        (void)snprintf(out, size, "%s", t != NULL ? t : "?");
        free(t);
    }
    if (strlen(out) > width) {
        out[width - 1] = '~';
        out[width] = '\0';
    }
}

#define TABLE_COLS  10
#define TABLE_WIDTH 36

static void print_rows(const json_t *rows) {
    const json_t *first = json_array_get(rows, 0);
    const char *cols[TABLE_COLS];
    size_t ncols = 0, widths[TABLE_COLS];
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)(uintptr_t)first, k, v) {
        if (ncols < TABLE_COLS && !json_is_object(v) && !json_is_array(v)) {
            widths[ncols] = strlen(k);
            cols[ncols++] = k;
        }
    }
    size_t i;
    const json_t *row;
    char text[TABLE_WIDTH + 8];
    json_array_foreach(rows, i, row) {
        for (size_t c = 0; c < ncols; c++) {
            cell(json_object_get(row, cols[c]), text, sizeof text, TABLE_WIDTH);
            widths[c] = strlen(text) > widths[c] ? strlen(text) : widths[c];
        }
    }
    for (size_t c = 0; c < ncols; c++) {
        if (c + 1 < ncols) {
            printf("%-*s  ", (int)widths[c], cols[c]);
        } else {
            printf("%s\n", cols[c]);
        }
    }
    json_array_foreach(rows, i, row) {
        for (size_t c = 0; c < ncols; c++) {
            cell(json_object_get(row, cols[c]), text, sizeof text, TABLE_WIDTH);
            if (c + 1 < ncols) {
                printf("%-*s  ", (int)widths[c], text);
            } else {
                printf("%s\n", text);
            }
        }
    }
}

void ctl_cli_print_json(const json_t *value) {
    if (output_table) {
        const json_t *rows = json_is_array(value) ? value : NULL;
        if (rows == NULL && json_is_object(value) && json_object_size(value) == 1) {
            const json_t *only =
                json_object_iter_value(json_object_iter((json_t *)(uintptr_t)value));
            rows = json_is_array(only) ? only : NULL;
        }
        if (rows != NULL && json_is_object(json_array_get(rows, 0))) {
            print_rows(rows);
            return;
        }
        if (rows != NULL && json_array_size(rows) == 0) {
            printf("(none)\n");
            return;
        }
        if (json_is_object(value)) {
            const char *k;
            const json_t *v;
            char text[TABLE_WIDTH * 4];
            json_object_foreach((json_t *)(uintptr_t)value, k, v) {
                cell(v, text, sizeof text, sizeof text - 8);
                printf("%-24s %s\n", k, text);
            }
            return;
        }
    }
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
    iof_err err = admin_token(cfg, token, &d);
    if (err != IOF_OK) {
        fprintf(stderr, "iofog-controller: %s\n", iof_diag_text(&d, err));
        return err;
    }
    char url[1024], auth[CTL_USER_TOKEN_LEN + 32];
    base_url(cfg, path, url, sizeof url);
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
