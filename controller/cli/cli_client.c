/* CLI side of the REST API. */
#include "controller/cli/cli_client.h"

#include "controller/cli/session.h"
#include "controller/server/auth.h"
#include "http/client.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The command's shared options (ctl_cli_take_global_options). */
static bool output_table;
static bool output_json; /* --output json given explicitly */
static char controller_url[512];
static char ca_cert[512];

const char *ctl_cli_ca_file(void) {
    const char *env = getenv("IOFOG_CONTROLLER_CA_CERT");
    return ca_cert[0] != '\0' ? ca_cert : env != NULL && env[0] != '\0' ? env : NULL;
}

static char flag_token[256];
static bool data_dir_given;

/* Where the credential of the last request came from, for the hint on a 401. */
enum cred_source { CRED_ADMIN, CRED_TOKEN, CRED_SESSION };
static enum cred_source last_source = CRED_ADMIN;
static char last_session_url[512];
static char last_session_email[256];

/* The Controller a request goes to and the credential it presents, in this order: --token or
 * IOFOG_CONTROLLER_TOKEN (with --controller-url / IOFOG_CONTROLLER_URL or the local address); a
 * stored session (unless a data directory is named explicitly, which asks for the local admin
 * credential, or --controller-url names another Controller); the local admin credential of the
 * data directory. */
struct cli_target {
    char base[512];
    char token[256];
    enum cred_source source;
};

static iof_err
resolve_target(const struct ctl_config *cfg, struct cli_target *t, struct iof_diag *d) {
    const char *url = controller_url[0] != '\0' ? controller_url : getenv("IOFOG_CONTROLLER_URL");
    char given[512] = "";
    iof_err err;
    if (url != NULL && *url != '\0' &&
        (err = ctl_cli_url_base(url, given, sizeof given, d)) != IOF_OK) {
        return err;
    }
    const char *token = flag_token[0] != '\0' ? flag_token : getenv("IOFOG_CONTROLLER_TOKEN");
    struct ctl_cli_session s;
    struct iof_diag ignored = {{0}};
    if (token != NULL && *token != '\0') {
        if (strlen(token) >= sizeof t->token) {
            return iof_fail(d, IOF_EINVAL, "the token is too long");
        }
        (void)snprintf(t->token, sizeof t->token, "%s", token);
        t->source = CRED_TOKEN;
    } else if (!data_dir_given && getenv("IOFOG_CONTROLLER_DATA_DIR") == NULL &&
               ctl_cli_session_load(&s, &ignored) == IOF_OK &&
               (given[0] == '\0' || strcmp(given, s.url) == 0)) {
        (void)snprintf(t->token, sizeof t->token, "%s", s.token);
        (void)snprintf(given, sizeof given, "%s", s.url);
        (void)snprintf(last_session_url, sizeof last_session_url, "%s", s.url);
        (void)snprintf(last_session_email, sizeof last_session_email, "%s", s.email);
        t->source = CRED_SESSION;
    } else {
        char admin[CTL_USER_TOKEN_LEN + 1];
        err = ctl_admin_token_read(cfg->data_dir, admin, d);
        if (err == IOF_ENOENT) {
            return iof_fail(
                d,
                err,
                "no admin credential in %s: start the Controller first (iofog-controller "
                "start), name its data directory with --data-dir DIR or "
                "IOFOG_CONTROLLER_DATA_DIR, or log in (iofog-controller login)",
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
        if (err != IOF_OK) {
            return err;
        }
        (void)snprintf(t->token, sizeof t->token, "%s", admin);
        t->source = CRED_ADMIN;
    }
    if (given[0] != '\0') {
        (void)snprintf(t->base, sizeof t->base, "%s", given);
    } else {
        /* The local Controller, over HTTPS when its configuration says it serves HTTPS. */
        (void)snprintf(t->base,
                       sizeof t->base,
                       "%s://127.0.0.1:%u",
                       cfg->tls_cert[0] != '\0' ? "https" : "http",
                       (unsigned)cfg->port);
    }
    last_source = t->source;
    return IOF_OK;
}

iof_err
ctl_cli_target_url(const struct ctl_config *cfg, char *out, size_t size, struct iof_diag *d) {
    const char *url = controller_url[0] != '\0' ? controller_url : getenv("IOFOG_CONTROLLER_URL");
    if (url != NULL && *url != '\0') {
        return ctl_cli_url_base(url, out, size, d);
    }
    int n = snprintf(out,
                     size,
                     "%s://127.0.0.1:%u",
                     cfg->tls_cert[0] != '\0' ? "https" : "http",
                     (unsigned)cfg->port);
    return n > 0 && (size_t)n < size ? IOF_OK : iof_fail(d, IOF_E2BIG, "URL too long");
}

iof_err ctl_cli_take_global_options(int *argc, char **argv) {
    int out = 0;
    for (int i = 0; i < *argc; i++) {
        const char *v = NULL;
        bool is_output = false, is_url = false, is_token = false;
        if (strncmp(argv[i], "--ca-cert=", 10) == 0 ||
            (strcmp(argv[i], "--ca-cert") == 0 && i + 1 < *argc)) {
            v = argv[i][9] == '=' ? argv[i] + 10 : argv[++i];
            if (strlen(v) >= sizeof ca_cert) {
                fprintf(stderr, "iofog-controller: --ca-cert path too long\n");
                return IOF_EINVAL;
            }
            (void)snprintf(ca_cert, sizeof ca_cert, "%s", v);
            continue;
        }
        if (strcmp(argv[i], "--data-dir") == 0 || strncmp(argv[i], "--data-dir=", 11) == 0) {
            data_dir_given = true; /* left in argv for the command */
        }
        if (strncmp(argv[i], "--token=", 8) == 0) {
            v = argv[i] + 8;
            is_token = true;
        } else if (strcmp(argv[i], "--token") == 0 && i + 1 < *argc) {
            v = argv[++i];
            is_token = true;
        } else if (strncmp(argv[i], "--output=", 9) == 0) {
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
        if (is_token) {
            if (*v == '\0' || strlen(v) >= sizeof flag_token) {
                fprintf(stderr, "iofog-controller: --token must be a user access token\n");
                return IOF_EINVAL;
            }
            (void)snprintf(flag_token, sizeof flag_token, "%s", v);
        } else if (is_output) {
            if (strcmp(v, "table") != 0 && strcmp(v, "json") != 0) {
                fprintf(stderr, "iofog-controller: --output must be json or table\n");
                return IOF_EINVAL;
            }
            output_table = strcmp(v, "table") == 0;
            output_json = !output_table;
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

iof_err ctl_cli_request(const struct ctl_config *cfg,
                        const char *method,
                        const char *path,
                        const json_t *body,
                        long user_id,
                        long *status,
                        json_t **out,
                        struct iof_diag *d) {
    struct cli_target t;
    iof_err err = resolve_target(cfg, &t, d);
    if (err != IOF_OK) {
        return err;
    }
    char url[1024], auth[300], who[64];
    (void)snprintf(url, sizeof url, "%s%s", t.base, path);
    (void)snprintf(auth, sizeof auth, "Authorization: Bearer %s", t.token);
    (void)snprintf(who, sizeof who, "X-Iofog-User-Id: %ld", user_id);
    /* The user named by -u matters only to the admin credential; a user token acts as its user. */
    const char *headers[] = {auth, user_id > 0 && t.source == CRED_ADMIN ? who : NULL, NULL};
    struct iof_http_client_opts opts = {
        .timeout_ms = 30000, .connect_timeout_ms = 3000, .ca_file = ctl_cli_ca_file()};
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

static const struct ctl_cli_column *view_cols;
static size_t view_n;

bool ctl_cli_output_table(void) {
    return output_table;
}

bool ctl_cli_output_json(void) {
    return output_json;
}

void ctl_cli_set_table_view(const struct ctl_cli_column *cols, size_t n) {
    view_cols = cols;
    view_n = n;
}

/* The value at a dotted path ("a.b", "images.0.containerImage"), NULL when absent. */
static const json_t *at_path(const json_t *row, const char *path) {
    char part[64];
    const json_t *v = row;
    while (v != NULL && *path != '\0') {
        size_t n = strcspn(path, ".");
        if (n >= sizeof part) {
            return NULL;
        }
        memcpy(part, path, n);
        part[n] = '\0';
        path += n + (path[n] == '.' ? 1 : 0);
        if (json_is_array(v)) {
            char *end = NULL;
            unsigned long i = strtoul(part, &end, 10);
            v = end != part && *end == '\0' ? json_array_get(v, i) : NULL;
        } else {
            v = json_object_get(v, part);
        }
    }
    return v;
}

static void print_view(const json_t *rows) {
    size_t widths[16];
    size_t ncols = view_n < 16 ? view_n : 16;
    char text[TABLE_WIDTH + 8];
    for (size_t c = 0; c < ncols; c++) {
        widths[c] = strlen(view_cols[c].title);
    }
    size_t i;
    const json_t *row;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            for (size_t c = 0; c < ncols; c++) {
                printf(c + 1 < ncols ? "%-*s  " : "%.*s\n", (int)widths[c], view_cols[c].title);
            }
        }
        json_array_foreach(rows, i, row) {
            for (size_t c = 0; c < ncols; c++) {
                if (view_cols[c].render != NULL) {
                    view_cols[c].render(row, text, sizeof text);
                    if (strlen(text) > TABLE_WIDTH) {
                        text[TABLE_WIDTH - 1] = '~';
                        text[TABLE_WIDTH] = '\0';
                    }
                } else {
                    cell(at_path(row, view_cols[c].path), text, sizeof text, TABLE_WIDTH);
                }
                if (pass == 0) {
                    widths[c] = strlen(text) > widths[c] ? strlen(text) : widths[c];
                } else {
                    printf(c + 1 < ncols ? "%-*s  " : "%.*s\n", (int)widths[c], text);
                }
            }
        }
    }
}

static void print_rows(const json_t *rows) {
    if (view_cols != NULL) {
        print_view(rows);
        return;
    }
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
    if (status == 401 && last_source == CRED_SESSION) {
        fprintf(stderr,
                "The stored session of %s at %s has expired or was revoked; log in again:\n"
                "  iofog-controller login --controller-url %s --email %s\n",
                last_session_email,
                last_session_url,
                last_session_url,
                last_session_email);
    } else if (status == 401 && last_source == CRED_TOKEN) {
        fprintf(stderr, "The token given with --token or IOFOG_CONTROLLER_TOKEN was refused.\n");
    }
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
    struct cli_target t;
    iof_err err = resolve_target(cfg, &t, &d);
    if (err != IOF_OK) {
        fprintf(stderr, "iofog-controller: %s\n", iof_diag_text(&d, err));
        return err;
    }
    char url[1024], auth[300];
    (void)snprintf(url, sizeof url, "%s%s", t.base, path);
    (void)snprintf(auth, sizeof auth, "Authorization: Bearer %s", t.token);
    const char *headers[] = {auth, NULL};
    struct iof_http_client_opts opts = {.timeout_ms = 300000,
                                        .connect_timeout_ms = 3000,
                                        .max_response = (size_t)600 << 20,
                                        .ca_file = ctl_cli_ca_file()};
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

/* Finds ref among the objects of list_key in the answer to path: by "uuid", else by "name". */
static iof_err find_uuid(const struct ctl_config *cfg,
                         long user_id,
                         const char *path,
                         const char *list_key,
                         const char *what,
                         const char *ref,
                         char *out,
                         size_t size) {
    if (strlen(ref) >= size) {
        fprintf(stderr, "iofog-controller: %s '%.64s...' is too long\n", what, ref);
        return IOF_EINVAL;
    }
    (void)snprintf(out, size, "%s", ref);
    struct iof_diag d = {{0}};
    long status = 0;
    json_t *answer = NULL;
    if (ctl_cli_request(cfg, "GET", path, NULL, user_id, &status, &answer, &d) != IOF_OK ||
        status != 200) {
        json_decref(answer);
        return IOF_OK;
    }
    const json_t *items = json_object_get(answer, list_key);
    size_t i, by_name = 0;
    const json_t *n;
    const char *found = NULL;
    json_array_foreach(items, i, n) {
        const char *u = json_string_value(json_object_get(n, "uuid"));
        if (u != NULL && strcmp(u, ref) == 0) {
            json_decref(answer);
            return IOF_OK;
        }
    }
    json_array_foreach(items, i, n) {
        const char *name = json_string_value(json_object_get(n, "name"));
        if (name != NULL && strcmp(name, ref) == 0) {
            found = json_string_value(json_object_get(n, "uuid"));
            by_name++;
        }
    }
    iof_err err = IOF_OK;
    if (by_name == 1 && found != NULL && strlen(found) < size) {
        (void)snprintf(out, size, "%s", found);
    } else if (by_name > 1) {
        fprintf(stderr,
                "iofog-controller: %zu %ss are named '%s': give the uuid\n",
                by_name,
                what,
                ref);
        err = IOF_ECONFLICT;
    } else {
        fprintf(stderr, "iofog-controller: no %s has the uuid or name '%s'\n", what, ref);
        err = IOF_ENOENT;
    }
    json_decref(answer);
    return err;
}

iof_err ctl_cli_node_uuid(
    const struct ctl_config *cfg, long user_id, const char *ref, char *out, size_t size) {
    return find_uuid(cfg, user_id, "/api/v3/iofog-list", "fogs", "node", ref, out, size);
}

iof_err ctl_cli_msvc_uuid(
    const struct ctl_config *cfg, long user_id, const char *ref, char *out, size_t size) {
    return find_uuid(
        cfg, user_id, "/api/v3/microservices", "microservices", "microservice", ref, out, size);
}

struct follow_state {
    struct iof_http_client *client;
    char err_body[1024];
    size_t err_len;
    bool first, is_error;
};

static bool on_follow_bytes(void *ctx, const char *data, size_t len) {
    struct follow_state *s = ctx;
    if (s->first) {
        s->first = false;
        long status = iof_http_client_response_status(s->client);
        s->is_error = status < 200 || status >= 300;
    }
    if (s->is_error) {
        size_t room = sizeof s->err_body - 1 - s->err_len;
        size_t take = len < room ? len : room;
        memcpy(s->err_body + s->err_len, data, take);
        s->err_len += take;
        s->err_body[s->err_len] = '\0';
        return true;
    }
    bool ok = fwrite(data, 1, len, stdout) == len;
    (void)fflush(stdout);
    return ok;
}

iof_err ctl_cli_follow(const struct ctl_config *cfg, const char *path) {
    struct iof_diag d = {{0}};
    struct cli_target t;
    iof_err err = resolve_target(cfg, &t, &d);
    if (err != IOF_OK) {
        fprintf(stderr, "iofog-controller: %s\n", iof_diag_text(&d, err));
        return err;
    }
    char url[1024], auth[300];
    (void)snprintf(url, sizeof url, "%s%s", t.base, path);
    (void)snprintf(auth, sizeof auth, "Authorization: Bearer %s", t.token);
    const char *headers[] = {auth, NULL};
    struct iof_http_client_opts opts = {
        .timeout_ms = 0, .connect_timeout_ms = 3000, .ca_file = ctl_cli_ca_file()};
    struct iof_http_client *c = NULL;
    if ((err = iof_http_client_new(&opts, &c)) != IOF_OK) {
        fprintf(stderr, "iofog-controller: cannot create an HTTP client\n");
        return err;
    }
    struct follow_state s = {.client = c, .first = true};
    long status = 0;
    err = iof_http_client_stream(c, "GET", url, headers, NULL, 0, on_follow_bytes, &s, &status, &d);
    iof_http_client_free(c);
    if (err != IOF_OK) {
        fprintf(stderr, "iofog-controller: %s\n", iof_diag_text(&d, err));
        return err;
    }
    if (status < 200 || status >= 300) {
        json_t *ans = json_loads(s.err_body, 0, NULL);
        err = ctl_cli_check(status, ans);
        json_decref(ans);
    }
    return err;
}
