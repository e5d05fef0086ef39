/* Option parsing of the REST-backed CLI subcommands. */
#include "controller/cli/cmd_args.h"

#include "common/json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FILE_BYTES (1024 * 1024)
#define MAX_REST_ARGS  32

static const struct ctl_cli_opt *
find(const struct ctl_cli_opt *opts, size_t n, const char *arg, const char **inline_value) {
    *inline_value = NULL;
    if (arg[0] == '-' && arg[1] == '-') {
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq != NULL ? (size_t)(eq - name) : strlen(name);
        for (size_t i = 0; i < n; i++) {
            if (strlen(opts[i].long_name) == len && strncmp(opts[i].long_name, name, len) == 0) {
                *inline_value = eq != NULL ? eq + 1 : NULL;
                return &opts[i];
            }
        }
    } else if (arg[0] == '-' && arg[1] != '\0' && arg[2] == '\0') {
        for (size_t i = 0; i < n; i++) {
            if (opts[i].short_name == arg[1]) {
                return &opts[i];
            }
        }
    }
    return NULL;
}

static bool takes_value(enum ctl_opt_type t) {
    return t != CTL_OPT_TRUE && t != CTL_OPT_FALSE && t != CTL_OPT_FLAG;
}

static iof_err
set_value(const char *cmd, const struct ctl_cli_opt *o, const char *v, json_t *body) {
    char *end = NULL;
    json_t *j = NULL;
    errno = 0;
    switch (o->type) {
        case CTL_OPT_STR: j = json_string(v); break;
        case CTL_OPT_INT: {
            long long x = strtoll(v, &end, 10);
            if (end != v && *end == '\0' && errno == 0) {
                j = json_integer((json_int_t)x);
            }
            break;
        }
        case CTL_OPT_NUM: {
            double x = strtod(v, &end);
            if (end != v && *end == '\0' && errno == 0) {
                j = json_real(x);
            }
            break;
        }
        case CTL_OPT_TRUE: j = json_true(); break;
        case CTL_OPT_FALSE: j = json_false(); break;
        case CTL_OPT_LIST: {
            j = json_array();
            const char *p = v;
            while (j != NULL && *p != '\0') {
                const char *comma = strchr(p, ',');
                size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
                if (len > 0) {
                    (void)json_array_append_new(j, json_stringn(p, len));
                }
                p += len + (comma != NULL ? 1 : 0);
            }
            break;
        }
        default: return IOF_EINTERNAL;
    }
    if (j == NULL) {
        fprintf(stderr, "iofog-controller %s: invalid value '%s' for --%s\n", cmd, v, o->long_name);
        return IOF_EINVAL;
    }
    (void)json_object_set_new(body, o->key, j);
    return IOF_OK;
}

static iof_err merge_file(const char *cmd, const char *path, json_t *body) {
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        fprintf(stderr, "iofog-controller %s: cannot open %s: %s\n", cmd, path, strerror(errno));
        return IOF_EIO;
    }
    char *data = malloc(MAX_FILE_BYTES + 1);
    size_t len = data != NULL ? fread(data, 1, MAX_FILE_BYTES + 1, fp) : 0;
    (void)fclose(fp);
    if (data == NULL || len > MAX_FILE_BYTES) {
        free(data);
        fprintf(stderr, "iofog-controller %s: %s is too large\n", cmd, path);
        return IOF_E2BIG;
    }
    json_t *obj = NULL;
    struct iof_diag d = {{0}};
    iof_err err = iof_json_parse_object(data, len, &obj, &d);
    free(data);
    if (err != IOF_OK) {
        fprintf(stderr, "iofog-controller %s: %s: %s\n", cmd, path, iof_diag_text(&d, err));
        return err;
    }
    (void)json_object_update_missing(body, obj);
    json_decref(obj);
    return IOF_OK;
}

iof_err ctl_cli_args_parse(const char *cmd,
                           const struct ctl_cli_opt *opts,
                           size_t n_opts,
                           int argc,
                           char **argv,
                           struct ctl_cli_args *out) {
    struct ctl_cli_args a;
    memset(&a, 0, sizeof a);
    a.body = json_object();
    char *rest[MAX_REST_ARGS + 1];
    int n_rest = 0;
    rest[n_rest++] = argv[0];
    const char *file = NULL;
    iof_err err = a.body != NULL ? IOF_OK : IOF_ENOMEM;
    for (int i = 1; i < argc && err == IOF_OK; i++) {
        const char *inline_value = NULL;
        const struct ctl_cli_opt *o = find(opts, n_opts, argv[i], &inline_value);
        if (o == NULL) {
            /* The Controller's own flags (each takes a value); ctl_config_load judges them. */
            if (n_rest + 2 > MAX_REST_ARGS) {
                err = IOF_EINVAL;
                break;
            }
            rest[n_rest++] = argv[i];
            if (strchr(argv[i], '=') == NULL && i + 1 < argc) {
                rest[n_rest++] = argv[++i];
            }
            continue;
        }
        const char *value = inline_value;
        if (takes_value(o->type) && value == NULL) {
            if (i + 1 >= argc) {
                fprintf(stderr, "iofog-controller %s: --%s needs a value\n", cmd, o->long_name);
                err = IOF_EINVAL;
                break;
            }
            value = argv[++i];
        }
        unsigned char s = (unsigned char)o->short_name;
        switch (o->type) {
            case CTL_OPT_META: a.meta[s & 127] = value; break;
            case CTL_OPT_FLAG: a.flag[s & 127] = true; break;
            case CTL_OPT_FILE: file = value; break;
            default: err = set_value(cmd, o, value, a.body); break;
        }
        if (o->type == CTL_OPT_META && strcmp(o->long_name, "user-id") == 0) {
            char *end = NULL;
            a.user_id = strtol(value, &end, 10);
            if (end == value || *end != '\0' || a.user_id <= 0) {
                fprintf(stderr, "iofog-controller %s: invalid user id '%s'\n", cmd, value);
                err = IOF_EINVAL;
            }
        }
    }
    if (err == IOF_OK && file != NULL) {
        err = merge_file(cmd, file, a.body);
    }
    rest[n_rest] = NULL;
    struct iof_diag d = {{0}};
    if (err == IOF_OK && (err = ctl_config_load(&a.cfg, n_rest, rest, NULL, NULL, &d)) != IOF_OK) {
        fprintf(stderr, "iofog-controller %s: %s\n", cmd, iof_diag_text(&d, err));
    }
    if (err != IOF_OK) {
        json_decref(a.body);
        return err;
    }
    *out = a;
    return IOF_OK;
}

void ctl_cli_args_clear(struct ctl_cli_args *a) {
    json_decref(a->body);
    a->body = NULL;
}
