/* Shared CLI plumbing for REST resources. */
#include "controller/cli/cli_resource.h"

#include "common/json.h"
#include "controller/cli/cli_client.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char ctl_cli_resource_help[] =
    "  -u, --user-id ID            act for this user (default: the first user)\n"
    "  --port N                    the Controller's REST port (default 51121)\n"
    "  --data-dir DIR              the Controller's data directory (admin credential)\n";

iof_err ctl_cli_conn_init(struct ctl_cli_conn *c,
                          const char *port,
                          const char *data_dir,
                          struct iof_diag *d) {
    char name[] = "cli", port_flag[] = "--port", dir_flag[] = "--data-dir";
    char *argv[5] = {name, NULL, NULL, NULL, NULL};
    int argc = 1;
    if (port != NULL) {
        argv[argc++] = port_flag;
        argv[argc++] = (char *)(uintptr_t)port;
    }
    if (data_dir != NULL) {
        argv[argc++] = dir_flag;
        argv[argc++] = (char *)(uintptr_t)data_dir;
    }
    return ctl_config_load(&c->cfg, argc, argv, NULL, NULL, d);
}

iof_err ctl_cli_send(const struct ctl_cli_conn *c,
                     const char *label,
                     const char *method,
                     const char *path,
                     const json_t *body,
                     bool print,
                     json_t **out) {
    struct iof_diag d = {{0}};
    long status = 0;
    json_t *answer = NULL;
    iof_err err = ctl_cli_request(&c->cfg, method, path, body, c->user_id, &status, &answer, &d);
    if (err != IOF_OK) {
        fprintf(stderr, "%s: %s\n", label, iof_diag_text(&d, err));
        return err;
    }
    if ((err = ctl_cli_check(status, answer)) != IOF_OK) {
        json_decref(answer);
        return err;
    }
    if (print && answer != NULL) {
        ctl_cli_print_json(answer);
    }
    if (out != NULL) {
        *out = answer;
    } else {
        json_decref(answer);
    }
    return IOF_OK;
}

iof_err ctl_cli_read_json_file(const char *path, json_t **out, struct iof_diag *d) {
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        return iof_fail(d, IOF_ENOENT, "%s: %s", path, strerror(errno));
    }
    size_t cap = 1024 * 1024 + 1;
    char *buf = malloc(cap);
    if (buf == NULL) {
        fclose(f);
        return iof_fail(d, IOF_ENOMEM, "out of memory");
    }
    size_t n = fread(buf, 1, cap, f);
    bool failed = ferror(f) != 0;
    fclose(f);
    iof_err err = IOF_OK;
    if (failed) {
        err = iof_fail(d, IOF_EIO, "%s: read error", path);
    } else if (n == cap) {
        err = iof_fail(d, IOF_E2BIG, "%s: larger than 1 MiB", path);
    } else {
        struct iof_diag jd = {{0}};
        if ((err = iof_json_parse_object(buf, n, out, &jd)) != IOF_OK) {
            err = iof_fail(d, err, "%s: %s", path, jd.msg);
        }
    }
    free(buf);
    return err;
}

iof_err ctl_cli_parse_int(const char *text,
                          const char *flag,
                          long long min,
                          long long max,
                          long long *out,
                          struct iof_diag *d) {
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < min || v > max) {
        return iof_fail(d, IOF_EINVAL, "%s: invalid number '%s' (%lld-%lld)", flag, text, min, max);
    }
    *out = v;
    return IOF_OK;
}

iof_err ctl_cli_set(json_t *obj, const char *key, json_t *value) {
    if (value == NULL || json_object_set_new(obj, key, value) != 0) {
        return IOF_ENOMEM;
    }
    return IOF_OK;
}
